//! The CTI Manager end to end on a node booted in-process on ephemeral loopback ports: the
//! seed's 17 steps over the plain port with a sealed password (the deskphone registering for
//! real through SIPp), and every failure the protocol names, each over a real socket, each
//! leaving the node serving the others. The client here speaks raw frames (built with the
//! protocol crate) so that hostile bytes can be sent too.

mod common;

use std::net::SocketAddr;
use std::path::Path;
use std::process::Command;
use std::time::Duration;

use serde_json::{json, Value};
use switchboard_cti_proto::seal::seal_password;
use switchboard_cti_proto::*;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use common::{boot, free_local_port, scenario, Node};

const PHONE: &str = "SEP001794625DE5";
const SOFTPHONE: &str = "CSFwwhite";

impl Node {
    /// An access token from the node's OAuth server (password grant) with `scope`.
    async fn access_token(&self, scope: &str) -> String {
        let password = self.demo_password("wwhite");
        let resp = self
            .client
            .post(format!("{}/oauth/token", self.node.api_url()))
            .form(&[
                ("grant_type", "password"),
                ("client_id", "jabber"),
                ("username", "wwhite"),
                ("password", password.as_str()),
                ("scope", scope),
            ])
            .send()
            .await
            .unwrap();
        assert!(resp.status().is_success());
        let body: Value = resp.json().await.unwrap();
        body["access_token"].as_str().unwrap().to_string()
    }
    fn traces(&self) -> String {
        self.traces_of(switchboard_trace::Service::Cti)
    }
}

/// A CTI connection speaking raw frames.
struct Raw {
    stream: TcpStream,
    decoder: FrameDecoder,
}

/// How long a test waits for a message it expects.
const WAIT: Duration = Duration::from_secs(10);

impl Raw {
    async fn connect(addr: SocketAddr) -> Raw {
        Raw {
            stream: TcpStream::connect(addr).await.unwrap(),
            decoder: FrameDecoder::default(),
        }
    }
    async fn send(&mut self, m: impl Into<Message>) {
        let frame = encode_message_frame(&m.into()).unwrap();
        self.stream.write_all(&frame).await.unwrap();
    }
    async fn send_bytes(&mut self, bytes: &[u8]) {
        self.stream.write_all(bytes).await.unwrap();
    }
    /// The next message, or `None` when the server closed the connection.
    async fn next(&mut self, wait: Duration) -> Option<Message> {
        tokio::time::timeout(wait, async {
            loop {
                if let Some(m) = self.decoder.next_message().unwrap() {
                    return Some(m);
                }
                let mut buf = [0u8; 4096];
                match self.stream.read(&mut buf).await {
                    Ok(0) | Err(_) => return None,
                    Ok(n) => self.decoder.push(&buf[..n]),
                }
            }
        })
        .await
        .expect("no message in time")
    }
    async fn recv(&mut self) -> Message {
        self.next(WAIT)
            .await
            .expect("the server closed the connection")
    }
    /// Reads until the server closes; returns what came before.
    async fn until_closed(&mut self) -> Vec<Message> {
        let mut seen = Vec::new();
        while let Some(m) = self.next(WAIT).await {
            seen.push(m);
        }
        seen
    }
    async fn error(&mut self) -> ErrorResponse {
        match self.recv().await {
            Message::ErrorResponse(e) => e,
            other => panic!("expected an ErrorResponse, got {other:?}"),
        }
    }
}

fn open_request(seq: u32, login: &str, auth: Auth) -> ProviderOpenRequest {
    ProviderOpenRequest {
        seq,
        protocol_versions: vec![1],
        login: login.into(),
        auth,
        application: "Shibui".into(),
        client_version: "cti-e2e/1".into(),
        heartbeat_s: 60,
        timer_s: 10,
    }
}

/// Steps 1–14 on the plain port: open, seal the password to the node's key with the nonce,
/// authenticate. Returns the response and the outcome event.
async fn open_sealed(
    raw: &mut Raw,
    login: &str,
    password: &str,
) -> (ProviderOpenResponse, Message) {
    open_sealed_speaking(raw, login, password, &[1]).await
}

/// [`open_sealed`], offering `versions`.
async fn open_sealed_speaking(
    raw: &mut Raw,
    login: &str,
    password: &str,
    versions: &[u32],
) -> (ProviderOpenResponse, Message) {
    let mut open = open_request(2, login, Auth::SealedPassword {});
    open.protocol_versions = versions.to_vec();
    raw.send(open).await;
    let Message::ProviderOpenResponse(resp) = raw.recv().await else {
        panic!("no ProviderOpenResponse")
    };
    let sealed = seal_password(
        resp.cti_public_key.as_deref().expect("the node's CTI key"),
        login,
        resp.nonce.as_deref().expect("a nonce"),
        password,
        &mut rand::rngs::OsRng,
    )
    .unwrap();
    raw.send(ProviderAuthenticateRequest {
        seq: 3,
        sealed_password: sealed,
    })
    .await;
    assert_eq!(
        raw.recv().await,
        Message::ProviderAuthenticateResponse(ProviderAuthenticateResponse { seq: 3 })
    );
    let outcome = raw.recv().await;
    (resp, outcome)
}

/// An open provider for wwhite on the plain port.
async fn provider(n: &Node) -> Raw {
    let mut raw = Raw::connect(n.cti()).await;
    let (_, outcome) = open_sealed(&mut raw, "wwhite", &n.demo_password("wwhite")).await;
    assert!(
        matches!(outcome, Message::ProviderOpenCompletedEvent(_)),
        "{outcome:?}"
    );
    raw
}

/// An open provider for wwhite on the plain port, speaking protocol version 2 (calls).
async fn provider_v2(n: &Node) -> Raw {
    let mut raw = Raw::connect(n.cti()).await;
    let (resp, outcome) =
        open_sealed_speaking(&mut raw, "wwhite", &n.demo_password("wwhite"), &[1, 2]).await;
    assert_eq!(resp.protocol_version, 2);
    assert!(
        matches!(outcome, Message::ProviderOpenCompletedEvent(_)),
        "{outcome:?}"
    );
    raw
}

fn device_open(seq: u32, device: &str) -> DeviceOpenRequest {
    DeviceOpenRequest {
        seq,
        device_name: device.into(),
        event_filter: EventFilter {
            device_state: true,
            call_state: false,
        },
    }
}

/// Registers (`expires` > 0) or unregisters the deskphone over UDP with SIPp and digest.
fn sipp_register(n: &Node, scenario_file: &str, expires: u32) {
    let sip: SocketAddr = n.listener("sip", "udp");
    let dir = tempfile::tempdir().unwrap();
    let csv = dir.path().join("devices.csv");
    std::fs::write(
        &csv,
        format!(
            "SEQUENTIAL\n{PHONE};[authentication username={PHONE} password={}]\n",
            n.demo_password(PHONE)
        ),
    )
    .unwrap();
    let out = Command::new("timeout")
        .arg("60")
        .arg("sipp")
        .arg(sip.to_string())
        .arg("-sf")
        .arg(scenario(scenario_file))
        .arg("-inf")
        .arg(&csv)
        .args(["-m", "1", "-t", "u1", "-i", "127.0.0.1", "-p", "0"])
        .args(["-key", "tp", "UDP", "-key", "ctp", "udp"])
        .args(["-key", "expires", &expires.to_string()])
        .args(["-timeout", "20", "-timeout_error", "-nostdin"])
        .current_dir(dir.path())
        .output()
        .unwrap_or_else(|e| panic!("SIPp is needed (./scripts/test.sh installs it): {e}"));
    assert!(
        out.status.success(),
        "SIPp {scenario_file} failed:\n{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn the_seventeen_steps_over_the_plain_port_with_a_sealed_password() {
    let n = boot().await;
    // As the seed asks: the CTI Manager's trace at debug level.
    n.api(
        reqwest::Method::PUT,
        "/api/trace/levels/cti",
        Some(json!({"level": "debug"})),
    )
    .await;
    let mut raw = Raw::connect(n.cti()).await;
    // Steps 1–14.
    let (resp, outcome) = open_sealed(&mut raw, "wwhite", &n.demo_password("wwhite")).await;
    assert_eq!((resp.seq, resp.protocol_version), (2, 1));
    assert_eq!((resp.heartbeat_s, resp.timer_s), (60, 10));
    assert!(resp.provider_id >= 0x0100_0000);
    let Message::ProviderOpenCompletedEvent(done) = outcome else {
        panic!("{outcome:?}")
    };
    assert_eq!(done.provider_id, resp.provider_id);
    assert_eq!(done.user_id, "wwhite");
    assert_eq!(
        done.flags,
        CtiFlags {
            super_provider: false,
            call_park_retrieval_allowed: false,
            modify_calling_number: false,
            cti_enabled: true,
            call_monitor: false,
            call_record: false,
        }
    );
    // Steps 15–16: the phone is not registered yet.
    raw.send(device_open(4, PHONE)).await;
    let Message::DeviceOpenResponse(opened) = raw.recv().await else {
        panic!("no DeviceOpenResponse")
    };
    assert_eq!(opened.seq, 4);
    assert_eq!(opened.device_name, PHONE);
    assert_eq!(opened.device_type, "Cisco 8841");
    assert_eq!(opened.state, DeviceState::OutOfService);
    // Step 17: the deskphone registers for real; the provider hears of it.
    tokio::task::block_in_place(|| sipp_register(&n, "reg_digest.xml", 3600));
    assert_eq!(
        raw.recv().await,
        Message::DeviceInServiceEvent(DeviceInServiceEvent {
            device_handle: opened.device_handle,
            device_name: PHONE.into(),
        })
    );
    // And when it unregisters.
    tokio::task::block_in_place(|| sipp_register(&n, "unreg_digest.xml", 0));
    assert_eq!(
        raw.recv().await,
        Message::DeviceOutOfServiceEvent(DeviceOutOfServiceEvent {
            device_handle: opened.device_handle,
            device_name: PHONE.into(),
            reason: OutOfServiceReason::Unregistered,
        })
    );
    raw.send(ProviderCloseRequest { seq: 9 }).await;
    assert_eq!(
        raw.until_closed().await,
        vec![Message::ProviderCloseResponse(ProviderCloseResponse {
            seq: 9
        })]
    );

    // The trace tells the same story in the seed's words, in order, without the password.
    let traces = n.traces();
    let pid = resp.provider_id;
    let steps = [
        "CTI ProviderOpenRequest ( seq#=2 provider=Shibui login=wwhite heartbeat=60 timer=10)".to_string(),
        format!("CTI ProviderOpenResponse (seq#=2) provider id={pid}"),
        "CtiLoginCheckReq |ready |Login=wwhite Seq#=2".to_string(),
        "Decrypted Key Status success".to_string(),
        format!("Nonce ={}", resp.nonce.clone().unwrap()),
        "Nonce validation success".to_string(),
        "Decrypted Password Status success".to_string(),
        "CtiLoginCheckRes |authenticating |Seq#=2 result=Success LoginUserID=wwhite".to_string(),
        "CtiUserSettingsReq |ready |mUserId=wwhite".to_string(),
        "CtiUserSettingsRes |verifying |SuperProvider = Disabled CallParkRetrievalAllowed = Disabled \
         ModifyCallingNumber = Disabled CTI Enabled = Enabled CallMonitor=Disabled CallRecord=Disabled \
         Userid = wwhite result=0".to_string(),
        format!("CTI ProviderOpenCompletedEvent ( provider id={pid} ) Userid = wwhite"),
        format!("CTI DeviceOpenRequest ( seq#=4 device name={PHONE})"),
        format!("CTI DeviceOpenResponse ( seq#=4 result=0 DH={} deviceName={PHONE}", opened.device_handle),
        format!("CTI DeviceInServiceEvent ( DH={} ) deviceName={PHONE} provider id={pid}", opened.device_handle),
        format!("CTI DeviceOutOfServiceEvent ( DH={} ) deviceName={PHONE} provider id={pid} reason=unregistered", opened.device_handle),
        "CTI connection closed: tcp".to_string(),
    ];
    let mut from = 0;
    for step in &steps {
        match traces[from..].find(step.as_str()) {
            Some(at) => from += at + step.len(),
            None => panic!("trace line missing or out of order: {step}\n---\n{traces}"),
        }
    }
    assert!(!traces.contains(&n.demo_password("wwhite")));
    let auth_traces = n
        .node
        .state
        .tracer
        .read_back(&[switchboard_trace::Service::Auth]);
    assert!(auth_traces.contains("Successfully authenticated user: wwhite"));
    assert!(!auth_traces.contains(&n.demo_password("wwhite")));
    n.node.shutdown().await.unwrap();
}

#[tokio::test(flavor = "multi_thread")]
async fn login_failures_are_named_and_close_only_their_connection() {
    let n = boot().await;
    let mut bystander = provider(&n).await;

    // Wrong password.
    let mut raw = Raw::connect(n.cti()).await;
    let (resp, outcome) = open_sealed(&mut raw, "wwhite", "not-his-password").await;
    let Message::ProviderOpenFailedEvent(failed) = outcome else {
        panic!("{outcome:?}")
    };
    assert_eq!(
        (failed.provider_id, failed.reason),
        (resp.provider_id, ErrorName::DirectoryLoginFailed)
    );
    assert!(raw.until_closed().await.is_empty());

    // A user who is not CTI enabled.
    n.api(
        reqwest::Method::POST,
        "/api/users",
        Some(json!({"userid": "jpinkman", "password": "Yo-Science-42", "cti_enabled": false})),
    )
    .await;
    let mut raw = Raw::connect(n.cti()).await;
    let (_, outcome) = open_sealed(&mut raw, "jpinkman", "Yo-Science-42").await;
    let Message::ProviderOpenFailedEvent(failed) = outcome else {
        panic!("{outcome:?}")
    };
    assert_eq!(failed.reason, ErrorName::CtierrUserNotCtiEnabled);
    assert!(raw.until_closed().await.is_empty());

    // A cleartext password on the plain port: refused before any authentication.
    let mut raw = Raw::connect(n.cti()).await;
    raw.send(open_request(
        1,
        "wwhite",
        Auth::Password {
            password: n.demo_password("wwhite"),
        },
    ))
    .await;
    let e = raw.error().await;
    assert_eq!(
        (e.seq, e.error),
        (Some(1), ErrorName::CleartextPasswordRefused)
    );
    assert!(raw.until_closed().await.is_empty());

    // No common protocol version.
    let mut raw = Raw::connect(n.cti()).await;
    let mut req = open_request(1, "wwhite", Auth::SealedPassword {});
    req.protocol_versions = vec![7, 8];
    raw.send(req).await;
    let e = raw.error().await;
    assert_eq!(e.error, ErrorName::IncompatibleProtocolVersion);
    assert_eq!(e.supported_versions, Some(vec![2, 1]));
    assert!(raw.until_closed().await.is_empty());

    // The bystander's provider is still served.
    bystander.send(device_open(4, PHONE)).await;
    assert!(matches!(
        bystander.recv().await,
        Message::DeviceOpenResponse(_)
    ));
    let traces = n.traces();
    assert!(traces
        .contains("CtiLoginCheckRes |authenticating |Seq#=2 result=Failure LoginUserID=wwhite"));
    assert!(traces.contains("reason=CTIERR_USER_NOT_CTI_ENABLED"));
    n.node.shutdown().await.unwrap();
}

#[tokio::test(flavor = "multi_thread")]
async fn a_sealed_password_is_single_use_and_bound_to_its_connection() {
    let n = boot().await;
    let password = n.demo_password("wwhite");
    // Connection A gets a nonce; its seal is captured.
    let mut a = Raw::connect(n.cti()).await;
    a.send(open_request(2, "wwhite", Auth::SealedPassword {}))
        .await;
    let Message::ProviderOpenResponse(resp_a) = a.recv().await else {
        panic!()
    };
    let sealed = seal_password(
        resp_a.cti_public_key.as_deref().unwrap(),
        "wwhite",
        resp_a.nonce.as_deref().unwrap(),
        &password,
        &mut rand::rngs::OsRng,
    )
    .unwrap();
    // Replayed on connection B, whose nonce is another: refused.
    let mut b = Raw::connect(n.cti()).await;
    b.send(open_request(2, "wwhite", Auth::SealedPassword {}))
        .await;
    let Message::ProviderOpenResponse(resp_b) = b.recv().await else {
        panic!()
    };
    assert_ne!(resp_a.nonce, resp_b.nonce);
    b.send(ProviderAuthenticateRequest {
        seq: 3,
        sealed_password: sealed.clone(),
    })
    .await;
    assert!(matches!(
        b.recv().await,
        Message::ProviderAuthenticateResponse(_)
    ));
    let Message::ProviderOpenFailedEvent(failed) = b.recv().await else {
        panic!()
    };
    assert_eq!(failed.reason, ErrorName::NonceInvalid);
    assert!(b.until_closed().await.is_empty());
    // On A it works once...
    a.send(ProviderAuthenticateRequest {
        seq: 3,
        sealed_password: sealed.clone(),
    })
    .await;
    assert!(matches!(
        a.recv().await,
        Message::ProviderAuthenticateResponse(_)
    ));
    assert!(matches!(
        a.recv().await,
        Message::ProviderOpenCompletedEvent(_)
    ));
    // ...and a second time on the same connection is not an authentication at all.
    a.send(ProviderAuthenticateRequest {
        seq: 4,
        sealed_password: sealed,
    })
    .await;
    let e = a.error().await;
    assert_eq!((e.seq, e.error), (Some(4), ErrorName::ProviderAlreadyOpen));
    // A seal for another login does not open (the login is the seal's associated data).
    let mut c = Raw::connect(n.cti()).await;
    let (_, outcome) = {
        c.send(open_request(2, "wwhite", Auth::SealedPassword {}))
            .await;
        let Message::ProviderOpenResponse(resp) = c.recv().await else {
            panic!()
        };
        let sealed = seal_password(
            resp.cti_public_key.as_deref().unwrap(),
            "someone-else",
            resp.nonce.as_deref().unwrap(),
            &password,
            &mut rand::rngs::OsRng,
        )
        .unwrap();
        c.send(ProviderAuthenticateRequest {
            seq: 3,
            sealed_password: sealed,
        })
        .await;
        c.recv().await;
        (resp, c.recv().await)
    };
    assert!(matches!(
        outcome,
        Message::ProviderOpenFailedEvent(ProviderOpenFailedEvent {
            reason: ErrorName::NonceInvalid,
            ..
        })
    ));
    let traces = n.traces();
    assert!(traces.contains("Nonce validation failure"));
    assert!(traces.contains("Decrypted Key Status failure"));
    n.node.shutdown().await.unwrap();
}

#[tokio::test(flavor = "multi_thread")]
async fn device_open_refusals_and_lines() {
    let n = boot().await;
    let mut raw = provider(&n).await;
    // Not controlled by wwhite.
    raw.send(device_open(4, SOFTPHONE)).await;
    let e = raw.error().await;
    assert_eq!(
        (e.seq, e.error),
        (Some(4), ErrorName::CtierrEnduserNotAssociatedWithDevice)
    );
    // Unknown.
    raw.send(device_open(5, "SEP000000000000")).await;
    let e = raw.error().await;
    assert_eq!((e.seq, e.error), (Some(5), ErrorName::DeviceNotFound));
    // Restricted: the device does not allow control from CTI.
    n.api(
        reqwest::Method::PATCH,
        &format!("/api/devices/{PHONE}"),
        Some(json!({"allow_cti_control": false})),
    )
    .await;
    raw.send(device_open(6, PHONE)).await;
    let e = raw.error().await;
    assert_eq!(
        (e.seq, e.error),
        (Some(6), ErrorName::CtierrAccessToDeviceDenied)
    );
    n.api(
        reqwest::Method::PATCH,
        &format!("/api/devices/{PHONE}"),
        Some(json!({"allow_cti_control": true})),
    )
    .await;
    raw.send(device_open(7, PHONE)).await;
    let Message::DeviceOpenResponse(opened) = raw.recv().await else {
        panic!()
    };
    raw.send(device_open(8, PHONE)).await;
    let e = raw.error().await;
    assert_eq!((e.seq, e.error), (Some(8), ErrorName::DeviceAlreadyOpen));
    // Lines of the open device.
    let h = opened.device_handle;
    raw.send(LineOpenRequest {
        seq: 9,
        device_handle: h,
        directory_number: "1001".into(),
    })
    .await;
    let Message::LineOpenResponse(line) = raw.recv().await else {
        panic!()
    };
    assert_eq!(
        (line.seq, line.device_handle, line.directory_number.as_str()),
        (9, h, "1001")
    );
    raw.send(LineOpenRequest {
        seq: 10,
        device_handle: h,
        directory_number: "9999".into(),
    })
    .await;
    assert_eq!(raw.error().await.error, ErrorName::LineNotFound);
    raw.send(LineOpenRequest {
        seq: 11,
        device_handle: h + 100,
        directory_number: "1001".into(),
    })
    .await;
    assert_eq!(raw.error().await.error, ErrorName::InvalidDeviceHandle);
    // A super provider may open any device.
    n.api(
        reqwest::Method::PATCH,
        "/api/users/wwhite",
        Some(json!({"super_provider": true})),
    )
    .await;
    raw.send(device_open(12, SOFTPHONE)).await;
    assert!(matches!(raw.recv().await, Message::DeviceOpenResponse(_)));
    // Close the deskphone: its handle is gone.
    raw.send(DeviceCloseRequest {
        seq: 13,
        device_handle: h,
    })
    .await;
    assert_eq!(
        raw.recv().await,
        Message::DeviceCloseResponse(DeviceCloseResponse {
            seq: 13,
            device_handle: h
        })
    );
    raw.send(DeviceCloseRequest {
        seq: 14,
        device_handle: h,
    })
    .await;
    assert_eq!(raw.error().await.error, ErrorName::InvalidDeviceHandle);
    assert_eq!(n.node.state.cti.stats().device_opens, 1);
    n.node.shutdown().await.unwrap();
}

#[tokio::test(flavor = "multi_thread")]
async fn hostile_frames_get_named_errors() {
    let n = boot().await;
    let mut raw = Raw::connect(n.cti()).await;
    // A request before the provider is open.
    raw.send(device_open(1, PHONE)).await;
    let e = raw.error().await;
    assert_eq!((e.seq, e.error), (Some(1), ErrorName::ProviderNotOpen));
    // Not JSON: the frame is consumed and the connection goes on.
    raw.send_bytes(&encode_frame(b"{not json").unwrap()).await;
    assert_eq!(raw.error().await.error, ErrorName::MalformedMessage);
    // A field that does not belong.
    raw.send_bytes(&encode_frame(br#"{"type":"Heartbeat","extra":1}"#).unwrap())
        .await;
    assert_eq!(raw.error().await.error, ErrorName::MalformedMessage);
    // An empty frame.
    raw.send_bytes(&[0, 0, 0, 0]).await;
    assert_eq!(raw.error().await.error, ErrorName::MalformedMessage);
    // An unknown message, and a message only the server sends.
    raw.send_bytes(&encode_frame(br#"{"type":"ParkCallRequest","seq":3}"#).unwrap())
        .await;
    assert_eq!(raw.error().await.error, ErrorName::UnknownMessage);
    raw.send(ProviderCloseResponse { seq: 4 }).await;
    assert_eq!(raw.error().await.error, ErrorName::UnknownMessage);
    // Still usable: a provider opens on it.
    let (_, outcome) = open_sealed(&mut raw, "wwhite", &n.demo_password("wwhite")).await;
    assert!(matches!(outcome, Message::ProviderOpenCompletedEvent(_)));
    // A second open on the same connection.
    raw.send(open_request(5, "wwhite", Auth::SealedPassword {}))
        .await;
    assert_eq!(raw.error().await.error, ErrorName::ProviderAlreadyOpen);
    // An oversized frame: the stream cannot be resynchronised, so it is closed.
    raw.send_bytes(&(MAX_FRAME_LEN as u32 + 1).to_be_bytes())
        .await;
    let last = raw.until_closed().await;
    assert!(
        matches!(
            last.as_slice(),
            [Message::ErrorResponse(ErrorResponse {
                seq: None,
                error: ErrorName::FrameTooLarge,
                ..
            })]
        ),
        "{last:?}"
    );
    // The provider was released with the connection.
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert_eq!(n.node.state.cti.stats().providers, 0);
    let mut again = provider(&n).await;
    again.send(device_open(4, PHONE)).await;
    assert!(matches!(again.recv().await, Message::DeviceOpenResponse(_)));
    n.node.shutdown().await.unwrap();
}

#[tokio::test(flavor = "multi_thread")]
async fn oauth_access_tokens_open_providers_with_the_cti_scope() {
    let n = boot().await;
    let token = n.access_token("cti").await;
    let mut raw = Raw::connect(n.cti()).await;
    raw.send(open_request(
        1,
        "wwhite",
        Auth::Oauth {
            access_token: token.clone(),
        },
    ))
    .await;
    let Message::ProviderOpenResponse(resp) = raw.recv().await else {
        panic!()
    };
    assert_eq!((resp.nonce, resp.cti_public_key), (None, None));
    assert!(matches!(
        raw.recv().await,
        Message::ProviderOpenCompletedEvent(_)
    ));
    // A token without the cti scope, a token for another login, and garbage: all refused alike.
    let sip_only = n.access_token("sip").await;
    for (login, token) in [
        ("wwhite", sip_only.as_str()),
        ("jpinkman", token.as_str()),
        ("wwhite", "eyJhbGciOiJub25lIn0.e30."),
    ] {
        let mut raw = Raw::connect(n.cti()).await;
        raw.send(open_request(
            1,
            login,
            Auth::Oauth {
                access_token: token.into(),
            },
        ))
        .await;
        assert!(matches!(raw.recv().await, Message::ProviderOpenResponse(_)));
        let Message::ProviderOpenFailedEvent(failed) = raw.recv().await else {
            panic!()
        };
        assert_eq!(failed.reason, ErrorName::DirectoryLoginFailed, "{login}");
        assert_eq!(
            failed.message, "login failed",
            "the cause is told in the trace only"
        );
    }
    let traces = n.traces();
    assert!(traces.contains("lacks 'cti'"), "{traces}");
    assert!(!traces.contains(&token));
    n.node.shutdown().await.unwrap();
}

#[tokio::test(flavor = "multi_thread")]
async fn every_provider_of_a_device_hears_its_events_and_expiry_is_told_apart() {
    let n = boot().await;
    let mut first = provider(&n).await;
    let mut second = provider(&n).await;
    for raw in [&mut first, &mut second] {
        raw.send(device_open(4, PHONE)).await;
        assert!(matches!(raw.recv().await, Message::DeviceOpenResponse(_)));
    }
    tokio::task::block_in_place(|| sipp_register(&n, "reg_digest.xml", 3600));
    for raw in [&mut first, &mut second] {
        assert!(matches!(raw.recv().await, Message::DeviceInServiceEvent(_)));
    }
    // A provider opening it now gets the state in the response and the event right after.
    let mut third = provider(&n).await;
    third.send(device_open(4, PHONE)).await;
    let Message::DeviceOpenResponse(opened) = third.recv().await else {
        panic!()
    };
    assert_eq!(opened.state, DeviceState::InService);
    assert!(matches!(
        third.recv().await,
        Message::DeviceInServiceEvent(_)
    ));
    // The registrar lets the binding run out (its expiry, published as call control does).
    let live = n.node.state.callctl.registrations();
    assert_eq!(live.len(), 1);
    n.node
        .state
        .callctl
        .publish(switchboard_callctl::RegistrationEvent {
            device: PHONE.into(),
            change: switchboard_callctl::RegistrationChange::Expired,
            contact: live[0].contact.clone(),
            transport: live[0].transport.clone(),
            source: live[0].source,
            in_service: false,
            expires_at: 0,
        });
    for raw in [&mut first, &mut second, &mut third] {
        let Message::DeviceOutOfServiceEvent(gone) = raw.recv().await else {
            panic!()
        };
        assert_eq!(gone.reason, OutOfServiceReason::RegistrationExpired);
    }
    assert_eq!(n.node.state.cti.stats().device_opens, 3);
    // Closing a connection releases its opens.
    drop(first);
    for _ in 0..50 {
        if n.node.state.cti.stats().device_opens == 2 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert_eq!(n.node.state.cti.stats().device_opens, 2);
    n.node.shutdown().await.unwrap();
}

#[tokio::test(flavor = "multi_thread")]
async fn deleting_an_open_device_takes_it_out_of_service() {
    let n = boot().await;
    tokio::task::block_in_place(|| sipp_register(&n, "reg_digest.xml", 3600));
    let mut raw = provider(&n).await;
    raw.send(device_open(4, PHONE)).await;
    let Message::DeviceOpenResponse(opened) = raw.recv().await else {
        panic!()
    };
    assert_eq!(opened.state, DeviceState::InService);
    assert!(matches!(raw.recv().await, Message::DeviceInServiceEvent(_)));
    n.api(
        reqwest::Method::DELETE,
        &format!("/api/devices/{PHONE}"),
        None,
    )
    .await;
    assert_eq!(
        raw.recv().await,
        Message::DeviceOutOfServiceEvent(DeviceOutOfServiceEvent {
            device_handle: opened.device_handle,
            device_name: PHONE.into(),
            reason: OutOfServiceReason::DeviceRemoved,
        })
    );
    // The handle stays open until closed.
    raw.send(DeviceCloseRequest {
        seq: 5,
        device_handle: opened.device_handle,
    })
    .await;
    assert!(matches!(raw.recv().await, Message::DeviceCloseResponse(_)));
    n.node.shutdown().await.unwrap();
}

#[tokio::test(flavor = "multi_thread")]
async fn the_connection_limit_is_the_cti_max_connections_parameter() {
    let n = boot().await;
    let mut first = provider(&n).await;
    n.api(
        reqwest::Method::PUT,
        "/api/params/CtiMaxConnections",
        Some(json!({"value": "1"})),
    )
    .await;
    // The change reaches the CTI Manager asynchronously.
    for _ in 0..100 {
        if n.node.state.cti.max_connections() == 1 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let mut second = Raw::connect(n.cti()).await;
    second
        .send(open_request(2, "wwhite", Auth::SealedPassword {}))
        .await;
    let e = second.error().await;
    assert_eq!(
        (e.seq, e.error),
        (Some(2), ErrorName::MaxNumberOfCtiConnectionsReached)
    );
    assert!(second.until_closed().await.is_empty());
    // The provider already open is not affected; raising the limit lets the next one in.
    first.send(device_open(4, PHONE)).await;
    assert!(matches!(first.recv().await, Message::DeviceOpenResponse(_)));
    n.api(
        reqwest::Method::PUT,
        "/api/params/CtiMaxConnections",
        Some(json!({"value": "2"})),
    )
    .await;
    for _ in 0..100 {
        if n.node.state.cti.max_connections() == 2 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    provider(&n).await;
    n.node.shutdown().await.unwrap();
}

#[tokio::test(flavor = "multi_thread")]
async fn a_silent_client_gets_heartbeats_then_is_timed_out() {
    let n = boot().await;
    let mut raw = Raw::connect(n.cti()).await;
    let mut req = open_request(2, "wwhite", Auth::SealedPassword {});
    req.heartbeat_s = 1; // clamped to the 5 s minimum
    req.timer_s = 1;
    raw.send(req).await;
    let Message::ProviderOpenResponse(resp) = raw.recv().await else {
        panic!()
    };
    assert_eq!((resp.heartbeat_s, resp.timer_s), (5, 5));
    // Nothing more from the client: the server sends heartbeats while the line is quiet, then
    // gives up after heartbeat + timer.
    let started = std::time::Instant::now();
    let mut seen = Vec::new();
    while let Some(m) = raw.next(Duration::from_secs(20)).await {
        seen.push(m);
    }
    let waited = started.elapsed();
    assert!(
        matches!(seen.first(), Some(Message::Heartbeat(_))),
        "{seen:?}"
    );
    assert!(
        matches!(
            seen.last(),
            Some(Message::ErrorResponse(ErrorResponse {
                error: ErrorName::HeartbeatTimeout,
                seq: None,
                ..
            }))
        ),
        "{seen:?}"
    );
    assert!(waited >= Duration::from_secs(9), "{waited:?}");
    assert!(n.traces().contains("(HEARTBEAT_TIMEOUT)"));
    n.node.shutdown().await.unwrap();
}

#[tokio::test(flavor = "multi_thread")]
async fn a_client_that_stops_reading_is_cut_off_as_a_slow_consumer() {
    let n = boot().await;
    let mut bystander = provider(&n).await;
    let stream = TcpStream::connect(n.cti()).await.unwrap();
    let (mut read, mut write) = stream.into_split();
    // Requests that each get an error, sent without reading any answer.
    let writer = tokio::spawn(async move {
        let mut batch = Vec::new();
        for seq in 0..2000u32 {
            batch.extend_from_slice(
                &encode_message_frame(&Message::DeviceCloseRequest(DeviceCloseRequest {
                    seq,
                    device_handle: 7,
                }))
                .unwrap(),
            );
        }
        for _ in 0..200 {
            if write.write_all(&batch).await.is_err() {
                return;
            }
        }
    });
    // The server gives up on the connection: it is closed once the queue overflows.
    let mut closed = false;
    for _ in 0..300 {
        if n.traces().contains("(SLOW_CONSUMER)") {
            closed = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(closed, "no SLOW_CONSUMER:\n{}", n.traces());
    let _ = tokio::time::timeout(WAIT, writer).await;
    // What was sent before the cut can still be read; then the connection ends.
    let mut sink = Vec::new();
    let read_all = tokio::time::timeout(Duration::from_secs(20), read.read_to_end(&mut sink)).await;
    assert!(read_all.is_ok(), "the server did not close the connection");
    // The others are served.
    bystander.send(device_open(4, PHONE)).await;
    assert!(matches!(
        bystander.recv().await,
        Message::DeviceOpenResponse(_)
    ));
    assert_eq!(n.node.state.cti.stats().connections, 1);
    n.node.shutdown().await.unwrap();
}

mod with_the_client_library {
    //! The same sessions through `switchboard-cti-client`, over each transport: plain TCP
    //! (sealed), TLS 2749 and WebSocket `/cti` (password inside TLS, or sealed).

    use super::*;
    use switchboard_cti_client::{
        ClientError, CtiClient, ProviderOptions, RawFrame, Target, DEVICE_STATE_EVENTS,
    };

    fn trust(n: &Node) -> String {
        std::fs::read_to_string(n.dir.path().join("certs/tomcat.pem")).unwrap()
    }

    fn targets(n: &Node) -> Vec<(&'static str, Target)> {
        vec![
            ("tcp", Target::Plain(n.cti())),
            (
                "tls",
                Target::Tls {
                    addr: n.listener("cti-tls", "tcp"),
                    server_name: "localhost".into(),
                    trust_pem: trust(n),
                },
            ),
            (
                "wss",
                Target::WebSocket {
                    url: format!("wss://127.0.0.1:{}/cti", n.listener("https", "tcp").port()),
                    trust_pem: trust(n),
                },
            ),
        ]
    }

    #[tokio::test(flavor = "multi_thread")]
    async fn every_transport_opens_a_provider_and_a_registered_device() {
        let n = boot().await;
        tokio::task::block_in_place(|| sipp_register(&n, "reg_digest.xml", 3600));
        let password = n.demo_password("wwhite");
        for (name, target) in targets(&n) {
            for sealed in [false, true] {
                if name == "tcp" && !sealed {
                    continue; // refused, see hostile tests
                }
                let mut cti = CtiClient::connect(target.clone()).await.unwrap();
                let mut options = ProviderOptions::password("wwhite", password.clone());
                options.sealed = Some(sealed);
                let opened = cti
                    .open_provider(options)
                    .await
                    .unwrap_or_else(|e| panic!("{name} sealed={sealed}: {e}"));
                assert_eq!(opened.user_id, "wwhite");
                assert!(opened.flags.cti_enabled);
                let device = cti.open_device(PHONE, DEVICE_STATE_EVENTS).await.unwrap();
                assert_eq!(device.state, DeviceState::InService, "{name}");
                let event = cti.next_event_timeout(WAIT).await.unwrap();
                assert_eq!(
                    event,
                    Message::DeviceInServiceEvent(DeviceInServiceEvent {
                        device_handle: device.device_handle,
                        device_name: PHONE.into(),
                    }),
                    "{name}"
                );
                let line = cti.open_line(device.device_handle, "1001").await.unwrap();
                assert_eq!(line.directory_number, "1001");
                cti.close_provider().await.unwrap();
            }
        }
        let traces = n.traces();
        assert!(traces.contains("CTI connection closed: tls"));
        assert!(traces.contains("CTI connection closed: wss"));
        n.node.shutdown().await.unwrap();
    }

    #[tokio::test(flavor = "multi_thread")]
    async fn websocket_frames_that_are_not_messages() {
        let n = boot().await;
        let (_, wss) = targets(&n).pop().unwrap();
        let mut cti = CtiClient::connect(wss.clone()).await.unwrap();
        // A binary frame: refused, the connection goes on.
        cti.send_raw_frame(RawFrame::Binary(b"{\"type\":\"Heartbeat\"}".to_vec()))
            .await
            .unwrap();
        let Message::ErrorResponse(e) = cti.next_event_timeout(WAIT).await.unwrap() else {
            panic!()
        };
        assert_eq!(e.error, ErrorName::MalformedMessage);
        cti.send_raw_frame(RawFrame::Text("[1,2".into()))
            .await
            .unwrap();
        let Message::ErrorResponse(e) = cti.next_event_timeout(WAIT).await.unwrap() else {
            panic!()
        };
        assert_eq!(e.error, ErrorName::MalformedMessage);
        let opened = cti
            .open_provider(ProviderOptions::password(
                "wwhite",
                n.demo_password("wwhite"),
            ))
            .await
            .unwrap();
        assert_eq!(opened.user_id, "wwhite");
        // A text frame above 64 KiB: refused and the connection closed.
        let big = format!(
            "{{\"type\":\"Heartbeat\",\"pad\":\"{}\"}}",
            "x".repeat(MAX_FRAME_LEN)
        );
        cti.send_raw_frame(RawFrame::Text(big)).await.unwrap();
        let mut last = None;
        loop {
            match cti.next_event_timeout(WAIT).await {
                Ok(Message::ErrorResponse(e)) => last = Some(e.error),
                Ok(_) => {}
                Err(ClientError::Closed(why)) => {
                    assert_eq!(why.or(last), Some(ErrorName::FrameTooLarge));
                    break;
                }
                Err(e) => panic!("{e}"),
            }
        }
        // A wrong password over WebSocket: the named failure.
        let mut cti = CtiClient::connect(wss).await.unwrap();
        let err = cti
            .open_provider(ProviderOptions::password("wwhite", "wrong"))
            .await
            .unwrap_err();
        assert_eq!(err.name(), Some(ErrorName::DirectoryLoginFailed), "{err}");
        n.node.shutdown().await.unwrap();
    }

    #[tokio::test(flavor = "multi_thread")]
    async fn a_token_login_through_the_client() {
        let n = boot().await;
        let token = n.access_token("cti").await;
        let mut cti = CtiClient::connect(Target::Plain(n.cti())).await.unwrap();
        let opened = cti
            .open_provider(ProviderOptions::token("wwhite", token))
            .await
            .unwrap();
        assert_eq!(opened.user_id, "wwhite");
        let err = cti
            .open_device(SOFTPHONE, DEVICE_STATE_EVENTS)
            .await
            .unwrap_err();
        assert_eq!(
            err.name(),
            Some(ErrorName::CtierrEnduserNotAssociatedWithDevice)
        );
        n.node.shutdown().await.unwrap();
    }
}

// ---- calls (protocol version 2) --------------------------------------------------------------

/// The demo's second deskphone, on line 1002 (created by [`call_lab`]).
const CALLEE: &str = "SEP00AABBCCDDEE";
const CALLEE_PASSWORD: &str = "Callee-Digest-42";

/// Registers `device` over UDP with SIPp from `port` (digest).
fn register_from(n: &Node, device: &str, password: &str, port: u16) {
    let sip: SocketAddr = n.listener("sip", "udp");
    let dir = tempfile::tempdir().unwrap();
    let csv = dir.path().join("devices.csv");
    std::fs::write(
        &csv,
        format!("SEQUENTIAL\n{device};[authentication username={device} password={password}]\n"),
    )
    .unwrap();
    let out = Command::new("timeout")
        .arg("60")
        .arg("sipp")
        .arg(sip.to_string())
        .arg("-sf")
        .arg(scenario("reg_digest.xml"))
        .arg("-inf")
        .arg(&csv)
        .args([
            "-m",
            "1",
            "-t",
            "u1",
            "-i",
            "127.0.0.1",
            "-p",
            &port.to_string(),
        ])
        .args([
            "-key", "tp", "UDP", "-key", "ctp", "udp", "-key", "expires", "3600",
        ])
        .args(["-timeout", "20", "-timeout_error", "-nostdin"])
        .current_dir(dir.path())
        .output()
        .unwrap_or_else(|e| panic!("SIPp is needed (./scripts/test.sh installs it): {e}"));
    assert!(
        out.status.success(),
        "SIPp registration of {device} failed:\n{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

/// The demo's deskphone (line 1001) and a second deskphone on line 1002 (created through the
/// API), both controlled by wwhite and registered over UDP by SIPp: (caller port, callee port).
async fn call_lab(n: &Node) -> (u16, u16) {
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
    control(n, &[PHONE, CALLEE, SOFTPHONE]).await;
    let (caller_port, callee_port) = (free_local_port(), free_local_port());
    let phone_password = n.demo_password(PHONE);
    tokio::task::block_in_place(|| {
        register_from(n, PHONE, &phone_password, caller_port);
        register_from(n, CALLEE, CALLEE_PASSWORD, callee_port);
    });
    (caller_port, callee_port)
}

/// Sets the devices wwhite controls.
async fn control(n: &Node, devices: &[&str]) {
    n.api(
        reqwest::Method::PATCH,
        "/api/users/wwhite",
        Some(json!({ "controlled_devices": devices })),
    )
    .await;
}

/// A SIPp call scenario over UDP from `port`, in the background (client mode toward the node
/// when `uac`), after `adjust` changed its text; its log in `dir`.
fn sipp_call(
    n: &Node,
    scenario_file: &str,
    uac: bool,
    port: u16,
    adjust: impl FnOnce(String) -> String,
    dir: &Path,
) -> std::process::Child {
    let text = adjust(std::fs::read_to_string(scenario(scenario_file)).unwrap());
    let file = dir.join(scenario_file);
    std::fs::write(&file, text).unwrap();
    let mut cmd = Command::new("timeout");
    cmd.arg("40").arg("sipp");
    if uac {
        cmd.arg(n.listener("sip", "udp").to_string());
    }
    cmd.arg("-sf")
        .arg(&file)
        .args([
            "-m",
            "1",
            "-t",
            "u1",
            "-i",
            "127.0.0.1",
            "-p",
            &port.to_string(),
        ])
        .args(["-timeout", "30", "-timeout_error", "-nostdin"])
        .args(["-trace_err", "-error_file", "errors.log"])
        .args(["-key", "dialed", "1002", "-key", "me", "1001"])
        .current_dir(dir)
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("SIPp is needed (Debian package sip-tester)")
}

/// Waits for a SIPp run and asserts it succeeded.
fn sipp_done(child: std::process::Child, dir: &Path, who: &str) {
    let out = child.wait_with_output().unwrap();
    let errors = std::fs::read_to_string(dir.join("errors.log")).unwrap_or_default();
    assert!(
        out.status.success(),
        "SIPp {who} failed:\n{}{}{errors}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

/// Opens `device` with the given filter; returns its handle, reading the response and the
/// `DeviceInServiceEvent` that follows for a registered device (when asked for).
async fn open_with(
    raw: &mut Raw,
    seq: u32,
    device: &str,
    device_state: bool,
    call_state: bool,
) -> u32 {
    raw.send(DeviceOpenRequest {
        seq,
        device_name: device.into(),
        event_filter: EventFilter {
            device_state,
            call_state,
        },
    })
    .await;
    let Message::DeviceOpenResponse(opened) = raw.recv().await else {
        panic!("no DeviceOpenResponse for {device}")
    };
    if device_state && opened.state == DeviceState::InService {
        assert!(matches!(raw.recv().await, Message::DeviceInServiceEvent(_)));
    }
    opened.device_handle
}

impl Raw {
    /// Everything (but heartbeats) that arrives within `wait`.
    async fn drain(&mut self, wait: Duration) -> Vec<Message> {
        let mut seen = Vec::new();
        let deadline = tokio::time::Instant::now() + wait;
        loop {
            let left = deadline.saturating_duration_since(tokio::time::Instant::now());
            if left.is_zero() {
                return seen;
            }
            match tokio::time::timeout(left, self.next_raw()).await {
                Ok(Some(Message::Heartbeat(_))) => {}
                Ok(Some(m)) => seen.push(m),
                Ok(None) | Err(_) => return seen,
            }
        }
    }
    async fn next_raw(&mut self) -> Option<Message> {
        loop {
            if let Some(m) = self.decoder.next_message().unwrap() {
                return Some(m);
            }
            let mut buf = [0u8; 4096];
            match self.stream.read(&mut buf).await {
                Ok(0) | Err(_) => return None,
                Ok(n) => self.decoder.push(&buf[..n]),
            }
        }
    }
    /// The call events that arrive until `CallEndedEvent` (included).
    async fn call_events_until_ended(&mut self) -> Vec<Message> {
        let mut seen = Vec::new();
        loop {
            let m = self.recv().await;
            let end = matches!(m, Message::CallEndedEvent(_));
            if !matches!(m, Message::Heartbeat(_)) {
                seen.push(m);
            }
            if end {
                return seen;
            }
        }
    }
}

/// The expected events of one device's side of a basic call.
fn side_of_a_call(
    first: &NewCallEvent,
    states: &[(CallState, Option<CallCause>)],
    end: CallCause,
) -> Vec<Message> {
    let mut out = vec![Message::NewCallEvent(first.clone())];
    for (state, cause) in states {
        out.push(Message::CallStateChangedEvent(CallStateChangedEvent {
            device_handle: first.device_handle,
            device_name: first.device_name.clone(),
            call_id: first.call_id,
            connection_id: first.connection_id,
            state: *state,
            cause: *cause,
        }));
    }
    out.push(Message::CallEndedEvent(CallEndedEvent {
        device_handle: first.device_handle,
        device_name: first.device_name.clone(),
        call_id: first.call_id,
        connection_id: first.connection_id,
        cause: end,
    }));
    out
}

#[tokio::test(flavor = "multi_thread")]
async fn call_events_follow_a_sip_call_between_registered_phones() {
    let n = boot().await;
    let (caller_port, callee_port) = call_lab(&n).await;
    // The callee's provider, the caller's, one that opened the callee without call events,
    // one that opened nothing, and a version-1 provider that asked for call events.
    let mut callee = provider_v2(&n).await;
    let callee_h = open_with(&mut callee, 4, CALLEE, true, true).await;
    let mut caller = provider_v2(&n).await;
    let caller_h = open_with(&mut caller, 4, PHONE, true, true).await;
    let mut no_calls = provider_v2(&n).await;
    open_with(&mut no_calls, 4, CALLEE, true, false).await;
    let mut nothing = provider_v2(&n).await;
    let mut v1 = Raw::connect(n.cti()).await;
    let (resp, outcome) = open_sealed(&mut v1, "wwhite", &n.demo_password("wwhite")).await;
    assert_eq!(resp.protocol_version, 1);
    assert!(matches!(outcome, Message::ProviderOpenCompletedEvent(_)));
    let v1_h = open_with(&mut v1, 4, CALLEE, true, true).await;

    // 1001 calls 1002; 1002 answers; 1001 hangs up.
    let (uas_dir, uac_dir) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let uas = sipp_call(
        &n,
        "call_uas.xml",
        false,
        callee_port,
        |s| s,
        uas_dir.path(),
    );
    tokio::time::sleep(Duration::from_millis(500)).await;
    let uac = sipp_call(&n, "call_uac.xml", true, caller_port, |s| s, uac_dir.path());
    tokio::task::block_in_place(|| {
        sipp_done(uac, uac_dir.path(), "caller");
        sipp_done(uas, uas_dir.path(), "callee");
    });

    let seen = callee.call_events_until_ended().await;
    let Message::NewCallEvent(first) = &seen[0] else {
        panic!("{seen:?}")
    };
    assert_eq!(
        (
            first.device_handle,
            first.device_name.as_str(),
            first.directory_number.as_str(),
            first.calling_number.as_str(),
            first.called_number.as_str(),
            first.role,
            first.state
        ),
        (
            callee_h,
            CALLEE,
            "1002",
            "1001",
            "1002",
            CallRole::Terminating,
            CallState::Offering
        )
    );
    assert_eq!(
        seen,
        side_of_a_call(
            first,
            &[
                (CallState::Ringing, None),
                (CallState::Connected, None),
                (CallState::Disconnected, Some(CallCause::Normal)),
            ],
            CallCause::Normal
        )
    );
    let call_id = first.call_id;

    // The caller's provider sees its own side of the same call.
    let seen = caller.call_events_until_ended().await;
    let Message::NewCallEvent(mine) = &seen[0] else {
        panic!("{seen:?}")
    };
    assert_eq!(mine.call_id, call_id);
    assert_ne!(mine.connection_id, first.connection_id);
    assert_eq!(
        (
            mine.device_handle,
            mine.device_name.as_str(),
            mine.directory_number.as_str(),
            mine.role,
            mine.state
        ),
        (
            caller_h,
            PHONE,
            "1001",
            CallRole::Originating,
            CallState::Offering
        )
    );
    assert_eq!(
        seen,
        side_of_a_call(
            mine,
            &[
                (CallState::Ringing, None),
                (CallState::Connected, None),
                (CallState::Disconnected, Some(CallCause::Normal)),
            ],
            CallCause::Normal
        )
    );

    // Nobody else heard of the call.
    for (who, raw) in [
        ("no call_state", &mut no_calls),
        ("no device", &mut nothing),
        ("version 1", &mut v1),
    ] {
        let extra = raw.drain(Duration::from_millis(500)).await;
        assert!(extra.is_empty(), "{who}: {extra:?}");
    }
    // A version-1 session does not know the call requests.
    v1.send(DropRequest {
        seq: 9,
        device_handle: v1_h,
        call_id,
    })
    .await;
    let e = v1.error().await;
    assert_eq!((e.seq, e.error), (Some(9), ErrorName::UnknownMessage));

    // The trace tells each event, per provider.
    let traces = n.traces();
    for line in [
        format!(
            "CTI NewCallEvent ( DH={callee_h} GCID={call_id} CI={} ) deviceName={CALLEE}",
            first.connection_id
        ),
        "calling=1001 called=1002 dn=1002 role=terminating state=offering".to_string(),
        format!(
            "CTI CallStateChangedEvent ( DH={callee_h} GCID={call_id} CI={} ) deviceName={CALLEE}",
            first.connection_id
        ),
        "state=disconnected cause=normal".to_string(),
        format!(
            "CTI CallEndedEvent ( DH={caller_h} GCID={call_id} CI={} ) deviceName={PHONE}",
            mine.connection_id
        ),
    ] {
        assert!(traces.contains(&line), "missing trace {line}\n{traces}");
    }
    n.node.shutdown().await.unwrap();
}

#[tokio::test(flavor = "multi_thread")]
async fn a_device_opened_during_a_call_gets_its_snapshot_and_call_requests_are_checked_first() {
    let n = boot().await;
    let (caller_port, callee_port) = call_lab(&n).await;
    let mut callee = provider_v2(&n).await;
    let callee_h = open_with(&mut callee, 4, CALLEE, true, true).await;
    let soft_h = open_with(&mut callee, 5, SOFTPHONE, true, true).await;
    let phone_h = open_with(&mut callee, 6, PHONE, false, false).await;
    let driver_attached = n.node.state.callctl.phone_control().is_ok();

    // Checks that need no call.
    let mut not_open = Raw::connect(n.cti()).await;
    not_open
        .send(DropRequest {
            seq: 1,
            device_handle: 1,
            call_id: 1,
        })
        .await;
    let e = not_open.error().await;
    assert_eq!((e.seq, e.error), (Some(1), ErrorName::ProviderNotOpen));
    let refusals: Vec<(Message, ErrorName)> = vec![
        (
            AnswerRequest {
                seq: 10,
                device_handle: 99,
                call_id: 1,
            }
            .into(),
            ErrorName::InvalidDeviceHandle,
        ),
        (
            MakeCallRequest {
                seq: 11,
                device_handle: phone_h,
                destination: "10 02".into(),
                directory_number: None,
            }
            .into(),
            ErrorName::MalformedMessage,
        ),
        (
            MakeCallRequest {
                seq: 12,
                device_handle: phone_h,
                destination: "9".repeat(65),
                directory_number: None,
            }
            .into(),
            ErrorName::MalformedMessage,
        ),
        (
            MakeCallRequest {
                seq: 13,
                device_handle: phone_h,
                destination: "1002".into(),
                directory_number: Some("9999".into()),
            }
            .into(),
            ErrorName::LineNotFound,
        ),
        (
            SendDtmfRequest {
                seq: 14,
                device_handle: callee_h,
                call_id: 1,
                digits: "12X".into(),
            }
            .into(),
            ErrorName::CtierrInvalidDtmfdigits,
        ),
        (
            SendDtmfRequest {
                seq: 15,
                device_handle: callee_h,
                call_id: 1,
                digits: "1".repeat(33),
            }
            .into(),
            ErrorName::CtierrInvalidDtmfdigits,
        ),
        (
            AnswerRequest {
                seq: 16,
                device_handle: callee_h,
                call_id: 999_999,
            }
            .into(),
            ErrorName::CtierrCallNotExist,
        ),
        // The softphone is not registered: it cannot place a call.
        (
            MakeCallRequest {
                seq: 17,
                device_handle: soft_h,
                destination: "1002".into(),
                directory_number: None,
            }
            .into(),
            ErrorName::CtierrDeviceOutOfService,
        ),
    ];
    for (request, expected) in refusals {
        let seq = request.seq();
        callee.send(request).await;
        let e = callee.error().await;
        assert_eq!((e.seq, e.error), (seq, expected), "{}", e.message);
    }

    // 1001 calls 1002, which rings; the caller gives up after 8 s.
    let (uas_dir, uac_dir) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let uas = sipp_call(
        &n,
        "call_uas_ring.xml",
        false,
        callee_port,
        |s| s,
        uas_dir.path(),
    );
    tokio::time::sleep(Duration::from_millis(500)).await;
    let uac = sipp_call(
        &n,
        "call_uac_cancel.xml",
        true,
        caller_port,
        |s| {
            s.replacen(
                r#"<recv response="180"/>"#,
                "<recv response=\"180\"/>\n  <pause milliseconds=\"8000\"/>",
                1,
            )
        },
        uac_dir.path(),
    );
    let Message::NewCallEvent(new) = callee.recv().await else {
        panic!("no NewCallEvent")
    };
    let call_id = new.call_id;
    let ringing = callee.recv().await;
    assert!(
        matches!(&ringing, Message::CallStateChangedEvent(e) if e.state == CallState::Ringing),
        "{ringing:?}"
    );

    // A provider that opens the caller's device now gets the call in its snapshot.
    let mut late = provider_v2(&n).await;
    late.send(DeviceOpenRequest {
        seq: 4,
        device_name: PHONE.into(),
        event_filter: EventFilter {
            device_state: false,
            call_state: true,
        },
    })
    .await;
    let Message::DeviceOpenResponse(opened) = late.recv().await else {
        panic!()
    };
    let snapshot = late.recv().await;
    let Message::NewCallEvent(snap) = &snapshot else {
        panic!("{snapshot:?}")
    };
    assert_eq!(
        (
            snap.device_handle,
            snap.call_id,
            snap.role,
            snap.state,
            snap.directory_number.as_str()
        ),
        (
            opened.device_handle,
            call_id,
            CallRole::Originating,
            CallState::Ringing,
            "1001"
        )
    );

    // Checks that need the call.
    callee
        .send(DropRequest {
            seq: 20,
            device_handle: soft_h,
            call_id,
        })
        .await;
    let e = callee.error().await;
    assert_eq!(
        (e.seq, e.error),
        (Some(20), ErrorName::CtierrCallNotOnDevice)
    );
    // Every check passed: the phone side decides (no phone control on this node yet:
    // unavailable; once attached, a ringing call cannot be held).
    callee
        .send(HoldRequest {
            seq: 21,
            device_handle: callee_h,
            call_id,
        })
        .await;
    let e = callee.error().await;
    let expected = if driver_attached {
        ErrorName::IllegalCallstate
    } else {
        ErrorName::CtierrCallControlUnavailable
    };
    assert_eq!((e.seq, e.error), (Some(21), expected), "{}", e.message);
    // The callee no longer allows control from CTI, then the user no longer controls it:
    // refused at once.
    for (allow, seq, expected) in [
        (false, 23, ErrorName::CtierrAccessToDeviceDenied),
        (true, 24, expected),
    ] {
        n.api(
            reqwest::Method::PATCH,
            &format!("/api/devices/{CALLEE}"),
            Some(json!({ "allow_cti_control": allow })),
        )
        .await;
        callee
            .send(HoldRequest {
                seq,
                device_handle: callee_h,
                call_id,
            })
            .await;
        let e = callee.error().await;
        assert_eq!((e.seq, e.error), (Some(seq), expected), "{}", e.message);
    }
    control(&n, &[PHONE, SOFTPHONE]).await;
    callee
        .send(HoldRequest {
            seq: 22,
            device_handle: callee_h,
            call_id,
        })
        .await;
    let e = callee.error().await;
    assert_eq!(
        (e.seq, e.error),
        (Some(22), ErrorName::CtierrEnduserNotAssociatedWithDevice)
    );

    tokio::task::block_in_place(|| {
        sipp_done(uac, uac_dir.path(), "caller");
        sipp_done(uas, uas_dir.path(), "callee");
    });
    let rest = callee.call_events_until_ended().await;
    assert_eq!(
        rest,
        vec![
            Message::CallStateChangedEvent(CallStateChangedEvent {
                device_handle: callee_h,
                device_name: CALLEE.into(),
                call_id,
                connection_id: new.connection_id,
                state: CallState::Disconnected,
                cause: Some(CallCause::Cancelled),
            }),
            Message::CallEndedEvent(CallEndedEvent {
                device_handle: callee_h,
                device_name: CALLEE.into(),
                call_id,
                connection_id: new.connection_id,
                cause: CallCause::Cancelled,
            }),
        ]
    );
    let late_rest = late.call_events_until_ended().await;
    assert!(
        matches!(late_rest.last(), Some(Message::CallEndedEvent(e)) if e.cause == CallCause::Cancelled),
        "{late_rest:?}"
    );

    let traces = n.traces();
    for line in [
        format!("CTI HoldRequest ( seq#=21 DH={callee_h} GCID={call_id})"),
        format!("CTI ErrorResponse ( seq#=21 error={expected}"),
        format!("CTI SendDtmfRequest ( seq#=14 DH={callee_h} GCID=1 digits=[3])"),
        "error=CTIERR_INVALID_DTMFDIGITS".to_string(),
    ] {
        assert!(traces.contains(&line), "missing trace {line}\n{traces}");
    }
    n.node.shutdown().await.unwrap();
}

#[tokio::test(flavor = "multi_thread")]
async fn parallel_ringing_ends_the_call_on_the_devices_that_did_not_answer() {
    const SECOND: &str = "SEP00AABBCCDDEF";
    const SECOND_PASSWORD: &str = "Second-Digest-43";
    let n = boot().await;
    let (caller_port, callee_port) = call_lab(&n).await;
    // A second deskphone on line 1002: both ring.
    n.api(
        reqwest::Method::POST,
        "/api/devices",
        Some(json!({
            "name": SECOND, "product": "Cisco 8841", "device_class": "deskphone",
            "owner": "wwhite", "security_profile": "Cisco 8841 - Standard SIP Digest Profile",
            "digest_password": SECOND_PASSWORD,
            "lines": [{"index": 1, "dn": "1002"}]
        })),
    )
    .await;
    control(&n, &[PHONE, CALLEE, SECOND]).await;
    let second_port = free_local_port();
    tokio::task::block_in_place(|| register_from(&n, SECOND, SECOND_PASSWORD, second_port));
    let mut p = provider_v2(&n).await;
    let callee_h = open_with(&mut p, 4, CALLEE, false, true).await;
    let second_h = open_with(&mut p, 5, SECOND, false, true).await;

    // The callee answers; the second deskphone rings until the node cancels it.
    let dirs: Vec<tempfile::TempDir> = (0..3).map(|_| tempfile::tempdir().unwrap()).collect();
    let answering = sipp_call(
        &n,
        "call_uas.xml",
        false,
        callee_port,
        |s| s,
        dirs[0].path(),
    );
    let ringing = sipp_call(
        &n,
        "call_uas_ring.xml",
        false,
        second_port,
        |s| s,
        dirs[1].path(),
    );
    tokio::time::sleep(Duration::from_millis(500)).await;
    let caller = sipp_call(&n, "call_uac.xml", true, caller_port, |s| s, dirs[2].path());
    tokio::task::block_in_place(|| {
        sipp_done(caller, dirs[2].path(), "caller");
        sipp_done(answering, dirs[0].path(), "answering callee");
        sipp_done(ringing, dirs[1].path(), "ringing callee");
    });

    // Events of both devices, in the order sent; each device's own sequence checked.
    let mut by_handle: std::collections::HashMap<u32, Vec<Message>> = Default::default();
    let mut ended = 0;
    while ended < 2 {
        let m = p.recv().await;
        let handle = match &m {
            Message::NewCallEvent(e) => e.device_handle,
            Message::CallStateChangedEvent(e) => e.device_handle,
            Message::CallEndedEvent(e) => {
                ended += 1;
                e.device_handle
            }
            Message::Heartbeat(_) => continue,
            other => panic!("{other:?}"),
        };
        by_handle.entry(handle).or_default().push(m);
    }
    let Some(Message::NewCallEvent(first)) = by_handle[&callee_h].first().cloned() else {
        panic!("{by_handle:?}")
    };
    assert_eq!(
        by_handle[&callee_h],
        side_of_a_call(
            &first,
            &[
                (CallState::Ringing, None),
                (CallState::Connected, None),
                (CallState::Disconnected, Some(CallCause::Normal)),
            ],
            CallCause::Normal
        )
    );
    let Some(Message::NewCallEvent(other)) = by_handle[&second_h].first().cloned() else {
        panic!("{by_handle:?}")
    };
    assert_eq!(
        (
            other.call_id,
            other.connection_id,
            other.device_name.as_str(),
            other.role
        ),
        (
            first.call_id,
            first.connection_id,
            SECOND,
            CallRole::Terminating
        )
    );
    assert_eq!(
        by_handle[&second_h],
        side_of_a_call(
            &other,
            &[(CallState::Ringing, None)],
            CallCause::AnsweredElsewhere
        )
    );
    assert!(p.drain(Duration::from_millis(500)).await.is_empty());
    n.node.shutdown().await.unwrap();
}

/// Reads `raw` until a message satisfies `done`; returns what came (heartbeats left out).
async fn until_call_event(raw: &mut Raw, done: impl Fn(&Message) -> bool) -> Vec<Message> {
    let mut seen = Vec::new();
    loop {
        let m = raw.recv().await;
        let stop = done(&m);
        if !matches!(m, Message::Heartbeat(_)) {
            seen.push(m);
        }
        if stop {
            return seen;
        }
    }
}

#[tokio::test(flavor = "multi_thread")]

async fn make_call_and_drop_drive_the_sipp_phones() {
    let n = boot().await;
    let (caller_port, callee_port) = call_lab(&n).await;
    assert!(n.node.state.callctl.phone_control().is_ok());
    let mut p = provider_v2(&n).await;
    let phone_h = open_with(&mut p, 4, PHONE, false, true).await;
    let mut q = provider_v2(&n).await;
    let callee_h = open_with(&mut q, 4, CALLEE, false, true).await;
    // The deskphone answers the node's auto-answer INVITE, then 1002 answers; both wait for
    // the BYE.
    let dirs: Vec<tempfile::TempDir> = (0..2).map(|_| tempfile::tempdir().unwrap()).collect();
    let phone = sipp_call(
        &n,
        "call_uas.xml",
        false,
        caller_port,
        |s| s,
        dirs[0].path(),
    );
    let callee = sipp_call(
        &n,
        "call_uas.xml",
        false,
        callee_port,
        |s| s,
        dirs[1].path(),
    );
    tokio::time::sleep(Duration::from_millis(500)).await;

    p.send(MakeCallRequest {
        seq: 10,
        device_handle: phone_h,
        destination: "1002".into(),
        directory_number: None,
    })
    .await;
    let seen = until_call_event(&mut p, |m| matches!(m, Message::MakeCallResponse(_))).await;
    let Some(Message::MakeCallResponse(made)) = seen.last().cloned() else {
        panic!("{seen:?}")
    };
    assert_eq!((made.seq, made.device_handle), (10, phone_h));
    let call_id = made.call_id;
    let connected = |h: u32| {
        move |m: &Message| {
            matches!(m, Message::CallStateChangedEvent(e)
                if e.device_handle == h && e.state == CallState::Connected)
        }
    };
    let mine = until_call_event(&mut p, connected(phone_h)).await;
    assert!(
        seen.iter()
            .chain(&mine)
            .any(|m| matches!(m, Message::NewCallEvent(e)
            if e.call_id == call_id && e.role == CallRole::Originating)),
        "{seen:?} {mine:?}"
    );
    let theirs = until_call_event(&mut q, connected(callee_h)).await;
    assert!(
        matches!(&theirs[0], Message::NewCallEvent(e)
            if e.role == CallRole::Terminating && e.calling_number == "1001"),
        "{theirs:?}"
    );

    // Hang up from CTI: both phones get their BYE.
    p.send(DropRequest {
        seq: 11,
        device_handle: phone_h,
        call_id,
    })
    .await;
    let rest = until_call_event(&mut p, |m| matches!(m, Message::CallEndedEvent(_))).await;
    assert!(rest.contains(&Message::DropResponse(DropResponse {
        seq: 11,
        device_handle: phone_h,
        call_id
    })));
    assert!(
        matches!(rest.last(), Some(Message::CallEndedEvent(e)) if e.cause == CallCause::Normal),
        "{rest:?}"
    );
    let rest = q.call_events_until_ended().await;
    assert!(
        matches!(rest.last(), Some(Message::CallEndedEvent(e)) if e.cause == CallCause::Normal),
        "{rest:?}"
    );
    tokio::task::block_in_place(|| {
        sipp_done(phone, dirs[0].path(), "deskphone");
        sipp_done(callee, dirs[1].path(), "callee");
    });
    n.node.shutdown().await.unwrap();
}

/// Call control's call events overflow the CTI Manager's subscription (one thread: the manager
/// cannot read while the calls are made): it reads the live calls again, ends the call it
/// missed the end of and tells the one it missed the start of.
#[tokio::test(flavor = "current_thread")]
async fn missed_call_events_are_made_good_from_the_live_calls() {
    use switchboard_callctl::{Cause, LegState, Side};
    let n = boot().await;
    let mut p = provider_v2(&n).await;
    let h = open_with(&mut p, 4, PHONE, false, true).await;
    let calls = n.node.state.callctl.calls();
    let first = calls.new_call("1001", Some(PHONE), "1002");
    calls
        .transition(first.id, Side::Caller, LegState::Offering, None)
        .unwrap();
    let Message::NewCallEvent(new) = p.recv().await else {
        panic!("no NewCallEvent")
    };
    assert_eq!((new.call_id, new.device_handle), (first.id, h));

    // Without yielding: the first call ends, 2,000 calls of other devices come and go (8,000
    // events, twice the broadcast's capacity), then a second call of the deskphone starts.
    calls.disconnect(first.id, Cause::Busy).unwrap();
    for _ in 0..2_000 {
        let other = calls.new_call("2001", Some("SEPOTHER"), "2002");
        calls.disconnect(other.id, Cause::Failed).unwrap();
    }
    let second = calls.new_call("1001", Some(PHONE), "1003");
    calls
        .transition(second.id, Side::Caller, LegState::Offering, None)
        .unwrap();

    let seen: Vec<Message> = p.drain(Duration::from_secs(2)).await;
    assert_eq!(
        seen,
        vec![
            Message::CallEndedEvent(CallEndedEvent {
                device_handle: h,
                device_name: PHONE.into(),
                call_id: first.id,
                connection_id: first.caller.id,
                cause: CallCause::Unknown,
            }),
            Message::NewCallEvent(NewCallEvent {
                device_handle: h,
                device_name: PHONE.into(),
                call_id: second.id,
                connection_id: second.caller.id,
                directory_number: "1001".into(),
                calling_number: "1001".into(),
                called_number: "1003".into(),
                role: CallRole::Originating,
                state: CallState::Offering,
            }),
        ]
    );
    assert!(n
        .traces()
        .contains("CTI call events resynchronised: 1 calls live"));
    n.node.shutdown().await.unwrap();
}

#[tokio::test(flavor = "multi_thread")]
async fn a_busy_callee_ends_the_call_with_cause_busy_on_both_sides() {
    let n = boot().await;
    let (caller_port, callee_port) = call_lab(&n).await;
    let mut p = provider_v2(&n).await;
    let caller_h = open_with(&mut p, 4, PHONE, false, true).await;
    let callee_h = open_with(&mut p, 5, CALLEE, false, true).await;
    let (uas_dir, uac_dir) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let uas = sipp_call(
        &n,
        "call_uas_busy.xml",
        false,
        callee_port,
        |s| s,
        uas_dir.path(),
    );
    tokio::time::sleep(Duration::from_millis(500)).await;
    let uac = sipp_call(
        &n,
        "call_uac_refused.xml",
        true,
        caller_port,
        |s| s.replace("@CODE@", "486"),
        uac_dir.path(),
    );
    tokio::task::block_in_place(|| {
        sipp_done(uac, uac_dir.path(), "caller");
        sipp_done(uas, uas_dir.path(), "callee");
    });
    let mut by_handle: std::collections::HashMap<u32, Vec<Message>> = Default::default();
    let mut ended = 0;
    while ended < 2 {
        let m = p.recv().await;
        let handle = match &m {
            Message::NewCallEvent(e) => e.device_handle,
            Message::CallStateChangedEvent(e) => e.device_handle,
            Message::CallEndedEvent(e) => {
                ended += 1;
                e.device_handle
            }
            Message::Heartbeat(_) => continue,
            other => panic!("{other:?}"),
        };
        by_handle.entry(handle).or_default().push(m);
    }
    for (h, role) in [
        (caller_h, CallRole::Originating),
        (callee_h, CallRole::Terminating),
    ] {
        let Some(Message::NewCallEvent(first)) = by_handle[&h].first().cloned() else {
            panic!("{by_handle:?}")
        };
        assert_eq!((first.role, first.state), (role, CallState::Offering));
        assert_eq!(
            by_handle[&h],
            side_of_a_call(
                &first,
                &[(CallState::Disconnected, Some(CallCause::Busy))],
                CallCause::Busy
            )
        );
    }
    n.node.shutdown().await.unwrap();
}
