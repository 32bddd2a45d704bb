//! `StreamFramer`: cuts a TCP/TLS byte stream into SIP messages by Content-Length
//! (RFC 3261 §18.3), tells "need more bytes" from "bad bytes", and reports RFC 5626
//! CRLF keep-alive pings.
//!
//! ```
//! use switchboard_sip_proto::{Frame, StreamFramer};
//! let mut f = StreamFramer::new();
//! f.push(b"\r\n\r\nOPTIONS sip:a@127.0.0.1 SIP/2.0\r\nVia: SIP/2.0/TCP 127.0.0.1;branch=z9hG4bK1\r\n");
//! assert!(matches!(f.next_frame(), Ok(Some(Frame::Ping)))); // answer "\r\n"
//! assert!(matches!(f.next_frame(), Ok(None))); // need more bytes
//! f.push(b"From: <sip:b@127.0.0.1>;tag=1\r\nTo: <sip:a@127.0.0.1>\r\nCall-ID: x\r\nCSeq: 1 OPTIONS\r\nContent-Length: 0\r\n\r\n");
//! assert!(matches!(f.next_frame(), Ok(Some(Frame::Message(_)))));
//! ```

use crate::error::FrameError;
use crate::message::Message;
use crate::parser::{content_length_of_lines, parse_head, split_head, Head, Limits};

/// What the stream yields.
#[derive(Debug, Clone, PartialEq)]
#[allow(clippy::large_enum_variant)] // transient: handed straight to the caller
pub enum Frame {
    /// A complete message.
    Message(Message),
    /// A `CRLF CRLF` keep-alive ping (RFC 5626 §4.4.1): answer with a `CRLF` pong.
    Ping,
}

/// Push bytes in, pull messages out. After a fatal [`FrameError`] the framer keeps
/// returning it: close the connection.
///
/// The bytes not yet consumed are `buf[start..]`: taking a message only moves `start`, and
/// the consumed front is dropped once per [`StreamFramer::push`], so a read carrying many
/// pipelined messages costs one move of its unfinished tail rather than one move of the
/// whole rest per message. The header section of a message is split into lines once: the
/// same split gives Content-Length and, when the body is already in, the parsed message.
#[derive(Debug, Clone)]
pub struct StreamFramer {
    buf: Vec<u8>,
    start: usize,
    limits: Limits,
    /// Where the search for the end of the header section resumes (relative to `start`).
    scan_from: usize,
    /// Total length of the message being received, once its header section is in.
    pending: Option<usize>,
    pings: usize,
    failed: Option<FrameError>,
}

impl Default for StreamFramer {
    fn default() -> Self {
        StreamFramer::new()
    }
}

impl StreamFramer {
    /// A framer with the default [`Limits`] (16 KiB header section, 64 KiB body).
    pub fn new() -> Self {
        StreamFramer::with_limits(Limits::default())
    }

    /// A framer with the given limits.
    pub fn with_limits(limits: Limits) -> Self {
        StreamFramer {
            buf: Vec::new(),
            start: 0,
            limits,
            scan_from: 0,
            pending: None,
            pings: 0,
            failed: None,
        }
    }

    /// Appends received bytes (ignored after a fatal error).
    pub fn push(&mut self, bytes: &[u8]) {
        if self.failed.is_none() {
            if self.start > 0 {
                self.buf.drain(..self.start);
                self.start = 0;
            }
            self.buf.extend_from_slice(bytes);
        }
    }

    /// Bytes received and not yet consumed.
    pub fn buffered(&self) -> usize {
        self.buf.len() - self.start
    }

    /// The bytes received and not yet consumed.
    fn rest(&self) -> &[u8] {
        self.buf.get(self.start..).unwrap_or_default()
    }

    /// Marks `n` more bytes consumed.
    fn consume(&mut self, n: usize) {
        self.start = (self.start + n).min(self.buf.len());
        if self.start == self.buf.len() {
            self.buf.clear();
            self.start = 0;
        }
    }

    /// The next message, skipping keep-alive pings (count them with
    /// [`StreamFramer::next_keepalive`]). `Ok(None)`: need more bytes.
    /// `Err(FrameError::Malformed)` is not fatal: call again for the next message.
    #[allow(clippy::should_implement_trait)]
    pub fn next(&mut self) -> Result<Option<Message>, FrameError> {
        loop {
            match self.next_frame()? {
                None => return Ok(None),
                Some(Frame::Ping) => self.pings += 1,
                Some(Frame::Message(m)) => return Ok(Some(m)),
            }
        }
    }

    /// Takes one ping seen by [`StreamFramer::next`]; `true` means "send a CRLF pong".
    pub fn next_keepalive(&mut self) -> bool {
        if self.pings > 0 {
            self.pings -= 1;
            true
        } else {
            false
        }
    }

    /// What a framed message is parsed with: the whole of it bounded by header and body
    /// limits together.
    fn message_limits(&self) -> Limits {
        Limits {
            max_message_bytes: self
                .limits
                .max_header_bytes
                .saturating_add(self.limits.max_body_bytes),
            ..self.limits
        }
    }

    /// The next message or ping; `Ok(None)`: need more bytes.
    pub fn next_frame(&mut self) -> Result<Option<Frame>, FrameError> {
        if let Some(e) = &self.failed {
            return Err(e.clone());
        }
        if let Some(total) = self.pending {
            if self.buffered() < total {
                return Ok(None);
            }
            // The body came in later reads: the header section is split again, once.
            let message = self.rest().get(..total).unwrap_or_default();
            let parsed = split_head(message, &self.message_limits())
                .map_err(Into::into)
                .and_then(|head| parse_head(message, head));
            return self.take(total, parsed);
        }
        if let Some(frame) = self.skip_line_breaks() {
            return Ok(frame);
        }
        let Some(head_end) = self.find_header_end() else {
            if self.buffered() > self.limits.max_header_bytes {
                return self.fail(FrameError::HeaderTooLarge {
                    limit: self.limits.max_header_bytes,
                });
            }
            return Ok(None);
        };
        if head_end > self.limits.max_header_bytes {
            return self.fail(FrameError::HeaderTooLarge {
                limit: self.limits.max_header_bytes,
            });
        }
        let rest = self.rest();
        let head_bytes = rest.get(..head_end).unwrap_or_default();
        let head = split_head(head_bytes, &self.message_limits());
        let body_len = match &head {
            Ok(head) => self.body_length(head),
            // Over a parsing limit (too many or too long lines): not fatal, the message is
            // framed all the same and answered 400.
            Err(_) => split_head(head_bytes, &Limits::unbounded())
                .map_err(|_| FrameError::MissingContentLength)
                .and_then(|head| self.body_length(&head)),
        };
        let body_len = match body_len {
            Ok(n) => n,
            Err(e) => return self.fail(e),
        };
        let total = head_end.saturating_add(body_len);
        if rest.len() < total {
            self.pending = Some(total);
            return Ok(None);
        }
        let message = rest.get(..total).unwrap_or_default();
        let parsed = head
            .map_err(Into::into)
            .and_then(|h| parse_head(message, h));
        self.take(total, parsed)
    }

    /// Consumes a message of `total` bytes and turns its parse into a frame.
    fn take(
        &mut self,
        total: usize,
        parsed: Result<Message, crate::error::ParseError>,
    ) -> Result<Option<Frame>, FrameError> {
        self.consume(total);
        self.pending = None;
        self.scan_from = 0;
        match parsed {
            Ok(m) => Ok(Some(Frame::Message(m))),
            Err(e) => Err(FrameError::Malformed(e)),
        }
    }

    fn fail<T>(&mut self, e: FrameError) -> Result<T, FrameError> {
        self.failed = Some(e.clone());
        self.buf = Vec::new();
        self.start = 0;
        Err(e)
    }

    /// Consumes CRLFs before a start line. `Some(Some(Ping))` for a `CRLF CRLF`,
    /// `Some(None)` when the buffer holds only part of one, `None` when a start line is
    /// next (or the buffer is empty and nothing was found).
    fn skip_line_breaks(&mut self) -> Option<Option<Frame>> {
        loop {
            match self.rest() {
                [] => return Some(None),
                [b'\r', b'\n', b'\r', b'\n', ..] => {
                    self.consume(4);
                    return Some(Some(Frame::Ping));
                }
                [b'\r'] | [b'\r', b'\n'] | [b'\r', b'\n', b'\r'] => return Some(None),
                [b'\r', b'\n', ..] => self.consume(2),
                [b'\n', ..] | [b'\r', ..] => self.consume(1),
                _ => return None,
            }
        }
    }

    /// The index (in the unconsumed bytes) just after the empty line ending the header
    /// section.
    fn find_header_end(&mut self) -> Option<usize> {
        let rest = self.rest();
        let mut i = self.scan_from;
        while let Some(off) = rest
            .get(i..)
            .and_then(|s| s.iter().position(|&b| b == b'\n'))
        {
            let lf = i + off;
            match (rest.get(lf + 1), rest.get(lf + 2)) {
                (Some(b'\n'), _) => return Some(lf + 2),
                (Some(b'\r'), Some(b'\n')) => return Some(lf + 3),
                (None, _) | (Some(b'\r'), None) => break,
                _ => i = lf + 1,
            }
        }
        self.scan_from = rest.len().saturating_sub(3);
        None
    }

    /// The body length a header section announces, within the body limit.
    fn body_length(&self, head: &Head<'_>) -> Result<usize, FrameError> {
        match content_length_of_lines(&head.lines) {
            Err(d) => Err(FrameError::InvalidContentLength(d)),
            Ok(None) => Err(FrameError::MissingContentLength),
            Ok(Some(n)) if n > self.limits.max_body_bytes as u64 => Err(FrameError::BodyTooLarge {
                declared: n,
                limit: self.limits.max_body_bytes,
            }),
            Ok(Some(n)) => Ok(usize::try_from(n).unwrap_or(usize::MAX)),
        }
    }
}

#[cfg(test)]
mod tests;
