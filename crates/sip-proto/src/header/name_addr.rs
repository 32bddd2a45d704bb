//! `NameAddr` (`"Display" <uri>;params` or `uri;params`) and the From and To headers.

use std::fmt;

use crate::error::{ParseError, ParseErrorKind};
use crate::headers::Headers;
use crate::lex::{quote, trim_lws, unquote, Cursor};
use crate::params::Params;
use crate::uri::{parse_uri, Uri};

/// A display name, URI and header parameters (From, To, Contact, Route, …).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NameAddr {
    /// The display name, unquoted (quoted-pairs resolved); token display names have
    /// their words joined by one space.
    pub display_name: Option<String>,
    /// The URI.
    pub uri: Uri,
    /// Header parameters (`tag`, `expires`, …), raw, in order.
    pub params: Params,
}

impl NameAddr {
    /// A bare URI with no display name or parameters.
    pub fn new(uri: Uri) -> NameAddr {
        NameAddr {
            display_name: None,
            uri,
            params: Params::new(),
        }
    }

    /// The `tag` parameter.
    pub fn tag(&self) -> Option<&str> {
        self.params.get("tag")
    }

    /// Parses a name-addr / addr-spec with parameters.
    pub fn parse(text: &str) -> Result<NameAddr, ParseError> {
        parse_name_addr(text).map_err(|d| ParseErrorKind::header("name-addr", d).into())
    }
}

impl fmt::Display for NameAddr {
    /// Always the `<…>` form; the display name is always quoted.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if let Some(d) = &self.display_name {
            write!(f, "{} ", quote(d))?;
        }
        write!(f, "<{}>{}", self.uri, self.params)
    }
}

/// Parses `[display-name] <URI> *(;param)` or `URI *(;param)` (in the second form the URI
/// ends at the first `;` and may not contain `?` or `,`, RFC 3261 §20).
pub(crate) fn parse_name_addr(text: &str) -> Result<NameAddr, &'static str> {
    let mut c = Cursor::new(text);
    c.skip_lws();
    let display_name = match c.peek() {
        Some(b'"') => {
            let raw = c.quoted_raw()?;
            c.skip_lws();
            if c.peek() != Some(b'<') {
                return Err("display name not followed by '<'");
            }
            Some(unquote(raw))
        }
        Some(b'<') => None,
        _ => token_display_name(&mut c),
    };
    let uri = if c.eat(b'<') {
        let inner = c.take_while(|b| b != b'>');
        if !c.eat(b'>') {
            return Err("missing '>'");
        }
        parse_uri(inner)?
    } else {
        let spec = trim_lws(c.take_while(|b| b != b';'));
        if spec.contains(['<', '"']) {
            return Err("display name is neither a quoted string nor tokens");
        }
        if spec.contains(['?', ',']) {
            return Err("a URI with '?' or ',' must be enclosed in '<>'");
        }
        parse_uri(spec)?
    };
    let params = Params::parse_header_params(&mut c)?;
    Ok(NameAddr {
        display_name,
        uri,
        params,
    })
}

/// `*(token LWS)` followed by `<`; leaves the cursor untouched and returns `None` when
/// the value is not of that form (then it is an addr-spec).
fn token_display_name(c: &mut Cursor<'_>) -> Option<String> {
    let save = c.pos();
    let mut words = Vec::new();
    while let Some(t) = c.token() {
        words.push(t);
        c.skip_lws();
    }
    if !words.is_empty() && c.peek() == Some(b'<') {
        Some(words.join(" "))
    } else {
        c.set_pos(save);
        None
    }
}

impl Headers {
    /// The From header (exactly one).
    pub fn from(&self) -> Result<NameAddr, ParseError> {
        let v = self.required("From")?;
        parse_name_addr(v).map_err(|d| ParseErrorKind::header("From", d).into())
    }

    /// The To header (exactly one).
    pub fn to(&self) -> Result<NameAddr, ParseError> {
        let v = self.required("To")?;
        parse_name_addr(v).map_err(|d| ParseErrorKind::header("To", d).into())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn na(t: &str) -> NameAddr {
        parse_name_addr(t).unwrap_or_else(|e| panic!("{t}: {e}"))
    }

    #[test]
    fn forms() {
        let a = na(r#""J Rosenberg \\\""       <sip:jdrosen@example.com> ; tag = 98asjd8"#);
        assert_eq!(a.display_name.as_deref(), Some("J Rosenberg \\\""));
        assert_eq!(a.tag(), Some("98asjd8"));
        let b = na("caller<sip:caller@example.com>;tag=323");
        assert_eq!(b.display_name.as_deref(), Some("caller"));
        let c = na("sip:vivekg@chair-dnrc.example.com ;   tag    = 1918181833n");
        assert_eq!(c.tag(), Some("1918181833n"));
        assert_eq!(c.display_name, None);
        let d = na("A. Bell <sip:a.g.bell@example.com>;tag=qweoiqpe");
        assert_eq!(d.display_name.as_deref(), Some("A. Bell"));
        let e = na("sip:+19725552222@gw1.example.net;unknownparam");
        assert!(e.params.contains("unknownparam"));
        assert!(e.uri.as_sip().unwrap().params.is_empty());
        let f = na("<sip:+19725552222@gw1.example.net;unknownparam>");
        assert!(f.params.is_empty());
        for x in [a, b, c, d, e, f] {
            assert_eq!(na(&x.to_string()), x);
        }
    }

    #[test]
    fn torture_rejects() {
        for t in [
            "\"Mr. J. User <sip:j.user@example.com>",
            "\"Watson, Thomas\" < sip:t.watson@example.org >",
            "Bell, Alexander <sip:a.g.bell@example.com>;tag=43",
            "sip:user@example.com?Route=%3Csip:sip.example.com%3E",
            "\"Joe\" <sip:joe@example.org>;;;;",
            "\"x\" sip:a@b",
            "<sip:a@b",
            "",
        ] {
            assert!(parse_name_addr(t).is_err(), "{t:?}");
        }
    }

    #[test]
    fn control_chars_in_display_name_round_trip() {
        let a = na("\"BEL:\\\x07 NUL:\\\0 DEL:\\\x7f\" <sip:x@example.com>");
        assert_eq!(a.display_name.as_deref(), Some("BEL:\x07 NUL:\0 DEL:\x7f"));
        assert_eq!(na(&a.to_string()), a);
    }
}
