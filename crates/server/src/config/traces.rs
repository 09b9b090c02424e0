//! The `[tracing]` section: Forge's own settings for OpenTelemetry traces. Each is used only when
//! its standard `OTEL_*` variable is not set, so an operator's usual variables always win.
//!
//! ```toml
//! [tracing]
//! otlp_endpoint = "http://collector:4317"  # turns export on (as OTEL_EXPORTER_OTLP_ENDPOINT)
//! otlp_protocol = "grpc"                   # or "http/protobuf", the default (OTEL_EXPORTER_OTLP_PROTOCOL)
//! service_name = "forge"                   # OTEL_SERVICE_NAME
//! sample_ratio = 0.1                       # of new traces; a sampled caller's trace is always followed
//! ```

use serde::{Deserialize, Serialize};

use super::ConfigError;

#[derive(Debug, Clone, Serialize, Deserialize, Default)]
#[serde(default)]
#[allow(missing_docs)]
pub struct TracingSettings {
    /// The collector: `http://host:4317` for gRPC, `http://host:4318` for HTTP.
    pub otlp_endpoint: Option<String>,
    /// `grpc` or `http/protobuf`.
    pub otlp_protocol: Option<String>,
    /// The `service.name` of the spans.
    pub service_name: Option<String>,
    /// The share of new traces sampled, 0 to 1 (`parentbased_traceidratio`).
    pub sample_ratio: Option<f64>,
}

impl TracingSettings {
    /// Checks the protocol, the endpoint and the ratio.
    ///
    /// # Errors
    /// [`ConfigError`] naming the `tracing.*` key.
    pub fn validate(&self) -> Result<(), ConfigError> {
        if let Some(protocol) = &self.otlp_protocol
            && !matches!(protocol.as_str(), "grpc" | "http/protobuf")
        {
            return Err(ConfigError::new("tracing.otlp_protocol", "must be \"grpc\" or \"http/protobuf\""));
        }
        if let Some(endpoint) = &self.otlp_endpoint
            && !(endpoint.starts_with("http://") || endpoint.starts_with("https://"))
        {
            return Err(ConfigError::new("tracing.otlp_endpoint", "must be an http:// or https:// URL"));
        }
        if let Some(ratio) = self.sample_ratio
            && !(0.0..=1.0).contains(&ratio)
        {
            return Err(ConfigError::new("tracing.sample_ratio", "must be between 0 and 1"));
        }
        Ok(())
    }

    /// The value of a standard variable this section stands in for, if it sets it.
    #[must_use]
    pub fn stand_in(&self, variable: &str) -> Option<String> {
        match variable {
            "OTEL_EXPORTER_OTLP_ENDPOINT" => self.otlp_endpoint.clone(),
            "OTEL_EXPORTER_OTLP_PROTOCOL" => self.otlp_protocol.clone(),
            "OTEL_SERVICE_NAME" => self.service_name.clone(),
            "OTEL_TRACES_SAMPLER" => self.sample_ratio.map(|_| "parentbased_traceidratio".to_owned()),
            "OTEL_TRACES_SAMPLER_ARG" => self.sample_ratio.map(|r| r.to_string()),
            _ => None,
        }
    }
}

#[cfg(test)]
#[allow(clippy::result_large_err)]
mod tests {
    use figment::Jail;

    use super::*;
    use crate::config::Settings;

    #[test]
    fn the_section_is_read_and_stands_in_for_the_standard_variables() {
        Jail::expect_with(|jail| {
            jail.create_file(
                "forge.toml",
                "[tracing]\notlp_endpoint = \"http://collector:4317\"\notlp_protocol = \"grpc\"\nsample_ratio = 0.25\n",
            )?;
            jail.set_env("FORGE_TRACING__SERVICE_NAME", "forge-eu");
            let settings = Settings::load(None).unwrap();
            settings.validate().unwrap();
            let tracing = &settings.tracing;
            assert_eq!(tracing.stand_in("OTEL_EXPORTER_OTLP_ENDPOINT").as_deref(), Some("http://collector:4317"));
            assert_eq!(tracing.stand_in("OTEL_EXPORTER_OTLP_PROTOCOL").as_deref(), Some("grpc"));
            assert_eq!(tracing.stand_in("OTEL_SERVICE_NAME").as_deref(), Some("forge-eu"));
            assert_eq!(tracing.stand_in("OTEL_TRACES_SAMPLER").as_deref(), Some("parentbased_traceidratio"));
            assert_eq!(tracing.stand_in("OTEL_TRACES_SAMPLER_ARG").as_deref(), Some("0.25"));
            Ok(())
        });
    }

    #[test]
    fn bad_values_are_refused_naming_their_key() {
        for (key, spoil) in [
            ("tracing.otlp_protocol", TracingSettings { otlp_protocol: Some("udp".into()), ..Default::default() }),
            (
                "tracing.otlp_endpoint",
                TracingSettings { otlp_endpoint: Some("collector:4317".into()), ..Default::default() },
            ),
            ("tracing.sample_ratio", TracingSettings { sample_ratio: Some(1.5), ..Default::default() }),
        ] {
            assert_eq!(spoil.validate().unwrap_err().key, key);
        }
    }
}
