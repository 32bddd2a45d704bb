//! Fuzzes every typed SIP header parser on one arbitrary value (the header value a peer
//! sends): none panics, and whatever each accepts prints and parses back to the same value.
//! Covers Authorization / Proxy-Authorization (Digest and Bearer credentials, both the
//! `Bearer <token68>` and `Bearer token="…"` forms), WWW-Authenticate / Proxy-Authenticate
//! challenges, Content-Type (multipart boundaries), Via, From/To, Contact, CSeq, Date,
//! Warning, Retry-After and the Request-URI parser.
#![no_main]

use libfuzzer_sys::fuzz_target;
use switchboard_sip_proto::{
    CSeq, Challenge, ContactList, Credentials, Headers, MediaType, NameAddr, SipDate, Uri, Via,
};

/// `value` under `name` alone in a header section.
fn one(name: &str, value: &str) -> Headers {
    let mut h = Headers::new();
    h.push(name, value);
    h
}

fn round_trip<T: PartialEq + std::fmt::Debug + std::fmt::Display>(
    what: &str,
    value: &T,
    parse: impl Fn(&str) -> Option<T>,
) {
    let printed = value.to_string();
    let again = parse(&printed);
    assert_eq!(
        again.as_ref(),
        Some(value),
        "{what} round trip via {printed:?}"
    );
}

fuzz_target!(|data: &[u8]| {
    let Ok(v) = std::str::from_utf8(data) else {
        return;
    };

    // Credentials, as a header line and directly.
    for name in ["Authorization", "Proxy-Authorization"] {
        if let Ok(list) = one(name, v).credentials(name) {
            for c in list {
                round_trip("credentials", &c, |t| Credentials::parse(t).ok());
                if let Credentials::Bearer { token } = &c {
                    assert!(!token.is_empty(), "an empty Bearer token is accepted");
                }
            }
        }
    }
    if let Ok(c) = Credentials::parse(v) {
        round_trip("credentials", &c, |t| Credentials::parse(t).ok());
    }
    // Challenges.
    if let Ok(c) = Challenge::parse(v) {
        round_trip("challenge", &c, |t| Challenge::parse(t).ok());
    }
    let _ = one("WWW-Authenticate", v).www_authenticate();
    let _ = one("Proxy-Authenticate", v).proxy_authenticate();

    // Content-Type (a multipart body is cut by its boundary).
    if let Ok(m) = MediaType::parse(v) {
        round_trip("media type", &m, |t| MediaType::parse(t).ok());
        let _ = m.boundary();
    }
    if let Ok(Some(m)) = one("Content-Type", v).content_type() {
        round_trip("Content-Type", &m, |t| MediaType::parse(t).ok());
    }

    // Via, name-addr, Contact, Route.
    if let Ok(via) = Via::parse(v) {
        round_trip("Via", &via, |t| Via::parse(t).ok());
        let _ = (via.branch(), via.received(), via.rport(), via.sent_by());
    }
    if let Ok(vias) = one("Via", v).vias() {
        for via in vias {
            round_trip("Via", &via, |t| Via::parse(t).ok());
        }
    }
    if let Ok(na) = NameAddr::parse(v) {
        round_trip("name-addr", &na, |t| NameAddr::parse(t).ok());
        let _ = na.tag();
    }
    if let Ok(list) = one("Contact", v).contacts() {
        let printed = list.to_string();
        let again = one("Contact", &printed).contacts();
        match (&list, again) {
            (ContactList::Star, Ok(ContactList::Star)) => {}
            (ContactList::List(a), Ok(ContactList::List(b))) => {
                let a: Vec<_> = a.iter().map(|c| &c.name_addr).collect();
                let b: Vec<_> = b.iter().map(|c| &c.name_addr).collect();
                assert_eq!(a, b, "Contact list round trip via {printed:?}");
            }
            (_, again) => panic!("Contact list round trip via {printed:?}: {again:?}"),
        }
    }
    for name in ["Route", "Record-Route", "Path"] {
        let h = one(name, v);
        let _ = (h.route(), h.record_route(), h.path());
    }

    // Small headers.
    if let Ok(c) = CSeq::parse(v) {
        round_trip("CSeq", &c, |t| CSeq::parse(t).ok());
    }
    if let Ok(d) = SipDate::parse(v) {
        round_trip("Date", &d, |t| SipDate::parse(t).ok());
        let _ = d.to_unix();
    }
    if let Ok(ws) = one("Warning", v).warnings() {
        for w in ws {
            round_trip("Warning", &w, |t| {
                one("Warning", t).warning().ok().flatten()
            });
        }
    }
    if let Ok(Some(r)) = one("Retry-After", v).retry_after() {
        round_trip("Retry-After", &r, |t| {
            one("Retry-After", t).retry_after().ok().flatten()
        });
    }
    let h = one("Expires", v);
    let _ = (h.expires(), h.min_expires(), h.max_forwards(), h.call_id());
    let h = one("Supported", v);
    let _ = (h.supported(), h.require(), h.unsupported());

    // URIs (Request-URI, Contact URI).
    if let Ok(u) = Uri::parse(v) {
        round_trip("URI", &u, |t| Uri::parse(t).ok());
    }
});
