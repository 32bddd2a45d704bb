//! [`Tracer`]: the cheap-to-clone handle every Switchboard component traces through.
//!
//! Per-service levels are atomics, checked before anything is formatted, so a
//! disabled trace costs one atomic load. Enabled lines are handed to the
//! writer thread (see `writer.rs`) without waiting for the disk. Time stamps
//! are taken when a line is emitted, at the UTC offset found when the tracer
//! was opened: the local offset when the `time` crate can determine it
//! (on Unix only while the process is still single-threaded, so call
//! [`local_offset`] at the top of `main` and use [`Tracer::open_with_offset`]),
//! otherwise UTC. [`Tracer::utc_offset`] tells which.

use std::fmt;
use std::io;
use std::path::PathBuf;
use std::sync::atomic::{AtomicU8, Ordering};
use std::sync::mpsc::{self, SyncSender, TrySendError};
use std::sync::Arc;
use std::thread::{self, JoinHandle};

use time::UtcOffset;

use crate::config::TraceConfig;
use crate::event::TraceEvent;
use crate::files::existing_files;
use crate::level::{Level, Service};
use crate::line::TraceLine;
use crate::signal::Signal;
use crate::writer::{Msg, Shared, Writer, QUEUE_CAPACITY};

/// The local UTC offset if the platform lets `time` determine it now, else `None`.
pub fn local_offset() -> Option<UtcOffset> {
    UtcOffset::current_local_offset().ok()
}

/// Handle to a set of per-service trace files. Clones share everything
/// (levels, signal counter, writer); the writer thread stops, after writing
/// all queued lines, when the last clone (or [`Signal`]) is dropped.
#[derive(Clone)]
pub struct Tracer {
    inner: Arc<Inner>,
}

struct Inner {
    shared: Arc<Shared>,
    levels: [AtomicU8; Service::ALL.len()],
    sink: Option<Sink>,
}

struct Sink {
    root: PathBuf,
    tx: Option<SyncSender<Msg>>,
    thread: Option<JoinHandle<()>>,
}

impl Drop for Inner {
    fn drop(&mut self) {
        if let Some(sink) = &mut self.sink {
            sink.tx.take();
            if let Some(thread) = sink.thread.take() {
                // A panicked writer has nothing left to report.
                let _ = thread.join();
            }
        }
    }
}

impl Tracer {
    /// Opens (creating directories as needed) and starts the writer thread.
    /// Times are local if determinable now, else UTC.
    pub fn open(config: TraceConfig) -> io::Result<Tracer> {
        Tracer::open_with_offset(config, local_offset().unwrap_or(UtcOffset::UTC))
    }

    /// Like [`Tracer::open`], with time stamps at the given UTC offset.
    pub fn open_with_offset(config: TraceConfig, offset: UtcOffset) -> io::Result<Tracer> {
        Tracer::open_with_capacity(config, offset, QUEUE_CAPACITY)
    }

    pub(crate) fn open_with_capacity(
        config: TraceConfig,
        offset: UtcOffset,
        capacity: usize,
    ) -> io::Result<Tracer> {
        let shared = Arc::new(Shared::new(offset));
        let writer = Writer::new(&config, Arc::clone(&shared))?;
        let (tx, rx) = mpsc::sync_channel(capacity);
        let thread = thread::Builder::new()
            .name("switchboard-trace".into())
            .spawn(move || writer.run(rx))?;
        let sink = Sink {
            root: config.dir,
            tx: Some(tx),
            thread: Some(thread),
        };
        Ok(Tracer::with_sink(shared, Some(sink)))
    }

    /// A tracer that writes nothing (levels can still be set and read).
    pub fn disabled() -> Tracer {
        Tracer::with_sink(Arc::new(Shared::new(UtcOffset::UTC)), None)
    }

    fn with_sink(shared: Arc<Shared>, sink: Option<Sink>) -> Tracer {
        let levels = std::array::from_fn(|_| AtomicU8::new(Level::default() as u8));
        Tracer {
            inner: Arc::new(Inner {
                shared,
                levels,
                sink,
            }),
        }
    }

    /// False for [`Tracer::disabled`].
    pub fn is_active(&self) -> bool {
        self.inner.sink.is_some()
    }

    /// The UTC offset of the time stamps (UTC when the local one was unknown).
    pub fn utc_offset(&self) -> UtcOffset {
        self.inner.shared.offset
    }

    /// Sets a service's level (effective immediately for all clones).
    pub fn set_level(&self, service: Service, level: Level) {
        self.inner.levels[service.index()].store(level as u8, Ordering::Relaxed);
    }

    /// A service's level (default [`Level::Info`]).
    pub fn level(&self, service: Service) -> Level {
        Level::from_u8(self.inner.levels[service.index()].load(Ordering::Relaxed))
    }

    /// Every service with its level, in [`Service::ALL`] order.
    pub fn levels(&self) -> Vec<(Service, Level)> {
        Service::ALL
            .into_iter()
            .map(|s| (s, self.level(s)))
            .collect()
    }

    /// Whether a line of `level` for `service` would be written.
    pub fn enabled(&self, service: Service, level: Level) -> bool {
        self.is_active() && level <= self.level(service)
    }

    /// Starts a signal: allocates the next signal number (one counter for all services).
    pub fn signal(&self, service: Service) -> Signal {
        Signal::new(self.clone(), service, self.inner.shared.next_signal())
    }

    /// Writes `event` as a signal of its own, if `level` is enabled.
    pub fn emit(&self, service: Service, level: Level, event: &TraceEvent) {
        if self.enabled(service, level) {
            self.signal(service).emit(level, event);
        }
    }

    /// [`Tracer::emit`] at the event's default level ([`TraceEvent::level`]).
    pub fn emit_default(&self, service: Service, event: &TraceEvent) {
        self.emit(service, event.level(), event);
    }

    /// Blocks until every line emitted before the call is written and synced
    /// (or was dropped and counted). No-op for a disabled tracer.
    pub fn flush(&self) {
        let Some(tx) = self.inner.sink.as_ref().and_then(|s| s.tx.as_ref()) else {
            return;
        };
        let (ack_tx, ack_rx) = mpsc::sync_channel(1);
        if tx.send(Msg::Flush(ack_tx)).is_ok() {
            // An error means the writer is gone; nothing more can be written.
            let _ = ack_rx.recv();
        }
    }

    /// The service's trace files, oldest first (empty when disabled or unreadable).
    pub fn files(&self, service: Service) -> Vec<PathBuf> {
        match &self.inner.sink {
            Some(sink) => existing_files(&sink.root, service).unwrap_or_default(),
            None => Vec::new(),
        }
    }

    /// Flushes, then reads back everything written so far for `services`, file after file,
    /// oldest first (what tests and tools check traces against; unreadable files are skipped).
    pub fn read_back(&self, services: &[Service]) -> String {
        self.flush();
        services
            .iter()
            .flat_map(|service| self.files(*service))
            .filter_map(|file| std::fs::read_to_string(file).ok())
            .collect()
    }

    /// Lines dropped so far because the writer queue was full.
    pub fn dropped(&self) -> u64 {
        self.inner.shared.dropped_total.load(Ordering::Relaxed)
    }

    pub(crate) fn now(&self) -> time::Time {
        self.inner.shared.now()
    }

    /// Queues a line for the writer, counting it as dropped when the queue is full.
    pub(crate) fn send(&self, service: Service, line: TraceLine) {
        let Some(tx) = self.inner.sink.as_ref().and_then(|s| s.tx.as_ref()) else {
            return;
        };
        match tx.try_send(Msg::Line(service, line)) {
            Ok(()) => {}
            Err(TrySendError::Full(_) | TrySendError::Disconnected(_)) => {
                self.inner.shared.dropped[service.index()].fetch_add(1, Ordering::Relaxed);
                self.inner
                    .shared
                    .dropped_total
                    .fetch_add(1, Ordering::Relaxed);
            }
        }
    }

    /// Test hook: blocks the writer until the returned sender is dropped or used.
    #[cfg(test)]
    pub(crate) fn pause_writer(&self) -> Option<SyncSender<()>> {
        let tx = self.inner.sink.as_ref()?.tx.as_ref()?;
        let (ack_tx, ack_rx) = mpsc::sync_channel(1);
        let (release_tx, release_rx) = mpsc::sync_channel(1);
        tx.send(Msg::Pause(ack_tx, release_rx)).ok()?;
        ack_rx.recv().ok()?;
        Some(release_tx)
    }
}

impl fmt::Debug for Tracer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Tracer")
            .field("dir", &self.inner.sink.as_ref().map(|s| &s.root))
            .field("utc_offset", &self.utc_offset())
            .field("levels", &self.levels())
            .field("dropped", &self.dropped())
            .finish()
    }
}

#[cfg(test)]
#[path = "tracer_tests.rs"]
mod tests;
