//! URIs: `sip:`/`sips:` (RFC 3261 §19.1), `tel:` (RFC 3966) and any other scheme kept as
//! an opaque absolute URI; parse, print, unescape and compare (§19.1.4).
//!
//! Escapes are kept raw (`%40` stays `%40`) so a URI prints back as it came; the
//! `*_unescaped` helpers and [`SipUri::matches`] resolve them.

use std::fmt;
use std::str::FromStr;

use crate::error::{ParseError, ParseErrorKind};
use crate::host::Host;
use crate::params::{Param, Params};

mod parse;

pub(crate) use parse::parse_uri;
pub use parse::percent_decode;

/// A URI as found in a Request-URI or a name-addr.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Uri {
    /// `sip:` or `sips:`.
    Sip(SipUri),
    /// `tel:`.
    Tel(TelUri),
    /// Any other scheme (`http:`, `urn:`, `nobodyKnowsThisScheme:` …), kept opaque.
    Other(AbsoluteUri),
}

/// A `sip:` / `sips:` URI.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SipUri {
    /// `sips:` rather than `sip:`.
    pub secure: bool,
    /// User part, raw (percent-escapes kept); see [`SipUri::user_unescaped`].
    pub user: Option<String>,
    /// Password part, raw.
    pub password: Option<String>,
    /// Host.
    pub host: Host,
    /// Port, when given.
    pub port: Option<u16>,
    /// URI parameters (`transport`, `lr`, `user`, …), raw, in order.
    pub params: Params,
    /// URI headers (`?name=value&…`), raw.
    pub headers: Vec<(String, String)>,
}

/// A `tel:` URI.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TelUri {
    /// The number as written (`+1-201-555-0123`, `1010`).
    pub number: String,
    /// Parameters (`phone-context`, …), raw.
    pub params: Params,
}

/// A URI of a scheme this crate does not interpret.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AbsoluteUri {
    /// The scheme as received.
    pub scheme: String,
    /// Everything after the first `:`.
    pub rest: String,
}

impl Uri {
    /// Parses a URI (no surrounding `<>` or white space).
    pub fn parse(text: &str) -> Result<Uri, ParseError> {
        parse_uri(text).map_err(|d| ParseErrorKind::Uri(d).into())
    }

    /// The scheme, lowercase for the known ones.
    pub fn scheme(&self) -> &str {
        match self {
            Uri::Sip(u) if u.secure => "sips",
            Uri::Sip(_) => "sip",
            Uri::Tel(_) => "tel",
            Uri::Other(o) => &o.scheme,
        }
    }

    /// The SIP URI, if this is one.
    pub fn as_sip(&self) -> Option<&SipUri> {
        match self {
            Uri::Sip(u) => Some(u),
            _ => None,
        }
    }

    /// The raw user part of a SIP URI, or the number of a tel URI.
    pub fn user(&self) -> Option<&str> {
        match self {
            Uri::Sip(u) => u.user.as_deref(),
            Uri::Tel(t) => Some(&t.number),
            Uri::Other(_) => None,
        }
    }

    /// The host of a SIP URI.
    pub fn host(&self) -> Option<&Host> {
        self.as_sip().map(|u| &u.host)
    }
}

impl FromStr for Uri {
    type Err = ParseError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Uri::parse(s)
    }
}

impl SipUri {
    /// `sip:host` with nothing else.
    pub fn new(host: Host) -> SipUri {
        SipUri {
            secure: false,
            user: None,
            password: None,
            host,
            port: None,
            params: Params::new(),
            headers: Vec::new(),
        }
    }

    /// The user part with `%HH` escapes resolved (lossy for bytes that are not UTF-8).
    pub fn user_unescaped(&self) -> Option<String> {
        self.user
            .as_deref()
            .map(|u| String::from_utf8_lossy(&percent_decode(u)).into_owned())
    }

    /// The first parameter whose unescaped name equals `name` (case-insensitive).
    pub fn param(&self, name: &str) -> Option<&Param> {
        self.params
            .iter()
            .find(|p| percent_decode(&p.name).eq_ignore_ascii_case(name.as_bytes()))
    }

    /// The `transport` parameter, unescaped and lowercased.
    pub fn transport(&self) -> Option<String> {
        let v = self.param("transport")?.value.as_deref()?;
        Some(String::from_utf8_lossy(&percent_decode(v)).to_ascii_lowercase())
    }

    /// Whether the loose-routing `lr` flag is present.
    pub fn lr(&self) -> bool {
        self.param("lr").is_some()
    }

    /// URI equality per RFC 3261 §19.1.4: escapes resolved; user and password
    /// case-sensitive; host case-insensitive; `user`, `ttl`, `method`, `maddr` and
    /// `transport` must match when either side has them; other parameters only when both
    /// have them; headers must all match.
    pub fn matches(&self, other: &SipUri) -> bool {
        let dec = |s: &Option<String>| s.as_deref().map(percent_decode);
        if self.secure != other.secure
            || dec(&self.user) != dec(&other.user)
            || dec(&self.password) != dec(&other.password)
            || !self.host.matches(&other.host)
            || self.port != other.port
        {
            return false;
        }
        let value = |p: &Param| p.value.as_deref().map(percent_decode);
        let same = |a: &Param, b: &Param| match (value(a), value(b)) {
            (Some(x), Some(y)) => x.eq_ignore_ascii_case(&y),
            (None, None) => true,
            _ => false,
        };
        for name in ["user", "ttl", "method", "maddr", "transport"] {
            match (self.param(name), other.param(name)) {
                (None, None) => {}
                (Some(a), Some(b)) if same(a, b) => {}
                _ => return false,
            }
        }
        for a in self.params.iter() {
            let name = String::from_utf8_lossy(&percent_decode(&a.name)).into_owned();
            if let Some(b) = other.param(&name) {
                if !same(a, b) {
                    return false;
                }
            }
        }
        let norm = |h: &[(String, String)]| {
            let mut v: Vec<_> = h
                .iter()
                .map(|(n, v)| (percent_decode(n).to_ascii_lowercase(), percent_decode(v)))
                .collect();
            v.sort();
            v
        };
        norm(&self.headers) == norm(&other.headers)
    }
}

impl fmt::Display for Uri {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Uri::Sip(u) => u.fmt(f),
            Uri::Tel(t) => write!(f, "tel:{}{}", t.number, t.params),
            Uri::Other(o) => write!(f, "{}:{}", o.scheme, o.rest),
        }
    }
}

impl fmt::Display for SipUri {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(if self.secure { "sips:" } else { "sip:" })?;
        if let Some(u) = &self.user {
            f.write_str(u)?;
            if let Some(p) = &self.password {
                write!(f, ":{p}")?;
            }
            f.write_str("@")?;
        }
        write!(f, "{}", self.host)?;
        if let Some(p) = self.port {
            write!(f, ":{p}")?;
        }
        write!(f, "{}", self.params)?;
        for (i, (n, v)) in self.headers.iter().enumerate() {
            write!(f, "{}{n}={v}", if i == 0 { '?' } else { '&' })?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests;
