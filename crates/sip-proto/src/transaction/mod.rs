//! RFC 3261 §17 transactions (with the RFC 6026 `Accepted` state for INVITE), as sans-IO
//! state machines in the style of quinn-proto: the caller passes messages and `now` in
//! (`handle_*`), and takes out what to send (`poll_transmit`), when to call back
//! (`poll_timeout` → `handle_timeout`) and what the TU must hear (`poll_event`).
//!
//! ```
//! use std::time::{Duration, Instant};
//! use switchboard_sip_proto::parse_message;
//! use switchboard_sip_proto::transaction::{ClientNonInvite, Event, Reliability, Timers};
//! let req = parse_message(b"OPTIONS sip:a@127.0.0.1 SIP/2.0\r\nVia: SIP/2.0/UDP 127.0.0.1;branch=z9hG4bK1\r\nFrom: <sip:b@127.0.0.1>;tag=1\r\nTo: <sip:a@127.0.0.1>\r\nCall-ID: x\r\nCSeq: 1 OPTIONS\r\n\r\n").unwrap();
//! let t0 = Instant::now();
//! let mut tx = ClientNonInvite::new(req, Reliability::Unreliable, Timers::default(), t0);
//! assert!(tx.poll_transmit().is_some());               // send the request
//! assert_eq!(tx.poll_timeout(), Some(t0 + Duration::from_millis(500))); // Timer E
//! tx.handle_timeout(t0 + Duration::from_millis(500));
//! assert!(tx.poll_transmit().is_some());               // first retransmission
//! ```
//!
//! Not covered here: matching (use [`TransactionKey`] to find the transaction a message
//! belongs to), the ACK for a 2xx (a new transaction built by the TU), CANCEL (a
//! non-INVITE transaction of its own; the TU then answers the INVITE with 487).

mod ack;
mod client_invite;
mod client_non_invite;
mod key;
mod server_invite;
mod server_non_invite;

use std::time::{Duration, Instant};

use crate::message::Message;

pub use ack::ack_for;
pub use client_invite::ClientInvite;
pub use client_non_invite::ClientNonInvite;
pub use key::{new_branch, TransactionKey, MAGIC_COOKIE};
pub use server_invite::ServerInvite;
pub use server_non_invite::ServerNonInvite;

/// Timer base values (RFC 3261 §17.1.1.1, table 4).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Timers {
    /// RTT estimate, 500 ms.
    pub t1: Duration,
    /// Maximum retransmit interval for non-INVITE requests and INVITE responses, 4 s.
    pub t2: Duration,
    /// Maximum time a message stays in the network, 5 s.
    pub t4: Duration,
    /// Timer D: wait for response retransmissions after a non-2xx to INVITE, 32 s
    /// (unreliable transports only).
    pub d: Duration,
}

impl Default for Timers {
    fn default() -> Self {
        Timers {
            t1: Duration::from_millis(500),
            t2: Duration::from_secs(4),
            t4: Duration::from_secs(5),
            d: Duration::from_secs(32),
        }
    }
}

impl Timers {
    /// 64·T1: Timers B, F, H, J, L and M.
    pub fn timeout(&self) -> Duration {
        self.t1.saturating_mul(64)
    }
}

/// Whether the transport retransmits for us (TCP, TLS, SCTP, WS) or not (UDP).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Reliability {
    /// UDP: the transaction retransmits.
    Unreliable,
    /// TCP/TLS/SCTP/WS: no retransmissions, and the wait states last zero time.
    Reliable,
}

impl Reliability {
    /// `Some(d)` on unreliable transports, `None` on reliable ones.
    fn unreliable(self, d: Duration) -> Option<Duration> {
        (self == Reliability::Unreliable).then_some(d)
    }
}

/// States of the four machines (each uses a subset).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum State {
    /// Client INVITE: request sent, nothing heard.
    Calling,
    /// Non-INVITE: request sent (client) or received (server), no response yet.
    Trying,
    /// A provisional response was received (client) or sent (server).
    Proceeding,
    /// RFC 6026: a 2xx to INVITE was received (client) or sent (server).
    Accepted,
    /// A final response was received (client) or sent (server); absorbing retransmissions.
    Completed,
    /// Server INVITE: the ACK for a non-2xx arrived.
    Confirmed,
    /// Done: the transaction can be dropped.
    Terminated,
}

/// What a transaction tells its transaction user.
#[derive(Debug, Clone, PartialEq)]
pub enum Event {
    /// A response for the TU (client transactions; retransmissions are not repeated).
    Response(Message),
    /// An ACK for a 2xx, handed to the server INVITE transaction in `Accepted`.
    Ack(Message),
    /// No final response (Timer B/F), no ACK for a non-2xx (Timer H), or no ACK for a
    /// 2xx before Timer L (the TU should send BYE).
    Timeout,
    /// The transport reported a failure.
    TransportError,
}

/// A retransmission timer: next deadline and current interval.
#[derive(Debug, Clone, Copy)]
struct Retransmit {
    at: Instant,
    interval: Duration,
}

impl Retransmit {
    fn start(now: Instant, interval: Duration) -> Self {
        Retransmit {
            at: now + interval,
            interval,
        }
    }

    /// Re-arms after firing at `now` with `next` as the new interval.
    fn rearm(&mut self, now: Instant, next: Duration) {
        self.interval = next;
        self.at = now + next;
    }
}

/// Whether an optional deadline has passed.
fn due(at: Option<Instant>, now: Instant) -> bool {
    at.is_some_and(|t| t <= now)
}

/// The earliest of some optional deadlines.
fn earliest(times: &[Option<Instant>]) -> Option<Instant> {
    times.iter().flatten().min().copied()
}
