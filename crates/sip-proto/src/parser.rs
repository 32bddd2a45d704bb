//! The message parser: start line, header section (folding, compact names, limits),
//! Content-Length framing of one datagram, and the checks of the five headers every
//! element needs (Via, From, To, Call-ID, CSeq).
//!
//! Liberal where RFC 3261/4475 allow it (bare LF line ends, CRLFs before the start line,
//! a header section ended by the end of the datagram, LWS before the colon, a datagram
//! without Content-Length whose body runs to its end), strict elsewhere.

use std::borrow::Cow;

use crate::error::{ParseError, ParseErrorKind};
use crate::headers::Headers;
use crate::lex::{is_token, is_wsp, trim_lws};
use crate::message::{Message, StartLine, Version};
use crate::method::Method;
use crate::uri::parse_uri;

/// Bounds on what the parser and the stream framer accept.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// Largest datagram / message handed to [`parse_message_with`] (default 64 KiB).
    pub max_message_bytes: usize,
    /// Largest header section, start line included (default 16 KiB).
    pub max_header_bytes: usize,
    /// Largest body on a stream (default 64 KiB).
    pub max_body_bytes: usize,
    /// Most header lines (default 128).
    pub max_headers: usize,
    /// Longest header line, after unfolding (default 8 KiB).
    pub max_line_bytes: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_message_bytes: 64 * 1024,
            max_header_bytes: 16 * 1024,
            max_body_bytes: 64 * 1024,
            max_headers: 128,
            max_line_bytes: 8 * 1024,
        }
    }
}

impl Limits {
    /// No bounds (for reading Content-Length of a section that broke a parsing limit).
    pub(crate) fn unbounded() -> Limits {
        Limits {
            max_message_bytes: usize::MAX,
            max_header_bytes: usize::MAX,
            max_body_bytes: usize::MAX,
            max_headers: usize::MAX,
            max_line_bytes: usize::MAX,
        }
    }
}

/// Parses one datagram or one framed message with the default [`Limits`].
pub fn parse_message(bytes: &[u8]) -> Result<Message, ParseError> {
    parse_message_with(bytes, &Limits::default())
}

/// Parses one datagram or one framed message. Bytes after the body that
/// `Content-Length` announces are ignored (RFC 3261 §18.3); without `Content-Length`
/// the body is the rest of the input.
pub fn parse_message_with(bytes: &[u8], limits: &Limits) -> Result<Message, ParseError> {
    if bytes.len() > limits.max_message_bytes {
        return Err(ParseErrorKind::MessageTooLarge {
            len: bytes.len(),
            limit: limits.max_message_bytes,
        }
        .into());
    }
    let head = split_head(bytes, limits)?;
    parse_head(bytes, head)
}

/// Parses a message whose header section `split_head` has already split.
pub(crate) fn parse_head(bytes: &[u8], head: Head<'_>) -> Result<Message, ParseError> {
    let start_text = std::str::from_utf8(head.start).map_err(|_| ParseErrorKind::InvalidUtf8);
    let start = start_text.clone().and_then(parse_start_line);
    let request_like = match (&start, &start_text) {
        (Ok(s), _) => matches!(s, StartLine::Request { .. }),
        (Err(_), Ok(t)) => looks_like_request(t),
        (Err(_), Err(_)) => false,
    };
    let cl = content_length_of_lines(&head.lines);
    let (mut headers, line_err) = parse_header_lines(&head.lines);
    headers.remove("Content-Length");
    let available = bytes.len().saturating_sub(head.body_start);
    let body_err = match cl {
        Ok(Some(n)) if n > available as u64 => Some(ParseErrorKind::BodyTruncated {
            declared: usize::try_from(n).unwrap_or(usize::MAX),
            available,
        }),
        Ok(_) => None,
        Err(d) => Some(ParseErrorKind::ContentLength(d)),
    };
    let core = check_core(&headers);
    let first = start
        .as_ref()
        .err()
        .cloned()
        .or(line_err)
        .or(body_err)
        .or(core.clone().err());
    if let Some(kind) = first {
        let can_respond = request_like && core.is_ok();
        return Err(ParseError::with_partial(kind, headers, can_respond));
    }
    let len = match cl {
        Ok(Some(n)) => usize::try_from(n).unwrap_or(available),
        _ => available,
    };
    let body = bytes
        .get(head.body_start..head.body_start.saturating_add(len))
        .unwrap_or_default()
        .to_vec();
    let start = start.map_err(ParseError::new)?;
    Ok(Message {
        start,
        headers,
        body,
    })
}

/// The header section of a message, split into lines.
pub(crate) struct Head<'a> {
    /// The start line, without its line end.
    pub(crate) start: &'a [u8],
    /// Logical header lines, folding undone.
    pub(crate) lines: Vec<Cow<'a, [u8]>>,
    /// Where the body starts (the input length when the header section is not closed).
    pub(crate) body_start: usize,
}

/// Splits the start line and the header lines; stops at the first empty line or at the
/// end of the input.
pub(crate) fn split_head<'a>(bytes: &'a [u8], limits: &Limits) -> Result<Head<'a>, ParseErrorKind> {
    let mut pos = bytes
        .iter()
        .position(|&b| b != b'\r' && b != b'\n')
        .unwrap_or(bytes.len());
    let first = pos;
    let mut start: Option<&[u8]> = None;
    let mut lines: Vec<Cow<'a, [u8]>> = Vec::new();
    let mut body_start = bytes.len();
    while pos < bytes.len() {
        let rest = bytes.get(pos..).unwrap_or_default();
        let (line, next) = match rest.iter().position(|&b| b == b'\n') {
            Some(i) => (rest.get(..i).unwrap_or_default(), pos + i + 1),
            None => (rest, bytes.len()),
        };
        let line = line.strip_suffix(b"\r").unwrap_or(line);
        if next - first > limits.max_header_bytes {
            return Err(ParseErrorKind::HeaderSectionTooLarge {
                limit: limits.max_header_bytes,
            });
        }
        if line.len() > limits.max_line_bytes {
            return Err(ParseErrorKind::LineTooLong {
                limit: limits.max_line_bytes,
            });
        }
        pos = next;
        if start.is_none() {
            start = Some(line);
            continue;
        }
        if line.is_empty() {
            body_start = next;
            break;
        }
        if line.first().copied().is_some_and(is_wsp) {
            let Some(prev) = lines.last_mut() else {
                return Err(ParseErrorKind::HeaderLine(
                    "continuation line without a header",
                ));
            };
            let mut joined = trim_end_wsp(prev).to_vec();
            joined.push(b' ');
            joined.extend_from_slice(
                line.iter()
                    .position(|&b| !is_wsp(b))
                    .and_then(|i| line.get(i..))
                    .unwrap_or_default(),
            );
            if joined.len() > limits.max_line_bytes {
                return Err(ParseErrorKind::LineTooLong {
                    limit: limits.max_line_bytes,
                });
            }
            *prev = Cow::Owned(joined);
        } else {
            if lines.len() >= limits.max_headers {
                return Err(ParseErrorKind::TooManyHeaders {
                    limit: limits.max_headers,
                });
            }
            lines.push(Cow::Borrowed(line));
        }
    }
    match start {
        Some(start) => Ok(Head {
            start,
            lines,
            body_start,
        }),
        None => Err(ParseErrorKind::Empty),
    }
}

fn trim_end_wsp(b: &[u8]) -> &[u8] {
    let end = b.iter().rposition(|&c| !is_wsp(c)).map_or(0, |i| i + 1);
    b.get(..end).unwrap_or_default()
}

/// Turns logical lines into [`Headers`]; a bad line is skipped and its error returned
/// (the first one) so that the other headers are still available.
pub(crate) fn parse_header_lines(lines: &[Cow<'_, [u8]>]) -> (Headers, Option<ParseErrorKind>) {
    let mut headers = Headers::new();
    let mut err = None;
    for line in lines {
        match header_line(line) {
            Ok((name, value)) => headers.push_parsed(name, value),
            Err(e) => {
                err.get_or_insert(e);
            }
        }
    }
    (headers, err)
}

fn header_line(line: &[u8]) -> Result<(&str, &str), ParseErrorKind> {
    let line = std::str::from_utf8(line).map_err(|_| ParseErrorKind::InvalidUtf8)?;
    if line.contains('\r') {
        return Err(ParseErrorKind::HeaderLine("bare CR in header line"));
    }
    let (name, value) = line
        .split_once(':')
        .ok_or(ParseErrorKind::HeaderLine("missing colon"))?;
    let name = trim_lws(name);
    if !is_token(name) {
        return Err(ParseErrorKind::HeaderLine("malformed header name"));
    }
    Ok((name, trim_lws(value)))
}

/// The Content-Length, if any, read straight off the header lines (the stream framer needs it
/// before the message is complete, without building [`Headers`]): `Ok(None)` when absent; an
/// error when a value is not a number or when values disagree. Lines that do not parse are
/// skipped, as [`parse_header_lines`] skips them.
pub(crate) fn content_length_of_lines(
    lines: &[Cow<'_, [u8]>],
) -> Result<Option<u64>, &'static str> {
    let mut found: Option<u64> = None;
    for line in lines {
        // Only `Content-Length` and its compact form `l` can be it: other lines are passed
        // over on their first bytes (this runs on every framed message).
        let long = line
            .get(..14)
            .is_some_and(|n| n.eq_ignore_ascii_case(b"content-length"));
        let compact = matches!(line.first(), Some(b'L' | b'l'))
            && matches!(line.get(1), Some(b':' | b' ' | b'\t'));
        if !long && !compact {
            continue;
        }
        let Ok((name, v)) = header_line(line) else {
            continue;
        };
        if crate::names::canonical(name) != Some("Content-Length") {
            continue;
        }
        if v.is_empty() || !v.bytes().all(|b| b.is_ascii_digit()) {
            return Err(if v.starts_with('-') {
                "negative value"
            } else {
                "not a number"
            });
        }
        let n: u64 = v.parse().map_err(|_| "value too large")?;
        match found {
            Some(f) if f != n => return Err("conflicting values"),
            _ => found = Some(n),
        }
    }
    Ok(found)
}

/// Via (at least one, all well formed), From, To, Call-ID and CSeq (exactly one each,
/// well formed).
fn check_core(headers: &Headers) -> Result<(), ParseErrorKind> {
    let kind = |e: ParseError| e.kind().clone();
    if headers.vias().map_err(kind)?.is_empty() {
        return Err(ParseErrorKind::MissingHeader("Via"));
    }
    headers.from().map_err(kind)?;
    headers.to().map_err(kind)?;
    headers.call_id().map_err(kind)?;
    headers.cseq().map_err(kind)?;
    Ok(())
}

fn parse_version(text: &str) -> Option<Version> {
    let rest = text
        .get(..4)
        .filter(|p| p.eq_ignore_ascii_case("SIP/"))
        .and(text.get(4..))?;
    let (major, minor) = rest.split_once('.')?;
    let num = |s: &str| {
        (!s.is_empty() && s.bytes().all(|b| b.is_ascii_digit()))
            .then(|| s.parse::<u16>().ok())
            .flatten()
    };
    Some(Version {
        major: num(major)?,
        minor: num(minor)?,
    })
}

fn parse_start_line(line: &str) -> Result<StartLine, ParseErrorKind> {
    if line
        .get(..4)
        .is_some_and(|p| p.eq_ignore_ascii_case("SIP/"))
    {
        return parse_status_line(line);
    }
    let bad = ParseErrorKind::RequestLine;
    let (method, rest) = line.split_once(' ').ok_or(bad("missing Request-URI"))?;
    if !is_token(method) {
        return Err(bad("method is not a token"));
    }
    let (uri, version) = rest.rsplit_once(' ').ok_or(bad("missing SIP version"))?;
    if uri.is_empty() || uri.bytes().any(is_wsp) || version.is_empty() {
        return Err(bad("extra white space"));
    }
    let version = parse_version(version).ok_or(bad("malformed SIP version"))?;
    let uri = parse_uri(uri).map_err(ParseErrorKind::RequestUri)?;
    Ok(StartLine::Request {
        method: Method::from_token(method),
        uri,
        version,
    })
}

fn parse_status_line(line: &str) -> Result<StartLine, ParseErrorKind> {
    let bad = ParseErrorKind::StatusLine;
    let (version, rest) = line.split_once(' ').ok_or(bad("missing status code"))?;
    let version = parse_version(version).ok_or(bad("malformed SIP version"))?;
    let (code, reason) = rest.split_once(' ').unwrap_or((rest, ""));
    if code.len() != 3 || !code.bytes().all(|b| b.is_ascii_digit()) {
        return Err(bad("status code is not three digits"));
    }
    let code: u16 = code
        .parse()
        .map_err(|_| bad("status code is not three digits"))?;
    if !(100..=699).contains(&code) {
        return Err(bad("status code out of range"));
    }
    if reason.chars().any(|c| c.is_control() && c != '\t') {
        return Err(bad("control character in reason phrase"));
    }
    Ok(StartLine::Response {
        code,
        reason: reason.to_string(),
        version,
    })
}

/// Whether a start line that failed strict parsing is still recognisably a request
/// (first word a token, last word `SIP/…`), so that a 400 can be sent.
fn looks_like_request(line: &str) -> bool {
    let mut words = line.split_ascii_whitespace();
    let first = words.next().is_some_and(is_token);
    let last = words
        .last()
        .is_some_and(|w| w.get(..4).is_some_and(|p| p.eq_ignore_ascii_case("SIP/")));
    first
        && last
        && !line
            .get(..4)
            .is_some_and(|p| p.eq_ignore_ascii_case("SIP/"))
}

#[cfg(test)]
mod tests;
