//! Tests of API token generation and hashing.

use switchboard_auth::token;

#[test]
fn generated_tokens_have_the_documented_shape() {
    let t = token::generate();
    assert!(t.starts_with("sbt_"), "{t}");
    assert_eq!(t.len(), token::TOKEN_LEN);
    assert!(
        t[4..]
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_'),
        "{t}"
    );
    assert!(token::looks_like_token(&t));
    assert_ne!(t, token::generate());
}

#[test]
fn hash_is_stable_lowercase_hex_sha256() {
    let t = token::generate();
    let h = token::hash(&t);
    assert_eq!(h, token::hash(&t));
    assert_eq!(h.len(), 64);
    assert!(
        h.bytes()
            .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b)),
        "{h}"
    );
    assert_ne!(h, token::hash(&token::generate()));
    // Known vector: SHA-256("abc").
    assert_eq!(
        token::hash("abc"),
        "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
    );
}

#[test]
fn looks_like_token_rejects_lookalikes() {
    let t = token::generate();
    assert!(!token::looks_like_token(""));
    assert!(!token::looks_like_token("sbt_"));
    assert!(!token::looks_like_token(&t[..t.len() - 1]));
    assert!(!token::looks_like_token(&format!("{t}A")));
    assert!(!token::looks_like_token(&t.replacen("sbt_", "xyz_", 1)));
    assert!(!token::looks_like_token(&format!("sbt_{}", "+".repeat(43))));
}
