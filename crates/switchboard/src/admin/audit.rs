//! `switchboard audit`: the latest entries of the audit log.

use switchboard_store::model::AuditEntry;

use super::client::{CliError, Client};
use super::output::table;

pub async fn run(client: &Client, limit: u32) -> Result<(), CliError> {
    let answer = client
        .get_query(&["audit"], &[("limit", limit.to_string())])
        .await?;
    client.print(answer, |entries: Vec<AuditEntry>| audit_table(&entries))
}

/// One line per entry (the detail is in `--json`).
pub fn audit_table(entries: &[AuditEntry]) -> String {
    table(
        &["at", "actor", "action", "object_type", "object_id"],
        entries.iter().map(|e| {
            [
                e.at.clone(),
                e.actor.clone(),
                e.action.clone(),
                e.object_type.clone(),
                e.object_id.clone(),
            ]
        }),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn audit_columns() {
        let text = audit_table(&[AuditEntry {
            id: "1".into(),
            at: "2024-05-01T10:00:00Z".into(),
            actor: "admin".into(),
            action: "update".into(),
            object_type: "param".into(),
            object_id: "ClusterSIPOAuthMode".into(),
            detail: serde_json::json!({"value": "1"}),
        }]);
        assert_eq!(
            text.lines().next().unwrap(),
            "at                    actor  action  object_type  object_id"
        );
        assert_eq!(
            text.lines().nth(2).unwrap(),
            "2024-05-01T10:00:00Z  admin  update  param        ClusterSIPOAuthMode"
        );
    }
}
