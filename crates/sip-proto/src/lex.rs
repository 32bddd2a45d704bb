//! Lexical building blocks shared by every header parser: tokens, LWS, quoted strings,
//! comma-list splitting, and a panic-free cursor over a header value.
//!
//! Header values reach these functions already unfolded (a folded line break became one
//! SP), so linear white space here is only SP and HTAB. Every slice boundary the cursor
//! produces sits on an ASCII byte or at the end, so slicing UTF-8 text never splits a
//! character; `str::get` is used anyway so that no input can make it panic.

/// RFC 3261 `token` characters: `alphanum / "-" / "." / "!" / "%" / "*" / "_" / "+" / "`" / "'" / "~"`.
pub(crate) fn is_token_byte(b: u8) -> bool {
    b.is_ascii_alphanumeric()
        || matches!(
            b,
            b'-' | b'.' | b'!' | b'%' | b'*' | b'_' | b'+' | b'`' | b'\'' | b'~'
        )
}

/// Whether `s` is a non-empty `token`.
pub(crate) fn is_token(s: &str) -> bool {
    !s.is_empty() && s.bytes().all(is_token_byte)
}

/// SP or HTAB.
pub(crate) fn is_wsp(b: u8) -> bool {
    b == b' ' || b == b'\t'
}

/// Trims SP and HTAB (and nothing else) from both ends.
pub(crate) fn trim_lws(s: &str) -> &str {
    s.trim_matches(|c| c == ' ' || c == '\t')
}

/// Characters allowed in a generic header parameter value besides `token` characters:
/// the `host` forms (`[`, `]`, `:`) that `received=`/`maddr=` carry, and `/`.
fn is_gen_value_byte(b: u8) -> bool {
    is_token_byte(b) || matches!(b, b':' | b'[' | b']' | b'/')
}

/// A cursor over one header value.
#[derive(Debug, Clone)]
pub(crate) struct Cursor<'a> {
    s: &'a str,
    pos: usize,
}

impl<'a> Cursor<'a> {
    pub(crate) fn new(s: &'a str) -> Self {
        Cursor { s, pos: 0 }
    }

    pub(crate) fn pos(&self) -> usize {
        self.pos
    }

    pub(crate) fn set_pos(&mut self, pos: usize) {
        self.pos = pos.min(self.s.len());
    }

    /// The unread part.
    pub(crate) fn rest(&self) -> &'a str {
        self.s.get(self.pos..).unwrap_or("")
    }

    /// `s[from..to]`, or "" if the range is not valid.
    pub(crate) fn slice(&self, from: usize, to: usize) -> &'a str {
        self.s.get(from..to).unwrap_or("")
    }

    pub(crate) fn is_empty(&self) -> bool {
        self.pos >= self.s.len()
    }

    pub(crate) fn peek(&self) -> Option<u8> {
        self.s.as_bytes().get(self.pos).copied()
    }

    pub(crate) fn bump(&mut self) {
        if self.pos < self.s.len() {
            self.pos += 1;
        }
    }

    pub(crate) fn skip_lws(&mut self) {
        while self.peek().is_some_and(is_wsp) {
            self.pos += 1;
        }
    }

    /// Consumes `b` if it is next (no white space skipped).
    pub(crate) fn eat(&mut self, b: u8) -> bool {
        if self.peek() == Some(b) {
            self.pos += 1;
            true
        } else {
            false
        }
    }

    /// Consumes `LWS b LWS` (RFC 3261 `SEMI`, `EQUAL`, `COMMA`, `SLASH`, `COLON`); leaves the
    /// cursor unchanged when `b` is not there.
    pub(crate) fn eat_sep(&mut self, b: u8) -> bool {
        let save = self.pos;
        self.skip_lws();
        if self.eat(b) {
            self.skip_lws();
            true
        } else {
            self.pos = save;
            false
        }
    }

    /// The longest run of bytes satisfying `f` (possibly empty).
    pub(crate) fn take_while(&mut self, f: impl Fn(u8) -> bool) -> &'a str {
        let start = self.pos;
        while self.peek().is_some_and(&f) {
            self.pos += 1;
        }
        self.slice(start, self.pos)
    }

    /// A non-empty `token`, or `None` (cursor unchanged).
    pub(crate) fn token(&mut self) -> Option<&'a str> {
        let t = self.take_while(is_token_byte);
        (!t.is_empty()).then_some(t)
    }

    /// A `quoted-string`, returned raw with its quotes; `Err` if it is not terminated or a
    /// quoted-pair escapes CR, LF or a non-ASCII byte.
    pub(crate) fn quoted_raw(&mut self) -> Result<&'a str, &'static str> {
        let start = self.pos;
        if !self.eat(b'"') {
            return Err("expected a quoted string");
        }
        loop {
            // Skip the ordinary bytes in one vectorised search (a bearer token is ~600 of
            // them), checking only that the run holds no line break.
            let rest = self.s.as_bytes().get(self.pos..).unwrap_or_default();
            let run = memchr::memchr2(b'"', b'\\', rest).unwrap_or(rest.len());
            if memchr::memchr2(b'\r', b'\n', rest.get(..run).unwrap_or_default()).is_some() {
                self.pos = start;
                return Err("line break in quoted string");
            }
            self.pos += run;
            match self.peek() {
                None => {
                    self.pos = start;
                    return Err("unterminated quoted string");
                }
                Some(b'"') => {
                    self.pos += 1;
                    return Ok(self.slice(start, self.pos));
                }
                Some(b'\\') => {
                    self.pos += 1;
                    match self.peek() {
                        Some(b) if b < 0x80 && b != b'\r' && b != b'\n' => self.pos += 1,
                        _ => {
                            self.pos = start;
                            return Err("bad escape in quoted string");
                        }
                    }
                }
                // A quoted string never spans lines: a raw CR or LF inside one is refused
                // (the printer could not give it back).
                Some(b'\r' | b'\n') => {
                    self.pos = start;
                    return Err("line break in quoted string");
                }
                Some(_) => self.pos += 1,
            }
        }
    }

    /// A generic parameter value: a quoted string (raw, with quotes) or a run of token /
    /// host characters.
    pub(crate) fn gen_value(&mut self) -> Result<&'a str, &'static str> {
        if self.peek() == Some(b'"') {
            return self.quoted_raw();
        }
        let v = self.take_while(is_gen_value_byte);
        if v.is_empty() {
            Err("empty parameter value")
        } else {
            Ok(v)
        }
    }
}

/// The content of a quoted string given raw (with its quotes), quoted-pairs resolved; a
/// value that is not quoted is returned as it is.
pub(crate) fn unquote(raw: &str) -> String {
    let Some(inner) = raw
        .strip_prefix('"')
        .and_then(|r| r.strip_suffix('"'))
        .filter(|_| raw.len() >= 2)
    else {
        return raw.to_string();
    };
    if memchr::memchr(b'\\', inner.as_bytes()).is_none() {
        return inner.to_string();
    }
    let mut out = String::with_capacity(inner.len());
    let mut chars = inner.chars();
    while let Some(c) = chars.next() {
        if c == '\\' {
            if let Some(n) = chars.next() {
                out.push(n);
            }
        } else {
            out.push(c);
        }
    }
    out
}

/// `content` as a quoted string: `"` and `\` and control characters become quoted-pairs;
/// CR and LF (which no quoted string may carry) are dropped.
pub(crate) fn quote(content: &str) -> String {
    let mut out = String::with_capacity(content.len() + 2);
    out.push('"');
    for c in content.chars() {
        match c {
            '\r' | '\n' => {}
            '"' | '\\' => {
                out.push('\\');
                out.push(c);
            }
            c if ((c as u32) < 0x20 && c != '\t') || c == '\x7f' => {
                out.push('\\');
                out.push(c);
            }
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

/// Splits a comma-separated header value at the commas that are outside quoted strings
/// and `<…>`; elements are trimmed, empty elements are kept (so that callers can reject
/// them).
#[cfg(test)]
pub(crate) fn split_list(value: &str) -> Vec<&str> {
    list_items(value).collect()
}

/// The elements of a comma-list value, as [`split_list`] gives them, one at a time (the
/// first element costs no allocation).
pub(crate) fn list_items(value: &str) -> ListItems<'_> {
    ListItems {
        value,
        start: 0,
        done: false,
    }
}

pub(crate) struct ListItems<'a> {
    value: &'a str,
    start: usize,
    done: bool,
}

impl<'a> ListItems<'a> {
    /// What the iterator has not given yet, as raw text (`None` once it has given the last
    /// element).
    pub(crate) fn remainder(&self) -> Option<&'a str> {
        (!self.done).then(|| self.value.get(self.start..).unwrap_or(""))
    }
}

impl<'a> Iterator for ListItems<'a> {
    type Item = &'a str;

    fn next(&mut self) -> Option<&'a str> {
        if self.done {
            return None;
        }
        let bytes = self.value.as_bytes();
        let mut in_quotes = false;
        let mut in_angle = false;
        let mut i = self.start;
        while let Some(&b) = bytes.get(i) {
            if in_quotes {
                match b {
                    b'\\' => i += 1,
                    b'"' => in_quotes = false,
                    _ => {}
                }
            } else {
                match b {
                    b'"' => in_quotes = true,
                    b'<' => in_angle = true,
                    b'>' => in_angle = false,
                    b',' if !in_angle => {
                        let item = trim_lws(self.value.get(self.start..i).unwrap_or(""));
                        self.start = i + 1;
                        return Some(item);
                    }
                    _ => {}
                }
            }
            i += 1;
        }
        self.done = true;
        Some(trim_lws(self.value.get(self.start..).unwrap_or("")))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn split_respects_quotes_and_angles() {
        assert_eq!(
            split_list(r#""a, b" <sip:x@y>;p=1 , <sip:c,d@e>, "x\"," "#),
            vec![r#""a, b" <sip:x@y>;p=1"#, "<sip:c,d@e>", r#""x\",""#]
        );
        assert_eq!(split_list("a,,b"), vec!["a", "", "b"]);
        assert_eq!(split_list(""), vec![""]);
    }

    #[test]
    fn quoting_round_trips() {
        for s in [
            "plain",
            "with \"quotes\"",
            "back\\slash",
            "nul\0bel\x07del\x7f",
            "ünï",
        ] {
            assert_eq!(unquote(&quote(s)), s);
            let q = quote(s);
            let mut c = Cursor::new(&q);
            assert_eq!(c.quoted_raw(), Ok(q.as_str()));
        }
    }

    #[test]
    fn quoted_errors() {
        assert!(Cursor::new("\"open").quoted_raw().is_err());
        assert!(Cursor::new("\"bad\\\u{e9}\"").quoted_raw().is_err());
        assert!(Cursor::new("\"trail\\").quoted_raw().is_err());
    }
}
