//! The OAuth service against a real store, on both backends, on a clock the test moves: the
//! grants, verification (independently too, with jsonwebtoken and the published JWKS),
//! hostile tokens, rotation of refresh tokens and of signing keys, revocation in all its
//! forms, external issuers and the verification cache.

use std::sync::Arc;

use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use base64::Engine;
use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation};
use serde_json::{json, Value};
use switchboard_authn::{Authenticator, ManualClock};
use switchboard_oauth::{
    clients, AuthorizationRequest, AuthorizeError, CodeGrant, GrantErrorCode, Introspection,
    KeyStatus, OAuthService, PasswordGrant, RefreshGrant, RevokeOutcome, TokenError,
};
use switchboard_store::model::*;
use switchboard_store::{testing, Store};
use switchboard_trace::{Level, Service, TraceConfig, Tracer};

const T0: i64 = 1_800_000_000;
const PASSWORD: &str = "Heisenberg-1";

struct Lab {
    store: Store,
    oauth: Arc<OAuthService>,
    clock: Arc<ManualClock>,
    tracer: Tracer,
    _dir: tempfile::TempDir,
}

async fn lab(backend: &str) -> Lab {
    let dir = tempfile::tempdir().unwrap();
    let config = testing::fresh_config(backend, dir.path()).await;
    let crypto =
        switchboard_authn::NodeCrypto(switchboard_auth::secretbox::SecretKey::from_bytes([5; 32]));
    let store = Store::open(&config, Arc::new(crypto)).await.unwrap();
    store.ensure_param_defaults().await.unwrap();
    store
        .put_node(
            "admin",
            &Node {
                name: "ucm1".into(),
                address: "10.10.10.1".into(),
                description: String::new(),
                priority: 1,
                ports: NodePorts::default(),
            },
            false,
        )
        .await
        .unwrap();
    for userid in ["wwhite", "jpinkman"] {
        store
            .create_user(
                "admin",
                &UserNew {
                    userid: userid.into(),
                    password: Some(PASSWORD.into()),
                    enabled: true,
                    ..Default::default()
                },
            )
            .await
            .unwrap();
    }
    store
        .put_profile(
            "admin",
            &SecurityProfile {
                name: "CSF OAuth".into(),
                description: String::new(),
                product_type: "Cisco Unified Client Services Framework".into(),
                device_security_mode: SecurityMode::Encrypted,
                transport: Transport::Tls,
                tftp_encrypted_config: false,
                digest_auth: false,
                oauth_auth: true,
            },
            false,
        )
        .await
        .unwrap();
    store
        .create_device(
            "admin",
            &DeviceNew {
                name: "CSFwwhite".into(),
                description: String::new(),
                product: "Cisco Unified Client Services Framework".into(),
                device_class: DeviceClass::Softphone,
                owner: Some("wwhite".into()),
                security_profile: "CSF OAuth".into(),
                digest_user: None,
                digest_password: None,
                lines: Vec::new(),
                allow_cti_control: true,
            },
        )
        .await
        .unwrap();
    let tracer = Tracer::open(TraceConfig::new(dir.path().join("traces"))).unwrap();
    tracer.set_level(Service::Oauth, Level::Debug);
    let clock = Arc::new(ManualClock::new(T0));
    let auth = Authenticator::with_clock(store.clone(), tracer.clone(), clock.clone());
    let oauth = OAuthService::open(store.clone(), tracer.clone(), auth)
        .await
        .unwrap();
    Lab {
        store,
        oauth,
        clock,
        tracer,
        _dir: dir,
    }
}

impl Lab {
    fn password(&self, userid: &str) -> PasswordGrant {
        PasswordGrant {
            client_id: "jabber".into(),
            username: userid.into(),
            password: PASSWORD.into(),
            scope: None,
            device: None,
        }
    }

    async fn login(&self, userid: &str) -> switchboard_oauth::IssuedTokens {
        self.oauth
            .password_grant(&self.password(userid))
            .await
            .unwrap()
    }

    fn traces(&self) -> String {
        self.tracer.read_back(&[Service::Oauth, Service::Auth])
    }

    /// The current signing key's private half, to forge tokens the service must judge.
    async fn signing_key(&self) -> (String, EncodingKey) {
        let material = self.store.oauth_key_material().await.unwrap();
        let key = material.iter().find(|k| k.retired_at.is_none()).unwrap();
        let der = STANDARD.decode(key.private_key.as_ref().unwrap()).unwrap();
        (key.kid.clone(), EncodingKey::from_ec_der(&der))
    }

    fn claims(&self) -> Value {
        let now = self.clock_now();
        json!({
            "iss": self.oauth.issuer(), "sub": "wwhite", "aud": "switchboard", "scope": "sip",
            "iat": now, "nbf": now, "exp": now + 600, "jti": "forged-1", "client_id": "jabber",
        })
    }

    fn clock_now(&self) -> i64 {
        use switchboard_authn::Clock;
        self.clock.now()
    }
}

fn encode(header: &Value, claims: &Value, signature: &str) -> String {
    format!(
        "{}.{}.{signature}",
        URL_SAFE_NO_PAD.encode(header.to_string()),
        URL_SAFE_NO_PAD.encode(claims.to_string())
    )
}

fn sign(kid: &str, key: &EncodingKey, claims: &Value) -> String {
    let mut header = Header::new(Algorithm::ES256);
    header.kid = Some(kid.into());
    jsonwebtoken::encode(&header, claims, key).unwrap()
}

macro_rules! both_backends {
    ($($name:ident),* $(,)?) => {
        mod sqlite { $( #[tokio::test(flavor = "multi_thread")] async fn $name() { super::$name("sqlite").await } )* }
        mod postgres { $( #[tokio::test(flavor = "multi_thread")] async fn $name() { super::$name("postgres").await } )* }
    };
}

both_backends!(
    password_grant_and_independent_verification,
    hostile_tokens_are_refused,
    refresh_rotation_and_reuse,
    revocation,
    key_rotation,
    external_issuers,
    authorization_code_flow,
    device_binding_and_settings,
);

async fn password_grant_and_independent_verification(backend: &str) {
    let lab = lab(backend).await;
    assert_eq!(lab.oauth.issuer(), "https://10.10.10.1:8443");
    let issued = lab.login("wwhite").await;
    assert_eq!(
        (issued.expires_in, issued.scope.as_str()),
        (3600, "sip cti")
    );
    let refresh = issued.refresh_token.clone().unwrap();
    assert!(refresh.starts_with("sbr_"));
    let t = lab.oauth.verify_access_token(&issued.access_token).unwrap();
    assert_eq!(*t, issued.claims);
    assert_eq!(
        (
            t.subject.as_str(),
            t.client_id.as_deref(),
            t.expires_at - t.issued_at
        ),
        ("wwhite", Some("jabber"), 3600)
    );
    assert!(t.family.is_some() && t.jti.is_some() && t.device.is_none());

    // Independently: the header, and the signature checked with the published JWK.
    let header = jsonwebtoken::decode_header(&issued.access_token).unwrap();
    assert_eq!(header.alg, Algorithm::ES256);
    assert_eq!(header.typ.as_deref(), Some("JWT"));
    let kid = header.kid.unwrap();
    let jwks = lab.oauth.jwks();
    assert_eq!(jwks.len(), 1);
    let jwk: jsonwebtoken::jwk::Jwk = serde_json::from_value(jwks[0].clone()).unwrap();
    assert_eq!(jwk.common.key_id.as_deref(), Some(kid.as_str()));
    let mut validation = Validation::new(Algorithm::ES256);
    validation.set_audience(&["switchboard"]);
    validation.set_issuer(&["https://10.10.10.1:8443"]);
    validation.validate_exp = false; // the test clock is not the system clock
    let decoded = jsonwebtoken::decode::<Value>(
        &issued.access_token,
        &DecodingKey::from_jwk(&jwk).unwrap(),
        &validation,
    )
    .unwrap();
    for claim in [
        "iss",
        "sub",
        "aud",
        "scope",
        "iat",
        "nbf",
        "exp",
        "jti",
        "client_id",
        "fam",
    ] {
        assert!(decoded.claims.get(claim).is_some(), "claim {claim} missing");
    }
    assert_eq!(decoded.claims["exp"], T0 + 3600);

    // Refusals.
    let mut wrong = lab.password("wwhite");
    wrong.password = "nope".into();
    let e = lab.oauth.password_grant(&wrong).await.unwrap_err();
    assert_eq!(
        (e.code, e.description.as_str()),
        (GrantErrorCode::InvalidGrant, "wrong user name or password")
    );
    let mut unknown = lab.password("nobody");
    unknown.password = "nope".into();
    assert_eq!(lab.oauth.password_grant(&unknown).await.unwrap_err(), e);
    let mut client = lab.password("wwhite");
    client.client_id = "evil".into();
    assert_eq!(
        lab.oauth.password_grant(&client).await.unwrap_err().code,
        GrantErrorCode::InvalidClient
    );
    let mut scope = lab.password("wwhite");
    scope.scope = Some("admin".into());
    assert_eq!(
        lab.oauth.password_grant(&scope).await.unwrap_err().code,
        GrantErrorCode::InvalidScope
    );
    scope.scope = Some("sip".into());
    assert_eq!(lab.oauth.password_grant(&scope).await.unwrap().scope, "sip");

    let traces = lab.traces();
    assert!(traces
        .contains("OAuth access token issued to 'wwhite' (grant=password, client=jabber, kid="));
    assert!(traces.contains(
        "OAuth password grant refused (client=jabber): invalid_grant - wrong user name or password"
    ));
    for secret in [PASSWORD, &issued.access_token, &refresh, "nope"] {
        assert!(!traces.contains(secret), "a secret reached the traces");
    }
}

async fn hostile_tokens_are_refused(backend: &str) {
    let lab = lab(backend).await;
    let (kid, key) = lab.signing_key().await;
    let claims = lab.claims();
    let good = sign(&kid, &key, &claims);
    assert_eq!(
        lab.oauth.verify_access_token(&good).unwrap().jti.as_deref(),
        Some("forged-1")
    );

    // alg none.
    let none = encode(&json!({"alg": "none", "typ": "JWT"}), &claims, "");
    assert_eq!(
        lab.oauth.verify_access_token(&none),
        Err(TokenError::DisallowedAlgorithm("none".into()))
    );
    // HS256 "signed" with the public key as the HMAC secret.
    let jwk = &lab.oauth.jwks()[0];
    let point = [
        vec![4u8],
        URL_SAFE_NO_PAD.decode(jwk["x"].as_str().unwrap()).unwrap(),
        URL_SAFE_NO_PAD.decode(jwk["y"].as_str().unwrap()).unwrap(),
    ]
    .concat();
    for secret in [point.clone(), jwk.to_string().into_bytes()] {
        let mut header = Header::new(Algorithm::HS256);
        header.kid = Some(kid.clone());
        let hs =
            jsonwebtoken::encode(&header, &claims, &EncodingKey::from_secret(&secret)).unwrap();
        assert_eq!(
            lab.oauth.verify_access_token(&hs),
            Err(TokenError::DisallowedAlgorithm("HS256".into()))
        );
    }
    // RS256 header on our EC key: the key's algorithm wins.
    let rs = encode(&json!({"alg": "RS256", "kid": kid}), &claims, "AAAA");
    assert_eq!(
        lab.oauth.verify_access_token(&rs),
        Err(TokenError::DisallowedAlgorithm("RS256".into()))
    );
    // A key nobody configured.
    let stranger = switchboard_oauth::keys::generate().unwrap();
    let stranger_key = EncodingKey::from_ec_der(&STANDARD.decode(&stranger.private_key).unwrap());
    assert_eq!(
        lab.oauth
            .verify_access_token(&sign(&stranger.kid, &stranger_key, &claims)),
        Err(TokenError::UnknownKey(stranger.kid.clone()))
    );
    // ... or claiming our kid.
    assert_eq!(
        lab.oauth
            .verify_access_token(&sign(&kid, &stranger_key, &claims)),
        Err(TokenError::BadSignature)
    );
    let with = |name: &str, value: Value| {
        let mut c = claims.clone();
        c[name] = value;
        sign(&kid, &key, &c)
    };
    let now = lab.clock_now();
    for (token, error) in [
        (
            with("iss", json!("https://evil.example.com")),
            TokenError::WrongIssuer,
        ),
        (with("aud", json!("another-api")), TokenError::WrongAudience),
        (with("aud", json!(["a", "b"])), TokenError::WrongAudience),
        (with("exp", json!(now - 31)), TokenError::Expired),
        (with("nbf", json!(now + 31)), TokenError::NotYetValid),
        (with("iat", json!(now + 31)), TokenError::NotYetValid),
        (with("exp", json!("tomorrow")), TokenError::Malformed),
        (with("sub", json!(null)), TokenError::Malformed),
    ] {
        assert_eq!(lab.oauth.verify_access_token(&token), Err(error));
    }
    // Within the leeway.
    assert!(lab
        .oauth
        .verify_access_token(&with("exp", json!(now - 30)))
        .is_ok());
    assert!(lab
        .oauth
        .verify_access_token(&with("aud", json!(["x", "switchboard"])))
        .is_ok());
    // A tampered payload (the signature of the original).
    let parts: Vec<&str> = good.split('.').collect();
    let mut evil = claims.clone();
    evil["sub"] = json!("jpinkman");
    let tampered = format!(
        "{}.{}.{}",
        parts[0],
        URL_SAFE_NO_PAD.encode(evil.to_string()),
        parts[2]
    );
    assert_eq!(
        lab.oauth.verify_access_token(&tampered),
        Err(TokenError::BadSignature)
    );
    for junk in [
        "",
        "a.b",
        "a.b.c.d",
        "....",
        "eyJ.eyJ.sig",
        &"A".repeat(9000),
    ] {
        assert_eq!(
            lab.oauth.verify_access_token(junk),
            Err(TokenError::Malformed),
            "{junk:.20}"
        );
    }
    let crit = encode(
        &json!({"alg": "ES256", "kid": kid, "crit": ["exp"]}),
        &claims,
        parts[2],
    );
    assert_eq!(
        lab.oauth.verify_access_token(&crit),
        Err(TokenError::Malformed)
    );
    // Errors display short reasons, never the token.
    assert_eq!(TokenError::BadSignature.to_string(), "bad signature");
}

async fn refresh_rotation_and_reuse(backend: &str) {
    let lab = lab(backend).await;
    let first = lab.login("wwhite").await;
    let r1 = first.refresh_token.clone().unwrap();
    let grant = |token: &str| RefreshGrant {
        client_id: "jabber".into(),
        refresh_token: token.into(),
        scope: None,
    };
    lab.clock.advance(60);
    let second = lab.oauth.refresh_grant(&grant(&r1)).await.unwrap();
    let r2 = second.refresh_token.clone().unwrap();
    assert_ne!(r1, r2);
    assert_eq!(second.claims.family, first.claims.family, "same family");
    assert_eq!(second.claims.issued_at, T0 + 60);
    lab.oauth.verify_access_token(&second.access_token).unwrap();
    // Narrowing the scope is allowed, widening is not.
    let mut narrow = grant(&r2);
    narrow.scope = Some("sip".into());
    let third = lab.oauth.refresh_grant(&narrow).await.unwrap();
    assert_eq!(third.scope, "sip");
    let r3 = third.refresh_token.clone().unwrap();
    let mut other_client = grant(&r3);
    other_client.client_id = "cisco-phone".into();
    assert_eq!(
        lab.oauth
            .refresh_grant(&other_client)
            .await
            .unwrap_err()
            .code,
        GrantErrorCode::InvalidGrant
    );

    // Replaying r1: the family is revoked, every access token of it refused.
    let e = lab.oauth.refresh_grant(&grant(&r1)).await.unwrap_err();
    assert_eq!(e.code, GrantErrorCode::InvalidGrant);
    assert!(e.description.contains("already used"), "{e}");
    for token in [
        &first.access_token,
        &second.access_token,
        &third.access_token,
    ] {
        assert_eq!(
            lab.oauth.verify_access_token(token),
            Err(TokenError::Revoked)
        );
    }
    assert!(lab
        .oauth
        .refresh_grant(&grant(&r3))
        .await
        .unwrap_err()
        .description
        .contains("revoked"));
    // Another login of the same user is unaffected.
    let other = lab.login("wwhite").await;
    lab.oauth.verify_access_token(&other.access_token).unwrap();
    assert!(lab
        .traces()
        .contains("OAuth refresh token reused for 'wwhite': token family"));

    // Garbage.
    for junk in ["", "sbr_x", "not-a-token"] {
        assert!(lab.oauth.refresh_grant(&grant(junk)).await.is_err());
    }
    // Expiry: 60 days for Jabber.
    let r = other.refresh_token.unwrap();
    lab.clock.advance(60 * 86_400 + 1);
    assert!(lab
        .oauth
        .refresh_grant(&grant(&r))
        .await
        .unwrap_err()
        .description
        .contains("expired"));

    // The refresh login flow off: no refresh tokens, the grant refused.
    lab.store
        .set_param("admin", "OAuthWithRefreshLoginFlow", "0")
        .await
        .unwrap();
    lab.oauth.reload().await.unwrap();
    let plain = lab.login("wwhite").await;
    assert!(plain.refresh_token.is_none() && plain.claims.family.is_none());
    let e = lab.oauth.refresh_grant(&grant(&r3)).await.unwrap_err();
    assert_eq!(e.code, GrantErrorCode::UnsupportedGrantType);
    assert!(e.description.contains("OAuthWithRefreshLoginFlow"));
}

async fn revocation(backend: &str) {
    let lab = lab(backend).await;
    let a = lab.login("wwhite").await;
    let b = lab.login("wwhite").await;
    let j = lab.login("jpinkman").await;
    // Cached, then revoked: revocation wins over the cache.
    lab.oauth.verify_access_token(&a.access_token).unwrap();
    assert!(lab.oauth.cached_tokens() >= 1);

    // RFC 7009, an access token: only that one.
    assert_eq!(
        lab.oauth
            .revoke(&a.access_token, None, Some("jabber"))
            .await
            .unwrap(),
        RevokeOutcome::AccessToken {
            userid: "wwhite".into()
        }
    );
    assert_eq!(
        lab.oauth.verify_access_token(&a.access_token),
        Err(TokenError::Revoked)
    );
    lab.oauth.verify_access_token(&b.access_token).unwrap();
    // ... its refresh token still works.
    assert!(matches!(
        lab.oauth
            .introspect(a.refresh_token.as_ref().unwrap(), None)
            .await,
        Introspection::Refresh(_)
    ));
    // RFC 7009, a refresh token: its family.
    let rb = b.refresh_token.clone().unwrap();
    assert_eq!(
        lab.oauth
            .revoke(&rb, Some("refresh_token"), Some("cisco-phone"))
            .await
            .unwrap_err()
            .code,
        GrantErrorCode::InvalidClient
    );
    assert!(matches!(
        lab.oauth
            .revoke(&rb, Some("access_token"), None)
            .await
            .unwrap(),
        RevokeOutcome::RefreshFamily { .. }
    ));
    assert_eq!(
        lab.oauth.verify_access_token(&b.access_token),
        Err(TokenError::Revoked)
    );
    assert_eq!(
        lab.oauth.introspect(&rb, None).await,
        Introspection::Inactive
    );
    // Unknown tokens: nothing, no error.
    for junk in [
        "",
        "whatever",
        "sbr_AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA",
    ] {
        assert_eq!(
            lab.oauth.revoke(junk, None, None).await.unwrap(),
            RevokeOutcome::Nothing
        );
    }
    assert!(matches!(
        lab.oauth.introspect(&j.access_token, None).await,
        Introspection::Access(t) if t.subject == "jpinkman"
    ));

    // Revoke-all: every token of wwhite issued up to now, none of jpinkman's.
    let c = lab.login("wwhite").await;
    assert_eq!(lab.oauth.revoke_user("admin", "wwhite").await.unwrap(), 2);
    assert_eq!(
        lab.oauth.verify_access_token(&c.access_token),
        Err(TokenError::Revoked)
    );
    lab.oauth.verify_access_token(&j.access_token).unwrap();
    let refresh = RefreshGrant {
        client_id: "jabber".into(),
        refresh_token: c.refresh_token.clone().unwrap(),
        scope: None,
    };
    assert!(lab.oauth.refresh_grant(&refresh).await.is_err());
    lab.clock.advance(1);
    let d = lab.login("wwhite").await;
    lab.oauth.verify_access_token(&d.access_token).unwrap();

    // Disabling, then deleting, a user.
    lab.store
        .update_user(
            "admin",
            "jpinkman",
            &UserPatch {
                enabled: Some(false),
                ..Default::default()
            },
        )
        .await
        .unwrap();
    lab.oauth.reload().await.unwrap();
    assert_eq!(
        lab.oauth.verify_access_token(&j.access_token),
        Err(TokenError::Revoked)
    );
    let jr = RefreshGrant {
        client_id: "jabber".into(),
        refresh_token: j.refresh_token.clone().unwrap(),
        scope: None,
    };
    assert_eq!(
        lab.oauth.refresh_grant(&jr).await.unwrap_err().description,
        "the account is locked or disabled; contact your administrator"
    );
    lab.store.delete_user("admin", "jpinkman").await.unwrap();
    lab.oauth.reload().await.unwrap();
    assert_eq!(
        lab.oauth.verify_access_token(&j.access_token),
        Err(TokenError::Revoked)
    );
    let audit = serde_json::to_string(&lab.store.list_audit(50).await.unwrap()).unwrap();
    assert!(audit.contains("revoke-all") && audit.contains("oauthaccesstoken"));
}

async fn key_rotation(backend: &str) {
    let lab = lab(backend).await;
    let old = lab.login("wwhite").await;
    let old_kid = jsonwebtoken::decode_header(&old.access_token)
        .unwrap()
        .kid
        .unwrap();
    let form = lab.oauth.bind_form(&["jabber", "state-1"]).unwrap();
    assert!(lab.oauth.check_form(&["jabber", "state-1"], &form));
    assert!(
        !lab.oauth.check_form(&["jabberstate-1", ""], &form),
        "parts are delimited"
    );
    assert!(!lab.oauth.check_form(&["jabber", "state-2"], &form));
    assert!(!lab.oauth.check_form(&["jabber", "state-1"], "AAAA"));
    lab.clock.advance(10);
    let new_key = lab.oauth.rotate_key("admin").await.unwrap();
    assert!(
        lab.oauth.check_form(&["jabber", "state-1"], &form),
        "forms in flight survive a rotation"
    );
    assert_ne!(lab.oauth.bind_form(&["jabber", "state-1"]).unwrap(), form);
    assert_ne!(new_key.kid, old_kid);
    assert_eq!(new_key.status, KeyStatus::Signing);
    let keys = lab.oauth.keys().await.unwrap();
    assert_eq!(
        keys.iter()
            .map(|k| (k.kid.clone(), k.status))
            .collect::<Vec<_>>(),
        vec![
            (new_key.kid.clone(), KeyStatus::Signing),
            (old_kid.clone(), KeyStatus::Verifying)
        ]
    );
    // Old tokens still verify; new tokens carry the new kid; both keys are published.
    lab.oauth.verify_access_token(&old.access_token).unwrap();
    let new = lab.login("wwhite").await;
    assert_eq!(
        jsonwebtoken::decode_header(&new.access_token).unwrap().kid,
        Some(new_key.kid.clone())
    );
    let published: Vec<String> = lab
        .oauth
        .jwks()
        .iter()
        .map(|k| k["kid"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(published, vec![new_key.kid.clone(), old_kid.clone()]);

    // Once every token the old key can have signed has expired, it leaves the JWKS.
    lab.clock
        .advance(switchboard_oauth::retired_key_grace() - 1);
    lab.oauth.reload().await.unwrap();
    assert_eq!(lab.oauth.jwks().len(), 2);
    lab.clock.advance(1);
    lab.oauth.reload().await.unwrap();
    let published: Vec<String> = lab
        .oauth
        .jwks()
        .iter()
        .map(|k| k["kid"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(published, vec![new_key.kid.clone()]);
    assert_eq!(
        lab.oauth.keys().await.unwrap()[1].status,
        KeyStatus::Expired
    );
    assert_eq!(
        lab.oauth.verify_access_token(&old.access_token),
        Err(TokenError::UnknownKey(old_kid.clone())),
        "its key is gone (and the token has long expired)"
    );
    // A token the old key signs now would be refused by kid.
    let material = lab.store.oauth_key_material().await.unwrap();
    let old_private = material.iter().find(|k| k.kid == old_kid).unwrap();
    let old_key = EncodingKey::from_ec_der(
        &STANDARD
            .decode(old_private.private_key.as_ref().unwrap())
            .unwrap(),
    );
    assert_eq!(
        lab.oauth
            .verify_access_token(&sign(&old_kid, &old_key, &lab.claims())),
        Err(TokenError::UnknownKey(old_kid.clone()))
    );
    // The next rotation deletes it.
    lab.oauth.rotate_key("admin").await.unwrap();
    let kids: Vec<String> = lab
        .oauth
        .keys()
        .await
        .unwrap()
        .into_iter()
        .map(|k| k.kid)
        .collect();
    assert!(!kids.contains(&old_kid) && kids.len() == 2, "{kids:?}");
    assert!(lab.traces().contains(&format!(
        "OAuth signing key created: kid={} (retired: {old_kid})",
        new_key.kid
    )));
}

async fn external_issuers(backend: &str) {
    let lab = lab(backend).await;
    let idp = switchboard_oauth::keys::generate().unwrap();
    let idp_key = EncodingKey::from_ec_der(&STANDARD.decode(&idp.private_key).unwrap());
    let rsa_jwk: Value = serde_json::from_str(include_str!("data/rsa-2048.jwk.json")).unwrap();
    let rsa_key = EncodingKey::from_rsa_pem(include_bytes!("data/rsa-2048.pem")).unwrap();
    let now = lab.clock_now();
    let claims = |iss: &str, aud: &str| json!({"iss": iss, "sub": "wwhite", "aud": aud, "exp": now + 300, "iat": now, "scope": "sip"});
    let idp_token = sign(
        &idp.kid,
        &idp_key,
        &claims("https://idp.example.com", "ucm"),
    );
    assert_eq!(
        lab.oauth.verify_access_token(&idp_token),
        Err(TokenError::WrongIssuer)
    );

    let new = OAuthIssuerNew {
        issuer: "https://idp.example.com".into(),
        audience: "ucm".into(),
        jwks: json!({"keys": [idp.public_jwk, rsa_jwk]}),
    };
    lab.oauth.put_issuer("admin", &new).await.unwrap();
    let t = lab.oauth.verify_access_token(&idp_token).unwrap();
    assert_eq!(
        (t.issuer.as_str(), t.subject.as_str(), t.jti.clone()),
        ("https://idp.example.com", "wwhite", None)
    );
    let mut rs_header = Header::new(Algorithm::RS256);
    rs_header.kid = Some("rsa-test-1".into());
    let rs_token = jsonwebtoken::encode(
        &rs_header,
        &claims("https://idp.example.com", "ucm"),
        &rsa_key,
    )
    .unwrap();
    lab.oauth.verify_access_token(&rs_token).unwrap();
    // The issuer's own audience, not ours.
    let ours = sign(
        &idp.kid,
        &idp_key,
        &claims("https://idp.example.com", "switchboard"),
    );
    assert_eq!(
        lab.oauth.verify_access_token(&ours),
        Err(TokenError::WrongAudience)
    );
    // Another issuer, or our issuer with the other issuer's key.
    let elsewhere = sign(
        &idp.kid,
        &idp_key,
        &claims("https://other.example.com", "ucm"),
    );
    assert_eq!(
        lab.oauth.verify_access_token(&elsewhere),
        Err(TokenError::WrongIssuer)
    );
    let impostor = sign(
        &idp.kid,
        &idp_key,
        &claims(&lab.oauth.issuer(), "switchboard"),
    );
    assert_eq!(
        lab.oauth.verify_access_token(&impostor),
        Err(TokenError::UnknownKey(idp.kid.clone()))
    );
    // External tokens of a disabled local user are refused too.
    lab.store
        .update_user(
            "admin",
            "wwhite",
            &UserPatch {
                enabled: Some(false),
                ..Default::default()
            },
        )
        .await
        .unwrap();
    lab.oauth.reload().await.unwrap();
    assert_eq!(
        lab.oauth.verify_access_token(&idp_token),
        Err(TokenError::Revoked)
    );
    lab.store
        .update_user(
            "admin",
            "wwhite",
            &UserPatch {
                enabled: Some(true),
                ..Default::default()
            },
        )
        .await
        .unwrap();
    lab.oauth.reload().await.unwrap();
    lab.oauth.verify_access_token(&idp_token).unwrap();

    // Refused inputs.
    let field = |e: switchboard_oauth::OAuthError| match e {
        switchboard_oauth::OAuthError::Store(switchboard_store::StoreError::Invalid {
            field,
            ..
        }) => field,
        other => panic!("{other:?}"),
    };
    let mut private = new.clone();
    private.jwks = json!({"keys": [{"kty": "EC", "crv": "P-256", "kid": "p", "x": "AA", "y": "AA", "d": "AA"}]});
    assert_eq!(
        field(lab.oauth.put_issuer("admin", &private).await.unwrap_err()),
        "jwks.keys[0].d"
    );
    let mut own = new.clone();
    own.issuer = lab.oauth.issuer();
    assert_eq!(
        field(lab.oauth.put_issuer("admin", &own).await.unwrap_err()),
        "issuer"
    );
    assert_eq!(lab.oauth.list_issuers().await.unwrap().len(), 1);

    // Removed: refused again, cached or not.
    lab.oauth
        .delete_issuer("admin", "https://idp.example.com")
        .await
        .unwrap();
    assert_eq!(
        lab.oauth.verify_access_token(&idp_token),
        Err(TokenError::WrongIssuer)
    );
}

async fn authorization_code_flow(backend: &str) {
    let lab = lab(backend).await;
    let verifier = "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk-and-some-more";
    let request = AuthorizationRequest {
        response_type: Some("code".into()),
        client_id: Some("jabber".into()),
        redirect_uri: Some("http://127.0.0.1:53117/callback".into()),
        scope: None,
        state: Some("xyz".into()),
        code_challenge: Some(clients::s256(verifier)),
        code_challenge_method: Some("S256".into()),
        device: None,
    };
    let authorization = lab.oauth.check_authorization(&request).await.unwrap();
    assert_eq!(authorization.scope, "sip cti");

    // Refusals: no redirect for an unknown client or redirect URI; redirect otherwise.
    let refuse = |change: &dyn Fn(&mut AuthorizationRequest)| {
        let mut r = request.clone();
        change(&mut r);
        r
    };
    for bad in [
        refuse(&|r| r.client_id = Some("evil".into())),
        refuse(&|r| r.client_id = None),
        refuse(&|r| r.redirect_uri = Some("https://evil.example.com/cb".into())),
        refuse(&|r| r.redirect_uri = None),
    ] {
        assert!(matches!(
            lab.oauth.check_authorization(&bad).await,
            Err(AuthorizeError::NoRedirect(_))
        ));
    }
    for (bad, code) in [
        (
            refuse(&|r| r.code_challenge_method = Some("plain".into())),
            GrantErrorCode::InvalidRequest,
        ),
        (
            refuse(&|r| r.code_challenge_method = None),
            GrantErrorCode::InvalidRequest,
        ),
        (
            refuse(&|r| r.code_challenge = Some("short".into())),
            GrantErrorCode::InvalidRequest,
        ),
        (
            refuse(&|r| r.response_type = Some("token".into())),
            GrantErrorCode::UnsupportedResponseType,
        ),
        (
            refuse(&|r| r.scope = Some("everything".into())),
            GrantErrorCode::InvalidScope,
        ),
    ] {
        match lab.oauth.check_authorization(&bad).await {
            Err(AuthorizeError::Redirect { error, state, .. }) => {
                assert_eq!((error.code, state.as_deref()), (code, Some("xyz")));
            }
            other => panic!("{other:?}"),
        }
    }

    let grant = |code: &str, verifier: &str| CodeGrant {
        client_id: "jabber".into(),
        code: code.into(),
        redirect_uri: "http://127.0.0.1:53117/callback".into(),
        code_verifier: verifier.into(),
    };
    let code = lab
        .oauth
        .issue_code(&authorization, "wwhite")
        .await
        .unwrap();
    assert!(code.starts_with("sbc_"));
    let issued = lab
        .oauth
        .authorization_code_grant(&grant(&code, verifier))
        .await
        .unwrap();
    assert_eq!(
        lab.oauth
            .verify_access_token(&issued.access_token)
            .unwrap()
            .subject,
        "wwhite"
    );
    // Reuse: refused, and what the code gave is revoked.
    let e = lab
        .oauth
        .authorization_code_grant(&grant(&code, verifier))
        .await
        .unwrap_err();
    assert_eq!(e.code, GrantErrorCode::InvalidGrant);
    assert_eq!(
        lab.oauth.verify_access_token(&issued.access_token),
        Err(TokenError::Revoked)
    );
    let refresh = RefreshGrant {
        client_id: "jabber".into(),
        refresh_token: issued.refresh_token.unwrap(),
        scope: None,
    };
    assert!(lab.oauth.refresh_grant(&refresh).await.is_err());

    // A wrong verifier burns the code.
    let code = lab
        .oauth
        .issue_code(&authorization, "wwhite")
        .await
        .unwrap();
    let wrong = "x".repeat(43);
    assert!(lab
        .oauth
        .authorization_code_grant(&grant(&code, &wrong))
        .await
        .unwrap_err()
        .description
        .contains("code_verifier"));
    assert_eq!(
        lab.oauth
            .authorization_code_grant(&grant(&code, verifier))
            .await
            .unwrap_err()
            .code,
        GrantErrorCode::InvalidGrant
    );
    // Another redirect URI, another client, a late redemption.
    let code = lab
        .oauth
        .issue_code(&authorization, "wwhite")
        .await
        .unwrap();
    let mut other_uri = grant(&code, verifier);
    other_uri.redirect_uri = "http://127.0.0.1:53118/callback".into();
    assert!(lab
        .oauth
        .authorization_code_grant(&other_uri)
        .await
        .unwrap_err()
        .description
        .contains("redirect_uri"));
    let code = lab
        .oauth
        .issue_code(&authorization, "wwhite")
        .await
        .unwrap();
    let mut other_client = grant(&code, verifier);
    other_client.client_id = "cisco-phone".into();
    assert_eq!(
        lab.oauth
            .authorization_code_grant(&other_client)
            .await
            .unwrap_err()
            .code,
        GrantErrorCode::InvalidGrant
    );
    let code = lab
        .oauth
        .issue_code(&authorization, "wwhite")
        .await
        .unwrap();
    lab.clock.advance(61);
    assert!(lab
        .oauth
        .authorization_code_grant(&grant(&code, verifier))
        .await
        .unwrap_err()
        .description
        .contains("expired"));
    // A malformed verifier is a bad request (the code is not spent).
    assert_eq!(
        lab.oauth
            .authorization_code_grant(&grant(&code, "short"))
            .await
            .unwrap_err()
            .code,
        GrantErrorCode::InvalidRequest
    );
    // A device the user does not own.
    let mut bound = authorization.clone();
    bound.device = Some("CSFwwhite".into());
    assert!(
        lab.oauth
            .issue_code(&bound, "jpinkman")
            .await
            .unwrap_err()
            .code
            == GrantErrorCode::AccessDenied
    );
    let code = lab.oauth.issue_code(&bound, "wwhite").await.unwrap();
    let t = lab
        .oauth
        .authorization_code_grant(&grant(&code, verifier))
        .await
        .unwrap();
    assert_eq!(t.claims.device.as_deref(), Some("CSFwwhite"));
}

async fn device_binding_and_settings(backend: &str) {
    let lab = lab(backend).await;
    let mut grant = lab.password("wwhite");
    grant.device = Some("CSFwwhite".into());
    let t = lab.oauth.password_grant(&grant).await.unwrap();
    assert_eq!(
        lab.oauth
            .verify_access_token(&t.access_token)
            .unwrap()
            .device
            .as_deref(),
        Some("CSFwwhite")
    );
    let row = lab
        .store
        .find_refresh_token(&switchboard_auth::token::hash(
            t.refresh_token.as_ref().unwrap(),
        ))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(row.device.as_deref(), Some("CSFwwhite"));
    // Refreshing keeps the binding.
    let refreshed = lab
        .oauth
        .refresh_grant(&RefreshGrant {
            client_id: "jabber".into(),
            refresh_token: t.refresh_token.unwrap(),
            scope: None,
        })
        .await
        .unwrap();
    assert_eq!(refreshed.claims.device.as_deref(), Some("CSFwwhite"));
    for (userid, device) in [
        ("jpinkman", "CSFwwhite"),
        ("wwhite", "SEP000000000009"),
        ("wwhite", "bad name!"),
    ] {
        let mut g = lab.password(userid);
        g.device = Some(device.into());
        let e = lab.oauth.password_grant(&g).await.unwrap_err();
        let want = if device.contains(' ') {
            GrantErrorCode::InvalidRequest
        } else {
            GrantErrorCode::InvalidGrant
        };
        assert_eq!(e.code, want, "{userid} {device}: {e}");
    }
    // Parameters take effect on reload: expiry, issuer, audience; phones get their own
    // refresh-token lifetime.
    lab.store
        .set_param("admin", "OAuthAccessTokenExpiryMinutes", "5")
        .await
        .unwrap();
    lab.store
        .set_param("admin", "OAuthIssuer", "https://ucm.example.com")
        .await
        .unwrap();
    lab.store
        .set_param("admin", "OAuthAudience", "sip-edge")
        .await
        .unwrap();
    lab.store
        .set_param("admin", "PhoneOAuthRefreshTokenExpiryDays", "365")
        .await
        .unwrap();
    lab.oauth.reload().await.unwrap();
    let mut phone = lab.password("wwhite");
    phone.client_id = "cisco-phone".into();
    let p = lab.oauth.password_grant(&phone).await.unwrap();
    assert_eq!(p.expires_in, 300);
    let v = lab.oauth.verify_access_token(&p.access_token).unwrap();
    assert_eq!(
        (v.issuer.as_str(), v.audience.clone()),
        ("https://ucm.example.com", vec!["sip-edge".to_string()])
    );
    let row = lab
        .store
        .find_refresh_token(&switchboard_auth::token::hash(
            p.refresh_token.as_ref().unwrap(),
        ))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        switchboard_store::unix_of(&row.expires_at),
        Some(lab.clock_now() + 365 * 86_400)
    );
    // Tokens issued under the old issuer are refused now.
    assert_eq!(
        lab.oauth.verify_access_token(&refreshed.access_token),
        Err(TokenError::WrongIssuer)
    );
    // The lockout reaches the token endpoint as a generic reason.
    lab.store
        .set_param("admin", "CredentialPolicyFailedLogonThreshold", "2")
        .await
        .unwrap();
    let mut wrong = lab.password("jpinkman");
    wrong.password = "nope".into();
    for _ in 0..2 {
        lab.oauth.password_grant(&wrong).await.unwrap_err();
    }
    let e = lab
        .oauth
        .password_grant(&lab.password("jpinkman"))
        .await
        .unwrap_err();
    assert_eq!(
        e.description,
        "the account is locked or disabled; contact your administrator"
    );
    assert_eq!(
        lab.store.get_user("jpinkman").await.unwrap().failed_logons,
        0,
        "reset by the lockout"
    );
}
