//! The Retry-After header (RFC 3261 §20.33): `delta-seconds [comment] *(;param)`.

use std::fmt;

use crate::error::{ParseError, ParseErrorKind};
use crate::header::expires::parse_delta_seconds;
use crate::headers::Headers;
use crate::lex::Cursor;
use crate::params::Params;

/// A Retry-After value.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RetryAfter {
    /// Seconds to wait.
    pub seconds: u32,
    /// The comment, with its parentheses.
    pub comment: Option<String>,
    /// Parameters (`duration`, …).
    pub params: Params,
}

impl RetryAfter {
    /// `Retry-After: <seconds>`.
    pub fn new(seconds: u32) -> RetryAfter {
        RetryAfter {
            seconds,
            comment: None,
            params: Params::new(),
        }
    }
}

impl fmt::Display for RetryAfter {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.seconds)?;
        if let Some(c) = &self.comment {
            write!(f, " {c}")?;
        }
        write!(f, "{}", self.params)
    }
}

fn parse_retry_after(v: &str) -> Result<RetryAfter, &'static str> {
    let mut c = Cursor::new(v);
    c.skip_lws();
    let seconds = parse_delta_seconds(c.take_while(|b| b.is_ascii_digit()))?;
    c.skip_lws();
    let comment = if c.peek() == Some(b'(') {
        let start = c.pos();
        let mut depth = 0usize;
        loop {
            match c.peek() {
                None => return Err("unterminated comment"),
                Some(b'(') => depth += 1,
                Some(b')') => {
                    depth -= 1;
                    if depth == 0 {
                        c.bump();
                        break;
                    }
                }
                Some(b'\\') => c.bump(),
                Some(_) => {}
            }
            c.bump();
        }
        Some(c.slice(start, c.pos()).to_string())
    } else {
        None
    };
    let params = Params::parse_header_params(&mut c)?;
    Ok(RetryAfter {
        seconds,
        comment,
        params,
    })
}

impl Headers {
    /// Retry-After, if present.
    pub fn retry_after(&self) -> Result<Option<RetryAfter>, ParseError> {
        match self.single("Retry-After")? {
            None => Ok(None),
            Some(v) => parse_retry_after(v)
                .map(Some)
                .map_err(|d| ParseErrorKind::header("Retry-After", d).into()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn values() {
        assert_eq!(parse_retry_after("35").unwrap(), RetryAfter::new(35));
        let r = parse_retry_after("18000 (in a (long) meeting) ;duration=3600").unwrap();
        assert_eq!(r.comment.as_deref(), Some("(in a (long) meeting)"));
        assert_eq!(r.to_string(), "18000 (in a (long) meeting);duration=3600");
        assert!(parse_retry_after("949302838503028349304023988").is_err());
        assert!(parse_retry_after("5 (open").is_err());
        assert!(parse_retry_after("x").is_err());
    }
}
