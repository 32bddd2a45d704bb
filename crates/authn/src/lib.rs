//! End-user authentication: [`Authenticator::authenticate`] checks a userid and password
//! against the directory the user belongs to, chosen by the user's `source` — the store's
//! Argon2id hash for local users (with the credential policy: failed logons counted, lockout
//! for `CredentialPolicyLockoutMinutes` after `CredentialPolicyFailedLogonThreshold`
//! failures, reset on success), or LDAP / Active Directory ([`ldap`], SPEC §5: service-account
//! search, then a bind as the user's DN) configured in the store's `ldapauthentication` /
//! `ldapserver` tables; the directory client (with its pools) is rebuilt when those settings
//! change.
//!
//! Used by the OAuth token and authorization endpoints now, by CTI login later. Each attempt
//! is one trace signal in the `auth` service with the CUCM-style steps (`userid is …`,
//! `Credential Length is: 8`, never the password). Argon2 runs on the blocking pool, at most
//! [`Authenticator::MAX_CONCURRENT_VERIFICATIONS`] at once (each takes 19 MiB), and an unknown
//! user costs one verification too, so that timing does not tell which users exist.

pub mod clock;
mod crypto;
mod failure;
pub mod ldap;
mod local;

use std::sync::{Arc, Mutex};

use switchboard_store::model::UserSource;
use switchboard_store::Store;
use switchboard_trace::{Level, Service, TraceEvent, Tracer};
use tokio::sync::Semaphore;

pub use clock::{Clock, ManualClock, SystemClock};
pub use crypto::NodeCrypto;
pub use failure::AuthFailure;
pub use ldap::{LdapConfig, LdapDirectory, LdapFailure, LdapOptions, Steps, Timeouts};

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
    /// LDAP / Active Directory (SPEC §5), as configured by `switchboard ldap set`; while LDAP
    /// is switched off such users are refused with [`AuthFailure::DirectoryUnavailable`].
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
    ldap_options: Mutex<LdapOptions>,
    /// The directory client of the current LDAP settings (rebuilt when they change).
    ldap: Mutex<Option<Arc<LdapDirectory>>>,
}

/// What `switchboard ldap test` shows: every step's trace text and the outcome.
#[derive(Debug, Clone)]
pub struct LdapTestReport {
    pub steps: Vec<String>,
    /// The DN of the user's entry when the password was right.
    pub outcome: Result<String, AuthFailure>,
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
                ldap_options: Mutex::new(LdapOptions::default()),
                ldap: Mutex::new(None),
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
        Self::trace_login(&mut signal, userid, password);
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

    /// 000 step 5: the login's first lines (the password's length only).
    fn trace_login(signal: &mut switchboard_trace::Signal, userid: &str, password: &str) {
        signal.emit_default(&TraceEvent::AuthLoginEnter);
        signal.emit_default(&TraceEvent::AuthRetrieveCredentialEnter);
        signal.emit_default(&TraceEvent::UserIdIs {
            userid: userid.into(),
        });
        signal.emit_default(&TraceEvent::NoEncryptedPasswordCredential);
        signal.emit_default(&TraceEvent::AuthWithPassword);
        signal.emit_default(&TraceEvent::AuthenticateUserWithPasswordEnter);
        signal.emit_default(&TraceEvent::CredentialLength {
            len: password.chars().count(),
        });
    }

    /// Tuning of the LDAP client (timeouts, pool size); applies from the next login on.
    pub fn set_ldap_options(&self, options: LdapOptions) {
        *self
            .inner
            .ldap_options
            .lock()
            .unwrap_or_else(|e| e.into_inner()) = options;
    }

    /// The directory client of the current LDAP settings, built (or rebuilt, when the
    /// settings changed since) from the store. `Ok(None)` while LDAP is switched off and
    /// `even_if_disabled` is false.
    pub async fn ldap_directory(
        &self,
        even_if_disabled: bool,
    ) -> Result<Option<Arc<LdapDirectory>>, AuthFailure> {
        let store = &self.inner.store;
        let settings = store
            .ldap_settings()
            .await
            .map_err(|e| AuthFailure::Store(e.to_string()))?;
        if !settings.enabled && !even_if_disabled {
            return Ok(None);
        }
        let password = store
            .ldap_service_password()
            .await
            .map_err(|e| AuthFailure::Store(e.to_string()))?
            .ok_or_else(|| LdapFailure::NotConfigured {
                reason: "no service account password is set".into(),
            })?;
        let options = *self
            .inner
            .ldap_options
            .lock()
            .unwrap_or_else(|e| e.into_inner());
        let config = LdapConfig::from_settings(&settings, password, options);
        let mut current = self.inner.ldap.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(directory) = current.as_ref().filter(|d| *d.config() == config) {
            return Ok(Some(directory.clone()));
        }
        let directory = Arc::new(LdapDirectory::new(config)?);
        *current = Some(directory.clone());
        Ok(Some(directory))
    }

    /// Runs the LDAP flow for `userid` whatever the user's source (the user need not be in the
    /// store) and whether LDAP is switched on or not: the administrator's first check of the
    /// directory settings (`switchboard ldap test`). Traced like a login, and every step kept.
    pub async fn test_ldap(&self, userid: &str, password: &str) -> LdapTestReport {
        let mut signal = self.inner.tracer.signal(Service::Auth);
        let mut steps = Steps::kept(&mut signal);
        steps.emit(&TraceEvent::AuthenticatingUsingLdap);
        let outcome = match self.ldap_directory(true).await {
            Ok(Some(directory)) => directory
                .login(&mut steps, userid, password)
                .await
                .map_err(AuthFailure::Ldap),
            Ok(None) => unreachable!("even_if_disabled"),
            Err(failure) => Err(failure),
        };
        let event = match &outcome {
            Ok(_) => TraceEvent::AuthenticatedUser {
                userid: userid.into(),
            },
            Err(failure) => TraceEvent::AuthenticationFailed {
                userid: userid.into(),
                reason: failure.to_string(),
            },
        };
        steps.emit(&event);
        LdapTestReport {
            steps: steps.into_kept(),
            outcome,
        }
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
                let Some(directory) = self.ldap_directory(false).await? else {
                    return Err(AuthFailure::DirectoryUnavailable {
                        directory: "ldap",
                        reason: "LDAP authentication is switched off (switchboard ldap set --enabled true)".into(),
                    });
                };
                let mut steps = Steps::traced(signal);
                directory.login(&mut steps, userid, password).await?;
                if !credentials.enabled {
                    return Err(AuthFailure::UserDisabled);
                }
                Ok(AuthenticatedUser {
                    userid: credentials.userid,
                    source: UserSource::Ldap,
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
