//! Fuzzes access-token verification and JWKS parsing: `Verifier::verify` never panics on any
//! text and never accepts what this key did not sign; `parse_jwks` never panics on any JSON.
//! When the input is a JSON object it is also signed, as claims, with the test key (so the
//! checks after the signature are reached): such a token is accepted only when its issuer and
//! audience are this verifier's and its `exp`, `nbf` and `iat` hold at the time of the check
//! (with the leeway).
#![no_main]
use std::sync::OnceLock;

use jsonwebtoken::{Algorithm, EncodingKey, Header};
use libfuzzer_sys::fuzz_target;
use switchboard_oauth::keys;
use switchboard_oauth::verify::{IssuerKeys, Verifier, LEEWAY};

const ISSUER: &str = "https://ucm1.example.com:8443";
const AUDIENCE: &str = "switchboard";
const NOW: i64 = 1_800_000_000;

fn verifier() -> &'static (Verifier, EncodingKey, String) {
    static VERIFIER: OnceLock<(Verifier, EncodingKey, String)> = OnceLock::new();
    VERIFIER.get_or_init(|| {
        let key = keys::generate().expect("key");
        let (kid, verify) = keys::parse_jwk(&key.public_jwk, 0).expect("own JWK");
        let signing = keys::encoding_key(&key.private_key).expect("own private key");
        let verifier = Verifier {
            issuer: ISSUER.into(),
            own: IssuerKeys {
                audience: AUDIENCE.into(),
                keys: [(kid.clone(), verify)].into_iter().collect(),
            },
            external: Default::default(),
        };
        (verifier, signing, kid)
    })
}

/// A NumericDate claim as the verifier reads it (integer, or a finite float floored).
fn seconds(v: Option<&serde_json::Value>) -> Option<i64> {
    let v = v?;
    v.as_i64().or_else(|| {
        v.as_f64()
            .filter(|f| f.abs() < 1e15)
            .map(|f| f.floor() as i64)
    })
}

fuzz_target!(|data: &[u8]| {
    let (verifier, signing, kid) = verifier();
    if let Ok(text) = std::str::from_utf8(data) {
        // The fuzzer cannot forge an ES256 signature of a key generated here.
        assert!(verifier.verify(text, NOW).is_err());
    }
    let Ok(json) = serde_json::from_slice::<serde_json::Value>(data) else {
        return;
    };
    let _ = keys::parse_jwks(&json);
    let Some(claims) = json.as_object() else {
        return;
    };
    let mut header = Header::new(Algorithm::ES256);
    header.kid = Some(kid.clone());
    let Ok(token) = jsonwebtoken::encode(&header, &claims, signing) else {
        return;
    };
    let Ok(t) = verifier.verify(&token, NOW) else {
        return;
    };
    assert_eq!(t.issuer, ISSUER, "accepted another issuer");
    assert_eq!(claims.get("iss").and_then(|v| v.as_str()), Some(ISSUER));
    assert!(
        t.audience.iter().any(|a| a == AUDIENCE),
        "accepted another audience"
    );
    let exp = seconds(claims.get("exp")).expect("accepted without a readable exp");
    assert_eq!(t.expires_at, exp);
    assert!(
        NOW <= exp.saturating_add(LEEWAY),
        "accepted an expired token"
    );
    for start in ["nbf", "iat"] {
        if let Some(s) = seconds(claims.get(start)) {
            assert!(
                s.saturating_sub(LEEWAY) <= NOW,
                "accepted before its {start}"
            );
        }
    }
});
