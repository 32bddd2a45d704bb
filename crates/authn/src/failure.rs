//! Why an authentication failed, named precisely for traces and for the callers that choose
//! what to tell the user (the OAuth token endpoint tells less than the trace does).

use time::OffsetDateTime;

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
    /// The directory the user belongs to cannot check passwords (LDAP until it is built;
    /// later: service-account bind failed, server unreachable, user not found under the
    /// search base, certificate not trusted).
    #[error("the user's directory ({directory}) cannot authenticate: {reason}")]
    DirectoryUnavailable {
        directory: &'static str,
        reason: String,
    },
    /// The user store could not be read.
    #[error("user store unavailable: {0}")]
    Store(String),
}

impl AuthFailure {
    /// True for the failures that say nothing about the account beyond "these credentials do
    /// not work" (unknown user, wrong password, no password): what a caller may show anyone.
    pub fn is_bad_credentials(&self) -> bool {
        matches!(
            self,
            AuthFailure::UnknownUser | AuthFailure::WrongPassword | AuthFailure::PasswordNotSet
        )
    }
}
