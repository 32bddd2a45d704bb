//! Error type of the PKI crate: every message names the cause and the fix.

use std::path::PathBuf;

/// Everything that can go wrong handling the node's certificates and trust store.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum PkiError {
    /// The PEM input is larger than [`crate::MAX_PEM_BYTES`].
    #[error("PEM input is {len} bytes, over the {max}-byte limit; import certificates one file at a time")]
    TooLarge {
        /// Size of the rejected input in bytes.
        len: usize,
        /// The limit that was exceeded.
        max: usize,
    },
    /// The input contains a private key, which a certificate/trust import must never carry.
    #[error("input contains a PRIVATE KEY block; a trust import must never carry a key: remove the key and supply only CERTIFICATE blocks")]
    PrivateKeyInInput,
    /// The input contains no `CERTIFICATE` PEM block at all.
    #[error("no certificate found: expected one or more '-----BEGIN CERTIFICATE-----' PEM blocks")]
    NoCertificate,
    /// The input looks like PEM but cannot be decoded or parsed as X.509.
    #[error("malformed certificate PEM: {0}; supply PEM-encoded X.509 certificates")]
    Malformed(String),
    /// The private key PEM is missing, unreadable or of an unsupported kind.
    #[error("invalid private key: {0}; supply a PKCS#8, SEC1 or PKCS#1 PEM key matching the certificate")]
    InvalidKey(String),
    /// The private key does not belong to the certificate.
    #[error("private key does not match the certificate's public key; regenerate the identity or supply the matching key")]
    KeyMismatch,
    /// Certificate generation with rcgen failed (for example an invalid SAN).
    #[error(
        "certificate generation failed: {0}; check the node name and subject alternative names"
    )]
    Generate(String),
    /// A filesystem operation on the certificate directory failed.
    #[error("{action} {path}: {source}; check that the directory exists and is writable by the server user")]
    Io {
        /// What was being done ("reading", "writing", ...).
        action: &'static str,
        /// The file or directory concerned.
        path: PathBuf,
        /// The underlying error.
        #[source]
        source: std::io::Error,
    },
    /// Only one of the certificate/key pair exists on disk.
    #[error("incomplete tomcat identity: {present} exists but {missing} is missing; run certificate regeneration (or delete both files) to create a fresh pair")]
    IncompleteIdentity {
        /// The file that exists.
        present: PathBuf,
        /// The file that is missing.
        missing: PathBuf,
    },
    /// Client certificates are required but the trust store is empty.
    #[error("client certificates are required but the tomcat-trust store is empty; import the issuing CA certificate into tomcat-trust first")]
    EmptyTrustStore,
    /// A client configuration was requested with no trusted certificate at all.
    #[error("no trusted certificates given; pass the server's tomcat certificate or the CA that issued it")]
    NoTrustAnchors,
    /// A trust-store entry cannot be used as a trust anchor.
    #[error("trust-store entry {index} cannot be used as a trust anchor: {reason}; remove or replace that certificate")]
    BadTrustAnchor {
        /// Zero-based position of the entry in the trust list.
        index: usize,
        /// Why it was refused.
        reason: String,
    },
    /// rustls refused to build the TLS configuration.
    #[error("TLS configuration failed: {0}; check the certificate, key and trust store")]
    Tls(String),
}

impl PkiError {
    pub(crate) fn io(
        action: &'static str,
        path: impl Into<PathBuf>,
        source: std::io::Error,
    ) -> Self {
        PkiError::Io {
            action,
            path: path.into(),
            source,
        }
    }
}
