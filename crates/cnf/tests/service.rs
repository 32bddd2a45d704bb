//! The config file service over real sockets, driven with raw HTTP/1.1 bytes (so that hostile
//! request targets reach the server exactly as written): what is served, what is refused, the
//! header-read timeout, shutdown. Every test runs on SQLite and on PostgreSQL.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use switchboard_cnf::tree::Element;
use switchboard_cnf::Limits;
use switchboard_store::model::*;
use switchboard_store::{Crypto, Store};
use switchboard_trace::{Service, TraceConfig, Tracer};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::sync::oneshot;

/// The tests need no real password hashing or sealing.
struct PlainCrypto;

impl Crypto for PlainCrypto {
    fn hash_password(&self, password: &str) -> String {
        format!("plain:{password}")
    }
    fn seal(&self, secret: &str) -> String {
        secret.to_string()
    }
    fn unseal(&self, sealed: &str) -> Option<String> {
        Some(sealed.to_string())
    }
}

const DESKPHONE: &str = "SEP001794625DE5";

struct Fixture {
    store: Store,
    tracer: Tracer,
    addr: SocketAddr,
    stop: Option<oneshot::Sender<()>>,
    task: tokio::task::JoinHandle<std::io::Result<()>>,
    dir: tempfile::TempDir,
}

async fn provision(store: &Store) {
    let actor = "test";
    store.ensure_param_defaults().await.unwrap();
    let node = Node {
        name: "ccm12pub".into(),
        address: "10.10.10.1".into(),
        description: "ccm12pub".into(),
        priority: 1,
        ports: NodePorts::default(),
    };
    store.put_node(actor, &node, false).await.unwrap();
    let profile = SecurityProfile {
        name: "Cisco 8841 - Standard SIP Digest Profile".into(),
        description: String::new(),
        product_type: "Cisco 8841".into(),
        device_security_mode: SecurityMode::NonSecure,
        transport: Transport::TcpUdp,
        tftp_encrypted_config: false,
        digest_auth: true,
        oauth_auth: false,
    };
    store.put_profile(actor, &profile, false).await.unwrap();
    let line = Line {
        dn: "1001".into(),
        description: "Walter White".into(),
        alerting_name: "Walter White".into(),
    };
    store.create_line(actor, &line).await.unwrap();
    let device = DeviceNew {
        name: DESKPHONE.into(),
        description: String::new(),
        product: "Cisco 8841".into(),
        device_class: DeviceClass::Deskphone,
        owner: None,
        security_profile: profile.name.clone(),
        digest_user: None,
        digest_password: Some("secret".into()),
        lines: vec![LineAppearance {
            index: 1,
            dn: "1001".into(),
        }],
        allow_cti_control: true,
    };
    store.create_device(actor, &device).await.unwrap();
}

async fn start(backend: &str, limits: Limits) -> Fixture {
    let dir = tempfile::tempdir().unwrap();
    let config = switchboard_store::testing::fresh_config(backend, dir.path()).await;
    let store = Store::open(&config, Arc::new(PlainCrypto)).await.unwrap();
    provision(&store).await;
    let tracer = Tracer::open(TraceConfig {
        dir: dir.path().join("traces"),
        max_file_bytes: switchboard_trace::DEFAULT_MAX_FILE_BYTES,
        max_files: switchboard_trace::DEFAULT_MAX_FILES,
    })
    .unwrap();
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    let (stop, stopped) = oneshot::channel::<()>();
    let task = tokio::spawn(switchboard_cnf::serve(
        listener,
        store.clone(),
        tracer.clone(),
        limits,
        async move {
            let _ = stopped.await;
        },
    ));
    Fixture {
        store,
        tracer,
        addr,
        stop: Some(stop),
        task,
        dir,
    }
}

/// A response as read off the socket.
#[derive(Debug)]
struct Answer {
    status: u16,
    headers: Vec<(String, String)>,
    body: Vec<u8>,
}

impl Answer {
    fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
    fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }
}

/// Sends `request` as is and reads the one response until the server closes.
async fn exchange(addr: SocketAddr, request: &[u8]) -> Answer {
    let mut stream = TcpStream::connect(addr).await.unwrap();
    stream.write_all(request).await.unwrap();
    let mut raw = Vec::new();
    tokio::time::timeout(Duration::from_secs(10), stream.read_to_end(&mut raw))
        .await
        .expect("the server answers and closes")
        .ok();
    let split = raw
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .unwrap_or_else(|| panic!("no response head in {:?}", String::from_utf8_lossy(&raw)));
    let head = String::from_utf8(raw[..split].to_vec()).unwrap();
    let mut lines = head.split("\r\n");
    let status = lines
        .next()
        .unwrap()
        .split(' ')
        .nth(1)
        .unwrap()
        .parse()
        .unwrap();
    let headers = lines
        .filter_map(|l| l.split_once(':'))
        .map(|(n, v)| (n.trim().to_string(), v.trim().to_string()))
        .collect();
    Answer {
        status,
        headers,
        body: raw[split + 4..].to_vec(),
    }
}

async fn get(addr: SocketAddr, target: &str) -> Answer {
    let request = format!("GET {target} HTTP/1.1\r\nHost: tftp\r\nConnection: close\r\n\r\n");
    exchange(addr, request.as_bytes()).await
}

impl Fixture {
    fn traces(&self) -> String {
        self.tracer.read_back(&[Service::Config])
    }

    async fn stop(mut self) {
        let _ = self.stop.take().unwrap().send(());
        tokio::time::timeout(Duration::from_secs(10), self.task)
            .await
            .expect("the service stops")
            .unwrap()
            .unwrap();
        self.store.close().await;
        drop(self.dir);
    }
}

macro_rules! both_backends {
    ($($name:ident),* $(,)?) => {
        mod sqlite { $( #[tokio::test(flavor = "multi_thread")] async fn $name() { super::$name("sqlite").await } )* }
        mod postgres { $( #[tokio::test(flavor = "multi_thread")] async fn $name() { super::$name("postgres").await } )* }
    };
}

both_backends!(
    a_provisioned_device_gets_its_file,
    hostile_requests_are_refused_and_serving_goes_on,
    a_stalled_request_is_closed_after_the_header_timeout,
    shutdown_stops_listening,
);

async fn a_provisioned_device_gets_its_file(backend: &str) {
    let f = start(backend, Limits::default()).await;
    let answer = get(f.addr, "/SEP001794625DE5.cnf.xml").await;
    assert_eq!(answer.status, 200, "{}", answer.text());
    assert_eq!(
        answer.header("content-type"),
        Some("text/xml; charset=utf-8")
    );
    assert_eq!(answer.header("cache-control"), Some("no-cache"));
    let length: usize = answer.header("content-length").unwrap().parse().unwrap();
    assert_eq!(length, answer.body.len());
    let device = Element::parse(&answer.text()).unwrap();
    assert_eq!(device.text_at("deviceSecurityMode"), Some("1"));
    assert_eq!(device.text_at("transportLayerProtocol"), Some("4"));
    assert_eq!(device.text_at("sipOAuthMode"), Some("0"));
    assert_eq!(
        device.text_at("devicePool/callManagerGroup/members/member/callManager/name"),
        Some("10.10.10.1")
    );
    let line = device.all("sipProfile/sipLines/line");
    assert_eq!(line.len(), 1);
    assert_eq!(line[0].text_at("name"), Some("1001"));
    assert_eq!(line[0].text_at("sharedLine"), Some("false"));
    assert!(!answer.text().contains("secret"), "no digest password");

    // HEAD: the same headers, no body.
    let head = exchange(
        f.addr,
        b"HEAD /SEP001794625DE5.cnf.xml HTTP/1.1\r\nHost: tftp\r\nConnection: close\r\n\r\n",
    )
    .await;
    assert_eq!(head.status, 200);
    assert_eq!(
        head.header("content-length"),
        Some(length.to_string().as_str())
    );
    assert!(head.body.is_empty());

    // Two requests on one keep-alive connection.
    let twice = exchange(
        f.addr,
        b"GET /SEP001794625DE5.cnf.xml HTTP/1.1\r\nHost: tftp\r\n\r\n\
          GET /SEP001794625DE5.cnf.xml HTTP/1.1\r\nHost: tftp\r\nConnection: close\r\n\r\n",
    )
    .await;
    assert_eq!(twice.status, 200);
    assert_eq!(
        twice.text().matches("HTTP/1.1 200 OK").count(),
        1,
        "the second response follows the first body"
    );

    let traces = f.traces();
    assert!(
        traces.contains("Config file SEP001794625DE5.cnf.xml sent to 127.0.0.1:"),
        "{traces}"
    );
    assert!(traces.contains(&format!("({length} bytes)")), "{traces}");
    f.stop().await;
}

async fn hostile_requests_are_refused_and_serving_goes_on(backend: &str) {
    let f = start(backend, Limits::default()).await;
    let long_name = format!("/{}.cnf.xml", "A".repeat(10_000));
    let cases: Vec<(String, u16)> = vec![
        ("/../../etc/passwd".into(), 400),
        ("/%2e%2e%2fetc%2fpasswd".into(), 400),
        ("/SEP001794625DE5.cnf.xml%00".into(), 400),
        ("/a\\b.cnf.xml".into(), 400),
        ("/etc/passwd".into(), 400),
        ("//etc/passwd".into(), 400),
        ("/..%2F..%2Fetc%2Fpasswd".into(), 400),
        ("/%53EP001794625DE5.cnf.xml".into(), 400),
        ("/SEP001794625DE5.cnf.xml?file=../../etc/passwd".into(), 400),
        ("http://tftp/../../etc/passwd".into(), 400),
        (long_name, 400),
        ("/SEP001794625DE5.CNF.XML".into(), 404),
        ("/SEP001794625DE5.cnf".into(), 404),
        ("/SEPFFFFFFFFFFFF.cnf.xml".into(), 404),
        ("/XMLDefault.cnf.xml".into(), 404),
        ("/".into(), 404),
    ];
    for (target, status) in &cases {
        let answer = get(f.addr, target).await;
        let shown: String = target.chars().take(60).collect();
        assert_eq!(answer.status, *status, "{shown}: {}", answer.text());
        assert!(!answer.text().contains("root:"), "{shown}");
        if answer.status == 400 || answer.status == 404 {
            assert!(
                answer
                    .header("content-type")
                    .unwrap_or("")
                    .starts_with("text/plain"),
                "{shown}"
            );
        }
    }

    // Raw bytes no client library would send.
    let nul = exchange(
        f.addr,
        b"GET /SEP001794625DE5.cnf.xml\0 HTTP/1.1\r\nHost: tftp\r\n\r\n",
    )
    .await;
    assert_eq!(nul.status, 400);
    let huge_header = format!(
        "GET /SEP001794625DE5.cnf.xml HTTP/1.1\r\nHost: tftp\r\nX-Filler: {}\r\n\r\n",
        "x".repeat(20_000)
    );
    let huge = exchange(f.addr, huge_header.as_bytes()).await;
    assert_eq!(huge.status, 431);
    for method in ["POST", "PUT", "DELETE", "OPTIONS"] {
        let request = format!(
            "{method} /SEP001794625DE5.cnf.xml HTTP/1.1\r\nHost: tftp\r\nContent-Length: 2\r\n\r\nhi"
        );
        let answer = exchange(f.addr, request.as_bytes()).await;
        assert_eq!(answer.status, 405, "{method}");
        assert_eq!(answer.header("allow"), Some("GET, HEAD"), "{method}");
    }
    let with_body = exchange(
        f.addr,
        b"GET /SEP001794625DE5.cnf.xml HTTP/1.1\r\nHost: tftp\r\nContent-Length: 100000\r\n\r\nabc",
    )
    .await;
    assert_eq!(with_body.status, 400, "{}", with_body.text());
    let chunked = exchange(
        f.addr,
        b"GET /SEP001794625DE5.cnf.xml HTTP/1.1\r\nHost: tftp\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n",
    )
    .await;
    assert_eq!(chunked.status, 400, "{}", chunked.text());

    // Still serving.
    let after = get(f.addr, "/SEP001794625DE5.cnf.xml").await;
    assert_eq!(after.status, 200);
    let traces = f.traces();
    assert!(
        traces.contains(
            "refused: 400 for /../../etc/passwd (bad request path: characters other than"
        ),
        "{traces}"
    );
    assert!(
        traces.contains("refused: 404 for /SEPFFFFFFFFFFFF.cnf.xml (device not provisioned)"),
        "{traces}"
    );
    assert!(
        !traces.contains(&"A".repeat(100)),
        "long paths are cut in traces"
    );
    f.stop().await;
}

async fn a_stalled_request_is_closed_after_the_header_timeout(backend: &str) {
    let timeout = Duration::from_millis(400);
    let f = start(
        backend,
        Limits {
            header_read_timeout: timeout,
            ..Limits::default()
        },
    )
    .await;
    // A request line, then nothing.
    let mut stalled = TcpStream::connect(f.addr).await.unwrap();
    stalled
        .write_all(b"GET /SEP001794625DE5.cnf.xml HTTP/1.1\r\n")
        .await
        .unwrap();
    let began = Instant::now();
    // Meanwhile others are served.
    assert_eq!(get(f.addr, "/SEP001794625DE5.cnf.xml").await.status, 200);
    let mut rest = Vec::new();
    let read = tokio::time::timeout(Duration::from_secs(5), stalled.read_to_end(&mut rest)).await;
    let waited = began.elapsed();
    assert!(read.is_ok(), "the stalled connection was not closed");
    assert!(
        waited >= timeout - Duration::from_millis(50),
        "closed after {waited:?}"
    );
    assert!(waited < Duration::from_secs(3), "closed after {waited:?}");
    assert!(
        rest.is_empty() || rest.starts_with(b"HTTP/1.1 408"),
        "{:?}",
        String::from_utf8_lossy(&rest)
    );

    // An idle keep-alive connection is closed by the same timer.
    let mut idle = TcpStream::connect(f.addr).await.unwrap();
    idle.write_all(b"GET /SEP001794625DE5.cnf.xml HTTP/1.1\r\nHost: tftp\r\n\r\n")
        .await
        .unwrap();
    let began = Instant::now();
    let mut all = Vec::new();
    let read = tokio::time::timeout(Duration::from_secs(5), idle.read_to_end(&mut all)).await;
    assert!(read.is_ok(), "the idle connection was not closed");
    assert!(began.elapsed() >= timeout - Duration::from_millis(50));
    assert!(all.starts_with(b"HTTP/1.1 200 OK"));
    f.stop().await;
}

async fn shutdown_stops_listening(backend: &str) {
    let f = start(backend, Limits::default()).await;
    let addr = f.addr;
    assert_eq!(get(addr, "/SEP001794625DE5.cnf.xml").await.status, 200);
    f.stop().await;
    assert!(TcpStream::connect(addr).await.is_err(), "still listening");
}
