//! The ACK a client INVITE transaction sends for a non-2xx final response (RFC 3261
//! §17.1.1.3).

use crate::message::{Message, StartLine};
use crate::method::Method;

/// Builds the ACK for `response` (300–699) to `invite`: same Request-URI, Call-ID, From
/// and CSeq number, the response's To (with its tag), only the top Via, the INVITE's
/// Route headers, no body. `None` if `invite` is not a request or lacks a Via / CSeq.
pub fn ack_for(invite: &Message, response: &Message) -> Option<Message> {
    let StartLine::Request { uri, .. } = &invite.start else {
        return None;
    };
    let cseq = invite.headers.cseq().ok()?;
    let mut ack = Message::request(Method::Ack, uri.clone());
    ack.headers.push("Via", invite.headers.get("Via")?);
    ack.headers.copy_from(&invite.headers, "From");
    ack.headers.copy_from(&response.headers, "To");
    ack.headers.copy_from(&invite.headers, "Call-ID");
    ack.headers.push("CSeq", &format!("{} ACK", cseq.seq));
    ack.headers.copy_from(&invite.headers, "Route");
    ack.headers.push("Max-Forwards", "70");
    Some(ack)
}
