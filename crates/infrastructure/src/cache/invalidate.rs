//! Commits that drop the cached reads they make stale.

use std::sync::Arc;

use async_trait::async_trait;
use forge_application::{
    auth::SessionChange,
    common::{Changes, CommitError, UnitOfWork},
    projects::ProjectChange,
    users::UserChange,
};

use super::{CacheKey, ReadCache};

/// A [`UnitOfWork`] that, once `inner` has committed, invalidates every cached read the changes
/// made stale, on every instance. A failed commit changed nothing and invalidates nothing.
pub struct InvalidatingUnitOfWork {
    inner: Arc<dyn UnitOfWork>,
    cache: Arc<ReadCache>,
}

impl std::fmt::Debug for InvalidatingUnitOfWork {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("InvalidatingUnitOfWork").finish_non_exhaustive()
    }
}

impl InvalidatingUnitOfWork {
    /// Commits through `inner`, then invalidates `cache`.
    #[must_use]
    pub fn new(inner: Arc<dyn UnitOfWork>, cache: Arc<ReadCache>) -> Self {
        Self { inner, cache }
    }
}

/// The cached reads `changes` make stale: every account written (its role, state, password or
/// last login), every session ended, every project updated, and every membership added, changed
/// or removed. New accounts, sessions and projects make nothing stale (no miss is cached).
pub(crate) fn stale_keys(changes: &Changes) -> Vec<CacheKey> {
    let mut keys = Vec::new();
    for change in changes.of::<UserChange>() {
        match change {
            UserChange::Update { user, .. } => keys.push(CacheKey::User(user.id().as_uuid())),
            UserChange::RecordLogin { user_id, .. } => keys.push(CacheKey::User(user_id.as_uuid())),
            UserChange::Insert(_) => {}
        }
    }
    for change in changes.of::<SessionChange>() {
        if let SessionChange::Revoke { id, .. } = change {
            keys.push(CacheKey::Session(id.as_uuid()));
        }
    }
    for change in changes.of::<ProjectChange>() {
        match change {
            ProjectChange::Insert(_) => {}
            ProjectChange::Update { project, .. } => keys.push(CacheKey::Project(project.id().as_uuid())),
            ProjectChange::AddMember(membership) | ProjectChange::UpdateMember { membership, .. } => {
                keys.push(CacheKey::Member(membership.project_id().as_uuid(), membership.user_id().as_uuid()));
            }
            ProjectChange::RemoveMember { project_id, user_id, .. } => {
                keys.push(CacheKey::Member(project_id.as_uuid(), user_id.as_uuid()));
            }
        }
    }
    keys.sort_unstable();
    keys.dedup();
    keys
}

#[async_trait]
impl UnitOfWork for InvalidatingUnitOfWork {
    async fn commit(&self, changes: Changes) -> Result<(), CommitError> {
        let stale = stale_keys(&changes);
        self.inner.commit(changes).await?;
        self.cache.invalidate(&stale).await;
        Ok(())
    }
}
