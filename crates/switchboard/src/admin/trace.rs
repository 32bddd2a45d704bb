//! `switchboard trace …`: trace levels per service, changed live.

use clap::Subcommand;
use serde::{Deserialize, Serialize};

use super::client::{CliError, Client};
use super::output::table;

#[derive(Subcommand, Debug)]
pub enum TraceCommand {
    /// Set the trace level of a service (e.g. `trace level cti debug`).
    Level {
        /// Service, e.g. sip, cti, http, ldap.
        service: String,
        /// Level, e.g. error, warn, info, debug, trace.
        level: String,
    },
    /// Show the trace level of every service.
    Levels,
}

/// One service's trace level, as `/api/trace/levels` carries it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TraceLevel {
    pub service: String,
    pub level: String,
}

#[derive(Serialize)]
struct LevelBody<'a> {
    level: &'a str,
}

pub async fn run(client: &Client, command: TraceCommand) -> Result<(), CliError> {
    match command {
        TraceCommand::Levels => {
            let answer = client.get(&["trace", "levels"]).await?;
            client.print(answer, |levels: Vec<TraceLevel>| levels_table(&levels))
        }
        TraceCommand::Level { service, level } => {
            let answer = client
                .put(&["trace", "levels", &service], &LevelBody { level: &level })
                .await?;
            client.print(answer, |t: TraceLevel| level_set_text(&t))
        }
    }
}

/// One line per service.
pub fn levels_table(levels: &[TraceLevel]) -> String {
    table(
        &["service", "level"],
        levels.iter().map(|t| [t.service.clone(), t.level.clone()]),
    )
}

/// What `trace level` prints.
pub fn level_set_text(t: &TraceLevel) -> String {
    format!("trace level of {} set to {}", t.service, t.level)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn texts() {
        let t = TraceLevel {
            service: "cti".into(),
            level: "debug".into(),
        };
        assert_eq!(level_set_text(&t), "trace level of cti set to debug");
        assert_eq!(
            levels_table(&[t]),
            "service  level\n-------  -----\ncti      debug"
        );
    }
}
