//! The `switchboard` binary: `serve` runs a node; `cti` is an interactive CTI console; every
//! other verb is an admin command sent to a node's provisioning API (the local node, found
//! through its data directory, or `--server`).

mod admin;
mod cti;
mod serve;

use std::process::ExitCode;

use clap::{CommandFactory, FromArgMatches, Parser, Subcommand};

/// mimalloc instead of glibc's malloc (the SIP hot path allocates small, short-lived buffers
/// per message, and glibc's allocator was ~13 % of a registration's CPU, docs/benchmarks.md),
/// counting the bytes in use so `kill -USR1` can report them (operations guide).
#[global_allocator]
static ALLOCATOR: CountingAllocator = CountingAllocator;

static HEAP_IN_USE: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);

/// Bytes allocated and not yet freed, as the program asked for them (allocator overhead and
/// freed-but-kept pages are not counted: that is the difference to the resident size).
pub fn heap_in_use() -> usize {
    HEAP_IN_USE.load(std::sync::atomic::Ordering::Relaxed)
}

struct CountingAllocator;

// SAFETY: every call is forwarded unchanged to mimalloc; only a counter is updated besides.
unsafe impl std::alloc::GlobalAlloc for CountingAllocator {
    unsafe fn alloc(&self, layout: std::alloc::Layout) -> *mut u8 {
        HEAP_IN_USE.fetch_add(layout.size(), std::sync::atomic::Ordering::Relaxed);
        mimalloc::MiMalloc.alloc(layout)
    }
    unsafe fn alloc_zeroed(&self, layout: std::alloc::Layout) -> *mut u8 {
        HEAP_IN_USE.fetch_add(layout.size(), std::sync::atomic::Ordering::Relaxed);
        mimalloc::MiMalloc.alloc_zeroed(layout)
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: std::alloc::Layout) {
        HEAP_IN_USE.fetch_sub(layout.size(), std::sync::atomic::Ordering::Relaxed);
        mimalloc::MiMalloc.dealloc(ptr, layout)
    }
    unsafe fn realloc(&self, ptr: *mut u8, layout: std::alloc::Layout, new_size: usize) -> *mut u8 {
        HEAP_IN_USE.fetch_add(new_size, std::sync::atomic::Ordering::Relaxed);
        HEAP_IN_USE.fetch_sub(layout.size(), std::sync::atomic::Ordering::Relaxed);
        mimalloc::MiMalloc.realloc(ptr, layout, new_size)
    }
}

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
    Serve(Box<serve::ServeArgs>),
    /// Interactive CTI console: opens a provider as a user, opens devices, prints every
    /// message as it comes and takes commands (open, close, line, quit, help).
    Cti(cti::CtiArgs),
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
    // rustls warns about every client that sends an IP address as SNI (stunnel, some phones):
    // per-handshake noise, not an operator's concern.
    let default_filter = if serving {
        "info,rustls=error"
    } else {
        "warn,rustls=error"
    };
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
                match serve::run(*args, data_dir, utc_offset).await {
                    Ok(()) => ExitCode::SUCCESS,
                    Err(e) => {
                        eprintln!("error: {e:#}");
                        ExitCode::FAILURE
                    }
                }
            }
            Command::Cti(args) => cti::run(&cli.connect, args, utc_offset).await,
            Command::Admin(command) => admin::run(&cli.connect, command).await,
        }
    })
}
