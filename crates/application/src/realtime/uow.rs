//! Commits that tell connected clients what they changed.

use std::sync::Arc;

use async_trait::async_trait;

use super::{LiveEvents, signals_of};
use crate::common::{Changes, Clock, CommitError, UnitOfWork};

/// A [`UnitOfWork`] that, once `inner` has committed, publishes the [`signals_of`] the changes.
/// A failed commit changed nothing and publishes nothing.
///
/// It goes around every other decorator (the cache's invalidation included), so that a client
/// told of a change reads the new state from any instance.
pub struct LiveUnitOfWork {
    inner: Arc<dyn UnitOfWork>,
    live: Arc<dyn LiveEvents>,
    clock: Arc<dyn Clock>,
}

impl std::fmt::Debug for LiveUnitOfWork {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LiveUnitOfWork").finish_non_exhaustive()
    }
}

impl LiveUnitOfWork {
    /// Commits through `inner`, then publishes to `live`.
    #[must_use]
    pub fn new(inner: Arc<dyn UnitOfWork>, live: Arc<dyn LiveEvents>, clock: Arc<dyn Clock>) -> Self {
        Self { inner, live, clock }
    }
}

#[async_trait]
impl UnitOfWork for LiveUnitOfWork {
    async fn commit(&self, changes: Changes) -> Result<(), CommitError> {
        let signals = signals_of(&changes, self.clock.now());
        self.inner.commit(changes).await?;
        if !signals.is_empty() {
            self.live.publish(signals).await;
        }
        Ok(())
    }
}
