//! `Message`: a SIP request or response (start line, header fields, body) and its
//! canonical printer.

use std::fmt;

use crate::headers::Headers;
use crate::method::Method;
use crate::uri::Uri;

/// The SIP version of a start line (`SIP/2.0`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Version {
    /// Major number.
    pub major: u16,
    /// Minor number.
    pub minor: u16,
}

impl Version {
    /// `SIP/2.0`, the only version this crate speaks.
    pub const SIP_2_0: Version = Version { major: 2, minor: 0 };
}

impl fmt::Display for Version {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "SIP/{}.{}", self.major, self.minor)
    }
}

/// The first line of a message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StartLine {
    /// `Method SP Request-URI SP SIP-Version`.
    Request {
        /// The method.
        method: Method,
        /// The Request-URI.
        uri: Uri,
        /// The version.
        version: Version,
    },
    /// `SIP-Version SP Status-Code SP Reason-Phrase`.
    Response {
        /// The status code (100–699).
        code: u16,
        /// The reason phrase (may be empty).
        reason: String,
        /// The version.
        version: Version,
    },
}

/// A SIP message. The body is opaque bytes (multipart bodies are kept intact);
/// `Content-Length` is derived from it when printing.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Message {
    /// Request or status line.
    pub start: StartLine,
    /// Header fields, in order (no `Content-Length`).
    pub headers: Headers,
    /// The body.
    pub body: Vec<u8>,
}

impl Message {
    /// Whether this is a request.
    pub fn is_request(&self) -> bool {
        matches!(self.start, StartLine::Request { .. })
    }

    /// The request method (`None` for a response; see [`Message::cseq_method`]).
    pub fn method(&self) -> Option<&Method> {
        match &self.start {
            StartLine::Request { method, .. } => Some(method),
            StartLine::Response { .. } => None,
        }
    }

    /// The Request-URI of a request.
    pub fn uri(&self) -> Option<&Uri> {
        match &self.start {
            StartLine::Request { uri, .. } => Some(uri),
            StartLine::Response { .. } => None,
        }
    }

    /// The status code of a response.
    pub fn code(&self) -> Option<u16> {
        match &self.start {
            StartLine::Request { .. } => None,
            StartLine::Response { code, .. } => Some(*code),
        }
    }

    /// The reason phrase of a response.
    pub fn reason(&self) -> Option<&str> {
        match &self.start {
            StartLine::Request { .. } => None,
            StartLine::Response { reason, .. } => Some(reason),
        }
    }

    /// The version of the start line.
    pub fn version(&self) -> Version {
        match &self.start {
            StartLine::Request { version, .. } | StartLine::Response { version, .. } => *version,
        }
    }

    /// The method named by CSeq (for responses: the method of the request they answer).
    pub fn cseq_method(&self) -> Option<Method> {
        self.headers.cseq().ok().map(|c| c.method)
    }

    /// The canonical wire form: CRLF line ends, known header names in canonical
    /// spelling, one line per stored header line, `Content-Length` (computed from the
    /// body) last, then the body.
    pub fn to_bytes(&self) -> Vec<u8> {
        let mut out = String::with_capacity(512);
        match &self.start {
            StartLine::Request {
                method,
                uri,
                version,
            } => out.push_str(&format!("{method} {uri} {version}\r\n")),
            StartLine::Response {
                code,
                reason,
                version,
            } => {
                let reason = reason.replace(['\r', '\n'], " ");
                out.push_str(&format!("{version} {code} {reason}\r\n"));
            }
        }
        for h in self.headers.iter() {
            out.push_str(h.name());
            out.push_str(": ");
            out.push_str(h.value());
            out.push_str("\r\n");
        }
        out.push_str(&format!("Content-Length: {}\r\n\r\n", self.body.len()));
        let mut bytes = out.into_bytes();
        bytes.extend_from_slice(&self.body);
        bytes
    }
}
