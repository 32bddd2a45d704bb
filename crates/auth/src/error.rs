//! Error type of the auth crate: every message names the cause and the fix.

use std::path::PathBuf;

/// Everything that can go wrong in the credential primitives.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum AuthError {
    /// Argon2 could not hash the password (bad parameters or salt; should not happen).
    #[error("password hashing failed: {0}; this is a bug or a broken build, please report it")]
    PasswordHash(String),
    /// The password exceeds [`crate::password::MAX_PASSWORD_BYTES`].
    #[error("password is {len} bytes, over the {max}-byte limit; choose a shorter password")]
    PasswordTooLong {
        /// Length of the refused password in bytes.
        len: usize,
        /// The limit.
        max: usize,
    },
    /// A filesystem operation on a key file failed.
    #[error("{action} {path}: {source}; check that the data directory exists and is writable by the server user")]
    Io {
        /// What was being done ("reading", "writing", ...).
        action: &'static str,
        /// The file concerned.
        path: PathBuf,
        /// The underlying error.
        #[source]
        source: std::io::Error,
    },
    /// The secret key file does not hold exactly 32 bytes.
    #[error("secret key file {path} is {len} bytes, expected exactly 32; restore it from backup (encrypted secrets cannot be read without it) or remove it only if no secret was ever stored")]
    KeyFileLength {
        /// The key file.
        path: PathBuf,
        /// Its actual length.
        len: u64,
    },
    /// The stored secret is not in the `v1:<base64>` format.
    #[error("encrypted secret is malformed: {0}; re-enter the secret so it is stored again")]
    SecretFormat(&'static str),
    /// Authentication of the ciphertext failed: wrong key or tampered data.
    #[error("cannot decrypt secret: wrong secret key or tampered data; check that the server uses the secret key file the secret was stored with")]
    Decrypt,
}

impl AuthError {
    pub(crate) fn io(
        action: &'static str,
        path: impl Into<PathBuf>,
        source: std::io::Error,
    ) -> Self {
        AuthError::Io {
            action,
            path: path.into(),
            source,
        }
    }
}
