//! The authorization endpoint's browser login (RFC 6749 §4.1, PKCE S256 required):
//! `GET /oauth/authorize` checks the request and shows a sign-in form; `POST` checks the
//! password through the authenticator and redirects to the client with a single-use code.
//!
//! The form carries the request's parameters and a CSRF token: `<expiry>.<MAC>` over those
//! parameters, the expiry and a random value also set as a `__Host-` cookie (SameSite=Strict).
//! The MAC key derives from the cluster's signing keys, so any node can check a form another
//! node served. Everything echoed into HTML is escaped. An unknown client or redirect URI gets
//! an error page, never a redirect (RFC 6749 §4.1.2.1).

use std::sync::Arc;

use axum::extract::{RawQuery, State};
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use rand::RngCore;
use switchboard_authn::AuthFailure;
use switchboard_oauth::{Authorization, AuthorizeError, GrantError};

use super::form::{self, Form};
use super::FormBody;
use crate::ApiState;

const COOKIE: &str = "__Host-sb_oauth_csrf";
/// How long a sign-in form may be submitted (seconds).
const FORM_LIFETIME: i64 = 600;

/// `&`, `<`, `>`, `"` and `'` as entities: safe in text and in quoted attributes.
pub fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

fn html(status: StatusCode, body: String) -> Response {
    let mut response = (status, body).into_response();
    let h = response.headers_mut();
    h.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/html; charset=utf-8"),
    );
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    h.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    h.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(
            "default-src 'none'; style-src 'unsafe-inline'; frame-ancestors 'none'; base-uri 'none'",
        ),
    );
    h.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("no-referrer"),
    );
    h.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    response
}

const STYLE: &str = "body{font-family:sans-serif;max-width:26em;margin:4em auto;color:#222}\
label{display:block;margin-top:1em}input{width:100%;padding:.4em;box-sizing:border-box}\
button{margin-top:1.5em;padding:.5em 2em}.error{color:#a00}";

fn page(title: &str, content: &str) -> String {
    format!(
        "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\
         <meta name=\"viewport\" content=\"width=device-width\"><title>{}</title>\
         <style>{STYLE}</style></head><body><h1>{}</h1>{content}</body></html>\n",
        escape(title),
        escape(title)
    )
}

fn error_page(status: StatusCode, message: &str) -> Response {
    html(
        status,
        page(
            "Sign-in failed",
            &format!(
                "<p class=\"error\">{}</p><p>Start the sign-in again from your application.</p>",
                escape(message)
            ),
        ),
    )
}

/// The parts the CSRF MAC covers.
fn bound_parts<'a>(nonce: &'a str, expiry: &'a str, a: &'a Authorization) -> Vec<&'a str> {
    vec![
        nonce,
        expiry,
        &a.client.client_id,
        &a.redirect_uri,
        &a.code_challenge,
        a.state.as_deref().unwrap_or(""),
        &a.scope,
        a.device.as_deref().unwrap_or(""),
    ]
}

fn cookie_nonce(headers: &HeaderMap) -> Option<String> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|c| c.trim().split_once('='))
        .find(|(name, _)| *name == COOKIE)
        .map(|(_, value)| value.to_owned())
        .filter(|v| v.len() == 43)
}

fn new_nonce() -> String {
    let mut bytes = [0u8; 32];
    rand::rngs::OsRng.fill_bytes(&mut bytes);
    URL_SAFE_NO_PAD.encode(bytes)
}

fn hidden(name: &str, value: Option<&str>) -> String {
    match value {
        Some(v) => format!(
            "<input type=\"hidden\" name=\"{name}\" value=\"{}\">",
            escape(v)
        ),
        None => String::new(),
    }
}

/// The sign-in form for a valid request; `message` shows why the last attempt failed.
fn login_form(
    s: &ApiState,
    a: &Authorization,
    nonce: &str,
    username: &str,
    message: Option<&str>,
) -> Response {
    let expiry = (s.oauth.authenticator().clock().now() + FORM_LIFETIME).to_string();
    let Some(mac) = s.oauth.bind_form(&bound_parts(nonce, &expiry, a)) else {
        return error_page(
            StatusCode::INTERNAL_SERVER_ERROR,
            "the server has no usable signing key",
        );
    };
    let mut fields = String::new();
    for (name, value) in [
        ("response_type", Some("code")),
        ("client_id", Some(a.client.client_id.as_str())),
        ("redirect_uri", Some(a.redirect_uri.as_str())),
        ("code_challenge", Some(a.code_challenge.as_str())),
        ("code_challenge_method", Some("S256")),
        ("scope", Some(a.scope.as_str())),
        ("state", a.state.as_deref()),
        ("device", a.device.as_deref()),
        ("csrf", Some(&format!("{expiry}.{mac}"))),
    ] {
        fields.push_str(&hidden(name, value));
    }
    let device = a
        .device
        .as_deref()
        .map(|d| format!("<p>Device: <b>{}</b></p>", escape(d)))
        .unwrap_or_default();
    let error = message
        .map(|m| format!("<p class=\"error\" role=\"alert\">{}</p>", escape(m)))
        .unwrap_or_default();
    let content = format!(
        "<p><b>{}</b> asks to sign you in (scope: {}).</p>{device}{error}\
         <form method=\"post\" action=\"/oauth/authorize\">{fields}\
         <label for=\"username\">User ID</label>\
         <input id=\"username\" name=\"username\" autocomplete=\"username\" required value=\"{}\">\
         <label for=\"password\">Password</label>\
         <input id=\"password\" name=\"password\" type=\"password\" autocomplete=\"current-password\" required>\
         <button type=\"submit\">Sign in</button></form>",
        escape(&a.client.name),
        escape(&a.scope),
        escape(username),
    );
    let mut response = html(StatusCode::OK, page("Switchboard sign-in", &content));
    let cookie = format!(
        "{COOKIE}={nonce}; Path=/; Secure; HttpOnly; SameSite=Strict; Max-Age={FORM_LIFETIME}"
    );
    if let Ok(value) = HeaderValue::from_str(&cookie) {
        response.headers_mut().insert(header::SET_COOKIE, value);
    }
    response
}

/// 303 to the client's redirect URI with `params` (and `iss`, RFC 9207) added to its query.
fn redirect(s: &ApiState, redirect_uri: &str, params: &[(&str, &str)]) -> Response {
    let Ok(mut url) = url::Url::parse(redirect_uri) else {
        return error_page(StatusCode::BAD_REQUEST, "the redirect URI is not a URI");
    };
    {
        let mut query = url.query_pairs_mut();
        for (name, value) in params {
            query.append_pair(name, value);
        }
        query.append_pair("iss", &s.oauth.issuer());
    }
    let mut response = StatusCode::SEE_OTHER.into_response();
    if let Ok(location) = HeaderValue::from_str(url.as_str()) {
        response.headers_mut().insert(header::LOCATION, location);
    }
    response
        .headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    response
}

fn redirect_error(
    s: &ApiState,
    redirect_uri: &str,
    state: Option<&str>,
    error: &GrantError,
) -> Response {
    let mut params = vec![
        ("error", error.code.as_str()),
        ("error_description", error.description.as_str()),
    ];
    if let Some(state) = state {
        params.push(("state", state));
    }
    redirect(s, redirect_uri, &params)
}

/// Checks the request; an answer (error page or error redirect) when it is refused.
async fn checked(s: &ApiState, form: &Form) -> Result<Authorization, Response> {
    let request = form::authorization_request(form);
    s.oauth
        .check_authorization(&request)
        .await
        .map_err(|e| match e {
            AuthorizeError::NoRedirect(message) => error_page(StatusCode::BAD_REQUEST, &message),
            AuthorizeError::Redirect {
                redirect_uri,
                state,
                error,
            } => redirect_error(s, &redirect_uri, state.as_deref(), &error),
        })
}

/// `GET /oauth/authorize`: the sign-in form.
pub async fn show(State(s): State<Arc<ApiState>>, RawQuery(query): RawQuery) -> Response {
    let form = match Form::parse(query.unwrap_or_default().as_bytes()) {
        Ok(f) => f,
        Err(e) => return error_page(StatusCode::BAD_REQUEST, &e.to_string()),
    };
    match checked(&s, &form).await {
        Ok(authorization) => login_form(&s, &authorization, &new_nonce(), "", None),
        Err(answer) => answer,
    }
}

/// `POST /oauth/authorize`: the submitted sign-in form.
pub async fn submit(
    State(s): State<Arc<ApiState>>,
    headers: HeaderMap,
    FormBody(body): FormBody,
) -> Response {
    let form = match Form::parse(&body) {
        Ok(f) => f,
        Err(e) => return error_page(StatusCode::BAD_REQUEST, &e.to_string()),
    };
    let authorization = match checked(&s, &form).await {
        Ok(a) => a,
        Err(answer) => return answer,
    };
    let expired = || {
        error_page(
            StatusCode::BAD_REQUEST,
            "this sign-in form has expired or was not sent by this server",
        )
    };
    let Some(nonce) = cookie_nonce(&headers) else {
        return expired();
    };
    let Some((expiry, mac)) = form.get("csrf").and_then(|c| c.split_once('.')) else {
        return expired();
    };
    let now = s.oauth.authenticator().clock().now();
    let fresh = expiry.parse::<i64>().is_ok_and(|e| e >= now);
    if !fresh
        || !s
            .oauth
            .check_form(&bound_parts(&nonce, expiry, &authorization), mac)
    {
        return expired();
    }
    let username = form.get("username").unwrap_or("");
    let password = form.get("password").unwrap_or("");
    if username.is_empty() || password.is_empty() {
        return login_form(
            &s,
            &authorization,
            &nonce,
            username,
            Some("enter your user ID and password"),
        );
    }
    let user = match s
        .oauth
        .authenticator()
        .authenticate(username, password)
        .await
    {
        Ok(user) => user,
        Err(AuthFailure::Store(_)) => {
            return error_page(
                StatusCode::INTERNAL_SERVER_ERROR,
                "the server failed; try again later",
            )
        }
        Err(failure) => {
            let message = if failure.is_bad_credentials() {
                "wrong user ID or password"
            } else {
                "this account cannot sign in now (locked or disabled); contact your administrator"
            };
            return login_form(&s, &authorization, &nonce, username, Some(message));
        }
    };
    match s.oauth.issue_code(&authorization, &user.userid).await {
        Ok(code) => {
            let mut params = vec![("code", code.as_str())];
            if let Some(state) = authorization.state.as_deref() {
                params.push(("state", state));
            }
            redirect(&s, &authorization.redirect_uri, &params)
        }
        Err(error) => redirect_error(
            &s,
            &authorization.redirect_uri,
            authorization.state.as_deref(),
            &error,
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escaping() {
        assert_eq!(
            escape("<script>alert('x')</script> & \"y\""),
            "&lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt; &amp; &quot;y&quot;"
        );
    }

    #[test]
    fn cookie_found_among_others() {
        let mut h = HeaderMap::new();
        let nonce = new_nonce();
        h.insert(
            header::COOKIE,
            format!("a=b; {COOKIE}={nonce}; c=d").parse().unwrap(),
        );
        assert_eq!(cookie_nonce(&h), Some(nonce));
        h.insert(header::COOKIE, format!("{COOKIE}=short").parse().unwrap());
        assert_eq!(cookie_nonce(&h), None);
    }
}
