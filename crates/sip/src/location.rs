//! The location service (RFC 3261 §10.3): the live bindings of every registered device, with
//! their expiry. A plain data structure: time is passed in, nothing here does I/O, so expiry
//! and the refresh/removal rules are tested with a virtual clock.
//!
//! A binding is identified by its contact URI, or by its `+sip.instance` when the device sends
//! one (RFC 5626: a phone that re-registers from a new address replaces its old binding).

use std::cmp::Reverse;
use std::collections::{BinaryHeap, HashMap};
use std::net::SocketAddr;
use std::time::{Duration, Instant};

/// How a binding reaches its device.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Transport {
    Udp,
    Tcp,
    Tls,
}

impl Transport {
    pub fn as_str(self) -> &'static str {
        match self {
            Transport::Udp => "udp",
            Transport::Tcp => "tcp",
            Transport::Tls => "tls",
        }
    }
}

/// One registered contact of a device.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Binding {
    /// The contact URI (`sip:1001@10.10.10.10:62162;transport=tls`).
    pub uri: String,
    /// The Contact value as received with its parameters, but for `expires` (the 200 OK
    /// prints it back with the time left appended as `;expires=`).
    pub contact: String,
    pub instance: Option<String>,
    pub call_id: String,
    pub cseq: u32,
    pub expires_at: Instant,
    pub transport: Transport,
    pub source: SocketAddr,
    /// The connection (TCP/TLS) the device registered over; requests to it go back there.
    pub flow: Option<u64>,
}

/// A contact as a REGISTER asks for it.
#[derive(Debug, Clone)]
pub struct ContactUpdate {
    pub uri: String,
    pub contact: String,
    pub instance: Option<String>,
    /// Granted lifetime; 0 removes the binding.
    pub expires: u32,
}

/// What a REGISTER changed, per binding.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Change {
    Added(Binding),
    Refreshed(Binding),
    Removed(Binding),
}

/// Why a REGISTER cannot be applied.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum LocationError {
    /// Same Call-ID with a CSeq not above the stored one: an old or reordered request
    /// (RFC 3261 §10.3 step 7: 500 Server Internal Error).
    #[error("out-of-order REGISTER: CSeq {got} is not above {stored} for Call-ID {call_id}")]
    OutOfOrder {
        call_id: String,
        stored: u32,
        got: u32,
    },
    /// The device has more bindings than allowed.
    #[error("too many contacts (at most {0})")]
    TooManyContacts(usize),
}

/// The REGISTER's identity: where it came from and its Call-ID/CSeq.
#[derive(Debug, Clone)]
pub struct RegisterMeta<'a> {
    pub call_id: &'a str,
    pub cseq: u32,
    pub transport: Transport,
    pub source: SocketAddr,
    pub flow: Option<u64>,
}

/// Every binding, by device.
#[derive(Debug, Default)]
pub struct Location {
    devices: HashMap<String, Vec<Binding>, foldhash::fast::RandomState>,
    /// Expiry times (may hold stale entries; checked against the binding when popped).
    deadlines: BinaryHeap<Reverse<(Instant, String)>>,
    max_contacts: usize,
}

fn same_binding(b: &Binding, u: &ContactUpdate) -> bool {
    match (&b.instance, &u.instance) {
        (Some(a), Some(c)) => a == c,
        _ => b.uri == u.uri,
    }
}

impl Location {
    /// An empty table; each device may hold at most `max_contacts` bindings.
    pub fn new(max_contacts: usize) -> Location {
        Location {
            devices: HashMap::default(),
            deadlines: BinaryHeap::new(),
            max_contacts: max_contacts.max(1),
        }
    }

    /// Applies a REGISTER's contacts for `device` at `now`; all or nothing.
    pub fn update(
        &mut self,
        device: &str,
        updates: &[ContactUpdate],
        meta: &RegisterMeta,
        now: Instant,
    ) -> Result<Vec<Change>, LocationError> {
        let current = self.devices.get(device).map(Vec::as_slice).unwrap_or(&[]);
        for u in updates {
            if let Some(b) = current.iter().find(|b| same_binding(b, u)) {
                if b.call_id == meta.call_id && meta.cseq <= b.cseq {
                    return Err(LocationError::OutOfOrder {
                        call_id: b.call_id.clone(),
                        stored: b.cseq,
                        got: meta.cseq,
                    });
                }
            }
        }
        if let [u] = updates {
            if u.expires > 0 {
                if let Some(refreshed) = self.refresh_in_place(device, u, meta, now) {
                    return Ok(vec![Change::Refreshed(refreshed)]);
                }
            }
        }
        let mut bindings = self.devices.get(device).cloned().unwrap_or_default();
        let mut changes = Vec::new();
        for u in updates {
            let existing = bindings.iter().position(|b| same_binding(b, u));
            let fresh = Binding {
                uri: u.uri.clone(),
                contact: u.contact.clone(),
                instance: u.instance.clone(),
                call_id: meta.call_id.to_string(),
                cseq: meta.cseq,
                expires_at: now + Duration::from_secs(u.expires.into()),
                transport: meta.transport,
                source: meta.source,
                flow: meta.flow,
            };
            match (existing, u.expires) {
                (Some(i), 0) => changes.push(Change::Removed(bindings.remove(i))),
                (None, 0) => {}
                (Some(i), _) => {
                    bindings[i] = fresh.clone();
                    changes.push(Change::Refreshed(fresh));
                }
                (None, _) => {
                    bindings.push(fresh.clone());
                    changes.push(Change::Added(fresh));
                }
            }
        }
        if bindings.len() > self.max_contacts {
            return Err(LocationError::TooManyContacts(self.max_contacts));
        }
        for change in &changes {
            if let Change::Added(b) | Change::Refreshed(b) = change {
                self.deadlines
                    .push(Reverse((b.expires_at, device.to_string())));
            }
        }
        if bindings.is_empty() {
            self.devices.remove(device);
        } else {
            // Most devices hold one binding: no spare capacity kept per device.
            bindings.shrink_to_fit();
            match self.devices.get_mut(device) {
                Some(slot) => *slot = bindings,
                None => {
                    self.devices.insert(device.to_string(), bindings);
                }
            }
        }
        Ok(changes)
    }

    /// The common case, a refresh of one existing binding, done in place (reusing the
    /// binding's strings): the refreshed binding, or `None` when `u` is not bound yet.
    fn refresh_in_place(
        &mut self,
        device: &str,
        u: &ContactUpdate,
        meta: &RegisterMeta,
        now: Instant,
    ) -> Option<Binding> {
        let b = self
            .devices
            .get_mut(device)?
            .iter_mut()
            .find(|b| same_binding(b, u))?;
        b.uri.clone_from(&u.uri);
        b.contact.clone_from(&u.contact);
        b.instance.clone_from(&u.instance);
        b.call_id.clear();
        b.call_id.push_str(meta.call_id);
        b.cseq = meta.cseq;
        b.expires_at = now + Duration::from_secs(u.expires.into());
        b.transport = meta.transport;
        b.source = meta.source;
        b.flow = meta.flow;
        let refreshed = b.clone();
        self.deadlines
            .push(Reverse((refreshed.expires_at, device.to_string())));
        Some(refreshed)
    }

    /// Removes every binding of `device` (`Contact: *`), refusing an out-of-order request.
    pub fn remove_all(
        &mut self,
        device: &str,
        meta: &RegisterMeta,
    ) -> Result<Vec<Change>, LocationError> {
        let current = self.devices.get(device).map(Vec::as_slice).unwrap_or(&[]);
        if let Some(b) = current
            .iter()
            .find(|b| b.call_id == meta.call_id && meta.cseq <= b.cseq)
        {
            return Err(LocationError::OutOfOrder {
                call_id: b.call_id.clone(),
                stored: b.cseq,
                got: meta.cseq,
            });
        }
        Ok(self
            .devices
            .remove(device)
            .unwrap_or_default()
            .into_iter()
            .map(Change::Removed)
            .collect())
    }

    /// Removes and returns every binding whose time ran out by `now`.
    pub fn expire(&mut self, now: Instant) -> Vec<(String, Binding)> {
        let mut expired = Vec::new();
        while let Some(Reverse((at, _))) = self.deadlines.peek() {
            if *at > now {
                break;
            }
            let Some(Reverse((_, device))) = self.deadlines.pop() else {
                break;
            };
            if let Some(bindings) = self.devices.get_mut(&device) {
                let (gone, kept): (Vec<_>, Vec<_>) =
                    bindings.drain(..).partition(|b| b.expires_at <= now);
                *bindings = kept;
                if bindings.is_empty() {
                    self.devices.remove(&device);
                }
                expired.extend(gone.into_iter().map(|b| (device.clone(), b)));
            }
        }
        expired
    }

    /// When the next binding may expire.
    pub fn next_deadline(&self) -> Option<Instant> {
        self.deadlines.peek().map(|Reverse((at, _))| *at)
    }

    /// The live bindings of `device`.
    pub fn bindings(&self, device: &str) -> &[Binding] {
        self.devices.get(device).map(Vec::as_slice).unwrap_or(&[])
    }

    /// The device with a live binding registered from where a request came: over UDP from
    /// `source`, over TCP/TLS on connection `flow`. A scan of every binding (calls are rare
    /// next to registrations; an index comes when call rates need it).
    pub fn device_at(
        &self,
        transport: Transport,
        source: SocketAddr,
        flow: Option<u64>,
    ) -> Option<(&String, &Binding)> {
        self.devices.iter().find_map(|(device, bindings)| {
            bindings
                .iter()
                .find(|b| match transport {
                    Transport::Udp => b.transport == Transport::Udp && b.source == source,
                    Transport::Tcp | Transport::Tls => flow.is_some() && b.flow == flow,
                })
                .map(|b| (device, b))
        })
    }

    /// Every device with its bindings.
    pub fn all(&self) -> impl Iterator<Item = (&String, &Vec<Binding>)> {
        self.devices.iter()
    }

    /// How many bindings are live.
    pub fn len(&self) -> usize {
        self.devices.values().map(Vec::len).sum()
    }

    pub fn is_empty(&self) -> bool {
        self.devices.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn meta(call_id: &str, cseq: u32) -> RegisterMeta<'_> {
        RegisterMeta {
            call_id,
            cseq,
            transport: Transport::Udp,
            source: "127.0.0.1:5070".parse().unwrap(),
            flow: None,
        }
    }

    fn contact(uri: &str, expires: u32) -> ContactUpdate {
        ContactUpdate {
            uri: uri.into(),
            contact: format!("<{uri}>"),
            instance: None,
            expires,
        }
    }

    /// A refresh of one binding (done in place) gives what the general path gives: the
    /// binding's new Call-ID, CSeq, expiry and transport, still one binding, and the
    /// out-of-order check before it.
    #[test]
    fn device_at_matches_udp_source_or_stream_flow() {
        let mut l = Location::new(4);
        let now = Instant::now();
        l.update(
            "SEP1",
            &[contact("sip:1001@127.0.0.1:5070", 60)],
            &meta("a", 1),
            now,
        )
        .unwrap();
        let tcp = RegisterMeta {
            transport: Transport::Tcp,
            source: "127.0.0.1:40000".parse().unwrap(),
            flow: Some(7),
            ..meta("b", 1)
        };
        l.update(
            "SEP2",
            &[contact("sip:1002@127.0.0.1:40000", 60)],
            &tcp,
            now,
        )
        .unwrap();
        let at = |t, s: &str, f| {
            l.device_at(t, s.parse().unwrap(), f)
                .map(|(d, _)| d.clone())
        };
        assert_eq!(
            at(Transport::Udp, "127.0.0.1:5070", None).as_deref(),
            Some("SEP1")
        );
        assert_eq!(at(Transport::Udp, "127.0.0.1:5071", None), None);
        assert_eq!(
            at(Transport::Tcp, "127.0.0.1:1", Some(7)).as_deref(),
            Some("SEP2")
        );
        assert_eq!(at(Transport::Tcp, "127.0.0.1:40000", Some(8)), None);
        // A UDP packet from the address a TCP binding came from is not that device.
        assert_eq!(at(Transport::Udp, "127.0.0.1:40000", None), None);
    }

    #[test]
    fn refresh_in_place_updates_everything_and_keeps_order_checks() {
        let mut loc = Location::new(4);
        let t0 = Instant::now();
        let uri = "sip:1001@127.0.0.1:5070";
        loc.update("SEP1", &[contact(uri, 120)], &meta("a", 5), t0)
            .unwrap();
        let mut later = meta("b-longer-call-id", 1);
        later.transport = Transport::Tcp;
        later.flow = Some(7);
        let t1 = t0 + Duration::from_secs(30);
        let c = loc
            .update("SEP1", &[contact(uri, 300)], &later, t1)
            .unwrap();
        let [Change::Refreshed(b)] = &c[..] else {
            panic!("{c:?}")
        };
        assert_eq!(loc.bindings("SEP1"), std::slice::from_ref(b));
        assert_eq!(
            (b.call_id.as_str(), b.cseq, b.transport, b.flow),
            ("b-longer-call-id", 1, Transport::Tcp, Some(7))
        );
        assert_eq!(b.expires_at, t1 + Duration::from_secs(300));
        assert!(matches!(
            loc.update(
                "SEP1",
                &[contact(uri, 60)],
                &meta("b-longer-call-id", 1),
                t1
            ),
            Err(LocationError::OutOfOrder { .. })
        ));
        // The old deadline does not expire the refreshed binding.
        assert!(loc.expire(t0 + Duration::from_secs(121)).is_empty());
        assert_eq!(loc.expire(t1 + Duration::from_secs(301)).len(), 1);
    }

    #[test]
    fn register_refresh_remove() {
        let mut loc = Location::new(4);
        let t0 = Instant::now();
        let c = loc
            .update(
                "SEP1",
                &[contact("sip:1001@127.0.0.1:5070", 120)],
                &meta("a", 1),
                t0,
            )
            .unwrap();
        assert!(matches!(c[..], [Change::Added(_)]));
        let c = loc
            .update(
                "SEP1",
                &[contact("sip:1001@127.0.0.1:5070", 120)],
                &meta("a", 2),
                t0,
            )
            .unwrap();
        assert!(matches!(c[..], [Change::Refreshed(_)]));
        assert_eq!(loc.len(), 1);
        let c = loc
            .update(
                "SEP1",
                &[contact("sip:1001@127.0.0.1:5070", 0)],
                &meta("a", 3),
                t0,
            )
            .unwrap();
        assert!(matches!(c[..], [Change::Removed(_)]));
        assert!(loc.is_empty());
    }

    #[test]
    fn out_of_order_and_too_many_are_refused_without_change() {
        let mut loc = Location::new(2);
        let t0 = Instant::now();
        loc.update("SEP1", &[contact("sip:a@127.0.0.1", 60)], &meta("a", 5), t0)
            .unwrap();
        let e = loc
            .update("SEP1", &[contact("sip:a@127.0.0.1", 60)], &meta("a", 5), t0)
            .unwrap_err();
        assert!(matches!(
            e,
            LocationError::OutOfOrder {
                stored: 5,
                got: 5,
                ..
            }
        ));
        assert!(matches!(
            loc.remove_all("SEP1", &meta("a", 4)),
            Err(LocationError::OutOfOrder { .. })
        ));
        let e = loc
            .update(
                "SEP1",
                &[
                    contact("sip:b@127.0.0.1", 60),
                    contact("sip:c@127.0.0.1", 60),
                ],
                &meta("b", 1),
                t0,
            )
            .unwrap_err();
        assert_eq!(e, LocationError::TooManyContacts(2));
        assert_eq!(loc.bindings("SEP1").len(), 1);
        // A new Call-ID may use any CSeq.
        loc.update("SEP1", &[contact("sip:a@127.0.0.1", 60)], &meta("z", 1), t0)
            .unwrap();
    }

    #[test]
    fn same_instance_replaces_the_old_address() {
        let mut loc = Location::new(4);
        let t0 = Instant::now();
        let mut first = contact("sip:1001@127.0.0.1:5070", 60);
        first.instance = Some("<urn:uuid:00000000-0000-0000-0000-0017946250de>".into());
        let mut moved = contact("sip:1001@127.0.0.2:5071", 60);
        moved.instance = first.instance.clone();
        loc.update("SEP1", &[first], &meta("a", 1), t0).unwrap();
        let c = loc.update("SEP1", &[moved], &meta("b", 1), t0).unwrap();
        assert!(matches!(&c[..], [Change::Refreshed(b)] if b.uri == "sip:1001@127.0.0.2:5071"));
        assert_eq!(loc.len(), 1);
    }

    #[test]
    fn bindings_expire_on_virtual_time_and_refresh_postpones() {
        let mut loc = Location::new(4);
        let t0 = Instant::now();
        loc.update(
            "SEP1",
            &[contact("sip:a@127.0.0.1", 120)],
            &meta("a", 1),
            t0,
        )
        .unwrap();
        loc.update("SEP2", &[contact("sip:b@127.0.0.1", 60)], &meta("b", 1), t0)
            .unwrap();
        assert_eq!(loc.next_deadline(), Some(t0 + Duration::from_secs(60)));
        assert!(loc.expire(t0 + Duration::from_secs(59)).is_empty());
        let gone = loc.expire(t0 + Duration::from_secs(60));
        assert_eq!(
            gone.iter().map(|(d, _)| d.as_str()).collect::<Vec<_>>(),
            vec!["SEP2"]
        );
        // SEP1 refreshes at t0+100 for another 120 s: the old deadline does not remove it.
        loc.update(
            "SEP1",
            &[contact("sip:a@127.0.0.1", 120)],
            &meta("a", 2),
            t0 + Duration::from_secs(100),
        )
        .unwrap();
        assert!(loc.expire(t0 + Duration::from_secs(121)).is_empty());
        assert_eq!(loc.len(), 1);
        assert_eq!(loc.expire(t0 + Duration::from_secs(220)).len(), 1);
        assert!(loc.is_empty() && loc.next_deadline().is_none());
    }
}
