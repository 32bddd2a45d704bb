//! Why an authentication failed, named precisely for traces and for the callers that choose
//! what to tell the user (the OAuth token endpoint tells less than the trace does).

use time::OffsetDateTime;

use crate::ldap::LdapFailure;

/// Why [`Authenticator::authenticate`](crate::Authenticator::authenticate) refused a user.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum AuthFailure {
    /// No end user has this userid.
    #[error("unknown user")]
    UnknownUser,
    /// The user exists but is disabled (checked only after the password was right).
    #[error("user is disabled")]
    UserDisabled,
    /// The password is wrong (counted by the credential policy).
    #[error("wrong password")]
    WrongPassword,
    /// A local user without a password cannot log in with one.
    #[error("no local password is set for this user")]
    PasswordNotSet,
    /// The credential policy locked the user out after too many failed logons.
    #[error("locked out by the credential policy until {}", switchboard_store::time_text(.until.unix_timestamp()))]
    LockedOut { until: OffsetDateTime },
    /// The directory the user belongs to cannot check passwords (LDAP switched off or not
    /// configured).
    #[error("the user's directory ({directory}) cannot authenticate: {reason}")]
    DirectoryUnavailable {
        directory: &'static str,
        reason: String,
    },
    /// The LDAP / Active Directory login failed, for the named reason (wrong password,
    /// account disabled or locked in the directory, server unreachable, certificate not
    /// trusted, …).
    #[error("LDAP: {0}")]
    Ldap(#[from] LdapFailure),
    /// The user store could not be read.
    #[error("user store unavailable: {0}")]
    Store(String),
}

impl AuthFailure {
    /// True for the failures that say nothing about the account beyond "these credentials do
    /// not work" (unknown user, wrong password, no password): what a caller may show anyone.
    pub fn is_bad_credentials(&self) -> bool {
        match self {
            AuthFailure::UnknownUser | AuthFailure::WrongPassword | AuthFailure::PasswordNotSet => {
                true
            }
            AuthFailure::Ldap(f) => f.is_bad_credentials(),
            _ => false,
        }
    }

    /// A short stable name (`wrong_password`, `locked_out`, `tls_untrusted`, …) for APIs.
    pub fn name(&self) -> &'static str {
        match self {
            AuthFailure::UnknownUser => "unknown_user",
            AuthFailure::UserDisabled => "user_disabled",
            AuthFailure::WrongPassword => "wrong_password",
            AuthFailure::PasswordNotSet => "password_not_set",
            AuthFailure::LockedOut { .. } => "locked_out",
            AuthFailure::DirectoryUnavailable { .. } => "directory_unavailable",
            AuthFailure::Ldap(f) => f.name(),
            AuthFailure::Store(_) => "store_unavailable",
        }
    }

    /// True when the user's directory could not check the password at all (LDAP not
    /// configured, server unreachable, TLS refused, service account refused, bad search
    /// base, several entries): the administrator's problem, not the user's.
    pub fn is_directory_fault(&self) -> bool {
        match self {
            AuthFailure::DirectoryUnavailable { .. } => true,
            AuthFailure::Ldap(f) => !f.is_bad_credentials() && !f.is_account_state(),
            _ => false,
        }
    }
}
