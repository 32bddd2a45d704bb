//! The call-control core: what is known about devices independent of any wire protocol. SIP
//! publishes registrations into it; the CTI Manager subscribes to its events (a device coming
//! into or going out of service) and will send it commands. It knows neither SIP nor CTI
//! message formats, so a second phone protocol or a second CTI facade is one more adapter.
//!
//! [`calls`] is the call model (calls, legs, their state machines and events), reached through
//! [`CallControl::calls`]; [`control`] the interface that drives calls on phones, attached by
//! the SIP service and used by CTI ([`CallControl::phone_control`]).

pub mod calls;
pub mod control;

pub use calls::{Call, CallError, CallEvent, CallId, Calls, Cause, Leg, LegId, LegState, Side};
pub use control::{valid_dtmf_digits, ControlError, ControlFuture, PhoneControl};

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::{Arc, OnceLock, RwLock};

use serde::Serialize;
use tokio::sync::broadcast;

/// How a device's registration changed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum RegistrationChange {
    /// A new binding: the device (if it had none) comes into service.
    Registered,
    /// An existing binding was renewed.
    Refreshed,
    /// The device removed a binding (`Expires: 0`, `Contact: *`).
    Unregistered,
    /// A binding ran out without being renewed.
    Expired,
}

/// One change of a device's registration.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct RegistrationEvent {
    pub device: String,
    pub change: RegistrationChange,
    /// The registered contact URI.
    pub contact: String,
    /// "udp", "tcp" or "tls".
    pub transport: String,
    pub source: SocketAddr,
    /// Whether the device still has at least one live binding after this change.
    pub in_service: bool,
    /// When the binding runs out (seconds since the Unix epoch); 0 once removed.
    pub expires_at: u64,
}

/// A live registration, as `switchboard registrations` lists it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Registration {
    pub device: String,
    pub contact: String,
    pub transport: String,
    pub source: SocketAddr,
    /// Seconds since the Unix epoch.
    pub expires_at: u64,
}

/// The hub: registration state per device and the event stream.
pub struct CallControl {
    events: broadcast::Sender<RegistrationEvent>,
    /// Live contacts by device (the device name is the key only: this is held per binding).
    registrations: RwLock<HashMap<String, Vec<LiveContact>, foldhash::fast::RandomState>>,
    calls: Calls,
    phones: OnceLock<Arc<dyn PhoneControl>>,
}

/// One live contact of a device, as kept in memory.
#[derive(Debug, Clone)]
struct LiveContact {
    contact: String,
    transport: &'static str,
    source: SocketAddr,
    expires_at: u64,
}

/// Transports by name, so each live contact holds a `&'static str` rather than a `String`.
fn transport_name(name: &str) -> &'static str {
    match name {
        "udp" => "udp",
        "tcp" => "tcp",
        "tls" => "tls",
        "ws" => "ws",
        "wss" => "wss",
        _ => "other",
    }
}

impl Default for CallControl {
    fn default() -> Self {
        CallControl::new()
    }
}

impl CallControl {
    /// An empty hub; slow subscribers that fall more than 4096 events behind are told so
    /// (`RecvError::Lagged`) and must re-read the state.
    pub fn new() -> CallControl {
        CallControl {
            events: broadcast::channel(4096).0,
            registrations: RwLock::new(HashMap::default()),
            calls: Calls::new(),
            phones: OnceLock::new(),
        }
    }

    /// Attaches the phone driver (once; later calls are ignored).
    pub fn attach_phone_control(&self, driver: Arc<dyn PhoneControl>) {
        let _ = self.phones.set(driver);
    }

    /// The phone driver, when one is attached.
    pub fn phone_control(&self) -> Result<&Arc<dyn PhoneControl>, ControlError> {
        self.phones.get().ok_or(ControlError::Unavailable)
    }

    /// Records and announces a registration change.
    pub fn publish(&self, event: RegistrationEvent) {
        if let Ok(mut map) = self.registrations.write() {
            if !map.contains_key(&event.device) {
                map.insert(event.device.clone(), Vec::new());
            }
            let Some(list) = map.get_mut(&event.device) else {
                return;
            };
            list.retain(|r| r.contact != event.contact);
            if matches!(
                event.change,
                RegistrationChange::Registered | RegistrationChange::Refreshed
            ) {
                list.push(LiveContact {
                    contact: event.contact.clone(),
                    transport: transport_name(&event.transport),
                    source: event.source,
                    expires_at: event.expires_at,
                });
                list.shrink_to_fit();
            }
            if list.is_empty() || !event.in_service {
                map.remove(&event.device);
            }
        }
        let _ = self.events.send(event);
    }

    /// The live calls and their events.
    pub fn calls(&self) -> &Calls {
        &self.calls
    }

    /// Every registration change from now on.
    pub fn subscribe(&self) -> broadcast::Receiver<RegistrationEvent> {
        self.events.subscribe()
    }

    /// Whether `device` has a live registration.
    pub fn is_in_service(&self, device: &str) -> bool {
        self.registrations
            .read()
            .map(|m| m.contains_key(device))
            .unwrap_or(false)
    }

    /// Every live registration, by device.
    pub fn registrations(&self) -> Vec<Registration> {
        let mut all: Vec<Registration> = self
            .registrations
            .read()
            .map(|m| {
                m.iter()
                    .flat_map(|(device, list)| {
                        list.iter().map(move |c| Registration {
                            device: device.clone(),
                            contact: c.contact.clone(),
                            transport: c.transport.to_string(),
                            source: c.source,
                            expires_at: c.expires_at,
                        })
                    })
                    .collect()
            })
            .unwrap_or_default();
        all.sort_by(|a, b| (&a.device, &a.contact).cmp(&(&b.device, &b.contact)));
        all
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn event(change: RegistrationChange, in_service: bool) -> RegistrationEvent {
        RegistrationEvent {
            device: "SEP001794625DE5".into(),
            change,
            contact: "sip:1001@127.0.0.1:5070".into(),
            transport: "udp".into(),
            source: "127.0.0.1:5070".parse().unwrap(),
            in_service,
            expires_at: if in_service { 1_900_000_000 } else { 0 },
        }
    }

    #[tokio::test]
    async fn subscribers_see_changes_and_state_follows() {
        let cc = CallControl::new();
        let mut rx = cc.subscribe();
        assert!(!cc.is_in_service("SEP001794625DE5"));
        cc.publish(event(RegistrationChange::Registered, true));
        assert!(cc.is_in_service("SEP001794625DE5"));
        assert_eq!(cc.registrations().len(), 1);
        assert_eq!(cc.registrations()[0].contact, "sip:1001@127.0.0.1:5070");
        cc.publish(event(RegistrationChange::Expired, false));
        assert!(cc.registrations().is_empty());
        assert!(!cc.is_in_service("SEP001794625DE5"));
        assert_eq!(
            rx.recv().await.unwrap().change,
            RegistrationChange::Registered
        );
        let second = rx.recv().await.unwrap();
        assert_eq!(
            (second.change, second.in_service),
            (RegistrationChange::Expired, false)
        );
    }
}
