//! What the registrar needs to know about a device, read from the store once and cached: its
//! security profile's rules and its digest credentials. The cache is dropped when an
//! administrator changes a device or a profile, so changes apply to the next REGISTER. Unknown
//! names are cached briefly too, so a flood of REGISTERs for made-up devices does not reach
//! the database for every request.

use std::collections::HashMap;
use std::sync::{Arc, RwLock};
use std::time::{Duration, Instant};

use switchboard_store::model::{SecurityMode, Transport as ProfileTransport};
use switchboard_store::{Store, StoreError};

/// A device as the registrar sees it.
#[derive(Debug, Clone)]
pub struct DeviceAuth {
    pub name: String,
    pub owner: Option<String>,
    pub profile: String,
    pub digest_auth: bool,
    pub oauth_auth: bool,
    pub security_mode: SecurityMode,
    pub transport: ProfileTransport,
    /// The digest user name (the device name when none is set).
    pub digest_user: String,
    pub digest_password: Option<String>,
}

/// How long an unknown device name is remembered as unknown.
const NEGATIVE_TTL: Duration = Duration::from_secs(5);
/// Most entries kept (provisioned devices and remembered unknown names); past this, unknown
/// names are dropped first, then everything. Sized for the largest clusters (CUCM's is 40,000
/// phones per node): a node preloads every device of the cluster.
const MAX_ENTRIES: usize = 1_000_000;

enum Entry {
    Known(Arc<DeviceAuth>),
    Unknown(Instant),
}

/// A stored enumeration name (`tcp_udp`, `encrypted`) as its type.
fn parse<T: serde::de::DeserializeOwned>(text: &str) -> serde_json::Result<T> {
    serde_json::from_value(serde_json::Value::String(text.to_string()))
}

/// The device cache.
pub struct DeviceCache {
    store: Store,
    entries: RwLock<HashMap<String, Entry, foldhash::fast::RandomState>>,
}

impl DeviceCache {
    pub fn new(store: Store) -> DeviceCache {
        DeviceCache {
            store,
            entries: RwLock::new(HashMap::default()),
        }
    }

    /// The device named `name`, or `None` when it is not provisioned.
    pub async fn get(
        &self,
        name: &str,
        now: Instant,
    ) -> Result<Option<Arc<DeviceAuth>>, StoreError> {
        if let Ok(entries) = self.entries.read() {
            match entries.get(name) {
                Some(Entry::Known(d)) => return Ok(Some(d.clone())),
                Some(Entry::Unknown(at)) if now.duration_since(*at) < NEGATIVE_TTL => {
                    return Ok(None)
                }
                _ => {}
            }
        }
        let loaded = self.load(name).await?;
        if let Ok(mut entries) = self.entries.write() {
            if entries.len() >= MAX_ENTRIES {
                // Names that were not found go first (a flood of unknown names must not evict
                // the provisioned devices); only then everything.
                entries.retain(|_, e| matches!(e, Entry::Known(_)));
                if entries.len() >= MAX_ENTRIES {
                    entries.clear();
                }
            }
            let entry = match &loaded {
                Some(d) => Entry::Known(d.clone()),
                None => Entry::Unknown(now),
            };
            entries.insert(name.to_string(), entry);
        }
        Ok(loaded)
    }

    async fn load(&self, name: &str) -> Result<Option<Arc<DeviceAuth>>, StoreError> {
        let device = match self.store.get_device(name).await {
            Ok(d) => d,
            Err(StoreError::NotFound { .. }) => return Ok(None),
            Err(e) => return Err(e),
        };
        let profile = self.store.get_profile(&device.security_profile).await?;
        let digest_password = if profile.digest_auth {
            self.store.device_digest_password(name).await?
        } else {
            None
        };
        Ok(Some(Arc::new(DeviceAuth {
            digest_user: device
                .digest_user
                .clone()
                .unwrap_or_else(|| device.name.clone()),
            name: device.name,
            owner: device.owner,
            profile: profile.name,
            digest_auth: profile.digest_auth,
            oauth_auth: profile.oauth_auth,
            security_mode: profile.device_security_mode,
            transport: profile.transport,
            digest_password,
        })))
    }

    /// Loads every device at once (at start), so registrations do not wait on the database.
    pub async fn preload(&self) -> Result<usize, StoreError> {
        let rows = self.store.device_auth_all().await?;
        let mut loaded = HashMap::with_capacity_and_hasher(rows.len(), Default::default());
        for r in rows {
            let (Ok(security_mode), Ok(transport)) = (parse(&r.security_mode), parse(&r.transport))
            else {
                continue;
            };
            let device = DeviceAuth {
                digest_user: r.digest_user.unwrap_or_else(|| r.name.clone()),
                name: r.name.clone(),
                owner: r.owner,
                profile: r.profile,
                digest_auth: r.digest_auth,
                oauth_auth: r.oauth_auth,
                security_mode,
                transport,
                digest_password: if r.digest_auth {
                    r.digest_password
                } else {
                    None
                },
            };
            loaded.insert(r.name, Entry::Known(Arc::new(device)));
        }
        let count = loaded.len();
        if let Ok(mut entries) = self.entries.write() {
            *entries = loaded;
        }
        Ok(count)
    }

    /// Forgets one device (it changed); it is read again on its next REGISTER.
    pub fn forget(&self, name: &str) {
        if let Ok(mut entries) = self.entries.write() {
            entries.remove(name);
        }
    }

    /// Forgets everything (a profile changed, which may touch any device).
    pub fn clear(&self) {
        if let Ok(mut entries) = self.entries.write() {
            entries.clear();
        }
    }
}
