//! Canonical JSON (protocol.md §1.3).
//!
//! Every signed payload is canonical JSON: UTF-8; object keys ASCII and sorted bytewise at every
//! level; no insignificant whitespace; integers only, within ±2^53; strings escaped as RFC 8785.
//! Producers emit it through [`to_canonical_vec`]; verifiers check the signature over the received
//! bytes first and then refuse anything that [`check_canonical`] rejects.
//!
//! `serde_json::Value` keeps objects in a `BTreeMap` (we never enable `preserve_order`), so keys
//! come out sorted by their UTF-8 bytes; with ASCII-only keys that is the bytewise order. Its string
//! escaping (`\"`, `\\`, `\b`, `\f`, `\n`, `\r`, `\t`, other controls as lowercase `\u00xx`,
//! everything else literal) is exactly RFC 8785's.

use serde::Serialize;
use serde::de::DeserializeOwned;
use serde_json::Value;

/// Largest integer magnitude allowed in canonical JSON (2^53), so that every value survives a
/// round trip through an IEEE double in other implementations.
pub const MAX_SAFE_INTEGER: u64 = 1 << 53;

/// Why a value or a byte string is not canonical JSON.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CanonicalError {
    #[error("not valid JSON: {0}")]
    Syntax(String),
    #[error("floating-point number at {0} (canonical JSON has integers only; use a string)")]
    Float(String),
    #[error("integer at {0} is outside ±2^53")]
    IntegerRange(String),
    #[error("object key {0:?} is not ASCII")]
    NonAsciiKey(String),
    #[error("bytes are valid JSON but not in canonical form (key order, whitespace or escaping)")]
    NotCanonical,
    #[error("value cannot be represented: {0}")]
    Unrepresentable(String),
}

/// Serialises `value` to canonical JSON bytes.
pub fn to_canonical_vec<T: Serialize + ?Sized>(value: &T) -> Result<Vec<u8>, CanonicalError> {
    let value =
        serde_json::to_value(value).map_err(|e| CanonicalError::Unrepresentable(e.to_string()))?;
    value_to_canonical_vec(&value)
}

/// Serialises an already-built JSON value to canonical bytes, checking its numbers and keys.
pub fn value_to_canonical_vec(value: &Value) -> Result<Vec<u8>, CanonicalError> {
    check_value(value, &mut String::from("$"))?;
    serde_json::to_vec(value).map_err(|e| CanonicalError::Unrepresentable(e.to_string()))
}

/// Checks that `bytes` are exactly the canonical encoding of the JSON they contain.
pub fn check_canonical(bytes: &[u8]) -> Result<Value, CanonicalError> {
    let value: Value =
        serde_json::from_slice(bytes).map_err(|e| CanonicalError::Syntax(e.to_string()))?;
    let again = value_to_canonical_vec(&value)?;
    // Re-encoding and comparing catches everything at once: key order, duplicate keys (the parse
    // keeps one, so the lengths differ), whitespace, escapes, and number spellings like `1e3`.
    if again != bytes {
        return Err(CanonicalError::NotCanonical);
    }
    Ok(value)
}

/// Checks canonical form, then deserialises into `T`.
pub fn from_canonical_slice<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, CanonicalError> {
    let value = check_canonical(bytes)?;
    serde_json::from_value(value).map_err(|e| CanonicalError::Syntax(e.to_string()))
}

fn check_value(value: &Value, path: &mut String) -> Result<(), CanonicalError> {
    match value {
        Value::Number(n) => {
            if let Some(i) = n.as_i64() {
                if i.unsigned_abs() > MAX_SAFE_INTEGER {
                    return Err(CanonicalError::IntegerRange(path.clone()));
                }
            } else if let Some(u) = n.as_u64() {
                if u > MAX_SAFE_INTEGER {
                    return Err(CanonicalError::IntegerRange(path.clone()));
                }
            } else {
                return Err(CanonicalError::Float(path.clone()));
            }
        }
        Value::Array(items) => {
            for (i, item) in items.iter().enumerate() {
                let len = path.len();
                path.push_str(&format!("[{i}]"));
                check_value(item, path)?;
                path.truncate(len);
            }
        }
        Value::Object(map) => {
            for (key, item) in map {
                if !key.is_ascii() {
                    return Err(CanonicalError::NonAsciiKey(key.clone()));
                }
                let len = path.len();
                path.push('.');
                path.push_str(key);
                check_value(item, path)?;
                path.truncate(len);
            }
        }
        Value::Null | Value::Bool(_) | Value::String(_) => {}
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn sorts_keys_at_every_level_without_whitespace() {
        let v = json!({"b": 1, "a": {"z": [true, null], "c": "x"}});
        assert_eq!(
            value_to_canonical_vec(&v).unwrap(),
            br#"{"a":{"c":"x","z":[true,null]},"b":1}"#
        );
    }

    #[test]
    fn escapes_as_rfc8785() {
        let v = json!({"s": "\u{1}\t\"\\/é\u{7f}"});
        assert_eq!(
            value_to_canonical_vec(&v).unwrap(),
            "{\"s\":\"\\u0001\\t\\\"\\\\/é\u{7f}\"}".as_bytes()
        );
    }

    #[test]
    fn refuses_floats_large_integers_and_non_ascii_keys() {
        assert_eq!(
            value_to_canonical_vec(&json!({"x": 1.5})),
            Err(CanonicalError::Float("$.x".into()))
        );
        assert_eq!(
            value_to_canonical_vec(&json!({"x": [1u64 << 54]})),
            Err(CanonicalError::IntegerRange("$.x[0]".into()))
        );
        assert_eq!(
            value_to_canonical_vec(&json!({"é": 1})),
            Err(CanonicalError::NonAsciiKey("é".into()))
        );
        assert!(value_to_canonical_vec(&json!({"x": -(1i64 << 53)})).is_ok());
    }

    #[test]
    fn check_refuses_every_non_canonical_spelling() {
        assert!(check_canonical(br#"{"a":1,"b":2}"#).is_ok());
        for bad in [
            &br#"{"b":2,"a":1}"#[..],
            br#"{"a": 1}"#,
            br#"{"a":1,"a":1}"#,
            br#"{"a":1e0}"#,
            br#"{"a":"\u0061"}"#,
            br#" {"a":1}"#,
            b"{\"a\":1}\n",
        ] {
            assert!(
                check_canonical(bad).is_err(),
                "{}",
                String::from_utf8_lossy(bad)
            );
        }
    }
}
