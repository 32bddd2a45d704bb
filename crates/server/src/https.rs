//! The HTTPS listener's lifecycle: bound on the node's configured `https` port (or the fixed
//! socket of `listen.https`), and moved live to a new port when an administrator changes it;
//! the old listener lets its requests in flight finish. The address the CLI uses
//! (`<data-dir>/node.url`) follows.

use std::net::{IpAddr, SocketAddr};
use std::path::PathBuf;
use std::sync::Arc;

use anyhow::Context;
use switchboard_http::ApiState;
use tokio::sync::watch;
use tokio::task::JoinHandle;

use crate::following::{Following, ListenerSocket, Served};

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

/// Starts the HTTPS service on `socket` and follows the node's `https` port; the address the
/// CLI uses (`<data-dir>/node.url`) follows too.
pub fn start(
    state: Arc<ApiState>,
    socket: ListenerSocket,
    port: u32,
    data_dir: PathBuf,
    shutdown: watch::Receiver<bool>,
) -> anyhow::Result<JoinHandle<std::io::Result<()>>> {
    let following = Following {
        label: "HTTPS",
        port_of: |ports| ports.https,
    };
    let start = move |state: &Arc<ApiState>, addr: SocketAddr| {
        let listener = std::net::TcpListener::bind(addr)
            .with_context(|| format!("cannot listen for HTTPS on {addr}"))?;
        let addr = listener.local_addr()?;
        state.set_listener("https", "tcp", addr);
        std::fs::write(data_dir.join("node.url"), format!("{}\n", local_url(addr)))?;
        let state = state.clone();
        Ok(Served::spawn(addr, move |stop| {
            switchboard_http::serve_https(listener, state, stop)
        }))
    };
    following.spawn(state, socket, port, start, shutdown)
}
