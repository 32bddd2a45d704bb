//! The HTTPS service (8443): the provisioning API (JSON, described by the OpenAPI document at
//! `/api/openapi.json`), authenticated by admin tokens or admin credentials, and the OAuth
//! authorization server's endpoints (`/oauth/…`, [`oauth`]).
//!
//! Only this crate knows HTTP and JSON shapes. It serves over rustls with the node's tomcat
//! certificate and reloads it live: [`ApiState::identity`] and [`ApiState::trust`] are watch
//! channels, and every TLS listener of the node (this one included) rebuilds its configuration
//! when they change.

pub mod api;
pub mod error;
pub mod extract;
pub mod oauth;
mod openapi;

use std::net::SocketAddr;
use std::sync::{Arc, RwLock};
use std::time::Duration;

use axum::extract::DefaultBodyLimit;
use axum::Router;
use serde::{Deserialize, Serialize};
use switchboard_pki::{CertDir, ClientAuth, NodeIdentity};
use switchboard_store::Store;
use switchboard_trace::{Service, TraceEvent, Tracer};
use tokio::sync::watch;
use utoipa::ToSchema;

pub use openapi::openapi;

/// A socket the node listens on (for `switchboard ports`).
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema, PartialEq, Eq)]
pub struct ListenerInfo {
    /// e.g. "https", "sip", "cti".
    pub service: String,
    /// "tcp" or "udp".
    pub transport: String,
    pub address: String,
}

/// Everything the handlers share.
pub struct ApiState {
    pub store: Store,
    pub tracer: Tracer,
    pub node_name: String,
    pub certs: CertDir,
    /// Extra names for the tomcat certificate (besides the node name, localhost, loopback).
    pub extra_sans: Vec<String>,
    /// The current tomcat identity; TLS listeners follow it.
    pub identity: watch::Sender<Arc<NodeIdentity>>,
    /// The current trust store (PEMs); mutual-TLS listeners follow it.
    pub trust: watch::Sender<Arc<Vec<String>>>,
    /// The node's listening sockets.
    pub listeners: Arc<RwLock<Vec<ListenerInfo>>>,
    /// Every configuration change made through the API, for the parts of the node that
    /// follow their configuration live (listeners rebinding to a new port, ...).
    pub changes: tokio::sync::broadcast::Sender<ConfigChange>,
    /// Call control: live registrations and device state.
    pub callctl: Arc<switchboard_callctl::CallControl>,
    /// The OAuth authorization server (token issuance and verification).
    pub oauth: Arc<switchboard_oauth::OAuthService>,
    /// End-user authentication (local users, the credential policy).
    pub authenticator: switchboard_authn::Authenticator,
    /// The CTI Manager, whose WebSocket transport is `/cti` on this port.
    pub cti: Arc<switchboard_cti::CtiManager>,
}

/// A configuration object changed (the store's table name and key).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfigChange {
    pub object_type: String,
    pub object_id: String,
}

impl ApiState {
    /// Traces a configuration change (the audit log is written by the store) and tells the
    /// parts of the node that follow their configuration.
    pub fn changed(
        &self,
        actor: &extract::Actor,
        action: &str,
        object_type: &str,
        object_id: &str,
    ) {
        let _ = self.changes.send(ConfigChange {
            object_type: object_type.into(),
            object_id: object_id.into(),
        });
        self.tracer.emit_default(
            Service::Api,
            &TraceEvent::ConfigChanged {
                actor: actor.0.clone(),
                action: action.into(),
                object_type: object_type.into(),
                object_id: object_id.into(),
            },
        );
    }

    /// Reads the trust store again and tells the TLS listeners.
    pub async fn reload_trust(&self) -> Result<(), switchboard_store::StoreError> {
        let pems = self
            .store
            .list_trust()
            .await?
            .into_iter()
            .map(|t| t.pem)
            .collect();
        self.trust.send_replace(Arc::new(pems));
        Ok(())
    }

    /// Records the socket a service listens on (replacing its previous one).
    pub fn set_listener(&self, service: &str, transport: &str, addr: SocketAddr) {
        if let Ok(mut l) = self.listeners.write() {
            l.retain(|x| !(x.service == service && x.transport == transport));
            l.push(ListenerInfo {
                service: service.into(),
                transport: transport.into(),
                address: addr.to_string(),
            });
        }
        self.tracer.emit_default(
            Service::Node,
            &TraceEvent::ListenerBound {
                service_name: service.into(),
                transport: transport.into(),
                addr,
            },
        );
    }
}

/// The whole HTTPS application: the authenticated API plus the open health and OpenAPI routes.
pub fn router(state: Arc<ApiState>) -> Router {
    let (api, _) = openapi::api_router().split_for_parts();
    let api = api.layer(axum::middleware::from_fn_with_state(
        state.clone(),
        extract::require_admin,
    ));
    let open = Router::new()
        .route("/api/health", axum::routing::get(api::ops::health))
        .route(
            "/api/openapi.json",
            axum::routing::get(|| async { axum::Json(openapi()) }),
        )
        .route("/cti", axum::routing::get(cti_websocket));
    open.merge(api)
        .merge(oauth::router(state.clone()))
        .fallback(|| async {
            error::ApiError::new(
                axum::http::StatusCode::NOT_FOUND,
                "not_found",
                "no such endpoint; see /api/openapi.json",
            )
        })
        .layer(DefaultBodyLimit::max(extract::MAX_BODY))
        .layer(tower_http::timeout::TimeoutLayer::with_status_code(
            axum::http::StatusCode::REQUEST_TIMEOUT,
            Duration::from_secs(30),
        ))
        .with_state(state)
}

/// `GET /cti`: the CTI protocol over WebSocket (one JSON message per text frame; the CTI
/// Manager authenticates the provider, not the HTTP layer).
async fn cti_websocket(
    axum::extract::State(state): axum::extract::State<Arc<ApiState>>,
    axum::extract::ConnectInfo(peer): axum::extract::ConnectInfo<SocketAddr>,
    upgrade: axum::extract::ws::WebSocketUpgrade,
) -> axum::response::Response {
    let local = state
        .listeners
        .read()
        .ok()
        .and_then(|l| {
            l.iter()
                .find(|x| x.service == "https")
                .and_then(|x| x.address.parse().ok())
        })
        .unwrap_or_else(|| SocketAddr::from(([0, 0, 0, 0], 0)));
    let cti = state.cti.clone();
    // Frames above the protocol's 64 KiB are refused by the CTI layer with FRAME_TOO_LARGE;
    // the WebSocket layer stops far larger ones before they are buffered.
    upgrade
        .max_message_size(4 * switchboard_cti_proto::MAX_FRAME_LEN)
        .max_frame_size(4 * switchboard_cti_proto::MAX_FRAME_LEN)
        .on_upgrade(move |socket| cti.serve_websocket(socket, peer, local))
}

/// Serves the API over TLS on `listener` until `shutdown` resolves, reloading the certificate
/// whenever [`ApiState::identity`] changes.
pub async fn serve_https(
    listener: std::net::TcpListener,
    state: Arc<ApiState>,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    let mut identity_rx = state.identity.subscribe();
    let config = tls_config(&identity_rx.borrow_and_update())?;
    let rustls_config = axum_server::tls_rustls::RustlsConfig::from_config(config);
    let reloader = {
        let rustls_config = rustls_config.clone();
        let tracer = state.tracer.clone();
        tokio::spawn(async move {
            while identity_rx.changed().await.is_ok() {
                let identity = identity_rx.borrow_and_update().clone();
                match tls_config(&identity) {
                    Ok(config) => {
                        rustls_config.reload_from_config(config);
                        let info = identity.info();
                        tracer.emit_default(
                            Service::Node,
                            &TraceEvent::CertificateReloaded {
                                subject: info.subject,
                                fingerprint: info.sha256_fingerprint,
                            },
                        );
                    }
                    Err(e) => tracing::error!(error = %e, "could not load the new certificate"),
                }
            }
        })
    };
    let handle = axum_server::Handle::new();
    let shutdown_handle = handle.clone();
    tokio::spawn(async move {
        shutdown.await;
        shutdown_handle.graceful_shutdown(Some(Duration::from_secs(5)));
    });
    listener.set_nonblocking(true)?;
    let mut server = axum_server::from_tcp_rustls(listener, rustls_config).handle(handle);
    server
        .http_builder()
        .http1()
        .timer(hyper_util::rt::TokioTimer::new())
        .header_read_timeout(Duration::from_secs(10));
    let result = server
        .serve(router(state).into_make_service_with_connect_info::<SocketAddr>())
        .await;
    reloader.abort();
    result
}

fn tls_config(identity: &NodeIdentity) -> std::io::Result<Arc<rustls::ServerConfig>> {
    switchboard_pki::server_config(identity, &[], ClientAuth::None, &[b"h2", b"http/1.1"])
        .map_err(|e| std::io::Error::other(e.to_string()))
}
