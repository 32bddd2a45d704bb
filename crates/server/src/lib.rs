//! A Switchboard node as a library: configuration, first-start bootstrap and the wiring of the
//! services. The binary boots it, and so do the integration tests (in-process, ephemeral
//! ports).

pub mod bootstrap;
pub mod config;
mod config_http;
mod following;
mod https;

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::{Arc, RwLock};

use anyhow::Context;
use switchboard_auth::secretbox::SecretKey;
use switchboard_http::ApiState;
use switchboard_pki::CertDir;
use switchboard_store::{Store, StoreConfig};
use switchboard_trace::{Level, Service, TraceConfig, TraceEvent, Tracer};
use tokio::sync::watch;

pub use bootstrap::BootstrapReport;
pub use config::{Backend, NodeConfig};
pub use switchboard_authn::NodeCrypto;
pub use switchboard_trace::{local_offset, UtcOffset};

/// Options of `switchboard serve` beyond the configuration file.
#[derive(Debug, Clone, Default)]
pub struct StartOptions {
    /// Seed the seed's lab (user wwhite and his devices).
    pub demo: bool,
    /// The local UTC offset for trace timestamps, read before any thread started.
    pub utc_offset: Option<switchboard_trace::UtcOffset>,
}

/// A running node.
pub struct RunningNode {
    pub state: Arc<ApiState>,
    pub data_dir: PathBuf,
    pub report: BootstrapReport,
    shutdown: watch::Sender<bool>,
    https: tokio::task::JoinHandle<std::io::Result<()>>,
    config_http: tokio::task::JoinHandle<std::io::Result<()>>,
    pub sip: switchboard_sip::SipService,
    follower: tokio::task::JoinHandle<()>,
    oauth_refresher: tokio::task::JoinHandle<()>,
    cti_listeners: switchboard_cti::CtiListeners,
    cti_events: tokio::task::JoinHandle<()>,
}

fn create_private_dir(path: &Path) -> anyhow::Result<()> {
    std::fs::create_dir_all(path).with_context(|| format!("cannot create {}", path.display()))?;
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o700))?;
    }
    Ok(())
}

/// Starts a node: opens (creating) its data directory and database, bootstraps what is missing,
/// and starts its listeners.
pub async fn start(config: NodeConfig, options: StartOptions) -> anyhow::Result<RunningNode> {
    config.check()?;
    let data_dir = config.data_dir.clone();
    create_private_dir(&data_dir)?;
    let node_name = config.node_name();
    let tracer = {
        let trace_config = TraceConfig {
            dir: data_dir.join("traces"),
            max_file_bytes: config.trace.max_file_bytes,
            max_files: config.trace.max_files,
        };
        match options.utc_offset {
            Some(offset) => Tracer::open_with_offset(trace_config, offset),
            None => Tracer::open(trace_config),
        }
        .context("cannot open the trace directory")?
    };
    tracer.emit_default(
        Service::Node,
        &TraceEvent::NodeStarting {
            node: node_name.clone(),
            version: env!("CARGO_PKG_VERSION").into(),
        },
    );

    let key = SecretKey::load_or_create(data_dir.join("secret.key"))
        .context("cannot load the node's secret key")?;
    let store_config = match config.store.backend {
        Backend::Sqlite => StoreConfig::Sqlite {
            path: data_dir.join("switchboard.db"),
        },
        Backend::Postgres => StoreConfig::Postgres {
            url: config.store.url.clone().unwrap_or_default(),
        },
    };
    let store = Store::open(&store_config, Arc::new(NodeCrypto(key)))
        .await
        .context("cannot open the database")?;
    store.ensure_param_defaults().await?;
    let node = bootstrap::register_node(&store, &node_name, &config.advertise()).await?;
    for (service, level) in store.trace_levels(&node_name).await? {
        if let (Ok(service), Ok(level)) = (service.parse::<Service>(), level.parse::<Level>()) {
            tracer.set_level(service, level);
        }
    }

    let mut report = BootstrapReport::default();
    bootstrap::ensure_admin(&store, &data_dir, &mut report).await?;
    if options.demo {
        bootstrap::seed_demo(&store, &data_dir, &mut report).await?;
    }

    let certs = CertDir::new(data_dir.join("certs"));
    let mut extra_sans = vec![node.address.clone()];
    let host = gethostname::gethostname().to_string_lossy().to_string();
    if !host.is_empty() && host != node_name {
        extra_sans.push(host);
    }
    let (identity, created) = certs
        .load_or_generate_tomcat(&node_name, &extra_sans)
        .context("cannot load or create the node's certificate")?;
    if created {
        let info = identity.info();
        tracer.emit_default(
            Service::Node,
            &TraceEvent::CertificateGenerated {
                subject: info.subject,
                fingerprint: info.sha256_fingerprint,
            },
        );
    }
    let trust: Vec<String> = store
        .list_trust()
        .await?
        .into_iter()
        .map(|t| t.pem)
        .collect();

    let authenticator = switchboard_authn::Authenticator::new(store.clone(), tracer.clone());
    let oauth =
        switchboard_oauth::OAuthService::open(store.clone(), tracer.clone(), authenticator.clone())
            .await
            .context("cannot start the OAuth authorization server")?;
    let oauth_refresher = oauth.spawn_refresher(OAUTH_REFRESH);

    let callctl = Arc::new(switchboard_callctl::CallControl::new());
    let cti_keys = switchboard_cti::keys::load_or_create(&data_dir.join("cti.key"))
        .context("cannot load the node's CTI key")?;
    let cti = switchboard_cti::CtiManager::new(
        switchboard_cti::CtiConfig::default(),
        store.clone(),
        tracer.clone(),
        authenticator.clone(),
        Arc::new(OAuthCtiTokens(oauth.clone())),
        cti_keys,
        callctl.clone(),
    );
    let cti_events = cti.spawn_device_events();
    apply_cti_params(&store, &cti).await;

    let state = Arc::new(ApiState {
        store,
        tracer,
        node_name,
        certs,
        extra_sans,
        identity: watch::Sender::new(Arc::new(identity)),
        trust: watch::Sender::new(Arc::new(trust)),
        listeners: Arc::new(RwLock::new(Vec::new())),
        changes: tokio::sync::broadcast::channel(64).0,
        callctl,
        oauth,
        authenticator,
        cti,
    });

    let sip_socket = |over: Option<SocketAddr>, port: u32| {
        vec![over.unwrap_or_else(|| SocketAddr::new(config.listen.address, port as u16))]
    };
    let sip_config = switchboard_sip::SipConfig {
        sockets: switchboard_sip::SipSockets {
            udp: sip_socket(config.listen.sip_udp, node.ports.sip),
            tcp: sip_socket(config.listen.sip_tcp, node.ports.sip),
            tls: sip_socket(config.listen.sip_tls, node.ports.sip_secure),
            oauth: sip_socket(config.listen.sip_oauth, node.ports.sip_oauth),
            mra_oauth: sip_socket(config.listen.sip_mra_oauth, node.ports.sip_mra_oauth),
        },
        ..Default::default()
    };
    let sip = switchboard_sip::SipService::start(
        sip_config,
        state.store.clone(),
        state.tracer.clone(),
        state.callctl.clone(),
        state.node_name.clone(),
        state.identity.subscribe(),
        state.trust.subscribe(),
    )
    .await?;
    sip.registrar
        .set_bearer_verifier(Arc::new(OAuthBearer(state.oauth.clone())));
    for (service, transport, addr) in sip.bound() {
        state.set_listener(service, transport, addr);
    }
    // SIP services not pinned by the node file follow the node's configured ports live.
    let sip_followed: Vec<SipPortRule> = [
        (
            "sip",
            config.listen.sip_udp.is_none() && config.listen.sip_tcp.is_none(),
        ),
        ("sip-secure", config.listen.sip_tls.is_none()),
        ("sip-oauth", config.listen.sip_oauth.is_none()),
        ("sip-mra-oauth", config.listen.sip_mra_oauth.is_none()),
    ]
    .into_iter()
    .filter(|(_, followed)| *followed)
    .map(|(service, _)| SipPortRule {
        service,
        ip: config.listen.address,
    })
    .collect();
    load_edge_proxies(&state, &sip.edge_proxies).await;
    let follower = tokio::spawn(follow_changes(
        state.clone(),
        sip.registrar.clone(),
        sip.edge_proxies.clone(),
        sip.listeners.clone(),
        sip_followed,
    ));

    let cti_socket = |over: Option<SocketAddr>, port: u32| {
        over.unwrap_or_else(|| SocketAddr::new(config.listen.address, port as u16))
    };
    let cti_listeners = switchboard_cti::CtiListeners::start(
        state.cti.clone(),
        cti_socket(config.listen.cti, node.ports.cti),
        cti_socket(config.listen.cti_tls, node.ports.cti_tls),
        state.identity.subscribe(),
    )
    .await?;
    state.set_listener("cti", "tcp", cti_listeners.tcp);
    state.set_listener("cti-tls", "tcp", cti_listeners.tls);

    let (shutdown, shutdown_rx) = watch::channel(false);
    let config_http_socket = match config.listen.config_http {
        Some(addr) => following::ListenerSocket::Fixed(addr),
        None => following::ListenerSocket::Configured(config.listen.address),
    };
    let config_http = config_http::start(
        state.clone(),
        config_http_socket,
        node.ports.config_http,
        switchboard_cnf::Limits::default(),
        shutdown.subscribe(),
    )?;
    let socket = match config.listen.https {
        Some(addr) => following::ListenerSocket::Fixed(addr),
        None => following::ListenerSocket::Configured(config.listen.address),
    };
    let https = https::start(
        state.clone(),
        socket,
        node.ports.https,
        data_dir.clone(),
        shutdown_rx,
    )?;
    Ok(RunningNode {
        state,
        data_dir,
        report,
        shutdown,
        https,
        config_http,
        sip,
        follower,
        oauth_refresher,
        cti_listeners,
        cti_events,
    })
}

/// The scope a token needs to register a device.
const SIP_SCOPE: &str = "sip";

/// The node's OAuth service as the SIP registrar's bearer-token verifier (the token must carry
/// the `sip` scope).
struct OAuthBearer(Arc<switchboard_oauth::OAuthService>);

impl switchboard_sip::BearerVerifier for OAuthBearer {
    fn verify(&self, token: &str) -> Result<switchboard_sip::BearerIdentity, String> {
        let t = self
            .0
            .verify_access_token(token)
            .map_err(|e| e.to_string())?;
        if !t.scope.split(' ').any(|s| s == SIP_SCOPE) {
            return Err(format!(
                "the token's scope '{}' lacks '{SIP_SCOPE}'",
                t.scope
            ));
        }
        Ok(switchboard_sip::BearerIdentity {
            user: t.subject.clone(),
            device: t.device.clone(),
            expires_at: t.expires_at,
        })
    }
}

/// Applies the CTI Manager's parameters (`CtiMaxConnections`).
async fn apply_cti_params(store: &Store, cti: &switchboard_cti::CtiManager) {
    if let Ok(limit) = store.param_i64("CtiMaxConnections").await {
        cti.set_max_connections(limit.max(1) as usize);
    }
}

/// The scope a token needs to open a CTI provider.
const CTI_SCOPE: &str = "cti";

/// The node's OAuth service as the CTI Manager's access-token verifier (the token must carry
/// the `cti` scope).
struct OAuthCtiTokens(Arc<switchboard_oauth::OAuthService>);

impl switchboard_cti::TokenVerifier for OAuthCtiTokens {
    fn verify(&self, access_token: &str) -> Result<String, String> {
        let t = self
            .0
            .verify_access_token(access_token)
            .map_err(|e| e.to_string())?;
        if !t.scope.split(' ').any(|s| s == CTI_SCOPE) {
            return Err(format!(
                "the token's scope '{}' lacks '{CTI_SCOPE}'",
                t.scope
            ));
        }
        Ok(t.subject.clone())
    }
}

/// Reads the edge-proxy entries (CN/SAN lists) the MRA port admits.
async fn load_edge_proxies(state: &ApiState, edge: &switchboard_sip::EdgeProxyNames) {
    match state.store.list_expressways().await {
        Ok(entries) => edge.set(entries.iter().map(|e| e.x509subjectnameoraltname.as_str())),
        Err(e) => tracing::error!(error = %e, "edge-proxy entries not loaded"),
    }
}

/// How often the OAuth state (keys, issuers, revocations) is read again, so that changes made
/// on other nodes of a cluster take effect here.
const OAUTH_REFRESH: std::time::Duration = std::time::Duration::from_secs(5);

/// A SIP service that listens on the node's configured port for it.
struct SipPortRule {
    service: &'static str,
    ip: std::net::IpAddr,
}

impl SipPortRule {
    fn port(&self, ports: &switchboard_store::model::NodePorts) -> u32 {
        match self.service {
            "sip" => ports.sip,
            "sip-secure" => ports.sip_secure,
            "sip-oauth" => ports.sip_oauth,
            _ => ports.sip_mra_oauth,
        }
    }
}

/// Moves the SIP listeners whose configured port changed (the new socket first; if it cannot
/// be bound the old one keeps serving and the failure is traced).
async fn follow_sip_ports(
    state: &ApiState,
    listeners: &switchboard_sip::Listeners,
    rules: &[SipPortRule],
) {
    let Ok(node) = state.store.get_node(&state.node_name).await else {
        return;
    };
    for rule in rules {
        let wanted = SocketAddr::new(rule.ip, rule.port(&node.ports) as u16);
        let current = listeners.address_of(rule.service);
        if current.map(|a| a.port()) == Some(wanted.port()) {
            continue;
        }
        match listeners.rebind(rule.service, wanted).await {
            Ok(bound) => {
                for (service, transport, addr) in bound {
                    state.set_listener(service, transport, addr);
                }
            }
            Err(e) => state.tracer.emit_default(
                Service::Node,
                &TraceEvent::Text {
                    text: format!(
                        "{} listener not moved to {wanted}: {e:#}; it stays on {}",
                        rule.service,
                        current.map(|a| a.to_string()).unwrap_or_default()
                    ),
                },
            ),
        }
    }
}

/// Applies configuration changes to the running services.
async fn follow_changes(
    state: Arc<ApiState>,
    registrar: Arc<switchboard_sip::Registrar>,
    edge: Arc<switchboard_sip::EdgeProxyNames>,
    listeners: Arc<switchboard_sip::Listeners>,
    sip_ports: Vec<SipPortRule>,
) {
    let mut changes = state.changes.subscribe();
    loop {
        let change = match changes.recv().await {
            Ok(c) => Some(c),
            Err(tokio::sync::broadcast::error::RecvError::Lagged(_)) => None,
            Err(tokio::sync::broadcast::error::RecvError::Closed) => return,
        };
        let kind = change.as_ref().map(|c| c.object_type.as_str());
        match (kind, &change) {
            // One device changed: only it is read again, on its next REGISTER; CTI watchers
            // of a deleted device see it go out of service.
            (Some("device"), Some(c)) => {
                registrar.device_changed(&c.object_id);
                if matches!(
                    state.store.get_device(&c.object_id).await,
                    Err(switchboard_store::StoreError::NotFound { .. })
                ) {
                    state.cti.device_removed(&c.object_id);
                }
            }
            // A line's devices are read again for the next call that dials it.
            (Some("line"), _) => registrar.lines_changed(),
            // A profile may touch any device; after missed changes anything may have: reload
            // the whole cache so registrations keep being served from memory.
            (Some("securityprofile"), _) | (None, _) => {
                registrar.devices_changed();
                registrar.preload_devices().await;
            }
            _ => {}
        }
        // User changes reach the CTI Manager from the API handlers directly; after missed
        // changes anything may have changed.
        if kind.is_none() {
            state.cti.users_changed();
        }
        if matches!(kind, None | Some("processconfig")) {
            registrar.reload_params().await;
            apply_cti_params(&state.store, &state.cti).await;
        }
        if matches!(kind, None | Some("expresswayconfiguration")) {
            load_edge_proxies(&state, &edge).await;
        }
        let this_node = change
            .as_ref()
            .is_none_or(|c| c.object_type == "callmanager" && c.object_id == state.node_name);
        if this_node && !sip_ports.is_empty() {
            follow_sip_ports(&state, &listeners, &sip_ports).await;
        }
        // Keys, issuers, revocations, users and the OAuth parameters (issuer, audience,
        // expiry) live in the OAuth service's memory.
        if matches!(
            kind,
            None | Some(
                "oauthkey"
                    | "oauthrefreshtoken"
                    | "oauthissuer"
                    | "enduser"
                    | "user"
                    | "processconfig"
                    | "callmanager"
            )
        ) {
            if let Err(e) = state.oauth.reload().await {
                tracing::warn!(error = %e, "could not reload the OAuth state");
            }
        }
    }
}

impl RunningNode {
    /// Where the HTTPS API listens now.
    pub fn https_addr(&self) -> SocketAddr {
        self.listener_addr("https")
    }

    /// Where the config file service (`GET /<DeviceName>.cnf.xml`) listens now.
    pub fn config_http_addr(&self) -> SocketAddr {
        self.listener_addr(config_http::LISTENER_NAME)
    }

    /// The TCP socket `service` listens on (127.0.0.1:0 when it does not).
    fn listener_addr(&self, service: &str) -> SocketAddr {
        self.state
            .listeners
            .read()
            .ok()
            .and_then(|l| {
                l.iter()
                    .find(|x| x.service == service && x.transport == "tcp")
                    .and_then(|x| x.address.parse().ok())
            })
            .unwrap_or_else(|| SocketAddr::from(([127, 0, 0, 1], 0)))
    }

    /// The base URL of the config file service from this machine (`http://127.0.0.1:6970`).
    pub fn config_http_url(&self) -> String {
        format!("http://{}", https::local_authority(self.config_http_addr()))
    }

    /// The URL of the HTTPS API, as the CLI reaches it.
    pub fn api_url(&self) -> String {
        https::local_url(self.https_addr())
    }

    /// Stops the listeners (letting requests in flight finish), flushes traces, closes the
    /// database.
    pub async fn shutdown(self) -> anyhow::Result<()> {
        let _ = self.shutdown.send(true);
        let served = self.https.await;
        let config_files = self.config_http.await;
        self.follower.abort();
        self.oauth_refresher.abort();
        self.cti_listeners.stop();
        self.cti_events.abort();
        self.sip.shutdown().await;
        self.state.tracer.emit_default(
            Service::Node,
            &TraceEvent::NodeStopping {
                node: self.state.node_name.clone(),
            },
        );
        self.state.tracer.flush();
        self.state.store.close().await;
        let _ = std::fs::remove_file(self.data_dir.join("node.url"));
        served??;
        config_files??;
        Ok(())
    }
}
