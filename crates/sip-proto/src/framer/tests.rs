//! Unit tests of the stream framer: keep-alives, limits, errors, chunking.

use super::*;

const MSG: &[u8] = b"OPTIONS sip:a@127.0.0.1 SIP/2.0\r\n\
Via: SIP/2.0/TCP 127.0.0.1;branch=z9hG4bK1\r\n\
From: <sip:b@127.0.0.1>;tag=1\r\n\
To: <sip:a@127.0.0.1>\r\n\
Call-ID: x\r\n\
CSeq: 1 OPTIONS\r\n\
Content-Length: 5\r\n\r\nhello";

fn with(bytes: &[u8]) -> StreamFramer {
    let mut f = StreamFramer::new();
    f.push(bytes);
    f
}

#[test]
fn two_messages_one_chunk_and_pings() {
    let mut input = b"\r\n\r\n".to_vec();
    input.extend_from_slice(MSG);
    input.extend_from_slice(b"\r\n\r\n\r\n");
    input.extend_from_slice(MSG);
    let mut f = with(&input);
    assert_eq!(f.next().unwrap().unwrap().body, b"hello");
    assert!(f.next_keepalive());
    assert!(!f.next_keepalive());
    assert_eq!(f.next().unwrap().unwrap().body, b"hello");
    assert!(f.next_keepalive());
    assert_eq!(f.next().unwrap(), None);
    assert_eq!(f.buffered(), 0);
}

#[test]
fn partial_ping_waits() {
    let mut f = with(b"\r\n");
    assert_eq!(f.next_frame().unwrap(), None);
    f.push(b"\r");
    assert_eq!(f.next_frame().unwrap(), None);
    f.push(b"\n");
    assert_eq!(f.next_frame().unwrap(), Some(Frame::Ping));
    f.push(b"\r\nOPT");
    assert_eq!(f.next_frame().unwrap(), None);
    assert_eq!(f.buffered(), 3);
}

#[test]
fn fatal_errors() {
    let no_cl = String::from_utf8_lossy(MSG).replace("Content-Length: 5\r\n", "");
    assert_eq!(
        with(no_cl.as_bytes()).next(),
        Err(FrameError::MissingContentLength)
    );
    let neg = String::from_utf8_lossy(MSG).replace("Content-Length: 5", "Content-Length: -999");
    assert!(matches!(
        with(neg.as_bytes()).next(),
        Err(FrameError::InvalidContentLength(_))
    ));
    let two =
        String::from_utf8_lossy(MSG).replace("Content-Length: 5", "Content-Length: 5\r\nl: 13");
    assert!(matches!(
        with(two.as_bytes()).next(),
        Err(FrameError::InvalidContentLength(_))
    ));
    let big = String::from_utf8_lossy(MSG).replace("Content-Length: 5", "Content-Length: 65537");
    let mut f = with(big.as_bytes());
    assert!(matches!(
        f.next(),
        Err(FrameError::BodyTooLarge {
            declared: 65537,
            ..
        })
    ));
    assert!(f.next().unwrap_err().is_fatal());
    let mut f = StreamFramer::new();
    f.push(b"OPTIONS sip:a@b SIP/2.0\r\n");
    for _ in 0..2000 {
        f.push(b"X-Pad: 0123456789\r\n");
    }
    assert!(matches!(f.next(), Err(FrameError::HeaderTooLarge { .. })));
}

#[test]
fn waits_for_body_then_continues_after_malformed() {
    let bad = String::from_utf8_lossy(MSG).replace("CSeq: 1 OPTIONS", "CSeq: x OPTIONS");
    let mut f = with(bad.as_bytes().get(..bad.len() - 2).unwrap());
    assert_eq!(f.next(), Ok(None));
    f.push(b"lo");
    let e = f.next().unwrap_err();
    assert!(!e.is_fatal());
    f.push(MSG);
    assert!(f.next().unwrap().is_some());
}

#[test]
fn lf_only_stream() {
    let lf = String::from_utf8_lossy(MSG).replace("\r\n", "\n");
    let mut f = StreamFramer::new();
    for b in lf.as_bytes() {
        f.push(std::slice::from_ref(b));
    }
    assert_eq!(f.next().unwrap().unwrap().body, b"hello");
}

#[test]
fn too_many_headers_is_not_fatal() {
    let mut m = b"OPTIONS sip:a@b SIP/2.0\r\n".to_vec();
    for _ in 0..200 {
        m.extend_from_slice(b"X: 1\r\n");
    }
    m.extend_from_slice(b"Content-Length: 0\r\n\r\n");
    let mut f = with(&m);
    assert!(matches!(f.next(), Err(FrameError::Malformed(_))));
    f.push(MSG);
    assert!(f.next().unwrap().is_some());
}

#[test]
fn many_pipelined_messages_then_a_split_one() {
    let mut input = Vec::new();
    for _ in 0..50 {
        input.extend_from_slice(MSG);
    }
    let cut = MSG.len() / 2;
    input.extend_from_slice(MSG.get(..cut).unwrap());
    let mut f = with(&input);
    for i in 0..50 {
        let m = f.next().unwrap().unwrap_or_else(|| panic!("message {i}"));
        assert_eq!(m.body, b"hello");
        assert_eq!(f.buffered(), (49 - i) * MSG.len() + cut);
    }
    assert_eq!(f.next(), Ok(None));
    assert_eq!(f.buffered(), cut);
    f.push(MSG.get(cut..).unwrap());
    assert_eq!(f.next().unwrap().unwrap().body, b"hello");
    assert_eq!(f.buffered(), 0);
}

#[test]
fn a_message_over_a_parsing_limit_waits_for_its_body_then_is_malformed() {
    let mut m = b"OPTIONS sip:a@b SIP/2.0\r\n".to_vec();
    for _ in 0..200 {
        m.extend_from_slice(b"X: 1\r\n");
    }
    m.extend_from_slice(b"Content-Length: 5\r\n\r\nhel");
    let mut f = with(&m);
    assert_eq!(f.next(), Ok(None));
    f.push(b"lo");
    let e = f.next().unwrap_err();
    assert!(matches!(e, FrameError::Malformed(_)) && !e.is_fatal());
    assert_eq!(f.buffered(), 0);
    f.push(MSG);
    assert_eq!(f.next().unwrap().unwrap().body, b"hello");
}

#[test]
fn content_length_in_any_spelling_frames_the_body() {
    for spelling in [
        "content-length   :   5",
        "CONTENT-LENGTH:5",
        "l: 5",
        "L\t: 5",
    ] {
        let text = String::from_utf8_lossy(MSG).replace("Content-Length: 5", spelling);
        let mut f = with(text.as_bytes());
        let m = f.next().unwrap().unwrap_or_else(|| panic!("{spelling}"));
        assert_eq!(m.body, b"hello", "{spelling}");
        assert_eq!(f.buffered(), 0, "{spelling}");
    }
    // a longer name that starts alike is not Content-Length
    let text = String::from_utf8_lossy(MSG).replace("Content-Length: 5", "Content-Lengthy: 5");
    assert_eq!(
        with(text.as_bytes()).next(),
        Err(FrameError::MissingContentLength)
    );
}
