//! The sealed password of the plain CTI port (2748).
//!
//! Construction: HPKE (RFC 9180), base mode, suite DHKEM(X25519, HKDF-SHA256) /
//! HKDF-SHA256 / ChaCha20-Poly1305 (KEM 0x0020, KDF 0x0001, AEAD 0x0003), single shot:
//!
//! * recipient key: the node's CTI X25519 key pair ([`CtiKeyPair`]); the public key travels
//!   base64 in `ProviderOpenResponse.cti_public_key`;
//! * `info` = [`HPKE_INFO`] (`"switchboard-cti/1 sealed-password"`);
//! * `aad`  = the login, UTF-8 (a sealed password cannot be replayed for another user);
//! * plaintext = the JSON object `{"nonce":"<nonce>","password":"<password>"}`;
//! * `SealedPassword { enc, ciphertext }`, both base64 (standard alphabet, padded).
//!
//! The server opens it, then checks the nonce against its [`NonceStore`]: it must have been
//! issued by this node, not used before, and be younger than the store's lifetime. Any
//! failure is `NONCE_INVALID` (the reasons are told apart only in the server's trace).

use std::collections::HashMap;
use std::time::{Duration, Instant};

use base64::engine::general_purpose::STANDARD as B64;
use base64::Engine as _;
use hpke::aead::ChaCha20Poly1305;
use hpke::kdf::HkdfSha256;
use hpke::kem::X25519HkdfSha256;
use hpke::{Deserializable, Kem as _, OpModeR, OpModeS, Serializable};
use rand::{CryptoRng, RngCore};
use serde::{Deserialize, Serialize};

use crate::message::SealedPassword;

type Kem = X25519HkdfSha256;

/// HPKE `info` string of the password seal.
pub const HPKE_INFO: &[u8] = b"switchboard-cti/1 sealed-password";

/// Default nonce lifetime: 60 s.
pub const NONCE_LIFETIME: Duration = Duration::from_secs(60);

/// Why a sealed password was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SealError {
    /// The public key is not 32 bytes of base64.
    #[error("bad CTI public key")]
    BadPublicKey,
    /// `enc` or `ciphertext` is not valid base64 / not the right size.
    #[error("bad sealed password encoding")]
    BadEncoding,
    /// Decryption failed: wrong key, wrong login, or tampered bytes.
    #[error("sealed password does not decrypt")]
    DecryptFailed,
    /// The plaintext is not `{nonce, password}`.
    #[error("sealed plaintext malformed")]
    BadPlaintext,
    /// The nonce was never issued (or was forgotten after its lifetime).
    #[error("nonce unknown")]
    NonceUnknown,
    /// The nonce was already used.
    #[error("nonce replayed")]
    NonceReplayed,
    /// The nonce is older than its lifetime.
    #[error("nonce expired")]
    NonceExpired,
    /// The nonce is not the one issued to this connection.
    #[error("nonce issued to another connection")]
    NonceMismatch,
}

impl SealError {
    /// The error name to report: `NONCE_INVALID` for all.
    pub fn name(&self) -> crate::ErrorName {
        crate::ErrorName::NonceInvalid
    }
}

#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct Plaintext {
    nonce: String,
    password: String,
}

/// The node's CTI key pair (X25519).
pub struct CtiKeyPair {
    sk: <Kem as hpke::Kem>::PrivateKey,
    pk: <Kem as hpke::Kem>::PublicKey,
}

impl std::fmt::Debug for CtiKeyPair {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CtiKeyPair")
            .field("public_key", &self.public_key_base64())
            .finish_non_exhaustive()
    }
}

impl CtiKeyPair {
    /// A fresh random key pair.
    pub fn generate<R: RngCore + CryptoRng>(rng: &mut R) -> Self {
        let (sk, pk) = Kem::gen_keypair(rng);
        CtiKeyPair { sk, pk }
    }

    /// The key pair derived from input keying material (RFC 9180 `DeriveKeyPair`), e.g. a
    /// 32-byte secret kept in the node's key store.
    pub fn derive(ikm: &[u8]) -> Self {
        let (sk, pk) = Kem::derive_keypair(ikm);
        CtiKeyPair { sk, pk }
    }

    /// The private key's 32 bytes, for storage.
    pub fn secret_bytes(&self) -> [u8; 32] {
        let mut out = [0; 32];
        out.copy_from_slice(&self.sk.to_bytes());
        out
    }

    /// From stored private key bytes.
    pub fn from_secret_bytes(bytes: &[u8; 32]) -> Self {
        let sk = <Kem as hpke::Kem>::PrivateKey::from_bytes(bytes).expect("32 bytes");
        let pk = Kem::sk_to_pk(&sk);
        CtiKeyPair { sk, pk }
    }

    /// The public key, base64, as sent in `ProviderOpenResponse.cti_public_key`.
    pub fn public_key_base64(&self) -> String {
        B64.encode(self.pk.to_bytes())
    }

    /// Decrypts a sealed password for `login`; returns `(nonce, password)`. The nonce still
    /// has to be checked ([`NonceStore::consume`], or use [`open_and_check`]).
    pub fn open(
        &self,
        login: &str,
        sealed: &SealedPassword,
    ) -> Result<(String, String), SealError> {
        let enc = B64
            .decode(&sealed.enc)
            .map_err(|_| SealError::BadEncoding)?;
        let ct = B64
            .decode(&sealed.ciphertext)
            .map_err(|_| SealError::BadEncoding)?;
        let enc = <Kem as hpke::Kem>::EncappedKey::from_bytes(&enc)
            .map_err(|_| SealError::BadEncoding)?;
        let pt = hpke::single_shot_open::<ChaCha20Poly1305, HkdfSha256, Kem>(
            &OpModeR::Base,
            &self.sk,
            &enc,
            HPKE_INFO,
            &ct,
            login.as_bytes(),
        )
        .map_err(|_| SealError::DecryptFailed)?;
        let p: Plaintext = serde_json::from_slice(&pt).map_err(|_| SealError::BadPlaintext)?;
        Ok((p.nonce, p.password))
    }
}

/// Client side: seals `{nonce, password}` for `login` to the node's public key (base64).
pub fn seal_password<R: RngCore + CryptoRng>(
    cti_public_key: &str,
    login: &str,
    nonce: &str,
    password: &str,
    rng: &mut R,
) -> Result<SealedPassword, SealError> {
    let pk = B64
        .decode(cti_public_key)
        .map_err(|_| SealError::BadPublicKey)?;
    let pk = <Kem as hpke::Kem>::PublicKey::from_bytes(&pk).map_err(|_| SealError::BadPublicKey)?;
    let pt = serde_json::to_vec(&Plaintext {
        nonce: nonce.to_owned(),
        password: password.to_owned(),
    })
    .expect("strings serialise");
    let (enc, ct) = hpke::single_shot_seal::<ChaCha20Poly1305, HkdfSha256, Kem, _>(
        &OpModeS::Base,
        &pk,
        HPKE_INFO,
        &pt,
        login.as_bytes(),
        rng,
    )
    .map_err(|_| SealError::BadPublicKey)?;
    Ok(SealedPassword {
        enc: B64.encode(enc.to_bytes()),
        ciphertext: B64.encode(ct),
    })
}

/// Server side: the nonces issued and not yet expired. Single use, short lifetime; the
/// clock is passed in.
#[derive(Debug)]
pub struct NonceStore {
    lifetime: Duration,
    /// nonce → (issued at, used)
    nonces: HashMap<String, (Instant, bool)>,
}

impl Default for NonceStore {
    fn default() -> Self {
        Self::new(NONCE_LIFETIME)
    }
}

impl NonceStore {
    /// A store whose nonces live `lifetime`.
    pub fn new(lifetime: Duration) -> Self {
        NonceStore {
            lifetime,
            nonces: HashMap::new(),
        }
    }

    /// Issues a fresh nonce (128 random bits, formatted like a UUID as in the seed's trace).
    pub fn issue<R: RngCore + CryptoRng>(&mut self, rng: &mut R, now: Instant) -> String {
        self.purge(now);
        let mut b = [0u8; 16];
        rng.fill_bytes(&mut b);
        let h: String = b.iter().map(|x| format!("{x:02x}")).collect();
        let nonce = format!(
            "{}-{}-{}-{}-{}",
            &h[0..8],
            &h[8..12],
            &h[12..16],
            &h[16..20],
            &h[20..32]
        );
        self.nonces.insert(nonce.clone(), (now, false));
        nonce
    }

    /// Marks a nonce used. Fails if it was never issued, is already used, or is stale.
    pub fn consume(&mut self, nonce: &str, now: Instant) -> Result<(), SealError> {
        let Some((issued, used)) = self.nonces.get_mut(nonce) else {
            return Err(SealError::NonceUnknown);
        };
        if *used {
            return Err(SealError::NonceReplayed);
        }
        *used = true;
        if now.saturating_duration_since(*issued) > self.lifetime {
            return Err(SealError::NonceExpired);
        }
        Ok(())
    }

    /// Forgets nonces older than the lifetime (a forgotten nonce is refused as unknown).
    pub fn purge(&mut self, now: Instant) {
        let lifetime = self.lifetime;
        self.nonces
            .retain(|_, (issued, _)| now.saturating_duration_since(*issued) <= lifetime);
    }

    /// Nonces held.
    pub fn len(&self) -> usize {
        self.nonces.len()
    }

    /// Whether no nonce is held.
    pub fn is_empty(&self) -> bool {
        self.nonces.is_empty()
    }
}

/// Server side, all checks: decrypts, checks the nonce is the one issued to this
/// connection (`expected_nonce`), then consumes it. Returns the password.
pub fn open_and_check(
    keys: &CtiKeyPair,
    nonces: &mut NonceStore,
    login: &str,
    expected_nonce: &str,
    sealed: &SealedPassword,
    now: Instant,
) -> Result<String, SealError> {
    let (nonce, password) = keys.open(login, sealed)?;
    if nonce != expected_nonce {
        return Err(SealError::NonceMismatch);
    }
    nonces.consume(&nonce, now)?;
    Ok(password)
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::rngs::OsRng;

    /// A "random" source that repeats fixed bytes: for reproducible examples only.
    pub(crate) struct FixedRng(pub u8);
    impl RngCore for FixedRng {
        fn next_u32(&mut self) -> u32 {
            u32::from_le_bytes([self.0; 4])
        }
        fn next_u64(&mut self) -> u64 {
            u64::from_le_bytes([self.0; 8])
        }
        fn fill_bytes(&mut self, dest: &mut [u8]) {
            dest.fill(self.0)
        }
        fn try_fill_bytes(&mut self, dest: &mut [u8]) -> Result<(), rand::Error> {
            dest.fill(self.0);
            Ok(())
        }
    }
    impl CryptoRng for FixedRng {}

    fn setup() -> (CtiKeyPair, NonceStore, String, Instant) {
        let keys = CtiKeyPair::generate(&mut OsRng);
        let mut store = NonceStore::default();
        let now = Instant::now();
        let nonce = store.issue(&mut OsRng, now);
        (keys, store, nonce, now)
    }

    /// wwhite's `password` sealed to `keys` with `nonce`.
    fn sealed_by_wwhite(keys: &CtiKeyPair, nonce: &str, password: &str) -> SealedPassword {
        seal_password(
            &keys.public_key_base64(),
            "wwhite",
            nonce,
            password,
            &mut OsRng,
        )
        .unwrap()
    }

    #[test]
    fn round_trip() {
        let (keys, mut store, nonce, now) = setup();
        let sealed = sealed_by_wwhite(&keys, &nonce, "s3cr3t!!");
        let pw = open_and_check(&keys, &mut store, "wwhite", &nonce, &sealed, now).unwrap();
        assert_eq!(pw, "s3cr3t!!");
        // Stored secret bytes give the same key.
        let again = CtiKeyPair::from_secret_bytes(&keys.secret_bytes());
        assert_eq!(again.public_key_base64(), keys.public_key_base64());
    }

    #[test]
    fn replayed_nonce_refused() {
        let (keys, mut store, nonce, now) = setup();
        let sealed = sealed_by_wwhite(&keys, &nonce, "pw");
        open_and_check(&keys, &mut store, "wwhite", &nonce, &sealed, now).unwrap();
        let e = open_and_check(&keys, &mut store, "wwhite", &nonce, &sealed, now).unwrap_err();
        assert_eq!(e, SealError::NonceReplayed);
        assert_eq!(e.name(), crate::ErrorName::NonceInvalid);
    }

    #[test]
    fn expired_and_unknown_nonce_refused() {
        let (keys, mut store, nonce, now) = setup();
        let sealed = sealed_by_wwhite(&keys, &nonce, "pw");
        let later = now + NONCE_LIFETIME + Duration::from_secs(1);
        assert_eq!(
            open_and_check(&keys, &mut store, "wwhite", &nonce, &sealed, later),
            Err(SealError::NonceExpired)
        );
        // A nonce the server never issued.
        let forged = "cc64fd13-d4e1-43bc-808f-f051f7c945d0";
        let sealed = sealed_by_wwhite(&keys, forged, "pw");
        assert_eq!(
            open_and_check(&keys, &mut store, "wwhite", forged, &sealed, now),
            Err(SealError::NonceUnknown)
        );
        // Purged after its lifetime: unknown.
        store.purge(later);
        assert!(store.is_empty());
        assert_eq!(store.consume(&nonce, later), Err(SealError::NonceUnknown));
    }

    #[test]
    fn nonce_of_another_connection_refused() {
        let (keys, mut store, nonce, now) = setup();
        let other = store.issue(&mut OsRng, now);
        let sealed = sealed_by_wwhite(&keys, &other, "pw");
        assert_eq!(
            open_and_check(&keys, &mut store, "wwhite", &nonce, &sealed, now),
            Err(SealError::NonceMismatch)
        );
    }

    #[test]
    fn wrong_key_wrong_login_and_tampering_refused() {
        let (keys, mut store, nonce, now) = setup();
        let other = CtiKeyPair::generate(&mut OsRng);
        let sealed = sealed_by_wwhite(&other, &nonce, "pw");
        assert_eq!(
            open_and_check(&keys, &mut store, "wwhite", &nonce, &sealed, now),
            Err(SealError::DecryptFailed)
        );
        let sealed = sealed_by_wwhite(&keys, &nonce, "pw");
        assert_eq!(
            open_and_check(&keys, &mut store, "jpinkman", &nonce, &sealed, now),
            Err(SealError::DecryptFailed)
        );
        let mut ct = B64.decode(&sealed.ciphertext).unwrap();
        for i in 0..ct.len() {
            ct[i] ^= 1;
            let t = SealedPassword {
                enc: sealed.enc.clone(),
                ciphertext: B64.encode(&ct),
            };
            assert_eq!(keys.open("wwhite", &t), Err(SealError::DecryptFailed));
            ct[i] ^= 1;
        }
        let mut enc = B64.decode(&sealed.enc).unwrap();
        enc[0] ^= 0x40;
        let t = SealedPassword {
            enc: B64.encode(&enc),
            ciphertext: sealed.ciphertext.clone(),
        };
        assert_eq!(keys.open("wwhite", &t), Err(SealError::DecryptFailed));
        let t = SealedPassword {
            enc: "!!".into(),
            ciphertext: sealed.ciphertext.clone(),
        };
        assert_eq!(keys.open("wwhite", &t), Err(SealError::BadEncoding));
        // Nothing was consumed by the failures: the genuine one still opens.
        assert_eq!(
            open_and_check(&keys, &mut store, "wwhite", &nonce, &sealed, now).unwrap(),
            "pw"
        );
    }

    /// The worked example of docs/cti-protocol.md §"Sealed password": fixed keys and a fixed
    /// ephemeral, so the bytes are reproducible. The doc test checks the doc shows these.
    pub(crate) fn worked_example() -> (String, SealedPassword) {
        let keys = CtiKeyPair::derive(b"switchboard-cti worked example server key");
        let sealed = seal_password(
            &keys.public_key_base64(),
            "wwhite",
            "cc64fd13-d4e1-43bc-808f-f051f7c945d0",
            "Heisenb3",
            &mut FixedRng(0x42),
        )
        .unwrap();
        (keys.public_key_base64(), sealed)
    }

    #[test]
    fn worked_example_is_stable_and_opens() {
        let (pk, sealed) = worked_example();
        let keys = CtiKeyPair::derive(b"switchboard-cti worked example server key");
        assert_eq!(pk, keys.public_key_base64());
        let (nonce, pw) = keys.open("wwhite", &sealed).unwrap();
        assert_eq!(nonce, "cc64fd13-d4e1-43bc-808f-f051f7c945d0");
        assert_eq!(pw, "Heisenb3");
        let doc = include_str!("../../../docs/cti-protocol.md");
        assert!(doc.contains(&pk), "doc lacks public key {pk}");
        assert!(doc.contains(&sealed.enc), "doc lacks enc {}", sealed.enc);
        assert!(
            doc.contains(&sealed.ciphertext),
            "doc lacks ciphertext {}",
            sealed.ciphertext
        );
    }
}
