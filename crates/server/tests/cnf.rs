//! The config file service of a whole node: booted in-process on ephemeral ports with the demo
//! lab, a second node added through the API with its own ports and a higher priority, files
//! fetched over real HTTP and read back. Every test runs on SQLite and on PostgreSQL.

use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use reqwest::StatusCode;
use serde_json::{json, Value};
use switchboard_cnf::tree::Element;
use switchboard_server::{Backend, NodeConfig, RunningNode, StartOptions};

struct TestNode {
    node: RunningNode,
    api: reqwest::Client,
    http: reqwest::Client,
    token: String,
    _dir: tempfile::TempDir,
}

fn client_trusting(cert_pem: &str) -> reqwest::Client {
    let tls = switchboard_pki::client_config_trusting(&[cert_pem.to_string()]).unwrap();
    reqwest::Client::builder()
        .use_preconfigured_tls(Arc::unwrap_or_clone(tls))
        .build()
        .unwrap()
}

async fn boot_in(dir: &Path, backend: &str) -> RunningNode {
    let mut config = NodeConfig {
        data_dir: dir.to_path_buf(),
        node_name: Some("ucm1".into()),
        ..Default::default()
    };
    config.listen.ephemeral("127.0.0.1".parse().unwrap());
    if backend == "postgres" {
        config.store.backend = Backend::Postgres;
        config.store.url = Some(switchboard_store::testing::fresh_postgres().await);
    }
    let options = StartOptions {
        demo: true,
        utc_offset: None,
    };
    switchboard_server::start(config, options).await.unwrap()
}

async fn boot(backend: &str) -> TestNode {
    let dir = tempfile::tempdir().unwrap();
    let node = boot_in(dir.path(), backend).await;
    let cert = std::fs::read_to_string(dir.path().join("certs/tomcat.pem")).unwrap();
    let token = std::fs::read_to_string(dir.path().join("admin.token"))
        .unwrap()
        .trim()
        .to_string();
    TestNode {
        node,
        api: client_trusting(&cert),
        http: reqwest::Client::new(),
        token,
        _dir: dir,
    }
}

impl TestNode {
    async fn api(&self, method: reqwest::Method, path: &str, body: Value) -> Value {
        let answer = self
            .api
            .request(method.clone(), format!("{}{path}", self.node.api_url()))
            .bearer_auth(&self.token)
            .json(&body)
            .send()
            .await
            .unwrap();
        let status = answer.status();
        let body: Value = answer.json().await.unwrap();
        assert!(status.is_success(), "{method} {path}: {status} {body}");
        body
    }

    /// GET `/<file>` from the node's config file service.
    async fn fetch(&self, file: &str) -> reqwest::Response {
        self.http
            .get(format!("{}/{file}", self.node.config_http_url()))
            .send()
            .await
            .unwrap()
    }

    async fn config_file(&self, device: &str) -> Element {
        let answer = self.fetch(&format!("{device}.cnf.xml")).await;
        assert_eq!(answer.status(), StatusCode::OK);
        assert_eq!(
            answer.headers()["content-type"],
            switchboard_cnf::CONTENT_TYPE
        );
        assert_eq!(answer.headers()["cache-control"], "no-cache");
        Element::parse(&answer.text().await.unwrap()).unwrap()
    }

    fn config_traces(&self) -> String {
        let tracer = &self.node.state.tracer;
        tracer.flush();
        tracer
            .files(switchboard_trace::Service::Config)
            .iter()
            .map(|f| std::fs::read_to_string(f).unwrap())
            .collect()
    }
}

/// (priority attribute, name, description, sipPort, securedSipPort, sipOAuthPort,
/// sipMRAOAuthPort) of every call manager in the file, in document order.
fn call_managers(device: &Element) -> Vec<[String; 7]> {
    device
        .all("devicePool/callManagerGroup/members/member")
        .into_iter()
        .map(|member| {
            let cm = member.child("callManager").unwrap();
            let text = |p: &str| cm.text_at(p).unwrap().to_string();
            [
                member.attr("priority").unwrap().to_string(),
                text("name"),
                text("description"),
                text("ports/sipPort"),
                text("ports/securedSipPort"),
                text("ports/sipOAuthPort"),
                text("ports/sipMRAOAuthPort"),
            ]
        })
        .collect()
}

fn row(values: [&str; 7]) -> [String; 7] {
    values.map(str::to_string)
}

macro_rules! both_backends {
    ($($name:ident),* $(,)?) => {
        mod sqlite { $( #[tokio::test(flavor = "multi_thread")] async fn $name() { super::$name("sqlite").await } )* }
        mod postgres { $( #[tokio::test(flavor = "multi_thread")] async fn $name() { super::$name("postgres").await } )* }
    };
}

both_backends!(
    jabber_gets_every_node_and_the_live_oauth_mode,
    a_digest_deskphone_gets_its_security_and_lines,
    unknown_devices_and_hostile_paths_are_refused,
);

async fn jabber_gets_every_node_and_the_live_oauth_mode(backend: &str) {
    use reqwest::Method;
    let t = boot(backend).await;
    // A second node with its own ports, ahead of this one in the call-manager group.
    t.api(
        Method::POST,
        "/api/nodes",
        json!({
            "name": "ucm2",
            "address": "10.10.10.2",
            "description": "ucm2 (Subscriber)",
            "priority": 1,
            "ports": {
                "ethernet_phone": 2000, "mgcp_listen": 2427, "mgcp_keepalive": 2428,
                "sip": 5070, "sip_secure": 5071, "sip_oauth": 5092, "sip_mra_oauth": 5093,
                "cti": 2748, "cti_tls": 2749, "config_http": 6970, "https": 8443
            }
        }),
    )
    .await;
    t.api(
        Method::PATCH,
        "/api/nodes/ucm1",
        json!({"priority": 2, "description": "ccm12pub"}),
    )
    .await;
    t.api(Method::PUT, "/api/sip-oauth-mode", json!({"enabled": true}))
        .await;

    let device = t.config_file("CSFwwhite").await;
    assert_eq!(
        call_managers(&device),
        vec![
            row([
                "0",
                "10.10.10.2",
                "ucm2 (Subscriber)",
                "5070",
                "5071",
                "5092",
                "5093"
            ]),
            row(["1", "127.0.0.1", "ccm12pub", "5060", "5061", "5090", "5091"]),
        ]
    );
    assert_eq!(device.text_at("sipOAuthMode"), Some("1"));
    assert_eq!(device.text_at("deviceSecurityMode"), Some("3"), "encrypted");
    assert_eq!(device.text_at("transportLayerProtocol"), Some("3"), "TLS");
    assert_eq!(device.text_at("encrConfig"), Some("false"));
    assert_eq!(device.text_at("userId"), Some("wwhite"));
    assert_eq!(device.text_at("ownerId"), Some("wwhite"));
    let lines = device.all("sipProfile/sipLines/line");
    assert_eq!(lines.len(), 1);
    assert_eq!(lines[0].text_at("name"), Some("1001"));
    assert_eq!(
        lines[0].text_at("port"),
        Some("5070"),
        "the first node's SIP port"
    );
    assert_eq!(
        lines[0].text_at("sharedLine"),
        Some("true"),
        "1001 is on the deskphone too"
    );
    let stamp = device.text_at("versionStamp").unwrap().to_string();

    // Off through the API: the next file says so, without a restart.
    t.api(
        Method::PUT,
        "/api/sip-oauth-mode",
        json!({"enabled": false}),
    )
    .await;
    let device = t.config_file("CSFwwhite").await;
    assert_eq!(device.text_at("sipOAuthMode"), Some("0"));
    assert_ne!(device.text_at("versionStamp"), Some(stamp.as_str()));
    // And on again, through the parameter itself.
    t.api(
        Method::PUT,
        "/api/params/ClusterSIPOAuthMode",
        json!({"value": "1"}),
    )
    .await;
    assert_eq!(
        t.config_file("CSFwwhite").await.text_at("sipOAuthMode"),
        Some("1")
    );
    // A port change on a node is in the next file too.
    t.api(
        Method::PATCH,
        "/api/nodes/ucm2",
        json!({"ports": {"sip_oauth": 5094}}),
    )
    .await;
    let device = t.config_file("CSFwwhite").await;
    assert_eq!(call_managers(&device)[0][5], "5094");

    let traces = t.config_traces();
    assert!(
        traces.contains("Config file CSFwwhite.cnf.xml sent to 127.0.0.1:"),
        "{traces}"
    );
    t.node.shutdown().await.unwrap();
}

async fn a_digest_deskphone_gets_its_security_and_lines(backend: &str) {
    use reqwest::Method;
    let t = boot(backend).await;
    let device = t.config_file("SEP001794625DE5").await;
    assert_eq!(
        device.text_at("deviceSecurityMode"),
        Some("1"),
        "non-secure"
    );
    assert_eq!(
        device.text_at("transportLayerProtocol"),
        Some("4"),
        "TCP+UDP"
    );
    assert_eq!(device.text_at("sipOAuthMode"), Some("0"), "off by default");
    assert_eq!(
        call_managers(&device),
        vec![row([
            "0",
            "127.0.0.1",
            "registered by the node at first start",
            "5060",
            "5061",
            "5090",
            "5091"
        ])]
    );
    let lines = device.all("sipProfile/sipLines/line");
    assert_eq!(lines.len(), 1);
    assert_eq!(lines[0].attr("button"), Some("1"));
    assert_eq!(lines[0].text_at("displayName"), Some("Walter White"));

    // A second line on button 2, and an authenticated TLS profile.
    t.api(
        Method::POST,
        "/api/lines",
        json!({"dn": "1002", "description": "Lab & test", "alerting_name": "Lab"}),
    )
    .await;
    t.api(
        Method::POST,
        "/api/profiles",
        json!({
            "name": "Cisco 8841 - Authenticated", "product_type": "Cisco 8841",
            "device_security_mode": "authenticated", "transport": "tls",
            "tftp_encrypted_config": true, "digest_auth": false, "oauth_auth": false
        }),
    )
    .await;
    t.api(
        Method::PATCH,
        "/api/devices/SEP001794625DE5",
        json!({
            "security_profile": "Cisco 8841 - Authenticated",
            "lines": [{"index": 1, "dn": "1001"}, {"index": 2, "dn": "1002"}]
        }),
    )
    .await;
    let device = t.config_file("SEP001794625DE5").await;
    assert_eq!(
        device.text_at("deviceSecurityMode"),
        Some("2"),
        "authenticated"
    );
    assert_eq!(device.text_at("transportLayerProtocol"), Some("3"), "TLS");
    assert_eq!(device.text_at("encrConfig"), Some("true"));
    let lines = device.all("sipProfile/sipLines/line");
    let got: Vec<(Option<&str>, Option<&str>, Option<&str>)> = lines
        .iter()
        .map(|l| {
            (
                l.attr("button"),
                l.text_at("name"),
                l.text_at("featureLabel"),
            )
        })
        .collect();
    assert_eq!(
        got,
        vec![
            (Some("1"), Some("1001"), Some("Walter White")),
            (Some("2"), Some("1002"), Some("Lab & test")),
        ]
    );
    t.node.shutdown().await.unwrap();
}

async fn unknown_devices_and_hostile_paths_are_refused(backend: &str) {
    let t = boot(backend).await;
    assert_eq!(
        t.fetch("SEPFFFFFFFFFFFF.cnf.xml").await.status(),
        StatusCode::NOT_FOUND
    );
    assert_eq!(
        t.fetch("SEP001794625DE5.CNF.XML").await.status(),
        StatusCode::NOT_FOUND
    );
    assert_eq!(
        t.fetch("%2e%2e%2fetc%2fpasswd").await.status(),
        StatusCode::BAD_REQUEST
    );
    let post = t
        .http
        .post(format!(
            "{}/SEP001794625DE5.cnf.xml",
            t.node.config_http_url()
        ))
        .body("x")
        .send()
        .await
        .unwrap();
    assert_eq!(post.status(), StatusCode::METHOD_NOT_ALLOWED);
    // Still serving, and listed among the node's sockets.
    t.config_file("SEP001794625DE5").await;
    let ports = t.api(reqwest::Method::GET, "/api/ports", Value::Null).await;
    let listed = ports["listeners"].as_array().unwrap().iter().any(|l| {
        l["service"] == "config-http"
            && l["transport"] == "tcp"
            && l["address"] == t.node.config_http_addr().to_string()
    });
    assert!(listed, "{ports}");
    t.node.shutdown().await.unwrap();
}

/// A free TCP port in the range a node's ports may take (1024–49151).
fn free_port() -> u16 {
    loop {
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        if port <= 49151 {
            return port;
        }
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn the_listener_follows_the_nodes_configured_port() {
    let dir = tempfile::tempdir().unwrap();
    let (first, second, https) = (free_port(), free_port(), free_port());
    let store = switchboard_store::Store::open(
        &switchboard_store::StoreConfig::Sqlite {
            path: dir.path().join("switchboard.db"),
        },
        Arc::new(switchboard_server::NodeCrypto(
            switchboard_auth::secretbox::SecretKey::from_bytes([1; 32]),
        )),
    )
    .await
    .unwrap();
    let node = switchboard_store::model::Node {
        name: "ucm1".into(),
        address: "127.0.0.1".into(),
        description: String::new(),
        priority: 1,
        ports: switchboard_store::model::NodePorts {
            config_http: first as u32,
            https: https as u32,
            ..Default::default()
        },
    };
    store.put_node("test", &node, false).await.unwrap();
    store.close().await;

    let mut config = NodeConfig {
        data_dir: dir.path().to_path_buf(),
        node_name: Some("ucm1".into()),
        ..Default::default()
    };
    config.listen.address = "127.0.0.1".parse().unwrap();
    // Only the config file service follows the database here.
    config.listen.ephemeral("127.0.0.1".parse().unwrap());
    config.listen.config_http = None;
    let running = switchboard_server::start(config, StartOptions::default())
        .await
        .unwrap();
    assert_eq!(running.config_http_addr().port(), first);
    let cert = std::fs::read_to_string(dir.path().join("certs/tomcat.pem")).unwrap();
    let token = std::fs::read_to_string(dir.path().join("admin.token")).unwrap();
    let changed = client_trusting(&cert)
        .patch(format!("{}/api/nodes/ucm1", running.api_url()))
        .bearer_auth(token.trim())
        .json(&json!({"ports": {"config_http": second}}))
        .send()
        .await
        .unwrap();
    assert_eq!(changed.status(), StatusCode::OK);

    let probe = |port: u16| async move {
        reqwest::get(format!("http://127.0.0.1:{port}/SEPFFFFFFFFFFFF.cnf.xml"))
            .await
            .map(|r| r.status())
    };
    let mut moved = false;
    for _ in 0..100 {
        if probe(second).await.ok() == Some(StatusCode::NOT_FOUND) {
            moved = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert!(
        moved,
        "the config file service did not move to port {second}"
    );
    assert_eq!(running.config_http_addr().port(), second);
    let mut closed = false;
    for _ in 0..300 {
        if probe(first).await.is_err() {
            closed = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert!(closed, "the old port {first} still answers");
    running.shutdown().await.unwrap();
}
