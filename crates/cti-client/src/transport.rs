//! The three transports of the CTI Manager: length-prefixed JSON over TCP (2748) or TLS
//! (2749), and one JSON message per text frame over WebSocket (`wss://<node>:<https>/cti`).

use std::io;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use futures_util::{SinkExt, StreamExt};
use switchboard_cti_proto::{
    decode_message, encode_message, FrameDecoder, FrameError, Message, HEADER_LEN, MAX_FRAME_LEN,
};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio_rustls::rustls;
use tokio_tungstenite::tungstenite::{self, protocol::WebSocketConfig, Message as WsMessage};
use tokio_tungstenite::WebSocketStream;

use crate::ClientError;

/// How long connecting may take: TCP, TLS and WebSocket handshakes together.
pub const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);

/// Where and how to reach the CTI Manager.
#[derive(Debug, Clone)]
pub enum Target {
    /// Plain TCP (port 2748 by default). Passwords are sealed (HPKE) by default.
    Plain(SocketAddr),
    /// TLS (port 2749 by default), trusting only the certificates in `trust_pem`.
    Tls {
        /// The address to connect to.
        addr: SocketAddr,
        /// The name the server's certificate must carry (DNS name or IP address).
        server_name: String,
        /// PEM text of the CA or the node's own certificate(s) to trust.
        trust_pem: String,
    },
    /// WebSocket: `wss://<node>:<https-port>/cti` (TLS, trusting only `trust_pem`; the
    /// certificate must carry the URL's host), or `ws://…` (plain; `trust_pem` is ignored).
    WebSocket {
        /// `wss://host:port/cti` or `ws://host:port/cti`.
        url: String,
        /// PEM text of the CA or the node's certificate(s) to trust (for `wss://`).
        trust_pem: String,
    },
}

/// The transport a client is connected over.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Transport {
    /// Length-prefixed frames over plain TCP.
    Tcp,
    /// Length-prefixed frames over TLS.
    Tls,
    /// WebSocket text frames over plain TCP (`ws://`).
    WebSocket,
    /// WebSocket text frames over TLS (`wss://`).
    WebSocketTls,
}

impl Transport {
    /// Whether the transport is encrypted (a cleartext password may then be sent).
    pub fn is_encrypted(self) -> bool {
        matches!(self, Transport::Tls | Transport::WebSocketTls)
    }
}

/// A frame to write as it is, for hostile tests: nothing is checked (size, JSON, type).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RawFrame {
    /// TCP/TLS: these bytes written to the stream as they are, with **no** length prefix
    /// added (a forged header, half a frame, garbage). WebSocket: one binary frame.
    Bytes(Vec<u8>),
    /// TCP/TLS: one frame whose body is this text, behind its true 4-byte length (which may
    /// exceed 64 KiB). WebSocket: one text frame.
    Text(String),
    /// TCP/TLS: one frame whose body is these bytes, behind their true length. WebSocket:
    /// one binary frame.
    Binary(Vec<u8>),
}

/// Anything a connection can run over.
pub(crate) trait Io: AsyncRead + AsyncWrite + Send + Unpin + 'static {}
impl<T: AsyncRead + AsyncWrite + Send + Unpin + 'static> Io for T {}
pub(crate) type BoxIo = Box<dyn Io>;

/// One thing read from the server.
pub(crate) enum Incoming {
    /// A message.
    Message(Message),
    /// A frame that is not a message (the stream is still in sync): reported, not fatal.
    Garbage(String),
}

/// Why a connection ended, from the reader's side.
#[derive(Debug)]
pub(crate) enum ReadEnd {
    /// The server closed the connection.
    Eof,
    /// A socket error.
    Io(io::Error),
    /// The stream is out of sync (an oversized frame) or otherwise unusable.
    Protocol(String),
}

/// An open connection, owned by the background task.
pub(crate) enum Conn {
    Framed {
        io: BoxIo,
        decoder: FrameDecoder,
        buf: Box<[u8]>,
    },
    Ws(Box<WebSocketStream<BoxIo>>),
}

/// The rustls client configuration (ring provider) trusting exactly the certificates of
/// `trust_pem`.
pub fn tls_client_config(trust_pem: &str) -> Result<Arc<rustls::ClientConfig>, ClientError> {
    let mut roots = rustls::RootCertStore::empty();
    for cert in rustls_pemfile::certs(&mut trust_pem.as_bytes()) {
        let cert = cert.map_err(|e| ClientError::Tls(format!("bad PEM certificate: {e}")))?;
        roots
            .add(cert)
            .map_err(|e| ClientError::Tls(format!("unusable certificate: {e}")))?;
    }
    if roots.is_empty() {
        return Err(ClientError::Tls(
            "no certificate in the trust PEM (expected \"BEGIN CERTIFICATE\")".into(),
        ));
    }
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let config = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| ClientError::Tls(format!("TLS setup: {e}")))?
        .with_root_certificates(roots)
        .with_no_client_auth();
    Ok(Arc::new(config))
}

/// A handshake error: the rustls cause when there is one, else the I/O error.
fn tls_error(e: io::Error) -> ClientError {
    match e
        .get_ref()
        .and_then(|inner| inner.downcast_ref::<rustls::Error>())
    {
        Some(tls) => ClientError::Tls(tls.to_string()),
        None => ClientError::Io(e),
    }
}

async fn tcp(addr: impl tokio::net::ToSocketAddrs) -> Result<TcpStream, ClientError> {
    let stream = TcpStream::connect(addr).await?;
    // Requests are small and latency matters more than packet count.
    stream.set_nodelay(true)?;
    Ok(stream)
}

async fn tls(stream: TcpStream, server_name: &str, trust_pem: &str) -> Result<BoxIo, ClientError> {
    let config = tls_client_config(trust_pem)?;
    let name = rustls::pki_types::ServerName::try_from(server_name.to_owned())
        .map_err(|e| ClientError::Tls(format!("bad server name {server_name:?}: {e}")))?;
    let tls = tokio_rustls::TlsConnector::from(config)
        .connect(name, stream)
        .await
        .map_err(tls_error)?;
    Ok(Box::new(tls))
}

/// WebSocket limits: a message is at most 64 KiB, as a frame on TCP.
fn ws_config() -> WebSocketConfig {
    WebSocketConfig::default()
        .max_message_size(Some(MAX_FRAME_LEN))
        .max_frame_size(Some(MAX_FRAME_LEN))
}

fn ws_error(e: tungstenite::Error) -> ClientError {
    match e {
        tungstenite::Error::Io(e) => ClientError::Io(e),
        tungstenite::Error::Http(response) => ClientError::Protocol(format!(
            "WebSocket upgrade refused: HTTP {}",
            response.status()
        )),
        other => ClientError::Protocol(format!("WebSocket: {other}")),
    }
}

/// Host (without IPv6 brackets), port and whether TLS is used, from a `ws://`/`wss://` URL.
fn ws_endpoint(url: &str) -> Result<(String, u16, bool), ClientError> {
    let uri: tungstenite::http::Uri = url
        .parse()
        .map_err(|e| ClientError::Protocol(format!("bad WebSocket URL {url:?}: {e}")))?;
    let secure = match uri.scheme_str() {
        Some("wss") => true,
        Some("ws") => false,
        _ => {
            return Err(ClientError::Protocol(format!(
                "bad WebSocket URL {url:?}: expected wss:// or ws://"
            )))
        }
    };
    let host = uri
        .host()
        .ok_or_else(|| ClientError::Protocol(format!("bad WebSocket URL {url:?}: no host")))?;
    let host = host
        .trim_start_matches('[')
        .trim_end_matches(']')
        .to_owned();
    let port = uri.port_u16().unwrap_or(if secure { 443 } else { 80 });
    Ok((host, port, secure))
}

/// Connects and completes the TLS / WebSocket handshakes.
pub(crate) async fn connect(target: &Target) -> Result<(Conn, Transport), ClientError> {
    match tokio::time::timeout(CONNECT_TIMEOUT, connect_inner(target)).await {
        Ok(result) => result,
        Err(_) => Err(ClientError::Timeout),
    }
}

async fn connect_inner(target: &Target) -> Result<(Conn, Transport), ClientError> {
    match target {
        Target::Plain(addr) => Ok((Conn::framed(Box::new(tcp(addr).await?)), Transport::Tcp)),
        Target::Tls {
            addr,
            server_name,
            trust_pem,
        } => {
            let io = tls(tcp(addr).await?, server_name, trust_pem).await?;
            Ok((Conn::framed(io), Transport::Tls))
        }
        Target::WebSocket { url, trust_pem } => {
            let (host, port, secure) = ws_endpoint(url)?;
            let stream = tcp((host.as_str(), port)).await?;
            let io: BoxIo = if secure {
                tls(stream, &host, trust_pem).await?
            } else {
                Box::new(stream)
            };
            let (ws, _response) =
                tokio_tungstenite::client_async_with_config(url.as_str(), io, Some(ws_config()))
                    .await
                    .map_err(ws_error)?;
            let transport = if secure {
                Transport::WebSocketTls
            } else {
                Transport::WebSocket
            };
            Ok((Conn::Ws(Box::new(ws)), transport))
        }
    }
}

fn ws_io(e: tungstenite::Error) -> io::Error {
    match e {
        tungstenite::Error::Io(e) => e,
        other => io::Error::other(other),
    }
}

impl Conn {
    fn framed(io: BoxIo) -> Conn {
        Conn::Framed {
            io,
            decoder: FrameDecoder::new(MAX_FRAME_LEN),
            buf: vec![0; 16 * 1024].into_boxed_slice(),
        }
    }

    /// The next thing the server sent; `Err(ReadEnd::Eof)` when it closed. Cancel-safe: the
    /// only await is a read whose bytes are kept as soon as it completes.
    pub(crate) async fn recv(&mut self) -> Result<Incoming, ReadEnd> {
        match self {
            Conn::Framed { io, decoder, buf } => loop {
                match decoder.next_frame() {
                    Ok(Some(body)) => return Ok(decode(&body)),
                    Ok(None) => {}
                    Err(e @ FrameError::TooLarge { .. }) => {
                        return Err(ReadEnd::Protocol(format!("the server sent {e}")))
                    }
                    Err(e) => return Ok(Incoming::Garbage(e.to_string())),
                }
                let n = io.read(buf).await.map_err(ReadEnd::Io)?;
                if n == 0 {
                    return Err(ReadEnd::Eof);
                }
                decoder.push(&buf[..n]);
            },
            Conn::Ws(ws) => loop {
                match ws.next().await {
                    None | Some(Ok(WsMessage::Close(_))) => return Err(ReadEnd::Eof),
                    Some(Ok(WsMessage::Text(text))) => return Ok(decode(text.as_bytes())),
                    Some(Ok(WsMessage::Binary(_))) => {
                        return Ok(Incoming::Garbage(
                            "the server sent a WebSocket binary frame".into(),
                        ))
                    }
                    Some(Ok(_)) => {} // ping, pong, raw frame
                    Some(Err(tungstenite::Error::Io(e))) => return Err(ReadEnd::Io(e)),
                    Some(Err(
                        tungstenite::Error::ConnectionClosed | tungstenite::Error::AlreadyClosed,
                    )) => return Err(ReadEnd::Eof),
                    Some(Err(e)) => return Err(ReadEnd::Protocol(format!("WebSocket: {e}"))),
                }
            },
        }
    }

    /// Writes one message (framed on TCP/TLS, a text frame on WebSocket). No size check:
    /// callers that must respect the limit check before.
    pub(crate) async fn send(&mut self, message: &Message) -> io::Result<()> {
        let body = encode_message(message);
        match self {
            Conn::Framed { .. } => self.send_raw(RawFrame::Binary(body)).await,
            Conn::Ws(ws) => {
                let text = String::from_utf8(body).expect("serde_json writes UTF-8");
                ws.send(WsMessage::text(text)).await.map_err(ws_io)
            }
        }
    }

    /// Writes a raw frame (see [`RawFrame`]).
    pub(crate) async fn send_raw(&mut self, frame: RawFrame) -> io::Result<()> {
        match self {
            Conn::Framed { io, .. } => {
                let bytes = match frame {
                    RawFrame::Bytes(bytes) => bytes,
                    RawFrame::Text(text) => with_length(text.as_bytes()),
                    RawFrame::Binary(body) => with_length(&body),
                };
                io.write_all(&bytes).await?;
                io.flush().await
            }
            Conn::Ws(ws) => {
                let message = match frame {
                    RawFrame::Text(text) => WsMessage::text(text),
                    RawFrame::Bytes(bytes) | RawFrame::Binary(bytes) => WsMessage::binary(bytes),
                };
                ws.send(message).await.map_err(ws_io)
            }
        }
    }

    /// Closes the sending side politely (TCP FIN / TLS close_notify / WebSocket close frame).
    pub(crate) async fn close(&mut self) {
        match self {
            Conn::Framed { io, .. } => {
                let _ = io.shutdown().await;
            }
            Conn::Ws(ws) => {
                let _ = WebSocketStream::close(ws, None).await;
            }
        }
    }
}

/// The body behind its true 4-byte big-endian length, whatever its size.
fn with_length(body: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(HEADER_LEN + body.len());
    out.extend_from_slice(&(body.len() as u32).to_be_bytes());
    out.extend_from_slice(body);
    out
}

fn decode(payload: &[u8]) -> Incoming {
    match decode_message(payload) {
        Ok(message) => Incoming::Message(message),
        Err(e) => Incoming::Garbage(format!("the server sent {e}")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ws_urls() {
        assert_eq!(
            ws_endpoint("wss://ucm1.example.com:8443/cti").unwrap(),
            ("ucm1.example.com".into(), 8443, true)
        );
        assert_eq!(
            ws_endpoint("ws://[::1]/cti").unwrap(),
            ("::1".into(), 80, false)
        );
        assert_eq!(ws_endpoint("wss://h/cti").unwrap().1, 443);
        assert!(ws_endpoint("https://h/cti").is_err());
        assert!(ws_endpoint("not a url").is_err());
    }

    #[test]
    fn trust_pem_must_hold_a_certificate() {
        let e = tls_client_config("hello").unwrap_err();
        assert!(matches!(e, ClientError::Tls(_)), "{e}");
    }

    #[test]
    fn raw_frames_carry_their_true_length() {
        assert_eq!(with_length(b"ab"), [0, 0, 0, 2, b'a', b'b']);
        let big = with_length(&vec![b' '; MAX_FRAME_LEN + 1]);
        assert_eq!(&big[..4], &((MAX_FRAME_LEN + 1) as u32).to_be_bytes());
    }
}
