//! The OAuth authorization server's state: signing keys (private halves sealed), refresh
//! tokens and authorization codes (stored as SHA-256 hashes only), revoked access tokens,
//! per-user revoke-all instants, clients and external issuers.
//!
//! Administrative changes and every revocation are audited in the same transaction. The
//! protocol's own bookkeeping — issuing a refresh token or a code, rotating a refresh token,
//! redeeming a code, purging expired rows — is not: it happens on every login and is traced by
//! the OAuth service instead. Times are the whole-second RFC 3339 text of [`crate::time_text`],
//! compared as text. Multi-statement changes begin with their write, so that SQLite takes the
//! write lock first and concurrent rotations serialise instead of failing.

use crate::error::{Result, StoreError};
use crate::model::{OAuthClient, OAuthClientKind, OAuthIssuer, OAuthIssuerNew, OAuthKey};
use crate::{audit, audit_detail, db, validate, Store};

mod tokens;

/// A signing key with its private half unsealed (for the OAuth service only).
#[derive(Clone)]
pub struct OAuthKeyMaterial {
    pub kid: String,
    pub algorithm: String,
    /// The PKCS#8 private key, base64; `None` when it cannot be unsealed (another node's
    /// `secret.key`).
    pub private_key: Option<String>,
    /// The public key as JWK JSON text.
    pub public_jwk: String,
    pub created_at: String,
    pub retired_at: Option<String>,
}

impl std::fmt::Debug for OAuthKeyMaterial {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("OAuthKeyMaterial")
            .field("kid", &self.kid)
            .field("algorithm", &self.algorithm)
            .field("has_private_key", &self.private_key.is_some())
            .field("created_at", &self.created_at)
            .field("retired_at", &self.retired_at)
            .finish()
    }
}

/// A new signing key; `private_key` (PKCS#8, base64) is sealed before it is written.
pub struct OAuthKeyNew {
    pub kid: String,
    pub algorithm: String,
    pub private_key: String,
    pub public_jwk: String,
    pub created_at: String,
}

/// A refresh token to store (by its hash).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RefreshTokenNew {
    pub token_hash: String,
    pub family_id: String,
    pub userid: String,
    pub device: Option<String>,
    pub client_id: String,
    pub scope: String,
    pub created_at: String,
    pub expires_at: String,
}

/// A stored refresh token.
#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct RefreshTokenRow {
    pub token_hash: String,
    pub family_id: String,
    pub userid: String,
    pub device: Option<String>,
    pub client_id: String,
    pub scope: String,
    pub created_at: String,
    pub expires_at: String,
    pub rotated_at: Option<String>,
    pub revoked_at: Option<String>,
}

const REFRESH_COLUMNS: &str = "token_hash, family_id, userid, device, client_id, scope, \
     created_at, expires_at, rotated_at, revoked_at";

/// What [`Store::rotate_refresh_token`] did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RefreshRotation {
    /// The token was current: it is now rotated and the new one stored. The old row.
    Rotated(RefreshTokenRow),
    /// No such token.
    Unknown,
    /// The token has expired.
    Expired(RefreshTokenRow),
    /// The token's family was revoked.
    Revoked(RefreshTokenRow),
    /// The token had already been rotated: a replay. Its whole family is now revoked.
    Reused(RefreshTokenRow),
}

/// An authorization code to store (by its hash).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OAuthCodeNew {
    pub code_hash: String,
    pub client_id: String,
    pub userid: String,
    pub redirect_uri: String,
    pub code_challenge: String,
    pub scope: String,
    pub device: Option<String>,
    pub created_at: String,
    pub expires_at: String,
}

/// A stored authorization code.
#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct OAuthCodeRow {
    pub code_hash: String,
    pub client_id: String,
    pub userid: String,
    pub redirect_uri: String,
    pub code_challenge: String,
    pub scope: String,
    pub device: Option<String>,
    pub created_at: String,
    pub expires_at: String,
    pub used_at: Option<String>,
    pub family_id: Option<String>,
    pub access_jti: Option<String>,
}

/// What [`Store::redeem_oauth_code`] found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CodeRedemption {
    /// First redemption: the code is now used (the caller still checks its expiry and binding).
    Fresh(OAuthCodeRow),
    /// The code had been redeemed before: the row, with what the first redemption issued.
    Replayed(OAuthCodeRow),
    /// No such code.
    Unknown,
}

/// The OAuth-relevant state of one end user.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OAuthUserState {
    pub userid: String,
    pub enabled: bool,
    /// Revoke-all: tokens issued at or before this instant are refused.
    pub revoked_before: Option<String>,
}

fn kind_text(kind: OAuthClientKind) -> &'static str {
    match kind {
        OAuthClientKind::Jabber => "jabber",
        OAuthClientKind::Phone => "phone",
        OAuthClientKind::App => "app",
    }
}

fn kind_parse(text: &str) -> OAuthClientKind {
    match text {
        "jabber" => OAuthClientKind::Jabber,
        "phone" => OAuthClientKind::Phone,
        _ => OAuthClientKind::App,
    }
}

/// kid, algorithm, private_key_enc, public_jwk, created_at, retired_at.
type KeyRow = (String, String, String, String, String, Option<String>);

/// client_id, name, kind, redirect_uris, created_at.
type ClientRow = (String, String, String, String, String);

fn client_of((client_id, name, kind, uris, created_at): ClientRow) -> OAuthClient {
    OAuthClient {
        client_id,
        name,
        kind: kind_parse(&kind),
        redirect_uris: serde_json::from_str(&uris).unwrap_or_default(),
        created_at,
    }
}

impl Store {
    /// Every signing key (public parts): the keys still signing first (newest first), then the
    /// retired ones, most recently retired first.
    pub async fn list_oauth_keys(&self) -> Result<Vec<OAuthKey>> {
        Ok(self
            .oauth_key_material()
            .await?
            .into_iter()
            .map(|k| OAuthKey {
                public_jwk: serde_json::from_str(&k.public_jwk).unwrap_or_default(),
                kid: k.kid,
                algorithm: k.algorithm,
                created_at: k.created_at,
                retired_at: k.retired_at,
            })
            .collect())
    }

    /// Every signing key with its private half unsealed, in [`Store::list_oauth_keys`] order.
    pub async fn oauth_key_material(&self) -> Result<Vec<OAuthKeyMaterial>> {
        let rows: Vec<KeyRow> = db!(self, |pool| {
            sqlx::query_as(
                "SELECT kid, algorithm, private_key_enc, public_jwk, created_at, retired_at \
                 FROM oauthkey ORDER BY (retired_at IS NULL) DESC, retired_at DESC, created_at DESC, kid DESC",
            )
            .fetch_all(pool)
            .await?
        });
        Ok(rows
            .into_iter()
            .map(
                |(kid, algorithm, sealed, public_jwk, created_at, retired_at)| OAuthKeyMaterial {
                    private_key: self.crypto().unseal(&sealed),
                    kid,
                    algorithm,
                    public_jwk,
                    created_at,
                    retired_at,
                },
            )
            .collect())
    }

    /// Stores the first signing key unless the cluster has one already; true when stored.
    pub async fn create_first_oauth_key(&self, actor: &str, key: &OAuthKeyNew) -> Result<bool> {
        let sealed = self.crypto().seal(&key.private_key);
        db!(self, |pool| {
            let mut tx = pool.begin().await?;
            let done = sqlx::query(
                "INSERT INTO oauthkey (kid, algorithm, private_key_enc, public_jwk, created_at) \
                 SELECT $1, $2, $3, $4, $5 WHERE NOT EXISTS (SELECT 1 FROM oauthkey)",
            )
            .bind(&key.kid)
            .bind(&key.algorithm)
            .bind(&sealed)
            .bind(&key.public_jwk)
            .bind(&key.created_at)
            .execute(&mut *tx)
            .await?;
            let created = done.rows_affected() == 1;
            if created {
                let detail = serde_json::json!({ "algorithm": key.algorithm });
                audit!(
                    tx,
                    actor,
                    "create",
                    "oauthkey",
                    &key.kid,
                    detail.to_string()
                );
            }
            tx.commit().await?;
            Ok(created)
        })
    }

    /// Key rotation: retires (at `now`) every key still signing, stores `key` as the signer
    /// and deletes the keys retired at or before `purge_retired_before` (their tokens have all
    /// expired). Returns the kids retired now.
    pub async fn rotate_oauth_key(
        &self,
        actor: &str,
        key: &OAuthKeyNew,
        now: &str,
        purge_retired_before: &str,
    ) -> Result<Vec<String>> {
        let sealed = self.crypto().seal(&key.private_key);
        db!(self, |pool| {
            let mut tx = pool.begin().await?;
            let retired: Vec<(String,)> = sqlx::query_as(
                "UPDATE oauthkey SET retired_at = $1 WHERE retired_at IS NULL RETURNING kid",
            )
            .bind(now)
            .fetch_all(&mut *tx)
            .await?;
            sqlx::query(
                "INSERT INTO oauthkey (kid, algorithm, private_key_enc, public_jwk, created_at) \
                 VALUES ($1, $2, $3, $4, $5)",
            )
            .bind(&key.kid)
            .bind(&key.algorithm)
            .bind(&sealed)
            .bind(&key.public_jwk)
            .bind(&key.created_at)
            .execute(&mut *tx)
            .await
            .map_err(StoreError::on_insert("OAuth key", &key.kid))?;
            let purged: Vec<(String,)> = sqlx::query_as(
                "DELETE FROM oauthkey WHERE retired_at IS NOT NULL AND retired_at <= $1 RETURNING kid",
            )
            .bind(purge_retired_before)
            .fetch_all(&mut *tx)
            .await?;
            let retired: Vec<String> = retired.into_iter().map(|(k,)| k).collect();
            let purged: Vec<String> = purged.into_iter().map(|(k,)| k).collect();
            let detail = serde_json::json!({
                "algorithm": key.algorithm, "retired": retired, "deleted": purged,
            });
            audit!(
                tx,
                actor,
                "rotate",
                "oauthkey",
                &key.kid,
                detail.to_string()
            );
            tx.commit().await?;
            Ok(retired)
        })
    }

    /// Every OAuth client, by id.
    pub async fn list_oauth_clients(&self) -> Result<Vec<OAuthClient>> {
        let rows: Vec<ClientRow> = db!(self, |pool| {
            sqlx::query_as(
                "SELECT client_id, name, kind, redirect_uris, created_at FROM oauthclient \
                 ORDER BY client_id",
            )
            .fetch_all(pool)
            .await?
        });
        Ok(rows.into_iter().map(client_of).collect())
    }

    /// One OAuth client.
    pub async fn get_oauth_client(&self, client_id: &str) -> Result<Option<OAuthClient>> {
        let row: Option<ClientRow> = db!(self, |pool| {
            sqlx::query_as(
                "SELECT client_id, name, kind, redirect_uris, created_at FROM oauthclient \
                 WHERE client_id = $1",
            )
            .bind(client_id)
            .fetch_optional(pool)
            .await?
        });
        Ok(row.map(client_of))
    }

    /// Registers a client unless one with its id exists (built-in clients at start-up);
    /// true when it was added (audited).
    pub async fn ensure_oauth_client(&self, actor: &str, client: &OAuthClient) -> Result<bool> {
        validate::oauth_client(client)?;
        let uris = serde_json::to_string(&client.redirect_uris).unwrap_or_else(|_| "[]".into());
        db!(self, |pool| {
            let mut tx = pool.begin().await?;
            let done = sqlx::query(
                "INSERT INTO oauthclient (client_id, name, kind, redirect_uris, created_at) \
                 VALUES ($1, $2, $3, $4, $5) ON CONFLICT (client_id) DO NOTHING",
            )
            .bind(&client.client_id)
            .bind(&client.name)
            .bind(kind_text(client.kind))
            .bind(&uris)
            .bind(&client.created_at)
            .execute(&mut *tx)
            .await?;
            let added = done.rows_affected() == 1;
            if added {
                audit!(
                    tx,
                    actor,
                    "create",
                    "oauthclient",
                    &client.client_id,
                    audit_detail(client)
                );
            }
            tx.commit().await?;
            Ok(added)
        })
    }

    /// Every external issuer, by issuer.
    pub async fn list_oauth_issuers(&self) -> Result<Vec<OAuthIssuer>> {
        let rows: Vec<(String, String, String, String)> = db!(self, |pool| {
            sqlx::query_as(
                "SELECT issuer, jwks_json, audience, created_at FROM oauthissuer ORDER BY issuer",
            )
            .fetch_all(pool)
            .await?
        });
        Ok(rows
            .into_iter()
            .map(|(issuer, jwks, audience, created_at)| OAuthIssuer {
                issuer,
                audience,
                jwks: serde_json::from_str(&jwks).unwrap_or_default(),
                created_at,
            })
            .collect())
    }

    /// Adds an external issuer, or replaces the one with the same `issuer`. The JWKS's shape
    /// is checked here; whether its keys are usable is the OAuth service's to check first.
    pub async fn put_oauth_issuer(&self, actor: &str, new: &OAuthIssuerNew) -> Result<OAuthIssuer> {
        validate::oauth_issuer(new)?;
        let jwks = new.jwks.to_string();
        let at = crate::now();
        db!(self, |pool| {
            let mut tx = pool.begin().await?;
            sqlx::query(
                "INSERT INTO oauthissuer (issuer, jwks_json, audience, created_at) \
                 VALUES ($1, $2, $3, $4) ON CONFLICT (issuer) DO UPDATE SET jwks_json = $2, audience = $3",
            )
            .bind(&new.issuer)
            .bind(&jwks)
            .bind(&new.audience)
            .bind(&at)
            .execute(&mut *tx)
            .await?;
            let kids: Vec<&str> = new.jwks["keys"]
                .as_array()
                .map(|keys| keys.iter().filter_map(|k| k["kid"].as_str()).collect())
                .unwrap_or_default();
            let detail = serde_json::json!({ "audience": new.audience, "kids": kids });
            audit!(
                tx,
                actor,
                "put",
                "oauthissuer",
                &new.issuer,
                detail.to_string()
            );
            tx.commit().await?;
        });
        self.list_oauth_issuers()
            .await?
            .into_iter()
            .find(|i| i.issuer == new.issuer)
            .ok_or_else(|| StoreError::not_found("OAuth issuer", &new.issuer))
    }

    /// Removes an external issuer: its tokens are refused from then on.
    pub async fn delete_oauth_issuer(&self, actor: &str, issuer: &str) -> Result<()> {
        db!(self, |pool| {
            let mut tx = pool.begin().await?;
            let done = sqlx::query("DELETE FROM oauthissuer WHERE issuer = $1")
                .bind(issuer)
                .execute(&mut *tx)
                .await?;
            if done.rows_affected() == 0 {
                return Err(StoreError::not_found("OAuth issuer", issuer));
            }
            audit!(tx, actor, "delete", "oauthissuer", issuer, "{}");
            tx.commit().await?;
        });
        Ok(())
    }
}
