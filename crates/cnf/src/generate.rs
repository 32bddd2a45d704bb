//! The generator: [`device_config`] turns a [`DeviceConfigInput`] into the text of
//! `<DeviceName>.cnf.xml`. Pure: no I/O, no clock, the same input gives the same bytes.
//!
//! Element names, nesting and order follow the complete file CUCM 12.5 generated for a CP-7821
//! (sample A of `shared/cisco-samples/cnf-elements.md`), and the Jabber (CSF) file of the SIP
//! OAuth seed (sample C) for `sipOAuthPort`, `sipMRAOAuthPort` and `sipOAuthMode`. Only
//! elements Switchboard has data for are written:
//!
//! ```text
//! <device xmlns:xsi=… xsi:type="axl:XIPPhone" uuid="{…}">
//!   fullConfig true · deviceProtocol (device.protocol)
//!   devicePool/callManagerGroup: name "Default", tftpDefault true (the cluster is one group),
//!     members/member[@priority = 0, 1, 2 … in callmanager.priority order]/callManager:
//!       name = address (what the phone connects to), description (the node's name when the
//!       description is empty), ports/{ethernetPhonePort, sipPort, securedSipPort, sipOAuthPort,
//!       sipMRAOAuthPort, mgcpPorts/{listen, keepAlive}}, processNodeName = address
//!   sipProfile: sipProxies/registerWithProxy true;
//!     sipLines/line[@button][@lineIndex]: featureID 9 (a line), featureLabel (line
//!     description), proxy USECALLMANAGER, port (first node's sipPort), name (DN),
//!     displayName (alerting name), sharedLine (another device shows the DN), contact (DN)
//!   versionStamp (see [`version_stamp`]) · deviceSecurityMode · transportLayerProtocol
//!   capfAuthMode 0 and certHash "" (no CAPF, no LSC) · encrConfig (profile's TFTP encrypted
//!   config) · TLSResumptionTimer · userId, ownerId (the owner) · sipOAuthMode 0/1
//! ```
//!
//! Choices where CUCM is odd:
//! - CUCM writes `xsi:type` without declaring the `xsi` prefix: well-formed XML 1.0 but not
//!   namespace-well-formed, so strict parsers (expat with namespaces, libxml2, .NET) reject it,
//!   while Jabber and the phones read it. Switchboard declares
//!   `xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance"` on the root: strict parsers accept
//!   the file and lenient readers see one more attribute on `<device>`, which they ignore. The
//!   `axl:` in the attribute's *value* is data, not a name, so needs no declaration.
//! - CUCM's double spaces before attributes and missing trailing newline are not reproduced.
//! - `ctiid` (CUCM's numeric CTI handle of the device) is not written: the store has no such
//!   number yet (the CTI Manager will define device handles) and a made-up one would mislead.
//!   `uuid` is the device's stable identifier, [`device_uuid`].
//! - `sipOAuthMode`'s parent is not shown in the published CSF file (Cisco elided the lines
//!   around it); it is written as a direct child of `<device>`, an inference.
//! - `transportLayerProtocol` codes: 1 TCP, 2 UDP, 3 TLS (documented for Cisco phones), and 4
//!   for TCP+UDP, which CUCM-generated files carry for such profiles (inferred from CUCM's own
//!   files, the meaning is not published); see [`transport_layer_protocol_code`].
//!
//! Values are escaped by quick-xml; characters XML 1.0 forbids (control characters, U+FFFE,
//! U+FFFF), which the store refuses anyway, become U+FFFD.

use std::borrow::Cow;
use std::io;

use quick_xml::events::{BytesDecl, BytesText, Event};
use quick_xml::Writer;
use sha2::{Digest, Sha256};
use switchboard_store::model::{SecurityMode, Transport};

use crate::input::{CallManager, DeviceConfigInput, SipLine};

/// The namespace `xsi:type` belongs to.
const XSI_NAMESPACE: &str = "http://www.w3.org/2001/XMLSchema-instance";
/// CUCM's proxy value meaning "the call managers of the group".
const USE_CALL_MANAGER: &str = "USECALLMANAGER";
/// `featureID` of a line button (CUCM's files use 9 for lines, 2 for speed dials).
const LINE_FEATURE_ID: &str = "9";

/// The text of `<device_name>.cnf.xml` for `input`.
pub fn device_config(input: &DeviceConfigInput) -> String {
    let mut writer = Writer::new_with_indent(Vec::new(), b' ', 0);
    write_device(&mut writer, input).expect("writing into a Vec cannot fail");
    let mut bytes = writer.into_inner();
    bytes.push(b'\n');
    String::from_utf8(bytes).expect("quick-xml writes the UTF-8 it is given")
}

/// `deviceSecurityMode`: 1 non-secure, 2 authenticated, 3 encrypted.
pub fn device_security_mode_code(mode: SecurityMode) -> u8 {
    match mode {
        SecurityMode::NonSecure => 1,
        SecurityMode::Authenticated => 2,
        SecurityMode::Encrypted => 3,
    }
}

/// `transportLayerProtocol`: 1 TCP, 2 UDP, 3 TLS, 4 TCP+UDP.
pub fn transport_layer_protocol_code(transport: Transport) -> u8 {
    match transport {
        Transport::Tcp => 1,
        Transport::Udp => 2,
        Transport::Tls => 3,
        Transport::TcpUdp => 4,
    }
}

/// The device's `uuid` attribute, `{xxxxxxxx-xxxx-8xxx-…}`: derived from its name alone
/// (SHA-256, as a version 8 UUID), so every node of a cluster gives the same one, always.
pub fn device_uuid(device_name: &str) -> String {
    let mut hash = Sha256::new();
    hash.update(b"switchboard device ");
    hash.update(device_name.as_bytes());
    format!("{{{}}}", uuid_from(&hash.finalize()))
}

/// CUCM's `versionStamp`, `<seconds>-<uuid>`: the Unix time the newest row the file is built
/// from changed, and a UUID (version 8) from the SHA-256 of every input value. Phones compare
/// it with the one they have; it changes whenever anything in the file can, and every node
/// computes the same one for the same configuration.
pub fn version_stamp(input: &DeviceConfigInput) -> String {
    let mut hash = Fields(Sha256::new());
    hash.text(&input.device_name);
    hash.text(&input.protocol);
    hash.number(input.call_managers.len() as u64);
    for cm in &input.call_managers {
        hash.text(&cm.name);
        hash.text(&cm.address);
        hash.text(&cm.description);
        for (_, port) in cm.ports.named() {
            hash.number(port.into());
        }
    }
    hash.number(input.lines.len() as u64);
    for line in &input.lines {
        hash.number(line.button.into());
        hash.text(&line.dn);
        hash.text(&line.label);
        hash.text(&line.display_name);
        hash.number(line.shared.into());
    }
    hash.number(device_security_mode_code(input.security_mode).into());
    hash.number(transport_layer_protocol_code(input.transport).into());
    hash.number(input.encrypted_config.into());
    hash.number(input.sip_oauth_mode.into());
    hash.number(input.tls_resumption_seconds.into());
    hash.text(input.owner.as_deref().unwrap_or(""));
    hash.number(input.owner.is_some().into());
    hash.number(input.changed_at as u64);
    format!(
        "{}-{}",
        input.changed_at.max(0),
        uuid_from(&hash.0.finalize())
    )
}

/// Length-prefixed fields, so that ("ab", "c") and ("a", "bc") hash differently.
struct Fields(Sha256);

impl Fields {
    fn text(&mut self, value: &str) {
        self.number(value.len() as u64);
        self.0.update(value.as_bytes());
    }
    fn number(&mut self, value: u64) {
        self.0.update(value.to_be_bytes());
    }
}

fn uuid_from(digest: &[u8]) -> uuid::Uuid {
    let mut bytes = [0u8; 16];
    bytes.copy_from_slice(&digest[..16]);
    uuid::Builder::from_custom_bytes(bytes).into_uuid()
}

/// `value` with every character XML 1.0 cannot carry replaced by U+FFFD.
fn xml_text(value: &str) -> Cow<'_, str> {
    let bad = |c: char| c.is_control() || c == '\u{FFFE}' || c == '\u{FFFF}';
    if value.chars().any(bad) {
        Cow::Owned(
            value
                .chars()
                .map(|c| if bad(c) { '\u{FFFD}' } else { c })
                .collect(),
        )
    } else {
        Cow::Borrowed(value)
    }
}

type Xml = Writer<Vec<u8>>;

/// `<name>value</name>`, the value escaped.
fn leaf(w: &mut Xml, name: &str, value: &str) -> io::Result<()> {
    w.create_element(name)
        .write_text_content(BytesText::new(&xml_text(value)))?;
    Ok(())
}

fn flag(value: bool) -> &'static str {
    if value {
        "true"
    } else {
        "false"
    }
}

fn write_device(w: &mut Xml, input: &DeviceConfigInput) -> io::Result<()> {
    w.write_event(Event::Decl(BytesDecl::new("1.0", Some("UTF-8"), None)))?;
    let uuid = device_uuid(&input.device_name);
    w.create_element("device")
        .with_attribute(("xmlns:xsi", XSI_NAMESPACE))
        .with_attribute(("xsi:type", "axl:XIPPhone"))
        .with_attribute(("uuid", uuid.as_str()))
        .write_inner_content(|w| {
            leaf(w, "fullConfig", "true")?;
            leaf(w, "deviceProtocol", &input.protocol)?;
            write_device_pool(w, &input.call_managers)?;
            write_sip_profile(w, input)?;
            leaf(w, "versionStamp", &version_stamp(input))?;
            leaf(
                w,
                "deviceSecurityMode",
                &device_security_mode_code(input.security_mode).to_string(),
            )?;
            leaf(
                w,
                "transportLayerProtocol",
                &transport_layer_protocol_code(input.transport).to_string(),
            )?;
            leaf(w, "capfAuthMode", "0")?;
            leaf(w, "certHash", "")?;
            leaf(w, "encrConfig", flag(input.encrypted_config))?;
            leaf(
                w,
                "TLSResumptionTimer",
                &input.tls_resumption_seconds.to_string(),
            )?;
            let owner = input.owner.as_deref().unwrap_or("");
            leaf(w, "userId", owner)?;
            leaf(w, "ownerId", owner)?;
            leaf(
                w,
                "sipOAuthMode",
                if input.sip_oauth_mode { "1" } else { "0" },
            )?;
            Ok(())
        })?;
    Ok(())
}

fn write_device_pool(w: &mut Xml, call_managers: &[CallManager]) -> io::Result<()> {
    w.create_element("devicePool").write_inner_content(|w| {
        w.create_element("callManagerGroup")
            .write_inner_content(|w| {
                leaf(w, "name", "Default")?;
                leaf(w, "tftpDefault", "true")?;
                w.create_element("members").write_inner_content(|w| {
                    for (priority, cm) in call_managers.iter().enumerate() {
                        write_member(w, priority, cm)?;
                    }
                    Ok(())
                })?;
                Ok(())
            })?;
        Ok(())
    })?;
    Ok(())
}

fn write_member(w: &mut Xml, priority: usize, cm: &CallManager) -> io::Result<()> {
    let priority = priority.to_string();
    w.create_element("member")
        .with_attribute(("priority", priority.as_str()))
        .write_inner_content(|w| {
            w.create_element("callManager").write_inner_content(|w| {
                leaf(w, "name", &cm.address)?;
                let description = if cm.description.is_empty() {
                    &cm.name
                } else {
                    &cm.description
                };
                leaf(w, "description", description)?;
                let p = &cm.ports;
                w.create_element("ports").write_inner_content(|w| {
                    leaf(w, "ethernetPhonePort", &p.ethernet_phone.to_string())?;
                    leaf(w, "sipPort", &p.sip.to_string())?;
                    leaf(w, "securedSipPort", &p.sip_secure.to_string())?;
                    leaf(w, "sipOAuthPort", &p.sip_oauth.to_string())?;
                    leaf(w, "sipMRAOAuthPort", &p.sip_mra_oauth.to_string())?;
                    w.create_element("mgcpPorts").write_inner_content(|w| {
                        leaf(w, "listen", &p.mgcp_listen.to_string())?;
                        leaf(w, "keepAlive", &p.mgcp_keepalive.to_string())
                    })?;
                    Ok(())
                })?;
                leaf(w, "processNodeName", &cm.address)
            })?;
            Ok(())
        })?;
    Ok(())
}

fn write_sip_profile(w: &mut Xml, input: &DeviceConfigInput) -> io::Result<()> {
    let line_port = input.call_managers.first().map(|cm| cm.ports.sip);
    w.create_element("sipProfile").write_inner_content(|w| {
        w.create_element("sipProxies")
            .write_inner_content(|w| leaf(w, "registerWithProxy", "true"))?;
        w.create_element("sipLines").write_inner_content(|w| {
            for line in &input.lines {
                write_line(w, line, line_port)?;
            }
            Ok(())
        })?;
        Ok(())
    })?;
    Ok(())
}

fn write_line(w: &mut Xml, line: &SipLine, port: Option<u32>) -> io::Result<()> {
    let button = line.button.to_string();
    w.create_element("line")
        .with_attribute(("button", button.as_str()))
        .with_attribute(("lineIndex", button.as_str()))
        .write_inner_content(|w| {
            leaf(w, "featureID", LINE_FEATURE_ID)?;
            leaf(w, "featureLabel", &line.label)?;
            leaf(w, "proxy", USE_CALL_MANAGER)?;
            if let Some(port) = port {
                leaf(w, "port", &port.to_string())?;
            }
            leaf(w, "name", &line.dn)?;
            leaf(w, "displayName", &line.display_name)?;
            leaf(w, "sharedLine", flag(line.shared))?;
            leaf(w, "contact", &line.dn)
        })?;
    Ok(())
}

#[cfg(test)]
mod tests;
