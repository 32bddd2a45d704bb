//! `switchboard calls`: the live calls of the node, one row per call with both sides.

use serde::{Deserialize, Serialize};

use super::client::{CliError, Client};
use super::output::table;

/// One side of a row of `GET /api/calls`.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Leg {
    pub id: u64,
    pub side: String,
    pub number: String,
    pub device: Option<String>,
    #[serde(default)]
    pub offered: Vec<String>,
    pub state: String,
    pub cause: Option<String>,
}

/// One row of `GET /api/calls`.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Call {
    pub id: u64,
    pub caller: Leg,
    pub callee: Leg,
}

pub async fn run(client: &Client) -> Result<(), CliError> {
    let answer = client.get(&["calls"]).await?;
    client.print(answer, |rows: Vec<Call>| format_calls(&rows))
}

/// The device column: the known device, else the devices alerting (`a|b`), else `-`.
fn devices(leg: &Leg) -> String {
    match (&leg.device, leg.offered.is_empty()) {
        (Some(d), _) => d.clone(),
        (None, false) => leg.offered.join("|"),
        (None, true) => "-".into(),
    }
}

/// A table: call id, then number, device(s) and state of each side.
pub fn format_calls(rows: &[Call]) -> String {
    if rows.is_empty() {
        return "no live calls\n".to_string();
    }
    table(
        &[
            "call",
            "caller",
            "caller_device",
            "caller_state",
            "callee",
            "callee_device",
            "callee_state",
        ],
        rows.iter()
            .map(|c| {
                vec![
                    c.id.to_string(),
                    c.caller.number.clone(),
                    devices(&c.caller),
                    c.caller.state.clone(),
                    c.callee.number.clone(),
                    devices(&c.callee),
                    c.callee.state.clone(),
                ]
            })
            .collect::<Vec<Vec<String>>>(),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn leg(side: &str, number: &str, device: Option<&str>, offered: &[&str], state: &str) -> Leg {
        Leg {
            id: 2,
            side: side.into(),
            number: number.into(),
            device: device.map(str::to_string),
            offered: offered.iter().map(|d| d.to_string()).collect(),
            state: state.into(),
            cause: None,
        }
    }

    #[test]
    fn rows_and_empty() {
        assert_eq!(format_calls(&[]), "no live calls\n");
        let out = format_calls(&[Call {
            id: 1,
            caller: leg("caller", "1001", Some("SEP001794625DE5"), &[], "ringing"),
            callee: leg("callee", "1002", None, &["SEPB", "CSFB"], "ringing"),
        }]);
        let lines: Vec<&str> = out.lines().collect();
        assert!(lines[0].starts_with("call") && lines[0].contains("callee_state"));
        assert!(lines[2].contains("SEP001794625DE5"), "{out}");
        assert!(lines[2].contains("SEPB|CSFB"), "{out}");
        let out = format_calls(&[Call {
            id: 4,
            caller: leg("caller", "1001", None, &[], "connected"),
            callee: leg("callee", "1002", Some("SEPB"), &["SEPB", "CSFB"], "held"),
        }]);
        let columns: Vec<&str> = out.lines().nth(2).unwrap().split_whitespace().collect();
        assert_eq!(
            columns,
            ["4", "1001", "-", "connected", "1002", "SEPB", "held"],
            "{out}"
        );
    }
}
