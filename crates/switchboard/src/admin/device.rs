//! `switchboard device …`: phones and softphones, their owner, profile, digest credentials and
//! line appearances.

use clap::{Subcommand, ValueEnum};
use switchboard_store::model::{Device, DeviceClass, DeviceNew, DevicePatch, LineAppearance};

use super::client::{CliError, Client};
use super::output::{detail, read_secret, table, wire_name, yes_no};

#[derive(Subcommand, Debug)]
pub enum DeviceCommand {
    /// List devices.
    List,
    /// Show one device.
    Show { name: String },
    /// Add a device.
    Add {
        /// Device name, e.g. SEP001122334455 or CSFALICE.
        name: String,
        /// Model / product type, e.g. "Cisco 8841".
        #[arg(long)]
        product: String,
        #[arg(long, value_enum)]
        class: ClassArg,
        /// Phone security profile.
        #[arg(long)]
        profile: String,
        /// Owner user ID.
        #[arg(long)]
        owner: Option<String>,
        #[arg(long)]
        description: Option<String>,
        /// Digest user name (default: the device name).
        #[arg(long)]
        digest_user: Option<String>,
        /// Read the digest password from the first line of standard input.
        #[arg(long)]
        digest_password_stdin: bool,
        /// A line appearance, button INDEX showing directory number DN (repeat).
        #[arg(long = "line", value_name = "INDEX:DN", value_parser = parse_line)]
        lines: Vec<LineAppearance>,
        /// Refuse control of the device from CTI applications (CUCM's "Allow Control of
        /// Device from CTI" unchecked).
        #[arg(long)]
        no_cti_control: bool,
    },
    /// Change the given settings of a device.
    Set {
        name: String,
        #[arg(long)]
        product: Option<String>,
        #[arg(long, value_enum)]
        class: Option<ClassArg>,
        #[arg(long)]
        profile: Option<String>,
        #[arg(long, conflicts_with = "clear_owner")]
        owner: Option<String>,
        /// Remove the owner.
        #[arg(long)]
        clear_owner: bool,
        #[arg(long)]
        description: Option<String>,
        #[arg(long)]
        digest_user: Option<String>,
        /// Read a new digest password from the first line of standard input.
        #[arg(long)]
        digest_password_stdin: bool,
        /// Line appearances INDEX:DN (repeat; replaces all of them).
        #[arg(long = "line", id = "lines", value_name = "INDEX:DN", value_parser = parse_line)]
        lines: Vec<LineAppearance>,
        /// Remove every line appearance.
        #[arg(long, conflicts_with = "lines")]
        clear_lines: bool,
        /// Whether CTI applications may open the device.
        #[arg(long, value_name = "true|false")]
        cti_control: Option<bool>,
    },
    /// Delete a device.
    Delete { name: String },
}

/// What kind of endpoint a device is.
#[derive(ValueEnum, Debug, Clone, Copy, PartialEq, Eq)]
pub enum ClassArg {
    Deskphone,
    Softphone,
}

impl From<ClassArg> for DeviceClass {
    fn from(c: ClassArg) -> Self {
        match c {
            ClassArg::Deskphone => DeviceClass::Deskphone,
            ClassArg::Softphone => DeviceClass::Softphone,
        }
    }
}

/// Parses `INDEX:DN`, e.g. `1:1001`.
pub fn parse_line(s: &str) -> Result<LineAppearance, String> {
    let expected = || format!("expected INDEX:DN, e.g. 1:1001 (got `{s}`)");
    let (index, dn) = s.split_once(':').ok_or_else(expected)?;
    let index: u32 = index.trim().parse().map_err(|_| expected())?;
    let dn = dn.trim();
    if index == 0 || dn.is_empty() {
        return Err(expected());
    }
    Ok(LineAppearance {
        index,
        dn: dn.to_owned(),
    })
}

fn digest_password(from_stdin: bool) -> Result<Option<String>, CliError> {
    if from_stdin {
        read_secret("digest password").map(Some)
    } else {
        Ok(None)
    }
}

pub async fn run(client: &Client, command: DeviceCommand) -> Result<(), CliError> {
    match command {
        DeviceCommand::List => {
            let answer = client.get(&["devices"]).await?;
            client.print(answer, |devices: Vec<Device>| devices_table(&devices))
        }
        DeviceCommand::Show { name } => {
            let answer = client.get(&["devices", &name]).await?;
            client.print(answer, |device: Device| device_detail(&device))
        }
        DeviceCommand::Add {
            name,
            product,
            class,
            profile,
            owner,
            description,
            digest_user,
            digest_password_stdin,
            lines,
            no_cti_control,
        } => {
            let body = DeviceNew {
                name,
                description: description.unwrap_or_default(),
                product,
                device_class: class.into(),
                owner,
                security_profile: profile,
                digest_user,
                digest_password: digest_password(digest_password_stdin)?,
                lines,
                allow_cti_control: !no_cti_control,
            };
            let answer = client.post(&["devices"], &body).await?;
            client.print(answer, |device: Device| device_detail(&device))
        }
        DeviceCommand::Set {
            name,
            product,
            class,
            profile,
            owner,
            clear_owner,
            description,
            digest_user,
            digest_password_stdin,
            lines,
            clear_lines,
            cti_control,
        } => {
            let body = DevicePatch {
                description,
                product,
                device_class: class.map(DeviceClass::from),
                owner,
                clear_owner,
                security_profile: profile,
                digest_user,
                digest_password: digest_password(digest_password_stdin)?,
                lines: lines_patch(lines, clear_lines),
                allow_cti_control: cti_control,
            };
            let answer = client.patch(&["devices", &name], &body).await?;
            client.print(answer, |device: Device| device_detail(&device))
        }
        DeviceCommand::Delete { name } => {
            let answer = client.delete(&["devices", &name]).await?;
            client.done(answer, &format!("device {name} deleted."));
            Ok(())
        }
    }
}

fn lines_patch(lines: Vec<LineAppearance>, clear: bool) -> Option<Vec<LineAppearance>> {
    if clear {
        Some(Vec::new())
    } else if lines.is_empty() {
        None
    } else {
        Some(lines)
    }
}

fn lines_text(lines: &[LineAppearance]) -> String {
    lines
        .iter()
        .map(|l| format!("{}:{}", l.index, l.dn))
        .collect::<Vec<_>>()
        .join(",")
}

/// One line per device.
pub fn devices_table(devices: &[Device]) -> String {
    table(
        &[
            "name",
            "product",
            "class",
            "owner",
            "profile",
            "lines",
            "description",
        ],
        devices.iter().map(|d| {
            [
                d.name.clone(),
                d.product.clone(),
                wire_name(&d.device_class),
                d.owner.clone().unwrap_or_default(),
                d.security_profile.clone(),
                lines_text(&d.lines),
                d.description.clone(),
            ]
        }),
    )
}

/// Every field of one device.
pub fn device_detail(d: &Device) -> String {
    let mut rows = vec![
        ("name", d.name.clone()),
        ("description", d.description.clone()),
        ("product", d.product.clone()),
        ("class", wire_name(&d.device_class)),
        ("protocol", d.protocol.clone()),
        ("owner", d.owner.clone().unwrap_or_default()),
        ("security_profile", d.security_profile.clone()),
        (
            "digest_user",
            d.digest_user.clone().unwrap_or_else(|| d.name.clone()),
        ),
        ("has_digest_password", yes_no(d.has_digest_password)),
        ("allow_cti_control", yes_no(d.allow_cti_control)),
    ];
    rows.extend(
        d.lines
            .iter()
            .map(|l| ("line", format!("{}:{}", l.index, l.dn))),
    );
    rows.push(("created_at", d.created_at.clone()));
    rows.push(("updated_at", d.updated_at.clone()));
    detail(&rows)
}

#[cfg(test)]
mod tests {
    use super::super::tests::parse;
    use super::super::AdminCommand;
    use super::*;
    use clap::error::ErrorKind;

    #[test]
    fn line_values() {
        assert_eq!(
            parse_line("2:1002").unwrap(),
            LineAppearance {
                index: 2,
                dn: "1002".into()
            }
        );
        for bad in ["1002", "x:1002", "0:1002", "1:", ":1002"] {
            assert!(parse_line(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn bad_line_is_a_usage_error_naming_the_form() {
        let err = parse(&[
            "device",
            "add",
            "SEP001122334455",
            "--product",
            "Cisco 8841",
            "--class",
            "deskphone",
            "--profile",
            "p",
            "--line",
            "1001",
        ])
        .unwrap_err();
        assert_eq!(err.kind(), ErrorKind::ValueValidation);
        assert_eq!(err.exit_code(), 2);
        assert!(err.to_string().contains("INDEX:DN"), "{err}");
    }

    #[test]
    fn add_parses_lines_and_class() {
        let cli = parse(&[
            "device",
            "add",
            "CSFALICE",
            "--product",
            "Cisco Unified Client Services Framework",
            "--class",
            "softphone",
            "--profile",
            "csf-oauth",
            "--owner",
            "alice",
            "--line",
            "1:1001",
            "--line",
            "2:1002",
        ])
        .unwrap();
        match cli.command {
            AdminCommand::Device {
                command:
                    DeviceCommand::Add {
                        class,
                        lines,
                        owner,
                        ..
                    },
            } => {
                assert_eq!(class, ClassArg::Softphone);
                assert_eq!(owner.as_deref(), Some("alice"));
                assert_eq!(lines_text(&lines), "1:1001,2:1002");
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn clear_owner_conflicts_with_owner() {
        let err = parse(&["device", "set", "X", "--owner", "a", "--clear-owner"]).unwrap_err();
        assert_eq!(err.kind(), ErrorKind::ArgumentConflict);
    }

    #[test]
    fn devices_table_shows_lines() {
        let device = Device {
            name: "SEP001122334455".into(),
            description: "lobby".into(),
            product: "Cisco 8841".into(),
            device_class: DeviceClass::Deskphone,
            protocol: "SIP".into(),
            owner: None,
            security_profile: "8841-auth".into(),
            digest_user: None,
            has_digest_password: false,
            allow_cti_control: true,
            lines: vec![LineAppearance {
                index: 1,
                dn: "1001".into(),
            }],
            created_at: "t0".into(),
            updated_at: "t1".into(),
        };
        let text = devices_table(std::slice::from_ref(&device));
        assert_eq!(
            text.lines().nth(2).unwrap(),
            "SEP001122334455  Cisco 8841  deskphone         8841-auth  1:1001  lobby"
        );
        assert!(device_detail(&device).contains("\ndigest_user          SEP001122334455\n"));
    }
}
