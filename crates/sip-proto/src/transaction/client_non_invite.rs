//! Client non-INVITE transaction (RFC 3261 §17.1.2): Timers E (retransmit, T1 doubling
//! to T2), F (64·T1 timeout) and K (T4 wait for retransmitted responses).

use std::collections::VecDeque;
use std::time::Instant;

use super::{due, earliest, Event, Reliability, Retransmit, State, Timers};
use crate::message::Message;

/// A client non-INVITE transaction; starts in `Trying` with the request queued.
#[derive(Debug, Clone)]
pub struct ClientNonInvite {
    request: Message,
    state: State,
    timers: Timers,
    reliability: Reliability,
    timer_e: Option<Retransmit>,
    timer_f: Option<Instant>,
    timer_k: Option<Instant>,
    transmits: VecDeque<Message>,
    events: VecDeque<Event>,
}

impl ClientNonInvite {
    /// Starts the transaction: the request is queued for transmission.
    pub fn new(request: Message, reliability: Reliability, timers: Timers, now: Instant) -> Self {
        let mut transmits = VecDeque::new();
        transmits.push_back(request.clone());
        ClientNonInvite {
            timer_e: reliability
                .unreliable(timers.t1)
                .map(|d| Retransmit::start(now, d)),
            timer_f: Some(now + timers.timeout()),
            timer_k: None,
            request,
            state: State::Trying,
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

    /// The request.
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
            (State::Trying | State::Proceeding, 100..=199) => {
                self.state = State::Proceeding;
                self.events.push_back(Event::Response(response));
            }
            (State::Trying | State::Proceeding, _) => {
                self.events.push_back(Event::Response(response));
                self.timer_e = None;
                self.timer_f = None;
                match self.reliability.unreliable(self.timers.t4) {
                    Some(k) => {
                        self.state = State::Completed;
                        self.timer_k = Some(now + k);
                    }
                    None => self.state = State::Terminated,
                }
            }
            _ => {}
        }
    }

    /// Fires the timers due at `now`.
    pub fn handle_timeout(&mut self, now: Instant) {
        match self.state {
            State::Trying | State::Proceeding => {
                if due(self.timer_f, now) {
                    self.terminate(Some(Event::Timeout));
                } else if let Some(e) = self.timer_e.as_mut().filter(|e| e.at <= now) {
                    self.transmits.push_back(self.request.clone());
                    let next = if self.state == State::Trying {
                        (e.interval * 2).min(self.timers.t2)
                    } else {
                        self.timers.t2
                    };
                    e.rearm(now, next);
                }
            }
            State::Completed if due(self.timer_k, now) => self.terminate(None),
            _ => {}
        }
    }

    /// The transport failed to send the request.
    pub fn handle_transport_error(&mut self) {
        if matches!(self.state, State::Trying | State::Proceeding) {
            self.terminate(Some(Event::TransportError));
        }
    }

    fn terminate(&mut self, event: Option<Event>) {
        self.state = State::Terminated;
        self.timer_e = None;
        self.timer_f = None;
        self.timer_k = None;
        self.events.extend(event);
    }

    /// The next message to send.
    pub fn poll_transmit(&mut self) -> Option<Message> {
        self.transmits.pop_front()
    }

    /// When to call [`ClientNonInvite::handle_timeout`].
    pub fn poll_timeout(&self) -> Option<Instant> {
        earliest(&[self.timer_e.map(|e| e.at), self.timer_f, self.timer_k])
    }

    /// The next event for the TU.
    pub fn poll_event(&mut self) -> Option<Event> {
        self.events.pop_front()
    }
}
