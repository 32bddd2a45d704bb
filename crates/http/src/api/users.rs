//! `/api/users`: end users, their CTI settings and the devices they control.

use std::sync::Arc;

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::{Extension, Json};
use switchboard_store::model::{User, UserNew, UserPatch};

use crate::error::{ApiResult, ErrorBody};
use crate::extract::{Actor, ApiJson};
use crate::ApiState;

/// Every end user.
#[utoipa::path(get, path = "/api/users", tag = "users", responses((status = 200, body = [User])))]
pub async fn list(State(s): State<Arc<ApiState>>) -> ApiResult<Json<Vec<User>>> {
    Ok(Json(s.store.list_users().await?))
}

/// Creates an end user.
#[utoipa::path(post, path = "/api/users", tag = "users", request_body = UserNew,
    responses((status = 201, body = User), (status = 422, body = ErrorBody), (status = 409, body = ErrorBody)))]
pub async fn create(
    State(s): State<Arc<ApiState>>,
    Extension(actor): Extension<Actor>,
    ApiJson(new): ApiJson<UserNew>,
) -> ApiResult<(StatusCode, Json<User>)> {
    let user = s.store.create_user(&actor.0, &new).await?;
    s.changed(&actor, "create", "user", &user.userid);
    // At once, not through the change stream: the next CTI open must see this change.
    s.cti.user_changed(&user.userid);
    Ok((StatusCode::CREATED, Json(user)))
}

/// One end user.
#[utoipa::path(get, path = "/api/users/{userid}", tag = "users",
    responses((status = 200, body = User), (status = 404, body = ErrorBody)))]
pub async fn get(
    State(s): State<Arc<ApiState>>,
    Path(userid): Path<String>,
) -> ApiResult<Json<User>> {
    Ok(Json(s.store.get_user(&userid).await?))
}

/// Changes the fields given.
#[utoipa::path(patch, path = "/api/users/{userid}", tag = "users", request_body = UserPatch,
    responses((status = 200, body = User), (status = 404, body = ErrorBody), (status = 422, body = ErrorBody)))]
pub async fn update(
    State(s): State<Arc<ApiState>>,
    Extension(actor): Extension<Actor>,
    Path(userid): Path<String>,
    ApiJson(patch): ApiJson<UserPatch>,
) -> ApiResult<Json<User>> {
    let user = s.store.update_user(&actor.0, &userid, &patch).await?;
    s.changed(&actor, "update", "user", &userid);
    // At once, not through the change stream: the next CTI open must see this change.
    s.cti.user_changed(&userid);
    Ok(Json(user))
}

/// Deletes an end user (refused while the user owns devices).
#[utoipa::path(delete, path = "/api/users/{userid}", tag = "users",
    responses((status = 204), (status = 404, body = ErrorBody), (status = 409, body = ErrorBody)))]
pub async fn delete(
    State(s): State<Arc<ApiState>>,
    Extension(actor): Extension<Actor>,
    Path(userid): Path<String>,
) -> ApiResult<StatusCode> {
    s.store.delete_user(&actor.0, &userid).await?;
    s.changed(&actor, "delete", "user", &userid);
    // At once, not through the change stream: the next CTI open must see this change.
    s.cti.user_changed(&userid);
    Ok(StatusCode::NO_CONTENT)
}
