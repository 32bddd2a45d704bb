//! [`Signal`]: one unit of work (one signal number) whose lines get
//! successive sub-indexes .000, .001, …
//!
//! Sub-indexes count only lines actually emitted (not those filtered out by
//! level); past 999 they keep counting (`1000`, `1001`, …) and stop at 65535,
//! where further lines of the same signal reuse 65535. A text longer than
//! [`MAX_LINE_TEXT`] bytes is split over successive sub-indexes, at most
//! [`MAX_LINES_PER_EVENT`] lines, the rest cut with a `[truncated N bytes]` note.

use std::borrow::Cow;

use crate::event::TraceEvent;
use crate::level::{Kind, Level, Service};
use crate::line::TraceLine;
use crate::sanitize::{sanitize, sanitize_field};
use crate::tracer::Tracer;

/// Longest text of one line in bytes (longer texts continue on the next sub-index).
pub const MAX_LINE_TEXT: usize = 4000;
/// Most lines one event or SDL signal line may take.
pub const MAX_LINES_PER_EVENT: usize = 16;

/// A signal in progress; created by [`Tracer::signal`].
#[derive(Debug)]
pub struct Signal {
    tracer: Tracer,
    service: Service,
    number: u32,
    next_sub: u16,
}

impl Signal {
    pub(crate) fn new(tracer: Tracer, service: Service, number: u32) -> Signal {
        Signal {
            tracer,
            service,
            number,
            next_sub: 0,
        }
    }

    /// The signal number.
    pub fn number(&self) -> u32 {
        self.number
    }

    /// The service this signal traces to.
    pub fn service(&self) -> Service {
        self.service
    }

    /// The sub-index the next line will get.
    pub fn next_sub(&self) -> u16 {
        self.next_sub
    }

    /// Whether a line of `level` would be written.
    pub fn enabled(&self, level: Level) -> bool {
        self.tracer.enabled(self.service, level)
    }

    /// Writes the event's line(s) as `AppInfo`, if `level` is enabled.
    pub fn emit(&mut self, level: Level, event: &TraceEvent) {
        if !self.enabled(level) {
            return;
        }
        let raw = event.to_string();
        let text = sanitize(&raw);
        self.push(Kind::AppInfo, &text);
    }

    /// [`Signal::emit`] at the event's default level.
    pub fn emit_default(&mut self, event: &TraceEvent) {
        self.emit(event.level(), event);
    }

    /// Writes an `SdlSig` line `name |state |fields`, if `level` is enabled.
    /// All three are sanitised; `|` in `name` and `state` becomes `/`.
    pub fn sdl(&mut self, level: Level, name: &str, state: &str, fields: &str) {
        if !self.enabled(level) {
            return;
        }
        let text = format!(
            "{} |{} |{}",
            sanitize_field(name),
            sanitize_field(state),
            sanitize(fields)
        );
        self.push(Kind::SdlSig, &text);
    }

    fn push(&mut self, kind: Kind, text: &str) {
        for part in split_text(text) {
            let line = TraceLine {
                signal: self.number,
                sub: self.next_sub,
                time: self.tracer.now(),
                kind,
                text: part.into_owned(),
            };
            self.next_sub = self.next_sub.saturating_add(1);
            self.tracer.send(self.service, line);
        }
    }
}

/// Splits at char boundaries into parts of at most [`MAX_LINE_TEXT`] bytes.
fn split_text(text: &str) -> Vec<Cow<'_, str>> {
    if text.len() <= MAX_LINE_TEXT {
        return vec![Cow::Borrowed(text)];
    }
    let mut parts: Vec<Cow<'_, str>> = Vec::new();
    let mut rest = text;
    while !rest.is_empty() && parts.len() < MAX_LINES_PER_EVENT {
        let mut cut = MAX_LINE_TEXT.min(rest.len());
        while !rest.is_char_boundary(cut) {
            cut -= 1;
        }
        parts.push(Cow::Borrowed(&rest[..cut]));
        rest = &rest[cut..];
    }
    if let (false, Some(last)) = (rest.is_empty(), parts.last_mut()) {
        last.to_mut()
            .push_str(&format!(" [truncated {} bytes]", rest.len()));
    }
    parts
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn split_long_texts() {
        assert_eq!(split_text("short"), vec!["short"]);
        let long = "é".repeat(MAX_LINE_TEXT); // 2 bytes each
        let parts = split_text(&long);
        assert_eq!(parts.len(), 2);
        assert!(parts.iter().all(|p| p.len() <= MAX_LINE_TEXT));
        assert_eq!(parts.concat(), long);
        let huge = "x".repeat(MAX_LINE_TEXT * (MAX_LINES_PER_EVENT + 1));
        let parts = split_text(&huge);
        assert_eq!(parts.len(), MAX_LINES_PER_EVENT);
        assert!(
            parts[MAX_LINES_PER_EVENT - 1].ends_with(&format!("[truncated {MAX_LINE_TEXT} bytes]"))
        );
    }
}
