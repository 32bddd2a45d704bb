//! Routes each parsed request to what handles it (REGISTER to the registrar, OPTIONS answered
//! here, the rest refused with 501 until call control lands), absorbing retransmissions
//! through the response cache.

use std::sync::Arc;
use std::time::Instant;

use switchboard_sip_proto::{validate_parsed_request, Message};
use switchboard_trace::Tracer;

use crate::location::Transport;
use crate::registrar::{Inbound, Registrar, SERVER};
use crate::transport::{transaction_key, Cached, ResponseCache};

/// Methods this server answers.
pub const ALLOW: &str = "REGISTER, OPTIONS";

/// The request router of a node's SIP service.
pub struct Dispatcher {
    pub registrar: Arc<Registrar>,
    tracer: Tracer,
    cache: ResponseCache,
}

impl Dispatcher {
    pub fn new(registrar: Arc<Registrar>, tracer: Tracer) -> Dispatcher {
        Dispatcher {
            registrar,
            tracer,
            cache: ResponseCache::default(),
        }
    }

    pub fn tracer(&self) -> &Tracer {
        &self.tracer
    }

    /// The bytes to answer `req` (a request from the parser) with, if any.
    pub async fn handle(&self, req: Message, inbound: &Inbound) -> Option<Arc<Vec<u8>>> {
        let method = req.method()?.as_str().to_string();
        if method == "ACK" {
            return None;
        }
        let now = Instant::now();
        let key = match inbound.transport {
            Transport::Udp => transaction_key(&req),
            Transport::Tcp | Transport::Tls => None,
        };
        if let Some(key) = &key {
            match self.cache.begin(key, now) {
                Cached::New => {}
                Cached::InProgress => return None,
                Cached::Answered(bytes) => return Some(bytes),
            }
        }
        let response = self.answer(&req, &method, inbound).await;
        let bytes = Arc::new(response.to_bytes());
        if let Some(key) = &key {
            match response.code() {
                // A challenge is not kept: a retransmission is challenged again (a fresh nonce,
                // equally good), which halves what the cache holds under registration load.
                Some(401 | 407) => self.cache.forget(key),
                _ => self.cache.finish(key, bytes.clone()),
            }
        }
        Some(bytes)
    }

    async fn answer(&self, req: &Message, method: &str, inbound: &Inbound) -> Message {
        if let Err(e) = validate_parsed_request(req) {
            // 400, or 505 (version) / 416 (URI scheme) as the error says.
            return Message::response_to(req, e.status_code(), &e.to_string())
                .with_header("Server", SERVER);
        }
        match method {
            "REGISTER" => self.registrar.handle_register(req, inbound).await,
            "OPTIONS" => Message::response_to(req, 200, "OK")
                .with_header("Server", SERVER)
                .with_header("Allow", ALLOW)
                .with_header("Accept", "application/sdp"),
            _ => Message::response_to(req, 501, "Not Implemented")
                .with_header("Server", SERVER)
                .with_header("Allow", ALLOW),
        }
    }
}
