//! The writes of account tokens (e-mail verification and password reset).

use forge_domain::{
    account_tokens::{AccountToken, TokenPurpose},
    sessions::TokenDigest,
    users::UserId,
};

use crate::common::Change;

/// A write of account tokens, stored by the [`UnitOfWork`](crate::common::UnitOfWork). None
/// breaks a uniqueness rule.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AccountTokenChange {
    /// Stores a new account token.
    Insert(AccountToken),
    /// Uses an account token up by deleting it, provided it is still there; otherwise
    /// [`CommitError::Stale`](crate::common::CommitError::Stale). This is what makes the token
    /// single-use when two requests race.
    Consume {
        /// The token's digest.
        digest: TokenDigest,
    },
    /// Deletes every token of `purpose` of the account (issuing a new one invalidates the
    /// earlier ones); none is fine.
    Discard {
        /// The account.
        user_id: UserId,
        /// Which tokens.
        purpose: TokenPurpose,
    },
}

impl Change for AccountTokenChange {}
