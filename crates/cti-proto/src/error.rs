//! Stable error names, modelled on Cisco's CTI error names. They are part of the protocol:
//! applications match on the string, so a name never changes meaning and is never reused.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// Every error the CTI Manager reports, serialised as the exact upper-case name
/// (`"DIRECTORY_LOGIN_FAILED"`, …). `docs/cti-protocol.md` says when each one happens.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum ErrorName {
    /// Wrong login, wrong password, or an invalid / expired OAuth access token.
    DirectoryLoginFailed,
    /// The user authenticated but is not allowed to use CTI.
    CtierrUserNotCtiEnabled,
    /// The device exists but the user may not open it (e.g. a restricted device).
    CtierrAccessToDeviceDenied,
    /// The device exists but the user does not control it and is not a super provider.
    CtierrEnduserNotAssociatedWithDevice,
    /// No device of that name.
    DeviceNotFound,
    /// The device is already open on this provider.
    DeviceAlreadyOpen,
    /// A device handle that is not open on this provider.
    InvalidDeviceHandle,
    /// The device has no such line.
    LineNotFound,
    /// A request other than `ProviderOpenRequest`/`Heartbeat` before the provider is open.
    ProviderNotOpen,
    /// A second `ProviderOpenRequest` on a connection.
    ProviderAlreadyOpen,
    /// The node's CTI connection limit is reached.
    MaxNumberOfCtiConnectionsReached,
    /// No protocol version in common.
    IncompatibleProtocolVersion,
    /// A request that is not allowed on the port it came in on.
    CtierrConnectionOnInvalidPort,
    /// A cleartext password on the plain TCP port.
    CleartextPasswordRefused,
    /// A sealed password that does not decrypt, or whose nonce is unknown, reused or stale.
    NonceInvalid,
    /// A frame longer than the maximum frame size.
    FrameTooLarge,
    /// A frame that is not a well-formed JSON message of a known type.
    MalformedMessage,
    /// Well-formed JSON whose `type` is not a message this server knows.
    UnknownMessage,
    /// Nothing received within heartbeat interval + timer.
    HeartbeatTimeout,
    /// The client did not read its events fast enough; the event queue overflowed.
    SlowConsumer,
    /// A server-side failure; the request may be retried.
    InternalError,
    /// The request does not apply to the call's present state (e.g. answering a connected call).
    IllegalCallstate,
    /// The phone did not put the call on hold.
    Holdfailed,
    /// The phone did not take the call off hold.
    Retrievefailed,
    /// The transfer failed.
    Transferfailed,
    /// The transfer's destination is not a number of the cluster, or cannot be reached.
    TransferfailedDestinationUnreachable,
    /// A consultation transfer of the call is already outstanding on this provider.
    TransferfailedOutstandingTransfer,
    /// The call could not be redirected.
    Redirectfailed,
    /// DTMF digits outside `0-9 * # A-D`, none, or more than 32.
    CtierrInvalidDtmfdigits,
    /// No live call with that id.
    CtierrCallNotExist,
    /// The call does not involve the device the request acts for.
    CtierrCallNotOnDevice,
    /// The device is not registered, so it cannot be driven.
    CtierrDeviceOutOfService,
    /// The destination is not a number of the cluster.
    CtierrUnknownDestination,
    /// No phone control is attached on this node (no SIP service to drive phones).
    CtierrCallControlUnavailable,
    /// The phone side refused or failed the request for another reason.
    CtierrCallControlFailed,
    /// The phone side did not answer the request in time.
    CtierrTimeout,
    /// Too many call requests of this provider are still being carried out.
    CtierrTooManyOutstandingRequests,
}

impl ErrorName {
    /// Every name, in declaration order.
    pub const ALL: [ErrorName; 37] = [
        ErrorName::DirectoryLoginFailed,
        ErrorName::CtierrUserNotCtiEnabled,
        ErrorName::CtierrAccessToDeviceDenied,
        ErrorName::CtierrEnduserNotAssociatedWithDevice,
        ErrorName::DeviceNotFound,
        ErrorName::DeviceAlreadyOpen,
        ErrorName::InvalidDeviceHandle,
        ErrorName::LineNotFound,
        ErrorName::ProviderNotOpen,
        ErrorName::ProviderAlreadyOpen,
        ErrorName::MaxNumberOfCtiConnectionsReached,
        ErrorName::IncompatibleProtocolVersion,
        ErrorName::CtierrConnectionOnInvalidPort,
        ErrorName::CleartextPasswordRefused,
        ErrorName::NonceInvalid,
        ErrorName::FrameTooLarge,
        ErrorName::MalformedMessage,
        ErrorName::UnknownMessage,
        ErrorName::HeartbeatTimeout,
        ErrorName::SlowConsumer,
        ErrorName::InternalError,
        ErrorName::IllegalCallstate,
        ErrorName::Holdfailed,
        ErrorName::Retrievefailed,
        ErrorName::Transferfailed,
        ErrorName::TransferfailedDestinationUnreachable,
        ErrorName::TransferfailedOutstandingTransfer,
        ErrorName::Redirectfailed,
        ErrorName::CtierrInvalidDtmfdigits,
        ErrorName::CtierrCallNotExist,
        ErrorName::CtierrCallNotOnDevice,
        ErrorName::CtierrDeviceOutOfService,
        ErrorName::CtierrUnknownDestination,
        ErrorName::CtierrCallControlUnavailable,
        ErrorName::CtierrCallControlFailed,
        ErrorName::CtierrTimeout,
        ErrorName::CtierrTooManyOutstandingRequests,
    ];

    /// The wire name, e.g. `"DEVICE_NOT_FOUND"`.
    pub fn as_str(self) -> &'static str {
        match self {
            ErrorName::DirectoryLoginFailed => "DIRECTORY_LOGIN_FAILED",
            ErrorName::CtierrUserNotCtiEnabled => "CTIERR_USER_NOT_CTI_ENABLED",
            ErrorName::CtierrAccessToDeviceDenied => "CTIERR_ACCESS_TO_DEVICE_DENIED",
            ErrorName::CtierrEnduserNotAssociatedWithDevice => {
                "CTIERR_ENDUSER_NOT_ASSOCIATED_WITH_DEVICE"
            }
            ErrorName::DeviceNotFound => "DEVICE_NOT_FOUND",
            ErrorName::DeviceAlreadyOpen => "DEVICE_ALREADY_OPEN",
            ErrorName::InvalidDeviceHandle => "INVALID_DEVICE_HANDLE",
            ErrorName::LineNotFound => "LINE_NOT_FOUND",
            ErrorName::ProviderNotOpen => "PROVIDER_NOT_OPEN",
            ErrorName::ProviderAlreadyOpen => "PROVIDER_ALREADY_OPEN",
            ErrorName::MaxNumberOfCtiConnectionsReached => "MAX_NUMBER_OF_CTI_CONNECTIONS_REACHED",
            ErrorName::IncompatibleProtocolVersion => "INCOMPATIBLE_PROTOCOL_VERSION",
            ErrorName::CtierrConnectionOnInvalidPort => "CTIERR_CONNECTION_ON_INVALID_PORT",
            ErrorName::CleartextPasswordRefused => "CLEARTEXT_PASSWORD_REFUSED",
            ErrorName::NonceInvalid => "NONCE_INVALID",
            ErrorName::FrameTooLarge => "FRAME_TOO_LARGE",
            ErrorName::MalformedMessage => "MALFORMED_MESSAGE",
            ErrorName::UnknownMessage => "UNKNOWN_MESSAGE",
            ErrorName::HeartbeatTimeout => "HEARTBEAT_TIMEOUT",
            ErrorName::SlowConsumer => "SLOW_CONSUMER",
            ErrorName::InternalError => "INTERNAL_ERROR",
            ErrorName::IllegalCallstate => "ILLEGAL_CALLSTATE",
            ErrorName::Holdfailed => "HOLDFAILED",
            ErrorName::Retrievefailed => "RETRIEVEFAILED",
            ErrorName::Transferfailed => "TRANSFERFAILED",
            ErrorName::TransferfailedDestinationUnreachable => {
                "TRANSFERFAILED_DESTINATION_UNREACHABLE"
            }
            ErrorName::TransferfailedOutstandingTransfer => "TRANSFERFAILED_OUTSTANDING_TRANSFER",
            ErrorName::Redirectfailed => "REDIRECTFAILED",
            ErrorName::CtierrInvalidDtmfdigits => "CTIERR_INVALID_DTMFDIGITS",
            ErrorName::CtierrCallNotExist => "CTIERR_CALL_NOT_EXIST",
            ErrorName::CtierrCallNotOnDevice => "CTIERR_CALL_NOT_ON_DEVICE",
            ErrorName::CtierrDeviceOutOfService => "CTIERR_DEVICE_OUT_OF_SERVICE",
            ErrorName::CtierrUnknownDestination => "CTIERR_UNKNOWN_DESTINATION",
            ErrorName::CtierrCallControlUnavailable => "CTIERR_CALL_CONTROL_UNAVAILABLE",
            ErrorName::CtierrCallControlFailed => "CTIERR_CALL_CONTROL_FAILED",
            ErrorName::CtierrTimeout => "CTIERR_TIMEOUT",
            ErrorName::CtierrTooManyOutstandingRequests => "CTIERR_TOO_MANY_OUTSTANDING_REQUESTS",
        }
    }

    /// Whether the server closes the connection after reporting this error (the "Closes"
    /// column of the error table in `docs/cti-protocol.md`, checked by a test).
    pub fn closes_connection(self) -> bool {
        matches!(
            self,
            ErrorName::DirectoryLoginFailed
                | ErrorName::CtierrUserNotCtiEnabled
                | ErrorName::MaxNumberOfCtiConnectionsReached
                | ErrorName::IncompatibleProtocolVersion
                | ErrorName::CleartextPasswordRefused
                | ErrorName::NonceInvalid
                | ErrorName::FrameTooLarge
                | ErrorName::HeartbeatTimeout
                | ErrorName::SlowConsumer
        )
    }
}

impl std::fmt::Display for ErrorName {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn serde_names_are_the_wire_names() {
        for e in ErrorName::ALL {
            let json = serde_json::to_string(&e).unwrap();
            assert_eq!(json, format!("\"{}\"", e.as_str()));
            let back: ErrorName = serde_json::from_str(&json).unwrap();
            assert_eq!(back, e);
        }
        let mut names: Vec<_> = ErrorName::ALL.iter().map(|e| e.as_str()).collect();
        names.sort();
        names.dedup();
        assert_eq!(names.len(), ErrorName::ALL.len());
    }
}
