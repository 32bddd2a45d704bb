//! Token revocation (RFC 7009) and introspection (RFC 7662).

use super::*;

impl OAuthService {
    /// Token revocation (RFC 7009): a refresh token revokes its family (and the access tokens
    /// issued with it); an access token of this cluster is denylisted by `jti` until it
    /// expires. Unknown tokens are not an error. When `client_id` is given, the token must
    /// have been issued to that client.
    pub async fn revoke(
        &self,
        token: &str,
        hint: Option<&str>,
        client_id: Option<&str>,
    ) -> Result<RevokeOutcome, GrantError> {
        let wrong_client = || {
            GrantError::new(
                GrantErrorCode::InvalidClient,
                "the token was not issued to this client",
            )
        };
        let refresh_first = hint != Some("access_token");
        let mut outcome = RevokeOutcome::Nothing;
        for attempt_refresh in [refresh_first, !refresh_first] {
            if attempt_refresh {
                if let Some(row) = self.refresh_row(token).await? {
                    if client_id.is_some_and(|c| c != row.client_id) {
                        return Err(wrong_client());
                    }
                    self.store
                        .revoke_refresh_family(
                            &row.userid,
                            &row.family_id,
                            &time_text(self.now()),
                            "revoked by the client (RFC 7009)",
                        )
                        .await
                        .map_err(store_error)?;
                    outcome = RevokeOutcome::RefreshFamily {
                        userid: row.userid,
                        family: row.family_id,
                    };
                    break;
                }
            } else if let Ok(access) = self.verify_access_token(token) {
                if !self.state.load().verifier.is_own(&access.issuer) {
                    continue;
                }
                let Some(jti) = access.jti.clone() else {
                    continue;
                };
                if client_id.is_some_and(|c| access.client_id.as_deref() != Some(c)) {
                    return Err(wrong_client());
                }
                self.store
                    .revoke_access_token(
                        &access.subject,
                        &jti,
                        &access.subject,
                        &time_text(access.expires_at + LEEWAY),
                        &time_text(self.now()),
                    )
                    .await
                    .map_err(store_error)?;
                outcome = RevokeOutcome::AccessToken {
                    userid: access.subject.clone(),
                };
                break;
            }
        }
        let what = match &outcome {
            RevokeOutcome::RefreshFamily { userid, family } => {
                Some((userid, format!("refresh token family {family} (RFC 7009)")))
            }
            RevokeOutcome::AccessToken { userid } => {
                Some((userid, "one access token (RFC 7009)".to_string()))
            }
            RevokeOutcome::Nothing => None,
        };
        if let Some((userid, what)) = what {
            self.trace(&TraceEvent::OAuthTokensRevoked {
                userid: userid.clone(),
                what,
            });
            self.reload().await.map_err(GrantError::server)?;
        }
        Ok(outcome)
    }

    async fn refresh_row(&self, token: &str) -> Result<Option<RefreshTokenRow>, GrantError> {
        if !looks_like(token, REFRESH_PREFIX) {
            return Ok(None);
        }
        self.store
            .find_refresh_token(&hash(token))
            .await
            .map_err(store_error)
    }

    /// Token introspection (RFC 7662): an active access token (this cluster's or an external
    /// issuer's) or an active refresh token of this cluster; anything else is inactive.
    pub async fn introspect(&self, token: &str, hint: Option<&str>) -> Introspection {
        if hint != Some("refresh_token") {
            if let Ok(access) = self.verify_access_token(token) {
                return Introspection::Access((*access).clone());
            }
        }
        let Ok(Some(row)) = self.refresh_row(token).await else {
            if hint == Some("refresh_token") {
                if let Ok(access) = self.verify_access_token(token) {
                    return Introspection::Access((*access).clone());
                }
            }
            return Introspection::Inactive;
        };
        let now = self.now();
        let expires_at = unix_of(&row.expires_at).unwrap_or(0);
        let enabled = self
            .state
            .load()
            .revocations
            .users
            .get(&row.userid)
            .is_some_and(|u| u.enabled);
        if row.rotated_at.is_some() || row.revoked_at.is_some() || expires_at <= now || !enabled {
            return Introspection::Inactive;
        }
        Introspection::Refresh(RefreshTokenInfo {
            issued_at: unix_of(&row.created_at).unwrap_or(0),
            userid: row.userid,
            client_id: row.client_id,
            scope: row.scope,
            device: row.device,
            expires_at,
        })
    }
}
