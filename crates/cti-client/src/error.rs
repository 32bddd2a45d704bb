//! What can go wrong talking to the CTI Manager.

use switchboard_cti_proto::ErrorName;

/// A failed connection, request or provider open.
#[derive(Debug, thiserror::Error)]
pub enum ClientError {
    /// The server answered the request with an `ErrorResponse` (same `seq`).
    #[error("{error}: {message}")]
    Cti {
        /// The stable error name, e.g. `DEVICE_NOT_FOUND`.
        error: ErrorName,
        /// The server's human-readable detail.
        message: String,
    },
    /// The provider open ended with `ProviderOpenFailedEvent` (the server closes the
    /// connection after it).
    #[error("{reason}: {message}")]
    OpenFailed {
        /// Why, e.g. `DIRECTORY_LOGIN_FAILED`.
        reason: ErrorName,
        /// The server's human-readable detail.
        message: String,
    },
    /// The connection is closed. If the server sent a connection-level `ErrorResponse` (no
    /// `seq`, e.g. `HEARTBEAT_TIMEOUT`, `SLOW_CONSUMER`) before closing, its name.
    #[error("connection closed{}", .0.map(|n| format!(" ({n})")).unwrap_or_default())]
    Closed(Option<ErrorName>),
    /// A socket error.
    #[error("I/O: {0}")]
    Io(#[from] std::io::Error),
    /// A TLS setup or handshake failure (bad trust PEM, bad server name, certificate refused).
    #[error("TLS: {0}")]
    Tls(String),
    /// The server (or the caller) broke the protocol: an unexpected answer, a frame that is
    /// not a message, a WebSocket upgrade refused, a request built without its `seq`…
    #[error("protocol: {0}")]
    Protocol(String),
    /// Nothing arrived in time: connecting, a response, an event, or the server's heartbeat
    /// (nothing received for its `heartbeat_s + timer_s`).
    #[error("timed out")]
    Timeout,
}

impl ClientError {
    /// The CTI error name this error carries, if any: the `ErrorResponse`'s, the
    /// `ProviderOpenFailedEvent`'s reason, or the connection-level error before a close.
    pub fn name(&self) -> Option<ErrorName> {
        match self {
            ClientError::Cti { error, .. } => Some(*error),
            ClientError::OpenFailed { reason, .. } => Some(*reason),
            ClientError::Closed(name) => *name,
            _ => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn display_and_name() {
        let e = ClientError::Cti {
            error: ErrorName::DeviceNotFound,
            message: "no device SEPX".into(),
        };
        assert_eq!(e.to_string(), "DEVICE_NOT_FOUND: no device SEPX");
        assert_eq!(e.name(), Some(ErrorName::DeviceNotFound));
        let e = ClientError::Closed(Some(ErrorName::HeartbeatTimeout));
        assert_eq!(e.to_string(), "connection closed (HEARTBEAT_TIMEOUT)");
        assert_eq!(ClientError::Closed(None).to_string(), "connection closed");
        assert_eq!(ClientError::Timeout.name(), None);
    }
}
