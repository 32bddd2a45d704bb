//! Test helpers: a compact text dump of a parsed message (for golden files) and file
//! access to `test_data/`.

#![allow(dead_code)]

use std::fmt::Write as _;
use std::path::PathBuf;

use sha2::{Digest, Sha256};
use switchboard_sip_proto::{
    parse_message, validate_request, ContactList, Headers, Host, Message, NameAddr, ParseError,
    StartLine, Uri, Via,
};

/// `crates/sip-proto/test_data/<rel>`.
pub fn data_path(rel: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("test_data")
        .join(rel)
}

/// Reads `test_data/<rel>`.
pub fn read(rel: &str) -> Vec<u8> {
    std::fs::read(data_path(rel)).unwrap_or_else(|e| panic!("{rel}: {e}"))
}

/// Compares `actual` with the golden file `test_data/<rel>`, or rewrites it when
/// `UPDATE_GOLDEN=1`.
pub fn golden(rel: &str, actual: &str) {
    let path = data_path(rel);
    if std::env::var("UPDATE_GOLDEN").is_ok_and(|v| v == "1") {
        std::fs::write(&path, actual).unwrap();
        return;
    }
    let expected = std::fs::read_to_string(&path)
        .unwrap_or_else(|e| panic!("{rel}: {e} (run with UPDATE_GOLDEN=1 to create it)"));
    assert!(
        expected == actual,
        "golden file {rel} differs (UPDATE_GOLDEN=1 rewrites it)\n--- expected\n{expected}\n--- actual\n{actual}"
    );
}

fn esc(s: &str) -> String {
    format!("{s:?}")
}

pub fn uri(u: &Uri) -> String {
    match u {
        Uri::Sip(s) => {
            let mut o = format!("{} ", if s.secure { "sips" } else { "sip" });
            if let Some(user) = &s.user {
                let _ = write!(o, "user={} ", esc(user));
                if s.user_unescaped().as_deref() != Some(user.as_str()) {
                    let _ = write!(
                        o,
                        "(unescaped {}) ",
                        esc(&s.user_unescaped().unwrap_or_default())
                    );
                }
            }
            if let Some(p) = &s.password {
                let _ = write!(o, "password={} ", esc(p));
            }
            let _ = write!(o, "host={}", host(&s.host));
            if let Some(p) = s.port {
                let _ = write!(o, " port={p}");
            }
            if !s.params.is_empty() {
                let _ = write!(o, " params={}", esc(&s.params.to_string()));
            }
            if !s.headers.is_empty() {
                let _ = write!(o, " headers={:?}", s.headers);
            }
            o
        }
        Uri::Tel(t) => format!(
            "tel number={} params={}",
            esc(&t.number),
            esc(&t.params.to_string())
        ),
        Uri::Other(a) => format!("other scheme={} rest={}", esc(&a.scheme), esc(&a.rest)),
    }
}

pub fn host(h: &Host) -> String {
    match h {
        Host::Domain(d) => format!("domain:{d}"),
        Host::Ipv4(a) => format!("ipv4:{a}"),
        Host::Ipv6(a) => format!("ipv6:{a}"),
    }
}

pub fn name_addr(n: &NameAddr) -> String {
    let mut o = String::new();
    if let Some(d) = &n.display_name {
        let _ = write!(o, "display={} ", esc(d));
    }
    let _ = write!(o, "uri=[{}]", uri(&n.uri));
    if !n.params.is_empty() {
        let _ = write!(o, " params={}", esc(&n.params.to_string()));
    }
    o
}

pub fn via(v: &Via) -> String {
    let mut o = format!(
        "{}/{}/{} host={}",
        v.protocol,
        v.version,
        v.transport,
        host(&v.host)
    );
    if let Some(p) = v.port {
        let _ = write!(o, " port={p}");
    }
    if let Some(b) = v.branch() {
        let _ = write!(o, " branch={}", esc(b));
    }
    if let Some(r) = v.received() {
        let _ = write!(o, " received={r}");
    }
    if let Some(r) = v.rport() {
        let _ = write!(o, " rport={r:?}");
    }
    let _ = write!(o, " params={}", esc(&v.params.to_string()));
    o
}

fn res<T>(r: Result<T, ParseError>, f: impl FnOnce(T) -> String) -> String {
    match r {
        Ok(v) => f(v),
        Err(e) => format!("ERROR {e}"),
    }
}

/// The typed view of the headers: every accessor whose header is present.
pub fn typed(h: &Headers, out: &mut String) {
    let mut line = |k: &str, v: String| {
        let _ = writeln!(out, "{k}: {v}");
    };
    match h.vias() {
        Ok(vs) => {
            for (i, v) in vs.iter().enumerate() {
                line(&format!("via[{i}]"), via(v));
            }
        }
        Err(e) => line("via", format!("ERROR {e}")),
    }
    if h.contains("From") {
        line("from", res(h.from(), |n| name_addr(&n)));
    }
    if h.contains("To") {
        line("to", res(h.to(), |n| name_addr(&n)));
    }
    if h.contains("Call-ID") {
        line("call-id", res(h.call_id(), esc));
    }
    if h.contains("CSeq") {
        line("cseq", res(h.cseq(), |c| c.to_string()));
    }
    if h.contains("Max-Forwards") {
        line("max-forwards", res(h.max_forwards(), |m| format!("{m:?}")));
    }
    if h.contains("Contact") {
        match h.contacts() {
            Ok(ContactList::Star) => line("contact", "*".into()),
            Ok(ContactList::List(l)) => {
                for (i, c) in l.iter().enumerate() {
                    let mut s = name_addr(&c.name_addr);
                    for (k, v) in [
                        ("expires", c.expires.map(|e| e.to_string())),
                        ("q", c.q.map(|q| q.to_string())),
                        ("instance", c.instance.clone()),
                        ("device", c.device_name.clone()),
                        ("model", c.model.clone()),
                        ("user-id", c.user_id.clone()),
                        ("reg-id", c.reg_id.map(|r| r.to_string())),
                    ] {
                        if let Some(v) = v {
                            let _ = write!(s, " {k}={}", esc(&v));
                        }
                    }
                    line(&format!("contact[{i}]"), s);
                }
            }
            Err(e) => line("contact", format!("ERROR {e}")),
        }
    }
    if h.contains("Expires") {
        line("expires", res(h.expires(), |e| format!("{e:?}")));
    }
    for (name, r) in [
        (
            "authorization",
            h.credentials("Authorization").map(|v| format!("{v:?}")),
        ),
        (
            "proxy-authorization",
            h.credentials("Proxy-Authorization")
                .map(|v| format!("{v:?}")),
        ),
        (
            "www-authenticate",
            h.challenges("WWW-Authenticate").map(|v| format!("{v:?}")),
        ),
        (
            "proxy-authenticate",
            h.challenges("Proxy-Authenticate").map(|v| format!("{v:?}")),
        ),
    ] {
        if h.contains(name) {
            line(name, res(r, |s| s));
        }
    }
    if h.contains("Warning") {
        line("warning", res(h.warnings(), |w| format!("{w:?}")));
    }
    if h.contains("Retry-After") {
        line("retry-after", res(h.retry_after(), |r| format!("{r:?}")));
    }
    for (name, r) in [
        ("supported", h.supported()),
        ("require", h.require()),
        ("proxy-require", h.proxy_require()),
        ("unsupported", h.unsupported()),
    ] {
        if h.contains(name) {
            line(name, res(r, |t| format!("{t:?}")));
        }
    }
    for (name, r) in [
        ("route", h.route()),
        ("record-route", h.record_route()),
        ("path", h.path()),
    ] {
        if h.contains(name) {
            line(
                name,
                res(r, |l| {
                    l.iter().map(name_addr).collect::<Vec<_>>().join(" | ")
                }),
            );
        }
    }
    if h.contains("Content-Type") {
        line(
            "content-type",
            res(h.content_type(), |m| {
                format!("{:?}", m.map(|m| m.to_string()))
            }),
        );
    }
    if h.contains("Date") {
        line(
            "date",
            res(h.date(), |d| format!("{:?}", d.map(|d| d.to_string()))),
        );
    }
}

/// The full dump of a message.
pub fn dump_message(m: &Message) -> String {
    let mut o = String::new();
    match &m.start {
        StartLine::Request {
            method,
            uri: u,
            version,
        } => {
            let _ = writeln!(
                o,
                "request: method={} version={version}",
                esc(method.as_str())
            );
            let _ = writeln!(o, "request-uri: {}", uri(u));
        }
        StartLine::Response {
            code,
            reason,
            version,
        } => {
            let _ = writeln!(o, "response: {version} {code} reason={}", esc(reason));
        }
    }
    for h in m.headers.iter() {
        let _ = writeln!(o, "header {}: {}", h.name(), esc(h.value()));
    }
    typed(&m.headers, &mut o);
    let hash = hex::encode(Sha256::digest(&m.body));
    let _ = writeln!(
        o,
        "body: {} bytes sha256={}",
        m.body.len(),
        hash.get(..16).unwrap_or("")
    );
    if m.is_request() {
        match validate_request(m) {
            Ok(()) => o.push_str("validate: ok\n"),
            Err(e) => {
                let _ = writeln!(o, "validate: {} {e}", e.status_code());
            }
        }
    }
    o
}

/// Dump of `parse_message(bytes)`, success or error.
pub fn dump_parse(bytes: &[u8]) -> String {
    match parse_message(bytes) {
        Ok(m) => dump_message(&m),
        Err(e) => {
            let mut o = format!(
                "parse error: {e}\nstatus: {} can_respond: {}\n",
                e.status_code(),
                e.can_respond()
            );
            if let Some(h) = e.partial() {
                let _ = writeln!(o, "partial: {} header lines", h.len());
                typed(h, &mut o);
            }
            o
        }
    }
}
