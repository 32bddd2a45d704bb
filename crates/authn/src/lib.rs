//! End-user authentication: [`Authenticator::authenticate`] checks a userid and password
//! against the directory the user belongs to, chosen by the user's `source` — the store's
//! Argon2id hash for local users (with the credential policy: failed logons counted, lockout
//! for `CredentialPolicyLockoutMinutes` after `CredentialPolicyFailedLogonThreshold`
//! failures, reset on success), LDAP / Active Directory later (SPEC §5; a closed
//! [`Directory`] enum so that it slots in).
//!
//! Used by the OAuth token and authorization endpoints now, by CTI login later. Each attempt
//! is one trace signal in the `auth` service with the CUCM-style steps (`userid is …`,
//! `Credential Length is: 8`, never the password). Argon2 runs on the blocking pool, at most
//! [`Authenticator::MAX_CONCURRENT_VERIFICATIONS`] at once (each takes 19 MiB), and an unknown
//! user costs one verification too, so that timing does not tell which users exist.

pub mod clock;
mod failure;
mod local;

use std::sync::Arc;

use switchboard_store::model::UserSource;
use switchboard_store::Store;
use switchboard_trace::{Level, Service, TraceEvent, Tracer};
use tokio::sync::Semaphore;

pub use clock::{Clock, ManualClock, SystemClock};
pub use failure::AuthFailure;

/// A user whose password was right.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuthenticatedUser {
    pub userid: String,
    /// The directory that vouched for the user.
    pub source: UserSource,
}

/// Where a user's password is checked, chosen by the user's `source` column.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Directory {
    /// The Argon2id hash in the store, under the credential policy.
    Local,
    /// LDAP / Active Directory (SPEC §5): not built yet; such users are refused with
    /// [`AuthFailure::DirectoryUnavailable`].
    Ldap,
}

impl Directory {
    /// The directory of a user of `source`.
    pub fn of(source: UserSource) -> Directory {
        match source {
            UserSource::Local => Directory::Local,
            UserSource::Ldap => Directory::Ldap,
        }
    }
}

/// The authentication service: cheap to clone, shared by every part of a node.
#[derive(Clone)]
pub struct Authenticator {
    inner: Arc<Inner>,
}

struct Inner {
    store: Store,
    tracer: Tracer,
    clock: Arc<dyn Clock>,
    verifications: Arc<Semaphore>,
}

/// Longest userid looked up (longer ones cannot exist: the store allows 128).
const MAX_USERID: usize = 128;

impl Authenticator {
    /// Most Argon2 verifications running at once; further attempts wait their turn.
    pub const MAX_CONCURRENT_VERIFICATIONS: usize = 8;

    /// An authenticator over `store`, on the system clock.
    pub fn new(store: Store, tracer: Tracer) -> Authenticator {
        Authenticator::with_clock(store, tracer, Arc::new(SystemClock))
    }

    /// An authenticator whose lockouts follow `clock`.
    pub fn with_clock(store: Store, tracer: Tracer, clock: Arc<dyn Clock>) -> Authenticator {
        Authenticator {
            inner: Arc::new(Inner {
                store,
                tracer,
                clock,
                verifications: Arc::new(Semaphore::new(Self::MAX_CONCURRENT_VERIFICATIONS)),
            }),
        }
    }

    /// The clock lockouts are measured with.
    pub fn clock(&self) -> &Arc<dyn Clock> {
        &self.inner.clock
    }

    /// Checks `password` for `userid` in the user's directory.
    pub async fn authenticate(
        &self,
        userid: &str,
        password: &str,
    ) -> Result<AuthenticatedUser, AuthFailure> {
        let inner = &self.inner;
        let mut signal = inner.tracer.signal(Service::Auth);
        signal.emit_default(&TraceEvent::AuthenticateUserWithPasswordEnter);
        signal.emit_default(&TraceEvent::UserIdIs {
            userid: userid.into(),
        });
        signal.emit_default(&TraceEvent::CredentialLength {
            len: password.chars().count(),
        });
        let outcome = self.check(&mut signal, userid, password).await;
        match &outcome {
            Ok(user) => signal.emit_default(&TraceEvent::AuthenticatedUser {
                userid: user.userid.clone(),
            }),
            Err(failure) => signal.emit(
                Level::Error,
                &TraceEvent::AuthenticationFailed {
                    userid: userid.into(),
                    reason: failure.to_string(),
                },
            ),
        }
        outcome
    }

    async fn check(
        &self,
        signal: &mut switchboard_trace::Signal,
        userid: &str,
        password: &str,
    ) -> Result<AuthenticatedUser, AuthFailure> {
        let inner = &self.inner;
        let credentials = if userid.is_empty() || userid.len() > MAX_USERID {
            None
        } else {
            inner
                .store
                .user_credentials(userid)
                .await
                .map_err(|e| AuthFailure::Store(e.to_string()))?
        };
        let Some(credentials) = credentials else {
            // As long as a real check, so that timing does not tell who exists.
            self.verify(password, local::DUMMY_HASH).await;
            return Err(AuthFailure::UnknownUser);
        };
        match Directory::of(credentials.source) {
            Directory::Local => {
                signal.emit_default(&TraceEvent::AuthenticatingLocally);
                local::authenticate(self, signal, credentials, password).await
            }
            Directory::Ldap => {
                signal.emit_default(&TraceEvent::AuthenticatingUsingLdap);
                Err(AuthFailure::DirectoryUnavailable {
                    directory: "ldap",
                    reason: "LDAP authentication is not available in this version".into(),
                })
            }
        }
    }

    /// Runs one Argon2 verification on the blocking pool, within the concurrency limit (the
    /// permit goes with the computation, so a caller that gives up does not free a slot early).
    pub(crate) async fn verify(&self, password: &str, hash: &str) -> bool {
        let Ok(permit) = self.inner.verifications.clone().acquire_owned().await else {
            return false;
        };
        let (password, hash) = (password.to_owned(), hash.to_owned());
        tokio::task::spawn_blocking(move || {
            let _permit = permit;
            switchboard_auth::password::verify(&password, &hash)
        })
        .await
        .unwrap_or(false)
    }

    pub(crate) fn store(&self) -> &Store {
        &self.inner.store
    }

    pub(crate) fn now(&self) -> i64 {
        self.inner.clock.now()
    }
}
