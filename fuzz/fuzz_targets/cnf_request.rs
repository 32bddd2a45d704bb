//! Fuzzes the config file service's request-path check: any target never panics; a refused
//! target is a 400 (a query, or anything but `/` and one name of safe characters: every escape,
//! separator and traversal) or a 404 (a safe name that is not a config file), nothing else;
//! whatever it accepts is exactly `/<device>.cnf.xml` with a safe device name (no separator,
//! no escape, no dot-led name, at most 64 characters in all); and the file generated for that
//! name reads back as XML naming the same device.
#![no_main]
use libfuzzer_sys::fuzz_target;
use switchboard_cnf::{
    device_config, parse_request_path, tree::Element, DeviceConfigInput, SUFFIX,
};
use switchboard_store::model::{SecurityMode, Transport};

fuzz_target!(|data: &[u8]| {
    let Ok(target) = std::str::from_utf8(data) else {
        return;
    };
    let (path, query) = match target.split_once('?') {
        Some((path, query)) => (path, Some(query)),
        None => (target, None),
    };
    let device = match parse_request_path(path, query) {
        Ok(device) => device,
        Err(e) => {
            let name = path.strip_prefix('/');
            let safe = query.is_none()
                && name.is_some_and(|n| {
                    n.len() <= switchboard_cnf::MAX_FILE_NAME_LEN
                        && n.bytes()
                            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-'))
                });
            match e.status() {
                // A safe name that is not `<device>.cnf.xml` with a non-empty device.
                404 => {
                    assert!(safe, "404 for an unsafe target {target:?}");
                    let n = name.unwrap_or_default();
                    assert!(
                        n.strip_suffix(SUFFIX).is_none_or(str::is_empty),
                        "{target:?}"
                    );
                }
                400 => {
                    let n = name.unwrap_or_default();
                    // Safe and a config file name: refused only for a dot-, dash- or
                    // underscore-led device.
                    if safe {
                        let device = n.strip_suffix(SUFFIX).expect("a safe 400 is a .cnf.xml");
                        assert!(!device.starts_with(|c: char| c.is_ascii_alphanumeric()));
                    }
                }
                status => panic!("status {status} for {target:?}"),
            }
            for escape in ["..", "\\", "%", "\0", "//"] {
                if path.contains(escape) && !(escape == ".." && safe) {
                    assert_eq!(e.status(), 400, "{target:?}");
                }
            }
            return;
        }
    };
    assert!(!device.contains(['/', '\\', '%', '\0']));
    assert!(query.is_none());
    assert_eq!(path, format!("/{device}{SUFFIX}"));
    assert!(path.len() <= 1 + switchboard_cnf::MAX_FILE_NAME_LEN);
    assert!(device.starts_with(|c: char| c.is_ascii_alphanumeric()));
    assert!(device
        .chars()
        .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-')));

    let input = DeviceConfigInput {
        device_name: device.to_string(),
        protocol: "SIP".into(),
        call_managers: Vec::new(),
        lines: Vec::new(),
        security_mode: SecurityMode::NonSecure,
        transport: Transport::Udp,
        encrypted_config: false,
        sip_oauth_mode: false,
        tls_resumption_seconds: 3600,
        owner: Some(target.to_string()),
        changed_at: 0,
    };
    let root = Element::parse(&device_config(&input)).expect("generated XML reads back");
    assert_eq!(
        root.attr("uuid"),
        Some(switchboard_cnf::device_uuid(device).as_str())
    );
    let owner: String = target
        .chars()
        .map(|c| {
            if c.is_control() || c == '\u{FFFE}' || c == '\u{FFFF}' {
                '\u{FFFD}'
            } else {
                c
            }
        })
        .collect();
    assert_eq!(root.text_at("userId"), Some(owner.trim()));
});
