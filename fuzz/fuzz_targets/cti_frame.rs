//! Fuzzes the CTI frame decoder and message parser: whatever the bytes and however they are
//! cut into reads, nothing panics, the decoder yields the same results as when the stream
//! arrives at once, and every message that parses encodes and decodes back to itself
//! (`decode(encode(m)) == m`), through the framing as well. The first input byte picks the
//! frame limit (default, or a small one so that `FRAME_TOO_LARGE` is reached), the second
//! the read size.
#![no_main]

use libfuzzer_sys::fuzz_target;
use switchboard_cti_proto::{
    decode_message, encode_message, encode_message_frame, ErrorName, FrameDecoder, Message,
    MAX_FRAME_LEN,
};

#[derive(Debug, PartialEq)]
enum Event {
    Message(Message),
    Error(ErrorName),
}

/// Drains the decoder; `true` once it failed for good.
fn drain(d: &mut FrameDecoder, out: &mut Vec<Event>) -> bool {
    loop {
        match d.next_message() {
            Ok(Some(m)) => out.push(Event::Message(m)),
            Ok(None) => return false,
            Err(e) if e.is_fatal() => {
                out.push(Event::Error(e.name()));
                return true;
            }
            Err(e) => out.push(Event::Error(e.name())),
        }
    }
}

fn run(max: usize, chunk: usize, bytes: &[u8]) -> Vec<Event> {
    let mut d = FrameDecoder::new(max);
    let mut out = Vec::new();
    for part in bytes.chunks(chunk.max(1)) {
        d.push(part);
        if drain(&mut d, &mut out) {
            break;
        }
    }
    out
}

fuzz_target!(|data: &[u8]| {
    if data.len() < 2 {
        return;
    }
    let max = if data[0] & 1 == 0 { MAX_FRAME_LEN } else { 64 };
    let chunk = data[1] as usize;
    let bytes = &data[2..];

    // The payload alone, as a WebSocket text frame would carry it.
    if let Ok(m) = decode_message(bytes) {
        assert_eq!(decode_message(&encode_message(&m)).unwrap(), m);
    }

    let whole = run(max, bytes.len().max(1), bytes);
    let split = run(max, chunk, bytes);
    assert_eq!(whole, split);
    for e in &whole {
        if let Event::Message(m) = e {
            assert_eq!(decode_message(&encode_message(m)).unwrap(), *m);
            let mut d = FrameDecoder::default();
            d.push(&encode_message_frame(m).unwrap());
            assert_eq!(d.next_message().unwrap().as_ref(), Some(m));
        }
    }
});
