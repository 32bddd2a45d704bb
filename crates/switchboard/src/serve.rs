//! `switchboard serve`: runs a node until SIGINT/SIGTERM, printing once what first start
//! created (the administrator's password, the demo lab's credentials).

use std::net::{IpAddr, SocketAddr};
use std::path::PathBuf;

use switchboard_server::{Backend, NodeConfig, StartOptions};

/// Options of `switchboard serve`.
#[derive(clap::Args, Debug)]
pub struct ServeArgs {
    /// TOML configuration file (strict: unknown keys are errors). Without it, defaults:
    /// ./switchboard-data, SQLite, the host name as node name.
    #[arg(long, short)]
    pub config: Option<PathBuf>,
    /// Seed the seed documents' lab: user wwhite, deskphone SEP001794625DE5, softphone CSFwwhite.
    #[arg(long)]
    pub demo: bool,
    /// The node's name (default: the host name).
    #[arg(long)]
    pub node_name: Option<String>,
    /// Address every service binds to (default 0.0.0.0).
    #[arg(long)]
    pub listen: Option<IpAddr>,
    /// HTTPS socket, overriding the node's configured port (e.g. 127.0.0.1:0 for tests).
    #[arg(long)]
    pub https: Option<SocketAddr>,
    /// SIP UDP socket, overriding the node's configured `sip` port (e.g. 127.0.0.1:0).
    #[arg(long)]
    pub sip_udp: Option<SocketAddr>,
    /// SIP TCP socket, overriding the node's configured `sip` port.
    #[arg(long)]
    pub sip_tcp: Option<SocketAddr>,
    /// SIP TLS socket, overriding the node's configured `sip_secure` port.
    #[arg(long)]
    pub sip_tls: Option<SocketAddr>,
    /// SIP OAuth (TLS, bearer) socket, overriding the node's configured `sip_oauth` port.
    #[arg(long)]
    pub sip_oauth: Option<SocketAddr>,
    /// SIP MRA OAuth (mutual TLS) socket, overriding the node's `sip_mra_oauth` port.
    #[arg(long)]
    pub sip_mra_oauth: Option<SocketAddr>,
    /// Config file service (HTTP) socket, overriding the node's configured `config_http` port
    /// (6970).
    #[arg(long)]
    pub config_http: Option<SocketAddr>,
    /// CTI Manager plain TCP socket, overriding the node's configured `cti` port (2748).
    #[arg(long)]
    pub cti: Option<SocketAddr>,
    /// CTI Manager TLS socket, overriding the node's configured `cti_tls` port (2749).
    #[arg(long)]
    pub cti_tls: Option<SocketAddr>,
    /// Use PostgreSQL at this URL instead of the embedded SQLite.
    #[arg(long, env = "SWITCHBOARD_STORE_URL", hide_env_values = true)]
    pub store_url: Option<String>,
}

/// Runs the node until a termination signal.
pub async fn run(
    args: ServeArgs,
    data_dir: Option<PathBuf>,
    utc_offset: Option<switchboard_server::UtcOffset>,
) -> anyhow::Result<()> {
    let mut config = match &args.config {
        Some(path) => NodeConfig::from_file(path)?,
        None => NodeConfig::default(),
    };
    if let Some(dir) = data_dir {
        config.data_dir = dir;
    }
    if let Some(name) = args.node_name {
        config.node_name = Some(name);
    }
    if let Some(address) = args.listen {
        config.listen.address = address;
    }
    if let Some(https) = args.https {
        config.listen.https = Some(https);
    }
    for (flag, slot) in [
        (args.sip_udp, &mut config.listen.sip_udp),
        (args.sip_tcp, &mut config.listen.sip_tcp),
        (args.sip_tls, &mut config.listen.sip_tls),
        (args.sip_oauth, &mut config.listen.sip_oauth),
        (args.sip_mra_oauth, &mut config.listen.sip_mra_oauth),
        (args.config_http, &mut config.listen.config_http),
        (args.cti, &mut config.listen.cti),
        (args.cti_tls, &mut config.listen.cti_tls),
    ] {
        if flag.is_some() {
            *slot = flag;
        }
    }
    if let Some(url) = args.store_url {
        config.store.backend = Backend::Postgres;
        config.store.url = Some(url);
    }
    let backend = match config.store.backend {
        Backend::Sqlite => format!(
            "SQLite {}",
            config.data_dir.join("switchboard.db").display()
        ),
        Backend::Postgres => "PostgreSQL".to_string(),
    };
    let node = switchboard_server::start(
        config,
        StartOptions {
            demo: args.demo,
            utc_offset,
        },
    )
    .await?;
    let dir = node.data_dir.display();
    println!(
        "Switchboard node {} started ({backend})",
        node.state.node_name
    );
    println!(
        "HTTPS API: {}  (certificate {dir}/certs/tomcat.pem)",
        node.api_url()
    );
    println!(
        "Config files: {}/<DeviceName>.cnf.xml",
        node.config_http_url()
    );
    if let Some(password) = &node.report.admin_password {
        println!(
            "Administrator account created: user 'admin', password '{password}' (shown only now)."
        );
    }
    println!("The CLI on this machine reaches the node through {dir} (admin token in {dir}/admin.token).");
    if let Some((path, credentials)) = &node.report.demo_credentials {
        println!("Demo lab created (user wwhite is CTI enabled and controls SEP001794625DE5):");
        for (id, password) in credentials {
            println!("  {id} {password}");
        }
        println!("  (saved in {})", path.display());
    } else if node.report.demo_already_present {
        println!("Demo lab already present; its credentials are in {dir}/demo-credentials.txt");
    }
    println!("Press Ctrl-C to stop (kill -USR1 prints memory use).");
    #[cfg(unix)]
    let reporter = {
        let registrar = node.sip.registrar.clone();
        tokio::spawn(async move {
            use tokio::signal::unix::{signal, SignalKind};
            let Ok(mut usr1) = signal(SignalKind::user_defined1()) else {
                return;
            };
            while usr1.recv().await.is_some() {
                println!(
                    "memory: heap in use {} bytes, {} live SIP bindings",
                    crate::heap_in_use(),
                    registrar.binding_count()
                );
            }
        })
    };
    wait_for_signal().await;
    #[cfg(unix)]
    reporter.abort();
    println!("Stopping...");
    node.shutdown().await
}

async fn wait_for_signal() {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{signal, SignalKind};
        match signal(SignalKind::terminate()) {
            Ok(mut term) => {
                tokio::select! {
                    _ = tokio::signal::ctrl_c() => {}
                    _ = term.recv() => {}
                }
            }
            Err(_) => {
                let _ = tokio::signal::ctrl_c().await;
            }
        }
    }
    #[cfg(not(unix))]
    {
        let _ = tokio::signal::ctrl_c().await;
    }
}
