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
use crate::parser::{content_length, parse_header_lines, parse_message_with, split_head, Limits};

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
#[derive(Debug, Clone)]
pub struct StreamFramer {
    buf: Vec<u8>,
    limits: Limits,
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
            self.buf.extend_from_slice(bytes);
        }
    }

    /// Bytes received and not yet consumed.
    pub fn buffered(&self) -> usize {
        self.buf.len()
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

    /// The next message or ping; `Ok(None)`: need more bytes.
    pub fn next_frame(&mut self) -> Result<Option<Frame>, FrameError> {
        if let Some(e) = &self.failed {
            return Err(e.clone());
        }
        let total = match self.pending {
            Some(p) => p,
            None => {
                if let Some(frame) = self.skip_line_breaks() {
                    return Ok(frame);
                }
                let Some(head_end) = self.find_header_end() else {
                    if self.buf.len() > self.limits.max_header_bytes {
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
                let body_len = match self.body_length(head_end) {
                    Ok(n) => n,
                    Err(e) => return self.fail(e),
                };
                let total = head_end.saturating_add(body_len);
                self.pending = Some(total);
                total
            }
        };
        if self.buf.len() < total {
            return Ok(None);
        }
        let limits = Limits {
            max_message_bytes: self
                .limits
                .max_header_bytes
                .saturating_add(self.limits.max_body_bytes),
            ..self.limits
        };
        let parsed = parse_message_with(self.buf.get(..total).unwrap_or_default(), &limits);
        self.buf.drain(..total);
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
        Err(e)
    }

    /// Consumes CRLFs before a start line. `Some(Some(Ping))` for a `CRLF CRLF`,
    /// `Some(None)` when the buffer holds only part of one, `None` when a start line is
    /// next (or the buffer is empty and nothing was found).
    fn skip_line_breaks(&mut self) -> Option<Option<Frame>> {
        loop {
            match self.buf.as_slice() {
                [] => return Some(None),
                [b'\r', b'\n', b'\r', b'\n', ..] => {
                    self.buf.drain(..4);
                    return Some(Some(Frame::Ping));
                }
                [b'\r'] | [b'\r', b'\n'] | [b'\r', b'\n', b'\r'] => return Some(None),
                [b'\r', b'\n', ..] => {
                    self.buf.drain(..2);
                }
                [b'\n', ..] | [b'\r', ..] => {
                    self.buf.drain(..1);
                }
                _ => return None,
            }
        }
    }

    /// The index just after the empty line ending the header section.
    fn find_header_end(&mut self) -> Option<usize> {
        let mut i = self.scan_from;
        while let Some(off) = self
            .buf
            .get(i..)
            .and_then(|s| s.iter().position(|&b| b == b'\n'))
        {
            let lf = i + off;
            match (self.buf.get(lf + 1), self.buf.get(lf + 2)) {
                (Some(b'\n'), _) => return Some(lf + 2),
                (Some(b'\r'), Some(b'\n')) => return Some(lf + 3),
                (None, _) | (Some(b'\r'), None) => break,
                _ => i = lf + 1,
            }
        }
        self.scan_from = self.buf.len().saturating_sub(3);
        None
    }

    fn body_length(&self, head_end: usize) -> Result<usize, FrameError> {
        let unbounded = Limits {
            max_message_bytes: usize::MAX,
            max_header_bytes: usize::MAX,
            max_body_bytes: usize::MAX,
            max_headers: usize::MAX,
            max_line_bytes: usize::MAX,
        };
        let head = split_head(self.buf.get(..head_end).unwrap_or_default(), &unbounded)
            .map_err(|_| FrameError::MissingContentLength)?;
        let (headers, _) = parse_header_lines(&head.lines);
        match content_length(&headers) {
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
