//! The CTI Manager's shared state: what every connection's session needs (store, tracer,
//! authentication, token verification, the node's CTI key and nonces), the device watches,
//! and the task that turns call control's registration events into device events.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU32, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use switchboard_authn::Authenticator;
use switchboard_callctl::{CallControl, RegistrationChange};
use switchboard_cti_proto::seal::{CtiKeyPair, NonceStore, NONCE_LIFETIME};
use switchboard_cti_proto::{ErrorName, OutOfServiceReason, HEARTBEAT_RANGE_S, TIMER_RANGE_S};
use switchboard_store::model::User;
use switchboard_store::Store;
use switchboard_trace::{Service, TraceEvent, Tracer};
use tokio::sync::broadcast::error::RecvError;
use tokio::task::JoinHandle;

use crate::connection::{self, MessageReader, MessageWriter, Transport};
use crate::registry::Registry;

/// Verifies OAuth access tokens for `auth.type = "oauth"` (the node's OAuth service, wired by
/// the server).
pub trait TokenVerifier: Send + Sync {
    /// The user id (`sub`) of a valid, unexpired access token that carries the `cti` scope, or
    /// why not (traced, never sent to the client).
    fn verify(&self, access_token: &str) -> Result<String, String>;
}

/// Limits and timers of the CTI Manager.
#[derive(Debug, Clone)]
pub struct CtiConfig {
    /// Connections served at once at start (then the `CtiMaxConnections` parameter, see
    /// [`CtiManager::set_max_connections`]); a `ProviderOpenRequest` beyond gets
    /// `MAX_NUMBER_OF_CTI_CONNECTIONS_REACHED`, and a connection beyond twice this is closed
    /// as soon as it is accepted.
    pub max_connections: usize,
    /// Messages queued for one client before it counts as a slow consumer.
    pub queue_len: usize,
    /// The heartbeat interval a client may negotiate, seconds.
    pub heartbeat_range_s: (u32, u32),
    /// The grace time after a missed heartbeat a client may negotiate, seconds.
    pub timer_range_s: (u32, u32),
    /// How long a new connection may take to send its `ProviderOpenRequest`.
    pub open_timeout: Duration,
    /// How long a write to a client may block before it counts as a slow consumer.
    pub write_timeout: Duration,
    /// How long a sealed-password nonce is valid.
    pub nonce_lifetime: Duration,
}

impl Default for CtiConfig {
    fn default() -> Self {
        CtiConfig {
            max_connections: 20_000,
            queue_len: 1024,
            heartbeat_range_s: HEARTBEAT_RANGE_S,
            timer_range_s: TIMER_RANGE_S,
            open_timeout: Duration::from_secs(30),
            write_timeout: Duration::from_secs(10),
            nonce_lifetime: NONCE_LIFETIME,
        }
    }
}

/// Live counts, for `GET /api/cti` and the benchmark.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
pub struct CtiStats {
    pub connections: usize,
    pub providers: usize,
    pub devices_watched: usize,
    pub device_opens: usize,
}

/// The CTI Manager of one node.
pub struct CtiManager {
    pub(crate) config: CtiConfig,
    pub(crate) store: Store,
    pub(crate) tracer: Tracer,
    pub(crate) authenticator: Authenticator,
    pub(crate) tokens: Arc<dyn TokenVerifier>,
    pub(crate) keys: CtiKeyPair,
    pub(crate) nonces: Mutex<NonceStore>,
    pub(crate) registry: Registry,
    pub(crate) callctl: Arc<CallControl>,
    next_provider: AtomicU32,
    next_connection: AtomicU64,
    pub(crate) connections: AtomicUsize,
    pub(crate) providers: AtomicUsize,
    max_connections: AtomicUsize,
    /// Users' CTI settings as last read, each with when it was read (see
    /// [`CtiManager::user_settings`]).
    users: Mutex<HashMap<String, (Arc<User>, std::time::Instant)>>,
}

/// How long a user's CTI settings read from the store are used without reading them again.
/// Changes made through this node's API apply at once ([`CtiManager::user_changed`]); this
/// bounds how late a change made on another node of the cluster applies (as the OAuth state's
/// 5 s reload).
pub const USER_SETTINGS_TTL: Duration = Duration::from_secs(5);

/// Most users whose settings are kept; beyond, the stale ones are dropped first.
const MAX_CACHED_USERS: usize = 100_000;

/// Provider ids start where CUCM's do (`provider id=16777223` in the seed is the 8th).
const FIRST_PROVIDER_ID: u32 = 0x0100_0000;

impl CtiManager {
    pub fn new(
        config: CtiConfig,
        store: Store,
        tracer: Tracer,
        authenticator: Authenticator,
        tokens: Arc<dyn TokenVerifier>,
        keys: CtiKeyPair,
        callctl: Arc<CallControl>,
    ) -> Arc<CtiManager> {
        Arc::new(CtiManager {
            max_connections: AtomicUsize::new(config.max_connections),
            users: Mutex::new(HashMap::new()),
            nonces: Mutex::new(NonceStore::new(config.nonce_lifetime)),
            config,
            store,
            tracer,
            authenticator,
            tokens,
            keys,
            registry: Registry::default(),
            callctl,
            next_provider: AtomicU32::new(FIRST_PROVIDER_ID),
            next_connection: AtomicU64::new(1),
            connections: AtomicUsize::new(0),
            providers: AtomicUsize::new(0),
        })
    }

    /// The node's CTI public key (X25519, base64), as `ProviderOpenResponse` carries it.
    pub fn public_key_base64(&self) -> String {
        self.keys.public_key_base64()
    }

    /// Live counts.
    pub fn stats(&self) -> CtiStats {
        let (devices_watched, device_opens) = self.registry.counts();
        CtiStats {
            connections: self.connections.load(Ordering::Relaxed),
            providers: self.providers.load(Ordering::Relaxed),
            devices_watched,
            device_opens,
        }
    }

    /// The connection limit from now on (the `CtiMaxConnections` parameter).
    pub fn set_max_connections(&self, limit: usize) {
        self.max_connections.store(limit, Ordering::Relaxed);
    }

    /// The connection limit.
    pub fn max_connections(&self) -> usize {
        self.max_connections.load(Ordering::Relaxed)
    }

    /// A user's CTI settings: from memory when read less than [`USER_SETTINGS_TTL`] ago,
    /// otherwise from the store.
    pub(crate) async fn user_settings(
        &self,
        userid: &str,
    ) -> Result<Arc<User>, switchboard_store::StoreError> {
        let now = std::time::Instant::now();
        if let Some((user, at)) = self
            .users
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .get(userid)
        {
            if now.saturating_duration_since(*at) < USER_SETTINGS_TTL {
                return Ok(user.clone());
            }
        }
        let user = Arc::new(self.store.get_user(userid).await?);
        let mut users = self.users.lock().unwrap_or_else(|p| p.into_inner());
        if users.len() >= MAX_CACHED_USERS {
            users.retain(|_, (_, at)| now.saturating_duration_since(*at) < USER_SETTINGS_TTL);
            if users.len() >= MAX_CACHED_USERS {
                users.clear();
            }
        }
        users.insert(userid.to_owned(), (user.clone(), now));
        Ok(user)
    }

    /// A user was changed or deleted through this node: the next open reads the store.
    pub fn user_changed(&self, userid: &str) {
        self.users
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .remove(userid);
    }

    /// Anything may have changed (missed change notifications): forget every user's settings.
    pub fn users_changed(&self) {
        self.users.lock().unwrap_or_else(|p| p.into_inner()).clear();
    }

    pub(crate) fn next_provider_id(&self) -> u32 {
        self.next_provider.fetch_add(1, Ordering::Relaxed)
    }

    pub(crate) fn next_connection_id(&self) -> u64 {
        self.next_connection.fetch_add(1, Ordering::Relaxed)
    }

    /// Serves one accepted byte-stream connection (TCP or TLS) to its end.
    pub async fn serve_stream<S>(
        self: Arc<Self>,
        stream: S,
        transport: Transport,
        peer: SocketAddr,
        local: SocketAddr,
    ) where
        S: tokio::io::AsyncRead + tokio::io::AsyncWrite + Send + 'static,
    {
        let (read, write) = tokio::io::split(stream);
        self.serve(
            transport,
            peer,
            local,
            MessageReader::framed(read),
            MessageWriter::framed(write),
        )
        .await
    }

    /// Serves one plain TCP connection to its end (its halves need no lock between them).
    pub async fn serve_tcp(
        self: Arc<Self>,
        stream: tokio::net::TcpStream,
        peer: SocketAddr,
        local: SocketAddr,
    ) {
        let _ = stream.set_nodelay(true);
        let (read, write) = stream.into_split();
        self.serve(
            Transport::Tcp,
            peer,
            local,
            MessageReader::framed(read),
            MessageWriter::framed(write),
        )
        .await
    }

    /// Serves one WebSocket (`/cti` on the HTTPS port) to its end.
    pub async fn serve_websocket(
        self: Arc<Self>,
        socket: axum::extract::ws::WebSocket,
        peer: SocketAddr,
        local: SocketAddr,
    ) {
        use futures_util::StreamExt;
        let (sink, stream) = socket.split();
        self.serve(
            Transport::WebSocket,
            peer,
            local,
            MessageReader::WebSocket(stream),
            MessageWriter::WebSocket(sink),
        )
        .await
    }

    async fn serve(
        self: Arc<Self>,
        transport: Transport,
        peer: SocketAddr,
        local: SocketAddr,
        reader: MessageReader,
        writer: MessageWriter,
    ) {
        let before = self.connections.fetch_add(1, Ordering::Relaxed);
        if before >= self.max_connections().saturating_mul(2) {
            // Far beyond the limit (connections that never open a provider): closed at once,
            // without reading, so that idle sockets cannot pile up.
            self.connections.fetch_sub(1, Ordering::Relaxed);
            self.tracer.emit_default(
                Service::Cti,
                &TraceEvent::CtiConnectionClosed {
                    transport: transport.name().into(),
                    peer: peer.to_string(),
                    provider_id: None,
                    reason: ErrorName::MaxNumberOfCtiConnectionsReached.as_str().into(),
                },
            );
            return;
        }
        self.tracer.emit_default(
            Service::Cti,
            &TraceEvent::CtiConnectionAccepted {
                transport: transport.name().into(),
                peer: peer.to_string(),
                local: local.to_string(),
            },
        );
        connection::run(self.clone(), transport, peer, local, reader, writer).await;
        self.connections.fetch_sub(1, Ordering::Relaxed);
    }

    /// Follows call control's registration events and tells the watchers of each device whose
    /// state changed; and its call events, told to the watchers of each device concerned that
    /// asked for call events. One task, one subscription of each for the whole node. After
    /// missed registration events every watched device's state is read again; after missed
    /// call events the live calls are (`Calls::list`), and the difference is told.
    pub fn spawn_device_events(self: &Arc<Self>) -> JoinHandle<()> {
        let manager = self.clone();
        let mut events = self.callctl.subscribe();
        let mut calls = self.callctl.calls().subscribe();
        tokio::spawn(async move {
            let mut registrations_open = true;
            let mut calls_open = true;
            while registrations_open || calls_open {
                tokio::select! {
                    event = events.recv(), if registrations_open => match event {
                        Ok(event) => {
                            let reason = match event.change {
                                RegistrationChange::Expired => {
                                    OutOfServiceReason::RegistrationExpired
                                }
                                _ => OutOfServiceReason::Unregistered,
                            };
                            // The hub's current state, not the event's: events of one device
                            // published concurrently may arrive out of order.
                            let now = manager.callctl.is_in_service(&event.device);
                            manager.device_changed(&event.device, now, reason);
                        }
                        Err(RecvError::Lagged(_)) => {
                            for device in manager.registry.watched() {
                                let now = manager.callctl.is_in_service(&device);
                                manager.device_changed(
                                    &device,
                                    now,
                                    OutOfServiceReason::Unregistered,
                                );
                            }
                        }
                        Err(RecvError::Closed) => registrations_open = false,
                    },
                    event = calls.recv(), if calls_open => match event {
                        Ok(event) => {
                            let traces = manager.registry.call_event(&event);
                            manager.trace_all(traces);
                        }
                        Err(RecvError::Lagged(missed)) => manager.resync_calls(missed),
                        Err(RecvError::Closed) => calls_open = false,
                    },
                }
            }
        })
    }

    /// Call events were missed: the live calls are read again and the difference told.
    fn resync_calls(&self, missed: u64) {
        let live = self.callctl.calls().list();
        self.tracer.emit_default(
            Service::Cti,
            &TraceEvent::CtiCallsResynchronised {
                live: live.len(),
                missed,
            },
        );
        let traces = self.registry.resync_calls(&live);
        self.trace_all(traces);
    }

    /// Writes traces of events sent, in one batch.
    pub(crate) fn trace_all(&self, traces: Vec<TraceEvent>) {
        if traces.is_empty() {
            return;
        }
        let mut signal = self.tracer.signal(Service::Cti);
        for t in &traces {
            signal.emit_default(t);
        }
    }

    /// A device's state is `in_service` now: tells its watchers if that is news.
    pub fn device_changed(&self, device: &str, in_service: bool, reason: OutOfServiceReason) {
        let told = self.registry.changed(device, in_service, reason);
        if told.is_empty() {
            return;
        }
        let mut signal = self.tracer.signal(Service::Cti);
        for t in told {
            let event = if in_service {
                TraceEvent::CtiDeviceInServiceEvent {
                    handle: t.handle,
                    device: device.into(),
                    provider_id: t.provider_id,
                }
            } else {
                TraceEvent::CtiDeviceOutOfServiceEvent {
                    handle: t.handle,
                    device: device.into(),
                    provider_id: t.provider_id,
                    reason: reason_text(reason).into(),
                }
            };
            signal.emit_default(&event);
        }
    }

    /// A device was deleted from the configuration: its watchers see it go out of service
    /// (`device_removed`); their handles stay open until closed.
    pub fn device_removed(&self, device: &str) {
        self.device_changed(device, false, OutOfServiceReason::DeviceRemoved);
    }
}

/// The wire name of an out-of-service reason.
pub(crate) fn reason_text(reason: OutOfServiceReason) -> &'static str {
    match reason {
        OutOfServiceReason::Unregistered => "unregistered",
        OutOfServiceReason::RegistrationExpired => "registration_expired",
        OutOfServiceReason::DeviceRemoved => "device_removed",
    }
}
