//! The `[admin]` section: the admin `serve` creates on start when none exists, and the password
//! `forge create-admin` reads.

use secrecy::SecretString;
use serde::{Deserialize, Serialize};

use super::ConfigError;

#[derive(Debug, Clone, Serialize, Deserialize, Default)]
#[serde(default)]
#[allow(missing_docs)]
pub struct AdminBootstrap {
    pub email: Option<String>,
    pub username: Option<String>,
    #[serde(skip_serializing)]
    pub password: Option<SecretString>,
}

impl AdminBootstrap {
    /// Checks that the bootstrap admin is described completely or not at all.
    ///
    /// # Errors
    /// [`ConfigError`] for `admin`.
    pub fn validate(&self) -> Result<(), ConfigError> {
        // The password alone is how `forge create-admin` receives it; the bootstrap admin of
        // `serve` needs all three.
        if (self.email.is_some() || self.username.is_some())
            && !(self.email.is_some() && self.username.is_some() && self.password.is_some())
        {
            return Err(ConfigError::new(
                "admin",
                "FORGE_ADMIN_EMAIL, FORGE_ADMIN_USERNAME and FORGE_ADMIN_PASSWORD must be set together",
            ));
        }
        Ok(())
    }
}

#[cfg(test)]
// The tests build settings field by field.
#[allow(clippy::field_reassign_with_default)]
mod tests {
    use crate::config::Settings;

    #[test]
    fn the_admin_bootstrap_needs_all_three_values() {
        let mut s = Settings::default();
        s.admin.email = Some("root@example.com".into());
        assert_eq!(s.validate().unwrap_err().key, "admin");
        let mut s = Settings::default();
        s.admin.password = Some(super::SecretString::from("Analytical-Engine-1843!"));
        s.validate().expect("the password alone is create-admin's input");
    }
}
