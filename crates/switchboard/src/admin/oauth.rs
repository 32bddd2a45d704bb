//! `switchboard oauth …`: the OAuth authorization server — signing keys and their rotation,
//! revoke-all for a user, external issuers, clients — and `oauth token`, which logs a user in
//! (password grant) and prints the token response, for operators and for SIPp tests.

use std::io::IsTerminal;
use std::path::PathBuf;

use clap::Subcommand;
use serde::Deserialize;
use serde_json::Value;
use switchboard_store::model::{OAuthClient, OAuthIssuer, OAuthIssuerNew};

use super::client::{CliError, Client};
use super::output::{detail, print_json, print_text, read_secret, table};

#[derive(Subcommand, Debug)]
pub enum OAuthCommand {
    /// Make a new key sign tokens; the previous one verifies until its tokens have expired.
    RotateKey,
    /// List the signing keys and their status (signing, verifying, expired).
    Keys,
    /// Revoke every OAuth token of a user (refresh tokens and access tokens issued until now).
    Revoke {
        /// The user whose tokens are revoked.
        #[arg(long)]
        user: String,
    },
    /// Other issuers whose access tokens are accepted.
    Issuer {
        #[command(subcommand)]
        command: IssuerCommand,
    },
    /// List the registered OAuth clients.
    Clients,
    /// Log a user in with the password grant and print the token response.
    Token {
        /// The user to log in.
        #[arg(long)]
        user: String,
        /// Bind the token to this device (the user must own it).
        #[arg(long)]
        device: Option<String>,
        /// The OAuth client to log in as.
        #[arg(long, default_value = "jabber")]
        client_id: String,
        /// Space-separated scopes (default: every scope).
        #[arg(long)]
        scope: Option<String>,
        /// Read the password from the first line of standard input (otherwise it is asked for
        /// on the terminal, without echo).
        #[arg(long)]
        password_stdin: bool,
        /// Print only the access token (for scripts and SIPp injection files).
        #[arg(long)]
        access_token_only: bool,
    },
}

#[derive(Subcommand, Debug)]
pub enum IssuerCommand {
    /// Accept another issuer's tokens, verified against its JWKS (replaces its entry).
    Add {
        /// The issuer's `iss`, e.g. https://idp.example.com
        issuer: String,
        /// File holding the issuer's JSON Web Key Set (`-`: standard input).
        #[arg(long)]
        jwks_file: PathBuf,
        /// The `aud` the issuer's tokens must carry.
        #[arg(long, default_value = "switchboard")]
        audience: String,
    },
    /// List the external issuers.
    List,
    /// Stop accepting an issuer's tokens.
    Remove { issuer: String },
}

/// A signing key as `/api/oauth/keys` shows it.
#[derive(Debug, Deserialize)]
pub struct KeyView {
    pub kid: String,
    pub algorithm: String,
    pub status: String,
    pub created_at: String,
    pub retired_at: Option<String>,
    pub verifies_until: Option<String>,
}

#[derive(Debug, Deserialize)]
struct RevokeAll {
    userid: String,
    refresh_token_families: u64,
}

fn read_jwks(path: &PathBuf) -> Result<Value, CliError> {
    let text = if path.as_os_str() == "-" {
        std::io::read_to_string(std::io::stdin()).map_err(|e| {
            CliError::Local(format!("cannot read the JWKS from standard input: {e}"))
        })?
    } else {
        std::fs::read_to_string(path)
            .map_err(|e| CliError::Local(format!("cannot read {}: {e}", path.display())))?
    };
    serde_json::from_str(&text).map_err(|e| {
        CliError::Local(format!(
            "{} is not JSON: {e} (expected a JWKS: {{\"keys\": [...]}})",
            path.display()
        ))
    })
}

/// The user's password: from standard input with `--password-stdin`, else asked for on the
/// terminal without echo.
pub(crate) fn password(user: &str, from_stdin: bool) -> Result<String, CliError> {
    if from_stdin {
        return read_secret("password");
    }
    if !std::io::stdin().is_terminal() {
        return Err(CliError::Usage(
            "no terminal to ask for the password on: give --password-stdin and the password on standard input".into(),
        ));
    }
    let password = rpassword::prompt_password(format!("password for {user}: "))
        .map_err(|e| CliError::Local(format!("cannot read the password: {e}")))?;
    if password.is_empty() {
        return Err(CliError::Local("no password given".into()));
    }
    Ok(password)
}

pub async fn run(client: &Client, command: OAuthCommand) -> Result<(), CliError> {
    match command {
        OAuthCommand::RotateKey => {
            let answer = client.post_empty(&["oauth", "keys", "rotate"]).await?;
            client.print(answer, |k: KeyView| {
                format!(
                    "{}\nThe previous key keeps verifying the tokens it signed until they expire.",
                    key_detail(&k)
                )
            })
        }
        OAuthCommand::Keys => {
            let answer = client.get(&["oauth", "keys"]).await?;
            client.print(answer, |keys: Vec<KeyView>| keys_table(&keys))
        }
        OAuthCommand::Revoke { user } => {
            let answer = client
                .post_empty(&["users", &user, "oauth", "revoke"])
                .await?;
            client.print(answer, |r: RevokeAll| {
                format!(
                    "Every OAuth token of {} is revoked ({} refresh-token families).",
                    r.userid, r.refresh_token_families
                )
            })
        }
        OAuthCommand::Issuer { command } => issuer(client, command).await,
        OAuthCommand::Clients => {
            let answer = client.get(&["oauth", "clients"]).await?;
            client.print(answer, |clients: Vec<OAuthClient>| clients_table(&clients))
        }
        OAuthCommand::Token {
            user,
            device,
            client_id,
            scope,
            password_stdin,
            access_token_only,
        } => {
            let password = password(&user, password_stdin)?;
            let mut form = vec![
                ("grant_type", "password"),
                ("client_id", client_id.as_str()),
                ("username", user.as_str()),
                ("password", password.as_str()),
            ];
            if let Some(device) = &device {
                form.push(("device", device));
            }
            if let Some(scope) = &scope {
                form.push(("scope", scope));
            }
            let answer = client.post_public_form(&["oauth", "token"], &form).await?;
            if access_token_only {
                let token = answer["access_token"]
                    .as_str()
                    .ok_or_else(|| CliError::Local("the answer has no access_token".into()))?;
                print_text(token);
            } else {
                print_json(&answer);
            }
            Ok(())
        }
    }
}

async fn issuer(client: &Client, command: IssuerCommand) -> Result<(), CliError> {
    match command {
        IssuerCommand::Add {
            issuer,
            jwks_file,
            audience,
        } => {
            let body = OAuthIssuerNew {
                issuer,
                audience,
                jwks: read_jwks(&jwks_file)?,
            };
            let answer = client.post(&["oauth", "issuers"], &body).await?;
            client.print(answer, |i: OAuthIssuer| {
                format!(
                    "Tokens of {} are accepted now ({} keys).",
                    i.issuer,
                    kids(&i).len()
                )
            })
        }
        IssuerCommand::List => {
            let answer = client.get(&["oauth", "issuers"]).await?;
            client.print(answer, |issuers: Vec<OAuthIssuer>| issuers_table(&issuers))
        }
        IssuerCommand::Remove { issuer } => {
            let answer = client.delete(&["oauth", "issuers", &issuer]).await?;
            client.done(
                answer,
                &format!("Tokens of {issuer} are refused from now on."),
            );
            Ok(())
        }
    }
}

fn kids(i: &OAuthIssuer) -> Vec<String> {
    i.jwks["keys"]
        .as_array()
        .map(|keys| {
            keys.iter()
                .filter_map(|k| k["kid"].as_str().map(str::to_owned))
                .collect()
        })
        .unwrap_or_default()
}

fn or_dash(v: &Option<String>) -> String {
    v.clone().unwrap_or_else(|| "-".into())
}

/// One line per key, newest first.
pub fn keys_table(keys: &[KeyView]) -> String {
    table(
        &[
            "kid",
            "algorithm",
            "status",
            "created_at",
            "retired_at",
            "verifies_until",
        ],
        keys.iter().map(|k| {
            [
                k.kid.clone(),
                k.algorithm.clone(),
                k.status.clone(),
                k.created_at.clone(),
                or_dash(&k.retired_at),
                or_dash(&k.verifies_until),
            ]
        }),
    )
}

/// Every field of one key.
pub fn key_detail(k: &KeyView) -> String {
    detail(&[
        ("kid", k.kid.clone()),
        ("algorithm", k.algorithm.clone()),
        ("status", k.status.clone()),
        ("created_at", k.created_at.clone()),
    ])
}

/// One line per external issuer.
pub fn issuers_table(issuers: &[OAuthIssuer]) -> String {
    table(
        &["issuer", "audience", "kids", "created_at"],
        issuers.iter().map(|i| {
            [
                i.issuer.clone(),
                i.audience.clone(),
                kids(i).join(","),
                i.created_at.clone(),
            ]
        }),
    )
}

/// One line per client.
pub fn clients_table(clients: &[OAuthClient]) -> String {
    table(
        &["client_id", "kind", "name", "redirect_uris"],
        clients.iter().map(|c| {
            [
                c.client_id.clone(),
                super::output::wire_name(&c.kind),
                c.name.clone(),
                c.redirect_uris.join(" "),
            ]
        }),
    )
}

#[cfg(test)]
mod tests {
    use super::super::tests::parse;
    use super::super::AdminCommand;
    use super::*;

    fn parse_oauth(args: &[&str]) -> OAuthCommand {
        let mut full = vec!["oauth"];
        full.extend_from_slice(args);
        match parse(&full).unwrap().command {
            AdminCommand::Oauth { command } => command,
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn token_defaults_to_jabber() {
        match parse_oauth(&["token", "--user", "wwhite", "--password-stdin"]) {
            OAuthCommand::Token {
                user,
                client_id,
                device,
                password_stdin,
                ..
            } => assert_eq!(
                (user.as_str(), client_id.as_str(), device, password_stdin),
                ("wwhite", "jabber", None, true)
            ),
            other => panic!("{other:?}"),
        }
        assert!(parse(&["oauth", "token"]).is_err(), "--user is required");
    }

    #[test]
    fn verbs() {
        assert!(matches!(
            parse_oauth(&["rotate-key"]),
            OAuthCommand::RotateKey
        ));
        assert!(matches!(parse_oauth(&["keys"]), OAuthCommand::Keys));
        assert!(
            matches!(parse_oauth(&["revoke", "--user", "wwhite"]), OAuthCommand::Revoke { user } if user == "wwhite")
        );
        assert!(matches!(
            parse_oauth(&["issuer", "remove", "https://idp.example.com"]),
            OAuthCommand::Issuer { command: IssuerCommand::Remove { issuer } } if issuer == "https://idp.example.com"
        ));
        match parse_oauth(&["issuer", "add", "https://idp", "--jwks-file", "jwks.json"]) {
            OAuthCommand::Issuer {
                command: IssuerCommand::Add { audience, .. },
            } => assert_eq!(audience, "switchboard"),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn keys_table_shows_dashes() {
        let text = keys_table(&[KeyView {
            kid: "k1".into(),
            algorithm: "ES256".into(),
            status: "signing".into(),
            created_at: "2026-01-01T00:00:00Z".into(),
            retired_at: None,
            verifies_until: None,
        }]);
        assert_eq!(
            text.lines().nth(2).unwrap(),
            "k1   ES256      signing  2026-01-01T00:00:00Z  -           -"
        );
    }
}
