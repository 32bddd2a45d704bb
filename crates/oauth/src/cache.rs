//! The cache of verified access tokens: a token seen before (same SHA-256) skips the signature
//! check until its `exp`. Entries are tagged with the generation of the keys they were
//! verified with, so a key or issuer removed by a reload invalidates them. Revocation is not
//! cached: the caller checks it on every call, hit or miss.

use std::collections::HashMap;
use std::sync::{Arc, RwLock};

use sha2::{Digest, Sha256};

use crate::verify::{VerifiedToken, LEEWAY};

/// Most tokens kept: one per registered softphone of a large site (about 300 B each).
pub const CAPACITY: usize = 100_000;

pub(crate) type TokenKey = [u8; 32];

/// The cache key of a token.
pub(crate) fn key_of(token: &str) -> TokenKey {
    Sha256::digest(token.as_bytes()).into()
}

struct Entry {
    token: Arc<VerifiedToken>,
    generation: u64,
}

#[derive(Default)]
pub(crate) struct VerifiedCache {
    entries: RwLock<HashMap<TokenKey, Entry, foldhash::fast::RandomState>>,
}

impl VerifiedCache {
    /// The token verified under `generation`, if cached and not expired at `now`.
    pub fn get(&self, key: &TokenKey, generation: u64, now: i64) -> Option<Arc<VerifiedToken>> {
        let entries = self.entries.read().ok()?;
        let entry = entries.get(key)?;
        (entry.generation == generation && now <= entry.token.expires_at.saturating_add(LEEWAY))
            .then(|| entry.token.clone())
    }

    /// Keeps a verified token; when full, drops what has expired or is stale, and everything
    /// if that is not enough.
    pub fn insert(&self, key: TokenKey, token: Arc<VerifiedToken>, generation: u64, now: i64) {
        let Ok(mut entries) = self.entries.write() else {
            return;
        };
        if entries.len() >= CAPACITY {
            entries.retain(|_, e| {
                e.generation == generation && now <= e.token.expires_at.saturating_add(LEEWAY)
            });
            if entries.len() >= CAPACITY {
                entries.clear();
            }
        }
        entries.insert(key, Entry { token, generation });
    }

    /// How many tokens are cached.
    pub fn len(&self) -> usize {
        self.entries.read().map(|e| e.len()).unwrap_or(0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn token(exp: i64) -> Arc<VerifiedToken> {
        Arc::new(VerifiedToken {
            subject: "wwhite".into(),
            issuer: "https://ucm1:8443".into(),
            audience: vec!["switchboard".into()],
            scope: "sip".into(),
            client_id: None,
            device: None,
            jti: None,
            family: None,
            issued_at: 0,
            expires_at: exp,
        })
    }

    #[test]
    fn hits_until_expiry_and_generation_change() {
        let cache = VerifiedCache::default();
        let k = key_of("a.b.c");
        cache.insert(k, token(100), 1, 50);
        assert!(cache.get(&k, 1, 100 + LEEWAY).is_some());
        assert!(cache.get(&k, 1, 101 + LEEWAY).is_none(), "expired");
        assert!(cache.get(&k, 2, 60).is_none(), "keys reloaded");
        assert!(cache.get(&key_of("a.b.d"), 1, 60).is_none());
    }

    #[test]
    fn bounded() {
        let cache = VerifiedCache::default();
        for i in 0..CAPACITY + 10 {
            cache.insert(key_of(&i.to_string()), token(100), 1, 50);
        }
        assert!(cache.len() <= CAPACITY);
        // Expired entries go first.
        let cache = VerifiedCache::default();
        for i in 0..CAPACITY {
            cache.insert(key_of(&i.to_string()), token(10), 1, 0);
        }
        cache.insert(key_of("fresh"), token(1000), 1, 500);
        assert_eq!(cache.len(), 1);
    }
}
