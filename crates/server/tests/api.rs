//! Black-box tests of a whole node, booted in-process on an ephemeral HTTPS port with a fresh
//! database, driven over real TLS with a real HTTP client; every test runs on SQLite and on
//! PostgreSQL.

use std::path::Path;
use std::sync::Arc;

use reqwest::StatusCode;
use serde_json::{json, Value};
use switchboard_server::{Backend, NodeConfig, RunningNode, StartOptions};

struct TestNode {
    node: RunningNode,
    client: reqwest::Client,
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

/// Every service of the node on an ephemeral loopback port.
fn ephemeral(config: &mut NodeConfig) {
    config.listen.ephemeral("127.0.0.1".parse().unwrap());
}

async fn boot_in(dir: &Path, backend: &str, pg_url: Option<String>, demo: bool) -> RunningNode {
    let mut config = NodeConfig {
        data_dir: dir.to_path_buf(),
        node_name: Some("ucm1".into()),
        ..Default::default()
    };
    ephemeral(&mut config);
    if backend == "postgres" {
        config.store.backend = Backend::Postgres;
        config.store.url = pg_url;
    }
    switchboard_server::start(
        config,
        StartOptions {
            demo,
            utc_offset: None,
        },
    )
    .await
    .unwrap()
}

async fn boot(backend: &str) -> TestNode {
    let dir = tempfile::tempdir().unwrap();
    let pg_url = if backend == "postgres" {
        Some(switchboard_store::testing::fresh_postgres().await)
    } else {
        None
    };
    let node = boot_in(dir.path(), backend, pg_url, true).await;
    let cert = std::fs::read_to_string(dir.path().join("certs/tomcat.pem")).unwrap();
    let token = std::fs::read_to_string(dir.path().join("admin.token"))
        .unwrap()
        .trim()
        .to_string();
    TestNode {
        node,
        client: client_trusting(&cert),
        token,
        _dir: dir,
    }
}

impl TestNode {
    fn url(&self, path: &str) -> String {
        format!("{}{path}", self.node.api_url())
    }
    async fn call(
        &self,
        method: reqwest::Method,
        path: &str,
        body: Option<Value>,
    ) -> (StatusCode, Value) {
        let mut req = self
            .client
            .request(method, self.url(path))
            .bearer_auth(&self.token);
        if let Some(body) = body {
            req = req.json(&body);
        }
        let resp = req.send().await.unwrap();
        let status = resp.status();
        let text = resp.text().await.unwrap();
        (
            status,
            if text.is_empty() {
                Value::Null
            } else {
                serde_json::from_str(&text).unwrap()
            },
        )
    }
    async fn get(&self, path: &str) -> Value {
        let (status, body) = self.call(reqwest::Method::GET, path, None).await;
        assert_eq!(status, StatusCode::OK, "GET {path}: {body}");
        body
    }
    fn trace_text(&self) -> String {
        self.node
            .state
            .tracer
            .read_back(&switchboard_trace::Service::ALL)
    }
}

macro_rules! both_backends {
    ($($name:ident),* $(,)?) => {
        mod sqlite { $( #[tokio::test(flavor = "multi_thread")] async fn $name() { super::$name("sqlite").await } )* }
        mod postgres { $( #[tokio::test(flavor = "multi_thread")] async fn $name() { super::$name("postgres").await } )* }
    };
}

both_backends!(
    authentication_is_required,
    demo_lab_and_seed_verification,
    crud_is_audited,
    bad_input_changes_nothing,
    certificate_regenerates_without_restart,
    trust_store_import,
    trace_levels_and_no_secrets_in_traces,
    restart_keeps_identity,
);

async fn authentication_is_required(backend: &str) {
    let t = boot(backend).await;
    let anonymous = t.client.get(t.url("/api/users")).send().await.unwrap();
    assert_eq!(anonymous.status(), StatusCode::UNAUTHORIZED);
    assert!(anonymous.headers().get("www-authenticate").is_some());
    let body: Value = anonymous.json().await.unwrap();
    assert_eq!(body["error"], "unauthorized");
    for path in [
        "/api/devices",
        "/api/sql",
        "/api/certs",
        "/api/params/ClusterSIPOAuthMode",
    ] {
        let status = t
            .client
            .get(t.url(path))
            .bearer_auth("sbt_not-a-token")
            .send()
            .await
            .unwrap()
            .status();
        assert_eq!(status, StatusCode::UNAUTHORIZED, "{path}");
    }
    let password = t
        .node
        .report
        .admin_password
        .clone()
        .expect("first start creates the admin");
    let ok = t
        .client
        .get(t.url("/api/users"))
        .basic_auth("admin", Some(&password))
        .send()
        .await
        .unwrap();
    assert_eq!(ok.status(), StatusCode::OK);
    let wrong = t
        .client
        .get(t.url("/api/users"))
        .basic_auth("admin", Some("guess"))
        .send()
        .await
        .unwrap();
    assert_eq!(wrong.status(), StatusCode::UNAUTHORIZED);

    let unknown = t.client.get(t.url("/api/nosuch")).send().await.unwrap();
    assert_eq!(unknown.status(), StatusCode::NOT_FOUND);
    assert_eq!(unknown.json::<Value>().await.unwrap()["error"], "not_found");

    // Open routes: health and the OpenAPI document.
    let health: Value = t
        .client
        .get(t.url("/api/health"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(
        (health["status"].as_str(), health["store"].as_str()),
        (Some("ok"), Some(backend))
    );
    let doc: Value = t
        .client
        .get(t.url("/api/openapi.json"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert!(doc["openapi"].as_str().unwrap().starts_with("3."));
    for path in [
        "/api/users/{userid}",
        "/api/sip-oauth-mode",
        "/api/expressway",
        "/api/certs/tomcat/regenerate",
        "/api/sql",
        "/api/ports",
    ] {
        assert!(doc["paths"].get(path).is_some(), "OpenAPI lacks {path}");
    }
    t.node.shutdown().await.unwrap();
}

async fn demo_lab_and_seed_verification(backend: &str) {
    let t = boot(backend).await;
    let user = t.get("/api/users/wwhite").await;
    assert_eq!(user["cti_enabled"], true);
    assert_eq!(user["controlled_devices"], json!(["SEP001794625DE5"]));
    let softphone = t.get("/api/devices/CSFwwhite").await;
    let profile = t
        .get(&format!(
            "/api/profiles/{}",
            softphone["security_profile"].as_str().unwrap()
        ))
        .await;
    assert_eq!(
        (
            profile["oauth_auth"].as_bool(),
            profile["digest_auth"].as_bool()
        ),
        (Some(true), Some(false))
    );
    let deskphone = t.get("/api/devices/SEP001794625DE5").await;
    assert_eq!(deskphone["has_digest_password"], true);
    let creds = std::fs::read_to_string(t.node.data_dir.join("demo-credentials.txt")).unwrap();
    let ids: Vec<&str> = creds
        .lines()
        .map(|l| l.split(' ').next().unwrap())
        .collect();
    assert_eq!(ids, vec!["wwhite", "SEP001794625DE5"]);
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        for file in ["demo-credentials.txt", "admin.token"] {
            let mode = std::fs::metadata(t.node.data_dir.join(file))
                .unwrap()
                .permissions()
                .mode();
            assert_eq!(mode & 0o777, 0o600, "{file}");
        }
    }

    // The seed's verification: enable SIP OAuth mode, read it back with SQL.
    let (status, body) = t
        .call(
            reqwest::Method::PUT,
            "/api/sip-oauth-mode",
            Some(json!({"enabled": true})),
        )
        .await;
    assert_eq!((status, body), (StatusCode::OK, json!({"enabled": true})));
    let q = json!({"query": "select paramvalue from processconfig where paramname = 'ClusterSIPOAuthMode'"});
    let (status, body) = t.call(reqwest::Method::POST, "/api/sql", Some(q)).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(body["rows"], json!([["1"]]));
    let ports = t.get("/api/ports").await;
    let listeners: Vec<(String, String, String)> = ports["listeners"]
        .as_array()
        .unwrap()
        .iter()
        .map(|l| {
            (
                l["service"].as_str().unwrap().into(),
                l["transport"].as_str().unwrap().into(),
                l["address"].as_str().unwrap().into(),
            )
        })
        .collect();
    assert!(
        listeners.contains(&(
            "https".into(),
            "tcp".into(),
            t.node.https_addr().to_string()
        )),
        "{listeners:?}"
    );
    for (service, transport) in [("sip", "udp"), ("sip", "tcp"), ("sip-secure", "tcp")] {
        assert!(
            listeners
                .iter()
                .any(|(s, tr, _)| s == service && tr == transport),
            "{service}/{transport} missing: {listeners:?}"
        );
    }
    assert_eq!(ports["nodes"][0]["ports"]["sip_oauth"], 5090);
    assert_eq!(ports["nodes"][0]["ports"]["sip_mra_oauth"], 5091);
    t.node.shutdown().await.unwrap();
}

async fn crud_is_audited(backend: &str) {
    use reqwest::Method;
    let t = boot(backend).await;
    let (s, _) = t
        .call(Method::POST, "/api/lines", Some(json!({"dn": "2001"})))
        .await;
    assert_eq!(s, StatusCode::CREATED);
    let (s, user) = t
        .call(
            Method::POST,
            "/api/users",
            Some(json!({"userid": "jpinkman", "password": "Yo-Science-42"})),
        )
        .await;
    assert_eq!(s, StatusCode::CREATED, "{user}");
    assert!(user.get("password").is_none() && user["has_password"] == true);
    let device = json!({
        "name": "SEP00AABBCCDDEE", "product": "Cisco 8841", "device_class": "deskphone",
        "owner": "jpinkman", "security_profile": "Cisco 8841 - Standard SIP Digest Profile",
        "lines": [{"index": 1, "dn": "2001"}]
    });
    let (s, body) = t
        .call(Method::POST, "/api/devices", Some(device.clone()))
        .await;
    assert_eq!(s, StatusCode::CREATED, "{body}");
    let (s, _) = t.call(Method::POST, "/api/devices", Some(device)).await;
    assert_eq!(s, StatusCode::CONFLICT);
    let (s, body) = t
        .call(
            Method::PATCH,
            "/api/users/jpinkman",
            Some(json!({"controlled_devices": ["SEP00AABBCCDDEE"], "cti_enabled": true})),
        )
        .await;
    assert_eq!(
        (s, body["cti_enabled"].as_bool()),
        (StatusCode::OK, Some(true))
    );
    let (s, node) = t
        .call(
            Method::PATCH,
            "/api/nodes/ucm1",
            Some(json!({"ports": {"sip_oauth": 5095}})),
        )
        .await;
    assert_eq!(
        (s, node["ports"]["sip_oauth"].as_u64()),
        (StatusCode::OK, Some(5095))
    );
    let (s, e) = t.call(Method::POST, "/api/expressway", Some(json!({"hostnameorip": "exp-c", "x509subjectnameoraltname": "domain-2.com,exp-c.domain-1.com"}))).await;
    assert_eq!(s, StatusCode::OK, "{e}");
    let (s, _) = t
        .call(Method::DELETE, "/api/devices/SEP00AABBCCDDEE", None)
        .await;
    assert_eq!(s, StatusCode::NO_CONTENT);
    let (s, _) = t
        .call(Method::DELETE, "/api/devices/SEP00AABBCCDDEE", None)
        .await;
    assert_eq!(s, StatusCode::NOT_FOUND);

    let audit = t.get("/api/audit?limit=7").await;
    let seen: Vec<(String, String, String)> = audit
        .as_array()
        .unwrap()
        .iter()
        .map(|e| {
            (
                e["actor"].as_str().unwrap().into(),
                e["action"].as_str().unwrap().into(),
                e["object_type"].as_str().unwrap().into(),
            )
        })
        .collect();
    let expected: Vec<(String, String, String)> = [
        ("delete", "device"),
        ("put", "expresswayconfiguration"),
        ("update", "callmanager"),
        ("update", "user"),
        ("create", "device"),
        ("create", "user"),
        ("create", "line"),
    ]
    .iter()
    .map(|(a, o)| ("admin".to_string(), a.to_string(), o.to_string()))
    .collect();
    assert_eq!(seen, expected);
    assert!(
        !audit.to_string().contains("Yo-Science-42"),
        "password in the audit log"
    );
    t.node.shutdown().await.unwrap();
}

/// Everything an administrator can read back, to prove a refused request changed nothing.
async fn snapshot(t: &TestNode) -> Value {
    let mut all = serde_json::Map::new();
    for path in [
        "/api/users",
        "/api/devices",
        "/api/lines",
        "/api/profiles",
        "/api/nodes",
        "/api/params",
        "/api/ldap",
        "/api/expressway",
        "/api/audit?limit=1000",
    ] {
        all.insert(path.into(), t.get(path).await);
    }
    Value::Object(all)
}

async fn bad_input_changes_nothing(backend: &str) {
    use reqwest::Method;
    let t = boot(backend).await;
    let before = snapshot(&t).await;
    /// method, path, body, expected status, error code, field at fault
    type Case<'a> = (Method, &'a str, Value, StatusCode, &'a str, Option<&'a str>);
    let cases: Vec<Case> = vec![
        (
            Method::POST,
            "/api/users",
            json!({"userid": "x", "cti_enabled": "yes"}),
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid",
            Some("cti_enabled"),
        ),
        (
            Method::POST,
            "/api/users",
            json!({"userid": "x", "ctienabled": true}),
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid",
            Some("ctienabled"),
        ),
        (
            Method::POST,
            "/api/users",
            json!({"display_name": "no id"}),
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid",
            Some("userid"),
        ),
        (
            Method::POST,
            "/api/users",
            json!({"userid": "bad id!"}),
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid",
            Some("userid"),
        ),
        (
            Method::POST,
            "/api/users",
            json!({"userid": "wwhite"}),
            StatusCode::CONFLICT,
            "conflict",
            None,
        ),
        (
            Method::PATCH,
            "/api/nodes/ucm1",
            json!({"ports": {"sip_oauth": 80}}),
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid",
            Some("ports.sip_oauth"),
        ),
        (
            Method::PATCH,
            "/api/nodes/ucm1",
            json!({"ports": {"sip_oauth": 49152}}),
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid",
            Some("ports.sip_oauth"),
        ),
        (
            Method::PATCH,
            "/api/nodes/ucm1",
            json!({"ports": {"sip_oauth": "5090"}}),
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid",
            Some("ports.sip_oauth"),
        ),
        (
            Method::PATCH,
            "/api/profiles/Cisco Unified Client Services Framework - OAuth auth",
            json!({"digest_auth": true}),
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid",
            Some("oauth_auth"),
        ),
        (
            Method::POST,
            "/api/profiles",
            json!({"name": "p", "product_type": "t", "device_security_mode": "encrypted", "transport": "tls", "oauth_auth": true, "tftp_encrypted_config": true}),
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid",
            Some("oauth_auth"),
        ),
        (
            Method::POST,
            "/api/profiles",
            json!({"name": "p", "product_type": "t", "device_security_mode": "paranoid", "transport": "tls"}),
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid",
            Some("device_security_mode"),
        ),
        (
            Method::POST,
            "/api/devices",
            json!({"name": "CSFnobody", "product": "Cisco Unified Client Services Framework", "device_class": "softphone", "owner": "nobody", "security_profile": "Cisco Unified Client Services Framework - OAuth auth"}),
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid",
            Some("owner"),
        ),
        (
            Method::PATCH,
            "/api/devices/SEP001794625DE5",
            json!({"lines": [{"index": 1, "dn": "9999"}]}),
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid",
            Some("lines[0].dn"),
        ),
        (
            Method::PATCH,
            "/api/devices/SEP001794625DE5",
            json!({"lines": [{"index": 1, "dn": "x"}]}),
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid",
            Some("lines[0].dn"),
        ),
        (
            Method::PUT,
            "/api/params/ClusterSIPOAuthMode",
            json!({"value": "2"}),
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid",
            Some("ClusterSIPOAuthMode"),
        ),
        (
            Method::PUT,
            "/api/params/NoSuchParameter",
            json!({"value": "2"}),
            StatusCode::NOT_FOUND,
            "not_found",
            None,
        ),
        (
            Method::PUT,
            "/api/sip-oauth-mode",
            json!({"enabled": 1}),
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid",
            Some("enabled"),
        ),
        (
            Method::PATCH,
            "/api/ldap",
            json!({"servers": [{"host": "a", "port": 389, "tls": "plain"}, {"host": "b", "port": 389, "tls": "plain"}, {"host": "c", "port": 389, "tls": "plain"}, {"host": "d", "port": 389, "tls": "plain"}]}),
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid",
            Some("servers"),
        ),
        (
            Method::PATCH,
            "/api/ldap",
            json!({"enabled": true}),
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid",
            Some("enabled"),
        ),
        (
            Method::POST,
            "/api/expressway",
            json!({"hostnameorip": "exp c", "x509subjectnameoraltname": "a"}),
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid",
            Some("hostnameorip"),
        ),
        (
            Method::DELETE,
            "/api/users/wwhite",
            Value::Null,
            StatusCode::CONFLICT,
            "conflict",
            None,
        ),
        (
            Method::DELETE,
            "/api/lines/1001",
            Value::Null,
            StatusCode::CONFLICT,
            "conflict",
            None,
        ),
        (
            Method::POST,
            "/api/sql",
            json!({"query": "delete from enduser"}),
            StatusCode::BAD_REQUEST,
            "query_refused",
            None,
        ),
        (
            Method::POST,
            "/api/sql",
            json!({"query": "select 1; update processconfig set paramvalue = '1'"}),
            StatusCode::BAD_REQUEST,
            "query_refused",
            None,
        ),
        (
            Method::POST,
            "/api/certs/trust",
            json!({"pem": "not a certificate"}),
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid",
            Some("pem"),
        ),
        (
            Method::PUT,
            "/api/trace/levels/cti",
            json!({"level": "loud"}),
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid",
            Some("level"),
        ),
        (
            Method::PUT,
            "/api/trace/levels/nosuch",
            json!({"level": "debug"}),
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid",
            Some("service"),
        ),
    ];
    for (method, path, body, status, code, field) in cases {
        let body = if body.is_null() { None } else { Some(body) };
        let (got, answer) = t.call(method.clone(), path, body).await;
        assert_eq!(got, status, "{method} {path}: {answer}");
        assert_eq!(answer["error"], code, "{method} {path}: {answer}");
        assert!(!answer["message"].as_str().unwrap_or("").is_empty());
        if let Some(field) = field {
            assert_eq!(answer["field"], field, "{method} {path}: {answer}");
        }
    }
    // Bodies that are not JSON at all, of the wrong type, or too large.
    let raw = |body: &'static str, content_type: &'static str| {
        t.client
            .post(t.url("/api/users"))
            .bearer_auth(&t.token)
            .header("content-type", content_type)
            .body(body)
            .send()
    };
    let r = raw("{\"userid\": ", "application/json").await.unwrap();
    assert_eq!(r.status(), StatusCode::BAD_REQUEST);
    assert_eq!(r.json::<Value>().await.unwrap()["error"], "bad_json");
    let r = raw("{\"userid\": \"a\"} trailing", "application/json")
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::BAD_REQUEST);
    let r = raw("userid=a", "application/x-www-form-urlencoded")
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::UNSUPPORTED_MEDIA_TYPE);
    let huge = format!("{{\"userid\": \"{}\"}}", "a".repeat(2 << 20));
    let r = t
        .client
        .post(t.url("/api/users"))
        .bearer_auth(&t.token)
        .header("content-type", "application/json")
        .body(huge)
        .send()
        .await;
    // The server answers 413 as soon as the limit is passed and closes the connection; a client
    // still writing the rest of its body may see the connection reset before it reads the
    // answer. Either way the body was refused.
    match r {
        Ok(r) => {
            assert_eq!(r.status(), StatusCode::PAYLOAD_TOO_LARGE);
            assert_eq!(
                r.json::<Value>().await.unwrap()["error"],
                "payload_too_large"
            );
        }
        Err(e) => assert!(e.is_request() || e.is_body(), "{e:?}"),
    }

    assert_eq!(
        snapshot(&t).await,
        before,
        "a refused request changed something"
    );
    t.node.shutdown().await.unwrap();
}

async fn fingerprint_served(addr: std::net::SocketAddr, trusted_pem: &str) -> Result<(), String> {
    let client = client_trusting(trusted_pem);
    client
        .get(format!("https://127.0.0.1:{}/api/health", addr.port()))
        .send()
        .await
        .map(|_| ())
        .map_err(|e| format!("{e:?}"))
}

async fn certificate_regenerates_without_restart(backend: &str) {
    let t = boot(backend).await;
    let cert_path = t.node.data_dir.join("certs/tomcat.pem");
    let old_pem = std::fs::read_to_string(&cert_path).unwrap();
    let before = t.get("/api/certs").await;
    let (status, info) = t
        .call(reqwest::Method::POST, "/api/certs/tomcat/regenerate", None)
        .await;
    assert_eq!(status, StatusCode::OK);
    assert_ne!(
        info["sha256_fingerprint"],
        before["tomcat"]["sha256_fingerprint"]
    );
    let new_pem = std::fs::read_to_string(&cert_path).unwrap();
    assert_ne!(old_pem, new_pem);
    // The running listener now presents the new certificate: a client trusting only the new
    // one connects, a client trusting only the old one is refused.
    let mut served = Err(String::new());
    for _ in 0..50 {
        served = fingerprint_served(t.node.https_addr(), &new_pem).await;
        if served.is_ok() {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    served.expect("the new certificate is served");
    assert!(
        fingerprint_served(t.node.https_addr(), &old_pem)
            .await
            .is_err(),
        "the old certificate is still served"
    );
    let after = t.get("/api/certs").await;
    assert_eq!(
        after["tomcat"]["sha256_fingerprint"],
        info["sha256_fingerprint"]
    );
    let audit = t.get("/api/audit?limit=1").await;
    assert_eq!(
        (
            audit[0]["action"].as_str(),
            audit[0]["object_type"].as_str()
        ),
        (Some("regenerate"), Some("certificate"))
    );
    t.node.shutdown().await.unwrap();
}

async fn trust_store_import(backend: &str) {
    use reqwest::Method;
    let t = boot(backend).await;
    let ca = switchboard_pki::generate_test_ca("Edge Test CA").unwrap();
    let with_key = format!("{}{}", ca.cert_pem, ca.key_pem());
    let (s, body) = t
        .call(
            Method::POST,
            "/api/certs/trust",
            Some(json!({"pem": with_key})),
        )
        .await;
    assert_eq!(
        (s, body["field"].as_str()),
        (StatusCode::UNPROCESSABLE_ENTITY, Some("pem")),
        "{body}"
    );
    let (s, added) = t
        .call(
            Method::POST,
            "/api/certs/trust",
            Some(json!({"pem": ca.cert_pem})),
        )
        .await;
    assert_eq!(s, StatusCode::CREATED, "{added}");
    let fingerprint = added[0]["fingerprint"].as_str().unwrap().to_string();
    assert!(added[0]["subject"]
        .as_str()
        .unwrap()
        .contains("Edge Test CA"));
    let (s, _) = t
        .call(
            Method::POST,
            "/api/certs/trust",
            Some(json!({"pem": ca.cert_pem})),
        )
        .await;
    assert_eq!(s, StatusCode::CONFLICT);
    assert_eq!(
        t.node.state.trust.borrow().len(),
        1,
        "listeners were told about the new CA"
    );
    let certs = t.get("/api/certs").await;
    assert_eq!(certs["trust"].as_array().unwrap().len(), 1);
    let (s, _) = t
        .call(
            Method::DELETE,
            &format!("/api/certs/trust/{fingerprint}"),
            None,
        )
        .await;
    assert_eq!(s, StatusCode::NO_CONTENT);
    assert!(t.node.state.trust.borrow().is_empty());
    t.node.shutdown().await.unwrap();
}

async fn trace_levels_and_no_secrets_in_traces(backend: &str) {
    use reqwest::Method;
    let t = boot(backend).await;
    let (s, body) = t
        .call(
            Method::PUT,
            "/api/trace/levels/api",
            Some(json!({"level": "detailed"})),
        )
        .await;
    assert_eq!(
        (s, body),
        (
            StatusCode::OK,
            json!({"service": "api", "level": "detailed"})
        )
    );
    let levels = t.get("/api/trace/levels").await;
    assert!(levels
        .as_array()
        .unwrap()
        .contains(&json!({"service": "api", "level": "detailed"})));

    // Exercise every path that handles a secret, then look for each secret in the traces.
    let admin_password = t.node.report.admin_password.clone().unwrap();
    let _ = t
        .client
        .get(t.url("/api/users"))
        .basic_auth("admin", Some(&admin_password))
        .send()
        .await
        .unwrap();
    let _ = t
        .client
        .get(t.url("/api/users"))
        .basic_auth("admin", Some("wrong-Pa55word"))
        .send()
        .await
        .unwrap();
    let _ = t
        .client
        .get(t.url("/api/users"))
        .bearer_auth("sbt_forged_token_value")
        .send()
        .await
        .unwrap();
    let (s, _) = t
        .call(
            Method::POST,
            "/api/users",
            Some(json!({"userid": "skyler", "password": "Hidden-Pa55word"})),
        )
        .await;
    assert_eq!(s, StatusCode::CREATED);
    let (s, _) = t
        .call(
            Method::PATCH,
            "/api/ldap",
            Some(json!({"service_password": "Ldap-Pa55word"})),
        )
        .await;
    assert_eq!(s, StatusCode::OK);
    let (s, _) = t
        .call(
            Method::POST,
            "/api/sql",
            Some(json!({"query": "select 'Sql-Pa55word' as x"})),
        )
        .await;
    assert_eq!(s, StatusCode::OK);
    let (s, _) = t
        .call(Method::POST, "/api/certs/tomcat/regenerate", None)
        .await;
    assert_eq!(s, StatusCode::OK);
    let key = std::fs::read_to_string(t.node.data_dir.join("certs/tomcat-key.pem")).unwrap();
    let key_body: String = key.lines().filter(|l| !l.starts_with("-----")).collect();
    let demo = std::fs::read_to_string(t.node.data_dir.join("demo-credentials.txt")).unwrap();

    let traces = t.trace_text();
    assert!(
        traces.contains("Administrator 'admin' authenticated"),
        "the API traced nothing: {traces}"
    );
    let mut secrets = vec![
        admin_password,
        t.token.clone(),
        "wrong-Pa55word".into(),
        "sbt_forged_token_value".into(),
    ];
    secrets.extend(["Hidden-Pa55word", "Ldap-Pa55word", "Sql-Pa55word"].map(String::from));
    secrets.extend(
        demo.lines()
            .map(|l| l.split(' ').nth(1).unwrap().to_string()),
    );
    secrets.extend(
        key_body
            .as_bytes()
            .chunks(32)
            .map(|c| String::from_utf8_lossy(c).to_string()),
    );
    for secret in secrets {
        assert!(
            !traces.contains(&secret),
            "a secret reached a trace: {secret}"
        );
    }
    t.node.shutdown().await.unwrap();
}

async fn restart_keeps_identity(backend: &str) {
    let dir = tempfile::tempdir().unwrap();
    let pg_url = if backend == "postgres" {
        Some(switchboard_store::testing::fresh_postgres().await)
    } else {
        None
    };
    let first = boot_in(dir.path(), backend, pg_url.clone(), true).await;
    assert!(first.report.admin_password.is_some() && first.report.demo_credentials.is_some());
    let fingerprint = first.state.identity.borrow().info().sha256_fingerprint;
    let token = std::fs::read_to_string(dir.path().join("admin.token")).unwrap();
    first.shutdown().await.unwrap();
    assert!(
        !dir.path().join("node.url").exists(),
        "shutdown removes the node's address file"
    );

    let second = boot_in(dir.path(), backend, pg_url, true).await;
    assert!(
        second.report.admin_password.is_none(),
        "the admin is created once"
    );
    assert!(second.report.demo_already_present && second.report.demo_credentials.is_none());
    assert_eq!(
        second.state.identity.borrow().info().sha256_fingerprint,
        fingerprint
    );
    assert_eq!(
        std::fs::read_to_string(dir.path().join("admin.token")).unwrap(),
        token
    );
    assert!(dir.path().join("node.url").exists());
    second.shutdown().await.unwrap();
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
async fn https_moves_to_a_new_port_without_restart() {
    let dir = tempfile::tempdir().unwrap();
    let (first, second, config_files) = (free_port(), free_port(), free_port());
    // The node's row exists already, with its HTTPS port on a free port.
    let store_config = switchboard_store::StoreConfig::Sqlite {
        path: dir.path().join("switchboard.db"),
    };
    let store = switchboard_store::Store::open(
        &store_config,
        Arc::new(switchboard_server::NodeCrypto(
            switchboard_auth::secretbox::SecretKey::from_bytes([1; 32]),
        )),
    )
    .await
    .unwrap();
    let ports = switchboard_store::model::NodePorts {
        https: first as u32,
        config_http: config_files as u32,
        ..Default::default()
    };
    let node = switchboard_store::model::Node {
        name: "ucm1".into(),
        address: "127.0.0.1".into(),
        description: String::new(),
        priority: 1,
        ports,
    };
    store.put_node("test", &node, false).await.unwrap();
    store.close().await;

    let mut config = NodeConfig {
        data_dir: dir.path().to_path_buf(),
        node_name: Some("ucm1".into()),
        ..Default::default()
    };
    config.listen.address = "127.0.0.1".parse().unwrap();
    // Only HTTPS follows the database here; the other services need no fixed port.
    config.listen.ephemeral("127.0.0.1".parse().unwrap());
    config.listen.https = None;
    let node = switchboard_server::start(config, StartOptions::default())
        .await
        .unwrap();
    assert_eq!(node.https_addr().port(), first);
    let cert = std::fs::read_to_string(dir.path().join("certs/tomcat.pem")).unwrap();
    let token = std::fs::read_to_string(dir.path().join("admin.token"))
        .unwrap()
        .trim()
        .to_string();
    let client = client_trusting(&cert);
    let answer = client
        .patch(format!("https://127.0.0.1:{first}/api/nodes/ucm1"))
        .bearer_auth(&token)
        .json(&json!({"ports": {"https": second}}))
        .send()
        .await
        .unwrap();
    assert_eq!(answer.status(), StatusCode::OK);

    let health = |port: u16| {
        client
            .get(format!("https://127.0.0.1:{port}/api/health"))
            .send()
    };
    let mut moved = false;
    for _ in 0..100 {
        if health(second).await.is_ok() {
            moved = true;
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    assert!(moved, "the API did not move to port {second}");
    assert_eq!(node.https_addr().port(), second);
    let url = std::fs::read_to_string(dir.path().join("node.url")).unwrap();
    assert_eq!(url.trim(), format!("https://127.0.0.1:{second}"));
    // The old port is closed once its requests have finished.
    let mut closed = false;
    for _ in 0..300 {
        if health(first).await.is_err() {
            closed = true;
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    assert!(closed, "the old port {first} still answers");
    node.shutdown().await.unwrap();
}

/// `POST /api/ldap/test`: input checked like every endpoint, a named outcome whatever happens,
/// the password in no trace (the real-directory cases are in `authn/tests/ldap.rs` and the CLI
/// tests).
#[tokio::test(flavor = "multi_thread")]
async fn ldap_test_endpoint() {
    let t = boot("sqlite").await;
    let (s, body) = t
        .call(
            reqwest::Method::POST,
            "/api/ldap/test",
            Some(json!({"userid": "", "password": "x"})),
        )
        .await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    assert_eq!(body["field"], "userid");
    let (s, body) = t
        .call(
            reqwest::Method::POST,
            "/api/ldap/test",
            Some(json!({"userid": "wwhite", "password": "x", "extra": 1})),
        )
        .await;
    assert!(s.is_client_error(), "{s} {body}");
    // Nothing configured: a named failure, with the steps so far.
    let (s, body) = t
        .call(
            reqwest::Method::POST,
            "/api/ldap/test",
            Some(json!({"userid": "wwhite", "password": "Ldap-Test-Pa55"})),
        )
        .await;
    assert_eq!(s, StatusCode::OK, "{body}");
    assert_eq!(body["success"], false);
    assert_eq!(body["failure"], "not_configured", "{body}");
    // A server where nothing listens: unreachable, named, with its URL.
    let (s, _) = t
        .call(
            reqwest::Method::PATCH,
            "/api/ldap",
            Some(json!({
                "servers": [{"host": "127.0.0.3", "port": 389, "tls": "plain"}],
                "service_dn": "Administrator@joshlab.net",
                "service_password": "Svc-Pa55word",
                "search_bases": ["OU=Breaking Bad,DC=joshlab,DC=net"],
            })),
        )
        .await;
    assert_eq!(s, StatusCode::OK);
    let (_, body) = t
        .call(
            reqwest::Method::POST,
            "/api/ldap/test",
            Some(json!({"userid": "wwhite", "password": "Ldap-Test-Pa55"})),
        )
        .await;
    assert_eq!(body["failure"], "unreachable", "{body}");
    let steps: Vec<&str> = body["steps"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_str().unwrap())
        .collect();
    assert!(
        steps.contains(&"Authenticating with SSL not enabled (ldap://127.0.0.3:389)"),
        "{steps:?}"
    );
    let traces = t.trace_text();
    assert!(traces.contains("Failed to authenticate user: wwhite (LDAP: directory server ldap://127.0.0.3:389 unreachable"));
    assert!(!traces.contains("Ldap-Test-Pa55") && !traces.contains("Svc-Pa55word"));
    let openapi = t.get("/api/openapi.json").await;
    assert!(openapi["paths"]["/api/ldap/test"]["post"].is_object());
}
