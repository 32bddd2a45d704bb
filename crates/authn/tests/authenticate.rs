//! The authentication service against a real store, on both backends: local users, the
//! credential policy on a clock the test moves, disabled / unknown / LDAP users, and traces
//! that carry lengths, never passwords.

use std::sync::Arc;

use switchboard_authn::{AuthFailure, Authenticator, ManualClock};
use switchboard_store::model::{UserNew, UserPatch, UserSource};
use switchboard_store::{testing, Store};
use switchboard_trace::{Level, Service, TraceConfig, Tracer};

const T0: i64 = 1_800_000_000;

struct Setup {
    store: Store,
    auth: Authenticator,
    clock: Arc<ManualClock>,
    tracer: Tracer,
    dir: tempfile::TempDir,
}

async fn setup(backend: &str) -> Setup {
    let dir = tempfile::tempdir().unwrap();
    let config = testing::fresh_config(backend, dir.path()).await;
    let crypto =
        switchboard_authn::NodeCrypto(switchboard_auth::secretbox::SecretKey::from_bytes([3; 32]));
    let store = Store::open(&config, Arc::new(crypto)).await.unwrap();
    let tracer = Tracer::open(TraceConfig::new(dir.path().join("traces"))).unwrap();
    tracer.set_level(Service::Auth, Level::Detailed);
    let clock = Arc::new(ManualClock::new(T0));
    let auth = Authenticator::with_clock(store.clone(), tracer.clone(), clock.clone());
    for (userid, password, source, enabled) in [
        ("wwhite", Some("Heisenberg-1"), UserSource::Local, true),
        ("skyler", Some("Car-Wash-22"), UserSource::Local, false),
        ("saul", None, UserSource::Local, true),
        ("jpinkman", None, UserSource::Ldap, true),
    ] {
        store
            .create_user(
                "admin",
                &UserNew {
                    userid: userid.into(),
                    password: password.map(str::to_owned),
                    source,
                    enabled,
                    ..Default::default()
                },
            )
            .await
            .unwrap();
    }
    Setup {
        store,
        auth,
        clock,
        tracer,
        dir,
    }
}

impl Setup {
    fn traces(&self) -> String {
        self.tracer.read_back(&[Service::Auth])
    }
}

macro_rules! both_backends {
    ($($name:ident),* $(,)?) => {
        mod sqlite { $( #[tokio::test] async fn $name() { super::$name("sqlite").await } )* }
        mod postgres { $( #[tokio::test] async fn $name() { super::$name("postgres").await } )* }
    };
}

both_backends!(local_users, credential_policy, who_cannot_log_in);

async fn local_users(backend: &str) {
    let s = setup(backend).await;
    let user = s.auth.authenticate("wwhite", "Heisenberg-1").await.unwrap();
    assert_eq!(
        (user.userid.as_str(), user.source),
        ("wwhite", UserSource::Local)
    );
    assert_eq!(
        s.auth.authenticate("wwhite", "heisenberg-1").await,
        Err(AuthFailure::WrongPassword)
    );
    assert_eq!(
        s.auth.authenticate("wwhite", "").await,
        Err(AuthFailure::WrongPassword)
    );
    let traces = s.traces();
    assert!(traces.contains("|userid is wwhite"), "{traces}");
    assert!(traces.contains("|Credential Length is: 12"), "{traces}");
    assert!(traces.contains("|Successfully authenticated user: wwhite"));
    assert!(traces.contains("|Failed to authenticate user: wwhite (wrong password)"));
    assert!(
        !traces.contains("Heisenberg") && !traces.contains("heisenberg"),
        "a password reached a trace: {traces}"
    );
    drop(s.dir);
}

async fn credential_policy(backend: &str) {
    let s = setup(backend).await;
    s.store
        .set_param("admin", "CredentialPolicyFailedLogonThreshold", "3")
        .await
        .unwrap();
    s.store
        .set_param("admin", "CredentialPolicyLockoutMinutes", "10")
        .await
        .unwrap();
    // Two failures, then success: the count starts again.
    for _ in 0..2 {
        assert_eq!(
            s.auth.authenticate("wwhite", "guess").await,
            Err(AuthFailure::WrongPassword)
        );
    }
    assert_eq!(s.store.get_user("wwhite").await.unwrap().failed_logons, 2);
    s.auth.authenticate("wwhite", "Heisenberg-1").await.unwrap();
    assert_eq!(s.store.get_user("wwhite").await.unwrap().failed_logons, 0);

    // Three failures lock for ten minutes, even with the right password.
    for _ in 0..3 {
        assert_eq!(
            s.auth.authenticate("wwhite", "guess").await,
            Err(AuthFailure::WrongPassword)
        );
    }
    let until = time::OffsetDateTime::from_unix_timestamp(T0 + 600).unwrap();
    for password in ["Heisenberg-1", "guess"] {
        assert_eq!(
            s.auth.authenticate("wwhite", password).await,
            Err(AuthFailure::LockedOut { until })
        );
    }
    assert_eq!(
        s.store
            .get_user("wwhite")
            .await
            .unwrap()
            .locked_until
            .as_deref(),
        Some("2027-01-15T08:10:00Z"),
        "administrators see the lock"
    );
    let traces = s.traces();
    assert!(
        traces.contains("Credential policy: user 'wwhite' locked out until 2027-01-15T08:10:00Z after 3 failed logons"),
        "{traces}"
    );
    assert!(traces.contains("(locked out by the credential policy until 2027-01-15T08:10:00Z)"));

    // Failures while locked do not extend the lock.
    s.clock.advance(599);
    assert!(matches!(
        s.auth.authenticate("wwhite", "Heisenberg-1").await,
        Err(AuthFailure::LockedOut { .. })
    ));
    s.clock.advance(1);
    s.auth.authenticate("wwhite", "Heisenberg-1").await.unwrap();
    let user = s.store.get_user("wwhite").await.unwrap();
    assert_eq!((user.failed_logons, user.locked_until), (0, None));

    // Threshold 0: never locked.
    s.store
        .set_param("admin", "CredentialPolicyFailedLogonThreshold", "0")
        .await
        .unwrap();
    for _ in 0..4 {
        assert_eq!(
            s.auth.authenticate("wwhite", "guess").await,
            Err(AuthFailure::WrongPassword)
        );
    }
    s.auth.authenticate("wwhite", "Heisenberg-1").await.unwrap();
}

async fn who_cannot_log_in(backend: &str) {
    let s = setup(backend).await;
    assert_eq!(
        s.auth.authenticate("nobody", "whatever").await,
        Err(AuthFailure::UnknownUser)
    );
    let long = "x".repeat(500);
    assert_eq!(
        s.auth.authenticate(&long, "whatever").await,
        Err(AuthFailure::UnknownUser)
    );
    // Disabled: told only with the right password; a wrong one is just wrong.
    assert_eq!(
        s.auth.authenticate("skyler", "Car-Wash-22").await,
        Err(AuthFailure::UserDisabled)
    );
    assert_eq!(
        s.auth.authenticate("skyler", "nope").await,
        Err(AuthFailure::WrongPassword)
    );
    assert_eq!(
        s.auth.authenticate("saul", "anything").await,
        Err(AuthFailure::PasswordNotSet)
    );
    assert!(matches!(
        s.auth.authenticate("jpinkman", "anything").await,
        Err(AuthFailure::DirectoryUnavailable {
            directory: "ldap",
            ..
        })
    ));
    assert!(AuthFailure::UnknownUser.is_bad_credentials());
    assert!(!AuthFailure::UserDisabled.is_bad_credentials());
    // Re-enabling works at once (the state is read on every attempt).
    s.store
        .update_user(
            "admin",
            "skyler",
            &UserPatch {
                enabled: Some(true),
                ..Default::default()
            },
        )
        .await
        .unwrap();
    s.auth.authenticate("skyler", "Car-Wash-22").await.unwrap();
    let traces = s.traces();
    assert!(traces.contains("authenticationDB::login (Authenticating using LDAP)"));
    assert!(traces.contains("Failed to authenticate user: nobody (unknown user)"));
}
