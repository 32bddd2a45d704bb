//! The node's own TLS identity (certificate + private key) and self-signed "tomcat" generation.

use rcgen::{
    CertificateParams, DistinguishedName, DnType, ExtendedKeyUsagePurpose, KeyPair,
    KeyUsagePurpose, SanType, SerialNumber, PKCS_ECDSA_P256_SHA256,
};
use rustls::crypto::ring::default_provider;
use rustls::sign::CertifiedKey;
use rustls::{Error as TlsError, InconsistentKeys};
use rustls_pki_types::{CertificateDer, PrivateKeyDer};
use std::fmt;
use std::net::IpAddr;
use time::{Duration, OffsetDateTime};
use zeroize::Zeroize;

use crate::info::{cert_info_from_der, certificate_ders};
use crate::{CertInfo, PkiError};

/// Organisation (O=) placed in every certificate this crate generates.
pub const ORGANIZATION: &str = "Switchboard";
/// Validity of a generated tomcat certificate, in days (the CA/B maximum of old).
pub const TOMCAT_VALIDITY_DAYS: i64 = 825;

/// A certificate chain (leaf first) with its private key, both PEM.
///
/// The key is private: read it with [`NodeIdentity::key_pem`]. `Debug` never prints it and
/// it is wiped from memory on drop.
#[derive(Clone)]
pub struct NodeIdentity {
    /// PEM certificate chain, leaf first.
    pub cert_pem: String,
    key_pem: String,
}

impl NodeIdentity {
    /// Builds an identity from PEM text, checking that the chain parses and that the key
    /// belongs to the leaf certificate.
    pub fn from_pem(
        cert_pem: impl Into<String>,
        key_pem: impl Into<String>,
    ) -> Result<Self, PkiError> {
        let identity = NodeIdentity {
            cert_pem: cert_pem.into(),
            key_pem: key_pem.into(),
        };
        let chain = identity.cert_chain()?;
        let key = default_provider()
            .key_provider
            .load_private_key(identity.key_der()?)
            .map_err(|e| PkiError::InvalidKey(e.to_string()))?;
        match CertifiedKey::new(chain, key).keys_match() {
            Ok(()) => Ok(identity),
            Err(TlsError::InconsistentKeys(InconsistentKeys::KeyMismatch)) => {
                Err(PkiError::KeyMismatch)
            }
            Err(e) => Err(PkiError::InvalidKey(e.to_string())),
        }
    }

    /// The private key, PEM (PKCS#8 for generated identities).
    pub fn key_pem(&self) -> &str {
        &self.key_pem
    }

    /// Summary of the leaf certificate.
    ///
    /// Identities are validated on construction, so this only degrades (to a summary whose
    /// subject says the certificate is unparseable) if `cert_pem` was overwritten with junk;
    /// use [`NodeIdentity::try_info`] to get the error instead.
    pub fn info(&self) -> CertInfo {
        self.try_info().unwrap_or_else(|e| CertInfo {
            subject: format!("<unparseable certificate: {e}>"),
            issuer: String::new(),
            serial: String::new(),
            not_before: String::new(),
            not_after: String::new(),
            sha256_fingerprint: String::new(),
            sans: Vec::new(),
            is_ca: false,
        })
    }

    /// Summary of the leaf certificate, or why it cannot be parsed.
    pub fn try_info(&self) -> Result<CertInfo, PkiError> {
        let chain = self.cert_chain()?;
        let leaf = chain.first().ok_or(PkiError::NoCertificate)?;
        cert_info_from_der(leaf.as_ref())
    }

    /// The certificate chain as DER, leaf first.
    pub fn cert_chain(&self) -> Result<Vec<CertificateDer<'static>>, PkiError> {
        certificate_ders(&self.cert_pem)
    }

    /// The private key as DER.
    pub fn key_der(&self) -> Result<PrivateKeyDer<'static>, PkiError> {
        rustls_pemfile::private_key(&mut self.key_pem.as_bytes())
            .map_err(|e| PkiError::InvalidKey(e.to_string()))?
            .ok_or_else(|| PkiError::InvalidKey("no PRIVATE KEY block found".into()))
    }

    pub(crate) fn from_generated(cert_pem: String, key_pem: String) -> Self {
        NodeIdentity { cert_pem, key_pem }
    }
}

impl fmt::Debug for NodeIdentity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("NodeIdentity")
            .field("cert_pem", &self.cert_pem)
            .field("key_pem", &"<redacted>")
            .finish()
    }
}

impl Drop for NodeIdentity {
    fn drop(&mut self) {
        self.key_pem.zeroize();
    }
}

/// Generates the node's self-signed "tomcat" identity: ECDSA P-256, CN = `node_name`,
/// O = Switchboard, SANs = node name, `localhost`, 127.0.0.1, ::1 and `extra_sans`
/// (IP literals become IP SANs, anything else a DNS SAN), serverAuth + clientAuth,
/// valid from yesterday for [`TOMCAT_VALIDITY_DAYS`] days, random serial.
pub fn generate_tomcat(node_name: &str, extra_sans: &[String]) -> Result<NodeIdentity, PkiError> {
    let node_name = node_name.trim();
    if node_name.is_empty() {
        return Err(PkiError::Generate("node name is empty".into()));
    }
    let mut names = vec![
        node_name.to_string(),
        "localhost".into(),
        "127.0.0.1".into(),
        "::1".into(),
    ];
    names.extend(extra_sans.iter().cloned());
    let params = leaf_params(node_name, &names, TOMCAT_VALIDITY_DAYS)?;
    let key = KeyPair::generate_for(&PKCS_ECDSA_P256_SHA256).map_err(gen_err)?;
    let cert = params.self_signed(&key).map_err(gen_err)?;
    Ok(NodeIdentity::from_generated(
        cert.pem(),
        key.serialize_pem(),
    ))
}

/// Parameters of an end-entity certificate usable as TLS server and client.
pub(crate) fn leaf_params(
    cn: &str,
    sans: &[String],
    days: i64,
) -> Result<CertificateParams, PkiError> {
    let mut params = base_params(cn, days);
    params.subject_alt_names = san_list(sans)?;
    params.key_usages = vec![KeyUsagePurpose::DigitalSignature];
    params.extended_key_usages = vec![
        ExtendedKeyUsagePurpose::ServerAuth,
        ExtendedKeyUsagePurpose::ClientAuth,
    ];
    Ok(params)
}

/// Subject, validity and serial shared by every generated certificate.
pub(crate) fn base_params(cn: &str, days: i64) -> CertificateParams {
    let mut params = CertificateParams::default();
    let mut dn = DistinguishedName::new();
    dn.push(DnType::CommonName, cn);
    dn.push(DnType::OrganizationName, ORGANIZATION);
    params.distinguished_name = dn;
    let now = OffsetDateTime::now_utc();
    params.not_before = now - Duration::days(1);
    params.not_after = now + Duration::days(days);
    params.serial_number = Some(random_serial());
    params
}

/// Deduplicated SAN list; IP literals become IP SANs, the rest DNS names.
fn san_list(names: &[String]) -> Result<Vec<SanType>, PkiError> {
    let mut out: Vec<SanType> = Vec::new();
    for name in names.iter().map(|n| n.trim()).filter(|n| !n.is_empty()) {
        let san = match name.parse::<IpAddr>() {
            Ok(ip) => SanType::IpAddress(ip),
            Err(_) => SanType::DnsName(
                name.to_ascii_lowercase()
                    .try_into()
                    .map_err(|e| PkiError::Generate(format!("invalid DNS name {name:?}: {e}")))?,
            ),
        };
        if !out.contains(&san) {
            out.push(san);
        }
    }
    Ok(out)
}

/// 16 random bytes, high bit cleared so the DER INTEGER stays positive, never zero.
fn random_serial() -> SerialNumber {
    let mut bytes: [u8; 16] = rand::random();
    bytes[0] = (bytes[0] & 0x7f) | 0x01;
    SerialNumber::from_slice(&bytes)
}

pub(crate) fn gen_err(e: rcgen::Error) -> PkiError {
    PkiError::Generate(e.to_string())
}
