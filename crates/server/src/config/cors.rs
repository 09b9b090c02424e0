//! The `[cors]` section: origins allowed cross-origin besides the app's own (`public_url`).

use serde::{Deserialize, Serialize};

use super::{ConfigError, string_or_list};

#[derive(Debug, Clone, Serialize, Deserialize, Default)]
#[serde(default)]
#[allow(missing_docs)]
pub struct CorsSettings {
    #[serde(deserialize_with = "string_or_list")]
    pub origins: Vec<String>,
}

impl CorsSettings {
    /// Checks that every origin is one: a scheme and a host, no path, no trailing slash.
    ///
    /// # Errors
    /// [`ConfigError`] for `cors.origins`, naming the first bad origin.
    pub fn validate(&self) -> Result<(), ConfigError> {
        for origin in &self.origins {
            if !(origin.starts_with("http://") || origin.starts_with("https://"))
                || origin.trim_end_matches('/') != origin
            {
                return Err(ConfigError::new(
                    "cors.origins",
                    format!("{origin:?} is not an origin such as https://app.example.com"),
                ));
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn origins_need_a_scheme_and_no_trailing_slash() {
        let cors = |origin: &str| CorsSettings { origins: vec!["https://a.example.com".into(), origin.into()] };
        cors("http://localhost:3000").validate().unwrap();
        for bad in ["app.example.com", "https://app.example.com/"] {
            let err = cors(bad).validate().unwrap_err();
            assert_eq!(err.key, "cors.origins");
            assert!(err.reason.contains(bad), "{err}");
        }
    }
}
