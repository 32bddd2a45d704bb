//! rustls server/client configurations (ring provider, TLS 1.2 + 1.3) built from the node's
//! identity and the tomcat-trust store.

use rustls::crypto::{ring, CryptoProvider};
use rustls::server::danger::ClientCertVerifier;
use rustls::server::WebPkiClientVerifier;
use rustls::version::{TLS12, TLS13};
use rustls::{ClientConfig, RootCertStore, ServerConfig, SupportedProtocolVersion};
use std::sync::Arc;

use crate::info::certificate_ders;
use crate::{NodeIdentity, PkiError};

const VERSIONS: &[&SupportedProtocolVersion] = &[&TLS13, &TLS12];

/// Whether a TLS listener asks for, and verifies, client certificates.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ClientAuth {
    /// No client certificate is requested.
    None,
    /// A client certificate is requested; if one is sent it must chain to the trust store.
    /// With an empty trust store no certificate is requested at all.
    Optional,
    /// A client certificate chaining to the trust store is mandatory.
    Required,
}

/// The crypto provider every config of this crate uses: rustls' `ring` provider.
pub fn crypto_provider() -> Arc<CryptoProvider> {
    Arc::new(ring::default_provider())
}

/// Builds a root store from trust-store PEMs (each entry may hold several certificates).
pub fn trust_roots(pems: &[String]) -> Result<RootCertStore, PkiError> {
    let mut roots = RootCertStore::empty();
    for (index, pem) in pems.iter().enumerate() {
        let bad = |reason: String| PkiError::BadTrustAnchor { index, reason };
        for der in certificate_ders(pem).map_err(|e| bad(e.to_string()))? {
            roots.add(der).map_err(|e| bad(e.to_string()))?;
        }
    }
    Ok(roots)
}

/// A server configuration presenting `identity`, verifying client certificates against
/// `trust_pems` according to `client_auth`, and offering the `alpn` protocols in order.
pub fn server_config(
    identity: &NodeIdentity,
    trust_pems: &[String],
    client_auth: ClientAuth,
    alpn: &[&[u8]],
) -> Result<Arc<ServerConfig>, PkiError> {
    let provider = crypto_provider();
    let roots = trust_roots(trust_pems)?;
    let verifier: Arc<dyn ClientCertVerifier> = match client_auth {
        ClientAuth::None => WebPkiClientVerifier::no_client_auth(),
        ClientAuth::Optional if roots.is_empty() => WebPkiClientVerifier::no_client_auth(),
        ClientAuth::Required if roots.is_empty() => return Err(PkiError::EmptyTrustStore),
        ClientAuth::Optional => {
            WebPkiClientVerifier::builder_with_provider(Arc::new(roots), provider.clone())
                .allow_unauthenticated()
                .build()
                .map_err(tls_err)?
        }
        ClientAuth::Required => {
            WebPkiClientVerifier::builder_with_provider(Arc::new(roots), provider.clone())
                .build()
                .map_err(tls_err)?
        }
    };
    let mut config = ServerConfig::builder_with_provider(provider)
        .with_protocol_versions(VERSIONS)
        .map_err(tls_err)?
        .with_client_cert_verifier(verifier)
        .with_single_cert(identity.cert_chain()?, identity.key_der()?)
        .map_err(key_err)?;
    config.alpn_protocols = alpn.iter().map(|p| p.to_vec()).collect();
    Ok(Arc::new(config))
}

/// A client configuration trusting exactly `pems` (e.g. a node's tomcat certificate or a CA).
pub fn client_config_trusting(pems: &[String]) -> Result<Arc<ClientConfig>, PkiError> {
    let config = client_builder(pems)?.with_no_client_auth();
    Ok(Arc::new(config))
}

/// Like [`client_config_trusting`], presenting `identity` as the client certificate (mTLS).
pub fn client_config_with_identity(
    trust: &[String],
    identity: &NodeIdentity,
) -> Result<Arc<ClientConfig>, PkiError> {
    let config = client_builder(trust)?
        .with_client_auth_cert(identity.cert_chain()?, identity.key_der()?)
        .map_err(key_err)?;
    Ok(Arc::new(config))
}

fn client_builder(
    trust: &[String],
) -> Result<rustls::ConfigBuilder<ClientConfig, rustls::client::WantsClientCert>, PkiError> {
    let roots = trust_roots(trust)?;
    if roots.is_empty() {
        return Err(PkiError::NoTrustAnchors);
    }
    Ok(ClientConfig::builder_with_provider(crypto_provider())
        .with_protocol_versions(VERSIONS)
        .map_err(tls_err)?
        .with_root_certificates(roots))
}

fn tls_err(e: impl std::fmt::Display) -> PkiError {
    PkiError::Tls(e.to_string())
}

fn key_err(e: rustls::Error) -> PkiError {
    match e {
        rustls::Error::InconsistentKeys(rustls::InconsistentKeys::KeyMismatch) => {
            PkiError::KeyMismatch
        }
        other => PkiError::Tls(other.to_string()),
    }
}
