//! Encryption at rest for secrets the server must read back (LDAP service-account password,
//! SIP digest passwords): XChaCha20-Poly1305 under a 32-byte key kept in an owner-only file.
//!
//! Stored form: `v1:` + standard base64 of `nonce (24 bytes) || ciphertext+tag`.

use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use chacha20poly1305::aead::{Aead, KeyInit};
use chacha20poly1305::{XChaCha20Poly1305, XNonce};
use rand::rngs::OsRng;
use rand::RngCore;
use std::fmt;
use std::fs::File;
use std::io::{ErrorKind, Read};
use std::path::Path;
use zeroize::Zeroize;

use crate::fsutil::create_private_file;
use crate::AuthError;

/// Length of a [`SecretKey`] and of its key file, in bytes.
pub const KEY_LEN: usize = 32;
/// Prefix of the current stored format.
pub const PREFIX: &str = "v1:";
const NONCE_LEN: usize = 24;
const TAG_LEN: usize = 16;

/// The 32-byte secret-box key. Wiped from memory on drop; `Debug` prints nothing secret.
#[derive(Clone)]
pub struct SecretKey([u8; KEY_LEN]);

impl SecretKey {
    /// A key from raw bytes.
    pub fn from_bytes(bytes: [u8; KEY_LEN]) -> Self {
        SecretKey(bytes)
    }

    /// A new random key from the OS generator.
    pub fn generate() -> Self {
        let mut bytes = [0u8; KEY_LEN];
        OsRng.fill_bytes(&mut bytes);
        SecretKey(bytes)
    }

    /// Loads the key file at `path` (exactly 32 raw bytes).
    pub fn load(path: impl AsRef<Path>) -> Result<Self, AuthError> {
        let path = path.as_ref();
        let mut file = File::open(path).map_err(|e| AuthError::io("opening", path, e))?;
        let len = file
            .metadata()
            .map_err(|e| AuthError::io("inspecting", path, e))?
            .len();
        if len != KEY_LEN as u64 {
            return Err(AuthError::KeyFileLength {
                path: path.to_path_buf(),
                len,
            });
        }
        let mut bytes = [0u8; KEY_LEN];
        file.read_exact(&mut bytes)
            .map_err(|e| AuthError::io("reading", path, e))?;
        Ok(SecretKey(bytes))
    }

    /// Loads the key file at `path`, or creates it (random key, mode 0600, created atomically
    /// and never overwriting a file that appeared meanwhile) if it does not exist.
    /// A file of the wrong length is refused, never replaced.
    pub fn load_or_create(path: impl AsRef<Path>) -> Result<Self, AuthError> {
        let path = path.as_ref();
        match Self::load(path) {
            Err(AuthError::Io { source, .. }) if source.kind() == ErrorKind::NotFound => {
                let key = Self::generate();
                if create_private_file(path, &key.0)? {
                    Ok(key)
                } else {
                    // Another process created it first: use theirs.
                    Self::load(path)
                }
            }
            other => other,
        }
    }

    /// Encrypts `plaintext` with a fresh random nonce into `v1:<base64>`.
    ///
    /// # Panics
    /// Only if `plaintext` exceeds the AEAD limit of 256 GiB; use [`SecretKey::try_encrypt`]
    /// to get an error instead.
    pub fn encrypt(&self, plaintext: &str) -> String {
        match self.try_encrypt(plaintext) {
            Ok(s) => s,
            Err(e) => panic!(
                "secretbox encryption of {} bytes failed: {e}",
                plaintext.len()
            ),
        }
    }

    /// Like [`SecretKey::encrypt`], returning an error instead of panicking.
    pub fn try_encrypt(&self, plaintext: &str) -> Result<String, AuthError> {
        let mut nonce = [0u8; NONCE_LEN];
        OsRng.fill_bytes(&mut nonce);
        let ciphertext = self
            .cipher()
            .encrypt(XNonce::from_slice(&nonce), plaintext.as_bytes())
            .map_err(|_| AuthError::SecretFormat("plaintext too large to encrypt"))?;
        let mut blob = Vec::with_capacity(NONCE_LEN + ciphertext.len());
        blob.extend_from_slice(&nonce);
        blob.extend_from_slice(&ciphertext);
        Ok(format!("{PREFIX}{}", STANDARD.encode(blob)))
    }

    /// Decrypts a value made by [`SecretKey::encrypt`]. A bad prefix or encoding is
    /// [`AuthError::SecretFormat`]; a wrong key or tampered data is [`AuthError::Decrypt`].
    pub fn decrypt(&self, sealed: &str) -> Result<String, AuthError> {
        let body = sealed
            .strip_prefix(PREFIX)
            .ok_or(AuthError::SecretFormat("missing 'v1:' prefix"))?;
        let blob = STANDARD
            .decode(body)
            .map_err(|_| AuthError::SecretFormat("invalid base64"))?;
        if blob.len() < NONCE_LEN + TAG_LEN {
            return Err(AuthError::SecretFormat("too short"));
        }
        let (nonce, ciphertext) = blob.split_at(NONCE_LEN);
        let plain = self
            .cipher()
            .decrypt(XNonce::from_slice(nonce), ciphertext)
            .map_err(|_| AuthError::Decrypt)?;
        String::from_utf8(plain).map_err(|e| {
            e.into_bytes().zeroize();
            AuthError::SecretFormat("decrypted secret is not UTF-8")
        })
    }

    fn cipher(&self) -> XChaCha20Poly1305 {
        XChaCha20Poly1305::new(&self.0.into())
    }
}

/// Whether `s` is in the sealed format (cheap prefix check, no decryption).
pub fn is_sealed(s: &str) -> bool {
    s.starts_with(PREFIX)
}

impl fmt::Debug for SecretKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("SecretKey(<redacted>)")
    }
}

impl Drop for SecretKey {
    fn drop(&mut self) {
        self.0.zeroize();
    }
}
