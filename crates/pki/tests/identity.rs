//! Tests of tomcat generation, the certificate directory and identity handling.

use switchboard_pki::{
    generate_test_ca, generate_tomcat, issue_leaf, parse_certificates, CertDir, NodeIdentity,
    PkiError,
};

#[test]
fn generated_tomcat_has_expected_subject_and_sans() {
    let id = generate_tomcat(
        "cucm-pub",
        &["10.0.0.5".into(), "cucm-pub.example.org".into()],
    )
    .unwrap();
    let info = id.info();
    assert!(info.subject.contains("CN=cucm-pub"), "{}", info.subject);
    assert!(info.subject.contains("O=Switchboard"), "{}", info.subject);
    assert_eq!(info.subject, info.issuer, "self-signed");
    for san in [
        "cucm-pub",
        "localhost",
        "127.0.0.1",
        "::1",
        "10.0.0.5",
        "cucm-pub.example.org",
    ] {
        assert!(
            info.sans.iter().any(|s| s == san),
            "missing SAN {san}: {:?}",
            info.sans
        );
    }
    assert!(!info.is_ca);
    assert_eq!(info.sha256_fingerprint.len(), 64);
    assert!(info
        .sha256_fingerprint
        .chars()
        .all(|c| c.is_ascii_hexdigit() && !c.is_ascii_uppercase()));
    assert!(!info.serial.is_empty());
    assert!(info.not_before < info.not_after);
    assert!(id.key_pem().contains("PRIVATE KEY"));
    assert_eq!(parse_certificates(&id.cert_pem).unwrap(), vec![info]);
}

#[test]
fn serials_are_random() {
    let a = generate_tomcat("n", &[]).unwrap().info();
    let b = generate_tomcat("n", &[]).unwrap().info();
    assert_ne!(a.serial, b.serial);
}

#[test]
fn debug_never_prints_the_key() {
    let id = generate_tomcat("node1", &[]).unwrap();
    let dbg = format!("{id:?}");
    assert!(!dbg.contains("PRIVATE KEY"), "{dbg}");
    assert!(dbg.contains("redacted"));
}

#[test]
fn empty_node_name_is_refused() {
    assert!(matches!(
        generate_tomcat("  ", &[]),
        Err(PkiError::Generate(_))
    ));
}

#[test]
fn from_pem_checks_key_matches_certificate() {
    let a = generate_tomcat("a", &[]).unwrap();
    let b = generate_tomcat("b", &[]).unwrap();
    assert!(NodeIdentity::from_pem(a.cert_pem.clone(), a.key_pem()).is_ok());
    let err = NodeIdentity::from_pem(a.cert_pem.clone(), b.key_pem()).unwrap_err();
    assert!(matches!(err, PkiError::KeyMismatch), "{err}");
    assert!(matches!(
        NodeIdentity::from_pem(a.cert_pem.clone(), "junk"),
        Err(PkiError::InvalidKey(_))
    ));
}

#[test]
fn test_ca_issues_leaves() {
    let ca = generate_test_ca("Edge CA").unwrap();
    let ca_info = &parse_certificates(&ca.cert_pem).unwrap()[0];
    assert!(ca_info.is_ca);
    let leaf = issue_leaf(
        &ca,
        "edge1",
        &["edge1.example.org".into(), "192.0.2.7".into()],
    )
    .unwrap();
    let info = leaf.info();
    assert!(info.subject.contains("CN=edge1"));
    assert_eq!(info.issuer, ca_info.subject);
    assert!(info.sans.contains(&"192.0.2.7".to_string()));
    assert!(!info.is_ca);
    assert!(NodeIdentity::from_pem(leaf.cert_pem.clone(), leaf.key_pem()).is_ok());
}

#[test]
fn load_or_generate_is_stable_and_regenerate_replaces() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = CertDir::new(tmp.path().join("certs"));
    let (first, created) = dir.load_or_generate_tomcat("node1", &[]).unwrap();
    assert!(created);
    assert!(dir.tomcat_path().is_file());
    let (second, created) = dir.load_or_generate_tomcat("node1", &[]).unwrap();
    assert!(!created);
    assert_eq!(
        first.info().sha256_fingerprint,
        second.info().sha256_fingerprint
    );
    assert_eq!(first.key_pem(), second.key_pem());

    let third = dir.regenerate_tomcat("node1", &[]).unwrap();
    assert_ne!(
        third.info().sha256_fingerprint,
        first.info().sha256_fingerprint
    );
    let (reloaded, created) = dir.load_or_generate_tomcat("node1", &[]).unwrap();
    assert!(!created);
    assert_eq!(
        reloaded.info().sha256_fingerprint,
        third.info().sha256_fingerprint
    );
    // No staging files left behind.
    let names: Vec<_> = std::fs::read_dir(dir.path())
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .collect();
    assert_eq!(names.len(), 2, "{names:?}");
}

#[test]
fn half_written_identity_is_reported() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = CertDir::new(tmp.path());
    dir.load_or_generate_tomcat("node1", &[]).unwrap();
    std::fs::remove_file(dir.tomcat_path()).unwrap();
    let err = dir.load_or_generate_tomcat("node1", &[]).unwrap_err();
    assert!(matches!(err, PkiError::IncompleteIdentity { .. }), "{err}");
    dir.regenerate_tomcat("node1", &[]).unwrap();
    assert!(!dir.load_or_generate_tomcat("node1", &[]).unwrap().1);
}

#[cfg(unix)]
#[test]
fn key_file_is_0600_and_dir_0700() {
    use std::os::unix::fs::PermissionsExt;
    let tmp = tempfile::tempdir().unwrap();
    let dir = CertDir::new(tmp.path().join("data").join("certs"));
    dir.load_or_generate_tomcat("node1", &[]).unwrap();
    let mode = |p: &std::path::Path| std::fs::metadata(p).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode(&dir.tomcat_key_path()), 0o600);
    assert_eq!(mode(dir.path()), 0o700);
    dir.regenerate_tomcat("node1", &[]).unwrap();
    assert_eq!(mode(&dir.tomcat_key_path()), 0o600);
}
