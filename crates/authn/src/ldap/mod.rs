//! LDAP / Active Directory authentication (SPEC §5, 000 steps 7–12): [`LdapDirectory::login`]
//! takes a connection from the server's pool (opened and bound as the service account once per
//! pooled connection, not once per login), searches the configured bases with the filter
//! template and the RFC 4515-escaped userid, requires exactly one entry, then binds as that
//! entry's DN with the user's password on a separate connection (pooled too, re-bound by each
//! login). Servers are tried in order;
//! the next one only when a server is unreachable or broken before the user's password was
//! sent, never after a wrong password. Every step is traced in the CUCM style, never the
//! password.

mod conn;
mod failure;
pub mod filter;
mod pool;
mod steps;

use std::sync::atomic::{AtomicU64, Ordering};

use ldap3::{Scope, SearchOptions};
use switchboard_store::model::{LdapServer, LdapSettings};
use switchboard_trace::TraceEvent;

pub use conn::Timeouts;
pub use failure::LdapFailure;
pub use steps::Steps;

use conn::{classify, Endpoint};
use failure::{is_plain_refused, rc, result_text, user_bind_failure};
use filter::{escape_filter_value, expand_template};
use pool::{Pool, Pooled, Slot};

/// Everything a directory client needs, taken from the store's LDAP settings.
#[derive(Clone, PartialEq)]
pub struct LdapConfig {
    pub servers: Vec<LdapServer>,
    pub service_dn: String,
    pub service_password: String,
    pub search_bases: Vec<String>,
    pub filter_template: String,
    pub options: LdapOptions,
}

impl std::fmt::Debug for LdapConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LdapConfig")
            .field("servers", &self.servers)
            .field("service_dn", &self.service_dn)
            .field(
                "service_password",
                &switchboard_trace::Redacted(&self.service_password),
            )
            .field("search_bases", &self.search_bases)
            .field("filter_template", &self.filter_template)
            .field("options", &self.options)
            .finish()
    }
}

/// Tuning of the directory client that is not stored (node defaults; tests shorten them).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LdapOptions {
    pub timeouts: Timeouts,
    /// Most service-account connections per server.
    pub pool_size: usize,
}

impl Default for LdapOptions {
    fn default() -> LdapOptions {
        LdapOptions {
            timeouts: Timeouts::default(),
            pool_size: 8,
        }
    }
}

impl LdapConfig {
    /// The client configuration of `settings` with the unsealed service password.
    pub fn from_settings(
        settings: &LdapSettings,
        service_password: String,
        options: LdapOptions,
    ) -> LdapConfig {
        LdapConfig {
            servers: settings.servers.clone(),
            service_dn: settings.service_dn.clone(),
            service_password,
            search_bases: settings.search_bases.clone(),
            filter_template: settings.filter_template.clone(),
            options,
        }
    }
}

struct Server {
    endpoint: Endpoint,
    /// Connections bound as the service account, for searches.
    pool: Pool,
    /// Connections for the users' binds, apart from the service account's: each is re-bound
    /// by the next login (a bind replaces the connection's identity, and nothing but binds
    /// ever runs on them), which saves a TCP (and TLS) handshake per login.
    bind_pool: Pool,
}

/// A configured directory: its servers in order, each with its pool of service-account
/// connections. Built from an [`LdapConfig`]; replaced (pools and all) when the settings
/// change.
pub struct LdapDirectory {
    config: LdapConfig,
    servers: Vec<Server>,
    service_binds: AtomicU64,
    user_binds: AtomicU64,
}

/// A failure and whether the user's password had reached a server (then no failover).
struct Attempt {
    failure: LdapFailure,
    password_sent: bool,
}

impl From<LdapFailure> for Attempt {
    fn from(failure: LdapFailure) -> Attempt {
        Attempt {
            failure,
            password_sent: false,
        }
    }
}

impl LdapDirectory {
    /// A directory for `config`; fails when it cannot be used (no server, no search base, a CA
    /// that is not a certificate, a bad filter template).
    pub fn new(config: LdapConfig) -> Result<LdapDirectory, LdapFailure> {
        let not_configured = |reason: &str| LdapFailure::NotConfigured {
            reason: reason.to_owned(),
        };
        if config.servers.is_empty() {
            return Err(not_configured("no LDAP server is configured"));
        }
        if config.search_bases.is_empty() {
            return Err(not_configured("no user search base is configured"));
        }
        if config.service_dn.is_empty() {
            return Err(not_configured("no service account DN is configured"));
        }
        filter::check_template(&config.filter_template).map_err(|e| {
            LdapFailure::NotConfigured {
                reason: e.to_string(),
            }
        })?;
        let servers = config
            .servers
            .iter()
            .map(|s| {
                Ok(Server {
                    endpoint: Endpoint::new(&s.host, s.port, s.tls, s.ca_pem.as_deref())?,
                    pool: Pool::new(config.options.pool_size),
                    bind_pool: Pool::new(config.options.pool_size),
                })
            })
            .collect::<Result<Vec<_>, LdapFailure>>()?;
        Ok(LdapDirectory {
            config,
            servers,
            service_binds: AtomicU64::new(0),
            user_binds: AtomicU64::new(0),
        })
    }

    /// The configuration this directory was built from.
    pub fn config(&self) -> &LdapConfig {
        &self.config
    }

    /// How many times the service account has bound (once per pooled connection).
    pub fn service_binds(&self) -> u64 {
        self.service_binds.load(Ordering::Relaxed)
    }

    /// How many user binds were attempted.
    pub fn user_binds(&self) -> u64 {
        self.user_binds.load(Ordering::Relaxed)
    }

    /// Closes every pooled connection.
    pub fn clear_pools(&self) {
        for server in &self.servers {
            server.pool.clear();
            server.bind_pool.clear();
        }
    }

    /// Checks `password` for `userid`; the DN of the user's entry when it is right.
    pub async fn login(
        &self,
        steps: &mut Steps<'_>,
        userid: &str,
        password: &str,
    ) -> Result<String, LdapFailure> {
        steps.emit(&TraceEvent::LdapAuthenticateUserEnter);
        steps.emit(&TraceEvent::LdapUserIdIs {
            userid: userid.into(),
        });
        steps.emit(&TraceEvent::LdapEscapeEnter);
        steps.emit(&TraceEvent::EscapedForFilter {
            escaped: escape_filter_value(userid),
        });
        if password.is_empty() {
            // An empty password would be an unauthenticated bind, which LDAP servers accept.
            return Err(LdapFailure::EmptyPassword);
        }
        let filter = expand_template(&self.config.filter_template, userid).map_err(|e| {
            LdapFailure::NotConfigured {
                reason: e.to_string(),
            }
        })?;
        let count = self.servers.len();
        let mut index = 0;
        loop {
            let server = &self.servers[index];
            match self
                .try_server(steps, index, server, &filter, password)
                .await
            {
                Ok(dn) => {
                    steps.emit(&TraceEvent::LdapAuthenticateUserExit { code: 0 });
                    return Ok(dn);
                }
                Err(attempt)
                    if attempt.failure.fails_over()
                        && !attempt.password_sent
                        && index + 1 < count =>
                {
                    steps.emit(&TraceEvent::LdapFailover {
                        from: server.endpoint.url.clone(),
                        to: self.servers[index + 1].endpoint.url.clone(),
                        reason: attempt.failure.to_string(),
                    });
                    index += 1;
                }
                Err(attempt) => {
                    steps.emit(&TraceEvent::LdapAuthenticateUserExit { code: -1 });
                    return Err(attempt.failure);
                }
            }
        }
    }

    /// The whole flow on one server.
    async fn try_server(
        &self,
        steps: &mut Steps<'_>,
        index: usize,
        server: &Server,
        filter: &str,
        password: &str,
    ) -> Result<String, Attempt> {
        let (slot, pooled) = server.pool.take().await;
        let dn = match pooled {
            Some(conn) => {
                steps.emit(&TraceEvent::LdapConnectionReused {
                    index: conn.number,
                    url: server.endpoint.url.clone(),
                });
                match self.search(steps, server, conn, slot, filter).await {
                    // A pooled connection the server has closed since: once more on a new one.
                    // Its idle siblings are likely closed too.
                    Err(LdapFailure::Unreachable { .. }) => {
                        server.pool.clear();
                        let (slot, _) = server.pool.take().await;
                        let conn = self.open_service(steps, index, server).await?;
                        self.search(steps, server, conn, slot, filter).await?
                    }
                    other => other?,
                }
            }
            None => {
                let conn = self.open_service(steps, index, server).await?;
                self.search(steps, server, conn, slot, filter).await?
            }
        };
        self.bind_user(steps, index, server, &dn, password).await?;
        Ok(dn)
    }

    /// Opens a connection to `server` and binds it as the service account.
    async fn open_service(
        &self,
        steps: &mut Steps<'_>,
        index: usize,
        server: &Server,
    ) -> Result<Pooled, LdapFailure> {
        let ep = &server.endpoint;
        let t = self.config.options.timeouts;
        steps.emit(&TraceEvent::LdapNotInitialized);
        steps.emit(&TraceEvent::LdapConnectEnter);
        steps.emit(&TraceEvent::LdapAuthenticateEnter);
        steps.emit(&TraceEvent::LdapAuthenticating {
            url: ep.url.clone(),
            tls: ep.encrypted(),
        });
        let mut ldap = match ep.connect(&t).await {
            Ok(ldap) => ldap,
            Err(failure) => {
                self.connection_failed(steps, index, ep, &failure);
                return Err(failure);
            }
        };
        let dn = &self.config.service_dn;
        self.service_binds.fetch_add(1, Ordering::Relaxed);
        let result = ldap
            .with_timeout(t.operation)
            .simple_bind(dn, &self.config.service_password)
            .await;
        let failure = match result {
            Ok(r) if r.rc == rc::SUCCESS => None,
            Ok(r) if is_plain_refused(r.rc) => Some(LdapFailure::PlainBindRefused {
                server: ep.url.clone(),
                reason: result_text(r.rc, &r.text),
            }),
            Ok(r) => Some(LdapFailure::ServiceBindFailed {
                dn: dn.clone(),
                reason: result_text(r.rc, &r.text),
            }),
            Err(e) => Some(classify(e, ep, "service account bind", t.operation)),
        };
        if let Some(failure) = failure {
            steps.emit(&TraceEvent::LdapBindFailed {
                dn: dn.clone(),
                reason: failure.to_string(),
            });
            self.connection_failed(steps, index, ep, &failure);
            return Err(failure);
        }
        let number = server.pool.next_number();
        steps.emit(&TraceEvent::LdapBindSuccess { dn: dn.clone() });
        self.connection_details(steps, number, ep);
        steps.emit(&TraceEvent::LdapAdministratorAuthenticated);
        Ok(Pooled { ldap, number })
    }

    /// Searches every base for the one entry of the filter; gives the connection back to the
    /// pool when it is still good.
    async fn search(
        &self,
        steps: &mut Steps<'_>,
        server: &Server,
        mut conn: Pooled,
        slot: Slot,
        filter: &str,
    ) -> Result<String, LdapFailure> {
        let ep = &server.endpoint;
        let t = self.config.options.timeouts;
        let mut found: Vec<String> = Vec::new();
        for base in &self.config.search_bases {
            steps.emit(&TraceEvent::LdapSearchFilter {
                filter: filter.to_owned(),
            });
            steps.emit(&TraceEvent::LdapSearchBase { base: base.clone() });
            let result = conn
                .ldap
                .with_timeout(t.operation)
                .with_search_options(SearchOptions::new().sizelimit(2))
                .search(base, Scope::Subtree, filter, vec!["1.1"])
                .await;
            let ldap3::SearchResult(entries, result) = match result {
                Ok(r) => r,
                // The connection is in doubt: it is dropped with `conn`.
                Err(e) => return Err(classify(e, ep, "search", t.operation)),
            };
            steps.emit(&TraceEvent::LdapSearchComplete {
                code: result.rc as i32,
            });
            match result.rc {
                rc::SUCCESS | rc::SIZE_LIMIT_EXCEEDED => {}
                rc::NO_SUCH_OBJECT | rc::INVALID_DN_SYNTAX | rc::REFERRAL => {
                    server.pool.put_back(slot, conn);
                    return Err(LdapFailure::SearchBaseInvalid {
                        base: base.clone(),
                        reason: result_text(result.rc, &result.text),
                    });
                }
                code => {
                    server.pool.put_back(slot, conn);
                    return Err(LdapFailure::Protocol {
                        server: ep.url.clone(),
                        reason: format!("search failed: {}", result_text(code, &result.text)),
                    });
                }
            }
            found.extend(
                entries
                    .into_iter()
                    .filter(|e| !e.is_ref())
                    .map(|e| ldap3::SearchEntry::construct(e).dn),
            );
            if result.rc == rc::SIZE_LIMIT_EXCEEDED && found.len() < 2 {
                found.push(String::new());
            }
        }
        server.pool.put_back(slot, conn);
        steps.emit(&TraceEvent::LdapSearchEntries { count: found.len() });
        match found.len() {
            0 => Err(LdapFailure::UserNotFound {
                bases: self
                    .config
                    .search_bases
                    .iter()
                    .map(|b| format!("'{b}'"))
                    .collect::<Vec<_>>()
                    .join(", "),
            }),
            1 => {
                let dn = found.pop().unwrap_or_default();
                steps.emit(&TraceEvent::LdapGetDn);
                steps.emit(&TraceEvent::GotDn { dn: dn.clone() });
                Ok(dn)
            }
            count => Err(LdapFailure::UserAmbiguous { count }),
        }
    }

    /// Binds as `dn` with the user's password on a connection of its own (from the server's
    /// bind pool).
    async fn bind_user(
        &self,
        steps: &mut Steps<'_>,
        index: usize,
        server: &Server,
        dn: &str,
        password: &str,
    ) -> Result<(), Attempt> {
        let ep = &server.endpoint;
        let t = self.config.options.timeouts;
        steps.emit(&TraceEvent::AttemptAuthenticateDn { dn: dn.into() });
        steps.emit(&TraceEvent::LdapAuthenticateEnter);
        steps.emit(&TraceEvent::LdapAuthenticating {
            url: ep.url.clone(),
            tls: ep.encrypted(),
        });
        let (slot, pooled) = server.bind_pool.take().await;
        let mut conn = match pooled {
            Some(conn) => conn,
            None => match ep.connect(&t).await {
                Ok(ldap) => Pooled {
                    ldap,
                    number: server.bind_pool.next_number(),
                },
                Err(failure) => {
                    self.connection_failed(steps, index, ep, &failure);
                    return Err(failure.into());
                }
            },
        };
        self.user_binds.fetch_add(1, Ordering::Relaxed);
        let result = conn
            .ldap
            .with_timeout(t.operation)
            .simple_bind(dn, password)
            .await;
        if result.is_ok() {
            // The server answered: the connection is good for the next user's bind.
            server.bind_pool.put_back(slot, conn);
        }
        let failure = match result {
            Ok(r) if r.rc == rc::SUCCESS => None,
            Ok(r) if is_plain_refused(r.rc) => Some(Attempt::from(LdapFailure::PlainBindRefused {
                server: ep.url.clone(),
                reason: result_text(r.rc, &r.text),
            })),
            Ok(r) => Some(Attempt {
                failure: user_bind_failure(r.rc, &r.text),
                password_sent: true,
            }),
            // Whether the server saw the password is unknown: no failover.
            Err(e) => Some(Attempt {
                failure: classify(e, ep, "user bind", t.operation),
                password_sent: true,
            }),
        };
        if let Some(attempt) = failure {
            steps.emit(&TraceEvent::LdapBindFailed {
                dn: dn.into(),
                reason: attempt.failure.to_string(),
            });
            steps.emit(&TraceEvent::LdapAuthenticateExit { code: -1 });
            return Err(attempt);
        }
        steps.emit(&TraceEvent::LdapBindSuccess { dn: dn.into() });
        self.connection_details(steps, index, ep);
        Ok(())
    }

    /// `Connection # (N): sucessful`, its details, the servers and the exit line (000 step 10).
    fn connection_details(&self, steps: &mut Steps<'_>, number: usize, ep: &Endpoint) {
        steps.emit(&TraceEvent::LdapConnectionSuccessful { index: number });
        steps.emit(&TraceEvent::LdapConnectionDetails);
        steps.emit(&TraceEvent::LdapServerAddress {
            host: ep.host.clone(),
            port: ep.port,
        });
        steps.emit(&TraceEvent::LdapDetailsEnd);
        steps.emit(&TraceEvent::AvailableServers {
            count: self.servers.len(),
        });
        steps.emit(&TraceEvent::LdapAuthenticateExit { code: 0 });
    }

    fn connection_failed(
        &self,
        steps: &mut Steps<'_>,
        index: usize,
        ep: &Endpoint,
        failure: &LdapFailure,
    ) {
        steps.emit(&TraceEvent::LdapConnectionFailed {
            index,
            url: ep.url.clone(),
            reason: failure.to_string(),
        });
        steps.emit(&TraceEvent::LdapAuthenticateExit { code: -1 });
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn config_debug_hides_the_password() {
        let config = LdapConfig {
            servers: vec![],
            service_dn: "svc".into(),
            service_password: "s3cret-pw".into(),
            search_bases: vec![],
            filter_template: "(uid={userid})".into(),
            options: LdapOptions::default(),
        };
        let text = format!("{config:?}");
        assert!(!text.contains("s3cret-pw"), "{text}");
        assert!(matches!(
            LdapDirectory::new(config),
            Err(LdapFailure::NotConfigured { .. })
        ));
    }
}
