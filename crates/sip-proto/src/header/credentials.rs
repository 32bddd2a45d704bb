//! The Authorization and Proxy-Authorization headers: Digest (RFC 3261 §22, RFC 8760)
//! and Bearer (RFC 8898) credentials, in both the Cisco form `Bearer token="<jwt>"` and
//! the bare `Bearer <jwt>`.

use std::fmt;

use crate::error::{ParseError, ParseErrorKind};
use crate::header::auth_params::{
    is_token68, parse_auth_params, print, split_scheme, take, token_or_quoted,
};
use crate::headers::Headers;
use crate::lex::quote;

/// Credentials from an Authorization / Proxy-Authorization header.
#[derive(Debug, Clone, PartialEq, Eq)]
#[allow(clippy::large_enum_variant)] // parsed once per request; matching stays simple
pub enum Credentials {
    /// `Digest username=…, realm=…, …`.
    Digest(DigestCredentials),
    /// `Bearer <token>` or `Bearer token="<token>"`.
    Bearer {
        /// The access token.
        token: String,
    },
    /// Any other scheme, kept raw (`NoOneKnowsThisScheme opaque-data=here`).
    Other {
        /// The scheme.
        scheme: String,
        /// Everything after it.
        rest: String,
    },
}

/// Digest credentials; quoted values are unquoted.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct DigestCredentials {
    /// `username`.
    pub username: String,
    /// `realm`.
    pub realm: String,
    /// `nonce`.
    pub nonce: String,
    /// `uri` (the digest-uri, compared textually with the Request-URI).
    pub uri: String,
    /// `response` (hex).
    pub response: String,
    /// `algorithm` (absent means MD5).
    pub algorithm: Option<String>,
    /// `cnonce`.
    pub cnonce: Option<String>,
    /// `opaque`.
    pub opaque: Option<String>,
    /// `qop` (accepted quoted or not).
    pub qop: Option<String>,
    /// `nc` (8 hex digits).
    pub nc: Option<String>,
    /// Other parameters, raw values.
    pub other: Vec<(String, String)>,
}

impl Credentials {
    /// Parses a credentials value.
    pub fn parse(value: &str) -> Result<Credentials, ParseError> {
        parse_credentials(value).map_err(|d| ParseErrorKind::header("Authorization", d).into())
    }
}

fn parse_credentials(value: &str) -> Result<Credentials, &'static str> {
    let (scheme, rest) = split_scheme(value)?;
    if scheme.eq_ignore_ascii_case("Bearer") {
        if is_token68(rest) {
            return Ok(Credentials::Bearer {
                token: rest.to_string(),
            });
        }
        let mut params = parse_auth_params(rest)?;
        let token = take(&mut params, "token").ok_or("Bearer without a token")?;
        if token.is_empty() {
            return Err("empty Bearer token");
        }
        return Ok(Credentials::Bearer { token });
    }
    if !scheme.eq_ignore_ascii_case("Digest") {
        return Ok(Credentials::Other {
            scheme: scheme.to_string(),
            rest: rest.to_string(),
        });
    }
    let mut p = parse_auth_params(rest)?;
    let mut need = |n: &str, e: &'static str| take(&mut p, n).ok_or(e);
    let username = need("username", "Digest without username")?;
    let realm = need("realm", "Digest without realm")?;
    let nonce = need("nonce", "Digest without nonce")?;
    let uri = need("uri", "Digest without uri")?;
    let response = need("response", "Digest without response")?;
    let nc = take(&mut p, "nc");
    if nc
        .as_deref()
        .is_some_and(|n| n.len() != 8 || !n.bytes().all(|b| b.is_ascii_hexdigit()))
    {
        return Err("nc is not 8 hex digits");
    }
    Ok(Credentials::Digest(DigestCredentials {
        username,
        realm,
        nonce,
        uri,
        response,
        algorithm: take(&mut p, "algorithm"),
        cnonce: take(&mut p, "cnonce"),
        opaque: take(&mut p, "opaque"),
        qop: take(&mut p, "qop"),
        nc,
        other: p,
    }))
}

impl fmt::Display for Credentials {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Credentials::Bearer { token } if is_token68(token) => write!(f, "Bearer {token}"),
            Credentials::Bearer { token } => write!(f, "Bearer token={}", quote(token)),
            Credentials::Other { scheme, rest } => write!(f, "{scheme} {rest}"),
            Credentials::Digest(d) => {
                let mut p: Vec<(&str, String)> = vec![
                    ("username", quote(&d.username)),
                    ("realm", quote(&d.realm)),
                    ("nonce", quote(&d.nonce)),
                    ("uri", quote(&d.uri)),
                    ("response", quote(&d.response)),
                ];
                if let Some(a) = &d.algorithm {
                    p.push(("algorithm", token_or_quoted(a)));
                }
                if let Some(c) = &d.cnonce {
                    p.push(("cnonce", quote(c)));
                }
                if let Some(o) = &d.opaque {
                    p.push(("opaque", quote(o)));
                }
                if let Some(q) = &d.qop {
                    p.push(("qop", token_or_quoted(q)));
                }
                if let Some(n) = &d.nc {
                    p.push(("nc", token_or_quoted(n)));
                }
                p.extend(d.other.iter().map(|(n, v)| (n.as_str(), v.clone())));
                f.write_str(&print("Digest", &p))
            }
        }
    }
}

impl Headers {
    /// The first Authorization header.
    pub fn authorization(&self) -> Result<Option<Credentials>, ParseError> {
        self.credentials("Authorization")
            .map(|v| v.into_iter().next())
    }

    /// The first Proxy-Authorization header.
    pub fn proxy_authorization(&self) -> Result<Option<Credentials>, ParseError> {
        self.credentials("Proxy-Authorization")
            .map(|v| v.into_iter().next())
    }

    /// All credentials of `name` (`Authorization` or `Proxy-Authorization`), one per line.
    pub fn credentials(&self, name: &'static str) -> Result<Vec<Credentials>, ParseError> {
        self.lines(name)
            .map(|v| parse_credentials(v).map_err(|d| ParseErrorKind::header(name, d).into()))
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bearer_forms() {
        let jwt = "eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJyYWRvIn0.c2ln-_";
        for v in [
            format!("Bearer token=\"{jwt}\""),
            format!("Bearer {jwt}"),
            format!("bearer   {jwt}"),
        ] {
            assert_eq!(
                parse_credentials(&v),
                Ok(Credentials::Bearer { token: jwt.into() })
            );
        }
        assert!(parse_credentials("Bearer").is_err());
        assert!(parse_credentials("Bearer token=\"\"").is_err());
        assert_eq!(
            Credentials::Bearer { token: jwt.into() }.to_string(),
            format!("Bearer {jwt}")
        );
    }

    #[test]
    fn digest() {
        let v = r#"Digest username="microsip01", realm="ccmsipline", nonce="vP42jVSdIItGRD5nYmE71/4JD/ZYUQvL", uri="sip:192.168.80.100", response="b70fca7c592084c62c51f1a5143ea339", algorithm=MD5"#;
        let Ok(Credentials::Digest(d)) = parse_credentials(v) else {
            panic!()
        };
        assert_eq!(d.username, "microsip01");
        assert_eq!(d.algorithm.as_deref(), Some("MD5"));
        assert_eq!(Credentials::Digest(d.clone()).to_string(), v);
        let q = r#"Digest username="a", realm="r", nonce="n", uri="sip:x", response="0", qop="auth", nc=00000001, cnonce="c""#;
        let Ok(Credentials::Digest(d)) = parse_credentials(q) else {
            panic!()
        };
        assert_eq!(d.qop.as_deref(), Some("auth"));
        assert!(parse_credentials(r#"Digest realm="r""#).is_err());
        assert!(parse_credentials(
            r#"Digest username="a", realm="r", nonce="n", uri="u", response="0", nc=1"#
        )
        .is_err());
    }

    /// Found by the `sip_digest` fuzz target (2026-11-23): a quoted `qop` that is not a
    /// token (`qop=" p"`) was printed bare (`qop= p`) and parsed back as `p`.
    #[test]
    fn non_token_qop_algorithm_and_nc_print_quoted() {
        let v = r#"Digest username="a", realm="r", nonce="n", uri="sip:x", response="0", qop=" p", algorithm="MD5 x", aoaque="o""#;
        let c = parse_credentials(v).unwrap();
        let Credentials::Digest(d) = &c else { panic!() };
        assert_eq!(d.qop.as_deref(), Some(" p"));
        let printed = c.to_string();
        assert!(printed.contains(r#"qop=" p""#), "{printed}");
        assert_eq!(parse_credentials(&printed), Ok(c));
        // Tokens still go bare, as phones expect.
        let q = r#"Digest username="a", realm="r", nonce="n", uri="sip:x", response="0", algorithm=MD5, qop=auth, nc=00000001"#;
        assert_eq!(parse_credentials(q).unwrap().to_string(), q);
    }

    #[test]
    fn unknown_scheme() {
        assert_eq!(
            parse_credentials("NoOneKnowsThisScheme opaque-data=here"),
            Ok(Credentials::Other {
                scheme: "NoOneKnowsThisScheme".into(),
                rest: "opaque-data=here".into()
            })
        );
    }
}
