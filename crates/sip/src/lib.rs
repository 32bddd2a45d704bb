//! The SIP adapter of a node: runs the sans-IO SIP core (`switchboard-sip-proto`) over UDP,
//! TCP and TLS sockets, keeps the location service, authenticates registrations, and publishes
//! them into call control; routes calls between registered lines as a back-to-back user agent
//! (`b2bua.rs`) and publishes their states into call control's call model. It knows the store (devices, profiles, parameters) and call control,
//! never the CTI Manager.

pub mod b2bua;
pub mod bearer;
pub mod devices;
pub mod dialplan;
pub mod dispatch;
pub mod limiter;
pub mod listeners;
pub mod location;
pub mod registrar;
pub mod transport;

use std::net::SocketAddr;
use std::sync::{Arc, RwLock};
use std::time::{Duration, Instant};

use switchboard_callctl::CallControl;
use switchboard_pki::{ClientAuth, NodeIdentity};
use switchboard_store::Store;
use switchboard_trace::Tracer;
use tokio::net::UdpSocket;
use tokio::sync::watch;
use tokio::task::JoinHandle;
use transport::StreamPort;

pub use b2bua::B2bua;
pub use bearer::{BearerIdentity, BearerVerifier, EdgeProxyNames, PortKind};
pub use dispatch::Dispatcher;
pub use limiter::LimiterConfig;
pub use listeners::Listeners;
pub use registrar::{Inbound, Registrar};
pub use transport::{Flows, TransportLimits};

/// Where the SIP service listens.
#[derive(Debug, Clone, Default)]
pub struct SipSockets {
    pub udp: Vec<SocketAddr>,
    pub tcp: Vec<SocketAddr>,
    pub tls: Vec<SocketAddr>,
    /// SIP OAuth (5090): TLS, bearer registration.
    pub oauth: Vec<SocketAddr>,
    /// SIP MRA OAuth (5091): mutual TLS from edge proxies, bearer registration.
    pub mra_oauth: Vec<SocketAddr>,
}

/// The SIP service's settings.
#[derive(Debug, Clone, Default)]
pub struct SipConfig {
    pub sockets: SipSockets,
    pub limits: TransportLimits,
    pub auth_limits: LimiterConfig,
}

/// A socket the service is bound to: (service, transport, address).
pub type Bound = (&'static str, &'static str, SocketAddr);

/// A running SIP service.
pub struct SipService {
    pub registrar: Arc<Registrar>,
    pub flows: Arc<Flows>,
    /// Calls between registered lines.
    pub b2bua: Arc<B2bua>,
    /// The listening sockets, rebound live when the node's ports change.
    pub listeners: Arc<Listeners>,
    /// The edge proxies admitted on the MRA port (from `expresswayconfiguration`).
    pub edge_proxies: Arc<EdgeProxyNames>,
    stop: watch::Sender<bool>,
    tasks: Vec<JoinHandle<()>>,
}

fn tls_acceptor(
    identity: &NodeIdentity,
    trust: &[String],
    client_auth: ClientAuth,
) -> Result<tokio_rustls::TlsAcceptor, switchboard_pki::PkiError> {
    // Mutual TLS with an empty trust store: only the node's own certificate is an anchor, so
    // every peer certificate fails with `unknown_ca`, as the seed's Cenário 3 shows.
    let own;
    let trust = if client_auth == ClientAuth::Required && trust.is_empty() {
        own = [identity.cert_pem.clone()];
        &own[..]
    } else {
        trust
    };
    let config = switchboard_pki::server_config(identity, trust, client_auth, &[])?;
    Ok(tokio_rustls::TlsAcceptor::from(config))
}

/// The TLS acceptors in use, rebuilt together when the certificate or trust store changes:
/// client certificates optional (5061, and 5090 where presenting one is refused) or required
/// (5091).
struct TlsAcceptors {
    optional: transport::AcceptorSlot,
    required: transport::AcceptorSlot,
}

impl TlsAcceptors {
    fn build(identity: &NodeIdentity, trust: &[String]) -> anyhow::Result<TlsAcceptors> {
        Ok(TlsAcceptors {
            optional: Arc::new(RwLock::new(tls_acceptor(
                identity,
                trust,
                ClientAuth::Optional,
            )?)),
            required: Arc::new(RwLock::new(tls_acceptor(
                identity,
                trust,
                ClientAuth::Required,
            )?)),
        })
    }

    fn rebuild(&self, identity: &NodeIdentity, trust: &[String]) {
        for (slot, auth) in [
            (&self.optional, ClientAuth::Optional),
            (&self.required, ClientAuth::Required),
        ] {
            match tls_acceptor(identity, trust, auth) {
                Ok(acceptor) => {
                    if let Ok(mut s) = slot.write() {
                        *s = acceptor;
                    }
                }
                Err(e) => tracing::error!(error = %e, "SIP TLS keeps its previous certificate"),
            }
        }
    }
}

/// Receive buffer asked for on UDP sockets. Bursts (and any pause of the receive loop) queue
/// here instead of being dropped: 8 MiB holds a few seconds of REGISTERs at benchmark rates.
/// The kernel caps it at `net.core.rmem_max` (docs/operations.md).
const UDP_RECEIVE_BUFFER: usize = 8 << 20;
const UDP_SEND_BUFFER: usize = 4 << 20;

/// A UDP socket with large kernel buffers, registered with the runtime.
pub(crate) fn bind_udp(addr: SocketAddr) -> std::io::Result<UdpSocket> {
    use socket2::{Domain, Protocol, Socket, Type};
    let socket = Socket::new(Domain::for_address(addr), Type::DGRAM, Some(Protocol::UDP))?;
    // Best effort: a smaller buffer than asked for still works.
    let _ = socket.set_recv_buffer_size(UDP_RECEIVE_BUFFER);
    let _ = socket.set_send_buffer_size(UDP_SEND_BUFFER);
    socket.set_nonblocking(true)?;
    socket.bind(&addr.into())?;
    tracing::debug!(
        %addr,
        receive_buffer = socket.recv_buffer_size().unwrap_or(0),
        "SIP UDP socket bound"
    );
    UdpSocket::from_std(socket.into())
}

impl SipService {
    /// Binds every socket (failing if one cannot be bound) and starts serving.
    #[allow(clippy::too_many_arguments)]
    pub async fn start(
        config: SipConfig,
        store: Store,
        tracer: Tracer,
        callctl: Arc<CallControl>,
        node_name: String,
        mut identity: watch::Receiver<Arc<NodeIdentity>>,
        mut trust: watch::Receiver<Arc<Vec<String>>>,
    ) -> anyhow::Result<SipService> {
        let registrar = Arc::new(Registrar::new(
            store,
            tracer.clone(),
            callctl.clone(),
            node_name,
            config.auth_limits,
        ));
        registrar.reload_params().await;
        registrar.preload_devices().await;
        let flows = Arc::new(Flows::default());
        let b2bua = Arc::new(B2bua::new(
            registrar.clone(),
            callctl.clone(),
            flows.clone(),
            tracer.clone(),
        ));
        callctl.attach_phone_control(b2bua.clone());
        let dispatcher =
            Arc::new(Dispatcher::new(registrar.clone(), tracer).with_b2bua(b2bua.clone()));
        let (stop, stopped) = watch::channel(false);
        let mut tasks = Vec::new();
        let edge_proxies = Arc::new(EdgeProxyNames::default());
        let acceptors =
            TlsAcceptors::build(&identity.borrow_and_update(), &trust.borrow_and_update())?;
        let plain = StreamPort {
            tls: None,
            kind: PortKind::Standard,
            edge_proxies: None,
        };
        let secure = StreamPort {
            tls: Some(acceptors.optional.clone()),
            ..plain.clone()
        };
        let oauth = StreamPort {
            kind: PortKind::OAuth,
            ..secure.clone()
        };
        let mra_oauth = StreamPort {
            tls: Some(acceptors.required.clone()),
            kind: PortKind::MraOAuth,
            edge_proxies: Some(edge_proxies.clone()),
        };
        let listeners = Arc::new(Listeners::new(
            dispatcher,
            flows.clone(),
            config.limits,
            stopped.clone(),
            vec![
                ("sip", plain),
                ("sip-secure", secure),
                ("sip-oauth", oauth),
                ("sip-mra-oauth", mra_oauth),
            ],
        ));
        let started = async {
            listeners.start_udp(&config.sockets.udp).await?;
            listeners.start("sip", &config.sockets.tcp).await?;
            listeners.start("sip-secure", &config.sockets.tls).await?;
            listeners.start("sip-oauth", &config.sockets.oauth).await?;
            listeners
                .start("sip-mra-oauth", &config.sockets.mra_oauth)
                .await
        };
        if let Err(e) = started.await {
            listeners.stop_all().await;
            return Err(e);
        }
        // The certificate and the trust store are followed live.
        {
            let mut stopped = stopped.clone();
            tasks.push(tokio::spawn(async move {
                loop {
                    tokio::select! {
                        _ = transport::until_stopped(&mut stopped) => return,
                        r = identity.changed() => if r.is_err() { return },
                        r = trust.changed() => if r.is_err() { return },
                    }
                    acceptors.rebuild(&identity.borrow_and_update(), &trust.borrow_and_update());
                }
            }));
        }
        // Bindings expire on time.
        {
            let registrar = registrar.clone();
            let mut stopped = stopped.clone();
            tasks.push(tokio::spawn(async move {
                loop {
                    let now = Instant::now();
                    let next = registrar.next_deadline().unwrap_or(now + Duration::from_secs(1)).min(now + Duration::from_secs(1));
                    tokio::select! {
                        _ = transport::until_stopped(&mut stopped) => return,
                        _ = tokio::time::sleep_until(next.into()) => registrar.expire(Instant::now()),
                    }
                }
            }));
        }
        // Call transactions' timers (retransmissions over UDP, timeouts).
        {
            let b2bua = b2bua.clone();
            let mut stopped = stopped.clone();
            tasks.push(tokio::spawn(async move {
                let mut every = tokio::time::interval(Duration::from_millis(50));
                every.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Skip);
                loop {
                    tokio::select! {
                        _ = transport::until_stopped(&mut stopped) => return,
                        _ = every.tick() => b2bua.tick(Instant::now()),
                    }
                }
            }));
        }
        Ok(SipService {
            registrar,
            flows,
            b2bua,
            listeners,
            edge_proxies,
            stop,
            tasks,
        })
    }

    /// Every socket the service listens on: (service, transport, address).
    pub fn bound(&self) -> Vec<Bound> {
        self.listeners.bound()
    }

    /// Stops every listener and connection.
    pub async fn shutdown(self) {
        self.listeners.stop_all().await;
        let _ = self.stop.send(true);
        for task in self.tasks {
            let _ = task.await;
        }
    }
}
