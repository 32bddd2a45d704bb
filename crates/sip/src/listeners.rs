//! The SIP listening sockets of a node, by service (`sip` = UDP + TCP, `sip-secure`,
//! `sip-oauth`, `sip-mra-oauth`), rebound live when the node's ports change: the new socket
//! is bound first (a port that cannot be bound leaves the old one serving), then the old
//! listener stops accepting. Connections already open stay up until they close or the
//! service stops.

use std::net::SocketAddr;
use std::sync::{Arc, Mutex};

use tokio::net::TcpListener;
use tokio::sync::watch;
use tokio::task::JoinHandle;

use crate::dispatch::Dispatcher;
use crate::transport::{self, Flows, StreamPort, TransportLimits};
use crate::Bound;

struct Running {
    service: &'static str,
    transport: &'static str,
    addr: SocketAddr,
    stop: watch::Sender<bool>,
    task: JoinHandle<()>,
}

/// What every listener of the service is started with.
pub struct Listeners {
    dispatcher: Arc<Dispatcher>,
    flows: Arc<Flows>,
    limits: TransportLimits,
    /// Stops every connection (the service is stopping).
    connections_stop: watch::Receiver<bool>,
    /// The stream port (TLS or not, kind) of each stream service.
    ports: Vec<(&'static str, StreamPort)>,
    running: Mutex<Vec<Running>>,
}

impl Listeners {
    pub(crate) fn new(
        dispatcher: Arc<Dispatcher>,
        flows: Arc<Flows>,
        limits: TransportLimits,
        connections_stop: watch::Receiver<bool>,
        ports: Vec<(&'static str, StreamPort)>,
    ) -> Listeners {
        Listeners {
            dispatcher,
            flows,
            limits,
            connections_stop,
            ports,
            running: Mutex::new(Vec::new()),
        }
    }

    fn port(&self, service: &str) -> anyhow::Result<StreamPort> {
        self.ports
            .iter()
            .find(|(s, _)| *s == service)
            .map(|(_, p)| p.clone())
            .ok_or_else(|| anyhow::anyhow!("no SIP service named {service}"))
    }

    /// Binds `service`'s sockets on `addr` (`sip`: UDP and/or TCP as `with_udp`/`with_tcp`
    /// say; the others: TCP) and starts serving them; nothing is kept when one of them cannot
    /// be bound.
    async fn bind(
        &self,
        service: &'static str,
        addr: SocketAddr,
        with_udp: bool,
        with_tcp: bool,
    ) -> anyhow::Result<Vec<Running>> {
        let mut started: Vec<Running> = Vec::new();
        let result = self
            .bind_into(service, addr, with_udp, with_tcp, &mut started)
            .await;
        if let Err(e) = result {
            for r in started {
                let _ = r.stop.send(true);
            }
            return Err(e);
        }
        Ok(started)
    }

    async fn bind_into(
        &self,
        service: &'static str,
        addr: SocketAddr,
        with_udp: bool,
        with_tcp: bool,
        started: &mut Vec<Running>,
    ) -> anyhow::Result<()> {
        if with_udp {
            let socket = Arc::new(
                crate::bind_udp(addr)
                    .map_err(|e| anyhow::anyhow!("cannot bind SIP UDP {addr}: {e}"))?,
            );
            let bound = socket.local_addr()?;
            let (stop, stopped) = watch::channel(false);
            let task = tokio::spawn(transport::serve_udp(
                socket,
                self.dispatcher.clone(),
                self.flows.clone(),
                self.limits,
                stopped,
            ));
            started.push(Running {
                service,
                transport: "udp",
                addr: bound,
                stop,
                task,
            });
        }
        if !with_tcp {
            return Ok(());
        }
        let port = self.port(service)?;
        let listener = TcpListener::bind(addr)
            .await
            .map_err(|e| anyhow::anyhow!("cannot bind {service} {addr}: {e}"))?;
        let bound = listener.local_addr()?;
        let (stop, stopped) = watch::channel(false);
        let task = tokio::spawn(transport::serve_stream(
            listener,
            port,
            self.dispatcher.clone(),
            self.flows.clone(),
            self.limits,
            stopped,
            self.connections_stop.clone(),
        ));
        started.push(Running {
            service,
            transport: "tcp",
            addr: bound,
            stop,
            task,
        });
        Ok(())
    }

    /// Starts SIP over UDP on each of `addrs` (at start-up).
    pub(crate) async fn start_udp(&self, addrs: &[SocketAddr]) -> anyhow::Result<()> {
        for addr in addrs {
            let started = self.bind("sip", *addr, true, false).await?;
            if let Ok(mut running) = self.running.lock() {
                running.extend(started);
            }
        }
        Ok(())
    }

    /// Starts the stream listeners of `service` on each of `addrs` (at start-up).
    pub(crate) async fn start(
        &self,
        service: &'static str,
        addrs: &[SocketAddr],
    ) -> anyhow::Result<()> {
        for addr in addrs {
            let started = self.bind(service, *addr, false, true).await?;
            if let Ok(mut running) = self.running.lock() {
                running.extend(started);
            }
        }
        Ok(())
    }

    /// Moves `service` to `addr` (`sip`: UDP and TCP both): binds it there, then stops its
    /// previous listeners. Returns the new sockets.
    pub async fn rebind(
        &self,
        service: &'static str,
        addr: SocketAddr,
    ) -> anyhow::Result<Vec<Bound>> {
        let started = self.bind(service, addr, service == "sip", true).await?;
        let bound: Vec<Bound> = started
            .iter()
            .map(|r| (r.service, r.transport, r.addr))
            .collect();
        let old: Vec<Running> = match self.running.lock() {
            Ok(mut running) => {
                let (old, keep) = running.drain(..).partition(|r| r.service == service);
                *running = keep;
                running.extend(started);
                old
            }
            Err(_) => Vec::new(),
        };
        for r in old {
            let _ = r.stop.send(true);
            let _ = r.task.await;
        }
        Ok(bound)
    }

    /// Every socket served now.
    pub fn bound(&self) -> Vec<Bound> {
        self.running
            .lock()
            .map(|r| r.iter().map(|r| (r.service, r.transport, r.addr)).collect())
            .unwrap_or_default()
    }

    /// Where `service` listens now (its first socket).
    pub fn address_of(&self, service: &str) -> Option<SocketAddr> {
        self.running
            .lock()
            .ok()?
            .iter()
            .find(|r| r.service == service)
            .map(|r| r.addr)
    }

    /// Stops every listener.
    pub(crate) async fn stop_all(&self) {
        let all: Vec<Running> = match self.running.lock() {
            Ok(mut running) => running.drain(..).collect(),
            Err(_) => Vec::new(),
        };
        for r in all {
            let _ = r.stop.send(true);
            let _ = r.task.await;
        }
    }
}
