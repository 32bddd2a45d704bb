//! `Host` (domain name, IPv4 address or bracketed IPv6 reference) as found in SIP URIs
//! and Via sent-by, with RFC 5118 IPv6 rules.

use std::fmt;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use crate::lex::Cursor;

/// The host part of a SIP URI or Via.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Host {
    /// A host name, as received (compare case-insensitively).
    Domain(String),
    /// A dotted-quad IPv4 address.
    Ipv4(Ipv4Addr),
    /// An IPv6 address; printed as a bracketed reference `[…]`.
    Ipv6(Ipv6Addr),
}

impl Host {
    /// The address, for IP literals.
    pub fn ip(&self) -> Option<IpAddr> {
        match self {
            Host::Domain(_) => None,
            Host::Ipv4(a) => Some(IpAddr::V4(*a)),
            Host::Ipv6(a) => Some(IpAddr::V6(*a)),
        }
    }

    /// RFC 3261 §19.1.4 host comparison: domain names case-insensitively, addresses by value.
    pub fn matches(&self, other: &Host) -> bool {
        match (self, other) {
            (Host::Domain(a), Host::Domain(b)) => a.eq_ignore_ascii_case(b),
            _ => self == other,
        }
    }

    /// Parses a whole host text (`example.com`, `192.0.2.1`, `[2001:db8::1]`).
    pub fn parse(text: &str) -> Result<Host, &'static str> {
        let mut c = Cursor::new(text);
        let h = parse_host(&mut c)?;
        if c.is_empty() {
            Ok(h)
        } else {
            Err("unexpected characters after host")
        }
    }
}

impl From<IpAddr> for Host {
    fn from(ip: IpAddr) -> Self {
        match ip {
            IpAddr::V4(a) => Host::Ipv4(a),
            IpAddr::V6(a) => Host::Ipv6(a),
        }
    }
}

impl fmt::Display for Host {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Host::Domain(d) => f.write_str(d),
            Host::Ipv4(a) => write!(f, "{a}"),
            Host::Ipv6(a) => write!(f, "[{a}]"),
        }
    }
}

fn is_host_byte(b: u8) -> bool {
    b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_')
}

/// Parses an IPv6 address text (no brackets). RFC 5118 §4.10: the extra colon that the
/// RFC 3261 ABNF allowed (`2001:db8:::192.0.2.1`) is tolerated.
pub(crate) fn parse_ipv6(text: &str) -> Option<Ipv6Addr> {
    text.parse()
        .ok()
        .or_else(|| text.replacen(":::", "::", 1).parse().ok())
}

/// Parses an IP address with or without IPv6 brackets (Via `received=` per RFC 5118 §4.5).
pub(crate) fn parse_ip_lenient(text: &str) -> Option<IpAddr> {
    if let Some(inner) = text.strip_prefix('[').and_then(|t| t.strip_suffix(']')) {
        return parse_ipv6(inner).map(IpAddr::V6);
    }
    if let Ok(a) = text.parse::<Ipv4Addr>() {
        return Some(IpAddr::V4(a));
    }
    parse_ipv6(text).map(IpAddr::V6)
}

/// Reads a host at the cursor: `[IPv6]`, an IPv4 address or a host name. An IPv6 address
/// without brackets is not a host (RFC 5118 §4.2): its first colon ends the host.
pub(crate) fn parse_host(c: &mut Cursor<'_>) -> Result<Host, &'static str> {
    if c.eat(b'[') {
        let inner = c.take_while(|b| b != b']');
        if !c.eat(b']') {
            return Err("IPv6 reference without closing ']'");
        }
        return parse_ipv6(inner)
            .map(Host::Ipv6)
            .ok_or("malformed IPv6 reference");
    }
    let text = c.take_while(is_host_byte);
    if text.is_empty() {
        return Err("missing host");
    }
    if let Ok(a) = text.parse::<Ipv4Addr>() {
        return Ok(Host::Ipv4(a));
    }
    if text.starts_with('.') || text.starts_with('-') || text.contains("..") {
        return Err("malformed host name");
    }
    Ok(Host::Domain(text.to_string()))
}

/// Reads `1*DIGIT` as a port number.
pub(crate) fn parse_port(c: &mut Cursor<'_>) -> Result<u16, &'static str> {
    let digits = c.take_while(|b| b.is_ascii_digit());
    if digits.is_empty() {
        return Err("port is not a number");
    }
    digits.parse().map_err(|_| "port out of range")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ipv6_forms() {
        assert_eq!(
            Host::parse("[2001:db8::10]").unwrap().to_string(),
            "[2001:db8::10]"
        );
        assert_eq!(
            Host::parse("[2001:db8:::192.0.2.1]").unwrap(),
            Host::parse("[2001:db8::192.0.2.1]").unwrap()
        );
        assert!(Host::parse("[2001:db8::10").is_err());
        assert!(Host::parse("2001:db8::10").is_err());
        assert!(Host::parse("[::ffff:192.0.2.10]").unwrap().ip().is_some());
    }

    #[test]
    fn names_and_v4() {
        assert_eq!(
            Host::parse("127.0.0.1").unwrap(),
            Host::Ipv4(Ipv4Addr::LOCALHOST)
        );
        assert!(Host::parse("UCM2-PUB")
            .unwrap()
            .matches(&Host::parse("ucm2-pub").unwrap()));
        assert!(Host::parse("a..b").is_err());
        assert!(Host::parse("").is_err());
    }

    #[test]
    fn lenient_received() {
        assert!(parse_ip_lenient("[2001:db8::9:255]").is_some());
        assert!(parse_ip_lenient("2001:db8::9:255").is_some());
        assert!(parse_ip_lenient("192.0.2.1").is_some());
        assert!(parse_ip_lenient("example.com").is_none());
    }
}
