//! The `auth-scheme [ token68 / #auth-param ]` syntax shared by the Authorization and
//! Authenticate headers (RFC 3261 §25, RFC 7235 §2.1).

use crate::lex::{is_token, is_wsp, quote, unquote, Cursor};

/// `token68` characters (RFC 7235): `ALPHA / DIGIT / "-" / "." / "_" / "~" / "+" / "/"`,
/// then `*"="`.
pub(crate) fn is_token68(s: &str) -> bool {
    let body = s.trim_end_matches('=');
    !body.is_empty()
        && body.bytes().all(|b| {
            b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~' | b'+' | b'/')
        })
}

/// Splits `scheme rest`: the scheme token and the rest (trimmed).
pub(crate) fn split_scheme(value: &str) -> Result<(&str, &str), &'static str> {
    let mut c = Cursor::new(value);
    c.skip_lws();
    let scheme = c.token().ok_or("missing authentication scheme")?;
    let rest = c.rest();
    if !rest.is_empty() && !rest.bytes().next().is_some_and(is_wsp) {
        return Err("malformed authentication scheme");
    }
    Ok((scheme, rest.trim_matches([' ', '\t'])))
}

/// Parses `name = value *(, name = value)`; values are tokens or quoted strings and are
/// returned raw (quotes kept). Empty list elements are skipped; a repeated name is an
/// error (RFC 7235 §2.2).
pub(crate) fn parse_auth_params(text: &str) -> Result<Vec<(String, String)>, &'static str> {
    let mut c = Cursor::new(text);
    let mut out: Vec<(String, String)> = Vec::new();
    loop {
        c.skip_lws();
        while c.eat(b',') {
            c.skip_lws();
        }
        if c.is_empty() {
            return Ok(out);
        }
        let name = c.token().ok_or("malformed parameter name")?;
        if !c.eat_sep(b'=') {
            return Err("parameter without '='");
        }
        let value = if c.peek() == Some(b'"') {
            c.quoted_raw()?
        } else {
            let v = c.take_while(|b| b != b',' && !is_wsp(b) && b != b'"');
            if v.is_empty() {
                return Err("empty parameter value");
            }
            v
        };
        if out.iter().any(|(n, _)| n.eq_ignore_ascii_case(name)) {
            return Err("repeated parameter");
        }
        out.push((name.to_string(), value.to_string()));
        c.skip_lws();
        if !c.is_empty() && !c.eat(b',') {
            return Err("missing ',' between parameters");
        }
    }
}

/// Removes the first parameter called `name`, returning its unquoted value.
pub(crate) fn take(params: &mut Vec<(String, String)>, name: &str) -> Option<String> {
    let i = params
        .iter()
        .position(|(n, _)| n.eq_ignore_ascii_case(name))?;
    Some(unquote(&params.remove(i).1))
}

/// Prints `scheme name=value, name=value…`.
/// A parameter value that is sent as a token when it is one (`algorithm=MD5`, `qop=auth`,
/// `nc=00000001`), else quoted so that it parses back to the same value.
pub(crate) fn token_or_quoted(value: &str) -> String {
    if is_token(value) {
        value.to_string()
    } else {
        quote(value)
    }
}

pub(crate) fn print(scheme: &str, params: &[(&str, String)]) -> String {
    let parts: Vec<String> = params.iter().map(|(n, v)| format!("{n}={v}")).collect();
    format!("{scheme} {}", parts.join(", "))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn params() {
        let p =
            parse_auth_params(r#"username="a", realm="r" ,algorithm=MD5,, nc=00000001"#).unwrap();
        assert_eq!(p.len(), 4);
        assert_eq!(p[2], ("algorithm".into(), "MD5".into()));
        assert!(parse_auth_params("a=1, A=2").is_err());
        assert!(parse_auth_params("a").is_err());
        assert!(parse_auth_params("a=\"x").is_err());
        assert!(parse_auth_params("a=1 b=2").is_err());
        assert!(is_token68("eyJhbGciOi.J9-_~+/=="));
        assert!(!is_token68("token=\"x\""));
    }
}
