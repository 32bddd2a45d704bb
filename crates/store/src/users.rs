//! End users: their CTI settings, local password hash and the devices they control, and the
//! credential-policy state of local users (failed logons, lockout).

use crate::error::{Result, StoreError};
use crate::model::{User, UserNew, UserPatch, UserSource};
use crate::{audit, audit_detail, db, now, validate, Store};

/// What the authentication service needs to check a user's password.
#[derive(Clone)]
pub struct UserCredentials {
    pub userid: String,
    pub source: UserSource,
    pub enabled: bool,
    /// Argon2id PHC string of a local user's password.
    pub password_hash: Option<String>,
    pub failed_logons: i64,
    /// RFC 3339 UTC; in the past when a lock has run out.
    pub locked_until: Option<String>,
}

impl std::fmt::Debug for UserCredentials {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("UserCredentials")
            .field("userid", &self.userid)
            .field("source", &self.source)
            .field("enabled", &self.enabled)
            .field("has_password", &self.password_hash.is_some())
            .field("failed_logons", &self.failed_logons)
            .field("locked_until", &self.locked_until)
            .finish()
    }
}

/// The credential policy's state after a failed logon ([`Store::record_failed_logon`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FailedLogon {
    /// Consecutive failures counted, this one included.
    pub failed_logons: i64,
    /// Set when this failure locked the user out (the count starts again at 0).
    pub locked_until: Option<String>,
}

/// userid, source, enabled, password_hash, failed_logons, locked_until.
type CredentialsRow = (String, String, bool, Option<String>, i64, Option<String>);

/// The actor recorded in the audit log for lockouts.
pub const CREDENTIAL_POLICY_ACTOR: &str = "credential-policy";

#[derive(sqlx::FromRow)]
struct UserRow {
    userid: String,
    display_name: String,
    source: String,
    has_password: bool,
    failed_logons: i64,
    locked_until: Option<String>,
    enabled: bool,
    cti_enabled: bool,
    super_provider: bool,
    call_park_retrieval_allowed: bool,
    modify_calling_number: bool,
    call_monitor: bool,
    call_record: bool,
    created_at: String,
    updated_at: String,
}

const USER_COLUMNS: &str =
    "userid, display_name, source, (password_hash IS NOT NULL) AS has_password, \
     failed_logons, locked_until, enabled, cti_enabled, super_provider, call_park_retrieval_allowed, modify_calling_number, \
     call_monitor, call_record, created_at, updated_at";

impl UserRow {
    fn into_user(self, controlled_devices: Vec<String>) -> User {
        User {
            userid: self.userid,
            display_name: self.display_name,
            source: if self.source == "ldap" {
                UserSource::Ldap
            } else {
                UserSource::Local
            },
            enabled: self.enabled,
            cti_enabled: self.cti_enabled,
            super_provider: self.super_provider,
            call_park_retrieval_allowed: self.call_park_retrieval_allowed,
            modify_calling_number: self.modify_calling_number,
            call_monitor: self.call_monitor,
            call_record: self.call_record,
            controlled_devices,
            has_password: self.has_password,
            failed_logons: self.failed_logons.clamp(0, u32::MAX as i64) as u32,
            // A lock that has run out is no lock.
            locked_until: self
                .locked_until
                .filter(|t| crate::unix_of(t).is_some_and(|t| t > crate::unix_now())),
            created_at: self.created_at,
            updated_at: self.updated_at,
        }
    }
}

fn source_text(source: UserSource) -> &'static str {
    match source {
        UserSource::Local => "local",
        UserSource::Ldap => "ldap",
    }
}

/// Replaces the controlled-device list of `userid` inside a transaction; each device must exist.
macro_rules! set_controlled {
    ($tx:expr, $userid:expr, $devices:expr) => {{
        sqlx::query("DELETE FROM enduserdevicemap WHERE userid = $1")
            .bind($userid)
            .execute(&mut *$tx)
            .await?;
        for (i, device) in $devices.iter().enumerate() {
            let exists: Option<(String,)> = sqlx::query_as("SELECT name FROM device WHERE name = $1")
                .bind(device)
                .fetch_optional(&mut *$tx)
                .await?;
            if exists.is_none() {
                return Err(StoreError::invalid(
                    format!("controlled_devices[{i}]"),
                    format!("device '{device}' does not exist"),
                ));
            }
            sqlx::query(
                "INSERT INTO enduserdevicemap (userid, device) VALUES ($1, $2) ON CONFLICT DO NOTHING",
            )
            .bind($userid)
            .bind(device)
            .execute(&mut *$tx)
            .await?;
        }
    }};
}

impl Store {
    /// Every end user, by userid.
    pub async fn list_users(&self) -> Result<Vec<User>> {
        let sql = format!("SELECT {USER_COLUMNS} FROM enduser ORDER BY userid");
        let (rows, links): (Vec<UserRow>, Vec<(String, String)>) = db!(self, |pool| {
            (
                sqlx::query_as(&sql).fetch_all(pool).await?,
                sqlx::query_as("SELECT userid, device FROM enduserdevicemap ORDER BY device")
                    .fetch_all(pool)
                    .await?,
            )
        });
        Ok(rows
            .into_iter()
            .map(|row| {
                let devices = links
                    .iter()
                    .filter(|(u, _)| *u == row.userid)
                    .map(|(_, d)| d.clone())
                    .collect();
                row.into_user(devices)
            })
            .collect())
    }

    /// One end user.
    pub async fn get_user(&self, userid: &str) -> Result<User> {
        let sql = format!("SELECT {USER_COLUMNS} FROM enduser WHERE userid = $1");
        let (row, devices): (Option<UserRow>, Vec<(String,)>) = db!(self, |pool| {
            (
                sqlx::query_as(&sql)
                    .bind(userid)
                    .fetch_optional(pool)
                    .await?,
                sqlx::query_as(
                    "SELECT device FROM enduserdevicemap WHERE userid = $1 ORDER BY device",
                )
                .bind(userid)
                .fetch_all(pool)
                .await?,
            )
        });
        let row = row.ok_or_else(|| StoreError::not_found("user", userid))?;
        Ok(row.into_user(devices.into_iter().map(|(d,)| d).collect()))
    }

    /// The Argon2id hash of a local user's password, if one is set.
    pub async fn user_password_hash(&self, userid: &str) -> Result<Option<String>> {
        let row: Option<(Option<String>,)> = db!(self, |pool| {
            sqlx::query_as("SELECT password_hash FROM enduser WHERE userid = $1")
                .bind(userid)
                .fetch_optional(pool)
                .await?
        });
        Ok(row.and_then(|(hash,)| hash))
    }

    /// Creates an end user.
    pub async fn create_user(&self, actor: &str, new: &UserNew) -> Result<User> {
        validate::user_new(new)?;
        let hash = new
            .password
            .as_deref()
            .map(|p| self.crypto().hash_password(p));
        let at = now();
        db!(self, |pool| {
            let mut tx = pool.begin().await?;
            sqlx::query(
                "INSERT INTO enduser (userid, display_name, source, password_hash, enabled, \
                 cti_enabled, super_provider, call_park_retrieval_allowed, modify_calling_number, \
                 call_monitor, call_record, created_at, updated_at) \
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $12)",
            )
            .bind(&new.userid)
            .bind(&new.display_name)
            .bind(source_text(new.source))
            .bind(&hash)
            .bind(new.enabled)
            .bind(new.cti_enabled)
            .bind(new.super_provider)
            .bind(new.call_park_retrieval_allowed)
            .bind(new.modify_calling_number)
            .bind(new.call_monitor)
            .bind(new.call_record)
            .bind(&at)
            .execute(&mut *tx)
            .await
            .map_err(StoreError::on_insert("user", &new.userid))?;
            set_controlled!(tx, &new.userid, &new.controlled_devices);
            audit!(tx, actor, "create", "user", &new.userid, audit_detail(new));
            tx.commit().await?;
        });
        self.get_user(&new.userid).await
    }

    /// Changes the fields given in `patch`.
    pub async fn update_user(&self, actor: &str, userid: &str, patch: &UserPatch) -> Result<User> {
        let current = self.get_user(userid).await?;
        validate::user_patch(patch, current.source)?;
        let source = patch.source.unwrap_or(current.source);
        let hash = patch
            .password
            .as_deref()
            .map(|p| self.crypto().hash_password(p));
        db!(self, |pool| {
            let mut tx = pool.begin().await?;
            sqlx::query(
                "UPDATE enduser SET display_name = $2, source = $3, enabled = $4, cti_enabled = $5, \
                 super_provider = $6, call_park_retrieval_allowed = $7, modify_calling_number = $8, \
                 call_monitor = $9, call_record = $10, updated_at = $11, \
                 password_hash = CASE WHEN $12 THEN NULL WHEN $13 IS NOT NULL THEN $13 ELSE password_hash END, \
                 failed_logons = CASE WHEN $13 IS NOT NULL THEN 0 ELSE failed_logons END, \
                 locked_until = CASE WHEN $13 IS NOT NULL THEN NULL ELSE locked_until END \
                 WHERE userid = $1",
            )
            .bind(userid)
            .bind(patch.display_name.as_ref().unwrap_or(&current.display_name))
            .bind(source_text(source))
            .bind(patch.enabled.unwrap_or(current.enabled))
            .bind(patch.cti_enabled.unwrap_or(current.cti_enabled))
            .bind(patch.super_provider.unwrap_or(current.super_provider))
            .bind(patch.call_park_retrieval_allowed.unwrap_or(current.call_park_retrieval_allowed))
            .bind(patch.modify_calling_number.unwrap_or(current.modify_calling_number))
            .bind(patch.call_monitor.unwrap_or(current.call_monitor))
            .bind(patch.call_record.unwrap_or(current.call_record))
            .bind(now())
            .bind(source == UserSource::Ldap)
            .bind(&hash)
            .execute(&mut *tx)
            .await?;
            if let Some(devices) = &patch.controlled_devices {
                set_controlled!(tx, userid, devices);
            }
            audit!(tx, actor, "update", "user", userid, audit_detail(patch));
            tx.commit().await?;
        });
        self.get_user(userid).await
    }

    /// Deletes an end user; refused while the user owns devices.
    pub async fn delete_user(&self, actor: &str, userid: &str) -> Result<()> {
        db!(self, |pool| {
            let mut tx = pool.begin().await?;
            let owned: Vec<(String,)> =
                sqlx::query_as("SELECT name FROM device WHERE owner_userid = $1 ORDER BY name")
                    .bind(userid)
                    .fetch_all(&mut *tx)
                    .await?;
            if !owned.is_empty() {
                let names: Vec<_> = owned.into_iter().map(|(n,)| n).collect();
                return Err(StoreError::conflict(
                    "user",
                    userid,
                    format!(
                        "still owns device(s) {}; change their owner first",
                        names.join(", ")
                    ),
                ));
            }
            let done = sqlx::query("DELETE FROM enduser WHERE userid = $1")
                .bind(userid)
                .execute(&mut *tx)
                .await?;
            if done.rows_affected() == 0 {
                return Err(StoreError::not_found("user", userid));
            }
            audit!(tx, actor, "delete", "user", userid, "{}");
            tx.commit().await?;
        });
        Ok(())
    }

    /// A user's source, state and password hash, for the authentication service.
    pub async fn user_credentials(&self, userid: &str) -> Result<Option<UserCredentials>> {
        let row: Option<CredentialsRow> = db!(self, |pool| {
            sqlx::query_as(
                "SELECT userid, source, enabled, password_hash, failed_logons, locked_until \
                     FROM enduser WHERE userid = $1",
            )
            .bind(userid)
            .fetch_optional(pool)
            .await?
        });
        Ok(row.map(
            |(userid, source, enabled, password_hash, failed_logons, locked_until)| {
                UserCredentials {
                    userid,
                    source: if source == "ldap" {
                        UserSource::Ldap
                    } else {
                        UserSource::Local
                    },
                    enabled,
                    password_hash,
                    failed_logons,
                    locked_until,
                }
            },
        ))
    }

    /// Counts a failed logon of a local user; at `threshold` failures (0: never) the user is
    /// locked until `lock_until` and the count starts again. A lockout is audited; single
    /// failures are not (they are traced by the authentication service).
    pub async fn record_failed_logon(
        &self,
        userid: &str,
        threshold: i64,
        lock_until: &str,
    ) -> Result<FailedLogon> {
        db!(self, |pool| {
            let mut tx = pool.begin().await?;
            let row: Option<(i64,)> = sqlx::query_as(
                "UPDATE enduser SET failed_logons = failed_logons + 1 WHERE userid = $1 \
                 RETURNING failed_logons",
            )
            .bind(userid)
            .fetch_optional(&mut *tx)
            .await?;
            let Some((count,)) = row else {
                return Err(StoreError::not_found("user", userid));
            };
            let locked = threshold > 0 && count >= threshold;
            if locked {
                sqlx::query(
                    "UPDATE enduser SET failed_logons = 0, locked_until = $2 WHERE userid = $1",
                )
                .bind(userid)
                .bind(lock_until)
                .execute(&mut *tx)
                .await?;
                let detail =
                    serde_json::json!({ "failed_logons": count, "locked_until": lock_until });
                audit!(
                    tx,
                    CREDENTIAL_POLICY_ACTOR,
                    "lock",
                    "user",
                    userid,
                    detail.to_string()
                );
            }
            tx.commit().await?;
            Ok(FailedLogon {
                failed_logons: count,
                locked_until: locked.then(|| lock_until.to_string()),
            })
        })
    }

    /// Clears the failed-logon count and any lockout after a successful logon (writes only
    /// when there is something to clear).
    pub async fn clear_failed_logons(&self, userid: &str) -> Result<()> {
        db!(self, |pool| {
            sqlx::query(
                "UPDATE enduser SET failed_logons = 0, locked_until = NULL \
                 WHERE userid = $1 AND (failed_logons <> 0 OR locked_until IS NOT NULL)",
            )
            .bind(userid)
            .execute(pool)
            .await?;
        });
        Ok(())
    }
}
