//! The CTI Manager's view of the live calls, kept from call control's call events: for each
//! call, its numbers and, per leg, its state and the devices on it (the caller's device; the
//! devices the callee leg is offered to, then the one that answered; the devices it alerted
//! leave it when another answers, `answered_elsewhere`, or when it is redirected,
//! `redirected`). Each event becomes the
//! [`Notice`]s owed to the devices it concerns (a device appearing in a call, its connection
//! changing state, leaving the call); the registry turns them into CTI events for the
//! providers that opened those devices. Pure: no locks, no I/O.
//!
//! A device is told about a call once its leg has left `idle` (a leg offered while idle is
//! announced by its first state change, with that state). After missed events
//! ([`CallMirror::resync`]) the mirror is compared with the live calls and owes what changed.

use std::collections::HashMap;

use switchboard_callctl::{Call, CallEvent, CallId, Cause, Leg, LegId, LegState, Side};
use switchboard_cti_proto::{
    CallCause, CallEndedEvent, CallRole, CallState, CallStateChangedEvent, Message, NewCallEvent,
};
use switchboard_trace::TraceEvent;

/// Longest number or device name copied into an event, in characters (a number comes from
/// the network; a frame must stay far below 64 KiB).
const MAX_TEXT: usize = 128;

/// What a device is owed about one call.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Notice {
    /// The device appears in the call.
    New {
        call: CallId,
        connection: LegId,
        dn: String,
        calling: String,
        called: String,
        role: CallRole,
        state: CallState,
    },
    /// Its connection changed state.
    Changed {
        call: CallId,
        connection: LegId,
        state: CallState,
        cause: Option<CallCause>,
    },
    /// The call ended for it.
    Ended {
        call: CallId,
        connection: LegId,
        cause: CallCause,
    },
}

impl Notice {
    /// The CTI event for the provider that opened `device` as `handle`.
    pub fn message(&self, device: &str, handle: u32) -> Message {
        let device_name = device.to_owned();
        match self.clone() {
            Notice::New {
                call,
                connection,
                dn,
                calling,
                called,
                role,
                state,
            } => Message::NewCallEvent(NewCallEvent {
                device_handle: handle,
                device_name,
                call_id: call,
                connection_id: connection,
                directory_number: dn,
                calling_number: calling,
                called_number: called,
                role,
                state,
            }),
            Notice::Changed {
                call,
                connection,
                state,
                cause,
            } => Message::CallStateChangedEvent(CallStateChangedEvent {
                device_handle: handle,
                device_name,
                call_id: call,
                connection_id: connection,
                state,
                cause,
            }),
            Notice::Ended {
                call,
                connection,
                cause,
            } => Message::CallEndedEvent(CallEndedEvent {
                device_handle: handle,
                device_name,
                call_id: call,
                connection_id: connection,
                cause,
            }),
        }
    }

    /// The trace line of the event sent to `provider_id`'s `handle`.
    pub fn trace(&self, device: &str, handle: u32, provider_id: u32) -> TraceEvent {
        let device = device.to_owned();
        match self {
            Notice::New {
                call,
                connection,
                dn,
                calling,
                called,
                role,
                state,
            } => TraceEvent::CtiNewCallEvent {
                handle,
                device,
                provider_id,
                call: *call,
                connection: *connection,
                calling: calling.clone(),
                called: called.clone(),
                dn: dn.clone(),
                role: match role {
                    CallRole::Originating => "originating",
                    CallRole::Terminating => "terminating",
                }
                .into(),
                state: state_name(*state).into(),
            },
            Notice::Changed {
                call,
                connection,
                state,
                cause,
            } => TraceEvent::CtiCallStateChangedEvent {
                handle,
                device,
                provider_id,
                call: *call,
                connection: *connection,
                state: state_name(*state).into(),
                cause: cause.map(|c| cause_name(c).into()),
            },
            Notice::Ended {
                call,
                connection,
                cause,
            } => TraceEvent::CtiCallEndedEvent {
                handle,
                device,
                provider_id,
                call: *call,
                connection: *connection,
                cause: cause_name(*cause).into(),
            },
        }
    }
}

/// The wire name of a call state.
pub(crate) fn state_name(state: CallState) -> &'static str {
    match state {
        CallState::Offering => "offering",
        CallState::Ringing => "ringing",
        CallState::Connected => "connected",
        CallState::Held => "held",
        CallState::Disconnected => "disconnected",
    }
}

/// The wire name of a cause.
pub(crate) fn cause_name(cause: CallCause) -> &'static str {
    match cause {
        CallCause::Normal => "normal",
        CallCause::Busy => "busy",
        CallCause::NoAnswer => "no_answer",
        CallCause::Unavailable => "unavailable",
        CallCause::NotFound => "not_found",
        CallCause::Cancelled => "cancelled",
        CallCause::Rejected => "rejected",
        CallCause::Failed => "failed",
        CallCause::AnsweredElsewhere => "answered_elsewhere",
        CallCause::Transferred => "transferred",
        CallCause::Redirected => "redirected",
        CallCause::Unknown => "unknown",
    }
}

/// A leg's state as CTI names it (`None` while idle: not told).
pub(crate) fn cti_state(state: LegState) -> Option<CallState> {
    match state {
        LegState::Idle => None,
        LegState::Offering => Some(CallState::Offering),
        LegState::Ringing => Some(CallState::Ringing),
        LegState::Connected => Some(CallState::Connected),
        LegState::Held => Some(CallState::Held),
        LegState::Disconnected => Some(CallState::Disconnected),
    }
}

/// A cause as CTI names it.
pub(crate) fn cti_cause(cause: Cause) -> CallCause {
    match cause {
        Cause::Normal => CallCause::Normal,
        Cause::Busy => CallCause::Busy,
        Cause::NoAnswer => CallCause::NoAnswer,
        Cause::Unavailable => CallCause::Unavailable,
        Cause::NotFound => CallCause::NotFound,
        Cause::Cancelled => CallCause::Cancelled,
        Cause::Rejected => CallCause::Rejected,
        Cause::Failed => CallCause::Failed,
        Cause::AnsweredElsewhere => CallCause::AnsweredElsewhere,
        Cause::Transferred => CallCause::Transferred,
        Cause::Redirected => CallCause::Redirected,
    }
}

fn bounded(text: &str) -> String {
    text.chars().take(MAX_TEXT).collect()
}

/// One leg as the mirror knows it.
#[derive(Debug, Clone)]
struct TrackedLeg {
    id: LegId,
    state: LegState,
    cause: Option<Cause>,
    /// The devices on this leg; told about the call once `state` is not idle.
    devices: Vec<String>,
}

impl TrackedLeg {
    fn of(leg: &Leg) -> TrackedLeg {
        TrackedLeg {
            id: leg.id,
            state: leg.state,
            cause: leg.cause,
            devices: devices_of(leg),
        }
    }
}

/// The devices of a listed leg: the one that answered, else those it is offered to.
fn devices_of(leg: &Leg) -> Vec<String> {
    let mut devices: Vec<String> = match &leg.device {
        Some(d) => vec![d.clone()],
        None => leg.offered.clone(),
    };
    devices.dedup();
    devices
}

#[derive(Debug, Clone)]
struct TrackedCall {
    calling: String,
    called: String,
    caller: TrackedLeg,
    callee: TrackedLeg,
}

impl TrackedCall {
    fn leg_mut(&mut self, side: Side) -> &mut TrackedLeg {
        match side {
            Side::Caller => &mut self.caller,
            Side::Callee => &mut self.callee,
        }
    }

    /// The `New` notice for a device on the leg on `side`, in `state`.
    fn new_notice(&self, call: CallId, side: Side, state: CallState) -> Notice {
        let (leg, role, dn) = match side {
            Side::Caller => (&self.caller, CallRole::Originating, &self.calling),
            Side::Callee => (&self.callee, CallRole::Terminating, &self.called),
        };
        Notice::New {
            call,
            connection: leg.id,
            dn: dn.clone(),
            calling: self.calling.clone(),
            called: self.called.clone(),
            role,
            state,
        }
    }
}

/// Notices owed, by device.
pub(crate) type Owed = Vec<(String, Notice)>;

/// The live calls as the CTI Manager knows them.
#[derive(Debug, Default)]
pub(crate) struct CallMirror {
    calls: HashMap<CallId, TrackedCall, foldhash::fast::RandomState>,
}

impl CallMirror {
    /// How many calls are known.
    #[cfg(test)]
    pub fn len(&self) -> usize {
        self.calls.len()
    }

    /// Applies one call event; returns what each concerned device is owed.
    pub fn apply(&mut self, event: &CallEvent) -> Owed {
        let mut owed = Vec::new();
        match event {
            CallEvent::NewCall {
                call,
                caller_leg,
                callee_leg,
                caller,
                callee,
                caller_device,
            } => {
                // Already known: a snapshot read after missed events was ahead of this one.
                self.calls.entry(*call).or_insert_with(|| TrackedCall {
                    calling: bounded(caller),
                    called: bounded(callee),
                    caller: TrackedLeg {
                        id: *caller_leg,
                        state: LegState::Idle,
                        cause: None,
                        devices: caller_device.iter().map(|d| bounded(d)).collect(),
                    },
                    callee: TrackedLeg {
                        id: *callee_leg,
                        state: LegState::Idle,
                        cause: None,
                        devices: Vec::new(),
                    },
                });
            }
            CallEvent::Offered {
                call,
                side,
                devices,
                ..
            } => {
                let Some(c) = self.calls.get_mut(call) else {
                    return owed;
                };
                let told = cti_state(c.leg_mut(*side).state);
                for device in devices {
                    let device = bounded(device);
                    if c.leg_mut(*side).devices.contains(&device) {
                        continue;
                    }
                    c.leg_mut(*side).devices.push(device.clone());
                    if let Some(state) = told {
                        owed.push((device, c.new_notice(*call, *side, state)));
                    }
                }
            }
            CallEvent::Answered {
                call, side, device, ..
            } => {
                let Some(c) = self.calls.get_mut(call) else {
                    return owed;
                };
                let device = bounded(device);
                let leg = c.leg_mut(*side);
                let told = cti_state(leg.state);
                let connection = leg.id;
                let others: Vec<String> = leg
                    .devices
                    .iter()
                    .filter(|d| **d != device)
                    .cloned()
                    .collect();
                leg.devices.retain(|d| *d == device);
                if told.is_some() {
                    for other in others {
                        owed.push((
                            other,
                            Notice::Ended {
                                call: *call,
                                connection,
                                cause: CallCause::AnsweredElsewhere,
                            },
                        ));
                    }
                }
                if !leg.devices.contains(&device) {
                    leg.devices.push(device.clone());
                    if let Some(state) = told {
                        owed.push((device, c.new_notice(*call, *side, state)));
                    }
                }
            }
            CallEvent::Redirected {
                call,
                side,
                number,
                devices,
                ..
            } => {
                let Some(c) = self.calls.get_mut(call) else {
                    return owed;
                };
                match side {
                    Side::Caller => c.calling = bounded(number),
                    Side::Callee => c.called = bounded(number),
                }
                let leg = c.leg_mut(*side);
                let told = cti_state(leg.state).is_some();
                let connection = leg.id;
                for device in devices {
                    let device = bounded(device);
                    let Some(at) = leg.devices.iter().position(|d| *d == device) else {
                        continue;
                    };
                    leg.devices.remove(at);
                    if told {
                        owed.push((
                            device,
                            Notice::Ended {
                                call: *call,
                                connection,
                                cause: CallCause::Redirected,
                            },
                        ));
                    }
                }
            }
            CallEvent::StateChanged {
                call,
                side,
                from,
                to,
                cause,
                ..
            } => {
                let Some(c) = self.calls.get_mut(call) else {
                    return owed;
                };
                let leg = c.leg_mut(*side);
                // Only a change from the state known: after a resynchronisation, older
                // events still queued are already reflected.
                if leg.state != *from {
                    return owed;
                }
                leg.state = *to;
                leg.cause = *cause;
                let connection = leg.id;
                let Some(state) = cti_state(*to) else {
                    return owed;
                };
                if *from == LegState::Idle {
                    if *to == LegState::Disconnected {
                        // Never told: nobody is owed anything.
                        leg.devices.clear();
                        return owed;
                    }
                    let devices = leg.devices.clone();
                    for device in devices {
                        owed.push((device, c.new_notice(*call, *side, state)));
                    }
                } else {
                    for device in &leg.devices {
                        owed.push((
                            device.clone(),
                            Notice::Changed {
                                call: *call,
                                connection,
                                state,
                                cause: cause.map(cti_cause),
                            },
                        ));
                    }
                }
            }
            CallEvent::Ended { call, cause } => {
                if let Some(c) = self.calls.remove(call) {
                    end(*call, &c, Some(*cause), &mut owed);
                }
            }
        }
        owed
    }

    /// What a device that was just opened is owed: a `New` notice, with the present state,
    /// for every call it is in.
    pub fn snapshot(&self, device: &str) -> Vec<Notice> {
        let mut calls: Vec<(&CallId, &TrackedCall)> = self.calls.iter().collect();
        calls.sort_by_key(|(id, _)| **id);
        let mut owed = Vec::new();
        for (id, c) in calls {
            for side in [Side::Caller, Side::Callee] {
                let leg = match side {
                    Side::Caller => &c.caller,
                    Side::Callee => &c.callee,
                };
                if let Some(state) = cti_state(leg.state) {
                    if leg.devices.iter().any(|d| d == device) {
                        owed.push(c.new_notice(*id, side, state));
                    }
                }
            }
        }
        owed
    }

    /// After missed events: makes the mirror the live `calls` and returns what the devices
    /// are owed for the difference (calls gone end, changed states are told, devices that
    /// joined or left a leg are told so).
    pub fn resync(&mut self, calls: &[Call]) -> Owed {
        let mut owed = Vec::new();
        let live: std::collections::HashSet<CallId> = calls.iter().map(|c| c.id).collect();
        let mut gone: Vec<CallId> = self
            .calls
            .keys()
            .filter(|id| !live.contains(id))
            .copied()
            .collect();
        gone.sort_unstable();
        for id in gone {
            if let Some(c) = self.calls.remove(&id) {
                end(id, &c, None, &mut owed);
            }
        }
        for call in calls {
            let fresh = TrackedCall {
                calling: bounded(&call.caller.number),
                called: bounded(&call.callee.number),
                caller: TrackedLeg::of(&call.caller),
                callee: TrackedLeg::of(&call.callee),
            };
            let old = self.calls.get(&call.id).cloned();
            for side in [Side::Caller, Side::Callee] {
                let new_leg = match side {
                    Side::Caller => &fresh.caller,
                    Side::Callee => &fresh.callee,
                };
                let Some(state) = cti_state(new_leg.state) else {
                    continue;
                };
                let old_leg = old.as_ref().map(|o| match side {
                    Side::Caller => o.caller.clone(),
                    Side::Callee => o.callee.clone(),
                });
                let told_before: Vec<String> = match &old_leg {
                    Some(l) if l.state != LegState::Idle => l.devices.clone(),
                    _ => Vec::new(),
                };
                let answered = call.leg(side).device.is_some();
                // A callee leg whose number changed before the answer was redirected.
                let redirected =
                    side == Side::Callee && old.as_ref().is_some_and(|o| o.called != fresh.called);
                for device in &told_before {
                    if !new_leg.devices.contains(device) {
                        let cause = if answered {
                            CallCause::AnsweredElsewhere
                        } else if redirected {
                            CallCause::Redirected
                        } else {
                            new_leg.cause.map(cti_cause).unwrap_or(CallCause::Unknown)
                        };
                        owed.push((
                            device.clone(),
                            Notice::Ended {
                                call: call.id,
                                connection: new_leg.id,
                                cause,
                            },
                        ));
                    }
                }
                for device in &new_leg.devices {
                    if !told_before.contains(device) {
                        owed.push((device.clone(), fresh.new_notice(call.id, side, state)));
                    } else if old_leg.as_ref().map(|l| l.state) != Some(new_leg.state) {
                        owed.push((
                            device.clone(),
                            Notice::Changed {
                                call: call.id,
                                connection: new_leg.id,
                                state,
                                cause: new_leg.cause.map(cti_cause),
                            },
                        ));
                    }
                }
            }
            self.calls.insert(call.id, fresh);
        }
        owed
    }
}

/// The `Ended` notices of a call that is over, for every device told about it.
fn end(id: CallId, c: &TrackedCall, cause: Option<Cause>, owed: &mut Owed) {
    for leg in [&c.caller, &c.callee] {
        if leg.state == LegState::Idle {
            continue;
        }
        let cause = leg
            .cause
            .or(cause)
            .map(cti_cause)
            .unwrap_or(CallCause::Unknown);
        for device in &leg.devices {
            owed.push((
                device.clone(),
                Notice::Ended {
                    call: id,
                    connection: leg.id,
                    cause,
                },
            ));
        }
    }
}

#[cfg(test)]
mod tests;
