//! `switchboard profile …`: phone security profiles (security mode, transport, digest and
//! OAuth authentication, encrypted TFTP configuration).

use clap::{Subcommand, ValueEnum};
use switchboard_store::model::{SecurityMode, SecurityProfile, SecurityProfilePatch, Transport};

use super::client::{CliError, Client};
use super::output::{detail, table, wire_name, yes_no};

#[derive(Subcommand, Debug)]
pub enum ProfileCommand {
    /// List security profiles.
    List,
    /// Show one security profile.
    Show { name: String },
    /// Add a security profile.
    Add {
        name: String,
        /// e.g. "Cisco Unified Client Services Framework", "Cisco 8841".
        #[arg(long)]
        product_type: String,
        #[arg(long, value_enum)]
        security_mode: ModeArg,
        #[arg(long, value_enum)]
        transport: TransportArg,
        /// Enable Digest Authentication.
        #[arg(long, value_name = "true|false")]
        digest_auth: Option<bool>,
        /// Enable OAuth Authentication.
        #[arg(long, value_name = "true|false")]
        oauth_auth: Option<bool>,
        /// TFTP Encrypted Config.
        #[arg(long, value_name = "true|false")]
        tftp_encrypted_config: Option<bool>,
        #[arg(long)]
        description: Option<String>,
    },
    /// Change the given settings of a security profile.
    Set {
        name: String,
        #[arg(long)]
        product_type: Option<String>,
        #[arg(long, value_enum)]
        security_mode: Option<ModeArg>,
        #[arg(long, value_enum)]
        transport: Option<TransportArg>,
        #[arg(long, value_name = "true|false")]
        digest_auth: Option<bool>,
        #[arg(long, value_name = "true|false")]
        oauth_auth: Option<bool>,
        #[arg(long, value_name = "true|false")]
        tftp_encrypted_config: Option<bool>,
        #[arg(long)]
        description: Option<String>,
    },
    /// Delete a security profile.
    Delete { name: String },
}

/// Device Security Mode.
#[derive(ValueEnum, Debug, Clone, Copy, PartialEq, Eq)]
pub enum ModeArg {
    NonSecure,
    Authenticated,
    Encrypted,
}

impl From<ModeArg> for SecurityMode {
    fn from(m: ModeArg) -> Self {
        match m {
            ModeArg::NonSecure => SecurityMode::NonSecure,
            ModeArg::Authenticated => SecurityMode::Authenticated,
            ModeArg::Encrypted => SecurityMode::Encrypted,
        }
    }
}

/// Transport Type.
#[derive(ValueEnum, Debug, Clone, Copy, PartialEq, Eq)]
pub enum TransportArg {
    Udp,
    Tcp,
    TcpUdp,
    Tls,
}

impl From<TransportArg> for Transport {
    fn from(t: TransportArg) -> Self {
        match t {
            TransportArg::Udp => Transport::Udp,
            TransportArg::Tcp => Transport::Tcp,
            TransportArg::TcpUdp => Transport::TcpUdp,
            TransportArg::Tls => Transport::Tls,
        }
    }
}

pub async fn run(client: &Client, command: ProfileCommand) -> Result<(), CliError> {
    match command {
        ProfileCommand::List => {
            let answer = client.get(&["profiles"]).await?;
            client.print(answer, |profiles: Vec<SecurityProfile>| {
                profiles_table(&profiles)
            })
        }
        ProfileCommand::Show { name } => {
            let answer = client.get(&["profiles", &name]).await?;
            client.print(answer, |p: SecurityProfile| profile_detail(&p))
        }
        ProfileCommand::Add {
            name,
            product_type,
            security_mode,
            transport,
            digest_auth,
            oauth_auth,
            tftp_encrypted_config,
            description,
        } => {
            let body = SecurityProfile {
                name,
                description: description.unwrap_or_default(),
                product_type,
                device_security_mode: security_mode.into(),
                transport: transport.into(),
                tftp_encrypted_config: tftp_encrypted_config.unwrap_or(false),
                digest_auth: digest_auth.unwrap_or(false),
                oauth_auth: oauth_auth.unwrap_or(false),
            };
            let answer = client.post(&["profiles"], &body).await?;
            client.print(answer, |p: SecurityProfile| profile_detail(&p))
        }
        ProfileCommand::Set {
            name,
            product_type,
            security_mode,
            transport,
            digest_auth,
            oauth_auth,
            tftp_encrypted_config,
            description,
        } => {
            let body = SecurityProfilePatch {
                description,
                product_type,
                device_security_mode: security_mode.map(SecurityMode::from),
                transport: transport.map(Transport::from),
                tftp_encrypted_config,
                digest_auth,
                oauth_auth,
            };
            let answer = client.patch(&["profiles", &name], &body).await?;
            client.print(answer, |p: SecurityProfile| profile_detail(&p))
        }
        ProfileCommand::Delete { name } => {
            let answer = client.delete(&["profiles", &name]).await?;
            client.done(answer, &format!("security profile {name} deleted."));
            Ok(())
        }
    }
}

/// One line per profile.
pub fn profiles_table(profiles: &[SecurityProfile]) -> String {
    table(
        &[
            "name",
            "product_type",
            "security_mode",
            "transport",
            "digest_auth",
            "oauth_auth",
            "tftp_encrypted_config",
        ],
        profiles.iter().map(|p| {
            [
                p.name.clone(),
                p.product_type.clone(),
                wire_name(&p.device_security_mode),
                wire_name(&p.transport),
                yes_no(p.digest_auth),
                yes_no(p.oauth_auth),
                yes_no(p.tftp_encrypted_config),
            ]
        }),
    )
}

/// Every field of one profile.
pub fn profile_detail(p: &SecurityProfile) -> String {
    detail(&[
        ("name", p.name.clone()),
        ("description", p.description.clone()),
        ("product_type", p.product_type.clone()),
        ("security_mode", wire_name(&p.device_security_mode)),
        ("transport", wire_name(&p.transport)),
        ("digest_auth", yes_no(p.digest_auth)),
        ("oauth_auth", yes_no(p.oauth_auth)),
        ("tftp_encrypted_config", yes_no(p.tftp_encrypted_config)),
    ])
}

#[cfg(test)]
mod tests {
    use super::super::tests::parse;
    use super::super::AdminCommand;
    use super::*;

    #[test]
    fn add_takes_kebab_case_modes() {
        let cli = parse(&[
            "profile",
            "add",
            "csf-oauth",
            "--product-type",
            "Cisco Unified Client Services Framework",
            "--security-mode",
            "non-secure",
            "--transport",
            "tcp-udp",
            "--oauth-auth",
            "true",
        ])
        .unwrap();
        match cli.command {
            AdminCommand::Profile {
                command:
                    ProfileCommand::Add {
                        security_mode,
                        transport,
                        oauth_auth,
                        ..
                    },
            } => {
                assert_eq!(SecurityMode::from(security_mode), SecurityMode::NonSecure);
                assert_eq!(Transport::from(transport), Transport::TcpUdp);
                assert_eq!(oauth_auth, Some(true));
            }
            other => panic!("{other:?}"),
        }
        assert!(parse(&["profile", "set", "p", "--transport", "sctp"]).is_err());
    }

    #[test]
    fn profile_table_uses_wire_names() {
        let p = SecurityProfile {
            name: "csf-oauth".into(),
            description: String::new(),
            product_type: "Cisco Unified Client Services Framework".into(),
            device_security_mode: SecurityMode::NonSecure,
            transport: Transport::TcpUdp,
            tftp_encrypted_config: false,
            digest_auth: false,
            oauth_auth: true,
        };
        let text = profiles_table(&[p]);
        assert!(text.lines().nth(2).unwrap().starts_with(
            "csf-oauth  Cisco Unified Client Services Framework  non_secure     tcp_udp    false        true"
        ), "{text}");
    }
}
