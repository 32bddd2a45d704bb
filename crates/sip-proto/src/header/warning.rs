//! The Warning header (RFC 3261 §20.43): `warn-code SP warn-agent SP warn-text`, e.g.
//! `399 UCM2-PUB "SIP OAuth Registration port Mismatch"`.

use std::fmt;

use crate::error::{ParseError, ParseErrorKind};
use crate::headers::Headers;
use crate::lex::{is_token_byte, quote, unquote, Cursor};

/// One Warning value.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Warning {
    /// Three-digit code (399 = miscellaneous).
    pub code: u16,
    /// The agent: `host[:port]` or a pseudonym token.
    pub agent: String,
    /// The text, unquoted.
    pub text: String,
}

impl Warning {
    /// A warning; `agent` should be the node's host name.
    pub fn new(code: u16, agent: &str, text: &str) -> Warning {
        Warning {
            code,
            agent: agent.to_string(),
            text: text.to_string(),
        }
    }
}

impl fmt::Display for Warning {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:03} {} {}", self.code, self.agent, quote(&self.text))
    }
}

fn parse_warning(v: &str) -> Result<Warning, &'static str> {
    let mut c = Cursor::new(v);
    c.skip_lws();
    let code = c.take_while(|b| b.is_ascii_digit());
    if code.len() != 3 {
        return Err("warn-code is not three digits");
    }
    let code = code.parse().map_err(|_| "warn-code is not three digits")?;
    if !c.eat(b' ') {
        return Err("missing warn-agent");
    }
    let agent = c.take_while(|b| is_token_byte(b) || matches!(b, b':' | b'[' | b']'));
    if agent.is_empty() || !c.eat(b' ') {
        return Err("malformed warn-agent");
    }
    let text = c.quoted_raw()?;
    c.skip_lws();
    if !c.is_empty() {
        return Err("text after warn-text");
    }
    Ok(Warning {
        code,
        agent: agent.to_string(),
        text: unquote(text),
    })
}

impl Headers {
    /// All Warning values.
    pub fn warnings(&self) -> Result<Vec<Warning>, ParseError> {
        self.get_all("Warning")
            .into_iter()
            .map(|v| parse_warning(v).map_err(|d| ParseErrorKind::header("Warning", d).into()))
            .collect()
    }

    /// The first Warning value.
    pub fn warning(&self) -> Result<Option<Warning>, ParseError> {
        self.warnings().map(|w| w.into_iter().next())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cisco_warning() {
        let v = r#"399 UCM2-PUB "SIP OAuth Registration port Mismatch""#;
        let w = parse_warning(v).unwrap();
        assert_eq!((w.code, w.agent.as_str()), (399, "UCM2-PUB"));
        assert_eq!(w.text, "SIP OAuth Registration port Mismatch");
        assert_eq!(w.to_string(), v);
        assert!(parse_warning(r#"1812 overture "In Progress""#).is_err());
        assert!(parse_warning("399 agent text").is_err());
        assert!(parse_warning(r#"399 [2001:db8::1]:5060 "x""#).is_ok());
    }
}
