//! Unit tests of URI parsing, printing and comparison.

use super::*;
use std::net::Ipv6Addr;

fn sip(text: &str) -> SipUri {
    match Uri::parse(text) {
        Ok(Uri::Sip(u)) => u,
        other => panic!("{text}: {other:?}"),
    }
}

#[test]
fn round_trips() {
    for t in [
        "sip:alice@127.0.0.1",
        "sips:user:pw@example.com:5061;transport=tls;lr?Route=%3Csip:x%3E&h=",
        "sip:[2001:db8::10]:5070",
        "sip:user;par=u%40example.net@example.com",
        "tel:+1-201-555-0123;phone-context=example.com",
        "urn:uuid:00000000-0000-0000-0000-882323451234",
        "sip:1_unusual.URI~(to-be!sure)&isn't+it$/crazy?,/;;*:&it+has=1,weird!*pas$wo~d_too.(doesn't-it)@example.com",
    ] {
        let u = Uri::parse(t).unwrap();
        assert_eq!(u.to_string(), t);
        assert_eq!(Uri::parse(&u.to_string()).unwrap(), u);
    }
}

#[test]
fn user_parts() {
    let u = sip("sip:user;par=u%40example.net@example.com");
    assert_eq!(
        u.user_unescaped().as_deref(),
        Some("user;par=u@example.net")
    );
    assert_eq!(u.host, Host::Domain("example.com".into()));
    let u = sip("sip:1_unusual.URI~(to-be!sure)&isn't+it$/crazy?,/;;*:&it+has=1,weird!*pas$wo~d_too.(doesn't-it)@example.com");
    assert_eq!(
        u.user.as_deref(),
        Some("1_unusual.URI~(to-be!sure)&isn't+it$/crazy?,/;;*")
    );
    assert_eq!(
        u.password.as_deref(),
        Some("&it+has=1,weird!*pas$wo~d_too.(doesn't-it)")
    );
    let u = sip("sip:null-%00-null@example.com");
    assert_eq!(u.user_unescaped().as_deref(), Some("null-\0-null"));
}

#[test]
fn ipv6_rfc5118() {
    let u = sip("sip:[2001:db8::10:5070]");
    assert_eq!(
        u.host,
        Host::Ipv6("2001:db8::10:5070".parse::<Ipv6Addr>().unwrap())
    );
    assert_eq!(u.port, None);
    let u = sip("sip:[2001:db8::10]:5070");
    assert_eq!(u.port, Some(5070));
    assert!(Uri::parse("sip:2001:db8::10").is_err());
    assert!(Uri::parse("sip:[2001:db8::10").is_err());
    assert!(Uri::parse("sip:user@[2001:db8::10]x").is_err());
    let a = sip("sip:user@[2001:db8:::192.0.2.1]");
    assert!(a.matches(&sip("sip:user@[2001:db8::192.0.2.1]")));
}

#[test]
fn rejects() {
    for t in [
        "",
        "sip:",
        "sip:@host",
        "sip:user@",
        "sip:host:",
        "sip:host:99999",
        "sip:host;",
        "sip:host;a=",
        "sip:host?",
        "sip:host?a",
        "sip:us er@host",
        "<sip:host>",
        "nocolon",
        "1sip:host",
        "x:",
        "sip:host;lr SIP/2.0",
    ] {
        assert!(Uri::parse(t).is_err(), "{t:?} should fail");
    }
}

#[test]
fn escaped_params_and_matching() {
    let u = sip("sip:cal%6Cer@host5.example.net;%6C%72;n%61me=v%61lue%25%34%31");
    assert!(u.lr());
    assert!(u.matches(&sip("sip:caller@HOST5.example.net;lr;name=value%2541")));
    assert!(!sip("sip:%00@h").matches(&sip("sip:%00%00@h")));
    assert!(!sip("sip:a@h;transport=tcp").matches(&sip("sip:a@h")));
    assert!(sip("sip:a@h;foo=1").matches(&sip("sip:a@h")));
    assert!(!sip("sip:a@h:5060").matches(&sip("sip:a@h")));
    assert_eq!(
        sip("sip:a@h;TRANSPORT=TLS").transport().as_deref(),
        Some("tls")
    );
}

#[test]
fn other_schemes() {
    let u = Uri::parse("soap.beep://192.0.2.103:3002").unwrap();
    assert_eq!(u.scheme(), "soap.beep");
    assert!(matches!(
        Uri::parse("isbn:2983792873").unwrap(),
        Uri::Other(_)
    ));
    assert!(matches!(Uri::parse("TEL:1010").unwrap(), Uri::Tel(_)));
    assert_eq!(Uri::parse("SIP:a@b").unwrap().to_string(), "sip:a@b");
}
