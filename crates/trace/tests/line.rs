//! Format/parse tests: round trips of real CUCM lines, rejection of malformed
//! lines without panics, and folding of continuation lines in `parse_file`.

use switchboard_trace::{format_line, parse_file, parse_line, Kind, ParseError, Time, TraceLine};

/// The seed excerpt, verbatim.
const SEED: [&str; 4] = [
    "00895261.043 |08:59:17.149 |AppInfo |Authenticating with SSL not enabled (ldap://10.10.10.10:3268)",
    "00895256.000 |08:59:16.944 |SdlSig |CtiProviderOpenReq |init_complete_await_provopen |CTIHandler(1,200,22,7) |CTIHandler(1,200,22,7) |1,200,13,8.3^^^* |[R:N-H:0,N:0,L:0,V:0,Z:0,D:0] Async Response=2 ...",
    "00895261.010 |08:59:17.067 |AppInfo |AuthenticationImpl::login:enter",
    "00895261.016 |08:59:17.067 |AppInfo |Credential Length is: 8",
];

/// Further real CUCM lines: leading spaces in the text, `|` inside texts, empty text.
const MORE: [&str; 4] = [
    "00895264.000 |08:59:17.172 |SdlSig | CtiUserSettingsRes |verifying |CTIHandler(1,200,22,7) |CTIDbAccess(1,200,26,1) |1,200,13,8.3^*^* |[R:N-H:0,N:0,L:0,V:0,Z:0,D:0] SuperProvider = Disabled CallParkRetrievalAllowed = Disabled ModifyCallingNumber = Disabled CTI Enabled = Enabled CallMonitor=Disabled CallRecord=Disabled Userid = wwhite result=0",
    "00895261.004 |08:59:17.067 |AppInfo | Decrypted Key Status success - [52]",
    "00895336.003 |08:59:17.343 |AppInfo |[CTI-APP] [CTIHandler::OutputCtiMessage ] CTI DeviceInServiceEvent ( DH=1|38 ) Encoding Type=3",
    "00895256.001 |08:59:16.944 |AppInfo |",
];

#[test]
fn seed_lines_round_trip_verbatim() {
    for line in SEED.iter().chain(MORE.iter()) {
        let parsed = parse_line(line).unwrap_or_else(|e| panic!("{line}: {e}"));
        assert_eq!(format_line(&parsed), *line);
        assert_eq!(parsed.to_string(), *line);
    }
}

#[test]
fn seed_fields_are_parsed() {
    let l = parse_line(SEED[0]).expect("seed line parses");
    assert_eq!(l.signal, 895261);
    assert_eq!(l.sub, 43);
    assert_eq!(
        l.time,
        Time::from_hms_milli(8, 59, 17, 149).expect("valid time")
    );
    assert_eq!(l.kind, Kind::AppInfo);
    assert_eq!(
        l.text,
        "Authenticating with SSL not enabled (ldap://10.10.10.10:3268)"
    );
    let s = parse_line(SEED[1]).expect("sdl line parses");
    assert_eq!(s.kind, Kind::SdlSig);
    assert!(s
        .text
        .starts_with("CtiProviderOpenReq |init_complete_await_provopen |"));
}

#[test]
fn every_prefix_is_handled_without_panic() {
    // Multi-byte characters in the text exercise char-boundary handling too.
    let full = "00895261.016 |08:59:17.067 |AppInfo |Credential Länge ist: 8 ✓";
    let text_start = full.find("|AppInfo |").expect("kind present") + "|AppInfo |".len();
    for cut in 0..=full.len() {
        let Some(prefix) = full.get(..cut) else {
            continue;
        };
        let result = parse_line(prefix);
        if cut < text_start {
            assert!(result.is_err(), "prefix {prefix:?} must be rejected");
        } else {
            let line = result.unwrap_or_else(|e| panic!("prefix {prefix:?}: {e}"));
            assert_eq!(format_line(&line), prefix);
        }
    }
    // Byte-level truncation of a mangled line must not panic either.
    let bytes = full.as_bytes();
    for cut in 0..bytes.len() {
        let lossy = String::from_utf8_lossy(&bytes[..cut]);
        let _ = parse_line(&lossy);
    }
}

#[test]
fn malformed_lines_are_rejected() {
    let bad = [
        ("", ParseError::SignalNumber),
        (
            "0089526.016 |08:59:17.067 |AppInfo |x",
            ParseError::SignalNumber,
        ),
        (
            "0089526a.016 |08:59:17.067 |AppInfo |x",
            ParseError::SignalNumber,
        ),
        (
            "00895261,016 |08:59:17.067 |AppInfo |x",
            ParseError::SignalNumber,
        ),
        (
            "ééééééééé.016 |08:59:17.067 |AppInfo |x",
            ParseError::SignalNumber,
        ),
        (
            "00895261.16 |08:59:17.067 |AppInfo |x",
            ParseError::SubIndex,
        ),
        (
            "00895261.0016 |08:59:17.067 |AppInfo |x",
            ParseError::SubIndex,
        ),
        (
            "00895261.65536 |08:59:17.067 |AppInfo |x",
            ParseError::SubIndex,
        ),
        (
            "00895261.123456 |08:59:17.067 |AppInfo |x",
            ParseError::SubIndex,
        ),
        (
            "00895261.016|08:59:17.067 |AppInfo |x",
            ParseError::Separator(12),
        ),
        ("00895261.016 |25:59:17.067 |AppInfo |x", ParseError::Time),
        ("00895261.016 |08:60:17.067 |AppInfo |x", ParseError::Time),
        ("00895261.016 |08:59:17,067 |AppInfo |x", ParseError::Time),
        ("00895261.016 |8:59:17.067 |AppInfo |x", ParseError::Time),
        (
            "00895261.016 |08:59:17.067|AppInfo |x",
            ParseError::Separator(26),
        ),
        (
            "00895261.016 |08:59:17.067 |SdlStat |x",
            ParseError::Kind("SdlStat".into()),
        ),
        (
            "00895261.016 |08:59:17.067 |AppInfo",
            ParseError::Separator(35),
        ),
        (
            "00895261.016 |08:59:17.067 |AppInfo |x\nfake",
            ParseError::LineFeed,
        ),
    ];
    for (line, want) in bad {
        assert_eq!(parse_line(line), Err(want), "line {line:?}");
    }
}

#[test]
fn sub_index_past_999_round_trips() {
    let line = TraceLine {
        signal: 7,
        sub: 1000,
        time: Time::from_hms_milli(23, 59, 59, 999).expect("valid time"),
        kind: Kind::AppInfo,
        text: "x".into(),
    };
    let s = format_line(&line);
    assert_eq!(s, "00000007.1000 |23:59:59.999 |AppInfo |x");
    assert_eq!(parse_line(&s), Ok(line));
    assert!(parse_line("00000007.65535 |23:59:59.999 |AppInfo |x").is_ok());
}

#[test]
fn parse_file_folds_continuation_lines() {
    let content = "junk before the first line\r\n\
        00895261.037 |08:59:17.149 |AppInfo |authenticationUtils::escapeLDAPSpecialCharsForFilter():enter\r\n\
        00895261.038 |08:59:17.149 |AppInfo |\r\n\
        After Escaping for LDAP special Characters for Filter = wwhite\r\n\
        \r\n\
        00895261.039 |08:59:17.149 |AppInfo |first part\n\
        second part\n\
        00895261.040 |08:59:17.149 |SdlStat |unknown kind is skipped\n\
        with its continuation\n\
        00895261.041 |08:59:17.149 |AppInfo |LDAP not initialized...connecting...\n";
    let lines = parse_file(content);
    let texts: Vec<&str> = lines.iter().map(|l| l.text.as_str()).collect();
    assert_eq!(
        texts,
        [
            "authenticationUtils::escapeLDAPSpecialCharsForFilter():enter",
            "After Escaping for LDAP special Characters for Filter = wwhite",
            "first part second part",
            "LDAP not initialized...connecting...",
        ]
    );
    assert_eq!(
        lines.iter().map(|l| l.sub).collect::<Vec<_>>(),
        [37, 38, 39, 41]
    );
    assert!(parse_file("").is_empty());
}

/// A deterministic stand-in for the fuzz target: mutated seed lines either
/// parse and format back to themselves, or are rejected; nothing panics.
#[test]
fn mutated_lines_round_trip_or_fail_cleanly() {
    let alphabet: Vec<char> = "0123456789 |:.ASdlIgnfoé\n\r\u{202e}x".chars().collect();
    let mut state: u64 = 0x9E37_79B9_7F4A_7C15;
    let mut next = move |n: usize| {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        (state % n as u64) as usize
    };
    let (mut accepted, mut rejected) = (0, 0);
    for round in 0..20_000 {
        let seed = SEED
            .iter()
            .chain(MORE.iter())
            .nth(round % 8)
            .expect("8 seeds");
        let mut chars: Vec<char> = seed.chars().collect();
        for _ in 0..=next(3) {
            let at = next(chars.len().min(40));
            match next(3) {
                0 => chars[at] = alphabet[next(alphabet.len())],
                1 => chars.insert(at, alphabet[next(alphabet.len())]),
                _ => {
                    chars.remove(at);
                }
            }
        }
        let input: String = chars.into_iter().collect();
        match parse_line(&input) {
            Ok(line) => {
                accepted += 1;
                assert_eq!(format_line(&line), input);
            }
            Err(_) => rejected += 1,
        }
        let _ = parse_file(&input);
        let clean = switchboard_trace::sanitize(&input);
        assert!(!clean.contains('\n') && !clean.contains('\r'));
    }
    assert!(
        accepted > 1000 && rejected > 1000,
        "{accepted} accepted, {rejected} rejected"
    );
}
