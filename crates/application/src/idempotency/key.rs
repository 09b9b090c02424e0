use std::fmt;

use forge_domain::FieldViolation;

/// A client's `Idempotency-Key`: 1 to 255 visible ASCII characters (`!` to `~`), kept exactly as
/// sent (keys are compared case-sensitively).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct IdempotencyKey(String);

/// Why a key is refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum IdempotencyKeyError {
    /// Empty.
    #[error("must not be empty")]
    Empty,
    /// Over 255 characters.
    #[error("must be at most {} characters", IdempotencyKey::MAX_LEN)]
    TooLong,
    /// A space, a control character or anything outside ASCII.
    #[error("must hold only visible ASCII characters")]
    InvalidCharacter,
}

impl FieldViolation for IdempotencyKeyError {
    fn code(&self) -> &'static str {
        match self {
            Self::Empty => "REQUIRED",
            Self::TooLong => "TOO_LONG",
            Self::InvalidCharacter => "INVALID_CHARACTER",
        }
    }
}

impl IdempotencyKey {
    /// The longest key accepted.
    pub const MAX_LEN: usize = 255;

    /// Checks a key as sent.
    ///
    /// # Errors
    /// [`IdempotencyKeyError`] saying what is wrong with it.
    pub fn parse(raw: &str) -> Result<Self, IdempotencyKeyError> {
        if raw.is_empty() {
            return Err(IdempotencyKeyError::Empty);
        }
        if !raw.bytes().all(|b| b.is_ascii_graphic()) {
            return Err(IdempotencyKeyError::InvalidCharacter);
        }
        if raw.len() > Self::MAX_LEN {
            return Err(IdempotencyKeyError::TooLong);
        }
        Ok(Self(raw.to_owned()))
    }
}

impl AsRef<str> for IdempotencyKey {
    fn as_ref(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for IdempotencyKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn visible_ascii_of_1_to_255_characters_is_a_key() {
        for raw in ["a", "order-2026-11-23/42", "~!#$%&'*+-.^_`|", &"k".repeat(255)] {
            assert_eq!(IdempotencyKey::parse(raw).map(|k| k.to_string()), Ok(raw.to_owned()));
        }
    }

    #[test]
    fn anything_else_is_refused_with_a_reason() {
        assert_eq!(IdempotencyKey::parse(""), Err(IdempotencyKeyError::Empty));
        assert_eq!(IdempotencyKey::parse(&"k".repeat(256)), Err(IdempotencyKeyError::TooLong));
        for raw in ["with space", "tab\t", "ünïcode", "nul\0", "\u{7f}"] {
            assert_eq!(IdempotencyKey::parse(raw), Err(IdempotencyKeyError::InvalidCharacter), "{raw:?}");
        }
        assert_eq!(IdempotencyKeyError::TooLong.code(), "TOO_LONG");
    }
}
