//! `switchboard user …`: end users, their passwords and CTI settings (the seed's End User page).

use clap::{Args, Subcommand, ValueEnum};
use switchboard_store::model::{User, UserNew, UserPatch, UserSource};

use super::client::{CliError, Client};
use super::output::{detail, read_secret, table, wire_name, yes_no};

#[derive(Subcommand, Debug)]
pub enum UserCommand {
    /// List end users.
    List,
    /// Show one end user.
    Show { userid: String },
    /// Add an end user.
    Add {
        userid: String,
        #[command(flatten)]
        fields: UserFields,
    },
    /// Change the given settings of an end user.
    Set {
        userid: String,
        #[command(flatten)]
        fields: UserFields,
        /// Remove every controlled device.
        #[arg(long, conflicts_with = "controls")]
        clear_controls: bool,
    },
    /// Delete an end user.
    Delete { userid: String },
}

/// Where the user's password is checked.
#[derive(ValueEnum, Debug, Clone, Copy, PartialEq, Eq)]
pub enum SourceArg {
    Local,
    Ldap,
}

impl From<SourceArg> for UserSource {
    fn from(s: SourceArg) -> Self {
        match s {
            SourceArg::Local => UserSource::Local,
            SourceArg::Ldap => UserSource::Ldap,
        }
    }
}

/// The settings `user add` and `user set` take.
#[derive(Args, Debug, Clone)]
pub struct UserFields {
    #[arg(long)]
    display_name: Option<String>,
    /// Where the password is checked.
    #[arg(long, value_enum)]
    source: Option<SourceArg>,
    /// Read the local password from the first line of standard input.
    #[arg(long, conflicts_with = "password")]
    password_stdin: bool,
    /// Local password (visible in the process list: prefer --password-stdin).
    #[arg(long)]
    password: Option<String>,
    #[arg(long, value_name = "true|false")]
    enabled: Option<bool>,
    /// Standard CTI Enabled.
    #[arg(long, value_name = "true|false")]
    cti_enabled: Option<bool>,
    /// Standard CTI Allow Control of All Devices.
    #[arg(long, value_name = "true|false")]
    super_provider: Option<bool>,
    #[arg(long, value_name = "true|false")]
    call_park_retrieval_allowed: Option<bool>,
    #[arg(long, value_name = "true|false")]
    modify_calling_number: Option<bool>,
    #[arg(long, value_name = "true|false")]
    call_monitor: Option<bool>,
    #[arg(long, value_name = "true|false")]
    call_record: Option<bool>,
    /// A device the user may control through CTI (repeat; on `set`, replaces the list).
    #[arg(long = "control", id = "controls", value_name = "DEVICE")]
    controls: Vec<String>,
}

impl UserFields {
    fn password(&self) -> Result<Option<String>, CliError> {
        if self.password_stdin {
            read_secret("password").map(Some)
        } else {
            Ok(self.password.clone())
        }
    }

    /// The body of `POST /api/users`; `password` already resolved.
    fn into_new(self, userid: String, password: Option<String>) -> UserNew {
        UserNew {
            userid,
            display_name: self.display_name.unwrap_or_default(),
            source: self.source.map(UserSource::from).unwrap_or_default(),
            password,
            enabled: self.enabled.unwrap_or(true),
            cti_enabled: self.cti_enabled.unwrap_or(false),
            super_provider: self.super_provider.unwrap_or(false),
            call_park_retrieval_allowed: self.call_park_retrieval_allowed.unwrap_or(false),
            modify_calling_number: self.modify_calling_number.unwrap_or(false),
            call_monitor: self.call_monitor.unwrap_or(false),
            call_record: self.call_record.unwrap_or(false),
            controlled_devices: self.controls,
        }
    }

    /// The body of `PATCH /api/users/{id}`.
    fn into_patch(self, password: Option<String>, clear_controls: bool) -> UserPatch {
        let controlled_devices = if clear_controls {
            Some(Vec::new())
        } else if self.controls.is_empty() {
            None
        } else {
            Some(self.controls)
        };
        UserPatch {
            display_name: self.display_name,
            source: self.source.map(UserSource::from),
            password,
            enabled: self.enabled,
            cti_enabled: self.cti_enabled,
            super_provider: self.super_provider,
            call_park_retrieval_allowed: self.call_park_retrieval_allowed,
            modify_calling_number: self.modify_calling_number,
            call_monitor: self.call_monitor,
            call_record: self.call_record,
            controlled_devices,
        }
    }
}

pub async fn run(client: &Client, command: UserCommand) -> Result<(), CliError> {
    match command {
        UserCommand::List => {
            let answer = client.get(&["users"]).await?;
            client.print(answer, |users: Vec<User>| users_table(&users))
        }
        UserCommand::Show { userid } => {
            let answer = client.get(&["users", &userid]).await?;
            client.print(answer, |user: User| user_detail(&user))
        }
        UserCommand::Add { userid, fields } => {
            let password = fields.password()?;
            let body = fields.into_new(userid, password);
            let answer = client.post(&["users"], &body).await?;
            client.print(answer, |user: User| user_detail(&user))
        }
        UserCommand::Set {
            userid,
            fields,
            clear_controls,
        } => {
            let password = fields.password()?;
            let body = fields.into_patch(password, clear_controls);
            let answer = client.patch(&["users", &userid], &body).await?;
            client.print(answer, |user: User| user_detail(&user))
        }
        UserCommand::Delete { userid } => {
            let answer = client.delete(&["users", &userid]).await?;
            client.done(answer, &format!("user {userid} deleted."));
            Ok(())
        }
    }
}

/// One line per user.
pub fn users_table(users: &[User]) -> String {
    table(
        &[
            "userid",
            "display_name",
            "source",
            "enabled",
            "cti_enabled",
            "super_provider",
            "controlled_devices",
        ],
        users.iter().map(|u| {
            [
                u.userid.clone(),
                u.display_name.clone(),
                wire_name(&u.source),
                yes_no(u.enabled),
                yes_no(u.cti_enabled),
                yes_no(u.super_provider),
                u.controlled_devices.join(","),
            ]
        }),
    )
}

/// Every field of one user.
pub fn user_detail(u: &User) -> String {
    let mut rows = vec![
        ("userid", u.userid.clone()),
        ("display_name", u.display_name.clone()),
        ("source", wire_name(&u.source)),
        ("enabled", yes_no(u.enabled)),
        ("has_password", yes_no(u.has_password)),
        ("cti_enabled", yes_no(u.cti_enabled)),
        ("super_provider", yes_no(u.super_provider)),
        (
            "call_park_retrieval_allowed",
            yes_no(u.call_park_retrieval_allowed),
        ),
        ("modify_calling_number", yes_no(u.modify_calling_number)),
        ("call_monitor", yes_no(u.call_monitor)),
        ("call_record", yes_no(u.call_record)),
        ("failed_logons", u.failed_logons.to_string()),
    ];
    if let Some(until) = &u.locked_until {
        rows.push(("locked_until", until.clone()));
    }
    rows.extend(
        u.controlled_devices
            .iter()
            .map(|d| ("controlled_device", d.clone())),
    );
    rows.push(("created_at", u.created_at.clone()));
    rows.push(("updated_at", u.updated_at.clone()));
    detail(&rows)
}

#[cfg(test)]
mod tests {
    use super::super::tests::parse;
    use super::super::AdminCommand;
    use super::*;

    fn user(userid: &str, devices: &[&str]) -> User {
        User {
            userid: userid.into(),
            display_name: format!("{userid} display"),
            source: UserSource::Local,
            enabled: true,
            cti_enabled: true,
            super_provider: false,
            call_park_retrieval_allowed: false,
            modify_calling_number: false,
            call_monitor: false,
            call_record: false,
            controlled_devices: devices.iter().map(|d| d.to_string()).collect(),
            has_password: true,
            failed_logons: 0,
            locked_until: None,
            created_at: "2024-05-01T10:00:00Z".into(),
            updated_at: "2024-05-01T10:00:00Z".into(),
        }
    }

    #[test]
    fn users_table_one_line_each() {
        let text = users_table(&[
            user("alice", &["CSFALICE", "SEP001122334455"]),
            user("bob", &[]),
        ]);
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(lines.len(), 4);
        assert_eq!(
            lines[0],
            "userid  display_name   source  enabled  cti_enabled  super_provider  controlled_devices"
        );
        assert!(lines[1].starts_with("------  ------------"));
        assert_eq!(
            lines[2],
            "alice   alice display  local   true     true         false           CSFALICE,SEP001122334455"
        );
        assert_eq!(
            lines[3],
            "bob     bob display    local   true     true         false"
        );
    }

    #[test]
    fn user_detail_lists_devices() {
        let text = user_detail(&user("alice", &["CSFALICE", "SEP1"]));
        assert!(text.contains("\ncontrolled_device            CSFALICE\n"));
        assert!(text.contains("\ncontrolled_device            SEP1\n"));
        assert!(text.starts_with("userid                       alice\n"));
    }

    fn parse_user(args: &[&str]) -> UserCommand {
        let mut full = vec!["user"];
        full.extend_from_slice(args);
        match parse(&full).unwrap().command {
            AdminCommand::User { command } => command,
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn add_maps_flags_to_user_new() {
        let UserCommand::Add { userid, fields } = parse_user(&[
            "add",
            "alice",
            "--display-name",
            "Alice",
            "--source",
            "ldap",
            "--cti-enabled",
            "true",
            "--control",
            "CSFALICE",
            "--control",
            "SEP1",
        ]) else {
            panic!()
        };
        let new = fields.into_new(userid, None);
        assert_eq!(new.userid, "alice");
        assert_eq!(new.display_name, "Alice");
        assert_eq!(new.source, UserSource::Ldap);
        assert!(new.enabled && new.cti_enabled && !new.super_provider);
        assert_eq!(new.controlled_devices, ["CSFALICE", "SEP1"]);
    }

    #[test]
    fn set_sends_only_given_fields() {
        let UserCommand::Set {
            fields,
            clear_controls,
            ..
        } = parse_user(&["set", "alice", "--super-provider", "false"])
        else {
            panic!()
        };
        let patch = fields.into_patch(None, clear_controls);
        let json = serde_json::to_value(&patch).unwrap();
        assert_eq!(json["super_provider"], false);
        assert!(json["controlled_devices"].is_null());
        assert!(json["cti_enabled"].is_null());

        let UserCommand::Set {
            fields,
            clear_controls,
            ..
        } = parse_user(&["set", "alice", "--clear-controls"])
        else {
            panic!()
        };
        let patch = fields.into_patch(None, clear_controls);
        assert_eq!(patch.controlled_devices, Some(vec![]));
    }

    #[test]
    fn password_flags_conflict_and_booleans_are_strict() {
        let err = parse(&["user", "add", "a", "--password", "x", "--password-stdin"]).unwrap_err();
        assert_eq!(err.kind(), clap::error::ErrorKind::ArgumentConflict);
        let err = parse(&["user", "set", "a", "--cti-enabled", "maybe"]).unwrap_err();
        assert_eq!(err.exit_code(), 2);
    }
}
