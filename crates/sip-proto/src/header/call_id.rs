//! The Call-ID header (RFC 3261 §20.8): `word [ "@" word ]`.

use crate::error::{ParseError, ParseErrorKind};
use crate::headers::Headers;
use crate::lex::is_token_byte;

/// RFC 3261 `word` characters: token characters plus `( ) < > : \ " / [ ] ? { }`.
fn is_word_byte(b: u8) -> bool {
    is_token_byte(b)
        || matches!(
            b,
            b'(' | b')'
                | b'<'
                | b'>'
                | b':'
                | b'\\'
                | b'"'
                | b'/'
                | b'['
                | b']'
                | b'?'
                | b'{'
                | b'}'
        )
}

/// Whether `s` is a well-formed Call-ID.
pub(crate) fn is_call_id(s: &str) -> bool {
    let word = |w: &str| !w.is_empty() && w.bytes().all(is_word_byte);
    match s.split_once('@') {
        Some((a, b)) => word(a) && word(b),
        None => word(s),
    }
}

impl Headers {
    /// The Call-ID (exactly one, well formed).
    pub fn call_id(&self) -> Result<&str, ParseError> {
        let v = self.required("Call-ID")?;
        if is_call_id(v) {
            Ok(v)
        } else {
            Err(ParseErrorKind::header("Call-ID", "not a word[@word]").into())
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn words() {
        assert!(is_call_id(
            "88232345-12340017-00001c0b-00000cfa@10.10.10.10"
        ));
        assert!(is_call_id("intmeth.word%ZK-!.*_+'@word`~)(><:\\/\"][?}{"));
        assert!(is_call_id("3d9485ad0c49859b@Zmx1ZmZ5LW1hYy0xNi5sb2NhbA.."));
        assert!(!is_call_id(""));
        assert!(!is_call_id("a@b@c"));
        assert!(!is_call_id("a b"));
        assert!(!is_call_id("@b"));
    }
}
