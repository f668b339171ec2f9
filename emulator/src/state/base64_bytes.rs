//! Serde helper storing bytes as a base64 string (file contents in the
//! `--state` file).

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use bytes::Bytes;
use serde::{Deserialize, Deserializer, Serializer, de::Error as _};

/// Bytes as base64 text.
pub fn serialize<S: Serializer>(b: &Bytes, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_str(&STANDARD.encode(b))
}

/// Base64 text back to bytes.
pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Bytes, D::Error> {
    let text = String::deserialize(d)?;
    STANDARD
        .decode(text)
        .map(Bytes::from)
        .map_err(D::Error::custom)
}
