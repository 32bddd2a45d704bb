//! First start and `--demo`: the schema's default parameters, this node's `callmanager` row,
//! the first administrator (its password shown once) and the CLI's token file, and the seed's
//! lab (user `wwhite`, deskphone `SEP001794625DE5`, softphone `CSFwwhite`).

use std::io::Write;
use std::path::{Path, PathBuf};

use anyhow::Context;
use switchboard_store::model::*;
use switchboard_store::Store;

/// The actor recorded in the audit log for what the node does by itself.
pub const BOOTSTRAP_ACTOR: &str = "bootstrap";
/// The first administrator's user id.
pub const ADMIN_USER: &str = "admin";

/// Secrets created at start-up, to be shown once.
#[derive(Debug, Default)]
pub struct BootstrapReport {
    /// The first administrator's generated password (first start only).
    pub admin_password: Option<String>,
    /// The demo lab's credentials file, when `--demo` created the lab.
    pub demo_credentials: Option<(PathBuf, Vec<(String, String)>)>,
    /// True when `--demo` found the lab already there.
    pub demo_already_present: bool,
}

/// Writes `contents` to `path` with mode 0600 (created through a temporary file and renamed).
pub fn write_private(path: &Path, contents: &str) -> anyhow::Result<()> {
    let tmp = path.with_extension("tmp");
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create(true).truncate(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    let mut file = options
        .open(&tmp)
        .with_context(|| format!("cannot write {}", tmp.display()))?;
    file.write_all(contents.as_bytes())?;
    file.sync_all()?;
    std::fs::rename(&tmp, path).with_context(|| format!("cannot write {}", path.display()))?;
    Ok(())
}

/// Makes sure this node has a row in `callmanager` (default ports on first start).
pub async fn register_node(store: &Store, name: &str, address: &str) -> anyhow::Result<Node> {
    if let Ok(node) = store.get_node(name).await {
        return Ok(node);
    }
    let priority = store.list_nodes().await?.len() as u32 + 1;
    let node = Node {
        name: name.into(),
        address: address.into(),
        description: "registered by the node at first start".into(),
        priority: priority.min(16),
        ports: NodePorts::default(),
    };
    Ok(store.put_node(BOOTSTRAP_ACTOR, &node, false).await?)
}

/// Creates the first administrator when there is none, and the CLI's token file when missing.
pub async fn ensure_admin(
    store: &Store,
    data_dir: &Path,
    report: &mut BootstrapReport,
) -> anyhow::Result<()> {
    if store.admin_count().await? == 0 {
        let password = switchboard_auth::password::generate(20);
        store
            .create_admin(BOOTSTRAP_ACTOR, ADMIN_USER, &password)
            .await?;
        report.admin_password = Some(password);
    }
    let token_file = data_dir.join("admin.token");
    if !token_file.exists() {
        let token = switchboard_auth::token::generate();
        let hash = switchboard_auth::token::hash(&token);
        store
            .add_admin_token(
                BOOTSTRAP_ACTOR,
                ADMIN_USER,
                &hash,
                "local CLI token of this node",
            )
            .await?;
        write_private(&token_file, &format!("{token}\n"))?;
    }
    Ok(())
}

/// Demo names from the seeds.
pub const DEMO_USER: &str = "wwhite";
pub const DEMO_DESKPHONE: &str = "SEP001794625DE5";
pub const DEMO_SOFTPHONE: &str = "CSFwwhite";
const OAUTH_PROFILE: &str = "Cisco Unified Client Services Framework - OAuth auth";
const DESKPHONE_PROFILE: &str = "Cisco 8841 - Standard SIP Digest Profile";

/// Seeds the seed's lab unless it is there already; credentials go to
/// `<data-dir>/demo-credentials.txt` (0600, `userid password` per line).
pub async fn seed_demo(
    store: &Store,
    data_dir: &Path,
    report: &mut BootstrapReport,
) -> anyhow::Result<()> {
    if store.get_user(DEMO_USER).await.is_ok() {
        report.demo_already_present = true;
        return Ok(());
    }
    let actor = BOOTSTRAP_ACTOR;
    store
        .put_profile(
            actor,
            &SecurityProfile {
                name: OAUTH_PROFILE.into(),
                description: OAUTH_PROFILE.into(),
                product_type: "Cisco Unified Client Services Framework".into(),
                device_security_mode: SecurityMode::Encrypted,
                transport: Transport::Tls,
                tftp_encrypted_config: false,
                digest_auth: false,
                oauth_auth: true,
            },
            false,
        )
        .await?;
    store
        .put_profile(
            actor,
            &SecurityProfile {
                name: DESKPHONE_PROFILE.into(),
                description: "Deskphone registering with SIP digest".into(),
                product_type: "Cisco 8841".into(),
                device_security_mode: SecurityMode::NonSecure,
                transport: Transport::TcpUdp,
                tftp_encrypted_config: false,
                digest_auth: true,
                oauth_auth: false,
            },
            false,
        )
        .await?;
    store
        .create_line(
            actor,
            &Line {
                dn: "1001".into(),
                description: "Walter White".into(),
                alerting_name: "Walter White".into(),
            },
        )
        .await?;
    let user_password = switchboard_auth::password::generate(16);
    let digest_password = switchboard_auth::password::generate(16);
    store
        .create_user(
            actor,
            &UserNew {
                userid: DEMO_USER.into(),
                display_name: "Walter White".into(),
                password: Some(user_password.clone()),
                cti_enabled: true,
                ..UserNew {
                    enabled: true,
                    ..Default::default()
                }
            },
        )
        .await?;
    let line = vec![LineAppearance {
        index: 1,
        dn: "1001".into(),
    }];
    store
        .create_device(
            actor,
            &DeviceNew {
                name: DEMO_DESKPHONE.into(),
                description: "Walter White's deskphone".into(),
                product: "Cisco 8841".into(),
                device_class: DeviceClass::Deskphone,
                owner: Some(DEMO_USER.into()),
                security_profile: DESKPHONE_PROFILE.into(),
                digest_user: Some(DEMO_DESKPHONE.into()),
                digest_password: Some(digest_password.clone()),
                lines: line.clone(),
                allow_cti_control: true,
            },
        )
        .await?;
    store
        .create_device(
            actor,
            &DeviceNew {
                name: DEMO_SOFTPHONE.into(),
                description: "Walter White's Jabber softphone".into(),
                product: "Cisco Unified Client Services Framework".into(),
                device_class: DeviceClass::Softphone,
                owner: Some(DEMO_USER.into()),
                security_profile: OAUTH_PROFILE.into(),
                digest_user: None,
                digest_password: None,
                lines: line,
                allow_cti_control: true,
            },
        )
        .await?;
    store
        .update_user(
            actor,
            DEMO_USER,
            &UserPatch {
                controlled_devices: Some(vec![DEMO_DESKPHONE.into()]),
                ..Default::default()
            },
        )
        .await?;
    let credentials = vec![
        (DEMO_USER.to_string(), user_password),
        (DEMO_DESKPHONE.to_string(), digest_password),
    ];
    let path = data_dir.join("demo-credentials.txt");
    let text: String = credentials
        .iter()
        .map(|(id, pw)| format!("{id} {pw}\n"))
        .collect();
    write_private(&path, &text)?;
    report.demo_credentials = Some((path, credentials));
    Ok(())
}
