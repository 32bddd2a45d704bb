//! Why an LDAP / Active Directory login failed, named precisely ([`LdapFailure`]), which
//! failures allow trying the next server ([`LdapFailure::fails_over`]), and the reading of the
//! server's result codes (AD's result-49 sub-codes included) into those names.

use super::filter::AdSubcode;

/// Why the directory refused or could not check a login. Every variant names the cause an
/// administrator acts on; `server` is the URL of the server concerned
/// (`ldap://10.10.10.10:3268`).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum LdapFailure {
    /// LDAP authentication is switched off or incomplete (no server, no search base, no
    /// service account password).
    #[error("LDAP authentication is not configured: {reason}")]
    NotConfigured { reason: String },
    /// The TCP connection failed or was closed (refused, no route, reset).
    #[error("directory server {server} unreachable: {reason}")]
    Unreachable { server: String, reason: String },
    /// The server did not answer in time (`operation`: connect, TLS handshake, bind, search).
    #[error("directory server {server} did not answer the {operation} within {seconds} s")]
    Timeout {
        server: String,
        operation: &'static str,
        seconds: u64,
    },
    /// The server's certificate does not chain to the CA configured for it.
    #[error(
        "the certificate of {server} is not trusted ({reason}); configure the CA that issued it"
    )]
    TlsUntrusted { server: String, reason: String },
    /// The server's certificate is valid but for other names than the configured host.
    #[error("the certificate of {server} does not name the host {host}; use a host name the certificate lists")]
    TlsNameMismatch { server: String, host: String },
    /// The TLS handshake failed for another reason (protocol, expired certificate, …).
    #[error("TLS with {server} failed: {reason}")]
    TlsFailed { server: String, reason: String },
    /// The server refuses simple binds without TLS (result 8 strongAuthRequired or 13
    /// confidentialityRequired): use LDAPS or StartTLS.
    #[error("{server} refuses a plain-text bind ({reason}); use ldaps or starttls")]
    PlainBindRefused { server: String, reason: String },
    /// The service account could not bind (wrong DN or password, disabled, locked).
    #[error("the service account {dn} could not bind: {reason}")]
    ServiceBindFailed { dn: String, reason: String },
    /// A search base does not exist in the directory (result 32 noSuchObject) or is refused.
    #[error("the search base '{base}' is invalid: {reason}")]
    SearchBaseInvalid { base: String, reason: String },
    /// No entry matched the filter under any search base.
    #[error("user not found under the search base(s) {bases}")]
    UserNotFound { bases: String },
    /// More than one entry matched: the filter or the directory is wrong.
    #[error("{count} entries match the userid; the filter must select exactly one")]
    UserAmbiguous { count: usize },
    /// The password is empty: refused before any bind (an empty password would be an
    /// unauthenticated bind, which LDAP servers accept as a success).
    #[error("empty password")]
    EmptyPassword,
    /// Result 49, AD sub-code 52e (or no sub-code): the password is wrong.
    #[error("wrong password")]
    WrongPassword,
    /// AD sub-code 533.
    #[error("the directory account is disabled")]
    AccountDisabled,
    /// AD sub-code 775.
    #[error("the directory account is locked out")]
    AccountLockedOut,
    /// AD sub-code 773.
    #[error("the user must change the password in the directory before logging in")]
    PasswordMustChange,
    /// AD sub-code 701.
    #[error("the directory account has expired")]
    AccountExpired,
    /// AD sub-code 532.
    #[error("the directory password has expired")]
    PasswordExpired,
    /// AD sub-codes 530 and 531: not allowed to log on now or from here.
    #[error("the directory refuses this logon (logon hours or workstation restriction)")]
    LogonRestricted,
    /// Any other refusal of the user's bind (result code and diagnostic text).
    #[error("the directory refused the user's bind: result {code} ({message})")]
    BindRefused { code: u32, message: String },
    /// The server answered something the client could not use.
    #[error("LDAP protocol error with {server}: {reason}")]
    Protocol { server: String, reason: String },
}

impl LdapFailure {
    /// True when the server itself is at fault (unreachable, silent, bad TLS, refuses plain
    /// binds) and the same request may go to the next configured server. Never true for
    /// anything a password caused: retrying a wrong password elsewhere multiplies lockouts.
    pub fn fails_over(&self) -> bool {
        matches!(
            self,
            LdapFailure::Unreachable { .. }
                | LdapFailure::Timeout { .. }
                | LdapFailure::TlsUntrusted { .. }
                | LdapFailure::TlsNameMismatch { .. }
                | LdapFailure::TlsFailed { .. }
                | LdapFailure::PlainBindRefused { .. }
                | LdapFailure::Protocol { .. }
        )
    }

    /// True for the failures that say only "these credentials do not work".
    pub fn is_bad_credentials(&self) -> bool {
        matches!(
            self,
            LdapFailure::WrongPassword
                | LdapFailure::UserNotFound { .. }
                | LdapFailure::EmptyPassword
        )
    }

    /// True for the failures of the account itself (disabled, locked, expired, must change).
    pub fn is_account_state(&self) -> bool {
        matches!(
            self,
            LdapFailure::AccountDisabled
                | LdapFailure::AccountLockedOut
                | LdapFailure::PasswordMustChange
                | LdapFailure::AccountExpired
                | LdapFailure::PasswordExpired
                | LdapFailure::LogonRestricted
        )
    }

    /// A short stable name (`wrong_password`, `tls_untrusted`, …) for APIs and tests.
    pub fn name(&self) -> &'static str {
        match self {
            LdapFailure::NotConfigured { .. } => "not_configured",
            LdapFailure::Unreachable { .. } => "unreachable",
            LdapFailure::Timeout { .. } => "timeout",
            LdapFailure::TlsUntrusted { .. } => "tls_untrusted",
            LdapFailure::TlsNameMismatch { .. } => "tls_name_mismatch",
            LdapFailure::TlsFailed { .. } => "tls_failed",
            LdapFailure::PlainBindRefused { .. } => "plain_bind_refused",
            LdapFailure::ServiceBindFailed { .. } => "service_bind_failed",
            LdapFailure::SearchBaseInvalid { .. } => "search_base_invalid",
            LdapFailure::UserNotFound { .. } => "user_not_found",
            LdapFailure::UserAmbiguous { .. } => "user_ambiguous",
            LdapFailure::EmptyPassword => "empty_password",
            LdapFailure::WrongPassword => "wrong_password",
            LdapFailure::AccountDisabled => "account_disabled",
            LdapFailure::AccountLockedOut => "account_locked_out",
            LdapFailure::PasswordMustChange => "password_must_change",
            LdapFailure::AccountExpired => "account_expired",
            LdapFailure::PasswordExpired => "password_expired",
            LdapFailure::LogonRestricted => "logon_restricted",
            LdapFailure::BindRefused { .. } => "bind_refused",
            LdapFailure::Protocol { .. } => "protocol_error",
        }
    }
}

/// LDAP result codes the client tells apart (RFC 4511 appendix A).
pub(crate) mod rc {
    pub const SUCCESS: u32 = 0;
    pub const SIZE_LIMIT_EXCEEDED: u32 = 4;
    pub const STRONG_AUTH_REQUIRED: u32 = 8;
    pub const REFERRAL: u32 = 10;
    pub const CONFIDENTIALITY_REQUIRED: u32 = 13;
    pub const NO_SUCH_OBJECT: u32 = 32;
    pub const INVALID_DN_SYNTAX: u32 = 34;
    pub const INVALID_CREDENTIALS: u32 = 49;
}

/// Result 8 strongAuthRequired or 13 confidentialityRequired: TLS (or signing) is required.
pub(crate) fn is_plain_refused(code: u32) -> bool {
    code == rc::STRONG_AUTH_REQUIRED || code == rc::CONFIDENTIALITY_REQUIRED
}

/// `result 49: <diagnostic>` for messages (the diagnostic without its trailing NUL).
pub(crate) fn result_text(code: u32, text: &str) -> String {
    let text = text.trim().trim_end_matches('\0');
    if text.is_empty() {
        format!("result {code}")
    } else {
        format!("result {code}: {text}")
    }
}

/// The failure of a user's bind refused with `code`, AD's sub-code read from `text`.
pub(crate) fn user_bind_failure(code: u32, text: &str) -> LdapFailure {
    if code != rc::INVALID_CREDENTIALS {
        return LdapFailure::BindRefused {
            code,
            message: text.trim().trim_end_matches('\0').to_owned(),
        };
    }
    match AdSubcode::parse(text) {
        None | Some(AdSubcode::WrongPassword) | Some(AdSubcode::UserNotFound) => {
            LdapFailure::WrongPassword
        }
        Some(AdSubcode::AccountDisabled) => LdapFailure::AccountDisabled,
        Some(AdSubcode::AccountLockedOut) => LdapFailure::AccountLockedOut,
        Some(AdSubcode::PasswordMustChange) => LdapFailure::PasswordMustChange,
        Some(AdSubcode::AccountExpired) => LdapFailure::AccountExpired,
        Some(AdSubcode::PasswordExpired) => LdapFailure::PasswordExpired,
        Some(AdSubcode::InvalidLogonHours | AdSubcode::InvalidWorkstation) => {
            LdapFailure::LogonRestricted
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn user_bind_failures_follow_ad_subcodes() {
        let t = |code| {
            format!("80090308: LdapErr: DSID-0C0903A9, comment: AcceptSecurityContext error, data {code}, v1db1\0")
        };
        assert_eq!(user_bind_failure(49, &t("52e")), LdapFailure::WrongPassword);
        assert_eq!(
            user_bind_failure(49, &t("533")),
            LdapFailure::AccountDisabled
        );
        assert_eq!(
            user_bind_failure(49, &t("775")),
            LdapFailure::AccountLockedOut
        );
        assert_eq!(
            user_bind_failure(49, &t("773")),
            LdapFailure::PasswordMustChange
        );
        assert_eq!(
            user_bind_failure(49, &t("701")),
            LdapFailure::AccountExpired
        );
        assert_eq!(
            user_bind_failure(49, &t("532")),
            LdapFailure::PasswordExpired
        );
        assert_eq!(
            user_bind_failure(49, &t("530")),
            LdapFailure::LogonRestricted
        );
        assert_eq!(
            user_bind_failure(49, "Invalid credentials"),
            LdapFailure::WrongPassword
        );
        assert_eq!(
            user_bind_failure(53, "unwilling\0"),
            LdapFailure::BindRefused {
                code: 53,
                message: "unwilling".into()
            }
        );
    }

    #[test]
    fn only_server_faults_fail_over() {
        let server = || "ldap://127.0.0.1:389".to_string();
        assert!(LdapFailure::Unreachable {
            server: server(),
            reason: "refused".into()
        }
        .fails_over());
        assert!(LdapFailure::Timeout {
            server: server(),
            operation: "connect",
            seconds: 5
        }
        .fails_over());
        assert!(LdapFailure::TlsUntrusted {
            server: server(),
            reason: "UnknownIssuer".into()
        }
        .fails_over());
        for no in [
            LdapFailure::WrongPassword,
            LdapFailure::AccountLockedOut,
            LdapFailure::ServiceBindFailed {
                dn: "x".into(),
                reason: "y".into(),
            },
            LdapFailure::UserNotFound { bases: "b".into() },
            LdapFailure::EmptyPassword,
        ] {
            assert!(!no.fails_over(), "{no:?}");
        }
    }
}
