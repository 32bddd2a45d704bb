//! `validate_request`: the checks a server makes on a request that parsed, before any
//! processing, with the status each failure is answered with (RFC 3261 §8.2, RFC 4475).

use crate::error::{ParseError, ParseErrorKind};
use crate::message::{Message, StartLine, Version};
use crate::uri::Uri;

/// Checks a parsed request: SIP/2.0 (else 505), the five core headers, CSeq method equal
/// to the request method, Max-Forwards well formed, a `sip`/`sips`/`tel` Request-URI
/// (else 416) without `?headers`. The error's [`ParseError::response`] is the answer.
///
/// Not checked here, because they depend on what the element supports: the method (405 /
/// 501), Require (420), the body's type (415), Max-Forwards reaching 0 at a proxy (483).
pub fn validate_request(msg: &Message) -> Result<(), ParseError> {
    validate(msg, true)
}

/// [`validate_request`] for a request that came from [`crate::parse_message`] (or a
/// [`crate::StreamFramer`]): the parser has already checked Via, From, To and Call-ID, so
/// they are not parsed again (this is on every request's path); the result is the same.
pub fn validate_parsed_request(msg: &Message) -> Result<(), ParseError> {
    validate(msg, false)
}

fn validate(msg: &Message, check_core: bool) -> Result<(), ParseError> {
    let StartLine::Request {
        method,
        uri,
        version,
    } = &msg.start
    else {
        return Err(ParseErrorKind::NotARequest.into());
    };
    let h = &msg.headers;
    let core = (|| {
        if check_core {
            if h.vias()?.is_empty() {
                return Err(ParseErrorKind::MissingHeader("Via").into());
            }
            h.from()?;
            h.to()?;
            h.call_id()?;
        }
        h.cseq()
    })();
    let fail = |kind: ParseErrorKind| Err(ParseError::with_partial(kind, h.clone(), core.is_ok()));
    if *version != Version::SIP_2_0 {
        return fail(ParseErrorKind::UnsupportedVersion(*version));
    }
    let cseq = match core {
        Ok(ref c) => c,
        Err(ref e) => return fail(e.kind().clone()),
    };
    if cseq.method != *method {
        return fail(ParseErrorKind::CSeqMethodMismatch);
    }
    if let Err(e) = h.max_forwards() {
        return fail(e.kind().clone());
    }
    match uri {
        Uri::Other(_) => fail(ParseErrorKind::UnsupportedUriScheme),
        Uri::Sip(u) if !u.headers.is_empty() => fail(ParseErrorKind::RequestUriHeaders),
        _ => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::parse_message;

    fn check(req: &str) -> Result<(), ParseError> {
        let msg = parse_message(req.as_bytes()).unwrap();
        let full = validate_request(&msg);
        let after_parse = validate_parsed_request(&msg);
        assert_eq!(
            full.as_ref().map_err(|e| e.status_code()),
            after_parse.as_ref().map_err(|e| e.status_code()),
            "{req}"
        );
        full
    }

    const HDRS: &str = "Via: SIP/2.0/UDP h;branch=z9hG4bK1\r\nFrom: <sip:a@b>;tag=1\r\nTo: <sip:c@d>\r\nCall-ID: x\r\n";

    #[test]
    fn statuses() {
        assert!(check(&format!(
            "OPTIONS sip:c@d SIP/2.0\r\n{HDRS}CSeq: 1 OPTIONS\r\n\r\n"
        ))
        .is_ok());
        let e = check(&format!(
            "OPTIONS sip:c@d SIP/7.0\r\n{HDRS}CSeq: 1 OPTIONS\r\n\r\n"
        ))
        .unwrap_err();
        assert_eq!(e.status_code(), 505);
        let r = e.response().unwrap();
        assert_eq!(r.code(), Some(505));
        let e = check(&format!(
            "OPTIONS sip:c@d SIP/2.0\r\n{HDRS}CSeq: 1 INVITE\r\n\r\n"
        ))
        .unwrap_err();
        assert_eq!(e.kind(), &ParseErrorKind::CSeqMethodMismatch);
        assert_eq!(
            e.response().unwrap().reason(),
            Some("CSeq method does not match the request method")
        );
        let e = check(&format!(
            "OPTIONS urn:x SIP/2.0\r\n{HDRS}CSeq: 1 OPTIONS\r\n\r\n"
        ))
        .unwrap_err();
        assert_eq!(e.status_code(), 416);
        let e = check(&format!(
            "OPTIONS sip:c@d?Route=x SIP/2.0\r\n{HDRS}CSeq: 1 OPTIONS\r\n\r\n"
        ))
        .unwrap_err();
        assert_eq!(e.kind(), &ParseErrorKind::RequestUriHeaders);
        let e = check(&format!(
            "OPTIONS sip:c@d SIP/2.0\r\n{HDRS}CSeq: 1 OPTIONS\r\nMax-Forwards: 300\r\n\r\n"
        ))
        .unwrap_err();
        assert_eq!(e.status_code(), 400);
        assert!(validate_request(&crate::Message::response(200, "OK")).is_err());
    }
}
