//! The `switchboard` binary: `serve` runs a node; every other verb is an admin command sent to
//! a node's provisioning API (the local node, found through its data directory, or `--server`).

mod admin;
mod serve;

use std::process::ExitCode;

use clap::{CommandFactory, FromArgMatches, Parser, Subcommand};

/// mimalloc instead of glibc's malloc: the SIP hot path allocates small, short-lived buffers
/// per message, and glibc's allocator was ~13 % of a registration's CPU (docs/benchmarks.md).
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// Switchboard: an open-source call-control server (SIP registrar, CTI Manager, OAuth).
#[derive(Parser, Debug)]
#[command(name = "switchboard", version, about, propagate_version = true)]
struct Cli {
    #[command(flatten)]
    connect: admin::ConnectArgs,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand, Debug)]
enum Command {
    /// Run a node (creates its data directory, database, certificate and admin on first start).
    Serve(serve::ServeArgs),
    #[command(flatten)]
    Admin(admin::AdminCommand),
}

fn main() -> ExitCode {
    // The local UTC offset can only be read safely while the process has one thread.
    let utc_offset = switchboard_server::local_offset();
    let matches = Cli::command().get_matches();
    let data_dir_given = matches
        .value_source("data_dir")
        .is_some_and(|source| source != clap::parser::ValueSource::DefaultValue);
    let cli = match Cli::from_arg_matches(&matches) {
        Ok(cli) => cli,
        Err(e) => e.exit(),
    };
    let serving = matches!(cli.command, Command::Serve(_));
    let default_filter = if serving { "info" } else { "warn" };
    tracing_subscriber::fmt()
        .with_writer(std::io::stderr)
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(default_filter)),
        )
        .init();
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("error: cannot start the runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    runtime.block_on(async move {
        match cli.command {
            Command::Serve(args) => {
                let data_dir = data_dir_given.then(|| cli.connect.data_dir.clone());
                match serve::run(args, data_dir, utc_offset).await {
                    Ok(()) => ExitCode::SUCCESS,
                    Err(e) => {
                        eprintln!("error: {e:#}");
                        ExitCode::FAILURE
                    }
                }
            }
            Command::Admin(command) => admin::run(&cli.connect, command).await,
        }
    })
}
