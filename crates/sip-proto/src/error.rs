//! The crate's errors: [`ParseError`] (a message or header value that does not parse or
//! a request the core refuses) and [`FrameError`] (a byte stream that cannot be framed).
//!
//! Display texts never echo input bytes, so they are safe as a reason phrase or in a
//! `Warning` header.

use crate::headers::Headers;
use crate::message::{Message, Version};

/// What is wrong; one variant per cause.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ParseErrorKind {
    /// Nothing but line breaks (a keep-alive): drop it silently.
    #[error("Empty message")]
    Empty,
    /// The message is larger than [`crate::Limits::max_message_bytes`].
    #[error("Message too large ({len} bytes, limit {limit})")]
    MessageTooLarge {
        /// Its size.
        len: usize,
        /// The limit.
        limit: usize,
    },
    /// The header section is larger than [`crate::Limits::max_header_bytes`].
    #[error("Header section too large (limit {limit} bytes)")]
    HeaderSectionTooLarge {
        /// The limit.
        limit: usize,
    },
    /// More header lines than [`crate::Limits::max_headers`].
    #[error("Too many header fields (limit {limit})")]
    TooManyHeaders {
        /// The limit.
        limit: usize,
    },
    /// A header line longer than [`crate::Limits::max_line_bytes`].
    #[error("Header line too long (limit {limit} bytes)")]
    LineTooLong {
        /// The limit.
        limit: usize,
    },
    /// The first line is not `Method SP Request-URI SP SIP-Version`.
    #[error("Malformed request line: {0}")]
    RequestLine(&'static str),
    /// The Request-URI does not parse.
    #[error("Malformed Request-URI: {0}")]
    RequestUri(&'static str),
    /// The first line is not `SIP-Version SP Status-Code SP Reason-Phrase`.
    #[error("Malformed status line: {0}")]
    StatusLine(&'static str),
    /// A header line is not `name: value`, or is a stray continuation line.
    #[error("Malformed header line: {0}")]
    HeaderLine(&'static str),
    /// A start line or header line is not UTF-8.
    #[error("Header section is not valid UTF-8")]
    InvalidUtf8,
    /// `Content-Length` is not a number, is negative or is given twice with different values.
    #[error("Bad Content-Length: {0}")]
    ContentLength(&'static str),
    /// The datagram holds fewer body bytes than `Content-Length` says.
    #[error("Body shorter than Content-Length ({declared} declared, {available} present)")]
    BodyTruncated {
        /// The `Content-Length` value.
        declared: usize,
        /// The bytes present after the header section.
        available: usize,
    },
    /// A mandatory header is absent.
    #[error("Missing {0} header")]
    MissingHeader(&'static str),
    /// A header that may appear once appears more than once.
    #[error("Duplicate {0} header")]
    DuplicateHeader(&'static str),
    /// A header value does not match its grammar.
    #[error("Malformed {name} header: {detail}")]
    InvalidHeader {
        /// The header's canonical name.
        name: &'static str,
        /// What is wrong.
        detail: &'static str,
    },
    /// A URI given on its own does not parse.
    #[error("Malformed URI: {0}")]
    Uri(&'static str),
    /// The request is not SIP/2.0 (answer `505 Version Not Supported`).
    #[error("SIP version {0} not supported")]
    UnsupportedVersion(Version),
    /// The Request-URI scheme is not sip, sips or tel (answer `416 Unsupported URI Scheme`).
    #[error("Unsupported URI scheme")]
    UnsupportedUriScheme,
    /// The Request-URI carries `?headers`, which RFC 3261 §19.1.1 forbids there.
    #[error("Request-URI must not carry headers")]
    RequestUriHeaders,
    /// The CSeq method differs from the request method.
    #[error("CSeq method does not match the request method")]
    CSeqMethodMismatch,
    /// The message is a response where a request was expected.
    #[error("Not a request")]
    NotARequest,
}

impl ParseErrorKind {
    /// Shorthand for [`ParseErrorKind::InvalidHeader`].
    pub(crate) fn header(name: &'static str, detail: &'static str) -> Self {
        ParseErrorKind::InvalidHeader { name, detail }
    }
}

/// A message, header or URI that does not parse, or a request that must be refused.
///
/// When the input was a request whose Via, From, To, Call-ID and CSeq parsed,
/// [`ParseError::can_respond`] is true and [`ParseError::response`] builds the answer
/// (400, or 505/416 for [`ParseErrorKind::UnsupportedVersion`] /
/// [`ParseErrorKind::UnsupportedUriScheme`]).
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("{kind}")]
#[non_exhaustive]
pub struct ParseError {
    kind: ParseErrorKind,
    partial: Option<Box<Headers>>,
    can_respond: bool,
}

impl ParseError {
    /// An error with no partial message.
    pub fn new(kind: ParseErrorKind) -> Self {
        ParseError {
            kind,
            partial: None,
            can_respond: false,
        }
    }

    pub(crate) fn with_partial(kind: ParseErrorKind, headers: Headers, can_respond: bool) -> Self {
        ParseError {
            kind,
            partial: Some(Box::new(headers)),
            can_respond,
        }
    }

    /// What is wrong.
    pub fn kind(&self) -> &ParseErrorKind {
        &self.kind
    }

    /// Whether an error response can be sent: the input was a request and its Via, From,
    /// To, Call-ID and CSeq headers parsed.
    pub fn can_respond(&self) -> bool {
        self.can_respond
    }

    /// The header fields that parsed (all of them, Content-Length excepted), when the
    /// header section could be read; enough to build a response when
    /// [`ParseError::can_respond`] is true.
    pub fn partial(&self) -> Option<&Headers> {
        self.partial.as_deref()
    }

    /// The status code to answer with: 505, 416 or 400.
    pub fn status_code(&self) -> u16 {
        match self.kind {
            ParseErrorKind::UnsupportedVersion(_) => 505,
            ParseErrorKind::UnsupportedUriScheme => 416,
            _ => 400,
        }
    }

    /// The error response (reason phrase = this error's text), or `None` when no response
    /// can be sent (see [`ParseError::can_respond`]).
    pub fn response(&self) -> Option<Message> {
        let headers = self.partial.as_deref().filter(|_| self.can_respond)?;
        Some(Message::response_for(
            headers,
            self.status_code(),
            &self.kind.to_string(),
        ))
    }
}

impl From<ParseErrorKind> for ParseError {
    fn from(kind: ParseErrorKind) -> Self {
        ParseError::new(kind)
    }
}

/// Why a byte stream cannot be framed into messages. All variants but
/// [`FrameError::Malformed`] are fatal: the connection must be closed.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[non_exhaustive]
pub enum FrameError {
    /// No empty line within [`crate::Limits::max_header_bytes`].
    #[error("Header section over {limit} bytes")]
    HeaderTooLarge {
        /// The limit.
        limit: usize,
    },
    /// A message on a stream without `Content-Length` (RFC 3261 §18.3 requires it).
    #[error("Message on a stream without Content-Length")]
    MissingContentLength,
    /// `Content-Length` is not a number, negative, or given twice with different values.
    #[error("Bad Content-Length on a stream: {0}")]
    InvalidContentLength(&'static str),
    /// `Content-Length` exceeds [`crate::Limits::max_body_bytes`].
    #[error("Body of {declared} bytes over the {limit}-byte limit")]
    BodyTooLarge {
        /// The `Content-Length` value.
        declared: u64,
        /// The limit.
        limit: usize,
    },
    /// A complete, correctly framed message that does not parse. Not fatal: the stream
    /// goes on with the next message; answer it with [`ParseError::response`] if possible.
    #[error("Malformed message: {0}")]
    Malformed(ParseError),
}

impl FrameError {
    /// Whether the connection must be closed.
    pub fn is_fatal(&self) -> bool {
        !matches!(self, FrameError::Malformed(_))
    }
}
