//! The one error type of the config file service, and the HTTP status each variant answers.

use switchboard_store::StoreError;

/// Why a config file was not served.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum CnfError {
    /// The request path is not `/` followed by a safe file name (a query string, characters
    /// outside `A-Z a-z 0-9 . _ -`, a name longer than 64 characters, ...): `400`.
    #[error("bad request path: {0}")]
    BadPath(&'static str),
    /// The path is well formed but names no file this service has (another extension, a name
    /// that cannot be a device): `404`.
    #[error("not a device configuration file (<DeviceName>.cnf.xml)")]
    NotAConfigFile,
    /// No device of that name is provisioned: `404`.
    #[error("device not provisioned")]
    UnknownDevice,
    /// A method other than GET or HEAD: `405`.
    #[error("method not allowed; use GET or HEAD")]
    MethodNotAllowed,
    /// The request carries a body, which a GET never has: `400`.
    #[error("a config file request has no body")]
    BodyNotAllowed,
    /// The store could not be read: `500`.
    #[error("the store could not be read: {0}")]
    Store(#[from] StoreError),
    /// Text given to [`tree::Element::parse`](crate::tree::Element::parse) is not well-formed
    /// XML (never an answer of the service).
    #[error("not a readable config file: {0}")]
    Unreadable(String),
}

impl CnfError {
    /// The HTTP status this error is answered with.
    pub fn status(&self) -> u16 {
        match self {
            CnfError::BadPath(_) | CnfError::BodyNotAllowed => 400,
            CnfError::NotAConfigFile | CnfError::UnknownDevice => 404,
            CnfError::MethodNotAllowed => 405,
            CnfError::Store(_) | CnfError::Unreadable(_) => 500,
        }
    }
}
