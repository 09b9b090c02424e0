use std::fmt;

use crate::FieldViolation;

/// The longest address SMTP can carry (RFC 5321 path limit less the angle brackets).
const MAX_LEN: usize = 254;
const MAX_LOCAL_LEN: usize = 64;

/// An e-mail address: trimmed, lower-cased, at most 254 bytes, of the shape `local@domain.tld`.
///
/// The check is deliberately practical rather than a full RFC 5322 parser: it accepts what mail
/// providers accept and refuses what would certainly bounce (spaces, control characters, missing
/// or dotless domain, empty labels).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Email(String);

/// Why a string is not an acceptable e-mail address.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum EmailError {
    /// Nothing but white space was given.
    #[error("must not be empty")]
    Empty,
    /// Longer than 254 bytes.
    #[error("must be at most {MAX_LEN} bytes")]
    TooLong,
    /// Not of the shape `local@domain.tld`.
    #[error("must be a valid e-mail address")]
    InvalidFormat,
}

impl FieldViolation for EmailError {
    fn code(&self) -> &'static str {
        match self {
            Self::Empty => "REQUIRED",
            Self::TooLong => "TOO_LONG",
            Self::InvalidFormat => "INVALID_FORMAT",
        }
    }
}

impl Email {
    /// Parses raw input into an address.
    ///
    /// # Errors
    /// [`EmailError`] naming the first rule the input breaks.
    pub fn parse(raw: &str) -> Result<Self, EmailError> {
        let candidate = raw.trim().to_lowercase();
        if candidate.is_empty() {
            return Err(EmailError::Empty);
        }
        if candidate.len() > MAX_LEN {
            return Err(EmailError::TooLong);
        }
        let (local, domain) = candidate.rsplit_once('@').ok_or(EmailError::InvalidFormat)?;
        if !valid_local_part(local) || !valid_domain(domain) {
            return Err(EmailError::InvalidFormat);
        }
        Ok(Self(candidate))
    }

    /// The part before the `@`.
    #[must_use]
    pub fn local_part(&self) -> &str {
        self.0.rsplit_once('@').map_or(self.0.as_str(), |(local, _)| local)
    }
}

fn valid_local_part(local: &str) -> bool {
    const ALLOWED: &str = "!#$%&'*+-/=?^_`{|}~.";
    !local.is_empty()
        && local.len() <= MAX_LOCAL_LEN
        && !local.starts_with('.')
        && !local.ends_with('.')
        && !local.contains("..")
        && local.chars().all(|c| {
            c.is_ascii_alphanumeric() || ALLOWED.contains(c) || (!c.is_ascii() && !c.is_control() && !c.is_whitespace())
        })
}

fn valid_domain(domain: &str) -> bool {
    let labels: Vec<&str> = domain.split('.').collect();
    labels.len() >= 2
        && labels.iter().all(|label| {
            !label.is_empty()
                && label.len() <= 63
                && !label.starts_with('-')
                && !label.ends_with('-')
                && label
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || c == '-' || (!c.is_ascii() && c.is_alphanumeric()))
        })
        && labels.last().is_some_and(|tld| tld.len() >= 2 && !tld.chars().all(|c| c.is_ascii_digit()))
}

impl AsRef<str> for Email {
    fn as_ref(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for Email {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    #[test]
    fn parse_trims_and_lower_cases() {
        let email = Email::parse("  Ada.Lovelace@Example.COM ").unwrap();
        assert_eq!(email.as_ref(), "ada.lovelace@example.com");
        assert_eq!(email.local_part(), "ada.lovelace");
    }

    #[test]
    fn parse_accepts_plus_addressing_and_subdomains() {
        assert!(Email::parse("a+tag@mail.example.co.uk").is_ok());
    }

    #[test]
    fn parse_refuses_empty_input() {
        assert_eq!(Email::parse("   "), Err(EmailError::Empty));
    }

    #[test]
    fn parse_refuses_addresses_over_254_bytes() {
        let raw = format!("{}@{}.com", "a".repeat(60), "b".repeat(200));
        assert_eq!(Email::parse(&raw), Err(EmailError::TooLong));
    }

    #[test]
    fn parse_refuses_malformed_shapes() {
        for raw in [
            "plain",
            "@example.com",
            "a@",
            "a@example",
            "a@.com",
            "a@example..com",
            "a b@example.com",
            ".a@example.com",
            "a.@example.com",
            "a..b@example.com",
            "a@-example.com",
            "a@example.c",
            "a@example.123",
            "a\u{0}@example.com",
            "a@exa mple.com",
        ] {
            assert_eq!(Email::parse(raw), Err(EmailError::InvalidFormat), "{raw:?} was accepted");
        }
    }

    #[test]
    fn codes_are_stable() {
        assert_eq!(EmailError::InvalidFormat.code(), "INVALID_FORMAT");
        assert_eq!(EmailError::TooLong.code(), "TOO_LONG");
        assert_eq!(EmailError::Empty.code(), "REQUIRED");
    }

    proptest! {
        #[test]
        fn whatever_is_accepted_round_trips_and_holds_no_control_or_space(raw in "\\PC{0,80}") {
            if let Ok(email) = Email::parse(&raw) {
                let again = Email::parse(email.as_ref()).unwrap();
                prop_assert_eq!(&again, &email);
                prop_assert!(!email.as_ref().chars().any(|c| c.is_control() || c.is_whitespace()));
                prop_assert!(email.as_ref().len() <= MAX_LEN);
            }
        }

        #[test]
        fn simple_addresses_are_accepted(local in "[a-z0-9]{1,20}", domain in "[a-z0-9]{1,20}", tld in "[a-z]{2,6}") {
            let raw = format!("{local}@{domain}.{tld}");
            let parsed = Email::parse(&raw).unwrap();
            prop_assert_eq!(parsed.as_ref(), raw.as_str());
        }
    }
}
