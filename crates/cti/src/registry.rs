//! Who watches which device: every `(connection, device handle)` that opened a device, with the
//! device's in-service state as last told to them. Call control's registration events come in
//! here and go out as `DeviceInServiceEvent` / `DeviceOutOfServiceEvent` to every watcher, only
//! on a change of state (a refresh, or a second contact of a registered device, tells nobody).
//!
//! Call control's call events come in here too: the [`CallMirror`] (under the same lock) turns
//! each into the notices owed to the devices concerned, and each goes out as a call event to
//! the watchers of that device that asked for call events (one subscription for the node,
//! fanned out through the watch lists: no per-provider receiver).
//!
//! A device open sends its response (and the immediate `DeviceInServiceEvent`, then a
//! `NewCallEvent` per call of the device) under the same lock the events are sent under, so
//! an event can neither overtake the response nor be lost between the snapshot and the watch.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use switchboard_callctl::{Call, CallEvent};
use switchboard_cti_proto::{
    DeviceInServiceEvent, DeviceOutOfServiceEvent, DeviceState, Message, OutOfServiceReason,
};
use switchboard_trace::TraceEvent;

use crate::calls::{CallMirror, Owed};
use crate::connection::Link;

/// One provider's open of one device.
#[derive(Clone)]
pub(crate) struct Watcher {
    pub link: Arc<Link>,
    pub provider_id: u32,
    pub handle: u32,
    /// The open's `event_filter.device_state`.
    pub device_state: bool,
    /// The open's `event_filter.call_state`, in a session of version 2 or later.
    pub call_state: bool,
}

struct DeviceWatch {
    in_service: bool,
    watchers: Vec<Watcher>,
}

/// An event delivered, for the trace.
pub(crate) struct Delivered {
    pub provider_id: u32,
    pub handle: u32,
}

#[derive(Default)]
struct Inner {
    devices: HashMap<String, DeviceWatch, foldhash::fast::RandomState>,
    calls: CallMirror,
}

#[derive(Default)]
pub(crate) struct Registry {
    inner: Mutex<Inner>,
}

impl Registry {
    /// Adds `watcher` for `device`. Under the lock: reads the state (`in_service_now` for a
    /// device nobody watched yet), queues `response(state)` and, when in service and asked
    /// for, the `DeviceInServiceEvent`, then, when call events are asked for, a
    /// `NewCallEvent` per call of the device. Returns the state and the call events' traces,
    /// or `None` when the response could not be queued (the connection is being killed;
    /// nothing is added).
    pub fn open(
        &self,
        device: &str,
        watcher: Watcher,
        in_service_now: impl FnOnce() -> bool,
        response: impl FnOnce(DeviceState) -> Message,
    ) -> Option<(DeviceState, Vec<TraceEvent>)> {
        let mut inner = self.inner.lock().unwrap_or_else(|p| p.into_inner());
        let Inner { devices, calls } = &mut *inner;
        let in_service = match devices.get(device) {
            Some(watch) => watch.in_service,
            None => in_service_now(),
        };
        let state = if in_service {
            DeviceState::InService
        } else {
            DeviceState::OutOfService
        };
        if !watcher.link.send(response(state)) {
            return None;
        }
        if in_service && watcher.device_state {
            watcher.link.send(in_service_event(device, watcher.handle));
        }
        let mut traces = Vec::new();
        if watcher.call_state {
            for notice in calls.snapshot(device) {
                if watcher.link.send(notice.message(device, watcher.handle)) {
                    traces.push(notice.trace(device, watcher.handle, watcher.provider_id));
                }
            }
        }
        devices
            .entry(device.to_owned())
            .or_insert_with(|| DeviceWatch {
                in_service,
                watchers: Vec::new(),
            })
            .watchers
            .push(watcher);
        Some((state, traces))
    }

    /// Removes one watch.
    pub fn close(&self, device: &str, link_id: u64, handle: u32) {
        let mut inner = self.inner.lock().unwrap_or_else(|p| p.into_inner());
        let devices = &mut inner.devices;
        if let Some(watch) = devices.get_mut(device) {
            watch
                .watchers
                .retain(|w| !(w.link.id == link_id && w.handle == handle));
            if watch.watchers.is_empty() {
                devices.remove(device);
            }
        }
    }

    /// The device's state is now `in_service` (as call control knows it): when that differs
    /// from what its watchers were told, tells them (`reason` for going out of service) and
    /// returns who was told.
    pub fn changed(
        &self,
        device: &str,
        in_service: bool,
        reason: OutOfServiceReason,
    ) -> Vec<Delivered> {
        let mut inner = self.inner.lock().unwrap_or_else(|p| p.into_inner());
        let Some(watch) = inner.devices.get_mut(device) else {
            return Vec::new();
        };
        if watch.in_service == in_service {
            return Vec::new();
        }
        watch.in_service = in_service;
        let mut told = Vec::with_capacity(watch.watchers.len());
        for w in watch.watchers.iter().filter(|w| w.device_state) {
            let event = if in_service {
                in_service_event(device, w.handle)
            } else {
                Message::DeviceOutOfServiceEvent(DeviceOutOfServiceEvent {
                    device_handle: w.handle,
                    device_name: device.to_owned(),
                    reason,
                })
            };
            if w.link.send(event) {
                told.push(Delivered {
                    provider_id: w.provider_id,
                    handle: w.handle,
                });
            }
        }
        told
    }

    /// A call event: the mirror follows it and each device concerned is told, through every
    /// watcher that asked for call events. Returns the traces of what was sent.
    pub fn call_event(&self, event: &CallEvent) -> Vec<TraceEvent> {
        let mut inner = self.inner.lock().unwrap_or_else(|p| p.into_inner());
        let owed = inner.calls.apply(event);
        deliver(&inner.devices, owed)
    }

    /// After missed call events: the mirror becomes the live `calls` and the devices are told
    /// what changed meanwhile. Returns the traces of what was sent.
    pub fn resync_calls(&self, calls: &[Call]) -> Vec<TraceEvent> {
        let mut inner = self.inner.lock().unwrap_or_else(|p| p.into_inner());
        let owed = inner.calls.resync(calls);
        deliver(&inner.devices, owed)
    }

    /// The devices someone watches (to re-read their state after missed events).
    pub fn watched(&self) -> Vec<String> {
        let inner = self.inner.lock().unwrap_or_else(|p| p.into_inner());
        inner.devices.keys().cloned().collect()
    }

    /// How many devices are watched, and by how many opens in all.
    pub fn counts(&self) -> (usize, usize) {
        let inner = self.inner.lock().unwrap_or_else(|p| p.into_inner());
        (
            inner.devices.len(),
            inner.devices.values().map(|w| w.watchers.len()).sum(),
        )
    }
}

/// Sends each notice to the watchers of its device that asked for call events.
fn deliver(
    devices: &HashMap<String, DeviceWatch, foldhash::fast::RandomState>,
    owed: Owed,
) -> Vec<TraceEvent> {
    let mut traces = Vec::new();
    for (device, notice) in owed {
        let Some(watch) = devices.get(&device) else {
            continue;
        };
        for w in watch.watchers.iter().filter(|w| w.call_state) {
            if w.link.send(notice.message(&device, w.handle)) {
                traces.push(notice.trace(&device, w.handle, w.provider_id));
            }
        }
    }
    traces
}

fn in_service_event(device: &str, handle: u32) -> Message {
    Message::DeviceInServiceEvent(DeviceInServiceEvent {
        device_handle: handle,
        device_name: device.to_owned(),
    })
}
