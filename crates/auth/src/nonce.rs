//! Digest nonces (RFC 7616 §3.3, RFC 3261 §22.4): self-authenticating, so the server keeps no
//! state for a nonce until it is first used, expiring after a lifetime (then answered with
//! `stale=true` and a fresh nonce), and never accepted twice with the same or a lower nonce
//! count (`nc`), so a captured request cannot be replayed.
//!
//! A nonce is `base64url(issued-at ms ‖ 8 random bytes ‖ HMAC-SHA256(key, both)[..12])`. The key
//! is random per process: after a restart every outstanding nonce is stale, which costs a
//! client one extra challenge. Time is passed in (milliseconds since the Unix epoch), so tests
//! drive it.

use std::collections::HashMap;
use std::sync::Mutex;

use base64::Engine;
use hmac::{Hmac, Mac};
use sha2::Sha256;

const TAG_LEN: usize = 12;
const RAW_LEN: usize = 8 + 8 + TAG_LEN;

/// What a presented nonce is worth.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NonceStatus {
    /// Issued here, in its lifetime, and this nonce count is new.
    Valid,
    /// Issued here but expired: challenge again with `stale=true`.
    Stale,
    /// Not issued here (forged, altered, or from before a restart of another key).
    Invalid,
    /// The nonce count was already used: a replayed request.
    Replayed,
}

/// Issues and checks nonces.
pub struct NonceManager {
    key: [u8; 32],
    lifetime_ms: u64,
    used: Mutex<UsedNonces>,
}

/// Per nonce in use: (issued-at ms, highest nonce count seen), in two generations by issue
/// time. A generation spans one lifetime, so when a third begins every nonce of the oldest has
/// expired and the whole map is dropped at once: constant work per request, no sweep (a sweep
/// over a million entries would stall the receive loop for milliseconds).
type UsedMap = HashMap<[u8; 16], (u64, u32), foldhash::fast::RandomState>;

#[derive(Default)]
struct UsedNonces {
    /// Start (ms) of the current generation.
    current_since: u64,
    current: UsedMap,
    previous: UsedMap,
}

impl UsedNonces {
    fn rotate(&mut self, now_ms: u64, lifetime_ms: u64) {
        if now_ms.saturating_sub(self.current_since) < lifetime_ms {
            return;
        }
        // Everything in `previous` was first used before `current_since`, so its nonce has
        // expired by now. The new map is sized like the last one: no rehash while it fills.
        let capacity = self.current.len();
        self.previous = std::mem::replace(
            &mut self.current,
            UsedMap::with_capacity_and_hasher(capacity, Default::default()),
        );
        self.current_since = now_ms;
    }

    fn get_mut(&mut self, id: &[u8; 16]) -> Option<&mut (u64, u32)> {
        if self.current.contains_key(id) {
            return self.current.get_mut(id);
        }
        self.previous.get_mut(id)
    }

    fn len(&self) -> usize {
        self.current.len() + self.previous.len()
    }
}

impl NonceManager {
    /// A manager with a random key; nonces live `lifetime_secs`.
    pub fn new(lifetime_secs: u64) -> NonceManager {
        NonceManager {
            key: rand::random(),
            lifetime_ms: lifetime_secs * 1000,
            used: Mutex::new(UsedNonces::default()),
        }
    }

    fn tag(&self, id: &[u8]) -> [u8; TAG_LEN] {
        let mut mac = <Hmac<Sha256> as Mac>::new_from_slice(&self.key)
            .expect("any key length is valid for HMAC");
        mac.update(id);
        let full = mac.finalize().into_bytes();
        let mut tag = [0u8; TAG_LEN];
        tag.copy_from_slice(&full[..TAG_LEN]);
        tag
    }

    /// A fresh nonce issued at `now_ms`.
    pub fn issue(&self, now_ms: u64) -> String {
        let mut raw = [0u8; RAW_LEN];
        raw[..8].copy_from_slice(&now_ms.to_be_bytes());
        raw[8..16].copy_from_slice(&rand::random::<[u8; 8]>());
        let tag = self.tag(&raw[..16]);
        raw[16..].copy_from_slice(&tag);
        base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(raw)
    }

    /// Checks `nonce` used with nonce count `nc` (give 0 for a client without `qop`, whose
    /// nonce is then good for one request) at `now_ms`, and records the count when valid.
    pub fn check(&self, nonce: &str, nc: u32, now_ms: u64) -> NonceStatus {
        let Some(raw) = decode(nonce) else {
            return NonceStatus::Invalid;
        };
        let expected = self.tag(&raw[..16]);
        let tag_ok = expected
            .iter()
            .zip(&raw[16..])
            .fold(0u8, |acc, (a, b)| acc | (a ^ b))
            == 0;
        if !tag_ok {
            return NonceStatus::Invalid;
        }
        let mut issued = [0u8; 8];
        issued.copy_from_slice(&raw[..8]);
        let issued = u64::from_be_bytes(issued);
        if issued > now_ms.saturating_add(1000) {
            return NonceStatus::Invalid;
        }
        if now_ms.saturating_sub(issued) > self.lifetime_ms {
            return NonceStatus::Stale;
        }
        let mut id = [0u8; 16];
        id.copy_from_slice(&raw[..16]);
        let Ok(mut used) = self.used.lock() else {
            return NonceStatus::Invalid;
        };
        used.rotate(now_ms, self.lifetime_ms);
        match used.get_mut(&id) {
            Some((_, highest)) if nc <= *highest => NonceStatus::Replayed,
            Some((_, highest)) => {
                *highest = nc;
                NonceStatus::Valid
            }
            None => {
                used.current.insert(id, (issued, nc));
                NonceStatus::Valid
            }
        }
    }

    /// How many nonces are tracked (for tests and metrics).
    pub fn tracked(&self) -> usize {
        self.used.lock().map(|u| u.len()).unwrap_or(0)
    }
}

fn decode(nonce: &str) -> Option<[u8; RAW_LEN]> {
    if nonce.len() > 64 {
        return None;
    }
    let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(nonce)
        .ok()?;
    bytes.try_into().ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    const T0: u64 = 1_700_000_000_000;

    #[test]
    fn a_nonce_counts_up_and_never_back() {
        let m = NonceManager::new(30);
        let n = m.issue(T0);
        assert_eq!(m.check(&n, 1, T0 + 10), NonceStatus::Valid);
        assert_eq!(m.check(&n, 1, T0 + 20), NonceStatus::Replayed);
        assert_eq!(m.check(&n, 2, T0 + 30), NonceStatus::Valid);
        assert_eq!(m.check(&n, 1, T0 + 40), NonceStatus::Replayed);
        assert_eq!(m.check(&n, 5, T0 + 50), NonceStatus::Valid);
    }

    #[test]
    fn without_qop_a_nonce_serves_once() {
        let m = NonceManager::new(30);
        let n = m.issue(T0);
        assert_eq!(m.check(&n, 0, T0), NonceStatus::Valid);
        assert_eq!(m.check(&n, 0, T0), NonceStatus::Replayed);
    }

    #[test]
    fn nonces_expire() {
        let m = NonceManager::new(30);
        let n = m.issue(T0);
        assert_eq!(m.check(&n, 1, T0 + 30_000), NonceStatus::Valid);
        assert_eq!(m.check(&n, 2, T0 + 30_001), NonceStatus::Stale);
    }

    #[test]
    fn forged_altered_foreign_and_garbage_nonces_are_invalid() {
        let m = NonceManager::new(30);
        let other = NonceManager::new(30);
        let n = m.issue(T0);
        let mut altered: Vec<char> = n.chars().collect();
        altered[3] = if altered[3] == 'A' { 'B' } else { 'A' };
        let altered: String = altered.into_iter().collect();
        assert_eq!(m.check(&altered, 1, T0), NonceStatus::Invalid);
        assert_eq!(m.check(&other.issue(T0), 1, T0), NonceStatus::Invalid);
        for garbage in ["", "abc", "!!!!", &"A".repeat(500), &n[..n.len() - 1]] {
            assert_eq!(m.check(garbage, 1, T0), NonceStatus::Invalid, "{garbage}");
        }
        // A nonce claiming to come from the future is not ours to accept either.
        let future = m.issue(T0 + 60_000);
        assert_eq!(m.check(&future, 1, T0), NonceStatus::Invalid);
        assert_eq!(m.tracked(), 0, "invalid nonces take no memory");
    }

    #[test]
    fn a_used_nonce_stays_replay_proof_across_generations() {
        let m = NonceManager::new(10);
        // Start a generation, then use a nonce just before it ends.
        let first = m.issue(T0);
        assert_eq!(m.check(&first, 1, T0), NonceStatus::Valid);
        let late = m.issue(T0 + 9_999);
        assert_eq!(m.check(&late, 1, T0 + 9_999), NonceStatus::Valid);
        // Two rotations later the nonce is still in its lifetime: its count is remembered.
        let other = m.issue(T0 + 10_000);
        assert_eq!(m.check(&other, 1, T0 + 10_000), NonceStatus::Valid);
        assert_eq!(m.check(&late, 1, T0 + 19_000), NonceStatus::Replayed);
        assert_eq!(m.check(&late, 2, T0 + 19_500), NonceStatus::Valid);
        assert_eq!(m.check(&late, 2, T0 + 19_998), NonceStatus::Replayed);
        // Once it has expired it is stale whatever the map holds.
        assert_eq!(m.check(&late, 3, T0 + 20_000), NonceStatus::Stale);
    }

    #[test]
    fn expired_entries_are_pruned() {
        let m = NonceManager::new(1);
        for i in 0..2048u64 {
            let n = m.issue(T0 + i);
            assert_eq!(m.check(&n, 1, T0 + i), NonceStatus::Valid);
        }
        let later = T0 + 10_000;
        for _ in 0..2 {
            let n = m.issue(later);
            m.check(&n, 1, later);
        }
        assert!(m.tracked() < 2048, "tracked {}", m.tracked());
    }
}
