//! The exact text ([`Display`](fmt::Display)) and default [`Level`] of every [`TraceEvent`].

use std::fmt;

use crate::event::TraceEvent;
use crate::level::Level;

const CTI_IN: &str = "[CTI-APP] [CTIHandler::processIncomingMessage] CTI";
const CTI_OUT: &str = "[CTI-APP] [CTIHandler::OutputCtiMessage ] CTI";

fn status(success: bool) -> &'static str {
    if success {
        "success"
    } else {
        "failure"
    }
}

fn enabled(on: bool) -> &'static str {
    if on {
        "Enabled"
    } else {
        "Disabled"
    }
}

impl TraceEvent {
    /// The default level of this event, for `emit(service, event.level(), &event)`.
    ///
    /// Failures are `Error`; milestones and CTI messages `Info`; the
    /// step-by-step authentication trace `Debug`; function enter lines `Detailed`.
    pub fn level(&self) -> Level {
        use TraceEvent::*;
        match self {
            AdminAuthenticationFailed { .. }
            | LdapBindFailed { .. }
            | LdapConnectionFailed { .. }
            | LdapFailover { .. }
            | AuthenticationFailed { .. }
            | CtiProviderOpenFailed { .. }
            | CtiErrorResponse { .. }
            | CtiCallsResynchronised { .. }
            | LocalUserLockedOut { .. }
            | OAuthGrantRefused { .. }
            | OAuthRefreshTokenReused { .. } => Level::Error,
            DecryptedKeyStatus { success, .. }
            | NonceValidation { success }
            | DecryptedPasswordStatus { success, .. } => {
                if *success {
                    Level::Debug
                } else {
                    Level::Error
                }
            }
            AuthLoginEnter
            | AuthRetrieveCredentialEnter
            | AuthenticateUserWithPasswordEnter
            | LdapAuthenticateUserEnter
            | LdapAuthenticateUserExit { .. }
            | LdapEscapeEnter
            | LdapConnectEnter
            | LdapAuthenticateEnter
            | LdapAuthenticateExit { .. } => Level::Detailed,
            UserIdIs { .. }
            | NoEncryptedPasswordCredential
            | AuthWithPassword
            | CredentialLength { .. }
            | AuthenticatingUsingLdap
            | LdapUserIdIs { .. }
            | EscapedForFilter { .. }
            | LdapNotInitialized
            | LdapAuthenticating { .. }
            | LdapBindSuccess { .. }
            | AvailableServers { .. }
            | LdapSearchFilter { .. }
            | LdapSearchBase { .. }
            | LdapSearchComplete { .. }
            | LdapConnectionSuccessful { .. }
            | LdapConnectionDetails
            | LdapServerAddress { .. }
            | LdapDetailsEnd
            | LdapAdministratorAuthenticated
            | LdapConnectionReused { .. }
            | LdapSearchEntries { .. }
            | LdapGetDn
            | GotDn { .. }
            | AttemptAuthenticateDn { .. }
            | NonceIs { .. }
            | CtiUserSettings { .. }
            | CtiConnectionAccepted { .. }
            | SipRegisterReceived { .. }
            | SipChallengeSent { .. }
            | SipCallOffered { .. }
            | AuthenticatingLocally
            | OAuthCodeIssued { .. } => Level::Debug,
            SipRegistrationRefused { .. }
            | SipBadMessage { .. }
            | SipEdgeProxyRefused { .. }
            | ConfigFileRefused { .. } => Level::Error,
            SipRegistrationAccepted { .. }
            | SipCallReceived { .. }
            | SipCallRefused { .. }
            | SipCallAnswered { .. }
            | SipCallEnded { .. }
            | SipCallHold { .. }
            | SipCallRelayed { .. }
            | SipCallSessionExpired { .. }
            | SipCallControl { .. }
            | SipCallTransfer { .. }
            | SipRegistrationRemoved { .. }
            | SipRegistrationExpired { .. }
            | ConfigFileServed { .. } => Level::Info,
            NodeStarting { .. }
            | NodeStopping { .. }
            | ListenerBound { .. }
            | CertificateGenerated { .. }
            | CertificateReloaded { .. }
            | TrustCertificateImported { .. }
            | TrustCertificateRemoved { .. }
            | AdminAuthenticated { .. }
            | ConfigChanged { .. }
            | TraceLevelChanged { .. }
            | SqlQueryRun { .. }
            | ApiRequestRejected { .. }
            | AuthenticatedUser { .. }
            | CtiProviderOpenRequest { .. }
            | CtiProviderOpenResponse { .. }
            | CtiDeviceOpenRequest { .. }
            | CtiDeviceOpenResponse { .. }
            | CtiDeviceInServiceEvent { .. }
            | CtiDeviceOutOfServiceEvent { .. }
            | CtiProviderOpenCompleted { .. }
            | CtiRequestIn { .. }
            | CtiResponseOut { .. }
            | CtiNewCallEvent { .. }
            | CtiCallStateChangedEvent { .. }
            | CtiCallEndedEvent { .. }
            | CtiConnectionClosed { .. }
            | OAuthTokenIssued { .. }
            | OAuthTokensRevoked { .. }
            | OAuthKeyCreated { .. }
            | Text { .. } => Level::Info,
        }
    }
}

impl fmt::Display for TraceEvent {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        use TraceEvent::*;
        match self {
            NodeStarting { node, version } => {
                write!(f, "Switchboard node {node} starting (version {version})")
            }
            NodeStopping { node } => write!(f, "Switchboard node {node} stopping"),
            ListenerBound { service_name, transport, addr } => {
                write!(f, "{service_name} listening on {transport} {addr}")
            }
            CertificateGenerated { subject, fingerprint } => write!(
                f,
                "Certificate generated: subject='{subject}' fingerprint={fingerprint}"
            ),
            CertificateReloaded { subject, fingerprint } => write!(
                f,
                "Certificate reloaded: subject='{subject}' fingerprint={fingerprint}"
            ),
            TrustCertificateImported { subject, fingerprint } => write!(
                f,
                "Trust certificate imported: subject='{subject}' fingerprint={fingerprint}"
            ),
            TrustCertificateRemoved { fingerprint } => {
                write!(f, "Trust certificate removed: fingerprint={fingerprint}")
            }
            AdminAuthenticated { userid, method } => {
                write!(f, "Administrator '{userid}' authenticated (method={method})")
            }
            AdminAuthenticationFailed { userid: Some(u), reason } => {
                write!(f, "Administrator authentication failed for '{u}': {reason}")
            }
            AdminAuthenticationFailed { userid: None, reason } => {
                write!(f, "Administrator authentication failed (no userid): {reason}")
            }
            ConfigChanged { actor, action, object_type, object_id } => write!(
                f,
                "Configuration changed by '{actor}': {action} {object_type} '{object_id}'"
            ),
            TraceLevelChanged { service, level } => {
                write!(f, "Trace level of service {service} set to {level}")
            }
            SqlQueryRun { actor, rows } => {
                write!(f, "SQL query run by '{actor}' returned {rows} rows")
            }
            ApiRequestRejected { method, path, status, reason } => {
                write!(f, "API request rejected: {method} {path} -> {status} ({reason})")
            }
            AuthLoginEnter => f.write_str("AuthenticationImpl::login:enter"),
            AuthRetrieveCredentialEnter => f.write_str("AuthenticationImpl::retrieveCredential:enter"),
            UserIdIs { userid } => write!(f, "userid is {userid}"),
            NoEncryptedPasswordCredential => f.write_str(
                "AuthenticationImpl::login - no encryptedpassword Credential, look for password",
            ),
            AuthWithPassword => f.write_str(
                "AuthenticationImpl::login (Auth with password. Calling authenticateUserWithPassword)",
            ),
            AuthenticateUserWithPasswordEnter => {
                f.write_str("authenticationDB::authenticateUserWithPassword():enter")
            }
            CredentialLength { len } => write!(f, "Credential Length is: {len}"),
            AuthenticatingUsingLdap => f.write_str("authenticationDB::login (Authenticating using LDAP)"),
            LdapUserIdIs { userid } => write!(f, "LDAP userid is '{userid}'"),
            EscapedForFilter { escaped } => {
                write!(f, "After Escaping for LDAP special Characters for Filter = {escaped}")
            }
            LdapNotInitialized => f.write_str("LDAP not initialized...connecting..."),
            LdapAuthenticating { url, tls } => {
                let ssl = if *tls { "enabled" } else { "not enabled" };
                write!(f, "Authenticating with SSL {ssl} ({url})")
            }
            LdapBindSuccess { dn } => write!(f, "LDAP authentication bind SUCCESS for {dn}"),
            LdapBindFailed { dn, reason } => {
                write!(f, "LDAP authentication bind FAILED for {dn} ({reason})")
            }
            AvailableServers { count } => write!(f, "Available Servers ({count})"),
            LdapSearchFilter { filter } => write!(f, "Retrieve the specified user entry: {filter}"),
            LdapSearchBase { base } => write!(f, "LDAP Search for User base: '{base}'"),
            LdapSearchComplete { code } => write!(f, "LDAP Search complete. Code: {code}"),
            LdapAuthenticateUserEnter => {
                f.write_str("authenticationLDAP.cpp::authenticateUserWithPassword():enter")
            }
            LdapAuthenticateUserExit { code } => {
                write!(f, "authenticationLDAP::authenticateUserWithPassword():Exit({code})")
            }
            LdapEscapeEnter => f.write_str("authenticationUtils::escapeLDAPSpecialCharsForFilter():enter"),
            LdapConnectEnter => f.write_str("authenticationLDAP::connect():enter"),
            LdapAuthenticateEnter => f.write_str("authenticationLDAP::Authenticate():enter"),
            LdapAuthenticateExit { code } => write!(f, "authenticationLDAP::Authenticate():exit({code})"),
            LdapConnectionSuccessful { index } => write!(f, "Connection # ({index}): sucessful"),
            LdapConnectionFailed { index, url, reason } => {
                write!(f, "Connection # ({index}): failed ({url}): {reason}")
            }
            LdapConnectionDetails => f.write_str("Details ::"),
            LdapServerAddress { host, port } => write!(f, "{host} {port}"),
            LdapDetailsEnd => f.write_str("----------"),
            LdapAdministratorAuthenticated => f.write_str("Authentication of LDAP administrator successful."),
            LdapConnectionReused { index, url } => write!(
                f,
                "LDAP already initialized...reusing pooled connection # ({index}) ({url}); service account bound once for it"
            ),
            LdapFailover { from, to, reason } => {
                write!(f, "LDAP server {from} failed ({reason}); failing over to {to}")
            }
            LdapSearchEntries { count } => write!(f, "LDAP Search found {count} entries"),
            LdapGetDn => f.write_str("Get DN of entry."),
            GotDn { dn } => write!(f, "Got DN: {dn}"),
            AttemptAuthenticateDn { dn } => write!(f, "Attempt to authenticate DN: {dn}"),
            AuthenticatedUser { userid } => write!(f, "Successfully authenticated user: {userid}"),
            AuthenticationFailed { userid, reason } => {
                write!(f, "Failed to authenticate user: {userid} ({reason})")
            }
            DecryptedKeyStatus { success, len } => {
                write!(f, "Decrypted Key Status {} - [{len}]", status(*success))
            }
            NonceIs { nonce } => write!(f, "Nonce ={nonce}"),
            NonceValidation { success } => write!(f, "Nonce validation {}", status(*success)),
            DecryptedPasswordStatus { success, len } => {
                write!(f, "Decrypted Password Status {} - [{len}]", status(*success))
            }
            CtiProviderOpenRequest { seq, provider, login, heartbeat, timer } => write!(
                f,
                "{CTI_IN} ProviderOpenRequest ( seq#={seq} provider={provider} login={login} \
                 heartbeat={heartbeat} timer={timer})"
            ),
            CtiProviderOpenResponse { seq, provider_id } => write!(
                f,
                "{CTI_OUT} ProviderOpenResponse (seq#={seq}) provider id={provider_id}"
            ),
            CtiDeviceOpenRequest { seq, device } => {
                write!(f, "{CTI_IN} DeviceOpenRequest ( seq#={seq} device name={device})")
            }
            CtiDeviceOpenResponse { seq, device, handle, device_type, device_id, state } => write!(
                f,
                "{CTI_OUT} DeviceOpenResponse ( seq#={seq} result=0 DH={handle} deviceName={device} \
                 deviceType={device_type} deviceId={device_id} protocol=SIP state={state})"
            ),
            CtiDeviceInServiceEvent { handle, device, provider_id } => write!(
                f,
                "{CTI_OUT} DeviceInServiceEvent ( DH={handle} ) deviceName={device} provider id={provider_id}"
            ),
            CtiDeviceOutOfServiceEvent { handle, device, provider_id, reason } => write!(
                f,
                "{CTI_OUT} DeviceOutOfServiceEvent ( DH={handle} ) deviceName={device} provider id={provider_id} reason={reason}"
            ),
            CtiProviderOpenCompleted { provider_id, userid } => write!(
                f,
                "{CTI_OUT} ProviderOpenCompletedEvent ( provider id={provider_id} ) Userid = {userid}"
            ),
            CtiProviderOpenFailed { provider_id, reason, message } => write!(
                f,
                "{CTI_OUT} ProviderOpenFailedEvent ( provider id={provider_id} ) reason={reason} ({message})"
            ),
            CtiRequestIn { name, seq, detail } => {
                write!(f, "{CTI_IN} {name} ( seq#={seq}")?;
                if !detail.is_empty() {
                    write!(f, " {detail}")?;
                }
                f.write_str(")")
            }
            CtiResponseOut { name, seq, detail } => {
                write!(f, "{CTI_OUT} {name} ( seq#={seq}")?;
                if !detail.is_empty() {
                    write!(f, " {detail}")?;
                }
                f.write_str(")")
            }
            CtiErrorResponse { seq, error, message } => {
                write!(f, "{CTI_OUT} ErrorResponse ( seq#=")?;
                match seq {
                    Some(seq) => write!(f, "{seq}")?,
                    None => f.write_str("none")?,
                }
                write!(f, " error={error} ) {message}")
            }
            CtiConnectionAccepted { transport, peer, local } => {
                write!(f, "CTI connection accepted from {transport} {peer} on {local}")
            }
            CtiConnectionClosed { transport, peer, provider_id, reason } => {
                write!(f, "CTI connection closed: {transport} {peer}")?;
                if let Some(id) = provider_id {
                    write!(f, " provider id={id}")?;
                }
                write!(f, " ({reason})")
            }
            CtiNewCallEvent {
                handle,
                device,
                provider_id,
                call,
                connection,
                calling,
                called,
                dn,
                role,
                state,
            } => write!(
                f,
                "{CTI_OUT} NewCallEvent ( DH={handle} GCID={call} CI={connection} ) deviceName={device} \
                 provider id={provider_id} calling={calling} called={called} dn={dn} role={role} state={state}"
            ),
            CtiCallStateChangedEvent { handle, device, provider_id, call, connection, state, cause } => {
                write!(
                    f,
                    "{CTI_OUT} CallStateChangedEvent ( DH={handle} GCID={call} CI={connection} ) \
                     deviceName={device} provider id={provider_id} state={state}"
                )?;
                if let Some(cause) = cause {
                    write!(f, " cause={cause}")?;
                }
                Ok(())
            }
            CtiCallEndedEvent { handle, device, provider_id, call, connection, cause } => write!(
                f,
                "{CTI_OUT} CallEndedEvent ( DH={handle} GCID={call} CI={connection} ) deviceName={device} \
                 provider id={provider_id} cause={cause}"
            ),
            CtiCallsResynchronised { live, missed } => write!(
                f,
                "CTI call events resynchronised: {live} calls live, {missed} events missed"
            ),
            CtiUserSettings {
                userid,
                super_provider,
                call_park_retrieval_allowed,
                modify_calling_number,
                cti_enabled,
                call_monitor,
                call_record,
            } => write!(
                f,
                "SuperProvider = {} CallParkRetrievalAllowed = {} ModifyCallingNumber = {} \
                 CTI Enabled = {} CallMonitor={} CallRecord={} Userid = {userid} result=0",
                enabled(*super_provider),
                enabled(*call_park_retrieval_allowed),
                enabled(*modify_calling_number),
                enabled(*cti_enabled),
                enabled(*call_monitor),
                enabled(*call_record),
            ),
            SipRegisterReceived { transport, source, device, call_id, cseq, expires } => {
                write!(f, "SIP REGISTER received from {transport} {source} for {device} (Call-ID={call_id}, CSeq={cseq}, Expires=")?;
                match expires {
                    Some(e) => write!(f, "{e})"),
                    None => f.write_str("none)"),
                }
            }
            SipChallengeSent { device, code, scheme, detail } => {
                write!(f, "SIP {code} challenge sent to {device}: {scheme} ({detail})")
            }
            SipRegistrationAccepted { device, contact, granted, requested, transport, source } => write!(
                f,
                "SIP registration accepted: {device} contact {contact} expires {granted} (requested {requested}) via {transport} {source}"
            ),
            SipRegistrationRemoved { device, contact } => {
                write!(f, "SIP registration removed: {device} contact {contact}")
            }
            SipRegistrationExpired { device, contact } => {
                write!(f, "SIP registration expired: {device} contact {contact}")
            }
            SipRegistrationRefused { device, code, reason } => {
                write!(f, "SIP registration refused: {code} for {device}: {reason}")
            }
            SipBadMessage { transport, source, error, answered } => write!(
                f,
                "SIP bad message from {transport} {source}: {error} ({})",
                if *answered { "400 sent" } else { "dropped" }
            ),
            SipEdgeProxyRefused { source, presented, listed } => write!(
                f,
                "SIP MRA peer refused from {source}: certificate names [{presented}] not in the edge-proxy list [{listed}]"
            ),
            SipCallReceived { call, device, transport, source, dialed, call_id } => write!(
                f,
                "SIP call {call} INVITE from {device} ({transport} {source}) to {dialed} (Call-ID={call_id})"
            ),
            SipCallOffered { call, device, contact, call_id } => {
                write!(f, "SIP call {call} offered to {device} at {contact} (Call-ID={call_id})")
            }
            SipCallRefused { dialed, code, reason } => {
                write!(f, "SIP call INVITE to {dialed} refused: {code} {reason}")
            }
            SipCallAnswered { call, device } => write!(f, "SIP call {call} answered by {device}"),
            SipCallEnded { call, cause, detail } => {
                write!(f, "SIP call {call} ended: {cause} ({detail})")
            }
            SipCallRelayed { call, method, from } => {
                write!(f, "SIP call {call} {method} relayed from the {from}")
            }
            SipCallHold { call, side, held } => {
                let what = if *held { "on hold" } else { "off hold" };
                write!(f, "SIP call {call} {side} side {what}")
            }
            SipCallSessionExpired { call, interval } => {
                write!(f, "SIP call {call} session timer expired (interval {interval} s)")
            }
            SipCallTransfer { call, step } => write!(f, "SIP call {call} transfer: {step}"),
            SipCallControl { call, operation, device, detail } => {
                write!(f, "SIP call {call} {operation} for {device}: {detail}")
            }
            ConfigFileServed { device, peer, bytes } => {
                write!(f, "Config file {device}.cnf.xml sent to {peer} ({bytes} bytes)")
            }
            ConfigFileRefused { peer, path, status, reason } => write!(
                f,
                "Config file request from {peer} refused: {status} for {path} ({reason})"
            ),
            AuthenticatingLocally => {
                f.write_str("authenticationDB::login (Authenticating using the local database)")
            }
            LocalUserLockedOut { userid, failures, until } => write!(
                f,
                "Credential policy: user '{userid}' locked out until {until} after {failures} failed logons"
            ),
            OAuthTokenIssued { userid, client_id, grant, device, kid, expires_in, refresh } => {
                write!(f, "OAuth access token issued to '{userid}' (grant={grant}, client={client_id}, ")?;
                if let Some(device) = device {
                    write!(f, "device={device}, ")?;
                }
                write!(
                    f,
                    "kid={kid}, expires in {expires_in} s, refresh token: {})",
                    if *refresh { "yes" } else { "no" }
                )
            }
            OAuthGrantRefused { grant, client_id, error, reason } => write!(
                f,
                "OAuth {grant} grant refused (client={client_id}): {error} - {reason}"
            ),
            OAuthCodeIssued { userid, client_id } => write!(
                f,
                "OAuth authorization code issued to '{userid}' for client {client_id}"
            ),
            OAuthRefreshTokenReused { userid, family } => write!(
                f,
                "OAuth refresh token reused for '{userid}': token family {family} revoked"
            ),
            OAuthTokensRevoked { userid, what } => {
                write!(f, "OAuth tokens revoked for '{userid}': {what}")
            }
            OAuthKeyCreated { kid, retired } => {
                write!(f, "OAuth signing key created: kid={kid}")?;
                if !retired.is_empty() {
                    write!(f, " (retired: {})", retired.join(", "))?;
                }
                Ok(())
            }
            Text { text } => f.write_str(text),
        }
    }
}
