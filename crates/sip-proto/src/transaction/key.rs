//! `TransactionKey`: which transaction a request or response belongs to (RFC 3261
//! §17.1.3 and §17.2.3, with the RFC 2543 fallback for branches without the magic
//! cookie), and fresh branch values.

use std::collections::hash_map::RandomState;
use std::hash::{BuildHasher, Hasher};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::OnceLock;

use crate::error::{ParseError, ParseErrorKind};
use crate::header::via::Via;
use crate::message::{Message, StartLine};
use crate::method::Method;

/// The RFC 3261 branch prefix.
pub const MAGIC_COOKIE: &str = "z9hG4bK";

/// Identifies a transaction. ACK maps to the INVITE it acknowledges (for a non-2xx: a
/// 2xx's ACK has its own branch and belongs to the dialog, not to the INVITE transaction).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum TransactionKey {
    /// Top Via branch with the magic cookie, its sent-by, and the method.
    Rfc3261 {
        /// The branch.
        branch: String,
        /// `host[:port]` of the top Via, host lowercased.
        sent_by: String,
        /// The method (INVITE for ACK).
        method: Method,
    },
    /// RFC 2543 peers (no cookie): Request-URI, Call-ID, From tag, CSeq number, top Via
    /// and method. (The To tag is left out so that the ACK for a non-2xx, which carries
    /// the tag of the response, matches its INVITE.)
    Rfc2543 {
        /// The Request-URI (empty when built from a response).
        request_uri: String,
        /// Call-ID.
        call_id: String,
        /// From tag.
        from_tag: Option<String>,
        /// CSeq number.
        cseq: u32,
        /// The whole top Via, printed.
        top_via: String,
        /// The method (INVITE for ACK).
        method: Method,
    },
}

fn key_method(m: Method) -> Method {
    if m == Method::Ack {
        Method::Invite
    } else {
        m
    }
}

fn sent_by(v: &Via) -> String {
    v.sent_by().to_ascii_lowercase()
}

impl TransactionKey {
    /// The key of a request: a server transaction's key when received, a client
    /// transaction's key when sent.
    pub fn for_request(msg: &Message) -> Result<TransactionKey, ParseError> {
        let StartLine::Request { method, uri, .. } = &msg.start else {
            return Err(ParseErrorKind::NotARequest.into());
        };
        TransactionKey::build(msg, key_method(method.clone()), uri.to_string())
    }

    /// The key of a response, equal to the key of the client transaction's request.
    pub fn for_response(msg: &Message) -> Result<TransactionKey, ParseError> {
        let method = key_method(msg.headers.cseq()?.method);
        TransactionKey::build(msg, method, String::new())
    }

    fn build(
        msg: &Message,
        method: Method,
        request_uri: String,
    ) -> Result<TransactionKey, ParseError> {
        let via = msg.headers.top_via()?;
        match via.branch() {
            Some(b) if b.len() > MAGIC_COOKIE.len() && b.starts_with(MAGIC_COOKIE) => {
                Ok(TransactionKey::Rfc3261 {
                    branch: b.to_string(),
                    sent_by: sent_by(&via),
                    method,
                })
            }
            _ => Ok(TransactionKey::Rfc2543 {
                request_uri,
                call_id: msg.headers.call_id()?.to_string(),
                from_tag: msg.headers.from()?.tag().map(str::to_string),
                cseq: msg.headers.cseq()?.seq,
                top_via: via.to_string(),
                method,
            }),
        }
    }

    /// For a CANCEL's key, the key of the INVITE it cancels (same branch, RFC 3261 §9.2).
    pub fn cancelled_invite(&self) -> Option<TransactionKey> {
        let mut k = self.clone();
        match &mut k {
            TransactionKey::Rfc3261 { method, .. } | TransactionKey::Rfc2543 { method, .. } => {
                if *method != Method::Cancel {
                    return None;
                }
                *method = Method::Invite;
            }
        }
        Some(k)
    }

    /// Whether the key uses the RFC 2543 fallback.
    pub fn is_rfc2543(&self) -> bool {
        matches!(self, TransactionKey::Rfc2543 { .. })
    }
}

/// A fresh branch: the magic cookie and 64 bits that are unique within the process and
/// unpredictable across processes.
pub fn new_branch() -> String {
    static KEY: OnceLock<RandomState> = OnceLock::new();
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let mut h = KEY.get_or_init(RandomState::new).build_hasher();
    h.write_u64(COUNTER.fetch_add(1, Ordering::Relaxed));
    format!("{MAGIC_COOKIE}{:016x}", h.finish())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::parse_message;

    fn msg(first: &str, via: &str, cseq: &str) -> Message {
        let t = format!("{first}\r\nVia: {via}\r\nFrom: <sip:a@b>;tag=f\r\nTo: <sip:c@d>;tag=t\r\nCall-ID: id\r\nCSeq: {cseq}\r\n\r\n");
        parse_message(t.as_bytes()).unwrap()
    }

    #[test]
    fn request_response_and_ack() {
        let via = "SIP/2.0/UDP Host.Example:5060;branch=z9hG4bKabc";
        let inv =
            TransactionKey::for_request(&msg("INVITE sip:c@d SIP/2.0", via, "1 INVITE")).unwrap();
        let ack = TransactionKey::for_request(&msg("ACK sip:c@d SIP/2.0", via, "1 ACK")).unwrap();
        let resp = TransactionKey::for_response(&msg("SIP/2.0 486 Busy", via, "1 INVITE")).unwrap();
        assert_eq!(inv, ack);
        assert_eq!(inv, resp);
        let cancel =
            TransactionKey::for_request(&msg("CANCEL sip:c@d SIP/2.0", via, "1 CANCEL")).unwrap();
        assert_ne!(cancel, inv);
        assert_eq!(cancel.cancelled_invite(), Some(inv.clone()));
        assert_eq!(inv.cancelled_invite(), None);
        let other = TransactionKey::for_request(&msg(
            "INVITE sip:c@d SIP/2.0",
            "SIP/2.0/UDP h2;branch=z9hG4bKabc",
            "1 INVITE",
        ))
        .unwrap();
        assert_ne!(other, inv);
    }

    #[test]
    fn rfc2543_fallback() {
        let k = TransactionKey::for_request(&msg(
            "OPTIONS sip:c@d SIP/2.0",
            "SIP/2.0/UDP h;branch=z9hG4bK",
            "8 OPTIONS",
        ))
        .unwrap();
        assert!(k.is_rfc2543());
        let a = TransactionKey::for_request(&msg(
            "INVITE sip:c@d SIP/2.0",
            "SIP/2.0/UDP h",
            "8 INVITE",
        ))
        .unwrap();
        let b = TransactionKey::for_request(&msg("ACK sip:c@d SIP/2.0", "SIP/2.0/UDP h", "8 ACK"))
            .unwrap();
        assert_eq!(a, b);
    }

    #[test]
    fn branches_are_fresh() {
        let (a, b) = (new_branch(), new_branch());
        assert_ne!(a, b);
        assert!(a.starts_with(MAGIC_COOKIE) && a.len() == 23);
    }
}
