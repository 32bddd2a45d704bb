//! `switchboard ldap …`: LDAP / Active Directory authentication settings (`show`, `set`,
//! `servers`) and `test <userid>`, the login flow run on the node and printed step by step.

use std::io::{BufRead, IsTerminal, Write};
use std::path::PathBuf;

use clap::Subcommand;
use switchboard_store::model::{LdapServer, LdapSettings, LdapSettingsPatch, LdapTls};

use serde::Deserialize;

use super::client::{decode, CliError, Client};
use super::output::{detail, read_secret, table, wire_name, yes_no};

/// How many LDAP servers the settings hold at most.
const MAX_SERVERS: usize = 3;

#[derive(Subcommand, Debug)]
pub enum LdapCommand {
    /// Show the LDAP settings.
    Show,
    /// List the LDAP servers in the order they are tried.
    Servers,
    /// Try a login against the directory with the current settings (even while LDAP is
    /// switched off) and print every step and the outcome; exits 1 when the login fails.
    /// The password is prompted for, or read from the first line of standard input.
    Test {
        /// The userid to look up (as the user types it at login).
        userid: String,
    },
    /// Change the given LDAP settings.
    Set {
        /// Use LDAP for users whose source is ldap.
        #[arg(long, value_name = "true|false")]
        enabled: Option<bool>,
        /// An LDAP server HOST:PORT:plain|ldaps|starttls, tried in order (repeat, at most 3;
        /// replaces the list).
        #[arg(long = "ldap-server", id = "servers", value_name = "HOST:PORT:TLS", value_parser = parse_server)]
        servers: Vec<LdapServer>,
        /// PEM file of the CA to trust for the --ldap-server entries using ldaps or starttls
        /// (default: the CA each of them had before).
        #[arg(long = "ldap-ca", value_name = "PEM-FILE", requires = "servers")]
        server_ca: Option<PathBuf>,
        /// DN of the service account that searches for users.
        #[arg(long)]
        service_dn: Option<String>,
        /// Read the service-account password from the first line of standard input.
        #[arg(long)]
        service_password_stdin: bool,
        /// A user search base (repeat; replaces the list).
        #[arg(long = "search-base", value_name = "DN")]
        search_bases: Vec<String>,
        /// Search filter template with {userid} where the escaped userid goes, e.g.
        /// "(&(objectclass=user)(sAMAccountName={userid}))" (default: SPEC §5's AD filter).
        #[arg(long)]
        filter: Option<String>,
        /// Attribute holding the user ID, e.g. sAMAccountName.
        #[arg(long)]
        userid_attribute: Option<String>,
    },
}

/// Parses `HOST:PORT:TLS` (an IPv6 host in brackets: `[::1]:636:ldaps`).
pub fn parse_server(s: &str) -> Result<LdapServer, String> {
    let expected = || {
        format!("expected HOST:PORT:TLS with TLS plain, ldaps or starttls, e.g. ad1.example.com:636:ldaps (got `{s}`)")
    };
    let mut parts = s.rsplitn(3, ':');
    let (Some(tls), Some(port), Some(host)) = (parts.next(), parts.next(), parts.next()) else {
        return Err(expected());
    };
    let tls = match tls.trim().to_ascii_lowercase().as_str() {
        "plain" => LdapTls::Plain,
        "ldaps" => LdapTls::Ldaps,
        "starttls" => LdapTls::Starttls,
        _ => return Err(expected()),
    };
    let port = match port.trim().parse::<u16>() {
        Ok(p) if p > 0 => u32::from(p),
        _ => return Err(expected()),
    };
    let host = host.trim();
    let host = host
        .strip_prefix('[')
        .and_then(|h| h.strip_suffix(']'))
        .unwrap_or(host);
    if host.is_empty() {
        return Err(expected());
    }
    Ok(LdapServer {
        host: host.to_owned(),
        port,
        tls,
        ca_pem: None,
    })
}

/// Gives each new TLS server `ca_pem`, else the CA the same host and port had before.
pub fn carry_cas(
    mut servers: Vec<LdapServer>,
    previous: &[LdapServer],
    ca_pem: Option<&str>,
) -> Vec<LdapServer> {
    for server in &mut servers {
        if server.tls == LdapTls::Plain {
            continue;
        }
        server.ca_pem = match ca_pem {
            Some(pem) => Some(pem.to_owned()),
            None => previous
                .iter()
                .find(|p| p.host.eq_ignore_ascii_case(&server.host) && p.port == server.port)
                .and_then(|p| p.ca_pem.clone()),
        };
    }
    servers
}

/// The answer of `POST /api/ldap/test`.
#[derive(Debug, Deserialize)]
pub struct LdapTestResult {
    pub userid: String,
    pub success: bool,
    #[serde(default)]
    pub dn: Option<String>,
    #[serde(default)]
    pub failure: Option<String>,
    #[serde(default)]
    pub message: Option<String>,
    pub steps: Vec<String>,
}

/// Reads the password to test: prompted on a terminal, else the first line of standard input
/// (an empty line is sent as is, to show that an empty password is refused).
fn read_test_password() -> Result<String, CliError> {
    let stdin = std::io::stdin();
    if stdin.is_terminal() {
        eprint!("password: ");
        let _ = std::io::stderr().flush();
    }
    let mut line = String::new();
    stdin.lock().read_line(&mut line).map_err(|e| {
        CliError::Local(format!("cannot read the password from standard input: {e}"))
    })?;
    Ok(line.trim_end_matches(['\r', '\n']).to_owned())
}

/// The test's report: numbered steps, then the outcome.
pub fn test_report(r: &LdapTestResult) -> String {
    let mut out = format!("LDAP login test for '{}'\n", r.userid);
    for (i, step) in r.steps.iter().enumerate() {
        out.push_str(&format!("{:>3}  {step}\n", i + 1));
    }
    if r.success {
        out.push_str(&format!(
            "SUCCESS: authenticated as {}",
            r.dn.as_deref().unwrap_or("?")
        ));
    } else {
        out.push_str(&format!(
            "FAILED ({}): {}",
            r.failure.as_deref().unwrap_or("unknown"),
            r.message.as_deref().unwrap_or("")
        ));
    }
    out
}

pub async fn run(client: &Client, command: LdapCommand) -> Result<(), CliError> {
    match command {
        LdapCommand::Show => {
            let answer = client.get(&["ldap"]).await?;
            client.print(answer, |s: LdapSettings| ldap_detail(&s))
        }
        LdapCommand::Servers => {
            let answer = client.get(&["ldap"]).await?;
            let servers = answer
                .map(|v| v.get("servers").cloned().unwrap_or_default())
                .or(Some(serde_json::Value::Array(Vec::new())));
            client.print(servers, |s: Vec<LdapServer>| servers_table(&s))
        }
        LdapCommand::Test { userid } => {
            let password = read_test_password()?;
            let body = serde_json::json!({ "userid": userid, "password": password });
            let answer = client.post(&["ldap", "test"], &body).await?;
            let value = answer.clone().unwrap_or_default();
            let result: LdapTestResult = decode(value)?;
            client.print(answer, |r: LdapTestResult| test_report(&r))?;
            if result.success {
                Ok(())
            } else {
                Err(CliError::Local(format!(
                    "the LDAP login of '{}' failed: {}",
                    result.userid,
                    result.failure.as_deref().unwrap_or("unknown")
                )))
            }
        }
        LdapCommand::Set {
            enabled,
            servers,
            server_ca,
            service_dn,
            service_password_stdin,
            search_bases,
            filter,
            userid_attribute,
        } => {
            if servers.len() > MAX_SERVERS {
                return Err(CliError::Usage(format!(
                    "at most {MAX_SERVERS} --ldap-server entries (got {})",
                    servers.len()
                )));
            }
            let ca_pem = match &server_ca {
                Some(path) => Some(std::fs::read_to_string(path).map_err(|e| {
                    CliError::Local(format!("cannot read {}: {e}", path.display()))
                })?),
                None => None,
            };
            let servers = if servers.is_empty() {
                None
            } else {
                let current = client.get(&["ldap"]).await?;
                let previous = match current {
                    Some(v) => decode::<LdapSettings>(v)?.servers,
                    None => Vec::new(),
                };
                Some(carry_cas(servers, &previous, ca_pem.as_deref()))
            };
            let service_password = if service_password_stdin {
                Some(read_secret("service-account password")?)
            } else {
                None
            };
            let body = LdapSettingsPatch {
                enabled,
                servers,
                service_dn,
                service_password,
                search_bases: (!search_bases.is_empty()).then_some(search_bases),
                filter_template: filter,
                userid_attribute,
            };
            let answer = client.patch(&["ldap"], &body).await?;
            client.print(answer, |s: LdapSettings| ldap_detail(&s))
        }
    }
}

/// The servers, in the order they are tried.
pub fn servers_table(servers: &[LdapServer]) -> String {
    table(
        &["order", "host", "port", "tls", "ca"],
        servers
            .iter()
            .enumerate()
            .map(|(i, s)| {
                vec![
                    (i + 1).to_string(),
                    s.host.clone(),
                    s.port.to_string(),
                    wire_name(&s.tls),
                    if s.ca_pem.is_some() { "own CA" } else { "-" }.to_string(),
                ]
            })
            .collect::<Vec<Vec<String>>>(),
    )
}

/// The settings, one line per server and search base.
pub fn ldap_detail(s: &LdapSettings) -> String {
    let mut rows = vec![("enabled", yes_no(s.enabled))];
    rows.extend(s.servers.iter().map(|srv| {
        let host = if srv.host.contains(':') {
            format!("[{}]", srv.host)
        } else {
            srv.host.clone()
        };
        let ca = if srv.ca_pem.is_some() {
            " (own CA)"
        } else {
            ""
        };
        (
            "server",
            format!("{host}:{}:{}{ca}", srv.port, wire_name(&srv.tls)),
        )
    }));
    rows.push(("service_dn", s.service_dn.clone()));
    rows.push(("has_service_password", yes_no(s.has_service_password)));
    rows.extend(s.search_bases.iter().map(|b| ("search_base", b.clone())));
    rows.push(("filter", s.filter_template.clone()));
    rows.push(("userid_attribute", s.userid_attribute.clone()));
    detail(&rows)
}

#[cfg(test)]
mod tests {
    use super::super::tests::parse;
    use super::super::AdminCommand;
    use super::*;

    #[test]
    fn set_parses_servers_and_bases() {
        let cli = parse(&[
            "ldap",
            "set",
            "--enabled",
            "true",
            "--ldap-server",
            "10.10.10.10:3268:plain",
            "--ldap-server",
            "ad2.example.com:636:ldaps",
            "--search-base",
            "ou=users,dc=example,dc=com",
            "--server",
            "https://ucm1:8443",
        ])
        .unwrap();
        assert_eq!(cli.connect.server.as_deref(), Some("https://ucm1:8443"));
        match cli.command {
            AdminCommand::Ldap {
                command:
                    LdapCommand::Set {
                        enabled,
                        servers,
                        search_bases,
                        ..
                    },
            } => {
                assert_eq!(enabled, Some(true));
                assert_eq!(servers.len(), 2);
                assert_eq!(servers[1].tls, LdapTls::Ldaps);
                assert_eq!(search_bases, ["ou=users,dc=example,dc=com"]);
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn test_parses_and_reports() {
        let cli = parse(&["ldap", "test", "jesse(p)"]).unwrap();
        match cli.command {
            AdminCommand::Ldap {
                command: LdapCommand::Test { userid },
            } => assert_eq!(userid, "jesse(p)"),
            other => panic!("{other:?}"),
        }
        let ok = LdapTestResult {
            userid: "wwhite".into(),
            success: true,
            dn: Some("CN=Walter White,DC=joshlab,DC=net".into()),
            failure: None,
            message: None,
            steps: vec![
                "userid is wwhite".into(),
                "Got DN: CN=Walter White,DC=joshlab,DC=net".into(),
            ],
        };
        assert_eq!(
            test_report(&ok),
            "LDAP login test for 'wwhite'\n  1  userid is wwhite\n  2  Got DN: CN=Walter White,DC=joshlab,DC=net\n\
             SUCCESS: authenticated as CN=Walter White,DC=joshlab,DC=net"
        );
        let failed = LdapTestResult {
            success: false,
            dn: None,
            failure: Some("wrong_password".into()),
            message: Some("LDAP: wrong password".into()),
            steps: vec![],
            ..ok
        };
        assert!(test_report(&failed).ends_with("FAILED (wrong_password): LDAP: wrong password"));
        assert_eq!(
            servers_table(&[parse_server("10.10.10.10:3268:plain").unwrap()]),
            table(
                &["order", "host", "port", "tls", "ca"],
                vec![vec![
                    "1".into(),
                    "10.10.10.10".into(),
                    "3268".into(),
                    "plain".into(),
                    "-".into()
                ]]
            )
        );
    }

    #[test]
    fn server_values() {
        let s = parse_server("ad1.example.com:636:ldaps").unwrap();
        assert_eq!(
            (s.host.as_str(), s.port, s.tls),
            ("ad1.example.com", 636, LdapTls::Ldaps)
        );
        let s = parse_server("[::1]:389:starttls").unwrap();
        assert_eq!(
            (s.host.as_str(), s.port, s.tls),
            ("::1", 389, LdapTls::Starttls)
        );
        for bad in ["ad1:636", "ad1:x:plain", "ad1:636:tls", ":389:plain"] {
            assert!(parse_server(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn cas_are_carried_over() {
        let mut old = parse_server("ad1:636:ldaps").unwrap();
        old.ca_pem = Some("OLD".into());
        let new = vec![
            parse_server("AD1:636:ldaps").unwrap(),
            parse_server("ad2:389:plain").unwrap(),
        ];
        let kept = carry_cas(new.clone(), std::slice::from_ref(&old), None);
        assert_eq!(kept[0].ca_pem.as_deref(), Some("OLD"));
        assert_eq!(kept[1].ca_pem, None);
        let given = carry_cas(new, &[old], Some("NEW"));
        assert_eq!(given[0].ca_pem.as_deref(), Some("NEW"));
        assert_eq!(given[1].ca_pem, None);
    }

    #[test]
    fn detail_view() {
        let settings = LdapSettings {
            enabled: true,
            servers: vec![parse_server("10.10.10.10:3268:plain").unwrap()],
            service_dn: "cn=svc,dc=example,dc=com".into(),
            has_service_password: true,
            search_bases: vec![
                "ou=a,dc=example,dc=com".into(),
                "ou=b,dc=example,dc=com".into(),
            ],
            filter_template: "(sAMAccountName=%s)".into(),
            userid_attribute: "sAMAccountName".into(),
        };
        assert_eq!(
            ldap_detail(&settings),
            "enabled               true\n\
             server                10.10.10.10:3268:plain\n\
             service_dn            cn=svc,dc=example,dc=com\n\
             has_service_password  true\n\
             search_base           ou=a,dc=example,dc=com\n\
             search_base           ou=b,dc=example,dc=com\n\
             filter                (sAMAccountName=%s)\n\
             userid_attribute      sAMAccountName"
        );
    }
}
