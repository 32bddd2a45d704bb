//! The typed event catalogue: exact texts of the seed's CTI authentication
//! lines, default levels, and `Redacted`.

use switchboard_trace::{Level, Redacted, Service, TraceEvent};

fn s(v: &str) -> String {
    v.to_owned()
}

#[test]
fn cti_authentication_texts_match_cucm() {
    use TraceEvent::*;
    let dn = s("CN=Walter White,OU=Breaking Bad,DC=joshlab,DC=net");
    let cases: Vec<(TraceEvent, &str)> = vec![
        (AuthLoginEnter, "AuthenticationImpl::login:enter"),
        (AuthRetrieveCredentialEnter, "AuthenticationImpl::retrieveCredential:enter"),
        (UserIdIs { userid: s("wwhite") }, "userid is wwhite"),
        (
            NoEncryptedPasswordCredential,
            "AuthenticationImpl::login - no encryptedpassword Credential, look for password",
        ),
        (
            AuthWithPassword,
            "AuthenticationImpl::login (Auth with password. Calling authenticateUserWithPassword)",
        ),
        (AuthenticateUserWithPasswordEnter, "authenticationDB::authenticateUserWithPassword():enter"),
        (CredentialLength { len: 8 }, "Credential Length is: 8"),
        (AuthenticatingUsingLdap, "authenticationDB::login (Authenticating using LDAP)"),
        (LdapUserIdIs { userid: s("wwhite") }, "LDAP userid is 'wwhite'"),
        (
            EscapedForFilter { escaped: s("wwhite") },
            "After Escaping for LDAP special Characters for Filter = wwhite",
        ),
        (LdapNotInitialized, "LDAP not initialized...connecting..."),
        (
            LdapAuthenticating { url: s("ldap://10.10.10.10:3268"), tls: false },
            "Authenticating with SSL not enabled (ldap://10.10.10.10:3268)",
        ),
        (
            LdapAuthenticating { url: s("ldaps://10.10.10.10:3269"), tls: true },
            "Authenticating with SSL enabled (ldaps://10.10.10.10:3269)",
        ),
        (
            LdapBindSuccess { dn: s("Administrator@joshlab.net") },
            "LDAP authentication bind SUCCESS for Administrator@joshlab.net",
        ),
        (AvailableServers { count: 1 }, "Available Servers (1)"),
        (
            LdapSearchBase { base: s("OU=Breaking Bad,DC=joshlab,DC=net") },
            "LDAP Search for User base: 'OU=Breaking Bad,DC=joshlab,DC=net'",
        ),
        (LdapSearchComplete { code: 0 }, "LDAP Search complete. Code: 0"),
        (
            LdapAuthenticateUserEnter,
            "authenticationLDAP.cpp::authenticateUserWithPassword():enter",
        ),
        (
            LdapAuthenticateUserExit { code: 0 },
            "authenticationLDAP::authenticateUserWithPassword():Exit(0)",
        ),
        (LdapEscapeEnter, "authenticationUtils::escapeLDAPSpecialCharsForFilter():enter"),
        (LdapConnectEnter, "authenticationLDAP::connect():enter"),
        (LdapAuthenticateEnter, "authenticationLDAP::Authenticate():enter"),
        (LdapAuthenticateExit { code: 0 }, "authenticationLDAP::Authenticate():exit(0)"),
        (LdapConnectionSuccessful { index: 0 }, "Connection # (0): sucessful"),
        (LdapConnectionDetails, "Details ::"),
        (LdapServerAddress { host: s("10.10.10.10"), port: 3268 }, "10.10.10.10 3268"),
        (LdapAdministratorAuthenticated, "Authentication of LDAP administrator successful."),
        (LdapGetDn, "Get DN of entry."),
        (GotDn { dn: dn.clone() }, "Got DN: CN=Walter White,OU=Breaking Bad,DC=joshlab,DC=net"),
        (
            AttemptAuthenticateDn { dn },
            "Attempt to authenticate DN: CN=Walter White,OU=Breaking Bad,DC=joshlab,DC=net",
        ),
        (AuthenticatedUser { userid: s("wwhite") }, "Successfully authenticated user: wwhite"),
        (DecryptedKeyStatus { success: true, len: 52 }, "Decrypted Key Status success - [52]"),
        (
            NonceIs { nonce: s("cc64fd13-d4e1-43bc-808f-f051f7c945d0") },
            "Nonce =cc64fd13-d4e1-43bc-808f-f051f7c945d0",
        ),
        (NonceValidation { success: true }, "Nonce validation success"),
        (DecryptedPasswordStatus { success: true, len: 8 }, "Decrypted Password Status success - [8]"),
        (
            CtiProviderOpenRequest {
                seq: 2,
                provider: s("UCProvider"),
                login: s("wwhite"),
                heartbeat: 60,
                timer: 10,
            },
            "[CTI-APP] [CTIHandler::processIncomingMessage] CTI ProviderOpenRequest ( seq#=2 \
             provider=UCProvider login=wwhite heartbeat=60 timer=10)",
        ),
        (
            CtiProviderOpenResponse { seq: 2, provider_id: 16777223 },
            "[CTI-APP] [CTIHandler::OutputCtiMessage ] CTI ProviderOpenResponse (seq#=2) provider id=16777223",
        ),
        (
            CtiUserSettings {
                userid: s("wwhite"),
                super_provider: false,
                call_park_retrieval_allowed: false,
                modify_calling_number: false,
                cti_enabled: true,
                call_monitor: false,
                call_record: false,
            },
            "SuperProvider = Disabled CallParkRetrievalAllowed = Disabled ModifyCallingNumber = Disabled \
             CTI Enabled = Enabled CallMonitor=Disabled CallRecord=Disabled Userid = wwhite result=0",
        ),
    ];
    for (event, want) in cases {
        assert_eq!(event.to_string(), want);
        assert_eq!(event.text(), want, "text() equals Display for clean texts");
    }
}

#[test]
fn oauth_and_credential_policy_texts() {
    use TraceEvent::*;
    let cases: Vec<(TraceEvent, &str, Level)> = vec![
        (
            AuthenticatingLocally,
            "authenticationDB::login (Authenticating using the local database)",
            Level::Debug,
        ),
        (
            LocalUserLockedOut { userid: s("wwhite"), failures: 5, until: s("2026-01-02T03:04:05Z") },
            "Credential policy: user 'wwhite' locked out until 2026-01-02T03:04:05Z after 5 failed logons",
            Level::Error,
        ),
        (
            OAuthTokenIssued {
                userid: s("wwhite"),
                client_id: s("jabber"),
                grant: s("password"),
                device: Some(s("CSFwwhite")),
                kid: s("k1"),
                expires_in: 3600,
                refresh: true,
            },
            "OAuth access token issued to 'wwhite' (grant=password, client=jabber, device=CSFwwhite, \
             kid=k1, expires in 3600 s, refresh token: yes)",
            Level::Info,
        ),
        (
            OAuthTokenIssued {
                userid: s("wwhite"),
                client_id: s("jabber"),
                grant: s("refresh_token"),
                device: None,
                kid: s("k1"),
                expires_in: 60,
                refresh: false,
            },
            "OAuth access token issued to 'wwhite' (grant=refresh_token, client=jabber, kid=k1, \
             expires in 60 s, refresh token: no)",
            Level::Info,
        ),
        (
            OAuthGrantRefused {
                grant: s("password"),
                client_id: s("jabber"),
                error: s("invalid_grant"),
                reason: s("wrong user name or password"),
            },
            "OAuth password grant refused (client=jabber): invalid_grant - wrong user name or password",
            Level::Error,
        ),
        (
            OAuthCodeIssued { userid: s("wwhite"), client_id: s("jabber") },
            "OAuth authorization code issued to 'wwhite' for client jabber",
            Level::Debug,
        ),
        (
            OAuthRefreshTokenReused { userid: s("wwhite"), family: s("f1") },
            "OAuth refresh token reused for 'wwhite': token family f1 revoked",
            Level::Error,
        ),
        (
            OAuthTokensRevoked { userid: s("wwhite"), what: s("every token (revoke-all)") },
            "OAuth tokens revoked for 'wwhite': every token (revoke-all)",
            Level::Info,
        ),
        (
            OAuthKeyCreated { kid: s("k2"), retired: vec![s("k1")] },
            "OAuth signing key created: kid=k2 (retired: k1)",
            Level::Info,
        ),
        (OAuthKeyCreated { kid: s("k1"), retired: vec![] }, "OAuth signing key created: kid=k1", Level::Info),
    ];
    for (event, want, level) in cases {
        assert_eq!(event.to_string(), want);
        assert_eq!(event.level(), level, "{want}");
    }
}

#[test]
fn default_levels() {
    assert_eq!(TraceEvent::AuthLoginEnter.level(), Level::Detailed);
    assert_eq!(
        TraceEvent::CredentialLength { len: 8 }.level(),
        Level::Debug
    );
    assert_eq!(
        TraceEvent::NonceValidation { success: false }.level(),
        Level::Error
    );
    let failed = TraceEvent::AdminAuthenticationFailed {
        userid: None,
        reason: s("bad password"),
    };
    assert_eq!(failed.level(), Level::Error);
    assert_eq!(
        failed.to_string(),
        "Administrator authentication failed (no userid): bad password"
    );
    let changed = TraceEvent::TraceLevelChanged {
        service: Service::Cti,
        level: Level::Detailed,
    };
    assert_eq!(changed.level(), Level::Info);
    assert_eq!(
        changed.to_string(),
        "Trace level of service cti set to detailed"
    );
}

#[test]
fn text_sanitises_hostile_fields() {
    let ev = TraceEvent::UserIdIs {
        userid: s("x\n00000001.000 |00:00:00.000 |AppInfo |fake"),
    };
    assert_eq!(
        ev.text(),
        "userid is x\\n00000001.000 |00:00:00.000 |AppInfo |fake"
    );
}

#[test]
fn redacted_prints_only_the_length() {
    let secret = "hunter2";
    let shown = format!("{} {:?}", Redacted(secret), Redacted(secret));
    assert_eq!(shown, "<redacted 7 chars> <redacted 7 chars>");
    assert!(!shown.contains(secret));
    assert_eq!(Redacted("pässwörd").len(), 8);
}

#[test]
fn config_file_service_texts() {
    let served = TraceEvent::ConfigFileServed {
        device: s("SEP001794625DE5"),
        peer: s("127.0.0.1:40000"),
        bytes: 2871,
    };
    assert_eq!(
        served.text(),
        "Config file SEP001794625DE5.cnf.xml sent to 127.0.0.1:40000 (2871 bytes)"
    );
    assert_eq!(served.level(), Level::Info);
    let refused = TraceEvent::ConfigFileRefused {
        peer: s("127.0.0.1:40000"),
        path: s("/../../etc/passwd\n00000001.000 |fake"),
        status: 400,
        reason: s("not a config file name"),
    };
    assert_eq!(refused.level(), Level::Error);
    assert_eq!(
        refused.text(),
        "Config file request from 127.0.0.1:40000 refused: 400 for /../../etc/passwd\\n00000001.000 |fake (not a config file name)"
    );
}

#[test]
fn cti_call_event_texts() {
    use TraceEvent::*;
    let cases: Vec<(TraceEvent, &str, Level)> = vec![
        (
            CtiNewCallEvent {
                handle: 1,
                device: s("SEP00AABBCCDDEE"),
                provider_id: 16777224,
                call: 1,
                connection: 3,
                calling: s("1001"),
                called: s("1002"),
                dn: s("1002"),
                role: s("terminating"),
                state: s("offering"),
            },
            "[CTI-APP] [CTIHandler::OutputCtiMessage ] CTI NewCallEvent ( DH=1 GCID=1 CI=3 ) \
             deviceName=SEP00AABBCCDDEE provider id=16777224 calling=1001 called=1002 dn=1002 \
             role=terminating state=offering",
            Level::Info,
        ),
        (
            CtiCallStateChangedEvent {
                handle: 1,
                device: s("SEP00AABBCCDDEE"),
                provider_id: 16777224,
                call: 1,
                connection: 3,
                state: s("disconnected"),
                cause: Some(s("normal")),
            },
            "[CTI-APP] [CTIHandler::OutputCtiMessage ] CTI CallStateChangedEvent ( DH=1 GCID=1 CI=3 ) \
             deviceName=SEP00AABBCCDDEE provider id=16777224 state=disconnected cause=normal",
            Level::Info,
        ),
        (
            CtiCallStateChangedEvent {
                handle: 1,
                device: s("SEP00AABBCCDDEE"),
                provider_id: 16777224,
                call: 1,
                connection: 3,
                state: s("ringing"),
                cause: None,
            },
            "[CTI-APP] [CTIHandler::OutputCtiMessage ] CTI CallStateChangedEvent ( DH=1 GCID=1 CI=3 ) \
             deviceName=SEP00AABBCCDDEE provider id=16777224 state=ringing",
            Level::Info,
        ),
        (
            CtiCallEndedEvent {
                handle: 1,
                device: s("SEP00AABBCCDDEE"),
                provider_id: 16777224,
                call: 1,
                connection: 3,
                cause: s("answered_elsewhere"),
            },
            "[CTI-APP] [CTIHandler::OutputCtiMessage ] CTI CallEndedEvent ( DH=1 GCID=1 CI=3 ) \
             deviceName=SEP00AABBCCDDEE provider id=16777224 cause=answered_elsewhere",
            Level::Info,
        ),
        (
            CtiCallsResynchronised { live: 3, missed: 12 },
            "CTI call events resynchronised: 3 calls live, 12 events missed",
            Level::Error,
        ),
    ];
    for (event, want, level) in cases {
        assert_eq!(event.to_string(), want);
        assert_eq!(event.level(), level, "{want}");
    }
}
