//! Trace file settings: where the per-service directories live, file size and count limits.

use std::path::PathBuf;

use serde::{Deserialize, Serialize};

/// Default size limit of one trace file: 10 MiB.
pub const DEFAULT_MAX_FILE_BYTES: u64 = 10 * 1024 * 1024;
/// Default number of trace files kept per service.
pub const DEFAULT_MAX_FILES: u32 = 10;

/// Where and how much to trace.
///
/// Files go to `<dir>/<service>/<service>NNNNNNNN.txt`. A file is closed and
/// the next one started when the next line would make it larger than
/// `max_file_bytes` (a single line longer than that still gets written, alone
/// in its file). At most `max_files` files are kept per service, the oldest
/// being deleted; `0` is treated as `1`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TraceConfig {
    /// Root trace directory; one subdirectory per service is created in it.
    pub dir: PathBuf,
    /// Size limit of one file in bytes (default [`DEFAULT_MAX_FILE_BYTES`]).
    #[serde(default = "default_max_file_bytes")]
    pub max_file_bytes: u64,
    /// Files kept per service (default [`DEFAULT_MAX_FILES`]).
    #[serde(default = "default_max_files")]
    pub max_files: u32,
}

fn default_max_file_bytes() -> u64 {
    DEFAULT_MAX_FILE_BYTES
}

fn default_max_files() -> u32 {
    DEFAULT_MAX_FILES
}

impl TraceConfig {
    /// Settings with the default limits, tracing into `dir`.
    pub fn new(dir: impl Into<PathBuf>) -> TraceConfig {
        TraceConfig {
            dir: dir.into(),
            max_file_bytes: DEFAULT_MAX_FILE_BYTES,
            max_files: DEFAULT_MAX_FILES,
        }
    }

    /// `max_files`, at least 1.
    pub(crate) fn files_kept(&self) -> usize {
        usize::try_from(self.max_files.max(1)).unwrap_or(usize::MAX)
    }
}
