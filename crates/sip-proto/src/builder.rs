//! Building messages: requests, responses to a request (RFC 3261 §8.2.6), and
//! chainable helpers to add headers, a body or a To tag.

use std::collections::hash_map::RandomState;
use std::hash::{BuildHasher, Hasher};
use std::sync::OnceLock;

use crate::headers::Headers;
use crate::message::{Message, StartLine, Version};
use crate::method::Method;
use crate::uri::Uri;

impl Message {
    /// A request with no headers and no body.
    pub fn request(method: Method, uri: Uri) -> Message {
        Message {
            start: StartLine::Request {
                method,
                uri,
                version: Version::SIP_2_0,
            },
            headers: Headers::new(),
            body: Vec::new(),
        }
    }

    /// A response with no headers and no body (CR/LF in `reason` become spaces).
    pub fn response(code: u16, reason: &str) -> Message {
        Message {
            start: StartLine::Response {
                code,
                reason: reason.replace(['\r', '\n'], " "),
                version: Version::SIP_2_0,
            },
            headers: Headers::new(),
            body: Vec::new(),
        }
    }

    /// A response to `request`: all Via lines in order, From, To, Call-ID and CSeq copied;
    /// no body (`Content-Length: 0`). If the To has no tag and `code` is above 100, a tag
    /// is added, derived from the request (the same request always gets the same tag,
    /// as a stateless UAS needs, RFC 3261 §8.2.7); replace it with
    /// [`Message::with_to_tag`] when the TU manages its own tags.
    ///
    /// The request's To is taken as well formed (the parser checks it, and a request this
    /// crate builds has one): a To whose text has no `tag` anywhere is tagged without being
    /// parsed (this is on every response's path).
    pub fn response_to(request: &Message, code: u16, reason: &str) -> Message {
        Message::response_from(&request.headers, code, reason, true)
    }

    /// [`Message::response_to`] from a request's headers alone (e.g.
    /// [`crate::ParseError::partial`]); a To that does not parse is copied untagged.
    pub fn response_for(request: &Headers, code: u16, reason: &str) -> Message {
        Message::response_from(request, code, reason, false)
    }

    fn response_from(request: &Headers, code: u16, reason: &str, to_valid: bool) -> Message {
        let mut r = Message::response(code, reason);
        for name in ["Via", "From", "To", "Call-ID", "CSeq"] {
            r.headers.copy_from(request, name);
        }
        if code > 100 {
            let surely_untagged = to_valid
                && request.get("To").is_some_and(|to| {
                    !to.as_bytes()
                        .windows(3)
                        .any(|w| w.eq_ignore_ascii_case(b"tag"))
                });
            let untagged = surely_untagged || request.to().is_ok_and(|to| to.tag().is_none());
            if untagged {
                let tag = derived_tag(request);
                if let Some(value) = r.headers.first_value_mut("To") {
                    value.push_str(";tag=");
                    value.push_str(&tag);
                }
            }
        }
        r
    }

    /// Sets (or replaces) the tag of the To header. Only for responses to requests whose
    /// To had no tag: a request's own To tag must be echoed unchanged.
    pub fn with_to_tag(mut self, tag: &str) -> Message {
        if let Ok(mut to) = self.headers.to() {
            to.params.set("tag", Some(tag));
            self.headers.set("To", &to.to_string());
        }
        self
    }

    /// Appends a header line (see [`Headers::push`]).
    pub fn with_header(mut self, name: &str, value: &str) -> Message {
        self.headers.push(name, value);
        self
    }

    /// Sets the body and its Content-Type.
    pub fn with_body(mut self, content_type: &str, body: impl Into<Vec<u8>>) -> Message {
        self.headers.set("Content-Type", content_type);
        self.body = body.into();
        self
    }
}

/// A To tag derived from the request's identifiers with a per-process random key: stable
/// for retransmissions of one request, unpredictable across processes.
fn derived_tag(request: &Headers) -> String {
    static KEY: OnceLock<RandomState> = OnceLock::new();
    let mut h = KEY.get_or_init(RandomState::new).build_hasher();
    for name in ["Call-ID", "From", "CSeq", "Via"] {
        h.write(request.get(name).unwrap_or("").as_bytes());
        h.write_u8(0);
    }
    format!("{:016x}", h.finish())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::parse_message;

    const REQ: &[u8] = b"REGISTER sip:10.10.10.1 SIP/2.0\r\n\
Via: SIP/2.0/TLS 10.10.10.10:62162;branch=z9hG4bK00001188\r\n\
Via: SIP/2.0/UDP 10.0.0.1;branch=z9hG4bK2\r\n\
From: <sip:1010@10.10.10.1>;tag=88232345\r\n\
To: <sip:1010@10.10.10.1>\r\n\
Call-ID: 88232345-12340017@10.10.10.10\r\n\
CSeq: 2270 REGISTER\r\n\
Max-Forwards: 70\r\n\
Content-Length: 0\r\n\r\n";

    #[test]
    fn response_copies_and_tags() {
        let req = parse_message(REQ).unwrap();
        let r = Message::response_to(&req, 407, "Proxy Authentication Required");
        assert_eq!(r.headers.get_all("Via"), req.headers.get_all("Via"));
        let tag = r.headers.to().unwrap().tag().map(str::to_string).unwrap();
        assert_eq!(tag.len(), 16);
        let again = Message::response_to(&req, 200, "OK");
        assert_eq!(again.headers.to().unwrap().tag(), Some(tag.as_str()));
        let trying = Message::response_to(&req, 100, "Trying");
        assert_eq!(trying.headers.to().unwrap().tag(), None);
        let tagged = r.with_to_tag("441122775");
        assert_eq!(
            tagged.headers.get("To"),
            Some("<sip:1010@10.10.10.1>;tag=441122775")
        );
        let text = String::from_utf8(tagged.to_bytes()).unwrap();
        assert!(text.starts_with("SIP/2.0 407 Proxy Authentication Required\r\n"));
        assert!(text.ends_with("Content-Length: 0\r\n\r\n"));
        assert!(!text.contains("Max-Forwards"));
    }

    #[test]
    fn a_to_tag_is_added_only_where_there_is_none() {
        let with_to = |to: &str| {
            let text = String::from_utf8_lossy(REQ).replace("To: <sip:1010@10.10.10.1>", to);
            parse_message(text.as_bytes()).unwrap()
        };
        let to_of = |req: &Message| {
            let r = Message::response_to(req, 200, "OK");
            r.headers.get("To").unwrap().to_string()
        };
        // "tag" in the display name and in a URI parameter is not a tag: tagged
        let named = to_of(&with_to("To: \"Tagger\" <sip:1010@10.10.10.1;tag=uri>"));
        assert!(named.starts_with("\"Tagger\" <sip:1010@10.10.10.1;tag=uri>;tag="));
        assert_eq!(named.matches(";tag=").count(), 2);
        // a tag of its own, in any case, is kept as it is
        assert_eq!(
            to_of(&with_to("To: <sip:1010@10.10.10.1>;TAG=abc")),
            "<sip:1010@10.10.10.1>;TAG=abc"
        );
        // the fast path (no "tag" anywhere) tags as the parsing path does
        let plain = to_of(&with_to("To: <sip:1010@10.10.10.1>"));
        let partial =
            Message::response_for(&with_to("To: <sip:1010@10.10.10.1>").headers, 200, "OK");
        assert_eq!(Some(plain.as_str()), partial.headers.get("To"));
        assert!(plain.starts_with("<sip:1010@10.10.10.1>;tag="));
    }

    #[test]
    fn request_builder_round_trips() {
        let m = Message::request(Method::Options, Uri::parse("sip:a@127.0.0.1").unwrap())
            .with_header("Via", "SIP/2.0/UDP 127.0.0.1:5060;branch=z9hG4bKx")
            .with_header("From", "<sip:b@127.0.0.1>;tag=1")
            .with_header("To", "<sip:a@127.0.0.1>")
            .with_header("Call-ID", "c1")
            .with_header("CSeq", "1 OPTIONS")
            .with_body("text/plain", b"hi".to_vec());
        assert_eq!(parse_message(&m.to_bytes()).unwrap(), m);
    }
}
