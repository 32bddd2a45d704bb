//! The API's error responses: every failure is a JSON object `{"error", "message", "field"?}`
//! with a status that tells bad input (400/404/409/422) from the server's own faults (500).

use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde::Serialize;
use switchboard_store::StoreError;
use utoipa::ToSchema;

/// The body of every error response.
#[derive(Debug, Serialize, ToSchema)]
pub struct ErrorBody {
    /// Stable code: bad_json, invalid, not_found, conflict, query_refused, unauthorized,
    /// payload_too_large, internal.
    pub error: &'static str,
    /// What went wrong and how to fix it.
    pub message: String,
    /// The offending field, when one is to blame.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub field: Option<String>,
}

/// An error the API answers with.
#[derive(Debug)]
pub struct ApiError {
    pub status: StatusCode,
    pub body: ErrorBody,
}

impl ApiError {
    pub fn new(status: StatusCode, error: &'static str, message: impl Into<String>) -> Self {
        ApiError {
            status,
            body: ErrorBody {
                error,
                message: message.into(),
                field: None,
            },
        }
    }

    pub fn invalid(field: impl Into<String>, message: impl Into<String>) -> Self {
        let mut e = ApiError::new(StatusCode::UNPROCESSABLE_ENTITY, "invalid", message);
        e.body.field = Some(field.into());
        e
    }

    pub fn unauthorized(message: impl Into<String>) -> Self {
        ApiError::new(StatusCode::UNAUTHORIZED, "unauthorized", message)
    }

    pub fn internal(message: impl Into<String>) -> Self {
        ApiError::new(StatusCode::INTERNAL_SERVER_ERROR, "internal", message)
    }
}

impl From<StoreError> for ApiError {
    fn from(e: StoreError) -> Self {
        let message = e.to_string();
        match e {
            StoreError::Invalid { field, .. } => ApiError::invalid(field, message),
            StoreError::NotFound { .. } => {
                ApiError::new(StatusCode::NOT_FOUND, "not_found", message)
            }
            StoreError::Conflict { .. } => ApiError::new(StatusCode::CONFLICT, "conflict", message),
            StoreError::Query(_) => {
                ApiError::new(StatusCode::BAD_REQUEST, "query_refused", message)
            }
            other => {
                tracing::error!(error = %other, "store failure");
                ApiError::internal("the database failed; see the node's log")
            }
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let mut response = (self.status, Json(self.body)).into_response();
        if self.status == StatusCode::PAYLOAD_TOO_LARGE {
            // The rest of the body was not read: this connection cannot carry another request.
            response.headers_mut().insert(
                axum::http::header::CONNECTION,
                axum::http::HeaderValue::from_static("close"),
            );
        }
        if self.status == StatusCode::UNAUTHORIZED {
            response.headers_mut().insert(
                axum::http::header::WWW_AUTHENTICATE,
                axum::http::HeaderValue::from_static(
                    "Bearer realm=\"switchboard\", Basic realm=\"switchboard\"",
                ),
            );
        }
        response
    }
}

/// Result of an API handler.
pub type ApiResult<T> = Result<T, ApiError>;
