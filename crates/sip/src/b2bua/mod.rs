//! Calls between registered lines, as a back-to-back user agent (RFC 3261 §6 "B2BUA"): a
//! caller's INVITE ends here in a server transaction (the caller's dialog), and a new INVITE
//! (new Call-ID, the node's own Via, From tag, CSeq and Contact, the body copied byte for byte
//! with its Content-Type) goes to every registered contact of every device on the dialed line
//! (parallel ringing), each in a client transaction (a callee dialog per fork). Provisional
//! responses (with their body: early media) are relayed back, the first 2xx wins (the other
//! forks are cancelled), each side's 2xx is acknowledged on its own side, BYE from either side
//! is answered and relayed to the other, the caller's CANCEL becomes CANCELs downstream and
//! `487` upstream; when every fork fails the caller gets `486` if they were all busy, else the
//! first fork's final response.
//!
//! In a connected call, re-INVITE, UPDATE and INFO received on one leg's dialog are sent on
//! the other leg's dialog (the node's own tags, Call-ID, CSeq and Contact there; the body and
//! the session-timer and extension headers copied) and the final response comes back the same
//! way; each side's 2xx to a re-INVITE is acknowledged on its own side (an offerless
//! re-INVITE's ACK carries the answer across). A re-INVITE while another is pending on the
//! call gets `491`. An offer that makes the media `sendonly`/`inactive` (or `c=` 0.0.0.0)
//! moves the offering side's leg to `Held`, `sendrecv` back to `Connected`. A session interval
//! negotiated in a 2xx (`Session-Expires`, RFC 4028) must be refreshed within it, or the call
//! is ended (BYE both ways, cause `failed`).
//!
//! Before the answer, UPDATE (RFC 3311) and INFO (RFC 6086) are relayed the same way between
//! the caller's early dialog and the early dialog of the one fork still ringing (created by
//! its provisional response with a To tag; it becomes the confirmed dialog on the 2xx, its
//! CSeqs kept). The node gives the caller one early dialog whatever the number of forks, so
//! while several forks ring such a request cannot be matched to one of them: it gets `491`
//! (with `Retry-After`), to be tried again once a phone answered. Any other request in a
//! dialog the node does not have, or in a call not connected, gets `481`.
//!
//! Who may call: only a device that is registered right now, the INVITE arriving from where
//! one of its live bindings registered (the UDP source address, or the TCP/TLS connection);
//! anything else is `403`. Where a call goes: the Request-URI's user is a directory number;
//! no such line is `404`, a line with no registered device `480`. Requests toward a device go
//! only to its registered flow (the address or connection its REGISTER came from).
//!
//! The RFC 3261 §17 transactions of `switchboard-sip-proto` carry the retransmissions (over
//! UDP) and timeouts; [`B2bua::tick`] drives them from the service's timer task. Every state
//! change of a call is published into the call model of `switchboard-callctl`. `dialog.rs`
//! holds the sans-IO pieces (a dialog's requests, SDP direction, session intervals);
//! `control.rs` is the [`switchboard_callctl::PhoneControl`] of the node (CTI's call control
//! driving the real phones: third-party call control, hold, DTMF, …); `transfer.rs` the
//! transfers (a phone's REFER, or call control's blind transfer).

mod control;
mod dialog;
mod transfer;

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use switchboard_callctl::{CallControl, CallId, Cause, LegState, Side};
use switchboard_sip_proto::transaction::{
    new_branch, ClientInvite, ClientNonInvite, Event, Reliability, ServerInvite, ServerNonInvite,
    Timers,
};
use switchboard_sip_proto::{ContactList, Message, Method, Uri};
use switchboard_store::model::LineAppearance;
use switchboard_trace::{Service, TraceEvent, Tracer};
use tokio::sync::oneshot;

use crate::location::{Binding, Transport};
use crate::registrar::{Inbound, Registrar, SERVER};
use crate::transport::{udp_destination, Flows};
use dialog::{
    ack_for_2xx, copy_headers, sdp_holds, sdp_of, session_interval, Dialog, PASS_REQUEST,
    PASS_RESPONSE,
};

/// Methods the node answers (the `Allow` of its responses and requests).
pub const ALLOW: &str = "INVITE, ACK, CANCEL, BYE, REGISTER, OPTIONS, UPDATE, INFO, REFER, NOTIFY";

/// Where a message toward a party goes: a UDP address a request came from, or an open
/// TCP/TLS connection.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Route {
    Udp(SocketAddr),
    Stream(u64, Transport),
}

impl Route {
    fn reliability(self) -> Reliability {
        match self {
            Route::Udp(_) => Reliability::Unreliable,
            Route::Stream(..) => Reliability::Reliable,
        }
    }

    fn of_inbound(req: &Message, inbound: &Inbound) -> Route {
        match (inbound.transport, inbound.flow) {
            (Transport::Tcp | Transport::Tls, Some(flow)) => Route::Stream(flow, inbound.transport),
            _ => Route::Udp(udp_destination(req, inbound.source)),
        }
    }

    fn of_binding(b: &Binding) -> Option<Route> {
        match (b.transport, b.flow) {
            (Transport::Udp, _) => Some(Route::Udp(b.source)),
            (t, Some(flow)) => Some(Route::Stream(flow, t)),
            (_, None) => None,
        }
    }
}

/// Messages to send once the lock is released.
type Outbox = Vec<(Route, Vec<u8>)>;

/// One INVITE the node sent to one registered contact (a fork toward the dialed line, or the
/// controlled phone in third-party call control), and that dialog once answered.
struct Fork {
    device: String,
    route: Route,
    invite: Message,
    call_id: String,
    /// The dialog: early once a provisional response carried a To tag, confirmed once
    /// answered.
    dialog: Option<Dialog>,
    ack: Option<Message>,
    /// The final non-2xx status, or 408 on timeout.
    failed: Option<u16>,
}

/// The caller side of a call placed by the node for a phone (third-party call control, RFC
/// 3725 flow I): the phone is called first without an offer; its 2xx carries the offer that
/// goes to the dialed line; the far end's answer goes back in the ACK.
struct Phone {
    /// The dialed number's devices, read when the call was placed.
    dialed_devices: Arc<[String]>,
    dialed: String,
    /// The INVITEs to the phone's contacts.
    invites: Vec<Fork>,
    answered: Option<usize>,
    /// The phone's 2xx (its offer), once answered.
    offer: Option<Message>,
    /// The ACK of that 2xx (with the far end's answer), once sent.
    ack: Option<Message>,
}

/// A negotiated session interval (RFC 4028) and when the call ends without a refresh.
#[derive(Debug, Clone, Copy)]
struct Session {
    interval: Duration,
    deadline: Instant,
}

/// A call in progress.
struct Call {
    id: CallId,
    /// The caller's INVITE (for a call placed by the node: its INVITE to the phone).
    invite: Message,
    /// The caller's INVITE server transaction (empty for a call placed by the node).
    server_key: String,
    /// The node's To tag toward the caller.
    tag: String,
    /// The caller's dialog (placed by the node: once the phone answered).
    caller: Option<Dialog>,
    forks: Vec<Fork>,
    answered: Option<usize>,
    /// Whether the caller has its final response.
    finished: bool,
    /// The last provisional status relayed to the caller: a repeat without a body (the second
    /// phone of a line ringing too) is not sent again, as the caller sees one early dialog.
    relayed_provisional: u16,
    session: Option<Session>,
    phone: Option<Box<Phone>>,
    transfer: Option<Box<transfer::Transfer>>,
    join: Option<Box<transfer::Join>>,
}

impl Call {
    fn dialog_mut(&mut self, party: Party) -> Option<&mut Dialog> {
        match party {
            Party::Caller => self.caller.as_mut(),
            Party::Fork(i) => self.forks.get_mut(i)?.dialog.as_mut(),
            Party::Phone(i) => self.phone.as_mut()?.invites.get_mut(i)?.dialog.as_mut(),
        }
    }

    /// The other side of a connected call.
    fn peer(&self, party: Party) -> Option<Party> {
        match (party, self.answered) {
            (Party::Caller, Some(f)) => Some(Party::Fork(f)),
            (Party::Fork(f), Some(a)) if f == a && self.caller.is_some() => Some(Party::Caller),
            _ => None,
        }
    }

    fn by_phone(&self) -> bool {
        self.phone.is_some()
    }

    /// The other side of a call not answered yet, for an UPDATE (RFC 3311) or INFO (RFC
    /// 6086) in an early dialog. The node gives the caller one early dialog (one To tag)
    /// whatever the number of forks, so it stands for a fork only when one fork is left
    /// ringing and that fork created an early dialog (a provisional response with a To tag):
    /// the caller's peer is then that fork, and the fork's the caller.
    fn early_peer(&self, party: Party) -> EarlyPeer {
        if self.answered.is_some() || self.caller.is_none() {
            return EarlyPeer::None;
        }
        let ringing: Vec<usize> = self
            .forks
            .iter()
            .enumerate()
            .filter(|(_, f)| f.failed.is_none() && f.ack.is_none())
            .map(|(i, _)| i)
            .collect();
        let concerned = match party {
            Party::Caller => !ringing.is_empty(),
            Party::Fork(i) => ringing.contains(&i),
            Party::Phone(_) => false,
        };
        match ringing.as_slice() {
            _ if !concerned => EarlyPeer::None,
            [one] if self.forks[*one].dialog.is_none() => EarlyPeer::None,
            [one] => EarlyPeer::Peer(match party {
                Party::Caller => Party::Fork(*one),
                _ => Party::Caller,
            }),
            _ => EarlyPeer::Several,
        }
    }
}

/// What [`Call::early_peer`] found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum EarlyPeer {
    Peer(Party),
    /// Several forks still ring: which one the request is for is unknown.
    Several,
    None,
}

/// The call-model side of a party.
fn side_of(party: Party) -> Side {
    match party {
        Party::Caller | Party::Phone(_) => Side::Caller,
        Party::Fork(_) => Side::Callee,
    }
}

struct ServerTx {
    tx: ServerInvite,
    route: Route,
}

struct ServerNtx {
    tx: ServerNonInvite,
    route: Route,
}

enum ClientKind {
    Invite(Box<ClientInvite>),
    Other(Box<ClientNonInvite>),
}

/// An in-dialog request relayed from one leg to the other, waiting for its final response.
struct Relay {
    from: Party,
    /// Where it was sent.
    to: Party,
    request: Message,
    server_key: String,
    /// The ACK sent for the 2xx (a re-INVITE), resent on its retransmissions.
    ack: Option<Message>,
    done: bool,
}

/// What a client transaction's responses are for.
enum Role {
    Fork(usize),
    Phone(usize),
    Relay(Box<Relay>),
    /// A request of the node's own call control: its final status is reported (408 on
    /// timeout).
    Control(Option<oneshot::Sender<u16>>),
    /// The transfer target's contact `n` (an INVITE without an offer).
    Target(usize),
    /// The re-INVITE of a transferee with the target's offer.
    Reoffer,
    /// Attended transfer: the offerless re-INVITE of the second far end.
    JoinOffer,
    /// Attended transfer: the re-INVITE of the first far end with the second's offer.
    JoinAnswer,
    /// Nothing to do with the responses (BYE, CANCEL; a 2xx to an INVITE is acknowledged).
    Quiet,
}

struct ClientTx {
    kind: ClientKind,
    route: Route,
    call: CallId,
    role: Role,
}

impl ClientTx {
    /// Its timer is due.
    fn due(&self, now: Instant) -> bool {
        let at = match &self.kind {
            ClientKind::Invite(tx) => tx.poll_timeout(),
            ClientKind::Other(tx) => tx.poll_timeout(),
        };
        at.is_some_and(|t| t <= now)
    }

    fn is_terminated(&self) -> bool {
        match &self.kind {
            ClientKind::Invite(tx) => tx.is_terminated(),
            ClientKind::Other(tx) => tx.is_terminated(),
        }
    }
}

/// Which side of a call a dialog (by Call-ID) is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Party {
    Caller,
    Fork(usize),
    /// One of the controlled phone's contacts before it answered.
    Phone(usize),
}

#[derive(Default)]
struct Inner {
    calls: HashMap<CallId, Call>,
    dialogs: HashMap<String, (CallId, Party)>,
    /// Server INVITE transactions by the INVITE's branch and sent-by.
    servers: HashMap<String, ServerTx>,
    /// Server non-INVITE transactions (relayed in-dialog requests) by branch, sent-by, method.
    nservers: HashMap<String, ServerNtx>,
    /// Client transactions by our branch and the method.
    clients: HashMap<String, ClientTx>,
    /// Transferors' dialogs (by Call-ID) after a REFER: their BYE is answered `200` until
    /// the deadline.
    released: HashMap<String, Instant>,
    /// Attended transfers under way: the second call of each, to the first (which holds the
    /// [`transfer::Join`]), so that either call ending abandons the join.
    joining: HashMap<CallId, CallId>,
    /// Ticks since the last sweep of every transaction ([`B2bua::tick`]).
    ticks_since_sweep: u32,
}

/// Every this many ticks (of 50 ms), [`B2bua::tick`] drives every transaction, not only those
/// whose timer is due: a safety net for output left behind by a path that did not flush it.
const TICKS_PER_SWEEP: u32 = 20;

/// The node's back-to-back user agent.
pub struct B2bua {
    registrar: Arc<Registrar>,
    callctl: Arc<CallControl>,
    flows: Arc<Flows>,
    tracer: Tracer,
    timers: Timers,
    inner: Mutex<Inner>,
}

/// The INVITE transaction a request (INVITE, its ACK for a non-2xx, CANCEL) belongs to.
fn invite_key(req: &Message) -> Option<String> {
    let via = req.headers.top_via().ok()?;
    Some(format!("{}|{}", via.branch().unwrap_or(""), via.sent_by()))
}

fn uri_user(uri: &Uri) -> Option<String> {
    match uri {
        Uri::Sip(s) => s.user.clone(),
        Uri::Tel(t) => Some(t.number.clone()),
        Uri::Other(_) => None,
    }
}

/// The number a call from a device presents: the From user when it is one of the device's
/// lines (a phone with several lines chooses), else the device's first line (a softphone that
/// puts its device or account name in From, as baresip does), else the From user or, without
/// one, the device name.
fn calling_number(lines: &[LineAppearance], from_user: Option<String>, device: &str) -> String {
    if let Some(user) = &from_user {
        if lines.iter().any(|l| &l.dn == user) {
            return user.clone();
        }
    }
    lines
        .iter()
        .min_by_key(|l| l.index)
        .map(|l| l.dn.clone())
        .or(from_user)
        .unwrap_or_else(|| device.to_string())
}

fn random_token() -> String {
    new_branch()[7..].to_string()
}

/// The end cause of a final status.
pub fn cause_of(code: u16) -> Cause {
    match code {
        486 | 600 => Cause::Busy,
        404 | 484 | 604 => Cause::NotFound,
        408 => Cause::NoAnswer,
        480 => Cause::Unavailable,
        487 => Cause::Cancelled,
        403 | 603 => Cause::Rejected,
        _ => Cause::Failed,
    }
}

fn cause_name(cause: Cause) -> &'static str {
    match cause {
        Cause::Normal => "normal",
        Cause::Busy => "busy",
        Cause::NoAnswer => "no_answer",
        Cause::Unavailable => "unavailable",
        Cause::NotFound => "not_found",
        Cause::Cancelled => "cancelled",
        Cause::Rejected => "rejected",
        Cause::Failed => "failed",
        Cause::AnsweredElsewhere => "answered_elsewhere",
        Cause::Transferred => "transferred",
        Cause::Redirected => "redirected",
    }
}

fn response(req: &Message, code: u16, reason: &str) -> Message {
    Message::response_to(req, code, reason).with_header("Server", SERVER)
}

/// Copies the body and its Content-Type from `from`.
fn with_body_of(mut m: Message, from: &Message) -> Message {
    if !from.body.is_empty() {
        if let Some(ct) = from.headers.get("Content-Type") {
            m.headers.set("Content-Type", ct);
        }
        m.body = from.body.clone();
    }
    m
}

/// The dialog the node has with a party that answered its INVITE with `resp`.
fn dialog_of_answer(
    invite: &Message,
    resp: &Message,
    route: Route,
    call_id: &str,
) -> Option<Dialog> {
    let target = match resp.headers.contacts() {
        Ok(ContactList::List(list)) if !list.is_empty() => list[0].name_addr.uri.clone(),
        _ => invite.uri()?.clone(),
    };
    Some(Dialog {
        route,
        call_id: call_id.to_string(),
        local: invite.headers.get("From").unwrap_or("").to_string(),
        remote: resp.headers.get("To").unwrap_or("").to_string(),
        target,
        cseq: invite.headers.cseq().map(|c| c.seq).unwrap_or(1),
        contact: invite.headers.get("Contact").unwrap_or("").to_string(),
        remote_cseq: None,
        reinvite: None,
        deferred_ack: None,
        invite_pending: false,
        local_sdp: sdp_of(invite),
    })
}

impl B2bua {
    pub fn new(
        registrar: Arc<Registrar>,
        callctl: Arc<CallControl>,
        flows: Arc<Flows>,
        tracer: Tracer,
    ) -> B2bua {
        B2bua {
            registrar,
            callctl,
            flows,
            tracer,
            timers: Timers::default(),
            inner: Mutex::new(Inner::default()),
        }
    }

    fn send(&self, out: Outbox) {
        for (route, bytes) in out {
            match route {
                Route::Udp(dest) => {
                    self.flows.send_udp(dest, &bytes);
                }
                Route::Stream(flow, _) => {
                    self.flows.send(flow, bytes);
                }
            }
        }
    }

    fn trace(&self, event: TraceEvent) {
        self.tracer.emit_default(Service::Sip, &event);
    }

    /// The node's address and Via transport toward `route`.
    fn local(&self, route: Route) -> (SocketAddr, &'static str) {
        let unspecified = SocketAddr::from(([127, 0, 0, 1], 5060));
        match route {
            Route::Udp(dest) => (self.flows.udp_local(dest).unwrap_or(unspecified), "UDP"),
            Route::Stream(flow, t) => (
                self.flows.local_addr(flow).unwrap_or(unspecified),
                if t == Transport::Tls { "TLS" } else { "TCP" },
            ),
        }
    }

    fn contact_for(&self, route: Route, user: &str) -> String {
        let (local, tp) = self.local(route);
        format!("<sip:{user}@{local};transport={}>", tp.to_ascii_lowercase())
    }

    /// The node's Via toward `route`.
    fn via(&self, route: Route, branch: &str) -> String {
        let (local, tp) = self.local(route);
        format!("SIP/2.0/{tp} {local};branch={branch};rport")
    }

    /// A new request of the node toward `route`, with its own Via.
    fn request(&self, method: Method, uri: Uri, route: Route, branch: &str) -> Message {
        Message::request(method, uri)
            .with_header("Via", &self.via(route, branch))
            .with_header("Max-Forwards", "70")
    }

    /// The node's INVITEs to every target (device, binding, route) of `dialed`, carrying the
    /// body of `offer` (with `extra` headers): the forks and their client transactions.
    #[allow(clippy::too_many_arguments)]
    fn make_forks(
        &self,
        call: CallId,
        from: &str,
        caller_number: &str,
        dialed: &str,
        offer: &Message,
        extra: &[(&str, String)],
        targets: Vec<(String, Binding, Route)>,
        first: usize,
        now: Instant,
        out: &mut Outbox,
    ) -> (Vec<Fork>, Vec<(String, ClientTx)>) {
        let mut forks = Vec::new();
        let mut clients = Vec::new();
        for (device, binding, froute) in targets {
            let Ok(uri) = Uri::parse(&binding.uri) else {
                continue;
            };
            let branch = new_branch();
            let (local, tp) = self.local(froute);
            let fork_call_id = format!("{}@{}", random_token(), local.ip());
            let mut invite = self
                .request(Method::Invite, uri, froute, &branch)
                .with_header("From", from)
                .with_header("To", &format!("<sip:{dialed}@{local}>"))
                .with_header("Call-ID", &fork_call_id)
                .with_header("CSeq", "1 INVITE")
                .with_header(
                    "Contact",
                    &format!(
                        "<sip:{caller_number}@{local};transport={}>",
                        tp.to_ascii_lowercase()
                    ),
                )
                .with_header("Allow", ALLOW)
                .with_header("User-Agent", SERVER);
            for (name, value) in extra {
                invite.headers.push(name, value);
            }
            copy_headers(&mut invite, offer, PASS_REQUEST);
            let invite = with_body_of(invite, offer);
            self.trace(TraceEvent::SipCallOffered {
                call,
                device: device.clone(),
                contact: binding.uri.clone(),
                call_id: fork_call_id.clone(),
            });
            let mut tx = ClientInvite::new(invite.clone(), froute.reliability(), self.timers, now);
            while let Some(m) = tx.poll_transmit() {
                out.push((froute, m.to_bytes()));
            }
            clients.push((
                format!("{branch}|INVITE"),
                ClientTx {
                    kind: ClientKind::Invite(Box::new(tx)),
                    route: froute,
                    call,
                    role: Role::Fork(first + forks.len()),
                },
            ));
            forks.push(Fork {
                device,
                route: froute,
                invite,
                call_id: fork_call_id,
                dialog: None,
                ack: None,
                failed: None,
            });
        }
        (forks, clients)
    }

    /// Every registered flow of `devices`.
    fn targets_of(&self, devices: &[String]) -> Vec<(String, Binding, Route)> {
        devices
            .iter()
            .flat_map(|d| {
                self.registrar
                    .bindings(d)
                    .into_iter()
                    .map(move |b| (d.clone(), b))
            })
            .filter_map(|(d, b)| Route::of_binding(&b).map(|r| (d, b, r)))
            .collect()
    }

    /// The devices on line `dn`: `Err((status, reason, why))` when there is no such line.
    async fn line_devices(&self, dn: &str) -> Result<Arc<[String]>, (u16, &'static str, String)> {
        match self.registrar.dial_plan().line_devices(dn).await {
            Ok(Some(devices)) => Ok(devices),
            Ok(None) => Err((404, "Not Found", "no such line".into())),
            Err(e) => Err((500, "Server Internal Error", e.to_string())),
        }
    }

    /// An INVITE from the network (new, or a retransmission).
    pub async fn handle_invite(&self, req: Message, inbound: &Inbound) -> Option<Message> {
        let now = Instant::now();
        let key = invite_key(&req)?;
        {
            let mut out = Outbox::new();
            let mut inner = self.inner.lock().ok()?;
            if let Some(s) = inner.servers.get_mut(&key) {
                s.tx.handle_request(now, req);
                flush_server(s, &mut out);
                drop(inner);
                self.send(out);
                return None;
            }
        }
        let to_tagged = req.headers.to().ok().is_some_and(|t| t.tag().is_some());
        if to_tagged {
            return self.handle_in_dialog(req, inbound);
        }
        let dialed = req.uri().and_then(uri_user).unwrap_or_default();
        let refuse = |code: u16, reason: &str, why: &str| {
            self.trace(TraceEvent::SipCallRefused {
                dialed: dialed.clone(),
                code,
                reason: format!("{reason}: {why}"),
            });
            Some(response(&req, code, reason))
        };
        let Some((device, _)) = self.registrar.device_at(inbound) else {
            return refuse(
                403,
                "Forbidden",
                &format!(
                    "no device is registered from {} {}",
                    inbound.transport.as_str(),
                    inbound.source
                ),
            );
        };
        let (Ok(call_id), Ok(mut from), Ok(cseq)) = (
            req.headers.call_id(),
            req.headers.from(),
            req.headers.cseq(),
        ) else {
            return Some(response(&req, 400, "Bad Request"));
        };
        let call_id = call_id.to_string();
        let lines = self.registrar.dial_plan().device_lines(&device).await;
        let caller_number = calling_number(&lines, uri_user(&from.uri), &device);
        // The callees see the calling number in From, whatever the caller put there.
        if let Uri::Sip(uri) = &mut from.uri {
            uri.user = Some(caller_number.clone());
        }
        let outcome = self.line_devices(&dialed).await;
        let targets = match &outcome {
            Ok(devices) => self.targets_of(devices),
            Err(_) => Vec::new(),
        };
        let calls = self.callctl.calls();
        let call = calls.new_call(&caller_number, Some(&device), &dialed);
        let _ = calls.transition(call.id, Side::Caller, LegState::Offering, None);
        self.trace(TraceEvent::SipCallReceived {
            call: call.id,
            device: device.clone(),
            transport: inbound.transport.as_str().into(),
            source: inbound.source.to_string(),
            dialed: dialed.clone(),
            call_id: call_id.clone(),
        });
        let refusal = match outcome {
            Err(e) => Some(e),
            Ok(_) if targets.is_empty() => Some((
                480,
                "Temporarily Unavailable",
                "no device on the line is registered".into(),
            )),
            Ok(_) => None,
        };
        if let Some((code, reason, why)) = refusal {
            let cause = cause_of(code);
            let _ = calls.disconnect(call.id, cause);
            self.trace(TraceEvent::SipCallEnded {
                call: call.id,
                cause: cause_name(cause).into(),
                detail: format!("{code} {reason}"),
            });
            return refuse(code, reason, &why);
        }

        let route = Route::of_inbound(&req, inbound);
        let target = match req.headers.contacts() {
            Ok(ContactList::List(list)) if !list.is_empty() => list[0].name_addr.uri.clone(),
            _ => from.uri.clone(),
        };
        let caller_from = req.headers.get("From").unwrap_or("").to_string();
        let b_tag = random_token();
        from.params.set("tag", Some(&b_tag));
        let mut out = Outbox::new();
        // 100 Trying first, before anything the callees answer can be relayed.
        let mut server = ServerTx {
            tx: ServerInvite::new(req.clone(), route.reliability(), self.timers, now),
            route,
        };
        flush_server(&mut server, &mut out);
        let (forks, clients) = self.make_forks(
            call.id,
            &from.to_string(),
            &caller_number,
            &dialed,
            &req,
            &[],
            targets,
            0,
            now,
            &mut out,
        );
        let mut offered: Vec<String> = forks.iter().map(|f: &Fork| f.device.clone()).collect();
        offered.dedup();
        let _ = calls.offer(call.id, Side::Callee, &offered);
        let _ = calls.transition(call.id, Side::Callee, LegState::Offering, None);
        let contact = self.contact_for(route, &dialed);
        let tag = random_token();
        let mut local = req.headers.to().ok()?;
        local.params.set("tag", Some(&tag));
        let caller = Dialog {
            route,
            call_id: call_id.clone(),
            local: local.to_string(),
            remote: caller_from,
            target,
            cseq: 0,
            contact,
            remote_cseq: Some(cseq.seq),
            reinvite: None,
            deferred_ack: None,
            invite_pending: false,
            local_sdp: None,
        };
        {
            let mut inner = self.inner.lock().ok()?;
            inner.servers.insert(key.clone(), server);
            inner.dialogs.insert(call_id, (call.id, Party::Caller));
            for (i, f) in forks.iter().enumerate() {
                inner
                    .dialogs
                    .insert(f.call_id.clone(), (call.id, Party::Fork(i)));
            }
            inner.clients.extend(clients);
            inner.calls.insert(
                call.id,
                Call {
                    id: call.id,
                    invite: req,
                    server_key: key,
                    tag,
                    caller: Some(caller),
                    forks,
                    answered: None,
                    finished: false,
                    relayed_provisional: 0,
                    session: None,
                    phone: None,
                    transfer: None,
                    join: None,
                },
            );
        }
        self.send(out);
        None
    }

    /// A request inside a dialog (re-INVITE, UPDATE, INFO, …): relayed to the other leg of a
    /// connected call (UPDATE and INFO: or of a call whose one fork still ringing has an early
    /// dialog), answered later with the other side's final response.
    pub fn handle_in_dialog(&self, req: Message, inbound: &Inbound) -> Option<Message> {
        let now = Instant::now();
        let method = req.method()?.clone();
        let route = Route::of_inbound(&req, inbound);
        let Some(ikey) = invite_key(&req) else {
            return Some(response(&req, 400, "Bad Request"));
        };
        let key = if method == Method::Invite {
            ikey
        } else {
            format!("{ikey}|{}", method.as_str())
        };
        let mut out = Outbox::new();
        let answer = {
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
            self.relay_request(&mut inner, req, key, route, now, &mut out)
        };
        self.send(out);
        answer
    }

    fn relay_request(
        &self,
        inner: &mut Inner,
        req: Message,
        key: String,
        route: Route,
        now: Instant,
        out: &mut Outbox,
    ) -> Option<Message> {
        let method = req.method()?.clone();
        let (Ok(call_id), Ok(cseq)) = (req.headers.call_id(), req.headers.cseq()) else {
            return Some(response(&req, 400, "Bad Request"));
        };
        let no_dialog = || Some(response(&req, 481, "Call/Transaction Does Not Exist"));
        let Some((call, party)) = inner.dialogs.get(call_id).copied() else {
            return no_dialog();
        };
        let Some(c) = inner.calls.get_mut(&call) else {
            return no_dialog();
        };
        let early = matches!(method, Method::Update | Method::Info);
        let peer = match (c.peer(party), early.then(|| c.early_peer(party))) {
            (Some(peer), _) => peer,
            (None, Some(EarlyPeer::Peer(peer))) => peer,
            (None, Some(EarlyPeer::Several)) => {
                return Some(response(&req, 491, "Request Pending").with_header("Retry-After", "2"))
            }
            _ => return no_dialog(),
        };
        let pending = c.dialog_mut(party).is_some_and(|d| d.invite_pending)
            || c.dialog_mut(peer).is_some_and(|d| d.invite_pending);
        {
            let Some(d) = c.dialog_mut(party) else {
                return no_dialog();
            };
            if d.remote_cseq.is_some_and(|last| cseq.seq <= last) {
                return Some(
                    response(&req, 500, "Server Internal Error").with_header("Retry-After", "1"),
                );
            }
            if pending
                && (method == Method::Invite
                    || (method == Method::Update && sdp_of(&req).is_some()))
            {
                return Some(response(&req, 491, "Request Pending"));
            }
            d.remote_cseq = Some(cseq.seq);
            if method == Method::Invite {
                d.invite_pending = true;
                d.reinvite = Some(key.clone());
            }
        }
        let branch = new_branch();
        let Some(peer_route) = c.dialog_mut(peer).map(|d| d.route) else {
            return no_dialog();
        };
        let via = self.via(peer_route, &branch);
        let Some(pd) = c.dialog_mut(peer) else {
            return no_dialog();
        };
        let mut m = pd.request(method.clone(), &via, None);
        copy_headers(&mut m, &req, PASS_REQUEST);
        if method == Method::Invite {
            m.headers.push("Allow", ALLOW);
            pd.invite_pending = true;
        }
        let m = with_body_of(m, &req);
        pd.note_sent(&m);
        self.trace(TraceEvent::SipCallRelayed {
            call,
            method: method.as_str().to_string(),
            from: side_name(side_of(party)).into(),
        });
        if method == Method::Invite {
            let mut s = ServerTx {
                tx: ServerInvite::new(req.clone(), route.reliability(), self.timers, now),
                route,
            };
            flush_server(&mut s, out);
            inner.servers.insert(key.clone(), s);
        } else {
            let s = ServerNtx {
                tx: ServerNonInvite::new(req.clone(), route.reliability(), self.timers, now),
                route,
            };
            inner.nservers.insert(key.clone(), s);
        }
        let role = Role::Relay(Box::new(Relay {
            from: party,
            to: peer,
            request: req,
            server_key: key,
            ack: None,
            done: false,
        }));
        self.start_client(
            inner,
            format!("{branch}|{}", method.as_str()),
            m,
            peer_route,
            call,
            role,
            now,
            out,
        );
        None
    }

    /// The final response to a relayed request came back: it goes to the requester.
    #[allow(clippy::too_many_arguments)]
    fn relay_response(
        &self,
        inner: &mut Inner,
        call: CallId,
        rel: &mut Relay,
        resp: Message,
        sent: Option<&Message>,
        now: Instant,
        out: &mut Outbox,
    ) {
        let code = resp.code().unwrap_or(0);
        if code < 200 {
            return;
        }
        let method = rel.request.method().cloned().unwrap_or(Method::Invite);
        let Some(c) = inner.calls.get_mut(&call) else {
            return;
        };
        let peer = rel.to;
        if method == Method::Invite && (200..300).contains(&code) {
            if let Some(ack) = &rel.ack {
                if let Some(d) = c.dialog_mut(peer) {
                    out.push((d.route, ack.to_bytes()));
                }
                return;
            }
            if !rel.done {
                if let (Some(sent), Some(d)) = (sent, c.dialog_mut(peer)) {
                    let route = d.route;
                    if let Some(ack) = ack_for_2xx(sent, &resp, &self.via(route, &new_branch())) {
                        if sdp_of(sent).is_some() {
                            out.push((route, ack.to_bytes()));
                            rel.ack = Some(ack);
                        } else if let Some(me) = c.dialog_mut(rel.from) {
                            // Offerless: the answer comes in the requester's ACK.
                            me.deferred_ack = Some((route, ack));
                        }
                    }
                }
            }
        }
        if rel.done {
            return;
        }
        rel.done = true;
        let reason = resp.reason().unwrap_or("").to_string();
        let mut up = response(&rel.request, code, &reason);
        copy_headers(&mut up, &resp, PASS_RESPONSE);
        let ok = (200..300).contains(&code);
        if method == Method::Invite {
            for p in [rel.from, peer] {
                if let Some(d) = c.dialog_mut(p) {
                    d.invite_pending = false;
                }
            }
        }
        if let Some(me) = c.dialog_mut(rel.from) {
            if ok && matches!(method, Method::Invite | Method::Update) {
                up = up.with_header("Contact", &me.contact);
            }
            if !ok && method == Method::Invite {
                me.reinvite = None;
            }
        }
        if ok && method == Method::Invite {
            up = up.with_header("Allow", ALLOW);
        }
        let up = with_body_of(up, &resp);
        if let Some(me) = c.dialog_mut(rel.from) {
            me.note_sent(&up);
        }
        if ok && matches!(method, Method::Invite | Method::Update) && c.answered.is_some() {
            // A refresh of the session (RFC 4028), and maybe a hold or a resume.
            let interval = session_interval(&resp)
                .map(Duration::from_secs)
                .or(c.session.map(|s| s.interval));
            c.session = interval.map(|interval| Session {
                interval,
                deadline: now + interval,
            });
            if let Some(held) = sdp_of(&rel.request).and_then(|(_, b)| sdp_holds(&b)) {
                self.set_held(call, side_of(rel.from), held);
            }
        }
        if method == Method::Invite {
            if let Some(s) = inner.servers.get_mut(&rel.server_key) {
                s.tx.send_response(now, up);
                flush_server(s, out);
            }
        } else if let Some(s) = inner.nservers.get_mut(&rel.server_key) {
            s.tx.send_response(now, up);
            while let Some(m) = s.tx.poll_transmit() {
                out.push((s.route, m.to_bytes()));
            }
        }
    }

    /// Moves the leg on `side` to `Held` or back to `Connected`.
    fn set_held(&self, call: CallId, side: Side, held: bool) {
        let calls = self.callctl.calls();
        let state = calls.get(call).map(|c| c.leg(side).state);
        let to = match (state, held) {
            (Some(LegState::Connected), true) => LegState::Held,
            (Some(LegState::Held), false) => LegState::Connected,
            _ => return,
        };
        if calls.transition(call, side, to, None).is_ok() {
            self.trace(TraceEvent::SipCallHold {
                call,
                side: side_name(side).into(),
                held,
            });
        }
    }

    /// An ACK: for a non-2xx final response it belongs to the INVITE's transaction (same
    /// branch); for a 2xx to the dialog (by Call-ID): the pending re-INVITE's, else the
    /// caller's INVITE. Anything else is dropped (an ACK is never answered).
    pub fn handle_ack(&self, req: Message) {
        let now = Instant::now();
        let mut out = Outbox::new();
        {
            let Ok(mut inner) = self.inner.lock() else {
                return;
            };
            let mut key = invite_key(&req).filter(|k| inner.servers.contains_key(k));
            if key.is_none() {
                let call_id = req.headers.call_id().unwrap_or_default();
                if let Some((call, party)) = inner.dialogs.get(call_id).copied() {
                    if let Some(c) = inner.calls.get_mut(&call) {
                        let peer = c.peer(party);
                        let mut deferred = None;
                        let seq = req.headers.cseq().ok().map(|c| c.seq);
                        if let Some(d) = c.dialog_mut(party) {
                            // Only the ACK of the pending re-INVITE (not one for a 491).
                            if d.reinvite.is_some() && d.remote_cseq == seq {
                                key = d.reinvite.take();
                                deferred = d.deferred_ack.take();
                            }
                        }
                        if let Some((route, ack)) = deferred {
                            let ack = with_body_of(ack, &req);
                            if let Some(pd) = peer.and_then(|p| c.dialog_mut(p)) {
                                pd.note_sent(&ack);
                            }
                            out.push((route, ack.to_bytes()));
                        }
                        if key.is_none() && party == Party::Caller {
                            key = Some(c.server_key.clone());
                        }
                    }
                }
            }
            if let Some(s) = key.and_then(|k| inner.servers.get_mut(&k)) {
                s.tx.handle_request(now, req);
                while s.tx.poll_event().is_some() {}
            }
        }
        self.send(out);
    }

    /// A CANCEL, answered here (200, or 481 for no such INVITE) and sent before the
    /// INVITE's `487`, as RFC 3261 §9.2 orders them.
    pub fn handle_cancel(&self, req: &Message, inbound: &Inbound) {
        let now = Instant::now();
        let mut out = Outbox::new();
        let answer = {
            let Ok(mut inner) = self.inner.lock() else {
                return;
            };
            let key = invite_key(req).unwrap_or_default();
            let call = inner
                .calls
                .values()
                .find(|c| c.server_key == key)
                .map(|c| c.id);
            match call {
                None if inner.servers.contains_key(&key) => response(req, 200, "OK"),
                None => response(req, 481, "Call/Transaction Does Not Exist"),
                Some(call) => {
                    let tag = inner
                        .calls
                        .get(&call)
                        .map(|c| c.tag.clone())
                        .unwrap_or_default();
                    let unanswered = inner
                        .calls
                        .get(&call)
                        .is_some_and(|c| !c.finished && c.answered.is_none());
                    if unanswered {
                        self.final_upstream(
                            &mut inner,
                            call,
                            487,
                            "Request Terminated",
                            now,
                            &mut out,
                        );
                        self.cancel_forks(&mut inner, call, None, now, &mut out);
                        self.end(
                            &mut inner,
                            call,
                            Side::Caller,
                            Cause::Cancelled,
                            "CANCEL from the caller",
                            now,
                            &mut out,
                        );
                    }
                    response(req, 200, "OK").with_to_tag(&tag)
                }
            }
        };
        let mut all = vec![(Route::of_inbound(req, inbound), answer.to_bytes())];
        all.extend(out);
        self.send(all);
    }

    /// A BYE (answered here: 200 and relayed to the other side, or 481 for no such dialog).
    pub fn handle_bye(&self, req: &Message) -> Message {
        let now = Instant::now();
        let mut out = Outbox::new();
        let answer = {
            let Ok(mut inner) = self.inner.lock() else {
                return response(req, 500, "Server Internal Error");
            };
            let call_id = req.headers.call_id().unwrap_or_default();
            match inner.dialogs.get(call_id).copied() {
                None if inner.released.remove(call_id).is_some() => response(req, 200, "OK"),
                None => response(req, 481, "Call/Transaction Does Not Exist"),
                Some((call, party)) if self.transferor_leaves(&mut inner, call, party) => {
                    response(req, 200, "OK")
                }
                Some((call, party)) => {
                    let (answered, by_phone) = inner
                        .calls
                        .get(&call)
                        .map(|c| (c.answered, c.by_phone()))
                        .unwrap_or((None, false));
                    match (party, answered) {
                        (Party::Caller, Some(fork)) => {
                            self.bye(&mut inner, call, Party::Fork(fork), now, &mut out);
                            self.end(
                                &mut inner,
                                call,
                                Side::Caller,
                                Cause::Normal,
                                "BYE from the caller",
                                now,
                                &mut out,
                            );
                            response(req, 200, "OK")
                        }
                        (Party::Fork(f), Some(fork)) if f == fork => {
                            self.bye(&mut inner, call, Party::Caller, now, &mut out);
                            self.end(
                                &mut inner,
                                call,
                                Side::Callee,
                                Cause::Normal,
                                "BYE from the callee",
                                now,
                                &mut out,
                            );
                            response(req, 200, "OK")
                        }
                        (Party::Caller, None) => {
                            // A BYE before the answer ends the early dialog like a CANCEL.
                            if !by_phone {
                                self.final_upstream(
                                    &mut inner,
                                    call,
                                    487,
                                    "Request Terminated",
                                    now,
                                    &mut out,
                                );
                            }
                            self.cancel_forks(&mut inner, call, None, now, &mut out);
                            self.end(
                                &mut inner,
                                call,
                                Side::Caller,
                                Cause::Cancelled,
                                "BYE before answer",
                                now,
                                &mut out,
                            );
                            response(req, 200, "OK")
                        }
                        _ => response(req, 481, "Call/Transaction Does Not Exist"),
                    }
                }
            }
        };
        self.send(out);
        answer
    }

    /// A response from the network: to one of the node's client transactions, or dropped.
    pub fn handle_response(&self, resp: Message) {
        let now = Instant::now();
        let Some(branch) = resp
            .headers
            .top_via()
            .ok()
            .and_then(|v| v.branch().map(str::to_string))
        else {
            return;
        };
        let Some(method) = resp.cseq_method() else {
            return;
        };
        let key = format!("{branch}|{}", method.as_str());
        let mut out = Outbox::new();
        {
            let Ok(mut inner) = self.inner.lock() else {
                return;
            };
            let Some(c) = inner.clients.get_mut(&key) else {
                return;
            };
            match &mut c.kind {
                ClientKind::Invite(tx) => tx.handle_response(now, resp),
                ClientKind::Other(tx) => tx.handle_response(now, resp),
            }
            self.drive_client(&mut inner, &key, now, &mut out);
            // Sent before the lock is released: nothing the call-model events trigger (call
            // control's next request) may overtake these messages (e.g. an ACK).
            self.send(out);
        }
    }

    /// Runs the transactions' timers (retransmissions, timeouts) and the session timers;
    /// called by the timer task.
    pub fn tick(&self, now: Instant) {
        let mut out = Outbox::new();
        {
            let Ok(mut inner) = self.inner.lock() else {
                return;
            };
            // Only the transactions whose timer is due (or that ended) are visited: with
            // thousands of calls a second, tens of thousands wait out their timers (Timer M
            // keeps a client INVITE 32 s after its 2xx), and walking and copying all of
            // their keys 20 times a second was the B2BUA's largest cost.
            inner.ticks_since_sweep += 1;
            let sweep = inner.ticks_since_sweep >= TICKS_PER_SWEEP;
            if sweep {
                inner.ticks_since_sweep = 0;
            }
            let keys: Vec<String> = inner
                .servers
                .iter()
                .filter(|(_, s)| {
                    sweep || s.tx.is_terminated() || s.tx.poll_timeout().is_some_and(|t| t <= now)
                })
                .map(|(k, _)| k.clone())
                .collect();
            for k in keys {
                if let Some(s) = inner.servers.get_mut(&k) {
                    if s.tx.poll_timeout().is_some_and(|t| t <= now) {
                        s.tx.handle_timeout(now);
                    }
                    flush_server(s, &mut out);
                    while s.tx.poll_event().is_some() {}
                    if s.tx.is_terminated() {
                        inner.servers.remove(&k);
                    }
                }
            }
            inner.nservers.retain(|_, s| {
                if s.tx.poll_timeout().is_some_and(|t| t <= now) {
                    s.tx.handle_timeout(now);
                }
                while let Some(m) = s.tx.poll_transmit() {
                    out.push((s.route, m.to_bytes()));
                }
                !s.tx.is_terminated()
            });
            let keys: Vec<String> = inner
                .clients
                .iter()
                .filter(|(_, c)| sweep || c.is_terminated() || c.due(now))
                .map(|(k, _)| k.clone())
                .collect();
            for k in keys {
                if let Some(c) = inner.clients.get_mut(&k) {
                    if c.due(now) {
                        match &mut c.kind {
                            ClientKind::Invite(tx) => tx.handle_timeout(now),
                            ClientKind::Other(tx) => tx.handle_timeout(now),
                        }
                    }
                }
                self.drive_client(&mut inner, &k, now, &mut out);
            }
            inner.released.retain(|_, deadline| *deadline > now);
            let expired: Vec<(CallId, Duration)> = inner
                .calls
                .values()
                .filter_map(|c| {
                    c.session
                        .filter(|s| s.deadline <= now)
                        .map(|s| (c.id, s.interval))
                })
                .collect();
            for (call, interval) in expired {
                self.trace(TraceEvent::SipCallSessionExpired {
                    call,
                    interval: interval.as_secs(),
                });
                self.hangup(
                    &mut inner,
                    call,
                    Side::Caller,
                    Cause::Failed,
                    "session timer expired",
                    now,
                    &mut out,
                );
            }
            self.send(out);
        }
    }

    /// How many calls are in progress.
    pub fn call_count(&self) -> usize {
        self.inner.lock().map(|i| i.calls.len()).unwrap_or(0)
    }

    /// Sends what client transaction `key` has to send and acts on its events.
    fn drive_client(&self, inner: &mut Inner, key: &str, now: Instant, out: &mut Outbox) {
        let Some(c) = inner.clients.get_mut(key) else {
            return;
        };
        let mut events = Vec::new();
        let mut sent = None;
        let terminated = match &mut c.kind {
            ClientKind::Invite(tx) => {
                while let Some(m) = tx.poll_transmit() {
                    out.push((c.route, m.to_bytes()));
                }
                while let Some(e) = tx.poll_event() {
                    events.push(e);
                }
                if !events.is_empty() {
                    sent = Some(tx.request().clone());
                }
                tx.is_terminated()
            }
            ClientKind::Other(tx) => {
                while let Some(m) = tx.poll_transmit() {
                    out.push((c.route, m.to_bytes()));
                }
                while let Some(e) = tx.poll_event() {
                    events.push(e);
                }
                if !events.is_empty() {
                    sent = Some(tx.request().clone());
                }
                tx.is_terminated()
            }
        };
        if events.is_empty() {
            if terminated {
                inner.clients.remove(key);
            }
            return;
        }
        let (call, route) = (c.call, c.route);
        let mut role = std::mem::replace(&mut c.role, Role::Quiet);
        for e in events {
            let resp = match e {
                Event::Response(r) => r,
                Event::Timeout | Event::TransportError => Message::response(408, "Request Timeout"),
                Event::Ack(_) => continue,
            };
            let code = resp.code().unwrap_or(0);
            let is_invite = sent.as_ref().and_then(|m| m.method()) == Some(&Method::Invite);
            match &mut role {
                Role::Fork(fork) => {
                    if code >= 300 {
                        let reason = resp.reason().unwrap_or("").to_string();
                        self.fork_failed(inner, call, *fork, code, &reason, now, out)
                    } else {
                        self.fork_response(inner, call, *fork, resp, now, out)
                    }
                }
                Role::Phone(i) => self.phone_response(inner, call, *i, resp, now, out),
                Role::Target(i) => self.target_response(inner, call, *i, resp, now, out),
                Role::Reoffer => {
                    self.reoffer_response(inner, call, resp, sent.as_ref(), route, now, out)
                }
                Role::JoinOffer => {
                    self.join_offer_response(inner, call, resp, sent.as_ref(), route, now, out)
                }
                Role::JoinAnswer => {
                    self.join_answer_response(inner, call, resp, sent.as_ref(), route, now, out)
                }
                Role::Relay(rel) => {
                    self.relay_response(inner, call, rel, resp, sent.as_ref(), now, out)
                }
                Role::Control(reply) => {
                    if is_invite && (200..300).contains(&code) {
                        if let Some(ack) = sent
                            .as_ref()
                            .and_then(|s| ack_for_2xx(s, &resp, &self.via(route, &new_branch())))
                        {
                            out.push((route, ack.to_bytes()));
                        }
                    }
                    if code >= 200 {
                        if let Some(reply) = reply.take() {
                            let _ = reply.send(code);
                        }
                        self.control_done(inner, call, sent.as_ref());
                    }
                }
                Role::Quiet => {
                    if is_invite && (200..300).contains(&code) {
                        if let Some(ack) = sent
                            .as_ref()
                            .and_then(|s| ack_for_2xx(s, &resp, &self.via(route, &new_branch())))
                        {
                            out.push((route, ack.to_bytes()));
                        }
                    }
                    if code >= 200 {
                        self.control_done(inner, call, sent.as_ref());
                    }
                }
            }
        }
        if terminated {
            inner.clients.remove(key);
        } else if let Some(c) = inner.clients.get_mut(key) {
            c.role = role;
        }
    }

    /// A re-INVITE of the node's own finished: its dialog may take another.
    fn control_done(&self, inner: &mut Inner, call: CallId, sent: Option<&Message>) {
        let Some(sent) = sent.filter(|m| m.method() == Some(&Method::Invite)) else {
            return;
        };
        let Ok(call_id) = sent.headers.call_id() else {
            return;
        };
        if let Some((_, party)) = inner.dialogs.get(call_id).copied() {
            if let Some(d) = inner.calls.get_mut(&call).and_then(|c| c.dialog_mut(party)) {
                d.invite_pending = false;
            }
        }
    }

    fn fork_response(
        &self,
        inner: &mut Inner,
        call: CallId,
        fork: usize,
        resp: Message,
        now: Instant,
        out: &mut Outbox,
    ) {
        let code = resp.code().unwrap_or(0);
        let reason = resp.reason().unwrap_or("").to_string();
        let Some(c) = inner.calls.get_mut(&call) else {
            return;
        };
        let calls = self.callctl.calls();
        if code < 200 {
            if code == 100 || c.finished || c.answered.is_some() {
                return;
            }
            if let Some(f) = c.forks.get_mut(fork).filter(|f| f.dialog.is_none()) {
                // An early dialog (RFC 3261 §12.1): UPDATE and INFO may use it.
                if resp.headers.to().ok().is_some_and(|t| t.tag().is_some()) {
                    f.dialog = dialog_of_answer(&f.invite, &resp, f.route, &f.call_id);
                }
            }
            for side in [Side::Callee, Side::Caller] {
                if calls
                    .get(call)
                    .is_some_and(|x| x.leg(side).state == LegState::Offering)
                {
                    let _ = calls.transition(call, side, LegState::Ringing, None);
                }
            }
            if c.by_phone() || (code == c.relayed_provisional && resp.body.is_empty()) {
                return;
            }
            c.relayed_provisional = code;
            let up = self.upstream(c, code, &reason, Some(&resp));
            if let Some(d) = c.caller.as_mut() {
                d.note_sent(&up);
            }
            if let Some(s) = inner.servers.get_mut(&c.server_key) {
                s.tx.send_response(now, up);
                flush_server(s, out);
            }
            return;
        }
        // 2xx: acknowledged on this side in any case.
        let Some(f) = c.forks.get_mut(fork) else {
            return;
        };
        if f.ack.is_none() {
            let Some(mut d) = dialog_of_answer(&f.invite, &resp, f.route, &f.call_id) else {
                return;
            };
            if let Some(early) = f.dialog.take() {
                // The early dialog goes on confirmed: its CSeqs and its last offer.
                d.cseq = early.cseq;
                d.remote_cseq = early.remote_cseq;
                d.local_sdp = early.local_sdp;
            }
            let ack = ack_for_2xx(&f.invite, &resp, &self.via(f.route, &new_branch()));
            f.dialog = Some(d);
            f.ack = ack;
        }
        if let Some(ack) = &f.ack {
            out.push((f.route, ack.to_bytes()));
        }
        match c.answered {
            Some(a) if a == fork => {}
            Some(_) => {
                // A second fork answered too: it is hung up at once.
                self.bye(inner, call, Party::Fork(fork), now, out);
            }
            None if c.finished => self.bye(inner, call, Party::Fork(fork), now, out),
            None => {
                c.answered = Some(fork);
                c.finished = true;
                let device = f.device.clone();
                if let Some(interval) = session_interval(&resp) {
                    let interval = Duration::from_secs(interval);
                    c.session = Some(Session {
                        interval,
                        deadline: now + interval,
                    });
                }
                let _ = calls.set_device(call, Side::Callee, &device);
                let _ = calls.transition(call, Side::Callee, LegState::Connected, None);
                let _ = calls.transition(call, Side::Caller, LegState::Connected, None);
                self.trace(TraceEvent::SipCallAnswered { call, device });
                if let Some(p) = c.phone.as_mut() {
                    // Third-party call control: the far end's answer goes to the phone in
                    // the ACK of its 2xx.
                    if let (Some(i), Some(offer)) = (p.answered, p.offer.as_ref()) {
                        if let Some(inv) = p.invites.get(i) {
                            let via = self.via(inv.route, &new_branch());
                            if let Some(ack) = ack_for_2xx(&inv.invite, offer, &via) {
                                let ack = with_body_of(ack, &resp);
                                out.push((inv.route, ack.to_bytes()));
                                if let Some(d) = c.caller.as_mut() {
                                    d.note_sent(&ack);
                                }
                                p.ack = Some(ack);
                            }
                        }
                    }
                } else {
                    let mut up = self.upstream(c, code, &reason, Some(&resp));
                    copy_headers(&mut up, &resp, PASS_RESPONSE);
                    if let Some(d) = c.caller.as_mut() {
                        d.note_sent(&up);
                    }
                    if let Some(s) = inner.servers.get_mut(&c.server_key) {
                        s.tx.send_response(now, up);
                        flush_server(s, out);
                    }
                }
                self.cancel_forks(inner, call, Some(fork), now, out);
            }
        }
    }

    #[allow(clippy::too_many_arguments)]
    fn fork_failed(
        &self,
        inner: &mut Inner,
        call: CallId,
        fork: usize,
        code: u16,
        reason: &str,
        now: Instant,
        out: &mut Outbox,
    ) {
        let Some(c) = inner.calls.get_mut(&call) else {
            return;
        };
        if let Some(f) = c.forks.get_mut(fork) {
            f.failed.get_or_insert(code);
        }
        if c.finished || c.answered.is_some() || c.forks.iter().any(|f| f.failed.is_none()) {
            return;
        }
        let codes: Vec<u16> = c.forks.iter().filter_map(|f| f.failed).collect();
        let (code, reason) = if codes.iter().all(|c| *c == 486) {
            (486, "Busy Here".to_string())
        } else if codes.first() == Some(&code) {
            (code, reason.to_string())
        } else {
            (codes.first().copied().unwrap_or(code), String::new())
        };
        let reason = if reason.is_empty() {
            "Call Failed".to_string()
        } else {
            reason
        };
        self.final_upstream(inner, call, code, &reason, now, out);
        self.end(
            inner,
            call,
            Side::Callee,
            cause_of(code),
            &format!("{code} {reason}"),
            now,
            out,
        );
    }

    /// A response of the controlled phone to the node's INVITE (third-party call control):
    /// on its 2xx (with its offer) the dialed line is called with that offer.
    fn phone_response(
        &self,
        inner: &mut Inner,
        call: CallId,
        i: usize,
        resp: Message,
        now: Instant,
        out: &mut Outbox,
    ) {
        let code = resp.code().unwrap_or(0);
        if code < 200 {
            return;
        }
        let Some(c) = inner.calls.get_mut(&call) else {
            return;
        };
        let Some(p) = c.phone.as_mut() else {
            return;
        };
        if code >= 300 {
            if let Some(inv) = p.invites.get_mut(i) {
                inv.failed.get_or_insert(code);
            }
            if p.answered.is_none() && p.invites.iter().all(|f| f.failed.is_some()) {
                let reason = resp.reason().unwrap_or("").to_string();
                self.end(
                    inner,
                    call,
                    Side::Caller,
                    cause_of(code),
                    &format!("the phone answered {code} {reason}"),
                    now,
                    out,
                );
            }
            return;
        }
        match p.answered {
            Some(a) if a == i => {
                if let (Some(ack), Some(inv)) = (&p.ack, p.invites.get(i)) {
                    out.push((inv.route, ack.to_bytes()));
                }
                return;
            }
            Some(_) => {
                // Another contact of the phone answered too: acknowledged and hung up.
                if let Some(inv) = p.invites.get(i) {
                    if let Some(mut d) =
                        dialog_of_answer(&inv.invite, &resp, inv.route, &inv.call_id)
                    {
                        let via = self.via(inv.route, &new_branch());
                        if let Some(ack) = ack_for_2xx(&inv.invite, &resp, &via) {
                            out.push((inv.route, ack.to_bytes()));
                        }
                        let branch = new_branch();
                        let bye = d.request(Method::Bye, &self.via(d.route, &branch), None);
                        let route = d.route;
                        self.start_client(
                            inner,
                            format!("{branch}|BYE"),
                            bye,
                            route,
                            call,
                            Role::Quiet,
                            now,
                            out,
                        );
                    }
                }
                return;
            }
            None => {}
        }
        let Some(inv) = p.invites.get(i) else {
            return;
        };
        let Some(d) = dialog_of_answer(&inv.invite, &resp, inv.route, &inv.call_id) else {
            return;
        };
        let phone_call_id = inv.call_id.clone();
        let device = inv.device.clone();
        p.answered = Some(i);
        p.offer = Some(resp.clone());
        let dialed = p.dialed.clone();
        let dialed_devices = p.dialed_devices.clone();
        c.caller = Some(d);
        let from = c.invite.headers.get("To").unwrap_or("").to_string();
        let from = match switchboard_sip_proto::NameAddr::parse(&from) {
            Ok(mut n) => {
                n.params.set("tag", Some(&random_token()));
                n.to_string()
            }
            Err(_) => from,
        };
        let caller_number = self
            .callctl
            .calls()
            .get(call)
            .map(|x| x.caller.number.clone())
            .unwrap_or_default();
        inner.dialogs.insert(phone_call_id, (call, Party::Caller));
        let calls = self.callctl.calls();
        // The phone's side stays `offering` (the call is being placed): it becomes `ringing`
        // when the destination alerts and `connected` when the destination answers.
        self.trace(TraceEvent::SipCallAnswered { call, device });
        self.cancel_phone(inner, call, Some(i), now, out);
        let targets = self.targets_of(&dialed_devices);
        if targets.is_empty() {
            self.hangup(
                inner,
                call,
                Side::Callee,
                Cause::Unavailable,
                "480 no device on the line is registered",
                now,
                out,
            );
            return;
        }
        let (forks, clients) = self.make_forks(
            call,
            &from,
            &caller_number,
            &dialed,
            &resp,
            &[],
            targets,
            0,
            now,
            out,
        );
        let mut offered: Vec<String> = forks.iter().map(|f| f.device.clone()).collect();
        offered.dedup();
        let _ = calls.offer(call, Side::Callee, &offered);
        let _ = calls.transition(call, Side::Callee, LegState::Offering, None);
        for (n, f) in forks.iter().enumerate() {
            inner
                .dialogs
                .insert(f.call_id.clone(), (call, Party::Fork(n)));
        }
        if let Some(c) = inner.calls.get_mut(&call) {
            c.forks = forks;
        }
        for (k, tx) in clients {
            inner.clients.insert(k, tx);
        }
    }

    /// CANCELs the controlled phone's INVITEs still unanswered, but `except`.
    fn cancel_phone(
        &self,
        inner: &mut Inner,
        call: CallId,
        except: Option<usize>,
        now: Instant,
        out: &mut Outbox,
    ) {
        let Some(p) = inner.calls.get_mut(&call).and_then(|c| c.phone.as_mut()) else {
            return;
        };
        let mut txs = Vec::new();
        for (i, f) in p.invites.iter_mut().enumerate() {
            if Some(i) == except || f.failed.is_some() || p.answered == Some(i) {
                continue;
            }
            f.failed = Some(487);
            txs.extend(cancel_of(f));
        }
        for (key, m, route) in txs {
            self.start_client(inner, key, m, route, call, Role::Quiet, now, out);
        }
    }

    /// A response to the caller's INVITE, with the node's To tag and Contact, and the body of
    /// `relayed` when it has one.
    fn upstream(&self, c: &Call, code: u16, reason: &str, relayed: Option<&Message>) -> Message {
        let mut m = response(&c.invite, code, reason).with_to_tag(&c.tag);
        if code < 300 {
            let contact = c.caller.as_ref().map(|d| d.contact.as_str()).unwrap_or("");
            m = m
                .with_header("Contact", contact)
                .with_header("Allow", ALLOW);
        }
        match relayed {
            Some(r) => with_body_of(m, r),
            None => m,
        }
    }

    /// The caller's final failure: a response to its INVITE, or (a call placed by the node)
    /// the phone hung up.
    fn final_upstream(
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
        c.finished = true;
        if c.by_phone() {
            self.release_phone(inner, call, now, out);
            return;
        }
        let m = self.upstream(c, code, reason, None);
        if let Some(s) = inner.servers.get_mut(&c.server_key) {
            s.tx.send_response(now, m);
            flush_server(s, out);
        }
    }

    /// Releases the controlled phone of a call placed by the node: its unanswered INVITEs
    /// are cancelled; an answer is acknowledged (when not yet) and hung up.
    fn release_phone(&self, inner: &mut Inner, call: CallId, now: Instant, out: &mut Outbox) {
        self.cancel_phone(inner, call, None, now, out);
        let Some(c) = inner.calls.get_mut(&call) else {
            return;
        };
        let Some(p) = c.phone.as_mut() else {
            return;
        };
        let Some(i) = p.answered else {
            return;
        };
        if p.ack.is_none() {
            if let (Some(inv), Some(offer)) = (p.invites.get(i), p.offer.as_ref()) {
                let via = self.via(inv.route, &new_branch());
                if let Some(ack) = ack_for_2xx(&inv.invite, offer, &via) {
                    out.push((inv.route, ack.to_bytes()));
                    p.ack = Some(ack);
                }
            }
        }
        self.bye(inner, call, Party::Caller, now, out);
    }

    /// CANCELs every fork still ringing but `except`.
    fn cancel_forks(
        &self,
        inner: &mut Inner,
        call: CallId,
        except: Option<usize>,
        now: Instant,
        out: &mut Outbox,
    ) {
        let Some(c) = inner.calls.get(&call) else {
            return;
        };
        let mut txs = Vec::new();
        for (i, f) in c.forks.iter().enumerate() {
            if Some(i) == except || f.failed.is_some() || f.ack.is_some() {
                continue;
            }
            txs.extend(cancel_of(f));
        }
        for (key, m, route) in txs {
            self.start_client(inner, key, m, route, call, Role::Quiet, now, out);
        }
    }

    /// A BYE of the node in `party`'s dialog.
    fn bye(&self, inner: &mut Inner, call: CallId, party: Party, now: Instant, out: &mut Outbox) {
        let Some(d) = inner.calls.get_mut(&call).and_then(|c| c.dialog_mut(party)) else {
            return;
        };
        let branch = new_branch();
        let via = self.via(d.route, &branch);
        let bye = d.request(Method::Bye, &via, None);
        let route = d.route;
        self.start_client(
            inner,
            format!("{branch}|BYE"),
            bye,
            route,
            call,
            Role::Quiet,
            now,
            out,
        );
    }

    #[allow(clippy::too_many_arguments)]
    fn start_client(
        &self,
        inner: &mut Inner,
        key: String,
        m: Message,
        route: Route,
        call: CallId,
        role: Role,
        now: Instant,
        out: &mut Outbox,
    ) {
        let kind = if m.method() == Some(&Method::Invite) {
            ClientKind::Invite(Box::new(ClientInvite::new(
                m,
                route.reliability(),
                self.timers,
                now,
            )))
        } else {
            ClientKind::Other(Box::new(ClientNonInvite::new(
                m,
                route.reliability(),
                self.timers,
                now,
            )))
        };
        inner.clients.insert(
            key.clone(),
            ClientTx {
                kind,
                route,
                call,
                role,
            },
        );
        self.drive_client(inner, &key, now, out);
    }

    /// Ends a call from the node's side, whatever its state: BYE in every confirmed dialog,
    /// CANCEL to every fork still ringing, `487` to a caller still waiting; then [`Self::end`].
    #[allow(clippy::too_many_arguments)]
    fn hangup(
        &self,
        inner: &mut Inner,
        call: CallId,
        first: Side,
        cause: Cause,
        detail: &str,
        now: Instant,
        out: &mut Outbox,
    ) {
        let Some(c) = inner.calls.get(&call) else {
            return;
        };
        let (answered, finished, by_phone) = (c.answered, c.finished, c.by_phone());
        if let Some(f) = answered {
            self.bye(inner, call, Party::Fork(f), now, out);
        }
        self.cancel_forks(inner, call, answered, now, out);
        if by_phone {
            self.release_phone(inner, call, now, out);
        } else if finished {
            self.bye(inner, call, Party::Caller, now, out);
        } else {
            self.final_upstream(inner, call, 487, "Request Terminated", now, out);
        }
        self.end(inner, call, first, cause, detail, now, out);
    }

    /// Ends a call: a transfer still under way is abandoned (a blind one's target released, an
    /// attended one's other call left as it was), both legs disconnected (`first` first) with
    /// `cause`, its dialogs forgotten (the transactions finish on their own).
    #[allow(clippy::too_many_arguments)]
    fn end(
        &self,
        inner: &mut Inner,
        call: CallId,
        first: Side,
        cause: Cause,
        detail: &str,
        now: Instant,
        out: &mut Outbox,
    ) {
        self.abandon_transfer(inner, call, now, out);
        self.abandon_join(inner, call, now, out);
        let Some(c) = inner.calls.remove(&call) else {
            return;
        };
        inner.dialogs.retain(|_, (id, _)| *id != c.id);
        let calls = self.callctl.calls();
        let second = match first {
            Side::Caller => Side::Callee,
            Side::Callee => Side::Caller,
        };
        for side in [first, second] {
            let _ = calls.transition(call, side, LegState::Disconnected, Some(cause));
        }
        self.trace(TraceEvent::SipCallEnded {
            call,
            cause: cause_name(cause).into(),
            detail: detail.into(),
        });
    }
}

fn side_name(side: Side) -> &'static str {
    match side {
        Side::Caller => "caller",
        Side::Callee => "callee",
    }
}

/// The CANCEL of a fork's INVITE (RFC 3261 §9.1: its Via, From, To, Call-ID), with its
/// client-transaction key and route.
fn cancel_of(f: &Fork) -> Option<(String, Message, Route)> {
    let uri = f.invite.uri()?.clone();
    let mut cancel = Message::request(Method::Cancel, uri);
    for name in ["Via", "From", "To", "Call-ID"] {
        if let Some(v) = f.invite.headers.get(name) {
            cancel.headers.push(name, v);
        }
    }
    let seq = f.invite.headers.cseq().map(|c| c.seq).unwrap_or(1);
    cancel.headers.push("CSeq", &format!("{seq} CANCEL"));
    cancel.headers.push("Max-Forwards", "70");
    let branch = f
        .invite
        .headers
        .top_via()
        .ok()
        .and_then(|v| v.branch().map(str::to_string))
        .unwrap_or_default();
    Some((format!("{branch}|CANCEL"), cancel, f.route))
}

fn flush_server(s: &mut ServerTx, out: &mut Outbox) {
    while let Some(m) = s.tx.poll_transmit() {
        out.push((s.route, m.to_bytes()));
    }
}

#[cfg(test)]
mod calling_number_tests {
    use super::*;

    fn line(index: u32, dn: &str) -> LineAppearance {
        LineAppearance {
            index,
            dn: dn.to_string(),
        }
    }

    #[test]
    fn a_line_of_the_device_in_from_is_kept_else_its_first_line() {
        let lines = [line(2, "1005"), line(1, "1001")];
        assert_eq!(calling_number(&lines, Some("1005".into()), "SEPA"), "1005");
        assert_eq!(
            calling_number(&lines, Some("SEPA".into()), "SEPA"),
            "1001",
            "a device name in From becomes the first line"
        );
        assert_eq!(calling_number(&lines, None, "SEPA"), "1001");
        assert_eq!(calling_number(&[], Some("alice".into()), "SEPA"), "alice");
        assert_eq!(calling_number(&[], None, "SEPA"), "SEPA");
    }
}
