//! Test-only certificate authority: issue leaves signed by a CA that is (or is not) in a
//! trust store, e.g. edge-proxy or phone client certificates. Feature `test-util`.

use rcgen::{
    BasicConstraints, Certificate, IsCa, KeyPair, KeyUsagePurpose, PKCS_ECDSA_P256_SHA256,
};
use std::fmt;

use crate::identity::{base_params, gen_err, leaf_params};
use crate::{NodeIdentity, PkiError};

/// A throw-away CA (ECDSA P-256, 10 years) that can sign leaf certificates.
pub struct TestCa {
    /// The CA certificate, PEM: put it in a trust store to trust its leaves.
    pub cert_pem: String,
    cert: Certificate,
    key: KeyPair,
}

impl TestCa {
    /// The CA private key, PEM.
    pub fn key_pem(&self) -> String {
        self.key.serialize_pem()
    }

    /// The CA as a [`NodeIdentity`] (certificate + key).
    pub fn identity(&self) -> NodeIdentity {
        NodeIdentity::from_generated(self.cert_pem.clone(), self.key.serialize_pem())
    }
}

impl fmt::Debug for TestCa {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TestCa")
            .field("cert_pem", &self.cert_pem)
            .field("key", &"<redacted>")
            .finish()
    }
}

/// Generates a self-signed CA with CN = `name`, O = Switchboard.
pub fn generate_test_ca(name: &str) -> Result<TestCa, PkiError> {
    let mut params = base_params(name, 3650);
    params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    params.key_usages = vec![
        KeyUsagePurpose::KeyCertSign,
        KeyUsagePurpose::CrlSign,
        KeyUsagePurpose::DigitalSignature,
    ];
    let key = KeyPair::generate_for(&PKCS_ECDSA_P256_SHA256).map_err(gen_err)?;
    let cert = params.self_signed(&key).map_err(gen_err)?;
    Ok(TestCa {
        cert_pem: cert.pem(),
        cert,
        key,
    })
}

/// Issues a leaf (serverAuth + clientAuth) with CN = `cn` and the given SANs, signed by `ca`.
/// The returned identity's `cert_pem` holds the leaf only.
pub fn issue_leaf(ca: &TestCa, cn: &str, sans: &[String]) -> Result<NodeIdentity, PkiError> {
    let mut params = leaf_params(cn, sans, 825)?;
    params.use_authority_key_identifier_extension = true;
    let key = KeyPair::generate_for(&PKCS_ECDSA_P256_SHA256).map_err(gen_err)?;
    let cert = params.signed_by(&key, &ca.cert, &ca.key).map_err(gen_err)?;
    Ok(NodeIdentity::from_generated(
        cert.pem(),
        key.serialize_pem(),
    ))
}
