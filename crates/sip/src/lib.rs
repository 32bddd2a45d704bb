//! The SIP adapter of a node: runs the sans-IO SIP core (`switchboard-sip-proto`) over UDP,
//! TCP and TLS sockets, keeps the location service, authenticates registrations, and publishes
//! them into call control. It knows the store (devices, profiles, parameters) and call control,
//! never the CTI Manager.

pub mod devices;
pub mod dispatch;
pub mod limiter;
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
use tokio::net::{TcpListener, UdpSocket};
use tokio::sync::watch;
use tokio::task::JoinHandle;

pub use dispatch::Dispatcher;
pub use limiter::LimiterConfig;
pub use registrar::{Inbound, Registrar};
pub use transport::{Flows, TransportLimits};

/// Where the SIP service listens.
#[derive(Debug, Clone, Default)]
pub struct SipSockets {
    pub udp: Vec<SocketAddr>,
    pub tcp: Vec<SocketAddr>,
    pub tls: Vec<SocketAddr>,
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
    pub bound: Vec<Bound>,
    stop: watch::Sender<bool>,
    tasks: Vec<JoinHandle<()>>,
}

fn tls_acceptor(
    identity: &NodeIdentity,
    trust: &[String],
) -> Result<tokio_rustls::TlsAcceptor, switchboard_pki::PkiError> {
    let config = switchboard_pki::server_config(identity, trust, ClientAuth::Optional, &[])?;
    Ok(tokio_rustls::TlsAcceptor::from(config))
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
            callctl,
            node_name,
            config.auth_limits,
        ));
        registrar.reload_params().await;
        registrar.preload_devices().await;
        let dispatcher = Arc::new(Dispatcher::new(registrar.clone(), tracer));
        let flows = Arc::new(Flows::default());
        let (stop, stopped) = watch::channel(false);
        let mut tasks = Vec::new();
        let mut bound = Vec::new();
        for addr in &config.sockets.udp {
            let socket = Arc::new(
                UdpSocket::bind(addr)
                    .await
                    .map_err(|e| anyhow::anyhow!("cannot bind SIP UDP {addr}: {e}"))?,
            );
            bound.push(("sip", "udp", socket.local_addr()?));
            tasks.push(tokio::spawn(transport::serve_udp(
                socket,
                dispatcher.clone(),
                config.limits,
                stopped.clone(),
            )));
        }
        for addr in &config.sockets.tcp {
            let listener = TcpListener::bind(addr)
                .await
                .map_err(|e| anyhow::anyhow!("cannot bind SIP TCP {addr}: {e}"))?;
            bound.push(("sip", "tcp", listener.local_addr()?));
            tasks.push(tokio::spawn(transport::serve_stream(
                listener,
                None,
                dispatcher.clone(),
                flows.clone(),
                config.limits,
                stopped.clone(),
            )));
        }
        if !config.sockets.tls.is_empty() {
            let acceptor = tls_acceptor(&identity.borrow_and_update(), &trust.borrow_and_update())?;
            let slot: transport::AcceptorSlot = Arc::new(RwLock::new(acceptor));
            for addr in &config.sockets.tls {
                let listener = TcpListener::bind(addr)
                    .await
                    .map_err(|e| anyhow::anyhow!("cannot bind SIP TLS {addr}: {e}"))?;
                bound.push(("sip-secure", "tcp", listener.local_addr()?));
                tasks.push(tokio::spawn(transport::serve_stream(
                    listener,
                    Some(slot.clone()),
                    dispatcher.clone(),
                    flows.clone(),
                    config.limits,
                    stopped.clone(),
                )));
            }
            // The certificate and the trust store are followed live.
            let mut stopped = stopped.clone();
            tasks.push(tokio::spawn(async move {
                loop {
                    tokio::select! {
                        _ = transport::until_stopped(&mut stopped) => return,
                        r = identity.changed() => if r.is_err() { return },
                        r = trust.changed() => if r.is_err() { return },
                    }
                    let built =
                        tls_acceptor(&identity.borrow_and_update(), &trust.borrow_and_update());
                    match built {
                        Ok(acceptor) => {
                            if let Ok(mut s) = slot.write() {
                                *s = acceptor;
                            }
                        }
                        Err(e) => {
                            tracing::error!(error = %e, "SIP TLS keeps its previous certificate")
                        }
                    }
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
        Ok(SipService {
            registrar,
            flows,
            bound,
            stop,
            tasks,
        })
    }

    /// Stops every listener and connection.
    pub async fn shutdown(self) {
        let _ = self.stop.send(true);
        for task in self.tasks {
            let _ = task.await;
        }
    }
}
