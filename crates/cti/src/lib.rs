//! Switchboard's CTI Manager (SPEC §6, `docs/cti-protocol.md`): CTI applications open a
//! provider (authenticated by password — sealed on the plain port — or by an OAuth access
//! token, then checked against the user's CTI settings), open the devices the user controls
//! and receive their in-service / out-of-service events as the registrar sees them register
//! and unregister.
//!
//! The protocol itself (messages, framing, the password seal) is the sans-IO crate
//! `switchboard-cti-proto`; this crate is its server: [`CtiListeners`] accept TCP 2748 and
//! TLS 2749, [`CtiManager::serve_websocket`] serves `/cti` on the HTTPS port, `session` holds
//! each connection's state machine, `registry` the device watches fed by call control.

mod calls;
mod connection;
pub mod keys;
mod listeners;
mod manager;
mod registry;
mod session;

pub use connection::Transport;
pub use listeners::{CtiListeners, HANDSHAKE_TIMEOUT};
pub use manager::{CtiConfig, CtiManager, CtiStats, TokenVerifier};
