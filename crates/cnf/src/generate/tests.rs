//! The generator's output read back: element paths and values, escaping, the version stamp,
//! and the structure compared with CUCM's own file.

use quick_xml::events::Event;
use quick_xml::name::ResolveResult;
use quick_xml::NsReader;
use switchboard_store::model::{NodePorts, SecurityMode, Transport};

use super::*;
use crate::tree::Element;

/// Element paths of a complete CUCM 12.5 file (names only), in document order.
const CUCM_SAMPLE_PATHS: &str = include_str!("../../tests/data/cucm-12.5-sep-cp7821.paths");

/// Paths taken from the Jabber file of the SIP OAuth seed, absent from the deskphone file.
const OAUTH_PATHS: [&str; 3] = [
    "/device/devicePool/callManagerGroup/members/member/callManager/ports/sipOAuthPort",
    "/device/devicePool/callManagerGroup/members/member/callManager/ports/sipMRAOAuthPort",
    "/device/sipOAuthMode",
];

fn two_node_input() -> DeviceConfigInput {
    DeviceConfigInput {
        device_name: "CSFwwhite".into(),
        protocol: "SIP".into(),
        call_managers: vec![
            CallManager {
                name: "ccm12pub".into(),
                address: "10.10.10.1".into(),
                description: String::new(),
                ports: NodePorts::default(),
            },
            CallManager {
                name: "ucm2".into(),
                address: "10.10.10.2".into(),
                description: "second node".into(),
                ports: NodePorts {
                    sip: 5070,
                    sip_secure: 5071,
                    sip_oauth: 5092,
                    sip_mra_oauth: 5093,
                    ..NodePorts::default()
                },
            },
        ],
        lines: vec![
            SipLine {
                button: 1,
                dn: "1001".into(),
                label: "Walter White".into(),
                display_name: "Walter White".into(),
                shared: true,
            },
            SipLine {
                button: 2,
                dn: "+1002".into(),
                label: "R&D <lab>".into(),
                display_name: "\"Heisenberg\" & 'co'".into(),
                shared: false,
            },
        ],
        security_mode: SecurityMode::Encrypted,
        transport: Transport::Tls,
        encrypted_config: false,
        sip_oauth_mode: true,
        tls_resumption_seconds: 3600,
        owner: Some("wwhite".into()),
        changed_at: 1_555_108_264,
    }
}

fn parsed(input: &DeviceConfigInput) -> Element {
    Element::parse(&device_config(input)).expect("the output is well-formed XML")
}

#[test]
fn the_seeds_values_are_where_jabber_reads_them() {
    let device = parsed(&two_node_input());
    assert_eq!(device.name, "device");
    assert_eq!(device.attr("xsi:type"), Some("axl:XIPPhone"));
    assert_eq!(device.text_at("fullConfig"), Some("true"));
    assert_eq!(device.text_at("deviceProtocol"), Some("SIP"));
    let group = &device.all("devicePool/callManagerGroup")[0];
    assert_eq!(group.text_at("name"), Some("Default"));
    assert_eq!(group.text_at("tftpDefault"), Some("true"));
    let members = group.all("members/member");
    assert_eq!(members.len(), 2);
    let expect = [
        (
            "0",
            "10.10.10.1",
            "ccm12pub",
            ["2000", "5060", "5061", "5090", "5091", "2427", "2428"],
        ),
        (
            "1",
            "10.10.10.2",
            "second node",
            ["2000", "5070", "5071", "5092", "5093", "2427", "2428"],
        ),
    ];
    for (member, (priority, address, description, ports)) in members.iter().zip(expect) {
        assert_eq!(member.attr("priority"), Some(priority));
        let cm = member.child("callManager").unwrap();
        assert_eq!(cm.text_at("name"), Some(address));
        assert_eq!(cm.text_at("description"), Some(description));
        assert_eq!(cm.text_at("processNodeName"), Some(address));
        let got: Vec<&str> = [
            "ports/ethernetPhonePort",
            "ports/sipPort",
            "ports/securedSipPort",
            "ports/sipOAuthPort",
            "ports/sipMRAOAuthPort",
            "ports/mgcpPorts/listen",
            "ports/mgcpPorts/keepAlive",
        ]
        .iter()
        .map(|p| cm.text_at(p).unwrap())
        .collect();
        assert_eq!(got, ports);
    }
    assert_eq!(device.text_at("sipOAuthMode"), Some("1"));
    assert_eq!(device.text_at("deviceSecurityMode"), Some("3"));
    assert_eq!(device.text_at("transportLayerProtocol"), Some("3"));
    assert_eq!(device.text_at("encrConfig"), Some("false"));
    assert_eq!(device.text_at("capfAuthMode"), Some("0"));
    assert_eq!(device.text_at("certHash"), Some(""));
    assert_eq!(device.text_at("TLSResumptionTimer"), Some("3600"));
    assert_eq!(device.text_at("userId"), Some("wwhite"));
    assert_eq!(device.text_at("ownerId"), Some("wwhite"));
    assert_eq!(
        device.text_at("sipProfile/sipProxies/registerWithProxy"),
        Some("true")
    );
}

#[test]
fn lines_carry_number_labels_and_sharing() {
    let device = parsed(&two_node_input());
    let lines = device.all("sipProfile/sipLines/line");
    assert_eq!(lines.len(), 2);
    let first = lines[0];
    assert_eq!(first.attr("button"), Some("1"));
    assert_eq!(first.attr("lineIndex"), Some("1"));
    assert_eq!(first.text_at("featureID"), Some("9"));
    assert_eq!(first.text_at("featureLabel"), Some("Walter White"));
    assert_eq!(first.text_at("proxy"), Some("USECALLMANAGER"));
    assert_eq!(
        first.text_at("port"),
        Some("5060"),
        "the first node's SIP port"
    );
    assert_eq!(first.text_at("name"), Some("1001"));
    assert_eq!(first.text_at("displayName"), Some("Walter White"));
    assert_eq!(first.text_at("sharedLine"), Some("true"));
    assert_eq!(first.text_at("contact"), Some("1001"));
    let second = lines[1];
    assert_eq!(second.attr("button"), Some("2"));
    assert_eq!(second.text_at("name"), Some("+1002"));
    assert_eq!(second.text_at("featureLabel"), Some("R&D <lab>"));
    assert_eq!(second.text_at("displayName"), Some("\"Heisenberg\" & 'co'"));
    assert_eq!(second.text_at("sharedLine"), Some("false"));
}

#[test]
fn security_codes() {
    assert_eq!(device_security_mode_code(SecurityMode::NonSecure), 1);
    assert_eq!(device_security_mode_code(SecurityMode::Authenticated), 2);
    assert_eq!(device_security_mode_code(SecurityMode::Encrypted), 3);
    assert_eq!(transport_layer_protocol_code(Transport::Tcp), 1);
    assert_eq!(transport_layer_protocol_code(Transport::Udp), 2);
    assert_eq!(transport_layer_protocol_code(Transport::Tls), 3);
    assert_eq!(transport_layer_protocol_code(Transport::TcpUdp), 4);
    let input = DeviceConfigInput {
        device_name: "SEP001794625DE5".into(),
        security_mode: SecurityMode::NonSecure,
        transport: Transport::TcpUdp,
        encrypted_config: true,
        sip_oauth_mode: false,
        owner: None,
        lines: Vec::new(),
        call_managers: Vec::new(),
        ..two_node_input()
    };
    let device = parsed(&input);
    assert_eq!(device.text_at("deviceSecurityMode"), Some("1"));
    assert_eq!(device.text_at("transportLayerProtocol"), Some("4"));
    assert_eq!(device.text_at("encrConfig"), Some("true"));
    assert_eq!(device.text_at("sipOAuthMode"), Some("0"));
    assert_eq!(device.text_at("userId"), Some(""));
    assert!(device
        .all("devicePool/callManagerGroup/members/member")
        .is_empty());
    assert!(device.all("sipProfile/sipLines/line").is_empty());
}

#[test]
fn layout_is_one_element_per_line() {
    let xml = device_config(&two_node_input());
    assert!(
        xml.starts_with("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<device xmlns:xsi=\"http://www.w3.org/2001/XMLSchema-instance\" xsi:type=\"axl:XIPPhone\" uuid=\"{"),
        "{xml}"
    );
    assert!(
        xml.contains(
            "\n<fullConfig>true</fullConfig>\n<deviceProtocol>SIP</deviceProtocol>\n<devicePool>\n"
        ),
        "{xml}"
    );
    assert!(xml.contains("\n<certHash></certHash>\n"), "{xml}");
    assert!(xml.ends_with("</device>\n"), "{xml}");
}

#[test]
fn namespaces_are_declared_for_strict_parsers() {
    let xml = device_config(&two_node_input());
    let mut reader = NsReader::from_str(&xml);
    let mut prefixed = 0;
    loop {
        match reader.read_resolved_event().unwrap() {
            (ResolveResult::Unknown(prefix), _) => {
                panic!("unbound element prefix {prefix:?}")
            }
            (_, Event::Start(e) | Event::Empty(e)) => {
                for attribute in e.attributes() {
                    let attribute = attribute.unwrap();
                    if attribute.key.as_ref().starts_with("xmlns") {
                        continue;
                    }
                    let (ns, _) = reader.resolver().resolve_attribute(attribute.key);
                    match ns {
                        ResolveResult::Unknown(p) => panic!("unbound attribute prefix {p:?}"),
                        ResolveResult::Bound(ns) => {
                            prefixed += 1;
                            assert_eq!(ns.0, XSI_NAMESPACE);
                        }
                        ResolveResult::Unbound => {}
                    }
                }
            }
            (_, Event::Eof) => break,
            _ => {}
        }
    }
    assert_eq!(prefixed, 1, "xsi:type is the one prefixed attribute");
}

#[test]
fn structure_follows_cucms_own_file() {
    let cucm: Vec<&str> = CUCM_SAMPLE_PATHS
        .lines()
        .filter(|l| l.starts_with('/'))
        .collect();
    assert_eq!(cucm.len(), 305);
    let ours = parsed(&two_node_input()).paths();
    let mut last = 0;
    for path in ours.iter().filter(|p| !OAUTH_PATHS.contains(&p.as_str())) {
        let at = cucm
            .iter()
            .position(|c| c == path)
            .unwrap_or_else(|| panic!("{path} is not in CUCM's file"));
        assert!(at >= last, "{path} comes earlier in CUCM's file");
        last = at;
    }
    for path in OAUTH_PATHS {
        assert!(ours.iter().any(|p| p == path), "{path} missing");
    }
    // The values Jabber needs are all there.
    for needed in [
        "/device/devicePool/callManagerGroup/members/member/callManager/name",
        "/device/devicePool/callManagerGroup/members/member/callManager/ports/securedSipPort",
        "/device/sipProfile/sipLines/line/name",
        "/device/deviceSecurityMode",
        "/device/transportLayerProtocol",
        "/device/versionStamp",
    ] {
        assert!(ours.iter().any(|p| p == needed), "{needed} missing");
    }
}

#[test]
fn characters_xml_cannot_carry_are_replaced() {
    let mut input = two_node_input();
    input.lines[0].label = "a\u{0}b\u{1b}c\u{FFFF}d".into();
    input.lines[0].display_name = "]]> <![CDATA[ &amp;".into();
    let device = parsed(&input);
    let line = device.all("sipProfile/sipLines/line")[0];
    assert_eq!(
        line.text_at("featureLabel"),
        Some("a\u{FFFD}b\u{FFFD}c\u{FFFD}d")
    );
    assert_eq!(line.text_at("displayName"), Some("]]> <![CDATA[ &amp;"));
}

#[test]
fn version_stamp_follows_every_input() {
    let base = two_node_input();
    let stamp = version_stamp(&base);
    let (seconds, uuid) = stamp.split_once('-').unwrap();
    assert_eq!(seconds, "1555108264");
    let uuid = uuid::Uuid::parse_str(uuid).unwrap();
    assert_eq!(uuid.get_version_num(), 8);
    assert_eq!(version_stamp(&base.clone()), stamp, "deterministic");
    assert_eq!(parsed(&base).text_at("versionStamp"), Some(stamp.as_str()));

    let changes: Vec<fn(&mut DeviceConfigInput)> = vec![
        |i| i.sip_oauth_mode = false,
        |i| i.call_managers[1].ports.sip_oauth = 5094,
        |i| i.call_managers[1].address = "10.10.10.3".into(),
        |i| i.call_managers.swap(0, 1),
        |i| i.call_managers.truncate(1),
        |i| i.lines[0].label = "Walter".into(),
        |i| i.lines[1].shared = true,
        |i| i.lines.pop().map(drop).unwrap_or(()),
        |i| i.security_mode = SecurityMode::Authenticated,
        |i| i.transport = Transport::TcpUdp,
        |i| i.encrypted_config = true,
        |i| i.tls_resumption_seconds = 600,
        |i| i.owner = None,
        |i| i.owner = Some(String::new()),
        |i| i.changed_at += 1,
    ];
    for (n, change) in changes.into_iter().enumerate() {
        let mut changed = base.clone();
        change(&mut changed);
        assert_ne!(version_stamp(&changed), stamp, "change #{n}");
    }
}

#[test]
fn device_uuid_is_stable_and_per_device() {
    let a = device_uuid("CSFwwhite");
    assert_eq!(a, device_uuid("CSFwwhite"));
    assert_ne!(a, device_uuid("SEP001794625DE5"));
    assert!(a.starts_with('{') && a.ends_with('}'));
    uuid::Uuid::parse_str(&a[1..a.len() - 1]).unwrap();
    assert_eq!(parsed(&two_node_input()).attr("uuid"), Some(a.as_str()));
}
