//! Real Cisco captures (test_data/cisco/): multipart REGISTERs from phones, Jabber's
//! OAuth REGISTERs, CUCM's challenges and responses. Device name, instance and model
//! are read from the Contact; bodies stay byte-exact; messages print back.

mod common;

use common::read;
use switchboard_sip_proto::{
    parse_message, Challenge, Contact, ContactList, Credentials, Message, ParseErrorKind,
};

fn cisco(name: &str) -> Vec<u8> {
    read(&format!("cisco/{name}"))
}

fn contact(h: &switchboard_sip_proto::Headers) -> Contact {
    match h.contacts().unwrap() {
        ContactList::List(mut l) if l.len() == 1 => l.remove(0),
        other => panic!("{other:?}"),
    }
}

fn body_of(raw: &[u8]) -> &[u8] {
    let at = raw.windows(4).position(|w| w == b"\r\n\r\n").unwrap() + 4;
    &raw[at..]
}

#[test]
fn every_sample_parses_or_explains_why_not() {
    let dir = common::data_path("cisco");
    let mut names: Vec<_> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .filter(|n| n.ends_with(".sip"))
        .collect();
    names.sort();
    assert_eq!(names.len(), 21);
    for n in names {
        let raw = cisco(&n);
        match parse_message(&raw) {
            Ok(m) => assert_eq!(parse_message(&m.to_bytes()).unwrap(), m, "{n}"),
            Err(e) => {
                // Excerpts and truncated captures: the header section still reads.
                let known = [
                    "em-cucm12.0-01-REGISTER-cipc-multipart-bulkregisterreq.sip",
                    "mra-cucm12.5-01-REGISTER-csf-x-cisco-mra-ha-EXCERPT.sip",
                    "oauth-03-REGISTER-Proxy-Authorization-Bearer.sip",
                ];
                assert!(known.contains(&n.as_str()), "{n}: {e}");
                assert!(e.partial().is_some(), "{n}");
            }
        }
    }
}

#[test]
fn cp7821_multipart_register() {
    let raw = cisco("emcc-cucm11.5-01-REGISTER-cp7821-multipart-bulkregisterreq.wire.sip");
    let m = parse_message(&raw).unwrap();
    let c = contact(&m.headers);
    assert_eq!(c.device_name.as_deref(), Some("SEPC80084AA8743"));
    assert_eq!(
        c.instance.as_deref(),
        Some("urn:uuid:00000000-0000-0000-0000-c80084aa8743")
    );
    assert_eq!(c.model.as_deref(), Some("621"));
    assert_eq!(m.headers.expires().unwrap(), Some(3600));
    let ct = m.headers.content_type().unwrap().unwrap();
    assert!(ct.is("multipart", "mixed"));
    assert_eq!(ct.boundary().as_deref(), Some("uniqueBoundary"));
    assert_eq!(m.body.len(), 1313);
    assert_eq!(m.body, body_of(&raw));
    assert!(m
        .headers
        .supported()
        .unwrap()
        .contains(&"X-cisco-sis-7.0.0".to_string()));
    assert!(m
        .headers
        .get("Reason")
        .unwrap()
        .starts_with("SIP;cause=200;text=\"cisco-alarm:23"));
    let printed = m.to_bytes();
    assert!(printed.ends_with(body_of(&raw)));
    assert!(printed
        .windows(22)
        .any(|w| w == b"Content-Length: 1313\r\n"));
    assert_eq!(parse_message(&printed).unwrap(), m);
    // The printed Contact line is the received one, byte for byte.
    let line = std::str::from_utf8(&raw)
        .unwrap()
        .lines()
        .find(|l| l.starts_with("Contact:"))
        .unwrap();
    assert_eq!(format!("Contact: {}", c), line.trim_end());
}

#[test]
fn cipc_register_with_short_body_keeps_headers() {
    let raw = cisco("em-cucm12.0-01-REGISTER-cipc-multipart-bulkregisterreq.sip");
    let e = parse_message(&raw).unwrap_err();
    assert!(matches!(
        e.kind(),
        ParseErrorKind::BodyTruncated {
            declared: 1073,
            available: 1058
        }
    ));
    assert!(e.can_respond());
    let c = contact(e.partial().unwrap());
    // CIPC uses the `.features.` variant of the tag, which is not the device name.
    assert_eq!(c.device_name, None);
    assert_eq!(
        c.params()
            .get_unquoted("+u.sip!devicename.ccm.features.cisco.com")
            .as_deref(),
        Some("test_secure")
    );
    assert_eq!(
        c.instance.as_deref(),
        Some("urn:uuid:00000000-0000-0000-0000-005056c00001")
    );
    assert_eq!(c.model.as_deref(), Some("30016"));
    assert_eq!(e.response().unwrap().code(), Some(400));
}

#[test]
fn jabber_oauth_flow() {
    let m = parse_message(&cisco("oauth-01-REGISTER-csf-initial-no-token.sip")).unwrap();
    let c = contact(&m.headers);
    assert_eq!(c.device_name.as_deref(), Some("CSFrado"));
    assert_eq!(c.model.as_deref(), Some("503"));
    assert_eq!(
        c.instance.as_deref(),
        Some("urn:uuid:00000000-0000-0000-0000-882323451234")
    );
    assert!(c.params().contains("video"));
    assert_eq!(m.headers.proxy_authorization().unwrap(), None);

    let m = parse_message(&cisco(
        "oauth-02-407-Proxy-Authenticate-Bearer-ccmsipline.sip",
    ))
    .unwrap();
    assert_eq!(
        m.headers.proxy_authenticate().unwrap(),
        Some(Challenge::bearer("ccmsipline"))
    );

    let e = parse_message(&cisco("oauth-03-REGISTER-Proxy-Authorization-Bearer.sip")).unwrap_err();
    let h = e.partial().unwrap();
    assert_eq!(
        h.proxy_authorization().unwrap(),
        Some(Credentials::Bearer {
            token: "<long string shorten removed for brevity>".into()
        })
    );
    assert_eq!(contact(h).device_name.as_deref(), Some("CSFrado"));

    let m = parse_message(&cisco("oauth-04-200-OK-x-cisco-newreg-truncated.sip")).unwrap();
    assert!(contact(&m.headers).params().contains("x-cisco-newreg"));
    assert_eq!(m.headers.expires().unwrap(), Some(120));

    let m = parse_message(&cisco(
        "oauth-05-403-SIP-OAuth-Registration-port-Mismatch.sip",
    ))
    .unwrap();
    assert_eq!(m.headers.retry_after().unwrap().unwrap().seconds, 35);
    let w = m.headers.warning().unwrap().unwrap();
    assert_eq!(
        (w.code, w.agent.as_str(), w.text.as_str()),
        (399, "UCM2-PUB", "SIP OAuth Registration port Mismatch")
    );
}

#[test]
fn mra_excerpts() {
    let e = parse_message(&cisco(
        "mra-cucm12.5-01-REGISTER-csf-x-cisco-mra-ha-EXCERPT.sip",
    ))
    .unwrap_err();
    assert_eq!(e.kind(), &ParseErrorKind::MissingHeader("To"));
    let c = contact(e.partial().unwrap());
    assert_eq!(c.device_name.as_deref(), Some("CSFMRA01"));
    assert_eq!(c.params().get("x-cisco-mra-ha"), Some("AR_SK"));
    let m = parse_message(&cisco(
        "mra-cucm12.5-02-200-OK-x-cisco-newreg-userid-EXCERPT.sip",
    ))
    .unwrap();
    let c = contact(&m.headers);
    assert_eq!(c.user_id.as_deref(), Some("mra01"));
    assert_eq!(
        c.name_addr
            .uri
            .as_sip()
            .unwrap()
            .param("orig-hostport")
            .and_then(|p| p.value.as_deref()),
        Some("172.16.84.136:58980")
    );
    let v = m.headers.top_via().unwrap();
    assert_eq!(v.received(), Some("10.88.246.8".parse().unwrap()));
    assert_eq!(v.params.get("ingress-zone"), Some("CollaborationEdgeZone"));
}

#[test]
fn third_party_digest() {
    let raw = cisco("thirdparty-cucm14.0-03-401-WWW-Authenticate-Digest-ccmsipline.sip");
    let m = parse_message(&raw).unwrap();
    let ch = m.headers.www_authenticate().unwrap().unwrap();
    let Challenge::Digest(d) = &ch else { panic!() };
    assert_eq!(
        (d.realm.as_str(), d.algorithm.as_deref()),
        ("ccmsipline", Some("MD5"))
    );
    let line = std::str::from_utf8(&raw)
        .unwrap()
        .lines()
        .find(|l| l.starts_with("WWW-Authenticate"))
        .unwrap();
    assert_eq!(format!("WWW-Authenticate: {ch}"), line.trim_end());

    let m = parse_message(&cisco(
        "thirdparty-cucm14.0-04-REGISTER-Authorization-Digest.sip",
    ))
    .unwrap();
    let Some(Credentials::Digest(d)) = m.headers.authorization().unwrap() else {
        panic!()
    };
    assert_eq!(d.username, "microsip01");
    assert_eq!(d.uri, "sip:192.168.80.100");
    assert_eq!(d.response, "b70fca7c592084c62c51f1a5143ea339");
    let v = m.headers.top_via().unwrap();
    assert_eq!(v.rport(), Some(switchboard_sip_proto::Rport::Requested));
    assert!(m.headers.route().unwrap()[0].uri.as_sip().unwrap().lr());
}

#[test]
fn refer_with_alarm_body() {
    let raw = cisco("emcc-cucm11.5-04-REFER-x-cisco-alarm-DeviceTLInfo.wire.sip");
    let m = parse_message(&raw).unwrap();
    assert_eq!(m.body.len(), 569);
    assert_eq!(m.body, body_of(&raw));
    assert_eq!(m.headers.require().unwrap(), ["norefersub"]);
    let reprinted: Message = parse_message(&m.to_bytes()).unwrap();
    assert_eq!(reprinted, m);
}
