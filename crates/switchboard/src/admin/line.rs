//! `switchboard line …`: directory numbers.

use clap::Subcommand;
use switchboard_store::model::{Line, LinePatch};

use super::client::{CliError, Client};
use super::output::{detail, table};

#[derive(Subcommand, Debug)]
pub enum LineCommand {
    /// List directory numbers.
    List,
    /// Show one directory number.
    Show { dn: String },
    /// Add a directory number.
    Add {
        dn: String,
        #[arg(long)]
        description: Option<String>,
        /// Name shown to the called party.
        #[arg(long)]
        alerting_name: Option<String>,
    },
    /// Change the given settings of a directory number.
    Set {
        dn: String,
        #[arg(long)]
        description: Option<String>,
        #[arg(long)]
        alerting_name: Option<String>,
    },
    /// Delete a directory number.
    Delete { dn: String },
}

pub async fn run(client: &Client, command: LineCommand) -> Result<(), CliError> {
    match command {
        LineCommand::List => {
            let answer = client.get(&["lines"]).await?;
            client.print(answer, |lines: Vec<Line>| lines_table(&lines))
        }
        LineCommand::Show { dn } => {
            let answer = client.get(&["lines", &dn]).await?;
            client.print(answer, |line: Line| line_detail(&line))
        }
        LineCommand::Add {
            dn,
            description,
            alerting_name,
        } => {
            let body = Line {
                dn,
                description: description.unwrap_or_default(),
                alerting_name: alerting_name.unwrap_or_default(),
            };
            let answer = client.post(&["lines"], &body).await?;
            client.print(answer, |line: Line| line_detail(&line))
        }
        LineCommand::Set {
            dn,
            description,
            alerting_name,
        } => {
            let body = LinePatch {
                description,
                alerting_name,
            };
            let answer = client.patch(&["lines", &dn], &body).await?;
            client.print(answer, |line: Line| line_detail(&line))
        }
        LineCommand::Delete { dn } => {
            let answer = client.delete(&["lines", &dn]).await?;
            client.done(answer, &format!("line {dn} deleted."));
            Ok(())
        }
    }
}

/// One line per directory number.
pub fn lines_table(lines: &[Line]) -> String {
    table(
        &["dn", "alerting_name", "description"],
        lines
            .iter()
            .map(|l| [l.dn.clone(), l.alerting_name.clone(), l.description.clone()]),
    )
}

/// Every field of one directory number.
pub fn line_detail(l: &Line) -> String {
    detail(&[
        ("dn", l.dn.clone()),
        ("alerting_name", l.alerting_name.clone()),
        ("description", l.description.clone()),
    ])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lines_table_layout() {
        let text = lines_table(&[Line {
            dn: "1001".into(),
            description: "Alice desk".into(),
            alerting_name: "Alice".into(),
        }]);
        assert_eq!(
            text,
            "dn    alerting_name  description\n\
             ----  -------------  -----------\n\
             1001  Alice          Alice desk"
        );
    }
}
