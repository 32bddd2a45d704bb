//! Who watches which device: every `(connection, device handle)` that opened a device, with the
//! device's in-service state as last told to them. Call control's registration events come in
//! here and go out as `DeviceInServiceEvent` / `DeviceOutOfServiceEvent` to every watcher, only
//! on a change of state (a refresh, or a second contact of a registered device, tells nobody).
//!
//! A device open sends its response (and the immediate `DeviceInServiceEvent`) under the same
//! lock the events are sent under, so an event can neither overtake the response nor be lost
//! between the state snapshot and the watch.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use switchboard_cti_proto::{
    DeviceInServiceEvent, DeviceOutOfServiceEvent, DeviceState, Message, OutOfServiceReason,
};

use crate::connection::Link;

/// One provider's open of one device.
#[derive(Clone)]
pub(crate) struct Watcher {
    pub link: Arc<Link>,
    pub provider_id: u32,
    pub handle: u32,
    /// The open's `event_filter.device_state`.
    pub device_state: bool,
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
pub(crate) struct Registry {
    devices: Mutex<HashMap<String, DeviceWatch, foldhash::fast::RandomState>>,
}

impl Registry {
    /// Adds `watcher` for `device`. Under the lock: reads the state (`in_service_now` for a
    /// device nobody watched yet), queues `response(state)` and, when in service and asked
    /// for, the `DeviceInServiceEvent`. Returns the state, or `None` when the response could
    /// not be queued (the connection is being killed; nothing is added).
    pub fn open(
        &self,
        device: &str,
        watcher: Watcher,
        in_service_now: impl FnOnce() -> bool,
        response: impl FnOnce(DeviceState) -> Message,
    ) -> Option<DeviceState> {
        let mut devices = self.devices.lock().unwrap_or_else(|p| p.into_inner());
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
        devices
            .entry(device.to_owned())
            .or_insert_with(|| DeviceWatch {
                in_service,
                watchers: Vec::new(),
            })
            .watchers
            .push(watcher);
        Some(state)
    }

    /// Removes one watch.
    pub fn close(&self, device: &str, link_id: u64, handle: u32) {
        let mut devices = self.devices.lock().unwrap_or_else(|p| p.into_inner());
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
        let mut devices = self.devices.lock().unwrap_or_else(|p| p.into_inner());
        let Some(watch) = devices.get_mut(device) else {
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

    /// The devices someone watches (to re-read their state after missed events).
    pub fn watched(&self) -> Vec<String> {
        let devices = self.devices.lock().unwrap_or_else(|p| p.into_inner());
        devices.keys().cloned().collect()
    }

    /// How many devices are watched, and by how many opens in all.
    pub fn counts(&self) -> (usize, usize) {
        let devices = self.devices.lock().unwrap_or_else(|p| p.into_inner());
        (
            devices.len(),
            devices.values().map(|w| w.watchers.len()).sum(),
        )
    }
}

fn in_service_event(device: &str, handle: u32) -> Message {
    Message::DeviceInServiceEvent(DeviceInServiceEvent {
        device_handle: handle,
        device_name: device.to_owned(),
    })
}
