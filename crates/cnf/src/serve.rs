//! The plain-HTTP listener (HTTP/1.1, hyper): `GET|HEAD /<DeviceName>.cnf.xml` and nothing
//! else. Every request is answered from the store and traced (service `config`).
//!
//! Limits, so that slow or oversized requests cannot hold the service: a request head must
//! arrive within [`Limits::header_read_timeout`] (the same timer closes idle keep-alive
//! connections), it may not exceed 16 KiB (`431`), a request with a body is refused (`400`),
//! and at most [`Limits::max_connections`] connections are served at once (more are closed at
//! accept). Errors are a short `text/plain` line; bad requests also close the connection.

use std::convert::Infallible;
use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use http_body_util::Full;
use hyper::body::{Body, Incoming};
use hyper::header::{self, HeaderValue};
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper::{Method, Request, Response, StatusCode};
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::server::graceful::GracefulShutdown;
use switchboard_store::Store;
use switchboard_trace::{Service, TraceEvent, Tracer};
use tokio::sync::Semaphore;

use crate::error::CnfError;
use crate::generate::device_config;
use crate::load::load_device_config;
use crate::request::parse_request_path;

/// The `Content-Type` of a config file.
pub const CONTENT_TYPE: &str = "text/xml; charset=utf-8";
/// The largest request head read (request line and headers).
const MAX_HEAD_BYTES: usize = 16 * 1024;
/// How much of a refused path a trace line shows.
const TRACED_PATH_CHARS: usize = 80;

/// The service's limits.
#[derive(Debug, Clone)]
pub struct Limits {
    /// Time allowed for a request head to arrive, and for an idle connection to send the next.
    pub header_read_timeout: Duration,
    /// Connections served at once.
    pub max_connections: usize,
    /// At shutdown, how long requests in flight may take to finish.
    pub shutdown_grace: Duration,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            header_read_timeout: Duration::from_secs(10),
            max_connections: 1024,
            shutdown_grace: Duration::from_secs(5),
        }
    }
}

struct ConfigFiles {
    store: Store,
    tracer: Tracer,
}

/// Serves config files on `listener` until `shutdown` resolves; then stops accepting and
/// lets requests in flight finish (up to [`Limits::shutdown_grace`]).
pub async fn serve(
    listener: std::net::TcpListener,
    store: Store,
    tracer: Tracer,
    limits: Limits,
    shutdown: impl Future<Output = ()> + Send,
) -> std::io::Result<()> {
    listener.set_nonblocking(true)?;
    let listener = tokio::net::TcpListener::from_std(listener)?;
    let files = Arc::new(ConfigFiles { store, tracer });
    let connections = Arc::new(Semaphore::new(limits.max_connections));
    let graceful = GracefulShutdown::new();
    let mut http = http1::Builder::new();
    http.timer(TokioTimer::new())
        .header_read_timeout(limits.header_read_timeout)
        .max_buf_size(MAX_HEAD_BYTES);
    tokio::pin!(shutdown);
    loop {
        let (stream, peer) = tokio::select! {
            _ = &mut shutdown => break,
            accepted = listener.accept() => match accepted {
                Ok(accepted) => accepted,
                Err(e) => {
                    // Out of descriptors and the like: wait a little rather than spin.
                    tracing::warn!(error = %e, "config file service: accept failed");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
            },
        };
        let Ok(permit) = connections.clone().try_acquire_owned() else {
            drop(stream);
            continue;
        };
        let files = files.clone();
        let service = service_fn(move |request| {
            let files = files.clone();
            async move { Ok::<_, Infallible>(files.answer(request, peer).await) }
        });
        let connection = graceful.watch(http.serve_connection(TokioIo::new(stream), service));
        tokio::spawn(async move {
            // A connection ending in an error (timeout, reset, bad head) concerns only it.
            let _ = connection.await;
            drop(permit);
        });
    }
    drop(listener);
    tokio::select! {
        _ = graceful.shutdown() => {}
        _ = tokio::time::sleep(limits.shutdown_grace) => {}
    }
    Ok(())
}

impl ConfigFiles {
    async fn answer(&self, request: Request<Incoming>, peer: SocketAddr) -> Response<Full<Bytes>> {
        match self.config_file(&request).await {
            Ok((device, xml)) => {
                self.tracer.emit_default(
                    Service::Config,
                    &TraceEvent::ConfigFileServed {
                        device,
                        peer: peer.to_string(),
                        bytes: xml.len(),
                    },
                );
                let mut response = Response::new(Full::new(Bytes::from(xml)));
                let headers = response.headers_mut();
                headers.insert(header::CONTENT_TYPE, HeaderValue::from_static(CONTENT_TYPE));
                headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
                response
            }
            Err(error) => {
                if let CnfError::Store(e) = &error {
                    tracing::error!(error = %e, "config file service: store read failed");
                }
                let status = StatusCode::from_u16(error.status())
                    .unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
                self.tracer.emit_default(
                    Service::Config,
                    &TraceEvent::ConfigFileRefused {
                        peer: peer.to_string(),
                        path: request
                            .uri()
                            .path()
                            .chars()
                            .take(TRACED_PATH_CHARS)
                            .collect(),
                        status: status.as_u16(),
                        reason: error.to_string(),
                    },
                );
                error_response(status, &error)
            }
        }
    }

    /// The device name and its file, or why not.
    async fn config_file(&self, request: &Request<Incoming>) -> Result<(String, String), CnfError> {
        if request.method() != Method::GET && request.method() != Method::HEAD {
            return Err(CnfError::MethodNotAllowed);
        }
        if request.body().size_hint().exact() != Some(0) {
            return Err(CnfError::BodyNotAllowed);
        }
        let device = parse_request_path(request.uri().path(), request.uri().query())?;
        let input = load_device_config(&self.store, device)
            .await?
            .ok_or(CnfError::UnknownDevice)?;
        let xml = device_config(&input);
        Ok((input.device_name, xml))
    }
}

fn error_response(status: StatusCode, error: &CnfError) -> Response<Full<Bytes>> {
    let reason = status.canonical_reason().unwrap_or("Error");
    let text = match error {
        // The store's message is for the trace, not for the network.
        CnfError::Store(_) => format!("{} {reason}\n", status.as_u16()),
        _ => format!("{} {reason}: {error}\n", status.as_u16()),
    };
    let mut response = Response::new(Full::new(Bytes::from(text)));
    *response.status_mut() = status;
    let headers = response.headers_mut();
    headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/plain; charset=utf-8"),
    );
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
    if status == StatusCode::METHOD_NOT_ALLOWED {
        headers.insert(header::ALLOW, HeaderValue::from_static("GET, HEAD"));
    }
    if status == StatusCode::BAD_REQUEST || status == StatusCode::METHOD_NOT_ALLOWED {
        headers.insert(header::CONNECTION, HeaderValue::from_static("close"));
    }
    response
}
