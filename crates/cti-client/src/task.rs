//! The background task that owns the socket: writes what the client sends, reads what the
//! server sends, routes responses to their waiting request by `seq` and everything else to
//! the event channel, sends heartbeats, and watches the server's.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use switchboard_cti_proto::{ErrorName, Heartbeat, Kind, Message};
use tokio::sync::{mpsc, oneshot, watch};
use tokio::time::Instant;

use crate::transport::{Conn, Incoming, RawFrame, ReadEnd};
use crate::ClientError;

/// Capacity of the event channel between the task and the client (the server's own
/// outgoing queue is 1024 messages by default).
pub(crate) const EVENT_CHANNEL: usize = 1024;

/// Capacity of the command channel from the client to the task.
pub(crate) const COMMAND_CHANNEL: usize = 64;

/// Which way a message went, for a [`crate::Tap`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Direction {
    /// Client → server.
    Sent,
    /// Server → client.
    Received,
}

/// Sees every message sent and received, heartbeats included, from the background task
/// (keep it quick: it runs between socket operations).
pub type Tap = Arc<dyn Fn(Direction, &Message) + Send + Sync>;

/// What the event channel carries: an event (or a frame that was not a message), then,
/// once, why the connection ended.
pub(crate) enum Item {
    Event(Result<Message, ClientError>),
    End(ClientError),
}

/// The answer to a request.
pub(crate) type Reply = oneshot::Sender<Result<Message, ClientError>>;

/// What the client asks the task to do.
pub(crate) enum Command {
    /// Write a message; with `waiter`, route the response with that `seq` to it.
    Send {
        message: Message,
        waiter: Option<(u32, Reply)>,
        written: Option<oneshot::Sender<Result<(), ClientError>>>,
    },
    /// Write raw bytes.
    Raw {
        frame: RawFrame,
        written: oneshot::Sender<Result<(), ClientError>>,
    },
    /// Close politely and stop.
    Shutdown { done: oneshot::Sender<()> },
}

/// Switches the client flips without a round trip.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Flags {
    /// Read the socket (off: the server's sends pile up, for slow-consumer tests).
    pub reading: bool,
    /// Send a heartbeat when nothing was sent for the negotiated interval.
    pub heartbeats: bool,
}

/// State the client and the task share.
#[derive(Default)]
pub(crate) struct Shared {
    /// The last connection-level `ErrorResponse` (no `seq`) the server sent.
    pub last_error: Mutex<Option<ErrorName>>,
    /// Set when the connection has ended.
    pub closed: std::sync::atomic::AtomicBool,
    pub tap: Mutex<Option<Tap>>,
}

impl Shared {
    pub(crate) fn last_error(&self) -> Option<ErrorName> {
        *self.last_error.lock().unwrap_or_else(|e| e.into_inner())
    }

    pub(crate) fn is_closed(&self) -> bool {
        self.closed.load(std::sync::atomic::Ordering::SeqCst)
    }

    fn tap(&self, direction: Direction, message: &Message) {
        let tap = self.tap.lock().unwrap_or_else(|e| e.into_inner()).clone();
        if let Some(tap) = tap {
            tap(direction, message);
        }
    }
}

/// How the connection ended.
enum End {
    Read(ReadEnd),
    Write(std::io::Error),
    /// Nothing from the server for its `heartbeat_s + timer_s`.
    ServerSilent,
    /// The client asked to stop, or went away.
    Client,
}

impl End {
    /// The error for whoever is still waiting. A connection-level error the server sent
    /// before the end explains it best.
    fn error(&self, last: Option<ErrorName>) -> ClientError {
        if last.is_some() {
            return ClientError::Closed(last);
        }
        match self {
            End::Read(ReadEnd::Eof) | End::Client => ClientError::Closed(None),
            End::Read(ReadEnd::Io(e)) | End::Write(e) => {
                ClientError::Io(std::io::Error::new(e.kind(), e.to_string()))
            }
            End::Read(ReadEnd::Protocol(text)) => ClientError::Protocol(text.clone()),
            End::ServerSilent => ClientError::Timeout,
        }
    }
}

async fn sleep_until(deadline: Option<Instant>) {
    match deadline {
        Some(at) => tokio::time::sleep_until(at).await,
        None => std::future::pending().await,
    }
}

pub(crate) struct Task {
    pub conn: Conn,
    pub commands: mpsc::Receiver<Command>,
    pub flags: watch::Receiver<Flags>,
    pub shared: Arc<Shared>,
}

struct State {
    waiters: HashMap<u32, Reply>,
    /// An event the channel had no room for; reading stops until it is delivered.
    pending: Option<Item>,
    /// Negotiated `(heartbeat, timer)`, from the `ProviderOpenResponse`.
    heartbeat: Option<(Duration, Duration)>,
    last_sent: Instant,
    last_received: Instant,
}

impl Task {
    /// Runs until the connection ends or the client goes away. `events` is kept apart from
    /// `self` so that a reserved slot in it can coexist with the handlers' borrows.
    pub(crate) async fn run(mut self, events: mpsc::Sender<Item>) {
        let now = Instant::now();
        let mut st = State {
            waiters: HashMap::new(),
            pending: None,
            heartbeat: None,
            last_sent: now,
            last_received: now,
        };
        let mut flags = *self.flags.borrow_and_update();
        let mut flags_alive = true;
        let end = loop {
            let heartbeat_at = match st.heartbeat {
                Some((interval, _)) if flags.heartbeats => Some(st.last_sent + interval),
                _ => None,
            };
            let silent_at = match st.heartbeat {
                Some((interval, timer)) if flags.reading => {
                    Some(st.last_received + interval + timer)
                }
                _ => None,
            };
            let can_read = flags.reading && st.pending.is_none();
            tokio::select! {
                biased;
                command = self.commands.recv() => match command {
                    None => break End::Client,
                    Some(Command::Shutdown { done }) => {
                        self.conn.close().await;
                        let _ = done.send(());
                        break End::Client;
                    }
                    Some(command) => {
                        if let Err(e) = self.execute(command, &mut st).await {
                            break End::Write(e);
                        }
                    }
                },
                changed = self.flags.changed(), if flags_alive => match changed {
                    Ok(()) => {
                        let new = *self.flags.borrow_and_update();
                        if new.reading && !flags.reading {
                            // Silence while paused was ours, not the server's.
                            st.last_received = Instant::now();
                        }
                        flags = new;
                    }
                    Err(_) => flags_alive = false,
                },
                permit = events.reserve(), if st.pending.is_some() => match permit {
                    Ok(permit) => permit.send(st.pending.take().expect("pending")),
                    Err(_) => break End::Client,
                },
                incoming = self.conn.recv(), if can_read => match incoming {
                    Ok(incoming) => {
                        st.last_received = Instant::now();
                        self.route(incoming, &mut st, &events);
                    }
                    Err(end) => break End::Read(end),
                },
                () = sleep_until(heartbeat_at) => {
                    if let Err(e) = self.write(&Message::Heartbeat(Heartbeat {}), &mut st).await {
                        break End::Write(e);
                    }
                }
                () = sleep_until(silent_at) => break End::ServerSilent,
            }
        };
        self.finish(end, st, events).await;
    }

    async fn write(&mut self, message: &Message, st: &mut State) -> std::io::Result<()> {
        self.shared.tap(Direction::Sent, message);
        self.conn.send(message).await?;
        st.last_sent = Instant::now();
        Ok(())
    }

    /// Runs one command; an error means the connection is unusable.
    async fn execute(&mut self, command: Command, st: &mut State) -> std::io::Result<()> {
        match command {
            Command::Send {
                message,
                waiter,
                written,
            } => {
                if let Some((seq, reply)) = waiter {
                    st.waiters.insert(seq, reply);
                }
                let result = self.write(&message, st).await;
                if let Some(written) = written {
                    let _ = written.send(copy_result(&result));
                }
                result
            }
            Command::Raw { frame, written } => {
                let result = self.conn.send_raw(frame).await;
                if result.is_ok() {
                    st.last_sent = Instant::now();
                }
                let _ = written.send(copy_result(&result));
                result
            }
            Command::Shutdown { .. } => unreachable!("handled by the loop"),
        }
    }

    /// Routes one incoming message: a response to its waiter, a heartbeat nowhere, the rest
    /// to the event channel.
    fn route(&mut self, incoming: Incoming, st: &mut State, events: &mpsc::Sender<Item>) {
        let message = match incoming {
            Incoming::Message(message) => message,
            Incoming::Garbage(text) => {
                deliver(events, Item::Event(Err(ClientError::Protocol(text))), st);
                return;
            }
        };
        self.shared.tap(Direction::Received, &message);
        match &message {
            Message::Heartbeat(_) => return,
            Message::ProviderOpenResponse(r) => {
                st.heartbeat = Some((
                    Duration::from_secs(r.heartbeat_s.max(1).into()),
                    Duration::from_secs(r.timer_s.into()),
                ));
            }
            Message::ErrorResponse(e) if e.seq.is_none() => {
                *self
                    .shared
                    .last_error
                    .lock()
                    .unwrap_or_else(|e| e.into_inner()) = Some(e.error);
            }
            _ => {}
        }
        if message.kind() == Kind::Response {
            if let Some(reply) = message.seq().and_then(|seq| st.waiters.remove(&seq)) {
                match reply.send(Ok(message)) {
                    Ok(()) => return,
                    // The request gave up (timed out): the late answer becomes an event.
                    Err(Ok(message)) => {
                        deliver(events, Item::Event(Ok(message)), st);
                        return;
                    }
                    Err(Err(_)) => return,
                }
            }
        }
        deliver(events, Item::Event(Ok(message)), st);
    }

    /// Fails every waiter, refuses further commands, then tells the event channel why the
    /// connection ended.
    async fn finish(mut self, end: End, mut st: State, events: mpsc::Sender<Item>) {
        self.shared
            .closed
            .store(true, std::sync::atomic::Ordering::SeqCst);
        let last = self.shared.last_error();
        for (_, reply) in st.waiters.drain() {
            let _ = reply.send(Err(end.error(last)));
        }
        self.commands.close();
        while let Ok(command) = self.commands.try_recv() {
            match command {
                Command::Send {
                    waiter, written, ..
                } => {
                    if let Some((_, reply)) = waiter {
                        let _ = reply.send(Err(end.error(last)));
                    }
                    if let Some(written) = written {
                        let _ = written.send(Err(end.error(last)));
                    }
                }
                Command::Raw { written, .. } => {
                    let _ = written.send(Err(end.error(last)));
                }
                Command::Shutdown { done } => {
                    let _ = done.send(());
                }
            }
        }
        if matches!(end, End::Client) {
            return;
        }
        drop(self.conn);
        if let Some(event) = st.pending.take() {
            if events.send(event).await.is_err() {
                return;
            }
        }
        let _ = events.send(Item::End(end.error(last))).await;
    }
}

/// Hands an event to the client, or holds it (and reading stops) while the channel is full.
fn deliver(events: &mpsc::Sender<Item>, event: Item, st: &mut State) {
    debug_assert!(st.pending.is_none());
    match events.try_send(event) {
        Ok(()) => {}
        Err(mpsc::error::TrySendError::Full(event)) => st.pending = Some(event),
        Err(mpsc::error::TrySendError::Closed(_)) => {}
    }
}

fn copy_result(result: &std::io::Result<()>) -> Result<(), ClientError> {
    match result {
        Ok(()) => Ok(()),
        Err(e) => Err(ClientError::Io(std::io::Error::new(
            e.kind(),
            e.to_string(),
        ))),
    }
}
