//! Tests of secrets encryption at rest and the key file.

use switchboard_auth::secretbox::{is_sealed, SecretKey};
use switchboard_auth::AuthError;

#[test]
fn round_trip_with_random_nonce() {
    let key = SecretKey::generate();
    let a = key.encrypt("ldap service password ✓");
    let b = key.encrypt("ldap service password ✓");
    assert!(a.starts_with("v1:") && is_sealed(&a), "{a}");
    assert_ne!(a, b, "fresh nonce each time");
    assert_eq!(key.decrypt(&a).unwrap(), "ldap service password ✓");
    assert_eq!(key.decrypt(&key.encrypt("")).unwrap(), "");
}

#[test]
fn tampering_is_detected() {
    use base64::Engine;
    let key = SecretKey::from_bytes([7; 32]);
    let sealed = key.encrypt("secret");
    let mut blob = base64::engine::general_purpose::STANDARD
        .decode(&sealed[3..])
        .unwrap();
    for i in [0, 24, blob.len() - 1] {
        blob[i] ^= 1;
        let forged = format!(
            "v1:{}",
            base64::engine::general_purpose::STANDARD.encode(&blob)
        );
        assert!(
            matches!(key.decrypt(&forged), Err(AuthError::Decrypt)),
            "byte {i}"
        );
        blob[i] ^= 1;
    }
}

#[test]
fn wrong_key_is_detected() {
    let sealed = SecretKey::from_bytes([1; 32]).encrypt("secret");
    assert!(matches!(
        SecretKey::from_bytes([2; 32]).decrypt(&sealed),
        Err(AuthError::Decrypt)
    ));
}

#[test]
fn malformed_input_is_an_error_not_a_panic() {
    let key = SecretKey::generate();
    for bad in [
        "",
        "secret",
        "v2:AAAA",
        "v1:",
        "v1:%%%",
        "v1:AAAA",
        "v1:AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA",
    ] {
        let err = key.decrypt(bad).unwrap_err();
        assert!(
            matches!(err, AuthError::SecretFormat(_) | AuthError::Decrypt),
            "{bad}: {err}"
        );
    }
    assert!(matches!(
        key.decrypt("plain"),
        Err(AuthError::SecretFormat(_))
    ));
}

#[test]
fn debug_prints_nothing_secret() {
    let key = SecretKey::from_bytes([0xAB; 32]);
    let dbg = format!("{key:?}");
    assert!(
        !dbg.contains("171") && !dbg.to_lowercase().contains("ab, "),
        "{dbg}"
    );
    assert!(dbg.contains("redacted"));
}

#[test]
fn key_file_is_created_0600_and_reloads_the_same_key() {
    let tmp = tempfile::tempdir().unwrap();
    let path = tmp.path().join("data").join("secret.key");
    let key = SecretKey::load_or_create(&path).unwrap();
    assert_eq!(std::fs::metadata(&path).unwrap().len(), 32);
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(&path).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o600);
    }
    let sealed = key.encrypt("sip digest password");
    let again = SecretKey::load_or_create(&path).unwrap();
    assert_eq!(again.decrypt(&sealed).unwrap(), "sip digest password");
    // Only the key file is left in the directory (no staging files).
    assert_eq!(
        std::fs::read_dir(path.parent().unwrap()).unwrap().count(),
        1
    );
}

#[test]
fn key_file_of_wrong_length_is_refused_not_replaced() {
    let tmp = tempfile::tempdir().unwrap();
    let path = tmp.path().join("secret.key");
    std::fs::write(&path, b"too short").unwrap();
    let err = SecretKey::load_or_create(&path).unwrap_err();
    assert!(
        matches!(err, AuthError::KeyFileLength { len: 9, .. }),
        "{err}"
    );
    assert!(err.to_string().contains("expected exactly 32"), "{err}");
    assert_eq!(std::fs::read(&path).unwrap(), b"too short");
}
