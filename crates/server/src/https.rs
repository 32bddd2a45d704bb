//! The HTTPS listener's lifecycle: bound on the node's configured `https` port (or the fixed
//! socket of `listen.https`), and moved live to a new port when an administrator changes it;
//! the old listener lets its requests in flight finish. The address the CLI uses
//! (`<data-dir>/node.url`) follows.

use std::net::{IpAddr, SocketAddr};
use std::path::PathBuf;
use std::sync::Arc;

use anyhow::Context;
use switchboard_http::ApiState;
use switchboard_trace::{Service, TraceEvent};
use tokio::sync::{broadcast, watch};
use tokio::task::JoinHandle;

/// The URL a client on this machine reaches `addr` at.
pub fn local_url(addr: SocketAddr) -> String {
    format!("https://{}", local_authority(addr))
}

/// `host:port` for a client on this machine: a wildcard address becomes the loopback one.
pub fn local_authority(addr: SocketAddr) -> String {
    let ip = match addr.ip() {
        IpAddr::V4(v4) if v4.is_unspecified() => "127.0.0.1".to_string(),
        IpAddr::V6(v6) if v6.is_unspecified() => "[::1]".to_string(),
        IpAddr::V6(v6) => format!("[{v6}]"),
        IpAddr::V4(v4) => v4.to_string(),
    };
    format!("{ip}:{}", addr.port())
}

/// Where the HTTPS service listens.
#[derive(Debug, Clone)]
pub enum HttpsSocket {
    /// Exactly this socket, whatever the database says (`listen.https`).
    Fixed(SocketAddr),
    /// The node's configured `https` port on this address, following changes.
    Configured(IpAddr),
}

/// One running HTTPS server.
struct Served {
    addr: SocketAddr,
    stop: watch::Sender<bool>,
    task: JoinHandle<std::io::Result<()>>,
}

impl Served {
    fn start(
        state: &Arc<ApiState>,
        addr: SocketAddr,
        data_dir: &std::path::Path,
    ) -> anyhow::Result<Served> {
        let listener = std::net::TcpListener::bind(addr)
            .with_context(|| format!("cannot listen for HTTPS on {addr}"))?;
        let addr = listener.local_addr()?;
        state.set_listener("https", "tcp", addr);
        std::fs::write(data_dir.join("node.url"), format!("{}\n", local_url(addr)))?;
        let (stop, mut stop_rx) = watch::channel(false);
        let task = tokio::spawn(switchboard_http::serve_https(
            listener,
            state.clone(),
            async move {
                stopped(&mut stop_rx).await;
            },
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

/// Resolves once `flag` is set (or its sender is gone).
pub(crate) async fn stopped(flag: &mut watch::Receiver<bool>) {
    let _ = flag.wait_for(|s| *s).await;
}

/// The HTTPS service of a node, running until `shutdown` is set.
pub struct HttpsService {
    pub task: JoinHandle<std::io::Result<()>>,
}

impl HttpsService {
    /// Binds the listener now (so a bad port fails start-up) and follows the configuration.
    pub fn start(
        state: Arc<ApiState>,
        socket: HttpsSocket,
        port: u32,
        data_dir: PathBuf,
        mut shutdown: watch::Receiver<bool>,
    ) -> anyhow::Result<HttpsService> {
        let first = match &socket {
            HttpsSocket::Fixed(addr) => *addr,
            HttpsSocket::Configured(ip) => SocketAddr::new(*ip, port as u16),
        };
        let mut current = Served::start(&state, first, &data_dir)?;
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
                        let HttpsSocket::Configured(ip) = socket else { continue };
                        if !relevant {
                            continue;
                        }
                        current = follow(&state, current, ip, &data_dir).await;
                    }
                }
            }
            current.stop().await
        });
        Ok(HttpsService { task })
    }
}

/// Moves the listener when the node's configured port differs from the one it listens on.
async fn follow(
    state: &Arc<ApiState>,
    current: Served,
    ip: IpAddr,
    data_dir: &std::path::Path,
) -> Served {
    let Ok(node) = state.store.get_node(&state.node_name).await else {
        return current;
    };
    let wanted = SocketAddr::new(ip, node.ports.https as u16);
    if wanted.port() == current.addr.port() {
        return current;
    }
    match Served::start(state, wanted, data_dir) {
        Ok(next) => {
            if let Err(e) = current.stop().await {
                tracing::warn!(error = %e, "the previous HTTPS listener ended with an error");
            }
            next
        }
        Err(e) => {
            tracing::error!(error = %format!("{e:#}"), "HTTPS stays on {}", current.addr);
            state.tracer.emit_default(
                Service::Node,
                &TraceEvent::Text {
                    text: format!(
                        "HTTPS listener not moved to {wanted}: {e:#}; it stays on {}",
                        current.addr
                    ),
                },
            );
            current
        }
    }
}
