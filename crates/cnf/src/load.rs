//! Gathers a [`DeviceConfigInput`] from the store, on every request: a change made on any node
//! (a port, a line, `ClusterSIPOAuthMode`) is in the next file served, with no restart and no
//! cache to invalidate.

use switchboard_store::{Store, StoreError};
use time::format_description::well_known::Rfc3339;
use time::OffsetDateTime;

use crate::error::CnfError;
use crate::input::{CallManager, DeviceConfigInput, SipLine};

/// The enterprise parameter behind `sipOAuthMode`.
pub const SIP_OAUTH_MODE_PARAM: &str = "ClusterSIPOAuthMode";
/// The enterprise parameter behind `TLSResumptionTimer`.
pub const TLS_RESUMPTION_PARAM: &str = "TLSResumptionTimeoutSeconds";

/// What device `device_name`'s configuration file is built from; `None` when no such device
/// is provisioned.
pub async fn load_device_config(
    store: &Store,
    device_name: &str,
) -> Result<Option<DeviceConfigInput>, CnfError> {
    let device = match store.get_device(device_name).await {
        Ok(device) => device,
        Err(StoreError::NotFound { .. }) => return Ok(None),
        Err(e) => return Err(e.into()),
    };
    let profile = store.get_profile(&device.security_profile).await?;
    let call_managers = store
        .list_nodes()
        .await?
        .into_iter()
        .map(|node| CallManager {
            name: node.name,
            address: node.address,
            description: node.description,
            ports: node.ports,
        })
        .collect();
    let mut lines = Vec::with_capacity(device.lines.len());
    if !device.lines.is_empty() {
        let known = store.list_lines().await?;
        for appearance in &device.lines {
            let line = known.iter().find(|l| l.dn == appearance.dn);
            let devices = store.devices_with_line(&appearance.dn).await?;
            lines.push(SipLine {
                button: appearance.index,
                dn: appearance.dn.clone(),
                label: line.map(|l| l.description.clone()).unwrap_or_default(),
                display_name: line.map(|l| l.alerting_name.clone()).unwrap_or_default(),
                shared: devices.iter().any(|d| d != &device.name),
            });
        }
    }
    let sip_oauth_mode = store.param_i64(SIP_OAUTH_MODE_PARAM).await? == 1;
    let tls_resumption_seconds = store
        .param_i64(TLS_RESUMPTION_PARAM)
        .await?
        .clamp(0, u32::MAX.into()) as u32;
    let changed_at = store
        .device_config_changes(device_name, &[SIP_OAUTH_MODE_PARAM, TLS_RESUMPTION_PARAM])
        .await?
        .iter()
        .filter_map(|t| OffsetDateTime::parse(t, &Rfc3339).ok())
        .map(OffsetDateTime::unix_timestamp)
        .max()
        .unwrap_or(0);
    Ok(Some(DeviceConfigInput {
        device_name: device.name,
        protocol: device.protocol,
        call_managers,
        lines,
        security_mode: profile.device_security_mode,
        transport: profile.transport,
        encrypted_config: profile.tftp_encrypted_config,
        sip_oauth_mode,
        tls_resumption_seconds,
        owner: device.owner,
        changed_at,
    }))
}
