use std::fmt;

use crate::text::{BoundedText, bounded_text_error};

const MAX_CHARS: usize = 100;

/// Trimmed, 1 to [`MAX_CHARS`] characters, no control characters.
const RULES: BoundedText = BoundedText::line(MAX_CHARS);

/// A project's name: trimmed, 1 to 100 characters, no control characters.
///
/// The spelling is kept as given; uniqueness (per owner) ignores case, through
/// [`ProjectName::normalized`].
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct ProjectName(String);

/// Why a string is not an acceptable project name.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ProjectNameError {
    /// Empty, or nothing but white space.
    #[error("must not be blank")]
    Blank,
    /// More than 100 characters.
    #[error("must be at most {MAX_CHARS} characters")]
    TooLong,
    /// Contains a control character (new line, tab, NUL, ...).
    #[error("must not contain control characters")]
    ControlCharacter,
}

bounded_text_error!(ProjectNameError);

impl ProjectName {
    /// Parses raw input (surrounding white space is trimmed).
    ///
    /// # Errors
    /// [`ProjectNameError`] naming the first rule the input breaks.
    pub fn parse(raw: &str) -> Result<Self, ProjectNameError> {
        RULES.parse(raw).map(Self).map_err(Into::into)
    }

    /// The lower-cased form under which names are compared: one owner cannot have two live
    /// projects whose names differ only by case.
    #[must_use]
    pub fn normalized(&self) -> String {
        self.0.to_lowercase()
    }
}

impl AsRef<str> for ProjectName {
    fn as_ref(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for ProjectName {
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
    fn parse_trims_and_keeps_the_spelling() {
        let name = ProjectName::parse("  Apollo Guidance ").unwrap();
        assert_eq!(name.as_ref(), "Apollo Guidance");
        assert_eq!(name.normalized(), "apollo guidance");
    }

    #[test]
    fn parse_counts_characters_not_bytes() {
        assert!(ProjectName::parse(&"ß".repeat(100)).is_ok());
        assert_eq!(ProjectName::parse(&"ß".repeat(101)), Err(ProjectNameError::TooLong));
    }

    #[test]
    fn parse_refuses_blanks_and_control_characters() {
        assert_eq!(ProjectName::parse(""), Err(ProjectNameError::Blank));
        assert_eq!(ProjectName::parse(" \u{a0} "), Err(ProjectNameError::Blank));
        assert_eq!(ProjectName::parse("Apollo\n11"), Err(ProjectNameError::ControlCharacter));
        assert_eq!(ProjectName::parse("Apollo\u{0}"), Err(ProjectNameError::ControlCharacter));
    }

    #[test]
    fn normalized_names_fold_case_beyond_ascii() {
        assert_eq!(
            ProjectName::parse("ÉCLAIR").unwrap().normalized(),
            ProjectName::parse("éclair").unwrap().normalized()
        );
    }

    #[test]
    fn every_error_has_a_stable_code() {
        assert_eq!(ProjectNameError::Blank.code(), "REQUIRED");
        assert_eq!(ProjectNameError::TooLong.code(), "TOO_LONG");
        assert_eq!(ProjectNameError::ControlCharacter.code(), "INVALID_CHARACTER");
    }

    proptest! {
        #[test]
        fn accepted_names_round_trip_trimmed_bounded_and_without_control_characters(raw in "\\PC{0,120}") {
            if let Ok(name) = ProjectName::parse(&raw) {
                prop_assert_eq!(ProjectName::parse(name.as_ref()).unwrap(), name.clone());
                prop_assert!(!name.as_ref().chars().any(char::is_control));
                prop_assert_eq!(name.as_ref(), name.as_ref().trim());
                prop_assert!((1..=MAX_CHARS).contains(&name.as_ref().chars().count()));
            }
        }

        #[test]
        fn names_with_a_control_character_are_always_refused(
            left in "[a-z]{0,10}",
            control in prop::sample::select(vec!['\n', '\t', '\r', '\u{0}', '\u{7f}', '\u{85}']),
            right in "[a-z]{0,10}",
        ) {
            prop_assert_eq!(ProjectName::parse(&format!("x{left}{control}{right}x")), Err(ProjectNameError::ControlCharacter));
        }
    }
}
