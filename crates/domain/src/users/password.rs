use std::fmt;

use zxcvbn::matching::patterns::MatchPattern;

use crate::FieldViolation;

/// The rules a new password must satisfy. The defaults follow the contract: 8 to 128 characters
/// with upper case, lower case, a digit and a symbol; not a common password; not containing the
/// username or the e-mail's local part; and scoring at least 3 of 4 on a zxcvbn estimate.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PasswordPolicy {
    /// Fewest characters accepted.
    pub min_length: usize,
    /// Most characters accepted (bounds the hashing work an attacker can ask for).
    pub max_length: usize,
    /// Require at least one upper-case letter.
    pub require_uppercase: bool,
    /// Require at least one lower-case letter.
    pub require_lowercase: bool,
    /// Require at least one digit.
    pub require_digit: bool,
    /// Require at least one character that is neither a letter nor a digit.
    pub require_symbol: bool,
    /// Refuse passwords found in the common-password list (about 30,000 entries, from zxcvbn).
    pub reject_common: bool,
    /// Refuse passwords containing the username or the e-mail's local part.
    pub reject_personal_info: bool,
    /// Lowest acceptable zxcvbn score, 0 to 4.
    pub min_strength: u8,
}

impl Default for PasswordPolicy {
    fn default() -> Self {
        Self {
            min_length: 8,
            max_length: 128,
            require_uppercase: true,
            require_lowercase: true,
            require_digit: true,
            require_symbol: true,
            reject_common: true,
            reject_personal_info: true,
            min_strength: 3,
        }
    }
}

/// The first rule a candidate password breaks.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PasswordError {
    /// Shorter than the policy's minimum.
    #[error("must be at least {0} characters")]
    TooShort(usize),
    /// Longer than the policy's maximum.
    #[error("must be at most {0} characters")]
    TooLong(usize),
    /// No upper-case letter.
    #[error("must contain an upper-case letter")]
    MissingUppercase,
    /// No lower-case letter.
    #[error("must contain a lower-case letter")]
    MissingLowercase,
    /// No digit.
    #[error("must contain a digit")]
    MissingDigit,
    /// No symbol.
    #[error("must contain a symbol")]
    MissingSymbol,
    /// In the common-password list.
    #[error("is too common")]
    Common,
    /// Contains the username or the e-mail's local part.
    #[error("must not contain the username or e-mail address")]
    ContainsPersonalInfo,
    /// Too easy to guess according to the strength estimate.
    #[error("is too easy to guess")]
    TooWeak,
}

impl FieldViolation for PasswordError {
    fn code(&self) -> &'static str {
        match self {
            Self::TooShort(_) => "TOO_SHORT",
            Self::TooLong(_) => "TOO_LONG",
            Self::MissingUppercase => "MISSING_UPPERCASE",
            Self::MissingLowercase => "MISSING_LOWERCASE",
            Self::MissingDigit => "MISSING_DIGIT",
            Self::MissingSymbol => "MISSING_SYMBOL",
            Self::Common => "TOO_COMMON",
            Self::ContainsPersonalInfo => "CONTAINS_PERSONAL_INFO",
            Self::TooWeak => "TOO_WEAK",
        }
    }
}

impl PasswordPolicy {
    /// Checks a candidate password for an account known by `personal` (username, e-mail local
    /// part, ...). Cheap rules are checked first; the strength estimate last.
    ///
    /// # Errors
    /// The first [`PasswordError`] the candidate breaks.
    pub fn check(&self, candidate: &str, personal: &[&str]) -> Result<(), PasswordError> {
        let length = candidate.chars().count();
        if length < self.min_length {
            return Err(PasswordError::TooShort(self.min_length));
        }
        if length > self.max_length {
            return Err(PasswordError::TooLong(self.max_length));
        }
        if self.require_uppercase && !candidate.chars().any(char::is_uppercase) {
            return Err(PasswordError::MissingUppercase);
        }
        if self.require_lowercase && !candidate.chars().any(char::is_lowercase) {
            return Err(PasswordError::MissingLowercase);
        }
        if self.require_digit && !candidate.chars().any(|c| c.is_ascii_digit()) {
            return Err(PasswordError::MissingDigit);
        }
        if self.require_symbol && !candidate.chars().any(|c| !c.is_alphanumeric()) {
            return Err(PasswordError::MissingSymbol);
        }
        let lowered = candidate.to_lowercase();
        if self.reject_personal_info
            && personal.iter().map(|p| p.trim().to_lowercase()).any(|p| p.chars().count() >= 3 && lowered.contains(&p))
        {
            return Err(PasswordError::ContainsPersonalInfo);
        }
        let estimate = zxcvbn::zxcvbn(candidate, personal);
        if self.reject_common && is_common(estimate.sequence(), candidate) {
            return Err(PasswordError::Common);
        }
        if u8::from(estimate.score()) < self.min_strength {
            return Err(PasswordError::TooWeak);
        }
        Ok(())
    }
}

/// A password is common when, ignoring case, l33t substitutions and trailing symbols and digits
/// people add to satisfy composition rules, it is one entry of zxcvbn's ranked password list.
fn is_common(sequence: &[zxcvbn::Match], candidate: &str) -> bool {
    let core_len = candidate.trim_end_matches(|c: char| !c.is_alphabetic()).chars().count();
    sequence.iter().any(|m| match &m.pattern {
        // zxcvbn does not export its dictionary enum; its `Debug` name is stable.
        MatchPattern::Dictionary(d) => {
            format!("{:?}", d.dictionary_name) == "Passwords" && m.i == 0 && m.j + 1 >= core_len.max(1)
        }
        _ => false,
    })
}

/// A password hash in PHC string format (`$argon2id$v=19$m=...`). Opaque to the domain: only the
/// password hasher adapter reads it. Its `Debug` hides the value.
#[derive(Clone, PartialEq, Eq)]
pub struct PasswordHash(String);

impl PasswordHash {
    /// Wraps a PHC string produced by the hasher or read from storage.
    #[must_use]
    pub fn new(phc: String) -> Self {
        Self(phc)
    }

    /// The PHC string, for storage and verification.
    #[must_use]
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for PasswordHash {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("PasswordHash(..)")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check(candidate: &str) -> Result<(), PasswordError> {
        PasswordPolicy::default().check(candidate, &["ada_l", "ada.lovelace"])
    }

    #[test]
    fn a_strong_password_is_accepted() {
        assert_eq!(check("Correct-Horse-42-Battery"), Ok(()));
        assert_eq!(check("vR7#pq!Lm2zX"), Ok(()));
    }

    #[test]
    fn length_bounds_are_enforced_in_characters() {
        assert_eq!(check("Ab1!xyz"), Err(PasswordError::TooShort(8)));
        assert_eq!(check(&format!("Ab1!{}", "q".repeat(125))), Err(PasswordError::TooLong(128)));
    }

    #[test]
    fn each_character_class_is_required() {
        assert_eq!(check("lowercase-only-9"), Err(PasswordError::MissingUppercase));
        assert_eq!(check("UPPERCASE-ONLY-9"), Err(PasswordError::MissingLowercase));
        assert_eq!(check("No-Digits-Here!"), Err(PasswordError::MissingDigit));
        assert_eq!(check("NoSymbolsHere99"), Err(PasswordError::MissingSymbol));
    }

    #[test]
    fn common_passwords_are_refused_even_dressed_up() {
        assert_eq!(check("Password123!"), Err(PasswordError::Common));
        assert_eq!(check("Qwerty123!"), Err(PasswordError::Common));
        assert_eq!(check("Iloveyou1!"), Err(PasswordError::Common));
    }

    #[test]
    fn personal_information_is_refused() {
        assert_eq!(check("Xx-Ada.Lovelace-9"), Err(PasswordError::ContainsPersonalInfo));
        assert_eq!(check("9!ADA_L-zzqv"), Err(PasswordError::ContainsPersonalInfo));
    }

    #[test]
    fn weak_but_well_formed_passwords_are_refused() {
        assert_eq!(check("Zzzzzzzz9!"), Err(PasswordError::TooWeak));
        assert_eq!(check("Ab1!Ab1!Ab1!"), Err(PasswordError::TooWeak));
    }

    #[test]
    fn thresholds_are_configurable() {
        let lenient = PasswordPolicy {
            min_length: 4,
            require_uppercase: false,
            require_symbol: false,
            reject_common: false,
            min_strength: 0,
            ..PasswordPolicy::default()
        };
        assert_eq!(lenient.check("abc1", &[]), Ok(()));
    }

    #[test]
    fn password_hash_debug_hides_the_value() {
        let hash = PasswordHash::new("$argon2id$secret".into());
        assert!(!format!("{hash:?}").contains("secret"));
        assert_eq!(hash.expose(), "$argon2id$secret");
    }
}
