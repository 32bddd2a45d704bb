//! Trace file naming (`<dir>/<service>/<service>NNNNNNNN.txt`) and discovery of
//! existing files, so a restarted node continues the numbering.

use std::fs;
use std::io;
use std::path::{Path, PathBuf};

use crate::level::Service;

/// Directory of one service's trace files.
pub(crate) fn service_dir(root: &Path, service: Service) -> PathBuf {
    root.join(service.as_str())
}

/// File name of trace file number `n` (8 digits, more only past 99 999 999).
pub(crate) fn file_name(service: Service, n: u32) -> String {
    format!("{}{n:08}.txt", service.as_str())
}

/// The number of a file named like [`file_name`] for `service`.
fn file_number(service: Service, name: &str) -> Option<u32> {
    let digits = name.strip_prefix(service.as_str())?.strip_suffix(".txt")?;
    if digits.len() < 8 || !digits.bytes().all(|c| c.is_ascii_digit()) {
        return None;
    }
    digits.parse().ok()
}

/// Numbers of the service's existing trace files, ascending (oldest first).
/// A missing directory has no files.
pub(crate) fn existing_numbers(root: &Path, service: Service) -> io::Result<Vec<u32>> {
    let dir = service_dir(root, service);
    let entries = match fs::read_dir(&dir) {
        Ok(e) => e,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(e) => return Err(e),
    };
    let mut numbers = Vec::new();
    for entry in entries {
        let entry = entry?;
        if let Some(n) = entry
            .file_name()
            .to_str()
            .and_then(|name| file_number(service, name))
        {
            numbers.push(n);
        }
    }
    numbers.sort_unstable();
    Ok(numbers)
}

/// Paths of the service's existing trace files, oldest first.
pub(crate) fn existing_files(root: &Path, service: Service) -> io::Result<Vec<PathBuf>> {
    let dir = service_dir(root, service);
    Ok(existing_numbers(root, service)?
        .into_iter()
        .map(|n| dir.join(file_name(service, n)))
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_and_numbers() {
        assert_eq!(file_name(Service::Cti, 1), "cti00000001.txt");
        assert_eq!(file_number(Service::Cti, "cti00000042.txt"), Some(42));
        assert_eq!(file_number(Service::Cti, "cti123.txt"), None);
        assert_eq!(file_number(Service::Cti, "sip00000001.txt"), None);
        assert_eq!(file_number(Service::Cti, "cti0000000x.txt"), None);
    }
}
