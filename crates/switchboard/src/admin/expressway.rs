//! `switchboard expressway …`: edge-proxy entries (`expresswayconfiguration`), the certificate
//! names trusted on the SIP MRA OAuth port.

use clap::Subcommand;
use switchboard_store::model::{Expressway, ExpresswayNew};

use super::client::{CliError, Client};
use super::output::{detail, table};

#[derive(Subcommand, Debug)]
pub enum ExpresswayCommand {
    /// List edge-proxy entries.
    List,
    /// Show one entry, by pkid or host.
    Show { key: String },
    /// Add an entry, or replace the one of the same host.
    Add {
        /// Host name or IP address of the edge proxy.
        host: String,
        /// CN/SAN names of its certificate, comma-separated: "exp-c.domain-1.com,domain-1.com".
        #[arg(long)]
        names: String,
        #[arg(long)]
        description: Option<String>,
    },
    /// Delete an entry, by pkid or host.
    Delete { key: String },
}

/// `"a.com, b.com,,"` → `"a.com,b.com"`, as the table stores them.
pub fn normalize_names(names: &str) -> String {
    names
        .split(',')
        .map(str::trim)
        .filter(|n| !n.is_empty())
        .collect::<Vec<_>>()
        .join(",")
}

pub async fn run(client: &Client, command: ExpresswayCommand) -> Result<(), CliError> {
    match command {
        ExpresswayCommand::List => {
            let answer = client.get(&["expressway"]).await?;
            client.print(answer, |entries: Vec<Expressway>| {
                expressway_table(&entries)
            })
        }
        ExpresswayCommand::Show { key } => {
            let answer = client.get(&["expressway", &key]).await?;
            client.print(answer, |e: Expressway| expressway_detail(&e))
        }
        ExpresswayCommand::Add {
            host,
            names,
            description,
        } => {
            let names = normalize_names(&names);
            if names.is_empty() {
                return Err(CliError::Usage(
                    "--names needs at least one CN/SAN name, e.g. --names \"exp-c.example.com\""
                        .into(),
                ));
            }
            let body = ExpresswayNew {
                hostnameorip: host,
                description: description.unwrap_or_default(),
                x509subjectnameoraltname: names,
            };
            let answer = client.post(&["expressway"], &body).await?;
            client.print(answer, |e: Expressway| expressway_detail(&e))
        }
        ExpresswayCommand::Delete { key } => {
            let answer = client.delete(&["expressway", &key]).await?;
            client.done(answer, &format!("edge-proxy entry {key} deleted."));
            Ok(())
        }
    }
}

/// One line per entry, columns as in `select * from expresswayconfiguration`.
pub fn expressway_table(entries: &[Expressway]) -> String {
    table(
        &[
            "pkid",
            "hostnameorip",
            "description",
            "x509subjectnameoraltname",
        ],
        entries.iter().map(|e| {
            [
                e.pkid.clone(),
                e.hostnameorip.clone(),
                e.description.clone(),
                e.x509subjectnameoraltname.clone(),
            ]
        }),
    )
}

/// Every field of one entry.
pub fn expressway_detail(e: &Expressway) -> String {
    detail(&[
        ("pkid", e.pkid.clone()),
        ("hostnameorip", e.hostnameorip.clone()),
        ("description", e.description.clone()),
        (
            "x509subjectnameoraltname",
            e.x509subjectnameoraltname.clone(),
        ),
    ])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_normalized() {
        assert_eq!(
            normalize_names("domain-2.com, domain-1.com, exp-c.domain-1.com,"),
            "domain-2.com,domain-1.com,exp-c.domain-1.com"
        );
        assert_eq!(normalize_names(" , "), "");
    }

    #[test]
    fn table_like_the_seed() {
        let text = expressway_table(&[Expressway {
            pkid: "d5fd15d5-b049-c5b5-0197-bd11a5641640".into(),
            hostnameorip: "exp-c".into(),
            description: "this is added through axl".into(),
            x509subjectnameoraltname: "domain-2.com,domain-1.com".into(),
        }]);
        assert_eq!(
            text.lines().nth(2).unwrap(),
            "d5fd15d5-b049-c5b5-0197-bd11a5641640  exp-c         this is added through axl  domain-2.com,domain-1.com"
        );
    }
}
