//! Tests of `parse_certificates`: what a trust import accepts and refuses.

use switchboard_pki::{
    generate_test_ca, generate_tomcat, parse_certificates, PkiError, MAX_PEM_BYTES,
};

#[test]
fn accepts_several_blocks_in_order() {
    let a = generate_tomcat("a", &[]).unwrap();
    let ca = generate_test_ca("Root").unwrap();
    let bundle = format!("some comment line\n{}\n{}", a.cert_pem, ca.cert_pem);
    let infos = parse_certificates(&bundle).unwrap();
    assert_eq!(infos.len(), 2);
    assert!(infos[0].subject.contains("CN=a"));
    assert!(infos[1].is_ca);
    // Round-trips through serde.
    let json = serde_json::to_string(&infos[0]).unwrap();
    assert!(json.contains("\"sha256_fingerprint\""));
    assert_eq!(
        serde_json::from_str::<switchboard_pki::CertInfo>(&json).unwrap(),
        infos[0]
    );
}

#[test]
fn refuses_empty_and_garbage() {
    assert!(matches!(
        parse_certificates(""),
        Err(PkiError::NoCertificate)
    ));
    assert!(matches!(
        parse_certificates("hello world\n"),
        Err(PkiError::NoCertificate)
    ));
    let bad_b64 = "-----BEGIN CERTIFICATE-----\n!!!not base64!!!\n-----END CERTIFICATE-----\n";
    assert!(matches!(
        parse_certificates(bad_b64),
        Err(PkiError::Malformed(_))
    ));
    let not_x509 = "-----BEGIN CERTIFICATE-----\naGVsbG8gd29ybGQ=\n-----END CERTIFICATE-----\n";
    assert!(matches!(
        parse_certificates(not_x509),
        Err(PkiError::Malformed(_))
    ));
}

#[test]
fn refuses_a_private_key_block() {
    let id = generate_tomcat("a", &[]).unwrap();
    let with_key = format!("{}{}", id.cert_pem, id.key_pem());
    let err = parse_certificates(&with_key).unwrap_err();
    assert!(matches!(err, PkiError::PrivateKeyInInput));
    assert!(err.to_string().contains("must never carry a key"), "{err}");
    let encrypted =
        "-----BEGIN ENCRYPTED PRIVATE KEY-----\nAAAA\n-----END ENCRYPTED PRIVATE KEY-----\n";
    assert!(matches!(
        parse_certificates(encrypted),
        Err(PkiError::PrivateKeyInInput)
    ));
}

#[test]
fn refuses_oversize_input() {
    let id = generate_tomcat("a", &[]).unwrap();
    let mut big = id.cert_pem.clone();
    while big.len() <= MAX_PEM_BYTES {
        big.push_str(&id.cert_pem);
    }
    assert!(matches!(
        parse_certificates(&big),
        Err(PkiError::TooLarge { .. })
    ));
}
