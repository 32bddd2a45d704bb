//! The seed's (004, "Exemplo de log do Jabber", Cenário 1) 407 and 403, built with the
//! crate's builders, print exactly the header lines CUCM sent.

mod common;

use common::read;
use switchboard_sip_proto::{parse_message, Challenge, Message, RetryAfter, SipDate, Warning};

fn lines(m: &Message) -> Vec<String> {
    String::from_utf8(m.to_bytes())
        .unwrap()
        .split("\r\n")
        .map(str::to_string)
        .collect()
}

fn sample_lines(name: &str) -> Vec<String> {
    String::from_utf8(read(&format!("cisco/{name}")))
        .unwrap()
        .split("\r\n")
        .map(str::to_string)
        .collect()
}

/// The Jabber REGISTER the 407 answers (the seed's first REGISTER).
fn jabber_register() -> Message {
    parse_message(&read("cisco/oauth-01-REGISTER-csf-initial-no-token.sip")).unwrap()
}

#[test]
fn proxy_authentication_required_bearer() {
    let r = Message::response_to(&jabber_register(), 407, "Proxy Authentication Required")
        .with_to_tag("441122775")
        .with_header("Date", &SipDate::from_unix(1_585_566_211).to_string())
        .with_header("Server", "Cisco-CUCM12.5")
        .with_header(
            "Proxy-Authenticate",
            &Challenge::bearer("ccmsipline").to_string(),
        );
    let built = lines(&r);
    assert!(built.contains(&r#"Proxy-Authenticate: Bearer realm="ccmsipline""#.to_string()));
    let sample = sample_lines("oauth-02-407-Proxy-Authenticate-Bearer-ccmsipline.sip");
    for l in built.iter().filter(|l| !l.is_empty()) {
        assert!(sample.contains(l), "{l:?} is not in the capture");
    }
    assert_eq!(built.len(), sample.len(), "same number of lines");
}

#[test]
fn invalid_token_challenge() {
    let r = Message::response_to(&jabber_register(), 407, "Proxy Authentication Required")
        .with_header(
            "Proxy-Authenticate",
            &Challenge::bearer_error("ccmsipline", "invalid_token").to_string(),
        );
    assert!(lines(&r).contains(
        &r#"Proxy-Authenticate: Bearer realm="ccmsipline", error="invalid_token""#.to_string()
    ));
}

#[test]
fn forbidden_oauth_port_mismatch() {
    // The REGISTER behind the seed's 403 is not published: rebuild its identifying headers.
    let req = Message::request(
        switchboard_sip_proto::Method::Register,
        switchboard_sip_proto::Uri::parse("sip:UCM2-PUB").unwrap(),
    )
    .with_header(
        "Via",
        "SIP/2.0/TLS 10.5.10.121:50347;branch=z9hG4bK00005163",
    )
    .with_header(
        "From",
        "<sip:2000@UCM2-PUB>;tag=005056867e66010a00006698-00002a32",
    )
    .with_header("To", "<sip:2000@UCM2-PUB>")
    .with_header("Call-ID", "00505686-7e660005-0000216b-0000366f@10.5.10.121")
    .with_header("CSeq", "363 REGISTER");
    let r = Message::response_to(&req, 403, "Forbidden")
        .with_to_tag("1946377502")
        .with_header("Date", &SipDate::from_unix(1_533_272_418).to_string())
        .with_header("Server", "Cisco-CUCM12.5")
        .with_header("Retry-After", &RetryAfter::new(35).to_string())
        .with_header(
            "Warning",
            &Warning::new(399, "UCM2-PUB", "SIP OAuth Registration port Mismatch").to_string(),
        );
    let built = lines(&r);
    assert!(built.contains(&"Retry-After: 35".to_string()));
    assert!(built
        .contains(&r#"Warning: 399 UCM2-PUB "SIP OAuth Registration port Mismatch""#.to_string()));
    let sample = sample_lines("oauth-05-403-SIP-OAuth-Registration-port-Mismatch.sip");
    for l in built.iter().filter(|l| !l.is_empty()) {
        assert!(sample.contains(l), "{l:?} is not in the capture");
    }
    assert_eq!(built.len(), sample.len());
    let back = parse_message(&r.to_bytes()).unwrap();
    assert_eq!(
        back.headers.warning().unwrap().unwrap().text,
        "SIP OAuth Registration port Mismatch"
    );
}
