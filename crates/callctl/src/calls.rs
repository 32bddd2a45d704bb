//! The call model: live calls, each with two legs (the caller's side and the callee's side),
//! every leg a small state machine (idle → offering → ringing → connected ⇄ held →
//! disconnected, with a cause once disconnected). An adapter (the SIP back-to-back user agent
//! today, CTI call control later) asks for transitions; an illegal one is refused with
//! [`CallError::IllegalTransition`] (CTI's `ILLEGAL_CALLSTATE`) and changes nothing. Every
//! change is published as a [`CallEvent`]; a call whose two legs are disconnected ends
//! ([`CallEvent::Ended`]) and leaves the list of live calls. Pure: no I/O, no clock.

use std::collections::BTreeMap;
use std::sync::Mutex;

use serde::Serialize;
use tokio::sync::broadcast;

/// A call's identifier (unique within a node's lifetime).
pub type CallId = u64;
/// A leg's identifier (unique within a node's lifetime, across calls).
pub type LegId = u64;

/// The state of one leg.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum LegState {
    Idle,
    /// The call is being offered: an INVITE received (caller side) or sent (callee side).
    Offering,
    /// The callee is alerting.
    Ringing,
    Connected,
    Held,
    Disconnected,
}

impl LegState {
    /// Whether `self → to` is a legal transition.
    pub fn can_become(self, to: LegState) -> bool {
        use LegState::*;
        matches!(
            (self, to),
            (Idle, Offering | Disconnected)
                | (Offering, Ringing | Connected | Disconnected)
                | (Ringing, Connected | Disconnected)
                | (Connected, Held | Disconnected)
                | (Held, Connected | Disconnected)
        )
    }
}

/// Why a leg was disconnected.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Cause {
    /// Hung up after being connected.
    Normal,
    Busy,
    NoAnswer,
    /// The callee is not reachable now (no registered device).
    Unavailable,
    /// No such number.
    NotFound,
    /// The caller gave up before an answer.
    Cancelled,
    Rejected,
    Failed,
    /// Another device of the same line answered (parallel ringing).
    AnsweredElsewhere,
    /// The leg left the call through a transfer.
    Transferred,
    /// The offered call was sent on to another number before it was answered.
    Redirected,
}

/// Which side of the call a leg is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Side {
    Caller,
    Callee,
}

/// One leg of a call, as listed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Leg {
    pub id: LegId,
    pub side: Side,
    /// The directory number (or the address) of this side.
    pub number: String,
    /// The device on this side, once known (the callee side learns it on answer).
    pub device: Option<String>,
    /// The devices this side was offered to (alerting in parallel) before one answered.
    pub offered: Vec<String>,
    pub state: LegState,
    pub cause: Option<Cause>,
}

/// A live call.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Call {
    pub id: CallId,
    pub caller: Leg,
    pub callee: Leg,
}

impl Call {
    fn leg_mut(&mut self, side: Side) -> &mut Leg {
        match side {
            Side::Caller => &mut self.caller,
            Side::Callee => &mut self.callee,
        }
    }

    /// The leg on `side`.
    pub fn leg(&self, side: Side) -> &Leg {
        match side {
            Side::Caller => &self.caller,
            Side::Callee => &self.callee,
        }
    }
}

/// A change of the calls.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "event", rename_all = "snake_case")]
pub enum CallEvent {
    /// A call was created, both legs idle.
    NewCall {
        call: CallId,
        caller_leg: LegId,
        callee_leg: LegId,
        caller: String,
        callee: String,
        /// The caller's device, when the call comes from a known device.
        caller_device: Option<String>,
    },
    /// The leg on `side` was offered to these devices (they alert in parallel).
    Offered {
        call: CallId,
        leg: LegId,
        side: Side,
        devices: Vec<String>,
    },
    /// `device` answered for the leg on `side`; the other offered devices stop alerting
    /// (for each of them the call ends with cause [`Cause::AnsweredElsewhere`]).
    Answered {
        call: CallId,
        leg: LegId,
        side: Side,
        device: String,
    },
    /// The leg on `side`, not answered yet, was sent on to `number`: the devices it was
    /// offered to (`devices`) stop alerting, for each of them the call ends with cause
    /// [`Cause::Redirected`]. The devices it is then offered to follow in an `Offered` event.
    Redirected {
        call: CallId,
        leg: LegId,
        side: Side,
        number: String,
        devices: Vec<String>,
    },
    /// A leg changed state.
    StateChanged {
        call: CallId,
        leg: LegId,
        side: Side,
        from: LegState,
        to: LegState,
        cause: Option<Cause>,
    },
    /// Both legs are disconnected; the call is gone.
    Ended { call: CallId, cause: Cause },
}

/// A refused call operation.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CallError {
    #[error("no such call: {0}")]
    UnknownCall(CallId),
    /// CTI's `ILLEGAL_CALLSTATE`.
    #[error("illegal call state transition: {from:?} → {to:?}")]
    IllegalTransition { from: LegState, to: LegState },
}

/// The live calls and their event stream.
pub struct Calls {
    events: broadcast::Sender<CallEvent>,
    inner: Mutex<Inner>,
}

#[derive(Default)]
struct Inner {
    next_id: u64,
    calls: BTreeMap<CallId, Call>,
}

impl Default for Calls {
    fn default() -> Self {
        Calls::new()
    }
}

impl Calls {
    /// No calls; subscribers more than 4096 events behind are told so (`Lagged`).
    pub fn new() -> Calls {
        Calls {
            events: broadcast::channel(4096).0,
            inner: Mutex::new(Inner::default()),
        }
    }

    /// Every call event from now on.
    pub fn subscribe(&self) -> broadcast::Receiver<CallEvent> {
        self.events.subscribe()
    }

    /// Creates a call from `caller` to `callee` (numbers or addresses), both legs idle, the
    /// caller's device known.
    pub fn new_call(&self, caller: &str, caller_device: Option<&str>, callee: &str) -> Call {
        let mut inner = self.inner.lock().unwrap_or_else(|e| e.into_inner());
        inner.next_id += 3;
        let id = inner.next_id - 2;
        let leg = |id, side, number: &str, device: Option<&str>| Leg {
            id,
            side,
            number: number.to_string(),
            device: device.map(str::to_string),
            offered: Vec::new(),
            state: LegState::Idle,
            cause: None,
        };
        let call = Call {
            id,
            caller: leg(id + 1, Side::Caller, caller, caller_device),
            callee: leg(id + 2, Side::Callee, callee, None),
        };
        inner.calls.insert(id, call.clone());
        let _ = self.events.send(CallEvent::NewCall {
            call: id,
            caller_leg: call.caller.id,
            callee_leg: call.callee.id,
            caller: caller.to_string(),
            callee: callee.to_string(),
            caller_device: caller_device.map(str::to_string),
        });
        call
    }

    /// Runs `change` on the leg on `side` of `call`, under the lock.
    fn with_leg<R>(
        &self,
        call: CallId,
        side: Side,
        change: impl FnOnce(&mut Leg) -> R,
    ) -> Result<R, CallError> {
        let mut inner = self
            .inner
            .lock()
            .map_err(|_| CallError::UnknownCall(call))?;
        let c = inner
            .calls
            .get_mut(&call)
            .ok_or(CallError::UnknownCall(call))?;
        Ok(change(c.leg_mut(side)))
    }

    /// Records the devices the leg on `side` is offered to, publishing [`CallEvent::Offered`].
    pub fn offer(&self, call: CallId, side: Side, devices: &[String]) -> Result<(), CallError> {
        self.with_leg(call, side, |leg| {
            leg.offered = devices.to_vec();
            let _ = self.events.send(CallEvent::Offered {
                call,
                leg: leg.id,
                side,
                devices: devices.to_vec(),
            });
        })
    }

    /// Sends the leg on `side` (not answered yet) on to `number`: the devices it was offered
    /// to leave it, publishing [`CallEvent::Redirected`]; the devices it is then offered to
    /// follow with [`Calls::offer`].
    pub fn redirect(&self, call: CallId, side: Side, number: &str) -> Result<(), CallError> {
        self.with_leg(call, side, |leg| {
            leg.number = number.to_string();
            let devices = std::mem::take(&mut leg.offered);
            let _ = self.events.send(CallEvent::Redirected {
                call,
                leg: leg.id,
                side,
                number: number.to_string(),
                devices,
            });
        })
    }

    /// Records which device answered on `side`, publishing [`CallEvent::Answered`].
    pub fn set_device(&self, call: CallId, side: Side, device: &str) -> Result<(), CallError> {
        self.with_leg(call, side, |leg| {
            leg.device = Some(device.to_string());
            let _ = self.events.send(CallEvent::Answered {
                call,
                leg: leg.id,
                side,
                device: device.to_string(),
            });
        })
    }

    /// Moves the leg on `side` to `to` (with `cause` when disconnecting), publishing the
    /// change; ends the call once both legs are disconnected.
    pub fn transition(
        &self,
        call: CallId,
        side: Side,
        to: LegState,
        cause: Option<Cause>,
    ) -> Result<(), CallError> {
        let mut inner = self
            .inner
            .lock()
            .map_err(|_| CallError::UnknownCall(call))?;
        let c = inner
            .calls
            .get_mut(&call)
            .ok_or(CallError::UnknownCall(call))?;
        let leg = c.leg_mut(side);
        let from = leg.state;
        if !from.can_become(to) {
            return Err(CallError::IllegalTransition { from, to });
        }
        let cause = if to == LegState::Disconnected {
            Some(cause.unwrap_or(Cause::Normal))
        } else {
            None
        };
        leg.state = to;
        leg.cause = cause;
        let leg_id = leg.id;
        let _ = self.events.send(CallEvent::StateChanged {
            call,
            leg: leg_id,
            side,
            from,
            to,
            cause,
        });
        if c.caller.state == LegState::Disconnected && c.callee.state == LegState::Disconnected {
            let cause = c.callee.cause.or(c.caller.cause).unwrap_or(Cause::Normal);
            inner.calls.remove(&call);
            let _ = self.events.send(CallEvent::Ended { call, cause });
        }
        Ok(())
    }

    /// Disconnects every leg of `call` that is not yet (callee side first), with `cause`.
    pub fn disconnect(&self, call: CallId, cause: Cause) -> Result<(), CallError> {
        for side in [Side::Callee, Side::Caller] {
            match self.get(call) {
                Some(c) if c.leg(side).state != LegState::Disconnected => {
                    self.transition(call, side, LegState::Disconnected, Some(cause))?
                }
                Some(_) => {}
                None => return Ok(()),
            }
        }
        Ok(())
    }

    /// One live call.
    pub fn get(&self, call: CallId) -> Option<Call> {
        self.inner.lock().ok()?.calls.get(&call).cloned()
    }

    /// Every live call, oldest first.
    pub fn list(&self) -> Vec<Call> {
        self.inner
            .lock()
            .map(|i| i.calls.values().cloned().collect())
            .unwrap_or_default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn transitions_follow_the_state_machine() {
        use LegState::*;
        let all = [Idle, Offering, Ringing, Connected, Held, Disconnected];
        let legal: Vec<(LegState, LegState)> = all
            .iter()
            .flat_map(|a| all.iter().map(move |b| (*a, *b)))
            .filter(|(a, b)| a.can_become(*b))
            .collect();
        assert_eq!(
            legal,
            vec![
                (Idle, Offering),
                (Idle, Disconnected),
                (Offering, Ringing),
                (Offering, Connected),
                (Offering, Disconnected),
                (Ringing, Connected),
                (Ringing, Disconnected),
                (Connected, Held),
                (Connected, Disconnected),
                (Held, Connected),
                (Held, Disconnected),
            ]
        );
    }

    #[tokio::test]
    async fn a_basic_call_publishes_every_change_and_ends() {
        let calls = Calls::new();
        let mut rx = calls.subscribe();
        let call = calls.new_call("1001", Some("SEP001794625DE5"), "1002");
        let id = call.id;
        for (side, to) in [
            (Side::Caller, LegState::Offering),
            (Side::Callee, LegState::Offering),
            (Side::Callee, LegState::Ringing),
            (Side::Callee, LegState::Connected),
            (Side::Caller, LegState::Connected),
        ] {
            calls.transition(id, side, to, None).unwrap();
        }
        assert_eq!(calls.list().len(), 1);
        assert_eq!(calls.get(id).unwrap().callee.state, LegState::Connected);
        calls.set_device(id, Side::Callee, "SEP002").unwrap();
        assert_eq!(
            calls.get(id).unwrap().callee.device.as_deref(),
            Some("SEP002")
        );
        calls.disconnect(id, Cause::Normal).unwrap();
        assert!(calls.list().is_empty());
        assert!(calls.get(id).is_none());

        let mut seen = Vec::new();
        while let Ok(e) = rx.try_recv() {
            seen.push(e);
        }
        assert_eq!(seen.len(), 10, "{seen:?}");
        assert_eq!(
            seen[0],
            CallEvent::NewCall {
                call: id,
                caller_leg: call.caller.id,
                callee_leg: call.callee.id,
                caller: "1001".into(),
                callee: "1002".into(),
                caller_device: Some("SEP001794625DE5".into()),
            }
        );
        assert_eq!(
            seen[3],
            CallEvent::StateChanged {
                call: id,
                leg: call.callee.id,
                side: Side::Callee,
                from: LegState::Offering,
                to: LegState::Ringing,
                cause: None,
            }
        );
        assert_eq!(
            seen[6],
            CallEvent::Answered {
                call: id,
                leg: call.callee.id,
                side: Side::Callee,
                device: "SEP002".into()
            }
        );
        assert_eq!(
            seen[7],
            CallEvent::StateChanged {
                call: id,
                leg: call.callee.id,
                side: Side::Callee,
                from: LegState::Connected,
                to: LegState::Disconnected,
                cause: Some(Cause::Normal),
            }
        );
        assert_eq!(
            seen[9],
            CallEvent::Ended {
                call: id,
                cause: Cause::Normal
            }
        );
    }

    #[test]
    fn illegal_transitions_are_refused_and_change_nothing() {
        let calls = Calls::new();
        let mut rx = calls.subscribe();
        let id = calls.new_call("1001", None, "1002").id;
        assert_eq!(
            calls.transition(id, Side::Callee, LegState::Connected, None),
            Err(CallError::IllegalTransition {
                from: LegState::Idle,
                to: LegState::Connected
            })
        );
        calls
            .transition(id, Side::Callee, LegState::Offering, None)
            .unwrap();
        assert!(calls
            .transition(id, Side::Callee, LegState::Held, None)
            .is_err());
        assert_eq!(calls.get(id).unwrap().callee.state, LegState::Offering);
        assert_eq!(
            calls.transition(999, Side::Callee, LegState::Offering, None),
            Err(CallError::UnknownCall(999))
        );
        // Busy: the callee side ends with its cause, which is the call's.
        calls.disconnect(id, Cause::Busy).unwrap();
        assert!(calls.list().is_empty());
        let mut last = None;
        while let Ok(e) = rx.try_recv() {
            last = Some(e);
        }
        assert_eq!(
            last,
            Some(CallEvent::Ended {
                call: id,
                cause: Cause::Busy
            })
        );
        assert!(calls
            .transition(id, Side::Caller, LegState::Connected, None)
            .is_err());
    }

    #[test]
    fn offered_devices_are_recorded_and_published() {
        let calls = Calls::new();
        let mut rx = calls.subscribe();
        let call = calls.new_call("1001", Some("SEPA"), "1002");
        let devices = vec!["SEPB".to_string(), "CSFB".to_string()];
        calls.offer(call.id, Side::Callee, &devices).unwrap();
        assert_eq!(calls.get(call.id).unwrap().callee.offered, devices);
        assert_eq!(
            calls.offer(999, Side::Callee, &devices),
            Err(CallError::UnknownCall(999))
        );
        let _new_call = rx.try_recv().unwrap();
        assert_eq!(
            rx.try_recv().unwrap(),
            CallEvent::Offered {
                call: call.id,
                leg: call.callee.id,
                side: Side::Callee,
                devices
            }
        );
    }

    #[test]
    fn a_redirected_leg_gets_its_new_number_and_its_devices_leave() {
        let calls = Calls::new();
        let call = calls.new_call("1001", None, "1002");
        let id = call.id;
        calls
            .offer(id, Side::Callee, &["SEPB".to_string()])
            .unwrap();
        let mut rx = calls.subscribe();
        calls.redirect(id, Side::Callee, "1003").unwrap();
        let c = calls.get(id).unwrap();
        assert_eq!(c.callee.number, "1003");
        assert!(c.callee.offered.is_empty());
        assert_eq!(c.caller.number, "1001");
        assert_eq!(
            rx.try_recv().unwrap(),
            CallEvent::Redirected {
                call: id,
                leg: call.callee.id,
                side: Side::Callee,
                number: "1003".into(),
                devices: vec!["SEPB".into()],
            }
        );
        assert_eq!(
            calls.redirect(999, Side::Callee, "1003"),
            Err(CallError::UnknownCall(999))
        );
    }

    #[test]
    fn hold_and_resume() {
        let calls = Calls::new();
        let id = calls.new_call("1001", None, "1002").id;
        for to in [LegState::Offering, LegState::Connected, LegState::Held] {
            calls.transition(id, Side::Caller, to, None).unwrap();
        }
        calls
            .transition(id, Side::Caller, LegState::Connected, None)
            .unwrap();
        assert_eq!(calls.get(id).unwrap().caller.state, LegState::Connected);
    }
}
