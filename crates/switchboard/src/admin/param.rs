//! `switchboard param …`: enterprise and service parameters (`processconfig`).

use clap::Subcommand;
use serde::Serialize;
use switchboard_store::model::Param;

use super::client::{CliError, Client};
use super::output::{detail, table};

#[derive(Subcommand, Debug)]
pub enum ParamCommand {
    /// List parameters with their values and defaults.
    List,
    /// Show one parameter.
    Show { name: String },
    /// Set a parameter; it takes effect on every node at once.
    Set { name: String, value: String },
}

#[derive(Serialize)]
struct ParamValue<'a> {
    value: &'a str,
}

pub async fn run(client: &Client, command: ParamCommand) -> Result<(), CliError> {
    match command {
        ParamCommand::List => {
            let answer = client.get(&["params"]).await?;
            client.print(answer, |params: Vec<Param>| params_table(&params))
        }
        ParamCommand::Show { name } => {
            let answer = client.get(&["params", &name]).await?;
            client.print(answer, |param: Param| param_detail(&param))
        }
        ParamCommand::Set { name, value } => {
            let answer = client
                .put(&["params", &name], &ParamValue { value: &value })
                .await?;
            client.print(answer, |param: Param| param_detail(&param))
        }
    }
}

/// One line per parameter (descriptions are in `param show`).
pub fn params_table(params: &[Param]) -> String {
    table(
        &["name", "value", "default"],
        params
            .iter()
            .map(|p| [p.name.clone(), p.value.clone(), p.default.clone()]),
    )
}

/// Every field of one parameter.
pub fn param_detail(p: &Param) -> String {
    detail(&[
        ("name", p.name.clone()),
        ("value", p.value.clone()),
        ("default", p.default.clone()),
        ("description", p.description.clone()),
    ])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn param_views() {
        let p = Param {
            name: "ClusterSIPOAuthMode".into(),
            value: "1".into(),
            default: "0".into(),
            description: "Cluster SIPOAuth Mode".into(),
        };
        assert_eq!(
            params_table(std::slice::from_ref(&p)),
            "name                 value  default\n\
             -------------------  -----  -------\n\
             ClusterSIPOAuthMode  1      0"
        );
        assert_eq!(
            param_detail(&p),
            "name         ClusterSIPOAuthMode\n\
             value        1\n\
             default      0\n\
             description  Cluster SIPOAuth Mode"
        );
    }
}
