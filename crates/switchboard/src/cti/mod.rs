//! `switchboard cti`: an interactive CTI console for administrators and application
//! developers (a JTAPI-test-tool counterpart). It opens a provider as a user, opens devices,
//! prints every message as it comes and takes commands on standard input; see
//! `docs/operations.md` ("CTI console"). The pure parts are in [`console`].

mod console;

use std::io::Write as _;
use std::net::SocketAddr;
use std::process::ExitCode;
use std::sync::Arc;

use switchboard_cti_client::{
    ClientError, CtiClient, Direction, Message, ProviderOptions, Target, ALL_DEVICE_EVENTS,
};
use switchboard_server::UtcOffset;
use tokio::sync::mpsc;

use crate::admin::client::{resolve, CliError, Client};
use crate::admin::ConnectArgs;
use console::{CallVerb, ConsoleCommand, Tracker};

/// Default ports of the CTI Manager, used when the node cannot be asked.
const DEFAULT_TCP_PORT: u16 = 2748;
const DEFAULT_TLS_PORT: u16 = 2749;
const DEFAULT_HTTPS_PORT: u16 = 8443;

/// `switchboard cti`: open a CTI provider and watch its devices.
#[derive(clap::Args, Debug)]
#[command(after_help = "\
The node is found as for the admin verbs (--data-dir, or --server https://node:8443 with \
--token): its CTI ports come from GET /api/ports. --server HOST:PORT connects to that CTI \
address directly instead. TLS and WebSocket trust --ca, else the data directory's \
certs/tomcat.pem. --json prints each received message as one line of JSON.

Console commands: open <device>, close <handle>, line <handle> <dn>, quit, help.")]
pub struct CtiArgs {
    /// The end user to open the provider as.
    #[arg(long, value_name = "LOGIN")]
    pub user: String,
    /// A device to open once the provider is open (repeat for several).
    #[arg(long = "device", value_name = "NAME")]
    pub devices: Vec<String>,
    /// Use the TLS port (2749) instead of the plain one (2748, where the password is sealed).
    #[arg(long, conflicts_with = "websocket")]
    pub tls: bool,
    /// Use the WebSocket endpoint wss://<node>:<https-port>/cti.
    #[arg(long)]
    pub websocket: bool,
    /// Log in with this OAuth access token (from `switchboard oauth token`) instead of a
    /// password.
    #[arg(
        long,
        value_name = "TOKEN",
        env = "SWITCHBOARD_CTI_ACCESS_TOKEN",
        hide_env_values = true,
        conflicts_with = "password_stdin"
    )]
    pub access_token: Option<String>,
    /// Read the password from the first line of standard input (the next lines are
    /// commands) instead of asking on the terminal.
    #[arg(long)]
    pub password_stdin: bool,
    /// Application name, shown in the server's trace.
    #[arg(long, default_value = "switchboard cti", value_name = "NAME")]
    pub application: String,
    /// Proposed heartbeat interval, seconds (the server clamps it to 5…300).
    #[arg(long, default_value_t = 30, value_name = "SECONDS")]
    pub heartbeat: u32,
}

/// How the console reaches the CTI Manager.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Mode {
    Tcp,
    Tls,
    WebSocket,
}

impl Mode {
    fn of(args: &CtiArgs) -> Mode {
        if args.websocket {
            Mode::WebSocket
        } else if args.tls {
            Mode::Tls
        } else {
            Mode::Tcp
        }
    }

    fn default_port(self) -> u16 {
        match self {
            Mode::Tcp => DEFAULT_TCP_PORT,
            Mode::Tls => DEFAULT_TLS_PORT,
            Mode::WebSocket => DEFAULT_HTTPS_PORT,
        }
    }

    /// How the mode is shown.
    fn label(self) -> &'static str {
        match self {
            Mode::Tcp => "tcp",
            Mode::Tls => "tls",
            Mode::WebSocket => "websocket",
        }
    }

    /// The node's listener service name for this mode.
    fn service(self) -> &'static str {
        match self {
            Mode::Tcp => "cti",
            Mode::Tls | Mode::WebSocket => "cti-tls",
        }
    }
}

/// Runs the console; prints `error: …` and returns a failure status if it cannot open the
/// provider or loses the connection.
pub async fn run(connect: &ConnectArgs, args: CtiArgs, utc_offset: Option<UtcOffset>) -> ExitCode {
    match session(connect, args, utc_offset).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            eprintln!("error: {err}");
            ExitCode::from(err.exit_status())
        }
    }
}

fn client_error(e: ClientError) -> CliError {
    CliError::Local(e.to_string())
}

/// The certificate(s) to trust for TLS: `--ca`, else the local node's `certs/tomcat.pem`.
fn trust_pem(connect: &ConnectArgs) -> Result<String, CliError> {
    let path = connect
        .ca
        .clone()
        .unwrap_or_else(|| connect.data_dir.join("certs").join("tomcat.pem"));
    std::fs::read_to_string(&path).map_err(|e| {
        CliError::Usage(format!(
            "cannot read the certificate to trust, {}: {e} (give --ca <pem-file>: the node's \
             certs/tomcat.pem or its CA)",
            path.display()
        ))
    })
}

async fn socket_addr(host: &str, port: u16) -> Result<SocketAddr, CliError> {
    let shown = console::authority(host, port);
    tokio::net::lookup_host((host, port))
        .await
        .map_err(|e| CliError::Local(format!("cannot resolve {shown}: {e}")))?
        .next()
        .ok_or_else(|| CliError::Local(format!("cannot resolve {shown}: no address")))
}

/// The target for a CTI address: `host` for TLS names the certificate's host.
async fn target_for(
    connect: &ConnectArgs,
    mode: Mode,
    connect_host: &str,
    port: u16,
    tls_name: &str,
) -> Result<Target, CliError> {
    Ok(match mode {
        Mode::Tcp => Target::Plain(socket_addr(connect_host, port).await?),
        Mode::Tls => Target::Tls {
            addr: socket_addr(connect_host, port).await?,
            server_name: tls_name.to_owned(),
            trust_pem: trust_pem(connect)?,
        },
        Mode::WebSocket => Target::WebSocket {
            url: format!("wss://{}/cti", console::authority(tls_name, port)),
            trust_pem: trust_pem(connect)?,
        },
    })
}

/// Where the CTI Manager is: `--server HOST:PORT` as given; else the node found as the
/// admin verbs find it (its listeners from `GET /api/ports`, its HTTPS URL for WebSocket);
/// else the default ports on 127.0.0.1.
async fn resolve_target(connect: &ConnectArgs, mode: Mode) -> Result<(Target, String), CliError> {
    let server = connect
        .server
        .as_deref()
        .map(str::trim)
        .filter(|s| !s.is_empty());
    if let Some(server) = server.filter(|s| !s.contains("://")) {
        let (host, port) =
            console::split_host_port(server, mode.default_port()).map_err(CliError::Usage)?;
        let target = target_for(connect, mode, &host, port, &host).await?;
        return Ok((target, console::authority(&host, port)));
    }
    let fallback = |why: String| {
        eprintln!("note: {why}; trying 127.0.0.1:{}", mode.default_port());
        (
            "127.0.0.1".to_string(),
            mode.default_port(),
            "127.0.0.1".to_string(),
        )
    };
    let (host, port, tls_name) = match resolve(connect) {
        Err(e) if server.is_some() => return Err(e),
        Err(e) => fallback(e.to_string()),
        Ok(endpoint) => {
            let node_host = reqwest::Url::parse(&endpoint.url)
                .ok()
                .and_then(|u| u.host_str().map(|h| h.trim_matches(['[', ']']).to_owned()))
                .unwrap_or_else(|| "127.0.0.1".into());
            if mode == Mode::WebSocket {
                let url = console::websocket_url(&endpoint.url).map_err(CliError::Usage)?;
                let target = Target::WebSocket {
                    url: url.clone(),
                    trust_pem: trust_pem(connect)?,
                };
                return Ok((target, url));
            }
            match listeners(&endpoint).await {
                Ok(listeners) => {
                    match console::listener_address(&listeners, mode.service(), &node_host) {
                        Some((host, port)) => (host, port, node_host),
                        None => fallback(format!(
                            "the node at {} has no {} listener",
                            endpoint.url,
                            mode.service()
                        )),
                    }
                }
                Err(e) => fallback(format!("cannot ask the node for its CTI ports: {e}")),
            }
        }
    };
    let target = target_for(connect, mode, &host, port, &tls_name).await?;
    Ok((target, console::authority(&host, port)))
}

/// The node's listeners as `(service, address)`.
async fn listeners(
    endpoint: &crate::admin::client::Endpoint,
) -> Result<Vec<(String, String)>, CliError> {
    #[derive(serde::Deserialize)]
    struct Answer {
        listeners: Vec<crate::admin::ports::Listener>,
    }
    let client = Client::new(endpoint, false)?;
    let answer = client.get(&["ports"]).await?.unwrap_or_default();
    let answer: Answer = crate::admin::client::decode(answer)?;
    Ok(answer
        .listeners
        .into_iter()
        .map(|l| (l.service, l.address))
        .collect())
}

/// Prints messages as they come, from the client's background task.
fn printer(json: bool, utc_offset: Option<UtcOffset>) -> switchboard_cti_client::Tap {
    Arc::new(move |direction: Direction, message: &Message| {
        if !console::shown(message) {
            return;
        }
        let line = if json {
            match console::json_line(direction, message) {
                Some(line) => line,
                None => return,
            }
        } else {
            let now = time::OffsetDateTime::now_utc();
            let now = utc_offset.map_or(now, |o| now.to_offset(o));
            console::message_line(&console::clock(now), direction, message)
        };
        let mut out = std::io::stdout().lock();
        // A closed pipe (`| head`) is not worth a panic.
        let _ = writeln!(out, "{line}");
        let _ = out.flush();
    })
}

/// Standard input, line by line, from a thread of its own (so that exiting never waits for
/// a read); the channel closes at the end of input.
fn stdin_lines() -> mpsc::Receiver<String> {
    let (tx, rx) = mpsc::channel(16);
    std::thread::spawn(move || {
        let stdin = std::io::stdin();
        let mut line = String::new();
        loop {
            line.clear();
            match stdin.read_line(&mut line) {
                Ok(0) | Err(_) => break,
                Ok(_) => {
                    if tx.blocking_send(line.trim_end().to_owned()).is_err() {
                        break;
                    }
                }
            }
        }
    });
    rx
}

/// What a request's failure means for the session: an error the server answered (shown by
/// the printer already) or a timeout, and the session goes on; anything else ends it.
fn request_outcome<T>(result: Result<T, ClientError>) -> Result<(), CliError> {
    match result {
        Ok(_) | Err(ClientError::Cti { .. }) => Ok(()),
        Err(ClientError::Timeout) => {
            eprintln!("warning: no answer in time");
            Ok(())
        }
        Err(e) => Err(client_error(e)),
    }
}

/// Sends one call command's request (the printer shows its answer).
async fn call_command(
    client: &mut CtiClient,
    handle: u32,
    call: u64,
    verb: CallVerb,
) -> Result<(), CliError> {
    match verb {
        CallVerb::Answer => request_outcome(client.answer(handle, call).await),
        CallVerb::Drop => request_outcome(client.drop_call(handle, call).await),
        CallVerb::Hold => request_outcome(client.hold(handle, call).await),
        CallVerb::Retrieve => request_outcome(client.retrieve(handle, call).await),
        CallVerb::Transfer(to) => request_outcome(client.blind_transfer(handle, call, &to).await),
        CallVerb::Consult(to) => request_outcome(client.consult_transfer(handle, call, &to).await),
        CallVerb::Complete(consult) => {
            request_outcome(client.transfer_complete(handle, call, consult).await)
        }
        CallVerb::Dtmf(digits) => request_outcome(client.send_dtmf(handle, call, &digits).await),
        CallVerb::Redirect(to) => request_outcome(client.redirect(handle, call, &to).await),
    }
}

async fn session(
    connect: &ConnectArgs,
    args: CtiArgs,
    utc_offset: Option<UtcOffset>,
) -> Result<(), CliError> {
    let json = connect.json;
    let mode = Mode::of(&args);
    let credentials = match &args.access_token {
        Some(token) => switchboard_cti_client::Credentials::Token(token.clone()),
        None => switchboard_cti_client::Credentials::Password(crate::admin::oauth::password(
            &args.user,
            args.password_stdin,
        )?),
    };
    let (target, shown) = resolve_target(connect, mode).await?;
    if !json {
        eprintln!("connecting to {shown} ({})", mode.label());
    }
    let mut client = CtiClient::connect(target)
        .await
        .map_err(|e| CliError::Local(format!("cannot connect to {shown}: {e}")))?;
    // What the console saw (opened devices, live calls), to fill in the device of a command.
    let tracker = Arc::new(std::sync::Mutex::new(Tracker::default()));
    let print = printer(json, utc_offset);
    let seen = tracker.clone();
    client.set_tap(Some(Arc::new(
        move |direction: Direction, message: &Message| {
            if direction == Direction::Received {
                seen.lock()
                    .unwrap_or_else(|p| p.into_inner())
                    .observe(message);
            }
            print(direction, message)
        },
    )));
    let options = ProviderOptions {
        login: args.user.clone(),
        credentials,
        application: args.application.clone(),
        heartbeat_s: args.heartbeat,
        timer_s: 10,
        sealed: None,
    };
    client.open_provider(options).await.map_err(client_error)?;
    for device in &args.devices {
        request_outcome(client.open_device(device, ALL_DEVICE_EVENTS).await)?;
    }
    if !json {
        eprintln!("type help for the commands");
    }
    let mut input = stdin_lines();
    loop {
        tokio::select! {
            line = input.recv() => {
                let command = match line {
                    None => ConsoleCommand::Quit,
                    Some(line) => match console::parse_command(&line) {
                        Ok(command) => command,
                        Err(e) => {
                            eprintln!("{e}");
                            continue;
                        }
                    },
                };
                match command {
                    ConsoleCommand::Nothing => {}
                    ConsoleCommand::Help => {
                        if json {
                            eprintln!("{}", console::HELP);
                        } else {
                            println!("{}", console::HELP);
                        }
                    }
                    ConsoleCommand::Open(device) => {
                        request_outcome(client.open_device(&device, ALL_DEVICE_EVENTS).await)?
                    }
                    ConsoleCommand::Close(handle) => {
                        request_outcome(client.close_device(handle).await)?
                    }
                    ConsoleCommand::Line(handle, dn) => {
                        request_outcome(client.open_line(handle, &dn).await)?
                    }
                    ConsoleCommand::MakeCall { device, destination, line } => {
                        let handle = tracker.lock().unwrap_or_else(|p| p.into_inner()).device(&device);
                        match handle {
                            Err(e) => eprintln!("{e}"),
                            Ok(h) => request_outcome(
                                client.make_call(h, &destination, line.as_deref()).await,
                            )?,
                        }
                    }
                    ConsoleCommand::Call { verb, call, handle } => {
                        let device = tracker
                            .lock()
                            .unwrap_or_else(|p| p.into_inner())
                            .call_device(call, handle);
                        match device {
                            Err(e) => eprintln!("{e}"),
                            Ok(h) => call_command(&mut client, h, call, verb).await?,
                        }
                    }
                    ConsoleCommand::Quit => {
                        return match client.close_provider().await {
                            Ok(()) | Err(ClientError::Closed(None)) => Ok(()),
                            Err(e) => Err(client_error(e)),
                        };
                    }
                }
            }
            event = client.next_event() => match event {
                // The printer has shown it.
                Some(Ok(_)) => {}
                Some(Err(e)) if client.is_closed() => return Err(client_error(e)),
                Some(Err(e)) => eprintln!("warning: {e}"),
                None => return Err(client_error(ClientError::Closed(client.last_connection_error()))),
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::{CommandFactory, Parser};

    #[derive(Parser, Debug)]
    #[command(name = "switchboard")]
    struct TestCli {
        #[command(flatten)]
        connect: ConnectArgs,
        #[command(subcommand)]
        command: TestCommand,
    }

    #[derive(clap::Subcommand, Debug)]
    enum TestCommand {
        Cti(CtiArgs),
    }

    fn parse(args: &[&str]) -> Result<TestCli, clap::Error> {
        TestCli::try_parse_from(std::iter::once("switchboard").chain(args.iter().copied()))
    }

    #[test]
    fn command_is_well_formed() {
        TestCli::command().debug_assert();
    }

    #[test]
    fn flags() {
        let cli = parse(&[
            "cti",
            "--user",
            "wwhite",
            "--device",
            "SEP001794625DE5",
            "--device",
            "SEP001794625DE6",
            "--server",
            "10.0.0.5:2749",
            "--tls",
            "--json",
            "--heartbeat",
            "60",
        ])
        .unwrap();
        let TestCommand::Cti(args) = cli.command;
        assert_eq!(args.user, "wwhite");
        assert_eq!(args.devices, ["SEP001794625DE5", "SEP001794625DE6"]);
        assert_eq!(Mode::of(&args), Mode::Tls);
        assert_eq!(args.heartbeat, 60);
        assert_eq!(args.application, "switchboard cti");
        assert!(cli.connect.json);
        assert_eq!(cli.connect.server.as_deref(), Some("10.0.0.5:2749"));
        assert!(parse(&["cti"]).is_err(), "--user is required");
        assert!(parse(&["cti", "--user", "u", "--tls", "--websocket"]).is_err());
        assert!(parse(&[
            "cti",
            "--user",
            "u",
            "--access-token",
            "t",
            "--password-stdin"
        ])
        .is_err());
    }

    #[test]
    fn modes() {
        assert_eq!(Mode::Tcp.default_port(), 2748);
        assert_eq!(Mode::Tls.default_port(), 2749);
        assert_eq!(Mode::Tcp.service(), "cti");
        assert_eq!(Mode::Tls.service(), "cti-tls");
    }

    fn connect_args(dir: &std::path::Path, server: Option<&str>) -> ConnectArgs {
        ConnectArgs {
            data_dir: dir.to_path_buf(),
            server: server.map(str::to_owned),
            token: None,
            ca: None,
            json: false,
        }
    }

    #[tokio::test]
    async fn direct_server_and_fallback() {
        let dir = std::env::temp_dir().join(format!("switchboard-cti-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        // --server HOST:PORT: as given, no node needed.
        let (target, shown) =
            resolve_target(&connect_args(&dir, Some("127.0.0.1:12748")), Mode::Tcp)
                .await
                .unwrap();
        assert_eq!(shown, "127.0.0.1:12748");
        assert!(matches!(target, Target::Plain(a) if a == "127.0.0.1:12748".parse().unwrap()));
        // TLS needs something to trust.
        let err = resolve_target(&connect_args(&dir, Some("127.0.0.1")), Mode::Tls)
            .await
            .unwrap_err();
        assert!(err.to_string().contains("--ca"), "{err}");
        std::fs::create_dir_all(dir.join("certs")).unwrap();
        std::fs::write(dir.join("certs/tomcat.pem"), "PEM").unwrap();
        let (target, shown) =
            resolve_target(&connect_args(&dir, Some("localhost")), Mode::WebSocket)
                .await
                .unwrap();
        assert_eq!(shown, "localhost:8443");
        assert!(
            matches!(&target, Target::WebSocket { url, trust_pem } if url == "wss://localhost:8443/cti" && trust_pem == "PEM"),
            "{target:?}"
        );
        // No node in the data directory and no --server: the default port on loopback.
        let (target, shown) = resolve_target(&connect_args(&dir, None), Mode::Tcp)
            .await
            .unwrap();
        assert_eq!(shown, "127.0.0.1:2748");
        assert!(matches!(target, Target::Plain(_)));
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
