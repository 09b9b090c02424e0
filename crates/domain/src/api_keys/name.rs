use std::fmt;

use crate::text::{BoundedText, bounded_text_error};

const MAX_CHARS: usize = 100;

/// Trimmed, 1 to [`MAX_CHARS`] characters, no control characters.
const RULES: BoundedText = BoundedText::line(MAX_CHARS);

/// What a user calls one of its API keys: trimmed, 1 to 100 characters, no control characters.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct ApiKeyName(String);

/// Why a string is not an acceptable key name.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ApiKeyNameError {
    /// Empty or white space only.
    #[error("must not be blank")]
    Blank,
    /// More than 100 characters.
    #[error("must be at most {MAX_CHARS} characters")]
    TooLong,
    /// Contains a control character (new line, tab, NUL, ...).
    #[error("must not contain control characters")]
    ControlCharacter,
}

bounded_text_error!(ApiKeyNameError);

impl ApiKeyName {
    /// Parses raw input.
    ///
    /// # Errors
    /// [`ApiKeyNameError`] naming the first rule the input breaks.
    pub fn parse(raw: &str) -> Result<Self, ApiKeyNameError> {
        RULES.parse(raw).map(Self).map_err(Into::into)
    }
}

impl AsRef<str> for ApiKeyName {
    fn as_ref(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for ApiKeyName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;
    use crate::FieldViolation;

    #[test]
    fn parse_trims_and_counts_characters_not_bytes() {
        assert_eq!(ApiKeyName::parse("  CI deploys ").unwrap().as_ref(), "CI deploys");
        assert!(ApiKeyName::parse(&"é".repeat(100)).is_ok());
        assert_eq!(ApiKeyName::parse(&"é".repeat(101)), Err(ApiKeyNameError::TooLong));
    }

    #[test]
    fn parse_refuses_blanks_and_control_characters() {
        assert_eq!(ApiKeyName::parse(" \t "), Err(ApiKeyNameError::Blank));
        assert_eq!(ApiKeyName::parse("ci\tbot"), Err(ApiKeyNameError::ControlCharacter));
        assert_eq!(ApiKeyName::parse("ci\nbot"), Err(ApiKeyNameError::ControlCharacter));
        assert_eq!(ApiKeyNameError::Blank.code(), "REQUIRED");
    }

    proptest! {
        #[test]
        fn accepted_names_round_trip_without_control_characters(raw in "\\PC{0,120}") {
            if let Ok(name) = ApiKeyName::parse(&raw) {
                prop_assert_eq!(ApiKeyName::parse(name.as_ref()).unwrap(), name.clone());
                prop_assert!(!name.as_ref().chars().any(char::is_control));
                prop_assert!((1..=100).contains(&name.as_ref().chars().count()));
            }
        }
    }
}
