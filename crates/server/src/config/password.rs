//! The `[password]` section: the domain's [`PasswordPolicy`] itself, read field by field under
//! its own names and with its own defaults, so the policy is declared once.
//!
//! ```toml
//! [password]
//! min_length = 8
//! max_length = 128
//! require_uppercase = true
//! require_lowercase = true
//! require_digit = true
//! require_symbol = true
//! reject_common = true
//! reject_personal_info = true
//! min_strength = 3          # zxcvbn score, 0 to 4
//! ```

use forge_domain::users::PasswordPolicy;
use serde::{Deserialize, Serialize};

use super::ConfigError;

/// How serde reads and writes a [`PasswordPolicy`] (which knows nothing of serde). The fields
/// must be the policy's own: the compiler refuses any difference.
#[derive(Serialize, Deserialize)]
#[serde(remote = "PasswordPolicy", default = "PasswordPolicy::default")]
pub(super) struct PasswordPolicyDef {
    min_length: usize,
    max_length: usize,
    require_uppercase: bool,
    require_lowercase: bool,
    require_digit: bool,
    require_symbol: bool,
    reject_common: bool,
    reject_personal_info: bool,
    min_strength: u8,
}

/// Checks every value of `policy`.
///
/// # Errors
/// The first [`ConfigError`] found, naming its `password.*` key.
pub fn validate(policy: &PasswordPolicy) -> Result<(), ConfigError> {
    if policy.min_length < 1 || policy.min_length > policy.max_length {
        return Err(ConfigError::new("password.min_length", "must be at least 1 and at most password.max_length"));
    }
    if policy.max_length > 1024 {
        return Err(ConfigError::new("password.max_length", "must be at most 1024"));
    }
    if policy.min_strength > 4 {
        return Err(ConfigError::new("password.min_strength", "must be between 0 and 4"));
    }
    Ok(())
}

#[cfg(test)]
#[allow(clippy::result_large_err)]
mod tests {
    use figment::Jail;

    use super::*;
    use crate::config::Settings;
    use crate::config::Spoiled;

    #[test]
    fn the_policy_is_read_under_its_own_names_with_the_domain_defaults() {
        Jail::expect_with(|jail| {
            assert_eq!(Settings::load(None).unwrap().password, PasswordPolicy::default());
            jail.create_file("forge.toml", "[password]\nmin_length = 12\n")?;
            jail.set_env("FORGE_PASSWORD__REQUIRE_SYMBOL", "false");
            let settings = Settings::load(None).unwrap();
            let expected = PasswordPolicy { min_length: 12, require_symbol: false, ..PasswordPolicy::default() };
            assert_eq!(settings.password, expected);
            assert_eq!(settings.auth_settings().password_policy, expected);
            Ok(())
        });
    }

    #[test]
    fn every_bad_value_is_refused_naming_its_key() {
        let cases: [Spoiled<PasswordPolicy>; 4] = [
            ("password.min_length", |p| p.min_length = 0),
            ("password.min_length", |p| p.min_length = p.max_length + 1),
            ("password.max_length", |p| (p.min_length, p.max_length) = (8, 1025)),
            ("password.min_strength", |p| p.min_strength = 5),
        ];
        for (key, spoil) in cases {
            let mut policy = PasswordPolicy::default();
            spoil(&mut policy);
            assert_eq!(validate(&policy).unwrap_err().key, key);
        }
    }
}
