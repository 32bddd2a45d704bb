//! Operations: `/api/sql` (read-only queries, the seed's `run sql`), `/api/ports` (the seed's
//! `show open ports`), `/api/trace/levels`, `/api/audit` and the unauthenticated
//! `/api/health`.

use std::sync::Arc;

use axum::extract::{Path, Query, State};
use axum::{Extension, Json};
use serde::{Deserialize, Serialize};
use switchboard_store::model::{AuditEntry, Node, SqlResult};
use switchboard_trace::{Level, Service, TraceEvent};
use utoipa::ToSchema;

use crate::error::{ApiError, ApiResult, ErrorBody};
use crate::extract::{Actor, ApiJson};
use crate::{ApiState, ListenerInfo};

/// A read-only query.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SqlRequest {
    pub query: String,
}

/// Runs one SELECT on the store, read-only; secret columns come back as `<redacted>`.
#[utoipa::path(post, path = "/api/sql", tag = "operations", request_body = SqlRequest,
    responses((status = 200, body = SqlResult), (status = 400, body = ErrorBody)))]
pub async fn sql(
    State(s): State<Arc<ApiState>>,
    Extension(actor): Extension<Actor>,
    ApiJson(req): ApiJson<SqlRequest>,
) -> ApiResult<Json<SqlResult>> {
    let result = s.store.query_read_only(&req.query).await?;
    s.tracer.emit_default(
        Service::Api,
        &TraceEvent::SqlQueryRun {
            actor: actor.0,
            rows: result.rows.len() as u64,
        },
    );
    Ok(Json(result))
}

/// What the node listens on, and every node's configured ports.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct PortsReport {
    pub node: String,
    pub listeners: Vec<ListenerInfo>,
    pub nodes: Vec<Node>,
}

/// The sockets this node listens on (`show open ports`) and the cluster's configured ports.
#[utoipa::path(get, path = "/api/ports", tag = "operations", responses((status = 200, body = PortsReport)))]
pub async fn ports(State(s): State<Arc<ApiState>>) -> ApiResult<Json<PortsReport>> {
    let listeners = s.listeners.read().map(|l| l.clone()).unwrap_or_default();
    Ok(Json(PortsReport {
        node: s.node_name.clone(),
        listeners,
        nodes: s.store.list_nodes().await?,
    }))
}

/// The trace level of one service.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct TraceLevelEntry {
    pub service: String,
    pub level: String,
}

/// A new trace level.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct TraceLevelChange {
    /// error, info, debug or detailed.
    pub level: String,
}

/// The trace level of every service on this node.
#[utoipa::path(get, path = "/api/trace/levels", tag = "operations", responses((status = 200, body = [TraceLevelEntry])))]
pub async fn trace_levels(State(s): State<Arc<ApiState>>) -> Json<Vec<TraceLevelEntry>> {
    Json(
        s.tracer
            .levels()
            .into_iter()
            .map(|(service, level)| TraceLevelEntry {
                service: service.as_str().into(),
                level: level.to_string(),
            })
            .collect(),
    )
}

/// Sets the trace level of a service, at once and across restarts.
#[utoipa::path(put, path = "/api/trace/levels/{service}", tag = "operations", request_body = TraceLevelChange,
    responses((status = 200, body = TraceLevelEntry), (status = 422, body = ErrorBody)))]
pub async fn set_trace_level(
    State(s): State<Arc<ApiState>>,
    Extension(actor): Extension<Actor>,
    Path(service): Path<String>,
    ApiJson(change): ApiJson<TraceLevelChange>,
) -> ApiResult<Json<TraceLevelEntry>> {
    let service: Service = service
        .parse()
        .map_err(|e| ApiError::invalid("service", format!("{e}")))?;
    let level: Level = change
        .level
        .parse()
        .map_err(|e| ApiError::invalid("level", format!("{e}")))?;
    s.store
        .set_trace_level(&actor.0, &s.node_name, service.as_str(), &level.to_string())
        .await?;
    s.tracer.set_level(service, level);
    s.tracer.emit_default(
        Service::Node,
        &TraceEvent::TraceLevelChanged { service, level },
    );
    Ok(Json(TraceLevelEntry {
        service: service.as_str().into(),
        level: level.to_string(),
    }))
}

/// A live registration.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct RegistrationView {
    pub device: String,
    /// The registered contact URI.
    pub contact: String,
    /// udp, tcp or tls.
    pub transport: String,
    /// Where the device registered from.
    pub source: String,
    /// When the binding runs out (seconds since the Unix epoch).
    pub expires_at: u64,
    /// Seconds left.
    pub expires_in: u64,
}

/// The live registrations of this node's devices.
#[utoipa::path(get, path = "/api/registrations", tag = "operations", responses((status = 200, body = [RegistrationView])))]
pub async fn registrations(State(s): State<Arc<ApiState>>) -> Json<Vec<RegistrationView>> {
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0);
    Json(
        s.callctl
            .registrations()
            .into_iter()
            .map(|r| RegistrationView {
                device: r.device,
                contact: r.contact,
                transport: r.transport,
                source: r.source.to_string(),
                expires_at: r.expires_at,
                expires_in: r.expires_at.saturating_sub(now),
            })
            .collect(),
    )
}

/// One side of a live call.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct CallLegView {
    /// The leg (CTI's connection id).
    pub id: u64,
    /// caller or callee.
    pub side: String,
    /// The directory number (or address) of this side.
    pub number: String,
    /// The device on this side, once known (the callee's on answer).
    pub device: Option<String>,
    /// The devices this side is alerting on (parallel ringing), before an answer.
    pub offered: Vec<String>,
    /// idle, offering, ringing, connected, held or disconnected.
    pub state: String,
    /// Why the leg was disconnected.
    pub cause: Option<String>,
}

/// A live call.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct CallView {
    pub id: u64,
    pub caller: CallLegView,
    pub callee: CallLegView,
}

/// A serde value's wire name (the call model's enums serialise as snake_case strings).
fn wire_name<T: Serialize>(value: &T) -> String {
    match serde_json::to_value(value) {
        Ok(serde_json::Value::String(s)) => s,
        _ => String::new(),
    }
}

fn leg_view(leg: switchboard_callctl::Leg) -> CallLegView {
    CallLegView {
        id: leg.id,
        side: wire_name(&leg.side),
        number: leg.number,
        device: leg.device,
        offered: leg.offered,
        state: wire_name(&leg.state),
        cause: leg.cause.as_ref().map(wire_name),
    }
}

/// The live calls of this node, oldest first.
#[utoipa::path(get, path = "/api/calls", tag = "operations", responses((status = 200, body = [CallView])))]
pub async fn calls(State(s): State<Arc<ApiState>>) -> Json<Vec<CallView>> {
    Json(
        s.callctl
            .calls()
            .list()
            .into_iter()
            .map(|c| CallView {
                id: c.id,
                caller: leg_view(c.caller),
                callee: leg_view(c.callee),
            })
            .collect(),
    )
}

/// How many audit entries to return.
#[derive(Debug, Deserialize, utoipa::IntoParams)]
pub struct AuditQuery {
    pub limit: Option<u32>,
}

/// The newest audit entries, newest first.
#[utoipa::path(get, path = "/api/audit", tag = "operations", params(AuditQuery),
    responses((status = 200, body = [AuditEntry])))]
pub async fn audit(
    State(s): State<Arc<ApiState>>,
    Query(q): Query<AuditQuery>,
) -> ApiResult<Json<Vec<AuditEntry>>> {
    Ok(Json(s.store.list_audit(q.limit.unwrap_or(50)).await?))
}

/// The node is up.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct Health {
    pub status: String,
    pub node: String,
    pub version: String,
    pub store: String,
}

/// Liveness (no authentication).
#[utoipa::path(get, path = "/api/health", tag = "operations", responses((status = 200, body = Health)))]
pub async fn health(State(s): State<Arc<ApiState>>) -> Json<Health> {
    Json(Health {
        status: "ok".into(),
        node: s.node_name.clone(),
        version: env!("CARGO_PKG_VERSION").into(),
        store: s.store.backend().into(),
    })
}
