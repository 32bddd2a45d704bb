//! `Headers`: the ordered header fields of a message, as (name, raw value) lines, with
//! case-insensitive lookup that knows compact forms and splits comma-list headers.
//!
//! Storage keeps one entry per header line as received (folding undone, white space at
//! the ends trimmed): known names are stored in canonical spelling (`v` → `Via`), unknown
//! ones as received, and values are raw, so unknown headers and parameters print back
//! byte for byte. Typed accessors live with their header in `src/header/`.

use std::borrow::Cow;

use crate::lex::{is_token_byte, list_items, trim_lws};
use crate::names;

/// One header line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Header {
    /// Known names: the canonical `&'static str` of the names table (no allocation, and
    /// compared by address); others as received.
    name: Cow<'static, str>,
    value: String,
}

impl Header {
    /// Canonical name for known headers, the received spelling otherwise.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The raw value (unfolded, trimmed).
    pub fn value(&self) -> &str {
        &self.value
    }
}

/// The header fields of a message, in order. `Content-Length` is never stored: it is
/// derived from the body when the message is printed.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Headers {
    entries: Vec<Header>,
}

/// The stored spelling for a header name: canonical if known.
fn stored_name(name: &str) -> Cow<'static, str> {
    match names::canonical(name) {
        Some(c) => Cow::Borrowed(c),
        None => Cow::Owned(name.to_string()),
    }
}

/// A header name looked up once (not once per stored header: this is on every request's
/// path): a known name matches the lines stored under its canonical spelling, compared by
/// address; an unknown one matches lines by case-insensitive comparison.
enum NameQuery {
    Known { name: &'static str, list: bool },
    Other(String),
}

impl NameQuery {
    fn new(name: &str) -> NameQuery {
        match names::lookup(name) {
            Some((name, list)) => NameQuery::Known { name, list },
            None => NameQuery::Other(name.to_string()),
        }
    }

    /// Whether the header is a comma-list one (unknown headers are not).
    fn is_list(&self) -> bool {
        matches!(self, NameQuery::Known { list: true, .. })
    }

    #[allow(clippy::ptr_arg)] // whether the name is the table's (borrowed) is the point
    fn matches(&self, stored: &Cow<'static, str>) -> bool {
        match (self, stored) {
            (NameQuery::Known { name, .. }, Cow::Borrowed(s)) => std::ptr::eq(*name, *s),
            // Known names are always stored borrowed from the table.
            (NameQuery::Known { .. }, Cow::Owned(_)) => false,
            (NameQuery::Other(q), s) => s.eq_ignore_ascii_case(q),
        }
    }
}

impl Headers {
    /// No headers.
    pub fn new() -> Self {
        Headers::default()
    }

    /// Number of header lines.
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// Whether there are no header lines.
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// All header lines, in order.
    pub fn iter(&self) -> impl Iterator<Item = &Header> {
        self.entries.iter()
    }

    /// The raw values of the lines called `name` (long or compact form, any case), one
    /// per line, not split at commas.
    pub fn lines<'a>(&'a self, name: &str) -> impl Iterator<Item = &'a str> + 'a {
        self.lines_of(NameQuery::new(name))
    }

    fn lines_of<'a>(&'a self, query: NameQuery) -> impl Iterator<Item = &'a str> + 'a {
        self.entries
            .iter()
            .filter(move |h| query.matches(&h.name))
            .map(|h| h.value.as_str())
    }

    /// All values of `name`: for comma-list headers (Via, Contact, Route, Supported, …)
    /// each line is split at the commas outside quotes and `<…>`; other headers give one
    /// value per line.
    pub fn get_all<'a>(&'a self, name: &str) -> Vec<&'a str> {
        let query = NameQuery::new(name);
        if query.is_list() {
            self.lines_of(query).flat_map(list_items).collect()
        } else {
            self.lines_of(query).collect()
        }
    }

    /// The first value of `name` (for a comma-list header, its first element).
    pub fn get(&self, name: &str) -> Option<&str> {
        let query = NameQuery::new(name);
        let list = query.is_list();
        let first = self.lines_of(query).next()?;
        if list {
            list_items(first).next()
        } else {
            Some(first)
        }
    }

    /// Whether a header called `name` is present.
    pub fn contains(&self, name: &str) -> bool {
        self.lines(name).next().is_some()
    }

    /// Appends a header line. Known names are stored in canonical spelling; characters
    /// that cannot appear in a name are dropped, CR and LF in the value become spaces, and
    /// `Content-Length` is ignored (it is derived from the body).
    pub fn push(&mut self, name: &str, value: &str) {
        let name: Cow<'_, str> = if name.bytes().all(is_token_byte) {
            Cow::Borrowed(name)
        } else {
            Cow::Owned(
                name.chars()
                    .filter(|c| c.is_ascii() && is_token_byte(*c as u8))
                    .collect(),
            )
        };
        if name.is_empty() {
            return;
        }
        let stored = stored_name(&name);
        if stored == "Content-Length" {
            return;
        }
        let value = if value.contains(['\r', '\n']) {
            trim_lws(&value.replace(['\r', '\n'], " ")).to_string()
        } else {
            trim_lws(value).to_string()
        };
        self.entries.push(Header {
            name: stored,
            value,
        });
    }

    /// Replaces every line called `name` with one line holding `value`, at the position of
    /// the first one (or at the end).
    pub fn set(&mut self, name: &str, value: &str) {
        let query = NameQuery::new(name);
        let at = self.entries.iter().position(|h| query.matches(&h.name));
        let spelling = at
            .and_then(|i| self.entries.get(i))
            .map_or_else(|| name.to_string(), |h| h.name.to_string());
        self.remove(name);
        let before = self.entries.len();
        self.push(&spelling, value);
        if let (Some(at), true) = (at, self.entries.len() > before) {
            if let Some(h) = self.entries.pop() {
                self.entries.insert(at.min(self.entries.len()), h);
            }
        }
    }

    /// Removes every line called `name`; returns how many were removed.
    pub fn remove(&mut self, name: &str) -> usize {
        let before = self.entries.len();
        let query = NameQuery::new(name);
        self.entries.retain(|h| !query.matches(&h.name));
        before - self.entries.len()
    }

    /// Appends a line from the parser (name already a token, value already clean).
    pub(crate) fn push_parsed(&mut self, name: &str, value: &str) {
        self.entries.push(Header {
            name: stored_name(name),
            value: value.to_string(),
        });
    }

    /// The value of the first line called `name`, for in-place edits by typed setters.
    pub(crate) fn first_value_mut(&mut self, name: &str) -> Option<&mut String> {
        let query = NameQuery::new(name);
        self.entries
            .iter_mut()
            .find(|h| query.matches(&h.name))
            .map(|h| &mut h.value)
    }

    /// Copies every line called `name` from `other`, in order.
    pub(crate) fn copy_from(&mut self, other: &Headers, name: &str) {
        let query = NameQuery::new(name);
        for h in other.entries.iter().filter(|h| query.matches(&h.name)) {
            self.entries.push(h.clone());
        }
    }

    /// Exactly one line called `name`: `Ok(None)` if absent, an error if repeated.
    pub(crate) fn single(
        &self,
        name: &'static str,
    ) -> Result<Option<&str>, crate::error::ParseError> {
        let mut it = self.lines(name);
        let first = it.next();
        if it.next().is_some() {
            return Err(crate::error::ParseErrorKind::DuplicateHeader(name).into());
        }
        Ok(first)
    }

    /// Exactly one line called `name`, required.
    pub(crate) fn required(&self, name: &'static str) -> Result<&str, crate::error::ParseError> {
        self.single(name)?
            .ok_or_else(|| crate::error::ParseErrorKind::MissingHeader(name).into())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lookup_by_compact_and_case() {
        let mut h = Headers::new();
        h.push_parsed("v", "SIP/2.0/UDP a, SIP/2.0/UDP b");
        h.push_parsed("VIA", "SIP/2.0/UDP c");
        h.push_parsed("NewFangledHeader", "x, y");
        assert_eq!(
            h.get_all("via"),
            vec!["SIP/2.0/UDP a", "SIP/2.0/UDP b", "SIP/2.0/UDP c"]
        );
        assert_eq!(h.get("V"), Some("SIP/2.0/UDP a"));
        assert_eq!(h.get_all("newfangledheader"), vec!["x, y"]);
        assert_eq!(h.iter().next().map(Header::name), Some("Via"));
    }

    #[test]
    fn push_set_remove() {
        let mut h = Headers::new();
        h.push("f", "<sip:a@b>");
        h.push("X-A", "1");
        h.push("Content-Length", "5");
        h.push("Bad Name\r\n", " v\r\nInjected: 1 ");
        assert_eq!(h.len(), 3);
        assert_eq!(h.get("BadName"), Some("v  Injected: 1"));
        h.set("x-a", "2");
        h.set("Subject", "hi");
        let names: Vec<_> = h.iter().map(Header::name).collect();
        assert_eq!(names, vec!["From", "X-A", "BadName", "Subject"]);
        assert_eq!(h.get("X-A"), Some("2"));
        assert_eq!(h.remove("from"), 1);
        assert!(!h.contains("f"));
    }
}
