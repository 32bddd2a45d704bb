//! The grants and what surrounds them: the request and answer types of the token,
//! authorization, revocation and introspection endpoints (parsed by the HTTP layer into these),
//! and what every grant shares — client lookup, device ownership, signing, issuing. The grants
//! themselves are in `token.rs`, the authorization endpoint's checks and codes in
//! `authorize.rs`, revocation and introspection in `revocation.rs`. Every refusal is an
//! RFC 6749 [`GrantError`] and a trace line.

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use rand::rngs::OsRng;
use rand::RngCore;
use switchboard_authn::AuthFailure;
use switchboard_store::model::{OAuthClient, OAuthClientKind};
use switchboard_store::oauth::{
    CodeRedemption, OAuthCodeNew, RefreshRotation, RefreshTokenNew, RefreshTokenRow,
};
use switchboard_store::{time_text, unix_of, StoreError};
use switchboard_trace::TraceEvent;

use crate::clients::{self, constant_time_eq};
use crate::error::{GrantError, GrantErrorCode};
use crate::state::{max_access_ttl, settings_of, Settings, Snapshot};
use crate::verify::{Claims, VerifiedToken, LEEWAY};
use crate::OAuthService;

mod authorize;
mod revocation;
mod token;

/// Prefix of refresh tokens (recognisable by secret scanners).
pub const REFRESH_PREFIX: &str = "sbr_";
/// Prefix of authorization codes.
pub const CODE_PREFIX: &str = "sbc_";
/// How long an authorization code can be redeemed (seconds).
pub const CODE_LIFETIME: i64 = 60;

/// `grant_type=password` (RFC 6749 §4.3).
#[derive(Clone)]
pub struct PasswordGrant {
    pub client_id: String,
    pub username: String,
    pub password: String,
    pub scope: Option<String>,
    /// Bind the token to this device (its owner must be the user).
    pub device: Option<String>,
}

/// `grant_type=authorization_code` (RFC 6749 §4.1.3, RFC 7636 §4.5).
#[derive(Clone)]
pub struct CodeGrant {
    pub client_id: String,
    pub code: String,
    pub redirect_uri: String,
    pub code_verifier: String,
}

/// `grant_type=refresh_token` (RFC 6749 §6).
#[derive(Clone)]
pub struct RefreshGrant {
    pub client_id: String,
    pub refresh_token: String,
    pub scope: Option<String>,
}

/// What a successful grant returns.
#[derive(Clone)]
pub struct IssuedTokens {
    pub access_token: String,
    /// Seconds until the access token expires.
    pub expires_in: i64,
    pub refresh_token: Option<String>,
    pub scope: String,
    /// The access token's claims, as verification will see them.
    pub claims: VerifiedToken,
}

impl std::fmt::Debug for IssuedTokens {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("IssuedTokens")
            .field("access_token_len", &self.access_token.len())
            .field("expires_in", &self.expires_in)
            .field("refresh_token", &self.refresh_token.is_some())
            .field("claims", &self.claims)
            .finish()
    }
}

/// The authorization endpoint's parameters (RFC 6749 §4.1.1, RFC 7636 §4.3), as received.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AuthorizationRequest {
    pub response_type: Option<String>,
    pub client_id: Option<String>,
    pub redirect_uri: Option<String>,
    pub scope: Option<String>,
    pub state: Option<String>,
    pub code_challenge: Option<String>,
    pub code_challenge_method: Option<String>,
    pub device: Option<String>,
}

/// A valid authorization request.
#[derive(Debug, Clone, PartialEq)]
pub struct Authorization {
    pub client: OAuthClient,
    pub redirect_uri: String,
    pub scope: String,
    pub state: Option<String>,
    pub code_challenge: String,
    pub device: Option<String>,
}

/// Why an authorization request is refused.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AuthorizeError {
    /// The client or the redirect URI cannot be trusted: tell the user, do not redirect
    /// (RFC 6749 §4.1.2.1).
    NoRedirect(String),
    /// Redirect back to the client with `error`, `error_description` and `state`.
    Redirect {
        redirect_uri: String,
        state: Option<String>,
        error: GrantError,
    },
}

/// What a revocation request revoked (RFC 7009 answers 200 whatever it is).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RevokeOutcome {
    /// A refresh token: its whole family, and the access tokens issued with it.
    RefreshFamily { userid: String, family: String },
    /// One access token, by its `jti`.
    AccessToken { userid: String },
    /// Unknown, expired, already revoked or not this cluster's.
    Nothing,
}

/// An active refresh token, as introspection describes it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RefreshTokenInfo {
    pub userid: String,
    pub client_id: String,
    pub scope: String,
    pub device: Option<String>,
    pub issued_at: i64,
    pub expires_at: i64,
}

/// The answer of introspection (RFC 7662).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Introspection {
    Inactive,
    Access(VerifiedToken),
    Refresh(RefreshTokenInfo),
}

fn random_secret(prefix: &str) -> String {
    let mut bytes = [0u8; 32];
    OsRng.fill_bytes(&mut bytes);
    format!("{prefix}{}", URL_SAFE_NO_PAD.encode(bytes))
}

/// Whether `s` has the shape of a secret made by [`random_secret`] with `prefix`.
fn looks_like(s: &str, prefix: &str) -> bool {
    s.strip_prefix(prefix).is_some_and(|body| {
        body.len() == 43 && URL_SAFE_NO_PAD.decode(body).is_ok_and(|b| b.len() == 32)
    })
}

fn hash(secret: &str) -> String {
    switchboard_auth::token::hash(secret)
}

fn device_name_ok(d: &str) -> bool {
    !d.is_empty()
        && d.len() <= 50
        && d.chars()
            .all(|c| c.is_ascii_alphanumeric() || "._-".contains(c))
}

const LOCKED_OR_DISABLED: &str = "the account is locked or disabled; contact your administrator";

/// What the token endpoint tells the client about a failed authentication.
fn refused(failure: AuthFailure) -> GrantError {
    match failure {
        AuthFailure::Store(e) => GrantError::server(e),
        f if f.is_bad_credentials() => GrantError::invalid_grant("wrong user name or password"),
        f if f.is_directory_fault() => GrantError::invalid_grant(
            "the user's directory cannot check passwords now; contact your administrator",
        ),
        _ => GrantError::invalid_grant(LOCKED_OR_DISABLED),
    }
}

fn store_error(e: StoreError) -> GrantError {
    GrantError::server(e)
}

impl OAuthService {
    async fn client(&self, client_id: &str) -> Result<OAuthClient, GrantError> {
        if client_id.is_empty() {
            return Err(GrantError::invalid_request(
                "client_id",
                "client_id is required",
            ));
        }
        self.store
            .get_oauth_client(client_id)
            .await
            .map_err(store_error)?
            .ok_or_else(|| {
                GrantError::new(
                    GrantErrorCode::InvalidClient,
                    "unknown client_id; see GET /api/oauth/clients",
                )
            })
    }

    /// The device's owner must be the user.
    async fn check_device(
        &self,
        device: &str,
        userid: &str,
        code: GrantErrorCode,
    ) -> Result<(), GrantError> {
        if !device_name_ok(device) {
            return Err(GrantError::invalid_request(
                "device",
                "a device name: 1 to 50 characters from A-Z a-z 0-9 . _ -",
            ));
        }
        let owner = match self.store.get_device(device).await {
            Ok(d) => d.owner,
            Err(StoreError::NotFound { .. }) => None,
            Err(e) => return Err(store_error(e)),
        };
        if owner.as_deref() == Some(userid) {
            Ok(())
        } else {
            Err(GrantError::new(
                code,
                format!("device '{device}' does not exist or is not owned by '{userid}'"),
            ))
        }
    }

    fn refresh_lifetime(settings: &Settings, kind: OAuthClientKind) -> i64 {
        let days = match kind {
            OAuthClientKind::Phone => settings.phone_refresh_days,
            OAuthClientKind::Jabber | OAuthClientKind::App => settings.jabber_refresh_days,
        };
        days * 86_400
    }

    /// The parameters as they are now (parameters are read when used, so that a change takes
    /// effect at the next request on every node).
    async fn settings_now(&self) -> Result<Settings, GrantError> {
        let params = self.store.list_params().await.map_err(store_error)?;
        Ok(settings_of(&params))
    }

    /// Signs an access token.
    #[allow(clippy::too_many_arguments)]
    fn sign(
        &self,
        snapshot: &Snapshot,
        settings: &Settings,
        now: i64,
        userid: &str,
        client_id: &str,
        scope: &str,
        device: Option<&str>,
        family: Option<&str>,
        jti: &str,
    ) -> Result<(String, VerifiedToken, String), GrantError> {
        let signer = snapshot.signer.as_ref().ok_or_else(|| {
            GrantError::server("no usable signing key (is secret.key the same on every node?)")
        })?;
        let exp = now + settings.access_ttl;
        let claims = Claims {
            iss: &snapshot.verifier.issuer,
            sub: userid,
            aud: &snapshot.audience,
            scope,
            iat: now,
            nbf: now,
            exp,
            jti,
            client_id,
            device,
            fam: family,
        };
        let mut header = jsonwebtoken::Header::new(jsonwebtoken::Algorithm::ES256);
        header.kid = Some(signer.kid.clone());
        header.typ = Some("JWT".into());
        let token =
            jsonwebtoken::encode(&header, &claims, &signer.key).map_err(GrantError::server)?;
        let verified = VerifiedToken {
            subject: userid.into(),
            issuer: snapshot.verifier.issuer.clone(),
            audience: vec![snapshot.audience.clone()],
            scope: scope.into(),
            client_id: Some(client_id.into()),
            device: device.map(str::to_owned),
            jti: Some(jti.into()),
            family: family.map(str::to_owned),
            issued_at: now,
            expires_at: exp,
        };
        Ok((token, verified, signer.kid.clone()))
    }

    /// Issues an access token, with a new refresh token (new family, or `family`) when the
    /// refresh login flow is on and `with_refresh`.
    #[allow(clippy::too_many_arguments)]
    async fn issue(
        &self,
        grant: &str,
        userid: &str,
        client: &OAuthClient,
        scope: &str,
        device: Option<&str>,
        family: Option<String>,
        jti: Option<String>,
    ) -> Result<IssuedTokens, GrantError> {
        let snapshot = self.state.load();
        let settings = self.settings_now().await?;
        let now = self.now();
        let refresh = if settings.refresh_flow {
            let token = random_secret(REFRESH_PREFIX);
            let row = RefreshTokenNew {
                token_hash: hash(&token),
                family_id: family.unwrap_or_else(|| uuid::Uuid::new_v4().to_string()),
                userid: userid.into(),
                device: device.map(str::to_owned),
                client_id: client.client_id.clone(),
                scope: scope.into(),
                created_at: time_text(now),
                expires_at: time_text(now + Self::refresh_lifetime(&settings, client.kind)),
            };
            self.store
                .insert_refresh_token(&row)
                .await
                .map_err(store_error)?;
            Some((token, row.family_id))
        } else {
            None
        };
        let jti = jti.unwrap_or_else(|| uuid::Uuid::new_v4().to_string());
        let family = refresh.as_ref().map(|(_, f)| f.as_str());
        if !snapshot
            .revocations
            .users
            .get(userid)
            .is_some_and(|u| u.enabled)
        {
            // A user created or re-enabled since the last reload: learn of it now, or the
            // token would not verify here until the next one.
            self.reload().await.map_err(GrantError::server)?;
        }
        let (access_token, claims, kid) = self.sign(
            &snapshot,
            &settings,
            now,
            userid,
            &client.client_id,
            scope,
            device,
            family,
            &jti,
        )?;
        self.trace(&TraceEvent::OAuthTokenIssued {
            userid: userid.into(),
            client_id: client.client_id.clone(),
            grant: grant.into(),
            device: device.map(str::to_owned),
            kid,
            expires_in: settings.access_ttl.max(0) as u64,
            refresh: refresh.is_some(),
        });
        Ok(IssuedTokens {
            access_token,
            expires_in: settings.access_ttl,
            refresh_token: refresh.map(|(t, _)| t),
            scope: scope.into(),
            claims,
        })
    }

    fn traced<T>(
        &self,
        grant: &str,
        client_id: &str,
        outcome: Result<T, GrantError>,
    ) -> Result<T, GrantError> {
        if let Err(e) = &outcome {
            self.trace(&TraceEvent::OAuthGrantRefused {
                grant: grant.into(),
                client_id: client_id.chars().take(128).collect(),
                error: e.code.as_str().into(),
                reason: e.description.clone(),
            });
        }
        outcome
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secrets_have_a_recognisable_shape() {
        let r = random_secret(REFRESH_PREFIX);
        assert!(looks_like(&r, REFRESH_PREFIX) && !looks_like(&r, CODE_PREFIX));
        assert_eq!(r.len(), 4 + 43);
        assert_ne!(r, random_secret(REFRESH_PREFIX));
        assert!(!looks_like("sbr_short", REFRESH_PREFIX));
        assert!(!looks_like(&format!("{r}x"), REFRESH_PREFIX));
    }

    #[test]
    fn failures_tell_the_client_little() {
        assert_eq!(
            refused(AuthFailure::UnknownUser),
            refused(AuthFailure::WrongPassword)
        );
        let locked = refused(AuthFailure::LockedOut {
            until: time::OffsetDateTime::UNIX_EPOCH,
        });
        assert_eq!(locked, refused(AuthFailure::UserDisabled));
        assert_eq!(locked.code, GrantErrorCode::InvalidGrant);
        assert!(!locked.description.contains("1970"));
        // LDAP failures: the same three answers, by what the user can do about them.
        use switchboard_authn::LdapFailure;
        assert_eq!(
            refused(AuthFailure::Ldap(LdapFailure::WrongPassword)),
            refused(AuthFailure::WrongPassword)
        );
        assert_eq!(
            refused(AuthFailure::Ldap(LdapFailure::AccountLockedOut)),
            locked
        );
        let down = refused(AuthFailure::Ldap(LdapFailure::Unreachable {
            server: "ldap://10.10.10.10:3268".into(),
            reason: "refused".into(),
        }));
        assert!(down.description.contains("directory"), "{down:?}");
        assert!(!down.description.contains("10.10.10.10"));
    }
}
