//! The node's [`PhoneControl`]: CTI's call requests turned into SIP toward the real phones.
//! `make_call` is third-party call control (RFC 3725 flow I): an offerless INVITE to the
//! phone with the auto-answer indications (`Call-Info: <sip:node>;answer-after=0`, honoured
//! by Cisco and Snom, not by Debian 12's baresip 1.0, which auto-answers by its account's
//! `answermode=auto`; `Alert-Info: <http://127.0.0.1/>;info=alert-autoanswer;delay=0`,
//! Polycom's and Yealink's), the phone's offer sent to the dialed line, the far end's answer
//! returned in the phone's ACK. Hold and retrieve are re-INVITEs of the node (the far end
//! `sendonly`/`sendrecv`, the phone `inactive`/`sendrecv`, session version incremented),
//! DTMF is SIP INFO `application/dtmf-relay`, answer re-offers the call to the alerting
//! phone with the auto-answer indications. Consult transfer holds the call (an unknown
//! destination is refused first, before anything is sent) and places the consultation call
//! as make call does; transfer complete and blind transfer are `transfer.rs`'s.

use std::time::{Duration, Instant};

use switchboard_callctl::{
    valid_dtmf_digits, CallId, Cause, ControlError, ControlFuture, LegState, PhoneControl, Side,
};
use switchboard_sip_proto::transaction::new_branch;
use switchboard_sip_proto::{Message, Method};
use switchboard_store::StoreError;
use switchboard_trace::TraceEvent;
use tokio::sync::oneshot;

use super::dialog::{dtmf_relay_body, with_direction};
use super::{
    cancel_of, random_token, with_body_of, B2bua, Call, Outbox, Party, Phone, Role, ALLOW,
};
use crate::registrar::SERVER;

/// How long the node waits for a phone's final response to its own request.
const CONTROL_WAIT: Duration = Duration::from_secs(40);

/// The auto-answer header fields of the node's INVITEs to a controlled phone.
fn auto_answer(node: &str) -> [(&'static str, String); 2] {
    [
        ("Call-Info", format!("<sip:{node}>;answer-after=0")),
        (
            "Alert-Info",
            "<http://127.0.0.1/>;info=alert-autoanswer;delay=0".to_string(),
        ),
    ]
}

impl B2bua {
    fn control_trace(&self, call: CallId, operation: &str, device: &str, detail: String) {
        self.trace(TraceEvent::SipCallControl {
            call,
            operation: operation.into(),
            device: device.into(),
            detail,
        });
    }

    /// The side `device` is on in `call`, with the leg's state.
    fn device_side(&self, call: CallId, device: &str) -> Result<(Side, LegState), ControlError> {
        let c = self
            .callctl
            .calls()
            .get(call)
            .ok_or(ControlError::UnknownCall(call))?;
        for side in [Side::Caller, Side::Callee] {
            let leg = c.leg(side);
            if leg.device.as_deref() == Some(device) {
                return Ok((side, leg.state));
            }
        }
        if c.callee.offered.iter().any(|d| d == device) {
            return Ok((Side::Callee, c.callee.state));
        }
        Err(ControlError::NotOnDevice {
            call,
            device: device.to_string(),
        })
    }

    async fn place_call(
        &self,
        device: String,
        line: Option<String>,
        dialed: String,
    ) -> Result<CallId, ControlError> {
        let phone_targets = self.targets_of(std::slice::from_ref(&device));
        if phone_targets.is_empty() {
            return Err(ControlError::DeviceNotRegistered(device));
        }
        let dev = match self.registrar.store().get_device(&device).await {
            Ok(d) => d,
            Err(StoreError::NotFound { .. }) => {
                return Err(ControlError::DeviceNotRegistered(device))
            }
            Err(e) => return Err(ControlError::Failed(e.to_string())),
        };
        let number = match line {
            Some(l) if dev.lines.iter().any(|a| a.dn == l) => l,
            Some(l) => return Err(ControlError::NoSuchLine { device, line: l }),
            None => match dev.lines.iter().min_by_key(|a| a.index) {
                Some(a) => a.dn.clone(),
                None => {
                    return Err(ControlError::NoSuchLine {
                        device,
                        line: String::new(),
                    })
                }
            },
        };
        let dialed_devices = match self.line_devices(&dialed).await {
            Ok(d) => d,
            Err((404, ..)) => return Err(ControlError::UnknownNumber(dialed)),
            Err((_, _, why)) => return Err(ControlError::Failed(why)),
        };
        let now = Instant::now();
        let calls = self.callctl.calls();
        let call = calls.new_call(&number, Some(&device), &dialed).id;
        let _ = calls.transition(call, Side::Caller, LegState::Offering, None);
        let mut out = Outbox::new();
        let mut invites = Vec::new();
        let mut clients = Vec::new();
        for (dev_name, binding, route) in phone_targets {
            let Ok(uri) = switchboard_sip_proto::Uri::parse(&binding.uri) else {
                continue;
            };
            let branch = new_branch();
            let (local, tp) = self.local(route);
            let call_id = format!("{}@{}", random_token(), local.ip());
            let mut invite = self
                .request(Method::Invite, uri, route, &branch)
                .with_header(
                    "From",
                    &format!("\"{dialed}\" <sip:{dialed}@{local}>;tag={}", random_token()),
                )
                .with_header("To", &format!("<sip:{number}@{local}>"))
                .with_header("Call-ID", &call_id)
                .with_header("CSeq", "1 INVITE")
                .with_header(
                    "Contact",
                    &format!(
                        "<sip:{dialed}@{local};transport={}>",
                        tp.to_ascii_lowercase()
                    ),
                )
                .with_header("Allow", ALLOW)
                .with_header("User-Agent", SERVER);
            for (name, value) in auto_answer(&local.to_string()) {
                invite.headers.push(name, &value);
            }
            self.trace(TraceEvent::SipCallOffered {
                call,
                device: dev_name.clone(),
                contact: binding.uri.clone(),
                call_id: call_id.clone(),
            });
            clients.push((
                format!("{branch}|INVITE"),
                invite.clone(),
                route,
                invites.len(),
            ));
            invites.push(super::Fork {
                device: dev_name,
                route,
                invite,
                call_id,
                dialog: None,
                ack: None,
                failed: None,
            });
        }
        let Some(first) = invites.first().map(|f| f.invite.clone()) else {
            let _ = calls.disconnect(call, Cause::Failed);
            return Err(ControlError::DeviceNotRegistered(device));
        };
        self.control_trace(
            call,
            "make_call",
            &device,
            format!("INVITE with auto-answer to the phone, then {dialed}"),
        );
        {
            let mut inner = self
                .inner
                .lock()
                .map_err(|_| ControlError::Failed("lock".into()))?;
            for (i, f) in invites.iter().enumerate() {
                inner
                    .dialogs
                    .insert(f.call_id.clone(), (call, Party::Phone(i)));
            }
            inner.calls.insert(
                call,
                Call {
                    id: call,
                    invite: first,
                    server_key: String::new(),
                    tag: String::new(),
                    caller: None,
                    forks: Vec::new(),
                    answered: None,
                    finished: false,
                    relayed_provisional: 0,
                    session: None,
                    phone: Some(Box::new(Phone {
                        dialed_devices,
                        dialed,
                        invites,
                        answered: None,
                        offer: None,
                        ack: None,
                    })),
                    transfer: None,
                    join: None,
                },
            );
            for (key, m, route, i) in clients {
                self.start_client(
                    &mut inner,
                    key,
                    m,
                    route,
                    call,
                    Role::Phone(i),
                    now,
                    &mut out,
                );
            }
        }
        self.send(out);
        Ok(call)
    }

    async fn answer_call(&self, call: CallId, device: String) -> Result<(), ControlError> {
        let (side, state) = self.device_side(call, &device)?;
        if side != Side::Callee || !matches!(state, LegState::Offering | LegState::Ringing) {
            return Err(ControlError::IllegalCallState(state));
        }
        let now = Instant::now();
        let mut out = Outbox::new();
        {
            let mut inner = self
                .inner
                .lock()
                .map_err(|_| ControlError::Failed("lock".into()))?;
            let c = inner
                .calls
                .get_mut(&call)
                .ok_or(ControlError::UnknownCall(call))?;
            let (ringing, from, offer) = c.ringing_on(&device, state)?;
            let old = ringing[0];
            let numbers = self
                .callctl
                .calls()
                .get(call)
                .map(|x| (x.caller.number.clone(), x.callee.number.clone()))
                .unwrap_or_default();
            let targets = self.targets_of(std::slice::from_ref(&device));
            let node = self.local(c.forks[old].route).0.to_string();
            let first = c.forks.len();
            let (forks, clients) = self.make_forks(
                call,
                &from,
                &numbers.0,
                &numbers.1,
                &offer,
                &auto_answer(&node),
                targets,
                first,
                now,
                &mut out,
            );
            if forks.is_empty() {
                return Err(ControlError::DeviceNotRegistered(device));
            }
            let mut cancels = Vec::new();
            for i in ringing {
                if let Some(f) = c.forks.get_mut(i) {
                    cancels.extend(cancel_of(f));
                    f.failed = Some(487);
                }
            }
            for (n, f) in forks.iter().enumerate() {
                inner
                    .dialogs
                    .insert(f.call_id.clone(), (call, Party::Fork(first + n)));
            }
            if let Some(c) = inner.calls.get_mut(&call) {
                c.forks.extend(forks);
            }
            inner.clients.extend(clients);
            for (key, m, route) in cancels {
                self.start_client(&mut inner, key, m, route, call, Role::Quiet, now, &mut out);
            }
        }
        self.control_trace(
            call,
            "answer",
            &device,
            "ringing INVITE cancelled, re-offered with auto-answer".into(),
        );
        self.send(out);
        Ok(())
    }

    async fn drop_for(&self, call: CallId, device: String) -> Result<(), ControlError> {
        let (side, _) = self.device_side(call, &device)?;
        let now = Instant::now();
        let mut out = Outbox::new();
        {
            let mut inner = self
                .inner
                .lock()
                .map_err(|_| ControlError::Failed("lock".into()))?;
            if !inner.calls.contains_key(&call) {
                return Err(ControlError::UnknownCall(call));
            }
            self.hangup(
                &mut inner,
                call,
                side,
                Cause::Normal,
                &format!("dropped for {device}"),
                now,
                &mut out,
            );
        }
        self.control_trace(call, "drop", &device, "BYE/CANCEL to both sides".into());
        self.send(out);
        Ok(())
    }

    /// Sends `method` with `body` in `party`'s dialog and waits for its final status.
    async fn request_in_dialog(
        &self,
        call: CallId,
        party_of: impl FnOnce(&Call) -> Option<Party>,
        method: Method,
        body: impl FnOnce(&super::dialog::Dialog) -> Option<(String, Vec<u8>)>,
    ) -> Result<u16, String> {
        let now = Instant::now();
        let mut out = Outbox::new();
        let (tx, rx) = oneshot::channel();
        {
            let mut inner = self.inner.lock().map_err(|_| "lock".to_string())?;
            let c = inner.calls.get_mut(&call).ok_or("no such call")?;
            let party = party_of(c).ok_or("the call is not connected")?;
            let d = c.dialog_mut(party).ok_or("no dialog")?;
            if method == Method::Invite && d.invite_pending {
                return Err("another INVITE is pending".into());
            }
            let (ct, bytes) = body(d).ok_or("no session description to send")?;
            let branch = new_branch();
            let via = self.via(d.route, &branch);
            let mut m = d.request(method.clone(), &via, None);
            if method == Method::Invite {
                m.headers.push("Allow", ALLOW);
                d.invite_pending = true;
            }
            let m = with_body_of(m, &Message::response(200, "OK").with_body(&ct, bytes));
            d.note_sent(&m);
            let route = d.route;
            self.start_client(
                &mut inner,
                format!("{branch}|{}", method.as_str()),
                m,
                route,
                call,
                Role::Control(Some(tx)),
                now,
                &mut out,
            );
        }
        self.send(out);
        match tokio::time::timeout(CONTROL_WAIT, rx).await {
            Ok(Ok(code)) => Ok(code),
            _ => Err("no final response".into()),
        }
    }

    /// The parties of the device's side and the far side of a connected call.
    fn near_far(c: &Call, side: Side) -> Option<(Party, Party)> {
        let fork = Party::Fork(c.answered?);
        Some(match side {
            Side::Caller => (Party::Caller, fork),
            Side::Callee => (fork, Party::Caller),
        })
    }

    async fn hold_or_retrieve(
        &self,
        call: CallId,
        device: String,
        hold: bool,
    ) -> Result<(), ControlError> {
        let (side, state) = self.device_side(call, &device)?;
        let needed = if hold {
            LegState::Connected
        } else {
            LegState::Held
        };
        if state != needed {
            return Err(ControlError::IllegalCallState(state));
        }
        let fail = |why: String| {
            if hold {
                ControlError::HoldFailed(why)
            } else {
                ControlError::RetrieveFailed(why)
            }
        };
        let (far_dir, near_dir) = if hold {
            ("sendonly", "inactive")
        } else {
            ("sendrecv", "sendrecv")
        };
        let code = self
            .request_in_dialog(
                call,
                |c| Self::near_far(c, side).map(|(_, far)| far),
                Method::Invite,
                |d| {
                    d.local_sdp
                        .as_ref()
                        .map(|(ct, b)| (ct.clone(), with_direction(b, far_dir)))
                },
            )
            .await
            .map_err(fail)?;
        if !(200..300).contains(&code) {
            return Err(fail(format!("the far end answered {code}")));
        }
        self.set_held(call, side, hold);
        self.control_trace(
            call,
            if hold { "hold" } else { "retrieve" },
            &device,
            format!("far end re-INVITEd {far_dir}, phone {near_dir}"),
        );
        // The phone is told too, so that it shows the call held; its refusal changes nothing.
        let _ = self
            .request_in_dialog(
                call,
                |c| Self::near_far(c, side).map(|(near, _)| near),
                Method::Invite,
                |d| {
                    d.local_sdp
                        .as_ref()
                        .map(|(ct, b)| (ct.clone(), with_direction(b, near_dir)))
                },
            )
            .await;
        Ok(())
    }

    async fn dtmf(&self, call: CallId, device: String, digits: String) -> Result<(), ControlError> {
        if !valid_dtmf_digits(&digits) {
            return Err(ControlError::InvalidDtmfDigits);
        }
        let (side, state) = self.device_side(call, &device)?;
        if !matches!(state, LegState::Connected | LegState::Held) {
            return Err(ControlError::IllegalCallState(state));
        }
        for digit in digits.chars() {
            let code = self
                .request_in_dialog(
                    call,
                    |c| Self::near_far(c, side).map(|(_, far)| far),
                    Method::Info,
                    |_| {
                        Some((
                            "application/dtmf-relay".to_string(),
                            dtmf_relay_body(digit).into_bytes(),
                        ))
                    },
                )
                .await
                .map_err(ControlError::Failed)?;
            if !(200..300).contains(&code) {
                return Err(ControlError::Failed(format!(
                    "the far end answered INFO with {code}"
                )));
            }
        }
        self.control_trace(
            call,
            "send_dtmf",
            &device,
            format!("{} digit(s)", digits.len()),
        );
        Ok(())
    }
}

impl B2bua {
    async fn blind(
        &self,
        call: CallId,
        device: String,
        destination: String,
    ) -> Result<(), ControlError> {
        let (side, state) = self.device_side(call, &device)?;
        if !matches!(state, LegState::Connected | LegState::Held) {
            return Err(ControlError::IllegalCallState(state));
        }
        let devices = match self.line_devices(&destination).await {
            Ok(d) => d,
            Err((404, ..)) => return Err(ControlError::UnknownNumber(destination)),
            Err((_, _, why)) => return Err(ControlError::TransferFailed(why)),
        };
        let now = Instant::now();
        let mut out = Outbox::new();
        {
            let mut inner = self
                .inner
                .lock()
                .map_err(|_| ControlError::Failed("lock".into()))?;
            let c = inner
                .calls
                .get(&call)
                .ok_or(ControlError::UnknownCall(call))?;
            let party = match side {
                Side::Caller => Party::Caller,
                Side::Callee => {
                    Party::Fork(c.answered.ok_or(ControlError::IllegalCallState(state))?)
                }
            };
            self.start_transfer(
                &mut inner,
                call,
                party,
                &destination,
                &devices,
                false,
                now,
                &mut out,
            )
            .map_err(|(code, reason)| ControlError::TransferFailed(format!("{code} {reason}")))?;
        }
        self.control_trace(call, "blind_transfer", &device, format!("to {destination}"));
        self.send(out);
        Ok(())
    }
}

impl B2bua {
    async fn complete(
        &self,
        call: CallId,
        consult: CallId,
        device: String,
    ) -> Result<(), ControlError> {
        let (side1, state1) = self.device_side(call, &device)?;
        let (side2, state2) = self.device_side(consult, &device)?;
        for state in [state1, state2] {
            if !matches!(state, LegState::Connected | LegState::Held) {
                return Err(ControlError::IllegalCallState(state));
            }
        }
        let now = Instant::now();
        let mut out = Outbox::new();
        {
            let mut inner = self
                .inner
                .lock()
                .map_err(|_| ControlError::Failed("lock".into()))?;
            let party = |inner: &super::Inner, id: CallId, side: Side| -> Option<Party> {
                match side {
                    Side::Caller => Some(Party::Caller),
                    Side::Callee => Some(Party::Fork(inner.calls.get(&id)?.answered?)),
                }
            };
            let (Some(t1), Some(t2)) = (party(&inner, call, side1), party(&inner, consult, side2))
            else {
                return Err(ControlError::IllegalCallState(state1));
            };
            self.start_join(&mut inner, call, t1, consult, t2, false, now, &mut out)
                .map_err(|(code, reason)| {
                    ControlError::TransferFailed(format!("{code} {reason}"))
                })?;
        }
        self.control_trace(
            call,
            "transfer_complete",
            &device,
            format!("with call {consult}"),
        );
        self.send(out);
        Ok(())
    }
}

impl B2bua {
    async fn redirect_to(
        &self,
        call: CallId,
        device: String,
        destination: String,
    ) -> Result<(), ControlError> {
        let (side, state) = self.device_side(call, &device)?;
        if side != Side::Callee || !matches!(state, LegState::Offering | LegState::Ringing) {
            return Err(ControlError::IllegalCallState(state));
        }
        let devices = match self.line_devices(&destination).await {
            Ok(d) => d,
            Err((404, ..)) => return Err(ControlError::UnknownNumber(destination)),
            Err((_, _, why)) => return Err(ControlError::RedirectFailed(why)),
        };
        let targets = self.targets_of(&devices);
        if targets.is_empty() {
            return Err(ControlError::RedirectFailed(format!(
                "no device of {destination} is registered"
            )));
        }
        let now = Instant::now();
        let mut out = Outbox::new();
        {
            let mut inner = self
                .inner
                .lock()
                .map_err(|_| ControlError::Failed("lock".into()))?;
            let c = inner
                .calls
                .get_mut(&call)
                .ok_or(ControlError::UnknownCall(call))?;
            let (ringing, from, offer) = c.ringing_on(&device, state)?;
            let caller_number = self
                .callctl
                .calls()
                .get(call)
                .map(|x| x.caller.number.clone())
                .unwrap_or_default();
            let first = c.forks.len();
            let (forks, clients) = self.make_forks(
                call,
                &from,
                &caller_number,
                &destination,
                &offer,
                &[],
                targets,
                first,
                now,
                &mut out,
            );
            let mut cancels = Vec::new();
            for i in ringing {
                if let Some(f) = c.forks.get_mut(i) {
                    cancels.extend(cancel_of(f));
                    f.failed = Some(487);
                }
            }
            let mut offered: Vec<String> = forks.iter().map(|f| f.device.clone()).collect();
            offered.dedup();
            for (n, f) in forks.iter().enumerate() {
                inner
                    .dialogs
                    .insert(f.call_id.clone(), (call, Party::Fork(first + n)));
            }
            if let Some(c) = inner.calls.get_mut(&call) {
                c.forks.extend(forks);
            }
            inner.clients.extend(clients);
            for (key, m, route) in cancels {
                self.start_client(&mut inner, key, m, route, call, Role::Quiet, now, &mut out);
            }
            let calls = self.callctl.calls();
            // The ringing device leaves the call (cause `redirected`), the new ones are offered.
            let _ = calls.redirect(call, Side::Callee, &destination);
            let _ = calls.offer(call, Side::Callee, &offered);
            self.send(std::mem::take(&mut out));
        }
        self.control_trace(
            call,
            "redirect",
            &device,
            format!("cancelled there (redirected), offered to {destination}"),
        );
        Ok(())
    }
}

impl PhoneControl for B2bua {
    fn make_call(
        &self,
        device: String,
        line: Option<String>,
        dialed: String,
    ) -> ControlFuture<'_, CallId> {
        Box::pin(self.place_call(device, line, dialed))
    }

    fn answer(&self, call: CallId, device: String) -> ControlFuture<'_, ()> {
        Box::pin(self.answer_call(call, device))
    }

    fn drop_call(&self, call: CallId, device: String) -> ControlFuture<'_, ()> {
        Box::pin(self.drop_for(call, device))
    }

    fn hold(&self, call: CallId, device: String) -> ControlFuture<'_, ()> {
        Box::pin(self.hold_or_retrieve(call, device, true))
    }

    fn retrieve(&self, call: CallId, device: String) -> ControlFuture<'_, ()> {
        Box::pin(self.hold_or_retrieve(call, device, false))
    }

    fn blind_transfer(
        &self,
        call: CallId,
        device: String,
        destination: String,
    ) -> ControlFuture<'_, ()> {
        Box::pin(self.blind(call, device, destination))
    }

    fn consult_transfer(
        &self,
        call: CallId,
        device: String,
        destination: String,
    ) -> ControlFuture<'_, CallId> {
        Box::pin(async move {
            let (_, state) = self.device_side(call, &device)?;
            if !matches!(state, LegState::Connected | LegState::Held) {
                return Err(ControlError::IllegalCallState(state));
            }
            // An unknown number is refused before the call is put on hold.
            match self.line_devices(&destination).await {
                Ok(_) => {}
                Err((404, ..)) => return Err(ControlError::UnknownNumber(destination)),
                Err((_, _, why)) => return Err(ControlError::TransferFailed(why)),
            }
            if state == LegState::Connected {
                self.hold_or_retrieve(call, device.clone(), true).await?;
            }
            self.place_call(device, None, destination).await
        })
    }

    fn transfer_complete(
        &self,
        call: CallId,
        consult: CallId,
        device: String,
    ) -> ControlFuture<'_, ()> {
        Box::pin(self.complete(call, consult, device))
    }

    fn send_dtmf(&self, call: CallId, device: String, digits: String) -> ControlFuture<'_, ()> {
        Box::pin(self.dtmf(call, device, digits))
    }

    fn redirect(&self, call: CallId, device: String, destination: String) -> ControlFuture<'_, ()> {
        Box::pin(self.redirect_to(call, device, destination))
    }
}

impl Call {
    /// What answering or redirecting the call on `device` starts from: the forks still
    /// ringing there (at least one; neither failed nor answered), the From they carried and
    /// the offer a new fork gets. `IllegalCallState(state)` when the call is answered or does
    /// not ring on `device`.
    fn ringing_on(
        &self,
        device: &str,
        state: LegState,
    ) -> Result<(Vec<usize>, String, Message), ControlError> {
        let ringing: Vec<usize> = self
            .forks
            .iter()
            .enumerate()
            .filter(|(_, f)| f.device == device && f.failed.is_none() && f.ack.is_none())
            .map(|(i, _)| i)
            .collect();
        let Some(&first) = ringing.first().filter(|_| self.answered.is_none()) else {
            return Err(ControlError::IllegalCallState(state));
        };
        let from = self.forks[first]
            .invite
            .headers
            .get("From")
            .unwrap_or("")
            .to_string();
        Ok((ringing, from, self.offer()))
    }

    /// The offer a new fork of this call carries: the phone's (a make call) or the caller's
    /// INVITE.
    fn offer(&self) -> Message {
        match &self.phone {
            Some(p) => p.offer.clone().unwrap_or_else(|| self.invite.clone()),
            None => self.invite.clone(),
        }
    }
}
