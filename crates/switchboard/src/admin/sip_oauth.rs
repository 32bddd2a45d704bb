//! `switchboard sip-oauth-mode …`: the cluster-wide SIP OAuth mode (`ClusterSIPOAuthMode`),
//! the counterpart of the seed's `utils sipOAuth-mode enable|disable|status`.

use clap::Subcommand;
use serde::{Deserialize, Serialize};

use super::client::{CliError, Client};

#[derive(Subcommand, Debug)]
pub enum SipOauthCommand {
    /// Turn SIP OAuth mode on for the whole cluster.
    Enable,
    /// Turn SIP OAuth mode off for the whole cluster.
    Disable,
    /// Show whether SIP OAuth mode is on.
    Status,
}

/// Body and answer of `/api/sip-oauth-mode`.
#[derive(Debug, Clone, Copy, Serialize, Deserialize)]
pub struct SipOauthMode {
    pub enabled: bool,
}

/// What `enable`/`disable` print once the node confirmed the new mode.
pub fn changed_text(enabled: bool) -> String {
    format!(
        "SIP OAuth mode {}.\nIt takes effect now on every node; no service restart is needed.",
        if enabled { "enabled" } else { "disabled" }
    )
}

/// What `status` prints.
pub fn status_text(enabled: bool) -> String {
    format!(
        "SIP OAuth mode: {}",
        if enabled { "enabled" } else { "disabled" }
    )
}

pub async fn run(client: &Client, command: SipOauthCommand) -> Result<(), CliError> {
    let wanted = match command {
        SipOauthCommand::Status => {
            let answer = client.get(&["sip-oauth-mode"]).await?;
            return client.print(answer, |m: SipOauthMode| status_text(m.enabled));
        }
        SipOauthCommand::Enable => true,
        SipOauthCommand::Disable => false,
    };
    let answer = client
        .put(&["sip-oauth-mode"], &SipOauthMode { enabled: wanted })
        .await?;
    client.print(answer, |m: SipOauthMode| {
        if m.enabled == wanted {
            changed_text(m.enabled)
        } else {
            // Not expected from a correct node; say what it reports rather than what was asked.
            status_text(m.enabled)
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn texts() {
        assert_eq!(
            changed_text(true),
            "SIP OAuth mode enabled.\nIt takes effect now on every node; no service restart is needed."
        );
        assert_eq!(
            changed_text(false),
            "SIP OAuth mode disabled.\nIt takes effect now on every node; no service restart is needed."
        );
        assert_eq!(status_text(true), "SIP OAuth mode: enabled");
        assert_eq!(status_text(false), "SIP OAuth mode: disabled");
    }
}
