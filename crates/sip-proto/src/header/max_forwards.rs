//! The Max-Forwards header (RFC 3261 §20.22): an integer 0–255.

use crate::error::{ParseError, ParseErrorKind};
use crate::headers::Headers;

impl Headers {
    /// Max-Forwards, if present (leading zeros allowed; above 255 is an error).
    pub fn max_forwards(&self) -> Result<Option<u8>, ParseError> {
        let Some(v) = self.single("Max-Forwards")? else {
            return Ok(None);
        };
        let bad = |d| ParseError::from(ParseErrorKind::header("Max-Forwards", d));
        if v.is_empty() || !v.bytes().all(|b| b.is_ascii_digit()) {
            return Err(bad("not a number"));
        }
        let n = v.trim_start_matches('0');
        let n: u32 = if n.is_empty() {
            0
        } else {
            n.parse().map_err(|_| bad("above 255"))?
        };
        u8::try_from(n).map(Some).map_err(|_| bad("above 255"))
    }
}

#[cfg(test)]
mod tests {
    use crate::headers::Headers;

    fn mf(v: &str) -> Result<Option<u8>, crate::ParseError> {
        let mut h = Headers::new();
        h.push("Max-Forwards", v);
        h.max_forwards()
    }

    #[test]
    fn values() {
        assert_eq!(mf("0068").unwrap(), Some(68));
        assert_eq!(mf("0").unwrap(), Some(0));
        assert_eq!(mf("255").unwrap(), Some(255));
        assert!(mf("300").is_err());
        assert!(mf("99999999999999999999999").is_err());
        assert!(mf("-1").is_err());
        assert_eq!(Headers::new().max_forwards().unwrap(), None);
    }
}
