//! End-to-end tests of the `switchboard` binary: `serve --demo` in a child process, then the
//! admin verbs from "another shell", as the README tells a user to.

use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

const BIN: &str = env!("CARGO_BIN_EXE_switchboard");

struct Served {
    child: Child,
    dir: tempfile::TempDir,
    stdout: std::sync::mpsc::Receiver<String>,
}

fn serve() -> Served {
    serve_with(&[
        "--https",
        "127.0.0.1:0",
        "--config-http",
        "127.0.0.1:0",
        "--sip-udp",
        "127.0.0.1:0",
        "--sip-tcp",
        "127.0.0.1:0",
        "--sip-tls",
        "127.0.0.1:0",
        "--sip-oauth",
        "127.0.0.1:0",
        "--sip-mra-oauth",
        "127.0.0.1:0",
        "--cti",
        "127.0.0.1:0",
        "--cti-tls",
        "127.0.0.1:0",
    ])
}

/// `serve --demo --node-name ucm1` with `sockets` (listen flags), in a fresh data directory.
fn serve_with(sockets: &[&str]) -> Served {
    let dir = tempfile::tempdir().unwrap();
    let mut child = Command::new(BIN)
        .args(["serve", "--demo", "--node-name", "ucm1"])
        .args(sockets)
        .arg("--data-dir")
        .arg(dir.path().join("data"))
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let (tx, rx) = std::sync::mpsc::channel();
    let out = child.stdout.take().unwrap();
    std::thread::spawn(move || {
        for line in BufReader::new(out).lines().map_while(Result::ok) {
            let _ = tx.send(line);
        }
    });
    let served = Served {
        child,
        dir,
        stdout: rx,
    };
    let deadline = Instant::now() + Duration::from_secs(60);
    while !served.data().join("node.url").exists() {
        assert!(Instant::now() < deadline, "the node did not start");
        std::thread::sleep(Duration::from_millis(50));
    }
    served
}

impl Served {
    fn data(&self) -> PathBuf {
        self.dir.path().join("data")
    }
    fn cli(&self, args: &[&str]) -> Output {
        cli_in(&self.data(), args, None)
    }
    fn ok(&self, args: &[&str]) -> String {
        let out = self.cli(args);
        assert!(
            out.status.success(),
            "{args:?} failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8(out.stdout).unwrap()
    }
    fn stdout_lines(&self) -> Vec<String> {
        self.stdout.try_iter().collect()
    }
}

fn cli_in(data: &Path, args: &[&str], stdin: Option<&str>) -> Output {
    let mut child = Command::new(BIN)
        .arg("--data-dir")
        .arg(data)
        .args(args)
        .env_remove("SWITCHBOARD_SERVER")
        .env_remove("SWITCHBOARD_TOKEN")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    if let Some(input) = stdin {
        child
            .stdin
            .take()
            .unwrap()
            .write_all(input.as_bytes())
            .unwrap();
    }
    drop(child.stdin.take());
    child.wait_with_output().unwrap()
}

fn stop(mut served: Served) -> Vec<String> {
    let pid = served.child.id().to_string();
    Command::new("kill").args(["-TERM", &pid]).status().unwrap();
    let status = served.child.wait().unwrap();
    assert!(status.success(), "serve exited with {status}");
    std::thread::sleep(Duration::from_millis(100));
    served.stdout_lines()
}

#[test]
fn the_readme_tour_works_against_a_running_node() {
    let node = serve();

    let out = node.ok(&["sip-oauth-mode", "enable"]);
    assert!(out.starts_with("SIP OAuth mode enabled."), "{out}");
    let out = node.ok(&[
        "sql",
        "select paramvalue from processconfig where paramname = 'ClusterSIPOAuthMode'",
    ]);
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(lines[0].trim(), "paramvalue");
    assert!(lines[1].chars().all(|c| c == '=' || c == '-') && !lines[1].is_empty());
    assert_eq!(lines[2].trim(), "1");
    assert_eq!(
        node.ok(&["sip-oauth-mode", "status"]).trim(),
        "SIP OAuth mode: enabled"
    );

    let url = std::fs::read_to_string(node.data().join("node.url")).unwrap();
    let port = url.trim().rsplit(':').next().unwrap().to_string();
    let out = node.ok(&["ports"]);
    assert!(out.contains(&format!("127.0.0.1:{port} (LISTEN)")), "{out}");
    assert!(out.contains("(LISTEN) config-http"), "{out}");
    assert!(
        out.contains("5090") && out.contains("5091"),
        "configured ports listed: {out}"
    );

    assert_eq!(node.ok(&["calls"]), "no live calls\n");
    assert_eq!(node.ok(&["--json", "calls"]).trim(), "[]");

    let out = node.ok(&["device", "list"]);
    assert!(
        out.contains("SEP001794625DE5") && out.contains("CSFwwhite"),
        "{out}"
    );
    let json: serde_json::Value =
        serde_json::from_str(&node.ok(&["--json", "device", "list"])).unwrap();
    assert_eq!(json.as_array().unwrap().len(), 2);

    // A user created with the password on stdin.
    let out = cli_in(
        &node.data(),
        &[
            "user",
            "add",
            "jpinkman",
            "--password-stdin",
            "--cti-enabled",
            "true",
        ],
        Some("Yo-Science-42\n"),
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let user: serde_json::Value =
        serde_json::from_str(&node.ok(&["--json", "user", "show", "jpinkman"])).unwrap();
    assert_eq!(
        (
            user["has_password"].as_bool(),
            user["cti_enabled"].as_bool()
        ),
        (Some(true), Some(true))
    );

    // Bad input: a clear error, exit status 1, nothing changed.
    let out = node.cli(&["node", "set", "ucm1", "--port", "sip_oauth=80"]);
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("ports.sip_oauth") && err.contains("1024"),
        "{err}"
    );
    let shown: serde_json::Value =
        serde_json::from_str(&node.ok(&["--json", "node", "show", "ucm1"])).unwrap();
    assert_eq!(shown["ports"]["sip_oauth"], 5090);
    let out = node.cli(&["sql", "delete from enduser"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("SELECT"));
    let out = node.cli(&[
        "profile",
        "set",
        "Cisco Unified Client Services Framework - OAuth auth",
        "--digest-auth",
        "true",
    ]);
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("digest"));
    assert_eq!(
        node.ok(&["--json", "user", "list"])
            .matches("\"userid\"")
            .count(),
        2
    );

    // The trace level changes live.
    assert!(node
        .ok(&["trace", "level", "cti", "debug"])
        .contains("debug"));
    assert!(node
        .ok(&["trace", "levels"])
        .lines()
        .any(|l| l.contains("cti") && l.contains("debug")));

    let printed = stop(node);
    let all = printed.join("\n");
    assert!(all.contains("Administrator account created"), "{all}");
    assert!(all.contains("wwhite") && all.contains("Stopping"), "{all}");
}

/// An external issuer's public keys (EC P-256).
const IDP_JWKS: &str = r#"{"keys":[{"kty":"EC","crv":"P-256","kid":"idp-key-1","x":"Iy3tEV7ci5sYqs4Z6ZB5LkXDI74KeP8zLhR0BxRqx-s","y":"ju8CSQz-Dk7E7RgGfMzw67hNOl0I5fpEO5-ZdOD54vA"}]}"#;

#[test]
fn oauth_verbs_against_a_running_node() {
    let node = serve();
    let data = node.data();
    let credentials = std::fs::read_to_string(data.join("demo-credentials.txt")).unwrap();
    let password = credentials
        .lines()
        .find_map(|l| l.strip_prefix("wwhite "))
        .unwrap()
        .to_string();

    // oauth token: the password on stdin, the token response on stdout.
    let out = cli_in(
        &data,
        &[
            "oauth",
            "token",
            "--user",
            "wwhite",
            "--device",
            "CSFwwhite",
            "--password-stdin",
        ],
        Some(&format!("{password}\n")),
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let answer: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(answer["token_type"], "Bearer");
    assert_eq!(answer["scope"], "sip cti");
    assert!(answer["refresh_token"]
        .as_str()
        .unwrap()
        .starts_with("sbr_"));
    let out = cli_in(
        &data,
        &[
            "oauth",
            "token",
            "--user",
            "wwhite",
            "--password-stdin",
            "--access-token-only",
        ],
        Some(&format!("{password}\n")),
    );
    let jwt = String::from_utf8(out.stdout).unwrap();
    assert_eq!(jwt.trim().split('.').count(), 3, "{jwt}");
    let out = cli_in(
        &data,
        &["oauth", "token", "--user", "wwhite", "--password-stdin"],
        Some("wrong-password\n"),
    );
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("wrong user name or password"));
    // Without a terminal and without --password-stdin: a usage error, nothing sent.
    let out = cli_in(&data, &["oauth", "token", "--user", "wwhite"], None);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("--password-stdin"));

    // Keys and their rotation.
    let keys = node.ok(&["oauth", "keys"]);
    assert_eq!(keys.lines().count(), 3, "{keys}");
    assert!(keys.lines().nth(2).unwrap().contains(" signing "), "{keys}");
    let rotated = node.ok(&["oauth", "rotate-key"]);
    assert!(rotated.contains("status      signing"), "{rotated}");
    let keys = node.ok(&["oauth", "keys"]);
    assert!(
        keys.contains(" signing ") && keys.contains(" verifying "),
        "{keys}"
    );
    let json: serde_json::Value =
        serde_json::from_str(&node.ok(&["--json", "oauth", "keys"])).unwrap();
    assert_eq!(json.as_array().unwrap().len(), 2);

    // External issuers.
    let jwks = data.join("idp-jwks.json");
    std::fs::write(&jwks, IDP_JWKS).unwrap();
    let out = node.ok(&[
        "oauth",
        "issuer",
        "add",
        "https://idp.example.com",
        "--jwks-file",
        jwks.to_str().unwrap(),
        "--audience",
        "ucm",
    ]);
    assert!(
        out.contains("Tokens of https://idp.example.com are accepted now (1 keys)."),
        "{out}"
    );
    let list = node.ok(&["oauth", "issuer", "list"]);
    assert!(
        list.contains("https://idp.example.com  ucm       idp-key-1"),
        "{list}"
    );
    std::fs::write(
        &jwks,
        r#"{"keys":[{"kty":"oct","kid":"k","k":"c2VjcmV0"}]}"#,
    )
    .unwrap();
    let out = node.cli(&[
        "oauth",
        "issuer",
        "add",
        "https://idp2.example.com",
        "--jwks-file",
        jwks.to_str().unwrap(),
    ]);
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("jwks.keys[0].kty"));
    node.ok(&["oauth", "issuer", "remove", "https://idp.example.com"]);
    assert_eq!(node.ok(&["oauth", "issuer", "list"]).lines().count(), 2);
    let out = node.cli(&["oauth", "issuer", "remove", "https://idp.example.com"]);
    assert_eq!(out.status.code(), Some(1));

    let clients = node.ok(&["oauth", "clients"]);
    assert!(
        clients.contains("cisco-phone") && clients.contains("jabber"),
        "{clients}"
    );

    // Revoke-all.
    let out = node.ok(&["oauth", "revoke", "--user", "wwhite"]);
    assert!(
        out.starts_with("Every OAuth token of wwhite is revoked (2 refresh-token families)."),
        "{out}"
    );
    let out = node.cli(&["oauth", "revoke", "--user", "nobody"]);
    assert_eq!(out.status.code(), Some(1));
    let audit = node.ok(&["audit", "--limit", "10"]);
    assert!(
        audit.contains("revoke-all") && audit.contains("rotate"),
        "{audit}"
    );
    stop(node);
}

#[test]
fn without_a_node_the_cli_says_how_to_start_one() {
    let dir = tempfile::tempdir().unwrap();
    let out = cli_in(&dir.path().join("none"), &["device", "list"], None);
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("switchboard serve"), "{err}");
}

#[test]
fn serve_refuses_a_config_with_an_unknown_key() {
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("node.toml");
    std::fs::write(&config, "node_name = 'ucm1'\n[listen]\nhttps_port = 1\n").unwrap();
    let out = Command::new(BIN)
        .args(["serve", "--config"])
        .arg(&config)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("unknown field `https_port`"), "{err}");
}

#[test]
fn verify_sip_oauth_names_each_failure_and_its_fix_then_passes() {
    // The OAuth ports follow the node's configuration (5090/5091) on a loopback address of
    // their own; the other sockets are ephemeral.
    let node = serve_with(&[
        "--listen",
        "127.0.0.4",
        "--https",
        "127.0.0.1:0",
        "--config-http",
        "127.0.0.1:0",
        "--sip-udp",
        "127.0.0.1:0",
        "--sip-tcp",
        "127.0.0.1:0",
        "--sip-tls",
        "127.0.0.1:0",
    ]);
    let out = node.cli(&["verify", "sip-oauth"]);
    let text = String::from_utf8_lossy(&out.stdout).to_string();
    assert_eq!(out.status.code(), Some(1), "{text}");
    for line in [
        "FAIL  Cluster SIP OAuth mode: ClusterSIPOAuthMode = 0",
        "      fix: switchboard sip-oauth-mode enable",
        "FAIL  Edge-proxy (Expressway-C) entries: none",
        "PASS  SIP OAuth port on ucm1: listening on 127.0.0.4:5090 (configured 5090)",
        "PASS  SIP MRA OAuth port on ucm1: listening on 127.0.0.4:5091 (configured 5091)",
        "PASS  Device CSFwwhite (Cisco Unified Client Services Framework - OAuth auth): OAuth over TLS, owner wwhite",
        "FAIL  Trust store (tomcat-trust) for the MRA port: empty",
    ] {
        assert!(text.contains(line), "missing {line:?} in:\n{text}");
    }
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("3 of "),
        "{out:?}"
    );

    // Apply the fixes it names; then every check passes.
    assert!(node.cli(&["sip-oauth-mode", "enable"]).status.success());
    assert!(node
        .cli(&[
            "expressway",
            "add",
            "10.0.0.7",
            "--names",
            "expc1.example.com"
        ])
        .status
        .success());
    let ca = node.dir.path().join("edge-ca.pem");
    std::fs::copy(node.data().join("certs/tomcat.pem"), &ca).unwrap();
    let imported = node.cli(&["cert", "trust-import", ca.to_str().unwrap()]);
    assert!(imported.status.success(), "{imported:?}");
    let out = node.cli(&["verify", "sip-oauth"]);
    let text = String::from_utf8_lossy(&out.stdout).to_string();
    assert!(out.status.success(), "{text}");
    assert!(
        text.contains("PASS  Edge-proxy (Expressway-C) entries: 10.0.0.7 [expc1.example.com]"),
        "{text}"
    );
    assert!(!text.contains("FAIL"), "{text}");
    stop(node);
}

/// `switchboard ldap set / servers / test` and an OAuth login of an LDAP user, against the
/// real Samba AD of `scripts/test-ad.sh` (skipped, loudly, without it).
#[test]
fn ldap_verbs_and_an_ldap_login_against_a_real_ad() {
    let Ok(ad) = std::env::var("SWITCHBOARD_TEST_AD") else {
        eprintln!(
            "\n!!!!! SKIPPED ldap_verbs_and_an_ldap_login_against_a_real_ad: SWITCHBOARD_TEST_AD \
             is not set; run ./scripts/test.sh !!!!!\n"
        );
        return;
    };
    const PW: &str = "Heisenberg-8";
    let node = serve();
    let data = node.data();
    let server = format!("{ad}:3268:plain");
    let out = cli_in(
        &data,
        &[
            "ldap",
            "set",
            "--enabled",
            "true",
            "--ldap-server",
            &server,
            "--service-dn",
            "Administrator@joshlab.net",
            "--service-password-stdin",
            "--search-base",
            "OU=Breaking Bad,DC=joshlab,DC=net",
        ],
        Some("Adm1n-Pass!\n"),
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let servers = node.ok(&["ldap", "servers"]);
    assert!(
        servers.contains(&ad) && servers.contains("3268") && servers.contains("plain"),
        "{servers}"
    );

    let out = cli_in(&data, &["ldap", "test", "wwhite"], Some(&format!("{PW}\n")));
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{text}");
    for line in [
        "LDAP login test for 'wwhite'",
        &format!("Authenticating with SSL not enabled (ldap://{ad}:3268)"),
        "LDAP authentication bind SUCCESS for Administrator@joshlab.net",
        "Got DN: CN=Walter White,OU=Breaking Bad,DC=joshlab,DC=net",
        "SUCCESS: authenticated as CN=Walter White,OU=Breaking Bad,DC=joshlab,DC=net",
    ] {
        assert!(text.contains(line), "`{line}` missing from:\n{text}");
    }
    assert!(!text.contains(PW));
    let out = cli_in(&data, &["ldap", "test", "lalo"], Some("wrong-password\n"));
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stdout).contains("FAILED (wrong_password)"));
    let out = cli_in(&data, &["ldap", "test", "wwhite"], Some("\n"));
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stdout).contains("FAILED (empty_password)"));

    // An LDAP user gets OAuth tokens with the directory password.
    node.ok(&["user", "add", "jpinkman", "--source", "ldap"]);
    let token = |password: &str| {
        cli_in(
            &data,
            &[
                "oauth",
                "token",
                "--user",
                "jpinkman",
                "--password-stdin",
                "--access-token-only",
            ],
            Some(&format!("{password}\n")),
        )
    };
    let out = token(PW);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(
        String::from_utf8_lossy(&out.stdout)
            .trim()
            .split('.')
            .count(),
        3
    );
    let out = token("wrong-password");
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("wrong user name or password"));
    stop(node);
}

#[test]
fn the_cti_console_opens_a_provider_and_a_device_then_quits() {
    let node = serve();
    let creds = std::fs::read_to_string(node.data().join("demo-credentials.txt")).unwrap();
    let password = creds
        .lines()
        .find_map(|l| l.strip_prefix("wwhite "))
        .unwrap()
        .to_string();
    // Over the plain port (the password sealed), found through the node's API.
    let out = cli_in(
        &node.data(),
        &[
            "cti",
            "--user",
            "wwhite",
            "--device",
            "SEP001794625DE5",
            "--password-stdin",
        ],
        Some(&format!(
            "{password}\nline 1 1001\nmakecall SEP001794625DE5 1002\ndtmf 5 12X DH=1\n\
             answer 5\nquit\n"
        )),
    );
    let text = String::from_utf8_lossy(&out.stdout).to_string();
    assert!(
        out.status.success(),
        "{text}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    for step in [
        "← ProviderOpenResponse",
        "→ ProviderAuthenticateRequest",
        "← ProviderOpenCompletedEvent",
        "← DeviceOpenResponse seq=3 DH=1 SEP001794625DE5",
        "← LineOpenResponse",
        // Call commands: the deskphone is not registered; the digits are not DTMF.
        "→ MakeCallRequest seq=5 DH=1 destination=1002",
        "← ErrorResponse seq=5 CTIERR_DEVICE_OUT_OF_SERVICE",
        "→ SendDtmfRequest seq=6 DH=1 call=5 digits=12X",
        "← ErrorResponse seq=6 CTIERR_INVALID_DTMFDIGITS",
        "← ProviderCloseResponse",
    ] {
        assert!(text.contains(step), "missing {step}:\n{text}");
    }
    assert!(text.contains("filter=device_state,call_state"), "{text}");
    // A call the console has not seen on an open device: said so, nothing sent.
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("call 5 is not on an open device"), "{err}");
    assert!(!text.contains(&password));
    // Over TLS, with a wrong password: the error name and a failing exit code.
    let out = cli_in(
        &node.data(),
        &["cti", "--user", "wwhite", "--tls", "--password-stdin"],
        Some("not-the-password\n"),
    );
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("DIRECTORY_LOGIN_FAILED"), "{err}");
    stop(node);
}
