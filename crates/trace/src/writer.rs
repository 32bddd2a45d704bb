//! The background writer thread: receives formatted-later [`TraceLine`]s over a
//! bounded channel, appends them to per-service files, rotates and prunes.
//!
//! Design: callers never touch the disk. They `try_send` into a bounded
//! channel ([`QUEUE_CAPACITY`] lines); when it is full the line is dropped
//! and counted per service. The writer drains the channel in batches through
//! a `BufWriter` per service, flushes to the OS whenever the queue is empty,
//! and then writes one `AppInfo` line per service saying how many lines were
//! dropped since the last such notice. A flush request additionally
//! `fsync`s and acknowledges, which is how [`Tracer::flush`](crate::Tracer::flush)
//! blocks until everything emitted before it is on disk.
//!
//! I/O errors cannot be returned to callers; they are reported through the
//! `tracing` crate (once until writing succeeds again) and the line is lost.

use std::collections::VecDeque;
use std::fs::{self, File, OpenOptions};
use std::io::{self, BufWriter, Write};
use std::path::PathBuf;
use std::sync::atomic::{AtomicU32, AtomicU64, Ordering};
use std::sync::mpsc::{Receiver, SyncSender};

use time::{OffsetDateTime, Time, UtcOffset};

use crate::config::TraceConfig;
use crate::files::{existing_numbers, file_name, service_dir};
use crate::level::{Kind, Service};
use crate::line::TraceLine;

/// Lines that may wait for the writer before new ones are dropped.
pub const QUEUE_CAPACITY: usize = 8192;

/// Signal numbers have 8 digits: after 99 999 999 they wrap to 0.
const SIGNAL_MODULUS: u32 = 100_000_000;

/// State shared by all clones of a tracer and its writer thread.
#[derive(Debug)]
pub(crate) struct Shared {
    counter: AtomicU32,
    pub(crate) dropped: [AtomicU64; Service::ALL.len()],
    pub(crate) dropped_total: AtomicU64,
    pub(crate) offset: UtcOffset,
}

impl Shared {
    pub(crate) fn new(offset: UtcOffset) -> Shared {
        Shared {
            counter: AtomicU32::new(1),
            dropped: Default::default(),
            dropped_total: AtomicU64::new(0),
            offset,
        }
    }

    /// The next signal number (first is 1; wraps to 0 after 99 999 999).
    pub(crate) fn next_signal(&self) -> u32 {
        self.counter.fetch_add(1, Ordering::Relaxed) % SIGNAL_MODULUS
    }

    /// The current time of day at the tracer's UTC offset.
    pub(crate) fn now(&self) -> Time {
        OffsetDateTime::now_utc().to_offset(self.offset).time()
    }
}

/// A message to the writer thread.
pub(crate) enum Msg {
    Line(Service, TraceLine),
    /// Write everything queued before, fsync, then acknowledge.
    Flush(SyncSender<()>),
    /// Test hook: acknowledge on the first channel, then block until the second yields.
    #[cfg(test)]
    Pause(SyncSender<()>, Receiver<()>),
}

struct Current {
    file: BufWriter<File>,
    size: u64,
}

struct ServiceFiles {
    service: Service,
    dir: PathBuf,
    numbers: VecDeque<u32>,
    current: Option<Current>,
}

pub(crate) struct Writer {
    shared: std::sync::Arc<Shared>,
    services: Vec<ServiceFiles>,
    max_file_bytes: u64,
    keep: usize,
    failing: bool,
}

impl Writer {
    /// Creates the service directories and finds the existing files.
    pub(crate) fn new(config: &TraceConfig, shared: std::sync::Arc<Shared>) -> io::Result<Writer> {
        let mut services = Vec::with_capacity(Service::ALL.len());
        for service in Service::ALL {
            let dir = service_dir(&config.dir, service);
            fs::create_dir_all(&dir)?;
            let numbers = existing_numbers(&config.dir, service)?.into();
            services.push(ServiceFiles {
                service,
                dir,
                numbers,
                current: None,
            });
        }
        Ok(Writer {
            shared,
            services,
            max_file_bytes: config.max_file_bytes,
            keep: config.files_kept(),
            failing: false,
        })
    }

    /// Runs until every sender is gone and the queue is drained.
    pub(crate) fn run(mut self, rx: Receiver<Msg>) {
        while let Ok(msg) = rx.recv() {
            self.handle(msg);
            while let Ok(msg) = rx.try_recv() {
                self.handle(msg);
            }
            self.report_dropped();
            self.flush_all(false);
        }
        self.report_dropped();
        self.flush_all(true);
    }

    fn handle(&mut self, msg: Msg) {
        match msg {
            Msg::Line(service, line) => self.write_line(service, &line),
            Msg::Flush(ack) => {
                self.report_dropped();
                self.flush_all(true);
                // The requester may have given up waiting; nothing to do then.
                let _ = ack.send(());
            }
            #[cfg(test)]
            Msg::Pause(ack, release) => {
                let _ = ack.send(());
                let _ = release.recv();
            }
        }
    }

    /// Writes one "lines dropped" notice per service that lost lines.
    fn report_dropped(&mut self) {
        for service in Service::ALL {
            let n = self.shared.dropped[service.index()].swap(0, Ordering::Relaxed);
            if n > 0 {
                let line = TraceLine {
                    signal: self.shared.next_signal(),
                    sub: 0,
                    time: self.shared.now(),
                    kind: Kind::AppInfo,
                    text: format!("Trace writer queue full: {n} lines dropped"),
                };
                self.write_line(service, &line);
            }
        }
    }

    fn write_line(&mut self, service: Service, line: &TraceLine) {
        let mut bytes = line.to_string();
        bytes.push('\n');
        let result = self.append(service, bytes.as_bytes());
        self.note(result, service);
    }

    /// Reports the first error of a run of failures.
    fn note(&mut self, result: io::Result<()>, service: Service) {
        match result {
            Ok(()) => self.failing = false,
            Err(e) if !self.failing => {
                self.failing = true;
                tracing::warn!(%service, error = %e, "writing trace file failed; trace lines are lost");
            }
            Err(_) => {}
        }
    }

    fn append(&mut self, service: Service, bytes: &[u8]) -> io::Result<()> {
        let (max, keep) = (self.max_file_bytes, self.keep);
        let sf = &mut self.services[service.index()];
        let len = bytes.len() as u64;
        let full = sf
            .current
            .as_ref()
            .is_some_and(|c| c.size > 0 && c.size.saturating_add(len) > max);
        if full {
            if let Some(mut old) = sf.current.take() {
                old.file.flush()?;
            }
        }
        let mut current = match sf.current.take() {
            Some(c) => c,
            None => sf.open_next(keep)?,
        };
        let result = current.file.write_all(bytes);
        current.size += len;
        sf.current = Some(current);
        result
    }

    fn flush_all(&mut self, sync: bool) {
        let mut errors = Vec::new();
        for sf in &mut self.services {
            if let Some(c) = &mut sf.current {
                let mut r = c.file.flush();
                if sync && r.is_ok() {
                    r = c.file.get_ref().sync_data();
                }
                if let Err(e) = r {
                    errors.push((sf.service, e));
                }
            }
        }
        for (service, e) in errors {
            self.note(Err(e), service);
        }
    }
}

impl ServiceFiles {
    /// Creates the next-numbered file (never an existing one) and prunes old files.
    fn open_next(&mut self, keep: usize) -> io::Result<Current> {
        fs::create_dir_all(&self.dir)?;
        let mut n = self.numbers.back().map_or(1, |last| last.saturating_add(1));
        let file = loop {
            let path = self.dir.join(file_name(self.service, n));
            match OpenOptions::new().write(true).create_new(true).open(&path) {
                Ok(f) => break f,
                Err(e) if e.kind() == io::ErrorKind::AlreadyExists && n < u32::MAX => n += 1,
                Err(e) => return Err(e),
            }
        };
        self.numbers.push_back(n);
        while self.numbers.len() > keep {
            let Some(old) = self.numbers.pop_front() else {
                break;
            };
            match fs::remove_file(self.dir.join(file_name(self.service, old))) {
                Ok(()) => {}
                Err(e) if e.kind() == io::ErrorKind::NotFound => {}
                Err(e) => {
                    tracing::warn!(service = %self.service, error = %e, "removing old trace file failed")
                }
            }
        }
        Ok(Current {
            file: BufWriter::with_capacity(64 * 1024, file),
            size: 0,
        })
    }
}
