//! Calls through the back-to-back user agent beyond the basic call (`sip.rs` has those): hold
//! and resume by re-INVITE, INFO DTMF and UPDATE relayed (also in the early dialog), session
//! timers, parallel ringing, a
//! call over TCP, a body that is not valid SDP, and call control driving the real phones
//! (`PhoneControl`: third-party make call, hold, retrieve, DTMF, drop, transfers). A node is booted
//! in-process on loopback; every phone is a SIPp scenario (`tests/sipp/`) on its own port.

use std::io::Write;
use std::net::SocketAddr;
use std::path::Path;
use std::process::Command;
use std::time::Duration;

use serde_json::json;
use switchboard_callctl::{CallEvent, Cause, ControlError, LegState, Side};
mod common;

use common::{boot, free_local_port, scenario, Node};

// ---- the helpers of sip.rs (a node, SIPp runs) -----------------------------------------------

impl Node {
    fn traces(&self) -> String {
        self.traces_of(switchboard_trace::Service::Sip)
    }
}

fn auth(device: &str, password: &str) -> String {
    format!("{device};[authentication username={device} password={password}]")
}

/// One SIPp run: a scenario file (with `replace` substitutions), client mode toward `server`
/// or server mode (a phone waiting for a call), over UDP or TCP from `port`, with `-key`s and
/// an injection CSV. Messages are logged to `<dir>/messages.log`.
struct Sipp<'a> {
    file: &'a str,
    server: Option<SocketAddr>,
    port: u16,
    tcp: bool,
    keys: Vec<(&'a str, String)>,
    replace: Vec<(&'a str, &'a str)>,
    csv: Vec<String>,
    calls: u32,
}

impl<'a> Sipp<'a> {
    fn new(file: &'a str, port: u16) -> Sipp<'a> {
        Sipp {
            file,
            server: None,
            port,
            tcp: false,
            keys: Vec::new(),
            replace: Vec::new(),
            csv: Vec::new(),
            calls: 1,
        }
    }
    fn to(mut self, server: SocketAddr) -> Self {
        self.server = Some(server);
        self
    }
    fn key(mut self, k: &'a str, v: &str) -> Self {
        self.keys.push((k, v.to_string()));
        self
    }
    fn spawn(self, dir: &Path) -> std::process::Child {
        let mut text = std::fs::read_to_string(scenario(self.file)).unwrap();
        for (from, to) in &self.replace {
            text = text.replace(from, to);
        }
        let file = dir.join(self.file);
        std::fs::write(&file, text).unwrap();
        let mut cmd = Command::new("timeout");
        cmd.arg("45").arg("sipp");
        if let Some(server) = self.server {
            cmd.arg(server.to_string());
        }
        if !self.csv.is_empty() {
            let csv_path = dir.join("devices.csv");
            let mut f = std::fs::File::create(&csv_path).unwrap();
            writeln!(f, "SEQUENTIAL").unwrap();
            for line in &self.csv {
                writeln!(f, "{line}").unwrap();
            }
            cmd.arg("-inf").arg(&csv_path);
        }
        let (t, tp, ctp) = if self.tcp {
            ("t1", "TCP", "tcp")
        } else {
            ("u1", "UDP", "udp")
        };
        cmd.arg("-sf").arg(&file).args([
            "-m",
            &self.calls.to_string(),
            "-t",
            t,
            "-i",
            "127.0.0.1",
            "-p",
            &self.port.to_string(),
            "-timeout",
            "35",
            "-timeout_error",
            "-nostdin",
            "-trace_msg",
            "-message_file",
            "messages.log",
            "-trace_err",
            "-error_file",
            "errors.log",
            "-key",
            "tp",
            tp,
            "-key",
            "ctp",
            ctp,
            "-key",
            "expires",
            "3600",
        ]);
        for (k, v) in &self.keys {
            cmd.args(["-key", k, v]);
        }
        cmd.current_dir(dir)
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .expect("SIPp is needed (Debian package sip-tester)")
    }
}

/// Waits for a SIPp run: whether it succeeded, and its output, errors and message log.
fn finish(child: std::process::Child, dir: &Path) -> (bool, String) {
    let out = child.wait_with_output().unwrap();
    let read = |f: &str| std::fs::read_to_string(dir.join(f)).unwrap_or_default();
    (
        out.status.success(),
        format!(
            "{}{}{}\n--- messages ---\n{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr),
            read("errors.log"),
            read("messages.log")
        ),
    )
}

/// The bodies of the messages in a SIPp message log whose first line starts with `start`.
fn logged_bodies(log: &str, start: &str) -> Vec<String> {
    let mut found = Vec::new();
    let mut rest = log;
    while let Some(at) = rest.find(&format!("\n{start}")) {
        let message = &rest[at + 1..];
        let end = message.find("\n----------").unwrap_or(message.len());
        let m = &message[..end];
        if let Some(sep) = m
            .find("\r\n\r\n")
            .map(|i| i + 4)
            .or_else(|| m.find("\n\n").map(|i| i + 2))
        {
            found.push(m[sep..].trim_end().to_string());
        }
        rest = &message[end..];
    }
    found
}

// ---- the lab -----------------------------------------------------------------------------------

const CALLER: &str = "SEP001794625DE5";
const CALLEE: &str = "SEP00AABBCCDDEE";
const CALLEE2: &str = "SEP00AABBCCDD02";
const PASSWORD: &str = "Callee-Digest-42";

/// Line 1002 with `callees` deskphones on it (created through the API), and the demo's
/// deskphone on 1001. Registers the caller and every callee over UDP from its own port:
/// (caller port, callee ports).
async fn lab(n: &Node, callees: &[&str]) -> (u16, Vec<u16>) {
    n.api(
        reqwest::Method::POST,
        "/api/lines",
        Some(json!({"dn": "1002"})),
    )
    .await;
    for name in callees {
        n.api(
            reqwest::Method::POST,
            "/api/devices",
            Some(json!({
                "name": name, "product": "Cisco 8841", "device_class": "deskphone",
                "owner": "wwhite", "security_profile": "Cisco 8841 - Standard SIP Digest Profile",
                "digest_password": PASSWORD,
                "lines": [{"index": 1, "dn": "1002"}]
            })),
        )
        .await;
    }
    let caller_port = free_local_port();
    register(n, CALLER, &n.demo_password(CALLER), caller_port).await;
    let mut ports = Vec::new();
    for name in callees {
        let port = free_local_port();
        register(n, name, PASSWORD, port).await;
        ports.push(port);
    }
    (caller_port, ports)
}

async fn register(n: &Node, device: &str, password: &str, port: u16) {
    let dir = tempfile::tempdir().unwrap();
    let mut s = Sipp::new("reg_digest.xml", port).to(n.sip("udp"));
    s.csv = vec![auth(device, password)];
    let (ok, out) = tokio::task::block_in_place(|| finish(s.spawn(dir.path()), dir.path()));
    assert!(ok, "{device} registration failed:\n{out}");
}

/// Runs callee scenarios (server mode) in the background, then the caller's scenario: the
/// caller's result, then each callee's.
fn run_call(
    n: &Node,
    caller: Sipp<'_>,
    callees: Vec<Sipp<'_>>,
) -> ((bool, String), Vec<(bool, String)>) {
    let dirs: Vec<tempfile::TempDir> = callees
        .iter()
        .map(|_| tempfile::tempdir().unwrap())
        .collect();
    let children: Vec<std::process::Child> = callees
        .into_iter()
        .zip(&dirs)
        .map(|(s, d)| s.spawn(d.path()))
        .collect();
    std::thread::sleep(Duration::from_millis(500));
    let uac_dir = tempfile::tempdir().unwrap();
    let uac = caller
        .to(n.sip("udp"))
        .key("me", "1001")
        .spawn(uac_dir.path());
    let uac = finish(uac, uac_dir.path());
    let uas = children
        .into_iter()
        .zip(&dirs)
        .map(|(c, d)| finish(c, d.path()))
        .collect();
    (uac, uas)
}

/// Every call event received so far.
fn drain(rx: &mut tokio::sync::broadcast::Receiver<CallEvent>) -> Vec<CallEvent> {
    let mut seen = Vec::new();
    while let Ok(e) = rx.try_recv() {
        seen.push(e);
    }
    seen
}

/// The leg changes of the events: (side, from, to, cause).
fn changes(seen: &[CallEvent]) -> Vec<(Side, LegState, LegState, Option<Cause>)> {
    seen.iter()
        .filter_map(|e| match e {
            CallEvent::StateChanged {
                side,
                from,
                to,
                cause,
                ..
            } => Some((*side, *from, *to, *cause)),
            _ => None,
        })
        .collect()
}

// ---- the tests ---------------------------------------------------------------------------------

#[tokio::test(flavor = "multi_thread")]
async fn hold_resume_info_dtmf_and_update_are_relayed_between_the_legs() {
    let n = boot().await;
    let (caller_port, callee_ports) = lab(&n, &[CALLEE]).await;
    let mut events = n.node.state.callctl.calls().subscribe();
    let ((ok, uac), uas) = tokio::task::block_in_place(|| {
        run_call(
            &n,
            Sipp::new("call_uac_midcall.xml", caller_port).key("dialed", "1002"),
            vec![Sipp::new("call_uas_midcall.xml", callee_ports[0])],
        )
    });
    let (uas_ok, uas) = &uas[0];
    assert!(ok, "caller:\n{uac}\ncallee:\n{uas}");
    assert!(uas_ok, "callee:\n{uas}\ncaller:\n{uac}");
    // Every body crossed byte for byte: the re-INVITEs, the INFO, the UPDATE, and back.
    let sent = logged_bodies(&uac, "INVITE sip:");
    let received = logged_bodies(uas, "INVITE sip:");
    assert_eq!(sent.len(), 3, "{uac}");
    assert_eq!(sent, received);
    assert!(sent[1].contains("a=sendonly"), "{}", sent[1]);
    assert_eq!(
        logged_bodies(&uac, "INFO "),
        logged_bodies(uas, "INFO "),
        "{uas}"
    );
    assert_eq!(
        logged_bodies(&uac, "UPDATE "),
        logged_bodies(uas, "UPDATE ")
    );
    let answers = logged_bodies(uas, "SIP/2.0 200 OK");
    let relayed = logged_bodies(&uac, "SIP/2.0 200 OK");
    assert!(relayed.iter().any(|b| b.contains("a=recvonly")), "{uac}");
    for a in answers.iter().filter(|b| !b.is_empty()) {
        assert!(relayed.contains(a), "{a} not relayed:\n{uac}");
    }
    // The re-INVITE on the callee's side is the node's own: another Call-ID than the caller's.
    let call_id = |log: &str| {
        log.lines()
            .find(|l| l.starts_with("Call-ID:"))
            .map(str::to_string)
    };
    assert_ne!(call_id(&uac), call_id(uas));

    use LegState::*;
    let seen = drain(&mut events);
    assert_eq!(
        changes(&seen),
        vec![
            (Side::Caller, Idle, Offering, None),
            (Side::Callee, Idle, Offering, None),
            (Side::Callee, Offering, Ringing, None),
            (Side::Caller, Offering, Ringing, None),
            (Side::Callee, Ringing, Connected, None),
            (Side::Caller, Ringing, Connected, None),
            (Side::Caller, Connected, Held, None),
            (Side::Caller, Held, Connected, None),
            (Side::Caller, Connected, Disconnected, Some(Cause::Normal)),
            (Side::Callee, Connected, Disconnected, Some(Cause::Normal)),
        ],
        "{seen:?}"
    );
    let traces = n.traces();
    assert!(traces.contains("INFO relayed from the caller"), "{traces}");
    assert!(traces.contains("caller side on hold"), "{traces}");
    n.node.shutdown().await.unwrap();
}

#[tokio::test(flavor = "multi_thread")]
async fn update_and_info_in_the_early_dialog_are_relayed_to_the_ringing_phone() {
    let n = boot().await;
    let (caller_port, callee_ports) = lab(&n, &[CALLEE]).await;
    let mut events = n.node.state.callctl.calls().subscribe();
    let ((ok, uac), uas) = tokio::task::block_in_place(|| {
        run_call(
            &n,
            Sipp::new("call_uac_early_update.xml", caller_port).key("dialed", "1002"),
            vec![Sipp::new("call_uas_early_update.xml", callee_ports[0])],
        )
    });
    let (uas_ok, uas) = &uas[0];
    assert!(ok, "caller:\n{uac}\ncallee:\n{uas}");
    assert!(uas_ok, "callee:\n{uas}\ncaller:\n{uac}");
    // Before the answer: the caller's UPDATE (its new offer) and INFO reached the callee byte
    // for byte, in the callee's early dialog; the callee's answer came back.
    let update = logged_bodies(&uac, "UPDATE ");
    assert_eq!(update.len(), 1, "{uac}");
    assert_eq!(update, logged_bodies(uas, "UPDATE "));
    assert_eq!(logged_bodies(&uac, "INFO "), logged_bodies(uas, "INFO "));
    let early_answer = &logged_bodies(uas, "SIP/2.0 200 OK")[0];
    assert!(early_answer.contains("s=switchboard early answer"));
    assert_eq!(&logged_bodies(&uac, "SIP/2.0 200 OK")[0], early_answer);
    // The node's UPDATE went to the callee's Contact of its 180, with the callee's To tag.
    let callee_update = &uas[uas.find("\nUPDATE sip:callee@").expect(uas)..];
    assert!(
        callee_update
            .lines()
            .any(|l| l.starts_with("To:") && l.contains("SIPpTag01")),
        "{callee_update}"
    );
    tokio::time::sleep(Duration::from_millis(300)).await;
    use LegState::*;
    assert_eq!(
        changes(&drain(&mut events)),
        vec![
            (Side::Caller, Idle, Offering, None),
            (Side::Callee, Idle, Offering, None),
            (Side::Callee, Offering, Ringing, None),
            (Side::Caller, Offering, Ringing, None),
            (Side::Callee, Ringing, Connected, None),
            (Side::Caller, Ringing, Connected, None),
            (Side::Caller, Connected, Disconnected, Some(Cause::Normal)),
            (Side::Callee, Connected, Disconnected, Some(Cause::Normal)),
        ]
    );
    n.node.shutdown().await.unwrap();
}

/// The UPDATE the caller of `call_uac_cancel.xml` sends in the early dialog, and its 491 (the
/// caller sees one early dialog: the second phone's 180 is not relayed again).
const EARLY_UPDATE_REFUSED: &str = r#"<recv response="180" rrs="true"/>
  <send>
    <![CDATA[

      UPDATE [next_url] SIP/2.0
      Via: SIP/2.0/[transport] [local_ip]:[local_port];branch=[branch];rport
      Max-Forwards: 70
      From: <sip:[me]@[remote_ip]>;tag=[pid]SIPpTag00[call_number]
      To: <sip:[dialed]@[remote_ip]>[peer_tag_param]
      Call-ID: [call_id]
      CSeq: 2 UPDATE
      Content-Type: application/sdp
      Content-Length: [len]

      v=0
      o=caller 1 2 IN IP4 127.0.0.1
      s=switchboard early update
      c=IN IP4 127.0.0.1
      t=0 0
      m=audio 6000 RTP/AVP 0

    ]]>
  </send>
  <recv response="491"/>"#;

#[tokio::test(flavor = "multi_thread")]
async fn an_update_in_the_early_dialog_while_two_phones_ring_gets_491() {
    let n = boot().await;
    let (caller_port, callee_ports) = lab(&n, &[CALLEE, CALLEE2]).await;
    let mut caller = Sipp::new("call_uac_cancel.xml", caller_port).key("dialed", "1002");
    caller.replace = vec![("<recv response=\"180\"/>", EARLY_UPDATE_REFUSED)];
    let ((ok, uac), uas) = tokio::task::block_in_place(|| {
        run_call(
            &n,
            caller,
            vec![
                Sipp::new("call_uas_ring.xml", callee_ports[0]),
                Sipp::new("call_uas_ring.xml", callee_ports[1]),
            ],
        )
    });
    assert!(ok, "caller:\n{uac}\ncallees:\n{uas:?}");
    for (uas_ok, log) in &uas {
        assert!(uas_ok, "callee:\n{log}\ncaller:\n{uac}");
        assert!(!log.contains("UPDATE sip:"), "{log}");
    }
    assert!(uac.contains("SIP/2.0 491 Request Pending"), "{uac}");
    assert_eq!(uac.matches("SIP/2.0 180 Ringing").count(), 1, "{uac}");
    n.node.shutdown().await.unwrap();
}

#[tokio::test(flavor = "multi_thread")]
async fn a_session_interval_without_refresh_ends_the_call() {
    let n = boot().await;
    let (caller_port, callee_ports) = lab(&n, &[CALLEE]).await;
    let mut events = n.node.state.callctl.calls().subscribe();
    let started = std::time::Instant::now();
    let ((ok, uac), uas) = tokio::task::block_in_place(|| {
        run_call(
            &n,
            Sipp::new("call_uac_timer.xml", caller_port).key("dialed", "1002"),
            vec![Sipp::new("call_uas_timer.xml", callee_ports[0])],
        )
    });
    let (uas_ok, uas) = &uas[0];
    assert!(ok, "caller:\n{uac}\ncallee:\n{uas}");
    assert!(uas_ok, "callee:\n{uas}\ncaller:\n{uac}");
    assert!(started.elapsed() >= Duration::from_secs(2));
    // Supported and Session-Expires crossed both ways.
    assert!(uas.contains("Supported: timer"), "{uas}");
    assert!(uac.contains("Require: timer"), "{uac}");
    let seen = drain(&mut events);
    assert!(
        matches!(
            seen.last(),
            Some(CallEvent::Ended {
                cause: Cause::Failed,
                ..
            })
        ),
        "{seen:?}"
    );
    assert!(n.traces().contains("session timer expired (interval 2 s)"));
    assert!(n.node.state.callctl.calls().list().is_empty());
    n.node.shutdown().await.unwrap();
}

#[tokio::test(flavor = "multi_thread")]
async fn two_devices_on_a_line_ring_in_parallel_and_the_other_is_cancelled() {
    let n = boot().await;
    let (caller_port, callee_ports) = lab(&n, &[CALLEE, CALLEE2]).await;
    let mut events = n.node.state.callctl.calls().subscribe();
    let ((ok, uac), uas) = tokio::task::block_in_place(|| {
        run_call(
            &n,
            Sipp::new("call_uac.xml", caller_port).key("dialed", "1002"),
            vec![
                Sipp::new("call_uas.xml", callee_ports[0]),
                Sipp::new("call_uas_ring.xml", callee_ports[1]),
            ],
        )
    });
    assert!(ok, "caller:\n{uac}\ncallees:\n{uas:?}");
    for (uas_ok, log) in &uas {
        assert!(uas_ok, "callee:\n{log}\ncaller:\n{uac}");
    }
    assert!(uas[1].1.contains("CANCEL sip:"), "{}", uas[1].1);
    let seen = drain(&mut events);
    let offered = seen.iter().find_map(|e| match e {
        CallEvent::Offered { devices, .. } => Some(devices.clone()),
        _ => None,
    });
    let mut expected = vec![CALLEE.to_string(), CALLEE2.to_string()];
    expected.sort();
    assert_eq!(offered, Some(expected));
    assert!(seen.iter().any(|e| matches!(
        e,
        CallEvent::Answered { device, .. } if device == CALLEE
    )));
    n.node.shutdown().await.unwrap();
}

#[tokio::test(flavor = "multi_thread")]
async fn a_body_that_is_not_valid_sdp_is_passed_through_unchanged() {
    let n = boot().await;
    let (caller_port, callee_ports) = lab(&n, &[CALLEE]).await;
    let ((ok, uac), uas) = tokio::task::block_in_place(|| {
        let mut caller = Sipp::new("call_uac.xml", caller_port).key("dialed", "1002");
        caller.replace = vec![(
            "v=0\n      o=caller 53655765 2353687637 IN IP4 127.0.0.1",
            "v=0\n      this is not SDP at all; m=\n      o=caller 53655765 2353687637 IN IP4 127.0.0.1",
        )];
        run_call(&n, caller, vec![Sipp::new("call_uas.xml", callee_ports[0])])
    });
    let (uas_ok, uas) = &uas[0];
    assert!(ok, "caller:\n{uac}\ncallee:\n{uas}");
    assert!(uas_ok, "callee:\n{uas}\ncaller:\n{uac}");
    let sent = logged_bodies(&uac, "INVITE sip:");
    assert!(sent[0].contains("this is not SDP at all; m="), "{uac}");
    assert_eq!(sent, logged_bodies(uas, "INVITE sip:"));
    n.node.shutdown().await.unwrap();
}

#[tokio::test(flavor = "multi_thread")]
async fn a_caller_registered_over_tcp_calls_over_its_connection() {
    let n = boot().await;
    let (_, callee_ports) = lab(&n, &[CALLEE]).await;
    let mut events = n.node.state.callctl.calls().subscribe();
    let tcp_port = free_local_port();
    let uas_dir = tempfile::tempdir().unwrap();
    let uac_dir = tempfile::tempdir().unwrap();
    let ((ok, uac), (uas_ok, uas)) = tokio::task::block_in_place(|| {
        let callee = Sipp::new("call_uas.xml", callee_ports[0]).spawn(uas_dir.path());
        std::thread::sleep(Duration::from_millis(500));
        let mut caller = Sipp::new("reg_call_tcp.xml", tcp_port)
            .to(n.sip("tcp"))
            .key("dialed", "1002")
            .key("me", "1001");
        caller.tcp = true;
        caller.csv = vec![auth(CALLER, &n.demo_password(CALLER))];
        let caller = caller.spawn(uac_dir.path());
        (
            finish(caller, uac_dir.path()),
            finish(callee, uas_dir.path()),
        )
    });
    assert!(ok, "caller:\n{uac}\ncallee:\n{uas}");
    assert!(uas_ok, "callee:\n{uas}\ncaller:\n{uac}");
    assert!(uac.contains("SIP/2.0/TCP"), "{uac}");
    let seen = drain(&mut events);
    assert!(
        matches!(
            seen.last(),
            Some(CallEvent::Ended {
                cause: Cause::Normal,
                ..
            })
        ),
        "{seen:?}"
    );
    assert!(n.traces().contains(&format!("INVITE from {CALLER} (tcp")));
    n.node.shutdown().await.unwrap();
}

/// Waits for the event `pick` selects, up to 12 s.
async fn wait_for(
    rx: &mut tokio::sync::broadcast::Receiver<CallEvent>,
    seen: &mut Vec<CallEvent>,
    pick: impl Fn(&CallEvent) -> bool,
) {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(12);
    loop {
        match tokio::time::timeout_at(deadline, rx.recv()).await {
            Ok(Ok(e)) => {
                let hit = pick(&e);
                seen.push(e);
                if hit {
                    return;
                }
            }
            _ => panic!("the event did not come: {seen:?}"),
        }
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn call_control_makes_a_call_holds_retrieves_sends_dtmf_and_drops_on_the_real_phones() {
    let n = boot().await;
    let (caller_port, callee_ports) = lab(&n, &[CALLEE]).await;
    let mut events = n.node.state.callctl.calls().subscribe();
    let phone_dir = tempfile::tempdir().unwrap();
    let far_dir = tempfile::tempdir().unwrap();
    let phone = Sipp::new("phone_autoanswer.xml", caller_port).spawn(phone_dir.path());
    let far = Sipp::new("far_uas_controlled.xml", callee_ports[0]).spawn(far_dir.path());
    tokio::time::sleep(Duration::from_millis(500)).await;
    let pc = n.node.state.callctl.phone_control().unwrap().clone();
    let call = pc
        .make_call(CALLER.into(), None, "1002".into())
        .await
        .unwrap();
    let mut seen = Vec::new();
    let connected = |side: Side| move |e: &CallEvent| matches!(e, CallEvent::StateChanged { side: s, to: LegState::Connected, .. } if *s == side);
    // The phone's side is connected last, once the far end answered.
    wait_for(&mut events, &mut seen, connected(Side::Caller)).await;
    if let Err(e) = pc.hold(call, CALLER.into()).await {
        let mut phone = phone;
        let mut far = far;
        let _ = phone.kill();
        let _ = far.kill();
        panic!(
            "hold: {e}\nphone:\n{}\nfar end:\n{}",
            finish(phone, phone_dir.path()).1,
            finish(far, far_dir.path()).1
        );
    }
    assert_eq!(
        pc.hold(call, CALLER.into()).await,
        Err(ControlError::IllegalCallState(LegState::Held))
    );
    pc.retrieve(call, CALLER.into()).await.unwrap();
    assert_eq!(
        pc.send_dtmf(call, CALLER.into(), "5x".into()).await,
        Err(ControlError::InvalidDtmfDigits)
    );
    pc.send_dtmf(call, CALLER.into(), "5".into()).await.unwrap();
    pc.drop_call(call, CALLER.into()).await.unwrap();
    wait_for(&mut events, &mut seen, |e| {
        matches!(e, CallEvent::Ended { .. })
    })
    .await;
    let ((phone_ok, phone_log), (far_ok, far_log)) = tokio::task::block_in_place(|| {
        (finish(phone, phone_dir.path()), finish(far, far_dir.path()))
    });
    assert!(phone_ok, "phone:\n{phone_log}\nfar end:\n{far_log}");
    assert!(far_ok, "far end:\n{far_log}\nphone:\n{phone_log}");
    // The far end got the phone's offer; the phone's ACK carried the far end's answer.
    let offer = logged_bodies(&phone_log, "SIP/2.0 200 OK");
    let far_invites = logged_bodies(&far_log, "INVITE sip:");
    assert_eq!(offer[0], far_invites[0]);
    let answer = logged_bodies(&far_log, "SIP/2.0 200 OK");
    let ack = logged_bodies(&phone_log, "ACK sip:");
    assert_eq!(answer[0], ack[0]);
    assert!(logged_bodies(&phone_log, "INVITE sip:")[0].is_empty());
    assert!(
        phone_log.contains("Call-Info: <sip:127.0.0.1:"),
        "{phone_log}"
    );

    use LegState::*;
    let call_changes: Vec<_> = changes(&seen);
    assert_eq!(
        call_changes,
        vec![
            (Side::Caller, Idle, Offering, None),
            // The phone answered its auto-answer INVITE: its side stays offering until the
            // far end alerts, and is connected when the far end answers.
            (Side::Callee, Idle, Offering, None),
            (Side::Callee, Offering, Ringing, None),
            (Side::Caller, Offering, Ringing, None),
            (Side::Callee, Ringing, Connected, None),
            (Side::Caller, Ringing, Connected, None),
            (Side::Caller, Connected, Held, None),
            (Side::Caller, Held, Connected, None),
            (Side::Caller, Connected, Disconnected, Some(Cause::Normal)),
            (Side::Callee, Connected, Disconnected, Some(Cause::Normal)),
        ],
        "{seen:?}"
    );
    match &seen[0] {
        CallEvent::NewCall {
            call: c,
            caller,
            callee,
            caller_device,
            ..
        } => {
            assert_eq!(*c, call);
            assert_eq!((caller.as_str(), callee.as_str()), ("1001", "1002"));
            assert_eq!(caller_device.as_deref(), Some(CALLER));
        }
        other => panic!("{other:?}"),
    }
    let traces = n.traces();
    assert!(
        traces.contains(&format!("make_call for {CALLER}")),
        "{traces}"
    );
    n.node.shutdown().await.unwrap();
}

#[tokio::test(flavor = "multi_thread")]
async fn call_control_refuses_what_it_cannot_do_before_sending_anything() {
    let n = boot().await;
    let (_, _) = lab(&n, &[CALLEE]).await;
    let pc = n.node.state.callctl.phone_control().unwrap().clone();
    assert_eq!(
        pc.make_call(CALLER.into(), None, "9999".into()).await,
        Err(ControlError::UnknownNumber("9999".into()))
    );
    assert_eq!(
        pc.make_call("SEP0000DEADBEEF".into(), None, "1002".into())
            .await,
        Err(ControlError::DeviceNotRegistered("SEP0000DEADBEEF".into()))
    );
    assert!(matches!(
        pc.make_call(CALLER.into(), Some("1002".into()), "1002".into())
            .await,
        Err(ControlError::NoSuchLine { .. })
    ));
    assert_eq!(
        pc.hold(4242, CALLER.into()).await,
        Err(ControlError::UnknownCall(4242))
    );
    assert_eq!(
        pc.send_dtmf(4242, CALLER.into(), "".into()).await,
        Err(ControlError::InvalidDtmfDigits)
    );
    assert!(n.node.state.callctl.calls().list().is_empty());
    n.node.shutdown().await.unwrap();
}

const TARGET: &str = "SEP00AABBCCDD03";

/// Line 1003 with one deskphone (the transfer target), registered over UDP: its port.
async fn target_lab(n: &Node) -> u16 {
    n.api(
        reqwest::Method::POST,
        "/api/lines",
        Some(json!({"dn": "1003"})),
    )
    .await;
    n.api(
        reqwest::Method::POST,
        "/api/devices",
        Some(json!({
            "name": TARGET, "product": "Cisco 8841", "device_class": "deskphone",
            "owner": "wwhite", "security_profile": "Cisco 8841 - Standard SIP Digest Profile",
            "digest_password": PASSWORD,
            "lines": [{"index": 1, "dn": "1003"}]
        })),
    )
    .await;
    let port = free_local_port();
    register(n, TARGET, PASSWORD, port).await;
    port
}

/// The events of each call, by call id, in order.
fn by_call(seen: &[CallEvent]) -> std::collections::BTreeMap<u64, Vec<CallEvent>> {
    let mut calls: std::collections::BTreeMap<u64, Vec<CallEvent>> = Default::default();
    for e in seen {
        let id = match e {
            CallEvent::NewCall { call, .. }
            | CallEvent::Offered { call, .. }
            | CallEvent::Answered { call, .. }
            | CallEvent::Redirected { call, .. }
            | CallEvent::StateChanged { call, .. }
            | CallEvent::Ended { call, .. } => *call,
        };
        calls.entry(id).or_default().push(e.clone());
    }
    calls
}

/// Asserts the old call ended with `transferred` and the new one (transferee → 1003)
/// connected and then ended normally.
fn assert_transferred(seen: &[CallEvent], transferee: &str) {
    use LegState::*;
    let calls = by_call(seen);
    assert_eq!(calls.len(), 2, "{seen:?}");
    let mut it = calls.values();
    let old = it.next().unwrap();
    let new = it.next().unwrap();
    assert_eq!(
        old.last(),
        Some(&CallEvent::Ended {
            call: match &old[0] {
                CallEvent::NewCall { call, .. } => *call,
                e => panic!("{e:?}"),
            },
            cause: Cause::Transferred
        }),
        "{old:?}"
    );
    match &new[0] {
        CallEvent::NewCall { caller, callee, .. } => {
            assert_eq!((caller.as_str(), callee.as_str()), (transferee, "1003"))
        }
        e => panic!("{e:?}"),
    }
    assert!(new.iter().any(|e| matches!(
        e,
        CallEvent::Answered { device, .. } if device == TARGET
    )));
    assert_eq!(
        changes(new),
        vec![
            (Side::Caller, Idle, Offering, None),
            (Side::Caller, Offering, Connected, None),
            (Side::Callee, Idle, Offering, None),
            (Side::Callee, Offering, Ringing, None),
            (Side::Callee, Ringing, Connected, None),
            (Side::Callee, Connected, Disconnected, Some(Cause::Normal)),
            (Side::Caller, Connected, Disconnected, Some(Cause::Normal)),
        ],
        "{new:?}"
    );
    // The old call's legs left it with cause `transferred`.
    let old_ends: Vec<_> = changes(old)
        .into_iter()
        .filter(|c| c.2 == Disconnected)
        .map(|c| c.3)
        .collect();
    assert_eq!(
        old_ends,
        vec![Some(Cause::Transferred), Some(Cause::Transferred)]
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn blind_transfer_by_refer_connects_the_transferee_to_the_target() {
    let n = boot().await;
    let (caller_port, callee_ports) = lab(&n, &[CALLEE]).await;
    let target_port = target_lab(&n).await;
    let mut events = n.node.state.callctl.calls().subscribe();
    let ((ok, uac), uas) = tokio::task::block_in_place(|| {
        run_call(
            &n,
            Sipp::new("call_uac_refer.xml", caller_port)
                .key("dialed", "1002")
                .key("target", "1003"),
            vec![
                Sipp::new("call_uas_transferee.xml", callee_ports[0]),
                Sipp::new("target_uas.xml", target_port),
            ],
        )
    });
    assert!(ok, "transferor:\n{uac}\nothers:\n{uas:?}");
    for (uas_ok, log) in &uas {
        assert!(uas_ok, "{log}\ntransferor:\n{uac}");
    }
    // The target's INVITE had no offer; its offer reached the transferee, whose answer
    // reached the target in the ACK.
    let (transferee, target) = (&uas[0].1, &uas[1].1);
    assert_eq!(logged_bodies(target, "INVITE sip:"), vec![String::new()]);
    let offer = &logged_bodies(target, "SIP/2.0 200 OK")[0];
    assert_eq!(&logged_bodies(transferee, "INVITE sip:")[1], offer);
    let answer = &logged_bodies(transferee, "SIP/2.0 200 OK")[1];
    assert_eq!(&logged_bodies(target, "ACK sip:")[0], answer);
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_transferred(&drain(&mut events), "1002");
    assert!(n
        .traces()
        .contains("transfer: blind transfer to 1003 started"));
    assert!(n.node.state.callctl.calls().list().is_empty());
    n.node.shutdown().await.unwrap();
}

/// The final NOTIFY of `call_uac_refer.xml` and its 200: a transferor that hangs up at once
/// never sees it.
const FINAL_NOTIFY: &str = r#"  <recv request="NOTIFY">
    <action>
      <ereg regexp="SIP/2.0 200 OK" search_in="body" check_it="true" assign_to="dummy"/>
      <ereg regexp="terminated" search_in="hdr" header="Subscription-State:" check_it="true" assign_to="dummy"/>
    </action>
  </recv>
  <send>
    <![CDATA[

      SIP/2.0 200 OK
      [last_Via:]
      [last_From:]
      [last_To:]
      [last_Call-ID:]
      [last_CSeq:]
      Content-Length: 0

    ]]>
  </send>
"#;

#[tokio::test(flavor = "multi_thread")]
async fn a_transferor_hanging_up_right_after_refer_leaves_the_transfer_to_complete() {
    let n = boot().await;
    let (caller_port, callee_ports) = lab(&n, &[CALLEE]).await;
    let target_port = target_lab(&n).await;
    let mut events = n.node.state.callctl.calls().subscribe();
    let mut transferor = Sipp::new("call_uac_refer.xml", caller_port)
        .key("dialed", "1002")
        .key("target", "1003");
    transferor.replace = vec![(FINAL_NOTIFY, "")];
    let ((ok, uac), uas) = tokio::task::block_in_place(|| {
        run_call(
            &n,
            transferor,
            vec![
                Sipp::new("call_uas_transferee.xml", callee_ports[0]),
                Sipp::new("target_uas.xml", target_port),
            ],
        )
    });
    assert!(ok, "transferor:\n{uac}\nothers:\n{uas:?}");
    for (uas_ok, log) in &uas {
        assert!(uas_ok, "{log}\ntransferor:\n{uac}");
    }
    // The transferor's BYE got its 200 before the target answered, and the far ends were
    // joined all the same.
    let (transferee, target) = (&uas[0].1, &uas[1].1);
    let offer = &logged_bodies(target, "SIP/2.0 200 OK")[0];
    assert_eq!(&logged_bodies(transferee, "INVITE sip:")[1], offer);
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_transferred(&drain(&mut events), "1002");
    let traces = n.traces();
    assert!(traces.contains("the transferor hung up: the transfer goes on without it"));
    assert!(n.node.state.callctl.calls().list().is_empty());
    n.node.shutdown().await.unwrap();
}

#[tokio::test(flavor = "multi_thread")]
async fn a_transfer_failing_after_the_transferor_hung_up_ends_the_transferees_call() {
    let n = boot().await;
    let (caller_port, callee_ports) = lab(&n, &[CALLEE]).await;
    let target_port = target_lab(&n).await;
    let mut events = n.node.state.callctl.calls().subscribe();
    let mut transferor = Sipp::new("call_uac_refer.xml", caller_port)
        .key("dialed", "1002")
        .key("target", "1003");
    transferor.replace = vec![(FINAL_NOTIFY, "")];
    // The target is busy, and says so once the transferor has hung up.
    let mut target = Sipp::new("call_uas_busy.xml", target_port);
    target.replace = vec![(
        "<recv request=\"INVITE\"/>",
        "<recv request=\"INVITE\"/>\n  <pause milliseconds=\"500\"/>",
    )];
    let ((ok, uac), uas) = tokio::task::block_in_place(|| {
        run_call(
            &n,
            transferor,
            vec![Sipp::new("call_uas.xml", callee_ports[0]), target],
        )
    });
    assert!(ok, "transferor:\n{uac}\nothers:\n{uas:?}");
    for (uas_ok, log) in &uas {
        assert!(uas_ok, "{log}\ntransferor:\n{uac}");
    }
    // The transferee, left with nobody, got the node's BYE.
    assert_eq!(uas[0].1.matches("BYE sip:").count(), 1, "{}", uas[0].1);
    tokio::time::sleep(Duration::from_millis(300)).await;
    let seen = drain(&mut events);
    let calls = by_call(&seen);
    assert_eq!(calls.len(), 2, "{seen:?}");
    let mut ends = calls.values().map(|events| events.last().cloned());
    assert!(
        matches!(
            ends.next(),
            Some(Some(CallEvent::Ended {
                cause: Cause::Normal,
                ..
            }))
        ),
        "{seen:?}"
    );
    assert!(
        matches!(
            ends.next(),
            Some(Some(CallEvent::Ended {
                cause: Cause::Busy,
                ..
            }))
        ),
        "{seen:?}"
    );
    assert!(n
        .traces()
        .contains("the transfer failed after the transferor hung up"));
    assert!(n.node.state.callctl.calls().list().is_empty());
    n.node.shutdown().await.unwrap();
}

#[tokio::test(flavor = "multi_thread")]
async fn call_control_blind_transfer_hangs_up_the_transferor_and_joins_the_others() {
    let n = boot().await;
    let (caller_port, callee_ports) = lab(&n, &[CALLEE]).await;
    let target_port = target_lab(&n).await;
    let mut events = n.node.state.callctl.calls().subscribe();
    let dirs: Vec<_> = (0..3).map(|_| tempfile::tempdir().unwrap()).collect();
    let transferor = Sipp::new("call_uas_transferor.xml", callee_ports[0]).spawn(dirs[0].path());
    let target = Sipp::new("target_uas.xml", target_port).spawn(dirs[1].path());
    tokio::time::sleep(Duration::from_millis(500)).await;
    let transferee = Sipp::new("call_uac_transferee.xml", caller_port)
        .to(n.sip("udp"))
        .key("dialed", "1002")
        .key("me", "1001")
        .spawn(dirs[2].path());
    let mut seen = Vec::new();
    let connected = tokio::time::timeout(
        Duration::from_secs(10),
        wait_for(&mut events, &mut seen, |e| {
            matches!(
                e,
                CallEvent::StateChanged {
                    side: Side::Caller,
                    to: LegState::Connected,
                    ..
                }
            )
        }),
    )
    .await;
    if connected.is_err() {
        let mut children = [transferor, target, transferee];
        for c in children.iter_mut() {
            let _ = c.kill();
        }
        let logs: Vec<(bool, String)> = children
            .into_iter()
            .zip(&dirs)
            .map(|(c, d)| finish(c, d.path()))
            .collect();
        panic!("not connected: {seen:?}\n{logs:#?}");
    }
    let call = match &seen[0] {
        CallEvent::NewCall { call, .. } => *call,
        e => panic!("{e:?}"),
    };
    let pc = n.node.state.callctl.phone_control().unwrap().clone();
    assert_eq!(
        pc.blind_transfer(call, CALLEE.into(), "9999".into()).await,
        Err(ControlError::UnknownNumber("9999".into()))
    );
    pc.blind_transfer(call, CALLEE.into(), "1003".into())
        .await
        .unwrap();
    let logs: Vec<(bool, String)> = tokio::task::block_in_place(|| {
        [transferor, target, transferee]
            .into_iter()
            .zip(&dirs)
            .map(|(c, d)| finish(c, d.path()))
            .collect()
    });
    for (ok, log) in &logs {
        assert!(ok, "{log}\n\nall:\n{logs:?}");
    }
    tokio::time::sleep(Duration::from_millis(300)).await;
    seen.extend(drain(&mut events));
    assert_transferred(&seen, "1001");
    n.node.shutdown().await.unwrap();
}

/// A call control blind transfer from the callee (1002) of 1001's call to 1003, whose phone
/// rings and never answers; `end` ends the call while it rings (1001 hangs up, or the call is
/// dropped). The target must get CANCEL and answer 487; the new call ends `cancelled`.
async fn blind_transfer_ringing_when_the_call_ends(hang_up: bool) {
    let n = boot().await;
    let (caller_port, callee_ports) = lab(&n, &[CALLEE]).await;
    let target_port = target_lab(&n).await;
    let mut events = n.node.state.callctl.calls().subscribe();
    let dirs: Vec<_> = (0..3).map(|_| tempfile::tempdir().unwrap()).collect();
    let transferor = Sipp::new("call_uas_transferor.xml", callee_ports[0]).spawn(dirs[0].path());
    let target = Sipp::new("call_uas_ring.xml", target_port).spawn(dirs[1].path());
    tokio::time::sleep(Duration::from_millis(500)).await;
    let transferee = if hang_up {
        // Hangs up 2.5 s after the answer, while the target rings.
        let mut s = Sipp::new("call_uac.xml", caller_port);
        s.replace = vec![(
            "<pause milliseconds=\"300\"/>",
            "<pause milliseconds=\"2500\"/>",
        )];
        s
    } else {
        let mut s = Sipp::new("call_uac_two_calls.xml", caller_port);
        s.csv = vec!["1002".into()];
        s
    };
    let transferee = transferee
        .to(n.sip("udp"))
        .key("dialed", "1002")
        .key("me", "1001")
        .spawn(dirs[2].path());
    let mut seen = Vec::new();
    wait_for(&mut events, &mut seen, |e| {
        matches!(
            e,
            CallEvent::StateChanged {
                side: Side::Caller,
                to: LegState::Connected,
                ..
            }
        )
    })
    .await;
    let call = match &seen[0] {
        CallEvent::NewCall { call, .. } => *call,
        e => panic!("{e:?}"),
    };
    let pc = n.node.state.callctl.phone_control().unwrap().clone();
    pc.blind_transfer(call, CALLEE.into(), "1003".into())
        .await
        .unwrap();
    // The target rings (the new call's callee side).
    wait_for(&mut events, &mut seen, |e| {
        matches!(
            e,
            CallEvent::StateChanged {
                call: c,
                side: Side::Callee,
                to: LegState::Ringing,
                ..
            } if *c != call
        )
    })
    .await;
    if !hang_up {
        pc.drop_call(call, CALLEE.into()).await.unwrap();
    }
    let logs: Vec<(bool, String)> = tokio::task::block_in_place(|| {
        [transferor, target, transferee]
            .into_iter()
            .zip(&dirs)
            .map(|(c, d)| finish(c, d.path()))
            .collect()
    });
    for (ok, log) in &logs {
        assert!(ok, "{log}\n\nall:\n{logs:?}");
    }
    let target_log = &logs[1].1;
    assert!(target_log.contains("\nCANCEL sip:"), "{target_log}");
    assert!(
        target_log.contains("SIP/2.0 487 Request Terminated"),
        "{target_log}"
    );
    tokio::time::sleep(Duration::from_millis(300)).await;
    seen.extend(drain(&mut events));
    use LegState::*;
    let calls = by_call(&seen);
    assert_eq!(calls.len(), 2, "{seen:?}");
    // The transferred call itself ended normally (BYE from 1001, or the drop).
    assert_eq!(
        calls[&call].last(),
        Some(&CallEvent::Ended {
            call,
            cause: Cause::Normal
        }),
        "{seen:?}"
    );
    let (&new, new_events) = calls.iter().last().unwrap();
    match &new_events[0] {
        CallEvent::NewCall { caller, callee, .. } => {
            assert_eq!((caller.as_str(), callee.as_str()), ("1001", "1003"))
        }
        e => panic!("{e:?}"),
    }
    assert_eq!(
        changes(new_events),
        vec![
            (Side::Caller, Idle, Offering, None),
            (Side::Caller, Offering, Connected, None),
            (Side::Callee, Idle, Offering, None),
            (Side::Callee, Offering, Ringing, None),
            (Side::Callee, Ringing, Disconnected, Some(Cause::Cancelled)),
            (
                Side::Caller,
                Connected,
                Disconnected,
                Some(Cause::Cancelled)
            ),
        ],
        "{seen:?}"
    );
    assert_eq!(
        new_events.last(),
        Some(&CallEvent::Ended {
            call: new,
            cause: Cause::Cancelled
        })
    );
    assert!(n.traces().contains("transfer abandoned"), "{}", n.traces());
    assert!(n.node.state.callctl.calls().list().is_empty());
    n.node.shutdown().await.unwrap();
}

#[tokio::test(flavor = "multi_thread")]
async fn a_blind_transfer_still_ringing_is_cancelled_when_the_transferee_hangs_up() {
    blind_transfer_ringing_when_the_call_ends(true).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn a_blind_transfer_still_ringing_is_cancelled_when_the_call_is_dropped() {
    blind_transfer_ringing_when_the_call_ends(false).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn call_control_transfer_complete_joins_the_far_ends_of_two_calls() {
    let n = boot().await;
    let (caller_port, callee_ports) = lab(&n, &[CALLEE]).await;
    let target_port = target_lab(&n).await;
    let mut events = n.node.state.callctl.calls().subscribe();
    let dirs: Vec<_> = (0..3).map(|_| tempfile::tempdir().unwrap()).collect();
    let first = Sipp::new("call_uas_joined_first.xml", callee_ports[0]).spawn(dirs[0].path());
    let second = Sipp::new("call_uas_joined_second.xml", target_port).spawn(dirs[1].path());
    tokio::time::sleep(Duration::from_millis(500)).await;
    let mut transferor = Sipp::new("call_uac_two_calls.xml", caller_port)
        .to(n.sip("udp"))
        .key("me", "1001");
    transferor.calls = 2;
    transferor.csv = vec!["1002".into(), "1003".into()];
    let transferor = transferor.spawn(dirs[2].path());
    let mut seen = Vec::new();
    for _ in 0..2 {
        wait_for(&mut events, &mut seen, |e| {
            matches!(
                e,
                CallEvent::StateChanged {
                    side: Side::Caller,
                    to: LegState::Connected,
                    ..
                }
            )
        })
        .await;
    }
    let ids: Vec<(u64, String)> = seen
        .iter()
        .filter_map(|e| match e {
            CallEvent::NewCall { call, callee, .. } => Some((*call, callee.clone())),
            _ => None,
        })
        .collect();
    let call1 = ids.iter().find(|(_, c)| c == "1002").unwrap().0;
    let call2 = ids.iter().find(|(_, c)| c == "1003").unwrap().0;
    let pc = n.node.state.callctl.phone_control().unwrap().clone();
    assert_eq!(
        pc.transfer_complete(call1, call1, CALLER.into()).await,
        Err(ControlError::TransferFailed(
            "400 Bad Request: the same call".into()
        ))
    );
    pc.transfer_complete(call1, call2, CALLER.into())
        .await
        .unwrap();
    let logs: Vec<(bool, String)> = tokio::task::block_in_place(|| {
        [first, second, transferor]
            .into_iter()
            .zip(&dirs)
            .map(|(c, d)| finish(c, d.path()))
            .collect()
    });
    for (ok, log) in &logs {
        assert!(ok, "{log}\n\nall:\n{logs:?}");
    }
    // The second far end's offer reached the first; the first's answer came back in the ACK.
    let offer = &logged_bodies(&logs[1].1, "SIP/2.0 200 OK")[1];
    assert_eq!(&logged_bodies(&logs[0].1, "INVITE sip:")[1], offer);
    let answer = &logged_bodies(&logs[0].1, "SIP/2.0 200 OK")[1];
    assert_eq!(&logged_bodies(&logs[1].1, "ACK sip:")[1], answer);
    tokio::time::sleep(Duration::from_millis(300)).await;
    seen.extend(drain(&mut events));
    let calls = by_call(&seen);
    assert_eq!(calls.len(), 3, "{seen:?}");
    for old in [call1, call2] {
        assert_eq!(
            calls[&old].last(),
            Some(&CallEvent::Ended {
                call: old,
                cause: Cause::Transferred
            })
        );
    }
    let (new, events_new) = calls.iter().last().unwrap();
    match &events_new[0] {
        CallEvent::NewCall { caller, callee, .. } => {
            assert_eq!((caller.as_str(), callee.as_str()), ("1002", "1003"))
        }
        e => panic!("{e:?}"),
    }
    assert_eq!(
        events_new.last(),
        Some(&CallEvent::Ended {
            call: *new,
            cause: Cause::Normal
        })
    );
    assert!(n.node.state.callctl.calls().list().is_empty());
    n.node.shutdown().await.unwrap();
}

#[tokio::test(flavor = "multi_thread")]
async fn call_control_consult_transfer_holds_consults_and_completes() {
    let n = boot().await;
    let (agent_port, callee_ports) = lab(&n, &[CALLEE]).await;
    let target_port = target_lab(&n).await;
    let mut events = n.node.state.callctl.calls().subscribe();
    let dirs: Vec<_> = (0..3).map(|_| tempfile::tempdir().unwrap()).collect();
    // A (the controlled deskphone, 1001) answers B's call and consults C (1003), who is
    // asked for an offer at transfer-complete (the second far end of the join).
    let mut agent = Sipp::new("phone_consults.xml", agent_port);
    agent.calls = 2;
    let agent = agent.spawn(dirs[0].path());
    let consulted = Sipp::new("call_uas_joined_second.xml", target_port).spawn(dirs[1].path());
    tokio::time::sleep(Duration::from_millis(500)).await;
    let customer = Sipp::new("call_uac_held_then_joined.xml", callee_ports[0])
        .to(n.sip("udp"))
        .key("dialed", "1001")
        .key("me", "1002")
        .spawn(dirs[2].path());
    let children = std::cell::RefCell::new(Some([agent, consulted, customer]));
    // On failure: the SIPp logs, so the test says what the phones saw.
    let logs = |why: String| -> ! {
        let mut all = children.borrow_mut().take().unwrap();
        for c in all.iter_mut() {
            let _ = c.kill();
        }
        let logs: Vec<(bool, String)> = all
            .into_iter()
            .zip(&dirs)
            .map(|(c, d)| finish(c, d.path()))
            .collect();
        panic!("{why}\n{logs:#?}");
    };
    let mut seen = Vec::new();
    let connected = |side: Side| move |e: &CallEvent| matches!(e, CallEvent::StateChanged { side: s, to: LegState::Connected, .. } if *s == side);
    if tokio::time::timeout(
        Duration::from_secs(10),
        wait_for(&mut events, &mut seen, connected(Side::Caller)),
    )
    .await
    .is_err()
    {
        logs(format!("B's call was not connected: {seen:?}"));
    }
    let call1 = match &seen[0] {
        CallEvent::NewCall { call, .. } => *call,
        e => panic!("{e:?}"),
    };
    let pc = n.node.state.callctl.phone_control().unwrap().clone();
    assert_eq!(
        pc.consult_transfer(call1, CALLER.into(), "9999".into())
            .await
            .err(),
        Some(ControlError::UnknownNumber("9999".into())),
    );
    // … before anything is sent: the call is not put on hold for nothing.
    assert_eq!(
        n.node
            .state
            .callctl
            .calls()
            .get(call1)
            .unwrap()
            .callee
            .state,
        LegState::Connected
    );
    let call2 = match pc
        .consult_transfer(call1, CALLER.into(), "1003".into())
        .await
    {
        Ok(c) => c,
        Err(e) => logs(format!("consult_transfer: {e}")),
    };
    assert_ne!(call1, call2);
    // The consultation call: A's auto-answer, then C answers.
    // A's side is connected last (after C's): then both sides are.
    let call2_connected = move |e: &CallEvent| matches!(e, CallEvent::StateChanged { call, side: Side::Caller, to: LegState::Connected, .. } if *call == call2);
    if tokio::time::timeout(
        Duration::from_secs(10),
        wait_for(&mut events, &mut seen, call2_connected),
    )
    .await
    .is_err()
    {
        logs(format!("the consultation call was not connected: {seen:?}"));
    }
    assert_eq!(
        pc.transfer_complete(call2, call2, CALLER.into()).await,
        Err(ControlError::TransferFailed(
            "400 Bad Request: the same call".into()
        ))
    );
    if let Err(e) = pc.transfer_complete(call1, call2, CALLER.into()).await {
        logs(format!("transfer_complete: {e}"));
    }
    let all = children.borrow_mut().take().unwrap();
    let logs: Vec<(bool, String)> = tokio::task::block_in_place(|| {
        all.into_iter()
            .zip(&dirs)
            .map(|(c, d)| finish(c, d.path()))
            .collect()
    });
    for (ok, log) in &logs {
        assert!(ok, "{log}\n\nall:\n{logs:?}");
    }
    let (agent, consulted, customer) = (&logs[0].1, &logs[1].1, &logs[2].1);
    // The consultation INVITE to A had no offer; A's offer went to C, C's answer to A's ACK.
    let agent_invites = logged_bodies(agent, "INVITE sip:");
    assert_eq!(agent_invites.len(), 3, "{agent}");
    assert!(agent_invites[1].contains("a=inactive"), "{agent}");
    assert!(agent_invites[2].is_empty(), "{agent}");
    assert!(logged_bodies(consulted, "INVITE sip:")[0].contains("o=agent 7 7"));
    // Transfer complete: C's offer reached B, B's answer came back in C's ACK (B's log has
    // its own INVITE, then the hold re-INVITE and the join's, and its 200s to them).
    let offer = &logged_bodies(consulted, "SIP/2.0 200 OK")[1];
    let customer_invites = logged_bodies(customer, "INVITE sip:");
    assert_eq!(customer_invites.len(), 3, "{customer}");
    assert!(customer_invites[1].contains("a=sendonly"), "{customer}");
    assert_eq!(&customer_invites[2], offer);
    let answer = &logged_bodies(customer, "SIP/2.0 200 OK")[2];
    assert_eq!(&logged_bodies(consulted, "ACK sip:")[1], answer);
    assert_eq!(agent.matches("\nBYE sip:").count(), 2, "{agent}");

    tokio::time::sleep(Duration::from_millis(300)).await;
    seen.extend(drain(&mut events));
    use LegState::*;
    let calls = by_call(&seen);
    assert_eq!(calls.len(), 3, "{seen:?}");
    // B → A: answered by A, A's side held, then both sides transferred.
    assert_eq!(
        changes(&calls[&call1]),
        vec![
            (Side::Caller, Idle, Offering, None),
            (Side::Callee, Idle, Offering, None),
            (Side::Callee, Offering, Ringing, None),
            (Side::Caller, Offering, Ringing, None),
            (Side::Callee, Ringing, Connected, None),
            (Side::Caller, Ringing, Connected, None),
            (Side::Callee, Connected, Held, None),
            (Side::Callee, Held, Disconnected, Some(Cause::Transferred)),
            (
                Side::Caller,
                Connected,
                Disconnected,
                Some(Cause::Transferred)
            ),
        ],
        "{seen:?}"
    );
    // A → C: the consultation, placed for A, transferred on both sides.
    match &calls[&call2][0] {
        CallEvent::NewCall {
            caller,
            callee,
            caller_device,
            ..
        } => {
            assert_eq!((caller.as_str(), callee.as_str()), ("1001", "1003"));
            assert_eq!(caller_device.as_deref(), Some(CALLER));
        }
        e => panic!("{e:?}"),
    }
    assert_eq!(
        changes(&calls[&call2]),
        vec![
            (Side::Caller, Idle, Offering, None),
            (Side::Callee, Idle, Offering, None),
            (Side::Callee, Offering, Ringing, None),
            (Side::Caller, Offering, Ringing, None),
            (Side::Callee, Ringing, Connected, None),
            (Side::Caller, Ringing, Connected, None),
            (
                Side::Caller,
                Connected,
                Disconnected,
                Some(Cause::Transferred)
            ),
            (
                Side::Callee,
                Connected,
                Disconnected,
                Some(Cause::Transferred)
            ),
        ],
        "{seen:?}"
    );
    for old in [call1, call2] {
        assert_eq!(
            calls[&old].last(),
            Some(&CallEvent::Ended {
                call: old,
                cause: Cause::Transferred
            })
        );
    }
    // B → C: the joined call, until B hangs up.
    let (&call3, joined) = calls.iter().last().unwrap();
    match &joined[0] {
        CallEvent::NewCall {
            caller,
            callee,
            caller_device,
            ..
        } => {
            assert_eq!((caller.as_str(), callee.as_str()), ("1002", "1003"));
            assert_eq!(caller_device.as_deref(), Some(CALLEE));
        }
        e => panic!("{e:?}"),
    }
    assert!(joined.iter().any(|e| matches!(
        e,
        CallEvent::Answered { device, .. } if device == TARGET
    )));
    assert_eq!(
        changes(joined),
        vec![
            (Side::Caller, Idle, Offering, None),
            (Side::Callee, Idle, Offering, None),
            (Side::Callee, Offering, Connected, None),
            (Side::Caller, Offering, Connected, None),
            (Side::Caller, Connected, Disconnected, Some(Cause::Normal)),
            (Side::Callee, Connected, Disconnected, Some(Cause::Normal)),
        ],
        "{seen:?}"
    );
    assert_eq!(
        joined.last(),
        Some(&CallEvent::Ended {
            call: call3,
            cause: Cause::Normal
        })
    );
    assert!(n.node.state.callctl.calls().list().is_empty());
    let traces = n.traces();
    assert!(
        traces.contains(&format!("transfer_complete for {CALLER}")),
        "{traces}"
    );
    n.node.shutdown().await.unwrap();
}

/// An attended transfer by SIPp phones: 1002 (`asked`, the far end of the transferor's first
/// call, the one the REFER replaces), 1003 (`referred`, the far end of the second call, where
/// the REFER goes) and the transferor 1001 placing both calls (`-m 2`, roles `wait` and
/// `refer`). Returns their logs in that order, each asserted successful.
async fn attended_transfer(
    n: &Node,
    asked: &str,
    referred: &str,
    transferor: &str,
) -> Vec<(bool, String)> {
    let (caller_port, callee_ports) = lab(n, &[CALLEE]).await;
    let target_port = target_lab(n).await;
    let dirs: Vec<_> = (0..3).map(|_| tempfile::tempdir().unwrap()).collect();
    let asked = Sipp::new(asked, callee_ports[0]).spawn(dirs[0].path());
    let referred = Sipp::new(referred, target_port).spawn(dirs[1].path());
    tokio::time::sleep(Duration::from_millis(500)).await;
    let mut transferor = Sipp::new(transferor, caller_port)
        .to(n.sip("udp"))
        .key("me", "1001");
    transferor.calls = 2;
    transferor.csv = vec!["1002;wait".into(), "1003;refer".into()];
    let transferor = transferor.spawn(dirs[2].path());
    let logs: Vec<(bool, String)> = tokio::task::block_in_place(|| {
        [asked, referred, transferor]
            .into_iter()
            .zip(&dirs)
            .map(|(c, d)| finish(c, d.path()))
            .collect()
    });
    for (ok, log) in &logs {
        assert!(ok, "{log}\n\nall:\n{logs:?}");
    }
    logs
}

#[tokio::test(flavor = "multi_thread")]
async fn attended_transfer_by_refer_with_replaces_joins_the_far_ends() {
    let n = boot().await;
    let mut events = n.node.state.callctl.calls().subscribe();
    // The replaced call's far end (1002) is asked for an offer; the REFER's far end (1003)
    // gets it and answers.
    let logs = attended_transfer(
        &n,
        "call_uas_joined_second.xml",
        "call_uas_joined_first.xml",
        "call_uac_attended_refer.xml",
    )
    .await;
    let offer = &logged_bodies(&logs[0].1, "SIP/2.0 200 OK")[1];
    assert_eq!(&logged_bodies(&logs[1].1, "INVITE sip:")[1], offer);
    tokio::time::sleep(Duration::from_millis(300)).await;
    let seen = drain(&mut events);
    let calls = by_call(&seen);
    assert_eq!(calls.len(), 3, "{seen:?}");
    let mut it = calls.values();
    for _ in 0..2 {
        assert!(
            matches!(
                it.next().unwrap().last(),
                Some(CallEvent::Ended {
                    cause: Cause::Transferred,
                    ..
                })
            ),
            "{seen:?}"
        );
    }
    let joined = it.next().unwrap();
    match &joined[0] {
        CallEvent::NewCall { caller, callee, .. } => {
            assert_eq!((caller.as_str(), callee.as_str()), ("1003", "1002"))
        }
        e => panic!("{e:?}"),
    }
    assert!(matches!(
        joined.last(),
        Some(CallEvent::Ended {
            cause: Cause::Normal,
            ..
        })
    ));
    assert!(n.traces().contains("attended transfer complete"));
    n.node.shutdown().await.unwrap();
}

#[tokio::test(flavor = "multi_thread")]
async fn an_attended_transfer_whose_call_ends_mid_join_is_given_up_and_the_other_call_goes_on() {
    let n = boot().await;
    let mut events = n.node.state.callctl.calls().subscribe();
    // 1002 is asked for an offer and gives it 1 s late; 1003, the REFER call's far end, hangs
    // up in between: the join is given up, 1002's offer is acknowledged with the session it
    // had (the transferor's), and the transferor's call with 1002 goes on.
    let logs = attended_transfer(
        &n,
        "call_uas_join_offer_late.xml",
        "call_uas_hangup_mid_join.xml",
        "call_uac_attended_refer_abandoned.xml",
    )
    .await;
    // 1003 never got the offer (no re-INVITE reached it).
    assert_eq!(logged_bodies(&logs[1].1, "INVITE sip:").len(), 1);
    tokio::time::sleep(Duration::from_millis(300)).await;
    let seen = drain(&mut events);
    let calls = by_call(&seen);
    // Two calls, no joined one; both end normally, neither as transferred.
    assert_eq!(calls.len(), 2, "{seen:?}");
    for events in calls.values() {
        assert!(
            matches!(
                events.last(),
                Some(CallEvent::Ended {
                    cause: Cause::Normal,
                    ..
                })
            ),
            "{seen:?}"
        );
    }
    let traces = n.traces();
    assert!(traces.contains("attended transfer abandoned"), "{traces}");
    assert!(!traces.contains("attended transfer complete"), "{traces}");
    n.node.shutdown().await.unwrap();
}

#[tokio::test(flavor = "multi_thread")]
async fn call_control_answers_a_ringing_phone_with_an_auto_answer_invite() {
    let n = boot().await;
    let (caller_port, callee_ports) = lab(&n, &[CALLEE]).await;
    let mut events = n.node.state.callctl.calls().subscribe();
    let dirs: Vec<_> = (0..2).map(|_| tempfile::tempdir().unwrap()).collect();
    let mut phone = Sipp::new("call_uas_answered_by_control.xml", callee_ports[0]);
    phone.calls = 2;
    let phone = phone.spawn(dirs[0].path());
    tokio::time::sleep(Duration::from_millis(500)).await;
    let mut seen = Vec::new();
    let caller = Sipp::new("call_uac.xml", caller_port)
        .to(n.sip("udp"))
        .key("dialed", "1002")
        .key("me", "1001")
        .spawn(dirs[1].path());
    wait_for(&mut events, &mut seen, |e| {
        matches!(
            e,
            CallEvent::StateChanged {
                side: Side::Callee,
                to: LegState::Ringing,
                ..
            }
        )
    })
    .await;
    let call = match &seen[0] {
        CallEvent::NewCall { call, .. } => *call,
        e => panic!("{e:?}"),
    };
    let pc = n.node.state.callctl.phone_control().unwrap().clone();
    // The caller's side cannot answer (its leg is offering or ringing).
    assert!(matches!(
        pc.answer(call, CALLER.into()).await,
        Err(ControlError::IllegalCallState(
            LegState::Offering | LegState::Ringing
        ))
    ));
    pc.answer(call, CALLEE.into()).await.unwrap();
    let logs: Vec<(bool, String)> = tokio::task::block_in_place(|| {
        [phone, caller]
            .into_iter()
            .zip(&dirs)
            .map(|(c, d)| finish(c, d.path()))
            .collect()
    });
    for (ok, log) in &logs {
        assert!(ok, "{log}\n\nall:\n{logs:?}");
    }
    let phone_log = &logs[0].1;
    assert!(phone_log.contains("CANCEL sip:"), "{phone_log}");
    assert!(phone_log.contains("Alert-Info: <http://127.0.0.1/>;info=alert-autoanswer;delay=0"));
    // The caller's offer went to the phone again in the auto-answer INVITE.
    let invites = logged_bodies(phone_log, "INVITE sip:");
    assert_eq!(invites.len(), 2);
    assert_eq!(invites[0], invites[1]);
    tokio::time::sleep(Duration::from_millis(300)).await;
    seen.extend(drain(&mut events));
    use LegState::*;
    assert_eq!(
        changes(&seen),
        vec![
            (Side::Caller, Idle, Offering, None),
            (Side::Callee, Idle, Offering, None),
            (Side::Callee, Offering, Ringing, None),
            (Side::Caller, Offering, Ringing, None),
            (Side::Callee, Ringing, Connected, None),
            (Side::Caller, Ringing, Connected, None),
            (Side::Caller, Connected, Disconnected, Some(Cause::Normal)),
            (Side::Callee, Connected, Disconnected, Some(Cause::Normal)),
        ],
        "{seen:?}"
    );
    n.node.shutdown().await.unwrap();
}

#[tokio::test(flavor = "multi_thread")]
async fn call_control_redirects_a_ringing_call_to_another_number() {
    let n = boot().await;
    let (caller_port, callee_ports) = lab(&n, &[CALLEE]).await;
    let target_port = target_lab(&n).await;
    let mut events = n.node.state.callctl.calls().subscribe();
    let dirs: Vec<_> = (0..3).map(|_| tempfile::tempdir().unwrap()).collect();
    let ringing = Sipp::new("call_uas_ring.xml", callee_ports[0]).spawn(dirs[0].path());
    let target = Sipp::new("call_uas.xml", target_port).spawn(dirs[1].path());
    tokio::time::sleep(Duration::from_millis(500)).await;
    let mut seen = Vec::new();
    let caller = Sipp::new("call_uac.xml", caller_port)
        .to(n.sip("udp"))
        .key("dialed", "1002")
        .key("me", "1001")
        .spawn(dirs[2].path());
    wait_for(&mut events, &mut seen, |e| {
        matches!(
            e,
            CallEvent::StateChanged {
                side: Side::Callee,
                to: LegState::Ringing,
                ..
            }
        )
    })
    .await;
    let call = match &seen[0] {
        CallEvent::NewCall { call, .. } => *call,
        e => panic!("{e:?}"),
    };
    let pc = n.node.state.callctl.phone_control().unwrap().clone();
    assert_eq!(
        pc.redirect(call, CALLEE.into(), "9999".into()).await,
        Err(ControlError::UnknownNumber("9999".into()))
    );
    pc.redirect(call, CALLEE.into(), "1003".into())
        .await
        .unwrap();
    assert_eq!(
        n.node
            .state
            .callctl
            .calls()
            .get(call)
            .unwrap()
            .callee
            .number,
        "1003"
    );
    let logs: Vec<(bool, String)> = tokio::task::block_in_place(|| {
        [ringing, target, caller]
            .into_iter()
            .zip(&dirs)
            .map(|(c, d)| finish(c, d.path()))
            .collect()
    });
    for (ok, log) in &logs {
        assert!(ok, "{log}\n\nall:\n{logs:?}");
    }
    tokio::time::sleep(Duration::from_millis(300)).await;
    seen.extend(drain(&mut events));
    let offered: Vec<Vec<String>> = seen
        .iter()
        .filter_map(|e| match e {
            CallEvent::Offered { devices, .. } => Some(devices.clone()),
            _ => None,
        })
        .collect();
    assert_eq!(
        offered,
        vec![vec![CALLEE.to_string()], vec![TARGET.to_string()]]
    );
    // The device it rang on left the call with cause `redirected`, recorded for that device
    // (CTI ends its connection with `redirected`), before the target was offered the call.
    let redirected: Vec<(usize, &str, &Vec<String>)> = seen
        .iter()
        .enumerate()
        .filter_map(|(i, e)| match e {
            CallEvent::Redirected {
                call: c,
                side: Side::Callee,
                number,
                devices,
                ..
            } if *c == call => Some((i, number.as_str(), devices)),
            _ => None,
        })
        .collect();
    assert_eq!(
        redirected.iter().map(|r| (r.1, r.2)).collect::<Vec<_>>(),
        vec![("1003", &vec![CALLEE.to_string()])],
        "{seen:?}"
    );
    let target_offered = seen
        .iter()
        .position(|e| matches!(e, CallEvent::Offered { devices, .. } if devices[..] == [TARGET.to_string()]))
        .unwrap();
    assert!(redirected[0].0 < target_offered, "{seen:?}");
    assert!(seen.iter().any(|e| matches!(
        e,
        CallEvent::Answered { device, .. } if device == TARGET
    )));
    assert!(matches!(
        seen.last(),
        Some(CallEvent::Ended {
            cause: Cause::Normal,
            ..
        })
    ));
    n.node.shutdown().await.unwrap();
}

#[tokio::test(flavor = "multi_thread")]
async fn in_dialog_requests_outside_a_call_get_481_and_garbage_changes_nothing() {
    let n = boot().await;
    let sock = tokio::net::UdpSocket::bind("127.0.0.1:0").await.unwrap();
    let server = n.sip("udp");
    let local = sock.local_addr().unwrap();
    let mut buf = vec![0u8; 4096];
    for (i, (method, extra)) in [
        ("INVITE", ""),
        ("UPDATE", ""),
        ("INFO", "Content-Type: application/dtmf-relay\r\n"),
        (
            "REFER",
            "Refer-To: <sip:1003@127.0.0.1?Replaces=x%3Bto-tag%3D1>\r\n",
        ),
        ("NOTIFY", "Event: refer\r\n"),
    ]
    .into_iter()
    .enumerate()
    {
        let msg = format!(
            "{method} sip:1002@{server} SIP/2.0\r\nVia: SIP/2.0/UDP {local};branch=z9hG4bKx{i};rport\r\nMax-Forwards: 70\r\nFrom: <sip:1001@127.0.0.1>;tag=a{i}\r\nTo: <sip:1002@127.0.0.1>;tag=b{i}\r\nCall-ID: nosuch{i}@test\r\nCSeq: 5 {method}\r\nContact: <sip:1001@{local}>\r\n{extra}Content-Length: 0\r\n\r\n"
        );
        sock.send_to(msg.as_bytes(), server).await.unwrap();
        let text = loop {
            let (len, _) = tokio::time::timeout(Duration::from_secs(5), sock.recv_from(&mut buf))
                .await
                .unwrap()
                .unwrap();
            let text = String::from_utf8_lossy(&buf[..len]).to_string();
            if !text.starts_with("SIP/2.0 100") {
                break text;
            }
        };
        assert!(
            text.starts_with("SIP/2.0 481"),
            "{method} answered:\n{text}"
        );
    }
    assert!(n.node.state.callctl.calls().list().is_empty());
    n.node.shutdown().await.unwrap();
}

#[tokio::test(flavor = "multi_thread")]
async fn a_phone_refusing_the_make_call_invite_ends_the_call_with_its_cause() {
    let n = boot().await;
    let (caller_port, _) = lab(&n, &[CALLEE]).await;
    let mut events = n.node.state.callctl.calls().subscribe();
    let dir = tempfile::tempdir().unwrap();
    let phone = Sipp::new("call_uas_busy.xml", caller_port).spawn(dir.path());
    tokio::time::sleep(Duration::from_millis(500)).await;
    let pc = n.node.state.callctl.phone_control().unwrap().clone();
    let call = pc
        .make_call(CALLER.into(), Some("1001".into()), "1002".into())
        .await
        .unwrap();
    let mut seen = Vec::new();
    wait_for(&mut events, &mut seen, |e| {
        matches!(e, CallEvent::Ended { .. })
    })
    .await;
    let (ok, log) = tokio::task::block_in_place(|| finish(phone, dir.path()));
    assert!(ok, "{log}");
    assert_eq!(
        seen.last(),
        Some(&CallEvent::Ended {
            call,
            cause: Cause::Busy
        })
    );
    // The dialed line was never offered the call.
    assert!(!seen.iter().any(|e| matches!(e, CallEvent::Offered { .. })));
    assert!(n.node.state.callctl.calls().list().is_empty());
    n.node.shutdown().await.unwrap();
}

#[tokio::test(flavor = "multi_thread")]
async fn a_reinvite_while_another_is_pending_gets_491() {
    let n = boot().await;
    let (caller_port, callee_ports) = lab(&n, &[CALLEE]).await;
    let ((ok, uac), uas) = tokio::task::block_in_place(|| {
        run_call(
            &n,
            Sipp::new("call_uac_glare.xml", caller_port).key("dialed", "1002"),
            vec![Sipp::new("call_uas_slow_reinvite.xml", callee_ports[0])],
        )
    });
    let (uas_ok, uas) = &uas[0];
    assert!(ok, "caller:\n{uac}\ncallee:\n{uas}");
    assert!(uas_ok, "callee:\n{uas}\ncaller:\n{uac}");
    // Only the first re-INVITE reached the callee.
    assert_eq!(logged_bodies(uas, "INVITE sip:").len(), 2, "{uas}");
    assert!(uac.contains("SIP/2.0 491 Request Pending"), "{uac}");
    n.node.shutdown().await.unwrap();
}
