//! [`Steps`]: where the LDAP flow writes its steps — the trace signal of the login, and for
//! `switchboard ldap test` also a list of their texts returned to the administrator.

use switchboard_trace::{Signal, TraceEvent};

/// Writes each step to the trace signal and, for `switchboard ldap test`, keeps its text.
pub struct Steps<'a> {
    signal: &'a mut Signal,
    kept: Option<Vec<String>>,
}

impl<'a> Steps<'a> {
    /// Steps traced to `signal` only.
    pub fn traced(signal: &'a mut Signal) -> Steps<'a> {
        Steps { signal, kept: None }
    }

    /// Steps traced to `signal` and kept (their trace text) for the caller.
    pub fn kept(signal: &'a mut Signal) -> Steps<'a> {
        Steps {
            signal,
            kept: Some(Vec::new()),
        }
    }

    pub fn emit(&mut self, event: &TraceEvent) {
        self.signal.emit_default(event);
        if let Some(kept) = &mut self.kept {
            kept.push(event.text());
        }
    }

    /// The texts kept so far.
    pub fn into_kept(self) -> Vec<String> {
        self.kept.unwrap_or_default()
    }
}
