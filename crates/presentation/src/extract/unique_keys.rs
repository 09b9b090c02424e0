//! A JSON value read with one rule more than `serde_json::Value`: no object may carry the same
//! key twice.
//!
//! RFC 8259 leaves duplicate keys to the parser, and parsers disagree (first wins, last wins,
//! error). A body that means one thing to a proxy or a validator in front of the server and
//! another to the server is how parser-differential attacks work, so a body with a repeated key
//! is refused with a 400 instead of being read as the last occurrence.

use std::fmt;

use serde::{
    Deserialize, Deserializer,
    de::{self, MapAccess, SeqAccess, Visitor},
};
use serde_json::{Map, Number, Value};

/// The message of the error a repeated key gives (serde_json appends the position). The key
/// itself is not repeated back: a detail never echoes the input.
pub const DUPLICATE_KEY: &str = "an object has the same key twice";

/// A JSON value in which no object repeats a key.
#[derive(Debug, Clone, PartialEq)]
pub struct UniqueKeys(pub Value);

impl<'de> Deserialize<'de> for UniqueKeys {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_any(UniqueKeysVisitor).map(UniqueKeys)
    }
}

struct UniqueKeysVisitor;

impl<'de> Visitor<'de> for UniqueKeysVisitor {
    type Value = Value;

    fn expecting(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        formatter.write_str("any JSON value")
    }

    fn visit_bool<E>(self, value: bool) -> Result<Value, E> {
        Ok(Value::Bool(value))
    }

    fn visit_i64<E>(self, value: i64) -> Result<Value, E> {
        Ok(Value::Number(value.into()))
    }

    fn visit_u64<E>(self, value: u64) -> Result<Value, E> {
        Ok(Value::Number(value.into()))
    }

    fn visit_f64<E>(self, value: f64) -> Result<Value, E> {
        // JSON has no NaN or infinity, so this is never `Null` for a parsed body.
        Ok(Number::from_f64(value).map_or(Value::Null, Value::Number))
    }

    fn visit_str<E: de::Error>(self, value: &str) -> Result<Value, E> {
        Ok(Value::String(value.to_owned()))
    }

    fn visit_string<E>(self, value: String) -> Result<Value, E> {
        Ok(Value::String(value))
    }

    fn visit_none<E>(self) -> Result<Value, E> {
        Ok(Value::Null)
    }

    fn visit_some<D: Deserializer<'de>>(self, deserializer: D) -> Result<Value, D::Error> {
        Deserialize::deserialize(deserializer).map(|UniqueKeys(value)| value)
    }

    fn visit_unit<E>(self) -> Result<Value, E> {
        Ok(Value::Null)
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Value, A::Error> {
        let mut items = Vec::with_capacity(seq.size_hint().unwrap_or(0).min(1024));
        while let Some(UniqueKeys(item)) = seq.next_element()? {
            items.push(item);
        }
        Ok(Value::Array(items))
    }

    fn visit_map<A: MapAccess<'de>>(self, mut access: A) -> Result<Value, A::Error> {
        let mut map = Map::new();
        while let Some(key) = access.next_key::<String>()? {
            if map.contains_key(&key) {
                return Err(de::Error::custom(DUPLICATE_KEY));
            }
            let UniqueKeys(value) = access.next_value()?;
            map.insert(key, value);
        }
        Ok(Value::Object(map))
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn parse(text: &str) -> Result<Value, serde_json::Error> {
        serde_json::from_str::<UniqueKeys>(text).map(|UniqueKeys(value)| value)
    }

    #[test]
    fn a_repeated_key_is_refused_at_any_depth() {
        for text in [
            r#"{"a": 1, "a": 2}"#,
            r#"{"a": 1, "b": {"c": true, "c": false}}"#,
            r#"[{"x": null}, {"y": 1, "y": 1}]"#,
            r#"{"\u0061": 1, "a": 2}"#,
        ] {
            let error = parse(text).unwrap_err();
            assert!(error.is_data(), "{text}: {error}");
            assert!(error.to_string().starts_with(DUPLICATE_KEY), "{text}: {error}");
        }
    }

    #[test]
    fn every_other_value_reads_as_serde_json_reads_it() {
        for text in [
            r#"{"a": 1, "b": [1, -2, 3.5, "x", null, true], "c": {"a": {}}, "d": 18446744073709551615}"#,
            r#"[]"#,
            r#""text""#,
            "-9223372036854775808",
            "1e300",
            "null",
            r#"{"a": {"b": 1}, "c": {"b": 2}}"#,
        ] {
            assert_eq!(parse(text).unwrap(), serde_json::from_str::<Value>(text).unwrap(), "{text}");
        }
        assert_eq!(parse(r#"{"A": 1, "a": 2}"#).unwrap(), json!({"A": 1, "a": 2}));
    }

    /// In a build where serde_json has its `raw_value` feature (sqlx turns it on for the server),
    /// `serde_json::Value` reads an object whose first key is `$serde_json::private::RawValue` as
    /// JSON text nested in a string: a body could then mean one thing to a proxy and another to
    /// the server. A body is read as plain JSON whatever serde_json's features.
    #[test]
    fn serde_json_private_raw_value_key_is_an_ordinary_key() {
        let text = r#"{"$serde_json::private::RawValue": "{\"role\": \"admin\"}"}"#;
        assert_eq!(parse(text).unwrap(), json!({"$serde_json::private::RawValue": "{\"role\": \"admin\"}"}));
    }

    #[test]
    fn syntax_errors_stay_syntax_errors() {
        for text in [r#"{"a": }"#, r#"{"a": 1"#, "[1,]"] {
            assert!(!parse(text).unwrap_err().is_data(), "{text}");
        }
    }
}
