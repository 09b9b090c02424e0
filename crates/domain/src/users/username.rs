use std::fmt;

use crate::FieldViolation;

const MIN_LEN: usize = 3;
const MAX_LEN: usize = 50;

/// A username: 3 to 50 ASCII letters, digits, `_`, `-` or `.`, starting with a letter or digit.
///
/// The spelling is kept as given; uniqueness is case-insensitive, through [`Username::normalized`].
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Username(String);

/// Why a string is not an acceptable username.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum UsernameError {
    /// Fewer than 3 characters.
    #[error("must be at least {MIN_LEN} characters")]
    TooShort,
    /// More than 50 characters.
    #[error("must be at most {MAX_LEN} characters")]
    TooLong,
    /// A character other than ASCII letters, digits, `_`, `-` and `.`.
    #[error("may contain only ASCII letters, digits, '_', '-' and '.'")]
    InvalidCharacter,
    /// Starts with `_`, `-` or `.`.
    #[error("must start with a letter or a digit")]
    InvalidStart,
}

impl FieldViolation for UsernameError {
    fn code(&self) -> &'static str {
        match self {
            Self::TooShort => "TOO_SHORT",
            Self::TooLong => "TOO_LONG",
            Self::InvalidCharacter => "INVALID_CHARACTER",
            Self::InvalidStart => "INVALID_FORMAT",
        }
    }
}

impl Username {
    /// Parses raw input (surrounding white space is trimmed).
    ///
    /// # Errors
    /// [`UsernameError`] naming the first rule the input breaks.
    pub fn parse(raw: &str) -> Result<Self, UsernameError> {
        let candidate = raw.trim();
        if !candidate.chars().all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '.')) {
            return Err(UsernameError::InvalidCharacter);
        }
        if candidate.len() < MIN_LEN {
            return Err(UsernameError::TooShort);
        }
        if candidate.len() > MAX_LEN {
            return Err(UsernameError::TooLong);
        }
        if !candidate.starts_with(|c: char| c.is_ascii_alphanumeric()) {
            return Err(UsernameError::InvalidStart);
        }
        Ok(Self(candidate.to_owned()))
    }

    /// The lower-cased form under which uniqueness is checked.
    #[must_use]
    pub fn normalized(&self) -> String {
        self.0.to_ascii_lowercase()
    }
}

impl AsRef<str> for Username {
    fn as_ref(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for Username {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    #[test]
    fn parse_keeps_the_spelling_and_normalizes_for_uniqueness() {
        let name = Username::parse(" Ada_Lovelace.1 ").unwrap();
        assert_eq!(name.as_ref(), "Ada_Lovelace.1");
        assert_eq!(name.normalized(), "ada_lovelace.1");
    }

    #[test]
    fn parse_enforces_length_bounds() {
        assert_eq!(Username::parse("ab"), Err(UsernameError::TooShort));
        assert!(Username::parse("abc").is_ok());
        assert!(Username::parse(&"a".repeat(50)).is_ok());
        assert_eq!(Username::parse(&"a".repeat(51)), Err(UsernameError::TooLong));
    }

    #[test]
    fn parse_refuses_other_characters() {
        for raw in ["ada lovelace", "ada@home", "adé", "ada/1", "ada\n1"] {
            assert_eq!(Username::parse(raw), Err(UsernameError::InvalidCharacter), "{raw:?}");
        }
    }

    #[test]
    fn parse_refuses_punctuation_first() {
        for raw in ["_ada", "-ada", ".ada"] {
            assert_eq!(Username::parse(raw), Err(UsernameError::InvalidStart), "{raw:?}");
        }
    }

    proptest! {
        #[test]
        fn accepted_usernames_round_trip(raw in "\\PC{0,60}") {
            if let Ok(name) = Username::parse(&raw) {
                prop_assert_eq!(Username::parse(name.as_ref()).unwrap(), name.clone());
                prop_assert!((MIN_LEN..=MAX_LEN).contains(&name.as_ref().len()));
                prop_assert!(name.as_ref().is_ascii());
            }
        }
    }
}
