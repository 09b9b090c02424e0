//! What code calling the use cases names, in one import: the services, their commands, results
//! and errors, the actor, and the outside types their signatures use (secrets, instants and
//! durations), so an embedding service needs no direct dependency on `secrecy` or `chrono` to
//! call them.
//!
//! ```
//! use forge_application::prelude::*;
//! let password = SecretString::from("Analytical-Engine-1843!");
//! assert_eq!(password.expose_secret().len(), 23);
//! ```

pub use chrono::{DateTime, Utc};
pub use secrecy::{ExposeSecret, SecretString};

pub use crate::{
    account::{AccountError, AccountService, ChangePasswordCommand, ForgotPasswordCommand, ResetPasswordCommand},
    api_keys::{ApiKeyAuthError, ApiKeyError, ApiKeyService, CreateApiKeyCommand, CreatedApiKey},
    audit::{AuditLogError, AuditLogService},
    auth::{
        AuthService, AuthSettings, AuthenticateError, LoginCommand, LoginError, LoginOutcome, LogoutError,
        RefreshCommand, RefreshError, RegisterCommand, RegisterError, SessionError, TokenPair,
    },
    common::{
        Actor, ClientContext, Clock, FieldError, Page, PageRequest, SortOrder, Staleness, UnexpectedError,
        ValidationErrors,
    },
    dashboard::{DashboardError, DashboardService},
    health::HealthService,
    idempotency::{IdempotencyService, IdempotencySettings},
    limits::{LimitService, LockoutPolicy, LockoutService, RateLimitSettings},
    metrics::{MetricsError, MetricsService},
    projects::{
        AddMemberCommand, ChangeRoleCommand, CreateProjectCommand, MemberRef, ProjectConflict, ProjectError,
        ProjectScope, ProjectService, ProjectUpdate, TransferCommand,
    },
    users::{CreateUserCommand, ProfileUpdate, UserConflict, UserError, UserService, UserUpdate},
};
pub use forge_domain::{
    projects::{Project, ProjectId, ProjectRole},
    users::{Role, User, UserId},
};
