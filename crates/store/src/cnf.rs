//! Reads for the config file service (`<DeviceName>.cnf.xml`): which devices share a line, and
//! when each row a device's file is built from last changed (its version stamp follows them).

use crate::error::Result;
use crate::{db, Store};

impl Store {
    /// The devices that show directory number `dn`, by name (more than one: a shared line).
    pub async fn devices_with_line(&self, dn: &str) -> Result<Vec<String>> {
        let rows: Vec<(String,)> = db!(self, |pool| {
            sqlx::query_as("SELECT device FROM devicenumplanmap WHERE dn = $1 ORDER BY device")
                .bind(dn)
                .fetch_all(pool)
                .await?
        });
        Ok(rows.into_iter().map(|(d,)| d).collect())
    }

    /// The `updated_at` (RFC 3339) of every row device `name`'s configuration file is built
    /// from: the device, its security profile, its lines, every node, and the parameters named
    /// in `params` that have a row. Empty when the device does not exist.
    pub async fn device_config_changes(&self, name: &str, params: &[&str]) -> Result<Vec<String>> {
        let mut stamps: Vec<String> = db!(self, |pool| {
            let rows: Vec<(String,)> = sqlx::query_as(
                "SELECT d.updated_at FROM device d WHERE d.name = $1 \
                 UNION ALL SELECT p.updated_at FROM securityprofile p \
                   JOIN device d ON d.security_profile = p.name WHERE d.name = $1 \
                 UNION ALL SELECT l.updated_at FROM line l \
                   JOIN devicenumplanmap m ON m.dn = l.dn WHERE m.device = $1 \
                 UNION ALL SELECT c.updated_at FROM callmanager c \
                   WHERE EXISTS (SELECT 1 FROM device d WHERE d.name = $1)",
            )
            .bind(name)
            .fetch_all(pool)
            .await?;
            rows.into_iter().map(|(t,)| t).collect()
        });
        if stamps.is_empty() {
            return Ok(stamps);
        }
        for param in params {
            let row: Option<(String,)> = db!(self, |pool| {
                sqlx::query_as("SELECT updated_at FROM processconfig WHERE paramname = $1")
                    .bind(param)
                    .fetch_optional(pool)
                    .await?
            });
            stamps.extend(row.map(|(t,)| t));
        }
        Ok(stamps)
    }
}
