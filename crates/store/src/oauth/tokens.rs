//! Refresh tokens (rotation, reuse detection, revocation by family), authorization codes
//! (single-use redemption), access tokens revoked by `jti`, revoke-all per user, and the purge
//! of what has expired.

use super::*;

/// Inserts a refresh-token row with `$executor` (a pool or a transaction).
macro_rules! insert_refresh {
    ($executor:expr, $new:expr) => {
        sqlx::query(
            "INSERT INTO oauthrefreshtoken (token_hash, family_id, userid, device, client_id, \
             scope, created_at, expires_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
        )
        .bind(&$new.token_hash)
        .bind(&$new.family_id)
        .bind(&$new.userid)
        .bind(&$new.device)
        .bind(&$new.client_id)
        .bind(&$new.scope)
        .bind(&$new.created_at)
        .bind(&$new.expires_at)
        .execute($executor)
        .await?
    };
}

impl Store {
    /// Stores a new refresh token (by its hash).
    pub async fn insert_refresh_token(&self, new: &RefreshTokenNew) -> Result<()> {
        db!(self, |pool| {
            insert_refresh!(pool, new);
        });
        Ok(())
    }

    /// A refresh token, by its hash.
    pub async fn find_refresh_token(&self, token_hash: &str) -> Result<Option<RefreshTokenRow>> {
        let sql = format!("SELECT {REFRESH_COLUMNS} FROM oauthrefreshtoken WHERE token_hash = $1");
        Ok(db!(self, |pool| {
            sqlx::query_as(&sql)
                .bind(token_hash)
                .fetch_optional(pool)
                .await?
        }))
    }

    /// Refresh-token rotation, atomically: a current token (not rotated, revoked or expired
    /// at `now`) is marked rotated and `new` stored in its place; a token that was already
    /// rotated is a replay, and its whole family is revoked (audited).
    pub async fn rotate_refresh_token(
        &self,
        old_hash: &str,
        new: &RefreshTokenNew,
        now: &str,
    ) -> Result<RefreshRotation> {
        let sql = format!("SELECT {REFRESH_COLUMNS} FROM oauthrefreshtoken WHERE token_hash = $1");
        db!(self, |pool| {
            let mut tx = pool.begin().await?;
            let rotated = sqlx::query(
                "UPDATE oauthrefreshtoken SET rotated_at = $2 WHERE token_hash = $1 \
                 AND rotated_at IS NULL AND revoked_at IS NULL AND expires_at > $2",
            )
            .bind(old_hash)
            .bind(now)
            .execute(&mut *tx)
            .await?
            .rows_affected()
                == 1;
            let row: Option<RefreshTokenRow> = sqlx::query_as(&sql)
                .bind(old_hash)
                .fetch_optional(&mut *tx)
                .await?;
            let Some(row) = row else {
                return Ok(RefreshRotation::Unknown);
            };
            let outcome = if rotated {
                insert_refresh!(&mut *tx, new);
                RefreshRotation::Rotated(row)
            } else if row.revoked_at.is_some() {
                RefreshRotation::Revoked(row)
            } else if row.rotated_at.is_some() {
                sqlx::query(
                    "UPDATE oauthrefreshtoken SET revoked_at = $2 \
                     WHERE family_id = $1 AND revoked_at IS NULL",
                )
                .bind(&row.family_id)
                .bind(now)
                .execute(&mut *tx)
                .await?;
                let detail = serde_json::json!({
                    "userid": row.userid, "reason": "refresh token reused",
                });
                audit!(
                    tx,
                    "oauth",
                    "revoke",
                    "oauthrefreshtoken",
                    &row.family_id,
                    detail.to_string()
                );
                RefreshRotation::Reused(row)
            } else {
                RefreshRotation::Expired(row)
            };
            tx.commit().await?;
            Ok(outcome)
        })
    }

    /// Revokes a refresh-token family (audited); returns how many tokens it had unrevoked.
    pub async fn revoke_refresh_family(
        &self,
        actor: &str,
        family_id: &str,
        now: &str,
        reason: &str,
    ) -> Result<u64> {
        db!(self, |pool| {
            let mut tx = pool.begin().await?;
            let revoked: Vec<(String,)> = sqlx::query_as(
                "UPDATE oauthrefreshtoken SET revoked_at = $2 \
                 WHERE family_id = $1 AND revoked_at IS NULL RETURNING userid",
            )
            .bind(family_id)
            .bind(now)
            .fetch_all(&mut *tx)
            .await?;
            if let Some((userid,)) = revoked.first() {
                let detail = serde_json::json!({ "userid": userid, "reason": reason });
                audit!(
                    tx,
                    actor,
                    "revoke",
                    "oauthrefreshtoken",
                    family_id,
                    detail.to_string()
                );
            }
            tx.commit().await?;
            Ok(revoked.len() as u64)
        })
    }

    /// The refresh-token families revoked at or after `since`.
    pub async fn revoked_refresh_families(&self, since: &str) -> Result<Vec<String>> {
        let rows: Vec<(String,)> = db!(self, |pool| {
            sqlx::query_as(
                "SELECT DISTINCT family_id FROM oauthrefreshtoken \
                 WHERE revoked_at IS NOT NULL AND revoked_at >= $1",
            )
            .bind(since)
            .fetch_all(pool)
            .await?
        });
        Ok(rows.into_iter().map(|(f,)| f).collect())
    }

    /// Denylists one access token by its `jti` until `expires_at` (RFC 7009), audited.
    pub async fn revoke_access_token(
        &self,
        actor: &str,
        jti: &str,
        userid: &str,
        expires_at: &str,
        now: &str,
    ) -> Result<()> {
        db!(self, |pool| {
            let mut tx = pool.begin().await?;
            let done = sqlx::query(
                "INSERT INTO oauthrevokedtoken (jti, userid, expires_at, revoked_at) \
                 VALUES ($1, $2, $3, $4) ON CONFLICT (jti) DO NOTHING",
            )
            .bind(jti)
            .bind(userid)
            .bind(expires_at)
            .bind(now)
            .execute(&mut *tx)
            .await?;
            if done.rows_affected() == 1 {
                let detail = serde_json::json!({ "userid": userid, "expires_at": expires_at });
                audit!(
                    tx,
                    actor,
                    "revoke",
                    "oauthaccesstoken",
                    jti,
                    detail.to_string()
                );
            }
            tx.commit().await?;
        });
        Ok(())
    }

    /// The `jti`s of access tokens revoked one by one that have not expired at `now`.
    pub async fn revoked_access_tokens(&self, now: &str) -> Result<Vec<String>> {
        let rows: Vec<(String,)> = db!(self, |pool| {
            sqlx::query_as("SELECT jti FROM oauthrevokedtoken WHERE expires_at >= $1")
                .bind(now)
                .fetch_all(pool)
                .await?
        });
        Ok(rows.into_iter().map(|(j,)| j).collect())
    }

    /// Every end user's OAuth-relevant state (enabled, revoke-all instant).
    pub async fn oauth_user_states(&self) -> Result<Vec<OAuthUserState>> {
        let rows: Vec<(String, bool, Option<String>)> = db!(self, |pool| {
            sqlx::query_as("SELECT userid, enabled, oauth_revoked_before FROM enduser")
                .fetch_all(pool)
                .await?
        });
        Ok(rows
            .into_iter()
            .map(|(userid, enabled, revoked_before)| OAuthUserState {
                userid,
                enabled,
                revoked_before,
            })
            .collect())
    }

    /// Revoke-all for a user: every refresh-token family, and every access token issued at
    /// or before `at`. Audited; returns how many families were revoked.
    pub async fn revoke_user_oauth(&self, actor: &str, userid: &str, at: &str) -> Result<u64> {
        db!(self, |pool| {
            let mut tx = pool.begin().await?;
            let done =
                sqlx::query("UPDATE enduser SET oauth_revoked_before = $2 WHERE userid = $1")
                    .bind(userid)
                    .bind(at)
                    .execute(&mut *tx)
                    .await?;
            if done.rows_affected() == 0 {
                return Err(StoreError::not_found("user", userid));
            }
            let families: Vec<(String,)> = sqlx::query_as(
                "UPDATE oauthrefreshtoken SET revoked_at = $2 \
                 WHERE userid = $1 AND revoked_at IS NULL RETURNING family_id",
            )
            .bind(userid)
            .bind(at)
            .fetch_all(&mut *tx)
            .await?;
            let mut families: Vec<String> = families.into_iter().map(|(f,)| f).collect();
            families.sort();
            families.dedup();
            let detail = serde_json::json!({
                "revoked_before": at, "refresh_token_families": families.len(),
            });
            audit!(tx, actor, "revoke-all", "oauth", userid, detail.to_string());
            tx.commit().await?;
            Ok(families.len() as u64)
        })
    }

    /// Stores an authorization code (by its hash).
    pub async fn insert_oauth_code(&self, new: &OAuthCodeNew) -> Result<()> {
        db!(self, |pool| {
            sqlx::query(
                "INSERT INTO oauthcode (code_hash, client_id, userid, redirect_uri, code_challenge, \
                 scope, device, created_at, expires_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)",
            )
            .bind(&new.code_hash)
            .bind(&new.client_id)
            .bind(&new.userid)
            .bind(&new.redirect_uri)
            .bind(&new.code_challenge)
            .bind(&new.scope)
            .bind(&new.device)
            .bind(&new.created_at)
            .bind(&new.expires_at)
            .execute(pool)
            .await?;
        });
        Ok(())
    }

    /// Redeems an authorization code once: the first call marks it used (recording the
    /// refresh family and access-token id it is exchanged for) and returns it; later calls
    /// return it as replayed, with those ids, so that they can be revoked.
    pub async fn redeem_oauth_code(
        &self,
        code_hash: &str,
        now: &str,
        family_id: &str,
        access_jti: &str,
    ) -> Result<CodeRedemption> {
        db!(self, |pool| {
            let mut tx = pool.begin().await?;
            let fresh = sqlx::query(
                "UPDATE oauthcode SET used_at = $2, family_id = $3, access_jti = $4 \
                 WHERE code_hash = $1 AND used_at IS NULL",
            )
            .bind(code_hash)
            .bind(now)
            .bind(family_id)
            .bind(access_jti)
            .execute(&mut *tx)
            .await?
            .rows_affected()
                == 1;
            let row: Option<OAuthCodeRow> = sqlx::query_as(
                "SELECT code_hash, client_id, userid, redirect_uri, code_challenge, scope, device, \
                 created_at, expires_at, used_at, family_id, access_jti FROM oauthcode WHERE code_hash = $1",
            )
            .bind(code_hash)
            .fetch_optional(&mut *tx)
            .await?;
            tx.commit().await?;
            Ok(match row {
                None => CodeRedemption::Unknown,
                Some(row) if fresh => CodeRedemption::Fresh(row),
                Some(row) => CodeRedemption::Replayed(row),
            })
        })
    }

    /// Deletes what can no longer matter at `now`: refresh tokens expired before
    /// `refresh_before`, codes expired before `codes_before`, revoked access tokens past their
    /// expiry. Housekeeping, not audited. Returns the number of rows deleted.
    pub async fn purge_oauth_state(
        &self,
        now: &str,
        refresh_before: &str,
        codes_before: &str,
    ) -> Result<u64> {
        db!(self, |pool| {
            let mut n = 0;
            n += sqlx::query("DELETE FROM oauthrefreshtoken WHERE expires_at < $1")
                .bind(refresh_before)
                .execute(pool)
                .await?
                .rows_affected();
            n += sqlx::query("DELETE FROM oauthcode WHERE expires_at < $1")
                .bind(codes_before)
                .execute(pool)
                .await?
                .rows_affected();
            n += sqlx::query("DELETE FROM oauthrevokedtoken WHERE expires_at < $1")
                .bind(now)
                .execute(pool)
                .await?
                .rows_affected();
            Ok(n)
        })
    }
}
