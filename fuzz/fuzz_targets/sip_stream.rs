//! Fuzzes the TCP/TLS stream framer: however the byte stream is cut into reads, the framer
//! yields the same frames (messages, keep-alive pings, malformed-message errors, the fatal
//! error) and keeps the same bytes buffered as when the whole stream arrives at once; every
//! framed message prints and parses back to itself. The first input byte picks the limits
//! (default, or small ones so that the header and body limits are reached) and the next
//! two bytes pick the read sizes.
#![no_main]

use libfuzzer_sys::fuzz_target;
use switchboard_sip_proto::{parse_message, Frame, FrameError, Limits, StreamFramer};

#[derive(Debug, PartialEq)]
enum Event {
    Frame(Frame),
    Malformed(FrameError),
    Fatal(FrameError),
}

/// Drains every frame the framer can produce now; `true` once it failed for good.
fn drain(framer: &mut StreamFramer, events: &mut Vec<Event>) -> bool {
    loop {
        match framer.next_frame() {
            Ok(Some(f)) => events.push(Event::Frame(f)),
            Ok(None) => return false,
            Err(e) if e.is_fatal() => {
                events.push(Event::Fatal(e));
                return true;
            }
            Err(e) => events.push(Event::Malformed(e)),
        }
    }
}

/// Feeds `stream` in reads of the given sizes (cycled), draining after each.
fn run(limits: Limits, stream: &[u8], sizes: &[usize]) -> (Vec<Event>, usize) {
    let mut framer = StreamFramer::with_limits(limits);
    let mut events = Vec::new();
    let mut rest = stream;
    let mut i = 0;
    while !rest.is_empty() {
        let n = sizes[i % sizes.len()].clamp(1, rest.len());
        i += 1;
        let (read, tail) = rest.split_at(n);
        rest = tail;
        framer.push(read);
        if drain(&mut framer, &mut events) {
            break;
        }
    }
    (events, framer.buffered())
}

fuzz_target!(|data: &[u8]| {
    let [mode, a, b, stream @ ..] = data else {
        return;
    };
    let limits = if mode & 1 == 0 {
        Limits::default()
    } else {
        Limits {
            max_message_bytes: 512,
            max_header_bytes: 256,
            max_body_bytes: 64,
            max_headers: 8,
            max_line_bytes: 128,
        }
    };
    let (whole, left) = run(limits, stream, &[stream.len().max(1)]);
    for e in &whole {
        if let Event::Frame(Frame::Message(m)) = e {
            let again = parse_message(&m.to_bytes()).expect("a framed message prints and parses");
            assert_eq!(&again, m, "framed message round trip");
        }
    }
    let (ones, left1) = run(limits, stream, &[1]);
    assert_eq!(ones, whole, "byte-at-a-time reads frame like one read");
    assert_eq!(
        left1, left,
        "byte-at-a-time reads leave the same bytes buffered"
    );
    let sizes = [usize::from(*a) + 1, usize::from(*b) * 7 + 1];
    let (cut, left2) = run(limits, stream, &sizes);
    assert_eq!(cut, whole, "reads of {sizes:?} bytes frame like one read");
    assert_eq!(
        left2, left,
        "reads of {sizes:?} bytes leave the same bytes buffered"
    );
});
