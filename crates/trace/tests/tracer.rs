//! End-to-end tests of `Tracer` against real files in a temporary directory:
//! numbering, level filtering, rotation, restart, sanitising, concurrency.

use std::fs;
use std::path::{Path, PathBuf};

use switchboard_trace::{
    parse_file, parse_line, Kind, Level, Service, TraceConfig, TraceEvent, TraceLine, Tracer,
};

fn tracer_in(dir: &Path) -> Tracer {
    Tracer::open(TraceConfig::new(dir)).expect("open tracer")
}

fn read_all(tracer: &Tracer, service: Service) -> String {
    tracer.flush();
    tracer
        .files(service)
        .iter()
        .map(|p| fs::read_to_string(p).expect("read trace file"))
        .collect()
}

/// Every physical line must be a well-formed trace line; returns them parsed.
fn strict_lines(content: &str) -> Vec<TraceLine> {
    content
        .lines()
        .map(|l| parse_line(l).unwrap_or_else(|e| panic!("bad line {l:?}: {e}")))
        .collect()
}

fn text(t: &str) -> TraceEvent {
    TraceEvent::Text { text: t.to_owned() }
}

#[test]
fn tracer_is_send_sync_clone() {
    fn check<T: Send + Sync + Clone>() {}
    check::<Tracer>();
}

#[test]
fn signals_and_sub_indexes() {
    let dir = tempfile::tempdir().expect("tempdir");
    let tracer = tracer_in(dir.path());
    tracer.set_level(Service::Cti, Level::Detailed);
    let mut first = tracer.signal(Service::Cti);
    first.emit(Level::Detailed, &TraceEvent::AuthLoginEnter);
    first.emit(
        Level::Debug,
        &TraceEvent::UserIdIs {
            userid: "wwhite".into(),
        },
    );
    first.sdl(
        Level::Info,
        "CtiLoginCheckReq",
        "ready",
        "Login=wwhite Seq#=2",
    );
    let mut second = tracer.signal(Service::Cti);
    second.emit_default(&TraceEvent::CredentialLength { len: 8 });
    tracer.emit(Service::Cti, Level::Info, &text("one-line signal"));

    let lines = strict_lines(&read_all(&tracer, Service::Cti));
    assert_eq!(lines.len(), 5);
    let ids: Vec<(u32, u16)> = lines.iter().map(|l| (l.signal, l.sub)).collect();
    let (a, b, c) = (first.number(), second.number(), ids[4].0);
    assert!(a < b && b < c, "signal numbers increase: {ids:?}");
    assert_eq!(ids, [(a, 0), (a, 1), (a, 2), (b, 0), (c, 0)]);
    assert_eq!(lines[0].text, "AuthenticationImpl::login:enter");
    assert_eq!(lines[2].kind, Kind::SdlSig);
    assert_eq!(
        lines[2].text,
        "CtiLoginCheckReq |ready |Login=wwhite Seq#=2"
    );
    assert_eq!(lines[3].text, "Credential Length is: 8");
    assert!(lines.windows(2).all(|w| w[0].time <= w[1].time));
    let file = &tracer.files(Service::Cti)[0];
    assert_eq!(file, &dir.path().join("cti").join("cti00000001.txt"));
    // Other services have directories but no files until they trace.
    assert!(dir.path().join("sip").is_dir());
    assert!(tracer.files(Service::Sip).is_empty());
    // Read back by service, as tests and tools do.
    assert_eq!(
        tracer.read_back(&[Service::Sip, Service::Cti]),
        read_all(&tracer, Service::Cti)
    );
    assert_eq!(tracer.read_back(&[Service::Sip]), "");
}

#[test]
fn levels_filter_lines() {
    let dir = tempfile::tempdir().expect("tempdir");
    let tracer = tracer_in(dir.path());
    assert!(tracer.levels().iter().all(|(_, l)| *l == Level::Info));
    assert!(tracer.enabled(Service::Auth, Level::Info));
    assert!(!tracer.enabled(Service::Auth, Level::Debug));

    let mut sig = tracer.signal(Service::Auth);
    sig.emit(Level::Debug, &text("debug at info: not written"));
    sig.emit_default(&TraceEvent::AuthLoginEnter); // Detailed: not written
    sig.emit(Level::Info, &text("info line"));
    sig.emit(Level::Error, &text("error line"));
    tracer.set_level(Service::Auth, Level::Debug);
    assert_eq!(tracer.level(Service::Auth), Level::Debug);
    sig.emit(Level::Debug, &text("debug at debug"));
    tracer.set_level(Service::Auth, Level::Error);
    sig.emit(Level::Info, &text("info at error: not written"));

    let lines = strict_lines(&read_all(&tracer, Service::Auth));
    let texts: Vec<&str> = lines.iter().map(|l| l.text.as_str()).collect();
    assert_eq!(texts, ["info line", "error line", "debug at debug"]);
    assert_eq!(lines.iter().map(|l| l.sub).collect::<Vec<_>>(), [0, 1, 2]);
}

#[test]
fn rotation_creates_files_and_deletes_beyond_max_files() {
    let dir = tempfile::tempdir().expect("tempdir");
    let config = TraceConfig {
        dir: dir.path().to_owned(),
        max_file_bytes: 300,
        max_files: 3,
    };
    let tracer = Tracer::open(config).expect("open tracer");
    for i in 0..40 {
        tracer.emit(
            Service::Sip,
            Level::Info,
            &text(&format!("line number {i:03} of the rotation test")),
        );
    }
    tracer.flush();
    let files = tracer.files(Service::Sip);
    let names: Vec<String> = files.iter().map(|p| file_name(p)).collect();
    assert_eq!(names.len(), 3, "{names:?}");
    assert!(
        names.windows(2).all(|w| w[0] < w[1]),
        "oldest first: {names:?}"
    );
    assert_ne!(names[0], "sip00000001.txt", "oldest files were deleted");
    assert!(!dir.path().join("sip/sip00000001.txt").exists());
    for f in &files {
        assert!(fs::metadata(f).expect("stat").len() <= 300);
    }
    let kept = strict_lines(&read_all(&tracer, Service::Sip));
    assert_eq!(
        kept.last().map(|l| l.text.as_str()),
        Some("line number 039 of the rotation test")
    );
}

fn file_name(p: &Path) -> String {
    p.file_name()
        .and_then(|n| n.to_str())
        .unwrap_or_default()
        .to_owned()
}

#[test]
fn restart_continues_numbering() {
    let dir = tempfile::tempdir().expect("tempdir");
    let before: Vec<PathBuf>;
    {
        let tracer = tracer_in(dir.path());
        tracer.emit(
            Service::Node,
            Level::Info,
            &TraceEvent::NodeStopping { node: "cm1".into() },
        );
        tracer.flush();
        before = tracer.files(Service::Node);
    } // dropping the last clone stops the writer after writing everything
    let old_content = fs::read_to_string(&before[0]).expect("read old file");
    let tracer = tracer_in(dir.path());
    tracer.emit(Service::Node, Level::Info, &text("after restart"));
    tracer.flush();
    let after = tracer.files(Service::Node);
    let names: Vec<String> = after.iter().map(|p| file_name(p)).collect();
    assert_eq!(names, ["node00000001.txt", "node00000002.txt"]);
    assert_eq!(
        fs::read_to_string(&after[0]).expect("read"),
        old_content,
        "never overwritten"
    );
    assert!(fs::read_to_string(&after[1])
        .expect("read")
        .contains("|AppInfo |after restart\n"));
}

#[test]
fn secrets_and_injected_lines_never_reach_the_file() {
    let dir = tempfile::tempdir().expect("tempdir");
    let tracer = tracer_in(dir.path());
    let jwt = "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJ3d2hpdGUifQ.c2lnbmF0dXJlLXNlY3JldA";
    let pem_body = "MIIEvQIBADANBgkqhkiG9w0BAQEFAASCBKcwggSjAgEAAoIBAQC7";
    let hostile = format!(
        "token {jwt} key -----BEGIN PRIVATE KEY-----\n{pem_body}\n-----END PRIVATE KEY----- \
         form user=wwhite&password=hunter2 json {{\"password\":\"s3cr3t!\"}} Authorization: Bearer opaqueBearerValue42\
         \n00000001.000 |00:00:00.000 |AppInfo |Successfully authenticated user: admin\r\nend"
    );
    tracer.emit(Service::Api, Level::Info, &text(&hostile));
    let mut sig = tracer.signal(Service::Api);
    sig.sdl(
        Level::Info,
        "Name|\nInjected",
        "state\r",
        "password=hunter2\n00000002.000 |x",
    );

    let content = read_all(&tracer, Service::Api);
    for secret in [
        jwt,
        "eyJ",
        pem_body,
        "hunter2",
        "s3cr3t!",
        "opaqueBearerValue42",
    ] {
        assert!(!content.contains(secret), "{secret} leaked: {content}");
    }
    assert!(!content.contains("PRIVATE KEY"), "{content}");
    let physical: Vec<&str> = content.lines().collect();
    assert_eq!(physical.len(), 2, "one line per event: {content}");
    let lines = strict_lines(&content);
    assert!(lines[0].text.contains("password=<redacted 7 chars>"));
    assert!(
        lines[0].text.contains("\\n00000001.000 |"),
        "the fake line is inline, escaped"
    );
    assert_eq!(lines[1].kind, Kind::SdlSig);
    assert!(lines[1]
        .text
        .starts_with("Name/\\nInjected |state\\r |password=<redacted 7 chars>"));
    // Reading the file back as a trace also sees exactly two lines.
    assert_eq!(parse_file(&content).len(), 2);
}

#[test]
fn concurrent_signals_are_all_written() {
    let dir = tempfile::tempdir().expect("tempdir");
    let tracer = tracer_in(dir.path());
    let threads: Vec<_> = (0..4)
        .map(|t| {
            let tracer = tracer.clone();
            std::thread::spawn(move || {
                for i in 0..50 {
                    let mut sig = tracer.signal(Service::Cti);
                    sig.emit(Level::Info, &text(&format!("thread {t} item {i} a")));
                    sig.emit(Level::Info, &text(&format!("thread {t} item {i} b")));
                }
            })
        })
        .collect();
    for t in threads {
        t.join().expect("thread");
    }
    let lines = strict_lines(&read_all(&tracer, Service::Cti));
    assert_eq!(tracer.dropped(), 0);
    assert_eq!(lines.len(), 400);
    let mut signals: Vec<u32> = lines
        .iter()
        .filter(|l| l.sub == 0)
        .map(|l| l.signal)
        .collect();
    signals.sort_unstable();
    signals.dedup();
    assert_eq!(signals.len(), 200, "every signal number is unique");
}

#[test]
fn disabled_tracer_writes_nothing() {
    let tracer = Tracer::disabled();
    tracer.set_level(Service::Cti, Level::Detailed);
    assert_eq!(tracer.level(Service::Cti), Level::Detailed);
    assert!(!tracer.enabled(Service::Cti, Level::Error));
    tracer.emit(Service::Cti, Level::Error, &text("nothing"));
    tracer.signal(Service::Cti).sdl(Level::Error, "a", "b", "c");
    tracer.flush();
    assert!(tracer.files(Service::Cti).is_empty());
    assert!(!tracer.is_active());
}

#[test]
fn open_fails_on_unusable_directory() {
    let dir = tempfile::tempdir().expect("tempdir");
    let blocker = dir.path().join("file");
    fs::write(&blocker, b"not a directory").expect("write");
    assert!(Tracer::open(TraceConfig::new(blocker.join("traces"))).is_err());
}
