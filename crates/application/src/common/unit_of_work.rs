//! The write side every capability shares: a list of changes stored in one transaction.
//!
//! A capability declares its own writes as a type of its own (`UserChange`, `ProjectChange`,
//! ...) next to its repository port, marks it [`Change`], and declares the uniqueness rules its
//! writes can break as a [`Constraint`] type (`UserConstraint`, `ProjectConstraint`). A use case
//! collects the changes of all capabilities it touches into one [`Changes`] and hands them to
//! the [`UnitOfWork`], which stores all of them or none. Nothing here names a capability: adding
//! one adds its own types and its adapter's code, and edits no other capability's code.
//!
//! A commit fails in one of three ways ([`CommitError`]): a guarded write found its row changed
//! since it was read ([`CommitError::Stale`]), a uniqueness rule refused a write
//! ([`CommitError::Constraint`], carrying the capability's own constraint type), or something
//! unexpected happened. A use case narrows the error to the constraints its writes can break
//! ([`CommitError::narrow`]), so it matches exactly the outcomes it can cause; what a lost race
//! means for the request is decided in one place, [`Staleness::for_request`].

use std::{any::Any, error::Error, fmt};

use async_trait::async_trait;

use super::UnexpectedError;

/// One write of a capability, stored by the [`UnitOfWork`] inside its transaction.
///
/// Implemented by each capability's change type (an enum of its writes). Audit entries and
/// outbox events are changes too, so they are stored in the same transaction as the change they
/// describe, or not at all.
pub trait Change: Any + fmt::Debug + Send + Sync {}

/// The changes of one use case, in the order they are to be applied.
#[derive(Debug, Default)]
pub struct Changes(Vec<Box<dyn Change>>);

impl Changes {
    /// No changes yet.
    #[must_use]
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds `change` at the end.
    #[must_use]
    pub fn with(mut self, change: impl Change) -> Self {
        self.push(change);
        self
    }

    /// Adds `change` at the end.
    pub fn push(&mut self, change: impl Change) {
        self.0.push(Box::new(change));
    }

    /// Adds every change of `other` at the end, in order.
    pub fn append(&mut self, mut other: Self) {
        self.0.append(&mut other.0);
    }

    /// How many changes there are.
    #[must_use]
    pub fn len(&self) -> usize {
        self.0.len()
    }

    /// Whether there are none.
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// Every change, in order.
    pub fn iter(&self) -> impl Iterator<Item = &dyn Change> {
        self.0.iter().map(AsRef::as_ref)
    }

    /// The changes of type `C`, in order (for adapters and tests).
    pub fn of<C: Change>(&self) -> impl Iterator<Item = &C> {
        self.0.iter().filter_map(|change| (change.as_ref() as &dyn Any).downcast_ref::<C>())
    }

    /// The changes themselves, for an adapter to store.
    #[must_use]
    pub fn into_vec(self) -> Vec<Box<dyn Change>> {
        self.0
    }
}

impl<C: Change> FromIterator<C> for Changes {
    fn from_iter<I: IntoIterator<Item = C>>(iter: I) -> Self {
        Self(iter.into_iter().map(|change| Box::new(change) as Box<dyn Change>).collect())
    }
}

impl<C: Change> Extend<C> for Changes {
    fn extend<I: IntoIterator<Item = C>>(&mut self, iter: I) {
        self.0.extend(iter.into_iter().map(|change| Box::new(change) as Box<dyn Change>));
    }
}

impl<C: Change> From<C> for Changes {
    fn from(change: C) -> Self {
        Self::new().with(change)
    }
}

/// A uniqueness rule of a capability that a write broke (a taken e-mail address, a second
/// membership). Each capability declares its own as an enum.
pub trait Constraint: Error + Any + Send + Sync {}

/// A [`Constraint`] of any capability, as a unit of work reports it before a use case
/// [narrows](CommitError::narrow) it to its own.
pub struct AnyConstraint(Box<dyn Error + Send + Sync>);

impl AnyConstraint {
    /// Wraps a capability's constraint.
    pub fn new(constraint: impl Constraint) -> Self {
        Self(Box::new(constraint))
    }

    /// Whether this is a `C`.
    #[must_use]
    pub fn is<C: Constraint>(&self) -> bool {
        self.0.is::<C>()
    }

    /// The constraint, if it is a `C`.
    #[must_use]
    pub fn get<C: Constraint>(&self) -> Option<&C> {
        self.0.downcast_ref::<C>()
    }

    /// The constraint as a `C`, or itself when it is another capability's.
    ///
    /// # Errors
    /// `self` when the constraint is not a `C`.
    pub fn downcast<C: Constraint>(self) -> Result<C, Self> {
        self.0.downcast::<C>().map(|c| *c).map_err(Self)
    }
}

impl fmt::Debug for AnyConstraint {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(&self.0, f)
    }
}

impl fmt::Display for AnyConstraint {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(&self.0, f)
    }
}

impl Error for AnyConstraint {}

/// Why a unit of work stored nothing. `C` is the kind of constraint: [`AnyConstraint`] as a
/// unit of work reports it, a capability's own type once a use case has
/// [narrowed](CommitError::narrow) it.
#[derive(Debug, thiserror::Error)]
pub enum CommitError<C = AnyConstraint> {
    /// A guarded write found its row changed (or gone) since it was read.
    #[error("the data changed since it was read")]
    Stale,
    /// A uniqueness rule refused a write.
    #[error("{0}")]
    Constraint(C),
    /// Anything else.
    #[error(transparent)]
    Unexpected(#[from] UnexpectedError),
}

impl CommitError {
    /// The same error with its constraint as a `C`, the constraint type of the writes the use
    /// case made. A constraint of another kind is a fault (the use case made no write that can
    /// break it) and becomes [`CommitError::Unexpected`].
    #[must_use]
    pub fn narrow<C: Constraint>(self) -> CommitError<C> {
        match self {
            Self::Stale => CommitError::Stale,
            Self::Constraint(constraint) => match constraint.downcast::<C>() {
                Ok(constraint) => CommitError::Constraint(constraint),
                Err(other) => CommitError::Unexpected(UnexpectedError::internal(other)),
            },
            Self::Unexpected(e) => CommitError::Unexpected(e),
        }
    }

    /// The constraint that refused the commit, if it is a `C`.
    #[must_use]
    pub fn constraint<C: Constraint>(&self) -> Option<&C> {
        match self {
            Self::Constraint(constraint) => constraint.get::<C>(),
            Self::Stale | Self::Unexpected(_) => None,
        }
    }

    /// Every outcome as unexpected, for writes that can neither lose a race nor break a
    /// constraint (an insert of fresh rows, an unguarded update).
    #[must_use]
    pub fn into_unexpected(self) -> UnexpectedError {
        match self {
            Self::Unexpected(e) => e,
            other => UnexpectedError::internal(other),
        }
    }
}

/// What it means for a request that the data it wanted to change had changed since it was read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Staleness {
    /// The request named the version it expected (`If-Match`) and the data is no longer at it.
    Precondition,
    /// The request named no version and another write got in between: retrying may succeed.
    LostRace,
}

impl Staleness {
    /// The one rule for every use case: a failed precondition exactly when the request named the
    /// version it expected, a lost race otherwise.
    #[must_use]
    pub const fn for_request(expected_version: Option<i64>) -> Self {
        if expected_version.is_some() { Self::Precondition } else { Self::LostRace }
    }

    /// Whether data at `current_version` is what the request expected: any version when it
    /// named none, and [`Staleness::Precondition`] when it named another one.
    ///
    /// # Errors
    /// [`Staleness::Precondition`] when `expected_version` is set and is not `current_version`.
    pub fn check(expected_version: Option<i64>, current_version: i64) -> Result<(), Self> {
        match expected_version {
            Some(expected) if expected != current_version => Err(Self::Precondition),
            _ => Ok(()),
        }
    }
}

/// Applies a list of changes atomically: all of them are stored, in order, or none is.
#[cfg_attr(any(test, feature = "mocks"), mockall::automock)]
#[async_trait]
pub trait UnitOfWork: Send + Sync {
    /// Stores `changes` in one transaction.
    ///
    /// # Errors
    /// [`CommitError`]: the first change that could not be applied decides the variant, and the
    /// transaction is rolled back. Which changes can be [`CommitError::Stale`] or raise which
    /// [`CommitError::Constraint`] is documented on each capability's change type.
    async fn commit(&self, changes: Changes) -> Result<(), CommitError>;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug, PartialEq, Eq)]
    struct Note(&'static str);
    impl Change for Note {}

    #[derive(Debug, PartialEq, Eq)]
    struct Other(u8);
    impl Change for Other {}

    #[derive(Debug, PartialEq, Eq, thiserror::Error)]
    enum Mine {
        #[error("taken")]
        Taken,
    }
    impl Constraint for Mine {}

    #[derive(Debug, thiserror::Error)]
    #[error("theirs")]
    struct Theirs;
    impl Constraint for Theirs {}

    #[test]
    fn changes_keep_their_order_and_are_found_by_type() {
        let changes = Changes::new().with(Note("a")).with(Other(1)).with(Note("b"));
        assert_eq!(changes.len(), 3);
        assert_eq!(changes.of::<Note>().collect::<Vec<_>>(), [&Note("a"), &Note("b")]);
        assert_eq!(changes.of::<Other>().collect::<Vec<_>>(), [&Other(1)]);
        let debug: Vec<String> = changes.iter().map(|c| format!("{c:?}")).collect();
        assert_eq!(debug, ["Note(\"a\")", "Other(1)", "Note(\"b\")"]);
    }

    #[test]
    fn a_constraint_narrows_to_its_own_type_and_any_other_is_unexpected() {
        let mine = CommitError::Constraint(AnyConstraint::new(Mine::Taken)).narrow::<Mine>();
        assert!(matches!(mine, CommitError::Constraint(Mine::Taken)));
        let theirs = CommitError::Constraint(AnyConstraint::new(Theirs)).narrow::<Mine>();
        assert!(matches!(theirs, CommitError::Unexpected(_)));
        assert!(matches!(CommitError::Stale.narrow::<Mine>(), CommitError::Stale));
    }

    #[test]
    fn a_lost_race_is_a_failed_precondition_only_when_a_version_was_named() {
        assert_eq!(Staleness::for_request(Some(3)), Staleness::Precondition);
        assert_eq!(Staleness::for_request(None), Staleness::LostRace);
    }
}
