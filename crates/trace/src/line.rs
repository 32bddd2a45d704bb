//! One trace line as data ([`TraceLine`]): formatting, strict parsing, and
//! reading whole files whose long texts continue on the next physical line.
//!
//! Line format: `SSSSSSSS.sss |HH:MM:SS.mmm |Kind |text`, e.g.
//! `00895261.016 |08:59:17.067 |AppInfo |Credential Length is: 8`.
//! The signal number has exactly 8 digits. The sub-index has at least 3
//! digits; past 999 it keeps counting (`1000` … `65535`), so the parser
//! accepts 3 to 5 digits, without a leading zero when longer than 3 (only
//! canonical forms parse, which keeps `format_line(parse_line(x)) == x`).

use std::fmt;
use std::str::FromStr;

use time::Time;

use crate::level::Kind;

/// One parsed or to-be-written trace line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TraceLine {
    /// Signal number (8 digits when formatted).
    pub signal: u32,
    /// Sub-index within the signal (.000, .001, …).
    pub sub: u16,
    /// Time of day (millisecond precision is kept when formatting).
    pub time: Time,
    /// `AppInfo` or `SdlSig`.
    pub kind: Kind,
    /// Everything after `|<kind> |`, verbatim.
    pub text: String,
}

/// Why [`parse_line`] rejected a line.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ParseError {
    /// The line does not start with an 8-digit signal number and a dot.
    #[error("line does not start with an 8-digit signal number and '.'")]
    SignalNumber,
    /// The sub-index is missing, too long, non-canonical or above 65535.
    #[error("malformed sub-index (expected 3 to 5 digits, at most 65535)")]
    SubIndex,
    /// A `" |"` separator is missing at the given byte offset.
    #[error("expected \" |\" at byte {0}")]
    Separator(usize),
    /// The time of day is not a valid `HH:MM:SS.mmm`.
    #[error("malformed time of day (expected HH:MM:SS.mmm)")]
    Time,
    /// The kind is not `AppInfo` or `SdlSig` (the first 32 characters are kept).
    #[error("unknown line kind {0:?} (expected AppInfo or SdlSig)")]
    Kind(String),
    /// The input contains a line feed; parse files with [`parse_file`].
    #[error("input contains a line feed; use parse_file for multi-line input")]
    LineFeed,
}

/// Formats a line: `SSSSSSSS.sss |HH:MM:SS.mmm |Kind |text`.
pub fn format_line(line: &TraceLine) -> String {
    line.to_string()
}

impl fmt::Display for TraceLine {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let t = self.time;
        write!(
            f,
            "{:08}.{:03} |{:02}:{:02}:{:02}.{:03} |{} |{}",
            self.signal,
            self.sub,
            t.hour(),
            t.minute(),
            t.second(),
            t.millisecond(),
            self.kind,
            self.text
        )
    }
}

impl FromStr for TraceLine {
    type Err = ParseError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        parse_line(s)
    }
}

/// Value of an all-ASCII-digit byte string (caller guarantees digits, length <= 9).
fn digits_value(b: &[u8]) -> u32 {
    b.iter().fold(0u32, |acc, d| acc * 10 + u32::from(d - b'0'))
}

fn expect_sep(b: &[u8], at: usize) -> Result<usize, ParseError> {
    match b.get(at..at + 2) {
        Some(b" |") => Ok(at + 2),
        _ => Err(ParseError::Separator(at)),
    }
}

/// True when `s` starts like a trace line: 8 digits, '.', a digit.
pub fn starts_with_line_number(s: &str) -> bool {
    let b = s.as_bytes();
    b.len() >= 10 && b[..8].iter().all(u8::is_ascii_digit) && b[8] == b'.' && b[9].is_ascii_digit()
}

/// Parses one line (without its line break). Never panics.
pub fn parse_line(s: &str) -> Result<TraceLine, ParseError> {
    let b = s.as_bytes();
    if b.contains(&b'\n') {
        return Err(ParseError::LineFeed);
    }
    let number = b.get(..8).filter(|n| n.iter().all(u8::is_ascii_digit));
    let signal = match (number, b.get(8)) {
        (Some(n), Some(b'.')) => digits_value(n),
        _ => return Err(ParseError::SignalNumber),
    };
    let sub_len = b[9..].iter().take_while(|c| c.is_ascii_digit()).count();
    let sub_digits = &b[9..9 + sub_len];
    if !(3..=5).contains(&sub_len) || (sub_len > 3 && sub_digits[0] == b'0') {
        return Err(ParseError::SubIndex);
    }
    let sub = u16::try_from(digits_value(sub_digits)).map_err(|_| ParseError::SubIndex)?;
    let pos = expect_sep(b, 9 + sub_len)?;
    let time = parse_time(b.get(pos..pos + 12).ok_or(ParseError::Time)?)?;
    let pos = expect_sep(b, pos + 12)?;
    let kind_len = b[pos..]
        .windows(2)
        .position(|w| w == b" |")
        .ok_or(ParseError::Separator(b.len()))?;
    let kind = match &b[pos..pos + kind_len] {
        b"AppInfo" => Kind::AppInfo,
        b"SdlSig" => Kind::SdlSig,
        other => {
            let name = String::from_utf8_lossy(other).chars().take(32).collect();
            return Err(ParseError::Kind(name));
        }
    };
    // Everything before `text_at` is ASCII, so it is a char boundary.
    let text_at = pos + kind_len + 2;
    let text = s
        .get(text_at..)
        .ok_or(ParseError::Separator(text_at))?
        .to_owned();
    Ok(TraceLine {
        signal,
        sub,
        time,
        kind,
        text,
    })
}

/// Parses `HH:MM:SS.mmm` (exactly 12 bytes).
fn parse_time(b: &[u8]) -> Result<Time, ParseError> {
    let shape_ok = b.len() == 12
        && b.iter().enumerate().all(|(i, c)| match i {
            2 | 5 => *c == b':',
            8 => *c == b'.',
            _ => c.is_ascii_digit(),
        });
    if !shape_ok {
        return Err(ParseError::Time);
    }
    let num = |r: std::ops::Range<usize>| digits_value(&b[r]);
    let (h, m, s, ms) = (num(0..2), num(3..5), num(6..8), num(9..12));
    // All four values are below 1000, so the narrowing casts are exact.
    Time::from_hms_milli(h as u8, m as u8, s as u8, ms as u16).map_err(|_| ParseError::Time)
}

/// Parses a whole trace file.
///
/// Lines not starting with the number pattern (8 digits, '.', digit) are
/// continuations of the previous line's text and are appended to it with a
/// single space (without the space when that text is still empty). Skipped:
/// empty lines, continuations before the first line, and lines that start
/// with the number pattern but do not parse (with their continuations).
/// Handles `\n` and `\r\n` line ends.
pub fn parse_file(content: &str) -> Vec<TraceLine> {
    let mut out: Vec<TraceLine> = Vec::new();
    // Set while the lines following a rejected numbered line are skipped too.
    let mut skipping = false;
    for raw in content.lines() {
        if starts_with_line_number(raw) {
            match parse_line(raw) {
                Ok(line) => {
                    out.push(line);
                    skipping = false;
                }
                Err(_) => skipping = true,
            }
            continue;
        }
        if raw.trim().is_empty() || skipping {
            continue;
        }
        if let Some(last) = out.last_mut() {
            if !last.text.is_empty() {
                last.text.push(' ');
            }
            last.text.push_str(raw);
        }
    }
    out
}
