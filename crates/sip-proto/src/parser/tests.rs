//! Unit tests of the message parser: framing, folding, start lines, limits, errors.

use super::*;

const OK: &str = "INVITE sip:bob@127.0.0.1 SIP/2.0\r\n\
Via: SIP/2.0/UDP 127.0.0.1:5070;branch=z9hG4bK1\r\n\
From: <sip:alice@127.0.0.1>;tag=a\r\n\
To: <sip:bob@127.0.0.1>\r\n\
Call-ID: c1@127.0.0.1\r\n\
CSeq: 1 INVITE\r\n\
Content-Length: 4\r\n\r\nbodyJUNK";

#[test]
fn parses_and_ignores_trailing_bytes() {
    let m = parse_message(OK.as_bytes()).unwrap();
    assert_eq!(m.method(), Some(&Method::Invite));
    assert_eq!(m.body, b"body");
    assert!(!m.headers.contains("Content-Length"));
    assert_eq!(parse_message(&m.to_bytes()).unwrap(), m);
}

#[test]
fn lf_only_and_leading_crlf_and_unterminated() {
    let lf = OK.replace("\r\n", "\n");
    assert_eq!(
        parse_message(lf.as_bytes()).unwrap(),
        parse_message(OK.as_bytes()).unwrap()
    );
    let lead = format!("\r\n\r\n{OK}");
    assert!(parse_message(lead.as_bytes()).is_ok());
    let open = OK.replace("Content-Length: 4\r\n\r\nbodyJUNK", "Content-Length: 0\r\n");
    assert!(parse_message(open.as_bytes()).unwrap().body.is_empty());
}

#[test]
fn folding_is_undone() {
    let m = OK.replace(
        "CSeq: 1 INVITE\r\n",
        "CSeq: 1\r\n   INVITE\r\nSubject: a  \r\n\tb\r\n",
    );
    let m = parse_message(m.as_bytes()).unwrap();
    assert_eq!(m.headers.get("Subject"), Some("a b"));
    assert_eq!(m.headers.cseq().unwrap().seq, 1);
}

#[test]
fn errors_and_can_respond() {
    let cases: &[(&str, &str, bool)] = &[
        ("", "", false),
        ("", "\r\n\r\n", false),
        ("Content-Length: 4\r\n", "Content-Length: 9999\r\n", true),
        ("Content-Length: 4\r\n", "Content-Length: -1\r\n", true),
        (
            "Content-Length: 4\r\n",
            "Content-Length: 4\r\nl: 5\r\n",
            true,
        ),
        (
            "Content-Length: 4\r\n",
            "Content-Length: 4\r\nBad Header: x\r\n",
            true,
        ),
        (
            "Content-Length: 4\r\n",
            "Content-Length: 4\r\nno colon\r\n",
            true,
        ),
        ("Call-ID: c1@127.0.0.1\r\n", "", false),
        ("CSeq: 1 INVITE\r\n", "CSeq: 99999999999 INVITE\r\n", false),
        (
            "INVITE sip:bob@127.0.0.1 SIP/2.0",
            "INVITE  sip:bob@127.0.0.1 SIP/2.0",
            true,
        ),
        (
            "INVITE sip:bob@127.0.0.1 SIP/2.0",
            "INVITE sip:bob@127.0.0.1 SIP/2.0 ",
            true,
        ),
        (
            "INVITE sip:bob@127.0.0.1 SIP/2.0",
            "INVITE sip:2001:db8::10 SIP/2.0",
            true,
        ),
        (
            "INVITE sip:bob@127.0.0.1 SIP/2.0",
            "INVITE sip:bob@127.0.0.1",
            false,
        ),
        (
            "INVITE sip:bob@127.0.0.1 SIP/2.0",
            "SIP/2.0 4294967301 x",
            false,
        ),
        (
            "Via: SIP/2.0/UDP 127.0.0.1:5070;branch=z9hG4bK1\r\n",
            "",
            false,
        ),
    ];
    for (from, to, can) in cases {
        let input = if from.is_empty() {
            to.to_string()
        } else {
            OK.replacen(from, to, 1)
        };
        let e = parse_message(input.as_bytes()).unwrap_err();
        assert_eq!(e.can_respond(), *can, "{input:?}: {e}");
        if *can {
            let r = e.response().unwrap();
            assert_eq!(r.code(), Some(400));
            assert!(parse_message(&r.to_bytes()).is_ok());
        }
    }
}

#[test]
fn status_lines() {
    let resp = |l: &str| {
        let t = format!("{l}\r\nVia: SIP/2.0/UDP h;branch=z9hG4bK1\r\nFrom: <sip:a@b>;tag=1\r\nTo: <sip:c@d>\r\nCall-ID: x\r\nCSeq: 1 INVITE\r\n\r\n");
        parse_message(t.as_bytes())
    };
    assert_eq!(resp("SIP/2.0 100 ").unwrap().reason(), Some(""));
    assert_eq!(resp("SIP/2.0 100").unwrap().reason(), Some(""));
    assert_eq!(
        resp("SIP/2.0 200 OK fine").unwrap().reason(),
        Some("OK fine")
    );
    for bad in [
        "SIP/2.0 1000 x",
        "SIP/2.0 099 x",
        "SIP/2.0 700 x",
        "SIP/2.0  200 OK",
        "SIP/2 200 OK",
        "SIP/2.0",
    ] {
        assert!(resp(bad).is_err(), "{bad}");
    }
}

#[test]
fn limits() {
    let l = Limits {
        max_headers: 5,
        ..Limits::default()
    };
    assert!(matches!(
        parse_message_with(OK.as_bytes(), &l).unwrap_err().kind(),
        ParseErrorKind::TooManyHeaders { .. }
    ));
    let l = Limits {
        max_line_bytes: 20,
        ..Limits::default()
    };
    assert!(matches!(
        parse_message_with(OK.as_bytes(), &l).unwrap_err().kind(),
        ParseErrorKind::LineTooLong { .. }
    ));
    let l = Limits {
        max_header_bytes: 100,
        ..Limits::default()
    };
    assert!(matches!(
        parse_message_with(OK.as_bytes(), &l).unwrap_err().kind(),
        ParseErrorKind::HeaderSectionTooLarge { .. }
    ));
    let big = vec![b'a'; 70_000];
    assert!(matches!(
        parse_message(&big).unwrap_err().kind(),
        ParseErrorKind::MessageTooLarge { .. }
    ));
}

#[test]
fn invalid_utf8_and_bare_cr() {
    let bad = OK.replace(
        "Call-ID: c1@127.0.0.1\r\n",
        "Call-ID: c1@127.0.0.1\r\nX-Bin: \u{1}\r\n",
    );
    assert!(parse_message(bad.as_bytes()).is_ok());
    let mut raw = OK
        .replace(
            "Call-ID: c1@127.0.0.1\r\n",
            "Call-ID: c1@127.0.0.1\r\nX-Bin: @\r\n",
        )
        .into_bytes();
    let at = raw.windows(7).position(|w| w == b"X-Bin: ").unwrap() + 7;
    raw[at] = 0xff;
    let e = parse_message(&raw).unwrap_err();
    assert_eq!(e.kind(), &ParseErrorKind::InvalidUtf8);
    assert!(e.can_respond());
    raw[at] = b'\r';
    assert!(parse_message(&raw).is_err());
}
