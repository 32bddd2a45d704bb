//! LDAP / Active Directory authentication against a real Samba AD domain controller on
//! loopback (started by `scripts/test-ad.sh`, which `scripts/test.sh` runs; the users below are
//! the ones it provisions). Every case of issue 5: the CUCM filter on the global catalog (3268)
//! and LDAPS (3269), StartTLS, wrong password, disabled, locked out, must change, expired,
//! outside the base, ambiguous, special characters, a DN with an escaped comma, empty
//! password, failover from an unreachable or silent server, untrusted CA, name mismatch, wrong
//! service password, plain bind refused, bad search base; and the service bind paid once per
//! pooled connection.
//!
//! Without `SWITCHBOARD_TEST_AD` (a plain `cargo test`) every test here says loudly that it is
//! skipped and passes; `scripts/test.sh` always provides it.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use switchboard_authn::{
    AuthFailure, Authenticator, LdapFailure, LdapOptions, ManualClock, Timeouts,
};
use switchboard_store::model::{
    LdapServer, LdapSettingsPatch, LdapTls, UserNew, UserPatch, UserSource,
};
use switchboard_store::{testing, Store};
use switchboard_trace::{Level, Service, TraceConfig, Tracer};

const BASE: &str = "OU=Breaking Bad,DC=joshlab,DC=net";
const SERVICE_DN: &str = "Administrator@joshlab.net";
const SERVICE_PW: &str = "Adm1n-Pass!";
/// Every test user's password (8 characters, as in 000 step 5).
const PW: &str = "Heisenberg-8";
const WWHITE_DN: &str = "CN=Walter White,OU=Breaking Bad,DC=joshlab,DC=net";
const DEFAULT_FILTER: &str = switchboard_store::validate::DEFAULT_LDAP_FILTER;

/// The test directory's addresses and files, or `None` (with a loud message) without one.
struct Ad {
    /// The DC that allows plain binds (127.0.0.1).
    host: String,
    /// The DC that requires TLS for simple binds (127.0.0.2).
    strong: String,
    dir: PathBuf,
}

impl Ad {
    fn get(test: &str) -> Option<Ad> {
        let Ok(host) = std::env::var("SWITCHBOARD_TEST_AD") else {
            eprintln!(
                "\n!!!!! SKIPPED {test}: SWITCHBOARD_TEST_AD is not set; run ./scripts/test.sh \
                 (or eval \"$(scripts/test-ad.sh)\") to test against a real Samba AD !!!!!\n"
            );
            return None;
        };
        Some(Ad {
            host,
            strong: std::env::var("SWITCHBOARD_TEST_AD_STRONG")
                .unwrap_or_else(|_| "127.0.0.2".into()),
            dir: std::env::var("SWITCHBOARD_TEST_AD_DIR")
                .unwrap_or_else(|_| "/tmp/switchboard-test-ad".into())
                .into(),
        })
    }

    fn ca(&self) -> String {
        std::fs::read_to_string(self.dir.join("pki/ca.pem")).expect("the test CA")
    }

    fn other_ca(&self) -> String {
        std::fs::read_to_string(self.dir.join("pki/other-ca.pem")).expect("the other CA")
    }

    fn plain(&self, port: u32) -> LdapServer {
        server(&self.host, port, LdapTls::Plain, None)
    }

    fn ldaps(&self, port: u32) -> LdapServer {
        server(&self.host, port, LdapTls::Ldaps, Some(self.ca()))
    }
}

fn server(host: &str, port: u32, tls: LdapTls, ca_pem: Option<String>) -> LdapServer {
    LdapServer {
        host: host.into(),
        port,
        tls,
        ca_pem,
    }
}

struct Setup {
    store: Store,
    auth: Authenticator,
    tracer: Tracer,
    _dir: tempfile::TempDir,
}

impl Setup {
    /// A store whose LDAP settings name `servers` (service account, base and filter as in
    /// 000), with the LDAP users of the test domain.
    async fn new(servers: Vec<LdapServer>) -> Setup {
        let dir = tempfile::tempdir().unwrap();
        let config = testing::fresh_config("sqlite", dir.path()).await;
        let crypto = switchboard_authn::NodeCrypto(
            switchboard_auth::secretbox::SecretKey::from_bytes([7; 32]),
        );
        let store = Store::open(&config, Arc::new(crypto)).await.unwrap();
        let tracer = Tracer::open(TraceConfig::new(dir.path().join("traces"))).unwrap();
        tracer.set_level(Service::Auth, Level::Detailed);
        let clock = Arc::new(ManualClock::new(1_800_000_000));
        let auth = Authenticator::with_clock(store.clone(), tracer.clone(), clock);
        store
            .update_ldap(
                "admin",
                &LdapSettingsPatch {
                    enabled: Some(true),
                    servers: Some(servers),
                    service_dn: Some(SERVICE_DN.into()),
                    service_password: Some(SERVICE_PW.into()),
                    search_bases: Some(vec![BASE.into()]),
                    ..Default::default()
                },
            )
            .await
            .unwrap();
        for userid in [
            "wwhite",
            "skyler",
            "lalo",
            "tuco",
            "hector",
            "gfring",
            "gboetticher",
            "hschrader",
            "nobody",
        ] {
            store
                .create_user(
                    "admin",
                    &UserNew {
                        userid: userid.into(),
                        source: UserSource::Ldap,
                        enabled: true,
                        ..Default::default()
                    },
                )
                .await
                .unwrap();
        }
        Setup {
            store,
            auth,
            tracer,
            _dir: dir,
        }
    }

    async fn patch(&self, patch: LdapSettingsPatch) {
        self.store.update_ldap("admin", &patch).await.unwrap();
    }

    async fn login(&self, userid: &str, password: &str) -> Result<String, AuthFailure> {
        self.auth
            .authenticate(userid, password)
            .await
            .map(|u| u.userid)
    }

    async fn ldap_err(&self, userid: &str, password: &str) -> LdapFailure {
        match self.auth.authenticate(userid, password).await {
            Err(AuthFailure::Ldap(f)) => f,
            other => panic!("{userid}: expected an LDAP failure, got {other:?}"),
        }
    }

    async fn counts(&self) -> (u64, u64) {
        let d = self.auth.ldap_directory(true).await.unwrap().unwrap();
        (d.service_binds(), d.user_binds())
    }

    fn traces(&self) -> String {
        let all = self.tracer.read_back(&[Service::Auth]);
        assert!(!all.contains(PW), "a password reached the traces:\n{all}");
        assert!(!all.contains(SERVICE_PW), "a password reached the traces");
        all
    }

    /// The trace texts (after `|AppInfo |`) in order.
    fn trace_texts(&self) -> Vec<String> {
        self.traces()
            .lines()
            .filter_map(|l| l.split_once("|AppInfo |").map(|(_, t)| t.to_owned()))
            .collect()
    }
}

/// Asserts that `expected` appear in `texts` in this order (other lines may come between).
fn assert_in_order(texts: &[String], expected: &[&str]) {
    let mut at = 0;
    for want in expected {
        match texts[at..].iter().position(|t| t == want) {
            Some(i) => at += i + 1,
            None => panic!(
                "trace line `{want}` missing (in order) from:\n{}",
                texts.join("\n")
            ),
        }
    }
}

#[tokio::test]
async fn cucm_filter_on_the_global_catalog_traced_as_000() {
    let Some(ad) = Ad::get("cucm_filter_on_the_global_catalog_traced_as_000") else {
        return;
    };
    let s = Setup::new(vec![ad.plain(3268)]).await;
    assert_eq!(s.login("wwhite", PW).await.unwrap(), "wwhite");
    let url = format!("ldap://{}:3268", ad.host);
    let texts = s.trace_texts();
    assert_in_order(
        &texts,
        &[
            "AuthenticationImpl::login:enter",
            "AuthenticationImpl::retrieveCredential:enter",
            "userid is wwhite",
            "AuthenticationImpl::login - no encryptedpassword Credential, look for password",
            "AuthenticationImpl::login (Auth with password. Calling authenticateUserWithPassword)",
            "authenticationDB::authenticateUserWithPassword():enter",
            "Credential Length is: 12",
            "authenticationDB::login (Authenticating using LDAP)",
            "authenticationLDAP.cpp::authenticateUserWithPassword():enter",
            "LDAP userid is 'wwhite'",
            "authenticationUtils::escapeLDAPSpecialCharsForFilter():enter",
            "After Escaping for LDAP special Characters for Filter = wwhite",
            "LDAP not initialized...connecting...",
            "authenticationLDAP::connect():enter",
            "authenticationLDAP::Authenticate():enter",
            &format!("Authenticating with SSL not enabled ({url})"),
            "LDAP authentication bind SUCCESS for Administrator@joshlab.net",
            "Connection # (0): sucessful",
            "Details ::",
            &format!("{} 3268", ad.host),
            "Available Servers (1)",
            "authenticationLDAP::Authenticate():exit(0)",
            "Authentication of LDAP administrator successful.",
            "Retrieve the specified user entry: (&(&(objectclass=user)(!(objectclass=Computer))(!(UserAccountControl:1.2.840.113556.1.4.803:=2)))(sAMAccountName=wwhite))",
            "LDAP Search for User base: 'OU=Breaking Bad,DC=joshlab,DC=net'",
            "LDAP Search complete. Code: 0",
            "Get DN of entry.",
            &format!("Got DN: {WWHITE_DN}"),
            &format!("Attempt to authenticate DN: {WWHITE_DN}"),
            "authenticationLDAP::Authenticate():enter",
            &format!("Authenticating with SSL not enabled ({url})"),
            &format!("LDAP authentication bind SUCCESS for {WWHITE_DN}"),
            "Available Servers (1)",
            "authenticationLDAP::Authenticate():exit(0)",
            "authenticationLDAP::authenticateUserWithPassword():Exit(0)",
            "Successfully authenticated user: wwhite",
        ],
    );
    // The service bind is paid once per pooled connection, not once per login.
    for _ in 0..20 {
        s.login("wwhite", PW).await.unwrap();
    }
    assert_eq!(s.counts().await, (1, 21));
    assert!(s
        .traces()
        .contains("LDAP already initialized...reusing pooled connection # (0)"));
    // Concurrent logins use at most the pool's connections.
    let logins = (0..16).map(|_| s.login("wwhite", PW));
    for r in futures_util::future::join_all(logins).await {
        r.unwrap();
    }
    let (service, user) = s.counts().await;
    assert!(
        (1..=LdapOptions::default().pool_size as u64).contains(&service),
        "{service}"
    );
    assert_eq!(user, 37);
}

#[tokio::test]
async fn ldaps_on_3269_and_starttls_on_389() {
    let Some(ad) = Ad::get("ldaps_on_3269_and_starttls_on_389") else {
        return;
    };
    let s = Setup::new(vec![ad.ldaps(3269)]).await;
    s.login("wwhite", PW).await.unwrap();
    let texts = s.trace_texts();
    let url = format!("ldaps://{}:3269", ad.host);
    assert_in_order(
        &texts,
        &[
            &format!("Authenticating with SSL enabled ({url})"),
            "LDAP authentication bind SUCCESS for Administrator@joshlab.net",
            &format!("Authenticating with SSL enabled ({url})"),
            &format!("LDAP authentication bind SUCCESS for {WWHITE_DN}"),
            "Successfully authenticated user: wwhite",
        ],
    );
    let mut tls = server(&ad.host, 389, LdapTls::Starttls, Some(ad.ca()));
    s.patch(LdapSettingsPatch {
        servers: Some(vec![tls.clone()]),
        ..Default::default()
    })
    .await;
    s.login("wwhite", PW).await.unwrap();
    assert!(s.traces().contains(&format!(
        "Authenticating with SSL enabled (ldap://{}:389)",
        ad.host
    )));
    // LDAPS on 636 too.
    tls.host = ad.host.clone();
    tls.port = 636;
    tls.tls = LdapTls::Ldaps;
    s.patch(LdapSettingsPatch {
        servers: Some(vec![tls]),
        ..Default::default()
    })
    .await;
    s.login("wwhite", PW).await.unwrap();
}

#[tokio::test]
async fn wrong_password_is_not_retried_on_the_next_server() {
    let Some(ad) = Ad::get("wrong_password_is_not_retried_on_the_next_server") else {
        return;
    };
    let s = Setup::new(vec![ad.plain(389), ad.plain(3268)]).await;
    assert_eq!(
        s.ldap_err("lalo", "wrong-password").await,
        LdapFailure::WrongPassword
    );
    assert_eq!(s.counts().await, (1, 1));
    let traces = s.traces();
    assert!(!traces.contains("failing over"), "{traces}");
    assert!(traces.contains(
        "LDAP authentication bind FAILED for CN=Lalo Salamanca,OU=Breaking Bad,DC=joshlab,DC=net (wrong password)"
    ));
    assert!(traces.contains("Failed to authenticate user: lalo (LDAP: wrong password)"));
    assert!(AuthFailure::Ldap(LdapFailure::WrongPassword).is_bad_credentials());
    // The right password still works (nothing was locked).
    s.login("lalo", PW).await.unwrap();
}

#[tokio::test]
async fn account_states_from_ad_subcodes() {
    let Some(ad) = Ad::get("account_states_from_ad_subcodes") else {
        return;
    };
    let s = Setup::new(vec![ad.plain(389)]).await;
    // The CUCM filter leaves disabled users out: not found.
    assert!(matches!(
        s.ldap_err("gboetticher", PW).await,
        LdapFailure::UserNotFound { .. }
    ));
    assert_eq!(
        s.ldap_err("hector", PW).await,
        LdapFailure::PasswordMustChange
    );
    assert_eq!(s.ldap_err("gfring", PW).await, LdapFailure::AccountExpired);
    // A filter that finds disabled users: AD's 533.
    s.patch(LdapSettingsPatch {
        filter_template: Some("(&(objectclass=user)(sAMAccountName={userid}))".into()),
        ..Default::default()
    })
    .await;
    assert_eq!(
        s.ldap_err("gboetticher", PW).await,
        LdapFailure::AccountDisabled
    );
    let f = AuthFailure::Ldap(LdapFailure::AccountDisabled);
    assert!(!f.is_bad_credentials() && !f.is_directory_fault());
    // Locked out by AD (threshold 2 for tuco): wrong passwords, then even the right one.
    let mut locked = false;
    for _ in 0..4 {
        match s.ldap_err("tuco", "wrong-password").await {
            LdapFailure::WrongPassword => {}
            LdapFailure::AccountLockedOut => {
                locked = true;
                break;
            }
            other => panic!("{other:?}"),
        }
    }
    assert!(locked, "tuco was never locked out");
    assert_eq!(s.ldap_err("tuco", PW).await, LdapFailure::AccountLockedOut);
    // Disabled in Switchboard, right password in the directory: disabled.
    s.store
        .update_user(
            "admin",
            "wwhite",
            &UserPatch {
                enabled: Some(false),
                ..Default::default()
            },
        )
        .await
        .unwrap();
    assert_eq!(s.login("wwhite", PW).await, Err(AuthFailure::UserDisabled));
}

#[tokio::test]
async fn not_found_ambiguous_and_escaping() {
    let Some(ad) = Ad::get("not_found_ambiguous_and_escaping") else {
        return;
    };
    let s = Setup::new(vec![ad.plain(3268)]).await;
    // Outside the search base (OU=DEA) and not in the directory at all.
    for userid in ["hschrader", "nobody"] {
        assert_eq!(
            s.ldap_err(userid, PW).await,
            LdapFailure::UserNotFound {
                bases: format!("'{BASE}'")
            },
        );
    }
    // Special characters: escaped, matching only the user whose name they spell.
    let report = s.auth.test_ldap("jesse(p)", PW).await;
    assert_eq!(
        report.outcome.as_deref(),
        Ok("CN=Jesse Parens,OU=Breaking Bad,DC=joshlab,DC=net")
    );
    assert!(report.steps.contains(
        &"After Escaping for LDAP special Characters for Filter = jesse\\28p\\29".into()
    ));
    for userid in [
        "*",
        "w*",
        "wwhite)(sAMAccountName=*",
        "jesse\\28p\\29",
        "wwhite\\",
        "(",
        "*)(|(cn=*",
    ] {
        let report = s.auth.test_ldap(userid, PW).await;
        assert!(
            matches!(
                report.outcome,
                Err(AuthFailure::Ldap(LdapFailure::UserNotFound { .. }))
            ),
            "{userid}: {:?}",
            report.outcome
        );
    }
    let report = s.auth.test_ldap("w*", PW).await;
    assert!(report
        .steps
        .contains(&"After Escaping for LDAP special Characters for Filter = w\\2a".into()));
    // A DN with an escaped comma binds as itself.
    s.login("skyler", PW).await.unwrap();
    assert!(s
        .traces()
        .contains("Got DN: CN=White\\, Skyler,OU=Breaking Bad,DC=joshlab,DC=net"));
    // Two entries: ambiguous (the filter matches both Ehrmantrauts by surname).
    s.patch(LdapSettingsPatch {
        filter_template: Some("(&(objectclass=user)(sn={userid}))".into()),
        ..Default::default()
    })
    .await;
    let report = s.auth.test_ldap("Ehrmantraut", PW).await;
    assert_eq!(
        report.outcome,
        Err(AuthFailure::Ldap(LdapFailure::UserAmbiguous { count: 2 }))
    );
    // A search base that does not exist.
    s.patch(LdapSettingsPatch {
        filter_template: Some(DEFAULT_FILTER.into()),
        search_bases: Some(vec!["OU=Nowhere,DC=joshlab,DC=net".into()]),
        ..Default::default()
    })
    .await;
    s.patch(LdapSettingsPatch {
        servers: Some(vec![ad.plain(389)]),
        ..Default::default()
    })
    .await;
    assert!(matches!(
        s.ldap_err("wwhite", PW).await,
        LdapFailure::SearchBaseInvalid { .. }
    ));
}

#[tokio::test]
async fn empty_password_is_refused_before_any_bind() {
    let Some(ad) = Ad::get("empty_password_is_refused_before_any_bind") else {
        return;
    };
    let s = Setup::new(vec![ad.plain(389)]).await;
    assert_eq!(s.ldap_err("wwhite", "").await, LdapFailure::EmptyPassword);
    assert_eq!(s.counts().await, (0, 0));
    assert!(AuthFailure::Ldap(LdapFailure::EmptyPassword).is_bad_credentials());
}

#[tokio::test]
async fn failover_from_unreachable_and_silent_servers() {
    let Some(ad) = Ad::get("failover_from_unreachable_and_silent_servers") else {
        return;
    };
    // Nothing listens on 127.0.0.3:389: connection refused, then the real DC.
    let s = Setup::new(vec![
        server("127.0.0.3", 389, LdapTls::Plain, None),
        ad.plain(389),
    ])
    .await;
    s.login("wwhite", PW).await.unwrap();
    let traces = s.traces();
    assert!(
        traces.contains("Connection # (0): failed (ldap://127.0.0.3:389): directory server ldap://127.0.0.3:389 unreachable"),
        "{traces}"
    );
    assert!(traces.contains(&format!("failing over to ldap://{}:389", ad.host)));
    assert!(traces.contains("Available Servers (2)"));
    // A server that accepts and never answers: the operation deadline, then the next one.
    let silent = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = silent.local_addr().unwrap().port();
    let held = tokio::spawn(async move {
        let mut kept = Vec::new();
        while let Ok((conn, _)) = silent.accept().await {
            kept.push(conn);
        }
    });
    s.auth.set_ldap_options(LdapOptions {
        timeouts: Timeouts {
            connect: Duration::from_millis(500),
            operation: Duration::from_millis(500),
        },
        ..Default::default()
    });
    s.patch(LdapSettingsPatch {
        servers: Some(vec![
            server("127.0.0.1", u32::from(port), LdapTls::Plain, None),
            ad.plain(389),
        ]),
        ..Default::default()
    })
    .await;
    let started = std::time::Instant::now();
    s.login("wwhite", PW).await.unwrap();
    assert!(started.elapsed() < Duration::from_secs(3));
    assert!(s
        .traces()
        .contains("did not answer the service account bind within 1 s"));
    // Only the silent server: a named timeout.
    s.patch(LdapSettingsPatch {
        servers: Some(vec![server(
            "127.0.0.1",
            u32::from(port),
            LdapTls::Plain,
            None,
        )]),
        ..Default::default()
    })
    .await;
    assert!(matches!(
        s.ldap_err("wwhite", PW).await,
        LdapFailure::Timeout {
            operation: "service account bind",
            ..
        }
    ));
    held.abort();
}

#[tokio::test]
async fn tls_untrusted_and_name_mismatch() {
    let Some(ad) = Ad::get("tls_untrusted_and_name_mismatch") else {
        return;
    };
    let s = Setup::new(vec![server(
        &ad.host,
        636,
        LdapTls::Ldaps,
        Some(ad.other_ca()),
    )])
    .await;
    let f = s.ldap_err("wwhite", PW).await;
    assert!(matches!(f, LdapFailure::TlsUntrusted { .. }), "{f:?}");
    assert!(AuthFailure::Ldap(f).is_directory_fault());
    // The certificate names dc1.joshlab.net, joshlab.net and 127.0.0.1, not localhost.
    s.patch(LdapSettingsPatch {
        servers: Some(vec![server(
            "localhost",
            636,
            LdapTls::Ldaps,
            Some(ad.ca()),
        )]),
        ..Default::default()
    })
    .await;
    assert_eq!(
        s.ldap_err("wwhite", PW).await,
        LdapFailure::TlsNameMismatch {
            server: "ldaps://localhost:636".into(),
            host: "localhost".into()
        }
    );
    // StartTLS is checked the same way.
    s.patch(LdapSettingsPatch {
        servers: Some(vec![server(
            &ad.host,
            389,
            LdapTls::Starttls,
            Some(ad.other_ca()),
        )]),
        ..Default::default()
    })
    .await;
    assert!(matches!(
        s.ldap_err("wwhite", PW).await,
        LdapFailure::TlsUntrusted { .. }
    ));
    // A bad certificate on the first server fails over to the second.
    s.patch(LdapSettingsPatch {
        servers: Some(vec![
            server("localhost", 636, LdapTls::Ldaps, Some(ad.ca())),
            ad.ldaps(636),
        ]),
        ..Default::default()
    })
    .await;
    s.login("wwhite", PW).await.unwrap();
}

#[tokio::test]
async fn service_account_and_plain_bind_refusals() {
    let Some(ad) = Ad::get("service_account_and_plain_bind_refusals") else {
        return;
    };
    let s = Setup::new(vec![ad.plain(389), ad.plain(3268)]).await;
    s.patch(LdapSettingsPatch {
        service_password: Some("not-the-password".into()),
        ..Default::default()
    })
    .await;
    let f = s.ldap_err("wwhite", PW).await;
    assert!(
        matches!(&f, LdapFailure::ServiceBindFailed { dn, reason } if dn == SERVICE_DN && reason.contains("data 52e")),
        "{f:?}"
    );
    // Not retried on the second server (the same account would be locked twice as fast).
    assert_eq!(s.counts().await, (1, 0));
    assert!(!s.traces().contains("not-the-password"));
    // The DC that requires TLS refuses a plain simple bind (result 8).
    s.patch(LdapSettingsPatch {
        service_password: Some(SERVICE_PW.into()),
        servers: Some(vec![server(&ad.strong, 389, LdapTls::Plain, None)]),
        ..Default::default()
    })
    .await;
    let f = s.ldap_err("wwhite", PW).await;
    assert!(
        matches!(&f, LdapFailure::PlainBindRefused { reason, .. } if reason.contains("result 8")),
        "{f:?}"
    );
    // …and the next server is tried.
    s.patch(LdapSettingsPatch {
        servers: Some(vec![
            server(&ad.strong, 389, LdapTls::Plain, None),
            ad.plain(389),
        ]),
        ..Default::default()
    })
    .await;
    s.login("wwhite", PW).await.unwrap();
}

#[tokio::test]
async fn switched_off_and_settings_changes() {
    let Some(ad) = Ad::get("switched_off_and_settings_changes") else {
        return;
    };
    let s = Setup::new(vec![ad.plain(389)]).await;
    s.login("wwhite", PW).await.unwrap();
    assert_eq!(s.counts().await, (1, 1));
    s.patch(LdapSettingsPatch {
        enabled: Some(false),
        ..Default::default()
    })
    .await;
    assert!(matches!(
        s.login("wwhite", PW).await,
        Err(AuthFailure::DirectoryUnavailable {
            directory: "ldap",
            ..
        })
    ));
    // `ldap test` works while switched off; a new server list means new pools.
    s.patch(LdapSettingsPatch {
        servers: Some(vec![ad.plain(3268)]),
        ..Default::default()
    })
    .await;
    let report = s.auth.test_ldap("wwhite", PW).await;
    assert_eq!(report.outcome.as_deref(), Ok(WWHITE_DN));
    assert_eq!(s.counts().await, (1, 1));
    assert_eq!(
        report.steps.last().map(String::as_str),
        Some("Successfully authenticated user: wwhite")
    );
    assert!(report.steps.iter().all(|l| !l.contains(PW)));
}
