//! The store's cryptography ([`switchboard_store::Crypto`]) from the auth crate's primitives and
//! a node's secret key: Argon2id password hashes, and secrets sealed at rest (digest
//! passwords, the LDAP service password). Nodes, tools that open a node's store directly and
//! tests all use this one.

use switchboard_auth::secretbox::SecretKey;

/// The store's cryptography under a node's secret key.
pub struct NodeCrypto(pub SecretKey);

impl switchboard_store::Crypto for NodeCrypto {
    fn hash_password(&self, password: &str) -> String {
        switchboard_auth::password::hash(password).unwrap_or_default()
    }
    fn seal(&self, secret: &str) -> String {
        self.0.encrypt(secret)
    }
    fn unseal(&self, sealed: &str) -> Option<String> {
        self.0.decrypt(sealed).ok()
    }
}
