//! Switchboard's trace files, in the format of Cisco CUCM's SDL/AppInfo traces.
//!
//! ```text
//! 00895261.016 |08:59:17.067 |AppInfo |Credential Length is: 8
//! 00895256.000 |08:59:16.944 |SdlSig |CtiProviderOpenReq |init_complete_await_provopen |…
//! ```
//!
//! Each line is `<8-digit signal number>.<sub-index> |<HH:MM:SS.mmm> |<kind> |<text>`.
//! A [`Signal`] (one unit of work) takes the next signal number of its
//! [`Tracer`]; its lines get sub-indexes .000, .001, … Signal numbers start
//! at 1 per tracer, are shared by all services (as in CUCM), and wrap to
//! 00000000 after 99999999; sub-indexes keep counting past 999 (see [`Signal`]).
//!
//! * [`TraceEvent`] is the typed catalogue of every line Switchboard writes.
//! * [`Tracer`] filters by per-[`Service`] [`Level`], sanitises every text
//!   ([`sanitize`]: no control characters, secrets masked) and hands lines to
//!   a background writer that rotates `<dir>/<service>/<service>NNNNNNNN.txt`.
//! * [`parse_line`], [`format_line`] and [`parse_file`] read traces back,
//!   Switchboard's own and real CUCM ones.
//!
//! Time stamps are local time when the UTC offset could be determined when
//! the tracer was opened, otherwise UTC; see [`Tracer::utc_offset`].
//!
//! ```
//! use switchboard_trace::{Level, Service, TraceEvent, Tracer};
//! let tracer = Tracer::disabled();
//! tracer.set_level(Service::Cti, Level::Debug);
//! let mut signal = tracer.signal(Service::Cti);
//! signal.emit(Level::Debug, &TraceEvent::CredentialLength { len: 8 });
//! signal.sdl(Level::Info, "CtiProviderOpenReq", "init_complete_await_provopen", "Async Response=2");
//! ```

mod config;
mod event;
mod event_text;
mod files;
mod level;
mod line;
mod redact;
mod sanitize;
mod signal;
mod tracer;
mod writer;

pub use config::{TraceConfig, DEFAULT_MAX_FILES, DEFAULT_MAX_FILE_BYTES};
pub use event::TraceEvent;
pub use level::{Kind, Level, ParseLevelError, ParseServiceError, Service};
pub use line::{
    format_line, parse_file, parse_line, starts_with_line_number, ParseError, TraceLine,
};
pub use sanitize::{sanitize, Redacted};
pub use signal::{Signal, MAX_LINES_PER_EVENT, MAX_LINE_TEXT};
pub use tracer::{local_offset, Tracer};
pub use writer::QUEUE_CAPACITY;

/// Re-export of the `time` crate's `Time` used in [`TraceLine::time`].
pub use time::{Time, UtcOffset};
