//! The CSeq header (RFC 3261 §20.16): `1*DIGIT LWS Method`, the number below 2**32.

use std::fmt;

use crate::error::{ParseError, ParseErrorKind};
use crate::headers::Headers;
use crate::lex::{is_token, trim_lws};
use crate::method::Method;

/// A CSeq value.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct CSeq {
    /// Sequence number.
    pub seq: u32,
    /// Method.
    pub method: Method,
}

impl fmt::Display for CSeq {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} {}", self.seq, self.method)
    }
}

impl CSeq {
    /// Parses a CSeq value.
    pub fn parse(text: &str) -> Result<CSeq, ParseError> {
        parse_cseq(text).map_err(|d| ParseErrorKind::header("CSeq", d).into())
    }
}

fn parse_cseq(text: &str) -> Result<CSeq, &'static str> {
    let text = trim_lws(text);
    let split = text.find([' ', '\t']).ok_or("missing method")?;
    let (num, method) = (
        text.get(..split).unwrap_or(""),
        trim_lws(text.get(split..).unwrap_or("")),
    );
    if num.is_empty() || !num.bytes().all(|b| b.is_ascii_digit()) {
        return Err("sequence number is not a number");
    }
    let seq = num
        .parse::<u32>()
        .map_err(|_| "sequence number above 2**32-1")?;
    if !is_token(method) {
        return Err("method is not a token");
    }
    Ok(CSeq {
        seq,
        method: Method::from_token(method),
    })
}

impl Headers {
    /// The CSeq (exactly one, well formed).
    pub fn cseq(&self) -> Result<CSeq, ParseError> {
        CSeq::parse(self.required("CSeq")?)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses() {
        assert_eq!(
            parse_cseq("0009 INVITE"),
            Ok(CSeq {
                seq: 9,
                method: Method::Invite
            })
        );
        assert_eq!(parse_cseq("4294967295 X").map(|c| c.seq), Ok(u32::MAX));
        for bad in [
            "36893488147419103232 REGISTER",
            "4294967296 X",
            "1",
            "x INVITE",
            "1 IN VITE",
            "-1 ACK",
        ] {
            assert!(parse_cseq(bad).is_err(), "{bad}");
        }
    }
}
