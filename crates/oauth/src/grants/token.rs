//! The token endpoint's grants: password (the authenticator checks the password), refresh
//! token (rotation; a replay revokes the family) and authorization code (single use, client,
//! redirect URI and PKCE verifier checked; a replay revokes what the first redemption issued).

use super::*;
use crate::OAUTH_ACTOR;

impl OAuthService {
    /// The resource-owner password grant: the user's password checked by the authenticator
    /// (credential policy included); `device` binds the token to a device the user owns.
    pub async fn password_grant(&self, req: &PasswordGrant) -> Result<IssuedTokens, GrantError> {
        let outcome = self.password_grant_inner(req).await;
        self.traced("password", &req.client_id, outcome)
    }

    async fn password_grant_inner(&self, req: &PasswordGrant) -> Result<IssuedTokens, GrantError> {
        let client = self.client(&req.client_id).await?;
        if req.username.is_empty() {
            return Err(GrantError::invalid_request(
                "username",
                "username is required",
            ));
        }
        if req.password.is_empty() {
            return Err(GrantError::invalid_request(
                "password",
                "password is required",
            ));
        }
        let scope = clients::grant_scope(req.scope.as_deref(), clients::DEFAULT_SCOPE)?;
        let user = self
            .authenticator
            .authenticate(&req.username, &req.password)
            .await
            .map_err(refused)?;
        if let Some(device) = &req.device {
            self.check_device(device, &user.userid, GrantErrorCode::InvalidGrant)
                .await?;
        }
        self.issue(
            "password",
            &user.userid,
            &client,
            &scope,
            req.device.as_deref(),
            None,
            None,
        )
        .await
    }

    /// The refresh-token grant: the token is rotated (the old one no longer works); a token
    /// presented again after its rotation revokes its whole family.
    pub async fn refresh_grant(&self, req: &RefreshGrant) -> Result<IssuedTokens, GrantError> {
        let outcome = self.refresh_grant_inner(req).await;
        self.traced("refresh_token", &req.client_id, outcome)
    }

    async fn refresh_grant_inner(&self, req: &RefreshGrant) -> Result<IssuedTokens, GrantError> {
        let snapshot = self.state.load_full();
        let settings = self.settings_now().await?;
        if !settings.refresh_flow {
            return Err(GrantError::new(
                GrantErrorCode::UnsupportedGrantType,
                "the refresh-token grant is disabled (enterprise parameter OAuthWithRefreshLoginFlow is 0)",
            ));
        }
        let client = self.client(&req.client_id).await?;
        if req.refresh_token.is_empty() {
            return Err(GrantError::invalid_request(
                "refresh_token",
                "refresh_token is required",
            ));
        }
        let unknown = || GrantError::invalid_grant("unknown, expired or revoked refresh token");
        if !looks_like(&req.refresh_token, REFRESH_PREFIX) {
            return Err(unknown());
        }
        let old_hash = hash(&req.refresh_token);
        let row = self
            .store
            .find_refresh_token(&old_hash)
            .await
            .map_err(store_error)?
            .ok_or_else(unknown)?;
        if row.client_id != client.client_id {
            return Err(GrantError::invalid_grant(
                "this refresh token was issued to another client",
            ));
        }
        let scope = clients::grant_scope(req.scope.as_deref(), &row.scope)?;
        let enabled = snapshot
            .revocations
            .users
            .get(&row.userid)
            .is_some_and(|u| u.enabled);
        if !enabled {
            return Err(GrantError::invalid_grant(LOCKED_OR_DISABLED));
        }
        let now = self.now();
        let token = random_secret(REFRESH_PREFIX);
        let new = RefreshTokenNew {
            token_hash: hash(&token),
            family_id: row.family_id.clone(),
            userid: row.userid.clone(),
            device: row.device.clone(),
            client_id: row.client_id.clone(),
            scope: row.scope.clone(),
            created_at: time_text(now),
            expires_at: time_text(now + Self::refresh_lifetime(&settings, client.kind)),
        };
        match self
            .store
            .rotate_refresh_token(&old_hash, &new, &time_text(now))
            .await
            .map_err(store_error)?
        {
            RefreshRotation::Rotated(old) => {
                let jti = uuid::Uuid::new_v4().to_string();
                let (access_token, claims, kid) = self.sign(
                    &snapshot,
                    &settings,
                    now,
                    &old.userid,
                    &old.client_id,
                    &scope,
                    old.device.as_deref(),
                    Some(&old.family_id),
                    &jti,
                )?;
                self.trace(&TraceEvent::OAuthTokenIssued {
                    userid: old.userid.clone(),
                    client_id: old.client_id.clone(),
                    grant: "refresh_token".into(),
                    device: old.device.clone(),
                    kid,
                    expires_in: settings.access_ttl.max(0) as u64,
                    refresh: true,
                });
                Ok(IssuedTokens {
                    access_token,
                    expires_in: settings.access_ttl,
                    refresh_token: Some(token),
                    scope,
                    claims,
                })
            }
            RefreshRotation::Unknown => Err(unknown()),
            RefreshRotation::Expired(_) => Err(GrantError::invalid_grant(
                "the refresh token has expired; log in again",
            )),
            RefreshRotation::Revoked(_) => Err(GrantError::invalid_grant(
                "the refresh token was revoked; log in again",
            )),
            RefreshRotation::Reused(old) => {
                self.trace(&TraceEvent::OAuthRefreshTokenReused {
                    userid: old.userid.clone(),
                    family: old.family_id.clone(),
                });
                self.reload().await.map_err(GrantError::server)?;
                Err(GrantError::invalid_grant(
                    "this refresh token was already used: every token issued with it is now revoked; log in again",
                ))
            }
        }
    }

    /// The authorization-code grant: the code once, by the client it was issued to, with the
    /// same redirect URI and the PKCE verifier of its challenge. A code redeemed twice revokes
    /// what the first redemption issued.
    pub async fn authorization_code_grant(
        &self,
        req: &CodeGrant,
    ) -> Result<IssuedTokens, GrantError> {
        let outcome = self.code_grant_inner(req).await;
        self.traced("authorization_code", &req.client_id, outcome)
    }

    async fn code_grant_inner(&self, req: &CodeGrant) -> Result<IssuedTokens, GrantError> {
        let client = self.client(&req.client_id).await?;
        for (field, value) in [
            ("code", &req.code),
            ("redirect_uri", &req.redirect_uri),
            ("code_verifier", &req.code_verifier),
        ] {
            if value.is_empty() {
                return Err(GrantError::invalid_request(
                    field,
                    format!("{field} is required"),
                ));
            }
        }
        if !clients::is_code_verifier(&req.code_verifier) {
            return Err(GrantError::invalid_request(
                "code_verifier",
                "code_verifier must be 43 to 128 characters from A-Z a-z 0-9 - . _ ~",
            ));
        }
        let unknown = || GrantError::invalid_grant("unknown or expired authorization code");
        if !looks_like(&req.code, CODE_PREFIX) {
            return Err(unknown());
        }
        let now = self.now();
        let family = uuid::Uuid::new_v4().to_string();
        let jti = uuid::Uuid::new_v4().to_string();
        let row = match self
            .store
            .redeem_oauth_code(&hash(&req.code), &time_text(now), &family, &jti)
            .await
            .map_err(store_error)?
        {
            CodeRedemption::Unknown => return Err(unknown()),
            CodeRedemption::Replayed(row) => {
                self.revoke_code_tokens(
                    &row.userid,
                    row.family_id.as_deref(),
                    row.access_jti.as_deref(),
                )
                .await?;
                return Err(GrantError::invalid_grant(
                    "this authorization code was already used: the tokens issued for it are revoked",
                ));
            }
            CodeRedemption::Fresh(row) => row,
        };
        if unix_of(&row.expires_at).is_none_or(|e| e < now) {
            return Err(unknown());
        }
        if row.client_id != client.client_id {
            return Err(GrantError::invalid_grant(
                "this authorization code was issued to another client",
            ));
        }
        if row.redirect_uri != req.redirect_uri {
            return Err(GrantError::invalid_grant(
                "redirect_uri differs from the one of the authorization request",
            ));
        }
        if !constant_time_eq(
            clients::s256(&req.code_verifier).as_bytes(),
            row.code_challenge.as_bytes(),
        ) {
            return Err(GrantError::invalid_grant(
                "code_verifier does not match the code_challenge",
            ));
        }
        let enabled = self
            .state
            .load()
            .revocations
            .users
            .get(&row.userid)
            .is_some_and(|u| u.enabled);
        if !enabled {
            return Err(GrantError::invalid_grant(LOCKED_OR_DISABLED));
        }
        self.issue(
            "authorization_code",
            &row.userid,
            &client,
            &row.scope,
            row.device.as_deref(),
            Some(family),
            Some(jti),
        )
        .await
    }

    async fn revoke_code_tokens(
        &self,
        userid: &str,
        family: Option<&str>,
        jti: Option<&str>,
    ) -> Result<(), GrantError> {
        let now = self.now();
        let at = time_text(now);
        if let Some(family) = family {
            self.store
                .revoke_refresh_family(OAUTH_ACTOR, family, &at, "authorization code reused")
                .await
                .map_err(store_error)?;
        }
        if let Some(jti) = jti {
            let until = time_text(now + max_access_ttl() + LEEWAY);
            self.store
                .revoke_access_token(OAUTH_ACTOR, jti, userid, &until, &at)
                .await
                .map_err(store_error)?;
        }
        self.trace(&TraceEvent::OAuthTokensRevoked {
            userid: userid.into(),
            what: "the tokens of a reused authorization code".into(),
        });
        self.reload().await.map_err(GrantError::server)
    }
}
