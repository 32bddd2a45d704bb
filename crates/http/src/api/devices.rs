//! `/api/devices` and `/api/lines`: phones, softphones and their directory numbers.

use std::sync::Arc;

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::{Extension, Json};
use switchboard_store::model::{Device, DeviceNew, DevicePatch, Line, LinePatch};

use crate::error::{ApiResult, ErrorBody};
use crate::extract::{Actor, ApiJson};
use crate::ApiState;

/// Every device.
#[utoipa::path(get, path = "/api/devices", tag = "devices", responses((status = 200, body = [Device])))]
pub async fn list(State(s): State<Arc<ApiState>>) -> ApiResult<Json<Vec<Device>>> {
    Ok(Json(s.store.list_devices().await?))
}

/// Creates a device.
#[utoipa::path(post, path = "/api/devices", tag = "devices", request_body = DeviceNew,
    responses((status = 201, body = Device), (status = 422, body = ErrorBody), (status = 409, body = ErrorBody)))]
pub async fn create(
    State(s): State<Arc<ApiState>>,
    Extension(actor): Extension<Actor>,
    ApiJson(new): ApiJson<DeviceNew>,
) -> ApiResult<(StatusCode, Json<Device>)> {
    let device = s.store.create_device(&actor.0, &new).await?;
    s.changed(&actor, "create", "device", &device.name);
    Ok((StatusCode::CREATED, Json(device)))
}

/// One device.
#[utoipa::path(get, path = "/api/devices/{name}", tag = "devices",
    responses((status = 200, body = Device), (status = 404, body = ErrorBody)))]
pub async fn get(
    State(s): State<Arc<ApiState>>,
    Path(name): Path<String>,
) -> ApiResult<Json<Device>> {
    Ok(Json(s.store.get_device(&name).await?))
}

/// Changes the fields given.
#[utoipa::path(patch, path = "/api/devices/{name}", tag = "devices", request_body = DevicePatch,
    responses((status = 200, body = Device), (status = 404, body = ErrorBody), (status = 422, body = ErrorBody)))]
pub async fn update(
    State(s): State<Arc<ApiState>>,
    Extension(actor): Extension<Actor>,
    Path(name): Path<String>,
    ApiJson(patch): ApiJson<DevicePatch>,
) -> ApiResult<Json<Device>> {
    let device = s.store.update_device(&actor.0, &name, &patch).await?;
    s.changed(&actor, "update", "device", &name);
    Ok(Json(device))
}

/// Deletes a device.
#[utoipa::path(delete, path = "/api/devices/{name}", tag = "devices",
    responses((status = 204), (status = 404, body = ErrorBody)))]
pub async fn delete(
    State(s): State<Arc<ApiState>>,
    Extension(actor): Extension<Actor>,
    Path(name): Path<String>,
) -> ApiResult<StatusCode> {
    s.store.delete_device(&actor.0, &name).await?;
    s.changed(&actor, "delete", "device", &name);
    Ok(StatusCode::NO_CONTENT)
}

/// Every directory number.
#[utoipa::path(get, path = "/api/lines", tag = "lines", responses((status = 200, body = [Line])))]
pub async fn list_lines(State(s): State<Arc<ApiState>>) -> ApiResult<Json<Vec<Line>>> {
    Ok(Json(s.store.list_lines().await?))
}

/// Creates a directory number.
#[utoipa::path(post, path = "/api/lines", tag = "lines", request_body = Line,
    responses((status = 201, body = Line), (status = 422, body = ErrorBody), (status = 409, body = ErrorBody)))]
pub async fn create_line(
    State(s): State<Arc<ApiState>>,
    Extension(actor): Extension<Actor>,
    ApiJson(line): ApiJson<Line>,
) -> ApiResult<(StatusCode, Json<Line>)> {
    let line = s.store.create_line(&actor.0, &line).await?;
    s.changed(&actor, "create", "line", &line.dn);
    Ok((StatusCode::CREATED, Json(line)))
}

/// One directory number.
#[utoipa::path(get, path = "/api/lines/{dn}", tag = "lines",
    responses((status = 200, body = Line), (status = 404, body = ErrorBody)))]
pub async fn get_line(
    State(s): State<Arc<ApiState>>,
    Path(dn): Path<String>,
) -> ApiResult<Json<Line>> {
    Ok(Json(s.store.get_line(&dn).await?))
}

/// Changes a directory number's description or alerting name.
#[utoipa::path(patch, path = "/api/lines/{dn}", tag = "lines", request_body = LinePatch,
    responses((status = 200, body = Line), (status = 404, body = ErrorBody), (status = 422, body = ErrorBody)))]
pub async fn update_line(
    State(s): State<Arc<ApiState>>,
    Extension(actor): Extension<Actor>,
    Path(dn): Path<String>,
    ApiJson(patch): ApiJson<LinePatch>,
) -> ApiResult<Json<Line>> {
    let line = s.store.update_line(&actor.0, &dn, &patch).await?;
    s.changed(&actor, "update", "line", &dn);
    Ok(Json(line))
}

/// Deletes a directory number (refused while a device shows it).
#[utoipa::path(delete, path = "/api/lines/{dn}", tag = "lines",
    responses((status = 204), (status = 404, body = ErrorBody), (status = 409, body = ErrorBody)))]
pub async fn delete_line(
    State(s): State<Arc<ApiState>>,
    Extension(actor): Extension<Actor>,
    Path(dn): Path<String>,
) -> ApiResult<StatusCode> {
    s.store.delete_line(&actor.0, &dn).await?;
    s.changed(&actor, "delete", "line", &dn);
    Ok(StatusCode::NO_CONTENT)
}
