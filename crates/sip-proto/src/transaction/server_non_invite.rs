//! Server non-INVITE transaction (RFC 3261 §17.2.2): absorbs request retransmissions,
//! repeats the last response, Timer J (64·T1 on unreliable transports).

use std::collections::VecDeque;
use std::time::Instant;

use super::{due, Reliability, State, Timers};
use crate::message::Message;

/// A server non-INVITE transaction; starts in `Trying` (the TU has the request).
#[derive(Debug, Clone)]
pub struct ServerNonInvite {
    request: Message,
    state: State,
    timers: Timers,
    reliability: Reliability,
    last_response: Option<Message>,
    timer_j: Option<Instant>,
    transmits: VecDeque<Message>,
}

impl ServerNonInvite {
    /// Creates the transaction for a received request.
    pub fn new(request: Message, reliability: Reliability, timers: Timers, _now: Instant) -> Self {
        ServerNonInvite {
            request,
            state: State::Trying,
            timers,
            reliability,
            last_response: None,
            timer_j: None,
            transmits: VecDeque::new(),
        }
    }

    /// The current state.
    pub fn state(&self) -> State {
        self.state
    }

    /// The request.
    pub fn request(&self) -> &Message {
        &self.request
    }

    /// Whether the transaction is over.
    pub fn is_terminated(&self) -> bool {
        self.state == State::Terminated
    }

    /// The TU's response. Ignored once a final response was sent.
    pub fn send_response(&mut self, now: Instant, response: Message) {
        let Some(code) = response.code() else { return };
        if !matches!(self.state, State::Trying | State::Proceeding) {
            return;
        }
        self.transmits.push_back(response.clone());
        self.last_response = Some(response);
        if code < 200 {
            self.state = State::Proceeding;
        } else {
            match self.reliability.unreliable(self.timers.timeout()) {
                Some(j) => {
                    self.state = State::Completed;
                    self.timer_j = Some(now + j);
                }
                None => self.state = State::Terminated,
            }
        }
    }

    /// A retransmission of the request: absorbed in `Trying`, answered with the last
    /// response in `Proceeding` and `Completed`.
    pub fn handle_request(&mut self, _now: Instant, _request: Message) {
        if matches!(self.state, State::Proceeding | State::Completed) {
            self.transmits.extend(self.last_response.clone());
        }
    }

    /// Fires Timer J.
    pub fn handle_timeout(&mut self, now: Instant) {
        if self.state == State::Completed && due(self.timer_j, now) {
            self.state = State::Terminated;
            self.timer_j = None;
        }
    }

    /// The transport failed to send a response.
    pub fn handle_transport_error(&mut self) {
        self.state = State::Terminated;
        self.timer_j = None;
    }

    /// The next message to send.
    pub fn poll_transmit(&mut self) -> Option<Message> {
        self.transmits.pop_front()
    }

    /// When to call [`ServerNonInvite::handle_timeout`].
    pub fn poll_timeout(&self) -> Option<Instant> {
        self.timer_j
    }
}
