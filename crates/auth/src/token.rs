//! Admin/API bearer tokens: `sbt_` + base64url of 32 random bytes. Only the SHA-256 hash of a
//! token is ever stored; the token itself is shown once at creation.

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use rand::rngs::OsRng;
use rand::RngCore;
use sha2::{Digest, Sha256};

/// Prefix of every token, so leaked tokens are recognisable by secret scanners.
pub const PREFIX: &str = "sbt_";
/// Length of a token: prefix + 43 base64url characters.
pub const TOKEN_LEN: usize = 4 + 43;

/// A new random token (256 bits of entropy).
pub fn generate() -> String {
    let mut bytes = [0u8; 32];
    OsRng.fill_bytes(&mut bytes);
    format!("{PREFIX}{}", URL_SAFE_NO_PAD.encode(bytes))
}

/// The value to store and look tokens up by: lowercase hex SHA-256 of the whole token.
pub fn hash(token: &str) -> String {
    hex::encode(Sha256::digest(token.as_bytes()))
}

/// Whether `s` has the exact shape of a token made by [`generate`] (prefix, length and a
/// canonical base64url body of 32 bytes). Cheap pre-check before a database lookup.
pub fn looks_like_token(s: &str) -> bool {
    let Some(body) = s.strip_prefix(PREFIX) else {
        return false;
    };
    s.len() == TOKEN_LEN
        && URL_SAFE_NO_PAD
            .decode(body)
            .is_ok_and(|bytes| bytes.len() == 32)
}
