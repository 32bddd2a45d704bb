//! Tests of password hashing and generation.

use switchboard_auth::password::{self, ALPHABET, MAX_PASSWORD_BYTES, MIN_GENERATED_LEN};
use switchboard_auth::AuthError;

#[test]
fn hash_verify_round_trip() {
    let h = password::hash("correct horse battery staple").unwrap();
    assert!(h.starts_with("$argon2id$v=19$"), "{h}");
    assert!(password::verify("correct horse battery staple", &h));
    assert!(!password::verify("correct horse battery stapler", &h));
    assert!(!password::verify("", &h));
}

#[test]
fn hashes_are_salted() {
    assert_ne!(password::hash("pw").unwrap(), password::hash("pw").unwrap());
}

#[test]
fn malformed_or_foreign_hashes_verify_false() {
    assert!(!password::verify("pw", ""));
    assert!(!password::verify("pw", "not a hash"));
    assert!(!password::verify(
        "pw",
        "$argon2id$v=19$m=19456,t=2,p=1$bad"
    ));
    assert!(!password::verify("pw", "$2b$12$abcdefghijklmnopqrstuu"));
    // Absurd cost parameters are refused instead of burning memory.
    let h = password::hash("pw").unwrap();
    assert!(!password::verify("pw", &h.replace("m=19456", "m=4000000")));
}

#[test]
fn over_long_password_is_refused() {
    let long = "a".repeat(MAX_PASSWORD_BYTES + 1);
    assert!(matches!(
        password::hash(&long),
        Err(AuthError::PasswordTooLong { .. })
    ));
    let h = password::hash("pw").unwrap();
    assert!(!password::verify(&long, &h));
}

#[test]
fn generated_passwords_use_unambiguous_alphabet() {
    for ambiguous in ['0', 'O', '1', 'l', 'I'] {
        assert!(!ALPHABET.contains(&(ambiguous as u8)), "{ambiguous}");
    }
    let p = password::generate(24);
    assert_eq!(p.chars().count(), 24);
    assert!(p.bytes().all(|b| ALPHABET.contains(&b)), "{p}");
    assert_eq!(
        password::generate(4).len(),
        MIN_GENERATED_LEN,
        "never shorter than the minimum"
    );
    assert_ne!(password::generate(16), password::generate(16));
    // Across many draws every symbol is possible (uniform choice over the whole alphabet).
    let many: String = (0..200).map(|_| password::generate(32)).collect();
    assert!(ALPHABET.iter().all(|c| many.as_bytes().contains(c)));
}
