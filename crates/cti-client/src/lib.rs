//! Async (tokio) client of Switchboard's CTI Manager, the protocol of
//! `docs/cti-protocol.md` (messages and framing from [`switchboard_cti_proto`]).
//!
//! It is what the integration tests, the CTI benchmark and the `switchboard cti` console
//! talk to the server with: it connects over any of the three transports, opens a provider
//! (sealing the password with HPKE on the plain port; offering protocol versions 2 and 1),
//! opens devices and lines, drives calls (the version-2 call requests: [`CtiClient::make_call`],
//! [`CtiClient::answer`], … one typed method each) and hands out the events (device and
//! call events alike, as [`Message`]s). For hostile tests it can also send raw bytes, stop reading the socket
//! (a slow consumer) and stop sending heartbeats.
//!
//! # Model
//!
//! [`CtiClient::connect`] spawns one background task that owns the socket. It writes what
//! the client sends, reads what the server sends, routes each response to the request
//! waiting for its `seq` (the client numbers requests 1, 2, 3 …), swallows `Heartbeat`s, and
//! passes everything else — events, connection-level `ErrorResponse`s (no `seq`), responses
//! nobody waits for — to the event queue read by [`CtiClient::next_event`]. Once the
//! provider is open it sends a `Heartbeat` whenever it has sent nothing for the negotiated
//! `heartbeat_s`, and ends the connection with [`ClientError::Timeout`] when the server
//! stays silent for `heartbeat_s + timer_s`.
//!
//! Everything is bounded: frames of at most 64 KiB ([`switchboard_cti_proto::MAX_FRAME_LEN`]),
//! an event channel of 1024 messages (when it is full the task stops reading the socket,
//! and the server sees a slow consumer), and at most [`MAX_QUEUED_EVENTS`] events set
//! aside while a request waits for its response.
//!
//! # Example
//!
//! ```no_run
//! # async fn demo() -> Result<(), switchboard_cti_client::ClientError> {
//! use switchboard_cti_client::*;
//!
//! let mut cti = CtiClient::connect(Target::Plain("127.0.0.1:2748".parse().unwrap())).await?;
//! let provider = cti
//!     .open_provider(ProviderOptions::password("wwhite", "Heisenb3"))
//!     .await?;
//! println!("provider {} open, flags {:?}", provider.provider_id, provider.flags);
//! let device = cti.open_device("SEP001794625DE5", DEVICE_STATE_EVENTS).await?;
//! while let Some(event) = cti.next_event().await {
//!     println!("{:?}", event?);
//! }
//! # let _ = device;
//! # Ok(()) }
//! ```

#![warn(missing_docs)]

mod error;
mod task;
mod transport;

use std::collections::VecDeque;
use std::sync::Arc;
use std::time::Duration;

use rand::rngs::OsRng;
pub use switchboard_cti_proto::{self as proto, CtiFlags, ErrorName, EventFilter, Message};
use switchboard_cti_proto::{
    encode_message, seal, Auth, DeviceCloseRequest, DeviceCloseResponse, DeviceOpenRequest,
    DeviceOpenResponse, Kind, LineOpenRequest, LineOpenResponse, ProviderAuthenticateRequest,
    ProviderCloseRequest, ProviderOpenRequest, MAX_FRAME_LEN, SUPPORTED_VERSIONS,
};
use switchboard_cti_proto::{
    AnswerRequest, AnswerResponse, BlindTransferRequest, BlindTransferResponse, CallId,
    ConsultTransferRequest, ConsultTransferResponse, DropRequest, DropResponse, HoldRequest,
    HoldResponse, MakeCallRequest, MakeCallResponse, RedirectRequest, RedirectResponse,
    RetrieveRequest, RetrieveResponse, SendDtmfRequest, SendDtmfResponse, TransferCompleteRequest,
    TransferCompleteResponse,
};
use tokio::sync::{mpsc, oneshot, watch};
use tokio::task::JoinHandle;
use tokio::time::Instant;

pub use error::ClientError;
pub use task::{Direction, Tap};
pub use transport::{tls_client_config, RawFrame, Target, Transport, CONNECT_TIMEOUT};

use task::{Command, Flags, Item, Shared, Task};

/// `client_version` sent in `ProviderOpenRequest`.
pub const CLIENT_VERSION: &str = concat!("switchboard-cti-client/", env!("CARGO_PKG_VERSION"));

/// Default time a request (or the provider open) may wait for its answer.
pub const DEFAULT_REQUEST_TIMEOUT: Duration = Duration::from_secs(30);

/// Most events set aside while a request waits for its response; beyond it they stay in the
/// channel (and the socket is no longer read) until the caller reads events.
pub const MAX_QUEUED_EVENTS: usize = 16 * 1024;

/// A filter for [`CtiClient::open_device`]: in/out of service events (`device_state`), no
/// call events.
pub const DEVICE_STATE_EVENTS: EventFilter = EventFilter {
    device_state: true,
    call_state: false,
};

/// A filter for [`CtiClient::open_device`]: in/out of service events and the device's call
/// events (`NewCallEvent`, `CallStateChangedEvent`, `CallEndedEvent`; protocol version 2).
pub const ALL_DEVICE_EVENTS: EventFilter = EventFilter {
    device_state: true,
    call_state: true,
};

/// How the user proves who they are.
#[derive(Clone, PartialEq, Eq)]
pub enum Credentials {
    /// A password: sealed to the node's CTI key, or inside TLS (see [`ProviderOptions::sealed`]).
    Password(String),
    /// An OAuth access token from the node's authorization server.
    Token(String),
}

impl std::fmt::Debug for Credentials {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Credentials::Password(_) => f.write_str("Password(…)"),
            Credentials::Token(_) => f.write_str("Token(…)"),
        }
    }
}

/// What [`CtiClient::open_provider`] asks for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProviderOptions {
    /// The user id.
    pub login: String,
    /// Password or access token.
    pub credentials: Credentials,
    /// Application name (traced by the server).
    pub application: String,
    /// Proposed heartbeat interval, seconds (the server clamps it to 5…300).
    pub heartbeat_s: u32,
    /// Proposed grace after a missed heartbeat, seconds (the server clamps it to 5…60).
    pub timer_s: u32,
    /// For a password: `Some(true)` seals it (`sealed_password` + HPKE),
    /// `Some(false)` sends it as `password`. `None`: sealed on plain TCP and `ws://`,
    /// cleartext inside TLS and `wss://`.
    pub sealed: Option<bool>,
}

impl ProviderOptions {
    /// Password login with the defaults (application `switchboard-cti-client`, heartbeat
    /// 30 s, timer 10 s, sealed on unencrypted transports).
    pub fn password(login: impl Into<String>, password: impl Into<String>) -> Self {
        Self::new(login, Credentials::Password(password.into()))
    }

    /// OAuth access-token login with the defaults.
    pub fn token(login: impl Into<String>, access_token: impl Into<String>) -> Self {
        Self::new(login, Credentials::Token(access_token.into()))
    }

    fn new(login: impl Into<String>, credentials: Credentials) -> Self {
        ProviderOptions {
            login: login.into(),
            credentials,
            application: "switchboard-cti-client".into(),
            heartbeat_s: 30,
            timer_s: 10,
            sealed: None,
        }
    }
}

/// An open provider: `ProviderOpenResponse` and `ProviderOpenCompletedEvent` together.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OpenedProvider {
    /// The provider id.
    pub provider_id: u32,
    /// The negotiated protocol version.
    pub protocol_version: u32,
    /// The heartbeat interval the server enforces, seconds.
    pub heartbeat_s: u32,
    /// The grace the server allows after a missed heartbeat, seconds.
    pub timer_s: u32,
    /// The authenticated user.
    pub user_id: String,
    /// The user's CTI flags.
    pub flags: CtiFlags,
}

/// A connection to the CTI Manager. See the [crate documentation](crate).
pub struct CtiClient {
    commands: mpsc::Sender<Command>,
    events: mpsc::Receiver<Item>,
    /// Events read while a request waited, handed out first by `next_event`.
    queue: VecDeque<Item>,
    /// The channel has said its last word (`None`).
    events_done: bool,
    flags: watch::Sender<Flags>,
    shared: Arc<Shared>,
    task: JoinHandle<()>,
    transport: Transport,
    next_seq: u32,
    request_timeout: Duration,
}

impl Drop for CtiClient {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl std::fmt::Debug for CtiClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CtiClient")
            .field("transport", &self.transport)
            .field("next_seq", &self.next_seq)
            .field("closed", &self.shared.is_closed())
            .finish_non_exhaustive()
    }
}

impl CtiClient {
    /// Connects (TCP, then TLS and the WebSocket upgrade as the target needs; at most
    /// [`CONNECT_TIMEOUT`]) and starts the background task. No message is sent yet.
    pub async fn connect(target: Target) -> Result<CtiClient, ClientError> {
        let (conn, transport) = transport::connect(&target).await?;
        let (commands, commands_rx) = mpsc::channel(task::COMMAND_CHANNEL);
        let (events_tx, events) = mpsc::channel(task::EVENT_CHANNEL);
        let (flags, flags_rx) = watch::channel(Flags {
            reading: true,
            heartbeats: true,
        });
        let shared = Arc::new(Shared::default());
        let task = tokio::spawn(
            Task {
                conn,
                commands: commands_rx,
                flags: flags_rx,
                shared: shared.clone(),
            }
            .run(events_tx),
        );
        Ok(CtiClient {
            commands,
            events,
            queue: VecDeque::new(),
            events_done: false,
            flags,
            shared,
            task,
            transport,
            next_seq: 1,
            request_timeout: DEFAULT_REQUEST_TIMEOUT,
        })
    }

    /// The transport this client is connected over.
    pub fn transport(&self) -> Transport {
        self.transport
    }

    /// How long a request (and the provider open) may wait for its answer
    /// ([`DEFAULT_REQUEST_TIMEOUT`] unless changed).
    pub fn set_request_timeout(&mut self, timeout: Duration) {
        self.request_timeout = timeout;
    }

    /// Calls `tap` for every message sent and received from now on (heartbeats included,
    /// raw frames not), from the background task; `None` removes it. For consoles and
    /// test diagnostics.
    pub fn set_tap(&self, tap: Option<Tap>) {
        *self.shared.tap.lock().unwrap_or_else(|e| e.into_inner()) = tap;
    }

    /// The `seq` the next request will carry.
    pub fn next_seq(&self) -> u32 {
        self.next_seq
    }

    /// Whether the connection has ended.
    pub fn is_closed(&self) -> bool {
        self.shared.is_closed()
    }

    /// The last connection-level `ErrorResponse` (no `seq`) the server sent, e.g.
    /// `HEARTBEAT_TIMEOUT` before it closed the connection.
    pub fn last_connection_error(&self) -> Option<ErrorName> {
        self.shared.last_error()
    }

    /// Stops reading the socket: what the server sends piles up in the kernel buffers and
    /// then in the server's queue (`SLOW_CONSUMER` tests). Heartbeats are still sent.
    pub fn pause_reading(&self) {
        self.flags.send_modify(|f| f.reading = false);
    }

    /// Reads the socket again after [`CtiClient::pause_reading`].
    pub fn resume_reading(&self) {
        self.flags.send_modify(|f| f.reading = true);
    }

    /// Stops sending heartbeats (`HEARTBEAT_TIMEOUT` tests). Requests still go out.
    pub fn disable_heartbeats(&self) {
        self.flags.send_modify(|f| f.heartbeats = false);
    }

    /// Sends heartbeats again after [`CtiClient::disable_heartbeats`].
    pub fn enable_heartbeats(&self) {
        self.flags.send_modify(|f| f.heartbeats = true);
    }

    fn closed_error(&self) -> ClientError {
        ClientError::Closed(self.shared.last_error())
    }

    fn take_seq(&mut self) -> u32 {
        let seq = self.next_seq;
        self.next_seq = self.next_seq.wrapping_add(1).max(1);
        seq
    }

    async fn command(&mut self, command: Command) -> Result<(), ClientError> {
        // Bounded channel; the task serves commands even while the event channel is full,
        // but not while a write of its own is stuck (a server that does not read).
        match tokio::time::timeout(self.request_timeout, self.commands.send(command)).await {
            Ok(Ok(())) => Ok(()),
            Ok(Err(_)) => Err(self.closed_error()),
            Err(_) => Err(ClientError::Timeout),
        }
    }

    /// Waits for `rx` at most the request timeout, setting events aside meanwhile (so that
    /// a full event channel cannot hold the response back).
    async fn wait<T>(&mut self, mut rx: oneshot::Receiver<T>) -> Result<T, ClientError> {
        let deadline = Instant::now() + self.request_timeout;
        loop {
            let can_drain = !self.events_done && self.queue.len() < MAX_QUEUED_EVENTS;
            tokio::select! {
                biased;
                answer = &mut rx => return answer.map_err(|_| self.closed_error()),
                event = self.events.recv(), if can_drain => match event {
                    Some(event) => self.queue.push_back(event),
                    None => self.events_done = true,
                },
                () = tokio::time::sleep_until(deadline) => return Err(ClientError::Timeout),
            }
        }
    }

    /// Sends a request built by `build` from the `seq` the client chose, and waits for its
    /// response. An `ErrorResponse` becomes [`ClientError::Cti`]. The message must be a
    /// request carrying that `seq` and fit in 64 KiB (else [`ClientError::Protocol`], nothing
    /// sent). Events arriving meanwhile stay queued for [`CtiClient::next_event`].
    ///
    /// ```no_run
    /// # async fn demo(cti: &mut switchboard_cti_client::CtiClient) {
    /// use switchboard_cti_client::proto::{DeviceCloseRequest, Message};
    /// let answer = cti
    ///     .request(|seq| DeviceCloseRequest { seq, device_handle: 38 }.into())
    ///     .await;
    /// # }
    /// ```
    pub async fn request(
        &mut self,
        build: impl FnOnce(u32) -> Message,
    ) -> Result<Message, ClientError> {
        let seq = self.take_seq();
        let message = build(seq);
        if message.kind() != Kind::Request || message.seq() != Some(seq) {
            return Err(ClientError::Protocol(format!(
                "request() needs a request carrying seq {seq}, got {} with seq {:?} \
                 (use send_raw_message for anything else)",
                message.name(),
                message.seq()
            )));
        }
        let len = encode_message(&message).len();
        if len > MAX_FRAME_LEN {
            return Err(ClientError::Protocol(format!(
                "{} of {len} bytes exceeds the {MAX_FRAME_LEN}-byte limit",
                message.name()
            )));
        }
        let (reply, answer) = oneshot::channel();
        self.command(Command::Send {
            message,
            waiter: Some((seq, reply)),
            written: None,
        })
        .await?;
        match self.wait(answer).await?? {
            Message::ErrorResponse(e) => Err(ClientError::Cti {
                error: e.error,
                message: e.message,
            }),
            answer => Ok(answer),
        }
    }

    /// Writes any message as it is (its `seq`, if any, untouched; no size check) and returns
    /// once it is written. No one waits for an answer: a response to it arrives through
    /// [`CtiClient::next_event`].
    pub async fn send_raw_message(&mut self, message: Message) -> Result<(), ClientError> {
        let (written, done) = oneshot::channel();
        self.command(Command::Send {
            message,
            waiter: None,
            written: Some(written),
        })
        .await?;
        self.wait(done).await?
    }

    /// Writes a raw frame (see [`RawFrame`]: bytes as they are, or a text/binary frame) and
    /// returns once it is written.
    pub async fn send_raw_frame(&mut self, frame: RawFrame) -> Result<(), ClientError> {
        let (written, done) = oneshot::channel();
        self.command(Command::Raw { frame, written }).await?;
        self.wait(done).await?
    }

    /// The next event (or unsolicited message: a connection-level `ErrorResponse`, a response
    /// nobody waited for, `Err(Protocol)` for a frame that is not a message). When the
    /// connection ends: one `Err` saying why (`Closed(name)`, `Io`, `Protocol`, `Timeout`),
    /// then `None`. Cancel-safe.
    pub async fn next_event(&mut self) -> Option<Result<Message, ClientError>> {
        let item = match self.queue.pop_front() {
            Some(item) => Some(item),
            None if self.events_done => None,
            None => self.events.recv().await,
        };
        self.unwrap_item(item)
    }

    fn unwrap_item(&mut self, item: Option<Item>) -> Option<Result<Message, ClientError>> {
        match item {
            Some(Item::Event(event)) => Some(event),
            Some(Item::End(why)) => {
                self.events_done = true;
                Some(Err(why))
            }
            None => {
                self.events_done = true;
                None
            }
        }
    }

    /// The next event within `timeout`: [`ClientError::Timeout`] if none came, and once the
    /// connection has ended and its reason was handed out, `Closed`.
    pub async fn next_event_timeout(&mut self, timeout: Duration) -> Result<Message, ClientError> {
        match tokio::time::timeout(timeout, self.next_event()).await {
            Err(_) => Err(ClientError::Timeout),
            Ok(None) => Err(self.closed_error()),
            Ok(Some(event)) => event,
        }
    }

    /// An event already received, without waiting.
    pub fn try_next_event(&mut self) -> Option<Result<Message, ClientError>> {
        let item = match self.queue.pop_front() {
            Some(item) => Some(item),
            None if self.events_done => None,
            None => match self.events.try_recv() {
                Ok(item) => Some(item),
                Err(mpsc::error::TryRecvError::Empty) => return None,
                Err(mpsc::error::TryRecvError::Disconnected) => None,
            },
        };
        self.unwrap_item(item)
    }

    /// Opens the provider: `ProviderOpenRequest` → `ProviderOpenResponse` → (sealed password:
    /// `ProviderAuthenticateRequest` → `ProviderAuthenticateResponse`) → waits for
    /// `ProviderOpenCompletedEvent` ([`OpenedProvider`]) or `ProviderOpenFailedEvent`
    /// ([`ClientError::OpenFailed`]). Other events arriving meanwhile stay queued.
    pub async fn open_provider(
        &mut self,
        options: ProviderOptions,
    ) -> Result<OpenedProvider, ClientError> {
        let sealed = options.sealed.unwrap_or(!self.transport.is_encrypted());
        let (auth, sealed_password) = match &options.credentials {
            Credentials::Token(token) => (
                Auth::Oauth {
                    access_token: token.clone(),
                },
                None,
            ),
            Credentials::Password(password) if sealed => {
                (Auth::SealedPassword {}, Some(password.as_str()))
            }
            Credentials::Password(password) => (
                Auth::Password {
                    password: password.clone(),
                },
                None,
            ),
        };
        let answer = self
            .request(|seq| {
                ProviderOpenRequest {
                    seq,
                    protocol_versions: SUPPORTED_VERSIONS.to_vec(),
                    login: options.login.clone(),
                    auth,
                    application: options.application.clone(),
                    client_version: CLIENT_VERSION.into(),
                    heartbeat_s: options.heartbeat_s,
                    timer_s: options.timer_s,
                }
                .into()
            })
            .await?;
        let Message::ProviderOpenResponse(open) = answer else {
            return Err(unexpected("ProviderOpenResponse", &answer));
        };
        if let Some(password) = sealed_password {
            let (Some(nonce), Some(key)) = (&open.nonce, &open.cti_public_key) else {
                return Err(ClientError::Protocol(
                    "ProviderOpenResponse to a sealed_password open lacks nonce or cti_public_key"
                        .into(),
                ));
            };
            let sealed = seal::seal_password(key, &options.login, nonce, password, &mut OsRng)
                .map_err(|e| ClientError::Protocol(format!("cannot seal the password: {e}")))?;
            let answer = self
                .request(|seq| {
                    ProviderAuthenticateRequest {
                        seq,
                        sealed_password: sealed,
                    }
                    .into()
                })
                .await?;
            if !matches!(answer, Message::ProviderAuthenticateResponse(_)) {
                return Err(unexpected("ProviderAuthenticateResponse", &answer));
            }
        }
        let completed = self.wait_open_outcome().await?;
        if completed.provider_id != open.provider_id {
            return Err(ClientError::Protocol(format!(
                "ProviderOpenCompletedEvent for provider {} after ProviderOpenResponse {}",
                completed.provider_id, open.provider_id
            )));
        }
        Ok(OpenedProvider {
            provider_id: open.provider_id,
            protocol_version: open.protocol_version,
            heartbeat_s: open.heartbeat_s,
            timer_s: open.timer_s,
            user_id: completed.user_id,
            flags: completed.flags,
        })
    }

    /// The `ProviderOpenCompletedEvent` (or the failure), leaving other events queued in
    /// their order.
    async fn wait_open_outcome(
        &mut self,
    ) -> Result<proto::ProviderOpenCompletedEvent, ClientError> {
        let deadline = Instant::now() + self.request_timeout;
        let mut earlier = std::mem::take(&mut self.queue);
        let mut kept = VecDeque::new();
        let outcome = loop {
            let item = match earlier.pop_front() {
                Some(item) => Some(item),
                None if self.events_done => None,
                None => match tokio::time::timeout_at(deadline, self.events.recv()).await {
                    Ok(item) => item,
                    Err(_) => break Err(ClientError::Timeout),
                },
            };
            match item {
                None => {
                    self.events_done = true;
                    break Err(self.closed_error());
                }
                Some(Item::End(why)) => {
                    self.events_done = true;
                    break Err(why);
                }
                Some(Item::Event(Ok(Message::ProviderOpenCompletedEvent(done)))) => break Ok(done),
                Some(Item::Event(Ok(Message::ProviderOpenFailedEvent(failed)))) => {
                    break Err(ClientError::OpenFailed {
                        reason: failed.reason,
                        message: failed.message,
                    })
                }
                Some(other) => kept.push_back(other),
            }
        };
        kept.append(&mut earlier);
        self.queue = kept;
        outcome
    }

    /// Opens a device (`DeviceOpenRequest`); its state at the time of the open is in the
    /// response, and a `DeviceInServiceEvent` follows if it is registered.
    pub async fn open_device(
        &mut self,
        device_name: &str,
        event_filter: EventFilter,
    ) -> Result<DeviceOpenResponse, ClientError> {
        let answer = self
            .request(|seq| {
                DeviceOpenRequest {
                    seq,
                    device_name: device_name.to_owned(),
                    event_filter,
                }
                .into()
            })
            .await?;
        match answer {
            Message::DeviceOpenResponse(r) => Ok(r),
            other => Err(unexpected("DeviceOpenResponse", &other)),
        }
    }

    /// Opens one line (directory number) of an open device.
    pub async fn open_line(
        &mut self,
        device_handle: u32,
        directory_number: &str,
    ) -> Result<LineOpenResponse, ClientError> {
        let answer = self
            .request(|seq| {
                LineOpenRequest {
                    seq,
                    device_handle,
                    directory_number: directory_number.to_owned(),
                }
                .into()
            })
            .await?;
        match answer {
            Message::LineOpenResponse(r) => Ok(r),
            other => Err(unexpected("LineOpenResponse", &other)),
        }
    }

    /// Closes a device and its lines.
    pub async fn close_device(
        &mut self,
        device_handle: u32,
    ) -> Result<DeviceCloseResponse, ClientError> {
        let answer = self
            .request(|seq| DeviceCloseRequest { seq, device_handle }.into())
            .await?;
        match answer {
            Message::DeviceCloseResponse(r) => Ok(r),
            other => Err(unexpected("DeviceCloseResponse", &other)),
        }
    }

    /// Sends a call request and returns its response, `expected` naming it.
    async fn call_request<T>(
        &mut self,
        build: impl FnOnce(u32) -> Message,
        expected: &str,
        extract: impl FnOnce(Message) -> Result<T, &'static str>,
    ) -> Result<T, ClientError> {
        let answer = self.request(build).await?;
        extract(answer)
            .map_err(|got| ClientError::Protocol(format!("expected {expected}, got {got}")))
    }

    /// Makes the device call `destination` (`MakeCallRequest`; from `directory_number`, or
    /// the device's first line). The response carries the new call's id; its events follow.
    pub async fn make_call(
        &mut self,
        device_handle: u32,
        destination: &str,
        directory_number: Option<&str>,
    ) -> Result<MakeCallResponse, ClientError> {
        self.call_request(
            |seq| {
                MakeCallRequest {
                    seq,
                    device_handle,
                    destination: destination.to_owned(),
                    directory_number: directory_number.map(str::to_owned),
                }
                .into()
            },
            "MakeCallResponse",
            |m| match m {
                Message::MakeCallResponse(r) => Ok(r),
                other => Err(other.name()),
            },
        )
        .await
    }

    /// Answers a call offered to the device (`AnswerRequest`).
    pub async fn answer(
        &mut self,
        device_handle: u32,
        call_id: CallId,
    ) -> Result<AnswerResponse, ClientError> {
        self.call_request(
            |seq| {
                AnswerRequest {
                    seq,
                    device_handle,
                    call_id,
                }
                .into()
            },
            "AnswerResponse",
            |m| match m {
                Message::AnswerResponse(r) => Ok(r),
                other => Err(other.name()),
            },
        )
        .await
    }

    /// Hangs up the device's side of a call (`DropRequest`).
    pub async fn drop_call(
        &mut self,
        device_handle: u32,
        call_id: CallId,
    ) -> Result<DropResponse, ClientError> {
        self.call_request(
            |seq| {
                DropRequest {
                    seq,
                    device_handle,
                    call_id,
                }
                .into()
            },
            "DropResponse",
            |m| match m {
                Message::DropResponse(r) => Ok(r),
                other => Err(other.name()),
            },
        )
        .await
    }

    /// Puts a call on hold (`HoldRequest`).
    pub async fn hold(
        &mut self,
        device_handle: u32,
        call_id: CallId,
    ) -> Result<HoldResponse, ClientError> {
        self.call_request(
            |seq| {
                HoldRequest {
                    seq,
                    device_handle,
                    call_id,
                }
                .into()
            },
            "HoldResponse",
            |m| match m {
                Message::HoldResponse(r) => Ok(r),
                other => Err(other.name()),
            },
        )
        .await
    }

    /// Takes a call off hold (`RetrieveRequest`).
    pub async fn retrieve(
        &mut self,
        device_handle: u32,
        call_id: CallId,
    ) -> Result<RetrieveResponse, ClientError> {
        self.call_request(
            |seq| {
                RetrieveRequest {
                    seq,
                    device_handle,
                    call_id,
                }
                .into()
            },
            "RetrieveResponse",
            |m| match m {
                Message::RetrieveResponse(r) => Ok(r),
                other => Err(other.name()),
            },
        )
        .await
    }

    /// Sends the far end of a call to `destination` (`BlindTransferRequest`).
    pub async fn blind_transfer(
        &mut self,
        device_handle: u32,
        call_id: CallId,
        destination: &str,
    ) -> Result<BlindTransferResponse, ClientError> {
        self.call_request(
            |seq| {
                BlindTransferRequest {
                    seq,
                    device_handle,
                    call_id,
                    destination: destination.to_owned(),
                }
                .into()
            },
            "BlindTransferResponse",
            |m| match m {
                Message::BlindTransferResponse(r) => Ok(r),
                other => Err(other.name()),
            },
        )
        .await
    }

    /// Holds a call and calls `destination` from the same device (`ConsultTransferRequest`);
    /// the response names the consultation call.
    pub async fn consult_transfer(
        &mut self,
        device_handle: u32,
        call_id: CallId,
        destination: &str,
    ) -> Result<ConsultTransferResponse, ClientError> {
        self.call_request(
            |seq| {
                ConsultTransferRequest {
                    seq,
                    device_handle,
                    call_id,
                    destination: destination.to_owned(),
                }
                .into()
            },
            "ConsultTransferResponse",
            |m| match m {
                Message::ConsultTransferResponse(r) => Ok(r),
                other => Err(other.name()),
            },
        )
        .await
    }

    /// Joins the far ends of a held call and its consultation call
    /// (`TransferCompleteRequest`).
    pub async fn transfer_complete(
        &mut self,
        device_handle: u32,
        call_id: CallId,
        consult_call_id: CallId,
    ) -> Result<TransferCompleteResponse, ClientError> {
        self.call_request(
            |seq| {
                TransferCompleteRequest {
                    seq,
                    device_handle,
                    call_id,
                    consult_call_id,
                }
                .into()
            },
            "TransferCompleteResponse",
            |m| match m {
                Message::TransferCompleteResponse(r) => Ok(r),
                other => Err(other.name()),
            },
        )
        .await
    }

    /// Sends DTMF digits to the far end of a call (`SendDtmfRequest`).
    pub async fn send_dtmf(
        &mut self,
        device_handle: u32,
        call_id: CallId,
        digits: &str,
    ) -> Result<SendDtmfResponse, ClientError> {
        self.call_request(
            |seq| {
                SendDtmfRequest {
                    seq,
                    device_handle,
                    call_id,
                    digits: digits.to_owned(),
                }
                .into()
            },
            "SendDtmfResponse",
            |m| match m {
                Message::SendDtmfResponse(r) => Ok(r),
                other => Err(other.name()),
            },
        )
        .await
    }

    /// Sends a call still alerting on the device on to `destination` (`RedirectRequest`).
    pub async fn redirect(
        &mut self,
        device_handle: u32,
        call_id: CallId,
        destination: &str,
    ) -> Result<RedirectResponse, ClientError> {
        self.call_request(
            |seq| {
                RedirectRequest {
                    seq,
                    device_handle,
                    call_id,
                    destination: destination.to_owned(),
                }
                .into()
            },
            "RedirectResponse",
            |m| match m {
                Message::RedirectResponse(r) => Ok(r),
                other => Err(other.name()),
            },
        )
        .await
    }

    /// Closes the provider (`ProviderCloseRequest` → `ProviderCloseResponse`); the server
    /// then releases everything and closes the connection.
    pub async fn close_provider(&mut self) -> Result<(), ClientError> {
        let answer = self
            .request(|seq| ProviderCloseRequest { seq }.into())
            .await?;
        match answer {
            Message::ProviderCloseResponse(_) => Ok(()),
            other => Err(unexpected("ProviderCloseResponse", &other)),
        }
    }

    /// Closes the connection politely (TCP FIN, TLS close_notify, WebSocket close) and waits
    /// for the background task to stop.
    pub async fn shutdown(self) {
        let (done, finished) = oneshot::channel();
        if self.commands.send(Command::Shutdown { done }).await.is_ok() {
            let _ = tokio::time::timeout(Duration::from_secs(5), finished).await;
        }
    }
}

fn unexpected(expected: &str, got: &Message) -> ClientError {
    ClientError::Protocol(format!("expected {expected}, got {}", got.name()))
}

#[cfg(test)]
mod tests;
