//! What every capability shares: the actor, errors, pagination, the clock and the unit of work.

mod actor;
mod error;
mod pagination;
mod unit_of_work;
mod validation;

pub use actor::{Actor, ClientContext};
pub use error::{UnexpectedError, UnexpectedKind};
pub use pagination::{Page, PageRequest, SortOrder};
#[cfg(any(test, feature = "mocks"))]
pub use unit_of_work::MockUnitOfWork;
pub use unit_of_work::{AnyConstraint, Change, Changes, CommitError, Constraint, Staleness, UnitOfWork};
pub use validation::{FieldError, Fields, Parsed, ValidationErrors};

use chrono::{DateTime, Utc};

/// The current time. A port so that tests can move time forward instead of sleeping.
#[cfg_attr(any(test, feature = "mocks"), mockall::automock)]
pub trait Clock: Send + Sync {
    /// The current instant in UTC.
    fn now(&self) -> DateTime<Utc>;
}
