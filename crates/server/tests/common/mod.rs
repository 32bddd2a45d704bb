//! What the end-to-end test files share: a demo node booted in-process on ephemeral loopback
//! ports, its admin API and traces, the SIPp scenarios' directory, and loopback ports that are
//! free for both UDP and TCP.

#![allow(dead_code)]

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use serde_json::Value;
use switchboard_server::{NodeConfig, RunningNode, StartOptions};
use switchboard_trace::Service;

pub struct Node {
    pub node: RunningNode,
    pub client: reqwest::Client,
    pub token: String,
    pub dir: tempfile::TempDir,
}

/// Boots a demo node (user wwhite, deskphone SEP001794625DE5 on line 1001) on ephemeral
/// loopback ports.
pub async fn boot() -> Node {
    boot_with(|_| {}).await
}

/// [`boot`], after `adjust` has changed the node's config.
pub async fn boot_with(adjust: impl FnOnce(&mut NodeConfig)) -> Node {
    let dir = tempfile::tempdir().unwrap();
    let mut config = NodeConfig {
        data_dir: dir.path().to_path_buf(),
        node_name: Some("ucm1".into()),
        ..Default::default()
    };
    config.listen.ephemeral("127.0.0.1".parse().unwrap());
    adjust(&mut config);
    let node = switchboard_server::start(
        config,
        StartOptions {
            demo: true,
            utc_offset: None,
        },
    )
    .await
    .unwrap();
    let cert = std::fs::read_to_string(dir.path().join("certs/tomcat.pem")).unwrap();
    let tls = switchboard_pki::client_config_trusting(&[cert]).unwrap();
    let client = reqwest::Client::builder()
        .use_preconfigured_tls(Arc::unwrap_or_clone(tls))
        .build()
        .unwrap();
    let token = std::fs::read_to_string(dir.path().join("admin.token"))
        .unwrap()
        .trim()
        .to_string();
    Node {
        node,
        client,
        token,
        dir,
    }
}

impl Node {
    /// The node's socket of `service` (`sip`, `cti` …) over `transport` (`udp`, `tcp`).
    pub fn listener(&self, service: &str, transport: &str) -> SocketAddr {
        let l = self.node.state.listeners.read().unwrap();
        l.iter()
            .find(|x| x.service == service && x.transport == transport)
            .unwrap_or_else(|| panic!("no {service} listener over {transport}"))
            .address
            .parse()
            .unwrap()
    }

    /// The node's SIP socket for `udp`, `tcp` or `tls` (the `sip-secure` port).
    pub fn sip(&self, transport: &str) -> SocketAddr {
        match transport {
            "udp" => self.listener("sip", "udp"),
            "tls" => self.listener("sip-secure", "tcp"),
            _ => self.listener("sip", "tcp"),
        }
    }

    /// The CTI Manager's plain TCP socket.
    pub fn cti(&self) -> SocketAddr {
        self.listener("cti", "tcp")
    }

    /// A demo device's or user's generated password.
    pub fn demo_password(&self, id: &str) -> String {
        let creds = std::fs::read_to_string(self.dir.path().join("demo-credentials.txt")).unwrap();
        creds
            .lines()
            .find_map(|l| l.strip_prefix(&format!("{id} ")))
            .unwrap()
            .to_string()
    }

    /// One admin API call that must succeed; its JSON answer (Null when empty).
    pub async fn api(&self, method: reqwest::Method, path: &str, body: Option<Value>) -> Value {
        let mut req = self
            .client
            .request(method, format!("{}{path}", self.node.api_url()))
            .bearer_auth(&self.token);
        if let Some(b) = body {
            req = req.json(&b);
        }
        let resp = req.send().await.unwrap();
        let status = resp.status();
        let text = resp.text().await.unwrap();
        assert!(status.is_success(), "{path}: {status} {text}");
        if text.is_empty() {
            Value::Null
        } else {
            serde_json::from_str(&text).unwrap()
        }
    }
}

impl Node {
    /// What the node traced for `service` so far.
    pub fn traces_of(&self, service: Service) -> String {
        self.node.state.tracer.flush();
        self.node.state.tracer.read_back(&[service])
    }
}

/// A SIPp scenario of `tests/sipp/`.
pub fn scenario(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../tests/sipp")
        .join(name)
}

/// A loopback port for SIPp, free for both UDP and TCP, below the ephemeral range.
pub fn free_local_port() -> u16 {
    free_ports(20_000, 1)
}

/// `count` consecutive loopback ports, each free for UDP and TCP, from `range_start` up (each
/// test binary takes its own range so that binaries never race for a port).
pub fn free_ports(range_start: u16, count: u16) -> u16 {
    use std::sync::atomic::{AtomicU16, Ordering};
    static NEXT: AtomicU16 = AtomicU16::new(0);
    let span = 12_000u16;
    let base = range_start + (std::process::id() % 500) as u16 * 20;
    loop {
        let first = range_start
            + (base - range_start + NEXT.fetch_add(count, Ordering::Relaxed)) % (span - count);
        let all_free = (first..first + count).all(|port| {
            std::net::UdpSocket::bind(("127.0.0.1", port)).is_ok()
                && std::net::TcpListener::bind(("127.0.0.1", port)).is_ok()
        });
        if all_free {
            return first;
        }
    }
}
