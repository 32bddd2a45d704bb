//! Finders for secrets in free text (defence in depth for the sanitiser):
//! JWTs, PEM private key blocks, `Bearer` tokens and `password=`-style values.
//!
//! Each finder returns byte ranges (always on char boundaries, since every
//! range starts and ends next to an ASCII byte or at the ends of the text).

use std::ops::Range;

/// Keys whose value is a secret, matched case-insensitively anywhere in a word
/// (so `encryptedPassword`, `client_secret` and `access_token` match too).
const SECRET_KEYS: [&[u8]; 6] = [
    b"password",
    b"passwd",
    b"secret",
    b"token",
    b"apikey",
    b"api_key",
];

fn is_b64url(c: u8) -> bool {
    c.is_ascii_alphanumeric() || c == b'-' || c == b'_' || c == b'='
}

fn find_from(hay: &[u8], from: usize, needle: &[u8]) -> Option<usize> {
    hay.get(from..)?
        .windows(needle.len())
        .position(|w| w == needle)
        .map(|p| p + from)
}

/// All secret ranges in `text`, sorted and merged.
pub(crate) fn secret_ranges(text: &str) -> Vec<Range<usize>> {
    let b = text.as_bytes();
    let mut ranges = pem_private_keys(b);
    ranges.extend(jwts(b));
    ranges.extend(bearer_tokens(b));
    ranges.extend(key_values(b));
    ranges.retain(|r| !r.is_empty());
    ranges.sort_by_key(|r| r.start);
    let mut merged: Vec<Range<usize>> = Vec::with_capacity(ranges.len());
    for r in ranges {
        match merged.last_mut() {
            Some(last) if r.start <= last.end => last.end = last.end.max(r.end),
            _ => merged.push(r),
        }
    }
    merged
}

/// `-----BEGIN … PRIVATE KEY-----` through the matching `-----END …-----`
/// (or to the end of the text when the block is cut off).
fn pem_private_keys(b: &[u8]) -> Vec<Range<usize>> {
    let mut out = Vec::new();
    let mut from = 0;
    while let Some(start) = find_from(b, from, b"-----BEGIN ") {
        let label_at = start + 11;
        let label_end = find_from(b, label_at, b"-----").unwrap_or(b.len());
        let label = &b[label_at..label_end];
        if find_from(label, 0, b"PRIVATE KEY").is_none() {
            from = label_at;
            continue;
        }
        let end = find_from(b, label_end, b"-----END ")
            .and_then(|e| find_from(b, e + 9, b"-----").map(|d| d + 5))
            .unwrap_or(b.len());
        out.push(start..end);
        from = end;
    }
    out
}

/// `eyJ…`.`…`.`…` tokens (two or more dots, first two segments non-empty).
fn jwts(b: &[u8]) -> Vec<Range<usize>> {
    let mut out = Vec::new();
    let mut i = 0;
    while let Some(start) = find_from(b, i, b"eyJ") {
        let at_boundary = start == 0 || !(is_b64url(b[start - 1]) || b[start - 1] == b'.');
        let mut end = start;
        while end < b.len() && (is_b64url(b[end]) || b[end] == b'.') {
            end += 1;
        }
        let span = &b[start..end];
        let mut segments = span.split(|c| *c == b'.');
        let first_two_ok = segments.next().is_some_and(|s| !s.is_empty())
            && segments.next().is_some_and(|s| !s.is_empty());
        let dots = span.iter().filter(|c| **c == b'.').count();
        if at_boundary && first_two_ok && dots >= 2 {
            // A sentence's full stop right after the token is kept.
            let mut keep = end;
            while keep > start && b[keep - 1] == b'.' {
                keep -= 1;
            }
            out.push(start..keep);
        }
        i = end.max(start + 3);
    }
    out
}

/// The token after `Bearer ` (case-insensitive, at a word start).
fn bearer_tokens(b: &[u8]) -> Vec<Range<usize>> {
    let token_char = |c: u8| c.is_ascii_alphanumeric() || b"-._~+/=".contains(&c);
    let mut out = Vec::new();
    let mut i = 0;
    while i + 6 <= b.len() {
        let word_start = i == 0 || !b[i - 1].is_ascii_alphanumeric();
        if !(word_start && b[i..i + 6].eq_ignore_ascii_case(b"bearer")) {
            i += 1;
            continue;
        }
        let mut j = i + 6;
        while j < b.len() && (b[j] == b' ' || b[j] == b'\t') {
            j += 1;
        }
        let start = j;
        while j < b.len() && token_char(b[j]) {
            j += 1;
        }
        if start > i + 6 && j > start {
            out.push(start..j);
        }
        i = j.max(i + 1);
    }
    out
}

/// Values of `password=…`, `password: …`, `"password":"…"` and the like.
fn key_values(b: &[u8]) -> Vec<Range<usize>> {
    let mut out = Vec::new();
    let mut i = 0;
    while i < b.len() {
        let key = SECRET_KEYS.iter().find(|k| {
            b.get(i..i + k.len())
                .is_some_and(|w| w.eq_ignore_ascii_case(k))
        });
        let Some(key) = key else {
            i += 1;
            continue;
        };
        let mut j = i + key.len();
        if j < b.len() && (b[j] == b'"' || b[j] == b'\'') {
            j += 1; // closing quote of a JSON/Python key
        }
        let skip_ws = |mut k: usize| {
            while k < b.len() && (b[k] == b' ' || b[k] == b'\t') {
                k += 1;
            }
            k
        };
        j = skip_ws(j);
        if j >= b.len() || !(b[j] == b'=' || b[j] == b':') {
            i += key.len();
            continue;
        }
        j = skip_ws(j + 1);
        let value = quoted_or_bare_value(b, j);
        i = value.end.max(i + key.len());
        out.push(value);
    }
    out
}

/// The value starting at `at`: inside quotes when quoted, else up to a delimiter.
fn quoted_or_bare_value(b: &[u8], at: usize) -> Range<usize> {
    match b.get(at) {
        Some(&q) if q == b'"' || q == b'\'' => {
            let mut k = at + 1;
            while k < b.len() && b[k] != q {
                k += if b[k] == b'\\' { 2 } else { 1 };
            }
            (at + 1)..k.min(b.len())
        }
        _ => {
            let stop = |c: u8| c.is_ascii_whitespace() || b"&,;)]}\"'".contains(&c);
            let mut k = at;
            while k < b.len() && !stop(b[k]) {
                k += 1;
            }
            at..k
        }
    }
}
