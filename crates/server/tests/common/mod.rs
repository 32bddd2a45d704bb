//! What the end-to-end test files share: a demo node booted in-process on ephemeral loopback
//! ports, its admin API, and loopback ports that are free for both UDP and TCP.

#![allow(dead_code)]

use std::net::SocketAddr;
use std::sync::Arc;

use serde_json::Value;
use switchboard_server::{NodeConfig, RunningNode, StartOptions};

pub struct Node {
    pub node: RunningNode,
    pub client: reqwest::Client,
    pub token: String,
    pub dir: tempfile::TempDir,
}

/// Boots a demo node (user wwhite, deskphone SEP001794625DE5 on line 1001) on ephemeral
/// loopback ports.
pub async fn boot() -> Node {
    let dir = tempfile::tempdir().unwrap();
    let mut config = NodeConfig {
        data_dir: dir.path().to_path_buf(),
        node_name: Some("ucm1".into()),
        ..Default::default()
    };
    config.listen.ephemeral("127.0.0.1".parse().unwrap());
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
    /// The node's SIP socket for `udp` or `tcp`.
    pub fn sip(&self, transport: &str) -> SocketAddr {
        let l = self.node.state.listeners.read().unwrap();
        l.iter()
            .find(|x| x.service == "sip" && x.transport == transport)
            .unwrap()
            .address
            .parse()
            .unwrap()
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
        assert!(resp.status().is_success(), "{path}: {}", resp.status());
        let text = resp.text().await.unwrap();
        if text.is_empty() {
            Value::Null
        } else {
            serde_json::from_str(&text).unwrap()
        }
    }
}

/// `count` consecutive loopback ports, each free for UDP and TCP, from `range_start` up (each
/// test binary takes its own range so that binaries never race for a port).
pub fn free_ports(range_start: u16, count: u16) -> u16 {
    use std::sync::atomic::{AtomicU16, Ordering};
    static NEXT: AtomicU16 = AtomicU16::new(0);
    let span = 4_000u16;
    let base = range_start + (std::process::id() % 200) as u16 * 10;
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
