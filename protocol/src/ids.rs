//! Identifiers (protocol.md §1.2).

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Deserializer, Serialize, Serializer};
use sha2::{Digest as _, Sha256};

use crate::encoding::{base32_lower, hex, parse_hex};

/// A SHA-256 digest, written as 64 lowercase hex characters.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Sha256Digest(pub [u8; 32]);

impl Sha256Digest {
    /// SHA-256 of `bytes`.
    pub fn of(bytes: &[u8]) -> Self {
        Sha256Digest(Sha256::digest(bytes).into())
    }

    /// SHA-256 over several parts, concatenated without separators.
    pub fn of_parts(parts: &[&[u8]]) -> Self {
        let mut h = Sha256::new();
        for p in parts {
            h.update(p);
        }
        Sha256Digest(h.finalize().into())
    }

    /// The lowercase hex form.
    pub fn to_hex(&self) -> String {
        hex(&self.0)
    }
}

impl fmt::Display for Sha256Digest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.to_hex())
    }
}

impl fmt::Debug for Sha256Digest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Sha256Digest({})", self.to_hex())
    }
}

/// A string that is not a valid identifier of the expected kind.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid {kind} {text:?}: {expected}")]
pub struct IdError {
    pub kind: &'static str,
    pub text: String,
    pub expected: &'static str,
}

impl FromStr for Sha256Digest {
    type Err = IdError;
    fn from_str(s: &str) -> Result<Self, IdError> {
        parse_hex::<32>(s).map(Sha256Digest).ok_or_else(|| IdError {
            kind: "SHA-256 digest",
            text: s.to_owned(),
            expected: "64 lowercase hex characters",
        })
    }
}

impl Serialize for Sha256Digest {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.to_hex())
    }
}

impl<'de> Deserialize<'de> for Sha256Digest {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let text = String::deserialize(d)?;
        text.parse().map_err(serde::de::Error::custom)
    }
}

macro_rules! digest_id {
    ($(#[$doc:meta])* $name:ident, $kind:literal) => {
        $(#[$doc])*
        #[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
        #[serde(transparent)]
        pub struct $name(pub Sha256Digest);

        impl $name {
            /// The lowercase hex form.
            pub fn to_hex(&self) -> String {
                self.0.to_hex()
            }

            /// The hex form in groups of four, for reading aloud (e.g. a circle id confirmed
            /// by phone).
            pub fn grouped(&self) -> String {
                let hex = self.to_hex();
                let groups: Vec<&str> = hex
                    .as_bytes()
                    .chunks(4)
                    .map(|c| std::str::from_utf8(c).unwrap_or(""))
                    .collect();
                groups.join(" ")
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(&self.0.to_hex())
            }
        }

        impl fmt::Debug for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                write!(f, concat!(stringify!($name), "({})"), self.0.to_hex())
            }
        }

        impl FromStr for $name {
            type Err = IdError;
            fn from_str(s: &str) -> Result<Self, IdError> {
                parse_hex::<32>(s).map(|b| $name(Sha256Digest(b))).ok_or_else(|| IdError {
                    kind: $kind,
                    text: s.to_owned(),
                    expected: "64 lowercase hex characters",
                })
            }
        }
    };
}

digest_id!(
    /// Names one exact signed object: SHA-256 of its PAE bytes (protocol.md §1.2).
    EnvelopeId,
    "envelope id"
);
digest_id!(
    /// DSSE `keyid`: SHA-256 of the 32-byte Ed25519 public key (protocol.md §1.2).
    KeyId,
    "key id"
);

/// The stable identifier of a member company: `db1` followed by the lowercase unpadded base32 of
/// the first 20 bytes of SHA-256 of the signing key the identity was created with
/// (protocol.md §1.2). It never changes when keys rotate.
#[derive(Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct MemberId(String);

/// Length of a member id: `db1` plus 32 base32 characters.
pub const MEMBER_ID_LEN: usize = 35;

impl MemberId {
    /// Derives the member id from the first signing key of an identity.
    pub fn from_first_key(public_key: &[u8; 32]) -> Self {
        let digest = Sha256::digest(public_key);
        MemberId(format!("db1{}", base32_lower(&digest[..20])))
    }

    /// The id as written in signed payloads.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The id grouped in fours after the prefix, for reading aloud: `db1 abcd efgh …`.
    pub fn grouped(&self) -> String {
        let body = &self.0[3..];
        let groups: Vec<&str> = body
            .as_bytes()
            .chunks(4)
            .map(|c| std::str::from_utf8(c).unwrap_or(""))
            .collect();
        format!("db1 {}", groups.join(" "))
    }
}

impl fmt::Display for MemberId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl fmt::Debug for MemberId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "MemberId({})", self.0)
    }
}

impl FromStr for MemberId {
    type Err = IdError;
    fn from_str(s: &str) -> Result<Self, IdError> {
        let ok = s.len() == MEMBER_ID_LEN
            && s.starts_with("db1")
            && s[3..].bytes().all(|c| matches!(c, b'a'..=b'z' | b'2'..=b'7'))
            // 160 bits in 32 base32 characters leave no spare bits, so every such string is the
            // encoding of exactly one 20-byte value.
            ;
        if ok {
            Ok(MemberId(s.to_owned()))
        } else {
            Err(IdError {
                kind: "member id",
                text: s.to_owned(),
                expected: "`db1` followed by 32 characters of a-z and 2-7",
            })
        }
    }
}

impl Serialize for MemberId {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.0)
    }
}

impl<'de> Deserialize<'de> for MemberId {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let text = String::deserialize(d)?;
        text.parse().map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn member_id_shape_and_grouping() {
        let id = MemberId::from_first_key(&[7u8; 32]);
        assert_eq!(id.as_str().len(), MEMBER_ID_LEN);
        assert!(id.as_str().starts_with("db1"));
        assert_eq!(id.as_str().parse::<MemberId>().unwrap(), id);
        assert_eq!(id.grouped().split(' ').count(), 9);
        assert!("db1ABC".parse::<MemberId>().is_err());
        assert!(
            format!("db1{}", "a".repeat(31))
                .parse::<MemberId>()
                .is_err()
        );
    }

    #[test]
    fn digest_ids_parse_lowercase_hex_only() {
        let d = Sha256Digest::of(b"abc");
        assert_eq!(
            d.to_hex(),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
        assert_eq!(d.to_hex().parse::<Sha256Digest>().unwrap(), d);
        assert!(d.to_hex().to_uppercase().parse::<EnvelopeId>().is_err());
    }
}
