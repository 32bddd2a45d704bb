//! Calls between real SIP user agents: two baresip softphones (Debian's `baresip-core`, audio
//! from its sine source, no playback device) register with digest on a node booted in-process
//! and call each other through the B2BUA, with real RTP between them. The test drives them
//! through baresip's console (the `cons` module: commands over UDP on loopback) and reads what
//! they saw in their logs. Everything is on 127.0.0.1.

mod common;

use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use common::{boot, free_ports, Node};
use serde_json::{json, Value};
use switchboard_cti_client::proto::{CallRole, CallState};
use switchboard_cti_client::{CtiClient, Message, ProviderOptions, Target, ALL_DEVICE_EVENTS};

const CALLER: &str = "SEP001794625DE5";
const CALLEE: &str = "SEP00AABBCC0002";
const CALLEE_PASSWORD: &str = "far-end-digest-pw";

/// What the deskphone's provider hears of a MakeCall, hold, retrieve and drop.
const EXPECTED_DESKPHONE_EVENTS: [&str; 7] = [
    "new Offering",
    "Ringing None",
    "Connected None",
    "Held None",
    "Connected None",
    "Disconnected Some(Normal)",
    "ended Normal",
];

/// One baresip process with its own configuration directory and log.
struct Baresip {
    child: Child,
    dir: tempfile::TempDir,
    console: u16,
}

impl Baresip {
    /// Starts baresip registering `device` (digest user = device name) with the node over UDP;
    /// `answermode` is `manual` (the test answers with `/accept`) or `auto`.
    fn start(node: &Node, device: &str, password: &str, answermode: &str) -> Baresip {
        let dir = tempfile::tempdir().unwrap();
        // baresip binds UDP+TCP on its SIP port and TCP on the next (TLS); the console third.
        let sip = free_ports(20_000, 3);
        let rtp = free_ports(20_000, 10);
        let config = format!(
            "poll_method epoll\n\
             sip_listen 127.0.0.1:{sip}\n\
             net_interface 127.0.0.1\n\
             dns_server 127.0.0.1:53\n\
             audio_source ausine,440\n\
             ausrc_srate 48000\n\
             ausrc_channels 2\n\
             rtp_ports {rtp}-{}\n\
             module_path /usr/lib/baresip/modules\n\
             module g711.so\n\
             module ausine.so\n\
             module cons.so\n\
             module_app account.so\n\
             module_app menu.so\n\
             cons_listen 127.0.0.1:{}\n",
            rtp + 9,
            sip + 2
        );
        std::fs::write(dir.path().join("config"), config).unwrap();
        let server = node.sip("udp");
        std::fs::write(
            dir.path().join("accounts"),
            format!(
                "<sip:{device}@{server}>;auth_user={device};auth_pass={password};\
                 answermode={answermode};regint=600\n"
            ),
        )
        .unwrap();
        std::fs::write(dir.path().join("contacts"), "").unwrap();
        let log = std::fs::File::create(dir.path().join("log")).unwrap();
        let child = Command::new("baresip")
            .arg("-f")
            .arg(dir.path())
            .current_dir(dir.path())
            .stdin(Stdio::null())
            .stdout(log.try_clone().unwrap())
            .stderr(log)
            .spawn()
            .expect("baresip (Debian's baresip-core; scripts/test.sh installs it)");
        Baresip {
            child,
            dir,
            console: sip + 2,
        }
    }

    /// A console command, e.g. `/dial 1002`, `/accept`, `/hangup`.
    fn command(&self, command: &str) {
        let socket = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
        socket
            .send_to(
                format!("{command}\n").as_bytes(),
                ("127.0.0.1", self.console),
            )
            .unwrap();
    }

    fn log(&self) -> String {
        String::from_utf8_lossy(&std::fs::read(self.log_path()).unwrap_or_default()).into_owned()
    }

    fn log_path(&self) -> PathBuf {
        self.dir.path().join("log")
    }

    /// Waits up to 10 s for `needle` to appear `count` times in the log.
    async fn wait_for(&self, needle: &str, count: usize) {
        for _ in 0..200 {
            if self.log().matches(needle).count() >= count {
                return;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        panic!("no {needle:?} (×{count}) in baresip's log:\n{}", self.log());
    }
}

impl Drop for Baresip {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Polls `GET /api/calls` until `ok` holds for the list (10 s at most).
async fn calls_until(n: &Node, what: &str, ok: impl Fn(&Value) -> bool) -> Value {
    let mut calls = Value::Null;
    for _ in 0..200 {
        calls = n.api(reqwest::Method::GET, "/api/calls", None).await;
        if ok(&calls) {
            return calls;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("calls never {what}: {calls}");
}

/// Waits until the registrar challenges with MD5 alone (the parameter is applied
/// asynchronously): baresip 1.0's libre gives up on a 401 that also offers SHA-256.
async fn md5_challenges_only(n: &Node) {
    n.api(
        reqwest::Method::PUT,
        "/api/params/SipDigestOfferSha256",
        Some(json!({"value": "0"})),
    )
    .await;
    let socket = tokio::net::UdpSocket::bind("127.0.0.1:0").await.unwrap();
    let local = socket.local_addr().unwrap();
    let server = n.sip("udp");
    for cseq in 1..200 {
        let register = format!(
            "REGISTER sip:{server} SIP/2.0\r\nVia: SIP/2.0/UDP {local};branch=z9hG4bK-md5-{cseq};rport\r\n\
             Max-Forwards: 70\r\nFrom: <sip:{CALLER}@{server}>;tag=md5\r\nTo: <sip:{CALLER}@{server}>\r\n\
             Call-ID: md5-probe@127.0.0.1\r\nCSeq: {cseq} REGISTER\r\n\
             Contact: <sip:{CALLER}@{local}>\r\nExpires: 0\r\nContent-Length: 0\r\n\r\n"
        );
        socket.send_to(register.as_bytes(), server).await.unwrap();
        let mut buf = vec![0u8; 4096];
        let len = tokio::time::timeout(Duration::from_secs(2), socket.recv(&mut buf))
            .await
            .unwrap()
            .unwrap();
        let answer = String::from_utf8_lossy(&buf[..len]).into_owned();
        if answer.matches("WWW-Authenticate:").count() == 1 {
            assert!(answer.contains("algorithm=MD5"), "{answer}");
            return;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    panic!("the registrar kept offering SHA-256");
}

/// The demo deskphone (line 1001, answering by itself when `auto_answer`) and a far end on
/// line 1002, both baresip, registered.
async fn two_phones(n: &Node, auto_answer: bool) -> (Baresip, Baresip) {
    md5_challenges_only(n).await;
    n.api(
        reqwest::Method::POST,
        "/api/lines",
        Some(json!({"dn": "1002"})),
    )
    .await;
    n.api(
        reqwest::Method::POST,
        "/api/devices",
        Some(json!({
            "name": CALLEE, "product": "Cisco 8841", "device_class": "deskphone",
            "owner": "wwhite", "security_profile": "Cisco 8841 - Standard SIP Digest Profile",
            "digest_password": CALLEE_PASSWORD,
            "lines": [{"index": 1, "dn": "1002"}]
        })),
    )
    .await;
    let mode = if auto_answer { "auto" } else { "manual" };
    let caller = Baresip::start(n, CALLER, &n.demo_password(CALLER), mode);
    let callee = Baresip::start(n, CALLEE, CALLEE_PASSWORD, "manual");
    for phone in [&caller, &callee] {
        phone.wait_for("200 OK (Switchboard", 1).await;
    }
    let registered = n
        .api(reqwest::Method::GET, "/api/registrations", None)
        .await;
    assert_eq!(registered.as_array().map(Vec::len), Some(2), "{registered}");
    (caller, callee)
}

#[tokio::test(flavor = "multi_thread")]
async fn two_baresip_phones_call_each_other_through_the_b2bua() {
    use switchboard_callctl::{CallEvent, Cause, LegState, Side};
    let n = boot().await;
    let (caller, callee) = two_phones(&n, false).await;

    let mut events = n.node.state.callctl.calls().subscribe();
    caller.command("/dial 1002");
    callee.wait_for("Incoming call from", 1).await;
    let ringing = calls_until(&n, "ringing", |c| c[0]["callee"]["state"] == "ringing").await;
    assert_eq!(ringing[0]["caller"]["device"], CALLER, "{ringing}");
    // baresip puts its account (the device name) in From; the call presents the line, 1001.
    assert_eq!(ringing[0]["caller"]["number"], "1001", "{ringing}");
    assert!(
        callee.log().contains("Incoming call from:  sip:1001@"),
        "{}",
        callee.log()
    );
    assert_eq!(
        ringing[0]["callee"]["offered"],
        json!([CALLEE]),
        "{ringing}"
    );

    callee.command("/accept");
    caller.wait_for("Call established", 1).await;
    callee.wait_for("Call established", 1).await;
    // The SDP went through unchanged, so the phones' RTP reaches each other directly.
    caller
        .wait_for("incoming rtp for 'audio' established", 1)
        .await;
    callee
        .wait_for("incoming rtp for 'audio' established", 1)
        .await;
    let connected = calls_until(&n, "connected", |c| {
        c[0]["caller"]["state"] == "connected" && c[0]["callee"]["state"] == "connected"
    })
    .await;
    assert_eq!(connected[0]["callee"]["device"], CALLEE, "{connected}");

    // The called phone hangs up: its BYE reaches the caller, the call ends normally.
    callee.command("/hangup");
    caller.wait_for("session closed", 1).await;
    calls_until(&n, "empty", |c| c.as_array().is_some_and(Vec::is_empty)).await;

    let mut seen = Vec::new();
    while let Ok(e) = events.try_recv() {
        seen.push(e);
    }
    let changes: Vec<(Side, LegState)> = seen
        .iter()
        .filter_map(|e| match e {
            CallEvent::StateChanged { side, to, .. } => Some((*side, *to)),
            _ => None,
        })
        .collect();
    use LegState::*;
    assert_eq!(
        changes,
        vec![
            (Side::Caller, Offering),
            (Side::Callee, Offering),
            (Side::Callee, Ringing),
            (Side::Caller, Ringing),
            (Side::Callee, Connected),
            (Side::Caller, Connected),
            (Side::Callee, Disconnected),
            (Side::Caller, Disconnected),
        ],
        "{seen:?}"
    );
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
    n.node.shutdown().await.unwrap();
}

/// Call events of one device, as (message name, state or cause) pairs, until `last` arrives.
async fn call_events_until(
    cti: &mut CtiClient,
    seen: &mut Vec<Message>,
    last: impl Fn(&Message) -> bool,
) {
    loop {
        let m = cti
            .next_event_timeout(Duration::from_secs(10))
            .await
            .unwrap_or_else(|e| panic!("{e}; so far {seen:?}"));
        let done = last(&m);
        if matches!(
            m,
            Message::NewCallEvent(_)
                | Message::CallStateChangedEvent(_)
                | Message::CallEndedEvent(_)
        ) {
            seen.push(m);
        }
        if done {
            return;
        }
    }
}

/// The scenario: a CTI application opens the deskphone (baresip with auto-answer on:
/// Debian's baresip 1.0 does not act on the node's `Call-Info: …;answer-after=0`), MakeCallRequest → the deskphone auto-answers → the
/// far end (baresip) rings and answers → both connected; HoldRequest / RetrieveRequest;
/// DropRequest; the CTI events of the deskphone asserted exactly.
#[tokio::test(flavor = "multi_thread")]
async fn cti_make_call_hold_retrieve_and_drop_drive_the_baresip_deskphone() {
    let n = boot().await;
    let (deskphone, far_end) = two_phones(&n, true).await;
    let mut cti = CtiClient::connect(Target::Plain(n.cti())).await.unwrap();
    cti.open_provider(ProviderOptions::password(
        "wwhite",
        n.demo_password("wwhite"),
    ))
    .await
    .unwrap();
    let h = cti
        .open_device(CALLER, ALL_DEVICE_EVENTS)
        .await
        .unwrap()
        .device_handle;

    let call = cti.make_call(h, "1002", None).await.unwrap().call_id;
    // The node called the deskphone first (offering the far end's number) and it answered.
    deskphone
        .wait_for("answering call on line 1 from sip:1002@", 1)
        .await;
    // Then the far end rang; once it answers, the deskphone gets its answer in the ACK.
    far_end.wait_for("Incoming call from", 1).await;
    far_end.command("/accept");
    far_end.wait_for("Call established", 1).await;
    deskphone.wait_for("Call established", 1).await;
    let mut seen = Vec::new();
    call_events_until(
        &mut cti,
        &mut seen,
        |m| matches!(m, Message::CallStateChangedEvent(e) if e.state == CallState::Connected),
    )
    .await;
    // RTP flows between the two phones: the node bridged their SDP.
    deskphone
        .wait_for("incoming rtp for 'audio' established", 1)
        .await;
    far_end
        .wait_for("incoming rtp for 'audio' established", 1)
        .await;

    cti.hold(h, call).await.unwrap();
    call_events_until(
        &mut cti,
        &mut seen,
        |m| matches!(m, Message::CallStateChangedEvent(e) if e.state == CallState::Held),
    )
    .await;
    // Hold and retrieve are re-INVITEs of the far end and of the deskphone (their media
    // direction changed).
    far_end.wait_for("got re-INVITE (SDP Offer)", 1).await;
    deskphone.wait_for("got re-INVITE (SDP Offer)", 1).await;
    cti.retrieve(h, call).await.unwrap();
    call_events_until(
        &mut cti,
        &mut seen,
        |m| matches!(m, Message::CallStateChangedEvent(e) if e.state == CallState::Connected),
    )
    .await;
    far_end.wait_for("got re-INVITE (SDP Offer)", 2).await;
    deskphone.wait_for("got re-INVITE (SDP Offer)", 2).await;
    cti.drop_call(h, call).await.unwrap();
    call_events_until(&mut cti, &mut seen, |m| {
        matches!(m, Message::CallEndedEvent(_))
    })
    .await;
    far_end.wait_for("session closed", 1).await;
    deskphone.wait_for("session closed", 1).await;

    let summary: Vec<String> = seen
        .iter()
        .map(|m| match m {
            Message::NewCallEvent(e) => {
                assert_eq!((e.call_id, e.device_handle), (call, h));
                assert_eq!(e.role, CallRole::Originating);
                assert_eq!(e.called_number, "1002");
                format!("new {:?}", e.state)
            }
            Message::CallStateChangedEvent(e) => {
                assert_eq!(e.call_id, call);
                format!("{:?} {:?}", e.state, e.cause)
            }
            Message::CallEndedEvent(e) => {
                assert_eq!(e.call_id, call);
                format!("ended {:?}", e.cause)
            }
            _ => unreachable!(),
        })
        .collect();
    assert_eq!(summary, EXPECTED_DESKPHONE_EVENTS, "{seen:?}");
    n.node.shutdown().await.unwrap();
}
