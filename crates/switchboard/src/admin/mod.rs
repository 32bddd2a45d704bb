//! The admin verbs of the `switchboard` binary: a CLI over a node's HTTPS provisioning API.
//!
//! `run` connects (local discovery through the data directory, or `--server`/`--token`/`--ca`),
//! dispatches to one module per verb group and turns every failure into `error: …` on stderr
//! with exit status 1 (2 for usage errors found after parsing).

mod audit;
mod calls;
mod cert;
pub(crate) mod client;
mod device;
mod expressway;
mod ldap;
mod line;
mod node;
pub(crate) mod oauth;
mod output;
mod param;
pub(crate) mod ports;
mod profile;
mod registrations;
mod sip_oauth;
mod sql;
mod trace;
mod user;
mod verify;

use std::path::PathBuf;
use std::process::ExitCode;

use client::{CliError, Client};

/// How the admin verbs reach a node.
#[derive(clap::Args, Debug, Clone)]
pub struct ConnectArgs {
    /// Data directory of the local node (finds its address, admin token and certificate).
    #[arg(
        long,
        env = "SWITCHBOARD_DATA_DIR",
        default_value = "./switchboard-data",
        global = true
    )]
    pub data_dir: PathBuf,
    /// URL of a remote node's HTTPS API, e.g. https://ucm1.example.com:8443 (`cti` also
    /// takes the CTI Manager's HOST:PORT)
    #[arg(long, env = "SWITCHBOARD_SERVER", global = true)]
    pub server: Option<String>,
    /// Admin API token for --server (or SWITCHBOARD_TOKEN).
    #[arg(long, env = "SWITCHBOARD_TOKEN", global = true, hide_env_values = true)]
    pub token: Option<String>,
    /// PEM file of the CA/certificate to trust for --server.
    #[arg(long, global = true)]
    pub ca: Option<PathBuf>,
    /// Print JSON instead of tables.
    #[arg(long, global = true)]
    pub json: bool,
}

/// The administration verbs (counterparts of the seed's CUCM admin pages and CLI commands).
#[derive(clap::Subcommand, Debug)]
pub enum AdminCommand {
    /// End users and their CTI settings.
    User {
        #[command(subcommand)]
        command: user::UserCommand,
    },
    /// Phones and softphones.
    Device {
        #[command(subcommand)]
        command: device::DeviceCommand,
    },
    /// Directory numbers.
    Line {
        #[command(subcommand)]
        command: line::LineCommand,
    },
    /// Phone security profiles.
    Profile {
        #[command(subcommand)]
        command: profile::ProfileCommand,
    },
    /// Enterprise and service parameters.
    Param {
        #[command(subcommand)]
        command: param::ParamCommand,
    },
    /// Cluster nodes and their ports.
    Node {
        #[command(subcommand)]
        command: node::NodeCommand,
    },
    /// LDAP / Active Directory authentication.
    Ldap {
        #[command(subcommand)]
        command: ldap::LdapCommand,
    },
    /// Edge-proxy (Expressway-C) entries: the CN/SAN names trusted on the MRA OAuth port.
    Expressway {
        #[command(subcommand)]
        command: expressway::ExpresswayCommand,
    },
    /// The node's tomcat certificate and the trust store.
    Cert {
        #[command(subcommand)]
        command: cert::CertCommand,
    },
    /// The OAuth authorization server: signing keys, revocation, external issuers, clients,
    /// and logging a user in (`oauth token`).
    Oauth {
        #[command(subcommand)]
        command: oauth::OAuthCommand,
    },
    /// Cluster-wide SIP OAuth mode (the seed's `utils sipOAuth-mode`).
    SipOauthMode {
        #[command(subcommand)]
        command: sip_oauth::SipOauthCommand,
    },
    /// Runs a read-only SQL query (the seed's `run sql`).
    Sql {
        /// The query, e.g. "select paramvalue from processconfig where paramname = 'ClusterSIPOAuthMode'"
        query: String,
    },
    /// Open ports of the node and configured ports of the cluster (the seed's `show open ports`).
    Ports,
    /// Live SIP registrations (device, contact, transport, source, time left).
    Registrations,
    /// Live calls (both sides: number, device, state).
    Calls,
    /// Trace levels per service.
    Trace {
        #[command(subcommand)]
        command: trace::TraceCommand,
    },
    /// Checks a feature end to end, printing PASS/FAIL per check with the fix (the seed's
    /// "Verificar" steps).
    Verify {
        #[command(subcommand)]
        command: verify::VerifyCommand,
    },
    /// The latest entries of the audit log.
    Audit {
        /// How many entries to show.
        #[arg(long, default_value_t = 50)]
        limit: u32,
    },
}

/// Runs one admin verb against the node `connect` designates; prints its result and returns
/// the process exit status (0 success, 1 failure, 2 usage error).
pub async fn run(connect: &ConnectArgs, command: AdminCommand) -> ExitCode {
    match dispatch(connect, command).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            eprintln!("error: {err}");
            ExitCode::from(err.exit_status())
        }
    }
}

async fn dispatch(connect: &ConnectArgs, command: AdminCommand) -> Result<(), CliError> {
    let client = Client::connect(connect)?;
    match command {
        AdminCommand::User { command } => user::run(&client, command).await,
        AdminCommand::Device { command } => device::run(&client, command).await,
        AdminCommand::Line { command } => line::run(&client, command).await,
        AdminCommand::Profile { command } => profile::run(&client, command).await,
        AdminCommand::Param { command } => param::run(&client, command).await,
        AdminCommand::Node { command } => node::run(&client, command).await,
        AdminCommand::Ldap { command } => ldap::run(&client, command).await,
        AdminCommand::Expressway { command } => expressway::run(&client, command).await,
        AdminCommand::Cert { command } => cert::run(&client, command).await,
        AdminCommand::Oauth { command } => oauth::run(&client, command).await,
        AdminCommand::Verify { command } => verify::run(&client, command).await,
        AdminCommand::SipOauthMode { command } => sip_oauth::run(&client, command).await,
        AdminCommand::Sql { query } => sql::run(&client, query).await,
        AdminCommand::Ports => ports::run(&client).await,
        AdminCommand::Registrations => registrations::run(&client).await,
        AdminCommand::Calls => calls::run(&client).await,
        AdminCommand::Trace { command } => trace::run(&client, command).await,
        AdminCommand::Audit { limit } => audit::run(&client, limit).await,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::error::ErrorKind;
    use clap::Parser;

    /// The admin verbs as the binary exposes them, for parsing tests.
    #[derive(Parser, Debug)]
    #[command(name = "switchboard")]
    pub(super) struct TestCli {
        #[command(flatten)]
        pub(super) connect: ConnectArgs,
        #[command(subcommand)]
        pub(super) command: AdminCommand,
    }

    /// Parses `switchboard <args…>` as the binary would.
    pub(super) fn parse(args: &[&str]) -> Result<TestCli, clap::Error> {
        TestCli::try_parse_from(std::iter::once("switchboard").chain(args.iter().copied()))
    }

    #[test]
    fn command_is_well_formed() {
        use clap::CommandFactory;
        TestCli::command().debug_assert();
    }

    #[test]
    fn sip_oauth_mode_enable() {
        let cli = parse(&["sip-oauth-mode", "enable"]).unwrap();
        assert!(matches!(
            cli.command,
            AdminCommand::SipOauthMode {
                command: sip_oauth::SipOauthCommand::Enable
            }
        ));
    }

    #[test]
    fn sql_takes_one_query() {
        let cli = parse(&["sql", "select 1"]).unwrap();
        match cli.command {
            AdminCommand::Sql { query } => assert_eq!(query, "select 1"),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn global_flags_after_the_verb() {
        let cli = parse(&[
            "ports",
            "--json",
            "--server",
            "https://ucm1:8443",
            "--token",
            "t",
        ])
        .unwrap();
        assert!(cli.connect.json);
        assert_eq!(cli.connect.server.as_deref(), Some("https://ucm1:8443"));
        assert!(matches!(cli.command, AdminCommand::Ports));
    }

    #[test]
    fn audit_limit_defaults_to_50() {
        match parse(&["audit"]).unwrap().command {
            AdminCommand::Audit { limit } => assert_eq!(limit, 50),
            other => panic!("{other:?}"),
        }
        match parse(&["audit", "--limit", "5"]).unwrap().command {
            AdminCommand::Audit { limit } => assert_eq!(limit, 5),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn trace_level_and_levels() {
        match parse(&["trace", "level", "cti", "debug"]).unwrap().command {
            AdminCommand::Trace {
                command: trace::TraceCommand::Level { service, level },
            } => assert_eq!((service.as_str(), level.as_str()), ("cti", "debug")),
            other => panic!("{other:?}"),
        }
        assert!(matches!(
            parse(&["trace", "levels"]).unwrap().command,
            AdminCommand::Trace {
                command: trace::TraceCommand::Levels
            }
        ));
    }

    #[test]
    fn unknown_verb_is_a_usage_error() {
        let err = parse(&["frobnicate"]).unwrap_err();
        assert_eq!(err.kind(), ErrorKind::InvalidSubcommand);
        assert_eq!(err.exit_code(), 2);
    }
}
