//! Switchboard's node certificates: the self-signed "tomcat" identity used by the HTTPS
//! provisioning API (8443) and SIP/TLS, parsing of certificates imported into the
//! "tomcat-trust" store (which itself lives in the database and is passed in as PEM
//! strings), and the rustls server/client configurations built from them, including
//! mutual-TLS verification of client certificates against tomcat-trust.
//!
//! All TLS configs use rustls' `ring` provider explicitly (see [`crypto_provider`]).
//! With the `test-util` feature, `generate_test_ca` / `issue_leaf` provide a throw-away
//! CA for tests across the workspace.

mod certdir;
mod error;
mod identity;
mod info;
#[cfg(feature = "test-util")]
mod testca;
mod tls;

pub use certdir::CertDir;
pub use error::PkiError;
pub use identity::{generate_tomcat, NodeIdentity, ORGANIZATION, TOMCAT_VALIDITY_DAYS};
pub use info::{cert_info_from_der, certificate_ders, parse_certificates, CertInfo, MAX_PEM_BYTES};
#[cfg(feature = "test-util")]
pub use testca::{generate_test_ca, issue_leaf, TestCa};
pub use tls::{
    client_config_trusting, client_config_with_identity, crypto_provider, server_config,
    trust_roots, ClientAuth,
};
