//! The call messages of protocol version 2: every one round-trips through JSON and the
//! framing, carries the version it needs, and what does not fit its type is refused.

use switchboard_cti_proto::*;

fn samples() -> Vec<Message> {
    vec![
        NewCallEvent {
            device_handle: 1,
            device_name: "SEP00AABBCCDDEE".into(),
            call_id: 7,
            connection_id: 9,
            directory_number: "1002".into(),
            calling_number: "1001".into(),
            called_number: "1002".into(),
            role: CallRole::Terminating,
            state: CallState::Offering,
        }
        .into(),
        CallStateChangedEvent {
            device_handle: 1,
            device_name: "SEP00AABBCCDDEE".into(),
            call_id: 7,
            connection_id: 9,
            state: CallState::Disconnected,
            cause: Some(CallCause::AnsweredElsewhere),
        }
        .into(),
        CallStateChangedEvent {
            device_handle: 1,
            device_name: "SEP00AABBCCDDEE".into(),
            call_id: 7,
            connection_id: 9,
            state: CallState::Held,
            cause: None,
        }
        .into(),
        CallEndedEvent {
            device_handle: 1,
            device_name: "SEP00AABBCCDDEE".into(),
            call_id: 7,
            connection_id: 9,
            cause: CallCause::Normal,
        }
        .into(),
        MakeCallRequest {
            seq: 5,
            device_handle: 1,
            destination: "1002".into(),
            directory_number: None,
        }
        .into(),
        MakeCallRequest {
            seq: 5,
            device_handle: 1,
            destination: "+4930123".into(),
            directory_number: Some("1001".into()),
        }
        .into(),
        MakeCallResponse {
            seq: 5,
            device_handle: 1,
            call_id: u64::MAX,
        }
        .into(),
        AnswerRequest {
            seq: 6,
            device_handle: 1,
            call_id: 7,
        }
        .into(),
        AnswerResponse {
            seq: 6,
            device_handle: 1,
            call_id: 7,
        }
        .into(),
        DropRequest {
            seq: 6,
            device_handle: 1,
            call_id: 7,
        }
        .into(),
        DropResponse {
            seq: 6,
            device_handle: 1,
            call_id: 7,
        }
        .into(),
        HoldRequest {
            seq: 6,
            device_handle: 1,
            call_id: 7,
        }
        .into(),
        HoldResponse {
            seq: 6,
            device_handle: 1,
            call_id: 7,
        }
        .into(),
        RetrieveRequest {
            seq: 6,
            device_handle: 1,
            call_id: 7,
        }
        .into(),
        RetrieveResponse {
            seq: 6,
            device_handle: 1,
            call_id: 7,
        }
        .into(),
        BlindTransferRequest {
            seq: 6,
            device_handle: 1,
            call_id: 7,
            destination: "1003".into(),
        }
        .into(),
        BlindTransferResponse {
            seq: 6,
            device_handle: 1,
            call_id: 7,
        }
        .into(),
        ConsultTransferRequest {
            seq: 6,
            device_handle: 1,
            call_id: 7,
            destination: "1003".into(),
        }
        .into(),
        ConsultTransferResponse {
            seq: 6,
            device_handle: 1,
            call_id: 7,
            consult_call_id: 10,
        }
        .into(),
        TransferCompleteRequest {
            seq: 6,
            device_handle: 1,
            call_id: 7,
            consult_call_id: 10,
        }
        .into(),
        TransferCompleteResponse {
            seq: 6,
            device_handle: 1,
            call_id: 7,
        }
        .into(),
        SendDtmfRequest {
            seq: 6,
            device_handle: 1,
            call_id: 7,
            digits: "12#".into(),
        }
        .into(),
        SendDtmfResponse {
            seq: 6,
            device_handle: 1,
            call_id: 7,
        }
        .into(),
        RedirectRequest {
            seq: 6,
            device_handle: 1,
            call_id: 7,
            destination: "1004".into(),
        }
        .into(),
        RedirectResponse {
            seq: 6,
            device_handle: 1,
            call_id: 7,
        }
        .into(),
    ]
}

#[test]
fn call_messages_round_trip_and_need_version_2() {
    let mut names = std::collections::BTreeSet::new();
    for m in samples() {
        names.insert(m.name());
        let bytes = encode_message(&m);
        assert_eq!(decode_message(&bytes).unwrap(), m);
        let mut d = FrameDecoder::default();
        d.push(&encode_message_frame(&m).unwrap());
        assert_eq!(d.next_message().unwrap(), Some(m.clone()));
        assert_eq!(m.since_version(), CALL_CONTROL_VERSION, "{}", m.name());
        match m.kind() {
            Kind::Request => assert!(m.sent_by_client() && m.seq().is_some()),
            Kind::Response => assert!(!m.sent_by_client() && m.seq().is_some()),
            Kind::Event => assert!(!m.sent_by_client() && m.seq().is_none()),
            Kind::Heartbeat => unreachable!(),
        }
    }
    // Every call message is sampled.
    let call_messages = [
        "NewCallEvent",
        "CallStateChangedEvent",
        "CallEndedEvent",
        "MakeCallRequest",
        "MakeCallResponse",
        "AnswerRequest",
        "AnswerResponse",
        "DropRequest",
        "DropResponse",
        "HoldRequest",
        "HoldResponse",
        "RetrieveRequest",
        "RetrieveResponse",
        "BlindTransferRequest",
        "BlindTransferResponse",
        "ConsultTransferRequest",
        "ConsultTransferResponse",
        "TransferCompleteRequest",
        "TransferCompleteResponse",
        "SendDtmfRequest",
        "SendDtmfResponse",
        "RedirectRequest",
        "RedirectResponse",
    ];
    for name in call_messages {
        assert!(Message::NAMES.contains(&name), "{name}");
        assert!(names.contains(name), "{name} not sampled");
    }
    assert_eq!(Message::NAMES.len(), 18 + call_messages.len());
    let heartbeat = Message::Heartbeat(Heartbeat {});
    assert_eq!(heartbeat.since_version(), 1);
    assert_eq!(SUPPORTED_VERSIONS, &[2, 1]);
    assert_eq!(PROTOCOL_VERSION, CALL_CONTROL_VERSION);
}

#[test]
fn wire_names_of_states_causes_and_roles() {
    let text = |v: serde_json::Value| v.as_str().unwrap().to_string();
    let states: Vec<String> = [
        CallState::Offering,
        CallState::Ringing,
        CallState::Connected,
        CallState::Held,
        CallState::Disconnected,
    ]
    .iter()
    .map(|s| text(serde_json::to_value(s).unwrap()))
    .collect();
    assert_eq!(
        states,
        ["offering", "ringing", "connected", "held", "disconnected"]
    );
    let causes: Vec<String> = [
        CallCause::Normal,
        CallCause::Busy,
        CallCause::NoAnswer,
        CallCause::Unavailable,
        CallCause::NotFound,
        CallCause::Cancelled,
        CallCause::Rejected,
        CallCause::Failed,
        CallCause::AnsweredElsewhere,
        CallCause::Transferred,
        CallCause::Redirected,
        CallCause::Unknown,
    ]
    .iter()
    .map(|c| text(serde_json::to_value(c).unwrap()))
    .collect();
    assert_eq!(
        causes,
        [
            "normal",
            "busy",
            "no_answer",
            "unavailable",
            "not_found",
            "cancelled",
            "rejected",
            "failed",
            "answered_elsewhere",
            "transferred",
            "redirected",
            "unknown"
        ]
    );
    assert_eq!(
        serde_json::to_value(CallRole::Originating).unwrap(),
        "originating"
    );
}

#[test]
fn bad_call_messages_are_malformed() {
    for bad in [
        // Missing fields.
        r#"{"type":"AnswerRequest","seq":1,"device_handle":1}"#,
        r#"{"type":"MakeCallRequest","seq":1,"device_handle":1}"#,
        r#"{"type":"SendDtmfRequest","seq":1,"device_handle":1,"call_id":7}"#,
        r#"{"type":"TransferCompleteRequest","seq":1,"device_handle":1,"call_id":7}"#,
        // Unknown fields.
        r#"{"type":"DropRequest","seq":1,"device_handle":1,"call_id":7,"force":true}"#,
        r#"{"type":"HoldRequest","seq":1,"device_handle":1,"call_id":7,"destination":"1"}"#,
        // Wrong types and ranges.
        r#"{"type":"DropRequest","seq":1,"device_handle":1,"call_id":-7}"#,
        r#"{"type":"DropRequest","seq":1,"device_handle":1,"call_id":"7"}"#,
        r#"{"type":"DropRequest","seq":1,"device_handle":1,"call_id":1.5}"#,
        r#"{"type":"DropRequest","seq":1,"device_handle":1,"call_id":18446744073709551616}"#,
        r#"{"type":"DropRequest","seq":1,"device_handle":4294967296,"call_id":7}"#,
        r#"{"type":"MakeCallRequest","seq":1,"device_handle":1,"destination":1002}"#,
        r#"{"type":"MakeCallRequest","seq":1,"device_handle":1,"destination":"1002","directory_number":1001}"#,
        r#"{"type":"SendDtmfRequest","seq":1,"device_handle":1,"call_id":7,"digits":["1"]}"#,
        // Unknown states, causes and roles.
        r#"{"type":"CallStateChangedEvent","device_handle":1,"device_name":"d","call_id":7,"connection_id":9,"state":"alerting"}"#,
        r#"{"type":"CallEndedEvent","device_handle":1,"device_name":"d","call_id":7,"connection_id":9,"cause":"NORMAL"}"#,
        r#"{"type":"NewCallEvent","device_handle":1,"device_name":"d","call_id":7,"connection_id":9,"directory_number":"1","calling_number":"1","called_number":"2","role":"caller","state":"offering"}"#,
    ] {
        let e = decode_message(bad.as_bytes()).unwrap_err();
        assert_eq!(e.name(), ErrorName::MalformedMessage, "{bad}");
    }
}

#[test]
fn destinations_are_bounded_dial_strings() {
    for ok in [
        "1002",
        "+4930123456",
        "*67#",
        "9.1002",
        "alice@example.com",
        &"9".repeat(64),
    ] {
        assert!(valid_destination(ok), "{ok}");
    }
    for bad in [
        "",
        " 1002",
        "1002\r\n",
        "10 02",
        "<sip:1002>",
        "1002;x",
        "\u{202e}1002",
        &"9".repeat(65),
    ] {
        assert!(!valid_destination(bad), "{bad:?}");
    }
}
