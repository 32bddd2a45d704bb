//! The Content-Type header (RFC 3261 §20.15): `type/subtype *(;param)`.

use std::fmt;

use crate::error::{ParseError, ParseErrorKind};
use crate::headers::Headers;
use crate::lex::Cursor;
use crate::params::Params;

/// A media type.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MediaType {
    /// Type (`application`, `multipart`), as received.
    pub mtype: String,
    /// Subtype (`sdp`, `mixed`), as received.
    pub subtype: String,
    /// Parameters (`boundary`, `charset`), raw.
    pub params: Params,
}

impl MediaType {
    /// Whether this is `type/subtype`, case-insensitively.
    pub fn is(&self, mtype: &str, subtype: &str) -> bool {
        self.mtype.eq_ignore_ascii_case(mtype) && self.subtype.eq_ignore_ascii_case(subtype)
    }

    /// The `boundary` parameter of a multipart type, unquoted.
    pub fn boundary(&self) -> Option<String> {
        self.params.get_unquoted("boundary")
    }

    /// Parses a media type.
    pub fn parse(v: &str) -> Result<MediaType, ParseError> {
        parse_media_type(v).map_err(|d| ParseErrorKind::header("Content-Type", d).into())
    }
}

impl fmt::Display for MediaType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}{}", self.mtype, self.subtype, self.params)
    }
}

fn parse_media_type(v: &str) -> Result<MediaType, &'static str> {
    let mut c = Cursor::new(v);
    c.skip_lws();
    let mtype = c.token().ok_or("missing media type")?;
    if !c.eat_sep(b'/') {
        return Err("missing '/'");
    }
    let subtype = c.token().ok_or("missing media subtype")?;
    let params = Params::parse_header_params(&mut c)?;
    Ok(MediaType {
        mtype: mtype.to_string(),
        subtype: subtype.to_string(),
        params,
    })
}

impl Headers {
    /// Content-Type, if present.
    pub fn content_type(&self) -> Result<Option<MediaType>, ParseError> {
        self.single("Content-Type")?
            .map(MediaType::parse)
            .transpose()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn multipart() {
        let m = parse_media_type("multipart/mixed; boundary=uniqueBoundary").unwrap();
        assert!(m.is("Multipart", "MIXED"));
        assert_eq!(m.boundary().as_deref(), Some("uniqueBoundary"));
        assert_eq!(m.to_string(), "multipart/mixed;boundary=uniqueBoundary");
        assert!(parse_media_type("multipart/mixed;boundary=7a9cbec02ceef655").is_ok());
        assert!(parse_media_type("application").is_err());
        assert!(parse_media_type("text/plain;").is_err());
    }
}
