//! The password policy with the contract's defaults, from any text: the part up to the first NUL
//! is the candidate, the next NUL-separated pieces (at most three) the account's personal details
//! (username, e-mail local part). Never a panic; an accepted password has 8 to 128 characters,
//! upper and lower case, a digit and a symbol, and contains no personal detail of 3 characters or
//! more; a refusal for length is right about the length.
//!
//! A target of its own because the zxcvbn estimate makes it far slower than the other parsers.

#![no_main]

use forge_domain::users::{PasswordError, PasswordPolicy};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    let mut pieces = text.split('\0');
    let candidate = pieces.next().unwrap_or_default();
    let personal: Vec<&str> = pieces.take(3).collect();
    let chars = candidate.chars().count();
    match PasswordPolicy::default().check(candidate, &personal) {
        Ok(()) => {
            assert!((8..=128).contains(&chars), "accepted a password of {chars} characters");
            assert!(candidate.chars().any(char::is_uppercase), "accepted without upper case");
            assert!(candidate.chars().any(char::is_lowercase), "accepted without lower case");
            assert!(candidate.chars().any(|c| c.is_ascii_digit()), "accepted without a digit");
            assert!(candidate.chars().any(|c| !c.is_alphanumeric()), "accepted without a symbol");
            let lowered = candidate.to_lowercase();
            for p in &personal {
                let p = p.trim().to_lowercase();
                assert!(p.chars().count() < 3 || !lowered.contains(&p), "accepted with the personal detail {p:?}");
            }
        }
        Err(PasswordError::TooShort(min)) => assert!(chars < min, "{chars} characters refused as too short"),
        Err(PasswordError::TooLong(max)) => assert!(chars > max, "{chars} characters refused as too long"),
        Err(_) => assert!((8..=128).contains(&chars), "{chars} characters refused for another rule first"),
    }
});
