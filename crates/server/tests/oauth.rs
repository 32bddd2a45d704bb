//! Black-box tests of the OAuth authorization server of a whole node, booted in-process with the
//! demo lab on an ephemeral HTTPS port, spoken to over real TLS; every test runs on SQLite and
//! on PostgreSQL. Tokens are also checked independently of the service: decoded with
//! jsonwebtoken against the JWKS the node publishes.

use std::sync::Arc;

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use reqwest::{Method, StatusCode};
use serde_json::{json, Value};
use sha2::{Digest, Sha256};
use switchboard_oauth::TokenError;
use switchboard_server::{Backend, NodeConfig, RunningNode, StartOptions};

struct TestNode {
    node: RunningNode,
    client: reqwest::Client,
    token: String,
    password: String,
    _dir: tempfile::TempDir,
}

async fn boot(backend: &str) -> TestNode {
    let dir = tempfile::tempdir().unwrap();
    let mut config = NodeConfig {
        data_dir: dir.path().to_path_buf(),
        node_name: Some("ucm1".into()),
        ..Default::default()
    };
    config.listen.ephemeral("127.0.0.1".parse().unwrap());
    if backend == "postgres" {
        config.store.backend = Backend::Postgres;
        config.store.url = Some(switchboard_store::testing::fresh_postgres().await);
    }
    let node = switchboard_server::start(
        config,
        StartOptions {
            demo: true,
            utc_offset: None,
        },
    )
    .await
    .unwrap();
    let read = |name: &str| std::fs::read_to_string(dir.path().join(name)).unwrap();
    let cert = read("certs/tomcat.pem");
    let tls = switchboard_pki::client_config_trusting(&[cert]).unwrap();
    let client = reqwest::Client::builder()
        .use_preconfigured_tls(Arc::unwrap_or_clone(tls))
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let password = read("demo-credentials.txt")
        .lines()
        .find_map(|l| l.strip_prefix("wwhite "))
        .unwrap()
        .to_string();
    node.state.tracer.set_level(
        switchboard_trace::Service::Oauth,
        switchboard_trace::Level::Detailed,
    );
    node.state.tracer.set_level(
        switchboard_trace::Service::Auth,
        switchboard_trace::Level::Detailed,
    );
    TestNode {
        node,
        client,
        token: read("admin.token").trim().to_string(),
        password,
        _dir: dir,
    }
}

/// A status, the response headers and the body (JSON when it parses, else a string).
type Answer = (StatusCode, reqwest::header::HeaderMap, Value);

async fn answer(resp: reqwest::Response) -> Answer {
    let status = resp.status();
    let headers = resp.headers().clone();
    let text = resp.text().await.unwrap();
    let body = serde_json::from_str(&text).unwrap_or(Value::String(text));
    (status, headers, body)
}

impl TestNode {
    fn url(&self, path: &str) -> String {
        format!("{}{path}", self.node.api_url())
    }

    async fn form(&self, path: &str, fields: &[(&str, &str)]) -> Answer {
        let resp = self
            .client
            .post(self.url(path))
            .form(fields)
            .send()
            .await
            .unwrap();
        answer(resp).await
    }

    async fn token(&self, fields: &[(&str, &str)]) -> Answer {
        self.form("/oauth/token", fields).await
    }

    async fn login(&self, extra: &[(&str, &str)]) -> Value {
        let mut fields = vec![
            ("grant_type", "password"),
            ("client_id", "jabber"),
            ("username", "wwhite"),
            ("password", self.password.as_str()),
        ];
        fields.extend_from_slice(extra);
        let (status, headers, body) = self.token(&fields).await;
        assert_eq!(status, StatusCode::OK, "{body}");
        assert_eq!(headers["cache-control"], "no-store");
        body
    }

    async fn admin(&self, method: Method, path: &str, body: Option<Value>) -> (StatusCode, Value) {
        let mut req = self
            .client
            .request(method, self.url(path))
            .bearer_auth(&self.token);
        if let Some(body) = body {
            req = req.json(&body);
        }
        let (status, _, body) = answer(req.send().await.unwrap()).await;
        (status, body)
    }

    async fn introspect(&self, token: &str) -> Value {
        let resp = self
            .client
            .post(self.url("/oauth/introspect"))
            .bearer_auth(&self.token)
            .form(&[("token", token)])
            .send()
            .await
            .unwrap();
        let (status, _, body) = answer(resp).await;
        assert_eq!(status, StatusCode::OK, "{body}");
        body
    }

    fn verify(
        &self,
        token: &Value,
    ) -> Result<std::sync::Arc<switchboard_oauth::VerifiedToken>, TokenError> {
        self.node
            .state
            .oauth
            .verify_access_token(token.as_str().unwrap())
    }

    fn traces(&self) -> String {
        self.node
            .state
            .tracer
            .read_back(&switchboard_trace::Service::ALL)
    }
}

fn error_of(answer: &Answer) -> (StatusCode, &str) {
    (answer.0, answer.2["error"].as_str().unwrap_or("<none>"))
}

macro_rules! both_backends {
    ($($name:ident),* $(,)?) => {
        mod sqlite { $( #[tokio::test(flavor = "multi_thread")] async fn $name() { super::$name("sqlite").await } )* }
        mod postgres { $( #[tokio::test(flavor = "multi_thread")] async fn $name() { super::$name("postgres").await } )* }
    };
}

both_backends!(
    password_grant_and_jwks,
    credential_policy_at_the_token_endpoint,
    hostile_token_requests,
    authorization_code_through_the_form,
    refresh_revoke_introspect,
    admin_keys_issuers_clients,
);

async fn password_grant_and_jwks(backend: &str) {
    let t = boot(backend).await;
    let body = t.login(&[("device", "CSFwwhite")]).await;
    assert_eq!(body["token_type"], "Bearer");
    assert_eq!(body["expires_in"], 3600);
    assert_eq!(body["scope"], "sip cti");
    assert!(body["refresh_token"].as_str().unwrap().starts_with("sbr_"));
    let verified = t.verify(&body["access_token"]).unwrap();
    assert_eq!(
        (verified.subject.as_str(), verified.device.as_deref()),
        ("wwhite", Some("CSFwwhite"))
    );

    // The metadata names the endpoints; the JWKS verifies the token independently.
    let meta: Value = t
        .client
        .get(t.url("/.well-known/oauth-authorization-server"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let issuer = meta["issuer"].as_str().unwrap().to_string();
    assert_eq!(issuer, t.node.state.oauth.issuer());
    assert_eq!(meta["token_endpoint"], format!("{issuer}/oauth/token"));
    assert_eq!(meta["jwks_uri"], format!("{issuer}/oauth/jwks"));
    assert_eq!(meta["code_challenge_methods_supported"], json!(["S256"]));
    assert_eq!(meta["response_types_supported"], json!(["code"]));
    assert_eq!(
        meta["token_endpoint_auth_methods_supported"],
        json!(["none"])
    );
    for grant in ["authorization_code", "password", "refresh_token"] {
        assert!(meta["grant_types_supported"]
            .as_array()
            .unwrap()
            .contains(&json!(grant)));
    }
    let jwks: jsonwebtoken::jwk::JwkSet = t
        .client
        .get(t.url("/oauth/jwks"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let token = body["access_token"].as_str().unwrap();
    let header = jsonwebtoken::decode_header(token).unwrap();
    assert_eq!(header.alg, jsonwebtoken::Algorithm::ES256);
    let jwk = jwks
        .find(header.kid.as_deref().unwrap())
        .expect("kid in the JWKS");
    let mut validation = jsonwebtoken::Validation::new(jsonwebtoken::Algorithm::ES256);
    validation.set_audience(&["switchboard"]);
    validation.set_issuer(&[issuer.as_str()]);
    let claims = jsonwebtoken::decode::<Value>(
        token,
        &jsonwebtoken::DecodingKey::from_jwk(jwk).unwrap(),
        &validation,
    )
    .unwrap()
    .claims;
    assert_eq!(
        (
            claims["sub"].as_str(),
            claims["client_id"].as_str(),
            claims["device"].as_str()
        ),
        (Some("wwhite"), Some("jabber"), Some("CSFwwhite"))
    );
    assert!(claims["fam"].is_string() && claims["jti"].is_string());

    // A device the user does not own.
    t.admin(
        Method::POST,
        "/api/users",
        Some(json!({"userid": "jpinkman", "password": "Yo-Science-42"})),
    )
    .await;
    // A user created a moment ago: the token verifies at once.
    let (status, _, fresh) = t
        .token(&[
            ("grant_type", "password"),
            ("client_id", "jabber"),
            ("username", "jpinkman"),
            ("password", "Yo-Science-42"),
        ])
        .await;
    assert_eq!(status, StatusCode::OK, "{fresh}");
    assert_eq!(
        t.verify(&fresh["access_token"]).unwrap().subject,
        "jpinkman"
    );
    let (s, d) = t
        .admin(
            Method::POST,
            "/api/devices",
            Some(
                json!({"name": "CSFjpinkman", "product": "Cisco Unified Client Services Framework",
                "device_class": "softphone", "owner": "jpinkman",
                "security_profile": "Cisco Unified Client Services Framework - OAuth auth"}),
            ),
        )
        .await;
    assert_eq!(s, StatusCode::CREATED, "{d}");
    let refused = t
        .token(&[
            ("grant_type", "password"),
            ("client_id", "jabber"),
            ("username", "wwhite"),
            ("password", &t.password),
            ("device", "CSFjpinkman"),
        ])
        .await;
    assert_eq!(
        error_of(&refused),
        (StatusCode::BAD_REQUEST, "invalid_grant")
    );
    assert!(refused.2["error_description"]
        .as_str()
        .unwrap()
        .contains("not owned"));
    t.node.shutdown().await.unwrap();
}

async fn credential_policy_at_the_token_endpoint(backend: &str) {
    let t = boot(backend).await;
    let (s, _) = t
        .admin(
            Method::PUT,
            "/api/params/CredentialPolicyFailedLogonThreshold",
            Some(json!({"value": "3"})),
        )
        .await;
    assert_eq!(s, StatusCode::OK);
    let wrong = [
        ("grant_type", "password"),
        ("client_id", "jabber"),
        ("username", "wwhite"),
        ("password", "not-the-password"),
    ];
    let first = t.token(&wrong).await;
    assert_eq!(error_of(&first), (StatusCode::BAD_REQUEST, "invalid_grant"));
    assert_eq!(first.2["error_description"], "wrong user name or password");
    assert_eq!(first.2["message"], "wrong user name or password");
    assert_eq!(first.1["cache-control"], "no-store");
    let (_, user) = t.admin(Method::GET, "/api/users/wwhite", None).await;
    assert_eq!(user["failed_logons"], 1);
    // An unknown user gets the very same answer.
    let unknown = t
        .token(&[
            ("grant_type", "password"),
            ("client_id", "jabber"),
            ("username", "heisenberg"),
            ("password", "x"),
        ])
        .await;
    assert_eq!(unknown.2, first.2);
    for _ in 0..2 {
        t.token(&wrong).await;
    }
    let (_, user) = t.admin(Method::GET, "/api/users/wwhite", None).await;
    assert!(user["locked_until"].is_string(), "{user}");
    let locked = t
        .token(&[
            ("grant_type", "password"),
            ("client_id", "jabber"),
            ("username", "wwhite"),
            ("password", &t.password),
        ])
        .await;
    assert_eq!(
        error_of(&locked),
        (StatusCode::BAD_REQUEST, "invalid_grant")
    );
    assert_eq!(
        locked.2["error_description"],
        "the account is locked or disabled; contact your administrator"
    );
    // An administrator setting a new password unlocks.
    let (s, _) = t
        .admin(
            Method::PATCH,
            "/api/users/wwhite",
            Some(json!({"password": "New-Password-1"})),
        )
        .await;
    assert_eq!(s, StatusCode::OK);
    let ok = t
        .token(&[
            ("grant_type", "password"),
            ("client_id", "jabber"),
            ("username", "wwhite"),
            ("password", "New-Password-1"),
        ])
        .await;
    assert_eq!(ok.0, StatusCode::OK, "{}", ok.2);

    // A disabled user.
    t.admin(
        Method::POST,
        "/api/users",
        Some(json!({"userid": "skyler", "password": "Car-Wash-22", "enabled": false})),
    )
    .await;
    let disabled = t
        .token(&[
            ("grant_type", "password"),
            ("client_id", "jabber"),
            ("username", "skyler"),
            ("password", "Car-Wash-22"),
        ])
        .await;
    assert_eq!(
        error_of(&disabled),
        (StatusCode::BAD_REQUEST, "invalid_grant")
    );
    assert_eq!(
        disabled.2["error_description"],
        locked.2["error_description"]
    );

    let traces = t.traces();
    assert!(
        traces.contains("Credential policy: user 'wwhite' locked out until"),
        "lockout traced"
    );
    assert!(traces.contains("Credential Length is: 16"));
    for secret in [
        t.password.as_str(),
        "not-the-password",
        "New-Password-1",
        "Car-Wash-22",
    ] {
        assert!(!traces.contains(secret), "a password reached the traces");
    }
    t.node.shutdown().await.unwrap();
}

async fn hostile_token_requests(backend: &str) {
    let t = boot(backend).await;
    // (body, content type, status, error, field)
    let cases: [(&str, &str, StatusCode, &str, Option<&str>); 8] = [
        (
            r#"{"grant_type":"password"}"#,
            "application/json",
            StatusCode::BAD_REQUEST,
            "invalid_request",
            Some("Content-Type"),
        ),
        (
            "grant_type=password&grant_type=password&client_id=jabber",
            "application/x-www-form-urlencoded",
            StatusCode::BAD_REQUEST,
            "invalid_request",
            None,
        ),
        (
            "grant_type=client_credentials&client_id=jabber",
            "application/x-www-form-urlencoded",
            StatusCode::BAD_REQUEST,
            "unsupported_grant_type",
            None,
        ),
        (
            "grant_type=password&client_id=evil&username=a&password=b",
            "application/x-www-form-urlencoded",
            StatusCode::UNAUTHORIZED,
            "invalid_client",
            None,
        ),
        (
            "grant_type=password&username=a&password=b",
            "application/x-www-form-urlencoded",
            StatusCode::BAD_REQUEST,
            "invalid_request",
            Some("client_id"),
        ),
        (
            "grant_type=password&client_id=jabber&username=wwhite&password=%FF",
            "application/x-www-form-urlencoded",
            StatusCode::BAD_REQUEST,
            "invalid_request",
            None,
        ),
        (
            "grant_type=password&client_id=jabber&username=wwhite&password=x&scope=admin",
            "application/x-www-form-urlencoded",
            StatusCode::BAD_REQUEST,
            "invalid_scope",
            None,
        ),
        (
            "grant_type=refresh_token&client_id=jabber&refresh_token=sbr_guess",
            "application/x-www-form-urlencoded",
            StatusCode::BAD_REQUEST,
            "invalid_grant",
            None,
        ),
    ];
    for (body, content_type, status, error, field) in cases {
        let a = answer(
            t.client
                .post(t.url("/oauth/token"))
                .header("content-type", content_type)
                .body(body)
                .send()
                .await
                .unwrap(),
        )
        .await;
        assert_eq!(error_of(&a), (status, error), "{}", a.2);
        assert_eq!(a.2["field"].as_str(), field, "{}", a.2);
        assert_eq!(a.2["message"], a.2["error_description"]);
    }
    // Client authentication with a secret: refused, public clients only.
    let basic = t
        .client
        .post(t.url("/oauth/token"))
        .basic_auth("jabber", Some("secret"))
        .form(&[
            ("grant_type", "password"),
            ("username", "wwhite"),
            ("password", "x"),
        ])
        .send()
        .await
        .unwrap();
    let basic = answer(basic).await;
    assert_eq!(
        error_of(&basic),
        (StatusCode::UNAUTHORIZED, "invalid_client")
    );
    assert!(basic.1.get("www-authenticate").is_some());
    // Oversized.
    let big = format!(
        "grant_type=password&client_id=jabber&username=wwhite&password={}",
        "a".repeat(20_000)
    );
    match t
        .client
        .post(t.url("/oauth/token"))
        .header("content-type", "application/x-www-form-urlencoded")
        .body(big)
        .send()
        .await
    {
        Ok(resp) => assert_eq!(resp.status(), StatusCode::PAYLOAD_TOO_LARGE),
        Err(e) => assert!(e.is_request() || e.is_body(), "{e}"),
    }
    // Nothing was issued, the node still answers.
    t.login(&[]).await;
    t.node.shutdown().await.unwrap();
}

fn pkce() -> (String, String) {
    let verifier = URL_SAFE_NO_PAD.encode([7u8; 40]);
    let challenge = URL_SAFE_NO_PAD.encode(Sha256::digest(verifier.as_bytes()));
    (verifier, challenge)
}

/// The value of hidden input `name` in an HTML page.
fn hidden(html: &str, name: &str) -> Option<String> {
    let marker = format!("name=\"{name}\" value=\"");
    let start = html.find(&marker)? + marker.len();
    let end = html[start..].find('"')?;
    Some(
        html[start..start + end]
            .replace("&quot;", "\"")
            .replace("&#39;", "'")
            .replace("&lt;", "<")
            .replace("&gt;", ">")
            .replace("&amp;", "&"),
    )
}

const REDIRECT: &str = "http://127.0.0.1:53117/callback";

async fn authorize_page(
    t: &TestNode,
    params: &[(&str, &str)],
) -> (
    StatusCode,
    String,
    Option<String>,
    reqwest::header::HeaderMap,
) {
    let resp = t
        .client
        .get(t.url("/oauth/authorize"))
        .query(params)
        .send()
        .await
        .unwrap();
    let status = resp.status();
    let headers = resp.headers().clone();
    let cookie = headers
        .get("set-cookie")
        .map(|c| c.to_str().unwrap().split(';').next().unwrap().to_string());
    (status, resp.text().await.unwrap(), cookie, headers)
}

/// Submits the sign-in form of `html` with the given credentials.
async fn sign_in(
    t: &TestNode,
    html: &str,
    cookie: &str,
    username: &str,
    password: &str,
) -> reqwest::Response {
    let mut fields: Vec<(String, String)> = Vec::new();
    for name in [
        "response_type",
        "client_id",
        "redirect_uri",
        "code_challenge",
        "code_challenge_method",
        "scope",
        "state",
        "device",
        "csrf",
    ] {
        if let Some(v) = hidden(html, name) {
            fields.push((name.into(), v));
        }
    }
    fields.push(("username".into(), username.into()));
    fields.push(("password".into(), password.into()));
    t.client
        .post(t.url("/oauth/authorize"))
        .header("cookie", cookie)
        .form(&fields)
        .send()
        .await
        .unwrap()
}

fn query_of(location: &str) -> std::collections::HashMap<String, String> {
    let url = reqwest::Url::parse(location).unwrap();
    url.query_pairs()
        .map(|(k, v)| (k.into_owned(), v.into_owned()))
        .collect()
}

async fn authorization_code_through_the_form(backend: &str) {
    let t = boot(backend).await;
    let (verifier, challenge) = pkce();
    let state = "st<script>alert(1)</script>";
    let params = [
        ("response_type", "code"),
        ("client_id", "jabber"),
        ("redirect_uri", REDIRECT),
        ("code_challenge", challenge.as_str()),
        ("code_challenge_method", "S256"),
        ("state", state),
    ];
    let (status, html, cookie, headers) = authorize_page(&t, &params).await;
    assert_eq!(status, StatusCode::OK, "{html}");
    assert!(headers["content-type"]
        .to_str()
        .unwrap()
        .starts_with("text/html"));
    assert_eq!(headers["x-frame-options"], "DENY");
    assert!(headers["content-security-policy"]
        .to_str()
        .unwrap()
        .contains("frame-ancestors 'none'"));
    assert!(!html.contains("<script>"), "the state is escaped");
    let cookie = cookie.expect("a CSRF cookie");
    assert!(cookie.starts_with("__Host-sb_oauth_csrf="));
    assert!(headers["set-cookie"]
        .to_str()
        .unwrap()
        .contains("SameSite=Strict"));
    assert!(hidden(&html, "csrf").is_some());

    // Wrong password: the form again, with a message; no redirect.
    let resp = sign_in(&t, &html, &cookie, "wwhite", "wrong").await;
    assert_eq!(resp.status(), StatusCode::OK);
    assert!(resp
        .text()
        .await
        .unwrap()
        .contains("wrong user ID or password"));
    // No CSRF cookie, or a form whose parameters were changed: refused.
    let resp = sign_in(&t, &html, "other=1", "wwhite", &t.password).await;
    assert_eq!(resp.status(), StatusCode::BAD_REQUEST);
    let tampered = html.replace(
        &format!("value=\"{challenge}\""),
        &format!("value=\"{}\"", URL_SAFE_NO_PAD.encode([1u8; 32])),
    );
    let resp = sign_in(&t, &tampered, &cookie, "wwhite", &t.password).await;
    assert_eq!(resp.status(), StatusCode::BAD_REQUEST);

    // The right password: a redirect with the code, the state and the issuer.
    let resp = sign_in(&t, &html, &cookie, "wwhite", &t.password).await;
    assert_eq!(resp.status(), StatusCode::SEE_OTHER);
    let location = resp.headers()["location"].to_str().unwrap().to_string();
    assert!(location.starts_with(REDIRECT), "{location}");
    let q = query_of(&location);
    assert_eq!(q["state"], state);
    assert_eq!(q["iss"], t.node.state.oauth.issuer());
    let code = q["code"].clone();
    let exchange = |code: String, verifier: String, redirect: &'static str| {
        let t = &t;
        async move {
            t.token(&[
                ("grant_type", "authorization_code"),
                ("client_id", "jabber"),
                ("code", &code),
                ("redirect_uri", redirect),
                ("code_verifier", &verifier),
            ])
            .await
        }
    };
    let (status, _, body) = exchange(code.clone(), verifier.clone(), REDIRECT).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(t.verify(&body["access_token"]).unwrap().subject, "wwhite");
    // The code again: refused, and what it gave is revoked.
    let again = exchange(code, verifier.clone(), REDIRECT).await;
    assert_eq!(error_of(&again), (StatusCode::BAD_REQUEST, "invalid_grant"));
    assert_eq!(t.verify(&body["access_token"]), Err(TokenError::Revoked));

    // A wrong verifier; another redirect URI.
    for (bad_verifier, redirect) in [
        (URL_SAFE_NO_PAD.encode([9u8; 40]), REDIRECT),
        (verifier.clone(), "http://127.0.0.1:53118/callback"),
    ] {
        let (_, html, cookie, _) = authorize_page(&t, &params).await;
        let resp = sign_in(&t, &html, &cookie.unwrap(), "wwhite", &t.password).await;
        let code = query_of(resp.headers()["location"].to_str().unwrap())["code"].clone();
        let refused = exchange(code, bad_verifier, redirect).await;
        assert_eq!(
            error_of(&refused),
            (StatusCode::BAD_REQUEST, "invalid_grant"),
            "{}",
            refused.2
        );
    }

    // An unregistered redirect URI: an error page, never a redirect.
    let mut evil = params.to_vec();
    evil[2] = ("redirect_uri", "https://evil.example.com/steal");
    let (status, html, _, _) = authorize_page(&t, &evil).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert!(html.contains("redirect_uri is not registered"), "{html}");
    // PKCE plain: back to the client with invalid_request.
    let mut plain = params.to_vec();
    plain[3] = (
        "code_challenge",
        "a-plain-challenge-that-is-long-enough-for-pkce-rules",
    );
    plain[4] = ("code_challenge_method", "plain");
    let resp = t
        .client
        .get(t.url("/oauth/authorize"))
        .query(&plain)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::SEE_OTHER);
    let q = query_of(resp.headers()["location"].to_str().unwrap());
    assert_eq!(
        (q["error"].as_str(), q["state"].as_str()),
        ("invalid_request", state)
    );
    assert!(q["error_description"].contains("S256"));
    // A repeated parameter: an error page.
    let resp = t
        .client
        .get(format!(
            "{}?client_id=jabber&client_id=jabber",
            t.url("/oauth/authorize")
        ))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::BAD_REQUEST);

    let traces = t.traces();
    assert!(traces.contains("OAuth authorization code issued to 'wwhite' for client jabber"));
    assert!(
        traces.contains("OAuth authorization_code grant refused (client=jabber): invalid_grant")
    );
    assert!(!traces.contains(&t.password) && !traces.contains(&verifier));
    t.node.shutdown().await.unwrap();
}

async fn refresh_revoke_introspect(backend: &str) {
    let t = boot(backend).await;
    let first = t.login(&[]).await;
    let r1 = first["refresh_token"].as_str().unwrap().to_string();
    let refresh = |token: String| {
        let t = &t;
        async move {
            t.token(&[
                ("grant_type", "refresh_token"),
                ("client_id", "jabber"),
                ("refresh_token", &token),
            ])
            .await
        }
    };
    let (status, headers, second) = refresh(r1.clone()).await;
    assert_eq!(status, StatusCode::OK, "{second}");
    assert_eq!(headers["cache-control"], "no-store");
    let r2 = second["refresh_token"].as_str().unwrap().to_string();
    assert_ne!(r1, r2);
    t.verify(&second["access_token"]).unwrap();

    // Introspection: administrators only; active and inactive.
    let anonymous = t
        .client
        .post(t.url("/oauth/introspect"))
        .form(&[("token", r2.as_str())])
        .send()
        .await
        .unwrap();
    assert_eq!(anonymous.status(), StatusCode::UNAUTHORIZED);
    let active = t.introspect(second["access_token"].as_str().unwrap()).await;
    assert_eq!(
        (active["active"].as_bool(), active["username"].as_str()),
        (Some(true), Some("wwhite"))
    );
    assert_eq!(active["token_type"], "Bearer");
    let active = t.introspect(&r2).await;
    assert_eq!(
        (active["active"].as_bool(), active["token_type"].as_str()),
        (Some(true), Some("refresh_token"))
    );
    assert_eq!(t.introspect(&r1).await, json!({"active": false}), "rotated");
    assert_eq!(t.introspect("garbage").await, json!({"active": false}));

    // Reusing r1 revokes the family: both access tokens die.
    let reused = refresh(r1).await;
    assert_eq!(
        error_of(&reused),
        (StatusCode::BAD_REQUEST, "invalid_grant")
    );
    assert_eq!(t.verify(&first["access_token"]), Err(TokenError::Revoked));
    assert_eq!(t.verify(&second["access_token"]), Err(TokenError::Revoked));
    assert_eq!(
        error_of(&refresh(r2).await),
        (StatusCode::BAD_REQUEST, "invalid_grant")
    );

    // RFC 7009: an access token, then a refresh token; unknown tokens are fine.
    let a = t.login(&[]).await;
    let (status, _, _) = t
        .form(
            "/oauth/revoke",
            &[
                ("token", a["access_token"].as_str().unwrap()),
                ("token_type_hint", "access_token"),
            ],
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(t.verify(&a["access_token"]), Err(TokenError::Revoked));
    let b = t.login(&[]).await;
    let (status, _, _) = t
        .form(
            "/oauth/revoke",
            &[
                ("token", b["refresh_token"].as_str().unwrap()),
                ("client_id", "jabber"),
            ],
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(t.verify(&b["access_token"]), Err(TokenError::Revoked));
    let (status, _, _) = t.form("/oauth/revoke", &[("token", "sbr_nonsense")]).await;
    assert_eq!(status, StatusCode::OK);
    let missing = t
        .form("/oauth/revoke", &[("token_type_hint", "access_token")])
        .await;
    assert_eq!(
        error_of(&missing),
        (StatusCode::BAD_REQUEST, "invalid_request")
    );

    // Revoke-all through the API.
    let c = t.login(&[]).await;
    let (status, body) = t
        .admin(Method::POST, "/api/users/wwhite/oauth/revoke", None)
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["userid"], "wwhite");
    assert!(body["refresh_token_families"].as_u64().unwrap() >= 1);
    assert_eq!(t.verify(&c["access_token"]), Err(TokenError::Revoked));
    let (status, _) = t
        .admin(Method::POST, "/api/users/nobody/oauth/revoke", None)
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    tokio::time::sleep(std::time::Duration::from_millis(1100)).await;
    let d = t.login(&[]).await;
    t.verify(&d["access_token"]).unwrap();

    // The refresh login flow off: the grant is refused, no refresh tokens are issued.
    let (status, _) = t
        .admin(
            Method::PUT,
            "/api/params/OAuthWithRefreshLoginFlow",
            Some(json!({"value": "0"})),
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    let refused = refresh(d["refresh_token"].as_str().unwrap().to_string()).await;
    assert_eq!(
        error_of(&refused),
        (StatusCode::BAD_REQUEST, "unsupported_grant_type")
    );
    assert!(refused.2["error_description"]
        .as_str()
        .unwrap()
        .contains("OAuthWithRefreshLoginFlow"));
    let e = t.login(&[]).await;
    assert!(e.get("refresh_token").is_none(), "{e}");
    let traces = t.traces();
    for secret in [
        &first["access_token"],
        &second["refresh_token"],
        &c["refresh_token"],
    ] {
        assert!(
            !traces.contains(secret.as_str().unwrap()),
            "a token reached the traces"
        );
    }
    t.node.shutdown().await.unwrap();
}

async fn admin_keys_issuers_clients(backend: &str) {
    let t = boot(backend).await;
    let before = t.login(&[]).await;
    let (status, keys) = t.admin(Method::GET, "/api/oauth/keys", None).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(keys.as_array().unwrap().len(), 1);
    assert_eq!(keys[0]["status"], "signing");
    let old_kid = keys[0]["kid"].as_str().unwrap().to_string();

    let (status, new) = t.admin(Method::POST, "/api/oauth/keys/rotate", None).await;
    assert_eq!(status, StatusCode::CREATED, "{new}");
    let (_, keys) = t.admin(Method::GET, "/api/oauth/keys", None).await;
    let seen: Vec<(&str, &str)> = keys
        .as_array()
        .unwrap()
        .iter()
        .map(|k| (k["kid"].as_str().unwrap(), k["status"].as_str().unwrap()))
        .collect();
    assert_eq!(
        seen,
        vec![
            (new["kid"].as_str().unwrap(), "signing"),
            (old_kid.as_str(), "verifying")
        ]
    );
    assert!(keys[1]["verifies_until"].is_string());
    t.verify(&before["access_token"]).unwrap();
    let after = t.login(&[]).await;
    let kid = jsonwebtoken::decode_header(after["access_token"].as_str().unwrap())
        .unwrap()
        .kid;
    assert_eq!(kid.as_deref(), new["kid"].as_str());
    let jwks: Value = t
        .client
        .get(t.url("/oauth/jwks"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(jwks["keys"].as_array().unwrap().len(), 2);
    assert!(
        jwks.to_string().find("\"d\"").is_none(),
        "no private key published"
    );

    // External issuers.
    let idp = switchboard_oauth::keys::generate().unwrap();
    let issuer = json!({"issuer": "https://idp.example.com", "audience": "ucm", "jwks": {"keys": [idp.public_jwk]}});
    let (status, body) = t
        .admin(Method::POST, "/api/oauth/issuers", Some(issuer))
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let (_, list) = t.admin(Method::GET, "/api/oauth/issuers", None).await;
    assert_eq!(list[0]["issuer"], "https://idp.example.com");
    let idp_key = jsonwebtoken::EncodingKey::from_ec_der(
        &base64::engine::general_purpose::STANDARD
            .decode(&idp.private_key)
            .unwrap(),
    );
    let mut header = jsonwebtoken::Header::new(jsonwebtoken::Algorithm::ES256);
    header.kid = Some(idp.kid.clone());
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs();
    let external = jsonwebtoken::encode(
        &header,
        &json!({"iss": "https://idp.example.com", "sub": "wwhite", "aud": "ucm", "exp": now + 300}),
        &idp_key,
    )
    .unwrap();
    assert_eq!(
        t.node
            .state
            .oauth
            .verify_access_token(&external)
            .unwrap()
            .subject,
        "wwhite"
    );
    let other = jsonwebtoken::encode(
        &header,
        &json!({"iss": "https://other.example.com", "sub": "wwhite", "aud": "ucm", "exp": now + 300}),
        &idp_key,
    )
    .unwrap();
    assert_eq!(
        t.node.state.oauth.verify_access_token(&other),
        Err(TokenError::WrongIssuer)
    );
    for (bad, field) in [
        (
            json!({"issuer": "http://idp", "audience": "ucm", "jwks": {"keys": [{"kid": "a"}]}}),
            "issuer",
        ),
        (
            json!({"issuer": "https://idp2.example.com", "audience": "ucm", "jwks": {"keys": [{"kid": "a", "kty": "oct", "k": "c2VjcmV0"}]}}),
            "jwks.keys[0].kty",
        ),
    ] {
        let (status, body) = t.admin(Method::POST, "/api/oauth/issuers", Some(bad)).await;
        assert_eq!(
            (status, body["field"].as_str()),
            (StatusCode::UNPROCESSABLE_ENTITY, Some(field)),
            "{body}"
        );
    }
    let (status, _) = t
        .admin(
            Method::DELETE,
            "/api/oauth/issuers/https%3A%2F%2Fidp.example.com",
            None,
        )
        .await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    assert_eq!(
        t.node.state.oauth.verify_access_token(&external),
        Err(TokenError::WrongIssuer)
    );
    let (status, _) = t
        .admin(
            Method::DELETE,
            "/api/oauth/issuers/https%3A%2F%2Fidp.example.com",
            None,
        )
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND);

    // Clients, the OpenAPI document, the audit log.
    let (_, clients) = t.admin(Method::GET, "/api/oauth/clients", None).await;
    let ids: Vec<&str> = clients
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["client_id"].as_str().unwrap())
        .collect();
    assert_eq!(ids, vec!["cisco-phone", "jabber"]);
    let doc: Value = t
        .client
        .get(t.url("/api/openapi.json"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    for path in [
        "/api/oauth/keys",
        "/api/oauth/keys/rotate",
        "/api/users/{userid}/oauth/revoke",
        "/api/oauth/issuers",
        "/api/oauth/issuers/{issuer}",
        "/api/oauth/clients",
    ] {
        assert!(doc["paths"].get(path).is_some(), "OpenAPI lacks {path}");
    }
    let (_, audit) = t.admin(Method::GET, "/api/audit?limit=20", None).await;
    let entries: Vec<(String, String)> = audit
        .as_array()
        .unwrap()
        .iter()
        .map(|e| {
            (
                e["action"].as_str().unwrap().into(),
                e["object_type"].as_str().unwrap().into(),
            )
        })
        .collect();
    for expected in [
        ("rotate", "oauthkey"),
        ("put", "oauthissuer"),
        ("delete", "oauthissuer"),
    ] {
        assert!(
            entries.contains(&(expected.0.into(), expected.1.into())),
            "{expected:?} not audited: {entries:?}"
        );
    }
    // The keys' private halves are redacted from SQL.
    let (_, rows) = t
        .admin(
            Method::POST,
            "/api/sql",
            Some(json!({"query": "select private_key_enc from oauthkey"})),
        )
        .await;
    assert!(rows["rows"]
        .as_array()
        .unwrap()
        .iter()
        .all(|r| r[0] == "<redacted>"));
    t.node.shutdown().await.unwrap();
}
