//! Sans-IO SIP for Switchboard: message parser and printer, URIs, typed headers, stream
//! framing and the RFC 3261 transaction state machines. No sockets, no clock, no async
//! runtime: bytes and `now` go in, messages, transmits and deadlines come out.
//!
//! # Why hand-written
//!
//! No maintained Rust SIP crate reads what Cisco endpoints and the RFC torture tests put
//! on the wire (probe in the project's SIP report, §3): `rsip` fails on typed Bearer
//! credentials, on a Bearer challenge ("missing nonce") and on a Jabber Contact with
//! `+sip.instance="<urn:…>"` and escaped-quote display names; `ezk-sip-types` calls Bearer
//! credentials malformed, keeps the Bearer challenge untyped and silently returns an
//! empty Contact list for the Jabber Contact; `rvoip-sip-core` parses those but leaves the
//! Bearer `Proxy-Authenticate` raw, is 133k lines, and called itself alpha. The parser is
//! the server's hot path and has to get token68 credentials, quoted strings with escapes,
//! compact forms, folding, RFC 5118 IPv6 references and opaque multipart bodies right, so
//! it is written here, against RFC 3261/4475/5118/8898 and real Cisco captures.
//!
//! # Map
//!
//! * [`parse_message`] / [`Message::to_bytes`]: one datagram or framed message in, the
//!   canonical wire form out (`parse(print(parse(x))) == parse(x)`).
//! * [`Headers`]: ordered raw header lines; typed accessors per header in [`header`]
//!   ([`Headers::vias`], [`Headers::contacts`], [`Headers::proxy_authorization`], …).
//! * [`Uri`], [`Host`], [`Params`]: URIs and parameter lists, raw values kept.
//! * [`validate_request`]: the checks after parsing that decide 400 / 416 / 505.
//! * [`StreamFramer`]: TCP/TLS byte stream → messages, CRLF keep-alives, limits.
//! * [`transaction`]: client and server, INVITE and non-INVITE transactions (RFC 3261
//!   §17, RFC 6026), driven by `handle_*(now, …)`, read with `poll_*`.
//!
//! Architecture invariants: nothing in this crate performs I/O or reads the clock; no
//! input makes it panic; every bound ([`Limits`]) is enforced before memory is spent.

#![warn(missing_docs)]

mod builder;
mod error;
mod framer;
pub mod header;
mod headers;
mod host;
mod lex;
mod message;
mod method;
mod names;
mod params;
mod parser;
pub mod transaction;
mod uri;
mod validate;

pub use error::{FrameError, ParseError, ParseErrorKind};
pub use framer::{Frame, StreamFramer};
pub use header::challenge::{BearerChallenge, Challenge, DigestChallenge};
pub use header::contact::{Contact, ContactList};
pub use header::content_type::MediaType;
pub use header::credentials::{Credentials, DigestCredentials};
pub use header::cseq::CSeq;
pub use header::date::SipDate;
pub use header::name_addr::NameAddr;
pub use header::retry_after::RetryAfter;
pub use header::via::{Rport, Transport, Via};
pub use header::warning::Warning;
pub use headers::{Header, Headers};
pub use host::Host;
pub use message::{Message, StartLine, Version};
pub use method::Method;
pub use params::{Param, Params};
pub use parser::{parse_message, parse_message_with, Limits};
pub use uri::{percent_decode, AbsoluteUri, SipUri, TelUri, Uri};
pub use validate::{validate_parsed_request, validate_request};
