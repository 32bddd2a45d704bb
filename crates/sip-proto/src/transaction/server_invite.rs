//! Server INVITE transaction (RFC 3261 §17.2.1 with RFC 6026): sends 100 Trying,
//! repeats the last response to retransmitted INVITEs, Timers G (retransmit a non-2xx,
//! T1 doubling to T2), H (64·T1 wait for ACK), I (T4 absorbing ACKs) and L (RFC 6026
//! `Accepted`).
//!
//! On unreliable transports the transaction also retransmits a 2xx until the TU reports
//! its ACK (the UAS core's duty in RFC 3261 §13.3.1.4, done here so that one timer set
//! covers it). The ACK for a 2xx carries a new branch, so the TU finds this transaction
//! through its dialog (Call-ID, CSeq number) and hands the ACK in with
//! [`ServerInvite::handle_request`].

use std::collections::VecDeque;
use std::time::Instant;

use super::{due, earliest, Event, Reliability, Retransmit, State, Timers};
use crate::message::Message;
use crate::method::Method;

/// A server INVITE transaction; starts in `Proceeding` with `100 Trying` queued.
#[derive(Debug, Clone)]
pub struct ServerInvite {
    request: Message,
    state: State,
    timers: Timers,
    reliability: Reliability,
    last_response: Option<Message>,
    acked: bool,
    timer_g: Option<Retransmit>,
    timer_h: Option<Instant>,
    timer_i: Option<Instant>,
    timer_l: Option<Instant>,
    transmits: VecDeque<Message>,
    events: VecDeque<Event>,
}

impl ServerInvite {
    /// Creates the transaction for a received INVITE and queues `100 Trying`.
    pub fn new(request: Message, reliability: Reliability, timers: Timers, _now: Instant) -> Self {
        let trying = Message::response_to(&request, 100, "Trying");
        ServerInvite {
            request,
            state: State::Proceeding,
            timers,
            reliability,
            last_response: Some(trying.clone()),
            acked: false,
            timer_g: None,
            timer_h: None,
            timer_i: None,
            timer_l: None,
            transmits: VecDeque::from([trying]),
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

    /// The TU's response: 1xx stays in `Proceeding`, 2xx goes to `Accepted`, 300–699 to
    /// `Completed`. In `Accepted` further 2xx are sent as they come.
    pub fn send_response(&mut self, now: Instant, response: Message) {
        let Some(code) = response.code() else { return };
        match (self.state, code) {
            (State::Proceeding, 100..=199) => {}
            (State::Proceeding, 200..=299) => {
                self.state = State::Accepted;
                self.timer_l = Some(now + self.timers.timeout());
                self.timer_g = self
                    .reliability
                    .unreliable(self.timers.t1)
                    .map(|d| Retransmit::start(now, d));
            }
            (State::Accepted, 200..=299) => {}
            (State::Proceeding, _) => {
                self.state = State::Completed;
                self.timer_h = Some(now + self.timers.timeout());
                self.timer_g = self
                    .reliability
                    .unreliable(self.timers.t1)
                    .map(|d| Retransmit::start(now, d));
            }
            _ => return,
        }
        self.transmits.push_back(response.clone());
        self.last_response = Some(response);
    }

    /// A request matched to this transaction: a retransmitted INVITE (answered with the
    /// last response in `Proceeding` and `Completed`, absorbed otherwise) or an ACK.
    pub fn handle_request(&mut self, now: Instant, request: Message) {
        let is_ack = request.method() == Some(&Method::Ack);
        match (self.state, is_ack) {
            (State::Proceeding | State::Completed, false) => {
                self.transmits.extend(self.last_response.clone());
            }
            (State::Completed, true) => {
                self.timer_g = None;
                self.timer_h = None;
                match self.reliability.unreliable(self.timers.t4) {
                    Some(i) => {
                        self.state = State::Confirmed;
                        self.timer_i = Some(now + i);
                    }
                    None => self.terminate(None),
                }
            }
            (State::Accepted, true) => {
                self.timer_g = None;
                self.acked = true;
                self.events.push_back(Event::Ack(request));
            }
            _ => {}
        }
    }

    /// Fires the timers due at `now`.
    pub fn handle_timeout(&mut self, now: Instant) {
        match self.state {
            State::Completed if due(self.timer_h, now) => self.terminate(Some(Event::Timeout)),
            State::Accepted if due(self.timer_l, now) => {
                let ev = (!self.acked).then_some(Event::Timeout);
                self.terminate(ev);
            }
            State::Confirmed if due(self.timer_i, now) => self.terminate(None),
            State::Completed | State::Accepted => {
                if let Some(g) = self.timer_g.as_mut().filter(|g| g.at <= now) {
                    self.transmits.extend(self.last_response.clone());
                    let next = (g.interval * 2).min(self.timers.t2);
                    g.rearm(now, next);
                }
            }
            _ => {}
        }
    }

    /// The transport failed to send a response.
    pub fn handle_transport_error(&mut self) {
        if self.state != State::Terminated {
            self.terminate(Some(Event::TransportError));
        }
    }

    fn terminate(&mut self, event: Option<Event>) {
        self.state = State::Terminated;
        self.timer_g = None;
        self.timer_h = None;
        self.timer_i = None;
        self.timer_l = None;
        self.events.extend(event);
    }

    /// The next message to send.
    pub fn poll_transmit(&mut self) -> Option<Message> {
        self.transmits.pop_front()
    }

    /// When to call [`ServerInvite::handle_timeout`].
    pub fn poll_timeout(&self) -> Option<Instant> {
        earliest(&[
            self.timer_g.map(|g| g.at),
            self.timer_h,
            self.timer_i,
            self.timer_l,
        ])
    }

    /// The next event for the TU.
    pub fn poll_event(&mut self) -> Option<Event> {
        self.events.pop_front()
    }
}
