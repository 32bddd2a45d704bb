//! The Expires and Min-Expires headers (RFC 3261 §20.19, §20.23): delta-seconds below
//! 2**32.

use crate::error::{ParseError, ParseErrorKind};
use crate::headers::Headers;
use crate::lex::trim_lws;

/// Parses `1*DIGIT` into a u32 (RFC 3261 limits delta-seconds to 2**32-1).
pub(crate) fn parse_delta_seconds(v: &str) -> Result<u32, &'static str> {
    let v = trim_lws(v);
    if v.is_empty() || !v.bytes().all(|b| b.is_ascii_digit()) {
        return Err("not a number of seconds");
    }
    let n = v.trim_start_matches('0');
    if n.is_empty() {
        return Ok(0);
    }
    n.parse().map_err(|_| "value above 2**32-1")
}

impl Headers {
    /// Expires, if present.
    pub fn expires(&self) -> Result<Option<u32>, ParseError> {
        self.delta_seconds("Expires")
    }

    /// Min-Expires, if present.
    pub fn min_expires(&self) -> Result<Option<u32>, ParseError> {
        self.delta_seconds("Min-Expires")
    }

    fn delta_seconds(&self, name: &'static str) -> Result<Option<u32>, ParseError> {
        match self.single(name)? {
            None => Ok(None),
            Some(v) => parse_delta_seconds(v)
                .map(Some)
                .map_err(|d| ParseErrorKind::header(name, d).into()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn values() {
        assert_eq!(parse_delta_seconds("3600"), Ok(3600));
        assert_eq!(parse_delta_seconds("000120"), Ok(120));
        assert_eq!(parse_delta_seconds("4294967295"), Ok(u32::MAX));
        assert!(parse_delta_seconds("4294967296").is_err());
        assert!(parse_delta_seconds(&"1".repeat(100)).is_err());
        assert!(parse_delta_seconds("").is_err());
        assert!(parse_delta_seconds("1h").is_err());
    }
}
