//! Routes each parsed message to what handles it (REGISTER to the registrar, OPTIONS answered
//! here, INVITE, ACK, CANCEL, BYE, UPDATE, INFO, REFER, NOTIFY and every response to the back-to-back user
//! agent when the service has one, the rest refused with 501), absorbing retransmissions of non-INVITE
//! requests through the response cache (INVITE server transactions are the B2BUA's).

use std::sync::Arc;
use std::time::Instant;

use switchboard_sip_proto::{validate_parsed_request, Message};
use switchboard_trace::Tracer;

use crate::b2bua::B2bua;
use crate::location::Transport;
use crate::registrar::{Inbound, Registrar, SERVER};
use crate::transport::{transaction_key, Cached, ResponseCache};

/// Methods this server answers without calls.
pub const ALLOW: &str = "REGISTER, OPTIONS";

/// The request router of a node's SIP service.
pub struct Dispatcher {
    pub registrar: Arc<Registrar>,
    tracer: Tracer,
    cache: ResponseCache,
    b2bua: Option<Arc<B2bua>>,
}

impl Dispatcher {
    pub fn new(registrar: Arc<Registrar>, tracer: Tracer) -> Dispatcher {
        Dispatcher {
            registrar,
            tracer,
            cache: ResponseCache::default(),
            b2bua: None,
        }
    }

    /// Routes calls (INVITE, ACK, CANCEL, BYE, responses) to `b2bua`.
    pub fn with_b2bua(mut self, b2bua: Arc<B2bua>) -> Dispatcher {
        self.b2bua = Some(b2bua);
        self
    }

    /// A response from the network (to a request the node sent).
    pub fn handle_response(&self, resp: Message, _inbound: &Inbound) {
        if let Some(b) = &self.b2bua {
            b.handle_response(resp);
        }
    }

    pub fn tracer(&self) -> &Tracer {
        &self.tracer
    }

    /// The bytes to answer `req` (a request from the parser) with, if any.
    pub async fn handle(&self, req: Message, inbound: &Inbound) -> Option<Arc<Vec<u8>>> {
        let method = req.method()?.as_str().to_string();
        if let Some(b2bua) = &self.b2bua {
            match method.as_str() {
                "ACK" => {
                    b2bua.handle_ack(req);
                    return None;
                }
                "CANCEL" => {
                    b2bua.handle_cancel(&req, inbound);
                    return None;
                }
                "INVITE" => {
                    if let Err(e) = validate_parsed_request(&req) {
                        let r = Message::response_to(&req, e.status_code(), &e.to_string())
                            .with_header("Server", SERVER);
                        return Some(Arc::new(r.to_bytes()));
                    }
                    let r = b2bua.handle_invite(req, inbound).await?;
                    return Some(Arc::new(r.to_bytes()));
                }
                "REFER" => {
                    if let Err(e) = validate_parsed_request(&req) {
                        let r = Message::response_to(&req, e.status_code(), &e.to_string())
                            .with_header("Server", SERVER);
                        return Some(Arc::new(r.to_bytes()));
                    }
                    let r = b2bua.handle_refer(req, inbound).await?;
                    return Some(Arc::new(r.to_bytes()));
                }
                "UPDATE" | "INFO" | "NOTIFY" => {
                    if let Err(e) = validate_parsed_request(&req) {
                        let r = Message::response_to(&req, e.status_code(), &e.to_string())
                            .with_header("Server", SERVER);
                        return Some(Arc::new(r.to_bytes()));
                    }
                    let r = b2bua.handle_in_dialog(req, inbound)?;
                    return Some(Arc::new(r.to_bytes()));
                }
                _ => {}
            }
        }
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

    fn allow(&self) -> &'static str {
        if self.b2bua.is_some() {
            crate::b2bua::ALLOW
        } else {
            ALLOW
        }
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
                .with_header("Allow", self.allow())
                .with_header("Accept", "application/sdp"),
            "BYE" if self.b2bua.is_some() => match &self.b2bua {
                Some(b) => b.handle_bye(req),
                None => Message::response_to(req, 500, "Server Internal Error"),
            },
            _ => Message::response_to(req, 501, "Not Implemented")
                .with_header("Server", SERVER)
                .with_header("Allow", self.allow()),
        }
    }
}
