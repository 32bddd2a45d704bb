//! SIP over the network: UDP, TCP and TLS listeners that frame and parse messages, answer
//! what cannot be parsed with 400 (when a response is possible), hand requests to the
//! dispatcher, and send responses back as RFC 3261 §18.2.2 and RFC 3581 say: over the same
//! connection for TCP/TLS, to the packet's source address (port from `rport`, else the Via's)
//! for UDP. Names are never resolved: a response goes only to where the request came from.
//!
//! Limits: datagram and message size, connections at once, a header-read timeout (a
//! connection holding a partial message that long is closed: slow senders cannot hold it
//! forever) and an idle timeout.

use std::collections::HashMap;
use std::future::Future;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, RwLock};
use std::time::{Duration, Instant};

use switchboard_sip_proto::{
    parse_message_with, Frame, FrameError, Host, Limits, Message, StreamFramer,
};
use switchboard_trace::{Service, TraceEvent, Tracer};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::net::{TcpListener, UdpSocket};
use tokio::sync::{mpsc, watch, Semaphore};

use crate::bearer::{EdgeProxyNames, PortKind};
use crate::dispatch::Dispatcher;
use crate::location::Transport;
use crate::registrar::Inbound;

/// Resolves once `flag` is set (or its sender is gone).
pub async fn until_stopped(flag: &mut watch::Receiver<bool>) {
    let _ = flag.wait_for(|s| *s).await;
}

/// Limits of the transports.
#[derive(Debug, Clone, Copy)]
pub struct TransportLimits {
    /// Largest message accepted (header section + body), bytes.
    pub max_message: usize,
    /// TCP + TLS connections at once.
    pub max_connections: usize,
    /// A connection holding a partial message this long is closed.
    pub header_read_timeout: Duration,
    /// A connection with no traffic this long is closed.
    pub idle_timeout: Duration,
    /// Time allowed for a TLS handshake.
    pub handshake_timeout: Duration,
}

impl Default for TransportLimits {
    fn default() -> Self {
        TransportLimits {
            max_message: 65_535,
            max_connections: 10_000,
            header_read_timeout: Duration::from_secs(10),
            idle_timeout: Duration::from_secs(600),
            handshake_timeout: Duration::from_secs(10),
        }
    }
}

type FlowEntry = (mpsc::Sender<Vec<u8>>, SocketAddr);

/// Open TCP/TLS connections by id, so requests toward a device go back over the connection it
/// registered on (RFC 5626 flows), and the UDP sockets served, so requests toward a device
/// registered over UDP leave from the node's SIP port to the address its REGISTER came from.
#[derive(Default)]
pub struct Flows {
    next: AtomicU64,
    /// The writer queue and the local address of each connection.
    senders: Mutex<HashMap<u64, FlowEntry>>,
    udp: Mutex<Vec<Arc<UdpSocket>>>,
}

impl Flows {
    fn open(&self, tx: mpsc::Sender<Vec<u8>>, local: SocketAddr) -> u64 {
        let id = self.next.fetch_add(1, Ordering::Relaxed) + 1;
        if let Ok(mut s) = self.senders.lock() {
            s.insert(id, (tx, local));
        }
        id
    }

    fn add_udp(&self, socket: Arc<UdpSocket>) {
        if let Ok(mut u) = self.udp.lock() {
            u.push(socket);
        }
    }

    fn remove_udp(&self, socket: &Arc<UdpSocket>) {
        if let Ok(mut u) = self.udp.lock() {
            u.retain(|s| !Arc::ptr_eq(s, socket));
        }
    }

    /// A UDP socket served for `dest`'s address family (the first bound).
    fn udp_for(&self, dest: SocketAddr) -> Option<Arc<UdpSocket>> {
        let u = self.udp.lock().ok()?;
        u.iter()
            .find(|s| s.local_addr().is_ok_and(|a| a.is_ipv4() == dest.is_ipv4()))
            .cloned()
    }

    /// Sends a datagram from the node's SIP UDP socket to `dest` (an address a request came
    /// from); false when no socket serves UDP or the send failed.
    pub fn send_udp(&self, dest: SocketAddr, bytes: &[u8]) -> bool {
        self.udp_for(dest)
            .is_some_and(|s| s.try_send_to(bytes, dest).is_ok())
    }

    /// The local address of the UDP socket that [`Flows::send_udp`] uses for `dest`.
    pub fn udp_local(&self, dest: SocketAddr) -> Option<SocketAddr> {
        self.udp_for(dest)?.local_addr().ok()
    }

    /// The local address of an open flow.
    pub fn local_addr(&self, id: u64) -> Option<SocketAddr> {
        self.senders.lock().ok()?.get(&id).map(|(_, a)| *a)
    }

    fn close(&self, id: u64) {
        if let Ok(mut s) = self.senders.lock() {
            s.remove(&id);
        }
    }

    /// Sends bytes over an open flow; false when it is gone or full.
    pub fn send(&self, id: u64, bytes: Vec<u8>) -> bool {
        let tx = self
            .senders
            .lock()
            .ok()
            .and_then(|s| s.get(&id).map(|(tx, _)| tx.clone()));
        tx.is_some_and(|tx| tx.try_send(bytes).is_ok())
    }

    /// How many connections are open.
    pub fn len(&self) -> usize {
        self.senders.lock().map(|s| s.len()).unwrap_or(0)
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// Recent responses by transaction, so a retransmitted request gets the same answer without
/// being processed twice (the server transaction's "Completed" state, Timer J = 64·T1). Only
/// UDP needs it: over TCP/TLS Timer J is zero (RFC 3261 §17.2.2), nothing is retransmitted.
/// Two generations swapped every Timer J keep the cost per request constant: an entry lives
/// between one and two Timer J periods.
pub struct ResponseCache {
    generations: Mutex<Generations>,
}

type ResponseMap = HashMap<String, Option<Arc<Vec<u8>>>, foldhash::fast::RandomState>;

struct Generations {
    current: ResponseMap,
    previous: ResponseMap,
    rotated_at: Instant,
}

impl Default for ResponseCache {
    fn default() -> Self {
        ResponseCache {
            generations: Mutex::new(Generations {
                current: ResponseMap::default(),
                previous: ResponseMap::default(),
                rotated_at: Instant::now(),
            }),
        }
    }
}

const TIMER_J: Duration = Duration::from_secs(32);

/// What to do with an incoming request given the cache.
pub enum Cached {
    /// New: process it.
    New,
    /// Being processed: drop the retransmission.
    InProgress,
    /// Answered: send this again.
    Answered(Arc<Vec<u8>>),
}

impl ResponseCache {
    /// Looks `key` up, marking a new one as in progress.
    pub fn begin(&self, key: &str, now: Instant) -> Cached {
        let Ok(mut g) = self.generations.lock() else {
            return Cached::New;
        };
        if now.duration_since(g.rotated_at) >= TIMER_J {
            // The oldest is freed here, on the thread that allocated it, so the allocator
            // hands its pages back; the few milliseconds that takes at high load are absorbed
            // by the socket buffer.
            g.previous = std::mem::take(&mut g.current);
            g.rotated_at = now;
        }
        let found = g.current.get(key).or_else(|| g.previous.get(key)).cloned();
        match found {
            Some(None) => Cached::InProgress,
            Some(Some(bytes)) => Cached::Answered(bytes),
            None => {
                g.current.insert(key.to_string(), None);
                Cached::New
            }
        }
    }

    /// Drops `key`: its request may be processed again.
    pub fn forget(&self, key: &str) {
        if let Ok(mut g) = self.generations.lock() {
            g.current.remove(key);
            g.previous.remove(key);
        }
    }

    /// Records the answer to `key`.
    pub fn finish(&self, key: &str, bytes: Arc<Vec<u8>>) {
        if let Ok(mut g) = self.generations.lock() {
            g.previous.remove(key);
            g.current.insert(key.to_string(), Some(bytes));
        }
    }
}

/// The transaction key of a request (RFC 3261 §17.2.3), ACK folded onto its INVITE.
pub fn transaction_key(req: &Message) -> Option<String> {
    let via = req.headers.top_via().ok()?;
    let method = req.cseq_method()?;
    let method = if method.as_str() == "ACK" {
        "INVITE".to_string()
    } else {
        method.as_str().to_string()
    };
    match via.branch() {
        Some(b) if b.starts_with("z9hG4bK") => Some(format!("{b}|{}|{method}", via.sent_by())),
        _ => {
            let cseq = req.headers.cseq().ok()?;
            let call_id = req.headers.call_id().ok()?;
            let tag = req
                .headers
                .from()
                .ok()?
                .tag()
                .map(str::to_string)
                .unwrap_or_default();
            Some(format!(
                "{call_id}|{tag}|{}|{method}|{}",
                cseq.seq,
                via.sent_by()
            ))
        }
    }
}

/// Sets `received` and `rport` on the top Via as the server saw the packet (RFC 3261 §18.2.1,
/// RFC 3581), so the response carries them.
pub fn stamp_top_via(req: &mut Message, source: SocketAddr) {
    let Ok(mut top) = req.headers.top_via() else {
        return;
    };
    let same_host = match (&top.host, source.ip()) {
        (Host::Ipv4(a), std::net::IpAddr::V4(b)) => *a == b,
        (Host::Ipv6(a), std::net::IpAddr::V6(b)) => *a == b,
        _ => false,
    };
    let received = (!same_host).then(|| source.ip());
    let rport = top.rport().is_some().then(|| source.port());
    if received.is_none() && rport.is_none() {
        return;
    }
    // Edited in its text; re-printed only in the rare cases the text edit declines.
    if req.headers.stamp_top_via(received, rport) {
        return;
    }
    if let Some(ip) = received {
        top.set_received(ip);
    }
    if let Some(port) = rport {
        top.set_rport(port);
    }
    req.headers.set_top_via(&top);
}

/// Where a UDP response goes: the source address; its port from `rport` when asked for,
/// else the Via's sent-by port, else 5060.
pub(crate) fn udp_destination(req: &Message, source: SocketAddr) -> SocketAddr {
    let port = match req.headers.top_via() {
        Ok(via) if via.rport().is_some() => source.port(),
        Ok(via) => via.port.unwrap_or(5060),
        Err(_) => source.port(),
    };
    SocketAddr::new(source.ip(), port)
}

fn bad_message(
    tracer: &Tracer,
    transport: Transport,
    source: SocketAddr,
    error: &str,
    answered: bool,
) {
    tracer.emit_default(
        Service::Sip,
        &TraceEvent::SipBadMessage {
            transport: transport.as_str().into(),
            source: source.to_string(),
            error: error.into(),
            answered,
        },
    );
}

/// The error response to an unparseable message (400, or 505/416 as the error says), when it
/// was a request whose headers allow one.
fn bad_request_for(error: &switchboard_sip_proto::ParseError) -> Option<Message> {
    error
        .response()
        .map(|r| r.with_header("Server", crate::registrar::SERVER))
}

/// Datagrams read per wake-up before the answers go out.
const UDP_BATCH: usize = 32;

/// Serves one UDP socket until `shutdown`.
///
/// Each wake-up drains up to [`UDP_BATCH`] waiting datagrams, answers them, then sends the
/// answers back to back: a peer that was asleep is woken once per burst rather than once per
/// response, which on loopback was most of the cost of a send (docs/benchmarks.md).
pub async fn serve_udp(
    socket: Arc<UdpSocket>,
    dispatcher: Arc<Dispatcher>,
    flows: Arc<Flows>,
    limits: TransportLimits,
    shutdown: watch::Receiver<bool>,
) {
    flows.add_udp(socket.clone());
    serve_udp_socket(&socket, dispatcher, limits, shutdown).await;
    flows.remove_udp(&socket);
}

async fn serve_udp_socket(
    socket: &UdpSocket,
    dispatcher: Arc<Dispatcher>,
    limits: TransportLimits,
    mut shutdown: watch::Receiver<bool>,
) {
    let mut buf = vec![0u8; 65_536];
    let mut answers: Vec<(Arc<Vec<u8>>, SocketAddr)> = Vec::with_capacity(UDP_BATCH);
    // UDP has no client certificate: one empty list shared by every datagram.
    let no_peer_names: Arc<[String]> = Arc::from(Vec::new());
    loop {
        tokio::select! {
            _ = until_stopped(&mut shutdown) => return,
            ready = socket.readable() => if let Err(e) = ready {
                tracing::warn!(error = %e, "UDP socket failed");
                return;
            },
        }
        for _ in 0..UDP_BATCH {
            let (len, source) = match socket.try_recv_from(&mut buf) {
                Ok(r) => r,
                Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => break,
                Err(e) => {
                    tracing::warn!(error = %e, "UDP receive failed");
                    break;
                }
            };
            if let Some(answer) =
                udp_datagram(&buf[..len], source, &dispatcher, &limits, &no_peer_names).await
            {
                answers.push(answer);
            }
        }
        for (bytes, dest) in answers.drain(..) {
            match socket.try_send_to(&bytes, dest) {
                Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {
                    let _ = socket.send_to(&bytes, dest).await;
                }
                _ => {}
            }
        }
    }
}

/// Handles one datagram: the answer to send and where, if any.
async fn udp_datagram(
    data: &[u8],
    source: SocketAddr,
    dispatcher: &Dispatcher,
    limits: &TransportLimits,
    no_peer_names: &Arc<[String]>,
) -> Option<(Arc<Vec<u8>>, SocketAddr)> {
    if data.iter().all(|b| b.is_ascii_whitespace()) {
        return None; // keep-alive
    }
    let tracer = dispatcher.tracer();
    if data.len() > limits.max_message {
        bad_message(tracer, Transport::Udp, source, "datagram too large", false);
        return None;
    }
    let parsed = parse_message_with(
        data,
        &Limits {
            max_message_bytes: limits.max_message,
            ..Limits::default()
        },
    );
    match parsed {
        Ok(mut msg) => {
            let inbound = Inbound {
                transport: Transport::Udp,
                source,
                flow: None,
                peer_names: no_peer_names.clone(),
                port: PortKind::Standard,
            };
            if !msg.is_request() {
                dispatcher.handle_response(msg, &inbound);
                return None;
            }
            stamp_top_via(&mut msg, source);
            let dest = udp_destination(&msg, source);
            // Answered on the receiving task: with the device cache warm nothing here waits on
            // I/O, and not spawning a task per datagram saves ~15 % CPU (docs/benchmarks.md).
            let bytes = dispatcher.handle(msg, &inbound).await?;
            Some((bytes, dest))
        }
        Err(e) => match bad_request_for(&e) {
            Some(response) => {
                bad_message(tracer, Transport::Udp, source, &e.to_string(), true);
                let port = response
                    .headers
                    .top_via()
                    .ok()
                    .filter(|v| v.rport().is_none())
                    .and_then(|v| v.port)
                    .unwrap_or(source.port());
                Some((
                    Arc::new(response.to_bytes()),
                    SocketAddr::new(source.ip(), port),
                ))
            }
            None => {
                bad_message(tracer, Transport::Udp, source, &e.to_string(), false);
                None
            }
        },
    }
}

/// Builds the TLS acceptor in use now (replaced live when the certificate or trust changes).
pub type AcceptorSlot = Arc<RwLock<tokio_rustls::TlsAcceptor>>;

/// What a stream listener serves: plain TCP, or TLS with its acceptor, on a kind of port.
#[derive(Clone)]
pub struct StreamPort {
    pub tls: Option<AcceptorSlot>,
    pub kind: PortKind,
    /// On the MRA port: the edge proxies whose certificate names are accepted.
    pub edge_proxies: Option<Arc<EdgeProxyNames>>,
}

/// Serves one TCP listener (plain, or TLS when the port has an acceptor) until `shutdown`.
pub async fn serve_stream(
    listener: TcpListener,
    port: StreamPort,
    dispatcher: Arc<Dispatcher>,
    flows: Arc<Flows>,
    limits: TransportLimits,
    mut stop_accepting: watch::Receiver<bool>,
    connections_stop: watch::Receiver<bool>,
) {
    let permits = Arc::new(Semaphore::new(limits.max_connections));
    loop {
        let (stream, source) = tokio::select! {
            _ = until_stopped(&mut stop_accepting) => return,
            accepted = listener.accept() => match accepted {
                Ok(a) => a,
                Err(e) => {
                    tracing::warn!(error = %e, "accept failed");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
            },
        };
        let Ok(permit) = permits.clone().try_acquire_owned() else {
            drop(stream); // over the connection limit
            continue;
        };
        let _ = stream.set_nodelay(true);
        let local = stream
            .local_addr()
            .unwrap_or_else(|_| SocketAddr::from(([0, 0, 0, 0], 0)));
        let dispatcher = dispatcher.clone();
        let flows = flows.clone();
        let tls = port
            .tls
            .as_ref()
            .and_then(|slot| slot.read().ok().map(|a| a.clone()));
        let kind = port.kind;
        let edge_proxies = port.edge_proxies.clone();
        let shutdown = connections_stop.clone();
        tokio::spawn(async move {
            let _permit = permit;
            match tls {
                None => {
                    connection(
                        stream,
                        Transport::Tcp,
                        kind,
                        Arc::from(Vec::new()),
                        (source, local),
                        dispatcher,
                        flows,
                        limits,
                        shutdown,
                    )
                    .await
                }
                Some(acceptor) => {
                    match tokio::time::timeout(limits.handshake_timeout, acceptor.accept(stream))
                        .await
                    {
                        Ok(Ok(tls_stream)) => {
                            let peer_names = peer_certificate_names(&tls_stream);
                            if let Some(edge) = &edge_proxies {
                                if !edge_proxy_admitted(edge, &peer_names, source, &dispatcher) {
                                    return;
                                }
                            }
                            connection(
                                tls_stream,
                                Transport::Tls,
                                kind,
                                peer_names,
                                (source, local),
                                dispatcher,
                                flows,
                                limits,
                                shutdown,
                            )
                            .await
                        }
                        Ok(Err(e)) => tracing::debug!(%source, error = %e, "TLS handshake failed"),
                        Err(_) => tracing::debug!(%source, "TLS handshake timed out"),
                    }
                }
            }
        });
    }
}

/// On the MRA port the peer is an edge proxy: its (verified) certificate must name one of the
/// `expresswayconfiguration` entries by CN or SAN (004 Cenário 2), else the connection is
/// closed and both lists are traced.
fn edge_proxy_admitted(
    edge: &EdgeProxyNames,
    presented: &[String],
    source: SocketAddr,
    dispatcher: &Dispatcher,
) -> bool {
    let admitted = edge.matching(presented).is_some();
    if !admitted {
        dispatcher.tracer().emit_default(
            Service::Sip,
            &TraceEvent::SipEdgeProxyRefused {
                source: source.to_string(),
                presented: presented.join(","),
                listed: edge.listed().join(","),
            },
        );
    }
    admitted
}

/// The CN and SANs of the (verified) client certificate of a TLS connection.
fn peer_certificate_names(
    stream: &tokio_rustls::server::TlsStream<tokio::net::TcpStream>,
) -> Arc<[String]> {
    let Some(cert) = stream
        .get_ref()
        .1
        .peer_certificates()
        .and_then(|c| c.first())
    else {
        return Arc::from(Vec::new());
    };
    let Ok(info) = switchboard_pki::cert_info_from_der(cert.as_ref()) else {
        return Arc::from(Vec::new());
    };
    let mut names: Vec<String> = info
        .subject
        .split(',')
        .filter_map(|part| part.trim().strip_prefix("CN="))
        .map(str::to_string)
        .collect();
    names.extend(info.sans);
    Arc::from(names)
}

/// One TCP or TLS connection: frames messages and processes each on the connection's own task
/// while that needs no waiting (the common case, device cache warm: no task spawned per
/// message), handing the rest to a task of its own. The answers ready after one read go out
/// together in one write (one TLS record for a burst of pipelined requests); answers finished
/// later, and requests sent toward the device over its flow, arrive through the flow's queue.
#[allow(clippy::too_many_arguments)]
async fn connection<S: AsyncRead + AsyncWrite + Unpin + Send + 'static>(
    mut stream: S,
    transport: Transport,
    port: PortKind,
    peer_names: Arc<[String]>,
    (source, local): (SocketAddr, SocketAddr),
    dispatcher: Arc<Dispatcher>,
    flows: Arc<Flows>,
    limits: TransportLimits,
    mut shutdown: watch::Receiver<bool>,
) {
    let (tx, mut queued) = mpsc::channel::<Vec<u8>>(256);
    let flow = flows.open(tx.clone(), local);
    let mut framer = StreamFramer::with_limits(Limits {
        max_body_bytes: limits.max_message,
        ..Limits::default()
    });
    let mut buf = vec![0u8; 16 * 1024];
    let mut out: Vec<u8> = Vec::with_capacity(16 * 1024);
    let tracer = dispatcher.tracer().clone();
    loop {
        let wait = if framer.buffered() == 0 {
            limits.idle_timeout
        } else {
            limits.header_read_timeout
        };
        let mut fatal = false;
        tokio::select! {
            biased;
            _ = until_stopped(&mut shutdown) => break,
            Some(bytes) = queued.recv() => out.extend_from_slice(&bytes),
            read = tokio::time::timeout(wait, stream.read(&mut buf)) => {
                let n = match read {
                    Ok(Ok(0)) | Ok(Err(_)) => break,
                    Ok(Ok(n)) => n,
                    Err(_) => {
                        if framer.buffered() != 0 {
                            bad_message(
                                &tracer,
                                transport,
                                source,
                                "incomplete message: header-read timeout",
                                false,
                            );
                        }
                        break;
                    }
                };
                framer.push(&buf[..n]);
                loop {
                    match framer.next_frame() {
                        Ok(None) => break,
                        Ok(Some(Frame::Ping)) => out.extend_from_slice(b"\r\n"),
                        Ok(Some(Frame::Message(mut msg))) => {
                            let inbound = Inbound {
                                transport,
                                source,
                                flow: Some(flow),
                                peer_names: peer_names.clone(),
                                port,
                            };
                            if !msg.is_request() {
                                dispatcher.handle_response(msg, &inbound);
                                continue;
                            }
                            stamp_top_via(&mut msg, source);
                            let dispatcher = dispatcher.clone();
                            let mut job =
                                Box::pin(async move { dispatcher.handle(msg, &inbound).await });
                            match std::future::poll_fn(|cx| {
                                std::task::Poll::Ready(job.as_mut().poll(cx))
                            })
                            .await
                            {
                                std::task::Poll::Ready(Some(bytes)) => out.extend_from_slice(&bytes),
                                std::task::Poll::Ready(None) => {}
                                std::task::Poll::Pending => {
                                    let tx = tx.clone();
                                    tokio::spawn(async move {
                                        if let Some(bytes) = job.await {
                                            let _ = tx.send(bytes.to_vec()).await;
                                        }
                                    });
                                }
                            }
                        }
                        Err(FrameError::Malformed(e)) => match bad_request_for(&e) {
                            Some(response) => {
                                bad_message(&tracer, transport, source, &e.to_string(), true);
                                out.extend_from_slice(&response.to_bytes());
                            }
                            None => bad_message(&tracer, transport, source, &e.to_string(), false),
                        },
                        Err(e) => {
                            bad_message(&tracer, transport, source, &e.to_string(), false);
                            fatal = true;
                            break;
                        }
                    }
                }
            }
        }
        while let Ok(bytes) = queued.try_recv() {
            out.extend_from_slice(&bytes);
        }
        if !out.is_empty() {
            // A peer that stops reading cannot hold the connection: the write has the
            // header-read timeout too.
            let written = tokio::time::timeout(limits.header_read_timeout, async {
                stream.write_all(&out).await?;
                stream.flush().await
            })
            .await;
            if !matches!(written, Ok(Ok(()))) {
                break;
            }
            out.clear();
            if out.capacity() > 256 * 1024 {
                out.shrink_to(16 * 1024);
            }
        }
        if fatal {
            break;
        }
    }
    flows.close(flow);
    let _ = tokio::time::timeout(Duration::from_secs(1), stream.shutdown()).await;
}
