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
    credential_policy,
    oauth_keys_and_clients,
    refresh_rotation_and_revocation,
    oauth_codes_issuers_and_params,
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
        allow_cti_control: true,
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
            allow_cti_control: true,
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

async fn local_user(store: &Store, userid: &str) {
    store
        .create_user(
            "admin",
            &UserNew {
                userid: userid.into(),
                password: Some("first-pass".into()),
                enabled: true,
                ..Default::default()
            },
        )
        .await
        .unwrap();
}

async fn credential_policy(backend: &str) {
    let (store, _dir) = open(backend).await;
    local_user(&store, "wwhite").await;
    let c = store.user_credentials("wwhite").await.unwrap().unwrap();
    assert!(c.enabled && c.password_hash.is_some() && c.failed_logons == 0);
    assert!(
        format!("{c:?}").contains("has_password: true") && !format!("{c:?}").contains("argon2")
    );
    assert!(store.user_credentials("nobody").await.unwrap().is_none());

    let until = switchboard_store::time_text(4_000_000_000);
    for n in 1..=2 {
        let f = store
            .record_failed_logon("wwhite", 3, &until)
            .await
            .unwrap();
        assert_eq!((f.failed_logons, f.locked_until.as_deref()), (n, None));
    }
    // Success clears the count.
    store.clear_failed_logons("wwhite").await.unwrap();
    assert_eq!(store.get_user("wwhite").await.unwrap().failed_logons, 0);
    for _ in 0..2 {
        store
            .record_failed_logon("wwhite", 3, &until)
            .await
            .unwrap();
    }
    assert_eq!(store.get_user("wwhite").await.unwrap().failed_logons, 2);
    let third = store
        .record_failed_logon("wwhite", 3, &until)
        .await
        .unwrap();
    assert_eq!(third.locked_until.as_deref(), Some(until.as_str()));
    let user = store.get_user("wwhite").await.unwrap();
    assert_eq!(
        (user.failed_logons, user.locked_until.as_deref()),
        (0, Some(until.as_str()))
    );
    let log = store.list_audit(1).await.unwrap();
    assert_eq!(
        (
            log[0].actor.as_str(),
            log[0].action.as_str(),
            log[0].object_id.as_str()
        ),
        ("credential-policy", "lock", "wwhite")
    );
    // A lock that ran out is not shown.
    let past = switchboard_store::time_text(1_000_000_000);
    for _ in 0..3 {
        store.record_failed_logon("wwhite", 3, &past).await.unwrap();
    }
    assert_eq!(store.get_user("wwhite").await.unwrap().locked_until, None);
    assert_eq!(
        store
            .user_credentials("wwhite")
            .await
            .unwrap()
            .unwrap()
            .locked_until
            .as_deref(),
        Some(past.as_str())
    );
    // Threshold 0: counted, never locked.
    for _ in 0..5 {
        assert_eq!(
            store
                .record_failed_logon("wwhite", 0, &until)
                .await
                .unwrap()
                .locked_until,
            None
        );
    }
    // An administrator setting a new password unlocks.
    store
        .record_failed_logon("wwhite", 1, &until)
        .await
        .unwrap();
    assert!(store
        .get_user("wwhite")
        .await
        .unwrap()
        .locked_until
        .is_some());
    let patch = UserPatch {
        password: Some("second-pass".into()),
        ..Default::default()
    };
    let user = store.update_user("admin", "wwhite", &patch).await.unwrap();
    assert_eq!((user.failed_logons, user.locked_until), (0, None));
    assert!(matches!(
        store.record_failed_logon("nobody", 3, &until).await,
        Err(StoreError::NotFound { .. })
    ));
}

fn key(kid: &str, at: i64) -> switchboard_store::oauth::OAuthKeyNew {
    switchboard_store::oauth::OAuthKeyNew {
        kid: kid.into(),
        algorithm: "ES256".into(),
        private_key: format!("private-{kid}"),
        public_jwk: format!(r#"{{"kty":"EC","kid":"{kid}"}}"#),
        created_at: switchboard_store::time_text(at),
    }
}

async fn oauth_keys_and_clients(backend: &str) {
    use switchboard_store::time_text;
    let (store, _dir) = open(backend).await;
    assert!(store
        .create_first_oauth_key("bootstrap", &key("k1", 1000))
        .await
        .unwrap());
    assert!(!store
        .create_first_oauth_key("bootstrap", &key("k0", 1001))
        .await
        .unwrap());
    let keys = store.oauth_key_material().await.unwrap();
    assert_eq!(keys.len(), 1);
    assert_eq!(keys[0].private_key.as_deref(), Some("private-k1"));
    assert!(
        !format!("{keys:?}").contains("private-k1"),
        "Debug shows no private key"
    );
    // Sealed at rest, redacted from SQL.
    let r = store
        .query_read_only("select private_key_enc from oauthkey")
        .await
        .unwrap();
    assert_eq!(r.rows[0][0], serde_json::json!("<redacted>"));

    let retired = store
        .rotate_oauth_key("admin", &key("k2", 2000), &time_text(2000), &time_text(0))
        .await
        .unwrap();
    assert_eq!(retired, vec!["k1".to_string()]);
    let retired = store
        .rotate_oauth_key(
            "admin",
            &key("k3", 3000),
            &time_text(3000),
            &time_text(2500),
        )
        .await
        .unwrap();
    assert_eq!(retired, vec!["k2".to_string()]);
    // k1 was retired before 2500: deleted.
    let public = store.list_oauth_keys().await.unwrap();
    let kids: Vec<_> = public
        .iter()
        .map(|k| (k.kid.as_str(), k.retired_at.is_some()))
        .collect();
    assert_eq!(kids, vec![("k3", false), ("k2", true)]);
    assert_eq!(public[0].public_jwk["kid"], "k3");
    assert!(matches!(
        store
            .rotate_oauth_key("admin", &key("k3", 4000), &time_text(4000), &time_text(0))
            .await,
        Err(StoreError::Conflict { .. })
    ));
    let audit = serde_json::to_string(&store.list_audit(10).await.unwrap()).unwrap();
    assert!(
        audit.contains("\"rotate\"") && !audit.contains("private-k"),
        "{audit}"
    );

    let jabber = OAuthClient {
        client_id: "jabber".into(),
        name: "Cisco Jabber".into(),
        kind: OAuthClientKind::Jabber,
        redirect_uris: vec!["http://127.0.0.1/*".into()],
        created_at: time_text(1000),
    };
    assert!(store
        .ensure_oauth_client("bootstrap", &jabber)
        .await
        .unwrap());
    assert!(!store
        .ensure_oauth_client("bootstrap", &jabber)
        .await
        .unwrap());
    assert_eq!(
        store.get_oauth_client("jabber").await.unwrap(),
        Some(jabber.clone())
    );
    assert_eq!(store.get_oauth_client("nope").await.unwrap(), None);
    assert_eq!(
        store.list_oauth_clients().await.unwrap(),
        vec![jabber.clone()]
    );
    let bad = OAuthClient {
        client_id: "has space".into(),
        ..jabber
    };
    assert_eq!(
        field_of(store.ensure_oauth_client("admin", &bad).await.unwrap_err()),
        "client_id"
    );
}

fn refresh(
    hash: &str,
    family: &str,
    userid: &str,
    created: i64,
    expires: i64,
) -> switchboard_store::oauth::RefreshTokenNew {
    switchboard_store::oauth::RefreshTokenNew {
        token_hash: hash.into(),
        family_id: family.into(),
        userid: userid.into(),
        device: Some("CSFwwhite".into()),
        client_id: "jabber".into(),
        scope: "sip".into(),
        created_at: switchboard_store::time_text(created),
        expires_at: switchboard_store::time_text(expires),
    }
}

async fn refresh_rotation_and_revocation(backend: &str) {
    use switchboard_store::oauth::RefreshRotation;
    use switchboard_store::time_text;
    let (store, _dir) = open(backend).await;
    local_user(&store, "wwhite").await;
    local_user(&store, "jpinkman").await;
    store
        .insert_refresh_token(&refresh("h1", "f1", "wwhite", 100, 10_000))
        .await
        .unwrap();
    let row = store.find_refresh_token("h1").await.unwrap().unwrap();
    assert_eq!(
        (
            row.family_id.as_str(),
            row.scope.as_str(),
            row.rotated_at.as_deref()
        ),
        ("f1", "sip", None)
    );
    assert_eq!(store.find_refresh_token("nope").await.unwrap(), None);

    // Rotation: h1 -> h2.
    let t = time_text(200);
    match store
        .rotate_refresh_token("h1", &refresh("h2", "f1", "wwhite", 200, 10_000), &t)
        .await
        .unwrap()
    {
        RefreshRotation::Rotated(old) => assert_eq!(old.token_hash, "h1"),
        other => panic!("{other:?}"),
    }
    assert!(store.find_refresh_token("h2").await.unwrap().is_some());
    assert_eq!(
        store
            .rotate_refresh_token("zz", &refresh("h9", "f1", "wwhite", 200, 10_000), &t)
            .await
            .unwrap(),
        RefreshRotation::Unknown
    );
    assert!(store
        .revoked_refresh_families(&time_text(0))
        .await
        .unwrap()
        .is_empty());
    // Replaying h1 revokes the family, h2 included; nothing new is stored.
    let t = time_text(300);
    assert!(matches!(
        store
            .rotate_refresh_token("h1", &refresh("h3", "f1", "wwhite", 300, 10_000), &t)
            .await
            .unwrap(),
        RefreshRotation::Reused(_)
    ));
    assert!(store.find_refresh_token("h3").await.unwrap().is_none());
    assert!(matches!(
        store
            .rotate_refresh_token("h2", &refresh("h4", "f1", "wwhite", 300, 10_000), &t)
            .await
            .unwrap(),
        RefreshRotation::Revoked(_)
    ));
    assert_eq!(
        store
            .revoked_refresh_families(&time_text(250))
            .await
            .unwrap(),
        vec!["f1".to_string()]
    );
    assert!(store
        .revoked_refresh_families(&time_text(301))
        .await
        .unwrap()
        .is_empty());
    let log = store.list_audit(1).await.unwrap();
    assert_eq!(
        (log[0].action.as_str(), log[0].object_id.as_str()),
        ("revoke", "f1")
    );

    // Expired tokens are not rotated.
    store
        .insert_refresh_token(&refresh("e1", "f2", "wwhite", 100, 400))
        .await
        .unwrap();
    assert!(matches!(
        store
            .rotate_refresh_token(
                "e1",
                &refresh("e2", "f2", "wwhite", 500, 10_000),
                &time_text(500)
            )
            .await
            .unwrap(),
        RefreshRotation::Expired(_)
    ));

    // Revoking one family.
    store
        .insert_refresh_token(&refresh("g1", "f3", "wwhite", 100, 10_000))
        .await
        .unwrap();
    assert_eq!(
        store
            .revoke_refresh_family("wwhite", "f3", &time_text(600), "revoked by the client")
            .await
            .unwrap(),
        1
    );
    assert_eq!(
        store
            .revoke_refresh_family("wwhite", "f3", &time_text(601), "again")
            .await
            .unwrap(),
        0
    );

    // Revoke-all for a user touches only that user.
    store
        .insert_refresh_token(&refresh("a1", "f4", "wwhite", 100, 10_000))
        .await
        .unwrap();
    store
        .insert_refresh_token(&refresh("b1", "f5", "wwhite", 100, 10_000))
        .await
        .unwrap();
    store
        .insert_refresh_token(&refresh("p1", "f6", "jpinkman", 100, 10_000))
        .await
        .unwrap();
    let at = time_text(700);
    assert_eq!(
        store
            .revoke_user_oauth("admin", "wwhite", &at)
            .await
            .unwrap(),
        3,
        "f2 (expired, never revoked), f4, f5"
    );
    let mut revoked = store.revoked_refresh_families(&at).await.unwrap();
    revoked.sort();
    assert_eq!(
        revoked,
        vec!["f2".to_string(), "f4".to_string(), "f5".to_string()]
    );
    let states = store.oauth_user_states().await.unwrap();
    let w = states.iter().find(|s| s.userid == "wwhite").unwrap();
    let j = states.iter().find(|s| s.userid == "jpinkman").unwrap();
    assert_eq!(
        (w.enabled, w.revoked_before.as_deref()),
        (true, Some(at.as_str()))
    );
    assert_eq!(j.revoked_before, None);
    assert!(matches!(
        store.revoke_user_oauth("admin", "nobody", &at).await,
        Err(StoreError::NotFound { .. })
    ));

    // Access tokens revoked by jti, until they expire.
    store
        .revoke_access_token(
            "wwhite",
            "jti-1",
            "wwhite",
            &time_text(900),
            &time_text(800),
        )
        .await
        .unwrap();
    store
        .revoke_access_token(
            "wwhite",
            "jti-1",
            "wwhite",
            &time_text(900),
            &time_text(801),
        )
        .await
        .unwrap();
    assert_eq!(
        store.revoked_access_tokens(&time_text(850)).await.unwrap(),
        vec!["jti-1".to_string()]
    );
    assert!(store
        .revoked_access_tokens(&time_text(901))
        .await
        .unwrap()
        .is_empty());
    let audit = store.list_audit(20).await.unwrap();
    assert_eq!(
        audit
            .iter()
            .filter(|e| e.object_type == "oauthaccesstoken")
            .count(),
        1,
        "revoked once, audited once"
    );

    // Housekeeping.
    let purged = store
        .purge_oauth_state(&time_text(950), &time_text(450), &time_text(0))
        .await
        .unwrap();
    assert_eq!(purged, 2, "e1 (expired at 400) and jti-1");
    assert!(store.find_refresh_token("e1").await.unwrap().is_none());
    assert!(store.find_refresh_token("a1").await.unwrap().is_some());
    // Deleting a user deletes its tokens.
    store.delete_user("admin", "jpinkman").await.unwrap();
    assert!(store.find_refresh_token("p1").await.unwrap().is_none());
}

async fn oauth_codes_issuers_and_params(backend: &str) {
    use switchboard_store::oauth::{CodeRedemption, OAuthCodeNew};
    use switchboard_store::time_text;
    let (store, _dir) = open(backend).await;
    local_user(&store, "wwhite").await;
    let code = OAuthCodeNew {
        code_hash: "c1".into(),
        client_id: "jabber".into(),
        userid: "wwhite".into(),
        redirect_uri: "http://127.0.0.1:5555/cb".into(),
        code_challenge: "challenge".into(),
        scope: "sip".into(),
        device: None,
        created_at: time_text(100),
        expires_at: time_text(160),
    };
    store.insert_oauth_code(&code).await.unwrap();
    match store
        .redeem_oauth_code("c1", &time_text(110), "fam", "jti")
        .await
        .unwrap()
    {
        CodeRedemption::Fresh(row) => {
            assert_eq!(
                (row.userid.as_str(), row.redirect_uri.as_str()),
                ("wwhite", "http://127.0.0.1:5555/cb")
            );
        }
        other => panic!("{other:?}"),
    }
    match store
        .redeem_oauth_code("c1", &time_text(120), "fam2", "jti2")
        .await
        .unwrap()
    {
        CodeRedemption::Replayed(row) => {
            assert_eq!(
                (row.family_id.as_deref(), row.access_jti.as_deref()),
                (Some("fam"), Some("jti"))
            );
        }
        other => panic!("{other:?}"),
    }
    assert_eq!(
        store
            .redeem_oauth_code("c2", &time_text(120), "f", "j")
            .await
            .unwrap(),
        CodeRedemption::Unknown
    );
    let r = store
        .query_read_only("select code_hash from oauthcode")
        .await
        .unwrap();
    assert_eq!(r.rows[0][0], serde_json::json!("<redacted>"));

    let jwks = serde_json::json!({"keys": [{"kty": "EC", "crv": "P-256", "kid": "a", "x": "x", "y": "y"}]});
    let new = OAuthIssuerNew {
        issuer: "https://idp.example.com".into(),
        audience: "switchboard".into(),
        jwks: jwks.clone(),
    };
    let issuer = store.put_oauth_issuer("admin", &new).await.unwrap();
    assert_eq!(
        (issuer.issuer.as_str(), &issuer.jwks),
        ("https://idp.example.com", &jwks)
    );
    let replaced = store
        .put_oauth_issuer(
            "admin",
            &OAuthIssuerNew {
                audience: "other".into(),
                ..new.clone()
            },
        )
        .await
        .unwrap();
    assert_eq!(replaced.audience, "other");
    assert_eq!(store.list_oauth_issuers().await.unwrap().len(), 1);
    for (bad, field) in [
        (
            OAuthIssuerNew {
                issuer: "http://idp.example.com".into(),
                ..new.clone()
            },
            "issuer",
        ),
        (
            OAuthIssuerNew {
                issuer: "https://idp.example.com/".into(),
                ..new.clone()
            },
            "issuer",
        ),
        (
            OAuthIssuerNew {
                audience: "".into(),
                ..new.clone()
            },
            "audience",
        ),
        (
            OAuthIssuerNew {
                jwks: serde_json::json!({"keys": []}),
                ..new.clone()
            },
            "jwks",
        ),
        (
            OAuthIssuerNew {
                jwks: serde_json::json!([1]),
                ..new.clone()
            },
            "jwks",
        ),
        (
            OAuthIssuerNew {
                jwks: serde_json::json!({"keys": [{"kty": "EC"}]}),
                ..new.clone()
            },
            "jwks.keys[0].kid",
        ),
        (
            OAuthIssuerNew {
                jwks: serde_json::json!({"keys": [{"kid": "a"}, {"kid": "a"}]}),
                ..new.clone()
            },
            "jwks.keys[1].kid",
        ),
    ] {
        assert_eq!(
            field_of(store.put_oauth_issuer("admin", &bad).await.unwrap_err()),
            field
        );
    }
    store
        .delete_oauth_issuer("admin", "https://idp.example.com")
        .await
        .unwrap();
    assert!(matches!(
        store
            .delete_oauth_issuer("admin", "https://idp.example.com")
            .await,
        Err(StoreError::NotFound { .. })
    ));

    // The OAuth parameters: text values, checked.
    assert_eq!(store.get_param("OAuthIssuer").await.unwrap().value, "");
    assert_eq!(
        store.get_param("OAuthAudience").await.unwrap().value,
        "switchboard"
    );
    let p = store
        .set_param("admin", "OAuthIssuer", " https://ucm1.example.com:8443 ")
        .await
        .unwrap();
    assert_eq!(p.value, "https://ucm1.example.com:8443");
    assert_eq!(
        store
            .set_param("admin", "OAuthIssuer", "")
            .await
            .unwrap()
            .value,
        ""
    );
    for bad in [
        "http://ucm1",
        "https://",
        "https://a/b?c=d",
        "https://ucm1/",
        "ftp://x",
    ] {
        assert_eq!(
            field_of(
                store
                    .set_param("admin", "OAuthIssuer", bad)
                    .await
                    .unwrap_err()
            ),
            "OAuthIssuer",
            "{bad}"
        );
    }
    assert_eq!(
        field_of(
            store
                .set_param("admin", "OAuthAudience", "a b")
                .await
                .unwrap_err()
        ),
        "OAuthAudience"
    );
    assert_eq!(
        field_of(
            store
                .set_param("admin", "OAuthAudience", "")
                .await
                .unwrap_err()
        ),
        "OAuthAudience"
    );
    store
        .set_param("admin", "OAuthAudience", "api://switchboard")
        .await
        .unwrap();
}
