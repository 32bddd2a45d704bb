//! Administrators and their API tokens, the cluster's trust store, per-node trace levels, and
//! the audit log.

use crate::error::{Result, StoreError};
use crate::model::{AuditEntry, TrustCert};
use crate::{audit, db, now, Store};

/// An authenticated administrator.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AdminIdentity {
    pub userid: String,
}

impl Store {
    /// How many administrators exist (0 on a fresh store).
    pub async fn admin_count(&self) -> Result<i64> {
        let (n,): (i64,) = db!(self, |pool| {
            sqlx::query_as("SELECT COUNT(*) FROM adminuser")
                .fetch_one(pool)
                .await?
        });
        Ok(n)
    }

    /// Creates an administrator with `password` (hashed here).
    pub async fn create_admin(&self, actor: &str, userid: &str, password: &str) -> Result<()> {
        crate::validate::userid("userid", userid)?;
        crate::validate::password("password", password)?;
        let hash = self.crypto().hash_password(password);
        db!(self, |pool| {
            let mut tx = pool.begin().await?;
            sqlx::query(
                "INSERT INTO adminuser (userid, password_hash, created_at) VALUES ($1, $2, $3)",
            )
            .bind(userid)
            .bind(&hash)
            .bind(now())
            .execute(&mut *tx)
            .await
            .map_err(StoreError::on_insert("administrator", userid))?;
            audit!(tx, actor, "create", "adminuser", userid, "{}");
            tx.commit().await?;
        });
        Ok(())
    }

    /// The password hash of an administrator.
    pub async fn admin_password_hash(&self, userid: &str) -> Result<Option<String>> {
        let row: Option<(String,)> = db!(self, |pool| {
            sqlx::query_as("SELECT password_hash FROM adminuser WHERE userid = $1")
                .bind(userid)
                .fetch_optional(pool)
                .await?
        });
        Ok(row.map(|(h,)| h))
    }

    /// Records an API token (by its hash only) for an administrator.
    pub async fn add_admin_token(
        &self,
        actor: &str,
        userid: &str,
        token_hash: &str,
        description: &str,
    ) -> Result<()> {
        db!(self, |pool| {
            let mut tx = pool.begin().await?;
            sqlx::query(
                "INSERT INTO admintoken (token_hash, userid, description, created_at) VALUES ($1, $2, $3, $4)",
            )
            .bind(token_hash)
            .bind(userid)
            .bind(description)
            .bind(now())
            .execute(&mut *tx)
            .await?;
            audit!(
                tx,
                actor,
                "create",
                "admintoken",
                userid,
                serde_json::json!({ "description": description }).to_string()
            );
            tx.commit().await?;
        });
        Ok(())
    }

    /// The administrator an API token (given by its hash) belongs to.
    pub async fn admin_by_token_hash(&self, token_hash: &str) -> Result<Option<AdminIdentity>> {
        let row: Option<(String,)> = db!(self, |pool| {
            sqlx::query_as("SELECT userid FROM admintoken WHERE token_hash = $1")
                .bind(token_hash)
                .fetch_optional(pool)
                .await?
        });
        Ok(row.map(|(userid,)| AdminIdentity { userid }))
    }

    /// The trust store (CA certificates), by subject.
    pub async fn list_trust(&self) -> Result<Vec<TrustCert>> {
        let rows: Vec<(String, String, String, String, String)> = db!(self, |pool| {
            sqlx::query_as("SELECT fingerprint, subject, not_after, pem, added_at FROM trustcert ORDER BY subject")
                .fetch_all(pool)
                .await?
        });
        Ok(rows
            .into_iter()
            .map(
                |(fingerprint, subject, not_after, pem, added_at)| TrustCert {
                    fingerprint,
                    subject,
                    not_after,
                    pem,
                    added_at,
                },
            )
            .collect())
    }

    /// Adds a certificate (already parsed and checked by the caller) to the trust store.
    pub async fn add_trust(
        &self,
        actor: &str,
        fingerprint: &str,
        subject: &str,
        not_after: &str,
        pem: &str,
    ) -> Result<TrustCert> {
        db!(self, |pool| {
            let mut tx = pool.begin().await?;
            sqlx::query(
                "INSERT INTO trustcert (fingerprint, subject, not_after, pem, added_at) VALUES ($1, $2, $3, $4, $5)",
            )
            .bind(fingerprint)
            .bind(subject)
            .bind(not_after)
            .bind(pem)
            .bind(now())
            .execute(&mut *tx)
            .await
            .map_err(StoreError::on_insert("trust certificate", fingerprint))?;
            audit!(
                tx,
                actor,
                "create",
                "trustcert",
                fingerprint,
                serde_json::json!({ "subject": subject }).to_string()
            );
            tx.commit().await?;
        });
        self.list_trust()
            .await?
            .into_iter()
            .find(|t| t.fingerprint == fingerprint)
            .ok_or_else(|| StoreError::not_found("trust certificate", fingerprint))
    }

    /// Removes a certificate from the trust store.
    pub async fn remove_trust(&self, actor: &str, fingerprint: &str) -> Result<()> {
        db!(self, |pool| {
            let mut tx = pool.begin().await?;
            let done = sqlx::query("DELETE FROM trustcert WHERE fingerprint = $1")
                .bind(fingerprint)
                .execute(&mut *tx)
                .await?;
            if done.rows_affected() == 0 {
                return Err(StoreError::not_found("trust certificate", fingerprint));
            }
            audit!(tx, actor, "delete", "trustcert", fingerprint, "{}");
            tx.commit().await?;
        });
        Ok(())
    }

    /// The trace levels saved for `node`, as (service, level) names.
    pub async fn trace_levels(&self, node: &str) -> Result<Vec<(String, String)>> {
        Ok(db!(self, |pool| {
            sqlx::query_as("SELECT service, level FROM tracelevel WHERE node = $1 ORDER BY service")
                .bind(node)
                .fetch_all(pool)
                .await?
        }))
    }

    /// Saves a trace level (names checked by the caller, which owns the catalogue).
    pub async fn set_trace_level(
        &self,
        actor: &str,
        node: &str,
        service: &str,
        level: &str,
    ) -> Result<()> {
        db!(self, |pool| {
            let mut tx = pool.begin().await?;
            sqlx::query(
                "INSERT INTO tracelevel (node, service, level) VALUES ($1, $2, $3) \
                 ON CONFLICT (node, service) DO UPDATE SET level = $3",
            )
            .bind(node)
            .bind(service)
            .bind(level)
            .execute(&mut *tx)
            .await?;
            let id = format!("{node}/{service}");
            audit!(
                tx,
                actor,
                "update",
                "tracelevel",
                &id,
                serde_json::json!({ "level": level }).to_string()
            );
            tx.commit().await?;
        });
        Ok(())
    }

    /// Records a change made outside the store (e.g. a certificate regenerated on disk).
    pub async fn record_audit(
        &self,
        actor: &str,
        action: &str,
        object_type: &str,
        object_id: &str,
        detail: &serde_json::Value,
    ) -> Result<()> {
        db!(self, |pool| {
            let mut tx = pool.begin().await?;
            audit!(
                tx,
                actor,
                action,
                object_type,
                object_id,
                detail.to_string()
            );
            tx.commit().await?;
        });
        Ok(())
    }

    /// The newest `limit` audit entries, newest first.
    /// The newest audit entry's id. Every change is audited in its own transaction, so a new
    /// value means something changed (a cheap probe for caches that mirror the store).
    pub async fn latest_audit_id(&self) -> Result<Option<String>> {
        let row: (Option<String>,) = db!(self, |pool| {
            sqlx::query_as("SELECT max(id) FROM auditlog")
                .fetch_one(pool)
                .await?
        });
        Ok(row.0)
    }

    pub async fn list_audit(&self, limit: u32) -> Result<Vec<AuditEntry>> {
        let rows: Vec<(String, String, String, String, String, String, String)> =
            db!(self, |pool| {
                sqlx::query_as(
                    "SELECT id, at, actor, action, object_type, object_id, detail FROM auditlog \
                 ORDER BY id DESC LIMIT $1",
                )
                .bind(limit.min(10_000) as i64)
                .fetch_all(pool)
                .await?
            });
        Ok(rows
            .into_iter()
            .map(
                |(id, at, actor, action, object_type, object_id, detail)| AuditEntry {
                    id,
                    at,
                    actor,
                    action,
                    object_type,
                    object_id,
                    detail: serde_json::from_str(&detail).unwrap_or(serde_json::Value::Null),
                },
            )
            .collect())
    }
}
