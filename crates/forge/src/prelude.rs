//! Everything an embedding service names, in one import: [`Forge`](crate::Forge) and its builder,
//! and the application's prelude (services, commands, errors, the actor, secrets and instants).

pub use forge_application::prelude::*;

pub use crate::{BuildError, Forge, ForgeBuilder, MailDelivery};
