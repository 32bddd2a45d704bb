//! Sans-IO pieces of the back-to-back user agent: the node's side of one established dialog
//! (what it puts in the requests it sends there), the headers relayed between the two legs,
//! and the SDP it reads (hold: direction attributes, `c=` 0.0.0.0) or rewrites (hold and
//! retrieve driven by the node: direction and session version). Nothing here does I/O.

use switchboard_sip_proto::{Message, Method, Uri};

use super::Route;

/// Header fields copied from a request received on one leg to the request sent on the other
/// (session timers, extensions, INFO packages, subscription state of NOTIFY).
pub const PASS_REQUEST: &[&str] = &[
    "Supported",
    "Require",
    "Session-Expires",
    "Min-SE",
    "Content-Disposition",
    "Info-Package",
    "Recv-Info",
    "Event",
    "Subscription-State",
    "Accept",
];

/// Header fields copied from a response received on one leg to the response sent on the
/// other.
pub const PASS_RESPONSE: &[&str] = &[
    "Supported",
    "Require",
    "Session-Expires",
    "Min-SE",
    "Unsupported",
    "Retry-After",
    "Accept",
    "Recv-Info",
];

/// Copies every line of the header fields `names` of `from` into `to`.
pub fn copy_headers(to: &mut Message, from: &Message, names: &[&str]) {
    for name in names {
        for v in from.headers.get_all(name) {
            to.headers.push(name, v);
        }
    }
}

/// The node's side of one established dialog with a party.
#[derive(Debug, Clone)]
pub struct Dialog {
    pub route: Route,
    pub call_id: String,
    /// The From of the node's requests (with the node's tag).
    pub local: String,
    /// The To of the node's requests (with the party's tag).
    pub remote: String,
    /// The party's Contact: the Request-URI of in-dialog requests.
    pub target: Uri,
    /// The node's last CSeq on this dialog.
    pub cseq: u32,
    /// The node's Contact on this dialog.
    pub contact: String,
    /// The last CSeq number the party used (in-dialog requests must increase it).
    pub remote_cseq: Option<u32>,
    /// The server transaction of a re-INVITE received on this dialog, until its ACK.
    pub reinvite: Option<String>,
    /// The ACK owed to the other leg (toward it, without its body yet) once this party
    /// acknowledges an offerless re-INVITE's 2xx: the answer travels in that ACK.
    pub deferred_ack: Option<(Route, Message)>,
    /// An INVITE transaction (either way) is in progress on this dialog.
    pub invite_pending: bool,
    /// The last session description the node sent on this dialog (type, body).
    pub local_sdp: Option<(String, Vec<u8>)>,
}

impl Dialog {
    /// A new request of the node in this dialog (the next CSeq; an ACK takes `ack_of`, the
    /// CSeq number of its INVITE), with `via` as its Via.
    pub fn request(&mut self, method: Method, via: &str, ack_of: Option<u32>) -> Message {
        let seq = match ack_of {
            Some(n) => n,
            None => {
                self.cseq = self.cseq.saturating_add(1);
                self.cseq
            }
        };
        let mut m = Message::request(method.clone(), self.target.clone())
            .with_header("Via", via)
            .with_header("Max-Forwards", "70")
            .with_header("From", &self.local)
            .with_header("To", &self.remote)
            .with_header("Call-ID", &self.call_id)
            .with_header("CSeq", &format!("{seq} {}", method.as_str()));
        if matches!(method, Method::Invite | Method::Update | Method::Refer) {
            m = m.with_header("Contact", &self.contact);
        }
        m
    }

    /// Records the session description of a message the node sends on this dialog.
    pub fn note_sent(&mut self, m: &Message) {
        if let Some(sdp) = sdp_of(m) {
            self.local_sdp = Some(sdp);
        }
    }
}

/// The ACK for a 2xx to `invite` (a request the node sent), To from the 2xx.
pub fn ack_for_2xx(invite: &Message, resp: &Message, via: &str) -> Option<Message> {
    let uri = invite.uri()?.clone();
    let seq = invite.headers.cseq().ok()?.seq;
    Some(
        Message::request(Method::Ack, uri)
            .with_header("Via", via)
            .with_header("Max-Forwards", "70")
            .with_header("From", invite.headers.get("From").unwrap_or(""))
            .with_header("To", resp.headers.get("To").unwrap_or(""))
            .with_header("Call-ID", invite.headers.get("Call-ID").unwrap_or(""))
            .with_header("CSeq", &format!("{seq} ACK")),
    )
}

/// The session description of a message (`application/sdp` body), as (type, bytes).
pub fn sdp_of(m: &Message) -> Option<(String, Vec<u8>)> {
    let ct = m.headers.get("Content-Type")?;
    if m.body.is_empty()
        || !ct
            .trim()
            .to_ascii_lowercase()
            .starts_with("application/sdp")
    {
        return None;
    }
    Some((ct.to_string(), m.body.clone()))
}

/// Whether an SDP offer puts the other side on hold (RFC 3264 §8.4: every media stream
/// `a=sendonly` or `a=inactive`, or the RFC 2543 `c=` 0.0.0.0), `None` when the body is not
/// a session description.
pub fn sdp_holds(body: &[u8]) -> Option<bool> {
    let text = std::str::from_utf8(body).ok()?;
    if !text.trim_start().starts_with("v=") {
        return None;
    }
    let mut session_dir: Option<&str> = None;
    let mut media_dirs: Vec<Option<&str>> = Vec::new();
    let mut zero_c = false;
    for line in text.lines().map(str::trim_end) {
        if line.starts_with("m=") {
            media_dirs.push(None);
        } else if let Some(a) = line.strip_prefix("a=") {
            if matches!(a, "sendrecv" | "sendonly" | "recvonly" | "inactive") {
                match media_dirs.last_mut() {
                    Some(d) => *d = Some(a),
                    None => session_dir = Some(a),
                }
            }
        } else if let Some(c) = line.strip_prefix("c=") {
            if c.split_whitespace().nth(2) == Some("0.0.0.0") {
                zero_c = true;
            }
        }
    }
    if zero_c {
        return Some(true);
    }
    let holding = |d: Option<&str>| matches!(d, Some("sendonly" | "inactive"));
    if media_dirs.is_empty() {
        return Some(holding(session_dir));
    }
    Some(media_dirs.iter().all(|d| holding(d.or(session_dir))))
}

/// `body` (an SDP) with every media stream's direction set to `direction` and the origin's
/// session version (`o=` fifth field) incremented (RFC 3264 §8).
pub fn with_direction(body: &[u8], direction: &str) -> Vec<u8> {
    let text = String::from_utf8_lossy(body);
    let mut out = String::with_capacity(text.len() + 32);
    for line in text.lines() {
        let l = line.trim_end();
        if l.is_empty() {
            continue;
        }
        if matches!(l, "a=sendrecv" | "a=sendonly" | "a=recvonly" | "a=inactive") {
            continue;
        }
        if let Some(o) = l.strip_prefix("o=") {
            let mut f: Vec<String> = o.split(' ').map(str::to_string).collect();
            if let Some(v) = f.get_mut(2) {
                if let Ok(n) = v.parse::<u64>() {
                    *v = n.saturating_add(1).to_string();
                }
            }
            out.push_str("o=");
            out.push_str(&f.join(" "));
            out.push_str("\r\n");
            continue;
        }
        if l.starts_with("m=") {
            out.push_str(l);
            out.push_str("\r\n");
            out.push_str(&format!("a={direction}\r\n"));
            continue;
        }
        out.push_str(l);
        out.push_str("\r\n");
    }
    out.into_bytes()
}

/// The session interval a message negotiates (RFC 4028 `Session-Expires: 1800;refresher=uac`),
/// in seconds, within 1..=86400.
pub fn session_interval(m: &Message) -> Option<u64> {
    let v = m.headers.get("Session-Expires")?;
    let n: u64 = v.split(';').next()?.trim().parse().ok()?;
    (1..=86_400).contains(&n).then_some(n)
}

/// The body of a SIP INFO carrying one DTMF digit (`application/dtmf-relay`).
pub fn dtmf_relay_body(digit: char) -> String {
    format!("Signal={}\r\nDuration=160\r\n", digit.to_ascii_uppercase())
}

#[cfg(test)]
mod tests {
    use super::*;

    const SDP: &str = "v=0\r\no=alice 10 20 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\nm=audio 6000 RTP/AVP 0\r\na=rtpmap:0 PCMU/8000\r\n";

    #[test]
    fn hold_is_read_from_direction_and_zero_connection_address() {
        assert_eq!(sdp_holds(SDP.as_bytes()), Some(false));
        let held = with_direction(SDP.as_bytes(), "sendonly");
        assert_eq!(sdp_holds(&held), Some(true));
        assert_eq!(
            sdp_holds(&with_direction(SDP.as_bytes(), "inactive")),
            Some(true)
        );
        assert_eq!(sdp_holds(&with_direction(&held, "sendrecv")), Some(false));
        let zero = SDP.replace("c=IN IP4 127.0.0.1", "c=IN IP4 0.0.0.0");
        assert_eq!(sdp_holds(zero.as_bytes()), Some(true));
        let session_level = SDP.replace("t=0 0\r\n", "t=0 0\r\na=sendonly\r\n");
        assert_eq!(sdp_holds(session_level.as_bytes()), Some(true));
        assert_eq!(sdp_holds(b"not sdp"), None);
        assert_eq!(sdp_holds(&[0xff, 0xfe]), None);
    }

    #[test]
    fn direction_rewrite_bumps_the_session_version() {
        let held = String::from_utf8(with_direction(SDP.as_bytes(), "sendonly")).unwrap();
        assert!(held.contains("o=alice 10 21 IN IP4"), "{held}");
        assert!(
            held.contains("m=audio 6000 RTP/AVP 0\r\na=sendonly\r\n"),
            "{held}"
        );
        let back = String::from_utf8(with_direction(held.as_bytes(), "sendrecv")).unwrap();
        assert!(back.contains("o=alice 10 22 IN IP4"), "{back}");
        assert!(!back.contains("sendonly"), "{back}");
        assert_eq!(back.matches("a=sendrecv").count(), 1);
    }

    #[test]
    fn session_interval_is_bounded() {
        let m = |v: &str| Message::response(200, "OK").with_header("Session-Expires", v);
        assert_eq!(session_interval(&m("1800;refresher=uac")), Some(1800));
        assert_eq!(session_interval(&m("90")), Some(90));
        assert_eq!(session_interval(&m("0")), None);
        assert_eq!(session_interval(&m("99999999999999999999")), None);
        assert_eq!(session_interval(&m("abc")), None);
    }
}

/// What a REFER's `Refer-To` asks for (RFC 3515; RFC 3891 `Replaces` for attended transfer).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReferTo {
    /// The user part of the target URI (a directory number).
    pub user: String,
    /// The dialog to replace (`Replaces=<call-id>;to-tag=…;from-tag=…`): its Call-ID.
    pub replaces: Option<String>,
}

/// Parses a `Refer-To` value: `<sip:1003@host>` or
/// `<sip:1003@host?Replaces=call%40host%3Bto-tag%3Da%3Bfrom-tag%3Db>`.
pub fn parse_refer_to(value: &str) -> Option<ReferTo> {
    let v = value.trim();
    let inner = match (v.find('<'), v.rfind('>')) {
        (Some(a), Some(b)) if a < b => &v[a + 1..b],
        _ => v.split(';').next()?,
    };
    let (uri, headers) = match inner.split_once('?') {
        Some((u, h)) => (u, Some(h)),
        None => (inner, None),
    };
    let user = match Uri::parse(uri).ok()? {
        Uri::Sip(s) => s.user?,
        Uri::Tel(t) => t.number,
        Uri::Other(_) => return None,
    };
    if user.is_empty() || user.len() > 64 {
        return None;
    }
    let replaces = headers.and_then(|h| {
        h.split('&').find_map(|kv| {
            let (k, v) = kv.split_once('=')?;
            if !k.eq_ignore_ascii_case("Replaces") {
                return None;
            }
            let decoded = switchboard_sip_proto::percent_decode(v);
            let text = String::from_utf8(decoded).ok()?;
            let call_id = text.split(';').next()?.trim().to_string();
            (!call_id.is_empty()).then_some(call_id)
        })
    });
    Some(ReferTo { user, replaces })
}

#[cfg(test)]
mod refer_tests {
    use super::*;

    #[test]
    fn refer_to_names_a_number_and_maybe_a_dialog_to_replace() {
        assert_eq!(
            parse_refer_to("<sip:1003@127.0.0.1:5060>"),
            Some(ReferTo {
                user: "1003".into(),
                replaces: None
            })
        );
        assert_eq!(
            parse_refer_to(
                "<sip:1003@127.0.0.1?Replaces=abc%40host%3Bto-tag%3D1%3Bfrom-tag%3D2>;x=y"
            ),
            Some(ReferTo {
                user: "1003".into(),
                replaces: Some("abc@host".into())
            })
        );
        assert_eq!(
            parse_refer_to("sip:1003@h"),
            Some(ReferTo {
                user: "1003".into(),
                replaces: None
            })
        );
        for bad in [
            "",
            "<>",
            "<sip:h>",
            "<http://x/>",
            "<sip:1003@h?Replaces=%3Bto-tag%3D1>",
        ] {
            let r = parse_refer_to(bad);
            assert!(
                r.is_none() || r.as_ref().is_some_and(|r| r.replaces.is_none()),
                "{bad}: {r:?}"
            );
        }
    }
}
