//! `POST /oauth/token` (RFC 6749 §4.1.3, §4.3, §6), `POST /oauth/revoke` (RFC 7009) and
//! `POST /oauth/introspect` (RFC 7662; administrators only).

use std::sync::Arc;

use axum::extract::State;
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use base64::Engine;
use serde_json::json;
use switchboard_oauth::{GrantError, GrantErrorCode, Introspection, IssuedTokens};

use super::form::{self, TokenRequest};
use super::{no_store, FormBody, OAuthErrorResponse};
use crate::ApiState;

/// The client named by an `Authorization` header: only `Basic` with an empty secret is
/// accepted (every client is public); anything else is `invalid_client`.
fn header_client(headers: &HeaderMap) -> Result<Option<String>, GrantError> {
    let Some(value) = headers.get(header::AUTHORIZATION) else {
        return Ok(None);
    };
    let refused = || {
        GrantError::new(
            GrantErrorCode::InvalidClient,
            "clients are public here: send client_id in the form, without client authentication",
        )
    };
    let value = value.to_str().map_err(|_| refused())?;
    let (scheme, credentials) = value.split_once(' ').ok_or_else(refused)?;
    if !scheme.eq_ignore_ascii_case("basic") {
        return Err(refused());
    }
    let decoded = base64::engine::general_purpose::STANDARD
        .decode(credentials.trim())
        .ok()
        .and_then(|b| String::from_utf8(b).ok())
        .ok_or_else(refused)?;
    match decoded.split_once(':') {
        Some((client, "")) if !client.is_empty() => Ok(Some(client.to_owned())),
        _ => Err(refused()),
    }
}

fn tokens_response(issued: IssuedTokens) -> Response {
    let mut body = json!({
        "access_token": issued.access_token,
        "token_type": "Bearer",
        "expires_in": issued.expires_in,
        "scope": issued.scope,
    });
    if let Some(refresh) = issued.refresh_token {
        body["refresh_token"] = json!(refresh);
    }
    let mut response = Json(body).into_response();
    no_store(&mut response);
    response
}

/// The token endpoint.
pub async fn token(
    State(s): State<Arc<ApiState>>,
    headers: HeaderMap,
    FormBody(body): FormBody,
) -> Result<Response, OAuthErrorResponse> {
    let client = header_client(&headers)?;
    let request = form::parse_token_request(&body, client.as_deref())?;
    let issued = match &request {
        TokenRequest::Password(grant) => s.oauth.password_grant(grant).await?,
        TokenRequest::AuthorizationCode(grant) => s.oauth.authorization_code_grant(grant).await?,
        TokenRequest::RefreshToken(grant) => s.oauth.refresh_grant(grant).await?,
    };
    Ok(tokens_response(issued))
}

fn hint(form: &form::Form) -> Option<&str> {
    form.get("token_type_hint")
}

/// Token revocation: 200 whether or not the token was known.
pub async fn revoke(
    State(s): State<Arc<ApiState>>,
    headers: HeaderMap,
    FormBody(body): FormBody,
) -> Result<Response, OAuthErrorResponse> {
    let client = header_client(&headers)?;
    let (form, token) = form::token_and_hint(&body)?;
    let client_id = form.get("client_id").map(str::to_owned).or(client);
    s.oauth
        .revoke(&token, hint(&form), client_id.as_deref())
        .await?;
    let mut response = StatusCode::OK.into_response();
    no_store(&mut response);
    Ok(response)
}

/// Token introspection: `{"active": false}` for anything not active.
pub async fn introspect(
    State(s): State<Arc<ApiState>>,
    FormBody(body): FormBody,
) -> Result<Response, OAuthErrorResponse> {
    let (form, token) = form::token_and_hint(&body)?;
    let answer = match s.oauth.introspect(&token, hint(&form)).await {
        Introspection::Inactive => json!({ "active": false }),
        Introspection::Access(t) => {
            let mut a = json!({
                "active": true,
                "token_type": "Bearer",
                "scope": t.scope,
                "username": t.subject,
                "sub": t.subject,
                "iss": t.issuer,
                "aud": t.audience,
                "exp": t.expires_at,
                "iat": t.issued_at,
            });
            for (name, value) in [
                ("client_id", t.client_id),
                ("jti", t.jti),
                ("device", t.device),
                ("fam", t.family),
            ] {
                if let Some(v) = value {
                    a[name] = json!(v);
                }
            }
            a
        }
        Introspection::Refresh(r) => {
            let mut a = json!({
                "active": true,
                "token_type": "refresh_token",
                "scope": r.scope,
                "client_id": r.client_id,
                "username": r.userid,
                "sub": r.userid,
                "iss": s.oauth.issuer(),
                "exp": r.expires_at,
                "iat": r.issued_at,
            });
            if let Some(d) = r.device {
                a["device"] = json!(d);
            }
            a
        }
    };
    let mut response = Json(answer).into_response();
    no_store(&mut response);
    Ok(response)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(value: &str) -> HeaderMap {
        let mut h = HeaderMap::new();
        h.insert(header::AUTHORIZATION, value.parse().unwrap());
        h
    }

    #[test]
    fn only_public_clients_in_basic() {
        assert_eq!(header_client(&HeaderMap::new()).unwrap(), None);
        let b = |s: &str| {
            format!(
                "Basic {}",
                base64::engine::general_purpose::STANDARD.encode(s)
            )
        };
        assert_eq!(
            header_client(&headers(&b("jabber:"))).unwrap().as_deref(),
            Some("jabber")
        );
        for refused in [
            b("jabber:secret"),
            b(":"),
            "Bearer sbt_x".into(),
            "Basic !!!".into(),
        ] {
            assert_eq!(
                header_client(&headers(&refused)).unwrap_err().code,
                GrantErrorCode::InvalidClient,
                "{refused}"
            );
        }
    }
}
