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
//! Who may call: only a device that is registered right now, the INVITE arriving from where
//! one of its live bindings registered (the UDP source address, or the TCP/TLS connection);
//! anything else is `403`. Where a call goes: the Request-URI's user is a directory number;
//! no such line is `404`, a line with no registered device `480`. Requests toward a device go
//! only to its registered flow (the address or connection its REGISTER came from).
//!
//! The RFC 3261 §17 transactions of `switchboard-sip-proto` carry the retransmissions (over
//! UDP) and timeouts; [`B2bua::tick`] drives them from the service's timer task. Every state
//! change of a call is published into the call model of `switchboard-callctl`.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Instant;

use switchboard_callctl::{CallControl, CallId, Cause, LegState, Side};
use switchboard_sip_proto::transaction::{
    new_branch, ClientInvite, ClientNonInvite, Event, Reliability, ServerInvite, Timers,
};
use switchboard_sip_proto::{ContactList, Message, Method, Uri};
use switchboard_store::StoreError;
use switchboard_trace::{Service, TraceEvent, Tracer};

use crate::location::{Binding, Transport};
use crate::registrar::{Inbound, Registrar, SERVER};
use crate::transport::{udp_destination, Flows};

/// Methods the node answers (the `Allow` of its responses and requests).
pub const ALLOW: &str = "INVITE, ACK, CANCEL, BYE, REGISTER, OPTIONS";

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

/// One fork: the INVITE sent to one registered contact, and that dialog.
struct Fork {
    device: String,
    route: Route,
    invite: Message,
    call_id: String,
    /// The 2xx's To (with the callee's tag), once answered.
    to: Option<String>,
    /// The callee's Contact (the target of in-dialog requests), once answered.
    target: Option<Uri>,
    cseq: u32,
    ack: Option<Message>,
    /// The final non-2xx status, or 408 on timeout.
    failed: Option<u16>,
}

/// A call in progress.
struct Call {
    id: CallId,
    route: Route,
    /// The caller's INVITE.
    invite: Message,
    server_key: String,
    /// The node's To tag toward the caller.
    tag: String,
    /// The caller's Contact.
    target: Uri,
    /// The node's CSeq toward the caller.
    cseq: u32,
    /// The node's Contact toward the caller.
    contact: String,
    forks: Vec<Fork>,
    answered: Option<usize>,
    /// Whether the caller has its final response.
    finished: bool,
}

struct ServerTx {
    tx: ServerInvite,
    route: Route,
}

enum ClientKind {
    Invite(Box<ClientInvite>),
    Other(Box<ClientNonInvite>),
}

struct ClientTx {
    kind: ClientKind,
    route: Route,
    call: CallId,
    fork: usize,
}

/// Which side of a call a dialog (by Call-ID) is.
#[derive(Debug, Clone, Copy)]
enum Party {
    Caller,
    Fork(usize),
}

#[derive(Default)]
struct Inner {
    calls: HashMap<CallId, Call>,
    dialogs: HashMap<String, (CallId, Party)>,
    /// Server INVITE transactions by the INVITE's branch and sent-by.
    servers: HashMap<String, ServerTx>,
    /// Client transactions by our branch and the method.
    clients: HashMap<String, ClientTx>,
}

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

    /// A new request of the node toward `route`, with its own Via.
    fn request(&self, method: Method, uri: Uri, route: Route, branch: &str) -> Message {
        let (local, tp) = self.local(route);
        Message::request(method, uri)
            .with_header(
                "Via",
                &format!("SIP/2.0/{tp} {local};branch={branch};rport"),
            )
            .with_header("Max-Forwards", "70")
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
            // In-dialog (re-)INVITE: hold/resume is the next slice.
            return Some(response(&req, 501, "Not Implemented").with_header("Allow", ALLOW));
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
        let (Ok(call_id), Ok(mut from)) = (req.headers.call_id(), req.headers.from()) else {
            return Some(response(&req, 400, "Bad Request"));
        };
        let call_id = call_id.to_string();
        let caller_number = uri_user(&from.uri).unwrap_or_else(|| device.clone());
        let store = self.registrar.store();
        let outcome = match store.get_line(&dialed).await {
            Ok(_) => match store.devices_with_line(&dialed).await {
                Ok(devices) => Ok(devices),
                Err(e) => Err((500, "Server Internal Error", e.to_string())),
            },
            Err(StoreError::NotFound { .. }) => Err((404, "Not Found", "no such line".into())),
            Err(e) => Err((500, "Server Internal Error", e.to_string())),
        };
        let targets: Vec<(String, Binding, Route)> = match &outcome {
            Ok(devices) => devices
                .iter()
                .flat_map(|d| {
                    self.registrar
                        .bindings(d)
                        .into_iter()
                        .map(move |b| (d.clone(), b))
                })
                .filter_map(|(d, b)| Route::of_binding(&b).map(|r| (d, b, r)))
                .collect(),
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
        let b_tag = random_token();
        from.params.set("tag", Some(&b_tag));
        let mut out = Outbox::new();
        let mut forks = Vec::new();
        let mut clients = Vec::new();
        for (i, (device, binding, froute)) in targets.into_iter().enumerate() {
            let Ok(uri) = Uri::parse(&binding.uri) else {
                continue;
            };
            let branch = new_branch();
            let (local, tp) = self.local(froute);
            let fork_call_id = format!("{}@{}", random_token(), local.ip());
            let invite = self
                .request(Method::Invite, uri, froute, &branch)
                .with_header("From", &from.to_string())
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
            let invite = with_body_of(invite, &req);
            self.trace(TraceEvent::SipCallOffered {
                call: call.id,
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
                    call: call.id,
                    fork: i,
                },
            ));
            forks.push(Fork {
                device,
                route: froute,
                invite,
                call_id: fork_call_id,
                to: None,
                target: None,
                cseq: 1,
                ack: None,
                failed: None,
            });
        }
        let mut offered: Vec<String> = forks.iter().map(|f: &Fork| f.device.clone()).collect();
        offered.dedup();
        let _ = calls.offer(call.id, Side::Callee, &offered);
        let _ = calls.transition(call.id, Side::Callee, LegState::Offering, None);
        let mut server = ServerTx {
            tx: ServerInvite::new(req.clone(), route.reliability(), self.timers, now),
            route,
        };
        flush_server(&mut server, &mut out);
        let contact = self.contact_for(route, &dialed);
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
                    route,
                    invite: req,
                    server_key: key,
                    tag: random_token(),
                    target,
                    cseq: 0,
                    contact,
                    forks,
                    answered: None,
                    finished: false,
                },
            );
        }
        self.send(out);
        None
    }

    /// An ACK: for a non-2xx final response it belongs to the INVITE's transaction (same
    /// branch); for a 2xx to the dialog (by Call-ID). Anything else is dropped (an ACK is
    /// never answered).
    pub fn handle_ack(&self, req: Message) {
        let now = Instant::now();
        let Ok(mut inner) = self.inner.lock() else {
            return;
        };
        let mut key = invite_key(&req).filter(|k| inner.servers.contains_key(k));
        if key.is_none() {
            let call_id = req.headers.call_id().unwrap_or_default();
            if let Some((call, Party::Caller)) = inner.dialogs.get(call_id).copied() {
                key = inner.calls.get(&call).map(|c| c.server_key.clone());
            }
        }
        if let Some(s) = key.and_then(|k| inner.servers.get_mut(&k)) {
            s.tx.handle_request(now, req);
            while s.tx.poll_event().is_some() {}
        }
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
                            None,
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
                None => response(req, 481, "Call/Transaction Does Not Exist"),
                Some((call, party)) => {
                    let answered = inner.calls.get(&call).and_then(|c| c.answered);
                    match (party, answered) {
                        (Party::Caller, Some(fork)) => {
                            self.bye_to_fork(&mut inner, call, fork, now, &mut out);
                            self.end(
                                &mut inner,
                                call,
                                Side::Caller,
                                Cause::Normal,
                                "BYE from the caller",
                            );
                            response(req, 200, "OK")
                        }
                        (Party::Fork(f), Some(fork)) if f == fork => {
                            self.bye_to_caller(&mut inner, call, now, &mut out);
                            self.end(
                                &mut inner,
                                call,
                                Side::Callee,
                                Cause::Normal,
                                "BYE from the callee",
                            );
                            response(req, 200, "OK")
                        }
                        (Party::Caller, None) => {
                            // A BYE before the answer ends the early dialog like a CANCEL.
                            self.final_upstream(
                                &mut inner,
                                call,
                                487,
                                "Request Terminated",
                                None,
                                now,
                                &mut out,
                            );
                            self.cancel_forks(&mut inner, call, None, now, &mut out);
                            self.end(
                                &mut inner,
                                call,
                                Side::Caller,
                                Cause::Cancelled,
                                "BYE before answer",
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
        }
        self.send(out);
    }

    /// Runs the transactions' timers (retransmissions, timeouts); called by the timer task.
    pub fn tick(&self, now: Instant) {
        let mut out = Outbox::new();
        {
            let Ok(mut inner) = self.inner.lock() else {
                return;
            };
            let keys: Vec<String> = inner.servers.keys().cloned().collect();
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
            let keys: Vec<String> = inner.clients.keys().cloned().collect();
            for k in keys {
                if let Some(c) = inner.clients.get_mut(&k) {
                    let due = match &c.kind {
                        ClientKind::Invite(tx) => tx.poll_timeout(),
                        ClientKind::Other(tx) => tx.poll_timeout(),
                    };
                    if due.is_some_and(|t| t <= now) {
                        match &mut c.kind {
                            ClientKind::Invite(tx) => tx.handle_timeout(now),
                            ClientKind::Other(tx) => tx.handle_timeout(now),
                        }
                    }
                }
                self.drive_client(&mut inner, &k, now, &mut out);
            }
        }
        self.send(out);
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
        let terminated = match &mut c.kind {
            ClientKind::Invite(tx) => {
                while let Some(m) = tx.poll_transmit() {
                    out.push((c.route, m.to_bytes()));
                }
                while let Some(e) = tx.poll_event() {
                    events.push(e);
                }
                tx.is_terminated()
            }
            ClientKind::Other(tx) => {
                while let Some(m) = tx.poll_transmit() {
                    out.push((c.route, m.to_bytes()));
                }
                while tx.poll_event().is_some() {}
                tx.is_terminated()
            }
        };
        let (call, fork) = (c.call, c.fork);
        if terminated {
            inner.clients.remove(key);
        }
        for e in events {
            match e {
                Event::Response(r) => self.fork_response(inner, call, fork, r, now, out),
                Event::Timeout | Event::TransportError => {
                    self.fork_failed(inner, call, fork, 408, "Request Timeout", now, out)
                }
                Event::Ack(_) => {}
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
        if code >= 300 {
            return self.fork_failed(inner, call, fork, code, &reason, now, out);
        }
        let Some(c) = inner.calls.get_mut(&call) else {
            return;
        };
        let calls = self.callctl.calls();
        if code < 200 {
            if code == 100 || c.finished || c.answered.is_some() {
                return;
            }
            for side in [Side::Callee, Side::Caller] {
                if calls
                    .get(call)
                    .is_some_and(|x| x.leg(side).state == LegState::Offering)
                {
                    let _ = calls.transition(call, side, LegState::Ringing, None);
                }
            }
            let up = self.upstream(c, code, &reason, Some(&resp));
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
            let target = match resp.headers.contacts() {
                Ok(ContactList::List(list)) if !list.is_empty() => list[0].name_addr.uri.clone(),
                _ => match f.invite.uri() {
                    Some(u) => u.clone(),
                    None => return,
                },
            };
            let to = resp.headers.get("To").unwrap_or("").to_string();
            let ack = self
                .request(Method::Ack, target.clone(), f.route, &new_branch())
                .with_header("From", f.invite.headers.get("From").unwrap_or(""))
                .with_header("To", &to)
                .with_header("Call-ID", &f.call_id)
                .with_header("CSeq", "1 ACK");
            f.target = Some(target);
            f.to = Some(to);
            f.ack = Some(ack);
        }
        if let Some(ack) = &f.ack {
            out.push((f.route, ack.to_bytes()));
        }
        match c.answered {
            Some(a) if a == fork => {}
            Some(_) => {
                // A second fork answered too: it is hung up at once.
                self.bye_to_fork(inner, call, fork, now, out);
            }
            None if c.finished => self.bye_to_fork(inner, call, fork, now, out),
            None => {
                c.answered = Some(fork);
                c.finished = true;
                let device = f.device.clone();
                let _ = calls.set_device(call, Side::Callee, &device);
                let _ = calls.transition(call, Side::Callee, LegState::Connected, None);
                let _ = calls.transition(call, Side::Caller, LegState::Connected, None);
                self.trace(TraceEvent::SipCallAnswered { call, device });
                let up = self.upstream(c, code, &reason, Some(&resp));
                if let Some(s) = inner.servers.get_mut(&c.server_key) {
                    s.tx.send_response(now, up);
                    flush_server(s, out);
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
        self.final_upstream(inner, call, code, &reason, None, now, out);
        self.end(
            inner,
            call,
            Side::Callee,
            cause_of(code),
            &format!("{code} {reason}"),
        );
    }

    /// A response to the caller's INVITE, with the node's To tag and Contact, and the body of
    /// `relayed` when it has one.
    fn upstream(&self, c: &Call, code: u16, reason: &str, relayed: Option<&Message>) -> Message {
        let mut m = response(&c.invite, code, reason).with_to_tag(&c.tag);
        if code < 300 {
            m = m
                .with_header("Contact", &c.contact)
                .with_header("Allow", ALLOW);
        }
        match relayed {
            Some(r) => with_body_of(m, r),
            None => m,
        }
    }

    #[allow(clippy::too_many_arguments)]
    fn final_upstream(
        &self,
        inner: &mut Inner,
        call: CallId,
        code: u16,
        reason: &str,
        relayed: Option<&Message>,
        now: Instant,
        out: &mut Outbox,
    ) {
        let Some(c) = inner.calls.get_mut(&call) else {
            return;
        };
        c.finished = true;
        let m = self.upstream(c, code, reason, relayed);
        if let Some(s) = inner.servers.get_mut(&c.server_key) {
            s.tx.send_response(now, m);
            flush_server(s, out);
        }
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
            let Some(uri) = f.invite.uri().cloned() else {
                continue;
            };
            let mut cancel = Message::request(Method::Cancel, uri);
            for name in ["Via", "From", "To", "Call-ID"] {
                if let Some(v) = f.invite.headers.get(name) {
                    cancel.headers.push(name, v);
                }
            }
            cancel.headers.push("CSeq", "1 CANCEL");
            cancel.headers.push("Max-Forwards", "70");
            let branch = f
                .invite
                .headers
                .top_via()
                .ok()
                .and_then(|v| v.branch().map(str::to_string))
                .unwrap_or_default();
            txs.push((format!("{branch}|CANCEL"), cancel, f.route, i));
        }
        for (key, m, route, i) in txs {
            let tx = ClientNonInvite::new(m, route.reliability(), self.timers, now);
            inner.clients.insert(
                key.clone(),
                ClientTx {
                    kind: ClientKind::Other(Box::new(tx)),
                    route,
                    call,
                    fork: i,
                },
            );
            self.drive_client(inner, &key, now, out);
        }
    }

    fn bye_to_fork(
        &self,
        inner: &mut Inner,
        call: CallId,
        fork: usize,
        now: Instant,
        out: &mut Outbox,
    ) {
        let Some(f) = inner
            .calls
            .get_mut(&call)
            .and_then(|c| c.forks.get_mut(fork))
        else {
            return;
        };
        let Some(target) = f.target.clone() else {
            return;
        };
        f.cseq += 1;
        let branch = new_branch();
        let bye = self
            .request(Method::Bye, target, f.route, &branch)
            .with_header("From", f.invite.headers.get("From").unwrap_or(""))
            .with_header("To", f.to.as_deref().unwrap_or(""))
            .with_header("Call-ID", &f.call_id)
            .with_header("CSeq", &format!("{} BYE", f.cseq));
        let route = f.route;
        self.start_client(
            inner,
            format!("{branch}|BYE"),
            bye,
            route,
            call,
            fork,
            now,
            out,
        );
    }

    fn bye_to_caller(&self, inner: &mut Inner, call: CallId, now: Instant, out: &mut Outbox) {
        let Some(c) = inner.calls.get_mut(&call) else {
            return;
        };
        c.cseq += 1;
        let branch = new_branch();
        let mut from = c.invite.headers.to().ok();
        if let Some(f) = from.as_mut() {
            f.params.set("tag", Some(&c.tag));
        }
        let bye = self
            .request(Method::Bye, c.target.clone(), c.route, &branch)
            .with_header("From", &from.map(|f| f.to_string()).unwrap_or_default())
            .with_header("To", c.invite.headers.get("From").unwrap_or(""))
            .with_header("Call-ID", c.invite.headers.get("Call-ID").unwrap_or(""))
            .with_header("CSeq", &format!("{} BYE", c.cseq));
        let route = c.route;
        self.start_client(
            inner,
            format!("{branch}|BYE"),
            bye,
            route,
            call,
            0,
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
        fork: usize,
        now: Instant,
        out: &mut Outbox,
    ) {
        let tx = ClientNonInvite::new(m, route.reliability(), self.timers, now);
        inner.clients.insert(
            key.clone(),
            ClientTx {
                kind: ClientKind::Other(Box::new(tx)),
                route,
                call,
                fork,
            },
        );
        self.drive_client(inner, &key, now, out);
    }

    /// Ends a call: both legs disconnected (`first` first) with `cause`, its dialogs
    /// forgotten (the transactions finish on their own).
    fn end(&self, inner: &mut Inner, call: CallId, first: Side, cause: Cause, detail: &str) {
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

fn flush_server(s: &mut ServerTx, out: &mut Outbox) {
    while let Some(m) = s.tx.poll_transmit() {
        out.push((s.route, m.to_bytes()));
    }
}
