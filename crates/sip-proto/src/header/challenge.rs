//! The WWW-Authenticate and Proxy-Authenticate headers: Digest challenges (RFC 3261
//! §22, RFC 8760) and Bearer challenges (RFC 8898, RFC 6750 `error=`).

use std::fmt;

use crate::error::{ParseError, ParseErrorKind};
use crate::header::auth_params::{parse_auth_params, print, split_scheme, take, token_or_quoted};
use crate::headers::Headers;
use crate::lex::quote;

/// A challenge from a 401 / 407.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Challenge {
    /// `Digest realm=…, nonce=…, …`.
    Digest(DigestChallenge),
    /// `Bearer realm=…[, error=…]`.
    Bearer(BearerChallenge),
    /// Any other scheme, kept raw.
    Other {
        /// The scheme.
        scheme: String,
        /// Everything after it.
        rest: String,
    },
}

/// A Digest challenge; quoted values are unquoted.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct DigestChallenge {
    /// `realm`.
    pub realm: String,
    /// `domain`.
    pub domain: Option<String>,
    /// `nonce`.
    pub nonce: String,
    /// `opaque`.
    pub opaque: Option<String>,
    /// `stale=true`.
    pub stale: bool,
    /// `algorithm` (`MD5`, `SHA-256`).
    pub algorithm: Option<String>,
    /// `qop` options, as the quoted list's content (`auth` or `auth,auth-int`).
    pub qop: Option<String>,
    /// Other parameters, raw values.
    pub other: Vec<(String, String)>,
}

/// A Bearer challenge (RFC 8898 §2.1; `error` per RFC 6750 §3).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct BearerChallenge {
    /// `realm`.
    pub realm: Option<String>,
    /// `scope`.
    pub scope: Option<String>,
    /// `authz_server` (the authorization server's URL).
    pub authz_server: Option<String>,
    /// `error` (`invalid_token`, `insufficient_scope`, …).
    pub error: Option<String>,
    /// `error_description`.
    pub error_description: Option<String>,
    /// Other parameters, raw values.
    pub other: Vec<(String, String)>,
}

impl Challenge {
    /// `Bearer realm="<realm>"`.
    pub fn bearer(realm: &str) -> Challenge {
        Challenge::Bearer(BearerChallenge {
            realm: Some(realm.to_string()),
            ..BearerChallenge::default()
        })
    }

    /// `Bearer realm="<realm>", error="<error>"` (e.g. `invalid_token`).
    pub fn bearer_error(realm: &str, error: &str) -> Challenge {
        Challenge::Bearer(BearerChallenge {
            realm: Some(realm.to_string()),
            error: Some(error.to_string()),
            ..BearerChallenge::default()
        })
    }

    /// `Digest realm="…", nonce="…"[, algorithm=…][, qop="…"]`.
    pub fn digest(
        realm: &str,
        nonce: &str,
        algorithm: Option<&str>,
        qop: Option<&str>,
    ) -> Challenge {
        Challenge::Digest(DigestChallenge {
            realm: realm.to_string(),
            nonce: nonce.to_string(),
            algorithm: algorithm.map(str::to_string),
            qop: qop.map(str::to_string),
            ..DigestChallenge::default()
        })
    }

    /// Parses a challenge value.
    pub fn parse(value: &str) -> Result<Challenge, ParseError> {
        parse_challenge(value).map_err(|d| ParseErrorKind::header("WWW-Authenticate", d).into())
    }
}

fn parse_challenge(value: &str) -> Result<Challenge, &'static str> {
    let (scheme, rest) = split_scheme(value)?;
    if scheme.eq_ignore_ascii_case("Digest") {
        let mut p = parse_auth_params(rest)?;
        let realm = take(&mut p, "realm").ok_or("Digest challenge without realm")?;
        let nonce = take(&mut p, "nonce").ok_or("Digest challenge without nonce")?;
        let stale = take(&mut p, "stale").is_some_and(|s| s.eq_ignore_ascii_case("true"));
        Ok(Challenge::Digest(DigestChallenge {
            realm,
            domain: take(&mut p, "domain"),
            nonce,
            opaque: take(&mut p, "opaque"),
            stale,
            algorithm: take(&mut p, "algorithm"),
            qop: take(&mut p, "qop"),
            other: p,
        }))
    } else if scheme.eq_ignore_ascii_case("Bearer") {
        let mut p = parse_auth_params(rest)?;
        Ok(Challenge::Bearer(BearerChallenge {
            realm: take(&mut p, "realm"),
            scope: take(&mut p, "scope"),
            authz_server: take(&mut p, "authz_server"),
            error: take(&mut p, "error"),
            error_description: take(&mut p, "error_description"),
            other: p,
        }))
    } else {
        Ok(Challenge::Other {
            scheme: scheme.to_string(),
            rest: rest.to_string(),
        })
    }
}

impl fmt::Display for Challenge {
    /// E.g. `Digest realm="ccmsipline", nonce="…", algorithm=SHA-256, qop="auth"` or
    /// `Bearer realm="ccmsipline", error="invalid_token"`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let q = |v: &Option<String>| v.as_deref().map(quote);
        match self {
            Challenge::Digest(d) => {
                let mut p: Vec<(&str, String)> = vec![("realm", quote(&d.realm))];
                p.extend(q(&d.domain).map(|v| ("domain", v)));
                p.push(("nonce", quote(&d.nonce)));
                p.extend(q(&d.opaque).map(|v| ("opaque", v)));
                if d.stale {
                    p.push(("stale", "true".to_string()));
                }
                p.extend(
                    d.algorithm
                        .as_deref()
                        .map(|v| ("algorithm", token_or_quoted(v))),
                );
                p.extend(q(&d.qop).map(|v| ("qop", v)));
                p.extend(d.other.iter().map(|(n, v)| (n.as_str(), v.clone())));
                f.write_str(&print("Digest", &p))
            }
            Challenge::Bearer(b) => {
                let mut p: Vec<(&str, String)> = Vec::new();
                p.extend(q(&b.realm).map(|v| ("realm", v)));
                p.extend(q(&b.scope).map(|v| ("scope", v)));
                p.extend(q(&b.authz_server).map(|v| ("authz_server", v)));
                p.extend(q(&b.error).map(|v| ("error", v)));
                p.extend(q(&b.error_description).map(|v| ("error_description", v)));
                p.extend(b.other.iter().map(|(n, v)| (n.as_str(), v.clone())));
                f.write_str(print("Bearer", &p).trim_end())
            }
            Challenge::Other { scheme, rest } => write!(f, "{scheme} {rest}"),
        }
    }
}

impl Headers {
    /// The first WWW-Authenticate challenge.
    pub fn www_authenticate(&self) -> Result<Option<Challenge>, ParseError> {
        self.challenges("WWW-Authenticate")
            .map(|v| v.into_iter().next())
    }

    /// The first Proxy-Authenticate challenge.
    pub fn proxy_authenticate(&self) -> Result<Option<Challenge>, ParseError> {
        self.challenges("Proxy-Authenticate")
            .map(|v| v.into_iter().next())
    }

    /// All challenges of `name` (`WWW-Authenticate` or `Proxy-Authenticate`), one per line.
    pub fn challenges(&self, name: &'static str) -> Result<Vec<Challenge>, ParseError> {
        self.lines(name)
            .map(|v| parse_challenge(v).map_err(|d| ParseErrorKind::header(name, d).into()))
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Found by the `sip_header` fuzz target (2026-11-23): a raw line feed inside a quoted
    /// value was accepted, and the printer (which drops CR and LF) gave back another value.
    #[test]
    fn raw_line_break_in_a_quoted_value_is_refused() {
        let v = "Bearer realm=\"ccmsipline\", error=\"inval\n\0id_token\"";
        assert!(parse_challenge(v).is_err());
        assert!(parse_challenge("Digest realm=\"r\r\", nonce=\"n\"").is_err());
        let ok = "Bearer realm=\"ccmsipline\", error=\"inval\\\0id_token\"";
        let c = parse_challenge(ok).unwrap();
        assert_eq!(parse_challenge(&c.to_string()), Ok(c));
    }

    /// A Digest challenge's non-token `algorithm` is printed quoted, so it parses back.
    #[test]
    fn non_token_algorithm_round_trips() {
        let c = parse_challenge(r#"Digest realm="r", nonce="n", algorithm="SHA 256""#).unwrap();
        assert_eq!(parse_challenge(&c.to_string()), Ok(c));
    }

    #[test]
    fn printers() {
        assert_eq!(
            Challenge::bearer("ccmsipline").to_string(),
            r#"Bearer realm="ccmsipline""#
        );
        assert_eq!(
            Challenge::bearer_error("ccmsipline", "invalid_token").to_string(),
            r#"Bearer realm="ccmsipline", error="invalid_token""#
        );
        assert_eq!(
            Challenge::digest("ccmsipline", "abc", Some("SHA-256"), Some("auth")).to_string(),
            r#"Digest realm="ccmsipline", nonce="abc", algorithm=SHA-256, qop="auth""#
        );
    }

    #[test]
    fn parses_and_round_trips() {
        for v in [
            r#"Bearer realm="ccmsipline""#,
            r#"Bearer realm="ccmsipline", error="invalid_token""#,
            r#"Digest realm="ccmsipline", nonce="vP42jVSdIItGRD5nYmE71/4JD/ZYUQvL", algorithm=MD5"#,
            r#"Digest realm="r", nonce="n", opaque="o", stale=true, algorithm=SHA-256, qop="auth,auth-int""#,
        ] {
            let c = parse_challenge(v).unwrap();
            assert_eq!(c.to_string(), v);
        }
        assert_eq!(parse_challenge("Bearer").unwrap().to_string(), "Bearer");
        assert!(parse_challenge(r#"Digest realm="r""#).is_err());
    }
}
