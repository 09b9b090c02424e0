use std::fmt;

use crate::text::{BoundedText, bounded_text_error};

const MAX_CHARS: usize = 2000;

/// Trimmed, 1 to [`MAX_CHARS`] characters, no control characters but line breaks and tabs.
const RULES: BoundedText = BoundedText::prose(MAX_CHARS);

/// A project's description: trimmed, 1 to 2000 characters. Line breaks and tabs are allowed (it
/// is prose); other control characters are not.
///
/// A project without a description has none (`Option<ProjectDescription>`), never an empty one.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct ProjectDescription(String);

/// Why a string is not an acceptable description.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ProjectDescriptionError {
    /// Nothing but white space.
    #[error("must not be blank")]
    Blank,
    /// More than 2000 characters.
    #[error("must be at most {MAX_CHARS} characters")]
    TooLong,
    /// Contains a control character other than a line break or a tab.
    #[error("must not contain control characters other than line breaks and tabs")]
    ControlCharacter,
}

bounded_text_error!(ProjectDescriptionError);

impl ProjectDescription {
    /// Parses raw input (surrounding white space is trimmed).
    ///
    /// # Errors
    /// [`ProjectDescriptionError`] naming the first rule the input breaks.
    pub fn parse(raw: &str) -> Result<Self, ProjectDescriptionError> {
        RULES.parse(raw).map(Self).map_err(Into::into)
    }
}

impl AsRef<str> for ProjectDescription {
    fn as_ref(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for ProjectDescription {
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
    fn parse_keeps_line_breaks_and_tabs_inside() {
        let text = "Goals:\n\t- land\r\n\t- return";
        assert_eq!(ProjectDescription::parse(&format!("  {text}\n")).unwrap().as_ref(), text);
    }

    #[test]
    fn parse_enforces_the_length_in_characters() {
        assert!(ProjectDescription::parse(&"é".repeat(2000)).is_ok());
        assert_eq!(ProjectDescription::parse(&"é".repeat(2001)), Err(ProjectDescriptionError::TooLong));
    }

    #[test]
    fn parse_refuses_blanks_and_other_control_characters() {
        assert_eq!(ProjectDescription::parse(" \n\t "), Err(ProjectDescriptionError::Blank));
        assert_eq!(ProjectDescription::parse("bell\u{7}"), Err(ProjectDescriptionError::ControlCharacter));
        assert_eq!(ProjectDescription::parse("nul\u{0}"), Err(ProjectDescriptionError::ControlCharacter));
        assert_eq!(ProjectDescriptionError::ControlCharacter.code(), "INVALID_CHARACTER");
    }

    proptest! {
        #[test]
        fn accepted_descriptions_round_trip_without_other_control_characters(raw in "(\\PC|\n|\t){0,300}") {
            if let Ok(text) = ProjectDescription::parse(&raw) {
                prop_assert_eq!(ProjectDescription::parse(text.as_ref()).unwrap(), text.clone());
                prop_assert!(text.as_ref().chars().count() <= MAX_CHARS);
                prop_assert!(!text.as_ref().chars().any(|c| c.is_control() && !matches!(c, '\n' | '\r' | '\t')));
            }
        }

        #[test]
        fn long_descriptions_are_accepted_up_to_the_limit_only(raw in "[a-z \n\t]{1990,2010}") {
            let trimmed = raw.trim().chars().count();
            prop_assert_eq!(ProjectDescription::parse(&raw).is_ok(), (1..=MAX_CHARS).contains(&trimmed));
        }
    }
}
