//! Fuzzes access-token verification and JWKS parsing: `Verifier::verify` never panics on any
//! text and never accepts what this key did not sign; `parse_jwks` never panics on any JSON.
#![no_main]
use std::sync::OnceLock;

use libfuzzer_sys::fuzz_target;
use switchboard_oauth::keys;
use switchboard_oauth::verify::{IssuerKeys, Verifier};

fn verifier() -> &'static Verifier {
    static VERIFIER: OnceLock<Verifier> = OnceLock::new();
    VERIFIER.get_or_init(|| {
        let key = keys::generate().expect("key");
        let (kid, verify) = keys::parse_jwk(&key.public_jwk, 0).expect("own JWK");
        Verifier {
            issuer: "https://ucm1.example.com:8443".into(),
            own: IssuerKeys {
                audience: "switchboard".into(),
                keys: [(kid, verify)].into_iter().collect(),
            },
            external: Default::default(),
        }
    })
}

fuzz_target!(|data: &[u8]| {
    if let Ok(text) = std::str::from_utf8(data) {
        // The fuzzer cannot forge an ES256 signature of a key generated here.
        assert!(verifier().verify(text, 1_800_000_000).is_err());
    }
    if let Ok(json) = serde_json::from_slice::<serde_json::Value>(data) {
        let _ = keys::parse_jwks(&json);
    }
});
