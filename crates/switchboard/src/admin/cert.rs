//! `switchboard cert …`: the node's tomcat certificate (show, regenerate) and the trust store
//! (import, remove).

use std::path::PathBuf;

use clap::Subcommand;
use serde::{Deserialize, Serialize};
use switchboard_store::model::TrustCert;

use super::client::{CliError, Client};
use super::output::{detail, table, yes_no};

#[derive(Subcommand, Debug)]
pub enum CertCommand {
    /// Show the tomcat certificate and the trust store.
    Show,
    /// Replace the tomcat certificate with a new self-signed one.
    Regenerate,
    /// Add the CA certificates of a PEM file to the trust store.
    TrustImport {
        /// PEM file with one or more certificates.
        pem_file: PathBuf,
    },
    /// Remove a certificate from the trust store.
    TrustRemove {
        /// SHA-256 fingerprint, as `cert show` lists it.
        fingerprint: String,
    },
}

pub use switchboard_pki::CertInfo;

/// The answer of `GET /api/certs`.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Certs {
    pub tomcat: CertInfo,
    pub trust: Vec<TrustCert>,
}

#[derive(Serialize)]
struct PemBody {
    pem: String,
}

pub async fn run(client: &Client, command: CertCommand) -> Result<(), CliError> {
    match command {
        CertCommand::Show => {
            let answer = client.get(&["certs"]).await?;
            client.print(answer, |c: Certs| certs_text(&c))
        }
        CertCommand::Regenerate => {
            let answer = client
                .post_empty(&["certs", "tomcat", "regenerate"])
                .await?;
            client.print(answer, |c: CertInfo| {
                format!(
                    "{}\n\nThe node now serves this certificate; clients that trusted the old one \
                     must trust the new one.",
                    cert_detail(&c)
                )
            })
        }
        CertCommand::TrustImport { pem_file } => {
            let pem = std::fs::read_to_string(&pem_file)
                .map_err(|e| CliError::Local(format!("cannot read {}: {e}", pem_file.display())))?;
            if !pem.contains("-----BEGIN CERTIFICATE-----") {
                return Err(CliError::Local(format!(
                    "no PEM certificate in {} (expected \"-----BEGIN CERTIFICATE-----\")",
                    pem_file.display()
                )));
            }
            let answer = client.post(&["certs", "trust"], &PemBody { pem }).await?;
            client.print(answer, |added: Vec<TrustCert>| trust_table(&added))
        }
        CertCommand::TrustRemove { fingerprint } => {
            let answer = client.delete(&["certs", "trust", &fingerprint]).await?;
            client.done(answer, &format!("trust certificate {fingerprint} removed."));
            Ok(())
        }
    }
}

/// Every field of one certificate, one line per SAN.
pub fn cert_detail(c: &CertInfo) -> String {
    let mut rows = vec![
        ("subject", c.subject.clone()),
        ("issuer", c.issuer.clone()),
        ("serial", c.serial.clone()),
        ("not_before", c.not_before.clone()),
        ("not_after", c.not_after.clone()),
        ("sha256_fingerprint", c.sha256_fingerprint.clone()),
        ("is_ca", yes_no(c.is_ca)),
    ];
    rows.extend(c.sans.iter().map(|s| ("san", s.clone())));
    detail(&rows)
}

/// One line per trusted certificate.
pub fn trust_table(certs: &[TrustCert]) -> String {
    table(
        &["fingerprint", "subject", "not_after", "added_at"],
        certs.iter().map(|t| {
            [
                t.fingerprint.clone(),
                t.subject.clone(),
                t.not_after.clone(),
                t.added_at.clone(),
            ]
        }),
    )
}

/// `cert show`: the tomcat certificate, then the trust store.
pub fn certs_text(c: &Certs) -> String {
    format!(
        "tomcat certificate:\n{}\n\ntrust store ({} certificates):\n{}",
        cert_detail(&c.tomcat),
        c.trust.len(),
        trust_table(&c.trust)
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cert_views() {
        let certs: Certs = serde_json::from_value(serde_json::json!({
            "tomcat": {
                "subject": "CN=ucm1, O=Switchboard",
                "issuer": "CN=ucm1, O=Switchboard",
                "serial": "0a1b",
                "not_before": "2024-01-01T00:00:00Z",
                "not_after": "2034-01-01T00:00:00Z",
                "sha256_fingerprint": "ab:cd",
                "sans": ["ucm1", "127.0.0.1"],
                "is_ca": false
            },
            "trust": [{
                "fingerprint": "ef01",
                "subject": "CN=Example CA",
                "not_after": "2030-01-01T00:00:00Z",
                "pem": "-----BEGIN CERTIFICATE-----",
                "added_at": "2024-05-01T10:00:00Z"
            }]
        }))
        .unwrap();
        let text = certs_text(&certs);
        assert!(
            text.starts_with("tomcat certificate:\nsubject             CN=ucm1, O=Switchboard\n")
        );
        assert!(text.contains("\nsan                 127.0.0.1\n"));
        assert!(text.contains("trust store (1 certificates):\nfingerprint  subject"));
        assert!(text
            .ends_with("ef01         CN=Example CA  2030-01-01T00:00:00Z  2024-05-01T10:00:00Z"));
    }
}
