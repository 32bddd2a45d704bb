//! The OpenAPI document of the provisioning API, gathered from the handlers' annotations.

use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::{Modify, OpenApi};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::api::{certs, cluster, devices, ops, users};
use crate::oauth::admin as oauth;
use crate::ApiState;
use std::sync::Arc;

#[derive(OpenApi)]
#[openapi(
    info(
        title = "Switchboard provisioning API",
        description = "Users, devices, lines, security profiles, nodes and ports, parameters, LDAP, edge-proxy entries, certificates and OAuth keys, issuers and clients of a Switchboard cluster. Authenticate with `Authorization: Bearer <admin token>` or HTTP Basic admin credentials. Errors are `{\"error\", \"message\", \"field\"?}`."
    ),
    modifiers(&Security),
    security(("token" = []), ("basic" = [])),
    components(schemas(crate::error::ErrorBody))
)]
struct ApiDoc;

struct Security;

impl Modify for Security {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "token",
            SecurityScheme::Http(HttpBuilder::new().scheme(HttpAuthScheme::Bearer).build()),
        );
        components.add_security_scheme(
            "basic",
            SecurityScheme::Http(HttpBuilder::new().scheme(HttpAuthScheme::Basic).build()),
        );
    }
}

/// Every authenticated route, with its OpenAPI description.
pub(crate) fn api_router() -> OpenApiRouter<Arc<ApiState>> {
    OpenApiRouter::with_openapi(ApiDoc::openapi())
        .routes(routes!(users::list, users::create))
        .routes(routes!(users::get, users::update, users::delete))
        .routes(routes!(devices::list, devices::create))
        .routes(routes!(devices::get, devices::update, devices::delete))
        .routes(routes!(devices::list_lines, devices::create_line))
        .routes(routes!(
            devices::get_line,
            devices::update_line,
            devices::delete_line
        ))
        .routes(routes!(cluster::list_profiles, cluster::create_profile))
        .routes(routes!(
            cluster::get_profile,
            cluster::replace_profile,
            cluster::update_profile,
            cluster::delete_profile
        ))
        .routes(routes!(cluster::list_nodes, cluster::create_node))
        .routes(routes!(
            cluster::get_node,
            cluster::update_node,
            cluster::delete_node
        ))
        .routes(routes!(cluster::list_params))
        .routes(routes!(cluster::get_param, cluster::set_param))
        .routes(routes!(
            cluster::get_sip_oauth_mode,
            cluster::set_sip_oauth_mode
        ))
        .routes(routes!(cluster::get_ldap, cluster::update_ldap))
        .routes(routes!(cluster::test_ldap))
        .routes(routes!(cluster::list_expressways, cluster::put_expressway))
        .routes(routes!(cluster::get_expressway, cluster::delete_expressway))
        .routes(routes!(certs::show))
        .routes(routes!(certs::regenerate))
        .routes(routes!(certs::import_trust))
        .routes(routes!(certs::remove_trust))
        .routes(routes!(ops::sql))
        .routes(routes!(ops::ports))
        .routes(routes!(ops::trace_levels))
        .routes(routes!(ops::set_trace_level))
        .routes(routes!(ops::audit))
        .routes(routes!(ops::registrations))
        .routes(routes!(ops::calls))
        .routes(routes!(oauth::keys))
        .routes(routes!(oauth::rotate))
        .routes(routes!(oauth::revoke_user))
        .routes(routes!(oauth::list_issuers, oauth::put_issuer))
        .routes(routes!(oauth::delete_issuer))
        .routes(routes!(oauth::clients))
}

/// The OpenAPI document (health and the document itself included).
pub fn openapi() -> utoipa::openapi::OpenApi {
    let (_, mut doc) = api_router().routes(routes!(ops::health)).split_for_parts();
    if let Some(op) = doc
        .paths
        .paths
        .get_mut("/api/health")
        .and_then(|item| item.get.as_mut())
    {
        op.security = Some(vec![]);
    }
    doc
}
