//! `switchboard ports`: what the node listens on (like the seed's `show open ports`) and the
//! ports configured for every node of the cluster.

use serde::{Deserialize, Serialize};
use switchboard_store::model::Node;

use super::client::{CliError, Client};
use super::output::table;

/// The answer of `GET /api/ports`.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Ports {
    /// Name of the node that answered.
    pub node: String,
    pub listeners: Vec<Listener>,
    pub nodes: Vec<Node>,
}

/// One open socket of the node.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Listener {
    pub service: String,
    /// `tcp`, `udp` (TLS listeners are TCP).
    pub transport: String,
    pub address: String,
}

pub async fn run(client: &Client) -> Result<(), CliError> {
    let answer = client.get(&["ports"]).await?;
    client.print(answer, |ports: Ports| format_ports(&ports))
}

/// `switchboard <node> TCP 127.0.0.1:8443 (LISTEN) https`, lsof-style; UDP without `(LISTEN)`.
pub fn listener_line(node: &str, l: &Listener) -> String {
    let proto = match l.transport.to_ascii_lowercase().as_str() {
        "udp" => "UDP".to_owned(),
        "tcp" | "tls" | "mtls" | "https" | "http" | "wss" | "ws" => "TCP".to_owned(),
        other => other.to_ascii_uppercase(),
    };
    let state = if proto == "UDP" { "" } else { " (LISTEN)" };
    format!(
        "switchboard {node} {proto} {}{state} {}",
        l.address, l.service
    )
}

/// The configured ports of every node: one line per node and port.
pub fn cluster_ports_table(nodes: &[Node]) -> String {
    table(
        &["node", "address", "port_name", "port"],
        nodes.iter().flat_map(|n| {
            n.ports.named().into_iter().map(move |(name, port)| {
                [
                    n.name.clone(),
                    n.address.clone(),
                    name.to_owned(),
                    port.to_string(),
                ]
            })
        }),
    )
}

/// The whole `ports` output: the open ports, a blank line, the cluster's configured ports.
pub fn format_ports(p: &Ports) -> String {
    let mut out: Vec<String> = p
        .listeners
        .iter()
        .map(|l| listener_line(&p.node, l))
        .collect();
    if !p.nodes.is_empty() {
        if !out.is_empty() {
            out.push(String::new());
        }
        out.push(cluster_ports_table(&p.nodes));
    }
    out.join("\n")
}

#[cfg(test)]
mod tests {
    use super::*;
    use switchboard_store::model::NodePorts;

    fn listener(service: &str, transport: &str, address: &str) -> Listener {
        Listener {
            service: service.into(),
            transport: transport.into(),
            address: address.into(),
        }
    }

    #[test]
    fn lsof_like_lines() {
        assert_eq!(
            listener_line("ucm1", &listener("https", "tcp", "127.0.0.1:8443")),
            "switchboard ucm1 TCP 127.0.0.1:8443 (LISTEN) https"
        );
        assert_eq!(
            listener_line("ucm1", &listener("sip", "udp", "0.0.0.0:5060")),
            "switchboard ucm1 UDP 0.0.0.0:5060 sip"
        );
        assert_eq!(
            listener_line("ucm1", &listener("sip_oauth", "tls", "10.48.0.1:5090")),
            "switchboard ucm1 TCP 10.48.0.1:5090 (LISTEN) sip_oauth"
        );
    }

    #[test]
    fn whole_output() {
        let ports = Ports {
            node: "ucm1".into(),
            listeners: vec![
                listener("https", "tcp", "127.0.0.1:8443"),
                listener("sip_oauth", "tcp", "127.0.0.1:5090"),
            ],
            nodes: vec![Node {
                name: "ucm1".into(),
                address: "127.0.0.1".into(),
                description: String::new(),
                priority: 1,
                ports: NodePorts::default(),
            }],
        };
        let text = format_ports(&ports);
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(
            lines[0],
            "switchboard ucm1 TCP 127.0.0.1:8443 (LISTEN) https"
        );
        assert_eq!(
            lines[1],
            "switchboard ucm1 TCP 127.0.0.1:5090 (LISTEN) sip_oauth"
        );
        assert_eq!(lines[2], "");
        assert_eq!(lines[3], "node  address    port_name       port");
        assert_eq!(lines.len(), 5 + 11);
        assert!(lines.contains(&"ucm1  127.0.0.1  sip_oauth       5090"));
        assert!(lines.contains(&"ucm1  127.0.0.1  sip_mra_oauth   5091"));
    }
}
