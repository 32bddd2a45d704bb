//! The authorization endpoint's side of the code flow: checking a request (RFC 6749 §4.1.1,
//! PKCE S256 required) and issuing the single-use code once the user has authenticated.

use super::*;

impl OAuthService {
    /// Checks an authorization request (RFC 6749 §4.1.1 with PKCE S256 required).
    pub async fn check_authorization(
        &self,
        req: &AuthorizationRequest,
    ) -> Result<Authorization, AuthorizeError> {
        let client_id = req.client_id.as_deref().unwrap_or("");
        let client = match self.client(client_id).await {
            Ok(c) => c,
            Err(e) if e.code == GrantErrorCode::ServerError => {
                return Err(AuthorizeError::NoRedirect(e.description))
            }
            Err(_) => {
                return Err(AuthorizeError::NoRedirect(
                    "unknown or missing client_id".into(),
                ))
            }
        };
        let Some(redirect_uri) = req.redirect_uri.clone() else {
            return Err(AuthorizeError::NoRedirect(
                "redirect_uri is required".into(),
            ));
        };
        if !clients::redirect_uri_allowed(&client.redirect_uris, &redirect_uri) {
            return Err(AuthorizeError::NoRedirect(format!(
                "redirect_uri is not registered for client '{}'",
                client.client_id
            )));
        }
        let state = req.state.clone();
        let back = |error: GrantError| AuthorizeError::Redirect {
            redirect_uri: redirect_uri.clone(),
            state: state.clone(),
            error,
        };
        if state.as_ref().is_some_and(|s| s.len() > 1024) {
            return Err(AuthorizeError::Redirect {
                redirect_uri: redirect_uri.clone(),
                state: None,
                error: GrantError::invalid_request("state", "state is longer than 1024 characters"),
            });
        }
        if req.response_type.as_deref() != Some("code") {
            return Err(back(GrantError::new(
                GrantErrorCode::UnsupportedResponseType,
                "response_type must be code",
            )));
        }
        if req.code_challenge_method.as_deref() != Some("S256") {
            return Err(back(GrantError::invalid_request(
                "code_challenge_method",
                "PKCE is required with code_challenge_method=S256 (plain is not supported)",
            )));
        }
        let challenge = req.code_challenge.clone().unwrap_or_default();
        if !clients::is_s256_challenge(&challenge) {
            return Err(back(GrantError::invalid_request(
                "code_challenge",
                "code_challenge must be the base64url SHA-256 of the code verifier (43 characters)",
            )));
        }
        let scope =
            clients::grant_scope(req.scope.as_deref(), clients::DEFAULT_SCOPE).map_err(back)?;
        if let Some(device) = &req.device {
            if !device_name_ok(device) {
                return Err(back(GrantError::invalid_request(
                    "device",
                    "a device name: 1 to 50 characters from A-Z a-z 0-9 . _ -",
                )));
            }
        }
        Ok(Authorization {
            client,
            redirect_uri,
            scope,
            state,
            code_challenge: challenge,
            device: req.device.clone(),
        })
    }

    /// Issues a single-use authorization code (stored hashed, valid [`CODE_LIFETIME`] seconds)
    /// once the user has authenticated.
    pub async fn issue_code(
        &self,
        authorization: &Authorization,
        userid: &str,
    ) -> Result<String, GrantError> {
        if let Some(device) = &authorization.device {
            self.check_device(device, userid, GrantErrorCode::AccessDenied)
                .await?;
        }
        let now = self.now();
        let code = random_secret(CODE_PREFIX);
        self.store
            .insert_oauth_code(&OAuthCodeNew {
                code_hash: hash(&code),
                client_id: authorization.client.client_id.clone(),
                userid: userid.into(),
                redirect_uri: authorization.redirect_uri.clone(),
                code_challenge: authorization.code_challenge.clone(),
                scope: authorization.scope.clone(),
                device: authorization.device.clone(),
                created_at: time_text(now),
                expires_at: time_text(now + CODE_LIFETIME),
            })
            .await
            .map_err(store_error)?;
        self.trace(&TraceEvent::OAuthCodeIssued {
            userid: userid.into(),
            client_id: authorization.client.client_id.clone(),
        });
        Ok(code)
    }
}
