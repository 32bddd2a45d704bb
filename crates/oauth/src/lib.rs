//! The OAuth authorization server's logic (SPEC §4), without HTTP: signing keys and their
//! rotation, access tokens (ES256 JWTs) and refresh tokens (opaque, stored hashed, rotated on
//! every use, revoked by family on reuse), the password, authorization-code (PKCE S256) and
//! refresh-token grants, revocation (RFC 7009), introspection (RFC 7662), and verification of
//! access tokens — this cluster's and those of configured external issuers.
//!
//! [`OAuthService::verify_access_token`] is synchronous and reads memory only: the keys, the
//! issuers and the revocation state live in a snapshot that [`OAuthService::reload`] rebuilds
//! from the store after every local change, when the node learns of a change
//! (`follow_changes`), and every few seconds ([`OAuthService::spawn_refresher`]) so that
//! changes made on other nodes of a cluster arrive too. Verified tokens are cached until they
//! expire; revocation is checked on every call, cached or not.
//!
//! Secrets never leave as text: refresh tokens and codes are stored as SHA-256 hashes, private
//! keys sealed; traces name users, clients and kids, never a token, code or password.

mod cache;
pub mod clients;
mod error;
mod grants;
pub mod keys;
mod state;
pub mod verify;

use std::sync::Arc;
use std::time::Duration;

use arc_swap::ArcSwap;
use serde_json::Value;
use switchboard_authn::{Authenticator, Clock};
use switchboard_store::model::{OAuthClient, OAuthIssuer, OAuthIssuerNew};
use switchboard_store::oauth::OAuthKeyNew;
use switchboard_store::{time_text, unix_of, Store};
use switchboard_trace::{Service, TraceEvent, Tracer};

pub use error::{GrantError, GrantErrorCode, OAuthError, TokenError};
pub use grants::{
    Authorization, AuthorizationRequest, AuthorizeError, CodeGrant, Introspection, IssuedTokens,
    PasswordGrant, RefreshGrant, RefreshTokenInfo, RevokeOutcome,
};
pub use state::{max_access_ttl, retired_key_grace, Settings};
pub use verify::{VerifiedToken, LEEWAY};

/// The actor recorded in the audit log for what the OAuth service does by itself.
pub const OAUTH_ACTOR: &str = "oauth";
/// The actor of what the service creates at start-up (first key, built-in clients).
const BOOTSTRAP_ACTOR: &str = "bootstrap";

/// Where a signing key is in its life.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KeyStatus {
    /// Signs new tokens (and verifies).
    Signing,
    /// Retired: verifies the tokens it signed until they have all expired.
    Verifying,
    /// Retired long enough that no token it signed is still valid: out of the JWKS.
    Expired,
}

impl KeyStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            KeyStatus::Signing => "signing",
            KeyStatus::Verifying => "verifying",
            KeyStatus::Expired => "expired",
        }
    }
}

/// A signing key as administrators see it.
#[derive(Debug, Clone, PartialEq)]
pub struct KeyInfo {
    pub kid: String,
    pub algorithm: String,
    pub created_at: String,
    pub retired_at: Option<String>,
    pub status: KeyStatus,
    /// Until when a retired key verifies.
    pub verifies_until: Option<String>,
    pub public_jwk: Value,
}

/// The parts joined unambiguously: each preceded by its length.
fn form_message(parts: &[&str]) -> Vec<u8> {
    let mut message = Vec::new();
    for part in parts {
        message.extend_from_slice(&(part.len() as u64).to_be_bytes());
        message.extend_from_slice(part.as_bytes());
    }
    message
}

/// The OAuth authorization server of a node. Shared as `Arc<OAuthService>`.
pub struct OAuthService {
    store: Store,
    tracer: Tracer,
    clock: Arc<dyn Clock>,
    authenticator: Authenticator,
    state: ArcSwap<state::Snapshot>,
    cache: cache::VerifiedCache,
    reloading: tokio::sync::Mutex<()>,
}

impl std::fmt::Debug for OAuthService {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("OAuthService")
            .field("issuer", &self.issuer())
            .finish_non_exhaustive()
    }
}

impl OAuthService {
    /// Starts the service: creates the cluster's first signing key and the built-in clients
    /// when missing, then loads the state. Time is the authenticator's clock.
    pub async fn open(
        store: Store,
        tracer: Tracer,
        authenticator: Authenticator,
    ) -> Result<Arc<OAuthService>, OAuthError> {
        let clock = authenticator.clock().clone();
        let service = OAuthService {
            store,
            tracer,
            clock,
            authenticator,
            state: ArcSwap::from_pointee(state::Snapshot::default()),
            cache: cache::VerifiedCache::default(),
            reloading: tokio::sync::Mutex::new(()),
        };
        let now = time_text(service.now());
        let key = keys::generate()?;
        let first = OAuthKeyNew {
            kid: key.kid.clone(),
            algorithm: keys::SIGNING_ALGORITHM.into(),
            private_key: key.private_key,
            public_jwk: key.public_jwk.to_string(),
            created_at: now.clone(),
        };
        if service
            .store
            .create_first_oauth_key(BOOTSTRAP_ACTOR, &first)
            .await?
        {
            service.trace(&TraceEvent::OAuthKeyCreated {
                kid: key.kid,
                retired: Vec::new(),
            });
        }
        for client in clients::built_in(&now) {
            service
                .store
                .ensure_oauth_client(BOOTSTRAP_ACTOR, &client)
                .await?;
        }
        service.reload().await?;
        if service.state.load().signer.is_none() && service.state.load().jwks.is_empty() {
            // Every key retired long ago (or unreadable): start a new one.
            service.rotate_key(BOOTSTRAP_ACTOR).await?;
        }
        Ok(Arc::new(service))
    }

    pub(crate) fn now(&self) -> i64 {
        self.clock.now()
    }

    pub(crate) fn trace(&self, event: &TraceEvent) {
        self.tracer.emit_default(Service::Oauth, event);
    }

    /// The authentication service the grants use.
    pub fn authenticator(&self) -> &Authenticator {
        &self.authenticator
    }

    /// Verifies an access token — signature, issuer, audience, times, revocation — from
    /// memory only. A token verified before is taken from the cache (no signature check)
    /// until it expires; revocation is checked every time.
    pub fn verify_access_token(&self, token: &str) -> Result<Arc<VerifiedToken>, TokenError> {
        if token.len() > verify::MAX_TOKEN_LEN {
            return Err(TokenError::Malformed);
        }
        let now = self.now();
        let snapshot = self.state.load();
        let key = cache::key_of(token);
        let verified = match self.cache.get(&key, snapshot.generation, now) {
            Some(hit) => hit,
            None => {
                let fresh = Arc::new(snapshot.verifier.verify(token, now)?);
                self.cache
                    .insert(key, fresh.clone(), snapshot.generation, now);
                fresh
            }
        };
        let own = snapshot.verifier.is_own(&verified.issuer);
        snapshot.revocations.check(&verified, own)?;
        Ok(verified)
    }

    /// Rebuilds the in-memory state (keys, issuers, parameters, revocations) from the store.
    pub async fn reload(&self) -> Result<(), OAuthError> {
        let _one_at_a_time = self.reloading.lock().await;
        let previous = self.state.load_full();
        let next = state::load(&self.store, self.now(), &previous).await?;
        self.state.store(Arc::new(next));
        Ok(())
    }

    /// Reloads every `every` (changes made on other nodes) and purges expired rows about once
    /// an hour, until the service is dropped.
    pub fn spawn_refresher(self: &Arc<Self>, every: Duration) -> tokio::task::JoinHandle<()> {
        let weak = Arc::downgrade(self);
        let purge_every = (3600 / every.as_secs().max(1)).max(1);
        // A full reload reads every user (seconds of CPU with 100,000 of them): it is done when
        // the audit log shows a change (every change is audited, on any node), and at least
        // every FULL_RELOAD ticks (10 minutes at 5 s) in case another node's clock put its newest
        // entry behind ours.
        const FULL_RELOAD: u64 = 120;
        tokio::spawn(async move {
            let mut ticks: u64 = 0;
            let mut since_full: u64 = 0;
            let mut seen: Option<String> = None;
            let mut interval = tokio::time::interval(every);
            interval.tick().await;
            loop {
                interval.tick().await;
                let Some(service) = weak.upgrade() else {
                    return;
                };
                let latest = service.store.latest_audit_id().await.ok().flatten();
                since_full += 1;
                if latest != seen || since_full >= FULL_RELOAD {
                    match service.reload().await {
                        Ok(()) => {
                            seen = latest;
                            since_full = 0;
                        }
                        Err(e) => tracing::warn!(error = %e, "OAuth state reload failed"),
                    }
                }
                ticks += 1;
                if ticks >= purge_every {
                    ticks = 0;
                    if let Err(e) = service.purge().await {
                        tracing::warn!(error = %e, "OAuth purge failed");
                    }
                }
            }
        })
    }

    /// Deletes refresh tokens, codes and revoked access tokens that can no longer matter.
    pub async fn purge(&self) -> Result<u64, OAuthError> {
        let now = self.now();
        Ok(self
            .store
            .purge_oauth_state(
                &time_text(now),
                &time_text(now - retired_key_grace()),
                &time_text(now - 600),
            )
            .await?)
    }

    /// This cluster's issuer (`iss`).
    pub fn issuer(&self) -> String {
        self.state.load().verifier.issuer.clone()
    }

    /// The audience (`aud`) of this cluster's tokens.
    pub fn audience(&self) -> String {
        self.state.load().audience.clone()
    }

    /// A MAC binding `parts` (a login form's request parameters, a browser cookie, an expiry)
    /// under the newest key: base64url. `None` while the cluster has no private key here.
    pub fn bind_form(&self, parts: &[&str]) -> Option<String> {
        let snapshot = self.state.load();
        let key = snapshot.form_keys.first()?;
        Some(base64::Engine::encode(
            &base64::engine::general_purpose::URL_SAFE_NO_PAD,
            ring::hmac::sign(key, &form_message(parts)).as_ref(),
        ))
    }

    /// Whether `mac` binds `parts` under one of the keys still verifying.
    pub fn check_form(&self, parts: &[&str], mac: &str) -> bool {
        let Ok(tag) =
            base64::Engine::decode(&base64::engine::general_purpose::URL_SAFE_NO_PAD, mac)
        else {
            return false;
        };
        let message = form_message(parts);
        self.state
            .load()
            .form_keys
            .iter()
            .any(|key| ring::hmac::verify(key, &message, &tag).is_ok())
    }

    /// The parameters in force.
    pub fn settings(&self) -> Settings {
        self.state.load().settings.clone()
    }

    /// The public JWKs of the signing key and of the retired keys still verifying.
    pub fn jwks(&self) -> Vec<Value> {
        self.state.load().jwks.clone()
    }

    /// How many verified tokens are cached.
    pub fn cached_tokens(&self) -> usize {
        self.cache.len()
    }

    /// Every signing key with its status, newest first.
    pub async fn keys(&self) -> Result<Vec<KeyInfo>, OAuthError> {
        let now = self.now();
        let grace = retired_key_grace();
        Ok(self
            .store
            .list_oauth_keys()
            .await?
            .into_iter()
            .map(|k| {
                let retired = k.retired_at.as_deref().map(|t| unix_of(t).unwrap_or(0));
                let status = match retired {
                    None => KeyStatus::Signing,
                    Some(r) if r + grace > now => KeyStatus::Verifying,
                    Some(_) => KeyStatus::Expired,
                };
                KeyInfo {
                    kid: k.kid,
                    algorithm: k.algorithm,
                    created_at: k.created_at,
                    verifies_until: retired.map(|r| time_text(r + grace)),
                    retired_at: k.retired_at,
                    status,
                    public_jwk: k.public_jwk,
                }
            })
            .collect())
    }

    /// Key rotation: a new key signs from now on; the previous one keeps verifying until every
    /// token it signed has expired ([`retired_key_grace`]), then leaves the JWKS. Keys retired
    /// longer ago than that are deleted.
    pub async fn rotate_key(&self, actor: &str) -> Result<KeyInfo, OAuthError> {
        let now = self.now();
        let key = keys::generate()?;
        let new = OAuthKeyNew {
            kid: key.kid.clone(),
            algorithm: keys::SIGNING_ALGORITHM.into(),
            private_key: key.private_key,
            public_jwk: key.public_jwk.to_string(),
            created_at: time_text(now),
        };
        let retired = self
            .store
            .rotate_oauth_key(
                actor,
                &new,
                &time_text(now),
                &time_text(now - retired_key_grace()),
            )
            .await?;
        self.trace(&TraceEvent::OAuthKeyCreated {
            kid: key.kid.clone(),
            retired,
        });
        self.reload().await?;
        self.keys()
            .await?
            .into_iter()
            .find(|k| k.kid == key.kid)
            .ok_or_else(|| OAuthError::Key("the new key was not stored".into()))
    }

    /// Revoke-all: every refresh token of the user, and every access token issued to the user
    /// up to now (the same second included). Returns the number of refresh-token families.
    pub async fn revoke_user(&self, actor: &str, userid: &str) -> Result<u64, OAuthError> {
        let families = self
            .store
            .revoke_user_oauth(actor, userid, &time_text(self.now()))
            .await?;
        self.trace(&TraceEvent::OAuthTokensRevoked {
            userid: userid.into(),
            what: format!("every token (revoke-all by {actor}; {families} refresh-token families)"),
        });
        self.reload().await?;
        Ok(families)
    }

    /// The registered clients.
    pub async fn list_clients(&self) -> Result<Vec<OAuthClient>, OAuthError> {
        Ok(self.store.list_oauth_clients().await?)
    }

    /// The external issuers whose tokens are accepted.
    pub async fn list_issuers(&self) -> Result<Vec<OAuthIssuer>, OAuthError> {
        Ok(self.store.list_oauth_issuers().await?)
    }

    /// Accepts tokens of another issuer, verified against its JWKS (every key must be a usable
    /// public key); replaces the issuer's entry if it exists.
    pub async fn put_issuer(
        &self,
        actor: &str,
        new: &OAuthIssuerNew,
    ) -> Result<OAuthIssuer, OAuthError> {
        switchboard_store::validate::oauth_issuer(new)?;
        if new.issuer == self.issuer() {
            return Err(switchboard_store::StoreError::invalid(
                "issuer",
                "this is this cluster's own issuer",
            )
            .into());
        }
        keys::parse_jwks(&new.jwks)?;
        let issuer = self.store.put_oauth_issuer(actor, new).await?;
        self.reload().await?;
        Ok(issuer)
    }

    /// Stops accepting another issuer's tokens.
    pub async fn delete_issuer(&self, actor: &str, issuer: &str) -> Result<(), OAuthError> {
        self.store.delete_oauth_issuer(actor, issuer).await?;
        self.reload().await
    }
}
