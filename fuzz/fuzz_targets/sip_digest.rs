//! Fuzzes the registrar's digest path on an arbitrary Authorization value (the text
//! `NONCE` in the input stands for a nonce just issued by a fresh `NonceManager`, so the
//! fuzzer can reach the valid-nonce paths): the credentials parse, print and parse back;
//! the algorithm, nonce count and expected response are computed as the registrar does and
//! never panic; a response matches only its own hex (case aside); a nonce other than the
//! issued one is never valid; the issued one is valid once per nonce count, replays are
//! refused, and it goes stale after its lifetime.
#![no_main]

use libfuzzer_sys::fuzz_target;
use switchboard_auth::digest::{self, DigestAlgorithm};
use switchboard_auth::nonce::{NonceManager, NonceStatus};
use switchboard_sip_proto::{Credentials, Headers};

const NOW_MS: u64 = 1_800_000_000_000;
const LIFETIME_SECS: u64 = 30;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let nonces = NonceManager::new(LIFETIME_SECS);
    let issued = nonces.issue(NOW_MS);
    let mut headers = Headers::new();
    headers.push("Authorization", &text.replace("NONCE", &issued));
    let Ok(Some(creds)) = headers.authorization() else {
        return;
    };
    let printed = creds.to_string();
    assert_eq!(
        Credentials::parse(&printed).as_ref(),
        Ok(&creds),
        "credentials round trip via {printed:?}"
    );
    let Credentials::Digest(c) = creds else {
        return;
    };

    // As the registrar does (crates/sip/src/registrar.rs, check_digest).
    let qop = c.qop.as_deref().unwrap_or("");
    let nc = match (qop, c.nc.as_deref()) {
        ("", _) => 0,
        ("auth", Some(nc)) => match u32::from_str_radix(nc, 16) {
            Ok(n) if n > 0 => n,
            _ => return,
        },
        _ => return,
    };
    if let Ok(alg) = c
        .algorithm
        .as_deref()
        .unwrap_or("MD5")
        .parse::<DigestAlgorithm>()
    {
        let ha1 = digest::ha1(alg, &c.username, &c.realm, "secret");
        let expected = digest::response(
            alg,
            &ha1,
            &c.nonce,
            c.nc.as_deref().unwrap_or(""),
            c.cnonce.as_deref().unwrap_or(""),
            qop,
            "REGISTER",
            &c.uri,
        );
        assert!(digest::responses_match(&expected, &expected));
        assert_eq!(
            digest::responses_match(&expected, &c.response),
            expected.eq_ignore_ascii_case(&c.response),
            "a response matches only its own hex"
        );
    }

    let status = nonces.check(&c.nonce, nc, NOW_MS + 1);
    if c.nonce != issued {
        assert_ne!(
            status,
            NonceStatus::Valid,
            "a nonce not issued here is valid"
        );
        return;
    }
    assert_eq!(status, NonceStatus::Valid, "the issued nonce, first use");
    assert_eq!(
        nonces.check(&c.nonce, nc, NOW_MS + 2),
        NonceStatus::Replayed,
        "the same nonce count twice"
    );
    if let Some(next) = nc.checked_add(1) {
        assert_eq!(nonces.check(&c.nonce, next, NOW_MS + 3), NonceStatus::Valid);
        assert_eq!(
            nonces.check(&c.nonce, nc, NOW_MS + 4),
            NonceStatus::Replayed
        );
    }
    let later = NOW_MS + LIFETIME_SECS * 1000 + 1;
    assert_eq!(
        nonces.check(&c.nonce, u32::MAX, later),
        NonceStatus::Stale,
        "the issued nonce after its lifetime"
    );
});
