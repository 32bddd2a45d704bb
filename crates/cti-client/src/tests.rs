//! The client against a small scripted peer built from `switchboard_cti_proto`, over real
//! loopback sockets (TCP, TLS, WebSocket). The peer is only as clever as each test needs;
//! the end-to-end tests against the real CTI Manager live with the server.

use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use futures_util::{SinkExt, StreamExt};
use switchboard_cti_proto::seal::{self, CtiKeyPair};
use switchboard_cti_proto::*;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;
use tokio::task::JoinHandle;
use tokio_rustls::rustls;
use tokio_tungstenite::tungstenite::Message as WsMessage;
use tokio_tungstenite::WebSocketStream;

use crate::transport::BoxIo;
use crate::*;

const WAIT: Duration = Duration::from_secs(10);

/// The server side of one connection.
enum Peer {
    Framed(BoxIo, FrameDecoder),
    Ws(Box<WebSocketStream<BoxIo>>),
}

impl Peer {
    /// The next message; `None` when the client closed.
    async fn recv_opt(&mut self) -> Option<Message> {
        let read = async {
            match self {
                Peer::Framed(io, decoder) => loop {
                    if let Some(m) = decoder.next_message().expect("client sent garbage") {
                        return Some(m);
                    }
                    let mut buf = [0u8; 4096];
                    let n = io.read(&mut buf).await.ok()?;
                    if n == 0 {
                        return None;
                    }
                    decoder.push(&buf[..n]);
                },
                Peer::Ws(ws) => match ws.next().await? {
                    Ok(WsMessage::Text(t)) => {
                        Some(decode_message(t.as_bytes()).expect("a message"))
                    }
                    Ok(WsMessage::Close(_)) | Err(_) => None,
                    Ok(other) => panic!("unexpected WebSocket frame {other:?}"),
                },
            }
        };
        tokio::time::timeout(WAIT, read)
            .await
            .expect("the client sent nothing")
    }

    async fn recv(&mut self) -> Message {
        self.recv_opt().await.expect("the client closed")
    }

    /// The next message within `d`, if any (for "nothing is sent" checks).
    async fn recv_within(&mut self, d: Duration) -> Option<Message> {
        tokio::time::timeout(d, self.recv_opt())
            .await
            .ok()
            .flatten()
    }

    async fn send(&mut self, m: impl Into<Message>) {
        let m = m.into();
        match self {
            Peer::Framed(io, _) => {
                io.write_all(&encode_message_frame(&m).unwrap())
                    .await
                    .unwrap();
            }
            Peer::Ws(ws) => {
                let text = String::from_utf8(encode_message(&m)).unwrap();
                ws.send(WsMessage::text(text)).await.unwrap();
            }
        }
    }

    fn io(&mut self) -> &mut BoxIo {
        match self {
            Peer::Framed(io, _) => io,
            Peer::Ws(_) => panic!("not a framed peer"),
        }
    }

    /// Exactly `n` raw bytes (framed transports).
    async fn read_exact(&mut self, n: usize) -> Vec<u8> {
        let mut buf = vec![0; n];
        tokio::time::timeout(WAIT, self.io().read_exact(&mut buf))
            .await
            .expect("bytes in time")
            .unwrap();
        buf
    }

    /// Accepts the provider open of a client using a token: response, completed event.
    async fn accept_open(&mut self, heartbeat_s: u32, timer_s: u32) -> ProviderOpenRequest {
        let Message::ProviderOpenRequest(req) = self.recv().await else {
            panic!("expected ProviderOpenRequest")
        };
        self.send(ProviderOpenResponse {
            seq: req.seq,
            provider_id: 7,
            protocol_version: 1,
            heartbeat_s,
            timer_s,
            nonce: None,
            cti_public_key: None,
        })
        .await;
        self.send(completed(7)).await;
        req
    }
}

fn completed(provider_id: u32) -> ProviderOpenCompletedEvent {
    ProviderOpenCompletedEvent {
        provider_id,
        user_id: "wwhite".into(),
        flags: CtiFlags {
            super_provider: false,
            call_park_retrieval_allowed: false,
            modify_calling_number: false,
            cti_enabled: true,
            call_monitor: false,
            call_record: false,
        },
    }
}

fn in_service(handle: u32) -> Message {
    DeviceInServiceEvent {
        device_handle: handle,
        device_name: format!("SEP{handle:012}"),
    }
    .into()
}

fn device_open_response(seq: u32, handle: u32) -> DeviceOpenResponse {
    DeviceOpenResponse {
        seq,
        device_handle: handle,
        device_name: "SEP001794625DE5".into(),
        device_type: "Cisco 8841".into(),
        device_id: "38".into(),
        protocol: DeviceProtocol::Sip,
        state: DeviceState::OutOfService,
    }
}

/// Which kind of server to run.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Kind {
    Tcp,
    Tls,
    Wss,
    Ws,
}

struct TestCert {
    pem: String,
    config: Arc<rustls::ServerConfig>,
}

fn test_cert() -> TestCert {
    let rcgen::CertifiedKey { cert, key_pair } =
        rcgen::generate_simple_self_signed(vec!["localhost".into(), "127.0.0.1".into()]).unwrap();
    let key = rustls::pki_types::PrivateKeyDer::Pkcs8(key_pair.serialize_der().into());
    let config = rustls::ServerConfig::builder_with_provider(Arc::new(
        rustls::crypto::ring::default_provider(),
    ))
    .with_safe_default_protocol_versions()
    .unwrap()
    .with_no_client_auth()
    .with_single_cert(vec![cert.der().clone()], key)
    .unwrap();
    TestCert {
        pem: cert.pem(),
        config: Arc::new(config),
    }
}

/// Serves one connection of `kind` with `script`; returns the client's target and the
/// script's task (await it: a panic in the script fails the test).
async fn serve<F, Fut>(kind: Kind, script: F) -> (Target, JoinHandle<()>)
where
    F: FnOnce(Peer) -> Fut + Send + 'static,
    Fut: Future<Output = ()> + Send,
{
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr: SocketAddr = listener.local_addr().unwrap();
    let cert = (kind != Kind::Tcp && kind != Kind::Ws).then(test_cert);
    let target = match (kind, &cert) {
        (Kind::Tcp, _) => Target::Plain(addr),
        (Kind::Tls, Some(c)) => Target::Tls {
            addr,
            server_name: "localhost".into(),
            trust_pem: c.pem.clone(),
        },
        (Kind::Wss, Some(c)) => Target::WebSocket {
            url: format!("wss://localhost:{}/cti", addr.port()),
            trust_pem: c.pem.clone(),
        },
        (Kind::Ws, _) => Target::WebSocket {
            url: format!("ws://127.0.0.1:{}/cti", addr.port()),
            trust_pem: String::new(),
        },
        _ => unreachable!(),
    };
    let config = cert.map(|c| c.config);
    let task = tokio::spawn(async move {
        let (tcp, _) = listener.accept().await.unwrap();
        let io: BoxIo = match config {
            Some(config) => Box::new(
                tokio_rustls::TlsAcceptor::from(config)
                    .accept(tcp)
                    .await
                    .unwrap(),
            ),
            None => Box::new(tcp),
        };
        let peer = match kind {
            Kind::Tcp | Kind::Tls => Peer::Framed(io, FrameDecoder::default()),
            Kind::Wss | Kind::Ws => {
                Peer::Ws(Box::new(tokio_tungstenite::accept_async(io).await.unwrap()))
            }
        };
        script(peer).await;
    });
    (target, task)
}

async fn connect(target: Target) -> CtiClient {
    CtiClient::connect(target).await.unwrap()
}

/// A client whose provider is open (token login) against a peer running `script` after the
/// open; the peer proposes `heartbeat_s`/`timer_s`.
async fn opened<F, Fut>(heartbeat_s: u32, timer_s: u32, script: F) -> (CtiClient, JoinHandle<()>)
where
    F: FnOnce(Peer) -> Fut + Send + 'static,
    Fut: Future<Output = ()> + Send,
{
    let (target, task) = serve(Kind::Tcp, move |mut peer| async move {
        peer.accept_open(heartbeat_s, timer_s).await;
        script(peer).await;
    })
    .await;
    let mut client = connect(target).await;
    client
        .open_provider(ProviderOptions::token("wwhite", "tok"))
        .await
        .unwrap();
    (client, task)
}

#[tokio::test]
async fn sealed_open_on_plain_tcp_keeps_other_events_queued() {
    let keys = Arc::new(CtiKeyPair::generate(&mut rand::rngs::OsRng));
    let server_keys = keys.clone();
    let (target, server) = serve(Kind::Tcp, move |mut peer| async move {
        let Message::ProviderOpenRequest(req) = peer.recv().await else {
            panic!()
        };
        assert_eq!(req.seq, 1);
        assert_eq!(req.auth, Auth::SealedPassword {});
        assert_eq!(req.login, "wwhite");
        assert_eq!(req.protocol_versions, SUPPORTED_VERSIONS);
        assert_eq!(req.client_version, CLIENT_VERSION);
        assert_eq!((req.heartbeat_s, req.timer_s), (60, 10));
        assert_eq!(req.application, "Shibui");
        let mut nonces = seal::NonceStore::default();
        let nonce = nonces.issue(&mut rand::rngs::OsRng, std::time::Instant::now());
        // Events before and between the answers must not disturb the open.
        peer.send(in_service(1)).await;
        peer.send(ProviderOpenResponse {
            seq: 1,
            provider_id: 16777223,
            protocol_version: 1,
            heartbeat_s: 60,
            timer_s: 10,
            nonce: Some(nonce.clone()),
            cti_public_key: Some(server_keys.public_key_base64()),
        })
        .await;
        let Message::ProviderAuthenticateRequest(auth) = peer.recv().await else {
            panic!()
        };
        assert_eq!(auth.seq, 2);
        let password = seal::open_and_check(
            &server_keys,
            &mut nonces,
            "wwhite",
            &nonce,
            &auth.sealed_password,
            std::time::Instant::now(),
        )
        .unwrap();
        assert_eq!(password, "Heisenb3");
        peer.send(in_service(2)).await;
        peer.send(ProviderAuthenticateResponse { seq: 2 }).await;
        peer.send(Heartbeat {}).await;
        peer.send(in_service(3)).await;
        peer.send(completed(16777223)).await;
        let Message::DeviceOpenRequest(open) = peer.recv().await else {
            panic!()
        };
        assert_eq!(open.seq, 3);
        assert_eq!(open.event_filter, DEVICE_STATE_EVENTS);
        peer.send(device_open_response(3, 38)).await;
        peer.send(in_service(38)).await;
        assert!(peer.recv_opt().await.is_none());
    })
    .await;
    let mut client = connect(target).await;
    assert_eq!(client.transport(), Transport::Tcp);
    let opened = client
        .open_provider(ProviderOptions {
            application: "Shibui".into(),
            heartbeat_s: 60,
            ..ProviderOptions::password("wwhite", "Heisenb3")
        })
        .await
        .unwrap();
    assert_eq!(
        opened,
        OpenedProvider {
            provider_id: 16777223,
            protocol_version: 1,
            heartbeat_s: 60,
            timer_s: 10,
            user_id: "wwhite".into(),
            flags: completed(1).flags,
        }
    );
    let device = client
        .open_device("SEP001794625DE5", DEVICE_STATE_EVENTS)
        .await
        .unwrap();
    assert_eq!(device.device_handle, 38);
    for handle in [1, 2, 3, 38] {
        let event = client.next_event_timeout(WAIT).await.unwrap();
        assert_eq!(event, in_service(handle));
    }
    assert!(client.try_next_event().is_none());
    client.shutdown().await;
    server.await.unwrap();
}

#[tokio::test]
async fn responses_are_routed_by_seq_and_the_rest_are_events() {
    let (mut client, server) = opened(60, 10, |mut peer| async move {
        // A request the client sent raw (nobody waits), then one it waits for.
        let Message::DeviceOpenRequest(raw) = peer.recv().await else {
            panic!()
        };
        assert_eq!(raw.seq, 100);
        let Message::LineOpenRequest(line) = peer.recv().await else {
            panic!()
        };
        assert_eq!(line.seq, 2);
        // Out of order on purpose: routing is by seq.
        peer.send(device_open_response(100, 5)).await;
        peer.send(in_service(5)).await;
        peer.send(LineOpenResponse {
            seq: 2,
            device_handle: 5,
            line_handle: 1,
            directory_number: "1001".into(),
        })
        .await;
        let Message::DeviceCloseRequest(close) = peer.recv().await else {
            panic!()
        };
        peer.send(ErrorResponse {
            seq: Some(close.seq),
            error: ErrorName::InvalidDeviceHandle,
            message: "no handle 9".into(),
            supported_versions: None,
        })
        .await;
    })
    .await;
    assert_eq!(client.next_seq(), 2);
    client
        .send_raw_message(
            DeviceOpenRequest {
                seq: 100,
                device_name: "SEPX".into(),
                event_filter: DEVICE_STATE_EVENTS,
            }
            .into(),
        )
        .await
        .unwrap();
    let line = client.open_line(5, "1001").await.unwrap();
    assert_eq!((line.seq, line.line_handle), (2, 1));
    assert_eq!(
        client.next_event_timeout(WAIT).await.unwrap(),
        device_open_response(100, 5).into()
    );
    assert_eq!(
        client.next_event_timeout(WAIT).await.unwrap(),
        in_service(5)
    );
    let err = client.close_device(9).await.unwrap_err();
    assert!(
        matches!(&err, ClientError::Cti { error: ErrorName::InvalidDeviceHandle, message } if message == "no handle 9"),
        "{err:?}"
    );
    server.await.unwrap();
}

#[tokio::test]
async fn a_request_gets_its_answer_behind_thousands_of_unread_events() {
    const EVENTS: u32 = 3000; // more than the event channel holds
    let (mut client, server) = opened(60, 10, |mut peer| async move {
        let Message::DeviceOpenRequest(req) = peer.recv().await else {
            panic!()
        };
        for i in 0..EVENTS {
            peer.send(in_service(i)).await;
        }
        peer.send(device_open_response(req.seq, 1)).await;
        peer.send(in_service(EVENTS)).await;
        assert!(peer.recv_opt().await.is_none());
    })
    .await;
    let device = client
        .open_device("SEP", DEVICE_STATE_EVENTS)
        .await
        .unwrap();
    assert_eq!(device.device_handle, 1);
    for i in 0..=EVENTS {
        assert_eq!(
            client.next_event_timeout(WAIT).await.unwrap(),
            in_service(i)
        );
    }
    drop(client);
    server.await.unwrap();
}

#[tokio::test]
async fn open_failed_is_reported_then_the_connection_is_closed() {
    let (target, server) = serve(Kind::Tcp, |mut peer| async move {
        let Message::ProviderOpenRequest(req) = peer.recv().await else {
            panic!()
        };
        assert_eq!(
            req.auth,
            Auth::Oauth {
                access_token: "expired".into()
            }
        );
        peer.send(ProviderOpenResponse {
            seq: req.seq,
            provider_id: 8,
            protocol_version: 1,
            heartbeat_s: 30,
            timer_s: 10,
            nonce: None,
            cti_public_key: None,
        })
        .await;
        peer.send(ProviderOpenFailedEvent {
            provider_id: 8,
            reason: ErrorName::DirectoryLoginFailed,
            message: "login failed".into(),
        })
        .await;
    })
    .await;
    let mut client = connect(target).await;
    let err = client
        .open_provider(ProviderOptions::token("wwhite", "expired"))
        .await
        .unwrap_err();
    assert!(
        matches!(
            err,
            ClientError::OpenFailed {
                reason: ErrorName::DirectoryLoginFailed,
                ..
            }
        ),
        "{err:?}"
    );
    assert_eq!(err.name(), Some(ErrorName::DirectoryLoginFailed));
    server.await.unwrap();
    // The server closed after the event: the end comes through the events, then requests
    // are refused.
    let end = client.next_event_timeout(WAIT).await.unwrap_err();
    assert!(matches!(end, ClientError::Closed(None)), "{end:?}");
    let err = client
        .open_device("SEP", DEVICE_STATE_EVENTS)
        .await
        .unwrap_err();
    assert!(matches!(err, ClientError::Closed(None)), "{err:?}");
    assert!(client.is_closed());
}

#[tokio::test]
async fn a_connection_level_error_names_the_close() {
    let (mut client, server) = opened(60, 10, |mut peer| async move {
        let Message::DeviceOpenRequest(_) = peer.recv().await else {
            panic!()
        };
        peer.send(ErrorResponse {
            seq: None,
            error: ErrorName::SlowConsumer,
            message: "queue full".into(),
            supported_versions: None,
        })
        .await;
    })
    .await;
    let err = client
        .open_device("SEP", DEVICE_STATE_EVENTS)
        .await
        .unwrap_err();
    assert!(
        matches!(err, ClientError::Closed(Some(ErrorName::SlowConsumer))),
        "{err:?}"
    );
    let Message::ErrorResponse(e) = client.next_event_timeout(WAIT).await.unwrap() else {
        panic!()
    };
    assert_eq!((e.seq, e.error), (None, ErrorName::SlowConsumer));
    let end = client.next_event().await.unwrap().unwrap_err();
    assert!(
        matches!(end, ClientError::Closed(Some(ErrorName::SlowConsumer))),
        "{end:?}"
    );
    assert!(client.next_event().await.is_none());
    assert_eq!(
        client.last_connection_error(),
        Some(ErrorName::SlowConsumer)
    );
    let err = client.next_event_timeout(WAIT).await.unwrap_err();
    assert!(matches!(
        err,
        ClientError::Closed(Some(ErrorName::SlowConsumer))
    ));
    server.await.unwrap();
}

#[tokio::test]
async fn heartbeats_when_idle_unless_disabled() {
    let (first_tx, first_rx) = tokio::sync::oneshot::channel::<()>();
    let (disabled_tx, disabled_rx) = tokio::sync::oneshot::channel::<()>();
    let (quiet_tx, quiet_rx) = tokio::sync::oneshot::channel::<()>();
    // The server decides the interval; this peer says 1 s (a real server clamps to 5 s).
    let (mut client, server) = opened(1, 30, |mut peer| async move {
        let started = tokio::time::Instant::now();
        assert_eq!(peer.recv().await, Message::Heartbeat(Heartbeat {}));
        let first = started.elapsed();
        assert!(first >= Duration::from_millis(800), "{first:?}");
        first_tx.send(()).unwrap();
        disabled_rx.await.unwrap();
        // Disabled: nothing for well over an interval.
        assert_eq!(peer.recv_within(Duration::from_millis(2500)).await, None);
        quiet_tx.send(()).unwrap();
        // Enabled again.
        assert_eq!(peer.recv().await, Message::Heartbeat(Heartbeat {}));
        peer.io().shutdown().await.unwrap();
    })
    .await;
    first_rx.await.unwrap();
    client.disable_heartbeats();
    disabled_tx.send(()).unwrap();
    quiet_rx.await.unwrap();
    client.enable_heartbeats();
    let end = client.next_event_timeout(WAIT).await.unwrap_err();
    assert!(matches!(end, ClientError::Closed(None)), "{end:?}");
    server.await.unwrap();
}

#[tokio::test]
async fn a_silent_server_times_out() {
    let (stop_tx, stop_rx) = tokio::sync::oneshot::channel::<()>();
    // heartbeat 1 s + timer 1 s, and the peer never says anything after the open.
    let (mut client, server) = opened(1, 1, |mut peer| async move {
        // Keep the socket open (and read the client's heartbeats) until the test is done.
        let drain = async { while peer.recv_opt().await.is_some() {} };
        tokio::select! {
            _ = stop_rx => {}
            () = drain => {}
        }
    })
    .await;
    let started = tokio::time::Instant::now();
    let end = client.next_event_timeout(WAIT).await.unwrap_err();
    assert!(matches!(end, ClientError::Timeout), "{end:?}");
    assert!(started.elapsed() >= Duration::from_millis(1500));
    assert!(client.is_closed());
    let _ = stop_tx.send(());
    server.await.unwrap();
}

#[tokio::test]
async fn a_paused_reader_leaves_the_server_blocked_then_catches_up() {
    let (blocked_tx, blocked_rx) = tokio::sync::oneshot::channel::<u32>();
    let (mut client, server) = opened(60, 10, |mut peer| async move {
        let _ = peer.recv().await; // the client's "paused" marker
        let mut chunk = Vec::new();
        const PER_CHUNK: u32 = 512;
        let mut sent = 0u32;
        let mut blocked_tx = Some(blocked_tx);
        // At most 64 MiB: far more than socket buffers hold.
        while (sent as usize) * 80 < 64 << 20 {
            chunk.clear();
            for i in sent..sent + PER_CHUNK {
                chunk.extend(encode_message_frame(&in_service(i)).unwrap());
            }
            let write = peer.io().write_all(&chunk);
            tokio::pin!(write);
            if tokio::time::timeout(Duration::from_millis(1500), &mut write)
                .await
                .is_err()
            {
                // Blocked: the client stopped reading. Finish this chunk once it reads.
                blocked_tx.take().unwrap().send(sent + PER_CHUNK).unwrap();
                write.await.unwrap();
                break;
            }
            sent += PER_CHUNK;
        }
        assert!(blocked_tx.is_none(), "the server was never blocked");
        assert!(peer.recv_opt().await.is_none());
    })
    .await;
    client.pause_reading();
    client.send_raw_message(Heartbeat {}.into()).await.unwrap();
    let total = tokio::time::timeout(Duration::from_secs(60), blocked_rx)
        .await
        .expect("the server blocks")
        .unwrap();
    // Nothing was read while paused.
    assert!(matches!(
        client.next_event_timeout(Duration::from_millis(100)).await,
        Err(ClientError::Timeout)
    ));
    client.resume_reading();
    for i in 0..total {
        assert_eq!(
            client.next_event_timeout(WAIT).await.unwrap(),
            in_service(i)
        );
    }
    client.shutdown().await;
    server.await.unwrap();
}

#[tokio::test]
async fn raw_frames_are_written_as_given_and_bad_frames_reported() {
    let (mut client, server) = opened(60, 10, |mut peer| async move {
        let header = peer.read_exact(4).await;
        assert_eq!(header, 0x0001_0001u32.to_be_bytes());
        let framed = peer.read_exact(4 + 9).await;
        assert_eq!(framed, b"\x00\x00\x00\x09{not json");
        let empty = peer.read_exact(4).await;
        assert_eq!(empty, [0, 0, 0, 0]);
        // A bad frame from the server: reported, not fatal.
        peer.io()
            .write_all(&encode_frame(b"[1]").unwrap())
            .await
            .unwrap();
        peer.send(in_service(1)).await;
        // An oversized header: the stream is lost.
        peer.io().write_all(&[0, 1, 0, 1]).await.unwrap();
        assert!(peer.recv_opt().await.is_none());
    })
    .await;
    client
        .send_raw_frame(RawFrame::Bytes(0x0001_0001u32.to_be_bytes().to_vec()))
        .await
        .unwrap();
    client
        .send_raw_frame(RawFrame::Text("{not json".into()))
        .await
        .unwrap();
    client
        .send_raw_frame(RawFrame::Binary(Vec::new()))
        .await
        .unwrap();
    let bad = client.next_event_timeout(WAIT).await.unwrap_err();
    assert!(
        matches!(&bad, ClientError::Protocol(t) if t.contains("MALFORMED")),
        "{bad:?}"
    );
    assert_eq!(
        client.next_event_timeout(WAIT).await.unwrap(),
        in_service(1)
    );
    let end = client.next_event_timeout(WAIT).await.unwrap_err();
    assert!(
        matches!(&end, ClientError::Protocol(t) if t.contains("FRAME_TOO_LARGE")),
        "{end:?}"
    );
    assert!(client.next_event().await.is_none());
    drop(client);
    server.await.unwrap();
}

#[tokio::test]
async fn bad_requests_are_refused_before_sending() {
    let (mut client, server) = opened(60, 10, |mut peer| async move {
        // Only the well-formed request arrives, numbered after the refused ones.
        let Message::DeviceCloseRequest(req) = peer.recv().await else {
            panic!()
        };
        assert_eq!(req.seq, 5);
        peer.send(DeviceCloseResponse {
            seq: req.seq,
            device_handle: 1,
        })
        .await;
    })
    .await;
    let err = client.request(|_| Heartbeat {}.into()).await.unwrap_err();
    assert!(matches!(err, ClientError::Protocol(_)), "{err:?}");
    let err = client
        .request(|seq| ProviderCloseRequest { seq: seq + 1 }.into())
        .await
        .unwrap_err();
    assert!(matches!(err, ClientError::Protocol(_)), "{err:?}");
    let huge = "X".repeat(MAX_FRAME_LEN);
    let err = client
        .open_device(&huge, DEVICE_STATE_EVENTS)
        .await
        .unwrap_err();
    assert!(
        matches!(&err, ClientError::Protocol(t) if t.contains("limit")),
        "{err:?}"
    );
    client.close_device(1).await.unwrap();
    server.await.unwrap();
}

#[tokio::test]
async fn a_late_answer_becomes_an_event() {
    let (mut client, server) = opened(60, 10, |mut peer| async move {
        let Message::DeviceOpenRequest(req) = peer.recv().await else {
            panic!()
        };
        tokio::time::sleep(Duration::from_millis(600)).await;
        peer.send(device_open_response(req.seq, 3)).await;
    })
    .await;
    client.set_request_timeout(Duration::from_millis(200));
    let err = client
        .open_device("SEP", DEVICE_STATE_EVENTS)
        .await
        .unwrap_err();
    assert!(matches!(err, ClientError::Timeout), "{err:?}");
    assert_eq!(
        client.next_event_timeout(WAIT).await.unwrap(),
        device_open_response(2, 3).into()
    );
    server.await.unwrap();
}

#[tokio::test]
async fn tap_sees_both_directions() {
    let (target, server) = serve(Kind::Tcp, |mut peer| async move {
        peer.accept_open(60, 10).await;
    })
    .await;
    let client_seen = Arc::new(std::sync::Mutex::new(Vec::new()));
    let seen = client_seen.clone();
    let mut client = connect(target).await;
    client.set_tap(Some(Arc::new(move |d, m: &Message| {
        seen.lock().unwrap().push((d, m.name()))
    })));
    client
        .open_provider(ProviderOptions::token("wwhite", "t"))
        .await
        .unwrap();
    server.await.unwrap();
    assert_eq!(
        *client_seen.lock().unwrap(),
        [
            (Direction::Sent, "ProviderOpenRequest"),
            (Direction::Received, "ProviderOpenResponse"),
            (Direction::Received, "ProviderOpenCompletedEvent"),
        ]
    );
}

/// The open over an encrypted transport sends the password inside it (unless told to seal).
async fn open_over(kind: Kind, expect_sealed: bool) {
    let (target, server) = serve(kind, move |mut peer| async move {
        let req = peer.accept_open(60, 10).await;
        let expected = if expect_sealed {
            Auth::SealedPassword {}
        } else {
            Auth::Password {
                password: "Heisenb3".into(),
            }
        };
        if expect_sealed {
            // This peer never sends a key: the client must say so rather than hang.
            assert_eq!(req.auth, expected);
            return;
        }
        assert_eq!(req.auth, expected);
        let Message::DeviceOpenRequest(open) = peer.recv().await else {
            panic!()
        };
        peer.send(device_open_response(open.seq, 38)).await;
        peer.send(in_service(38)).await;
        assert!(peer.recv_opt().await.is_none());
    })
    .await;
    let mut client = connect(target).await;
    let opened = client
        .open_provider(ProviderOptions::password("wwhite", "Heisenb3"))
        .await;
    if expect_sealed {
        let err = opened.unwrap_err();
        assert!(
            matches!(&err, ClientError::Protocol(t) if t.contains("nonce")),
            "{err:?}"
        );
        server.await.unwrap();
        return;
    }
    assert_eq!(opened.unwrap().provider_id, 7);
    client
        .open_device("SEP001794625DE5", DEVICE_STATE_EVENTS)
        .await
        .unwrap();
    assert_eq!(
        client.next_event_timeout(WAIT).await.unwrap(),
        in_service(38)
    );
    client.shutdown().await;
    server.await.unwrap();
}

#[tokio::test]
async fn tls_sends_the_password_inside_tls() {
    open_over(Kind::Tls, false).await;
}

#[tokio::test]
async fn wss_sends_the_password_inside_tls() {
    open_over(Kind::Wss, false).await;
}

#[tokio::test]
async fn plain_ws_seals_the_password() {
    open_over(Kind::Ws, true).await;
}

#[tokio::test]
async fn tls_refuses_an_untrusted_server() {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let server_cert = test_cert();
    let server = tokio::spawn(async move {
        let (tcp, _) = listener.accept().await.unwrap();
        // The handshake fails on the client's side.
        let _ = tokio_rustls::TlsAcceptor::from(server_cert.config)
            .accept(tcp)
            .await;
    });
    let err = CtiClient::connect(Target::Tls {
        addr,
        server_name: "localhost".into(),
        trust_pem: test_cert().pem,
    })
    .await
    .unwrap_err();
    assert!(
        matches!(&err, ClientError::Tls(t) if t.contains("certificate")),
        "{err:?}"
    );
    server.await.unwrap();
}

async fn ws_next(ws: &mut WebSocketStream<BoxIo>) -> WsMessage {
    tokio::time::timeout(WAIT, ws.next())
        .await
        .expect("a frame in time")
        .expect("a frame")
        .expect("a good frame")
}

#[tokio::test]
async fn websocket_raw_frames_are_text_and_binary_frames() {
    let (target, server) = serve(Kind::Wss, |peer| async move {
        let Peer::Ws(mut ws) = peer else { panic!() };
        assert_eq!(ws_next(&mut ws).await, WsMessage::text("{not json"));
        assert_eq!(ws_next(&mut ws).await, WsMessage::binary(vec![1, 2, 3]));
        assert_eq!(
            ws_next(&mut ws).await,
            WsMessage::text(r#"{"type":"Heartbeat"}"#)
        );
        // A binary frame from the server is reported, not fatal.
        ws.send(WsMessage::binary(vec![0])).await.unwrap();
        ws.send(WsMessage::text(
            String::from_utf8(encode_message(&in_service(4))).unwrap(),
        ))
        .await
        .unwrap();
        WebSocketStream::close(&mut ws, None).await.unwrap();
    })
    .await;
    let mut client = connect(target).await;
    assert_eq!(client.transport(), Transport::WebSocketTls);
    client
        .send_raw_frame(RawFrame::Text("{not json".into()))
        .await
        .unwrap();
    client
        .send_raw_frame(RawFrame::Bytes(vec![1, 2, 3]))
        .await
        .unwrap();
    client.send_raw_message(Heartbeat {}.into()).await.unwrap();
    let bad = client.next_event_timeout(WAIT).await.unwrap_err();
    assert!(
        matches!(&bad, ClientError::Protocol(t) if t.contains("binary")),
        "{bad:?}"
    );
    assert_eq!(
        client.next_event_timeout(WAIT).await.unwrap(),
        in_service(4)
    );
    let end = client.next_event_timeout(WAIT).await.unwrap_err();
    assert!(matches!(end, ClientError::Closed(None)), "{end:?}");
    server.await.unwrap();
}

#[tokio::test]
async fn call_requests_have_typed_methods_and_call_events_come_as_events() {
    let (mut client, server) = opened(60, 10, |mut peer| async move {
        let Message::MakeCallRequest(make) = peer.recv().await else {
            panic!()
        };
        assert_eq!(
            (
                make.device_handle,
                make.destination.as_str(),
                make.directory_number.as_deref()
            ),
            (1, "1002", Some("1001"))
        );
        // An event before the response: it stays queued for next_event.
        peer.send(NewCallEvent {
            device_handle: 1,
            device_name: "SEP001794625DE5".into(),
            call_id: 4,
            connection_id: 5,
            directory_number: "1001".into(),
            calling_number: "1001".into(),
            called_number: "1002".into(),
            role: CallRole::Originating,
            state: CallState::Offering,
        })
        .await;
        peer.send(MakeCallResponse {
            seq: make.seq,
            device_handle: 1,
            call_id: 4,
        })
        .await;
        let Message::ConsultTransferRequest(consult) = peer.recv().await else {
            panic!()
        };
        assert_eq!((consult.call_id, consult.destination.as_str()), (4, "1003"));
        peer.send(ConsultTransferResponse {
            seq: consult.seq,
            device_handle: 1,
            call_id: 4,
            consult_call_id: 7,
        })
        .await;
        let Message::SendDtmfRequest(dtmf) = peer.recv().await else {
            panic!()
        };
        assert_eq!(dtmf.digits, "12#");
        peer.send(ErrorResponse {
            seq: Some(dtmf.seq),
            error: ErrorName::IllegalCallstate,
            message: "the call is held".into(),
            supported_versions: None,
        })
        .await;
        let Message::HoldRequest(hold) = peer.recv().await else {
            panic!()
        };
        // The wrong response: a protocol error, named.
        peer.send(RetrieveResponse {
            seq: hold.seq,
            device_handle: 1,
            call_id: 4,
        })
        .await;
    })
    .await;
    let made = client.make_call(1, "1002", Some("1001")).await.unwrap();
    assert_eq!(made.call_id, 4);
    let Message::NewCallEvent(new) = client.next_event_timeout(WAIT).await.unwrap() else {
        panic!()
    };
    assert_eq!((new.call_id, new.state), (4, CallState::Offering));
    let consult = client.consult_transfer(1, 4, "1003").await.unwrap();
    assert_eq!(consult.consult_call_id, 7);
    let err = client.send_dtmf(1, 4, "12#").await.unwrap_err();
    assert!(
        matches!(
            &err,
            ClientError::Cti {
                error: ErrorName::IllegalCallstate,
                ..
            }
        ),
        "{err:?}"
    );
    let err = client.hold(1, 4).await.unwrap_err();
    assert!(
        matches!(&err, ClientError::Protocol(m) if m == "expected HoldResponse, got RetrieveResponse"),
        "{err:?}"
    );
    server.await.unwrap();
}
