//! The Via header (RFC 3261 §20.42, RFC 3581 `rport`, RFC 5118 IPv6 `received`).

use std::fmt;
use std::net::IpAddr;

use crate::error::{ParseError, ParseErrorKind};
use crate::headers::Headers;
use crate::host::{parse_host, parse_ip_lenient, parse_port, Host};
use crate::lex::{is_token, list_items, trim_lws, Cursor};
use crate::params::Params;

/// The transport of a Via (`sent-protocol`'s last token).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Transport {
    /// UDP.
    Udp,
    /// TCP.
    Tcp,
    /// TLS.
    Tls,
    /// SCTP.
    Sctp,
    /// WebSocket (RFC 7118).
    Ws,
    /// Secure WebSocket (RFC 7118).
    Wss,
    /// Any other token, as received.
    Other(String),
}

impl Transport {
    /// Parses a transport token, case-insensitively.
    pub fn from_token(t: &str) -> Transport {
        match t.to_ascii_uppercase().as_str() {
            "UDP" => Transport::Udp,
            "TCP" => Transport::Tcp,
            "TLS" => Transport::Tls,
            "SCTP" => Transport::Sctp,
            "WS" => Transport::Ws,
            "WSS" => Transport::Wss,
            _ => Transport::Other(t.to_string()),
        }
    }

    /// Whether the transport is reliable (everything but UDP; unknown ones count as
    /// unreliable).
    pub fn is_reliable(&self) -> bool {
        !matches!(self, Transport::Udp | Transport::Other(_))
    }
}

impl fmt::Display for Transport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Transport::Udp => "UDP",
            Transport::Tcp => "TCP",
            Transport::Tls => "TLS",
            Transport::Sctp => "SCTP",
            Transport::Ws => "WS",
            Transport::Wss => "WSS",
            Transport::Other(t) => t,
        })
    }
}

/// The `rport` parameter (RFC 3581).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Rport {
    /// `;rport` (the client asks for it).
    Requested,
    /// `;rport=5060` (filled in by the server).
    Port(u16),
}

/// One Via value.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Via {
    /// Protocol name (`SIP`).
    pub protocol: String,
    /// Protocol version (`2.0`).
    pub version: String,
    /// Transport.
    pub transport: Transport,
    /// sent-by host.
    pub host: Host,
    /// sent-by port.
    pub port: Option<u16>,
    /// Parameters (`branch`, `received`, `rport`, …), raw, in order.
    pub params: Params,
}

impl Via {
    /// The `branch` parameter.
    pub fn branch(&self) -> Option<&str> {
        self.params.get("branch")
    }

    /// The `received` address (with or without IPv6 brackets).
    pub fn received(&self) -> Option<IpAddr> {
        self.params.get("received").and_then(parse_ip_lenient)
    }

    /// The `rport` parameter.
    pub fn rport(&self) -> Option<Rport> {
        let p = self.params.find("rport")?;
        match p.value.as_deref() {
            None => Some(Rport::Requested),
            Some(v) => v.parse().ok().map(Rport::Port),
        }
    }

    /// Sets `received` (IPv6 without brackets, as RFC 3261's ABNF wants).
    pub fn set_received(&mut self, ip: IpAddr) {
        self.params.set("received", Some(&ip.to_string()));
    }

    /// Sets `rport=<port>`.
    pub fn set_rport(&mut self, port: u16) {
        self.params.set("rport", Some(&port.to_string()));
    }

    /// `host[:port]` of sent-by.
    pub fn sent_by(&self) -> String {
        match self.port {
            Some(p) => format!("{}:{p}", self.host),
            None => self.host.to_string(),
        }
    }

    /// Parses one Via value.
    pub fn parse(text: &str) -> Result<Via, ParseError> {
        parse_via(text).map_err(|d| ParseErrorKind::header("Via", d).into())
    }
}

impl fmt::Display for Via {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{}/{}/{} {}{}",
            self.protocol,
            self.version,
            self.transport,
            self.sent_by(),
            self.params
        )
    }
}

fn parse_via(text: &str) -> Result<Via, &'static str> {
    let mut c = Cursor::new(text);
    c.skip_lws();
    let protocol = c.token().ok_or("missing protocol name")?;
    if !c.eat_sep(b'/') {
        return Err("malformed sent-protocol");
    }
    let version = c.token().ok_or("missing protocol version")?;
    if !c.eat_sep(b'/') {
        return Err("malformed sent-protocol");
    }
    let transport = c.token().ok_or("missing transport")?;
    c.skip_lws();
    let host = parse_host(&mut c)?;
    let port = if c.eat_sep(b':') {
        Some(parse_port(&mut c)?)
    } else {
        None
    };
    let params = Params::parse_header_params(&mut c)?;
    if let Some(p) = params.find("branch") {
        if !p.value.as_deref().is_some_and(is_token) {
            return Err("branch is not a token");
        }
    }
    if let Some(p) = params.find("received") {
        if p.value.as_deref().and_then(parse_ip_lenient).is_none() {
            return Err("received is not an IP address");
        }
    }
    if let Some(v) = params.find("rport").and_then(|p| p.value.as_deref()) {
        if v.parse::<u16>().is_err() {
            return Err("rport is not a port number");
        }
    }
    Ok(Via {
        protocol: protocol.to_string(),
        version: version.to_string(),
        transport: Transport::from_token(transport),
        host,
        port,
        params,
    })
}

impl Headers {
    /// All Via values, topmost first (comma-separated values split). An empty element
    /// (`;,` or `,,`) is an error.
    pub fn vias(&self) -> Result<Vec<Via>, ParseError> {
        self.get_all("Via")
            .into_iter()
            .map(|v| parse_via(v).map_err(|d| ParseErrorKind::header("Via", d).into()))
            .collect()
    }

    /// Replaces the topmost Via value (e.g. after [`Via::set_received`] /
    /// [`Via::set_rport`], RFC 3261 §18.2.1, RFC 3581), keeping any other values that
    /// share its line. Does nothing when there is no Via.
    pub fn set_top_via(&mut self, via: &Via) {
        if let Some(line) = self.first_value_mut("Via") {
            let mut items = list_items(line);
            items.next();
            let mut value = via.to_string();
            if let Some(rest) = items.remainder() {
                value.push_str(", ");
                value.push_str(trim_lws(rest));
            }
            *line = value;
        }
    }

    /// RFC 3261 §18.2.1 and RFC 3581 on the topmost Via, edited in its text (no re-printing:
    /// this is on every request's path): `;received=<ip>` appended when `received` is given,
    /// a bare `rport` given the value `rport`. Returns false, changing nothing, when the
    /// topmost Via already holds a `received` (with `received` given) or an `rport` with a
    /// value (with `rport` given): then use [`Via::set_received`] / [`Via::set_rport`] and
    /// [`Headers::set_top_via`].
    pub fn stamp_top_via(&mut self, received: Option<IpAddr>, rport: Option<u16>) -> bool {
        let Some(line) = self.first_value_mut("Via") else {
            return false;
        };
        let Some(top) = list_items(line).next() else {
            return false;
        };
        let start = top.as_ptr() as usize - line.as_ptr() as usize;
        let end = start + top.len();
        // (offset of the end of a bare `rport` name, or None)
        let mut bare_rport_at = None;
        let bytes = line.as_bytes();
        let mut i = start;
        let mut in_quotes = false;
        let mut param_start = None;
        while i <= end {
            let b = if i < end { bytes[i] } else { b';' };
            if in_quotes {
                match b {
                    b'\\' => i += 1,
                    b'"' => in_quotes = false,
                    _ => {}
                }
            } else if b == b'"' {
                in_quotes = true;
            } else if b == b';' {
                if let Some(from) = param_start {
                    let param = &line[from..i];
                    let (name, valued) = match param.split_once('=') {
                        Some((n, _)) => (n, true),
                        None => (param, false),
                    };
                    let name_trimmed = trim_lws(name);
                    if name_trimmed.eq_ignore_ascii_case("rport") && rport.is_some() {
                        if valued {
                            return false;
                        }
                        let name_end = name.as_ptr() as usize - line.as_ptr() as usize
                            + name.trim_end_matches([' ', '\t']).len();
                        bare_rport_at = Some(name_end);
                    }
                    if name_trimmed.eq_ignore_ascii_case("received") && received.is_some() {
                        return false;
                    }
                }
                param_start = Some(i + 1);
            }
            i += 1;
        }
        let mut edited = String::with_capacity(line.len() + 48);
        match (bare_rport_at, rport) {
            (Some(at), Some(port)) => {
                edited.push_str(&line[..at]);
                edited.push('=');
                edited.push_str(&port.to_string());
                edited.push_str(&line[at..end]);
            }
            _ => edited.push_str(&line[..end]),
        }
        if let Some(ip) = received {
            edited.push_str(";received=");
            edited.push_str(&ip.to_string());
        }
        edited.push_str(&line[end..]);
        *line = edited;
        true
    }

    /// The topmost Via.
    pub fn top_via(&self) -> Result<Via, ParseError> {
        let top = self
            .get("Via")
            .ok_or_else(|| ParseError::from(ParseErrorKind::MissingHeader("Via")))?;
        parse_via(top).map_err(|d| ParseErrorKind::header("Via", d).into())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The text edit gives what parsing, setting and re-printing gives.
    #[test]
    fn stamping_in_text_matches_reprinting() {
        let ip: IpAddr = "192.0.2.7".parse().unwrap();
        let v6: IpAddr = "2001:db8::9".parse().unwrap();
        let cases: &[(&str, Option<IpAddr>, Option<u16>)] = &[
            (
                "SIP/2.0/TCP 127.0.0.1:5060;branch=z9hG4bK1;rport",
                None,
                Some(40000),
            ),
            (
                "SIP/2.0/TCP 127.0.0.1:5060;rport;branch=z9hG4bK1",
                Some(ip),
                Some(40000),
            ),
            (
                "SIP/2.0/UDP host.example.com;branch=z9hG4bK1",
                Some(v6),
                None,
            ),
            (
                "SIP/2.0/TLS [2001:db8::1]:5061 ; rport ; branch=z9hG4bK1",
                Some(ip),
                Some(1),
            ),
            (
                "SIP/2.0/UDP h;x=\"a;rport\";rport, SIP/2.0/UDP other;branch=z9hG4bK2",
                Some(ip),
                Some(9),
            ),
        ];
        for (value, received, rport) in cases {
            let mut fast = Headers::new();
            fast.push("Via", value);
            fast.push("Via", "SIP/2.0/UDP second;branch=z9hG4bK3");
            assert!(fast.stamp_top_via(*received, *rport), "{value}");
            let mut slow = Headers::new();
            slow.push("Via", value);
            slow.push("Via", "SIP/2.0/UDP second;branch=z9hG4bK3");
            let mut top = slow.top_via().unwrap();
            if let Some(ip) = received {
                top.set_received(*ip);
            }
            if let Some(port) = rport {
                top.set_rport(*port);
            }
            slow.set_top_via(&top);
            assert_eq!(fast.vias().unwrap(), slow.vias().unwrap(), "{value}");
        }
        // Declined (nothing changed) when the values are there already.
        let mut h = Headers::new();
        h.push("Via", "SIP/2.0/UDP h;rport=5;received=192.0.2.1");
        assert!(!h.stamp_top_via(None, Some(6)));
        assert!(!h.stamp_top_via(Some(ip), None));
        assert_eq!(
            h.get("Via"),
            Some("SIP/2.0/UDP h;rport=5;received=192.0.2.1")
        );
    }

    fn via(t: &str) -> Via {
        parse_via(t).unwrap_or_else(|e| panic!("{t}: {e}"))
    }

    #[test]
    fn lws_everywhere() {
        let v = via("SIP  /   2.0 /UDP 192.0.2.2;branch=390skdjuw");
        assert_eq!(v.transport, Transport::Udp);
        assert_eq!(v.branch(), Some("390skdjuw"));
        let v = via("SIP  / 2.0  / TCP     spindle.example.com   ;  branch  =   z9hG4bK9ikj8");
        assert_eq!(v.host, Host::Domain("spindle.example.com".into()));
        assert_eq!(
            v.to_string(),
            "SIP/2.0/TCP spindle.example.com;branch=z9hG4bK9ikj8"
        );
        assert_eq!(via(&v.to_string()), v);
    }

    #[test]
    fn ipv6_and_rport() {
        let v = via("SIP/2.0/UDP [2001:db8::9:1];received=[2001:db8::9:255];branch=z9hG4bKas3-111");
        assert_eq!(v.received(), Some("2001:db8::9:255".parse().unwrap()));
        let v = via("SIP/2.0/UDP [::ffff:192.0.2.10]:19823;branch=z9hG4bKbh19");
        assert_eq!(v.port, Some(19823));
        let mut v = via("SIP/2.0/UDP 192.168.80.11:50952;rport;branch=z9hG4bKPj7");
        assert_eq!(v.rport(), Some(Rport::Requested));
        v.set_rport(50952);
        v.set_received("10.0.0.1".parse().unwrap());
        assert_eq!(
            v.to_string(),
            "SIP/2.0/UDP 192.168.80.11:50952;rport=50952;branch=z9hG4bKPj7;received=10.0.0.1"
        );
        assert_eq!(
            via("SIP/7.0/UDP c.example.com;branch=z9hG4bKkdjuw").version,
            "7.0"
        );
    }

    #[test]
    fn set_top_via_keeps_the_others() {
        let mut h = Headers::new();
        h.push(
            "v",
            "SIP/2.0/UDP a:5060;rport;branch=z9hG4bK1 , SIP/2.0/UDP b;branch=z9hG4bK2",
        );
        h.push("Via", "SIP/2.0/UDP c;branch=z9hG4bK3");
        let mut top = h.top_via().unwrap();
        top.set_received("192.0.2.7".parse().unwrap());
        top.set_rport(40000);
        h.set_top_via(&top);
        let vias = h.vias().unwrap();
        assert_eq!(vias.len(), 3);
        assert_eq!(vias[0].rport(), Some(Rport::Port(40000)));
        assert_eq!(vias[0].received(), Some("192.0.2.7".parse().unwrap()));
        assert_eq!(vias[1].branch(), Some("z9hG4bK2"));
    }

    #[test]
    fn rejects() {
        for t in [
            "SIP/2.0/UDP 192.0.2.15;;",
            "SIP/2.0/UDP 192.0.2.15;branch=",
            "SIP/2.0/UDP",
            "SIP/2.0 host",
            "SIP/2.0/UDP host:port",
            "SIP/2.0/UDP host;received=example.com",
            "SIP/2.0/UDP host;rport=99999",
            "SIP/2.0/UDP 2001:db8::1",
            "",
        ] {
            assert!(parse_via(t).is_err(), "{t:?}");
        }
    }
}
