//! The text sanitiser applied to every text the tracer writes, and
//! [`Redacted`], which prints a secret's length and never the secret.
//!
//! [`sanitize`] does two things, in this order:
//! 1. Masks anything that looks like a secret (see `redact.rs`): JWTs
//!    (`eyJ….….…`), PEM `PRIVATE KEY` blocks, the token after `Bearer `, and
//!    the value of `password=…`, `password: …`, `"password":"…"` (also keys
//!    containing `passwd`, `secret`, `token`, `apikey`, `api_key`). Each is
//!    replaced by `<redacted N chars>`.
//! 2. Escapes characters that could start a new line or fake one: `\n` and
//!    `\r` become the two characters `\n` / `\r`, a tab becomes a space, and
//!    every other control character, Unicode line/paragraph separator and
//!    bidirectional override becomes `\u{XXXX}`. A sanitised text is thus
//!    always exactly one line: a traced event never produces lines that its
//!    (possibly attacker-supplied) fields chose.

use std::borrow::Cow;
use std::fmt;

use crate::redact::secret_ranges;

/// Shows a secret as `<redacted N chars>` in `Display` and `Debug`.
///
/// ```
/// use switchboard_trace::Redacted;
/// assert_eq!(Redacted("hunter2").to_string(), "<redacted 7 chars>");
/// ```
#[derive(Clone, Copy)]
pub struct Redacted<'a>(pub &'a str);

impl Redacted<'_> {
    /// Length of the secret in characters.
    pub fn len(&self) -> usize {
        self.0.chars().count()
    }

    /// True when the secret is empty.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

impl fmt::Display for Redacted<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "<redacted {} chars>", self.len())
    }
}

impl fmt::Debug for Redacted<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(self, f)
    }
}

/// True for characters that must not reach a trace file unescaped.
fn is_unsafe_char(c: char) -> bool {
    c.is_control()
        || matches!(c, '\u{2028}' | '\u{2029}' | '\u{200E}' | '\u{200F}')
        || ('\u{202A}'..='\u{202E}').contains(&c)
        || ('\u{2066}'..='\u{2069}').contains(&c)
}

/// Masks secrets and escapes control characters (see the module doc).
/// Borrows when nothing had to change.
pub fn sanitize(text: &str) -> Cow<'_, str> {
    let ranges = secret_ranges(text);
    if ranges.is_empty() && !text.chars().any(is_unsafe_char) {
        return Cow::Borrowed(text);
    }
    let mut masked = String::with_capacity(text.len());
    let mut at = 0;
    for r in ranges {
        masked.push_str(&text[at..r.start]);
        masked.push_str(&Redacted(&text[r.clone()]).to_string());
        at = r.end;
    }
    masked.push_str(&text[at..]);
    Cow::Owned(escape_controls(&masked))
}

/// Replaces an identifier-like field (SDL signal name or state): sanitised,
/// with `|` replaced by `/` so that it cannot shift the following columns.
pub(crate) fn sanitize_field(text: &str) -> Cow<'_, str> {
    match sanitize(text) {
        Cow::Borrowed(t) if !t.contains('|') => Cow::Borrowed(t),
        other => Cow::Owned(other.replace('|', "/")),
    }
}

fn escape_controls(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push(' '),
            c if is_unsafe_char(c) => out.push_str(&format!("\\u{{{:04x}}}", u32::from(c))),
            c => out.push(c),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn clean_text_is_borrowed() {
        assert!(matches!(
            sanitize("Credential Length is: 8"),
            Cow::Borrowed(_)
        ));
        assert!(matches!(
            sanitize(
                "AuthenticationImpl::login - no encryptedpassword Credential, look for password"
            ),
            Cow::Borrowed(_)
        ));
    }

    #[test]
    fn controls_are_escaped() {
        assert_eq!(
            sanitize("a\r\nb\tc\u{1b}[2J\u{202e}"),
            "a\\r\\nb c\\u{001b}[2J\\u{202e}"
        );
        assert_eq!(sanitize_field("Ctl|Req"), "Ctl/Req");
    }

    #[test]
    fn secrets_are_masked() {
        let cases = [
            ("password=hunter2&x=1", "password=<redacted 7 chars>&x=1"),
            (
                r#"{"password":"hun\"ter2","u":"w"}"#,
                r#"{"password":"<redacted 9 chars>","u":"w"}"#,
            ),
            (
                "Authorization: Bearer abc.DEF-123",
                "Authorization: Bearer <redacted 11 chars>",
            ),
            (
                "t eyJhbGci.eyJzdWIi.c2ln. end",
                "t <redacted 22 chars>. end",
            ),
            ("client_secret: s3cr3t", "client_secret: <redacted 6 chars>"),
            (
                "k=-----BEGIN RSA PRIVATE KEY-----\nMIIB\n-----END RSA PRIVATE KEY----- ok",
                "k=<redacted 66 chars> ok",
            ),
            ("-----BEGIN PRIVATE KEY-----\nMIIEvQ", "<redacted 34 chars>"),
            ("-----BEGIN CERTIFICATE-----", "-----BEGIN CERTIFICATE-----"),
            ("SSOTOKEN =", "SSOTOKEN ="),
        ];
        for (input, want) in cases {
            assert_eq!(sanitize(input), want, "input {input:?}");
        }
    }
}
