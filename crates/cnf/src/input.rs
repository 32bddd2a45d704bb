//! What a device's configuration file is built from: plain data, gathered from the store by
//! [`load_device_config`](crate::load_device_config) or written by hand in tests.

use switchboard_store::model::{NodePorts, SecurityMode, Transport};

/// Everything [`device_config`](crate::device_config) needs for one device.
#[derive(Debug, Clone, PartialEq)]
pub struct DeviceConfigInput {
    /// The device name (`SEP001794625DE5`, `CSFwwhite`).
    pub device_name: String,
    /// The signalling protocol (`SIP`).
    pub protocol: String,
    /// Every node of the cluster, highest priority first.
    pub call_managers: Vec<CallManager>,
    /// The device's lines, by button.
    pub lines: Vec<SipLine>,
    /// From the device's security profile.
    pub security_mode: SecurityMode,
    /// From the device's security profile.
    pub transport: Transport,
    /// The profile's "TFTP encrypted config".
    pub encrypted_config: bool,
    /// The enterprise parameter `ClusterSIPOAuthMode`.
    pub sip_oauth_mode: bool,
    /// The enterprise parameter `TLSResumptionTimeoutSeconds`.
    pub tls_resumption_seconds: u32,
    /// The owner's user id, when the device has one.
    pub owner: Option<String>,
    /// When the newest row this file is built from last changed (Unix seconds).
    pub changed_at: i64,
}

/// One node as the file lists it.
#[derive(Debug, Clone, PartialEq)]
pub struct CallManager {
    /// The node's name (`callmanager.name`).
    pub name: String,
    /// Where phones reach it (`callmanager.address`).
    pub address: String,
    /// `callmanager.description`.
    pub description: String,
    pub ports: NodePorts,
}

/// One line appearance.
#[derive(Debug, Clone, PartialEq)]
pub struct SipLine {
    /// The button (1-based; `devicenumplanmap.numplanindex`).
    pub button: u32,
    /// The directory number.
    pub dn: String,
    /// The line's description, shown as the button's label.
    pub label: String,
    /// The line's alerting name, shown as the caller id.
    pub display_name: String,
    /// True when another device shows the same directory number.
    pub shared: bool,
}
