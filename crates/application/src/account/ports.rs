//! What the account flows need from the outside world besides the ports of authentication.

use async_trait::async_trait;
use forge_domain::{account_tokens::AccountToken, sessions::TokenDigest};

use crate::common::UnexpectedError;

/// Reads account tokens. Writes (issue, consume, discard) go through
/// [`UnitOfWork`](crate::common::UnitOfWork).
#[cfg_attr(any(test, feature = "mocks"), mockall::automock)]
#[async_trait]
pub trait AccountTokenRepository: Send + Sync {
    /// The token with this digest, expired or not; a used or discarded token is gone.
    ///
    /// # Errors
    /// [`UnexpectedError`] when storage fails.
    async fn by_digest(&self, digest: &TokenDigest) -> Result<Option<AccountToken>, UnexpectedError>;
}
