//! The in-memory state verification runs on, rebuilt from the store by
//! [`OAuthService::reload`](crate::OAuthService::reload): the parameters, the issuer, this
//! cluster's keys (signer and retired keys still verifying), the external issuers' keys and the
//! revocation state. Swapped in whole (arc-swap), so readers never wait.

use std::collections::{HashMap, HashSet};

use jsonwebtoken::EncodingKey;
use serde_json::Value;
use switchboard_store::model::Param;
use switchboard_store::{time_text, unix_of, Store};

use crate::error::OAuthError;
use crate::keys;
use crate::verify::{IssuerKeys, Revocations, UserRevocation, Verifier, LEEWAY};

/// Longest access-token lifetime the parameter allows (its upper bound), in seconds: a retired
/// key keeps verifying this long (plus [`LEEWAY`]) after its retirement, and revoked families
/// stay in memory this long after their revocation.
pub fn max_access_ttl() -> i64 {
    match switchboard_store::params::definition("OAuthAccessTokenExpiryMinutes").map(|d| d.kind) {
        Ok(switchboard_store::params::ParamKind::Range(_, high)) => high * 60,
        _ => 1440 * 60,
    }
}

/// How long a retired key keeps verifying (seconds).
pub fn retired_key_grace() -> i64 {
    max_access_ttl() + LEEWAY
}

/// The parameters the service works with.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Settings {
    pub access_ttl: i64,
    pub refresh_flow: bool,
    pub jabber_refresh_days: i64,
    pub phone_refresh_days: i64,
}

impl Default for Settings {
    fn default() -> Self {
        Settings {
            access_ttl: 3600,
            refresh_flow: true,
            jabber_refresh_days: 60,
            phone_refresh_days: 60,
        }
    }
}

/// The key that signs new tokens.
pub(crate) struct Signer {
    pub kid: String,
    pub key: EncodingKey,
}

/// Everything verification and issuance read, at one instant.
#[derive(Default)]
pub(crate) struct Snapshot {
    /// Bumped whenever the keys, issuers or audience change (cache entries of older
    /// generations are ignored).
    pub generation: u64,
    pub fingerprint: String,
    pub verifier: Verifier,
    pub revocations: Revocations,
    pub signer: Option<Signer>,
    /// The public JWKs of the signer and of the retired keys still verifying.
    pub jwks: Vec<Value>,
    pub settings: Settings,
    pub audience: String,
    /// Keys that bind login forms to their request ([`crate::OAuthService::bind_form`]),
    /// derived from the private halves of the keys still verifying, signer first; the same on
    /// every node of the cluster.
    pub form_keys: Vec<ring::hmac::Key>,
}

fn param<'a>(params: &'a [Param], name: &str) -> Option<&'a str> {
    params
        .iter()
        .find(|p| p.name == name)
        .map(|p| p.value.as_str())
}

fn int(params: &[Param], name: &str, default: i64) -> i64 {
    param(params, name)
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

/// The settings the parameters give.
pub(crate) fn settings_of(params: &[Param]) -> Settings {
    Settings {
        access_ttl: int(params, "OAuthAccessTokenExpiryMinutes", 60) * 60,
        refresh_flow: int(params, "OAuthWithRefreshLoginFlow", 1) == 1,
        jabber_refresh_days: int(params, "JabberOAuthRefreshTokenExpiryDays", 60),
        phone_refresh_days: int(params, "PhoneOAuthRefreshTokenExpiryDays", 60),
    }
}

/// `https://<address>:<port>`, bracketing an IPv6 address.
fn url_of(address: &str, port: u32) -> String {
    if address.contains(':') && !address.starts_with('[') {
        format!("https://[{address}]:{port}")
    } else {
        format!("https://{address}:{port}")
    }
}

/// Reads the store and builds the next snapshot; `previous` gives the generation.
pub(crate) async fn load(
    store: &Store,
    now: i64,
    previous: &Snapshot,
) -> Result<Snapshot, OAuthError> {
    let params = store.list_params().await?;
    let issuer = match param(&params, "OAuthIssuer").unwrap_or("") {
        "" => store
            .list_nodes()
            .await?
            .first()
            .map(|n| url_of(&n.address, n.ports.https))
            .unwrap_or_else(|| "https://localhost:8443".into()),
        configured => configured.to_string(),
    };
    let audience = param(&params, "OAuthAudience")
        .unwrap_or("switchboard")
        .to_string();
    let settings = settings_of(&params);

    let grace = retired_key_grace();
    let mut own = IssuerKeys {
        audience: audience.clone(),
        keys: HashMap::new(),
    };
    let mut jwks = Vec::new();
    let mut signer = None;
    let mut form_keys = Vec::new();
    for key in store.oauth_key_material().await? {
        let retired = key.retired_at.as_deref().map(|t| unix_of(t).unwrap_or(0));
        if retired.is_some_and(|r| r + grace <= now) {
            continue;
        }
        let Ok(jwk) = serde_json::from_str::<Value>(&key.public_jwk) else {
            tracing::error!(kid = %key.kid, "stored OAuth key has an unreadable public JWK");
            continue;
        };
        match keys::parse_jwk(&jwk, 0) {
            Ok((kid, verify)) => {
                own.keys.insert(kid, verify);
                jwks.push(jwk);
            }
            Err(e) => tracing::error!(kid = %key.kid, error = %e, "unusable stored OAuth key"),
        }
        if let Some(private) = &key.private_key {
            form_keys.push(form_key(private));
        }
        // Keys come newest first: the newest key still signing is the signer.
        if signer.is_none() && retired.is_none() {
            match key.private_key.as_deref().and_then(keys::encoding_key) {
                Some(encoding) => {
                    signer = Some(Signer {
                        kid: key.kid.clone(),
                        key: encoding,
                    })
                }
                None => tracing::error!(
                    kid = %key.kid,
                    "the OAuth signing key cannot be unsealed: every node needs the same secret.key"
                ),
            }
        }
    }

    let mut external = HashMap::new();
    let mut fingerprint = format!("{issuer}|{audience}|");
    let mut kids: Vec<&String> = own.keys.keys().collect();
    kids.sort();
    for kid in kids {
        fingerprint.push_str(kid);
        fingerprint.push(',');
    }
    for other in store.list_oauth_issuers().await? {
        match keys::parse_jwks(&other.jwks) {
            Ok(parsed) => {
                fingerprint.push_str(&format!(
                    "|{}|{}|{}",
                    other.issuer, other.audience, other.jwks
                ));
                external.insert(
                    other.issuer,
                    IssuerKeys {
                        audience: other.audience,
                        keys: parsed.into_iter().collect(),
                    },
                );
            }
            Err(e) => {
                tracing::error!(issuer = %other.issuer, error = %e, "unusable external issuer JWKS")
            }
        }
    }

    let families: HashSet<String> = store
        .revoked_refresh_families(&time_text(now - grace))
        .await?
        .into_iter()
        .collect();
    let jtis: HashSet<String> = store
        .revoked_access_tokens(&time_text(now))
        .await?
        .into_iter()
        .collect();
    let users = store
        .oauth_user_states()
        .await?
        .into_iter()
        .map(|u| {
            (
                u.userid,
                UserRevocation {
                    enabled: u.enabled,
                    revoked_before: u.revoked_before.as_deref().and_then(unix_of),
                },
            )
        })
        .collect();

    let generation = if fingerprint == previous.fingerprint {
        previous.generation
    } else {
        previous.generation + 1
    };
    Ok(Snapshot {
        generation,
        fingerprint,
        verifier: Verifier {
            issuer,
            own,
            external,
        },
        revocations: Revocations {
            families,
            jtis,
            users,
        },
        signer,
        jwks,
        settings,
        audience,
        form_keys,
    })
}

/// An HMAC key for login forms, derived from a signing key's private half (domain-separated,
/// so it reveals nothing about the signing key).
fn form_key(private_key: &str) -> ring::hmac::Key {
    use sha2::{Digest, Sha256};
    let mut derived = Sha256::new();
    derived.update(b"switchboard oauth login form binding\0");
    derived.update(private_key.as_bytes());
    ring::hmac::Key::new(ring::hmac::HMAC_SHA256, &derived.finalize())
}
