use std::fmt;

use crate::text::{BoundedText, bounded_text_error};

const MAX_CHARS: usize = 100;

/// Trimmed, 1 to [`MAX_CHARS`] characters, no control characters.
const RULES: BoundedText = BoundedText::line(MAX_CHARS);

/// A person's display name: trimmed, 1 to 100 characters, no control characters.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct FullName(String);

/// Why a string is not an acceptable full name.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum FullNameError {
    /// Nothing but white space; send `null` to clear the name instead.
    #[error("must not be blank")]
    Blank,
    /// More than 100 characters.
    #[error("must be at most {MAX_CHARS} characters")]
    TooLong,
    /// Contains a control character (new line, tab, NUL, ...).
    #[error("must not contain control characters")]
    ControlCharacter,
}

bounded_text_error!(FullNameError);

impl FullName {
    /// Parses raw input.
    ///
    /// # Errors
    /// [`FullNameError`] naming the first rule the input breaks.
    pub fn parse(raw: &str) -> Result<Self, FullNameError> {
        RULES.parse(raw).map(Self).map_err(Into::into)
    }
}

impl AsRef<str> for FullName {
    fn as_ref(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for FullName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    #[test]
    fn parse_trims_and_accepts_unicode() {
        assert_eq!(FullName::parse("  Zoë Ångström ").unwrap().as_ref(), "Zoë Ångström");
    }

    #[test]
    fn parse_counts_characters_not_bytes() {
        assert!(FullName::parse(&"é".repeat(100)).is_ok());
        assert_eq!(FullName::parse(&"é".repeat(101)), Err(FullNameError::TooLong));
    }

    #[test]
    fn parse_refuses_control_characters_and_blanks() {
        assert_eq!(FullName::parse("Ada\nLovelace"), Err(FullNameError::ControlCharacter));
        assert_eq!(FullName::parse("Ada\u{7}"), Err(FullNameError::ControlCharacter));
        assert_eq!(FullName::parse("   "), Err(FullNameError::Blank));
    }

    proptest! {
        #[test]
        fn accepted_names_round_trip_without_control_characters(raw in "\\PC{0,120}") {
            if let Ok(name) = FullName::parse(&raw) {
                prop_assert_eq!(FullName::parse(name.as_ref()).unwrap(), name.clone());
                prop_assert!(!name.as_ref().chars().any(char::is_control));
            }
        }
    }
}
