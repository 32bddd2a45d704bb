//! The OAuth service's errors: [`TokenError`] (why an access token is refused; the SIP
//! registrar and CTI branch on it), [`GrantError`] (an RFC 6749 §5.2 error of the token
//! endpoint) and [`OAuthError`] (an administrative operation failed).

use std::fmt;

/// Why [`OAuthService::verify_access_token`](crate::OAuthService::verify_access_token) refused
/// a token. `Display` is a short reason for traces; it never contains the token.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum TokenError {
    /// Not a JWS compact serialisation with a JSON header and claims of the right types.
    #[error("malformed token")]
    Malformed,
    /// The header names an algorithm that is not accepted (`none`, `HS256`, …) or that does
    /// not match the key's.
    #[error("algorithm {0} not allowed")]
    DisallowedAlgorithm(String),
    /// No key of the token's issuer has this `kid`.
    #[error("unknown signing key (kid {0:?})")]
    UnknownKey(String),
    /// The signature does not verify.
    #[error("bad signature")]
    BadSignature,
    /// The issuer is neither this cluster nor a configured external issuer.
    #[error("wrong issuer")]
    WrongIssuer,
    /// The audience does not include the one expected for the issuer.
    #[error("wrong audience")]
    WrongAudience,
    /// Past `exp` (beyond the leeway).
    #[error("token expired")]
    Expired,
    /// Before `nbf` or `iat` (beyond the leeway).
    #[error("token not yet valid")]
    NotYetValid,
    /// Revoked: its refresh-token family, itself (by `jti`), or every token of its user
    /// (revoke-all); or the user is disabled or deleted.
    #[error("token revoked")]
    Revoked,
}

/// An error code of RFC 6749 §5.2 (token endpoint) and §4.1.2.1 (authorization endpoint).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum GrantErrorCode {
    InvalidRequest,
    InvalidClient,
    InvalidGrant,
    UnauthorizedClient,
    UnsupportedGrantType,
    InvalidScope,
    AccessDenied,
    UnsupportedResponseType,
    /// The server failed (database down, signing key unusable).
    ServerError,
}

impl GrantErrorCode {
    /// The code as RFC 6749 spells it.
    pub fn as_str(self) -> &'static str {
        match self {
            GrantErrorCode::InvalidRequest => "invalid_request",
            GrantErrorCode::InvalidClient => "invalid_client",
            GrantErrorCode::InvalidGrant => "invalid_grant",
            GrantErrorCode::UnauthorizedClient => "unauthorized_client",
            GrantErrorCode::UnsupportedGrantType => "unsupported_grant_type",
            GrantErrorCode::InvalidScope => "invalid_scope",
            GrantErrorCode::AccessDenied => "access_denied",
            GrantErrorCode::UnsupportedResponseType => "unsupported_response_type",
            GrantErrorCode::ServerError => "server_error",
        }
    }
}

impl fmt::Display for GrantErrorCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A refused token or authorization request: the RFC 6749 code and a description for the
/// client (no secret in it; the trace says more).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{code}: {description}")]
pub struct GrantError {
    pub code: GrantErrorCode,
    pub description: String,
    /// The request parameter at fault, when one is.
    pub field: Option<&'static str>,
}

impl GrantError {
    pub fn new(code: GrantErrorCode, description: impl Into<String>) -> GrantError {
        GrantError {
            code,
            description: description.into(),
            field: None,
        }
    }

    /// `invalid_request` naming the parameter at fault.
    pub fn invalid_request(field: &'static str, description: impl Into<String>) -> GrantError {
        GrantError {
            code: GrantErrorCode::InvalidRequest,
            description: description.into(),
            field: Some(field),
        }
    }

    pub fn invalid_grant(description: impl Into<String>) -> GrantError {
        GrantError::new(GrantErrorCode::InvalidGrant, description)
    }

    pub(crate) fn server(e: impl fmt::Display) -> GrantError {
        tracing::error!(error = %e, "OAuth server error");
        GrantError::new(
            GrantErrorCode::ServerError,
            "the server failed; see the node's log",
        )
    }
}

/// An administrative OAuth operation failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum OAuthError {
    /// The store refused the change (invalid input, missing object) or failed.
    #[error(transparent)]
    Store(#[from] switchboard_store::StoreError),
    /// A key could not be generated or read.
    #[error("signing key: {0}")]
    Key(String),
}
