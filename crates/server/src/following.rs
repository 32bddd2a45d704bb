//! A TCP listener that follows its node's configured port: bound at start (a port in use fails
//! start-up), moved live when an administrator changes the node's port (the old listener lets
//! its requests in flight finish), left where it is — and traced — when the new port cannot be
//! bound, stopped at shutdown. The HTTPS API and the config file service are such listeners;
//! the SIP listeners follow through `switchboard_sip::Listeners::rebind`.

use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;

use switchboard_http::ApiState;
use switchboard_store::model::NodePorts;
use switchboard_trace::{Service, TraceEvent};
use tokio::sync::{broadcast, watch};
use tokio::task::JoinHandle;

/// Where a following listener listens.
#[derive(Debug, Clone, Copy)]
pub enum ListenerSocket {
    /// Exactly this socket, whatever the database says (a `listen.*` setting).
    Fixed(SocketAddr),
    /// The node's configured port on this address, following changes.
    Configured(IpAddr),
}

/// One running server: where it listens and how to stop it.
pub(crate) struct Served {
    pub addr: SocketAddr,
    stop: watch::Sender<bool>,
    task: JoinHandle<std::io::Result<()>>,
}

impl Served {
    /// Runs `serve(until_stopped)` for the listener bound on `addr`.
    pub fn spawn<F>(addr: SocketAddr, serve: impl FnOnce(StopSignal) -> F) -> Served
    where
        F: std::future::Future<Output = std::io::Result<()>> + Send + 'static,
    {
        let (stop, mut stop_rx) = watch::channel(false);
        let signal: StopSignal = Box::pin(async move { stopped(&mut stop_rx).await });
        let task = tokio::spawn(serve(signal));
        Served { addr, stop, task }
    }

    /// Stops accepting and waits for the requests in flight.
    pub async fn stop(self) -> std::io::Result<()> {
        let _ = self.stop.send(true);
        self.task
            .await
            .unwrap_or_else(|e| Err(std::io::Error::other(e)))
    }
}

/// Resolves when a [`Served`] is told to stop.
pub(crate) type StopSignal = std::pin::Pin<Box<dyn std::future::Future<Output = ()> + Send>>;

/// Resolves once `flag` is set (or its sender is gone).
pub(crate) async fn stopped(flag: &mut watch::Receiver<bool>) {
    let _ = flag.wait_for(|s| *s).await;
}

/// What a following listener is: its name in traces and which of the node's ports it takes.
pub(crate) struct Following {
    /// "HTTPS", "config file"…
    pub label: &'static str,
    pub port_of: fn(&NodePorts) -> u32,
}

impl Following {
    /// Starts the listener on `socket` (the node's configured `port` for
    /// [`ListenerSocket::Configured`]) and follows the node's changes until `shutdown`.
    pub fn spawn(
        self,
        state: Arc<ApiState>,
        socket: ListenerSocket,
        port: u32,
        start: impl Fn(&Arc<ApiState>, SocketAddr) -> anyhow::Result<Served> + Send + Sync + 'static,
        mut shutdown: watch::Receiver<bool>,
    ) -> anyhow::Result<JoinHandle<std::io::Result<()>>> {
        let first = match socket {
            ListenerSocket::Fixed(addr) => addr,
            ListenerSocket::Configured(ip) => SocketAddr::new(ip, port as u16),
        };
        let mut current = start(&state, first)?;
        let mut changes = state.changes.subscribe();
        Ok(tokio::spawn(async move {
            loop {
                tokio::select! {
                    _ = stopped(&mut shutdown) => break,
                    change = changes.recv() => {
                        let relevant = match change {
                            Ok(c) => c.object_type == "callmanager" && c.object_id == state.node_name,
                            Err(broadcast::error::RecvError::Lagged(_)) => true,
                            Err(broadcast::error::RecvError::Closed) => false,
                        };
                        if let (true, ListenerSocket::Configured(ip)) = (relevant, socket) {
                            current = self.follow(&state, current, ip, &start).await;
                        }
                    }
                }
            }
            current.stop().await
        }))
    }

    /// Moves the listener when the node's configured port differs from the one it listens on.
    async fn follow(
        &self,
        state: &Arc<ApiState>,
        current: Served,
        ip: IpAddr,
        start: &impl Fn(&Arc<ApiState>, SocketAddr) -> anyhow::Result<Served>,
    ) -> Served {
        let Ok(node) = state.store.get_node(&state.node_name).await else {
            return current;
        };
        let wanted = SocketAddr::new(ip, (self.port_of)(&node.ports) as u16);
        if wanted.port() == current.addr.port() {
            return current;
        }
        let label = self.label;
        match start(state, wanted) {
            Ok(next) => {
                if let Err(e) = current.stop().await {
                    tracing::warn!(error = %e, "the previous {label} listener ended with an error");
                }
                next
            }
            Err(e) => {
                tracing::error!(error = %format!("{e:#}"), "{label} stays on {}", current.addr);
                state.tracer.emit_default(
                    Service::Node,
                    &TraceEvent::Text {
                        text: format!(
                            "{label} listener not moved to {wanted}: {e:#}; it stays on {}",
                            current.addr
                        ),
                    },
                );
                current
            }
        }
    }
}
