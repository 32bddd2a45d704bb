//! `switchboard node …`: the nodes of the cluster (`callmanager`) and their ports.

use clap::Subcommand;
use serde_json::{Map, Value};
use switchboard_store::model::{Node, NodePatch, NodePorts, NodePortsPatch};

use super::client::{CliError, Client};
use super::output::{detail, table};

#[derive(Subcommand, Debug)]
pub enum NodeCommand {
    /// List the nodes of the cluster.
    List,
    /// Show one node with its ports.
    Show { name: String },
    /// Add a node.
    Add {
        name: String,
        /// Host name or IP address phones reach it by.
        #[arg(long)]
        address: String,
        /// Order in the call-manager group (1 first).
        #[arg(long)]
        priority: Option<u32>,
        #[arg(long)]
        description: Option<String>,
        /// A port other than the default, e.g. sip_oauth=5090 (repeat).
        #[arg(long = "port", value_name = "NAME=PORT", value_parser = parse_port)]
        ports: Vec<(String, u32)>,
    },
    /// Change the given settings of a node; unnamed ports stay as they are.
    Set {
        name: String,
        #[arg(long)]
        address: Option<String>,
        #[arg(long)]
        priority: Option<u32>,
        #[arg(long)]
        description: Option<String>,
        /// A port to change, e.g. sip_oauth=5095 (repeat).
        #[arg(long = "port", value_name = "NAME=PORT", value_parser = parse_port)]
        ports: Vec<(String, u32)>,
    },
    /// Delete a node.
    Delete { name: String },
}

/// Parses `NAME=PORT` with NAME one of the node's port names (`-` may stand for `_`).
pub fn parse_port(s: &str) -> Result<(String, u32), String> {
    let names: Vec<&str> = NodePorts::default()
        .named()
        .iter()
        .map(|(n, _)| *n)
        .collect();
    let expected = || {
        format!(
            "expected NAME=PORT, e.g. sip_oauth=5090, NAME one of {} (got `{s}`)",
            names.join(", ")
        )
    };
    let (name, port) = s.split_once('=').ok_or_else(expected)?;
    let name = name.trim().replace('-', "_");
    if !names.contains(&name.as_str()) {
        return Err(expected());
    }
    match port.trim().parse::<u16>() {
        Ok(port) if port > 0 => Ok((name, u32::from(port))),
        _ => Err(format!(
            "port of {name} must be 1-65535 (got `{}`)",
            port.trim()
        )),
    }
}

/// The ports patch naming `ports` (names already checked by [`parse_port`]).
pub fn ports_patch(ports: &[(String, u32)]) -> Result<NodePortsPatch, CliError> {
    let map: Map<String, Value> = ports
        .iter()
        .map(|(name, port)| (name.clone(), Value::from(*port)))
        .collect();
    serde_json::from_value(Value::Object(map))
        .map_err(|e| CliError::Usage(format!("bad --port: {e}")))
}

pub async fn run(client: &Client, command: NodeCommand) -> Result<(), CliError> {
    match command {
        NodeCommand::List => {
            let answer = client.get(&["nodes"]).await?;
            client.print(answer, |nodes: Vec<Node>| nodes_table(&nodes))
        }
        NodeCommand::Show { name } => {
            let answer = client.get(&["nodes", &name]).await?;
            client.print(answer, |node: Node| node_detail(&node))
        }
        NodeCommand::Add {
            name,
            address,
            priority,
            description,
            ports,
        } => {
            let body = Node {
                name,
                address,
                description: description.unwrap_or_default(),
                priority: priority.unwrap_or(1),
                ports: ports_patch(&ports)?.apply(NodePorts::default()),
            };
            let answer = client.post(&["nodes"], &body).await?;
            client.print(answer, |node: Node| node_detail(&node))
        }
        NodeCommand::Set {
            name,
            address,
            priority,
            description,
            ports,
        } => {
            let body = NodePatch {
                address,
                description,
                priority,
                ports: if ports.is_empty() {
                    None
                } else {
                    Some(ports_patch(&ports)?)
                },
            };
            let answer = client.patch(&["nodes", &name], &body).await?;
            client.print(answer, |node: Node| node_detail(&node))
        }
        NodeCommand::Delete { name } => {
            let answer = client.delete(&["nodes", &name]).await?;
            client.done(answer, &format!("node {name} deleted."));
            Ok(())
        }
    }
}

/// One line per node.
pub fn nodes_table(nodes: &[Node]) -> String {
    table(
        &["name", "address", "priority", "description"],
        nodes.iter().map(|n| {
            [
                n.name.clone(),
                n.address.clone(),
                n.priority.to_string(),
                n.description.clone(),
            ]
        }),
    )
}

/// Every field of one node, one line per port.
pub fn node_detail(n: &Node) -> String {
    let mut rows = vec![
        ("name", n.name.clone()),
        ("address", n.address.clone()),
        ("priority", n.priority.to_string()),
        ("description", n.description.clone()),
    ];
    rows.extend(n.ports.named().iter().map(|(k, v)| (*k, v.to_string())));
    detail(&rows)
}

#[cfg(test)]
mod tests {
    use super::super::tests::parse;
    use super::super::AdminCommand;
    use super::*;
    use clap::error::ErrorKind;

    #[test]
    fn node_set_port() {
        let cli = parse(&["node", "set", "ucm1", "--port", "sip_oauth=5095"]).unwrap();
        match cli.command {
            AdminCommand::Node {
                command: NodeCommand::Set { name, ports, .. },
            } => {
                assert_eq!(name, "ucm1");
                assert_eq!(ports, [("sip_oauth".to_string(), 5095)]);
                let patch = ports_patch(&ports).unwrap();
                assert_eq!(patch.sip_oauth, Some(5095));
                assert_eq!(patch.sip_mra_oauth, None);
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn port_names_and_numbers_are_checked() {
        assert_eq!(
            parse_port("sip-mra-oauth=5091").unwrap(),
            ("sip_mra_oauth".to_string(), 5091)
        );
        assert!(parse_port("sip_oauth=0").is_err());
        assert!(parse_port("sip_oauth=70000").is_err());
        assert!(parse_port("sip_oauth").is_err());
        let err = parse(&["node", "set", "ucm1", "--port", "sipp=5060"]).unwrap_err();
        assert_eq!(err.kind(), ErrorKind::ValueValidation);
        assert!(err.to_string().contains("sip_mra_oauth"), "{err}");
    }

    #[test]
    fn add_applies_ports_to_defaults() {
        let ports = ports_patch(&[("sip_oauth".into(), 5095)])
            .unwrap()
            .apply(NodePorts::default());
        assert_eq!(ports.sip_oauth, 5095);
        assert_eq!(ports.sip_mra_oauth, 5091);
    }

    #[test]
    fn node_detail_lists_ports() {
        let node = Node {
            name: "ucm1".into(),
            address: "10.48.0.1".into(),
            description: String::new(),
            priority: 1,
            ports: NodePorts::default(),
        };
        let text = node_detail(&node);
        assert!(text.contains("\nsip_oauth       5090\n"), "{text}");
        assert!(text.ends_with("https           8443"), "{text}");
    }
}
