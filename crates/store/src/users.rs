//! End users: their CTI settings, local password hash and the devices they control.

use crate::error::{Result, StoreError};
use crate::model::{User, UserNew, UserPatch, UserSource};
use crate::{audit, audit_detail, db, now, validate, Store};

#[derive(sqlx::FromRow)]
struct UserRow {
    userid: String,
    display_name: String,
    source: String,
    has_password: bool,
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
     enabled, cti_enabled, super_provider, call_park_retrieval_allowed, modify_calling_number, \
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
                 password_hash = CASE WHEN $12 THEN NULL WHEN $13 IS NOT NULL THEN $13 ELSE password_hash END \
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
}
