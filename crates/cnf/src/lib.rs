//! The config file service (SPEC §7): `GET http://<node>:6970/<DeviceName>.cnf.xml` answers a
//! device's configuration file, built on every request from the store, as CUCM's TFTP service
//! serves it over HTTP on port 6970. Phones and Jabber read it to learn which nodes to register
//! with (in priority order, with each node's SIP, secure SIP, OAuth and MRA OAuth ports),
//! whether SIP OAuth is on (`sipOAuthMode`), their security mode, transport and lines.
//!
//! * [`device_config`] is the pure generator: a [`DeviceConfigInput`] in, the XML text out
//!   (written with quick-xml; every value escaped). `generate.rs` documents the element tree
//!   and where each value comes from.
//! * [`load_device_config`] gathers a [`DeviceConfigInput`] from the store.
//! * [`parse_request_path`] decides, without touching anything, whether a request path names a
//!   config file (`/<name>.cnf.xml`, nothing else).
//! * [`serve`] is the plain-HTTP listener (hyper, HTTP/1.1 only) with its [`Limits`]; it never
//!   reads a file: everything comes from the store.
//! * [`tree`] reads a config file back into an element tree (tests and tools).

mod error;
mod generate;
mod input;
mod load;
mod request;
mod serve;
pub mod tree;

pub use error::CnfError;
pub use generate::{
    device_config, device_security_mode_code, device_uuid, transport_layer_protocol_code,
    version_stamp,
};
pub use input::{CallManager, DeviceConfigInput, SipLine};
pub use load::{load_device_config, SIP_OAUTH_MODE_PARAM, TLS_RESUMPTION_PARAM};
pub use request::{parse_request_path, MAX_FILE_NAME_LEN, SUFFIX};
pub use serve::{serve, Limits, CONTENT_TYPE};
