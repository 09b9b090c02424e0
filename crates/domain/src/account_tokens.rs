//! Single-use tokens mailed to an account's address: one to prove the address is the user's
//! (e-mail verification), one to set a new password without the old one (password reset).
//!
//! A token is 256 random bits handed to the user once, inside a link; only its SHA-256 digest is
//! stored, with its purpose, the address it was sent to and its expiry. It works once, for its
//! own purpose, before it expires, and only while the account still has the address it was sent
//! to: a token mailed to an old address cannot verify a new one or reset the password after the
//! address changed.

use chrono::{DateTime, Duration, Utc};

use crate::{
    sessions::TokenDigest,
    users::{Email, UserId},
};

/// What a token may be used for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum TokenPurpose {
    /// Marks the account's address verified.
    VerifyEmail,
    /// Sets a new password.
    ResetPassword,
}

impl TokenPurpose {
    /// Every purpose.
    pub const ALL: [Self; 2] = [Self::VerifyEmail, Self::ResetPassword];

    /// The stored name.
    #[must_use]
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::VerifyEmail => "verify_email",
            Self::ResetPassword => "reset_password",
        }
    }

    /// Parses a stored name.
    #[must_use]
    pub fn parse(name: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|p| p.as_str() == name)
    }
}

/// A stored account token (its digest, never the token).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AccountToken {
    /// SHA-256 of the token.
    pub digest: TokenDigest,
    /// The account it belongs to.
    pub user_id: UserId,
    /// What it may be used for.
    pub purpose: TokenPurpose,
    /// The address it was mailed to.
    pub email: Email,
    /// When it was issued.
    pub created_at: DateTime<Utc>,
    /// When it stops working.
    pub expires_at: DateTime<Utc>,
}

/// Why a presented token is refused. Callers answer every case the same way, so a client cannot
/// tell an unknown token from a used or expired one.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum TokenRefusal {
    /// Issued for the other purpose.
    #[error("the token is for something else")]
    WrongPurpose,
    /// Past its expiry.
    #[error("the token has expired")]
    Expired,
    /// The account's address is no longer the one the token was sent to.
    #[error("the account's address changed since the token was sent")]
    AddressChanged,
}

impl AccountToken {
    /// A token for `purpose` issued at `now` to `email`, valid for `lifetime`.
    #[must_use]
    pub fn issue(
        digest: TokenDigest,
        user_id: UserId,
        purpose: TokenPurpose,
        email: Email,
        now: DateTime<Utc>,
        lifetime: Duration,
    ) -> Self {
        Self { digest, user_id, purpose, email, created_at: now, expires_at: now + lifetime }
    }

    /// Whether the token may be used at `now` for `purpose` by an account whose address is
    /// `current_email`. (Single use is kept by storage: a used token is deleted.)
    ///
    /// # Errors
    /// [`TokenRefusal`] saying why not.
    pub fn check(&self, purpose: TokenPurpose, now: DateTime<Utc>, current_email: &Email) -> Result<(), TokenRefusal> {
        if self.purpose != purpose {
            Err(TokenRefusal::WrongPurpose)
        } else if now >= self.expires_at {
            Err(TokenRefusal::Expired)
        } else if &self.email != current_email {
            Err(TokenRefusal::AddressChanged)
        } else {
            Ok(())
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn t0() -> DateTime<Utc> {
        DateTime::from_timestamp(1_700_000_000, 0).unwrap()
    }

    fn ada() -> Email {
        Email::parse("ada@example.com").unwrap()
    }

    fn token(purpose: TokenPurpose) -> AccountToken {
        AccountToken::issue(TokenDigest::new("d".into()), UserId::generate(), purpose, ada(), t0(), Duration::hours(1))
    }

    #[test]
    fn purposes_round_trip_through_their_stored_names() {
        for purpose in TokenPurpose::ALL {
            assert_eq!(TokenPurpose::parse(purpose.as_str()), Some(purpose));
        }
        assert_eq!(TokenPurpose::parse("login"), None);
    }

    #[test]
    fn a_token_works_for_its_purpose_until_it_expires() {
        let t = token(TokenPurpose::ResetPassword);
        assert_eq!(t.expires_at, t0() + Duration::hours(1));
        assert_eq!(t.check(TokenPurpose::ResetPassword, t0() + Duration::minutes(59), &ada()), Ok(()));
        assert_eq!(t.check(TokenPurpose::ResetPassword, t0() + Duration::hours(1), &ada()), Err(TokenRefusal::Expired));
    }

    #[test]
    fn a_token_is_refused_for_another_purpose_or_another_address() {
        let t = token(TokenPurpose::VerifyEmail);
        assert_eq!(t.check(TokenPurpose::ResetPassword, t0(), &ada()), Err(TokenRefusal::WrongPurpose));
        let other = Email::parse("ada@new.example.com").unwrap();
        assert_eq!(t.check(TokenPurpose::VerifyEmail, t0(), &other), Err(TokenRefusal::AddressChanged));
    }
}
