//! Typed headers, one per file: each file holds the type, its parser, its printer, the
//! `Headers` accessor and its tests.

pub(crate) mod auth_params;
pub mod call_id;
pub mod challenge;
pub mod contact;
pub mod content_type;
pub mod credentials;
pub mod cseq;
pub mod date;
pub mod expires;
pub mod max_forwards;
pub mod name_addr;
pub mod option_tags;
pub mod retry_after;
pub mod route;
pub mod via;
pub mod warning;
