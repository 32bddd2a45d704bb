//! `/api/certs`: the node's "tomcat" certificate (regenerated live, no restart) and the
//! cluster's trust store (CA certificates that mutual-TLS clients are checked against).

use std::sync::Arc;

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::{Extension, Json};
use serde::{Deserialize, Serialize};
use switchboard_pki::CertInfo;
use switchboard_store::model::TrustCert;
use switchboard_trace::{Service, TraceEvent};
use utoipa::ToSchema;

use crate::error::{ApiError, ApiResult, ErrorBody};
use crate::extract::{Actor, ApiJson};
use crate::ApiState;

/// The node's certificate and the trust store.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct Certificates {
    pub tomcat: CertInfo,
    pub trust: Vec<TrustCert>,
}

/// PEM text holding one or more CA certificates to trust.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct TrustImport {
    pub pem: String,
}

/// The node's certificate and the trust store.
#[utoipa::path(get, path = "/api/certs", tag = "certs", responses((status = 200, body = Certificates)))]
pub async fn show(State(s): State<Arc<ApiState>>) -> ApiResult<Json<Certificates>> {
    let tomcat = s.identity.borrow().info();
    Ok(Json(Certificates {
        tomcat,
        trust: s.store.list_trust().await?,
    }))
}

/// Generates a new tomcat certificate and key; every TLS listener uses it from the next
/// handshake on.
#[utoipa::path(post, path = "/api/certs/tomcat/regenerate", tag = "certs",
    responses((status = 200, body = CertInfo)))]
pub async fn regenerate(
    State(s): State<Arc<ApiState>>,
    Extension(actor): Extension<Actor>,
) -> ApiResult<Json<CertInfo>> {
    let identity = s
        .certs
        .regenerate_tomcat(&s.node_name, &s.extra_sans)
        .map_err(|e| ApiError::internal(format!("could not write the new certificate: {e}")))?;
    let info = identity.info();
    s.identity.send_replace(Arc::new(identity));
    s.tracer.emit_default(
        Service::Node,
        &TraceEvent::CertificateGenerated {
            subject: info.subject.clone(),
            fingerprint: info.sha256_fingerprint.clone(),
        },
    );
    let detail = serde_json::json!({ "fingerprint": info.sha256_fingerprint });
    s.store
        .record_audit(&actor.0, "regenerate", "certificate", "tomcat", &detail)
        .await?;
    s.changed(&actor, "regenerate", "certificate", "tomcat");
    Ok(Json(info))
}

/// Adds CA certificates to the trust store (a PEM bundle; private keys are refused).
#[utoipa::path(post, path = "/api/certs/trust", tag = "certs", request_body = TrustImport,
    responses((status = 201, body = [TrustCert]), (status = 422, body = ErrorBody), (status = 409, body = ErrorBody)))]
pub async fn import_trust(
    State(s): State<Arc<ApiState>>,
    Extension(actor): Extension<Actor>,
    ApiJson(import): ApiJson<TrustImport>,
) -> ApiResult<(StatusCode, Json<Vec<TrustCert>>)> {
    let ders = switchboard_pki::certificate_ders(&import.pem)
        .map_err(|e| ApiError::invalid("pem", e.to_string()))?;
    let mut added = Vec::new();
    for der in ders {
        let info = switchboard_pki::cert_info_from_der(der.as_ref())
            .map_err(|e| ApiError::invalid("pem", e.to_string()))?;
        let pem = der_to_pem(der.as_ref());
        let t = s
            .store
            .add_trust(
                &actor.0,
                &info.sha256_fingerprint,
                &info.subject,
                &info.not_after,
                &pem,
            )
            .await?;
        s.tracer.emit_default(
            Service::Node,
            &TraceEvent::TrustCertificateImported {
                subject: info.subject,
                fingerprint: info.sha256_fingerprint,
            },
        );
        added.push(t);
    }
    s.reload_trust().await?;
    s.changed(
        &actor,
        "create",
        "trustcert",
        &format!("{} certificate(s)", added.len()),
    );
    Ok((StatusCode::CREATED, Json(added)))
}

/// Removes a certificate from the trust store.
#[utoipa::path(delete, path = "/api/certs/trust/{fingerprint}", tag = "certs",
    responses((status = 204), (status = 404, body = ErrorBody)))]
pub async fn remove_trust(
    State(s): State<Arc<ApiState>>,
    Extension(actor): Extension<Actor>,
    Path(fingerprint): Path<String>,
) -> ApiResult<StatusCode> {
    s.store.remove_trust(&actor.0, &fingerprint).await?;
    s.tracer.emit_default(
        Service::Node,
        &TraceEvent::TrustCertificateRemoved {
            fingerprint: fingerprint.clone(),
        },
    );
    s.reload_trust().await?;
    s.changed(&actor, "delete", "trustcert", &fingerprint);
    Ok(StatusCode::NO_CONTENT)
}

fn der_to_pem(der: &[u8]) -> String {
    use base64::Engine;
    let b64 = base64::engine::general_purpose::STANDARD.encode(der);
    let mut pem = String::from("-----BEGIN CERTIFICATE-----\n");
    for chunk in b64.as_bytes().chunks(64) {
        pem.push_str(std::str::from_utf8(chunk).unwrap_or_default());
        pem.push('\n');
    }
    pem.push_str("-----END CERTIFICATE-----\n");
    pem
}
