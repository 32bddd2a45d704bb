//! Devices (phones and softphones), directory numbers, and the line appearances that tie them.

use crate::error::{Result, StoreError};
use crate::model::{Device, DeviceClass, DeviceNew, DevicePatch, Line, LineAppearance, LinePatch};
use crate::{audit, audit_detail, db, now, validate, Store};

#[derive(sqlx::FromRow)]
struct DeviceRow {
    name: String,
    description: String,
    product: String,
    device_class: String,
    protocol: String,
    owner_userid: Option<String>,
    security_profile: String,
    digest_user: Option<String>,
    has_digest_password: bool,
    allow_cti_control: bool,
    created_at: String,
    updated_at: String,
}

#[derive(sqlx::FromRow)]
struct DeviceAuthRecord {
    name: String,
    owner_userid: Option<String>,
    security_profile: String,
    digest_auth: bool,
    oauth_auth: bool,
    device_security_mode: String,
    transport: String,
    digest_user: Option<String>,
    digest_secret: Option<String>,
}

/// A device with its security profile's rules and its digest password (see
/// [`Store::device_auth_all`]). Enumerations are their stored names (`tcp_udp`, `encrypted`).
#[derive(Debug, Clone)]
pub struct DeviceAuthRow {
    pub name: String,
    pub owner: Option<String>,
    pub profile: String,
    pub digest_auth: bool,
    pub oauth_auth: bool,
    pub security_mode: String,
    pub transport: String,
    pub digest_user: Option<String>,
    pub digest_password: Option<String>,
}

const DEVICE_COLUMNS: &str = "name, description, product, device_class, protocol, owner_userid, \
     security_profile, digest_user, (digest_secret IS NOT NULL) AS has_digest_password, allow_cti_control, created_at, updated_at";

fn class_text(class: DeviceClass) -> &'static str {
    match class {
        DeviceClass::Deskphone => "deskphone",
        DeviceClass::Softphone => "softphone",
    }
}

impl DeviceRow {
    fn into_device(self, lines: Vec<LineAppearance>) -> Device {
        Device {
            name: self.name,
            description: self.description,
            product: self.product,
            device_class: if self.device_class == "deskphone" {
                DeviceClass::Deskphone
            } else {
                DeviceClass::Softphone
            },
            protocol: self.protocol,
            owner: self.owner_userid,
            security_profile: self.security_profile,
            digest_user: self.digest_user,
            has_digest_password: self.has_digest_password,
            allow_cti_control: self.allow_cti_control,
            lines,
            created_at: self.created_at,
            updated_at: self.updated_at,
        }
    }
}

/// Checks that what a device refers to exists (owner, profile, lines), inside a transaction.
macro_rules! check_device_refs {
    ($tx:expr, $owner:expr, $profile:expr, $lines:expr) => {{
        if let Some(owner) = $owner {
            let found: Option<(String,)> =
                sqlx::query_as("SELECT userid FROM enduser WHERE userid = $1")
                    .bind(owner)
                    .fetch_optional(&mut *$tx)
                    .await?;
            if found.is_none() {
                return Err(StoreError::invalid(
                    "owner",
                    format!("user '{owner}' does not exist"),
                ));
            }
        }
        if let Some(profile) = $profile {
            let found: Option<(String,)> =
                sqlx::query_as("SELECT name FROM securityprofile WHERE name = $1")
                    .bind(profile)
                    .fetch_optional(&mut *$tx)
                    .await?;
            if found.is_none() {
                return Err(StoreError::invalid(
                    "security_profile",
                    format!("security profile '{profile}' does not exist"),
                ));
            }
        }
        if let Some(lines) = $lines {
            for (i, l) in lines.iter().enumerate() {
                let found: Option<(String,)> = sqlx::query_as("SELECT dn FROM line WHERE dn = $1")
                    .bind(&l.dn)
                    .fetch_optional(&mut *$tx)
                    .await?;
                if found.is_none() {
                    return Err(StoreError::invalid(
                        format!("lines[{i}].dn"),
                        format!("line '{}' does not exist; create it first", l.dn),
                    ));
                }
            }
        }
    }};
}

/// Replaces the line appearances of a device inside a transaction.
macro_rules! set_lines {
    ($tx:expr, $device:expr, $lines:expr) => {{
        sqlx::query("DELETE FROM devicenumplanmap WHERE device = $1")
            .bind($device)
            .execute(&mut *$tx)
            .await?;
        for l in $lines.iter() {
            sqlx::query(
                "INSERT INTO devicenumplanmap (device, numplanindex, dn) VALUES ($1, $2, $3)",
            )
            .bind($device)
            .bind(l.index as i64)
            .bind(&l.dn)
            .execute(&mut *$tx)
            .await?;
        }
    }};
}

impl Store {
    /// Every device, by name.
    pub async fn list_devices(&self) -> Result<Vec<Device>> {
        let sql = format!("SELECT {DEVICE_COLUMNS} FROM device ORDER BY name");
        let (rows, maps): (Vec<DeviceRow>, Vec<(String, i64, String)>) = db!(self, |pool| {
            (
                sqlx::query_as(&sql).fetch_all(pool).await?,
                sqlx::query_as(
                    "SELECT device, numplanindex, dn FROM devicenumplanmap ORDER BY device, numplanindex",
                )
                .fetch_all(pool)
                .await?,
            )
        });
        Ok(rows
            .into_iter()
            .map(|row| {
                let lines = maps
                    .iter()
                    .filter(|(d, _, _)| *d == row.name)
                    .map(|(_, index, dn)| LineAppearance {
                        index: *index as u32,
                        dn: dn.clone(),
                    })
                    .collect();
                row.into_device(lines)
            })
            .collect())
    }

    /// One device.
    pub async fn get_device(&self, name: &str) -> Result<Device> {
        let sql = format!("SELECT {DEVICE_COLUMNS} FROM device WHERE name = $1");
        let (row, lines): (Option<DeviceRow>, Vec<(i64, String)>) = db!(self, |pool| {
            (
                sqlx::query_as(&sql).bind(name).fetch_optional(pool).await?,
                sqlx::query_as(
                    "SELECT numplanindex, dn FROM devicenumplanmap WHERE device = $1 ORDER BY numplanindex",
                )
                .bind(name)
                .fetch_all(pool)
                .await?,
            )
        });
        let row = row.ok_or_else(|| StoreError::not_found("device", name))?;
        let lines = lines
            .into_iter()
            .map(|(index, dn)| LineAppearance {
                index: index as u32,
                dn,
            })
            .collect();
        Ok(row.into_device(lines))
    }

    /// Every device with what the SIP registrar needs to authenticate it, in one query (to warm
    /// the registrar's cache at start): its profile's rules and its unsealed digest password.
    pub async fn device_auth_all(&self) -> Result<Vec<DeviceAuthRow>> {
        let rows: Vec<DeviceAuthRecord> = db!(self, |pool| {
            sqlx::query_as(
                "SELECT d.name, d.owner_userid, d.security_profile, p.digest_auth, p.oauth_auth, \
                 p.device_security_mode, p.transport, d.digest_user, d.digest_secret \
                 FROM device d JOIN securityprofile p ON p.name = d.security_profile",
            )
            .fetch_all(pool)
            .await?
        });
        Ok(rows
            .into_iter()
            .map(|r| DeviceAuthRow {
                digest_password: r
                    .digest_secret
                    .as_deref()
                    .and_then(|s| self.crypto().unseal(s)),
                name: r.name,
                owner: r.owner_userid,
                profile: r.security_profile,
                digest_auth: r.digest_auth,
                oauth_auth: r.oauth_auth,
                security_mode: r.device_security_mode,
                transport: r.transport,
                digest_user: r.digest_user,
            })
            .collect())
    }

    /// The digest password of a device, unsealed (for the SIP registrar only).
    pub async fn device_digest_password(&self, name: &str) -> Result<Option<String>> {
        let row: Option<(Option<String>,)> = db!(self, |pool| {
            sqlx::query_as("SELECT digest_secret FROM device WHERE name = $1")
                .bind(name)
                .fetch_optional(pool)
                .await?
        });
        Ok(row
            .and_then(|(sealed,)| sealed)
            .and_then(|sealed| self.crypto().unseal(&sealed)))
    }

    /// Creates a device with its line appearances.
    pub async fn create_device(&self, actor: &str, new: &DeviceNew) -> Result<Device> {
        validate::device_new(new)?;
        let sealed = new
            .digest_password
            .as_deref()
            .map(|p| self.crypto().seal(p));
        let at = now();
        db!(self, |pool| {
            let mut tx = pool.begin().await?;
            check_device_refs!(
                tx,
                new.owner.as_ref(),
                Some(&new.security_profile),
                Some(&new.lines)
            );
            sqlx::query(
                "INSERT INTO device (name, description, product, device_class, protocol, owner_userid, \
                 security_profile, digest_user, digest_secret, allow_cti_control, created_at, updated_at) \
                 VALUES ($1, $2, $3, $4, 'SIP', $5, $6, $7, $8, $10, $9, $9)",
            )
            .bind(&new.name)
            .bind(&new.description)
            .bind(&new.product)
            .bind(class_text(new.device_class))
            .bind(&new.owner)
            .bind(&new.security_profile)
            .bind(&new.digest_user)
            .bind(&sealed)
            .bind(&at)
            .bind(new.allow_cti_control)
            .execute(&mut *tx)
            .await
            .map_err(StoreError::on_insert("device", &new.name))?;
            set_lines!(tx, &new.name, &new.lines);
            audit!(tx, actor, "create", "device", &new.name, audit_detail(new));
            tx.commit().await?;
        });
        self.get_device(&new.name).await
    }

    /// Changes the fields given in `patch`.
    pub async fn update_device(
        &self,
        actor: &str,
        name: &str,
        patch: &DevicePatch,
    ) -> Result<Device> {
        validate::device_patch(patch)?;
        let current = self.get_device(name).await?;
        if let Some(class) = patch.device_class {
            validate::device_name(name, class)?;
        }
        let owner = if patch.clear_owner {
            None
        } else {
            patch.owner.clone().or(current.owner.clone())
        };
        let sealed = patch
            .digest_password
            .as_deref()
            .map(|p| self.crypto().seal(p));
        db!(self, |pool| {
            let mut tx = pool.begin().await?;
            check_device_refs!(
                tx,
                patch.owner.as_ref(),
                patch.security_profile.as_ref(),
                patch.lines.as_ref()
            );
            sqlx::query(
                "UPDATE device SET description = $2, product = $3, device_class = $4, owner_userid = $5, \
                 security_profile = $6, digest_user = $7, digest_secret = COALESCE($8, digest_secret), \
                 allow_cti_control = $10, updated_at = $9 WHERE name = $1",
            )
            .bind(name)
            .bind(patch.description.as_ref().unwrap_or(&current.description))
            .bind(patch.product.as_ref().unwrap_or(&current.product))
            .bind(class_text(patch.device_class.unwrap_or(current.device_class)))
            .bind(&owner)
            .bind(patch.security_profile.as_ref().unwrap_or(&current.security_profile))
            .bind(patch.digest_user.as_ref().or(current.digest_user.as_ref()))
            .bind(&sealed)
            .bind(now())
            .bind(patch.allow_cti_control.unwrap_or(current.allow_cti_control))
            .execute(&mut *tx)
            .await?;
            if let Some(lines) = &patch.lines {
                set_lines!(tx, name, lines);
            }
            audit!(tx, actor, "update", "device", name, audit_detail(patch));
            tx.commit().await?;
        });
        self.get_device(name).await
    }

    /// Deletes a device (its line appearances and CTI control links go with it).
    pub async fn delete_device(&self, actor: &str, name: &str) -> Result<()> {
        db!(self, |pool| {
            let mut tx = pool.begin().await?;
            let done = sqlx::query("DELETE FROM device WHERE name = $1")
                .bind(name)
                .execute(&mut *tx)
                .await?;
            if done.rows_affected() == 0 {
                return Err(StoreError::not_found("device", name));
            }
            audit!(tx, actor, "delete", "device", name, "{}");
            tx.commit().await?;
        });
        Ok(())
    }

    /// Every directory number.
    pub async fn list_lines(&self) -> Result<Vec<Line>> {
        let rows: Vec<(String, String, String)> = db!(self, |pool| {
            sqlx::query_as("SELECT dn, description, alerting_name FROM line ORDER BY dn")
                .fetch_all(pool)
                .await?
        });
        Ok(rows
            .into_iter()
            .map(|(dn, description, alerting_name)| Line {
                dn,
                description,
                alerting_name,
            })
            .collect())
    }

    /// One directory number.
    pub async fn get_line(&self, dn: &str) -> Result<Line> {
        self.list_lines()
            .await?
            .into_iter()
            .find(|l| l.dn == dn)
            .ok_or_else(|| StoreError::not_found("line", dn))
    }

    /// Creates a directory number.
    pub async fn create_line(&self, actor: &str, line: &Line) -> Result<Line> {
        validate::line(line)?;
        let at = now();
        db!(self, |pool| {
            let mut tx = pool.begin().await?;
            sqlx::query(
                "INSERT INTO line (dn, description, alerting_name, created_at, updated_at) \
                 VALUES ($1, $2, $3, $4, $4)",
            )
            .bind(&line.dn)
            .bind(&line.description)
            .bind(&line.alerting_name)
            .bind(&at)
            .execute(&mut *tx)
            .await
            .map_err(StoreError::on_insert("line", &line.dn))?;
            audit!(tx, actor, "create", "line", &line.dn, audit_detail(line));
            tx.commit().await?;
        });
        self.get_line(&line.dn).await
    }

    /// Changes a directory number's description or alerting name.
    pub async fn update_line(&self, actor: &str, dn: &str, patch: &LinePatch) -> Result<Line> {
        let current = self.get_line(dn).await?;
        let updated = Line {
            dn: dn.to_string(),
            description: patch.description.clone().unwrap_or(current.description),
            alerting_name: patch.alerting_name.clone().unwrap_or(current.alerting_name),
        };
        validate::line(&updated)?;
        db!(self, |pool| {
            let mut tx = pool.begin().await?;
            sqlx::query("UPDATE line SET description = $2, alerting_name = $3, updated_at = $4 WHERE dn = $1")
                .bind(dn)
                .bind(&updated.description)
                .bind(&updated.alerting_name)
                .bind(now())
                .execute(&mut *tx)
                .await?;
            audit!(tx, actor, "update", "line", dn, audit_detail(patch));
            tx.commit().await?;
        });
        Ok(updated)
    }

    /// Deletes a directory number; refused while a device shows it.
    pub async fn delete_line(&self, actor: &str, dn: &str) -> Result<()> {
        db!(self, |pool| {
            let mut tx = pool.begin().await?;
            let users: Vec<(String,)> =
                sqlx::query_as("SELECT device FROM devicenumplanmap WHERE dn = $1 ORDER BY device")
                    .bind(dn)
                    .fetch_all(&mut *tx)
                    .await?;
            if !users.is_empty() {
                let names: Vec<_> = users.into_iter().map(|(n,)| n).collect();
                return Err(StoreError::conflict(
                    "line",
                    dn,
                    format!("still appears on device(s) {}", names.join(", ")),
                ));
            }
            let done = sqlx::query("DELETE FROM line WHERE dn = $1")
                .bind(dn)
                .execute(&mut *tx)
                .await?;
            if done.rows_affected() == 0 {
                return Err(StoreError::not_found("line", dn));
            }
            audit!(tx, actor, "delete", "line", dn, "{}");
            tx.commit().await?;
        });
        Ok(())
    }
}
