//! Access-token verification without I/O or clock: [`Verifier::verify`] checks a JWS compact
//! token against the keys of its issuer at a `now` passed in, and [`Revocations::check`] the
//! revocation state. The service holds both in memory, so the SIP registrar verifies a token
//! per REGISTER without touching the database. Fuzzed (`fuzz/fuzz_targets/oauth_jwt.rs`).
//!
//! Rules: exactly three base64url parts; a JSON header whose `alg` is one of the public-key
//! algorithms (never `none`, never `HS*`, so a public key can never be used as an HMAC secret)
//! and equal to the algorithm of the key its `kid` names, within the keys of the issuer its
//! `iss` names (this cluster's, or a configured external issuer's); no `crit`; a valid
//! signature; then `aud`, `exp`, `nbf` and `iat` with [`LEEWAY`] seconds of tolerance.

use std::collections::{HashMap, HashSet};

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use jsonwebtoken::Algorithm;
use serde::{Deserialize, Serialize};

use crate::error::TokenError;
use crate::keys::VerifyKey;

/// Clock tolerance on `exp`, `nbf` and `iat`, in seconds.
pub const LEEWAY: i64 = 30;
/// Longest token looked at (bytes).
pub const MAX_TOKEN_LEN: usize = 8192;

/// A token that verified: what its claims say.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VerifiedToken {
    /// `sub`: the userid.
    pub subject: String,
    pub issuer: String,
    pub audience: Vec<String>,
    /// Space-separated scopes (empty when the token has none).
    pub scope: String,
    pub client_id: Option<String>,
    /// The device the token is bound to.
    pub device: Option<String>,
    pub jti: Option<String>,
    /// The refresh-token family it was issued with.
    pub family: Option<String>,
    /// `iat` (0 when absent).
    pub issued_at: i64,
    pub expires_at: i64,
}

/// The claims of the access tokens this cluster signs.
#[derive(Debug, Clone, Serialize)]
pub(crate) struct Claims<'a> {
    pub iss: &'a str,
    pub sub: &'a str,
    pub aud: &'a str,
    pub scope: &'a str,
    pub iat: i64,
    pub nbf: i64,
    pub exp: i64,
    pub jti: &'a str,
    pub client_id: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub device: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub fam: Option<&'a str>,
}

#[derive(Deserialize)]
struct Header {
    alg: String,
    #[serde(default)]
    kid: Option<String>,
    #[serde(default)]
    typ: Option<String>,
    #[serde(default)]
    crit: Option<serde_json::Value>,
}

/// A NumericDate: an integer, or a number with a fraction (floored).
#[derive(Deserialize)]
#[serde(untagged)]
enum NumericDate {
    Int(i64),
    Float(f64),
}

impl NumericDate {
    fn seconds(&self) -> Option<i64> {
        match *self {
            NumericDate::Int(n) => Some(n),
            NumericDate::Float(f) if f.is_finite() && f.abs() < 1e15 => Some(f.floor() as i64),
            NumericDate::Float(_) => None,
        }
    }
}

#[derive(Deserialize)]
#[serde(untagged)]
enum Audience {
    One(String),
    Many(Vec<String>),
}

#[derive(Deserialize)]
struct IncomingClaims {
    iss: String,
    sub: String,
    aud: Audience,
    exp: NumericDate,
    #[serde(default)]
    nbf: Option<NumericDate>,
    #[serde(default)]
    iat: Option<NumericDate>,
    #[serde(default)]
    scope: Option<String>,
    #[serde(default)]
    jti: Option<String>,
    #[serde(default)]
    client_id: Option<String>,
    #[serde(default)]
    device: Option<String>,
    #[serde(default)]
    fam: Option<String>,
}

/// The keys and expected audience of one issuer.
#[derive(Debug, Clone, Default)]
pub struct IssuerKeys {
    pub audience: String,
    pub keys: HashMap<String, VerifyKey>,
}

/// Verifies tokens of this cluster and of the configured external issuers.
#[derive(Debug, Clone, Default)]
pub struct Verifier {
    /// This cluster's `iss`.
    pub issuer: String,
    /// This cluster's keys (the signer and the retired keys still verifying).
    pub own: IssuerKeys,
    /// External issuers by `iss`.
    pub external: HashMap<String, IssuerKeys>,
}

fn algorithm_named(alg: &str) -> Option<Algorithm> {
    Some(match alg {
        "ES256" => Algorithm::ES256,
        "RS256" => Algorithm::RS256,
        "RS384" => Algorithm::RS384,
        "RS512" => Algorithm::RS512,
        "PS256" => Algorithm::PS256,
        "PS384" => Algorithm::PS384,
        "PS512" => Algorithm::PS512,
        _ => return None,
    })
}

fn decode_json<T: serde::de::DeserializeOwned>(part: &str) -> Result<T, TokenError> {
    let bytes = URL_SAFE_NO_PAD
        .decode(part)
        .map_err(|_| TokenError::Malformed)?;
    serde_json::from_slice(&bytes).map_err(|_| TokenError::Malformed)
}

/// At most 64 printable characters of an attacker-chosen name, for error texts.
fn shown(name: &str) -> String {
    name.chars()
        .filter(|c| c.is_ascii_graphic())
        .take(64)
        .collect()
}

impl Verifier {
    /// Whether `iss` is this cluster.
    pub fn is_own(&self, iss: &str) -> bool {
        iss == self.issuer
    }

    /// Checks signature and claims of `token` at `now` (not revocation).
    pub fn verify(&self, token: &str, now: i64) -> Result<VerifiedToken, TokenError> {
        if token.len() > MAX_TOKEN_LEN {
            return Err(TokenError::Malformed);
        }
        let mut parts = token.split('.');
        let (Some(header_b64), Some(claims_b64), Some(signature), None) =
            (parts.next(), parts.next(), parts.next(), parts.next())
        else {
            return Err(TokenError::Malformed);
        };
        let header: Header = decode_json(header_b64)?;
        if header.crit.is_some() {
            return Err(TokenError::Malformed);
        }
        if let Some(typ) = &header.typ {
            if !typ.eq_ignore_ascii_case("JWT") && !typ.eq_ignore_ascii_case("at+jwt") {
                return Err(TokenError::Malformed);
            }
        }
        let algorithm = algorithm_named(&header.alg)
            .ok_or_else(|| TokenError::DisallowedAlgorithm(shown(&header.alg)))?;
        let claims: IncomingClaims = decode_json(claims_b64)?;
        let issuer = if self.is_own(&claims.iss) {
            &self.own
        } else {
            self.external
                .get(&claims.iss)
                .ok_or(TokenError::WrongIssuer)?
        };
        let key = match &header.kid {
            Some(kid) => issuer.keys.get(kid),
            // Without a kid, only an issuer with a single key is unambiguous.
            None if issuer.keys.len() == 1 => issuer.keys.values().next(),
            None => None,
        }
        .ok_or_else(|| TokenError::UnknownKey(shown(header.kid.as_deref().unwrap_or(""))))?;
        if key.algorithm != algorithm {
            return Err(TokenError::DisallowedAlgorithm(shown(&header.alg)));
        }
        let message_len = header_b64.len() + 1 + claims_b64.len();
        let valid = jsonwebtoken::crypto::verify(
            signature,
            &token.as_bytes()[..message_len],
            &key.key,
            algorithm,
        )
        .unwrap_or(false);
        if !valid {
            return Err(TokenError::BadSignature);
        }
        let audience = match claims.aud {
            Audience::One(a) => vec![a],
            Audience::Many(a) => a,
        };
        if !audience.contains(&issuer.audience) {
            return Err(TokenError::WrongAudience);
        }
        let expires_at = claims.exp.seconds().ok_or(TokenError::Malformed)?;
        if now > expires_at.saturating_add(LEEWAY) {
            return Err(TokenError::Expired);
        }
        let seconds = |d: &Option<NumericDate>| match d {
            Some(d) => d.seconds().ok_or(TokenError::Malformed).map(Some),
            None => Ok(None),
        };
        let issued_at = seconds(&claims.iat)?;
        for start in [seconds(&claims.nbf)?, issued_at].into_iter().flatten() {
            if start.saturating_sub(LEEWAY) > now {
                return Err(TokenError::NotYetValid);
            }
        }
        Ok(VerifiedToken {
            subject: claims.sub,
            issuer: claims.iss,
            audience,
            scope: claims.scope.unwrap_or_default(),
            client_id: claims.client_id,
            device: claims.device,
            jti: claims.jti,
            family: claims.fam,
            issued_at: issued_at.unwrap_or(0),
            expires_at,
        })
    }
}

/// A user as revocation sees it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct UserRevocation {
    pub enabled: bool,
    /// Revoke-all: tokens with `iat` at or before this are refused.
    pub revoked_before: Option<i64>,
}

/// Everything that revokes tokens before they expire.
#[derive(Debug, Clone, Default)]
pub struct Revocations {
    /// Revoked refresh-token families (their access tokens carry `fam`).
    pub families: HashSet<String>,
    /// Access tokens revoked one by one.
    pub jtis: HashSet<String>,
    /// Every end user. A token of this cluster whose subject is not here (deleted) is refused;
    /// an external issuer's token only when its subject is a disabled or revoked local user.
    pub users: HashMap<String, UserRevocation>,
}

impl Revocations {
    /// Refuses a verified token that has been revoked since it was issued.
    pub fn check(&self, token: &VerifiedToken, own: bool) -> Result<(), TokenError> {
        if token.jti.as_ref().is_some_and(|j| self.jtis.contains(j)) {
            return Err(TokenError::Revoked);
        }
        if own
            && token
                .family
                .as_ref()
                .is_some_and(|f| self.families.contains(f))
        {
            return Err(TokenError::Revoked);
        }
        match self.users.get(&token.subject) {
            None if own => Err(TokenError::Revoked),
            None => Ok(()),
            Some(user) if !user.enabled => Err(TokenError::Revoked),
            Some(user) if user.revoked_before.is_some_and(|t| token.issued_at <= t) => {
                Err(TokenError::Revoked)
            }
            Some(_) => Ok(()),
        }
    }
}
