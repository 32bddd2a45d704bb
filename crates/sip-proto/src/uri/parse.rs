//! URI parsing: scheme dispatch, the SIP URI grammar (userinfo, host, port, parameters,
//! headers) with RFC 3261 character classes, `tel:` and opaque URIs, and `%HH` decoding.

use super::{AbsoluteUri, SipUri, TelUri, Uri};
use crate::host::{parse_host, parse_port};
use crate::lex::Cursor;
use crate::params::Params;

/// Resolves `%HH` escapes; a `%` not followed by two hex digits stays as it is.
pub fn percent_decode(s: &str) -> Vec<u8> {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while let Some(&c) = b.get(i) {
        if c == b'%' {
            let hex = |j: usize| b.get(j).and_then(|&h| (h as char).to_digit(16));
            if let (Some(h), Some(l)) = (hex(i + 1), hex(i + 2)) {
                out.push((h * 16 + l) as u8);
                i += 3;
                continue;
            }
        }
        out.push(c);
        i += 1;
    }
    out
}

fn is_unreserved(b: u8) -> bool {
    b.is_ascii_alphanumeric()
        || matches!(
            b,
            b'-' | b'_' | b'.' | b'!' | b'~' | b'*' | b'\'' | b'(' | b')'
        )
}

fn is_user_byte(b: u8) -> bool {
    // `#` is not allowed unescaped by RFC 3261 but phones send it in feature codes.
    is_unreserved(b)
        || matches!(
            b,
            b'%' | b'&' | b'=' | b'+' | b'$' | b',' | b';' | b'?' | b'/' | b'#'
        )
}

fn is_password_byte(b: u8) -> bool {
    is_unreserved(b) || matches!(b, b'%' | b'&' | b'=' | b'+' | b'$' | b',')
}

fn is_param_byte(b: u8) -> bool {
    is_unreserved(b) || matches!(b, b'%' | b'[' | b']' | b'/' | b':' | b'&' | b'+' | b'$')
}

fn is_header_byte(b: u8) -> bool {
    is_unreserved(b) || matches!(b, b'%' | b'[' | b']' | b'/' | b'?' | b':' | b'+' | b'$')
}

fn is_scheme(s: &str) -> bool {
    let mut b = s.bytes();
    b.next().is_some_and(|c| c.is_ascii_alphabetic())
        && b.all(|c| c.is_ascii_alphanumeric() || matches!(c, b'+' | b'-' | b'.'))
}

/// Parses a URI; the error is a short description.
pub(crate) fn parse_uri(text: &str) -> Result<Uri, &'static str> {
    if text
        .bytes()
        .any(|b| b <= b' ' || b >= 0x7f || matches!(b, b'<' | b'>' | b'"'))
    {
        return Err("URI contains white space, quotes, angle brackets or non-ASCII bytes");
    }
    let (scheme, rest) = text.split_once(':').ok_or("URI has no scheme")?;
    if !is_scheme(scheme) {
        return Err("malformed URI scheme");
    }
    if scheme.eq_ignore_ascii_case("sip") {
        parse_sip(false, rest).map(Uri::Sip)
    } else if scheme.eq_ignore_ascii_case("sips") {
        parse_sip(true, rest).map(Uri::Sip)
    } else if scheme.eq_ignore_ascii_case("tel") {
        parse_tel(rest).map(Uri::Tel)
    } else if rest.is_empty() {
        Err("empty URI after the scheme")
    } else {
        Ok(Uri::Other(AbsoluteUri {
            scheme: scheme.to_string(),
            rest: rest.to_string(),
        }))
    }
}

fn parse_sip(secure: bool, s: &str) -> Result<SipUri, &'static str> {
    // '@' cannot occur unescaped after the userinfo, so the first one ends it (the user
    // part itself may hold ';', '?' and '/').
    let (userinfo, hostpart) = match s.split_once('@') {
        Some((u, h)) => (Some(u), h),
        None => (None, s),
    };
    let (user, password) = match userinfo {
        None => (None, None),
        Some(ui) => {
            let (u, p) = match ui.split_once(':') {
                Some((u, p)) => (u, Some(p)),
                None => (ui, None),
            };
            if u.is_empty() || !u.bytes().all(is_user_byte) {
                return Err("malformed URI user part");
            }
            if p.is_some_and(|p| !p.bytes().all(is_password_byte)) {
                return Err("malformed URI password");
            }
            (Some(u.to_string()), p.map(str::to_string))
        }
    };
    let mut c = Cursor::new(hostpart);
    let host = parse_host(&mut c)?;
    let port = if c.eat(b':') {
        Some(parse_port(&mut c)?)
    } else {
        None
    };
    let params = parse_uri_params(&mut c)?;
    let mut headers = Vec::new();
    if c.eat(b'?') {
        loop {
            let name = c.take_while(is_header_byte);
            if name.is_empty() {
                return Err("empty URI header name");
            }
            if !c.eat(b'=') {
                return Err("URI header without '='");
            }
            let value = c.take_while(is_header_byte);
            headers.push((name.to_string(), value.to_string()));
            if !c.eat(b'&') {
                break;
            }
        }
    }
    if !c.is_empty() {
        return Err("unexpected character in SIP URI");
    }
    Ok(SipUri {
        secure,
        user,
        password,
        host,
        port,
        params,
        headers,
    })
}

fn parse_uri_params(c: &mut Cursor<'_>) -> Result<Params, &'static str> {
    let mut params = Params::new();
    while c.eat(b';') {
        let name = c.take_while(is_param_byte);
        if name.is_empty() {
            return Err("empty URI parameter");
        }
        let value = if c.eat(b'=') {
            let v = c.take_while(is_param_byte);
            if v.is_empty() {
                return Err("empty URI parameter value");
            }
            Some(v)
        } else {
            None
        };
        params.push(name, value);
    }
    Ok(params)
}

fn parse_tel(s: &str) -> Result<TelUri, &'static str> {
    let mut c = Cursor::new(s);
    let number = c.take_while(|b| b != b';' && b != b'?');
    if number.is_empty() {
        return Err("empty tel: number");
    }
    let params = parse_uri_params(&mut c)?;
    if !c.is_empty() {
        return Err("unexpected character in tel: URI");
    }
    Ok(TelUri {
        number: number.to_string(),
        params,
    })
}
