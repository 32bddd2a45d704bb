//! The dial plan as call routing reads it: the lines of each calling device and the devices of
//! each dialed line, cached from the store (otherwise every INVITE costs three store reads:
//! the caller's device, the dialed line, the devices on it).
//!
//! The whole cache is dropped when any device or line changes through this node (the node's
//! change feed calls [`DialPlan::clear`]), and is started afresh every [`MAX_AGE`] anyway, so
//! that changes made through another node of a cluster (same store, its own feed) reach this
//! node's routing within that time. A read that
//! started before a clear does not put what it read in the cache (a generation count tells),
//! so a change racing a call cannot leave a stale entry behind. Unknown lines are cached too
//! (a dial of an unknown number is the cheapest call to flood with); store errors are not.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, RwLock};
use std::time::{Duration, Instant};

use switchboard_store::model::LineAppearance;
use switchboard_store::{Store, StoreError};

/// Entries kept at most (devices and lines together); past it the cache starts over.
const MAX_ENTRIES: usize = 500_000;

/// How long cached entries are used: the most a change made through another node of a cluster
/// waits to be seen here.
pub const MAX_AGE: Duration = Duration::from_secs(5);

struct Cache {
    started: Instant,
    device_lines: HashMap<String, Arc<[LineAppearance]>, foldhash::fast::RandomState>,
    /// `None`: no such line.
    line_devices: HashMap<String, Option<Arc<[String]>>, foldhash::fast::RandomState>,
}

impl Cache {
    fn new() -> Cache {
        Cache {
            started: Instant::now(),
            device_lines: HashMap::default(),
            line_devices: HashMap::default(),
        }
    }

    fn len(&self) -> usize {
        self.device_lines.len() + self.line_devices.len()
    }

    fn fresh(&self) -> bool {
        self.started.elapsed() < MAX_AGE
    }
}

/// The cached dial plan of a node.
pub struct DialPlan {
    store: Store,
    generation: AtomicU64,
    cache: RwLock<Cache>,
}

impl DialPlan {
    pub fn new(store: Store) -> DialPlan {
        DialPlan {
            store,
            generation: AtomicU64::new(0),
            cache: RwLock::new(Cache::new()),
        }
    }

    /// Forgets everything (a device or a line changed, or changes were missed).
    pub fn clear(&self) {
        if let Ok(mut c) = self.cache.write() {
            // Under the lock: a read that saw the old generation cannot insert after this.
            self.generation.fetch_add(1, Ordering::SeqCst);
            *c = Cache::new();
        }
    }

    /// Stores `insert`'s entry unless the plan changed since `generation` was read.
    fn remember(&self, generation: u64, insert: impl FnOnce(&mut Cache)) {
        if let Ok(mut c) = self.cache.write() {
            if self.generation.load(Ordering::SeqCst) != generation {
                return;
            }
            if c.len() >= MAX_ENTRIES || !c.fresh() {
                *c = Cache::new();
            }
            insert(&mut c);
        }
    }

    /// The lines of `device` (none when it does not exist or the store cannot be read).
    pub async fn device_lines(&self, device: &str) -> Arc<[LineAppearance]> {
        if let Some(lines) = self
            .cache
            .read()
            .ok()
            .and_then(|c| c.fresh().then(|| c.device_lines.get(device).cloned())?)
        {
            return lines;
        }
        let generation = self.generation.load(Ordering::SeqCst);
        let lines: Arc<[LineAppearance]> = match self.store.get_device(device).await {
            Ok(d) => d.lines.into(),
            Err(StoreError::NotFound { .. }) => Arc::from(Vec::new()),
            Err(_) => return Arc::from(Vec::new()),
        };
        self.remember(generation, |c| {
            c.device_lines.insert(device.to_string(), lines.clone());
        });
        lines
    }

    /// The devices on line `dn`: `Ok(None)` when there is no such line.
    pub async fn line_devices(&self, dn: &str) -> Result<Option<Arc<[String]>>, StoreError> {
        if let Some(entry) = self
            .cache
            .read()
            .ok()
            .and_then(|c| c.fresh().then(|| c.line_devices.get(dn).cloned())?)
        {
            return Ok(entry);
        }
        let generation = self.generation.load(Ordering::SeqCst);
        let entry: Option<Arc<[String]>> = match self.store.get_line(dn).await {
            Ok(_) => Some(self.store.devices_with_line(dn).await?.into()),
            Err(StoreError::NotFound { .. }) => None,
            Err(e) => return Err(e),
        };
        self.remember(generation, |c| {
            c.line_devices.insert(dn.to_string(), entry.clone());
        });
        Ok(entry)
    }
}
