//! Tests of the SIP digest helpers against the RFC example vectors.

use switchboard_auth::digest::{ha1, response, responses_match, DigestAlgorithm};

// RFC 7616 §3.9.1: user "Mufasa", password "Circle of Life".
const REALM: &str = "http-auth@example.org";
const NONCE: &str = "7ypf/xlj9XXwfDPEoM4URrv/xwf94BcCAzFZH4GiTo0v";
const CNONCE: &str = "f2/wE4q74E6zIJEtWaHKaf5wv/H5QzzpXusqGemxURZJ";
const URI: &str = "/dir/index.html";

#[test]
fn rfc7616_md5_example() {
    let h = ha1(DigestAlgorithm::Md5, "Mufasa", REALM, "Circle of Life");
    assert_eq!(h, "3d78807defe7de2157e2b0b6573a855f");
    let r = response(
        DigestAlgorithm::Md5,
        &h,
        NONCE,
        "00000001",
        CNONCE,
        "auth",
        "GET",
        URI,
    );
    assert_eq!(r, "8ca523f5e9506fed4657c9700eebdbec");
}

#[test]
fn rfc7616_sha256_example() {
    let h = ha1(DigestAlgorithm::Sha256, "Mufasa", REALM, "Circle of Life");
    assert_eq!(
        h,
        "7987c64c30e25f1b74be53f966b49b90f2808aa92faf9a00262392d7b4794232"
    );
    let r = response(
        DigestAlgorithm::Sha256,
        &h,
        NONCE,
        "00000001",
        CNONCE,
        "auth",
        "GET",
        URI,
    );
    assert_eq!(
        r,
        "753927fa0e85d155564e2e272a28d1802ca10daf4496794697cf8db5856cb6c1"
    );
}

#[test]
fn rfc2617_md5_example() {
    let h = ha1(
        DigestAlgorithm::Md5,
        "Mufasa",
        "testrealm@host.com",
        "Circle Of Life",
    );
    let r = response(
        DigestAlgorithm::Md5,
        &h,
        "dcd98b7102dd2f0e8b11d0f600bfb0c093",
        "00000001",
        "0a4f113b",
        "auth",
        "GET",
        URI,
    );
    assert_eq!(r, "6629fae49393a05397450978507c4ef1");
}

#[test]
fn no_qop_form_ignores_nc_and_cnonce() {
    let h = ha1(DigestAlgorithm::Md5, "alice", "sip.example", "pw");
    let a = response(
        DigestAlgorithm::Md5,
        &h,
        "n",
        "00000001",
        "c1",
        "",
        "REGISTER",
        "sip:sip.example",
    );
    let b = response(
        DigestAlgorithm::Md5,
        &h,
        "n",
        "00000002",
        "c2",
        "",
        "REGISTER",
        "sip:sip.example",
    );
    assert_eq!(a, b);
    let ha2 = DigestAlgorithm::Md5.hex("REGISTER:sip:sip.example");
    assert_eq!(a, DigestAlgorithm::Md5.hex(&format!("{h}:n:{ha2}")));
}

#[test]
fn algorithm_parsing_and_comparison() {
    assert_eq!(
        "md5".parse::<DigestAlgorithm>().unwrap(),
        DigestAlgorithm::Md5
    );
    assert_eq!(
        "SHA-256".parse::<DigestAlgorithm>().unwrap(),
        DigestAlgorithm::Sha256
    );
    assert!("MD5-sess".parse::<DigestAlgorithm>().is_err());
    assert_eq!(DigestAlgorithm::Sha256.to_string(), "SHA-256");
    assert!(responses_match(
        "8ca523f5e9506fed4657c9700eebdbec",
        "8CA523F5E9506FED4657C9700EEBDBEC"
    ));
    assert!(!responses_match(
        "8ca523f5e9506fed4657c9700eebdbec",
        "8ca523f5e9506fed4657c9700eebdbed"
    ));
    assert!(!responses_match("8ca5", "8ca523"));
}
