//! Sans-IO CTI protocol for Switchboard: the message types of the CTI Manager protocol,
//! its stable error names, the length-prefixed framing of the TCP/TLS ports and the sealed
//! password of the plain port. No sockets, no clock, no async runtime: bytes and `now` go
//! in, messages and verdicts come out. The reference for application developers is
//! `docs/cti-protocol.md`; its JSON examples are parsed by this crate's tests, and the JSON
//! Schemas in `docs/cti-schema/` are generated from these types (also checked by a test).
//!
//! # Map
//!
//! * [`Message`]: every message, tagged by `"type"`; [`decode_message`] /
//!   [`encode_message`] for one JSON payload (a frame body or a WebSocket text frame).
//! * [`ErrorName`]: `DIRECTORY_LOGIN_FAILED`, `DEVICE_NOT_FOUND`, … as the exact strings.
//! * [`FrameDecoder`] / [`encode_frame`]: 4-byte big-endian length + JSON, at most
//!   [`MAX_FRAME_LEN`] bytes; need-more vs `FRAME_TOO_LARGE` vs `MALFORMED_MESSAGE`.
//! * [`seal`]: HPKE (RFC 9180) sealing of `{nonce, password}` to the node's CTI key, and
//!   the server's single-use, short-lived [`seal::NonceStore`].

//!
//! # Example: the plain-port open, both sides, without sockets
//!
//! ```
//! use std::time::Instant;
//! use rand::rngs::OsRng;
//! use switchboard_cti_proto::{seal, *};
//!
//! // Server: the node's key and its nonce store.
//! let keys = seal::CtiKeyPair::generate(&mut OsRng);
//! let mut nonces = seal::NonceStore::default();
//!
//! // Client → server: ProviderOpenRequest, framed.
//! let open = Message::ProviderOpenRequest(ProviderOpenRequest {
//!     seq: 2,
//!     protocol_versions: vec![1],
//!     login: "wwhite".into(),
//!     auth: Auth::SealedPassword {},
//!     application: "Shibui".into(),
//!     client_version: "example/1".into(),
//!     heartbeat_s: 60,
//!     timer_s: 10,
//! });
//! let mut server_in = FrameDecoder::default();
//! server_in.push(&encode_message_frame(&open).unwrap());
//! let Some(Message::ProviderOpenRequest(req)) = server_in.next_message().unwrap() else {
//!     unreachable!()
//! };
//!
//! // Server → client: ProviderOpenResponse with a nonce and the key.
//! let now = Instant::now();
//! let nonce = nonces.issue(&mut OsRng, now);
//! let (heartbeat_s, timer_s) = negotiate_heartbeat(req.heartbeat_s, req.timer_s);
//! let resp = ProviderOpenResponse {
//!     seq: req.seq,
//!     provider_id: 16777223,
//!     protocol_version: negotiate_version(&req.protocol_versions).unwrap(),
//!     heartbeat_s,
//!     timer_s,
//!     nonce: Some(nonce.clone()),
//!     cti_public_key: Some(keys.public_key_base64()),
//! };
//!
//! // Client: seals the password to the key, with the nonce.
//! let sealed = seal::seal_password(
//!     resp.cti_public_key.as_deref().unwrap(),
//!     "wwhite",
//!     resp.nonce.as_deref().unwrap(),
//!     "Heisenb3",
//!     &mut OsRng,
//! )
//! .unwrap();
//!
//! // Server: decrypts and checks the nonce (single use).
//! let pw = seal::open_and_check(&keys, &mut nonces, &req.login, &nonce, &sealed, now).unwrap();
//! assert_eq!(pw, "Heisenb3");
//! let again = seal::open_and_check(&keys, &mut nonces, &req.login, &nonce, &sealed, now);
//! assert_eq!(again.unwrap_err().name(), ErrorName::NonceInvalid);
//! ```

#![warn(missing_docs)]

mod error;
mod frame;
mod message;
mod schema;
pub mod seal;

pub use error::ErrorName;
pub use frame::{
    encode_frame, encode_message_frame, FrameDecoder, FrameError, HEADER_LEN, MAX_FRAME_LEN,
};
pub use message::*;
