//! The typed catalogue of every trace line Switchboard writes ([`TraceEvent`]).
//!
//! The texts (see `event_text.rs`) follow CUCM's CTI Manager traces where
//! CUCM has an equivalent line, so that engineers who know those traces can
//! read Switchboard's, and tools written for them keep working.

use std::net::SocketAddr;

use crate::level::{Level, Service};

/// One trace event. [`std::fmt::Display`] gives the raw text, [`TraceEvent::text`]
/// the sanitised text exactly as written, and [`TraceEvent::level`] its default level.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum TraceEvent {
    // ---- node lifecycle -------------------------------------------------
    /// The node process is starting.
    NodeStarting { node: String, version: String },
    /// The node process is stopping.
    NodeStopping { node: String },
    /// A listener of a service is bound and accepting.
    ListenerBound {
        service_name: String,
        transport: String,
        addr: SocketAddr,
    },

    // ---- certificates -----------------------------------------------------
    /// A new (self-signed or CSR-backed) certificate was generated.
    CertificateGenerated {
        subject: String,
        fingerprint: String,
    },
    /// The service certificate was reloaded from disk/store.
    CertificateReloaded {
        subject: String,
        fingerprint: String,
    },
    /// A certificate was added to the trust store.
    TrustCertificateImported {
        subject: String,
        fingerprint: String,
    },
    /// A certificate was removed from the trust store.
    TrustCertificateRemoved { fingerprint: String },

    // ---- administration / API ----------------------------------------------
    /// An administrator authenticated (`method`: e.g. `password`, `certificate`, `oauth`).
    AdminAuthenticated { userid: String, method: String },
    /// An administrator authentication failed; `userid` is `None` when none was given.
    AdminAuthenticationFailed {
        userid: Option<String>,
        reason: String,
    },
    /// A configuration object was changed (`action`: e.g. `add`, `update`, `remove`).
    ConfigChanged {
        actor: String,
        action: String,
        object_type: String,
        object_id: String,
    },
    /// The trace level of a service was changed.
    TraceLevelChanged { service: Service, level: Level },
    /// An administrator ran an SQL query (the query text is deliberately not traced).
    SqlQueryRun { actor: String, rows: u64 },
    /// The API refused a request.
    ApiRequestRejected {
        method: String,
        path: String,
        status: u16,
        reason: String,
    },

    // ---- CTI login / authentication (CUCM CTI Manager texts) ----------------
    /// `AuthenticationImpl::login:enter`
    AuthLoginEnter,
    /// `AuthenticationImpl::retrieveCredential:enter`
    AuthRetrieveCredentialEnter,
    /// `userid is wwhite`
    UserIdIs { userid: String },
    /// `AuthenticationImpl::login - no encryptedpassword Credential, look for password`
    NoEncryptedPasswordCredential,
    /// `AuthenticationImpl::login (Auth with password. Calling authenticateUserWithPassword)`
    AuthWithPassword,
    /// `authenticationDB::authenticateUserWithPassword():enter`
    AuthenticateUserWithPasswordEnter,
    /// `Credential Length is: 8` (the length only, never the credential).
    CredentialLength { len: usize },
    /// `authenticationDB::login (Authenticating using LDAP)`
    AuthenticatingUsingLdap,
    /// `LDAP userid is 'wwhite'`
    LdapUserIdIs { userid: String },
    /// `After Escaping for LDAP special Characters for Filter = wwhite`
    EscapedForFilter { escaped: String },
    /// `LDAP not initialized...connecting...`
    LdapNotInitialized,
    /// `Authenticating with SSL not enabled (ldap://10.10.10.10:3268)`, or
    /// `Authenticating with SSL enabled (ldaps://…)` when `tls`.
    LdapAuthenticating { url: String, tls: bool },
    /// `LDAP authentication bind SUCCESS for <dn>`
    LdapBindSuccess { dn: String },
    /// `LDAP authentication bind FAILED for <dn> (<reason>)`
    LdapBindFailed { dn: String, reason: String },
    /// `Available Servers (1)`
    AvailableServers { count: usize },
    /// `Retrieve the specified user entry: <filter>`
    LdapSearchFilter { filter: String },
    /// `LDAP Search for User base: '<base>'`
    LdapSearchBase { base: String },
    /// `LDAP Search complete. Code: 0`
    LdapSearchComplete { code: i32 },
    /// `authenticationLDAP.cpp::authenticateUserWithPassword():enter`
    LdapAuthenticateUserEnter,
    /// `authenticationLDAP::authenticateUserWithPassword():Exit(0)`
    LdapAuthenticateUserExit { code: i32 },
    /// `authenticationUtils::escapeLDAPSpecialCharsForFilter():enter`
    LdapEscapeEnter,
    /// `authenticationLDAP::connect():enter`
    LdapConnectEnter,
    /// `authenticationLDAP::Authenticate():enter`
    LdapAuthenticateEnter,
    /// `authenticationLDAP::Authenticate():exit(0)`
    LdapAuthenticateExit { code: i32 },
    /// `Connection # (0): sucessful` (sic, as CUCM writes it)
    LdapConnectionSuccessful { index: usize },
    /// `Connection # (0): failed (ldap://10.10.10.10:3268): <reason>`
    LdapConnectionFailed {
        index: usize,
        url: String,
        reason: String,
    },
    /// `Details ::`
    LdapConnectionDetails,
    /// `10.10.10.10 3268` (the server of the connection)
    LdapServerAddress { host: String, port: u32 },
    /// `----------` (end of the connection details)
    LdapDetailsEnd,
    /// `Authentication of LDAP administrator successful.`
    LdapAdministratorAuthenticated,
    /// `LDAP already initialized...reusing pooled connection # (0) (ldap://…:3268); service
    /// account bound once for it` — the service bind is paid once per pooled connection.
    LdapConnectionReused { index: usize, url: String },
    /// `LDAP server ldap://…:389 failed (<reason>); failing over to ldap://…:389`
    LdapFailover {
        from: String,
        to: String,
        reason: String,
    },
    /// `LDAP Search found 2 entries`
    LdapSearchEntries { count: usize },
    /// `Get DN of entry.`
    LdapGetDn,
    /// `Got DN: <dn>`
    GotDn { dn: String },
    /// `Attempt to authenticate DN: <dn>`
    AttemptAuthenticateDn { dn: String },
    /// `Successfully authenticated user: wwhite`
    AuthenticatedUser { userid: String },
    /// `Failed to authenticate user: wwhite (<reason>)`
    AuthenticationFailed { userid: String, reason: String },
    /// `Decrypted Key Status success - [52]` (or `failure`)
    DecryptedKeyStatus { success: bool, len: usize },
    /// `Nonce =cc64fd13-d4e1-43bc-808f-f051f7c945d0`
    NonceIs { nonce: String },
    /// `Nonce validation success` (or `failure`)
    NonceValidation { success: bool },
    /// `Decrypted Password Status success - [8]` (or `failure`); the length only.
    DecryptedPasswordStatus { success: bool, len: usize },
    /// `[CTI-APP] [CTIHandler::processIncomingMessage] CTI ProviderOpenRequest
    /// ( seq#=2 provider=UCProvider login=wwhite heartbeat=60 timer=10)` (one line)
    CtiProviderOpenRequest {
        seq: u32,
        provider: String,
        login: String,
        heartbeat: u32,
        timer: u32,
    },
    /// `[CTI-APP] [CTIHandler::OutputCtiMessage ] CTI ProviderOpenResponse (seq#=2) provider id=16777223`
    CtiProviderOpenResponse { seq: u32, provider_id: u32 },
    /// `[CTI-APP] [CTIHandler::processIncomingMessage] CTI DeviceOpenRequest ( seq#=4 device name=SEP001794625DE5)`
    CtiDeviceOpenRequest { seq: u32, device: String },
    /// `[CTI-APP] [CTIHandler::OutputCtiMessage ] CTI DeviceOpenResponse ( seq#=4 result=0 DH=38
    /// deviceName=SEP001794625DE5 deviceType=Cisco 8841 deviceId=SEP001794625DE5 protocol=SIP
    /// state=out_of_service)` (one line)
    CtiDeviceOpenResponse {
        seq: u32,
        device: String,
        handle: u32,
        device_type: String,
        device_id: String,
        state: String,
    },
    /// `[CTI-APP] [CTIHandler::OutputCtiMessage ] CTI DeviceInServiceEvent ( DH=38 )
    /// deviceName=SEP001794625DE5 provider id=16777223`
    CtiDeviceInServiceEvent {
        handle: u32,
        device: String,
        provider_id: u32,
    },
    /// `[CTI-APP] [CTIHandler::OutputCtiMessage ] CTI DeviceOutOfServiceEvent ( DH=38 )
    /// deviceName=SEP001794625DE5 provider id=16777223 reason=unregistered`
    CtiDeviceOutOfServiceEvent {
        handle: u32,
        device: String,
        provider_id: u32,
        reason: String,
    },
    /// `[CTI-APP] [CTIHandler::OutputCtiMessage ] CTI ProviderOpenCompletedEvent ( provider id=16777223 )
    /// Userid = wwhite`
    CtiProviderOpenCompleted { provider_id: u32, userid: String },
    /// `[CTI-APP] [CTIHandler::OutputCtiMessage ] CTI ProviderOpenFailedEvent ( provider id=… )
    /// reason=DIRECTORY_LOGIN_FAILED (…)`
    CtiProviderOpenFailed {
        provider_id: u32,
        reason: String,
        message: String,
    },
    /// Any other request received: `[CTI-APP] [CTIHandler::processIncomingMessage] CTI
    /// LineOpenRequest ( seq#=5 DH=38 dn=1001)`; `detail` is the part inside the parentheses after
    /// the `seq#`.
    CtiRequestIn {
        name: String,
        seq: u32,
        detail: String,
    },
    /// Any other response sent: `[CTI-APP] [CTIHandler::OutputCtiMessage ] CTI LineOpenResponse
    /// ( seq#=5 DH=38 LH=1 dn=1001)`.
    CtiResponseOut {
        name: String,
        seq: u32,
        detail: String,
    },
    /// `[CTI-APP] [CTIHandler::OutputCtiMessage ] CTI ErrorResponse ( seq#=4
    /// error=DEVICE_NOT_FOUND ) no device named SEP…`; `seq#=none` for connection-level errors.
    CtiErrorResponse {
        seq: Option<u32>,
        error: String,
        message: String,
    },
    /// `CTI connection accepted from tcp 127.0.0.1:40000 on 127.0.0.1:2748`
    CtiConnectionAccepted {
        transport: String,
        peer: String,
        local: String,
    },
    /// `CTI connection closed: tcp 127.0.0.1:40000 provider id=16777223 (HEARTBEAT_TIMEOUT)`
    CtiConnectionClosed {
        transport: String,
        peer: String,
        provider_id: Option<u32>,
        reason: String,
    },
    /// `[CTI-APP] [CTIHandler::OutputCtiMessage ] CTI NewCallEvent ( DH=1 GCID=1 CI=3 )
    /// deviceName=SEP00AABBCCDDEE provider id=16777224 calling=1001 called=1002 dn=1002
    /// role=terminating state=offering` (one line)
    CtiNewCallEvent {
        handle: u32,
        device: String,
        provider_id: u32,
        call: u64,
        connection: u64,
        calling: String,
        called: String,
        dn: String,
        role: String,
        state: String,
    },
    /// `[CTI-APP] [CTIHandler::OutputCtiMessage ] CTI CallStateChangedEvent ( DH=1 GCID=1 CI=3 )
    /// deviceName=SEP00AABBCCDDEE provider id=16777224 state=disconnected cause=normal`
    /// (`cause=` only with one)
    CtiCallStateChangedEvent {
        handle: u32,
        device: String,
        provider_id: u32,
        call: u64,
        connection: u64,
        state: String,
        cause: Option<String>,
    },
    /// `[CTI-APP] [CTIHandler::OutputCtiMessage ] CTI CallEndedEvent ( DH=1 GCID=1 CI=3 )
    /// deviceName=SEP00AABBCCDDEE provider id=16777224 cause=normal`
    CtiCallEndedEvent {
        handle: u32,
        device: String,
        provider_id: u32,
        call: u64,
        connection: u64,
        cause: String,
    },
    /// The CTI Manager re-read the live calls after it fell behind call control's events:
    /// `CTI call events resynchronised: 3 calls live, 12 events missed`.
    CtiCallsResynchronised { live: usize, missed: u64 },
    /// `SuperProvider = Disabled CallParkRetrievalAllowed = Disabled ModifyCallingNumber = Disabled
    /// CTI Enabled = Enabled CallMonitor=Disabled CallRecord=Disabled Userid = wwhite result=0`
    /// (one line; `Enabled`/`Disabled` from the booleans)
    CtiUserSettings {
        userid: String,
        super_provider: bool,
        call_park_retrieval_allowed: bool,
        modify_calling_number: bool,
        cti_enabled: bool,
        call_monitor: bool,
        call_record: bool,
    },

    // ---- SIP registration ------------------------------------------------------
    /// A REGISTER arrived: `SIP REGISTER received from udp 127.0.0.1:5070 for SEP001794625DE5
    /// (Call-ID=…, CSeq=2270, Expires=3600)`.
    SipRegisterReceived {
        transport: String,
        source: String,
        device: String,
        call_id: String,
        cseq: u32,
        expires: Option<u32>,
    },
    /// The registrar challenged: `SIP 401 Unauthorized sent to SEP001794625DE5: digest challenge
    /// (realm=ccmsipline, algorithms=SHA-256,MD5, stale=false)`; `scheme` is "digest" or "bearer".
    SipChallengeSent {
        device: String,
        code: u16,
        scheme: String,
        detail: String,
    },
    /// A registration was accepted: `SIP registration accepted: SEP001794625DE5 contact
    /// <sip:…> expires 120 (requested 3600) via udp 127.0.0.1:5070`.
    SipRegistrationAccepted {
        device: String,
        contact: String,
        granted: u32,
        requested: u32,
        transport: String,
        source: String,
    },
    /// A registration was removed by the device: `SIP registration removed: …`.
    SipRegistrationRemoved { device: String, contact: String },
    /// A binding ran out: `SIP registration expired: SEP001794625DE5 contact <…>`.
    SipRegistrationExpired { device: String, contact: String },
    /// A registration was refused: `SIP registration refused: 404 Not Found for SEP… — reason`.
    SipRegistrationRefused {
        device: String,
        code: u16,
        reason: String,
    },
    /// A message could not be parsed: `SIP bad message from tcp 127.0.0.1:40000: … (400 sent)`.
    SipBadMessage {
        transport: String,
        source: String,
        error: String,
        answered: bool,
    },
    /// An edge proxy's certificate on the MRA port names no listed edge proxy:
    /// `SIP MRA peer refused from 127.0.0.1:40000: certificate names [a,b] not in the edge-proxy list [c]`.
    SipEdgeProxyRefused {
        source: String,
        presented: String,
        listed: String,
    },

    // ---- SIP calls (back-to-back user agent) ------------------------------------
    /// An INVITE arrived: `SIP call 4 INVITE from SEP001794625DE5 (udp 127.0.0.1:5070) to 1002
    /// (Call-ID=…)`.
    SipCallReceived {
        call: u64,
        device: String,
        transport: String,
        source: String,
        dialed: String,
        call_id: String,
    },
    /// The INVITE was forwarded to one registered contact: `SIP call 4 offered to SEP… at
    /// <sip:…> (Call-ID=…)`.
    SipCallOffered {
        call: u64,
        device: String,
        contact: String,
        call_id: String,
    },
    /// An INVITE was refused: `SIP call INVITE to 1002 refused: 404 Not Found — reason`.
    SipCallRefused {
        dialed: String,
        code: u16,
        reason: String,
    },
    /// A fork answered: `SIP call 4 answered by SEP…`.
    SipCallAnswered { call: u64, device: String },
    /// A call ended: `SIP call 4 ended: busy (486 Busy Here)`.
    SipCallEnded {
        call: u64,
        cause: String,
        detail: String,
    },
    /// An in-dialog request was relayed to the other leg: `SIP call 4 re-INVITE relayed from
    /// the caller` (`INFO`, `UPDATE`, …).
    SipCallRelayed {
        call: u64,
        method: String,
        from: String,
    },
    /// A leg was put on hold or taken off it: `SIP call 4 caller side on hold`.
    SipCallHold { call: u64, side: String, held: bool },
    /// No session refresh came within the negotiated interval (RFC 4028): `SIP call 4 session
    /// timer expired (interval 90 s)`.
    SipCallSessionExpired { call: u64, interval: u64 },
    /// A step of a transfer: `SIP call 4 transfer: blind transfer to 1003 started (new call 7)`.
    SipCallTransfer { call: u64, step: String },
    /// The node's call control acted on a call for a device: `SIP call 4 make_call for
    /// SEP001794625DE5: INVITE to the phone with auto-answer`.
    SipCallControl {
        call: u64,
        operation: String,
        device: String,
        detail: String,
    },

    // ---- config file service (HTTP 6970) ----------------------------------------
    /// A device configuration file was sent: `Config file SEP001794625DE5.cnf.xml sent to
    /// 127.0.0.1:40000 (2871 bytes)`.
    ConfigFileServed {
        device: String,
        peer: String,
        bytes: usize,
    },
    /// A config file request was refused: `Config file request from 127.0.0.1:40000 refused:
    /// 404 for /SEPFFFFFFFFFFFF.cnf.xml (device not provisioned)`; `path` is cut to 80 characters.
    ConfigFileRefused {
        peer: String,
        path: String,
        status: u16,
        reason: String,
    },

    // ---- end-user authentication (local users; LDAP above) ----------------------
    /// `authenticationDB::login (Authenticating using the local database)`
    AuthenticatingLocally,
    /// The credential policy locked a local user out: `Credential policy: user 'wwhite' locked
    /// out until 2026-01-02T03:04:05Z after 5 failed logons`.
    LocalUserLockedOut {
        userid: String,
        failures: u32,
        until: String,
    },

    // ---- OAuth authorization server --------------------------------------------
    /// Tokens were issued: `OAuth access token issued to 'wwhite' (grant=password,
    /// client=jabber, device=CSFwwhite, kid=…, expires in 3600 s, refresh token: yes)`.
    OAuthTokenIssued {
        userid: String,
        client_id: String,
        grant: String,
        device: Option<String>,
        kid: String,
        expires_in: u64,
        refresh: bool,
    },
    /// A token request was refused: `OAuth password grant refused (client=jabber): invalid_grant
    /// — wrong user name or password`. Never carries a token, code or password.
    OAuthGrantRefused {
        grant: String,
        client_id: String,
        error: String,
        reason: String,
    },
    /// An authorization code was issued: `OAuth authorization code issued to 'wwhite' for
    /// client jabber`.
    OAuthCodeIssued { userid: String, client_id: String },
    /// A rotated refresh token was presented again: its family is revoked.
    OAuthRefreshTokenReused { userid: String, family: String },
    /// Tokens were revoked: `OAuth tokens revoked for 'wwhite': <what>`.
    OAuthTokensRevoked { userid: String, what: String },
    /// A signing key was created: `OAuth signing key created: kid=… (retired: k1)`.
    OAuthKeyCreated { kid: String, retired: Vec<String> },

    // ---- anything else -------------------------------------------------------
    /// Free-form text (sanitised like every other text). Prefer a typed variant.
    Text { text: String },
}

impl TraceEvent {
    /// Shorthand for [`TraceEvent::Text`].
    pub fn text_event(text: impl Into<String>) -> TraceEvent {
        TraceEvent::Text { text: text.into() }
    }

    /// The text exactly as the tracer writes it: [`Display`](std::fmt::Display)
    /// passed through [`sanitize`](crate::sanitize) (which only changes texts
    /// carrying control characters or secrets).
    pub fn text(&self) -> String {
        crate::sanitize::sanitize(&self.to_string()).into_owned()
    }
}
