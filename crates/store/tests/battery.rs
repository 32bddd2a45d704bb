//! One test battery, run against both backends (SQLite and PostgreSQL): every rule, every
//! reference check, the audit log, and the read-only SQL verb.

use std::sync::Arc;

use switchboard_store::model::*;
use switchboard_store::{testing, Crypto, Store, StoreError};

struct RealCrypto(switchboard_auth::secretbox::SecretKey);

impl Crypto for RealCrypto {
    fn hash_password(&self, password: &str) -> String {
        switchboard_auth::password::hash(password).expect("hash")
    }
    fn seal(&self, secret: &str) -> String {
        self.0.encrypt(secret)
    }
    fn unseal(&self, sealed: &str) -> Option<String> {
        self.0.decrypt(sealed).ok()
    }
}

async fn open(backend: &str) -> (Store, tempfile::TempDir) {
    let dir = tempfile::tempdir().unwrap();
    let config = testing::fresh_config(backend, dir.path()).await;
    let crypto = RealCrypto(switchboard_auth::secretbox::SecretKey::from_bytes([7; 32]));
    let store = Store::open(&config, Arc::new(crypto)).await.unwrap();
    assert_eq!(store.backend(), backend);
    (store, dir)
}

/// Runs each named test body once per backend.
macro_rules! battery {
    ($($name:ident),* $(,)?) => {
        mod sqlite { $( #[tokio::test] async fn $name() { super::$name("sqlite").await } )* }
        mod postgres { $( #[tokio::test] async fn $name() { super::$name("postgres").await } )* }
    };
}

battery!(
    users_round_trip,
    profile_rules,
    devices_and_references,
    node_ports,
    params_and_sql,
    expressway_and_ldap,
    audit_and_secrets,
    admins_and_trust,
    config_file_reads,
);

fn field_of(e: StoreError) -> String {
    match e {
        StoreError::Invalid { field, .. } => field,
        other => panic!("expected a validation error, got {other:?}"),
    }
}

fn oauth_profile() -> SecurityProfile {
    SecurityProfile {
        name: "CSF OAuth".into(),
        description: "Cisco Unified Client Services Framework - OAuth auth".into(),
        product_type: "Cisco Unified Client Services Framework".into(),
        device_security_mode: SecurityMode::Encrypted,
        transport: Transport::Tls,
        tftp_encrypted_config: false,
        digest_auth: false,
        oauth_auth: true,
    }
}

fn digest_profile() -> SecurityProfile {
    SecurityProfile {
        name: "Deskphone digest".into(),
        description: String::new(),
        product_type: "Cisco 8841".into(),
        device_security_mode: SecurityMode::NonSecure,
        transport: Transport::TcpUdp,
        tftp_encrypted_config: false,
        digest_auth: true,
        oauth_auth: false,
    }
}

async fn users_round_trip(backend: &str) {
    let (store, _dir) = open(backend).await;
    let new = UserNew {
        userid: "wwhite".into(),
        display_name: "Walter White".into(),
        password: Some("s3cret-pass".into()),
        enabled: true,
        cti_enabled: true,
        ..Default::default()
    };
    let user = store.create_user("admin", &new).await.unwrap();
    assert!(user.cti_enabled && !user.super_provider && user.has_password);
    let hash = store.user_password_hash("wwhite").await.unwrap().unwrap();
    assert!(switchboard_auth::password::verify("s3cret-pass", &hash));

    let dup = store.create_user("admin", &new).await.unwrap_err();
    assert!(matches!(dup, StoreError::Conflict { .. }), "{dup:?}");

    let bad = UserNew {
        userid: "bad user!".into(),
        ..Default::default()
    };
    assert_eq!(
        field_of(store.create_user("admin", &bad).await.unwrap_err()),
        "userid"
    );
    let ldap_with_pw = UserNew {
        userid: "jpinkman".into(),
        source: UserSource::Ldap,
        password: Some("x".into()),
        ..Default::default()
    };
    assert_eq!(
        field_of(store.create_user("admin", &ldap_with_pw).await.unwrap_err()),
        "password"
    );

    let patch = UserPatch {
        super_provider: Some(true),
        call_record: Some(true),
        ..Default::default()
    };
    let user = store.update_user("admin", "wwhite", &patch).await.unwrap();
    assert!(user.super_provider && user.call_record && user.cti_enabled);
    assert_eq!(user.display_name, "Walter White");

    let missing_device = UserPatch {
        controlled_devices: Some(vec!["SEP000000000001".into()]),
        ..Default::default()
    };
    assert_eq!(
        field_of(
            store
                .update_user("admin", "wwhite", &missing_device)
                .await
                .unwrap_err()
        ),
        "controlled_devices[0]"
    );
    // The failed update changed nothing.
    assert_eq!(store.get_user("wwhite").await.unwrap(), user);

    assert_eq!(store.list_users().await.unwrap().len(), 1);
    store.delete_user("admin", "wwhite").await.unwrap();
    assert!(matches!(
        store.get_user("wwhite").await,
        Err(StoreError::NotFound { .. })
    ));
    assert!(matches!(
        store.delete_user("admin", "wwhite").await,
        Err(StoreError::NotFound { .. })
    ));
}

async fn profile_rules(backend: &str) {
    let (store, _dir) = open(backend).await;
    store
        .put_profile("admin", &oauth_profile(), false)
        .await
        .unwrap();
    let both = SecurityProfile {
        name: "both".into(),
        digest_auth: true,
        ..oauth_profile()
    };
    let e = store.put_profile("admin", &both, false).await.unwrap_err();
    assert_eq!(e.to_string(), "oauth_auth: OAuth authentication cannot be combined with digest authentication (turn digest_auth off)");
    let tftp = SecurityProfile {
        name: "tftp".into(),
        tftp_encrypted_config: true,
        ..oauth_profile()
    };
    assert_eq!(
        field_of(store.put_profile("admin", &tftp, false).await.unwrap_err()),
        "oauth_auth"
    );
    let udp = SecurityProfile {
        name: "udp".into(),
        transport: Transport::Udp,
        ..oauth_profile()
    };
    assert_eq!(
        field_of(store.put_profile("admin", &udp, false).await.unwrap_err()),
        "transport"
    );
    // A patch that would break the rule is refused and leaves the profile as it was.
    let patch = SecurityProfilePatch {
        digest_auth: Some(true),
        ..Default::default()
    };
    assert_eq!(
        field_of(
            store
                .update_profile("admin", "CSF OAuth", &patch)
                .await
                .unwrap_err()
        ),
        "oauth_auth"
    );
    assert_eq!(
        store.get_profile("CSF OAuth").await.unwrap(),
        oauth_profile()
    );
    assert_eq!(store.list_profiles().await.unwrap().len(), 1);
}

async fn devices_and_references(backend: &str) {
    let (store, _dir) = open(backend).await;
    store
        .put_profile("admin", &digest_profile(), false)
        .await
        .unwrap();
    store
        .create_user(
            "admin",
            &UserNew {
                userid: "wwhite".into(),
                ..Default::default()
            },
        )
        .await
        .unwrap();
    store
        .create_line(
            "admin",
            &Line {
                dn: "1001".into(),
                description: String::new(),
                alerting_name: "Walter".into(),
            },
        )
        .await
        .unwrap();
    let mut new = DeviceNew {
        name: "SEP001794625DE5".into(),
        description: "Walter's deskphone".into(),
        product: "Cisco 8841".into(),
        device_class: DeviceClass::Deskphone,
        owner: Some("nobody".into()),
        security_profile: "Deskphone digest".into(),
        digest_user: None,
        digest_password: Some("digest-pw".into()),
        lines: vec![LineAppearance {
            index: 1,
            dn: "1001".into(),
        }],
    };
    assert_eq!(
        field_of(store.create_device("admin", &new).await.unwrap_err()),
        "owner"
    );
    new.owner = Some("wwhite".into());
    new.security_profile = "missing".into();
    assert_eq!(
        field_of(store.create_device("admin", &new).await.unwrap_err()),
        "security_profile"
    );
    new.security_profile = "Deskphone digest".into();
    new.lines = vec![LineAppearance {
        index: 1,
        dn: "2002".into(),
    }];
    assert_eq!(
        field_of(store.create_device("admin", &new).await.unwrap_err()),
        "lines[0].dn"
    );
    new.lines = vec![LineAppearance {
        index: 1,
        dn: "1001".into(),
    }];
    let bad_name = DeviceNew {
        name: "SEPxyz".into(),
        ..new.clone()
    };
    assert_eq!(
        field_of(store.create_device("admin", &bad_name).await.unwrap_err()),
        "name"
    );
    assert!(
        store.list_devices().await.unwrap().is_empty(),
        "refused creations left nothing"
    );

    let device = store.create_device("admin", &new).await.unwrap();
    assert_eq!(device.lines, new.lines);
    assert!(device.has_digest_password);
    assert_eq!(
        store
            .device_digest_password("SEP001794625DE5")
            .await
            .unwrap()
            .as_deref(),
        Some("digest-pw")
    );

    // The user may now control it; the line and the owner cannot go while in use.
    let patch = UserPatch {
        controlled_devices: Some(vec!["SEP001794625DE5".into()]),
        ..Default::default()
    };
    assert_eq!(
        store
            .update_user("admin", "wwhite", &patch)
            .await
            .unwrap()
            .controlled_devices,
        vec!["SEP001794625DE5"]
    );
    assert!(matches!(
        store.delete_line("admin", "1001").await,
        Err(StoreError::Conflict { .. })
    ));
    assert!(matches!(
        store.delete_user("admin", "wwhite").await,
        Err(StoreError::Conflict { .. })
    ));
    assert!(matches!(
        store.delete_profile("admin", "Deskphone digest").await,
        Err(StoreError::Conflict { .. })
    ));

    let patch = DevicePatch {
        clear_owner: true,
        description: Some("lobby".into()),
        ..Default::default()
    };
    let device = store
        .update_device("admin", "SEP001794625DE5", &patch)
        .await
        .unwrap();
    assert_eq!((device.owner, device.description.as_str()), (None, "lobby"));
    store
        .delete_device("admin", "SEP001794625DE5")
        .await
        .unwrap();
    assert!(store
        .get_user("wwhite")
        .await
        .unwrap()
        .controlled_devices
        .is_empty());
    store.delete_line("admin", "1001").await.unwrap();
}

async fn node_ports(backend: &str) {
    let (store, _dir) = open(backend).await;
    let node = Node {
        name: "ucm1".into(),
        address: "127.0.0.1".into(),
        description: String::new(),
        priority: 1,
        ports: NodePorts::default(),
    };
    store.put_node("admin", &node, false).await.unwrap();
    for (port, field) in [
        (80, "ports.sip_oauth"),
        (49152, "ports.sip_oauth"),
        (5060, "ports.sip_oauth"),
    ] {
        let patch = NodePatch {
            ports: Some(NodePortsPatch {
                sip_oauth: Some(port),
                ..Default::default()
            }),
            ..Default::default()
        };
        let e = store
            .update_node("admin", "ucm1", &patch)
            .await
            .unwrap_err();
        assert_eq!(field_of(e), field, "port {port}");
    }
    let patch = NodePatch {
        ports: Some(NodePortsPatch {
            sip_oauth: Some(5095),
            ..Default::default()
        }),
        ..Default::default()
    };
    let updated = store.update_node("admin", "ucm1", &patch).await.unwrap();
    assert_eq!(updated.ports.sip_oauth, 5095);
    assert_eq!(updated.ports.sip_mra_oauth, 5091);
    assert!(matches!(
        store.put_node("admin", &node, false).await,
        Err(StoreError::Conflict { .. })
    ));
}

async fn params_and_sql(backend: &str) {
    let (store, _dir) = open(backend).await;
    store.ensure_param_defaults().await.unwrap();
    let q = "select paramvalue from processconfig where paramname = 'ClusterSIPOAuthMode'";
    let r = store.query_read_only(q).await.unwrap();
    assert_eq!(r.columns, vec!["paramvalue"]);
    assert_eq!(r.rows, vec![vec![serde_json::json!("0")]]);
    store
        .set_param("admin", "ClusterSIPOAuthMode", "1")
        .await
        .unwrap();
    assert_eq!(
        store.query_read_only(q).await.unwrap().rows,
        vec![vec![serde_json::json!("1")]]
    );
    assert_eq!(
        store
            .param_i64("OAuthAccessTokenExpiryMinutes")
            .await
            .unwrap(),
        60
    );

    assert_eq!(
        field_of(
            store
                .set_param("admin", "ClusterSIPOAuthMode", "2")
                .await
                .unwrap_err()
        ),
        "ClusterSIPOAuthMode"
    );
    assert_eq!(
        field_of(
            store
                .set_param("admin", "OAuthAccessTokenExpiryMinutes", "soon")
                .await
                .unwrap_err()
        ),
        "OAuthAccessTokenExpiryMinutes"
    );
    assert!(matches!(
        store.set_param("admin", "NoSuchParam", "1").await,
        Err(StoreError::NotFound { .. })
    ));

    for write in [
        "delete from processconfig",
        "update processconfig set paramvalue = '0'",
        "select 1; delete from processconfig",
        "insert into processconfig values ('a', 'b', 'c')",
    ] {
        assert!(
            matches!(
                store.query_read_only(write).await,
                Err(StoreError::Query(_))
            ),
            "{write}"
        );
    }
    assert!(matches!(
        store.query_read_only("select * from nosuchtable").await,
        Err(StoreError::Query(_))
    ));
    assert_eq!(
        store.query_read_only(q).await.unwrap().rows,
        vec![vec![serde_json::json!("1")]],
        "nothing changed"
    );

    let r = store
        .query_read_only("select count(*) as n, 2.5 as x from processconfig")
        .await
        .unwrap();
    assert_eq!(r.columns, vec!["n", "x"]);
    assert_eq!(r.rows[0].len(), 2);
}

async fn expressway_and_ldap(backend: &str) {
    let (store, _dir) = open(backend).await;
    let entry = ExpresswayNew {
        hostnameorip: "exp-c".into(),
        description: "this is added through axl".into(),
        x509subjectnameoraltname: "domain-2.com, domain-1.com, exp-c.domain-1.com".into(),
    };
    let first = store.put_expressway("axl", &entry).await.unwrap();
    assert_eq!(
        first.x509subjectnameoraltname,
        "domain-2.com,domain-1.com,exp-c.domain-1.com"
    );
    // Pushing again replaces, keeping the pkid.
    let again = store
        .put_expressway(
            "axl",
            &ExpresswayNew {
                description: "refreshed".into(),
                ..entry.clone()
            },
        )
        .await
        .unwrap();
    assert_eq!(
        (again.pkid.as_str(), again.description.as_str()),
        (first.pkid.as_str(), "refreshed")
    );
    let bad = ExpresswayNew {
        x509subjectnameoraltname: "a,,b".into(),
        ..entry
    };
    assert_eq!(
        field_of(store.put_expressway("axl", &bad).await.unwrap_err()),
        "x509subjectnameoraltname"
    );
    let r = store
        .query_read_only("select * from expresswayconfiguration")
        .await
        .unwrap();
    assert_eq!(
        r.columns,
        vec![
            "pkid",
            "hostnameorip",
            "description",
            "x509subjectnameoraltname"
        ]
    );

    let defaults = store.ldap_settings().await.unwrap();
    assert!(!defaults.enabled && defaults.filter_template.contains("sAMAccountName={userid}"));
    let patch = LdapSettingsPatch {
        enabled: Some(true),
        servers: Some(vec![LdapServer {
            host: "127.0.0.1".into(),
            port: 3268,
            tls: LdapTls::Plain,
            ca_pem: None,
        }]),
        service_dn: Some("Administrator@joshlab.net".into()),
        service_password: Some("svc-secret".into()),
        search_bases: Some(vec!["OU=Breaking Bad,DC=joshlab,DC=net".into()]),
        ..Default::default()
    };
    let s = store.update_ldap("admin", &patch).await.unwrap();
    assert!(s.enabled && s.has_service_password && s.servers.len() == 1);
    assert_eq!(
        store.ldap_service_password().await.unwrap().as_deref(),
        Some("svc-secret")
    );
    let four = LdapSettingsPatch {
        servers: Some(vec![s.servers[0].clone(); 4]),
        ..Default::default()
    };
    assert_eq!(
        field_of(store.update_ldap("admin", &four).await.unwrap_err()),
        "servers"
    );
    let filter = LdapSettingsPatch {
        filter_template: Some("(uid=wwhite)".into()),
        ..Default::default()
    };
    assert_eq!(
        field_of(store.update_ldap("admin", &filter).await.unwrap_err()),
        "filter_template"
    );
    assert_eq!(
        store.ldap_settings().await.unwrap(),
        s,
        "refused changes left the settings as they were"
    );
}

async fn audit_and_secrets(backend: &str) {
    let (store, _dir) = open(backend).await;
    store
        .create_user(
            "alice-admin",
            &UserNew {
                userid: "wwhite".into(),
                password: Some("pw-in-clear".into()),
                ..Default::default()
            },
        )
        .await
        .unwrap();
    store
        .set_param("alice-admin", "ClusterSIPOAuthMode", "1")
        .await
        .unwrap();
    let _ = store
        .set_param("alice-admin", "ClusterSIPOAuthMode", "7")
        .await; // refused: not audited
    let log = store.list_audit(10).await.unwrap();
    assert_eq!(log.len(), 2);
    assert_eq!(
        (
            log[0].action.as_str(),
            log[0].object_type.as_str(),
            log[0].object_id.as_str()
        ),
        ("update", "processconfig", "ClusterSIPOAuthMode")
    );
    assert_eq!(
        (log[1].actor.as_str(), log[1].object_id.as_str()),
        ("alice-admin", "wwhite")
    );
    let all = serde_json::to_string(&log).unwrap();
    assert!(
        !all.contains("pw-in-clear"),
        "a password reached the audit log: {all}"
    );

    // Secrets come back redacted from SQL, whatever the column is called.
    let r = store
        .query_read_only("select userid, password_hash, password_hash as h from enduser")
        .await
        .unwrap();
    assert_eq!(r.rows[0][0], serde_json::json!("wwhite"));
    assert_eq!(r.rows[0][1], serde_json::json!("<redacted>"));
    assert_eq!(r.rows[0][2], serde_json::json!("<redacted>"));
}

async fn admins_and_trust(backend: &str) {
    let (store, _dir) = open(backend).await;
    assert_eq!(store.admin_count().await.unwrap(), 0);
    store
        .create_admin("bootstrap", "admin", "admin-pw-123")
        .await
        .unwrap();
    assert_eq!(store.admin_count().await.unwrap(), 1);
    let hash = store.admin_password_hash("admin").await.unwrap().unwrap();
    assert!(switchboard_auth::password::verify("admin-pw-123", &hash));
    store
        .add_admin_token("bootstrap", "admin", "abc123", "cli")
        .await
        .unwrap();
    assert_eq!(
        store
            .admin_by_token_hash("abc123")
            .await
            .unwrap()
            .unwrap()
            .userid,
        "admin"
    );
    assert!(store.admin_by_token_hash("other").await.unwrap().is_none());

    let t = store
        .add_trust(
            "admin",
            "ff00",
            "CN=Edge CA",
            "2030-01-01T00:00:00Z",
            "-----BEGIN CERTIFICATE-----",
        )
        .await
        .unwrap();
    assert_eq!(t.subject, "CN=Edge CA");
    assert!(matches!(
        store
            .add_trust("admin", "ff00", "CN=Edge CA", "x", "y")
            .await,
        Err(StoreError::Conflict { .. })
    ));
    store.remove_trust("admin", "ff00").await.unwrap();
    assert!(store.list_trust().await.unwrap().is_empty());

    store
        .set_trace_level("admin", "ucm1", "cti", "debug")
        .await
        .unwrap();
    store
        .set_trace_level("admin", "ucm1", "cti", "detailed")
        .await
        .unwrap();
    assert_eq!(
        store.trace_levels("ucm1").await.unwrap(),
        vec![("cti".to_string(), "detailed".to_string())]
    );
}

/// What the config file service reads besides the usual getters: which devices share a line,
/// and the change times of every row a device's file is built from.
async fn config_file_reads(backend: &str) {
    let (store, _dir) = open(backend).await;
    store
        .put_profile("admin", &digest_profile(), false)
        .await
        .unwrap();
    store
        .put_profile("admin", &oauth_profile(), false)
        .await
        .unwrap();
    let line = Line {
        dn: "1001".into(),
        description: String::new(),
        alerting_name: "Walter".into(),
    };
    store.create_line("admin", &line).await.unwrap();
    let node = Node {
        name: "ucm1".into(),
        address: "10.10.10.1".into(),
        description: String::new(),
        priority: 1,
        ports: NodePorts::default(),
    };
    store.put_node("admin", &node, false).await.unwrap();
    let appearance = vec![LineAppearance {
        index: 1,
        dn: "1001".into(),
    }];
    for (name, class, profile) in [
        (
            "SEP001794625DE5",
            DeviceClass::Deskphone,
            "Deskphone digest",
        ),
        ("CSFwwhite", DeviceClass::Softphone, "CSF OAuth"),
    ] {
        let device = DeviceNew {
            name: name.into(),
            description: String::new(),
            product: "Cisco 8841".into(),
            device_class: class,
            owner: None,
            security_profile: profile.into(),
            digest_user: None,
            digest_password: None,
            lines: appearance.clone(),
        };
        store.create_device("admin", &device).await.unwrap();
    }
    assert_eq!(
        store.devices_with_line("1001").await.unwrap(),
        vec!["CSFwwhite".to_string(), "SEP001794625DE5".to_string()]
    );
    assert!(store.devices_with_line("9999").await.unwrap().is_empty());

    let param = ["ClusterSIPOAuthMode"];
    // Device, profile, line, node; the parameter has no row until it is set.
    let stamps = store
        .device_config_changes("CSFwwhite", &param)
        .await
        .unwrap();
    assert_eq!(stamps.len(), 4, "{stamps:?}");
    let device = store.get_device("CSFwwhite").await.unwrap();
    assert!(stamps.contains(&device.updated_at));
    store
        .set_param("admin", "ClusterSIPOAuthMode", "1")
        .await
        .unwrap();
    let stamps = store
        .device_config_changes("CSFwwhite", &param)
        .await
        .unwrap();
    assert_eq!(stamps.len(), 5, "{stamps:?}");
    assert!(store
        .device_config_changes("SEPFFFFFFFFFFFF", &param)
        .await
        .unwrap()
        .is_empty());
}
