//! Fuzz target: `parse_line` never panics, and whatever it accepts formats
//! back to the exact input; `parse_file` and `sanitize` never panic, and
//! sanitised text is always a single line.
#![no_main]

use libfuzzer_sys::fuzz_target;
use switchboard_trace::{format_line, parse_file, parse_line, sanitize};

fuzz_target!(|data: &[u8]| {
    let Ok(input) = std::str::from_utf8(data) else {
        return;
    };
    if let Ok(line) = parse_line(input) {
        assert_eq!(format_line(&line), input, "round trip");
        assert_eq!(parse_line(&format_line(&line)), Ok(line));
    }
    for line in parse_file(input) {
        let _ = format_line(&line);
    }
    let clean = sanitize(input);
    assert!(
        !clean.contains('\n') && !clean.contains('\r'),
        "sanitised text is one line"
    );
});
