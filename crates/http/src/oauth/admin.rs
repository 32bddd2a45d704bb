//! `/api/oauth/…` and `/api/users/{userid}/oauth/revoke`: the administrators' side of the
//! OAuth authorization server — signing keys and their rotation, revoke-all for a user,
//! external issuers, clients.

use std::sync::Arc;

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::{Extension, Json};
use serde::{Deserialize, Serialize};
use switchboard_oauth::{KeyInfo, OAuthError};
use switchboard_store::model::{OAuthClient, OAuthIssuer, OAuthIssuerNew};
use utoipa::ToSchema;

use crate::error::{ApiError, ApiResult, ErrorBody};
use crate::extract::{Actor, ApiJson};
use crate::ApiState;

impl From<OAuthError> for ApiError {
    fn from(e: OAuthError) -> Self {
        match e {
            OAuthError::Store(e) => e.into(),
            other => {
                tracing::error!(error = %other, "OAuth key failure");
                ApiError::internal(
                    "the OAuth signing key could not be made or read; see the node's log",
                )
            }
        }
    }
}

/// A signing key of this cluster (public part only).
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct OAuthKeyView {
    pub kid: String,
    /// `ES256`.
    pub algorithm: String,
    /// `signing` (signs new tokens), `verifying` (retired; verifies the tokens it signed until
    /// they expire) or `expired` (out of the JWKS).
    pub status: String,
    pub created_at: String,
    pub retired_at: Option<String>,
    /// Until when a retired key verifies.
    pub verifies_until: Option<String>,
    /// The public key as a JWK.
    #[schema(value_type = Object)]
    pub public_jwk: serde_json::Value,
}

impl From<KeyInfo> for OAuthKeyView {
    fn from(k: KeyInfo) -> Self {
        OAuthKeyView {
            kid: k.kid,
            algorithm: k.algorithm,
            status: k.status.as_str().into(),
            created_at: k.created_at,
            retired_at: k.retired_at,
            verifies_until: k.verifies_until,
            public_jwk: k.public_jwk,
        }
    }
}

/// What a revoke-all did.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct RevokeAllResult {
    pub userid: String,
    /// Refresh-token families revoked (one per login).
    pub refresh_token_families: u64,
}

/// Every signing key, newest first.
#[utoipa::path(get, path = "/api/oauth/keys", tag = "oauth", responses((status = 200, body = [OAuthKeyView])))]
pub async fn keys(State(s): State<Arc<ApiState>>) -> ApiResult<Json<Vec<OAuthKeyView>>> {
    Ok(Json(
        s.oauth.keys().await?.into_iter().map(Into::into).collect(),
    ))
}

/// Rotates the signing key: a new key signs from now on; the previous one keeps verifying
/// until every token it signed has expired, then leaves the JWKS.
#[utoipa::path(post, path = "/api/oauth/keys/rotate", tag = "oauth",
    responses((status = 201, body = OAuthKeyView)))]
pub async fn rotate(
    State(s): State<Arc<ApiState>>,
    Extension(actor): Extension<Actor>,
) -> ApiResult<(StatusCode, Json<OAuthKeyView>)> {
    let key = s.oauth.rotate_key(&actor.0).await?;
    s.changed(&actor, "rotate", "oauthkey", &key.kid);
    Ok((StatusCode::CREATED, Json(key.into())))
}

/// Revokes every OAuth token of a user: all refresh tokens, and every access token issued up
/// to now.
#[utoipa::path(post, path = "/api/users/{userid}/oauth/revoke", tag = "oauth",
    responses((status = 200, body = RevokeAllResult), (status = 404, body = ErrorBody)))]
pub async fn revoke_user(
    State(s): State<Arc<ApiState>>,
    Extension(actor): Extension<Actor>,
    Path(userid): Path<String>,
) -> ApiResult<Json<RevokeAllResult>> {
    let families = s.oauth.revoke_user(&actor.0, &userid).await?;
    s.changed(&actor, "revoke-all", "oauthrefreshtoken", &userid);
    Ok(Json(RevokeAllResult {
        userid,
        refresh_token_families: families,
    }))
}

/// The external issuers whose access tokens are accepted.
#[utoipa::path(get, path = "/api/oauth/issuers", tag = "oauth", responses((status = 200, body = [OAuthIssuer])))]
pub async fn list_issuers(State(s): State<Arc<ApiState>>) -> ApiResult<Json<Vec<OAuthIssuer>>> {
    Ok(Json(s.oauth.list_issuers().await?))
}

/// Accepts another issuer's tokens, verified against its JWKS (replaces the issuer's entry).
#[utoipa::path(post, path = "/api/oauth/issuers", tag = "oauth", request_body = OAuthIssuerNew,
    responses((status = 200, body = OAuthIssuer), (status = 422, body = ErrorBody)))]
pub async fn put_issuer(
    State(s): State<Arc<ApiState>>,
    Extension(actor): Extension<Actor>,
    ApiJson(new): ApiJson<OAuthIssuerNew>,
) -> ApiResult<Json<OAuthIssuer>> {
    let issuer = s.oauth.put_issuer(&actor.0, &new).await?;
    s.changed(&actor, "put", "oauthissuer", &issuer.issuer);
    Ok(Json(issuer))
}

/// Stops accepting an issuer's tokens (the issuer URL percent-encoded as one path segment).
#[utoipa::path(delete, path = "/api/oauth/issuers/{issuer}", tag = "oauth",
    responses((status = 204), (status = 404, body = ErrorBody)))]
pub async fn delete_issuer(
    State(s): State<Arc<ApiState>>,
    Extension(actor): Extension<Actor>,
    Path(issuer): Path<String>,
) -> ApiResult<StatusCode> {
    s.oauth.delete_issuer(&actor.0, &issuer).await?;
    s.changed(&actor, "delete", "oauthissuer", &issuer);
    Ok(StatusCode::NO_CONTENT)
}

/// The registered OAuth clients (all public).
#[utoipa::path(get, path = "/api/oauth/clients", tag = "oauth", responses((status = 200, body = [OAuthClient])))]
pub async fn clients(State(s): State<Arc<ApiState>>) -> ApiResult<Json<Vec<OAuthClient>>> {
    Ok(Json(s.oauth.list_clients().await?))
}
