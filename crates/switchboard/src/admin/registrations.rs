//! `switchboard registrations`: the live SIP registrations of the node's devices.

use serde::{Deserialize, Serialize};

use super::client::{CliError, Client};
use super::output::table;

/// One row of `GET /api/registrations`.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Registration {
    pub device: String,
    pub contact: String,
    pub transport: String,
    pub source: String,
    pub expires_at: u64,
    pub expires_in: u64,
}

pub async fn run(client: &Client) -> Result<(), CliError> {
    let answer = client.get(&["registrations"]).await?;
    client.print(answer, |rows: Vec<Registration>| {
        format_registrations(&rows)
    })
}

/// A table: device, contact, transport, source, seconds left.
pub fn format_registrations(rows: &[Registration]) -> String {
    if rows.is_empty() {
        return "no live registrations\n".to_string();
    }
    table(
        &["device", "contact", "transport", "source", "expires_in"],
        rows.iter()
            .map(|r| {
                vec![
                    r.device.clone(),
                    r.contact.clone(),
                    r.transport.to_uppercase(),
                    r.source.clone(),
                    format!("{}s", r.expires_in),
                ]
            })
            .collect::<Vec<Vec<String>>>(),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rows_and_empty() {
        assert_eq!(format_registrations(&[]), "no live registrations\n");
        let out = format_registrations(&[Registration {
            device: "SEP001794625DE5".into(),
            contact: "sip:1001@127.0.0.1:5070".into(),
            transport: "udp".into(),
            source: "127.0.0.1:5070".into(),
            expires_at: 0,
            expires_in: 118,
        }]);
        let lines: Vec<&str> = out.lines().collect();
        assert!(lines[0].starts_with("device") && lines[0].contains("expires_in"));
        assert!(out.contains("SEP001794625DE5") && out.contains("UDP") && out.contains("118s"));
    }
}
