//! Benchmark set-up: provisions N digest deskphones straight into a node's store (much faster
//! than N API calls) and writes the SIPp injection file for them.
//!
//! `cargo run --release -p switchboard-server --example bench_provision -- <data-dir> <count> <csv>`
//!
//! Devices are `SEP000000000001` … with digest password `pw-<name>`, under the security
//! profile "Bench digest" (TCP/UDP, digest). The CSV has `SEQUENTIAL`, then one line per
//! device: `name;password;[authentication username=name password=password]`.

use std::io::Write;
use std::sync::Arc;

use switchboard_auth::secretbox::SecretKey;
use switchboard_server::NodeCrypto;
use switchboard_store::model::*;
use switchboard_store::{Store, StoreConfig};

#[tokio::main(flavor = "current_thread")]
async fn main() -> anyhow::Result<()> {
    let args: Vec<String> = std::env::args().collect();
    let [_, dir, count, csv] = args.as_slice() else {
        anyhow::bail!("usage: bench_provision <data-dir> <count> <csv>");
    };
    let dir = std::path::PathBuf::from(dir);
    let count: u64 = count.parse()?;
    std::fs::create_dir_all(&dir)?;
    let key = SecretKey::load_or_create(dir.join("secret.key"))?;
    let store = Store::open(
        &StoreConfig::Sqlite {
            path: dir.join("switchboard.db"),
        },
        Arc::new(NodeCrypto(key)),
    )
    .await?;
    let profile = SecurityProfile {
        name: "Bench digest".into(),
        description: "benchmark deskphones".into(),
        product_type: "Cisco 8841".into(),
        device_security_mode: SecurityMode::NonSecure,
        transport: Transport::TcpUdp,
        tftp_encrypted_config: false,
        digest_auth: true,
        oauth_auth: false,
    };
    if store.get_profile(&profile.name).await.is_err() {
        store.put_profile("bench", &profile, false).await?;
    }
    let existing = store.list_devices().await?.len() as u64;
    let mut out = std::io::BufWriter::new(std::fs::File::create(csv)?);
    writeln!(out, "SEQUENTIAL")?;
    let started = std::time::Instant::now();
    for i in 1..=count {
        let name = format!("SEP{i:012X}");
        let password = format!("pw-{name}");
        if i > existing {
            let device = DeviceNew {
                name: name.clone(),
                description: String::new(),
                product: "Cisco 8841".into(),
                device_class: DeviceClass::Deskphone,
                owner: None,
                security_profile: profile.name.clone(),
                digest_user: None,
                digest_password: Some(password.clone()),
                lines: Vec::new(),
                allow_cti_control: true,
            };
            store.create_device("bench", &device).await?;
        }
        writeln!(
            out,
            "{name};{password};[authentication username={name} password={password}]"
        )?;
    }
    out.flush()?;
    store.close().await;
    eprintln!(
        "{count} devices ready in {:.1} s",
        started.elapsed().as_secs_f64()
    );
    Ok(())
}
