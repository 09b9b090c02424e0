//! Issuing account tokens: shared by registration, account creation, address changes and the
//! account flows themselves.

use chrono::{DateTime, Utc};
use forge_domain::{
    account_tokens::{AccountToken, TokenPurpose},
    users::User,
};
use secrecy::{ExposeSecret, SecretString};

use crate::{
    auth::{AuthSettings, ports::OpaqueTokens},
    mail::Notice,
};

use super::AccountTokenChange;

/// A freshly issued token: the changes that store it (and discard the account's earlier tokens
/// of the same purpose), and the notice that mails its link.
pub(crate) struct Issued {
    pub(crate) changes: Vec<AccountTokenChange>,
    pub(crate) notice: Notice,
}

/// Issues a `purpose` token for `user`'s current address at `now`. Commit `changes` before
/// sending `notice`.
pub(crate) fn issue(
    opaque_tokens: &dyn OpaqueTokens,
    settings: &AuthSettings,
    user: &User,
    purpose: TokenPurpose,
    now: DateTime<Utc>,
) -> Issued {
    let (token, digest) = opaque_tokens.generate();
    let valid_for = lifetime(settings, purpose);
    let stored = AccountToken::issue(digest, user.id(), purpose, user.email().clone(), now, valid_for);
    let link = link(settings, purpose, &token);
    let username = user.username().as_ref().to_owned();
    let notice = match purpose {
        TokenPurpose::VerifyEmail => Notice::VerifyEmail { username, link, valid_for },
        TokenPurpose::ResetPassword => Notice::ResetPassword { username, link, valid_for },
    };
    Issued {
        changes: vec![AccountTokenChange::Discard { user_id: user.id(), purpose }, AccountTokenChange::Insert(stored)],
        notice,
    }
}

/// How long a token of `purpose` works.
pub(crate) const fn lifetime(settings: &AuthSettings, purpose: TokenPurpose) -> chrono::Duration {
    match purpose {
        TokenPurpose::VerifyEmail => settings.email_verification_ttl,
        TokenPurpose::ResetPassword => settings.password_reset_ttl,
    }
}

/// The link the single-page app answers: `{public_url}/verify-email?token=…` or
/// `{public_url}/reset-password?token=…`. Tokens are base64url, so they need no escaping.
pub(crate) fn link(settings: &AuthSettings, purpose: TokenPurpose, token: &SecretString) -> SecretString {
    let page = match purpose {
        TokenPurpose::VerifyEmail => "verify-email",
        TokenPurpose::ResetPassword => "reset-password",
    };
    SecretString::from(format!("{}/{page}?token={}", settings.public_url.trim_end_matches('/'), token.expose_secret()))
}
