//! The pool of service-account connections of one server: each connection is opened and
//! bound as the service account once, then reused by search after search; at most `size`
//! exist at a time (further logins wait for one). A connection that failed is dropped, not
//! returned.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use tokio::sync::{OwnedSemaphorePermit, Semaphore};

/// A bound service-account connection and its number (`Connection # (N)` in traces).
pub(crate) struct Pooled {
    pub ldap: ldap3::Ldap,
    pub number: usize,
}

pub(crate) struct Pool {
    idle: Mutex<Vec<Pooled>>,
    slots: Arc<Semaphore>,
    numbers: AtomicUsize,
}

/// The right to use one connection of the pool; give the connection back with
/// [`Pool::put_back`] when it is still good.
pub(crate) struct Slot {
    _permit: OwnedSemaphorePermit,
}

impl Pool {
    pub fn new(size: usize) -> Pool {
        Pool {
            idle: Mutex::new(Vec::new()),
            slots: Arc::new(Semaphore::new(size.max(1))),
            numbers: AtomicUsize::new(0),
        }
    }

    /// Waits for a slot; returns an idle connection when there is one (else the caller opens
    /// and binds one).
    pub async fn take(&self) -> (Slot, Option<Pooled>) {
        let permit = self
            .slots
            .clone()
            .acquire_owned()
            .await
            .expect("the pool's semaphore is never closed");
        let mut idle = self.idle.lock().unwrap_or_else(|e| e.into_inner());
        let conn = loop {
            match idle.pop() {
                Some(mut c) => {
                    if !c.ldap.is_closed() {
                        break Some(c);
                    }
                }
                None => break None,
            }
        };
        (Slot { _permit: permit }, conn)
    }

    /// The number of the next new connection.
    pub fn next_number(&self) -> usize {
        self.numbers.fetch_add(1, Ordering::Relaxed)
    }

    /// Returns a connection that is still good.
    pub fn put_back(&self, _slot: Slot, conn: Pooled) {
        self.idle
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .push(conn);
    }

    /// Drops every idle connection (the next logins connect and bind again).
    pub fn clear(&self) {
        self.idle.lock().unwrap_or_else(|e| e.into_inner()).clear();
    }
}
