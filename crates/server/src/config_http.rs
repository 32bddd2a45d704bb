//! The config file service's listener (plain HTTP on the node's `config_http` port, 6970):
//! bound at start (a port in use fails start-up), moved live when an administrator changes the
//! node's port (the old listener lets its requests finish), stopped at shutdown. The service
//! itself is `switchboard_cnf::serve`.

use std::net::SocketAddr;
use std::sync::Arc;

use anyhow::Context;
use switchboard_cnf::Limits;
use switchboard_http::ApiState;
use tokio::sync::watch;
use tokio::task::JoinHandle;

use crate::following::{Following, ListenerSocket, Served};

/// The name `switchboard ports` shows for this listener.
pub const LISTENER_NAME: &str = "config-http";

/// Starts the config file service on `socket` and follows the node's `config_http` port.
pub fn start(
    state: Arc<ApiState>,
    socket: ListenerSocket,
    port: u32,
    limits: Limits,
    shutdown: watch::Receiver<bool>,
) -> anyhow::Result<JoinHandle<std::io::Result<()>>> {
    let following = Following {
        label: "Config file",
        port_of: |ports| ports.config_http,
    };
    let start = move |state: &Arc<ApiState>, addr: SocketAddr| {
        let listener = std::net::TcpListener::bind(addr)
            .with_context(|| format!("cannot listen for config files (HTTP) on {addr}"))?;
        let addr = listener.local_addr()?;
        state.set_listener(LISTENER_NAME, "tcp", addr);
        let (store, tracer, limits) = (state.store.clone(), state.tracer.clone(), limits.clone());
        Ok(Served::spawn(addr, move |stop| {
            switchboard_cnf::serve(listener, store, tracer, limits, stop)
        }))
    };
    following.spawn(state, socket, port, start, shutdown)
}
