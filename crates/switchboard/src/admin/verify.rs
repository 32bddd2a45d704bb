//! `switchboard verify sip-oauth`: the seed's "Verificar" section (004) as one command. Each
//! check prints PASS or FAIL with what was found and, when it fails, the command that fixes it;
//! the exit status is 1 when any check fails.
//!
//! The checks are computed from what the API answers (mode, edge-proxy entries, the node's open
//! sockets and every node's configured ports, devices, profiles, users, trust store), in a pure
//! function so each verdict is unit-tested.

use serde::Deserialize;
use switchboard_store::model::{Device, Expressway, SecurityProfile, Transport, User};

use super::client::{decode, CliError, Client};
use super::ports::Ports;

#[derive(clap::Subcommand, Debug)]
pub enum VerifyCommand {
    /// SIP OAuth mode end to end: cluster mode, edge-proxy entries, OAuth ports open, each
    /// OAuth device's profile and owner, the trust store for the MRA port.
    SipOauth,
}

/// One verdict.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Check {
    pub passed: bool,
    pub title: String,
    pub detail: String,
    /// The command that fixes a failure.
    pub fix: Option<String>,
}

impl Check {
    fn pass(title: impl Into<String>, detail: impl Into<String>) -> Check {
        Check {
            passed: true,
            title: title.into(),
            detail: detail.into(),
            fix: None,
        }
    }
    fn fail(title: impl Into<String>, detail: impl Into<String>, fix: impl Into<String>) -> Check {
        Check {
            passed: false,
            title: title.into(),
            detail: detail.into(),
            fix: Some(fix.into()),
        }
    }
}

#[derive(Deserialize)]
struct Mode {
    enabled: bool,
}

/// What the checks look at.
pub struct Facts {
    pub mode_enabled: bool,
    pub edge_proxies: Vec<Expressway>,
    pub ports: Ports,
    pub devices: Vec<Device>,
    pub profiles: Vec<SecurityProfile>,
    pub users: Vec<User>,
    pub trusted_certificates: usize,
}

/// The checks, in the seed's order.
pub fn sip_oauth_checks(f: &Facts) -> Vec<Check> {
    let mut checks = Vec::new();
    // 1. The cluster's mode (the seed's `run sql … ClusterSIPOAuthMode`).
    checks.push(if f.mode_enabled {
        Check::pass("Cluster SIP OAuth mode", "ClusterSIPOAuthMode = 1")
    } else {
        Check::fail(
            "Cluster SIP OAuth mode",
            "ClusterSIPOAuthMode = 0: the OAuth ports answer 403 \"SIP OAuth Registration port Mismatch\"",
            "switchboard sip-oauth-mode enable",
        )
    });
    // 2. Edge-proxy entries (the seed's `expresswayconfiguration` query).
    checks.push(if f.edge_proxies.is_empty() {
        Check::fail(
            "Edge-proxy (Expressway-C) entries",
            "none: the MRA port (5091) admits no edge proxy (only needed for mobile and remote access)",
            "switchboard expressway add <host> --names <CN>,<SAN>,…",
        )
    } else {
        let listed: Vec<String> = f
            .edge_proxies
            .iter()
            .map(|e| format!("{} [{}]", e.hostnameorip, e.x509subjectnameoraltname))
            .collect();
        Check::pass("Edge-proxy (Expressway-C) entries", listed.join("; "))
    });
    // 3. The node answering listens on its OAuth ports (the seed's `show open ports`).
    let node = f.ports.nodes.iter().find(|n| n.name == f.ports.node);
    for (service, label) in [
        ("sip-oauth", "SIP OAuth port"),
        ("sip-mra-oauth", "SIP MRA OAuth port"),
    ] {
        let open: Vec<&str> = f
            .ports
            .listeners
            .iter()
            .filter(|l| l.service == service)
            .map(|l| l.address.as_str())
            .collect();
        let configured = node.map(|n| {
            if service == "sip-oauth" {
                n.ports.sip_oauth
            } else {
                n.ports.sip_mra_oauth
            }
        });
        let title = format!("{label} on {}", f.ports.node);
        let on_configured = configured.is_some_and(|port| {
            open.iter()
                .any(|a| a.rsplit(':').next() == Some(&port.to_string()))
        });
        checks.push(match (open.is_empty(), on_configured, configured) {
            (true, _, _) => Check::fail(
                title,
                "not listening",
                "check the node's log for a port that could not be bound",
            ),
            (false, true, Some(port)) => Check::pass(title, format!("listening on {} (configured {port})", open.join(", "))),
            (false, _, configured) => Check::fail(
                title,
                format!(
                    "listening on {} but the node's configured port is {}",
                    open.join(", "),
                    configured.map(|p| p.to_string()).unwrap_or_else(|| "unknown".into())
                ),
                "the socket is pinned by the node file or a --sip-oauth/--sip-mra-oauth flag: remove the override",
            ),
        });
    }
    for n in &f.ports.nodes {
        checks.push(Check::pass(
            format!("Configured OAuth ports of {}", n.name),
            format!(
                "{} sipOAuthPort {} sipMRAOAuthPort {}",
                n.address, n.ports.sip_oauth, n.ports.sip_mra_oauth
            ),
        ));
    }
    // 4. Every device whose profile has OAuth: TLS, an owner that can log in.
    let oauth_profiles: Vec<&SecurityProfile> =
        f.profiles.iter().filter(|p| p.oauth_auth).collect();
    let oauth_devices: Vec<&Device> = f
        .devices
        .iter()
        .filter(|d| oauth_profiles.iter().any(|p| p.name == d.security_profile))
        .collect();
    if oauth_devices.is_empty() {
        checks.push(Check::fail(
            "Devices with an OAuth security profile",
            "none: no device can register on the OAuth ports",
            "switchboard device set <CSF…> --profile '<a profile with OAuth>'",
        ));
    }
    for d in oauth_devices {
        let title = format!("Device {} ({})", d.name, d.security_profile);
        let profile = oauth_profiles
            .iter()
            .find(|p| p.name == d.security_profile)
            .copied();
        let owner = d
            .owner
            .as_deref()
            .and_then(|o| f.users.iter().find(|u| u.userid == o));
        checks.push(match (profile, d.owner.as_deref(), owner) {
            (Some(p), _, _) if p.transport != Transport::Tls => Check::fail(
                title,
                format!("profile transport is {:?}: OAuth needs TLS", p.transport),
                format!("switchboard profile set '{}' --transport tls", p.name),
            ),
            (_, None, _) => Check::fail(
                title,
                "no owner: a token's user must own the device",
                format!("switchboard device set {} --owner <userid>", d.name),
            ),
            (_, Some(o), None) => Check::fail(
                title,
                format!("owner {o} does not exist"),
                format!("switchboard device set {} --owner <userid>", d.name),
            ),
            (_, Some(o), Some(u)) if !u.enabled => Check::fail(
                title,
                format!("owner {o} is disabled"),
                format!("switchboard user set {o} --enabled true"),
            ),
            (_, Some(o), Some(_)) => Check::pass(title, format!("OAuth over TLS, owner {o}")),
        });
    }
    // 5. The MRA port verifies edge proxies against the trust store.
    checks.push(if f.trusted_certificates == 0 {
        Check::fail(
            "Trust store (tomcat-trust) for the MRA port",
            "empty: every edge proxy's handshake fails with unknown_ca (Cenário 3)",
            "switchboard cert trust-import <edge-proxy-CA.pem>",
        )
    } else {
        Check::pass(
            "Trust store (tomcat-trust) for the MRA port",
            format!("{} certificate(s)", f.trusted_certificates),
        )
    });
    checks
}

/// `PASS  title: detail` / `FAIL  title: detail\n      fix: …`.
pub fn format_checks(checks: &[Check]) -> String {
    let mut out = Vec::new();
    for c in checks {
        out.push(format!(
            "{}  {}: {}",
            if c.passed { "PASS" } else { "FAIL" },
            c.title,
            c.detail
        ));
        if let Some(fix) = &c.fix {
            out.push(format!("      fix: {fix}"));
        }
    }
    let failed = checks.iter().filter(|c| !c.passed).count();
    out.push(format!("{} checks, {} failed", checks.len(), failed));
    out.join("\n")
}

async fn get_as<T: serde::de::DeserializeOwned>(
    client: &Client,
    path: &[&str],
) -> Result<T, CliError> {
    decode(client.get(path).await?.unwrap_or(serde_json::Value::Null))
}

/// Runs the checks; a failed check makes the verb fail (exit status 1).
pub async fn run(client: &Client, command: VerifyCommand) -> Result<(), CliError> {
    match command {
        VerifyCommand::SipOauth => {
            let mode: Mode = get_as(client, &["sip-oauth-mode"]).await?;
            let certs: serde_json::Value = get_as(client, &["certs"]).await?;
            let trusted_certificates = certs["trust"].as_array().map_or(0, Vec::len);
            let facts = Facts {
                mode_enabled: mode.enabled,
                edge_proxies: get_as(client, &["expressway"]).await?,
                ports: get_as(client, &["ports"]).await?,
                devices: get_as(client, &["devices"]).await?,
                profiles: get_as(client, &["profiles"]).await?,
                users: get_as(client, &["users"]).await?,
                trusted_certificates,
            };
            let checks = sip_oauth_checks(&facts);
            let failed = checks.iter().filter(|c| !c.passed).count();
            if client.json {
                let json: Vec<serde_json::Value> = checks
                    .iter()
                    .map(|c| {
                        serde_json::json!({"check": c.title, "passed": c.passed, "detail": c.detail, "fix": c.fix})
                    })
                    .collect();
                super::output::print_json(&serde_json::Value::Array(json));
            } else {
                println!("{}", format_checks(&checks));
            }
            if failed > 0 {
                return Err(CliError::Local(format!(
                    "{failed} of {} SIP OAuth checks failed",
                    checks.len()
                )));
            }
            Ok(())
        }
    }
}
