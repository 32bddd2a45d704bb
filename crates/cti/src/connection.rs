//! One CTI connection's I/O, whatever carries it: a reader that turns bytes (length-prefixed
//! frames on TCP/TLS, text frames on WebSocket) into messages, a writer task that drains the
//! connection's bounded outgoing queue and sends heartbeats when the line is quiet, and the
//! loop that feeds each message to the [`Session`] with the heartbeat deadline enforced.
//!
//! Backpressure: everything sent to the client (responses and events) goes through one
//! bounded queue ([`Link`]). When it is full the client is not reading: the link is killed
//! with `SLOW_CONSUMER`, the writer stops, and the session releases what it opened, so a slow
//! reader costs at most the queue, never more.

use std::net::SocketAddr;
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::Arc;
use std::time::Duration;

use axum::extract::ws::{Message as WsMessage, WebSocket};
use futures_util::stream::{SplitSink, SplitStream};
use futures_util::{SinkExt, StreamExt};
use switchboard_cti_proto::{
    decode_message, encode_message, encode_message_frame, ErrorName, ErrorResponse, FrameDecoder,
    Heartbeat, Message, MAX_FRAME_LEN,
};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::sync::{mpsc, watch};

use crate::manager::CtiManager;
use crate::session::{Flow, Session};

/// What carries a connection.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Transport {
    /// Plain TCP (2748): passwords must be sealed.
    Tcp,
    /// TLS (2749).
    Tls,
    /// WebSocket over the HTTPS port's TLS (`/cti`).
    WebSocket,
}

impl Transport {
    /// The name used in traces.
    pub fn name(self) -> &'static str {
        match self {
            Transport::Tcp => "tcp",
            Transport::Tls => "tls",
            Transport::WebSocket => "wss",
        }
    }

    /// Whether the bytes are encrypted on the wire (a cleartext password may ride inside).
    pub fn is_encrypted(self) -> bool {
        !matches!(self, Transport::Tcp)
    }
}

/// The sending side of a connection, shared by its session and by the device watches that
/// deliver events to it.
pub(crate) struct Link {
    pub id: u64,
    /// Boxed: a queue slot (and a write batch slot) is a pointer, not a whole message, so an
    /// idle connection's queue block costs 256 bytes rather than 4.6 KiB.
    queue: mpsc::Sender<Box<Message>>,
    kill: watch::Sender<Option<ErrorName>>,
}

impl Link {
    /// Queues a message for the client. A full queue kills the connection (`SLOW_CONSUMER`);
    /// returns whether the message was queued.
    pub fn send(&self, message: Message) -> bool {
        match self.queue.try_send(Box::new(message)) {
            Ok(()) => true,
            Err(mpsc::error::TrySendError::Full(_)) => {
                self.kill(ErrorName::SlowConsumer);
                false
            }
            Err(mpsc::error::TrySendError::Closed(_)) => false,
        }
    }

    /// Ends the connection at once for `why` (the first reason wins).
    pub fn kill(&self, why: ErrorName) {
        self.kill.send_if_modified(|k| {
            if k.is_none() {
                *k = Some(why);
                true
            } else {
                false
            }
        });
    }

    /// Why the connection was killed, if it was.
    pub fn killed(&self) -> Option<ErrorName> {
        *self.kill.borrow()
    }
}

/// One item read from the client.
pub(crate) enum Inbound {
    Message(Message),
    /// Bytes that are not a message: reported with `error`; `fatal` closes the connection.
    Bad {
        error: ErrorName,
        detail: String,
        fatal: bool,
    },
}

/// The receiving half of a connection.
pub(crate) enum MessageReader {
    Framed {
        io: Box<dyn AsyncRead + Send + Unpin>,
        decoder: FrameDecoder,
    },
    WebSocket(SplitStream<WebSocket>),
}

/// Bytes read from a socket at a time.
const READ_CHUNK: usize = 1024;

impl MessageReader {
    pub fn framed(io: impl AsyncRead + Send + Unpin + 'static) -> MessageReader {
        MessageReader::Framed {
            io: Box::new(io),
            decoder: FrameDecoder::default(),
        }
    }

    /// The next message or bad frame; `None` when the client closed.
    pub async fn next(&mut self) -> std::io::Result<Option<Inbound>> {
        match self {
            MessageReader::Framed { io, decoder } => loop {
                match decoder.next_message() {
                    Ok(Some(m)) => return Ok(Some(Inbound::Message(m))),
                    Ok(None) => {}
                    Err(e) => {
                        return Ok(Some(Inbound::Bad {
                            error: e.name(),
                            detail: e.to_string(),
                            fatal: e.is_fatal(),
                        }))
                    }
                }
                let mut chunk = [0u8; READ_CHUNK];
                let n = io.read(&mut chunk).await?;
                if n == 0 {
                    return Ok(None);
                }
                decoder.push(&chunk[..n]);
            },
            MessageReader::WebSocket(ws) => loop {
                let Some(frame) = ws.next().await else {
                    return Ok(None);
                };
                let frame = frame.map_err(std::io::Error::other)?;
                return Ok(Some(match frame {
                    WsMessage::Text(text) if text.len() > MAX_FRAME_LEN => Inbound::Bad {
                        error: ErrorName::FrameTooLarge,
                        detail: format!(
                            "FRAME_TOO_LARGE: text frame of {} bytes, limit {MAX_FRAME_LEN}",
                            text.len()
                        ),
                        fatal: true,
                    },
                    WsMessage::Text(text) => match decode_message(text.as_bytes()) {
                        Ok(m) => Inbound::Message(m),
                        Err(e) => Inbound::Bad {
                            error: e.name(),
                            detail: e.to_string(),
                            fatal: false,
                        },
                    },
                    WsMessage::Binary(_) => Inbound::Bad {
                        error: ErrorName::MalformedMessage,
                        detail: "MALFORMED_MESSAGE: binary frame; messages are text frames".into(),
                        fatal: false,
                    },
                    WsMessage::Close(_) => return Ok(None),
                    // Pings are answered by the WebSocket layer.
                    WsMessage::Ping(_) | WsMessage::Pong(_) => continue,
                }));
            },
        }
    }
}

/// The sending half of a connection.
pub(crate) enum MessageWriter {
    Framed(Box<dyn AsyncWrite + Send + Unpin>),
    WebSocket(SplitSink<WebSocket, WsMessage>),
}

impl MessageWriter {
    pub fn framed(io: impl AsyncWrite + Send + Unpin + 'static) -> MessageWriter {
        MessageWriter::Framed(Box::new(io))
    }

    /// Writes the messages in order, in as few writes as the transport allows.
    async fn write(&mut self, messages: &[Box<Message>]) -> std::io::Result<()> {
        match self {
            MessageWriter::Framed(io) => {
                let mut bytes = Vec::with_capacity(256 * messages.len());
                for m in messages {
                    match encode_message_frame(m) {
                        Ok(frame) => bytes.extend_from_slice(&frame),
                        Err(e) => {
                            tracing::error!(error = %e, message = m.name(), "CTI message not sent")
                        }
                    }
                }
                io.write_all(&bytes).await?;
                io.flush().await
            }
            MessageWriter::WebSocket(ws) => {
                for m in messages {
                    let text =
                        String::from_utf8(encode_message(m)).map_err(std::io::Error::other)?;
                    ws.feed(WsMessage::Text(text.into()))
                        .await
                        .map_err(std::io::Error::other)?;
                }
                ws.flush().await.map_err(std::io::Error::other)
            }
        }
    }

    async fn close(&mut self) {
        match self {
            MessageWriter::Framed(io) => {
                let _ = io.shutdown().await;
            }
            MessageWriter::WebSocket(ws) => {
                let _ = ws.close().await;
            }
        }
    }
}

/// Messages written per batch at most.
const WRITE_BATCH: usize = 32;

/// Drains the queue to the client until the session and every device watch have let go of the
/// link (then closes the connection), or the link is killed.
async fn write_loop(
    mut writer: MessageWriter,
    mut queue: mpsc::Receiver<Box<Message>>,
    mut kill: watch::Receiver<Option<ErrorName>>,
    heartbeat_s: Arc<AtomicU32>,
    write_timeout: Duration,
    link_kill: watch::Sender<Option<ErrorName>>,
) {
    let mut batch = Vec::with_capacity(WRITE_BATCH);
    loop {
        let heartbeat = heartbeat_s.load(Ordering::Relaxed);
        let quiet = async {
            if heartbeat == 0 {
                std::future::pending::<()>().await
            } else {
                tokio::time::sleep(Duration::from_secs(heartbeat.into())).await
            }
        };
        tokio::select! {
            biased;
            _ = kill.changed() => break,
            n = queue.recv_many(&mut batch, WRITE_BATCH) => {
                if n == 0 {
                    writer.close().await;
                    return;
                }
            }
            _ = quiet => batch.push(Box::new(Message::Heartbeat(Heartbeat {}))),
        }
        let written = tokio::select! {
            biased;
            _ = kill.changed() => break,
            r = tokio::time::timeout(write_timeout, writer.write(&batch)) => r,
        };
        batch.clear();
        match written {
            Ok(Ok(())) => {}
            // A client that does not take its bytes for this long is not reading.
            Err(_) => {
                let _ = link_kill.send_if_modified(|k| {
                    k.get_or_insert(ErrorName::SlowConsumer);
                    true
                });
                break;
            }
            Ok(Err(_)) => {
                let _ = link_kill.send_if_modified(|k| {
                    if k.is_none() {
                        *k = Some(ErrorName::InternalError);
                    }
                    true
                });
                break;
            }
        }
    }
    // Killed: say why if the socket takes it (the queue is dropped unsent), then close.
    let why = *kill.borrow();
    if let Some(error) = why.filter(|e| *e == ErrorName::SlowConsumer) {
        let notice = Box::new(Message::ErrorResponse(ErrorResponse {
            seq: None,
            error,
            message: "the outgoing queue overflowed: the client is not reading".into(),
            supported_versions: None,
        }));
        let _ = tokio::time::timeout(Duration::from_secs(1), writer.write(&[notice])).await;
    }
    writer.close().await;
}

/// Serves one connection to its end: spawns the writer, runs the session on every message
/// read, enforces the read deadline, and releases everything when it ends.
pub(crate) async fn run(
    manager: Arc<CtiManager>,
    transport: Transport,
    peer: SocketAddr,
    local: SocketAddr,
    mut reader: MessageReader,
    writer: MessageWriter,
) {
    let (queue_tx, queue_rx) = mpsc::channel(manager.config.queue_len);
    let (kill_tx, kill_rx) = watch::channel(None);
    let heartbeat_s = Arc::new(AtomicU32::new(0));
    let link = Arc::new(Link {
        id: manager.next_connection_id(),
        queue: queue_tx,
        kill: kill_tx.clone(),
    });
    let writer_task = tokio::spawn(write_loop(
        writer,
        queue_rx,
        kill_rx.clone(),
        heartbeat_s.clone(),
        manager.config.write_timeout,
        kill_tx,
    ));
    let mut session = Session::new(manager.clone(), link, transport, peer, local, heartbeat_s);
    let mut kill = kill_rx;
    let reason = loop {
        let deadline = session.read_deadline();
        let inbound = tokio::select! {
            biased;
            _ = kill.changed() => break None,
            r = tokio::time::timeout_at(deadline, reader.next()) => r,
        };
        match inbound {
            Err(_) => {
                session.heartbeat_timeout();
                break Some("HEARTBEAT_TIMEOUT".to_string());
            }
            Ok(Err(e)) => break Some(format!("read failed: {e}")),
            Ok(Ok(None)) => break Some("closed by the client".to_string()),
            Ok(Ok(Some(Inbound::Bad {
                error,
                detail,
                fatal,
            }))) => {
                session.touch();
                session.bad_frame(error, detail);
                if fatal {
                    break Some(error.as_str().to_string());
                }
            }
            Ok(Ok(Some(Inbound::Message(m)))) => {
                session.touch();
                // Boxed: handling a message may await authentication (LDAP, Argon2), whose
                // futures are large; inline they would be part of every idle connection's
                // task, boxed they exist only while a message is being handled.
                if let Flow::Close(why) = Box::pin(session.handle(m)).await {
                    break Some(why);
                }
            }
        }
    };
    let reason = match (session.killed(), reason) {
        (Some(killed), _) => killed.as_str().to_string(),
        (None, Some(r)) => r,
        (None, None) => "closed".to_string(),
    };
    session.finish(&reason);
    drop(session);
    // The writer flushes what was queued (a last response, a failure event), then closes.
    let _ = writer_task.await;
}
