//! The domain's value objects, from any text: every parsing constructor either refuses the input
//! or returns a value that satisfies the type's rules and parses again to itself.
//!
//! The input is read as UTF-8 (invalid sequences become U+FFFD: requests reach these parsers as
//! strings) and goes to every parser. The password policy, much slower (a zxcvbn estimate), has a
//! target of its own: `password_policy`.

#![no_main]

use std::str::FromStr;

use chrono::{DateTime, TimeZone, Utc};
use forge_domain::{
    account_tokens::TokenPurpose,
    api_keys::{ApiKey, ApiKeyName, ApiKeyScope, ApiKeyScopes, ScopeError, parse_expiry},
    projects::{ProjectDescription, ProjectName, ProjectRole, ProjectStatus},
    users::{Email, FullName, Role, Username},
};
use libfuzzer_sys::fuzz_target;

/// Checks what every value object promises: `Display` is `as_ref()`, and parsing the value again
/// gives the same value.
macro_rules! round_trip {
    ($type:ty, $raw:expr) => {
        match <$type>::parse($raw) {
            Ok(value) => {
                let text: &str = value.as_ref();
                assert_eq!(value.to_string(), text, concat!(stringify!($type), ": Display differs from as_ref"));
                let again = <$type>::parse(text).unwrap_or_else(|e| {
                    panic!(concat!(stringify!($type), " {:?} does not parse again: {:?}"), text, e)
                });
                assert_eq!(again, value, concat!(stringify!($type), ": parsing again changed the value"));
                Some(value)
            }
            Err(_) => None,
        }
    };
}

/// Bounded text: trimmed, 1 to `max` characters, no control character (prose allows `\n`, `\r`,
/// `\t`).
fn check_bounded(text: &str, max: usize, prose: bool) {
    assert_eq!(text, text.trim(), "bounded text not trimmed: {text:?}");
    assert!((1..=max).contains(&text.chars().count()), "bounded text of a wrong length: {text:?}");
    assert!(
        !text.chars().any(|c| c.is_control() && !(prose && matches!(c, '\n' | '\r' | '\t'))),
        "bounded text with a control character: {text:?}"
    );
}

/// Checks a stable name against its parser: the name parses exactly when it is one of the names.
fn check_choice<T: FromStr + Copy + PartialEq + std::fmt::Debug>(raw: &str, all: &[T], name: fn(T) -> &'static str) {
    match raw.parse::<T>() {
        Ok(value) => assert_eq!(name(value), raw, "{raw:?} parsed as {value:?}"),
        Err(_) => assert!(all.iter().all(|v| name(*v) != raw), "{raw:?} refused but is a name"),
    }
}

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    let raw: &str = &text;

    if let Some(email) = round_trip!(Email, raw) {
        let s = email.as_ref();
        assert!(s.len() <= 254, "e-mail over 254 bytes: {s:?}");
        assert!(!s.chars().any(|c| c.is_control() || c.is_whitespace()), "e-mail with a space or control: {s:?}");
        assert_eq!(s.to_lowercase(), s, "e-mail not lower-cased: {s:?}");
        let (local, domain) = s.rsplit_once('@').expect("an accepted address has an @");
        assert_eq!(email.local_part(), local);
        assert!(!local.is_empty() && domain.contains('.'), "e-mail of a wrong shape: {s:?}");
    }

    if let Some(name) = round_trip!(Username, raw) {
        let s = name.as_ref();
        assert!((3..=50).contains(&s.len()) && s.is_ascii(), "username of a wrong length or charset: {s:?}");
        assert!(s.starts_with(|c: char| c.is_ascii_alphanumeric()), "username starts badly: {s:?}");
        assert_eq!(name.normalized(), s.to_ascii_lowercase());
    }

    if let Some(name) = round_trip!(FullName, raw) {
        check_bounded(name.as_ref(), 100, false);
    }
    if let Some(name) = round_trip!(ProjectName, raw) {
        check_bounded(name.as_ref(), 100, false);
        assert_eq!(name.normalized(), name.as_ref().to_lowercase());
    }
    if let Some(description) = round_trip!(ProjectDescription, raw) {
        check_bounded(description.as_ref(), 2000, true);
    }
    if let Some(name) = round_trip!(ApiKeyName, raw) {
        check_bounded(name.as_ref(), 100, false);
    }

    check_choice(raw, &Role::ALL, Role::as_str);
    check_choice(raw, &ProjectRole::ALL, ProjectRole::as_str);
    check_choice(raw, &ProjectStatus::ALL, ProjectStatus::as_str);
    check_choice(raw, &ApiKeyScope::ALL, ApiKeyScope::as_str);
    if let Some(purpose) = TokenPurpose::parse(raw) {
        assert_eq!(purpose.as_str(), raw);
    }

    // Scopes as a comma-separated list: a non-empty set of known names whose names parse back to it.
    match ApiKeyScopes::parse(raw.split(',')) {
        Ok(scopes) => {
            let names = scopes.names();
            assert!(!names.is_empty());
            assert_eq!(ApiKeyScopes::parse(names.iter().map(String::as_str)).as_ref(), Ok(&scopes));
            assert!(raw.split(',').all(|n| names.iter().any(|m| m == n)), "{raw:?} read as {names:?}");
        }
        Err(ScopeError::Unknown) => assert!(raw.split(',').any(|n| n.parse::<ApiKeyScope>().is_err())),
        Err(ScopeError::Empty) => unreachable!("split always yields one name"),
    }

    // An expiry: after `now`, and its RFC 3339 form reads back to the same instant.
    let now: DateTime<Utc> = Utc.with_ymd_and_hms(2026, 1, 1, 0, 0, 0).single().expect("a valid date");
    if let Ok(at) = parse_expiry(raw, now) {
        assert!(at > now);
        assert_eq!(parse_expiry(&at.to_rfc3339(), now), Ok(at));
    }

    // API keys: the visible prefix is a prefix of the key, of at most 11 characters.
    let prefix = ApiKey::visible_prefix(raw);
    assert!(raw.starts_with(&prefix) && prefix.chars().count() <= 11);
    assert_eq!(ApiKey::looks_like_key(raw), raw.len() > 3 && raw.starts_with("sk_"));
});
