//! Tidy checks: every source file opens with a `//!` line saying what it is for, and no
//! library code unwraps or indexes where input could make it panic.

use std::path::{Path, PathBuf};

fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    for e in std::fs::read_dir(dir).unwrap() {
        let p = e.unwrap().path();
        if p.is_dir() {
            rust_files(&p, out);
        } else if p.extension().is_some_and(|x| x == "rs") {
            out.push(p);
        }
    }
}

fn files(sub: &str) -> Vec<PathBuf> {
    let mut v = Vec::new();
    rust_files(&Path::new(env!("CARGO_MANIFEST_DIR")).join(sub), &mut v);
    v.sort();
    v
}

#[test]
fn every_file_starts_with_a_module_doc() {
    for p in files("src").into_iter().chain(files("tests")) {
        let text = std::fs::read_to_string(&p).unwrap();
        assert!(
            text.starts_with("//! "),
            "{} must open with a //! line",
            p.display()
        );
    }
}

/// Library code (tests excluded) has no `.unwrap()`, `.expect(` or `panic!`.
#[test]
fn library_code_does_not_panic() {
    for p in files("src") {
        let text = std::fs::read_to_string(&p).unwrap();
        let code = text.split("#[cfg(test)]").next().unwrap_or("");
        let in_tests_dir =
            p.components().any(|c| c.as_os_str() == "tests") || p.ends_with("tests.rs");
        if in_tests_dir {
            continue;
        }
        for bad in [
            ".unwrap()",
            ".expect(",
            "panic!(",
            "unreachable!(",
            "todo!(",
        ] {
            let hits: Vec<_> = code
                .lines()
                .filter(|l| l.contains(bad) && !l.trim_start().starts_with("//"))
                .collect();
            assert!(hits.is_empty(), "{}: {bad} in {hits:?}", p.display());
        }
    }
}
