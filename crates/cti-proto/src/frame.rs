//! Length-prefixed framing for the TCP (2748) and TLS (2749) ports: each message is a
//! 4-byte big-endian unsigned length followed by that many bytes of UTF-8 JSON. The length
//! counts the body only, must be at least 1 and at most [`MAX_FRAME_LEN`].
//! (WebSocket needs no framing of its own: one message per text frame.)

use crate::message::{decode_message, encode_message, DecodeError, Message};
use crate::ErrorName;

/// Largest frame body accepted or sent: 64 KiB.
pub const MAX_FRAME_LEN: usize = 64 * 1024;

/// Length of the frame header.
pub const HEADER_LEN: usize = 4;

/// A framing or decoding failure, each with its error name.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum FrameError {
    /// The length prefix exceeds the limit. The stream cannot be resynchronised: close it.
    #[error("FRAME_TOO_LARGE: frame of {len} bytes, limit {max}")]
    TooLarge {
        /// The announced (or attempted) length.
        len: usize,
        /// The limit.
        max: usize,
    },
    /// A zero-length frame. The stream is still in sync.
    #[error("MALFORMED_MESSAGE: empty frame")]
    Empty,
    /// The body is not a message (the stream is still in sync: the next frame may be fine).
    #[error(transparent)]
    Decode(#[from] DecodeError),
}

impl FrameError {
    /// The error name to report.
    pub fn name(&self) -> ErrorName {
        match self {
            FrameError::TooLarge { .. } => ErrorName::FrameTooLarge,
            FrameError::Empty => ErrorName::MalformedMessage,
            FrameError::Decode(d) => d.name(),
        }
    }

    /// Whether the connection must be closed (the byte stream is out of sync).
    pub fn is_fatal(&self) -> bool {
        matches!(self, FrameError::TooLarge { .. })
    }
}

/// Byte stream in, frame bodies out. Push what the socket gave, then call
/// [`FrameDecoder::next_frame`] until it returns `Ok(None)` (need more bytes).
#[derive(Debug)]
pub struct FrameDecoder {
    buf: Vec<u8>,
    start: usize,
    max: usize,
    poisoned: bool,
}

impl Default for FrameDecoder {
    fn default() -> Self {
        Self::new(MAX_FRAME_LEN)
    }
}

impl FrameDecoder {
    /// A decoder with a maximum body length (normally [`MAX_FRAME_LEN`]).
    pub fn new(max: usize) -> Self {
        FrameDecoder {
            buf: Vec::new(),
            start: 0,
            max,
            poisoned: false,
        }
    }

    /// Appends bytes read from the stream.
    pub fn push(&mut self, bytes: &[u8]) {
        if self.start > 0 && self.start == self.buf.len() {
            self.buf.clear();
            self.start = 0;
        } else if self.start > self.buf.len() / 2 && self.start > 4096 {
            self.buf.drain(..self.start);
            self.start = 0;
        }
        self.buf.extend_from_slice(bytes);
    }

    /// Bytes held and not yet returned as frames.
    pub fn buffered(&self) -> usize {
        self.buf.len() - self.start
    }

    /// The next complete frame body; `Ok(None)` when more bytes are needed. After
    /// [`FrameError::TooLarge`] the decoder keeps returning it (the stream is lost).
    pub fn next_frame(&mut self) -> Result<Option<Vec<u8>>, FrameError> {
        let avail = &self.buf[self.start..];
        if avail.len() < HEADER_LEN {
            return Ok(None);
        }
        let len = u32::from_be_bytes([avail[0], avail[1], avail[2], avail[3]]) as usize;
        if len > self.max || self.poisoned {
            self.poisoned = true;
            return Err(FrameError::TooLarge { len, max: self.max });
        }
        if avail.len() < HEADER_LEN + len {
            return Ok(None);
        }
        let body = avail[HEADER_LEN..HEADER_LEN + len].to_vec();
        self.start += HEADER_LEN + len;
        if len == 0 {
            return Err(FrameError::Empty);
        }
        Ok(Some(body))
    }

    /// The next complete frame decoded as a message; `Ok(None)` when more bytes are needed.
    /// A malformed or unknown message consumes its frame, so the caller may report it and
    /// carry on.
    pub fn next_message(&mut self) -> Result<Option<Message>, FrameError> {
        match self.next_frame()? {
            None => Ok(None),
            Some(body) => Ok(Some(decode_message(&body)?)),
        }
    }
}

/// Frames a payload: 4-byte big-endian length, then the bytes.
pub fn encode_frame(payload: &[u8]) -> Result<Vec<u8>, FrameError> {
    if payload.len() > MAX_FRAME_LEN {
        return Err(FrameError::TooLarge {
            len: payload.len(),
            max: MAX_FRAME_LEN,
        });
    }
    if payload.is_empty() {
        return Err(FrameError::Empty);
    }
    let mut out = Vec::with_capacity(HEADER_LEN + payload.len());
    out.extend_from_slice(&(payload.len() as u32).to_be_bytes());
    out.extend_from_slice(payload);
    Ok(out)
}

/// Serialises and frames a message.
pub fn encode_message_frame(message: &Message) -> Result<Vec<u8>, FrameError> {
    encode_frame(&encode_message(message))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::message::*;

    fn sample() -> Vec<Message> {
        vec![
            Message::Heartbeat(Heartbeat {}),
            Message::DeviceOpenRequest(DeviceOpenRequest {
                seq: 4,
                device_name: "SEP001794625DE5".into(),
                event_filter: EventFilter {
                    device_state: true,
                    call_state: false,
                },
            }),
            Message::ProviderCloseRequest(ProviderCloseRequest { seq: 9 }),
        ]
    }

    fn stream() -> Vec<u8> {
        sample()
            .iter()
            .flat_map(|m| encode_message_frame(m).unwrap())
            .collect()
    }

    fn drain(d: &mut FrameDecoder, out: &mut Vec<Message>) {
        while let Some(m) = d.next_message().unwrap() {
            out.push(m);
        }
    }

    #[test]
    fn every_two_way_split_gives_the_same_messages() {
        let bytes = stream();
        for cut in 0..=bytes.len() {
            let mut d = FrameDecoder::default();
            let mut got = Vec::new();
            d.push(&bytes[..cut]);
            drain(&mut d, &mut got);
            d.push(&bytes[cut..]);
            drain(&mut d, &mut got);
            assert_eq!(got, sample(), "cut at {cut}");
            assert_eq!(d.buffered(), 0);
        }
    }

    #[test]
    fn byte_by_byte_and_three_way_splits() {
        let bytes = stream();
        let mut d = FrameDecoder::default();
        let mut got = Vec::new();
        for b in &bytes {
            d.push(std::slice::from_ref(b));
            drain(&mut d, &mut got);
        }
        assert_eq!(got, sample());
        for a in (0..bytes.len()).step_by(3) {
            for b in (a..=bytes.len()).step_by(5) {
                let mut d = FrameDecoder::default();
                let mut got = Vec::new();
                for part in [&bytes[..a], &bytes[a..b], &bytes[b..]] {
                    d.push(part);
                    drain(&mut d, &mut got);
                }
                assert_eq!(got, sample(), "cuts {a} {b}");
            }
        }
    }

    #[test]
    fn oversized_frame_is_refused_before_its_body_arrives() {
        let mut d = FrameDecoder::default();
        d.push(&((MAX_FRAME_LEN + 1) as u32).to_be_bytes());
        let e = d.next_frame().unwrap_err();
        assert_eq!(e.name(), ErrorName::FrameTooLarge);
        assert!(e.is_fatal());
        // The stream is lost: the decoder stays failed.
        d.push(&encode_message_frame(&Message::Heartbeat(Heartbeat {})).unwrap());
        assert!(d.next_frame().is_err());
        // A frame of exactly the limit is fine.
        let mut d = FrameDecoder::default();
        let body = vec![b' '; MAX_FRAME_LEN];
        d.push(&encode_frame(&body).unwrap());
        assert_eq!(d.next_frame().unwrap().unwrap().len(), MAX_FRAME_LEN);
        assert!(encode_frame(&vec![0; MAX_FRAME_LEN + 1]).is_err());
    }

    #[test]
    fn malformed_and_unknown_are_named_and_the_stream_goes_on() {
        let mut d = FrameDecoder::default();
        for body in [
            &b"{not json"[..],
            b"[1,2]",
            b"{\"seq\":1}",
            b"{\"type\":\"DeviceOpenRequest\",\"seq\":\"x\"}",
            b"{\"type\":\"ParkCallRequest\",\"seq\":1}",
        ] {
            d.push(&encode_frame(body).unwrap());
        }
        d.push(&[0, 0, 0, 0]);
        d.push(&encode_message_frame(&Message::Heartbeat(Heartbeat {})).unwrap());
        let names: Vec<_> = (0..6)
            .map(|_| d.next_message().unwrap_err().name())
            .collect();
        use ErrorName::*;
        assert_eq!(
            names,
            [
                MalformedMessage,
                MalformedMessage,
                MalformedMessage,
                MalformedMessage,
                UnknownMessage,
                MalformedMessage
            ]
        );
        assert_eq!(
            d.next_message().unwrap(),
            Some(Message::Heartbeat(Heartbeat {}))
        );
        assert_eq!(d.next_message().unwrap(), None);
    }
}
