//! Request extractors: [`ApiJson`], a JSON body whose errors name the offending field, and the
//! administrator authentication middleware ([`require_admin`]) that puts an [`Actor`] on every
//! authenticated request.

use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::{FromRequest, Request, State};
use axum::http::{header, StatusCode};
use axum::middleware::Next;
use axum::response::Response;
use base64::Engine;
use serde::de::DeserializeOwned;
use switchboard_trace::{Service, TraceEvent};

use crate::error::ApiError;
use crate::ApiState;

/// Largest request body accepted (bytes).
pub const MAX_BODY: usize = 1 << 20;

/// A JSON request body. Syntax errors are 400 `bad_json`; a wrong type, a missing field or an
/// unknown field is 422 `invalid` with the field's path.
pub struct ApiJson<T>(pub T);

impl<S: Send + Sync, T: DeserializeOwned> FromRequest<S> for ApiJson<T> {
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &S) -> Result<Self, Self::Rejection> {
        let json_type = req
            .headers()
            .get(header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .is_some_and(|v| v.starts_with("application/json"));
        if !json_type {
            return Err(ApiError::new(
                StatusCode::UNSUPPORTED_MEDIA_TYPE,
                "bad_json",
                "send the body as JSON with Content-Type: application/json",
            ));
        }
        let bytes = Bytes::from_request(req, state).await.map_err(|_| {
            ApiError::new(
                StatusCode::PAYLOAD_TOO_LARGE,
                "payload_too_large",
                format!("the body must be at most {MAX_BODY} bytes"),
            )
        })?;
        parse_json(&bytes).map(ApiJson)
    }
}

/// Parses `bytes` as `T`, naming the field at fault.
pub fn parse_json<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, ApiError> {
    let mut de = serde_json::Deserializer::from_slice(bytes);
    let value = serde_path_to_error::deserialize::<_, T>(&mut de).map_err(field_error)?;
    de.end().map_err(|e| bad_json(&e))?;
    Ok(value)
}

fn bad_json(e: &serde_json::Error) -> ApiError {
    ApiError::new(
        StatusCode::BAD_REQUEST,
        "bad_json",
        format!("the body is not valid JSON: {e}"),
    )
}

/// The name of the field a serde message quotes after `prefix`, e.g. "unknown field `x`".
fn quoted_field<'a>(message: &'a str, prefix: &str) -> Option<&'a str> {
    message.strip_prefix(prefix)?.split('`').next()
}

fn field_error(e: serde_path_to_error::Error<serde_json::Error>) -> ApiError {
    let inner = e.inner();
    if inner.is_syntax() || inner.is_eof() {
        return bad_json(inner);
    }
    let message = inner.to_string();
    let path = e.path().to_string();
    // serde_path_to_error's path already ends with an unknown field's name, but stops at the
    // parent of a missing one.
    let field = match quoted_field(&message, "missing field `") {
        Some(name) if path == "." => name.to_string(),
        Some(name) => format!("{path}.{name}"),
        None => path,
    };
    ApiError::invalid(field, message)
}

/// The administrator a request acts as; written to the audit log.
#[derive(Debug, Clone)]
pub struct Actor(pub String);

/// Admits requests that carry an admin token (`Authorization: Bearer sbt_…`) or an
/// administrator's user name and password (`Authorization: Basic …`); everything else is 401.
pub async fn require_admin(
    State(state): State<Arc<ApiState>>,
    mut req: Request,
    next: Next,
) -> Result<Response, ApiError> {
    let header = req
        .headers()
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .map(str::to_string);
    let outcome = match header.as_deref() {
        None => Err((None, "no credentials".to_string())),
        Some(h) => authenticate(&state, h).await,
    };
    match outcome {
        Ok((userid, method)) => {
            state.tracer.emit_default(
                Service::Api,
                &TraceEvent::AdminAuthenticated {
                    userid: userid.clone(),
                    method: method.to_string(),
                },
            );
            req.extensions_mut().insert(Actor(userid));
            Ok(next.run(req).await)
        }
        Err((userid, reason)) => {
            state.tracer.emit_default(
                Service::Api,
                &TraceEvent::AdminAuthenticationFailed {
                    userid,
                    reason: reason.clone(),
                },
            );
            Err(ApiError::unauthorized(format!(
                "authentication required ({reason}): send an admin token as 'Authorization: Bearer <token>' or admin credentials as HTTP Basic"
            )))
        }
    }
}

type AuthOutcome = Result<(String, &'static str), (Option<String>, String)>;

async fn authenticate(state: &ApiState, header: &str) -> AuthOutcome {
    let (scheme, value) = header.split_once(' ').unwrap_or((header, ""));
    let value = value.trim();
    if scheme.eq_ignore_ascii_case("bearer") {
        let hash = switchboard_auth::token::hash(value);
        return match state.store.admin_by_token_hash(&hash).await {
            Ok(Some(admin)) => Ok((admin.userid, "token")),
            Ok(None) => Err((None, "unknown token".into())),
            Err(e) => Err((None, format!("store unavailable: {e}"))),
        };
    }
    if scheme.eq_ignore_ascii_case("basic") {
        let decoded = base64::engine::general_purpose::STANDARD
            .decode(value)
            .ok()
            .and_then(|b| String::from_utf8(b).ok());
        let Some((userid, password)) = decoded.as_deref().and_then(|d| d.split_once(':')) else {
            return Err((None, "malformed Basic credentials".into()));
        };
        let userid = userid.to_string();
        let hash = match state.store.admin_password_hash(&userid).await {
            Ok(h) => h,
            Err(e) => return Err((Some(userid), format!("store unavailable: {e}"))),
        };
        let password = password.to_string();
        let ok = match hash {
            Some(hash) => tokio::task::spawn_blocking(move || {
                switchboard_auth::password::verify(&password, &hash)
            })
            .await
            .unwrap_or(false),
            None => false,
        };
        return if ok {
            Ok((userid, "password"))
        } else {
            Err((Some(userid), "wrong user name or password".into()))
        };
    }
    Err((None, format!("unsupported scheme '{scheme}'")))
}
