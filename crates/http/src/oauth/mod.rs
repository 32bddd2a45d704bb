//! The OAuth authorization server's HTTP face (SPEC §4): the token endpoint (RFC 6749), the
//! browser login of the authorization-code flow with PKCE (`authorize.rs`), revocation
//! (RFC 7009), introspection (RFC 7662, administrators only), the JWKS and the RFC 8414
//! metadata; and the administrators' `/api/oauth/…` routes (`admin.rs`). The protocol logic is
//! `switchboard_oauth`'s; this module parses forms (`form.rs`) and shapes answers.
//!
//! Errors of the OAuth endpoints are RFC 6749 §5.2 JSON — `{"error", "error_description"}` —
//! with the API's `message` (the same text) and `field` (the parameter at fault) beside them,
//! and `Cache-Control: no-store`. No token, code or password reaches a trace or a log.

pub mod admin;
mod authorize;
pub mod form;
mod token;

use std::sync::Arc;

use axum::body::Body;
use axum::extract::{FromRequest, Request, State};
use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use serde_json::json;
use switchboard_oauth::{GrantError, GrantErrorCode};

use crate::ApiState;

/// The OAuth routes outside `/api`.
pub fn router(state: Arc<ApiState>) -> Router<Arc<ApiState>> {
    let introspection = Router::new()
        .route("/oauth/introspect", post(token::introspect))
        .layer(axum::middleware::from_fn_with_state(
            state,
            crate::extract::require_admin,
        ));
    Router::new()
        .route("/oauth/token", post(token::token))
        .route("/oauth/revoke", post(token::revoke))
        .route(
            "/oauth/authorize",
            get(authorize::show).post(authorize::submit),
        )
        .route("/oauth/jwks", get(jwks))
        .route("/.well-known/oauth-authorization-server", get(metadata))
        .merge(introspection)
}

/// An RFC 6749 error answer.
#[derive(Debug)]
pub struct OAuthErrorResponse {
    pub error: GrantError,
    /// Overrides the status the error code implies (413 for an oversized body).
    pub status: Option<StatusCode>,
}

impl From<GrantError> for OAuthErrorResponse {
    fn from(error: GrantError) -> Self {
        OAuthErrorResponse {
            error,
            status: None,
        }
    }
}

/// The status of an RFC 6749 error.
pub fn status_of(code: GrantErrorCode) -> StatusCode {
    match code {
        GrantErrorCode::InvalidClient => StatusCode::UNAUTHORIZED,
        GrantErrorCode::ServerError => StatusCode::INTERNAL_SERVER_ERROR,
        _ => StatusCode::BAD_REQUEST,
    }
}

/// `Cache-Control: no-store` and `Pragma: no-cache` (RFC 6749 §5.1).
pub(crate) fn no_store(response: &mut Response) {
    let headers = response.headers_mut();
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    headers.insert(header::PRAGMA, HeaderValue::from_static("no-cache"));
}

impl IntoResponse for OAuthErrorResponse {
    fn into_response(self) -> Response {
        let e = self.error;
        let status = self.status.unwrap_or_else(|| status_of(e.code));
        let mut body = json!({
            "error": e.code.as_str(),
            "error_description": e.description,
            "message": e.description,
        });
        if let Some(field) = e.field {
            body["field"] = json!(field);
        }
        let mut response = (status, Json(body)).into_response();
        no_store(&mut response);
        if status == StatusCode::UNAUTHORIZED {
            response.headers_mut().insert(
                header::WWW_AUTHENTICATE,
                HeaderValue::from_static("Basic realm=\"switchboard-oauth\""),
            );
        }
        if status == StatusCode::PAYLOAD_TOO_LARGE {
            response
                .headers_mut()
                .insert(header::CONNECTION, HeaderValue::from_static("close"));
        }
        response
    }
}

/// An `application/x-www-form-urlencoded` body of at most [`form::MAX_FORM_BYTES`] bytes.
pub struct FormBody(pub axum::body::Bytes);

impl<S: Send + Sync> FromRequest<S> for FormBody {
    type Rejection = OAuthErrorResponse;

    async fn from_request(req: Request, _state: &S) -> Result<Self, Self::Rejection> {
        let form_type = req
            .headers()
            .get(header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .is_some_and(|v| {
                v.split(';').next().is_some_and(|t| {
                    t.trim()
                        .eq_ignore_ascii_case("application/x-www-form-urlencoded")
                })
            });
        if !form_type {
            return Err(GrantError::invalid_request(
                "Content-Type",
                "send the parameters as application/x-www-form-urlencoded (RFC 6749)",
            )
            .into());
        }
        let body: Body = req.into_body();
        axum::body::to_bytes(body, form::MAX_FORM_BYTES)
            .await
            .map(FormBody)
            .map_err(|_| OAuthErrorResponse {
                error: GrantError::invalid_request(
                    "body",
                    format!("the form must be at most {} bytes", form::MAX_FORM_BYTES),
                ),
                status: Some(StatusCode::PAYLOAD_TOO_LARGE),
            })
    }
}

/// `GET /oauth/jwks`: the public keys that verify this cluster's tokens.
async fn jwks(State(s): State<Arc<ApiState>>) -> Response {
    let mut response = Json(json!({ "keys": s.oauth.jwks() })).into_response();
    response.headers_mut().insert(
        header::CACHE_CONTROL,
        HeaderValue::from_static("public, max-age=300"),
    );
    response
}

/// `GET /.well-known/oauth-authorization-server` (RFC 8414).
async fn metadata(State(s): State<Arc<ApiState>>) -> Json<serde_json::Value> {
    let issuer = s.oauth.issuer();
    let mut grants = vec!["authorization_code", "password"];
    if s.oauth.settings().refresh_flow {
        grants.push("refresh_token");
    }
    Json(json!({
        "issuer": issuer,
        "authorization_endpoint": format!("{issuer}/oauth/authorize"),
        "token_endpoint": format!("{issuer}/oauth/token"),
        "revocation_endpoint": format!("{issuer}/oauth/revoke"),
        "introspection_endpoint": format!("{issuer}/oauth/introspect"),
        "jwks_uri": format!("{issuer}/oauth/jwks"),
        "grant_types_supported": grants,
        "response_types_supported": ["code"],
        "response_modes_supported": ["query"],
        "code_challenge_methods_supported": ["S256"],
        "token_endpoint_auth_methods_supported": ["none"],
        "revocation_endpoint_auth_methods_supported": ["none"],
        "scopes_supported": switchboard_oauth::clients::SCOPES,
        "authorization_response_iss_parameter_supported": true,
    }))
}
