//! The CTI Manager's listening sockets: plain TCP (2748) and TLS (2749, the node's certificate,
//! reloaded live when it is regenerated). Each accepted connection is served by its own task;
//! a TLS handshake must finish within [`HANDSHAKE_TIMEOUT`]. The ports are read when the node
//! starts (as CUCM's CTI Manager, a port change applies on restart).

use std::net::SocketAddr;
use std::sync::{Arc, RwLock};
use std::time::Duration;

use anyhow::Context;
use switchboard_pki::{ClientAuth, NodeIdentity};
use tokio::net::TcpListener;
use tokio::sync::watch;
use tokio::task::JoinHandle;
use tokio_rustls::TlsAcceptor;

use crate::connection::Transport;
use crate::manager::CtiManager;

/// Longest a TLS handshake may take.
pub const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);

/// The running listeners.
pub struct CtiListeners {
    /// Where plain TCP is accepted.
    pub tcp: SocketAddr,
    /// Where TLS is accepted.
    pub tls: SocketAddr,
    tasks: Vec<JoinHandle<()>>,
}

impl CtiListeners {
    /// Binds both sockets and starts accepting.
    pub async fn start(
        manager: Arc<CtiManager>,
        tcp: SocketAddr,
        tls: SocketAddr,
        mut identity: watch::Receiver<Arc<NodeIdentity>>,
    ) -> anyhow::Result<CtiListeners> {
        let tcp_listener =
            listen(tcp).with_context(|| format!("cannot listen for CTI on {tcp}"))?;
        let tls_listener =
            listen(tls).with_context(|| format!("cannot listen for CTI over TLS on {tls}"))?;
        let acceptor = Arc::new(RwLock::new(tls_acceptor(&identity.borrow_and_update())?));
        let mut tasks = Vec::new();
        let (tcp, tls) = (tcp_listener.local_addr()?, tls_listener.local_addr()?);
        {
            let acceptor = acceptor.clone();
            tasks.push(tokio::spawn(async move {
                while identity.changed().await.is_ok() {
                    let id = identity.borrow_and_update().clone();
                    match tls_acceptor(&id) {
                        Ok(a) => {
                            if let Ok(mut slot) = acceptor.write() {
                                *slot = a;
                            }
                        }
                        Err(e) => {
                            tracing::error!(error = %e, "CTI TLS keeps its previous certificate")
                        }
                    }
                }
            }));
        }
        let manager_tcp = manager.clone();
        tasks.push(tokio::spawn(accept_loop(
            tcp_listener,
            move |stream, peer| {
                let manager = manager_tcp.clone();
                tokio::spawn(async move { manager.serve_tcp(stream, peer, tcp).await });
            },
        )));
        tasks.push(tokio::spawn(accept_loop(
            tls_listener,
            move |stream, peer| {
                let manager = manager.clone();
                let acceptor = acceptor.read().map(|a| a.clone()).ok();
                tokio::spawn(async move {
                    let Some(acceptor) = acceptor else { return };
                    let _ = stream.set_nodelay(true);
                    match tokio::time::timeout(HANDSHAKE_TIMEOUT, acceptor.accept(stream)).await {
                        Ok(Ok(tls_stream)) => {
                            manager
                                .serve_stream(tls_stream, Transport::Tls, peer, tls)
                                .await
                        }
                        Ok(Err(e)) => {
                            tracing::debug!(%peer, error = %e, "CTI TLS handshake failed")
                        }
                        Err(_) => tracing::debug!(%peer, "CTI TLS handshake timed out"),
                    }
                });
            },
        )));
        Ok(CtiListeners { tcp, tls, tasks })
    }

    /// Stops accepting (connections being served run to their end).
    pub fn stop(&self) {
        for t in &self.tasks {
            t.abort();
        }
    }
}

impl Drop for CtiListeners {
    fn drop(&mut self) {
        self.stop();
    }
}

/// Connections the kernel may hold waiting for `accept`: when many applications reconnect at
/// once (after a failover) the default 128 overflows and each dropped SYN costs its client a
/// one-second retry.
pub const LISTEN_BACKLOG: u32 = 4096;

fn listen(addr: SocketAddr) -> std::io::Result<TcpListener> {
    let socket = if addr.is_ipv4() {
        tokio::net::TcpSocket::new_v4()?
    } else {
        tokio::net::TcpSocket::new_v6()?
    };
    socket.set_reuseaddr(true)?;
    socket.bind(addr)?;
    socket.listen(LISTEN_BACKLOG)
}

fn tls_acceptor(identity: &NodeIdentity) -> anyhow::Result<TlsAcceptor> {
    let config = switchboard_pki::server_config(identity, &[], ClientAuth::None, &[])?;
    Ok(TlsAcceptor::from(config))
}

async fn accept_loop(listener: TcpListener, on_accept: impl Fn(tokio::net::TcpStream, SocketAddr)) {
    loop {
        match listener.accept().await {
            Ok((stream, peer)) => on_accept(stream, peer),
            // Out of file descriptors, or a connection reset before it was accepted: wait a
            // little rather than spin.
            Err(e) => {
                tracing::warn!(error = %e, "CTI accept failed");
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
        }
    }
}
