//! Switchboard credential primitives: Argon2id password hashing ([`password`]), admin/API
//! tokens stored hashed ([`token`]), encryption at rest for secrets the server must read
//! back ([`secretbox`]) and sans-IO SIP digest authentication helpers ([`digest`]).
//! This crate will grow into the auth service.

pub mod digest;
mod error;
mod fsutil;
pub mod nonce;
pub mod password;
pub mod secretbox;
pub mod token;

pub use error::AuthError;
