//! Password hashing (Argon2id, PHC string format) and random password generation.

use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use argon2::{Argon2, Params};
use rand::rngs::OsRng;
use rand::Rng;

use crate::AuthError;

/// Longest password accepted, in bytes (longer input is refused by [`hash`], false in [`verify`]).
pub const MAX_PASSWORD_BYTES: usize = 1024;
/// [`generate`] never returns fewer characters than this.
pub const MIN_GENERATED_LEN: usize = 16;
/// Characters used by [`generate`]: letters and digits without the look-alikes 0 O 1 l I.
pub const ALPHABET: &[u8] = b"ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz23456789";

/// Largest Argon2 memory cost (KiB) [`verify`] will spend on a stored hash: 256 MiB.
const MAX_VERIFY_M_COST: u32 = 256 * 1024;
/// Largest Argon2 time cost [`verify`] will spend on a stored hash.
const MAX_VERIFY_T_COST: u32 = 16;

/// Hashes `password` with Argon2id (default OWASP parameters: m=19 MiB, t=2, p=1) and a
/// random salt, returning the PHC string (`$argon2id$v=19$...`).
pub fn hash(password: &str) -> Result<String, AuthError> {
    if password.len() > MAX_PASSWORD_BYTES {
        return Err(AuthError::PasswordTooLong {
            len: password.len(),
            max: MAX_PASSWORD_BYTES,
        });
    }
    let salt = SaltString::generate(&mut OsRng);
    Argon2::default()
        .hash_password(password.as_bytes(), &salt)
        .map(|h| h.to_string())
        .map_err(|e| AuthError::PasswordHash(e.to_string()))
}

/// Checks `password` against a PHC hash made by [`hash`]. The comparison is constant-time
/// (done by argon2). Returns false for a malformed hash, a non-Argon2 hash, a hash whose
/// cost parameters are unreasonably high, or an over-long password.
pub fn verify(password: &str, phc_hash: &str) -> bool {
    if password.len() > MAX_PASSWORD_BYTES {
        return false;
    }
    let Ok(parsed) = PasswordHash::new(phc_hash) else {
        return false;
    };
    match Params::try_from(&parsed) {
        Ok(p) if p.m_cost() <= MAX_VERIFY_M_COST && p.t_cost() <= MAX_VERIFY_T_COST => {}
        _ => return false,
    }
    Argon2::default()
        .verify_password(password.as_bytes(), &parsed)
        .is_ok()
}

/// A random password of `len` characters (at least [`MIN_GENERATED_LEN`]) drawn uniformly
/// from [`ALPHABET`] with the OS random generator.
pub fn generate(len: usize) -> String {
    let len = len.max(MIN_GENERATED_LEN);
    let mut rng = OsRng;
    (0..len)
        .map(|_| char::from(ALPHABET[rng.gen_range(0..ALPHABET.len())]))
        .collect()
}
