//! Client INVITE transaction (RFC 3261 §17.1.1 with RFC 6026): Timers A (retransmit,
//! doubling), B (64·T1 timeout), D (wait for retransmitted non-2xx, ACKing each) and M
//! (RFC 6026 `Accepted`, passing 2xx retransmissions and forks up).

use std::collections::VecDeque;
use std::time::Instant;

use super::{ack_for, due, earliest, Event, Reliability, Retransmit, State, Timers};
use crate::message::Message;

/// A client INVITE transaction; starts in `Calling` with the INVITE queued.
#[derive(Debug, Clone)]
pub struct ClientInvite {
    request: Message,
    ack: Option<Message>,
    state: State,
    timers: Timers,
    reliability: Reliability,
    timer_a: Option<Retransmit>,
    timer_b: Option<Instant>,
    timer_d: Option<Instant>,
    timer_m: Option<Instant>,
    transmits: VecDeque<Message>,
    events: VecDeque<Event>,
}

impl ClientInvite {
    /// Starts the transaction: the INVITE is queued for transmission.
    pub fn new(request: Message, reliability: Reliability, timers: Timers, now: Instant) -> Self {
        let mut transmits = VecDeque::new();
        transmits.push_back(request.clone());
        ClientInvite {
            timer_a: reliability
                .unreliable(timers.t1)
                .map(|d| Retransmit::start(now, d)),
            timer_b: Some(now + timers.timeout()),
            timer_d: None,
            timer_m: None,
            request,
            ack: None,
            state: State::Calling,
            timers,
            reliability,
            transmits,
            events: VecDeque::new(),
        }
    }

    /// The current state.
    pub fn state(&self) -> State {
        self.state
    }

    /// The INVITE.
    pub fn request(&self) -> &Message {
        &self.request
    }

    /// Whether the transaction is over.
    pub fn is_terminated(&self) -> bool {
        self.state == State::Terminated
    }

    /// A response matched to this transaction.
    pub fn handle_response(&mut self, now: Instant, response: Message) {
        let Some(code) = response.code() else { return };
        match (self.state, code) {
            (State::Calling | State::Proceeding, 100..=199) => {
                self.state = State::Proceeding;
                self.timer_a = None;
                self.timer_b = None;
                self.events.push_back(Event::Response(response));
            }
            (State::Calling | State::Proceeding, 200..=299) => {
                self.state = State::Accepted;
                self.timer_a = None;
                self.timer_b = None;
                self.timer_m = Some(now + self.timers.timeout());
                self.events.push_back(Event::Response(response));
            }
            (State::Accepted, 200..=299) => self.events.push_back(Event::Response(response)),
            (State::Calling | State::Proceeding, _) => {
                self.timer_a = None;
                self.timer_b = None;
                self.ack = ack_for(&self.request, &response);
                self.transmits.extend(self.ack.clone());
                self.events.push_back(Event::Response(response));
                match self.reliability.unreliable(self.timers.d) {
                    Some(d) => {
                        self.state = State::Completed;
                        self.timer_d = Some(now + d);
                    }
                    None => self.state = State::Terminated,
                }
            }
            (State::Completed, 300..) => self.transmits.extend(self.ack.clone()),
            _ => {}
        }
    }

    /// Fires the timers due at `now`.
    pub fn handle_timeout(&mut self, now: Instant) {
        match self.state {
            State::Calling => {
                if due(self.timer_b, now) {
                    self.terminate(Some(Event::Timeout));
                } else if let Some(a) = self.timer_a.as_mut().filter(|a| a.at <= now) {
                    self.transmits.push_back(self.request.clone());
                    let next = a.interval * 2;
                    a.rearm(now, next);
                }
            }
            State::Completed if due(self.timer_d, now) => self.terminate(None),
            State::Accepted if due(self.timer_m, now) => self.terminate(None),
            _ => {}
        }
    }

    /// The transport failed to send the INVITE.
    pub fn handle_transport_error(&mut self) {
        if matches!(self.state, State::Calling | State::Proceeding) {
            self.terminate(Some(Event::TransportError));
        }
    }

    fn terminate(&mut self, event: Option<Event>) {
        self.state = State::Terminated;
        self.timer_a = None;
        self.timer_b = None;
        self.timer_d = None;
        self.timer_m = None;
        self.events.extend(event);
    }

    /// The next message to send (the INVITE, its retransmissions, ACKs for non-2xx).
    pub fn poll_transmit(&mut self) -> Option<Message> {
        self.transmits.pop_front()
    }

    /// When to call [`ClientInvite::handle_timeout`].
    pub fn poll_timeout(&self) -> Option<Instant> {
        earliest(&[
            self.timer_a.map(|a| a.at),
            self.timer_b,
            self.timer_d,
            self.timer_m,
        ])
    }

    /// The next event for the TU.
    pub fn poll_event(&mut self) -> Option<Event> {
        self.events.pop_front()
    }
}
