//! The JSON examples of docs/cti-protocol.md are the golden tests: every ```json block must
//! parse as a message and re-serialise to the same JSON, and every message type must have
//! an example, so the document and the code cannot drift apart.

use std::collections::BTreeSet;

use switchboard_cti_proto::*;

const DOC: &str = include_str!("../../../docs/cti-protocol.md");

fn json_blocks() -> Vec<&'static str> {
    let mut out = Vec::new();
    let mut rest = DOC;
    while let Some(i) = rest.find("```json\n") {
        let body = &rest[i + 8..];
        let end = body.find("```").expect("unterminated ```json block");
        out.push(&body[..end]);
        rest = &body[end + 3..];
    }
    out
}

#[test]
fn every_example_parses_and_round_trips() {
    let blocks = json_blocks();
    assert!(blocks.len() >= 20, "only {} examples", blocks.len());
    let mut seen = BTreeSet::new();
    for block in blocks {
        let m = decode_message(block.as_bytes())
            .unwrap_or_else(|e| panic!("doc example does not parse: {e}\n{block}"));
        seen.insert(m.name());
        let original: serde_json::Value = serde_json::from_str(block).unwrap();
        let again: serde_json::Value = serde_json::from_slice(&encode_message(&m)).unwrap();
        assert_eq!(original, again, "example does not re-serialise identically");
        // Through the framing too.
        let mut d = FrameDecoder::default();
        d.push(&encode_message_frame(&m).unwrap());
        assert_eq!(d.next_message().unwrap(), Some(m));
    }
    let all: BTreeSet<_> = Message::NAMES.iter().copied().collect();
    let missing: Vec<_> = all.difference(&seen).collect();
    assert!(
        missing.is_empty(),
        "messages without a doc example: {missing:?}"
    );
}

#[test]
fn every_error_name_is_documented_with_its_closing_rule() {
    for e in ErrorName::ALL {
        let prefix = format!("| `{}` |", e.as_str());
        let row = DOC
            .lines()
            .find(|l| l.starts_with(&prefix))
            .unwrap_or_else(|| panic!("{e} missing from the error table"));
        let closes = row.trim_end().trim_end_matches('|').trim_end();
        let closes = closes.rsplit('|').next().unwrap().trim();
        let expected = if e.closes_connection() { "yes" } else { "no" };
        assert_eq!(closes, expected, "{e}: doc says closes = {closes}");
    }
}

#[test]
fn every_message_has_a_section() {
    for name in Message::NAMES {
        assert!(DOC.contains(&format!("### {name}")) || DOC.contains(&format!("/ {name}")));
    }
}

#[test]
fn heartbeat_frame_bytes_in_the_doc() {
    let frame = encode_message_frame(&Message::Heartbeat(Heartbeat {})).unwrap();
    let hex: Vec<String> = frame.iter().map(|b| format!("{b:02x}")).collect();
    assert!(DOC.contains(&hex.join(" ")), "{}", hex.join(" "));
}

#[test]
fn seq_rules() {
    for block in json_blocks() {
        let m = decode_message(block.as_bytes()).unwrap();
        match m.kind() {
            Kind::Request => {
                assert!(m.seq().is_some());
                assert!(m.sent_by_client());
            }
            Kind::Event | Kind::Heartbeat => {
                assert!(m.seq().is_none());
                assert!(!block.contains("\"seq\""));
            }
            Kind::Response => assert!(!m.sent_by_client()),
        }
    }
}

#[test]
fn heartbeat_negotiation() {
    assert_eq!(negotiate_heartbeat(60, 10), (60, 10));
    assert_eq!(negotiate_heartbeat(0, 0), (5, 5));
    assert_eq!(negotiate_heartbeat(100_000, 600), (300, 60));
    assert!(DOC.contains("clamps `heartbeat_s` to\n  5…300 and `timer_s` to 5…60"));
}

#[test]
fn version_negotiation() {
    assert_eq!(negotiate_version(&[1]), Some(1));
    assert_eq!(negotiate_version(&[3, 2, 1]), Some(2));
    assert_eq!(negotiate_version(&[2]), Some(2));
    assert_eq!(negotiate_version(&[1, 2]), Some(2));
    assert_eq!(negotiate_version(&[3]), None);
    assert_eq!(negotiate_version(&[]), None);
}

#[test]
fn unknown_fields_and_auth_types_are_malformed() {
    for bad in [
        r#"{"type":"Heartbeat","x":1}"#,
        r#"{"type":"ProviderCloseRequest"}"#,
        r#"{"type":"ProviderOpenRequest","seq":1,"protocol_versions":[1],"login":"a","auth":{"type":"kerberos"},"application":"a","client_version":"a","heartbeat_s":1,"timer_s":1}"#,
        r#"{"type":"DeviceOpenResponse","seq":4,"device_handle":38,"device_name":"x","device_type":"t","device_id":"1","protocol":"sccp","state":"in_service"}"#,
        r#"{"type":"ErrorResponse","error":"NO_SUCH_ERROR","message":""}"#,
        r#"{"type":"DeviceCloseRequest","seq":-1,"device_handle":38}"#,
        r#"{"type":"DeviceCloseRequest","seq":4294967296,"device_handle":38}"#,
        r#"{"type":7}"#,
        "null",
        "",
    ] {
        let e = decode_message(bad.as_bytes()).unwrap_err();
        assert_eq!(e.name(), ErrorName::MalformedMessage, "{bad}");
    }
    let e = decode_message(br#"{"type":"heartbeat"}"#).unwrap_err();
    assert_eq!(e.name(), ErrorName::UnknownMessage);
}
