//! Fuzz target: `parse_message` never panics; whatever it accepts prints and parses back
//! to the same message (and its typed headers print and parse back to themselves); the
//! stream framer, fed the input in chunks whose size the input picks, never panics.
#![no_main]

use libfuzzer_sys::fuzz_target;
use switchboard_sip_proto::transaction::TransactionKey;
use switchboard_sip_proto::{
    parse_message, validate_request, ContactList, Headers, Message, NameAddr, StreamFramer, Via,
};

/// Every typed accessor; the printable ones must round-trip.
fn headers(h: &Headers) {
    if let Ok(vias) = h.vias() {
        for v in vias {
            assert_eq!(Via::parse(&v.to_string()).ok(), Some(v), "Via round trip");
        }
    }
    for na in [h.from(), h.to()].into_iter().flatten() {
        assert_eq!(
            NameAddr::parse(&na.to_string()).ok(),
            Some(na),
            "name-addr round trip"
        );
    }
    if let Ok(ContactList::List(l)) = h.contacts() {
        for c in l {
            let na = NameAddr::parse(&c.to_string()).ok();
            assert_eq!(na.as_ref(), Some(&c.name_addr), "Contact round trip");
        }
    }
    let _ = (
        h.call_id(),
        h.cseq(),
        h.max_forwards(),
        h.expires(),
        h.min_expires(),
    );
    let _ = (h.authorization(), h.proxy_authorization());
    if let Ok(Some(c)) = h.www_authenticate() {
        let _ = c.to_string();
    }
    if let Ok(Some(c)) = h.proxy_authenticate() {
        let _ = c.to_string();
    }
    let _ = (
        h.warnings(),
        h.retry_after(),
        h.supported(),
        h.require(),
        h.unsupported(),
    );
    let _ = (
        h.route(),
        h.record_route(),
        h.path(),
        h.content_type(),
        h.date(),
    );
}

fn message(m: &Message) {
    headers(&m.headers);
    if m.is_request() {
        let _ = validate_request(m).map_err(|e| e.response());
        let _ = TransactionKey::for_request(m);
        let r = Message::response_to(m, 200, "OK");
        let _ = r.to_bytes();
    } else {
        let _ = TransactionKey::for_response(m);
    }
}

fuzz_target!(|data: &[u8]| {
    match parse_message(data) {
        Ok(m) => {
            let printed = m.to_bytes();
            let again = parse_message(&printed).expect("a printed message parses");
            assert_eq!(again, m, "parse(print(parse(x))) == parse(x)");
            message(&m);
        }
        Err(e) => {
            if let Some(r) = e.response() {
                parse_message(&r.to_bytes()).expect("an error response parses");
            }
            if let Some(h) = e.partial() {
                headers(h);
            }
        }
    }
    let step = data.first().map_or(1, |b| usize::from(*b % 32) + 1);
    let mut framer = StreamFramer::new();
    'outer: for chunk in data.chunks(step) {
        framer.push(chunk);
        loop {
            match framer.next() {
                Ok(Some(m)) => message(&m),
                Ok(None) => break,
                Err(e) if e.is_fatal() => break 'outer,
                Err(_) => {}
            }
        }
    }
});
