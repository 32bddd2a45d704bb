//! Certificate inspection: PEM parsing for trust imports and the [`CertInfo`] summary.

use rustls_pemfile::Item;
use rustls_pki_types::CertificateDer;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use std::net::IpAddr;
use time::format_description::well_known::Rfc3339;
use x509_parser::extensions::GeneralName;
use x509_parser::time::ASN1Time;

use crate::PkiError;

/// Largest PEM input accepted by [`parse_certificates`] (64 KiB).
pub const MAX_PEM_BYTES: usize = 64 * 1024;

/// Human-readable summary of one X.509 certificate, as shown by the API and CLI.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct CertInfo {
    /// Subject distinguished name, e.g. `CN=cucm1, O=Switchboard`.
    pub subject: String,
    /// Issuer distinguished name (equal to `subject` for a self-signed certificate).
    pub issuer: String,
    /// Serial number, lowercase hex without separators.
    pub serial: String,
    /// Start of validity, RFC 3339 (UTC).
    pub not_before: String,
    /// End of validity, RFC 3339 (UTC).
    pub not_after: String,
    /// SHA-256 over the DER encoding, lowercase hex without colons.
    pub sha256_fingerprint: String,
    /// Subject alternative names: DNS names, IP addresses, e-mails and URIs as plain strings.
    pub sans: Vec<String>,
    /// Whether the basic-constraints extension marks it as a CA.
    pub is_ca: bool,
}

/// Parses one or more `CERTIFICATE` PEM blocks into summaries, in input order.
///
/// Refuses input over [`MAX_PEM_BYTES`], input holding any `PRIVATE KEY` block (a trust
/// import must never carry a key), input with no certificate, and undecodable blocks.
pub fn parse_certificates(pem: &str) -> Result<Vec<CertInfo>, PkiError> {
    certificate_ders(pem)?
        .iter()
        .map(|der| cert_info_from_der(der.as_ref()))
        .collect()
}

/// Decodes the `CERTIFICATE` blocks of `pem` to DER with the same checks as
/// [`parse_certificates`] (size, no key, at least one certificate).
pub fn certificate_ders(pem: &str) -> Result<Vec<CertificateDer<'static>>, PkiError> {
    if pem.len() > MAX_PEM_BYTES {
        return Err(PkiError::TooLarge {
            len: pem.len(),
            max: MAX_PEM_BYTES,
        });
    }
    // Textual check first: it also catches key kinds rustls-pemfile skips (e.g. ENCRYPTED).
    if pem.contains("PRIVATE KEY") {
        return Err(PkiError::PrivateKeyInInput);
    }
    let mut ders = Vec::new();
    for item in rustls_pemfile::read_all(&mut pem.as_bytes()) {
        match item.map_err(|e| PkiError::Malformed(e.to_string()))? {
            Item::X509Certificate(der) => ders.push(der),
            Item::Pkcs1Key(_) | Item::Pkcs8Key(_) | Item::Sec1Key(_) => {
                return Err(PkiError::PrivateKeyInInput)
            }
            _ => {
                return Err(PkiError::Malformed(
                    "unexpected PEM block (only CERTIFICATE blocks are accepted)".into(),
                ))
            }
        }
    }
    if ders.is_empty() {
        return Err(PkiError::NoCertificate);
    }
    // Validate every block now so callers never hold undecodable DER.
    for der in &ders {
        cert_info_from_der(der.as_ref())?;
    }
    Ok(ders)
}

/// Builds the [`CertInfo`] of one DER-encoded certificate.
pub fn cert_info_from_der(der: &[u8]) -> Result<CertInfo, PkiError> {
    let (_, cert) = x509_parser::parse_x509_certificate(der)
        .map_err(|e| PkiError::Malformed(format!("X.509 decoding failed: {e}")))?;
    let validity = cert.validity();
    let sans = match cert.subject_alternative_name() {
        Ok(Some(ext)) => ext
            .value
            .general_names
            .iter()
            .filter_map(san_string)
            .collect(),
        Ok(None) => Vec::new(),
        Err(e) => return Err(PkiError::Malformed(format!("bad subjectAltName: {e}"))),
    };
    let is_ca = match cert.basic_constraints() {
        Ok(bc) => bc.is_some_and(|ext| ext.value.ca),
        Err(e) => return Err(PkiError::Malformed(format!("bad basicConstraints: {e}"))),
    };
    Ok(CertInfo {
        subject: cert.subject().to_string(),
        issuer: cert.issuer().to_string(),
        serial: hex::encode(cert.raw_serial()),
        not_before: rfc3339(&validity.not_before)?,
        not_after: rfc3339(&validity.not_after)?,
        sha256_fingerprint: hex::encode(Sha256::digest(der)),
        sans,
        is_ca,
    })
}

fn rfc3339(t: &ASN1Time) -> Result<String, PkiError> {
    t.to_datetime()
        .format(&Rfc3339)
        .map_err(|e| PkiError::Malformed(format!("validity date out of range: {e}")))
}

fn san_string(name: &GeneralName<'_>) -> Option<String> {
    match name {
        GeneralName::DNSName(s) | GeneralName::RFC822Name(s) | GeneralName::URI(s) => {
            Some((*s).to_string())
        }
        GeneralName::IPAddress(bytes) => match bytes.len() {
            4 => <[u8; 4]>::try_from(*bytes)
                .ok()
                .map(|b| IpAddr::from(b).to_string()),
            16 => <[u8; 16]>::try_from(*bytes)
                .ok()
                .map(|b| IpAddr::from(b).to_string()),
            _ => None,
        },
        _ => None,
    }
}
