//! Which config file a request path asks for. The rules are strict on purpose: the path is
//! checked as received (never percent-decoded or normalised), so `..`, `%2F`, `%00`, `\`,
//! absolute paths and other tricks are refused before anything is looked up; and nothing is
//! ever read from a file system anyway.

use crate::error::CnfError;

/// The longest file name accepted, `.cnf.xml` included.
pub const MAX_FILE_NAME_LEN: usize = 64;
/// The only extension served.
pub const SUFFIX: &str = ".cnf.xml";

/// The device name a request path (`/SEP001794625DE5.cnf.xml`) and query ask for.
///
/// * `400` ([`CnfError::BadPath`]): a query string; a path that is not `/` and one name of 1
///   to 64 characters from `A-Z a-z 0-9 . _ -`; a device part that does not start with a
///   letter or a digit.
/// * `404` ([`CnfError::NotAConfigFile`]): a safe name that does not end in `.cnf.xml`
///   (case matters: `.CNF.XML` is not served), or whose device part is empty.
pub fn parse_request_path<'p>(path: &'p str, query: Option<&str>) -> Result<&'p str, CnfError> {
    if query.is_some() {
        return Err(CnfError::BadPath("a query string"));
    }
    let name = path
        .strip_prefix('/')
        .ok_or(CnfError::BadPath("the path does not start with /"))?;
    if name.len() > MAX_FILE_NAME_LEN {
        return Err(CnfError::BadPath("a file name longer than 64 characters"));
    }
    if !name
        .bytes()
        .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-'))
    {
        return Err(CnfError::BadPath(
            "characters other than A-Z a-z 0-9 . _ - in the file name",
        ));
    }
    let device = name.strip_suffix(SUFFIX).ok_or(CnfError::NotAConfigFile)?;
    match device.bytes().next() {
        None => Err(CnfError::NotAConfigFile),
        Some(first) if first.is_ascii_alphanumeric() => Ok(device),
        Some(_) => Err(CnfError::BadPath(
            "a device name that does not start with a letter or digit",
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn status(path: &str) -> u16 {
        match parse_request_path(path, None) {
            Ok(_) => 200,
            Err(e) => e.status(),
        }
    }

    #[test]
    fn device_names_are_accepted() {
        for (path, device) in [
            ("/SEP001794625DE5.cnf.xml", "SEP001794625DE5"),
            ("/CSFwwhite.cnf.xml", "CSFwwhite"),
            ("/BOT_rado-2.cnf.xml", "BOT_rado-2"),
            ("/a.b.cnf.xml", "a.b"),
        ] {
            assert_eq!(parse_request_path(path, None).unwrap(), device, "{path}");
        }
        let longest = format!("/{}.cnf.xml", "A".repeat(MAX_FILE_NAME_LEN - SUFFIX.len()));
        assert_eq!(status(&longest), 200);
        let too_long = format!(
            "/{}.cnf.xml",
            "A".repeat(MAX_FILE_NAME_LEN - SUFFIX.len() + 1)
        );
        assert_eq!(status(&too_long), 400);
    }

    #[test]
    fn hostile_paths_are_bad_requests() {
        for path in [
            "/../../etc/passwd",
            "/%2e%2e%2fetc%2fpasswd",
            "/SEP001794625DE5.cnf.xml%00",
            "/SEP001794625DE5.cnf.xml\0",
            "/a\\b.cnf.xml",
            "//etc/passwd",
            "/etc/SEP001794625DE5.cnf.xml",
            "/..cnf.xml",
            "/.hidden.cnf.xml",
            "/-x.cnf.xml",
            "/SEP 1.cnf.xml",
            "/SEPé.cnf.xml",
            "SEP001794625DE5.cnf.xml",
            "",
            "*",
        ] {
            assert_eq!(status(path), 400, "{path:?}");
        }
        assert_eq!(status(&format!("/{}", "A".repeat(10_000))), 400);
        let query = parse_request_path("/SEP001794625DE5.cnf.xml", Some("../x"));
        assert!(matches!(query, Err(CnfError::BadPath(_))));
        assert!(matches!(
            parse_request_path("/SEP001794625DE5.cnf.xml", Some("")),
            Err(CnfError::BadPath(_))
        ));
    }

    #[test]
    fn other_files_are_not_found() {
        for path in [
            "/",
            "/SEP001794625DE5.CNF.XML",
            "/SEP001794625DE5.cnf",
            "/SEP001794625DE5.xml",
            "/XMLDefault.cnf.xml.sgn",
            "/SEP001794625DE5.cnf.xml.enc.sgn",
            "/.cnf.xml",
            "/passwd",
        ] {
            assert_eq!(status(path), 404, "{path:?}");
        }
    }
}
