//! Golden tests over the RFC 4475 and RFC 5118 torture messages (test_data/torture/):
//! every message's parse result is dumped to `<name>.expected` (`UPDATE_GOLDEN=1`
//! rewrites them), each manifest class is checked, and the structure the RFCs describe is
//! asserted message by message.

mod common;

use common::{dump_parse, golden, read};
use switchboard_sip_proto::transaction::TransactionKey;
use switchboard_sip_proto::{
    parse_message, validate_parsed_request, validate_request, ContactList, Credentials, Host,
    Message, Method, ParseErrorKind, StreamFramer, Transport, Uri,
};

struct Case {
    name: String,
    rfc: String,
    expected: String,
}

fn manifest() -> Vec<Case> {
    let text = String::from_utf8(read("torture/manifest.tsv")).unwrap();
    text.lines()
        .skip(1)
        .filter(|l| !l.is_empty())
        .map(|l| {
            let f: Vec<&str> = l.split('\t').collect();
            Case {
                name: f[0].to_string(),
                rfc: f[1].to_string(),
                expected: f[3].to_string(),
            }
        })
        .collect()
}

/// The wire form: RFC 5118 messages from `rfc5118-crlf/` (see the corpus README).
fn wire(c: &Case) -> Vec<u8> {
    if c.rfc == "5118" {
        read(&format!("torture/rfc5118-crlf/{}.dat", c.name))
    } else {
        read(&format!("torture/{}.dat", c.name))
    }
}

fn parse(name: &str) -> Message {
    let c = manifest().into_iter().find(|c| c.name == name).unwrap();
    parse_message(&wire(&c)).unwrap_or_else(|e| panic!("{name}: {e}"))
}

/// How an `invalid` message is refused.
#[derive(Debug, PartialEq)]
enum Refusal {
    /// `parse_message` fails; the flag is `can_respond()`.
    Parse(bool),
    /// `validate_request` fails with this status.
    Validate(u16),
    /// The named typed accessor fails.
    Accessor(&'static str),
}

fn refusal(name: &str) -> Refusal {
    use Refusal::*;
    match name {
        "badinv01" | "quotbal" | "badaspec" | "baddn" | "insuf" | "multi01" | "scalar02"
        | "scalarlg" | "bigcode" => Parse(false),
        "clerr" | "ncl" | "mcl01" | "ltgtruri" | "lwsruri" | "lwsstart" | "trws" | "ipv6-bad" => {
            Parse(true)
        }
        "escruri" | "mismatch01" | "mismatch02" => Validate(400),
        "badvers" => Validate(505),
        "baddate" => Accessor("date"),
        "regbadct" => Accessor("contacts"),
        other => panic!("no refusal listed for invalid message {other}"),
    }
}

#[test]
fn corpus_golden_and_classes() {
    let cases = manifest();
    assert_eq!(cases.len(), 61);
    let (mut valid, mut invalid) = (0, 0);
    for c in &cases {
        let bytes = wire(c);
        golden(&format!("torture/{}.expected", c.name), &dump_parse(&bytes));
        let parsed = parse_message(&bytes);
        if c.expected == "invalid" {
            match (refusal(&c.name), &parsed) {
                (Refusal::Parse(can), Err(e)) => {
                    assert_eq!(e.can_respond(), can, "{}: {e}", c.name);
                    if can {
                        let r = e.response().unwrap();
                        assert_eq!(r.code(), Some(400), "{}", c.name);
                        parse_message(&r.to_bytes()).unwrap();
                    }
                }
                (Refusal::Validate(status), Ok(m)) => {
                    let e = validate_request(m).unwrap_err();
                    assert_eq!(e.status_code(), status, "{}: {e}", c.name);
                    let after_parse = validate_parsed_request(m).unwrap_err();
                    assert_eq!(after_parse.status_code(), status, "{}", c.name);
                    assert!(e.response().is_some(), "{}", c.name);
                }
                (Refusal::Accessor(a), Ok(m)) => {
                    let failed = match a {
                        "date" => m.headers.date().is_err(),
                        "contacts" => m.headers.contacts().is_err(),
                        _ => unreachable!(),
                    };
                    assert!(failed, "{}: {a}() should fail", c.name);
                }
                (r, p) => panic!("{}: expected {r:?}, got {p:?}", c.name),
            }
            invalid += 1;
        } else {
            let m = parsed.unwrap_or_else(|e| panic!("{} ({}): {e}", c.name, c.expected));
            let again = parse_message(&m.to_bytes()).unwrap();
            assert_eq!(again, m, "{}: print → parse changed the message", c.name);
            valid += 1;
        }
    }
    assert_eq!((valid, invalid), (38, 23));
}

#[test]
fn validate_outcomes_of_valid_messages() {
    for c in manifest().iter().filter(|c| c.expected != "invalid") {
        let m = parse_message(&wire(c)).unwrap();
        if !m.is_request() {
            continue;
        }
        let status = validate_request(&m).err().map(|e| e.status_code());
        let after_parse = validate_parsed_request(&m).err().map(|e| e.status_code());
        assert_eq!(after_parse, status, "{}", c.name);
        let want = match c.name.as_str() {
            "unkscm" | "novelsc" => Some(416),
            _ => None,
        };
        assert_eq!(status, want, "{}", c.name);
    }
}

#[test]
fn wsinv_folding_and_lws() {
    let m = parse("wsinv");
    assert_eq!(m.method(), Some(&Method::Invite));
    let h = &m.headers;
    assert_eq!(
        h.get("NewFangledHeader"),
        Some("newfangled value continued newfangled value")
    );
    assert_eq!(h.get("UnknownHeaderWithUnusualValue"), Some(";;,,;;,;"));
    assert_eq!(h.get("Subject"), Some(""));
    assert_eq!(h.max_forwards().unwrap(), Some(68));
    assert_eq!(h.cseq().unwrap().seq, 9);
    assert_eq!(h.to().unwrap().tag(), Some("1918181833n"));
    let from = h.from().unwrap();
    assert_eq!(from.display_name.as_deref(), Some("J Rosenberg \\\""));
    assert_eq!(from.tag(), Some("98asjd8"));
    let vias = h.vias().unwrap();
    assert_eq!(vias.len(), 3);
    assert_eq!(vias[1].branch(), Some("z9hG4bK9ikj8"));
    assert_eq!(vias[2].branch(), Some("z9hG4bK30239"));
    let ContactList::List(c) = h.contacts().unwrap() else {
        panic!()
    };
    assert_eq!(c[0].q, Some(0.33));
    assert_eq!(c[0].params().get("newparam"), Some("newvalue"));
    assert_eq!(m.body.len(), 150);
}

#[test]
fn intmeth_unusual_tokens() {
    let m = parse("intmeth");
    assert_eq!(
        m.method(),
        Some(&Method::Other(
            "!interesting-Method0123456789_*+`.%indeed'~".into()
        ))
    );
    let uri = m.uri().unwrap().as_sip().unwrap();
    assert_eq!(
        uri.user.as_deref(),
        Some("1_unusual.URI~(to-be!sure)&isn't+it$/crazy?,/;;*")
    );
    assert_eq!(
        uri.password.as_deref(),
        Some("&it+has=1,weird!*pas$wo~d_too.(doesn't-it)")
    );
    let to = m.headers.to().unwrap();
    assert_eq!(to.display_name.as_deref(), Some("BEL:\x07 NUL:\0 DEL:\x7f"));
    assert_eq!(
        m.headers.get("extensionHeader-!.%*+_`'~"),
        Some("\u{FEFF}\u{5927}\u{505C}\u{96FB}")
    );
    assert_eq!(
        m.headers.call_id().unwrap(),
        "intmeth.word%ZK-!.*_+'@word`~)(><:\\/\"][?}{"
    );
}

#[test]
fn escapes() {
    let m = parse("esc01");
    let u = m.uri().unwrap().as_sip().unwrap();
    assert_eq!(u.user_unescaped().as_deref(), Some("sips:user@example.com"));
    let to = m.headers.to().unwrap();
    assert_eq!(
        to.uri.as_sip().unwrap().user_unescaped().as_deref(),
        Some("user")
    );
    let ContactList::List(c) = m.headers.contacts().unwrap() else {
        panic!()
    };
    assert!(c[0].name_addr.uri.as_sip().unwrap().lr());

    let m = parse("escnull");
    let ContactList::List(c) = m.headers.contacts().unwrap() else {
        panic!()
    };
    assert_eq!(c.len(), 2);
    let (a, b) = (
        c[0].name_addr.uri.as_sip().unwrap(),
        c[1].name_addr.uri.as_sip().unwrap(),
    );
    assert_eq!(a.user_unescaped().as_deref(), Some("\0"));
    assert_eq!(b.user_unescaped().as_deref(), Some("\0\0"));
    assert!(!a.matches(b));
    let aor = m.headers.to().unwrap();
    assert_eq!(
        aor.uri.as_sip().unwrap().user_unescaped().as_deref(),
        Some("null-\0-null")
    );

    let m = parse("esc02");
    assert_eq!(m.method(), Some(&Method::Other("RE%47IST%45R".into())));
    let ContactList::List(c) = m.headers.contacts().unwrap() else {
        panic!()
    };
    assert_eq!(c.len(), 2);
    assert_eq!(
        m.headers.get("C%6Fntact"),
        Some("<sip:alias2@host2.example.com>")
    );
    assert_eq!(
        m.headers.from().unwrap().display_name.as_deref(),
        Some("%Z%45")
    );
}

#[test]
fn display_names_long_values_and_framing() {
    assert_eq!(
        parse("lwsdisp")
            .headers
            .from()
            .unwrap()
            .display_name
            .as_deref(),
        Some("caller")
    );

    let m = parse("longreq");
    let vias = m.headers.vias().unwrap();
    assert_eq!(vias.len(), 34);
    assert_eq!(vias[33].received(), Some("192.0.2.5".parse().unwrap()));
    assert!(vias[33].branch().unwrap().len() > 200);
    assert!(m
        .headers
        .to()
        .unwrap()
        .display_name
        .unwrap()
        .contains("extremeextreme"));
    assert!(m.headers.call_id().unwrap().ends_with("longcallid"));
    assert_eq!(m.body.len(), 150);

    let m = parse("dblreq");
    assert_eq!(m.method(), Some(&Method::Register));
    assert!(m.body.is_empty());

    let m = parse("mpart01");
    assert_eq!(m.body.len(), 553);
    assert!(m.body.contains(&0));
    assert_eq!(
        m.headers
            .content_type()
            .unwrap()
            .unwrap()
            .boundary()
            .as_deref(),
        Some("7a9cbec02ceef655")
    );

    let m = parse("inv2543");
    let raw = read("torture/inv2543.dat");
    let head = raw.windows(4).position(|w| w == b"\r\n\r\n").unwrap() + 4;
    assert_eq!(m.body, raw[head..]);
    assert!(m.headers.from().unwrap().tag().is_none());
    assert!(m.headers.max_forwards().unwrap().is_none());
    assert!(TransactionKey::for_request(&m).unwrap().is_rfc2543());
    assert!(TransactionKey::for_request(&parse("badbranch"))
        .unwrap()
        .is_rfc2543());
}

#[test]
fn uris_and_schemes() {
    let m = parse("semiuri");
    let u = m.uri().unwrap().as_sip().unwrap();
    assert_eq!(
        u.user_unescaped().as_deref(),
        Some("user;par=u@example.net")
    );
    assert_eq!(u.host, Host::Domain("example.com".into()));

    let t: Vec<Transport> = parse("transports")
        .headers
        .vias()
        .unwrap()
        .into_iter()
        .map(|v| v.transport)
        .collect();
    assert_eq!(
        t,
        [
            Transport::Udp,
            Transport::Sctp,
            Transport::Tls,
            Transport::Other("UNKNOWN".into()),
            Transport::Tcp
        ]
    );

    assert!(
        matches!(parse("unkscm").uri(), Some(Uri::Other(o)) if o.scheme == "nobodyKnowsThisScheme")
    );
    assert_eq!(parse("novelsc").uri().unwrap().scheme(), "soap.beep");
    let m = parse("unksm2");
    assert_eq!(m.headers.to().unwrap().uri.scheme(), "isbn");
    assert_eq!(m.headers.from().unwrap().uri.scheme(), "http");

    let ContactList::List(c) = parse("cparam01").headers.contacts().unwrap() else {
        panic!()
    };
    assert!(c[0].params().contains("unknownparam"));
    assert!(c[0].name_addr.uri.as_sip().unwrap().params.is_empty());
    let ContactList::List(c) = parse("cparam02").headers.contacts().unwrap() else {
        panic!()
    };
    assert!(c[0].params().is_empty());
    assert!(c[0]
        .name_addr
        .uri
        .as_sip()
        .unwrap()
        .params
        .contains("unknownparam"));
    let ContactList::List(c) = parse("regescrt").headers.contacts().unwrap() else {
        panic!()
    };
    assert_eq!(
        c[0].name_addr.uri.as_sip().unwrap().headers,
        vec![("Route".to_string(), "%3Csip:sip.example.com%3E".to_string())]
    );
}

#[test]
fn responses_and_extensions() {
    let m = parse("unreason");
    assert_eq!(m.code(), Some(200));
    assert!(m.reason().unwrap().contains("2**3 * 5**2 но"));
    assert_eq!(parse("noreason").reason(), Some(""));
    let vias = parse("bcast").headers.vias().unwrap();
    assert_eq!(vias[1].host, Host::Ipv4("255.255.255.255".parse().unwrap()));
    let m = parse("bext01");
    assert_eq!(
        m.headers.require().unwrap(),
        ["nothingSupportsThis", "nothingSupportsThisEither"]
    );
    assert_eq!(
        m.headers.proxy_require().unwrap(),
        ["noProxiesSupportThis", "norDoAnyProxiesSupportThis"]
    );
    assert!(matches!(
        parse("regaut01").headers.authorization().unwrap(),
        Some(Credentials::Other { scheme, .. }) if scheme == "NoOneKnowsThisScheme"
    ));
    assert_eq!(parse("zeromf").headers.max_forwards().unwrap(), Some(0));
}

#[test]
fn ipv6_rfc5118() {
    let host = |name: &str| parse(name).uri().unwrap().as_sip().unwrap().clone();
    assert_eq!(
        host("ipv6-good").host,
        Host::Ipv6("2001:db8::10".parse().unwrap())
    );
    let a = host("port-ambiguous");
    assert_eq!(
        (a.host, a.port),
        (Host::Ipv6("2001:db8::10:5070".parse().unwrap()), None)
    );
    let u = host("port-unambiguous");
    assert_eq!(
        (u.host, u.port),
        (Host::Ipv6("2001:db8::10".parse().unwrap()), Some(5070))
    );
    for n in [
        "via-received-param-with-delim",
        "via-received-param-no-delim",
    ] {
        let v = parse(n).headers.top_via().unwrap();
        assert_eq!(
            v.received(),
            Some("2001:db8::9:255".parse().unwrap()),
            "{n}"
        );
    }
    let vias = parse("mult-ip-in-header").headers.vias().unwrap();
    assert_eq!(vias.len(), 3);
    assert_eq!(vias[0].port, Some(6050));
    assert_eq!(vias[2].received(), Some("192.0.2.200".parse().unwrap()));
    let m = parse("ipv4-mapped-ipv6");
    let v = m.headers.top_via().unwrap();
    assert_eq!(
        (v.host.to_string(), v.port),
        ("[::ffff:192.0.2.10]".to_string(), Some(19823))
    );
    assert_eq!(
        host("ipv6-bug-abnf-3-colons").host,
        host("ipv6-correct-abnf-2-colons").host
    );
    let e = parse_message(&read("torture/rfc5118-crlf/ipv6-bad.dat")).unwrap_err();
    assert!(matches!(e.kind(), ParseErrorKind::RequestUri(_)));
    assert_eq!(parse("ipv6-in-sdp").body.len(), 251);
}

/// The RFC 5118 archive files use bare LF: they parse to the same headers as the CRLF
/// forms, except where the archive's Content-Length exceeds the LF body.
#[test]
fn rfc5118_lf_originals() {
    for c in manifest().iter().filter(|c| c.rfc == "5118") {
        let lf = parse_message(&read(&format!("torture/{}.dat", c.name)));
        let crlf = parse_message(&wire(c));
        match c.name.as_str() {
            "ipv6-in-sdp" | "mult-ip-in-sdp" => {
                assert!(matches!(
                    lf.unwrap_err().kind(),
                    ParseErrorKind::BodyTruncated { .. }
                ))
            }
            "ipv6-bad" => assert_eq!(lf.unwrap_err().kind(), crlf.unwrap_err().kind()),
            _ => {
                let (lf, crlf) = (lf.unwrap(), crlf.unwrap());
                assert_eq!(lf.start, crlf.start, "{}", c.name);
                assert_eq!(lf.headers, crlf.headers, "{}", c.name);
            }
        }
    }
}

/// Every valid message with a Content-Length, fed to the stream framer one byte at a
/// time and in two chunks split at every point, gives the datagram parse's message;
/// two messages in one chunk give two.
#[test]
fn split_input_framing() {
    for c in manifest()
        .iter()
        .filter(|c| c.expected != "invalid" && c.name != "inv2543")
    {
        let bytes = wire(c);
        let want = parse_message(&bytes).unwrap();
        let mut f = StreamFramer::new();
        for b in &bytes {
            f.push(std::slice::from_ref(b));
            if let Some(m) = f.next().unwrap() {
                assert_eq!(m, want, "{} byte by byte", c.name);
                break;
            }
        }
        for split in 0..=bytes.len() {
            let mut f = StreamFramer::new();
            f.push(&bytes[..split]);
            let first = f.next().unwrap();
            f.push(&bytes[split..]);
            let m = first
                .or_else(|| f.next().unwrap())
                .unwrap_or_else(|| panic!("{} split {split}", c.name));
            assert_eq!(m, want, "{} split at {split}", c.name);
        }
        let mut two = bytes.clone();
        two.extend_from_slice(&read("torture/zeromf.dat"));
        let mut f = StreamFramer::new();
        f.push(&two);
        assert_eq!(f.next().unwrap().unwrap(), want, "{}", c.name);
        if c.name != "dblreq" {
            assert_eq!(
                f.next().unwrap().unwrap(),
                parse("zeromf"),
                "{} + zeromf",
                c.name
            );
        }
    }
}
