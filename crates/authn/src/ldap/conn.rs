//! Opening one LDAP connection to one configured server, with a deadline on the TCP connect,
//! on StartTLS and the TLS handshake, and on every operation; and naming what went wrong
//! ([`classify`]): certificate errors come back from `ldap3` as I/O errors wrapping a
//! `rustls::Error`, which are told apart here (untrusted, name mismatch, other TLS failure).

use std::sync::Arc;
use std::time::Duration;

use ldap3::{LdapConnAsync, LdapConnSettings, LdapError, StdStream};
use rustls::{CertificateError, ClientConfig};
use switchboard_store::model::LdapTls;
use tokio::net::TcpStream;

use super::LdapFailure;

/// Deadlines of the directory client.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Timeouts {
    /// TCP connect, then StartTLS and the TLS handshake (each).
    pub connect: Duration,
    /// Each LDAP operation (bind, search).
    pub operation: Duration,
}

impl Default for Timeouts {
    fn default() -> Timeouts {
        Timeouts {
            connect: Duration::from_secs(5),
            operation: Duration::from_secs(5),
        }
    }
}

/// One configured server, ready to connect to.
#[derive(Clone)]
pub(crate) struct Endpoint {
    pub host: String,
    pub port: u32,
    pub tls: LdapTls,
    /// `ldap://10.10.10.10:3268` or `ldaps://…`; StartTLS servers show as `ldap://`.
    pub url: String,
    /// The rustls configuration trusting the server's CA (TLS modes only).
    pub tls_config: Option<Arc<ClientConfig>>,
}

impl Endpoint {
    pub fn new(
        host: &str,
        port: u32,
        tls: LdapTls,
        ca_pem: Option<&str>,
    ) -> Result<Endpoint, LdapFailure> {
        let bracketed = if host.contains(':') {
            format!("[{host}]")
        } else {
            host.to_owned()
        };
        let scheme = if tls == LdapTls::Ldaps {
            "ldaps"
        } else {
            "ldap"
        };
        let url = format!("{scheme}://{bracketed}:{port}");
        let tls_config = match (tls, ca_pem) {
            (LdapTls::Plain, _) => None,
            (_, Some(pem)) => Some(
                switchboard_pki::client_config_trusting(&[pem.to_owned()]).map_err(|e| {
                    LdapFailure::NotConfigured {
                        reason: format!("the CA certificate of {url} cannot be used: {e}"),
                    }
                })?,
            ),
            (_, None) => Some(system_roots_config()),
        };
        Ok(Endpoint {
            host: host.to_owned(),
            port,
            tls,
            url,
            tls_config,
        })
    }

    /// True when the connection is encrypted (LDAPS or StartTLS).
    pub fn encrypted(&self) -> bool {
        self.tls != LdapTls::Plain
    }

    /// A connection, TLS established as configured, not bound.
    pub async fn connect(&self, timeouts: &Timeouts) -> Result<ldap3::Ldap, LdapFailure> {
        let target = (self.host.as_str(), self.port as u16);
        let tcp = match tokio::time::timeout(timeouts.connect, TcpStream::connect(target)).await {
            Err(_) => return Err(self.timeout("connect", timeouts.connect)),
            Ok(Err(e)) => {
                return Err(LdapFailure::Unreachable {
                    server: self.url.clone(),
                    reason: e.to_string(),
                })
            }
            Ok(Ok(tcp)) => tcp,
        };
        let _ = tcp.set_nodelay(true);
        let std = tcp.into_std().map_err(|e| LdapFailure::Unreachable {
            server: self.url.clone(),
            reason: e.to_string(),
        })?;
        let mut settings = LdapConnSettings::new()
            .set_std_stream(StdStream::Tcp(std))
            .set_conn_timeout(timeouts.connect)
            .set_starttls(self.tls == LdapTls::Starttls);
        if let Some(config) = &self.tls_config {
            settings = settings.set_config(config.clone());
        }
        let (conn, ldap) = LdapConnAsync::with_settings(settings, &self.url)
            .await
            .map_err(|e| classify(e, self, "TLS handshake", timeouts.connect))?;
        tokio::spawn(async move {
            let _ = conn.drive().await;
        });
        Ok(ldap)
    }

    pub fn timeout(&self, operation: &'static str, after: Duration) -> LdapFailure {
        LdapFailure::Timeout {
            server: self.url.clone(),
            operation,
            seconds: after.as_secs().max(1),
        }
    }
}

/// The platform's trusted roots, for a TLS server configured without its own CA.
fn system_roots_config() -> Arc<ClientConfig> {
    let mut roots = rustls::RootCertStore::empty();
    for cert in rustls_native_certs::load_native_certs().certs {
        let _ = roots.add(cert);
    }
    Arc::new(
        ClientConfig::builder_with_provider(switchboard_pki::crypto_provider())
            .with_safe_default_protocol_versions()
            .expect("the ring provider supports the default TLS versions")
            .with_root_certificates(roots)
            .with_no_client_auth(),
    )
}

/// Names a failure of the connection or of an operation on it (not an LDAP result code).
pub(crate) fn classify(
    error: LdapError,
    endpoint: &Endpoint,
    operation: &'static str,
    after: Duration,
) -> LdapFailure {
    let server = endpoint.url.clone();
    match error {
        LdapError::Timeout { .. } => endpoint.timeout(operation, after),
        LdapError::Io { source } => {
            if let Some(tls) = source
                .get_ref()
                .and_then(|e| e.downcast_ref::<rustls::Error>())
            {
                return tls_failure(tls, endpoint);
            }
            LdapFailure::Unreachable {
                server,
                reason: source.to_string(),
            }
        }
        LdapError::Rustls { source } => tls_failure(&source, endpoint),
        LdapError::DNSName { source } => LdapFailure::TlsFailed {
            server,
            reason: format!("the host is not a valid TLS server name: {source}"),
        },
        LdapError::EndOfStream
        | LdapError::OpSend { .. }
        | LdapError::ResultRecv { .. }
        | LdapError::IdScrubSend { .. } => LdapFailure::Unreachable {
            server,
            reason: "the server closed the connection".into(),
        },
        LdapError::LdapResult { result } if operation == "TLS handshake" => {
            LdapFailure::TlsFailed {
                server,
                reason: format!(
                    "StartTLS refused: result {} ({})",
                    result.rc,
                    result.text.trim()
                ),
            }
        }
        other => LdapFailure::Protocol {
            server,
            reason: other.to_string(),
        },
    }
}

fn tls_failure(error: &rustls::Error, endpoint: &Endpoint) -> LdapFailure {
    let server = endpoint.url.clone();
    match error {
        rustls::Error::InvalidCertificate(
            CertificateError::NotValidForName | CertificateError::NotValidForNameContext { .. },
        ) => LdapFailure::TlsNameMismatch {
            server,
            host: endpoint.host.clone(),
        },
        rustls::Error::InvalidCertificate(
            e @ (CertificateError::UnknownIssuer
            | CertificateError::BadSignature
            | CertificateError::UnknownRevocationStatus
            | CertificateError::Revoked),
        ) => LdapFailure::TlsUntrusted {
            server,
            reason: format!("{e:?}"),
        },
        rustls::Error::InvalidCertificate(e) => LdapFailure::TlsFailed {
            server,
            reason: format!("certificate refused: {e:?}"),
        },
        other => LdapFailure::TlsFailed {
            server,
            reason: other.to_string(),
        },
    }
}
