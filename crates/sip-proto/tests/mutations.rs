//! A deterministic stand-in for the fuzz target that runs with `cargo test`: thousands of
//! mutations of the corpus (byte flips, cuts, duplications, inserted delimiters) must never
//! panic, and whatever parses must print and parse back to itself, typed headers included.

mod common;

use switchboard_sip_proto::transaction::TransactionKey;
use switchboard_sip_proto::{
    parse_message, validate_request, ContactList, Headers, Message, NameAddr, StreamFramer, Via,
};

struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
    fn below(&mut self, n: usize) -> usize {
        if n == 0 {
            0
        } else {
            (self.next() % n as u64) as usize
        }
    }
}

const SPICE: &[&[u8]] = &[
    b";",
    b",",
    b"\"",
    b"<",
    b">",
    b"\r\n",
    b"\n",
    b"\r\n ",
    b":",
    b"@",
    b"[",
    b"]",
    b"%",
    b"\\",
    b"=",
    b"\0",
    b"\xff",
    b"\xc3",
    b" ",
    b"?",
    b"*",
    b"\r\n\r\n",
    b"Content-Length: 99999\r\n",
    b"l: 3\r\n",
    b";tag=",
    b"[::1]",
    b"Bearer ",
    b"Digest a=\"",
    b"sip:",
    b"SIP/2.0 ",
];

fn mutate(rng: &mut Rng, base: &[u8]) -> Vec<u8> {
    let mut v = base.to_vec();
    for _ in 0..=rng.below(3) {
        let at = rng.below(v.len() + 1);
        match rng.below(5) {
            0 if !v.is_empty() => {
                let i = rng.below(v.len());
                v[i] ^= 1 << rng.below(8);
            }
            1 => {
                let end = (at + rng.below(16)).min(v.len());
                v.drain(at..end);
            }
            2 => {
                let end = (at + rng.below(32)).min(v.len());
                let dup = v[at..end].to_vec();
                v.splice(at..at, dup);
            }
            _ => {
                let s = SPICE[rng.below(SPICE.len())];
                v.splice(at..at, s.iter().copied());
            }
        }
    }
    v
}

fn headers(h: &Headers) {
    if let Ok(vias) = h.vias() {
        for v in vias {
            assert_eq!(Via::parse(&v.to_string()).ok(), Some(v.clone()), "Via {v}");
        }
    }
    for na in [h.from(), h.to()].into_iter().flatten() {
        assert_eq!(
            NameAddr::parse(&na.to_string()).ok(),
            Some(na.clone()),
            "{na}"
        );
    }
    if let Ok(ContactList::List(l)) = h.contacts() {
        for c in l {
            assert_eq!(
                NameAddr::parse(&c.to_string()).ok().as_ref(),
                Some(&c.name_addr),
                "{c}"
            );
        }
    }
    let _ = (
        h.authorization(),
        h.proxy_authorization(),
        h.www_authenticate(),
        h.proxy_authenticate(),
    );
    let _ = (
        h.warnings(),
        h.retry_after(),
        h.supported(),
        h.route(),
        h.content_type(),
        h.date(),
    );
    let _ = (h.max_forwards(), h.expires());
}

fn message(m: &Message) {
    headers(&m.headers);
    if m.is_request() {
        let _ = validate_request(m).map_err(|e| e.response());
        let _ = TransactionKey::for_request(m);
        let _ = Message::response_to(m, 200, "OK").to_bytes();
    } else {
        let _ = TransactionKey::for_response(m);
    }
}

fn check(data: &[u8]) {
    match parse_message(data) {
        Ok(m) => {
            let again = parse_message(&m.to_bytes()).unwrap_or_else(|e| {
                panic!(
                    "printed message does not parse: {e}\n{:?}",
                    String::from_utf8_lossy(&m.to_bytes())
                )
            });
            assert_eq!(
                again,
                m,
                "round trip of {:?}",
                String::from_utf8_lossy(data)
            );
            message(&m);
        }
        Err(e) => {
            if let Some(r) = e.response() {
                parse_message(&r.to_bytes()).unwrap();
            }
            if let Some(h) = e.partial() {
                headers(h);
            }
        }
    }
    let step = data.first().map_or(1, |b| usize::from(*b % 32) + 1);
    let mut f = StreamFramer::new();
    'outer: for chunk in data.chunks(step) {
        f.push(chunk);
        loop {
            match f.next() {
                Ok(Some(m)) => message(&m),
                Ok(None) => break,
                Err(e) if e.is_fatal() => break 'outer,
                Err(_) => {}
            }
        }
    }
}

#[test]
fn mutated_corpus_never_panics_and_round_trips() {
    let mut inputs = Vec::new();
    for dir in ["torture", "torture/rfc5118-crlf", "cisco"] {
        let mut names: Vec<_> = std::fs::read_dir(common::data_path(dir))
            .unwrap()
            .map(|e| e.unwrap().path())
            .filter(|p| p.extension().is_some_and(|x| x == "dat" || x == "sip"))
            .collect();
        names.sort();
        inputs.extend(names.into_iter().map(|p| std::fs::read(p).unwrap()));
    }
    // SIP_MUTATION_SEED / SIP_MUTATIONS widen the search locally; CI keeps the defaults.
    let env = |k: &str, d: u64| {
        std::env::var(k)
            .ok()
            .and_then(|v| v.parse().ok())
            .unwrap_or(d)
    };
    let mut rng = Rng(env("SIP_MUTATION_SEED", 0x5eed_cafe_f00d_1234) | 1);
    let rounds = env("SIP_MUTATIONS", 100);
    for base in &inputs {
        check(base);
        for _ in 0..rounds {
            check(&mutate(&mut rng, base));
        }
    }
}
