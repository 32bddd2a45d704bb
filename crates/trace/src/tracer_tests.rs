//! Unit tests of `Tracer` internals: a full writer queue drops lines and says how many.

use super::*;

#[test]
fn full_queue_drops_and_reports_count() {
    let dir = tempfile::tempdir().expect("tempdir");
    let config = TraceConfig::new(dir.path());
    let tracer = Tracer::open_with_capacity(config, UtcOffset::UTC, 2).expect("open");
    let release = tracer.pause_writer().expect("writer paused");
    for i in 0..10 {
        tracer.emit(
            Service::Oauth,
            Level::Info,
            &TraceEvent::text_event(format!("line {i}")),
        );
    }
    assert_eq!(tracer.dropped(), 8);
    drop(release);
    tracer.flush();
    let files = tracer.files(Service::Oauth);
    let content = std::fs::read_to_string(&files[0]).expect("read");
    let lines: Vec<TraceLine> = content
        .lines()
        .map(|l| crate::line::parse_line(l).expect("well-formed"))
        .collect();
    let texts: Vec<&str> = lines.iter().map(|l| l.text.as_str()).collect();
    assert_eq!(
        texts,
        [
            "line 0",
            "line 1",
            "Trace writer queue full: 8 lines dropped"
        ]
    );
    assert!(lines[2].signal > lines[1].signal);
}
