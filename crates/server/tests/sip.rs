//! The SIP registrar end to end: a node booted in-process on ephemeral loopback ports, driven
//! by real SIPp scenarios (`tests/sipp/`) over UDP and TCP, and by raw sockets for hostile
//! input. Every address is on 127.0.0.1.

mod common;

use std::io::Write;
use std::net::SocketAddr;
use std::path::Path;
use std::process::Command;
use std::time::Duration;

use serde_json::{json, Value};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

use common::{boot, boot_with, free_local_port, scenario, Node};

impl Node {
    async fn registrations(&self) -> Vec<Value> {
        self.api(reqwest::Method::GET, "/api/registrations", None)
            .await
            .as_array()
            .unwrap()
            .clone()
    }
    fn traces(&self) -> String {
        self.traces_of(switchboard_trace::Service::Sip)
    }
}

/// Runs one SIPp scenario (one registration per CSV line) in the foreground and returns
/// whether every call succeeded, with SIPp's output and errors for the failure message.
fn run_sipp(
    scenario_file: &str,
    server: SocketAddr,
    transport: &str,
    csv: &[String],
    local_port: u16,
    expires: u32,
) -> (bool, String) {
    let dir = tempfile::tempdir().unwrap();
    let csv_path = dir.path().join("devices.csv");
    let mut f = std::fs::File::create(&csv_path).unwrap();
    writeln!(f, "SEQUENTIAL").unwrap();
    for line in csv {
        writeln!(f, "{line}").unwrap();
    }
    let (t, tp, ctp) = if transport == "udp" {
        ("u1", "UDP", "udp")
    } else {
        ("t1", "TCP", "tcp")
    };
    let out = Command::new("timeout")
        .arg("60")
        .arg("sipp")
        .arg(server.to_string())
        .arg("-sf")
        .arg(scenario(scenario_file))
        .arg("-inf")
        .arg(&csv_path)
        .args([
            "-m",
            &csv.len().to_string(),
            "-t",
            t,
            "-i",
            "127.0.0.1",
            "-p",
            &local_port.to_string(),
        ])
        .args([
            "-key",
            "tp",
            tp,
            "-key",
            "ctp",
            ctp,
            "-key",
            "expires",
            &expires.to_string(),
        ])
        .args([
            "-timeout",
            "20",
            "-timeout_error",
            "-nostdin",
            "-trace_err",
            "-error_file",
            "errors.log",
        ])
        .current_dir(dir.path())
        .output()
        .unwrap_or_else(|e| {
            panic!("SIPp is needed (Debian package sip-tester; ./scripts/test.sh installs it): {e}")
        });
    let errors = std::fs::read_to_string(dir.path().join("errors.log")).unwrap_or_default();
    let text = format!(
        "{}{}{errors}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    (out.status.success(), text)
}

fn auth(device: &str, password: &str) -> String {
    format!("{device};[authentication username={device} password={password}]")
}

#[tokio::test(flavor = "multi_thread")]
async fn digest_registration_refresh_and_removal_over_udp_and_tcp() {
    let n = boot().await;
    let dev = "SEP001794625DE5";
    let good = vec![auth(dev, &n.demo_password(dev))];
    for transport in ["udp", "tcp"] {
        let port = free_local_port();
        let (ok, out) = tokio::task::block_in_place(|| {
            run_sipp(
                "reg_digest.xml",
                n.sip(transport),
                transport,
                &good,
                port,
                3600,
            )
        });
        assert!(ok, "{transport} registration failed:\n{out}");
        let regs = n.registrations().await;
        let mine: Vec<&Value> = regs
            .iter()
            .filter(|r| r["transport"] == transport)
            .collect();
        assert_eq!(mine.len(), 1, "{regs:?}");
        assert_eq!(mine[0]["device"], dev);
        let left = mine[0]["expires_in"].as_u64().unwrap();
        assert!(
            (100..=120).contains(&left),
            "granted {left}: the maximum (120 s) caps the 3600 asked for"
        );
        assert!(mine[0]["contact"]
            .as_str()
            .unwrap()
            .contains(&format!(":{port}")));
        // Refresh from the same contact: still one binding.
        let (ok, out) = tokio::task::block_in_place(|| {
            run_sipp(
                "reg_digest.xml",
                n.sip(transport),
                transport,
                &good,
                port,
                3600,
            )
        });
        assert!(ok, "refresh failed:\n{out}");
        assert_eq!(
            n.registrations()
                .await
                .iter()
                .filter(|r| r["transport"] == transport)
                .count(),
            1
        );
        // Remove it.
        let (ok, out) = tokio::task::block_in_place(|| {
            run_sipp(
                "unreg_digest.xml",
                n.sip(transport),
                transport,
                &good,
                port,
                0,
            )
        });
        assert!(ok, "unregister failed:\n{out}");
        assert!(n
            .registrations()
            .await
            .iter()
            .all(|r| r["transport"] != transport));
    }
    let traces = n.traces();
    assert!(
        traces.contains("SIP registration accepted: SEP001794625DE5"),
        "{traces}"
    );
    assert!(
        traces.contains("SIP registration removed: SEP001794625DE5"),
        "{traces}"
    );
    assert!(
        !traces.contains(&n.demo_password(dev)),
        "a password reached a trace"
    );
    n.node.shutdown().await.unwrap();
}

#[tokio::test(flavor = "multi_thread")]
async fn wrong_password_unknown_device_and_oauth_only_device_are_refused() {
    let n = boot().await;
    let udp = n.sip("udp");
    let wrong = vec![auth("SEP001794625DE5", "not-the-password")];
    let (ok, out) = tokio::task::block_in_place(|| {
        run_sipp(
            "reg_wrong_password.xml",
            udp,
            "udp",
            &wrong,
            free_local_port(),
            3600,
        )
    });
    assert!(ok, "a wrong password must get 401 again:\n{out}");
    let unknown = vec!["SEP000000000001".to_string()];
    let (ok, out) = tokio::task::block_in_place(|| {
        run_sipp(
            "reg_unknown.xml",
            udp,
            "udp",
            &unknown,
            free_local_port(),
            3600,
        )
    });
    assert!(ok, "an unknown device must get 404:\n{out}");
    assert!(n.registrations().await.is_empty());

    // The OAuth softphone may not register by digest on 5060: 403 with a reason.
    let mut socket = tokio::net::TcpStream::connect(n.sip("tcp")).await.unwrap();
    let local = socket.local_addr().unwrap();
    let register = format!(
        "REGISTER sip:127.0.0.1 SIP/2.0\r\nVia: SIP/2.0/TCP {local};branch=z9hG4bK-oauth1\r\nMax-Forwards: 70\r\nFrom: <sip:1001@127.0.0.1>;tag=a1\r\nTo: <sip:1001@127.0.0.1>\r\nCall-ID: oauth-1@test\r\nCSeq: 1 REGISTER\r\nContact: <sip:1001@{local};transport=tcp>;+u.sip!devicename.ccm.cisco.com=\"CSFwwhite\"\r\nExpires: 3600\r\nContent-Length: 0\r\n\r\n"
    );
    socket.write_all(register.as_bytes()).await.unwrap();
    let answer = read_response(&mut socket).await;
    assert!(answer.starts_with("SIP/2.0 403 Forbidden\r\n"), "{answer}");
    assert!(
        answer.contains("Warning: 399 ucm1 \"Device's security profile requires SIP OAuth"),
        "{answer}"
    );
    assert!(answer.contains("\r\nServer: Switchboard/"), "{answer}");
    let traces = n.traces();
    assert!(
        traces.contains("SIP registration refused: 404 for SEP000000000001"),
        "{traces}"
    );
    assert!(!traces.contains("not-the-password"));
    n.node.shutdown().await.unwrap();
}

async fn read_response(socket: &mut tokio::net::TcpStream) -> String {
    let mut buf = vec![0u8; 8192];
    let mut got = Vec::new();
    loop {
        let n = tokio::time::timeout(Duration::from_secs(10), socket.read(&mut buf))
            .await
            .expect("answer in time")
            .unwrap();
        if n == 0 {
            break;
        }
        got.extend_from_slice(&buf[..n]);
        if got.windows(4).any(|w| w == b"\r\n\r\n") {
            break;
        }
    }
    String::from_utf8_lossy(&got).to_string()
}

#[tokio::test(flavor = "multi_thread")]
async fn bindings_expire_and_call_control_hears_it() {
    let n = boot().await;
    n.api(
        reqwest::Method::PUT,
        "/api/params/SipMinRegistrationExpiresSeconds",
        Some(json!({"value": "1"})),
    )
    .await;
    n.api(
        reqwest::Method::PUT,
        "/api/params/SipMaxRegistrationExpiresSeconds",
        Some(json!({"value": "2"})),
    )
    .await;
    let mut events = n.node.state.callctl.subscribe();
    let dev = "SEP001794625DE5";
    let good = vec![auth(dev, &n.demo_password(dev))];
    let (ok, out) = tokio::task::block_in_place(|| {
        run_sipp(
            "reg_digest.xml",
            n.sip("udp"),
            "udp",
            &good,
            free_local_port(),
            3600,
        )
    });
    assert!(ok, "{out}");
    let first = events.recv().await.unwrap();
    assert_eq!((first.device.as_str(), first.in_service), (dev, true));
    assert!(n.node.state.callctl.is_in_service(dev));
    let expired = tokio::time::timeout(Duration::from_secs(10), events.recv())
        .await
        .expect("expiry in time")
        .unwrap();
    assert_eq!(
        expired.change,
        switchboard_callctl::RegistrationChange::Expired
    );
    assert!(!expired.in_service && !n.node.state.callctl.is_in_service(dev));
    assert!(n.registrations().await.is_empty());
    assert!(n
        .traces()
        .contains("SIP registration expired: SEP001794625DE5"));
    n.node.shutdown().await.unwrap();
}

#[tokio::test(flavor = "multi_thread")]
async fn hostile_input_gets_400_or_is_dropped_and_the_server_keeps_serving() {
    let n = boot().await;
    let udp_addr = n.sip("udp");
    let tcp_addr = n.sip("tcp");
    let udp = tokio::net::UdpSocket::bind("127.0.0.1:0").await.unwrap();
    // Garbage and an oversized datagram: dropped.
    udp.send_to(b"\x00\x01garbage\xff\xfe", udp_addr)
        .await
        .unwrap();
    udp.send_to(&vec![b'A'; 65_000], udp_addr).await.unwrap();
    // A request with a broken header the server can still answer: 400 back to the sender.
    let local = udp.local_addr().unwrap();
    let bad = format!(
        "REGISTER sip:127.0.0.1 SIP/2.0\r\nVia: SIP/2.0/UDP {local};branch=z9hG4bK-bad1;rport\r\nMax-Forwards: 70\r\nFrom: <sip:x@127.0.0.1>;tag=1\r\nTo: <sip:x@127.0.0.1>\r\nCall-ID: bad-1@test\r\nCSeq: 1 REGISTER\r\nContact: <sip:broken@\r\nExpires: soon\r\nContent-Length: 0\r\n\r\n"
    );
    udp.send_to(bad.as_bytes(), udp_addr).await.unwrap();
    let mut buf = vec![0u8; 4096];
    let (len, _) = tokio::time::timeout(Duration::from_secs(5), udp.recv_from(&mut buf))
        .await
        .expect("a 400")
        .unwrap();
    let answer = String::from_utf8_lossy(&buf[..len]).to_string();
    assert!(answer.starts_with("SIP/2.0 400 "), "{answer}");
    assert!(answer.contains("Call-ID: bad-1@test"), "{answer}");

    // A TCP client that sends half a message and stalls holds only its own connection.
    let mut stalled = tokio::net::TcpStream::connect(tcp_addr).await.unwrap();
    stalled.write_all(b"REGISTER sip:127.0.0.1 SIP/2.0\r\nVia: SIP/2.0/TCP 127.0.0.1:1;branch=z9hG4bK-x\r\nContent-Le").await.unwrap();
    // TCP garbage without a Content-Length: the connection is closed.
    let mut junk = tokio::net::TcpStream::connect(tcp_addr).await.unwrap();
    junk.write_all(b"NOT SIP AT ALL\r\n\r\n").await.unwrap();
    let mut rest = Vec::new();
    let _ = tokio::time::timeout(Duration::from_secs(5), junk.read_to_end(&mut rest))
        .await
        .expect("closed in time");

    // Everyone else is still served, over both transports.
    let dev = "SEP001794625DE5";
    let good = vec![auth(dev, &n.demo_password(dev))];
    for transport in ["udp", "tcp"] {
        let (ok, out) = tokio::task::block_in_place(|| {
            run_sipp(
                "reg_digest.xml",
                n.sip(transport),
                transport,
                &good,
                free_local_port(),
                3600,
            )
        });
        assert!(ok, "{transport} after hostile input:\n{out}");
    }
    assert!(
        n.traces().contains("SIP bad message"),
        "bad input is traced"
    );
    drop(stalled);
    n.node.shutdown().await.unwrap();
}

/// A minimal SIP client over UDP for the cases SIPp cannot express.
struct UdpClient {
    socket: tokio::net::UdpSocket,
    server: SocketAddr,
}

impl UdpClient {
    async fn new(server: SocketAddr) -> UdpClient {
        UdpClient {
            socket: tokio::net::UdpSocket::bind("127.0.0.1:0").await.unwrap(),
            server,
        }
    }
    fn local(&self) -> SocketAddr {
        self.socket.local_addr().unwrap()
    }
    /// Sends a REGISTER for `device` and returns the response text.
    async fn register(
        &self,
        device: &str,
        call_id: &str,
        cseq: u32,
        contact: &str,
        expires: u32,
        extra: &str,
    ) -> String {
        let local = self.local();
        let msg = format!(
            "REGISTER sip:127.0.0.1 SIP/2.0\r\nVia: SIP/2.0/UDP {local};branch=z9hG4bK-{call_id}-{cseq};rport\r\nMax-Forwards: 70\r\nFrom: <sip:{device}@127.0.0.1>;tag=t{cseq}\r\nTo: <sip:{device}@127.0.0.1>\r\nCall-ID: {call_id}\r\nCSeq: {cseq} REGISTER\r\nContact: {contact}\r\nExpires: {expires}\r\n{extra}Content-Length: 0\r\n\r\n"
        );
        self.socket
            .send_to(msg.as_bytes(), self.server)
            .await
            .unwrap();
        let mut buf = vec![0u8; 8192];
        let (len, _) =
            tokio::time::timeout(Duration::from_secs(5), self.socket.recv_from(&mut buf))
                .await
                .expect("an answer")
                .unwrap();
        String::from_utf8_lossy(&buf[..len]).to_string()
    }
}

/// The `nonce` of the WWW-Authenticate challenge for `algorithm`.
fn nonce_for(response: &str, algorithm: &str) -> String {
    let line = response
        .lines()
        .find(|l| {
            l.starts_with("WWW-Authenticate:") && l.contains(&format!("algorithm={algorithm}"))
        })
        .unwrap_or_else(|| panic!("no {algorithm} challenge in {response}"));
    line.split("nonce=\"")
        .nth(1)
        .unwrap()
        .split('"')
        .next()
        .unwrap()
        .to_string()
}

fn authorization(
    alg: switchboard_auth::digest::DigestAlgorithm,
    user: &str,
    password: &str,
    nonce: &str,
    nc: u32,
) -> String {
    use switchboard_auth::digest;
    let nc = format!("{nc:08x}");
    let ha1 = digest::ha1(alg, user, "ccmsipline", password);
    let response = digest::response(
        alg,
        &ha1,
        nonce,
        &nc,
        "c0ffee",
        "auth",
        "REGISTER",
        "sip:127.0.0.1",
    );
    format!(
        "Authorization: Digest username=\"{user}\", realm=\"ccmsipline\", nonce=\"{nonce}\", uri=\"sip:127.0.0.1\", response=\"{response}\", algorithm={alg}, cnonce=\"c0ffee\", qop=auth, nc={nc}\r\n"
    )
}

#[tokio::test(flavor = "multi_thread")]
async fn sha256_digest_replay_interval_and_star_removal() {
    use switchboard_auth::digest::DigestAlgorithm;
    let n = boot().await;
    let dev = "SEP001794625DE5";
    let password = n.demo_password(dev);
    let c = UdpClient::new(n.sip("udp")).await;
    let contact = format!("<sip:1001@{}>", c.local());

    // MD5 first by default; SHA-256 first when the parameter says so (RFC 8760 order).
    let first = c.register(dev, "sha-1", 1, &contact, 3600, "").await;
    let challenges: Vec<&str> = first
        .lines()
        .filter(|l| l.starts_with("WWW-Authenticate:"))
        .collect();
    assert_eq!(challenges.len(), 2, "{first}");
    assert!(
        challenges[0].contains("algorithm=MD5") && challenges[1].contains("algorithm=SHA-256"),
        "{first}"
    );
    n.api(
        reqwest::Method::PUT,
        "/api/params/SipDigestSha256Preferred",
        Some(json!({"value": "1"})),
    )
    .await;
    // Changes reach the running services within a second.
    let mut first = String::new();
    for cseq in 2..50 {
        first = c.register(dev, "sha-1", cseq, &contact, 3600, "").await;
        if first
            .lines()
            .find(|l| l.starts_with("WWW-Authenticate:"))
            .is_some_and(|l| l.contains("algorithm=SHA-256"))
        {
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let challenges: Vec<&str> = first
        .lines()
        .filter(|l| l.starts_with("WWW-Authenticate:"))
        .collect();
    assert!(challenges[0].contains("algorithm=SHA-256"), "{first}");

    let nonce = nonce_for(&first, "SHA-256");
    let ok = c
        .register(
            dev,
            "sha-1",
            100,
            &contact,
            3600,
            &authorization(DigestAlgorithm::Sha256, dev, &password, &nonce, 1),
        )
        .await;
    assert!(ok.starts_with("SIP/2.0 200 OK\r\n"), "{ok}");
    assert!(
        ok.contains("\r\nExpires: 120\r\n") || ok.contains("\r\nExpires: 119\r\n"),
        "{ok}"
    );
    assert!(
        ok.contains(";expires=12") || ok.contains(";expires=11"),
        "{ok}"
    );

    // The same nonce count again is a replay: challenged, not registered anew.
    let replay = c
        .register(
            dev,
            "sha-1",
            101,
            &contact,
            3600,
            &authorization(DigestAlgorithm::Sha256, dev, &password, &nonce, 1),
        )
        .await;
    assert!(replay.starts_with("SIP/2.0 401 "), "{replay}");
    // The next count on the same nonce is fine.
    let next = c
        .register(
            dev,
            "sha-1",
            102,
            &contact,
            3600,
            &authorization(DigestAlgorithm::Sha256, dev, &password, &nonce, 2),
        )
        .await;
    assert!(next.starts_with("SIP/2.0 200 OK\r\n"), "{next}");
    // With SHA-256 not offered, the 401 holds the MD5 challenge alone (for stacks that give
    // up on an algorithm they do not know), and an MD5 answer registers.
    n.api(
        reqwest::Method::PUT,
        "/api/params/SipDigestOfferSha256",
        Some(json!({"value": "0"})),
    )
    .await;
    let mut md5_only = Vec::new();
    for cseq in 200..250 {
        let answer = c.register(dev, "sha-1", cseq, &contact, 3600, "").await;
        md5_only = answer
            .lines()
            .filter(|l| l.starts_with("WWW-Authenticate:"))
            .map(str::to_string)
            .collect();
        if md5_only.len() == 1 {
            let nonce = nonce_for(&answer, "MD5");
            let ok = c
                .register(
                    dev,
                    "sha-1",
                    cseq + 100,
                    &contact,
                    3600,
                    &authorization(DigestAlgorithm::Md5, dev, &password, &nonce, 1),
                )
                .await;
            assert!(ok.starts_with("SIP/2.0 200 OK\r\n"), "{ok}");
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert_eq!(md5_only.len(), 1, "{md5_only:?}");
    assert!(md5_only[0].contains("algorithm=MD5"), "{md5_only:?}");
    n.api(
        reqwest::Method::PUT,
        "/api/params/SipDigestOfferSha256",
        Some(json!({"value": "1"})),
    )
    .await;
    // A forged nonce is challenged again.
    let forged = c
        .register(
            dev,
            "sha-1",
            103,
            &contact,
            3600,
            &authorization(
                DigestAlgorithm::Md5,
                dev,
                &password,
                "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA",
                1,
            ),
        )
        .await;
    assert!(forged.starts_with("SIP/2.0 401 "), "{forged}");

    // Too brief: 423 with Min-Expires.
    let brief = c
        .register(
            dev,
            "sha-1",
            104,
            &contact,
            10,
            &authorization(
                DigestAlgorithm::Md5,
                dev,
                &password,
                &nonce_for(&forged, "MD5"),
                1,
            ),
        )
        .await;
    assert!(
        brief.starts_with("SIP/2.0 423 Interval Too Brief\r\n")
            && brief.contains("\r\nMin-Expires: 60\r\n"),
        "{brief}"
    );

    // A second contact, then Contact: * with Expires: 0 removes both.
    let other = format!("<sip:1001@127.0.0.1:{}>", c.local().port() + 1);
    let chal = c.register(dev, "sha-2", 1, &other, 3600, "").await;
    let both = c
        .register(
            dev,
            "sha-2",
            2,
            &other,
            3600,
            &authorization(
                DigestAlgorithm::Md5,
                dev,
                &password,
                &nonce_for(&chal, "MD5"),
                1,
            ),
        )
        .await;
    assert_eq!(both.matches("\r\nContact: ").count(), 2, "{both}");
    assert_eq!(n.registrations().await.len(), 2);
    let chal = c.register(dev, "sha-3", 1, "*", 0, "").await;
    let gone = c
        .register(
            dev,
            "sha-3",
            2,
            "*",
            0,
            &authorization(
                DigestAlgorithm::Md5,
                dev,
                &password,
                &nonce_for(&chal, "MD5"),
                1,
            ),
        )
        .await;
    assert!(
        gone.starts_with("SIP/2.0 200 OK\r\n") && !gone.contains("\r\nContact: "),
        "{gone}"
    );
    assert!(n.registrations().await.is_empty());
    n.node.shutdown().await.unwrap();
}

#[tokio::test(flavor = "multi_thread")]
async fn tls_registration_and_live_certificate() {
    use tokio_rustls::TlsConnector;
    let n = boot().await;
    // The deskphone's profile allows TCP/UDP; a TLS-only profile makes TLS the way in.
    n.api(
        reqwest::Method::PATCH,
        "/api/profiles/Cisco 8841 - Standard SIP Digest Profile",
        Some(json!({"transport": "tls"})),
    )
    .await;
    let cert = std::fs::read_to_string(n.dir.path().join("certs/tomcat.pem")).unwrap();
    let connector = TlsConnector::from(switchboard_pki::client_config_trusting(&[cert]).unwrap());
    let tcp = tokio::net::TcpStream::connect(n.sip("tls")).await.unwrap();
    let local = tcp.local_addr().unwrap();
    let name = rustls::pki_types::ServerName::try_from("localhost").unwrap();
    let mut tls = connector.connect(name, tcp).await.unwrap();
    let dev = "SEP001794625DE5";
    let password = n.demo_password(dev);
    let request = |cseq: u32, auth: &str| {
        format!(
            "REGISTER sip:127.0.0.1 SIP/2.0\r\nVia: SIP/2.0/TLS {local};branch=z9hG4bK-tls-{cseq}\r\nMax-Forwards: 70\r\nFrom: <sip:{dev}@127.0.0.1>;tag=tls\r\nTo: <sip:{dev}@127.0.0.1>\r\nCall-ID: tls-1@test\r\nCSeq: {cseq} REGISTER\r\nContact: <sip:1001@{local};transport=tls>\r\nExpires: 3600\r\n{auth}Content-Length: 0\r\n\r\n"
        )
    };
    tls.write_all(request(1, "").as_bytes()).await.unwrap();
    let challenge = read_tls(&mut tls).await;
    assert!(challenge.starts_with("SIP/2.0 401 "), "{challenge}");
    let auth = authorization(
        switchboard_auth::digest::DigestAlgorithm::Md5,
        dev,
        &password,
        &nonce_for(&challenge, "MD5"),
        1,
    );
    tls.write_all(request(2, &auth).as_bytes()).await.unwrap();
    let ok = read_tls(&mut tls).await;
    assert!(ok.starts_with("SIP/2.0 200 OK\r\n"), "{ok}");
    let regs = n.registrations().await;
    assert_eq!(
        (regs.len(), regs[0]["transport"].as_str()),
        (1, Some("tls"))
    );

    // Over UDP the same device is now refused: its profile wants TLS.
    let c = UdpClient::new(n.sip("udp")).await;
    let refused = c
        .register(
            dev,
            "udp-1",
            1,
            &format!("<sip:1001@{}>", c.local()),
            3600,
            "",
        )
        .await;
    assert!(
        refused.starts_with("SIP/2.0 403 Forbidden\r\n")
            && refused.contains("Transport UDP not allowed"),
        "{refused}"
    );

    // A regenerated certificate is what the next TLS connection sees.
    n.api(reqwest::Method::POST, "/api/certs/tomcat/regenerate", None)
        .await;
    let new_cert = std::fs::read_to_string(n.dir.path().join("certs/tomcat.pem")).unwrap();
    let connector =
        TlsConnector::from(switchboard_pki::client_config_trusting(&[new_cert]).unwrap());
    let mut connected = false;
    for _ in 0..50 {
        let tcp = tokio::net::TcpStream::connect(n.sip("tls")).await.unwrap();
        if connector
            .connect(
                rustls::pki_types::ServerName::try_from("localhost").unwrap(),
                tcp,
            )
            .await
            .is_ok()
        {
            connected = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert!(
        connected,
        "SIP TLS does not present the regenerated certificate"
    );
    n.node.shutdown().await.unwrap();
}

async fn read_tls<S: tokio::io::AsyncRead + Unpin>(stream: &mut S) -> String {
    let mut buf = vec![0u8; 8192];
    let n = tokio::time::timeout(Duration::from_secs(5), stream.read(&mut buf))
        .await
        .expect("an answer in time")
        .unwrap();
    String::from_utf8_lossy(&buf[..n]).to_string()
}

/// Sends one torture message on its own TCP connection and returns the status code of the
/// answer, or `None` when the server answered nothing within the time (or closed).
async fn torture_over_tcp(server: SocketAddr, bytes: Vec<u8>) -> Option<u16> {
    let mut socket = tokio::net::TcpStream::connect(server).await.ok()?;
    socket.write_all(&bytes).await.ok()?;
    let mut got = Vec::new();
    let mut buf = vec![0u8; 8192];
    let deadline = tokio::time::Instant::now() + Duration::from_secs(2);
    while !got.windows(4).any(|w| w == b"\r\n\r\n") {
        match tokio::time::timeout_at(deadline, socket.read(&mut buf)).await {
            Ok(Ok(n)) if n > 0 => got.extend_from_slice(&buf[..n]),
            _ => break,
        }
    }
    let text = String::from_utf8_lossy(&got);
    let status = text.strip_prefix("SIP/2.0 ")?.get(..3)?;
    status.parse().ok()
}

#[tokio::test(flavor = "multi_thread")]
async fn rfc4475_and_rfc5118_torture_messages_over_tcp() {
    let n = boot().await;
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../sip-proto/test_data/torture");
    let manifest = std::fs::read_to_string(dir.join("manifest.tsv")).unwrap();
    let mut cases = Vec::new();
    for line in manifest.lines().skip(1) {
        let fields: Vec<&str> = line.split('\t').collect();
        let (name, expected) = (fields[0], fields[3]);
        let Ok(bytes) = std::fs::read(dir.join(format!("{name}.dat"))) else {
            continue;
        };
        cases.push((name.to_string(), expected.to_string(), bytes));
    }
    assert!(cases.len() >= 60, "the corpus is there: {}", cases.len());
    let server = n.sip("tcp");
    let answers = futures_join(
        cases
            .iter()
            .map(|(_, _, bytes)| torture_over_tcp(server, bytes.clone())),
    )
    .await;
    let mut refused = 0;
    for ((name, expected, _), status) in cases.iter().zip(answers) {
        if name == "badvers" {
            assert_eq!(
                status,
                Some(505),
                "an unknown SIP version gets 505 Version Not Supported"
            );
        }
        if let Some(code) = status {
            assert!((100..700).contains(&code), "{name}: {code}");
            assert!(code != 500, "{name}: the server failed on it");
            if expected == "invalid" {
                assert!(code >= 400, "{name} is invalid but got {code}");
                refused += 1;
            }
        }
    }
    assert!(
        refused >= 5,
        "some invalid messages are answered with an error ({refused})"
    );
    // Nothing of that stopped the server.
    let dev = "SEP001794625DE5";
    let good = vec![auth(dev, &n.demo_password(dev))];
    let (ok, out) = tokio::task::block_in_place(|| {
        run_sipp(
            "reg_digest.xml",
            n.sip("tcp"),
            "tcp",
            &good,
            free_local_port(),
            3600,
        )
    });
    assert!(ok, "after the torture messages:\n{out}");
    n.node.shutdown().await.unwrap();
}

/// Runs futures concurrently and returns their outputs in order.
async fn futures_join<F: std::future::Future + Send + 'static>(
    futures: impl Iterator<Item = F>,
) -> Vec<F::Output>
where
    F::Output: Send + 'static,
{
    let handles: Vec<_> = futures.map(tokio::spawn).collect();
    let mut out = Vec::new();
    for h in handles {
        out.push(h.await.unwrap());
    }
    out
}

/// A local stunnel in client mode: SIPp (built without TLS) speaks TCP to it, it speaks TLS to
/// the node. Killed on drop.
struct Stunnel {
    child: std::process::Child,
    port: u16,
    _dir: tempfile::TempDir,
}

impl Stunnel {
    fn start(tls_server: SocketAddr) -> Stunnel {
        let dir = tempfile::tempdir().unwrap();
        let port = free_local_port();
        let conf = dir.path().join("stunnel.conf");
        std::fs::write(
            &conf,
            format!("foreground = yes\npid =\n[sip-tls]\nclient = yes\naccept = 127.0.0.1:{port}\nconnect = {tls_server}\n"),
        )
        .unwrap();
        let child = Command::new("stunnel")
            .arg(&conf)
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .unwrap_or_else(|e| panic!("stunnel is needed (Debian package stunnel4; ./scripts/test.sh installs it): {e}"));
        for _ in 0..100 {
            if std::net::TcpStream::connect(("127.0.0.1", port)).is_ok() {
                break;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        Stunnel {
            child,
            port,
            _dir: dir,
        }
    }
}

impl Drop for Stunnel {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn sipp_registers_over_tls_through_stunnel() {
    let n = boot().await;
    n.api(
        reqwest::Method::PATCH,
        "/api/profiles/Cisco 8841 - Standard SIP Digest Profile",
        Some(json!({"transport": "tls"})),
    )
    .await;
    let tunnel = Stunnel::start(n.sip("tls"));
    let port = free_local_port();
    let dev = "SEP001794625DE5";
    let good = vec![auth(dev, &n.demo_password(dev))];
    let entry: SocketAddr = format!("127.0.0.1:{}", tunnel.port).parse().unwrap();
    let (ok, out) =
        tokio::task::block_in_place(|| run_sipp("reg_digest.xml", entry, "tls", &good, port, 3600));
    assert!(ok, "TLS registration through stunnel failed:\n{out}");
    let regs = n.registrations().await;
    assert_eq!(
        (regs.len(), regs[0]["transport"].as_str()),
        (1, Some("tls")),
        "{regs:?}"
    );
    let (ok, out) =
        tokio::task::block_in_place(|| run_sipp("unreg_digest.xml", entry, "tls", &good, port, 0));
    assert!(ok, "{out}");
    assert!(
        n.registrations().await.is_empty(),
        "the TLS binding was removed"
    );
    n.node.shutdown().await.unwrap();
}

/// Opens a TLS connection to the node's 5061, presenting `identity` when given, and sends a
/// digest REGISTER for `device` (challenge, then credentials); returns the final answer.
async fn register_over_tls(
    n: &Node,
    identity: Option<&switchboard_pki::NodeIdentity>,
    device: &str,
    password: &str,
) -> String {
    use tokio_rustls::TlsConnector;
    let cert = std::fs::read_to_string(n.dir.path().join("certs/tomcat.pem")).unwrap();
    let config = match identity {
        Some(id) => switchboard_pki::client_config_with_identity(&[cert], id).unwrap(),
        None => switchboard_pki::client_config_trusting(&[cert]).unwrap(),
    };
    let tcp = tokio::net::TcpStream::connect(n.sip("tls")).await.unwrap();
    let local = tcp.local_addr().unwrap();
    let name = rustls::pki_types::ServerName::try_from("localhost").unwrap();
    let mut tls = TlsConnector::from(config).connect(name, tcp).await.unwrap();
    let request = |cseq: u32, auth: &str| {
        format!(
            "REGISTER sip:127.0.0.1 SIP/2.0\r\nVia: SIP/2.0/TLS {local};branch=z9hG4bK-m{cseq}\r\nMax-Forwards: 70\r\nFrom: <sip:{device}@127.0.0.1>;tag=m\r\nTo: <sip:{device}@127.0.0.1>\r\nCall-ID: mtls-{}@test\r\nCSeq: {cseq} REGISTER\r\nContact: <sip:1001@{local};transport=tls>\r\nExpires: 3600\r\n{auth}Content-Length: 0\r\n\r\n",
            local.port()
        )
    };
    tls.write_all(request(1, "").as_bytes()).await.unwrap();
    let first = read_tls(&mut tls).await;
    if !first.starts_with("SIP/2.0 401 ") {
        return first;
    }
    let auth = authorization(
        switchboard_auth::digest::DigestAlgorithm::Md5,
        device,
        password,
        &nonce_for(&first, "MD5"),
        1,
    );
    tls.write_all(request(2, &auth).as_bytes()).await.unwrap();
    read_tls(&mut tls).await
}

#[tokio::test(flavor = "multi_thread")]
async fn authenticated_profile_needs_the_device_certificate() {
    let n = boot().await;
    let dev = "SEP001794625DE5";
    let password = n.demo_password(dev);
    let ca = switchboard_pki::generate_test_ca("Phones CA").unwrap();
    n.api(
        reqwest::Method::POST,
        "/api/certs/trust",
        Some(json!({"pem": ca.cert_pem})),
    )
    .await;
    n.api(
        reqwest::Method::PATCH,
        "/api/profiles/Cisco 8841 - Standard SIP Digest Profile",
        Some(json!({"transport": "tls", "device_security_mode": "authenticated"})),
    )
    .await;
    let phone = switchboard_pki::issue_leaf(&ca, dev, &[]).unwrap();
    let other = switchboard_pki::issue_leaf(&ca, "SEP00000000AAAA", &[]).unwrap();

    // The trust store reaches the SIP listener within a second.
    let mut ok = String::new();
    for _ in 0..50 {
        ok = register_over_tls(&n, Some(&phone), dev, &password).await;
        if ok.starts_with("SIP/2.0 200 ") {
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert!(ok.starts_with("SIP/2.0 200 OK\r\n"), "{ok}");
    let without = register_over_tls(&n, None, dev, &password).await;
    assert!(
        without.starts_with("SIP/2.0 403 Forbidden\r\n")
            && without.contains("Device certificate required"),
        "{without}"
    );
    let wrong = register_over_tls(&n, Some(&other), dev, &password).await;
    assert!(wrong.starts_with("SIP/2.0 403 Forbidden\r\n"), "{wrong}");
    n.node.shutdown().await.unwrap();
}

/// A free TCP port on `ip` (bound then released).
fn free_tcp_port(ip: &str) -> u16 {
    std::net::TcpListener::bind((ip, 0))
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

#[tokio::test(flavor = "multi_thread")]
async fn sip_listeners_follow_the_nodes_ports_live() {
    // The MRA port follows the node's configuration (on 127.0.0.3, so the default 5091 is
    // free whatever else runs); the other SIP ports stay pinned to ephemeral sockets.
    let n = boot_with(|c| {
        c.listen.address = "127.0.0.3".parse().unwrap();
        c.listen.sip_mra_oauth = None;
    })
    .await;
    let listed = |n: &Node| -> Vec<String> {
        n.node
            .state
            .listeners
            .read()
            .unwrap()
            .iter()
            .filter(|l| l.service == "sip-mra-oauth")
            .map(|l| l.address.clone())
            .collect()
    };
    assert_eq!(listed(&n), ["127.0.0.3:5091"]);
    let moved = free_tcp_port("127.0.0.3");
    n.api(
        reqwest::Method::PATCH,
        "/api/nodes/ucm1",
        Some(json!({"ports": {"sip_mra_oauth": moved}})),
    )
    .await;
    let want = format!("127.0.0.3:{moved}");
    for _ in 0..100 {
        if listed(&n) == std::slice::from_ref(&want) {
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert_eq!(listed(&n), std::slice::from_ref(&want));
    assert!(tokio::net::TcpStream::connect(&want).await.is_ok());
    assert!(
        tokio::net::TcpStream::connect("127.0.0.3:5091")
            .await
            .is_err(),
        "the old MRA listener still accepts"
    );

    // A port that cannot be bound leaves the listener where it is, and says why.
    let squatter = std::net::TcpListener::bind("127.0.0.3:0").unwrap();
    let taken = squatter.local_addr().unwrap().port();
    n.api(
        reqwest::Method::PATCH,
        "/api/nodes/ucm1",
        Some(json!({"ports": {"sip_mra_oauth": taken}})),
    )
    .await;
    let mut traced = false;
    for _ in 0..100 {
        n.node.state.tracer.flush();
        let node_traces = std::fs::read_dir(n.dir.path().join("traces/node"))
            .into_iter()
            .flatten()
            .flatten()
            .map(|f| std::fs::read_to_string(f.path()).unwrap_or_default())
            .collect::<String>();
        if node_traces.contains(&format!(
            "sip-mra-oauth listener not moved to 127.0.0.3:{taken}"
        )) {
            traced = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert!(traced, "the failed move is traced");
    assert_eq!(listed(&n), std::slice::from_ref(&want));
    assert!(tokio::net::TcpStream::connect(&want).await.is_ok());
}

// ---- SIP OAuth (004): bearer registration on 5090 and 5091 ---------------------------------

impl Node {
    /// Sets the cluster's SIP OAuth mode and waits until the registrar has applied it (the
    /// change reaches it asynchronously, within milliseconds).
    async fn set_oauth_mode(&self, on: bool) {
        self.api(
            reqwest::Method::PUT,
            "/api/sip-oauth-mode",
            Some(json!({ "enabled": on })),
        )
        .await;
        for _ in 0..250 {
            if self.node.sip.registrar.oauth_mode() == on {
                return;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        panic!("the registrar did not apply SIP OAuth mode {on}");
    }
    /// An access token for `user` bound to `device`, from the password grant over HTTPS.
    async fn access_token(&self, user: &str, device: &str) -> String {
        let password = self.demo_password(user);
        let resp = self
            .client
            .post(format!("{}/oauth/token", self.node.api_url()))
            .form(&[
                ("grant_type", "password"),
                ("username", user),
                ("password", &password),
                ("client_id", "jabber"),
                ("device", device),
            ])
            .send()
            .await
            .unwrap();
        assert!(resp.status().is_success(), "token: {}", resp.status());
        let body: Value = resp.json().await.unwrap();
        body["access_token"].as_str().unwrap().to_string()
    }
}

/// One REGISTER for `device` over a fresh TLS connection to `server` (presenting `identity`
/// when given), with `auth` as extra header lines; returns the response, or the TLS error.
async fn bearer_register(
    n: &Node,
    server: SocketAddr,
    identity: Option<&switchboard_pki::NodeIdentity>,
    device: &str,
    auth: &str,
) -> Result<String, String> {
    use tokio_rustls::TlsConnector;
    let cert = std::fs::read_to_string(n.dir.path().join("certs/tomcat.pem")).unwrap();
    let config = match identity {
        Some(id) => switchboard_pki::client_config_with_identity(&[cert], id).unwrap(),
        None => switchboard_pki::client_config_trusting(&[cert]).unwrap(),
    };
    let tcp = tokio::net::TcpStream::connect(server).await.unwrap();
    let local = tcp.local_addr().unwrap();
    let name = rustls::pki_types::ServerName::try_from("localhost").unwrap();
    let mut tls = TlsConnector::from(config)
        .connect(name, tcp)
        .await
        .map_err(|e| e.to_string())?;
    let request = format!(
        "REGISTER sip:127.0.0.1 SIP/2.0\r\nVia: SIP/2.0/TLS {local};branch=z9hG4bK-b{}\r\nMax-Forwards: 70\r\nFrom: <sip:{device}@127.0.0.1>;tag=b\r\nTo: <sip:{device}@127.0.0.1>\r\nCall-ID: bearer-{}@test\r\nCSeq: 1 REGISTER\r\nContact: <sip:{device}@{local};transport=tls>;+u.sip!devicename.ccm.cisco.com=\"{device}\"\r\nExpires: 3600\r\n{auth}Content-Length: 0\r\n\r\n",
        local.port(),
        local.port()
    );
    tls.write_all(request.as_bytes())
        .await
        .map_err(|e| e.to_string())?;
    let mut buf = vec![0u8; 8192];
    let mut got = Vec::new();
    loop {
        match tokio::time::timeout(Duration::from_secs(5), tls.read(&mut buf)).await {
            Ok(Ok(0)) | Err(_) => break,
            Ok(Ok(k)) => {
                got.extend_from_slice(&buf[..k]);
                if got.windows(4).any(|w| w == b"\r\n\r\n") {
                    break;
                }
            }
            Ok(Err(e)) => return Err(e.to_string()),
        }
    }
    Ok(String::from_utf8_lossy(&got).into_owned())
}

/// A JWT with `claims`, signed ES256 by the node's current key (read from the store) or by
/// `foreign` when given, with `kid` in the header.
async fn signed_token(n: &Node, claims: Value, foreign: bool) -> String {
    let keys = n.node.state.store.oauth_key_material().await.unwrap();
    let key = &keys[0];
    let encoding = if foreign {
        let other = switchboard_oauth::keys::generate().unwrap();
        switchboard_oauth::keys::encoding_key(&other.private_key).unwrap()
    } else {
        switchboard_oauth::keys::encoding_key(key.private_key.as_deref().unwrap()).unwrap()
    };
    let mut header = jsonwebtoken::Header::new(jsonwebtoken::Algorithm::ES256);
    header.kid = Some(key.kid.clone());
    jsonwebtoken::encode(&header, &claims, &encoding).unwrap()
}

fn unix_now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64
}

/// `header.payload.signature` with the header replaced (the signature no longer matches).
fn with_header(token: &str, header: Value) -> String {
    use base64::Engine;
    let b64 = base64::engine::general_purpose::URL_SAFE_NO_PAD;
    let mut parts = token.split('.');
    let (_, payload, signature) = (parts.next(), parts.next().unwrap(), parts.next().unwrap());
    let header = b64.encode(header.to_string());
    format!("{header}.{payload}.{signature}")
}

#[tokio::test(flavor = "multi_thread")]
async fn sip_oauth_bearer_registration_on_5090() {
    let n = boot().await;
    n.set_oauth_mode(true).await;
    let oauth_port = n.listener("sip-oauth", "tcp");
    let token = n.access_token("wwhite", "CSFwwhite").await;

    // SIPp through stunnel: 407 with the seed's exact challenge, then the seed's
    // `Proxy-Authorization: Bearer token="…"` → 200.
    let tunnel = Stunnel::start(oauth_port);
    let entry: SocketAddr = format!("127.0.0.1:{}", tunnel.port).parse().unwrap();
    let line = format!("CSFwwhite;{token}");
    let port = free_local_port();
    let (ok, out) = tokio::task::block_in_place(|| {
        run_sipp("reg_bearer.xml", entry, "tls", &[line], port, 3600)
    });
    assert!(ok, "bearer registration through stunnel failed:\n{out}");
    let regs = n.registrations().await;
    assert!(
        regs.iter()
            .any(|r| r["device"] == "CSFwwhite" && r["transport"] == "tls"),
        "{regs:?}"
    );

    // The exact challenge, and RFC 8898's bare form in Authorization is accepted too.
    let challenge = bearer_register(&n, oauth_port, None, "CSFwwhite", "")
        .await
        .unwrap();
    assert!(
        challenge.starts_with("SIP/2.0 407 Proxy Authentication Required\r\n")
            && challenge.contains("\r\nProxy-Authenticate: Bearer realm=\"ccmsipline\"\r\n"),
        "{challenge}"
    );
    let bare = bearer_register(
        &n,
        oauth_port,
        None,
        "CSFwwhite",
        &format!("Authorization: Bearer {token}\r\n"),
    )
    .await
    .unwrap();
    assert!(bare.starts_with("SIP/2.0 200 OK\r\n"), "{bare}");

    // Refused tokens get the RFC 8898 invalid_token challenge.
    let now = unix_now();
    let issuer = n.node.state.oauth.issuer();
    let audience = n.node.state.oauth.audience();
    let claims = |exp: i64, sub: &str| {
        json!({"iss": issuer, "sub": sub, "aud": audience, "iat": exp - 3600, "nbf": exp - 3600,
               "exp": exp, "scope": "sip cti", "jti": format!("t{exp}{sub}")})
    };
    let expired = signed_token(&n, claims(now - 600, "wwhite"), false).await;
    let foreign = signed_token(&n, claims(now + 600, "wwhite"), true).await;
    let alg_none = with_header(&token, json!({"alg": "none", "typ": "JWT"}));
    let hs256 = {
        // HS256 "signed" with the public key as the secret: the classic confusion.
        let keys = n.node.state.store.oauth_key_material().await.unwrap();
        let mut header = jsonwebtoken::Header::new(jsonwebtoken::Algorithm::HS256);
        header.kid = Some(keys[0].kid.clone());
        jsonwebtoken::encode(
            &header,
            &claims(now + 600, "wwhite"),
            &jsonwebtoken::EncodingKey::from_secret(keys[0].public_jwk.as_bytes()),
        )
        .unwrap()
    };
    let mut cti_only = claims(now + 600, "wwhite");
    cti_only["scope"] = json!("cti");
    let cti_only = signed_token(&n, cti_only, false).await;
    for (what, bad) in [
        ("without the sip scope", &cti_only),
        ("expired", &expired),
        ("signed by another key", &foreign),
        ("alg none", &alg_none),
        ("HS256 confusion", &hs256),
    ] {
        let r = bearer_register(
            &n,
            oauth_port,
            None,
            "CSFwwhite",
            &format!("Proxy-Authorization: Bearer token=\"{bad}\"\r\n"),
        )
        .await
        .unwrap();
        assert!(
            r.starts_with("SIP/2.0 407 ")
                && r.contains(
                    "\r\nProxy-Authenticate: Bearer realm=\"ccmsipline\", error=\"invalid_token\"\r\n"
                ),
            "{what}: {r}"
        );
    }

    // A valid token of another user does not register this user's device.
    n.api(
        reqwest::Method::POST,
        "/api/users",
        Some(json!({"userid": "jpinkman", "display_name": "Jesse", "password": "Capt4inCook!"})),
    )
    .await;
    let theirs = signed_token(&n, claims(now + 600, "jpinkman"), false).await;
    // The new user reaches the verifier's memory when the change is applied (asynchronously).
    let mut r = String::new();
    for _ in 0..100 {
        r = bearer_register(
            &n,
            oauth_port,
            None,
            "CSFwwhite",
            &format!("Proxy-Authorization: Bearer token=\"{theirs}\"\r\n"),
        )
        .await
        .unwrap();
        if r.starts_with("SIP/2.0 403 ") {
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert!(
        r.starts_with("SIP/2.0 403 Forbidden\r\n") && r.contains("does not own device CSFwwhite"),
        "{r}"
    );

    // Key rotation: a token signed by the old key still registers.
    n.api(reqwest::Method::POST, "/api/oauth/keys/rotate", None)
        .await;
    let r = bearer_register(
        &n,
        oauth_port,
        None,
        "CSFwwhite",
        &format!("Proxy-Authorization: Bearer token=\"{token}\"\r\n"),
    )
    .await
    .unwrap();
    assert!(
        r.starts_with("SIP/2.0 200 OK\r\n"),
        "old key after rotation: {r}"
    );

    // Revoking every token of the user wins over the verification cache.
    n.api(
        reqwest::Method::POST,
        "/api/users/wwhite/oauth/revoke",
        None,
    )
    .await;
    let r = bearer_register(
        &n,
        oauth_port,
        None,
        "CSFwwhite",
        &format!("Proxy-Authorization: Bearer token=\"{token}\"\r\n"),
    )
    .await
    .unwrap();
    assert!(
        r.starts_with("SIP/2.0 407 ") && r.contains("error=\"invalid_token\""),
        "revoked: {r}"
    );
    let traces = n.traces();
    assert!(!traces.contains(&token), "a token reached the SIP trace");
    n.node.shutdown().await.unwrap();
}

#[tokio::test(flavor = "multi_thread")]
async fn sip_oauth_port_rules_give_the_seeds_403() {
    let n = boot().await;
    let oauth_port = n.listener("sip-oauth", "tcp");
    let token = n.access_token("wwhite", "CSFwwhite").await;
    let auth = format!("Proxy-Authorization: Bearer token=\"{token}\"\r\n");
    let mismatch = |r: &str| {
        r.starts_with("SIP/2.0 403 Forbidden\r\n")
            && r.contains("\r\nWarning: 399 ucm1 \"SIP OAuth Registration port Mismatch\"\r\n")
            && r.contains("\r\nRetry-After: ")
    };

    // Cenário 1: the cluster's OAuth mode is off (the default) — with SIPp, and raw.
    let tunnel = Stunnel::start(oauth_port);
    let entry: SocketAddr = format!("127.0.0.1:{}", tunnel.port).parse().unwrap();
    let port = free_local_port();
    let (ok, out) = tokio::task::block_in_place(|| {
        run_sipp(
            "reg_port_mismatch.xml",
            entry,
            "tls",
            &["CSFwwhite;x".to_string()],
            port,
            3600,
        )
    });
    assert!(ok, "port mismatch through stunnel:\n{out}");
    n.set_oauth_mode(true).await;
    let r = bearer_register(&n, oauth_port, None, "CSFwwhite", &auth)
        .await
        .unwrap();
    assert!(r.starts_with("SIP/2.0 200 OK\r\n"), "mode on: {r}");

    // A device whose profile lacks OAuth, on the OAuth port.
    let r = bearer_register(&n, oauth_port, None, "SEP001794625DE5", &auth)
        .await
        .unwrap();
    assert!(mismatch(&r), "digest deskphone on 5090: {r}");

    // Mutual TLS on 5090: a client certificate (from a trusted CA) is presented.
    let ca = switchboard_pki::generate_test_ca("Edge CA").unwrap();
    n.api(
        reqwest::Method::POST,
        "/api/certs/trust",
        Some(json!({"pem": ca.cert_pem})),
    )
    .await;
    let edge =
        switchboard_pki::issue_leaf(&ca, "expc.example.com", &["expc.example.com".to_string()])
            .unwrap();
    let mut r = String::new();
    for _ in 0..50 {
        r = bearer_register(&n, oauth_port, Some(&edge), "CSFwwhite", &auth)
            .await
            .unwrap_or_default();
        if mismatch(&r) {
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert!(mismatch(&r), "mutual TLS on 5090: {r}");

    // An OAuth device may not register by digest on the SIP ports either.
    let refused = register_over_tls(&n, None, "CSFwwhite", "whatever").await;
    assert!(
        refused.starts_with("SIP/2.0 403 ") && refused.contains("requires SIP OAuth"),
        "{refused}"
    );
    n.node.shutdown().await.unwrap();
}

#[tokio::test(flavor = "multi_thread")]
async fn sip_mra_port_admits_listed_edge_proxies_only() {
    let n = boot().await;
    n.set_oauth_mode(true).await;
    let mra = n.listener("sip-mra-oauth", "tcp");
    let token = n.access_token("wwhite", "CSFwwhite").await;
    let auth = format!("Proxy-Authorization: Bearer token=\"{token}\"\r\n");
    let ca = switchboard_pki::generate_test_ca("Edge CA").unwrap();
    let listed =
        switchboard_pki::issue_leaf(&ca, "expc1", &["expc1.example.com".to_string()]).unwrap();
    let unlisted =
        switchboard_pki::issue_leaf(&ca, "rogue", &["rogue.example.com".to_string()]).unwrap();
    let stranger_ca = switchboard_pki::generate_test_ca("Stranger CA").unwrap();
    let untrusted =
        switchboard_pki::issue_leaf(&stranger_ca, "expc1", &["expc1.example.com".to_string()])
            .unwrap();

    // Cenário 3: nothing trusted yet → the handshake fails with unknown_ca.
    let err = bearer_register(&n, mra, Some(&listed), "CSFwwhite", &auth)
        .await
        .unwrap_err();
    assert!(err.to_lowercase().contains("unknownca"), "{err}");

    n.api(
        reqwest::Method::POST,
        "/api/certs/trust",
        Some(json!({"pem": ca.cert_pem})),
    )
    .await;
    n.api(
        reqwest::Method::POST,
        "/api/expressway",
        Some(json!({"hostnameorip": "10.0.0.7", "x509subjectnameoraltname": "expc1.example.com,expc2.example.com"})),
    )
    .await;
    // The edge proxy relays the softphone's REGISTER: its own Via on top, the client's below,
    // and a Path header (RFC 3327).
    let relayed = format!(
        "Via: SIP/2.0/TLS 198.51.100.20:51778;branch=z9hG4bK-jabber;rport\r\nPath: <sip:expc1.example.com;lr>\r\n{auth}"
    );
    let mut ok = String::new();
    for _ in 0..50 {
        ok = bearer_register(&n, mra, Some(&listed), "CSFwwhite", &relayed)
            .await
            .unwrap_or_default();
        if ok.starts_with("SIP/2.0 200 ") {
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert!(
        ok.starts_with("SIP/2.0 200 OK\r\n"),
        "listed edge proxy: {ok}"
    );
    assert!(
        ok.contains("\r\nVia: SIP/2.0/TLS 198.51.100.20:51778;branch=z9hG4bK-jabber;rport\r\n"),
        "both Vias come back: {ok}"
    );
    assert!(
        ok.contains("\r\nPath: <sip:expc1.example.com;lr>\r\n"),
        "the Path comes back: {ok}"
    );

    // A trusted certificate whose names are not listed: the connection is closed, and the
    // trace names both lists.
    let refused = bearer_register(&n, mra, Some(&unlisted), "CSFwwhite", &auth).await;
    assert!(
        refused.as_deref().map(str::is_empty).unwrap_or(true),
        "{refused:?}"
    );
    let traces = n.traces();
    assert!(
        traces.contains("SIP MRA peer refused")
            && traces.contains("rogue.example.com")
            && traces.contains("expc2.example.com"),
        "{traces}"
    );
    // A certificate from a CA outside the trust store: unknown_ca.
    let err = bearer_register(&n, mra, Some(&untrusted), "CSFwwhite", &auth)
        .await
        .unwrap_err();
    assert!(err.to_lowercase().contains("unknownca"), "{err}");
    n.node.shutdown().await.unwrap();
}

/// Many requests in one TCP write (a proxy or a busy softphone pipelining): every one is
/// answered, the REGISTERs (the first of which waits on the store: the device cache is cold)
/// as well as the OPTIONS answered at once, each answer matched to its request by CSeq.
#[tokio::test(flavor = "multi_thread")]
async fn pipelined_requests_in_one_write_are_all_answered() {
    let n = boot().await;
    let mut socket = tokio::net::TcpStream::connect(n.sip("tcp")).await.unwrap();
    let local = socket.local_addr().unwrap();
    let dev = "SEP001794625DE5";
    let mut burst = String::new();
    for cseq in 1..=40u32 {
        let (method, extra) = if cseq % 10 == 1 {
            (
                "REGISTER",
                format!("Contact: <sip:1001@{local};transport=tcp>\r\nExpires: 3600\r\n"),
            )
        } else {
            ("OPTIONS", String::new())
        };
        burst.push_str(&format!(
            "{method} sip:127.0.0.1 SIP/2.0\r\nVia: SIP/2.0/TCP {local};branch=z9hG4bK-pipe-{cseq};rport\r\nMax-Forwards: 70\r\nFrom: <sip:{dev}@127.0.0.1>;tag=pipe\r\nTo: <sip:{dev}@127.0.0.1>\r\nCall-ID: pipe@test\r\nCSeq: {cseq} {method}\r\n{extra}Content-Length: 0\r\n\r\n"
        ));
    }
    socket.write_all(burst.as_bytes()).await.unwrap();
    let mut got = String::new();
    let mut buf = vec![0u8; 64 * 1024];
    while got.matches("SIP/2.0 ").count() < 40 {
        let read = tokio::time::timeout(Duration::from_secs(10), socket.read(&mut buf))
            .await
            .expect("all answers in time")
            .unwrap();
        assert!(read > 0, "closed after {got}");
        got.push_str(&String::from_utf8_lossy(&buf[..read]));
    }
    let mut answered: Vec<(u32, String)> = got
        .split("SIP/2.0 ")
        .skip(1)
        .map(|answer| {
            let code = answer.get(..3).unwrap_or("").to_string();
            let cseq = answer
                .lines()
                .find_map(|l| l.strip_prefix("CSeq: "))
                .and_then(|v| v.split(' ').next())
                .and_then(|v| v.parse().ok())
                .unwrap_or(0);
            // The Via comes back with the rport filled in (RFC 3581).
            assert!(
                answer.contains(&format!("rport={}", local.port())),
                "{answer}"
            );
            (cseq, code)
        })
        .collect();
    answered.sort();
    let expected: Vec<(u32, String)> = (1..=40u32)
        .map(|cseq| {
            let code = if cseq % 10 == 1 { "401" } else { "200" };
            (cseq, code.to_string())
        })
        .collect();
    assert_eq!(answered, expected);
}

// ---- calls (back-to-back user agent) --------------------------------------------------------

const CALLEE: &str = "SEP00AABBCCDDEE";
const CALLEE_PASSWORD: &str = "Callee-Digest-42";

/// The demo's deskphone (line 1001) and a second deskphone on line 1002 created through the
/// API, both registered over UDP by SIPp from their own ports: (caller port, callee port).
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
    let caller = "SEP001794625DE5";
    let caller_port = free_local_port();
    let callee_port = free_local_port();
    for (dev, password, port) in [
        (caller, n.demo_password(caller), caller_port),
        (CALLEE, CALLEE_PASSWORD.to_string(), callee_port),
    ] {
        let (ok, out) = tokio::task::block_in_place(|| {
            run_sipp(
                "reg_digest.xml",
                n.sip("udp"),
                "udp",
                &[auth(dev, &password)],
                port,
                3600,
            )
        });
        assert!(ok, "{dev} registration failed:\n{out}");
    }
    (caller_port, callee_port)
}

/// A SIPp call scenario over UDP from `port` with `-key` values; the scenario file may be
/// adjusted first (`@CODE@`). Messages are logged to `<dir>/messages.log`. Client mode when
/// `server` is given, else it waits for a call (UAS).
fn sipp_call(
    scenario_file: &str,
    server: Option<SocketAddr>,
    port: u16,
    keys: &[(&str, &str)],
    code: Option<u16>,
    dir: &Path,
) -> std::process::Child {
    let mut text = std::fs::read_to_string(scenario(scenario_file)).unwrap();
    if let Some(code) = code {
        text = text.replace("@CODE@", &code.to_string());
    }
    let file = dir.join(scenario_file);
    std::fs::write(&file, text).unwrap();
    let mut cmd = Command::new("timeout");
    cmd.arg("40").arg("sipp");
    if let Some(server) = server {
        cmd.arg(server.to_string());
    }
    cmd.arg("-sf").arg(&file).args([
        "-m",
        "1",
        "-t",
        "u1",
        "-i",
        "127.0.0.1",
        "-p",
        &port.to_string(),
        "-timeout",
        "30",
        "-timeout_error",
        "-nostdin",
        "-trace_msg",
        "-message_file",
        "messages.log",
        "-trace_err",
        "-error_file",
        "errors.log",
    ]);
    for (k, v) in keys {
        cmd.args(["-key", k, v]);
    }
    cmd.current_dir(dir)
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("SIPp is needed (Debian package sip-tester)")
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

/// The body of the first message in a SIPp message log whose first line starts with `start`.
fn logged_body(log: &str, start: &str) -> Option<String> {
    let at = log.find(&format!("\n{start}"))? + 1;
    let message = &log[at..];
    let end = message.find("\n----------").unwrap_or(message.len());
    let message = &message[..end];
    let sep = message
        .find("\r\n\r\n")
        .map(|i| i + 4)
        .or_else(|| message.find("\n\n").map(|i| i + 2))?;
    Some(message[sep..].trim_end().to_string())
}

/// Runs a callee scenario in the background and a caller scenario against the node: both
/// results with their logs.
fn call(
    n: &Node,
    uas: &str,
    uac: &str,
    (caller_port, callee_port): (u16, u16),
    dialed: &str,
    code: Option<u16>,
) -> (String, String) {
    let uas_dir = tempfile::tempdir().unwrap();
    let uac_dir = tempfile::tempdir().unwrap();
    let callee = sipp_call(uas, None, callee_port, &[], None, uas_dir.path());
    std::thread::sleep(Duration::from_millis(500));
    let caller = sipp_call(
        uac,
        Some(n.sip("udp")),
        caller_port,
        &[("dialed", dialed), ("me", "1001")],
        code,
        uac_dir.path(),
    );
    let (ok, uac) = finish(caller, uac_dir.path());
    let (uas_ok, uas) = finish(callee, uas_dir.path());
    assert!(ok, "caller:\n{uac}\ncallee:\n{uas}");
    assert!(uas_ok, "callee:\n{uas}\ncaller:\n{uac}");
    (uac, uas)
}

#[tokio::test(flavor = "multi_thread")]
async fn basic_call_between_registered_lines_passes_sdp_through_and_publishes_events() {
    use switchboard_callctl::{CallEvent, Cause, LegState, Side};
    let n = boot().await;
    let ports = call_lab(&n).await;
    let mut events = n.node.state.callctl.calls().subscribe();
    let (uac, uas) = tokio::task::block_in_place(|| {
        call(&n, "call_uas.xml", "call_uac.xml", ports, "1002", None)
    });
    // The callee received the caller's SDP byte for byte, and the caller the callee's.
    let sent = logged_body(&uac, "INVITE sip:").expect("the caller's INVITE");
    let received = logged_body(&uas, "INVITE sip:").expect("the callee's INVITE");
    assert!(sent.contains("o=caller 53655765 2353687637"), "{sent}");
    assert_eq!(sent, received);
    let answered = logged_body(&uas, "SIP/2.0 200 OK").expect("the callee's 200");
    let relayed = logged_body(&uac, "SIP/2.0 200 OK").expect("the caller's 200");
    assert!(answered.contains("o=callee 1 1"), "{answered}");
    assert_eq!(answered, relayed);
    // The callee's INVITE is the node's own: another Call-ID.
    assert!(uas.contains("Content-Type: application/sdp"));

    let mut seen = Vec::new();
    while let Ok(e) = events.try_recv() {
        seen.push(e);
    }
    let CallEvent::NewCall {
        call,
        caller,
        callee,
        ..
    } = &seen[0]
    else {
        panic!("{seen:?}")
    };
    assert_eq!((caller.as_str(), callee.as_str()), ("1001", "1002"));
    let changes: Vec<(Side, LegState, LegState, Option<Cause>)> = seen[1..]
        .iter()
        .filter_map(|e| match e {
            CallEvent::StateChanged {
                call: c,
                side,
                from,
                to,
                cause,
                ..
            } if c == call => Some((*side, *from, *to, *cause)),
            _ => None,
        })
        .collect();
    use LegState::*;
    assert_eq!(
        changes,
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
    assert_eq!(
        seen.last(),
        Some(&CallEvent::Ended {
            call: *call,
            cause: Cause::Normal
        })
    );
    assert!(n.node.state.callctl.calls().list().is_empty());
    let traces = n.traces();
    assert!(traces.contains("INVITE from SEP001794625DE5"), "{traces}");
    assert!(
        traces.contains(&format!("answered by {CALLEE}")),
        "{traces}"
    );
    n.node.shutdown().await.unwrap();
}

#[tokio::test(flavor = "multi_thread")]
async fn caller_cancels_while_ringing_and_gets_487() {
    let n = boot().await;
    let ports = call_lab(&n).await;
    let mut events = n.node.state.callctl.calls().subscribe();
    tokio::task::block_in_place(|| {
        call(
            &n,
            "call_uas_ring.xml",
            "call_uac_cancel.xml",
            ports,
            "1002",
            None,
        )
    });
    let mut last = None;
    while let Ok(e) = events.try_recv() {
        last = Some(e);
    }
    assert!(
        matches!(
            last,
            Some(switchboard_callctl::CallEvent::Ended {
                cause: switchboard_callctl::Cause::Cancelled,
                ..
            })
        ),
        "{last:?}"
    );
    n.node.shutdown().await.unwrap();
}

#[tokio::test(flavor = "multi_thread")]
async fn busy_callee_gives_the_caller_486() {
    let n = boot().await;
    let ports = call_lab(&n).await;
    let mut events = n.node.state.callctl.calls().subscribe();
    tokio::task::block_in_place(|| {
        call(
            &n,
            "call_uas_busy.xml",
            "call_uac_refused.xml",
            ports,
            "1002",
            Some(486),
        )
    });
    let mut last = None;
    while let Ok(e) = events.try_recv() {
        last = Some(e);
    }
    assert!(
        matches!(
            last,
            Some(switchboard_callctl::CallEvent::Ended {
                cause: switchboard_callctl::Cause::Busy,
                ..
            })
        ),
        "{last:?}"
    );
    n.node.shutdown().await.unwrap();
}

#[tokio::test(flavor = "multi_thread")]
async fn unknown_number_unregistered_caller_unavailable_line_and_unknown_dialog_are_refused() {
    let n = boot().await;
    let (caller_port, _) = call_lab(&n).await;
    n.api(
        reqwest::Method::POST,
        "/api/lines",
        Some(json!({"dn": "1003"})),
    )
    .await;
    let stranger = free_local_port();
    for (port, dialed, code, scenario_file) in [
        (caller_port, "9999", 404, "call_uac_refused.xml"),
        (stranger, "1002", 403, "call_uac_refused.xml"),
        (caller_port, "1003", 480, "call_uac_refused.xml"),
        (caller_port, "1002", 481, "bye_unknown.xml"),
    ] {
        tokio::task::block_in_place(|| dial(&n, scenario_file, port, dialed, code));
    }
    let traces = n.traces();
    assert!(traces.contains("INVITE to 9999 refused: 404"), "{traces}");
    assert!(traces.contains("INVITE to 1002 refused: 403"), "{traces}");
    assert!(traces.contains("INVITE to 1003 refused: 480"), "{traces}");
    assert!(n.node.state.callctl.calls().list().is_empty());
    n.node.shutdown().await.unwrap();
}

/// One caller scenario toward `dialed` from `caller_port` that must end in `code`.
fn dial(n: &Node, scenario_file: &str, caller_port: u16, dialed: &str, code: u16) {
    let dir = tempfile::tempdir().unwrap();
    let child = sipp_call(
        scenario_file,
        Some(n.sip("udp")),
        caller_port,
        &[("dialed", dialed), ("me", "1001")],
        Some(code),
        dir.path(),
    );
    let (ok, out) = finish(child, dir.path());
    assert!(ok, "{dialed} → {code}:\n{out}");
}

#[tokio::test(flavor = "multi_thread")]
async fn call_routing_follows_line_and_device_changes_without_a_restart() {
    let n = boot().await;
    let ports = call_lab(&n).await;
    // Routing caches the dial plan: each answer below depends on the change before it having
    // reached the cache.
    tokio::task::block_in_place(|| dial(&n, "call_uac_refused.xml", ports.0, "1003", 404));
    n.api(
        reqwest::Method::POST,
        "/api/lines",
        Some(json!({"dn": "1003"})),
    )
    .await;
    // The line exists now, with no device on it.
    tokio::task::block_in_place(|| dial(&n, "call_uac_refused.xml", ports.0, "1003", 480));
    n.api(
        reqwest::Method::PATCH,
        &format!("/api/devices/{CALLEE}"),
        Some(json!({"lines": [{"index": 1, "dn": "1002"}, {"index": 2, "dn": "1003"}]})),
    )
    .await;
    // The callee's phone has line 1003 now: the call reaches it (and it is busy).
    tokio::task::block_in_place(|| {
        call(
            &n,
            "call_uas_busy.xml",
            "call_uac_refused.xml",
            ports,
            "1003",
            Some(486),
        )
    });
    n.api(
        reqwest::Method::PATCH,
        &format!("/api/devices/{CALLEE}"),
        Some(json!({"lines": [{"index": 1, "dn": "1002"}]})),
    )
    .await;
    tokio::task::block_in_place(|| dial(&n, "call_uac_refused.xml", ports.0, "1003", 480));
    // A line created through another node of a cluster (straight in the shared store: this
    // node's change feed never hears of it) is routed within the cache's age limit.
    tokio::task::block_in_place(|| dial(&n, "call_uac_refused.xml", ports.0, "1005", 404));
    n.node
        .state
        .store
        .create_line(
            "another node",
            &switchboard_store::model::Line {
                dn: "1005".into(),
                description: String::new(),
                alerting_name: String::new(),
            },
        )
        .await
        .unwrap();
    tokio::time::sleep(switchboard_sip::dialplan::MAX_AGE).await;
    tokio::task::block_in_place(|| dial(&n, "call_uac_refused.xml", ports.0, "1005", 480));
    let traces = n.traces();
    assert!(traces.contains("INVITE to 1003 refused: 404"), "{traces}");
    assert!(traces.contains("INVITE to 1003 refused: 480"), "{traces}");
    assert!(traces.contains("INVITE to 1005 refused: 480"), "{traces}");
    n.node.shutdown().await.unwrap();
}

#[tokio::test(flavor = "multi_thread")]
async fn callee_hangs_up_and_the_bye_reaches_the_caller() {
    use switchboard_callctl::{CallEvent, Cause, LegState, Side};
    let n = boot().await;
    let ports = call_lab(&n).await;
    let mut events = n.node.state.callctl.calls().subscribe();
    tokio::task::block_in_place(|| {
        call(
            &n,
            "call_uas_hangup.xml",
            "call_uac_hangup.xml",
            ports,
            "1002",
            None,
        )
    });
    let mut seen = Vec::new();
    while let Ok(e) = events.try_recv() {
        seen.push(e);
    }
    let disconnects: Vec<Side> = seen
        .iter()
        .filter_map(|e| match e {
            CallEvent::StateChanged {
                side,
                to: LegState::Disconnected,
                ..
            } => Some(*side),
            _ => None,
        })
        .collect();
    assert_eq!(disconnects, vec![Side::Callee, Side::Caller], "{seen:?}");
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
async fn live_calls_are_listed_with_both_sides_while_connected() {
    let n = boot().await;
    let (caller_port, callee_port) = call_lab(&n).await;
    assert_eq!(
        n.api(reqwest::Method::GET, "/api/calls", None).await,
        json!([])
    );
    // The caller talks for 3 s instead of 300 ms, long enough to look at the call.
    let dir = tempfile::tempdir().unwrap();
    let talk = dir.path().join("call_uac_talk.xml");
    let text = std::fs::read_to_string(scenario("call_uac.xml")).unwrap();
    assert!(text.contains("<pause milliseconds=\"300\"/>"));
    std::fs::write(
        &talk,
        text.replace(
            "<pause milliseconds=\"300\"/>",
            "<pause milliseconds=\"3000\"/>",
        ),
    )
    .unwrap();
    let uas_dir = tempfile::tempdir().unwrap();
    let callee = sipp_call("call_uas.xml", None, callee_port, &[], None, uas_dir.path());
    tokio::time::sleep(Duration::from_millis(500)).await;
    let caller = sipp_call(
        talk.to_str().unwrap(),
        Some(n.sip("udp")),
        caller_port,
        &[("dialed", "1002"), ("me", "1001")],
        None,
        dir.path(),
    );
    let mut listed = Value::Null;
    for _ in 0..100 {
        let calls = n.api(reqwest::Method::GET, "/api/calls", None).await;
        if calls[0]["callee"]["state"] == "connected" {
            listed = calls;
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert_eq!(listed.as_array().map(Vec::len), Some(1), "{listed}");
    let call = &listed[0];
    assert_eq!(call["caller"]["number"], "1001");
    assert_eq!(call["caller"]["device"], "SEP001794625DE5");
    assert_eq!(call["caller"]["state"], "connected");
    assert_eq!(call["caller"]["side"], "caller");
    assert_eq!(call["callee"]["number"], "1002");
    assert_eq!(call["callee"]["device"], CALLEE);
    assert_eq!(call["callee"]["offered"], json!([CALLEE]));
    assert_eq!(call["callee"]["cause"], Value::Null);
    assert_ne!(call["caller"]["id"], call["callee"]["id"]);

    let (ok, out) = tokio::task::block_in_place(|| finish(caller, dir.path()));
    assert!(ok, "{out}");
    let (ok, out) = tokio::task::block_in_place(|| finish(callee, uas_dir.path()));
    assert!(ok, "{out}");
    assert_eq!(
        n.api(reqwest::Method::GET, "/api/calls", None).await,
        json!([])
    );
    n.node.shutdown().await.unwrap();
}
