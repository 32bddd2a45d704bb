//! Transfers (RFC 3515 REFER, RFC 5589 call-transfer flows), driven by a phone's REFER or by
//! the node's call control. Blind: the target's devices get an INVITE without an offer; the
//! target's 2xx carries the offer, which goes to the transferee in a re-INVITE, and the
//! transferee's answer goes back in the target's ACK (RFC 3725 flow I). The transferor hears
//! `NOTIFY` with `message/sipfrag` progress (`100 Trying`, then `200 OK` or the failure) and
//! hangs up (call control's transfers hang it up themselves). In the call model the
//! transferee and the target form a new call; the old call ends with cause `transferred`.
//! Should the call end before that (the transferee hangs up, the call is dropped, its session
//! timer runs out), the target is released — CANCEL while it rings, ACK and BYE once it
//! answered — and the new call ends with cause `cancelled`.
//! Attended (`Refer-To: <…?Replaces=<call-id>…>` naming the transferor's other dialog, or
//! call control's transfer-complete): the second far end gets an offerless re-INVITE, its
//! offer goes to the first far end in a re-INVITE, the answer back in the ACK; the two far
//! ends form a new call, the transferor's two calls end with cause `transferred`.

use std::time::{Duration, Instant};

use switchboard_callctl::{CallId, Cause, LegState, Side};
use switchboard_sip_proto::transaction::{new_branch, ServerNonInvite};
use switchboard_sip_proto::{Message, Method};
use switchboard_trace::TraceEvent;

use super::dialog::{ack_for_2xx, parse_refer_to, sdp_of};
use super::{
    cancel_of, cause_of, dialog_of_answer, invite_key, random_token, response, side_of,
    with_body_of, B2bua, Call, Fork, Inner, Outbox, Party, Role, Route, ServerNtx, ALLOW,
};
use crate::registrar::Inbound;

/// How long a transferor's BYE is still answered `200` after a transfer by REFER.
const RELEASED_FOR: Duration = Duration::from_secs(64);

/// A transfer in progress in a call.
pub(super) struct Transfer {
    /// The new call of the call model (transferee → target) while it is set up.
    pub(super) new_call: CallId,
    transferor: Party,
    transferee: Party,
    /// The INVITEs (without an offer) to the target's contacts.
    forks: Vec<Fork>,
    answered: Option<usize>,
    /// The target's 2xx (its offer).
    target_2xx: Option<Message>,
    /// The ACK of that 2xx (with the transferee's answer), once sent.
    target_ack: Option<Message>,
    /// Started by the transferor's REFER: it is told the progress with NOTIFY.
    by_refer: bool,
    /// The transferor hung up before the outcome (RFC 5589 §6.1 allows it): it is told
    /// nothing more, and should the transfer fail the transferee's call ends.
    transferor_left: bool,
}

impl B2bua {
    /// A REFER in a connected call: `202` and a blind transfer to the `Refer-To` number;
    /// `400` without a usable `Refer-To`, `404` for an unknown number, `481` outside a
    /// connected call.
    pub async fn handle_refer(&self, req: Message, inbound: &Inbound) -> Option<Message> {
        let now = Instant::now();
        let route = Route::of_inbound(&req, inbound);
        let Some(ikey) = invite_key(&req) else {
            return Some(response(&req, 400, "Bad Request"));
        };
        let key = format!("{ikey}|REFER");
        let call_id = req.headers.call_id().ok()?.to_string();
        {
            let mut out = Outbox::new();
            let mut inner = self.inner.lock().ok()?;
            if let Some(s) = inner.nservers.get_mut(&key) {
                s.tx.handle_request(now, req);
                while let Some(m) = s.tx.poll_transmit() {
                    out.push((s.route, m.to_bytes()));
                }
                drop(inner);
                self.send(out);
                return None;
            }
            let connected = inner
                .dialogs
                .get(&call_id)
                .and_then(|(call, party)| Some(inner.calls.get(call)?.peer(*party).is_some()))
                .unwrap_or(false);
            if !connected {
                return Some(response(&req, 481, "Call/Transaction Does Not Exist"));
            }
        }
        let Some(refer_to) = req.headers.get("Refer-To").and_then(parse_refer_to) else {
            return Some(response(&req, 400, "Bad Request: Refer-To"));
        };
        let devices = match &refer_to.replaces {
            Some(_) => std::sync::Arc::from(Vec::new()),
            None => match self.line_devices(&refer_to.user).await {
                Ok(d) => d,
                Err((code, reason, _)) => return Some(response(&req, code, reason)),
            },
        };
        let mut out = Outbox::new();
        {
            let mut inner = self.inner.lock().ok()?;
            let Some((call, party)) = inner.dialogs.get(&call_id).copied() else {
                return Some(response(&req, 481, "Call/Transaction Does Not Exist"));
            };
            let mut s = ServerNtx {
                tx: ServerNonInvite::new(req.clone(), route.reliability(), self.timers, now),
                route,
            };
            s.tx.send_response(now, response(&req, 202, "Accepted"));
            while let Some(m) = s.tx.poll_transmit() {
                out.push((s.route, m.to_bytes()));
            }
            inner.nservers.insert(key, s);
            self.notify(
                &mut inner,
                call,
                party,
                "SIP/2.0 100 Trying",
                false,
                now,
                &mut out,
            );
            let started = match &refer_to.replaces {
                // Attended: the dialog to replace is the transferor's other call.
                Some(other) => match inner.dialogs.get(other).copied() {
                    Some((call2, t2)) => {
                        self.start_join(&mut inner, call, party, call2, t2, true, now, &mut out)
                    }
                    None => Err((481, "Call/Transaction Does Not Exist".to_string())),
                },
                None => self.start_transfer(
                    &mut inner,
                    call,
                    party,
                    &refer_to.user,
                    &devices,
                    true,
                    now,
                    &mut out,
                ),
            };
            if let Err((code, reason)) = started {
                self.notify(
                    &mut inner,
                    call,
                    party,
                    &format!("SIP/2.0 {code} {reason}"),
                    true,
                    now,
                    &mut out,
                );
            }
        }
        self.send(out);
        None
    }

    /// A NOTIFY of the `refer` subscription to `party` with a `message/sipfrag` status line.
    #[allow(clippy::too_many_arguments)]
    fn notify(
        &self,
        inner: &mut Inner,
        call: CallId,
        party: Party,
        frag: &str,
        last: bool,
        now: Instant,
        out: &mut Outbox,
    ) {
        let Some(d) = inner.calls.get_mut(&call).and_then(|c| c.dialog_mut(party)) else {
            return;
        };
        let branch = new_branch();
        let via = self.via(d.route, &branch);
        let state = if last {
            "terminated;reason=noresource"
        } else {
            "active;expires=60"
        };
        let m = d
            .request(Method::Notify, &via, None)
            .with_header("Contact", &d.contact)
            .with_header("Event", "refer")
            .with_header("Subscription-State", state)
            .with_body("message/sipfrag;version=2.0", format!("{frag}\r\n"));
        let route = d.route;
        self.start_client(
            inner,
            format!("{branch}|NOTIFY"),
            m,
            route,
            call,
            Role::Quiet,
            now,
            out,
        );
    }

    /// Starts a blind transfer in `call`: `transferor` leaves, its peer is connected to
    /// `target` (whose line has `devices`). `Err((status, reason))` when nothing could start.
    #[allow(clippy::too_many_arguments)]
    pub(super) fn start_transfer(
        &self,
        inner: &mut Inner,
        call: CallId,
        transferor: Party,
        target: &str,
        devices: &[String],
        by_refer: bool,
        now: Instant,
        out: &mut Outbox,
    ) -> Result<(), (u16, String)> {
        let Some(c) = inner.calls.get(&call) else {
            return Err((481, "Call Does Not Exist".into()));
        };
        if c.transfer.is_some() || c.join.is_some() {
            return Err((491, "Request Pending".into()));
        }
        let Some(transferee) = c.peer(transferor) else {
            return Err((481, "Call Does Not Exist".into()));
        };
        let targets = self.targets_of(devices);
        if targets.is_empty() {
            return Err((480, "Temporarily Unavailable".into()));
        }
        let calls = self.callctl.calls();
        let Some(model) = calls.get(call) else {
            return Err((481, "Call Does Not Exist".into()));
        };
        let e = model.leg(side_of(transferee)).clone();
        let new = calls.new_call(&e.number, e.device.as_deref(), target).id;
        let _ = calls.transition(new, Side::Caller, LegState::Offering, None);
        let _ = calls.transition(new, Side::Caller, LegState::Connected, None);
        let local = self.local(targets[0].2).0;
        let from = format!("<sip:{}@{local}>;tag={}", e.number, random_token());
        let no_offer = Message::response(200, "OK");
        let (forks, mut clients) = self.make_forks(
            new,
            &from,
            &e.number,
            target,
            &no_offer,
            &[],
            targets,
            0,
            now,
            out,
        );
        for (_, tx) in clients.iter_mut() {
            if let Role::Fork(i) = tx.role {
                tx.role = Role::Target(i);
                tx.call = call;
            }
        }
        let mut offered: Vec<String> = forks.iter().map(|f| f.device.clone()).collect();
        offered.dedup();
        let _ = calls.offer(new, Side::Callee, &offered);
        let _ = calls.transition(new, Side::Callee, LegState::Offering, None);
        self.trace(TraceEvent::SipCallTransfer {
            call,
            step: format!("blind transfer to {target} started (new call {new})"),
        });
        if let Some(c) = inner.calls.get_mut(&call) {
            c.transfer = Some(Box::new(Transfer {
                new_call: new,
                transferor,
                transferee,
                forks,
                answered: None,
                target_2xx: None,
                target_ack: None,
                by_refer,
                transferor_left: false,
            }));
        }
        inner.clients.extend(clients);
        Ok(())
    }

    /// A response of the transfer target to the node's INVITE.
    pub(super) fn target_response(
        &self,
        inner: &mut Inner,
        call: CallId,
        i: usize,
        resp: Message,
        now: Instant,
        out: &mut Outbox,
    ) {
        let code = resp.code().unwrap_or(0);
        let Some(c) = inner.calls.get_mut(&call) else {
            return;
        };
        let Some(t) = c.transfer.as_mut() else {
            return;
        };
        let calls = self.callctl.calls();
        if code < 200 {
            if code != 100
                && calls
                    .get(t.new_call)
                    .is_some_and(|x| x.callee.state == LegState::Offering)
            {
                let _ = calls.transition(t.new_call, Side::Callee, LegState::Ringing, None);
            }
            return;
        }
        if code >= 300 {
            if let Some(f) = t.forks.get_mut(i) {
                f.failed.get_or_insert(code);
            }
            if t.answered.is_none() && t.forks.iter().all(|f| f.failed.is_some()) {
                let reason = resp.reason().unwrap_or("").to_string();
                self.transfer_failed(inner, call, code, &reason, now, out);
            }
            return;
        }
        match t.answered {
            Some(a) if a == i => {
                if let (Some(ack), Some(f)) = (&t.target_ack, t.forks.get(i)) {
                    out.push((f.route, ack.to_bytes()));
                }
                return;
            }
            Some(_) => return,
            None => {}
        }
        let Some(f) = t.forks.get_mut(i) else {
            return;
        };
        f.dialog = dialog_of_answer(&f.invite, &resp, f.route, &f.call_id);
        f.ack = Some(Message::response(200, "OK"));
        t.answered = Some(i);
        t.target_2xx = Some(resp.clone());
        let device = f.device.clone();
        let new = t.new_call;
        let transferee = t.transferee;
        let mut cancels = Vec::new();
        for (n, f) in t.forks.iter_mut().enumerate() {
            if n != i && f.failed.is_none() {
                cancels.extend(cancel_of(f));
                f.failed = Some(487);
            }
        }
        let _ = calls.set_device(new, Side::Callee, &device);
        if sdp_of(&resp).is_none() {
            // No offer to give the transferee: the target is hung up.
            self.transfer_failed(inner, call, 488, "Not Acceptable Here", now, out);
            return;
        }
        // The target's offer goes to the transferee in a re-INVITE.
        let Some(d) = inner
            .calls
            .get_mut(&call)
            .and_then(|c| c.dialog_mut(transferee))
        else {
            return;
        };
        let branch = new_branch();
        let via = self.via(d.route, &branch);
        let mut m = d.request(Method::Invite, &via, None);
        m.headers.push("Allow", ALLOW);
        let m = with_body_of(m, &resp);
        d.note_sent(&m);
        d.invite_pending = true;
        let route = d.route;
        self.start_client(
            inner,
            format!("{branch}|INVITE"),
            m,
            route,
            call,
            Role::Reoffer,
            now,
            out,
        );
        for (key, m, route) in cancels {
            self.start_client(inner, key, m, route, call, Role::Quiet, now, out);
        }
    }

    /// The transferee's response to the re-INVITE carrying the target's offer.
    #[allow(clippy::too_many_arguments)]
    pub(super) fn reoffer_response(
        &self,
        inner: &mut Inner,
        call: CallId,
        resp: Message,
        sent: Option<&Message>,
        route: Route,
        now: Instant,
        out: &mut Outbox,
    ) {
        let code = resp.code().unwrap_or(0);
        if code < 200 {
            return;
        }
        if (200..300).contains(&code) {
            if let Some(ack) =
                sent.and_then(|s| ack_for_2xx(s, &resp, &self.via(route, &new_branch())))
            {
                out.push((route, ack.to_bytes()));
            }
        }
        let Some(c) = inner.calls.get_mut(&call) else {
            return;
        };
        let Some(t) = c.transfer.as_mut() else {
            return;
        };
        if let Some(d) = c.caller.as_mut().filter(|_| t.transferee == Party::Caller) {
            d.invite_pending = false;
        }
        if let Some(d) = match t.transferee {
            Party::Fork(n) => c.forks.get_mut(n).and_then(|f| f.dialog.as_mut()),
            _ => None,
        } {
            d.invite_pending = false;
        }
        if code >= 300 {
            let reason = resp.reason().unwrap_or("").to_string();
            self.transfer_failed(inner, call, code, &reason, now, out);
            return;
        }
        // The transferee's answer goes to the target in the ACK of its 2xx.
        let Some(a) = t.answered else {
            return;
        };
        let (Some(f), Some(t2xx)) = (t.forks.get_mut(a), t.target_2xx.as_ref()) else {
            return;
        };
        let via = self.via(f.route, &new_branch());
        if let Some(ack) = ack_for_2xx(&f.invite, t2xx, &via) {
            let ack = with_body_of(ack, &resp);
            out.push((f.route, ack.to_bytes()));
            if let Some(d) = f.dialog.as_mut() {
                d.note_sent(&ack);
            }
            t.target_ack = Some(ack);
        }
        self.complete_transfer(inner, call, now, out);
    }

    /// The transferee and the target are connected: they become a new call; the transferor
    /// is told (NOTIFY 200) or hung up; the old call ends with cause `transferred`.
    fn complete_transfer(&self, inner: &mut Inner, call: CallId, now: Instant, out: &mut Outbox) {
        let (transferor, by_refer, left) =
            match inner.calls.get(&call).and_then(|c| c.transfer.as_ref()) {
                Some(t) => (t.transferor, t.by_refer, t.transferor_left),
                None => return,
            };
        if left {
            // It has hung up already: nothing to tell it.
        } else if by_refer {
            self.notify(inner, call, transferor, "SIP/2.0 200 OK", true, now, out);
        } else {
            self.bye(inner, call, transferor, now, out);
        }
        let Some(mut c) = inner.calls.remove(&call) else {
            return;
        };
        let Some(t) = c.transfer.take() else {
            return;
        };
        let transferor_call_id = c.dialog_mut(transferor).map(|d| d.call_id.clone());
        let Some(e) = (match t.transferee {
            Party::Caller => c.caller.take(),
            Party::Fork(n) => c.forks.get_mut(n).and_then(|f| f.dialog.take()),
            _ => None,
        }) else {
            return;
        };
        let Some(a) = t.answered else {
            return;
        };
        inner.dialogs.retain(|_, (id, _)| *id != call);
        inner
            .dialogs
            .insert(e.call_id.clone(), (t.new_call, Party::Caller));
        for (n, f) in t.forks.iter().enumerate() {
            inner
                .dialogs
                .insert(f.call_id.clone(), (t.new_call, Party::Fork(n)));
        }
        if let Some(id) = transferor_call_id.filter(|_| by_refer) {
            // The transferor hangs up itself after the final NOTIFY.
            inner.released.insert(id, now + RELEASED_FOR);
        }
        let invite = t.forks[a].invite.clone();
        inner.calls.insert(
            t.new_call,
            Call {
                id: t.new_call,
                invite,
                server_key: String::new(),
                tag: String::new(),
                caller: Some(e),
                forks: t.forks,
                answered: Some(a),
                finished: true,
                relayed_provisional: 0,
                session: None,
                phone: None,
                transfer: None,
                join: None,
            },
        );
        let calls = self.callctl.calls();
        let _ = calls.transition(t.new_call, Side::Callee, LegState::Connected, None);
        for side in [side_of(transferor), side_of(t.transferee)] {
            let _ = calls.transition(call, side, LegState::Disconnected, Some(Cause::Transferred));
        }
        self.trace(TraceEvent::SipCallTransfer {
            call,
            step: format!("transferred: the far end is now in call {}", t.new_call),
        });
        self.trace(TraceEvent::SipCallEnded {
            call,
            cause: "transferred".into(),
            detail: format!("continues as call {}", t.new_call),
        });
    }

    /// The transfer failed: the target is released, the new call ends with the cause, the
    /// transferor is told; the original call goes on.
    pub(super) fn transfer_failed(
        &self,
        inner: &mut Inner,
        call: CallId,
        code: u16,
        reason: &str,
        now: Instant,
        out: &mut Outbox,
    ) {
        let Some(c) = inner.calls.get_mut(&call) else {
            return;
        };
        let Some(mut t) = c.transfer.take() else {
            return;
        };
        self.release_target(inner, call, &mut t, now, out);
        let _ = self.callctl.calls().disconnect(t.new_call, cause_of(code));
        self.trace(TraceEvent::SipCallTransfer {
            call,
            step: format!("transfer failed: {code} {reason}"),
        });
        if t.transferor_left {
            // Nobody is left to take the transferee back: its call ends.
            self.bye(inner, call, t.transferee, now, out);
            self.end(
                inner,
                call,
                side_of(t.transferor),
                Cause::Normal,
                "the transfer failed after the transferor hung up",
                now,
                out,
            );
        } else if t.by_refer {
            self.notify(
                inner,
                call,
                t.transferor,
                &format!("SIP/2.0 {code} {reason}"),
                true,
                now,
                out,
            );
        }
    }

    /// A BYE from the transferor of a transfer by REFER still under way: answered, and the
    /// transfer goes on without it. `false` when `party` is not such a transferor.
    pub(super) fn transferor_leaves(&self, inner: &mut Inner, call: CallId, party: Party) -> bool {
        let Some(t) = inner.calls.get_mut(&call).and_then(|c| c.transfer.as_mut()) else {
            return false;
        };
        if !t.by_refer || t.transferor != party {
            return false;
        }
        t.transferor_left = true;
        self.trace(TraceEvent::SipCallTransfer {
            call,
            step: "the transferor hung up: the transfer goes on without it".into(),
        });
        true
    }
}

impl B2bua {
    /// The target of a transfer that will not complete is released: CANCEL to its contacts
    /// still ringing, ACK and BYE to one that answered.
    fn release_target(
        &self,
        inner: &mut Inner,
        call: CallId,
        t: &mut Transfer,
        now: Instant,
        out: &mut Outbox,
    ) {
        let mut cancels = Vec::new();
        let mut byes = Vec::new();
        for f in t.forks.iter_mut() {
            if f.failed.is_none() && f.dialog.is_none() {
                cancels.extend(cancel_of(f));
                f.failed = Some(487);
            }
            if let (Some(d), Some(resp)) = (f.dialog.as_mut(), t.target_2xx.as_ref()) {
                let via = self.via(d.route, &new_branch());
                if let Some(ack) = ack_for_2xx(&f.invite, resp, &via) {
                    out.push((d.route, ack.to_bytes()));
                }
                let branch = new_branch();
                let bye = d.request(Method::Bye, &self.via(d.route, &branch), None);
                byes.push((format!("{branch}|BYE"), bye, d.route));
            }
        }
        for (key, m, route) in cancels.into_iter().chain(byes) {
            self.start_client(inner, key, m, route, call, Role::Quiet, now, out);
        }
    }

    /// The call ends while its blind transfer is still under way (the transferee hung up,
    /// the call was dropped, …): the target is released (CANCEL while it rings, BYE once it
    /// answered) and the new call ends with cause `cancelled`. The transferor is not told:
    /// its dialog ends with the call.
    pub(super) fn abandon_transfer(
        &self,
        inner: &mut Inner,
        call: CallId,
        now: Instant,
        out: &mut Outbox,
    ) {
        let Some(mut t) = inner.calls.get_mut(&call).and_then(|c| c.transfer.take()) else {
            return;
        };
        self.release_target(inner, call, &mut t, now, out);
        let _ = self
            .callctl
            .calls()
            .disconnect(t.new_call, Cause::Cancelled);
        self.trace(TraceEvent::SipCallTransfer {
            call,
            step: format!(
                "transfer abandoned: the call ended, the target is released (call {} cancelled)",
                t.new_call
            ),
        });
    }
}

/// An attended transfer in progress: the far ends of two calls of the transferor are joined.
/// It is held by the first call (`call1`, where the REFER came, or call control's held call).
pub(super) struct Join {
    call2: CallId,
    t1: Party,
    e1: Party,
    t2: Party,
    e2: Party,
    /// The offerless re-INVITE sent to the second far end, and its 2xx (the offer).
    e2_reinvite: Option<Message>,
    e2_2xx: Option<Message>,
    e2_ack: Option<Message>,
    by_refer: bool,
}

impl B2bua {
    /// Starts joining the far end of `t1` in `call1` with the far end of `t2` in `call2`.
    #[allow(clippy::too_many_arguments)]
    pub(super) fn start_join(
        &self,
        inner: &mut Inner,
        call1: CallId,
        t1: Party,
        call2: CallId,
        t2: Party,
        by_refer: bool,
        now: Instant,
        out: &mut Outbox,
    ) -> Result<(), (u16, String)> {
        let gone = || (481, "Call Does Not Exist".to_string());
        if call1 == call2 {
            return Err((400, "Bad Request: the same call".into()));
        }
        let c1 = inner.calls.get(&call1).ok_or_else(gone)?;
        if c1.transfer.is_some() || c1.join.is_some() {
            return Err((491, "Request Pending".into()));
        }
        let e1 = c1.peer(t1).ok_or_else(gone)?;
        let c2 = inner.calls.get_mut(&call2).ok_or_else(gone)?;
        if c2.transfer.is_some() || c2.join.is_some() {
            return Err((491, "Request Pending".into()));
        }
        let e2 = c2.peer(t2).ok_or_else(gone)?;
        // The second far end is asked for an offer (an offerless re-INVITE).
        let d = c2.dialog_mut(e2).ok_or_else(gone)?;
        if d.invite_pending {
            return Err((491, "Request Pending".into()));
        }
        let branch = new_branch();
        let via = self.via(d.route, &branch);
        let mut m = d.request(Method::Invite, &via, None);
        m.headers.push("Allow", ALLOW);
        d.invite_pending = true;
        let route = d.route;
        inner.joining.insert(call2, call1);
        if let Some(c1) = inner.calls.get_mut(&call1) {
            c1.join = Some(Box::new(Join {
                call2,
                t1,
                e1,
                t2,
                e2,
                e2_reinvite: Some(m.clone()),
                e2_2xx: None,
                e2_ack: None,
                by_refer,
            }));
        }
        self.trace(TraceEvent::SipCallTransfer {
            call: call1,
            step: format!("attended transfer: joining with the far end of call {call2}"),
        });
        self.start_client(
            inner,
            format!("{branch}|INVITE"),
            m,
            route,
            call1,
            Role::JoinOffer,
            now,
            out,
        );
        Ok(())
    }

    /// The second far end answered the offerless re-INVITE: its offer goes to the first.
    #[allow(clippy::too_many_arguments)]
    pub(super) fn join_offer_response(
        &self,
        inner: &mut Inner,
        call1: CallId,
        resp: Message,
        sent: Option<&Message>,
        route: Route,
        now: Instant,
        out: &mut Outbox,
    ) {
        let code = resp.code().unwrap_or(0);
        if code < 200 {
            return;
        }
        let Some(j) = inner.calls.get_mut(&call1).and_then(|c| c.join.as_mut()) else {
            // The join was given up before this answer.
            if let Some(reinvite) = sent.filter(|_| (200..300).contains(&code)) {
                self.ack_with_previous_session(inner, reinvite, &resp, route, out);
            }
            return;
        };
        if let Some(ack) = &j.e2_ack {
            // A retransmitted 2xx: the same ACK again.
            let (call2, e2) = (j.call2, j.e2);
            let ack = ack.clone();
            if let Some(d) = inner.calls.get_mut(&call2).and_then(|c| c.dialog_mut(e2)) {
                out.push((d.route, ack.to_bytes()));
            }
            return;
        }
        if j.e2_2xx.is_some() {
            return;
        }
        if code >= 300 || sdp_of(&resp).is_none() {
            let reason = resp.reason().unwrap_or("").to_string();
            self.join_failed(inner, call1, code.max(300), &reason, now, out);
            return;
        }
        j.e2_2xx = Some(resp.clone());
        let e1 = j.e1;
        let Some(d) = inner.calls.get_mut(&call1).and_then(|c| c.dialog_mut(e1)) else {
            return;
        };
        let branch = new_branch();
        let via = self.via(d.route, &branch);
        let mut m = d.request(Method::Invite, &via, None);
        m.headers.push("Allow", ALLOW);
        let m = with_body_of(m, &resp);
        d.note_sent(&m);
        d.invite_pending = true;
        let route = d.route;
        self.start_client(
            inner,
            format!("{branch}|INVITE"),
            m,
            route,
            call1,
            Role::JoinAnswer,
            now,
            out,
        );
    }

    /// The first far end answered the second's offer: the answer goes to the second in its
    /// ACK, and the two far ends become one call.
    #[allow(clippy::too_many_arguments)]
    pub(super) fn join_answer_response(
        &self,
        inner: &mut Inner,
        call1: CallId,
        resp: Message,
        sent: Option<&Message>,
        route: Route,
        now: Instant,
        out: &mut Outbox,
    ) {
        let code = resp.code().unwrap_or(0);
        if code < 200 {
            return;
        }
        if (200..300).contains(&code) {
            if let Some(ack) =
                sent.and_then(|s| ack_for_2xx(s, &resp, &self.via(route, &new_branch())))
            {
                out.push((route, ack.to_bytes()));
            }
        }
        let Some(c1) = inner.calls.get_mut(&call1) else {
            return;
        };
        let Some(j) = c1.join.as_mut() else {
            return;
        };
        if j.e2_ack.is_some() {
            return;
        }
        let e1 = j.e1;
        if code >= 300 {
            let reason = resp.reason().unwrap_or("").to_string();
            self.join_failed(inner, call1, code, &reason, now, out);
            return;
        }
        let (call2, e2) = (j.call2, j.e2);
        let (Some(inv), Some(t2xx)) = (j.e2_reinvite.clone(), j.e2_2xx.clone()) else {
            return;
        };
        if let Some(d) = c1.dialog_mut(e1) {
            d.invite_pending = false;
        }
        let Some(d2) = inner.calls.get_mut(&call2).and_then(|c| c.dialog_mut(e2)) else {
            return;
        };
        d2.invite_pending = false;
        let via = self.via(d2.route, &new_branch());
        if let Some(ack) = ack_for_2xx(&inv, &t2xx, &via) {
            let ack = with_body_of(ack, &resp);
            out.push((d2.route, ack.to_bytes()));
            d2.note_sent(&ack);
            if let Some(j) = inner.calls.get_mut(&call1).and_then(|c| c.join.as_mut()) {
                j.e2_ack = Some(ack);
            }
        }
        self.complete_join(inner, call1, now, out);
    }

    fn complete_join(&self, inner: &mut Inner, call1: CallId, now: Instant, out: &mut Outbox) {
        let Some(j) = inner.calls.get_mut(&call1).and_then(|c| c.join.take()) else {
            return;
        };
        let call2 = j.call2;
        inner.joining.remove(&call2);
        if j.by_refer {
            self.notify(inner, call1, j.t1, "SIP/2.0 200 OK", true, now, out);
        } else {
            self.bye(inner, call1, j.t1, now, out);
            self.bye(inner, call2, j.t2, now, out);
        }
        let (Some(mut c1), Some(mut c2)) = (inner.calls.remove(&call1), inner.calls.remove(&call2))
        else {
            return;
        };
        let t_ids: Vec<String> = [c1.dialog_mut(j.t1), c2.dialog_mut(j.t2)]
            .into_iter()
            .flatten()
            .map(|d| d.call_id.clone())
            .collect();
        let take = |c: &mut Call, p: Party| match p {
            Party::Caller => c.caller.take(),
            Party::Fork(n) => c.forks.get_mut(n).and_then(|f| f.dialog.take()),
            _ => None,
        };
        let (Some(d1), Some(d2)) = (take(&mut c1, j.e1), take(&mut c2, j.e2)) else {
            return;
        };
        let calls = self.callctl.calls();
        let (Some(m1), Some(m2)) = (calls.get(call1), calls.get(call2)) else {
            return;
        };
        let l1 = m1.leg(side_of(j.e1)).clone();
        let l2 = m2.leg(side_of(j.e2)).clone();
        let new = calls
            .new_call(&l1.number, l1.device.as_deref(), &l2.number)
            .id;
        for side in [Side::Caller, Side::Callee] {
            let _ = calls.transition(new, side, LegState::Offering, None);
        }
        if let Some(dev) = &l2.device {
            let _ = calls.set_device(new, Side::Callee, dev);
        }
        for side in [Side::Callee, Side::Caller] {
            let _ = calls.transition(new, side, LegState::Connected, None);
        }
        for (call, t, e) in [(call1, j.t1, j.e1), (call2, j.t2, j.e2)] {
            for side in [side_of(t), side_of(e)] {
                let _ =
                    calls.transition(call, side, LegState::Disconnected, Some(Cause::Transferred));
            }
            self.trace(TraceEvent::SipCallEnded {
                call,
                cause: "transferred".into(),
                detail: format!("its far end continues in call {new}"),
            });
        }
        inner
            .dialogs
            .retain(|_, (id, _)| *id != call1 && *id != call2);
        inner
            .dialogs
            .insert(d1.call_id.clone(), (new, Party::Caller));
        inner
            .dialogs
            .insert(d2.call_id.clone(), (new, Party::Fork(0)));
        if j.by_refer {
            for id in t_ids {
                inner.released.insert(id, now + RELEASED_FOR);
            }
        }
        let placeholder = Message::response(200, "OK");
        let fork = Fork {
            device: l2.device.clone().unwrap_or_default(),
            route: d2.route,
            invite: placeholder.clone(),
            call_id: d2.call_id.clone(),
            dialog: Some(d2),
            ack: Some(placeholder.clone()),
            failed: None,
        };
        inner.calls.insert(
            new,
            Call {
                id: new,
                invite: placeholder,
                server_key: String::new(),
                tag: String::new(),
                caller: Some(d1),
                forks: vec![fork],
                answered: Some(0),
                finished: true,
                relayed_provisional: 0,
                session: None,
                phone: None,
                transfer: None,
                join: None,
            },
        );
        self.trace(TraceEvent::SipCallTransfer {
            call: call1,
            step: format!(
                "attended transfer complete: calls {call1} and {call2} joined as call {new}"
            ),
        });
    }

    /// The join failed: the two calls go on as they were; a REFER's transferor is told.
    pub(super) fn join_failed(
        &self,
        inner: &mut Inner,
        call1: CallId,
        code: u16,
        reason: &str,
        now: Instant,
        out: &mut Outbox,
    ) {
        let Some(j) = inner.calls.get_mut(&call1).and_then(|c| c.join.take()) else {
            return;
        };
        self.unwind_join(inner, call1, &j, out);
        self.trace(TraceEvent::SipCallTransfer {
            call: call1,
            step: format!("attended transfer failed: {code} {reason}"),
        });
        if j.by_refer {
            self.notify(
                inner,
                call1,
                j.t1,
                &format!("SIP/2.0 {code} {reason}"),
                true,
                now,
                out,
            );
        }
    }

    /// `call` ends while it is one of the two calls of a join: the join is given up and the
    /// other call goes on as it was (a REFER's transferor, should its call remain, is told).
    pub(super) fn abandon_join(
        &self,
        inner: &mut Inner,
        call: CallId,
        now: Instant,
        out: &mut Outbox,
    ) {
        let call1 = match inner.calls.get(&call).and_then(|c| c.join.as_ref()) {
            Some(_) => call,
            None => match inner.joining.get(&call) {
                Some(&call1) => call1,
                None => return,
            },
        };
        let Some(j) = inner.calls.get_mut(&call1).and_then(|c| c.join.take()) else {
            inner.joining.remove(&call);
            return;
        };
        self.unwind_join(inner, call1, &j, out);
        self.trace(TraceEvent::SipCallTransfer {
            call: call1,
            step: format!("attended transfer abandoned: call {call} ended"),
        });
        if j.by_refer && call1 != call {
            self.notify(
                inner,
                call1,
                j.t1,
                "SIP/2.0 487 Request Terminated",
                true,
                now,
                out,
            );
        }
    }

    /// Leaves the two calls of a join that will not complete as they were: no re-INVITE counts
    /// as pending any more, and the second far end's 2xx (its offer), if it came, is
    /// acknowledged with the session description it had before (or it would retransmit it
    /// and hang up).
    fn unwind_join(&self, inner: &mut Inner, call1: CallId, j: &Join, out: &mut Outbox) {
        inner.joining.remove(&j.call2);
        for (call, p) in [(call1, j.e1), (j.call2, j.e2)] {
            if let Some(d) = inner.calls.get_mut(&call).and_then(|c| c.dialog_mut(p)) {
                d.invite_pending = false;
            }
        }
        let (Some(inv), Some(offer), None) = (&j.e2_reinvite, &j.e2_2xx, &j.e2_ack) else {
            return;
        };
        let route = inner
            .calls
            .get_mut(&j.call2)
            .and_then(|c| c.dialog_mut(j.e2))
            .map(|d| d.route);
        if let Some(route) = route {
            self.ack_with_previous_session(inner, inv, offer, route, out);
        }
    }

    /// Acknowledges the 2xx (an offer) to an offerless re-INVITE of a join given up, with the
    /// session description the far end had before (none when its call has ended too).
    fn ack_with_previous_session(
        &self,
        inner: &mut Inner,
        reinvite: &Message,
        offer: &Message,
        route: Route,
        out: &mut Outbox,
    ) {
        let Some(mut ack) = ack_for_2xx(reinvite, offer, &self.via(route, &new_branch())) else {
            return;
        };
        let previous = reinvite
            .headers
            .call_id()
            .ok()
            .and_then(|id| inner.dialogs.get(id).copied())
            .and_then(|(call, party)| inner.calls.get_mut(&call)?.dialog_mut(party))
            .and_then(|d| d.local_sdp.clone());
        if let Some((content_type, body)) = previous {
            ack = ack.with_body(&content_type, body);
        }
        out.push((route, ack.to_bytes()));
    }
}
