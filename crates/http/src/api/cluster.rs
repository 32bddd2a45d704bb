//! Cluster configuration: `/api/profiles`, `/api/nodes`, `/api/params`, `/api/sip-oauth-mode`,
//! `/api/ldap` and `/api/expressway` (the entries an edge proxy pushes).

use std::sync::Arc;

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::{Extension, Json};
use serde::{Deserialize, Serialize};
use switchboard_store::model::*;
use utoipa::ToSchema;

use crate::error::{ApiResult, ErrorBody};
use crate::extract::{Actor, ApiJson};
use crate::ApiState;

/// Every phone security profile.
#[utoipa::path(get, path = "/api/profiles", tag = "profiles", responses((status = 200, body = [SecurityProfile])))]
pub async fn list_profiles(
    State(s): State<Arc<ApiState>>,
) -> ApiResult<Json<Vec<SecurityProfile>>> {
    Ok(Json(s.store.list_profiles().await?))
}

/// Creates a security profile (OAuth cannot be combined with digest or encrypted TFTP config).
#[utoipa::path(post, path = "/api/profiles", tag = "profiles", request_body = SecurityProfile,
    responses((status = 201, body = SecurityProfile), (status = 422, body = ErrorBody), (status = 409, body = ErrorBody)))]
pub async fn create_profile(
    State(s): State<Arc<ApiState>>,
    Extension(actor): Extension<Actor>,
    ApiJson(p): ApiJson<SecurityProfile>,
) -> ApiResult<(StatusCode, Json<SecurityProfile>)> {
    let p = s.store.put_profile(&actor.0, &p, false).await?;
    s.changed(&actor, "create", "securityprofile", &p.name);
    Ok((StatusCode::CREATED, Json(p)))
}

/// One security profile.
#[utoipa::path(get, path = "/api/profiles/{name}", tag = "profiles",
    responses((status = 200, body = SecurityProfile), (status = 404, body = ErrorBody)))]
pub async fn get_profile(
    State(s): State<Arc<ApiState>>,
    Path(name): Path<String>,
) -> ApiResult<Json<SecurityProfile>> {
    Ok(Json(s.store.get_profile(&name).await?))
}

/// Replaces a security profile (the name in the path wins).
#[utoipa::path(put, path = "/api/profiles/{name}", tag = "profiles", request_body = SecurityProfile,
    responses((status = 200, body = SecurityProfile), (status = 404, body = ErrorBody), (status = 422, body = ErrorBody)))]
pub async fn replace_profile(
    State(s): State<Arc<ApiState>>,
    Extension(actor): Extension<Actor>,
    Path(name): Path<String>,
    ApiJson(mut p): ApiJson<SecurityProfile>,
) -> ApiResult<Json<SecurityProfile>> {
    p.name = name;
    let p = s.store.put_profile(&actor.0, &p, true).await?;
    s.changed(&actor, "update", "securityprofile", &p.name);
    Ok(Json(p))
}

/// Changes the fields given.
#[utoipa::path(patch, path = "/api/profiles/{name}", tag = "profiles", request_body = SecurityProfilePatch,
    responses((status = 200, body = SecurityProfile), (status = 404, body = ErrorBody), (status = 422, body = ErrorBody)))]
pub async fn update_profile(
    State(s): State<Arc<ApiState>>,
    Extension(actor): Extension<Actor>,
    Path(name): Path<String>,
    ApiJson(patch): ApiJson<SecurityProfilePatch>,
) -> ApiResult<Json<SecurityProfile>> {
    let p = s.store.update_profile(&actor.0, &name, &patch).await?;
    s.changed(&actor, "update", "securityprofile", &name);
    Ok(Json(p))
}

/// Deletes a security profile (refused while a device uses it).
#[utoipa::path(delete, path = "/api/profiles/{name}", tag = "profiles",
    responses((status = 204), (status = 404, body = ErrorBody), (status = 409, body = ErrorBody)))]
pub async fn delete_profile(
    State(s): State<Arc<ApiState>>,
    Extension(actor): Extension<Actor>,
    Path(name): Path<String>,
) -> ApiResult<StatusCode> {
    s.store.delete_profile(&actor.0, &name).await?;
    s.changed(&actor, "delete", "securityprofile", &name);
    Ok(StatusCode::NO_CONTENT)
}

/// Every node of the cluster with its ports.
#[utoipa::path(get, path = "/api/nodes", tag = "nodes", responses((status = 200, body = [Node])))]
pub async fn list_nodes(State(s): State<Arc<ApiState>>) -> ApiResult<Json<Vec<Node>>> {
    Ok(Json(s.store.list_nodes().await?))
}

/// Adds a node (ports 1024–49151, all distinct).
#[utoipa::path(post, path = "/api/nodes", tag = "nodes", request_body = Node,
    responses((status = 201, body = Node), (status = 422, body = ErrorBody), (status = 409, body = ErrorBody)))]
pub async fn create_node(
    State(s): State<Arc<ApiState>>,
    Extension(actor): Extension<Actor>,
    ApiJson(node): ApiJson<Node>,
) -> ApiResult<(StatusCode, Json<Node>)> {
    let node = s.store.put_node(&actor.0, &node, false).await?;
    s.changed(&actor, "create", "callmanager", &node.name);
    Ok((StatusCode::CREATED, Json(node)))
}

/// One node.
#[utoipa::path(get, path = "/api/nodes/{name}", tag = "nodes",
    responses((status = 200, body = Node), (status = 404, body = ErrorBody)))]
pub async fn get_node(
    State(s): State<Arc<ApiState>>,
    Path(name): Path<String>,
) -> ApiResult<Json<Node>> {
    Ok(Json(s.store.get_node(&name).await?))
}

/// Changes a node's address, priority or ports.
#[utoipa::path(patch, path = "/api/nodes/{name}", tag = "nodes", request_body = NodePatch,
    responses((status = 200, body = Node), (status = 404, body = ErrorBody), (status = 422, body = ErrorBody)))]
pub async fn update_node(
    State(s): State<Arc<ApiState>>,
    Extension(actor): Extension<Actor>,
    Path(name): Path<String>,
    ApiJson(patch): ApiJson<NodePatch>,
) -> ApiResult<Json<Node>> {
    let node = s.store.update_node(&actor.0, &name, &patch).await?;
    s.changed(&actor, "update", "callmanager", &name);
    Ok(Json(node))
}

/// Removes a node.
#[utoipa::path(delete, path = "/api/nodes/{name}", tag = "nodes",
    responses((status = 204), (status = 404, body = ErrorBody)))]
pub async fn delete_node(
    State(s): State<Arc<ApiState>>,
    Extension(actor): Extension<Actor>,
    Path(name): Path<String>,
) -> ApiResult<StatusCode> {
    s.store.delete_node(&actor.0, &name).await?;
    s.changed(&actor, "delete", "callmanager", &name);
    Ok(StatusCode::NO_CONTENT)
}

/// Every enterprise and service parameter.
#[utoipa::path(get, path = "/api/params", tag = "params", responses((status = 200, body = [Param])))]
pub async fn list_params(State(s): State<Arc<ApiState>>) -> ApiResult<Json<Vec<Param>>> {
    Ok(Json(s.store.list_params().await?))
}

/// One parameter.
#[utoipa::path(get, path = "/api/params/{name}", tag = "params",
    responses((status = 200, body = Param), (status = 404, body = ErrorBody)))]
pub async fn get_param(
    State(s): State<Arc<ApiState>>,
    Path(name): Path<String>,
) -> ApiResult<Json<Param>> {
    Ok(Json(s.store.get_param(&name).await?))
}

/// A new parameter value.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ParamValue {
    pub value: String,
}

/// Sets a parameter; it takes effect at once on every node.
#[utoipa::path(put, path = "/api/params/{name}", tag = "params", request_body = ParamValue,
    responses((status = 200, body = Param), (status = 404, body = ErrorBody), (status = 422, body = ErrorBody)))]
pub async fn set_param(
    State(s): State<Arc<ApiState>>,
    Extension(actor): Extension<Actor>,
    Path(name): Path<String>,
    ApiJson(v): ApiJson<ParamValue>,
) -> ApiResult<Json<Param>> {
    let p = s.store.set_param(&actor.0, &name, &v.value).await?;
    s.changed(&actor, "update", "processconfig", &name);
    Ok(Json(p))
}

/// Whether SIP OAuth mode (`ClusterSIPOAuthMode`) is on.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SipOauthMode {
    pub enabled: bool,
}

const SIP_OAUTH_MODE: &str = "ClusterSIPOAuthMode";

/// The cluster's SIP OAuth mode (`utils sipOAuth-mode` in the seed).
#[utoipa::path(get, path = "/api/sip-oauth-mode", tag = "params", responses((status = 200, body = SipOauthMode)))]
pub async fn get_sip_oauth_mode(State(s): State<Arc<ApiState>>) -> ApiResult<Json<SipOauthMode>> {
    Ok(Json(SipOauthMode {
        enabled: s.store.param_i64(SIP_OAUTH_MODE).await? == 1,
    }))
}

/// Enables or disables SIP OAuth mode; no service restart is needed.
#[utoipa::path(put, path = "/api/sip-oauth-mode", tag = "params", request_body = SipOauthMode,
    responses((status = 200, body = SipOauthMode), (status = 422, body = ErrorBody)))]
pub async fn set_sip_oauth_mode(
    State(s): State<Arc<ApiState>>,
    Extension(actor): Extension<Actor>,
    ApiJson(mode): ApiJson<SipOauthMode>,
) -> ApiResult<Json<SipOauthMode>> {
    let value = if mode.enabled { "1" } else { "0" };
    let p = s.store.set_param(&actor.0, SIP_OAUTH_MODE, value).await?;
    s.changed(&actor, "update", "processconfig", SIP_OAUTH_MODE);
    Ok(Json(SipOauthMode {
        enabled: p.value == "1",
    }))
}

/// The LDAP authentication settings (the service password is never returned).
#[utoipa::path(get, path = "/api/ldap", tag = "ldap", responses((status = 200, body = LdapSettings)))]
pub async fn get_ldap(State(s): State<Arc<ApiState>>) -> ApiResult<Json<LdapSettings>> {
    Ok(Json(s.store.ldap_settings().await?))
}

/// Changes the LDAP settings given.
#[utoipa::path(patch, path = "/api/ldap", tag = "ldap", request_body = LdapSettingsPatch,
    responses((status = 200, body = LdapSettings), (status = 422, body = ErrorBody)))]
pub async fn update_ldap(
    State(s): State<Arc<ApiState>>,
    Extension(actor): Extension<Actor>,
    ApiJson(patch): ApiJson<LdapSettingsPatch>,
) -> ApiResult<Json<LdapSettings>> {
    let settings = s.store.update_ldap(&actor.0, &patch).await?;
    s.changed(&actor, "update", "ldapauthentication", "1");
    Ok(Json(settings))
}

/// A login to try against the configured LDAP directory.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct LdapTestRequest {
    pub userid: String,
    /// The user's directory password (never stored, traced or logged).
    pub password: String,
}

/// What the LDAP login test did, step by step, and how it ended.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct LdapTestResult {
    pub userid: String,
    pub success: bool,
    /// The DN of the user's entry, when the password was right.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub dn: Option<String>,
    /// The named failure: wrong_password, account_disabled, account_locked_out,
    /// password_must_change, account_expired, password_expired, user_not_found,
    /// user_ambiguous, empty_password, unreachable, timeout, tls_untrusted, tls_name_mismatch,
    /// tls_failed, plain_bind_refused, service_bind_failed, search_base_invalid,
    /// not_configured, …
    #[serde(skip_serializing_if = "Option::is_none")]
    pub failure: Option<String>,
    /// The failure, explained.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub message: Option<String>,
    /// The trace text of every step (as in the `auth` trace files; never the password).
    pub steps: Vec<String>,
}

/// Runs the LDAP login flow for a userid with the current settings (even while LDAP is
/// switched off; the user need not exist in Switchboard) and reports every step: the first
/// check after `PATCH /api/ldap`. Answers 200 whatever the outcome.
#[utoipa::path(post, path = "/api/ldap/test", tag = "ldap", request_body = LdapTestRequest,
    responses((status = 200, body = LdapTestResult), (status = 422, body = ErrorBody)))]
pub async fn test_ldap(
    State(s): State<Arc<ApiState>>,
    ApiJson(req): ApiJson<LdapTestRequest>,
) -> ApiResult<Json<LdapTestResult>> {
    if req.userid.is_empty() || req.userid.chars().count() > 256 {
        return Err(crate::error::ApiError::invalid(
            "userid",
            "a userid of 1 to 256 characters",
        ));
    }
    if req.password.len() > 1024 {
        return Err(crate::error::ApiError::invalid(
            "password",
            "at most 1024 bytes",
        ));
    }
    let report = s.authenticator.test_ldap(&req.userid, &req.password).await;
    let (dn, failure, message) = match report.outcome {
        Ok(dn) => (Some(dn), None, None),
        Err(f) => (None, Some(f.name().to_owned()), Some(f.to_string())),
    };
    Ok(Json(LdapTestResult {
        userid: req.userid,
        success: dn.is_some(),
        dn,
        failure,
        message,
        steps: report.steps,
    }))
}

/// Every edge-proxy entry (`expresswayconfiguration`).
#[utoipa::path(get, path = "/api/expressway", tag = "expressway", responses((status = 200, body = [Expressway])))]
pub async fn list_expressways(State(s): State<Arc<ApiState>>) -> ApiResult<Json<Vec<Expressway>>> {
    Ok(Json(s.store.list_expressways().await?))
}

/// Adds or refreshes (by host name) an edge proxy's CN/SAN list, as the edge proxy pushes it.
#[utoipa::path(post, path = "/api/expressway", tag = "expressway", request_body = ExpresswayNew,
    responses((status = 200, body = Expressway), (status = 422, body = ErrorBody)))]
pub async fn put_expressway(
    State(s): State<Arc<ApiState>>,
    Extension(actor): Extension<Actor>,
    ApiJson(entry): ApiJson<ExpresswayNew>,
) -> ApiResult<Json<Expressway>> {
    let e = s.store.put_expressway(&actor.0, &entry).await?;
    s.changed(&actor, "put", "expresswayconfiguration", &e.pkid);
    Ok(Json(e))
}

/// One edge-proxy entry, by pkid or host name.
#[utoipa::path(get, path = "/api/expressway/{key}", tag = "expressway",
    responses((status = 200, body = Expressway), (status = 404, body = ErrorBody)))]
pub async fn get_expressway(
    State(s): State<Arc<ApiState>>,
    Path(key): Path<String>,
) -> ApiResult<Json<Expressway>> {
    Ok(Json(s.store.get_expressway(&key).await?))
}

/// Deletes an edge-proxy entry, by pkid or host name.
#[utoipa::path(delete, path = "/api/expressway/{key}", tag = "expressway",
    responses((status = 204), (status = 404, body = ErrorBody)))]
pub async fn delete_expressway(
    State(s): State<Arc<ApiState>>,
    Extension(actor): Extension<Actor>,
    Path(key): Path<String>,
) -> ApiResult<StatusCode> {
    s.store.delete_expressway(&actor.0, &key).await?;
    s.changed(&actor, "delete", "expresswayconfiguration", &key);
    Ok(StatusCode::NO_CONTENT)
}
