//! SIP/HTTP digest authentication helpers (RFC 2617, RFC 7616, RFC 8760), sans-IO:
//! compute HA1 and the expected `response` for MD5 and SHA-256, compare in constant time.
//!
//! Only `qop=auth` and the legacy no-qop form (RFC 2069) are covered; `auth-int` (which
//! hashes the message body into HA2) is not.

use md5::Md5;
use sha2::{Digest, Sha256};
use std::fmt;
use std::str::FromStr;

/// Digest hash algorithm (the `algorithm=` parameter).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum DigestAlgorithm {
    /// `MD5` (RFC 2617; still what most SIP phones use).
    Md5,
    /// `SHA-256` (RFC 7616 / RFC 8760).
    Sha256,
}

impl DigestAlgorithm {
    /// The token used in `WWW-Authenticate` / `Authorization` headers.
    pub fn as_str(self) -> &'static str {
        match self {
            DigestAlgorithm::Md5 => "MD5",
            DigestAlgorithm::Sha256 => "SHA-256",
        }
    }

    /// Lowercase hex hash of `data`.
    pub fn hex(self, data: &str) -> String {
        match self {
            DigestAlgorithm::Md5 => hex::encode(Md5::digest(data.as_bytes())),
            DigestAlgorithm::Sha256 => hex::encode(Sha256::digest(data.as_bytes())),
        }
    }
}

impl fmt::Display for DigestAlgorithm {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Error for an unsupported `algorithm=` token (e.g. `MD5-sess`, `SHA-512-256`).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unsupported digest algorithm {0:?}; supported: MD5, SHA-256")]
pub struct UnsupportedAlgorithm(pub String);

impl FromStr for DigestAlgorithm {
    type Err = UnsupportedAlgorithm;

    /// Parses `MD5` / `SHA-256`, case-insensitively (an absent parameter means MD5).
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        if s.eq_ignore_ascii_case("MD5") {
            Ok(DigestAlgorithm::Md5)
        } else if s.eq_ignore_ascii_case("SHA-256") {
            Ok(DigestAlgorithm::Sha256)
        } else {
            Err(UnsupportedAlgorithm(s.to_string()))
        }
    }
}

/// `HA1 = H(username ":" realm ":" password)`, lowercase hex. Store this instead of the
/// password when the algorithm and realm are fixed.
pub fn ha1(alg: DigestAlgorithm, user: &str, realm: &str, password: &str) -> String {
    alg.hex(&format!("{user}:{realm}:{password}"))
}

/// The expected `response` value, lowercase hex.
///
/// `HA2 = H(method ":" uri)`; with a non-empty `qop` (normally `auth`):
/// `H(HA1 ":" nonce ":" nc ":" cnonce ":" qop ":" HA2)`; with an empty `qop` (RFC 2069
/// clients) `nc` and `cnonce` are ignored and the result is `H(HA1 ":" nonce ":" HA2)`.
#[allow(clippy::too_many_arguments)]
pub fn response(
    alg: DigestAlgorithm,
    ha1: &str,
    nonce: &str,
    nc: &str,
    cnonce: &str,
    qop: &str,
    method: &str,
    uri: &str,
) -> String {
    let ha2 = alg.hex(&format!("{method}:{uri}"));
    if qop.is_empty() {
        alg.hex(&format!("{ha1}:{nonce}:{ha2}"))
    } else {
        alg.hex(&format!("{ha1}:{nonce}:{nc}:{cnonce}:{qop}:{ha2}"))
    }
}

/// Constant-time comparison of an expected and a received `response` (ASCII hex,
/// compared case-insensitively). Lengths are not secret.
pub fn responses_match(expected: &str, received: &str) -> bool {
    if expected.len() != received.len() {
        return false;
    }
    let diff = expected
        .bytes()
        .zip(received.bytes())
        .fold(0u8, |acc, (a, b)| {
            acc | (a.to_ascii_lowercase() ^ b.to_ascii_lowercase())
        });
    diff == 0
}
