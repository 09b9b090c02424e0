//! Users: identity, credentials policy, roles and the life cycle of an account.

mod email;
mod full_name;
mod id;
mod password;
mod role;
mod user;
mod username;

pub use email::{Email, EmailError};
pub use full_name::{FullName, FullNameError};
pub use id::UserId;
pub use password::{PasswordError, PasswordHash, PasswordPolicy};
pub use role::{Permission, Role, RoleError};
pub use user::{LoginRefusal, NewUser, User, UserParts, UserStateError};
pub use username::{Username, UsernameError};
