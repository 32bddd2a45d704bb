//! The config file service's listener (plain HTTP on the node's `config_http` port, 6970):
//! bound at start (a port in use fails start-up), moved live when an administrator changes the
//! node's port (the old listener lets its requests finish), stopped at shutdown. The service
//! itself is `switchboard_cnf::serve`.

use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;

use anyhow::Context;
use switchboard_cnf::Limits;
use switchboard_http::ApiState;
use switchboard_trace::{Service, TraceEvent};
use tokio::sync::{broadcast, watch};
use tokio::task::JoinHandle;

use crate::https::stopped;

/// The name `switchboard ports` shows for this listener.
pub const LISTENER_NAME: &str = "config-http";

/// Where the config file service listens.
#[derive(Debug, Clone)]
pub enum ConfigHttpSocket {
    /// Exactly this socket, whatever the database says (`listen.config_http`).
    Fixed(SocketAddr),
    /// The node's configured `config_http` port on this address, following changes.
    Configured(IpAddr),
}

/// One running listener.
struct Served {
    addr: SocketAddr,
    stop: watch::Sender<bool>,
    task: JoinHandle<std::io::Result<()>>,
}

impl Served {
    fn start(state: &Arc<ApiState>, addr: SocketAddr, limits: &Limits) -> anyhow::Result<Served> {
        let listener = std::net::TcpListener::bind(addr)
            .with_context(|| format!("cannot listen for config files (HTTP) on {addr}"))?;
        let addr = listener.local_addr()?;
        state.set_listener(LISTENER_NAME, "tcp", addr);
        let (stop, mut stop_rx) = watch::channel(false);
        let task = tokio::spawn(switchboard_cnf::serve(
            listener,
            state.store.clone(),
            state.tracer.clone(),
            limits.clone(),
            async move { stopped(&mut stop_rx).await },
        ));
        Ok(Served { addr, stop, task })
    }

    async fn stop(self) -> std::io::Result<()> {
        let _ = self.stop.send(true);
        self.task
            .await
            .unwrap_or_else(|e| Err(std::io::Error::other(e)))
    }
}

/// The config file service of a node, running until `shutdown` is set.
pub struct ConfigHttpService {
    pub task: JoinHandle<std::io::Result<()>>,
}

impl ConfigHttpService {
    /// Binds the listener now and follows the node's configured port.
    pub fn start(
        state: Arc<ApiState>,
        socket: ConfigHttpSocket,
        port: u32,
        limits: Limits,
        mut shutdown: watch::Receiver<bool>,
    ) -> anyhow::Result<ConfigHttpService> {
        let first = match &socket {
            ConfigHttpSocket::Fixed(addr) => *addr,
            ConfigHttpSocket::Configured(ip) => SocketAddr::new(*ip, port as u16),
        };
        let mut current = Served::start(&state, first, &limits)?;
        let mut changes = state.changes.subscribe();
        let task = tokio::spawn(async move {
            loop {
                tokio::select! {
                    _ = stopped(&mut shutdown) => break,
                    change = changes.recv() => {
                        let relevant = match change {
                            Ok(c) => c.object_type == "callmanager" && c.object_id == state.node_name,
                            Err(broadcast::error::RecvError::Lagged(_)) => true,
                            Err(broadcast::error::RecvError::Closed) => false,
                        };
                        let ConfigHttpSocket::Configured(ip) = socket else { continue };
                        if relevant {
                            current = follow(&state, current, ip, &limits).await;
                        }
                    }
                }
            }
            current.stop().await
        });
        Ok(ConfigHttpService { task })
    }
}

/// Moves the listener when the node's configured port differs from the one it listens on.
async fn follow(state: &Arc<ApiState>, current: Served, ip: IpAddr, limits: &Limits) -> Served {
    let Ok(node) = state.store.get_node(&state.node_name).await else {
        return current;
    };
    let wanted = SocketAddr::new(ip, node.ports.config_http as u16);
    if wanted.port() == current.addr.port() {
        return current;
    }
    match Served::start(state, wanted, limits) {
        Ok(next) => {
            if let Err(e) = current.stop().await {
                tracing::warn!(error = %e, "the previous config file listener ended with an error");
            }
            next
        }
        Err(e) => {
            tracing::error!(error = %format!("{e:#}"), "config files stay on {}", current.addr);
            state.tracer.emit_default(
                Service::Node,
                &TraceEvent::Text {
                    text: format!(
                        "Config file listener not moved to {wanted}: {e:#}; it stays on {}",
                        current.addr
                    ),
                },
            );
            current
        }
    }
}
