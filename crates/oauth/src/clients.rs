//! Clients, scopes, redirect URIs and PKCE: the built-in public clients (`jabber`,
//! `cisco-phone`), the scopes tokens may carry, redirect-URI matching (exact, or any port for
//! loopback URIs, RFC 8252 §7.3) and the S256 code challenge (RFC 7636).

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use sha2::{Digest, Sha256};
use switchboard_store::model::{OAuthClient, OAuthClientKind};

use crate::error::{GrantError, GrantErrorCode};

/// The scopes a token may carry: registering with SIP OAuth, logging in to CTI.
pub const SCOPES: &[&str] = &["sip", "cti"];
/// The scope granted when none is asked for.
pub const DEFAULT_SCOPE: &str = "sip cti";

/// The clients every cluster has: Cisco Jabber (and other softphones: browser login through a
/// loopback redirect) and physical phones (password grant).
pub fn built_in(created_at: &str) -> Vec<OAuthClient> {
    vec![
        OAuthClient {
            client_id: "jabber".into(),
            name: "Cisco Jabber and other softphones".into(),
            kind: OAuthClientKind::Jabber,
            redirect_uris: vec!["http://127.0.0.1/*".into(), "http://[::1]/*".into()],
            created_at: created_at.into(),
        },
        OAuthClient {
            client_id: "cisco-phone".into(),
            name: "Physical phones".into(),
            kind: OAuthClientKind::Phone,
            redirect_uris: Vec::new(),
            created_at: created_at.into(),
        },
    ]
}

/// The scope to grant for a request (`None` or empty: [`DEFAULT_SCOPE`]), in canonical order;
/// `allowed` narrows what may be asked (a refresh may not widen its token's scope).
pub fn grant_scope(requested: Option<&str>, allowed: &str) -> Result<String, GrantError> {
    let allowed: Vec<&str> = allowed.split(' ').filter(|s| !s.is_empty()).collect();
    let requested = match requested.map(str::trim) {
        None | Some("") => return Ok(allowed.join(" ")),
        Some(r) => r,
    };
    let mut granted = Vec::new();
    for scope in requested.split(' ').filter(|s| !s.is_empty()) {
        if !SCOPES.contains(&scope) {
            return Err(GrantError::new(
                GrantErrorCode::InvalidScope,
                format!(
                    "unknown scope '{}'; the scopes are: {}",
                    scope.chars().take(40).collect::<String>(),
                    SCOPES.join(" ")
                ),
            ));
        }
        if !allowed.contains(&scope) {
            return Err(GrantError::new(
                GrantErrorCode::InvalidScope,
                format!("scope '{scope}' exceeds the scope originally granted"),
            ));
        }
        granted.push(scope);
    }
    Ok(SCOPES
        .iter()
        .filter(|s| granted.contains(s))
        .copied()
        .collect::<Vec<_>>()
        .join(" "))
}

fn is_loopback_literal(host: &str) -> bool {
    matches!(host, "127.0.0.1" | "[::1]")
}

/// Whether `requested` may be used as the redirect URI of a client registered with
/// `registered`: an exact match; or, for a registered `http` loopback IP literal, the same
/// host with any port (RFC 8252 §7.3) and the same path and query — or any path and query
/// when the registered path is `/*`. Fragments are never allowed.
pub fn redirect_uri_allowed(registered: &[String], requested: &str) -> bool {
    if requested.len() > 2048 || requested.contains('#') {
        return false;
    }
    let Ok(asked) = url::Url::parse(requested) else {
        return false;
    };
    registered.iter().any(|reg| {
        if reg == requested {
            return true;
        }
        let wildcard_path = reg.ends_with("/*");
        let Ok(known) = url::Url::parse(if wildcard_path {
            &reg[..reg.len() - 1]
        } else {
            reg
        }) else {
            return false;
        };
        let loopback = known.scheme() == "http"
            && known.host_str().is_some_and(is_loopback_literal)
            && known.port().is_none();
        loopback
            && asked.scheme() == "http"
            && asked.host_str() == known.host_str()
            && asked.username().is_empty()
            && asked.password().is_none()
            && (wildcard_path || (asked.path() == known.path() && asked.query() == known.query()))
    })
}

/// Whether `s` is a PKCE code verifier (RFC 7636 §4.1): 43 to 128 unreserved characters.
pub fn is_code_verifier(s: &str) -> bool {
    (43..=128).contains(&s.len())
        && s.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"-._~".contains(&b))
}

/// Whether `s` is an S256 code challenge: base64url (no padding) of a SHA-256.
pub fn is_s256_challenge(s: &str) -> bool {
    s.len() == 43 && URL_SAFE_NO_PAD.decode(s).is_ok_and(|b| b.len() == 32)
}

/// The S256 challenge of a verifier.
pub fn s256(verifier: &str) -> String {
    URL_SAFE_NO_PAD.encode(Sha256::digest(verifier.as_bytes()))
}

/// Equality that takes as long whatever the first difference.
pub(crate) fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scopes() {
        assert_eq!(grant_scope(None, DEFAULT_SCOPE).unwrap(), "sip cti");
        assert_eq!(
            grant_scope(Some("cti sip"), DEFAULT_SCOPE).unwrap(),
            "sip cti"
        );
        assert_eq!(grant_scope(Some("cti"), DEFAULT_SCOPE).unwrap(), "cti");
        assert_eq!(grant_scope(Some(" "), "sip").unwrap(), "sip");
        let e = grant_scope(Some("sip admin"), DEFAULT_SCOPE).unwrap_err();
        assert_eq!(e.code, GrantErrorCode::InvalidScope);
        let e = grant_scope(Some("cti"), "sip").unwrap_err();
        assert!(e.description.contains("exceeds"), "{e}");
    }

    #[test]
    fn redirect_uris() {
        let jabber = built_in("now").remove(0).redirect_uris;
        for ok in [
            "http://127.0.0.1:51234/callback",
            "http://127.0.0.1/",
            "http://127.0.0.1:8080/a/b?x=1",
            "http://[::1]:9000/cb",
        ] {
            assert!(redirect_uri_allowed(&jabber, ok), "{ok}");
        }
        for bad in [
            "https://127.0.0.1:51234/callback",
            "http://localhost:51234/callback",
            "http://127.0.0.2:51234/callback",
            "http://evil.example.com/",
            "http://127.0.0.1:5000/cb#frag",
            "http://user@127.0.0.1:5000/cb",
            "not a uri",
        ] {
            assert!(!redirect_uri_allowed(&jabber, bad), "{bad}");
        }
        let exact = vec![
            "https://app.example.com/cb".to_string(),
            "http://127.0.0.1/cb".to_string(),
        ];
        assert!(redirect_uri_allowed(&exact, "https://app.example.com/cb"));
        assert!(!redirect_uri_allowed(&exact, "https://app.example.com/cb2"));
        assert!(!redirect_uri_allowed(
            &exact,
            "https://app.example.com:444/cb"
        ));
        assert!(redirect_uri_allowed(&exact, "http://127.0.0.1:6000/cb"));
        assert!(!redirect_uri_allowed(&exact, "http://127.0.0.1:6000/other"));
        assert!(!redirect_uri_allowed(&[], "http://127.0.0.1:6000/cb"));
    }

    #[test]
    fn pkce() {
        // RFC 7636 Appendix B.
        let verifier = "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk";
        assert_eq!(
            s256(verifier),
            "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM"
        );
        assert!(is_code_verifier(verifier) && is_s256_challenge(&s256(verifier)));
        assert!(!is_code_verifier("short"));
        assert!(!is_code_verifier(&"a".repeat(129)));
        assert!(!is_code_verifier(&format!("{}+", "a".repeat(43))));
        assert!(!is_s256_challenge("plain-challenge"));
        assert!(constant_time_eq(b"abc", b"abc") && !constant_time_eq(b"abc", b"abd"));
        assert!(!constant_time_eq(b"abc", b"ab"));
    }
}
