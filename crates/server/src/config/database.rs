//! The `[database]` section: where the data lives (the embedded SQLite file by default, or
//! PostgreSQL), the pool size and whether `serve` migrates.

use std::path::Path;

use serde::{Deserialize, Serialize};

use super::ConfigError;

#[derive(Debug, Clone, Serialize, Deserialize, Default)]
#[serde(default)]
#[allow(missing_docs)]
pub struct DatabaseSettings {
    /// `sqlite://…` or `postgres://…`; default `sqlite://<data dir>/forge.db`.
    pub url: Option<String>,
    pub max_connections: Option<u32>,
    /// Apply pending migrations when `serve` starts. Default: on for SQLite, off for PostgreSQL
    /// (run `forge migrate up` as a release step instead).
    pub migrate_on_start: Option<bool>,
}

impl DatabaseSettings {
    /// The URL in force: the configured one, or the embedded database in `data_dir`.
    #[must_use]
    pub fn url_in(&self, data_dir: &Path) -> String {
        self.url.clone().unwrap_or_else(|| format!("sqlite://{}", data_dir.join("forge.db").display()))
    }

    /// Checks every value, the URL as it is in force with `data_dir`.
    ///
    /// # Errors
    /// The first [`ConfigError`] found, naming its `database.*` key.
    pub fn validate(&self, data_dir: &Path) -> Result<(), ConfigError> {
        let url = self.url_in(data_dir);
        if !(url.starts_with("sqlite:") || url.starts_with("postgres://") || url.starts_with("postgresql://")) {
            return Err(ConfigError::new("database.url", "must start with sqlite:, postgres:// or postgresql://"));
        }
        if self.max_connections == Some(0) {
            return Err(ConfigError::new("database.max_connections", "must be at least 1"));
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_url_defaults_to_the_embedded_database_and_is_checked() {
        let data_dir = Path::new("./data");
        let mut database = DatabaseSettings::default();
        assert_eq!(database.url_in(data_dir), "sqlite://./data/forge.db");
        database.validate(data_dir).unwrap();
        database.url = Some("mysql://db.example.com/forge".into());
        assert_eq!(database.validate(data_dir).unwrap_err().key, "database.url");
        database.url = Some("postgresql://db.example.com/forge".into());
        database.max_connections = Some(0);
        assert_eq!(database.validate(data_dir).unwrap_err().key, "database.max_connections");
    }
}
