//! The CTI messages. One JSON object per message, tagged by `"type"`; requests carry a
//! client-chosen `seq`, responses echo it, events carry none. Field names are snake_case.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::ErrorName;

/// The protocol versions this crate speaks, newest first.
pub const SUPPORTED_VERSIONS: &[u32] = &[2, 1];

/// The version this crate speaks by default.
pub const PROTOCOL_VERSION: u32 = 2;

/// The version that added call events and call control (the call messages; a session of an
/// earlier version is answered `UNKNOWN_MESSAGE` for them and never sent their events).
pub const CALL_CONTROL_VERSION: u32 = 2;

/// Longest destination (a dialed number) accepted in a call request, in bytes.
pub const MAX_DESTINATION_LEN: usize = 64;

/// Whether `destination` is a well-formed dial string: 1 to [`MAX_DESTINATION_LEN`] bytes of
/// `0-9 A-Z a-z * # + . _ - @` (a directory number, possibly with a prefix or a `user@host`).
pub fn valid_destination(destination: &str) -> bool {
    !destination.is_empty()
        && destination.len() <= MAX_DESTINATION_LEN
        && destination.bytes().all(|b| {
            b.is_ascii_alphanumeric() || matches!(b, b'*' | b'#' | b'+' | b'.' | b'_' | b'-' | b'@')
        })
}

/// Picks the highest version both sides support, if any.
pub fn negotiate_version(client: &[u32]) -> Option<u32> {
    SUPPORTED_VERSIONS
        .iter()
        .copied()
        .find(|v| client.contains(v))
}

/// Range the server clamps a proposed heartbeat interval to, seconds.
pub const HEARTBEAT_RANGE_S: (u32, u32) = (5, 300);

/// Range the server clamps a proposed heartbeat grace timer to, seconds.
pub const TIMER_RANGE_S: (u32, u32) = (5, 60);

/// The heartbeat interval and timer the server enforces for the client's proposal.
pub fn negotiate_heartbeat(heartbeat_s: u32, timer_s: u32) -> (u32, u32) {
    (
        heartbeat_s.clamp(HEARTBEAT_RANGE_S.0, HEARTBEAT_RANGE_S.1),
        timer_s.clamp(TIMER_RANGE_S.0, TIMER_RANGE_S.1),
    )
}

/// How a provider authenticates.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(tag = "type", rename_all = "snake_case", deny_unknown_fields)]
pub enum Auth {
    /// The password itself. Only on TLS (2749) and WebSocket over TLS; refused on 2748 with
    /// `CLEARTEXT_PASSWORD_REFUSED`.
    Password {
        /// The user's password.
        password: String,
    },
    /// The password follows, sealed to the node's CTI key, in `ProviderAuthenticateRequest`
    /// (plain TCP 2748): `ProviderOpenResponse` carries the nonce and the key.
    SealedPassword {},
    /// An OAuth 2.0 access token issued by the node's authorization server.
    Oauth {
        /// The bearer access token.
        access_token: String,
    },
}

/// A password sealed with HPKE (RFC 9180) to the node's CTI public key; see [`crate::seal`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct SealedPassword {
    /// The HPKE encapsulated key (`enc`, 32 bytes), base64 (standard, padded).
    pub enc: String,
    /// The AEAD ciphertext with its 16-byte tag, base64 (standard, padded).
    pub ciphertext: String,
}

/// The user's six CTI flags (seed step 14, `CtiUserSettingsRes`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct CtiFlags {
    /// May open any device, controlled or not.
    pub super_provider: bool,
    /// May retrieve parked calls.
    pub call_park_retrieval_allowed: bool,
    /// May modify the calling number.
    pub modify_calling_number: bool,
    /// May use CTI at all (always true in a completed open).
    pub cti_enabled: bool,
    /// May monitor calls.
    pub call_monitor: bool,
    /// May record calls.
    pub call_record: bool,
}

/// Which events a device open subscribes to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct EventFilter {
    /// `DeviceInServiceEvent` / `DeviceOutOfServiceEvent`.
    pub device_state: bool,
    /// Call events of the device (`NewCallEvent`, `CallStateChangedEvent`,
    /// `CallEndedEvent`), from protocol version 2; no effect in version 1.
    pub call_state: bool,
}

/// Registration state of a device.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum DeviceState {
    /// Registered with the node.
    InService,
    /// Not registered.
    OutOfService,
}

/// Why a device went out of service.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum OutOfServiceReason {
    /// The device unregistered (REGISTER with expires 0).
    Unregistered,
    /// Its registration expired without a refresh.
    RegistrationExpired,
    /// The device was deleted from the configuration.
    DeviceRemoved,
}

/// Signalling protocol of a device.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum DeviceProtocol {
    /// SIP.
    Sip,
}

/// Opens a provider: the first request on every connection.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ProviderOpenRequest {
    /// Request sequence number.
    pub seq: u32,
    /// Protocol versions the client speaks.
    pub protocol_versions: Vec<u32>,
    /// The end user's login (user id).
    pub login: String,
    /// How the user authenticates.
    pub auth: Auth,
    /// Application name (traced, shown in `switchboard cti` sessions).
    pub application: String,
    /// Client name and version, e.g. `"switchboard-cti-client/0.1.0"`.
    pub client_version: String,
    /// Proposed heartbeat interval, seconds.
    pub heartbeat_s: u32,
    /// Proposed grace time after a missed heartbeat, seconds.
    pub timer_s: u32,
}

/// Accepts a provider open; authentication follows.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ProviderOpenResponse {
    /// Echoes the request's `seq`.
    pub seq: u32,
    /// Provider id, unique on the node while the provider is open.
    pub provider_id: u32,
    /// The negotiated protocol version.
    pub protocol_version: u32,
    /// The heartbeat interval the server enforces, seconds.
    pub heartbeat_s: u32,
    /// The grace time the server allows after a missed heartbeat, seconds.
    pub timer_s: u32,
    /// For `sealed_password`: a fresh single-use nonce.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub nonce: Option<String>,
    /// For `sealed_password`: the node's CTI X25519 public key, base64.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cti_public_key: Option<String>,
}

/// The sealed password (plain TCP only), after `ProviderOpenResponse`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ProviderAuthenticateRequest {
    /// Request sequence number.
    pub seq: u32,
    /// `{password, nonce}` sealed to `cti_public_key`.
    pub sealed_password: SealedPassword,
}

/// The sealed password was received; the outcome is `ProviderOpenCompletedEvent` or
/// `ProviderOpenFailedEvent`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ProviderAuthenticateResponse {
    /// Echoes the request's `seq`.
    pub seq: u32,
}

/// The provider is open: authenticated and CTI enabled.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ProviderOpenCompletedEvent {
    /// The provider id from `ProviderOpenResponse`.
    pub provider_id: u32,
    /// The authenticated user id.
    pub user_id: String,
    /// The user's CTI flags.
    pub flags: CtiFlags,
}

/// The provider open failed; the server closes the connection after this event.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ProviderOpenFailedEvent {
    /// The provider id from `ProviderOpenResponse`.
    pub provider_id: u32,
    /// Why.
    pub reason: ErrorName,
    /// Human-readable detail (not for matching).
    pub message: String,
}

/// Opens a device for monitoring and control.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct DeviceOpenRequest {
    /// Request sequence number.
    pub seq: u32,
    /// Device name, e.g. `"SEP001794625DE5"`.
    pub device_name: String,
    /// Events to deliver for this device.
    pub event_filter: EventFilter,
}

/// The device is open; its current state is the snapshot, events follow.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct DeviceOpenResponse {
    /// Echoes the request's `seq`.
    pub seq: u32,
    /// Handle for this device on this provider.
    pub device_handle: u32,
    /// Device name.
    pub device_name: String,
    /// Device model, e.g. `"Cisco 8841"`.
    pub device_type: String,
    /// The device's id in the store.
    pub device_id: String,
    /// Signalling protocol.
    pub protocol: DeviceProtocol,
    /// State at the time of the open.
    pub state: DeviceState,
}

/// A device registered (or was registered when it was opened).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct DeviceInServiceEvent {
    /// The device handle.
    pub device_handle: u32,
    /// Device name.
    pub device_name: String,
}

/// A device stopped being registered.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct DeviceOutOfServiceEvent {
    /// The device handle.
    pub device_handle: u32,
    /// Device name.
    pub device_name: String,
    /// Why.
    pub reason: OutOfServiceReason,
}

/// Opens one line (directory number) of an open device.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct LineOpenRequest {
    /// Request sequence number.
    pub seq: u32,
    /// The open device.
    pub device_handle: u32,
    /// Directory number of the line.
    pub directory_number: String,
}

/// The line is open.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct LineOpenResponse {
    /// Echoes the request's `seq`.
    pub seq: u32,
    /// The device handle.
    pub device_handle: u32,
    /// Handle for this line on this provider.
    pub line_handle: u32,
    /// Directory number of the line.
    pub directory_number: String,
}

/// Closes a device (and its lines).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct DeviceCloseRequest {
    /// Request sequence number.
    pub seq: u32,
    /// The device handle.
    pub device_handle: u32,
}

/// The device is closed; no more events for it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct DeviceCloseResponse {
    /// Echoes the request's `seq`.
    pub seq: u32,
    /// The device handle.
    pub device_handle: u32,
}

/// Closes the provider, releasing every device and line it opened.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ProviderCloseRequest {
    /// Request sequence number.
    pub seq: u32,
}

/// The provider is closed; the server then closes the connection.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ProviderCloseResponse {
    /// Echoes the request's `seq`.
    pub seq: u32,
}

/// Keep-alive, sent by either side when it has sent nothing for a heartbeat interval.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Heartbeat {}

/// A failed request (`seq` echoed), or a connection-level error (no `seq`) after which the
/// server may close the connection.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ErrorResponse {
    /// Echoes the failed request's `seq`; absent for connection-level errors.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub seq: Option<u32>,
    /// The stable error name.
    pub error: ErrorName,
    /// Human-readable detail (not for matching).
    pub message: String,
    /// For `INCOMPATIBLE_PROTOCOL_VERSION`: the versions the server speaks.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub supported_versions: Option<Vec<u32>>,
}

/// A call's identifier, unique on the node while it runs (`call_id`; CUCM's global call id).
pub type CallId = u64;

/// A connection's identifier: one side (leg) of a call (`connection_id`).
pub type ConnectionId = u64;

/// The state of a device's connection (its side of a call), as call events report it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum CallState {
    /// The call is being set up: placed (originating side) or offered to the device
    /// (terminating side).
    Offering,
    /// The far end (originating side) or the device itself (terminating side) is alerting.
    Ringing,
    /// Answered: media flows.
    Connected,
    /// On hold.
    Held,
    /// Hung up, refused or failed; `cause` says why.
    Disconnected,
}

/// Why a connection was disconnected or a call ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum CallCause {
    /// Hung up after being connected.
    Normal,
    /// The destination was busy.
    Busy,
    /// Nobody answered.
    NoAnswer,
    /// The destination is not reachable now (no registered device).
    Unavailable,
    /// No such number.
    NotFound,
    /// The caller gave up before an answer.
    Cancelled,
    /// The destination refused the call.
    Rejected,
    /// The call failed (a network or server failure).
    Failed,
    /// Another device of the same line answered (parallel ringing).
    AnsweredElsewhere,
    /// The connection left the call through a transfer.
    Transferred,
    /// The offered call was sent on to another number before it was answered.
    Redirected,
    /// The call ended while the server had fallen behind the call model: the cause was not
    /// kept.
    Unknown,
}

/// Which side of the call a device is on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum CallRole {
    /// The device placed the call (the caller).
    Originating,
    /// The call was offered to the device (the callee).
    Terminating,
}

/// An opened device appears in a call (version 2; `event_filter.call_state`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct NewCallEvent {
    /// The device handle.
    pub device_handle: u32,
    /// Device name.
    pub device_name: String,
    /// The call.
    pub call_id: CallId,
    /// The device's side of the call.
    pub connection_id: ConnectionId,
    /// The line (directory number) the call is on at this device.
    pub directory_number: String,
    /// The caller's number.
    pub calling_number: String,
    /// The number called.
    pub called_number: String,
    /// Whether the device placed the call or is offered it.
    pub role: CallRole,
    /// The connection's state now.
    pub state: CallState,
}

/// The device's connection changed state.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct CallStateChangedEvent {
    /// The device handle.
    pub device_handle: u32,
    /// Device name.
    pub device_name: String,
    /// The call.
    pub call_id: CallId,
    /// The device's side of the call.
    pub connection_id: ConnectionId,
    /// The new state.
    pub state: CallState,
    /// Why, when `state` is `disconnected`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cause: Option<CallCause>,
}

/// The call ended, or the device is no longer part of it: no more events for this call on
/// this device.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct CallEndedEvent {
    /// The device handle.
    pub device_handle: u32,
    /// Device name.
    pub device_name: String,
    /// The call.
    pub call_id: CallId,
    /// The device's side of the call.
    pub connection_id: ConnectionId,
    /// Why.
    pub cause: CallCause,
}

/// Places a call from an open device: the phone goes off hook (auto-answer) and dials.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct MakeCallRequest {
    /// Request sequence number.
    pub seq: u32,
    /// The open device that calls.
    pub device_handle: u32,
    /// The number to call (see [`valid_destination`]).
    pub destination: String,
    /// The line to call from; the device's first line when absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub directory_number: Option<String>,
}

/// The call is placed; its events follow.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct MakeCallResponse {
    /// Echoes the request's `seq`.
    pub seq: u32,
    /// The device handle.
    pub device_handle: u32,
    /// The new call.
    pub call_id: CallId,
}

macro_rules! call_requests {
    ($($(#[$doc:meta])* $req:ident / $resp:ident { $($(#[$fdoc:meta])* $field:ident : $ty:ty),* $(,)? })*) => {
        $(
            $(#[$doc])*
            #[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
            #[serde(deny_unknown_fields)]
            pub struct $req {
                /// Request sequence number.
                pub seq: u32,
                /// The open device the request acts for.
                pub device_handle: u32,
                /// The call.
                pub call_id: CallId,
                $($(#[$fdoc])* pub $field: $ty,)*
            }

            #[doc = concat!("The answer to `", stringify!($req), "`: the phone accepted it; the call's events follow.")]
            #[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
            #[serde(deny_unknown_fields)]
            pub struct $resp {
                /// Echoes the request's `seq`.
                pub seq: u32,
                /// The device handle.
                pub device_handle: u32,
                /// The call.
                pub call_id: CallId,
            }
        )*
    };
}

call_requests! {
    /// Answers a call offered to (alerting on) the device.
    AnswerRequest / AnswerResponse {}
    /// Hangs up the device's side of a call.
    DropRequest / DropResponse {}
    /// Puts a connected call on hold.
    HoldRequest / HoldResponse {}
    /// Takes a held call off hold.
    RetrieveRequest / RetrieveResponse {}
    /// Sends the far end of a call to `destination`; the device leaves the call.
    BlindTransferRequest / BlindTransferResponse {
        /// Where the far end goes (see [`valid_destination`]).
        destination: String,
    }
    /// Joins the far ends of a held call and of its consultation call; the device leaves both.
    TransferCompleteRequest / TransferCompleteResponse {
        /// The consultation call (from `ConsultTransferResponse`).
        consult_call_id: CallId,
    }
    /// Sends DTMF digits to the far end.
    SendDtmfRequest / SendDtmfResponse {
        /// `0-9 * # A-D`, 1 to 32 of them.
        digits: String,
    }
    /// Sends a call still alerting on the device on to `destination`.
    RedirectRequest / RedirectResponse {
        /// Where the call goes (see [`valid_destination`]).
        destination: String,
    }
}

/// Puts a call on hold and calls `destination` from the same device (the consultation
/// call); `TransferCompleteRequest` then joins the two far ends.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ConsultTransferRequest {
    /// Request sequence number.
    pub seq: u32,
    /// The open device the request acts for.
    pub device_handle: u32,
    /// The call to transfer (put on hold).
    pub call_id: CallId,
    /// Who to consult (see [`valid_destination`]).
    pub destination: String,
}

/// The call is on hold and the consultation call placed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ConsultTransferResponse {
    /// Echoes the request's `seq`.
    pub seq: u32,
    /// The device handle.
    pub device_handle: u32,
    /// The call being transferred (now held).
    pub call_id: CallId,
    /// The consultation call.
    pub consult_call_id: CallId,
}

macro_rules! messages {
    ($($name:ident),* $(,)?) => {
        /// Every CTI message, tagged by `"type"` (the message name).
        #[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
        #[serde(tag = "type")]
        pub enum Message {
            $(
                #[allow(missing_docs)]
                $name($name),
            )*
        }

        impl Message {
            /// Every message name, as in `"type"`.
            pub const NAMES: &'static [&'static str] = &[$(stringify!($name)),*];

            /// The message name, as in `"type"`.
            pub fn name(&self) -> &'static str {
                match self {
                    $(Message::$name(_) => stringify!($name),)*
                }
            }

            /// The JSON Schema of each message, by name, each with its `"type"` constant.
            pub fn schemas() -> Vec<(&'static str, serde_json::Value)> {
                vec![$((stringify!($name), crate::schema::with_type_tag(stringify!($name), schemars::schema_for!($name)))),*]
            }
        }

        $(
            impl From<$name> for Message {
                fn from(m: $name) -> Message {
                    Message::$name(m)
                }
            }
        )*
    };
}

messages!(
    ProviderOpenRequest,
    ProviderOpenResponse,
    ProviderAuthenticateRequest,
    ProviderAuthenticateResponse,
    ProviderOpenCompletedEvent,
    ProviderOpenFailedEvent,
    DeviceOpenRequest,
    DeviceOpenResponse,
    DeviceInServiceEvent,
    DeviceOutOfServiceEvent,
    LineOpenRequest,
    LineOpenResponse,
    DeviceCloseRequest,
    DeviceCloseResponse,
    ProviderCloseRequest,
    ProviderCloseResponse,
    Heartbeat,
    ErrorResponse,
    NewCallEvent,
    CallStateChangedEvent,
    CallEndedEvent,
    MakeCallRequest,
    MakeCallResponse,
    AnswerRequest,
    AnswerResponse,
    DropRequest,
    DropResponse,
    HoldRequest,
    HoldResponse,
    RetrieveRequest,
    RetrieveResponse,
    BlindTransferRequest,
    BlindTransferResponse,
    ConsultTransferRequest,
    ConsultTransferResponse,
    TransferCompleteRequest,
    TransferCompleteResponse,
    SendDtmfRequest,
    SendDtmfResponse,
    RedirectRequest,
    RedirectResponse,
);

/// What a message is, for the session rules.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// Client → server, carries `seq`.
    Request,
    /// Server → client, echoes `seq`.
    Response,
    /// Server → client, no `seq`.
    Event,
    /// Either direction, no `seq`.
    Heartbeat,
}

impl Message {
    /// Request, response, event or heartbeat.
    pub fn kind(&self) -> Kind {
        match self {
            Message::ProviderOpenRequest(_)
            | Message::ProviderAuthenticateRequest(_)
            | Message::DeviceOpenRequest(_)
            | Message::LineOpenRequest(_)
            | Message::DeviceCloseRequest(_)
            | Message::ProviderCloseRequest(_)
            | Message::MakeCallRequest(_)
            | Message::AnswerRequest(_)
            | Message::DropRequest(_)
            | Message::HoldRequest(_)
            | Message::RetrieveRequest(_)
            | Message::BlindTransferRequest(_)
            | Message::ConsultTransferRequest(_)
            | Message::TransferCompleteRequest(_)
            | Message::SendDtmfRequest(_)
            | Message::RedirectRequest(_) => Kind::Request,
            Message::ProviderOpenResponse(_)
            | Message::ProviderAuthenticateResponse(_)
            | Message::DeviceOpenResponse(_)
            | Message::LineOpenResponse(_)
            | Message::DeviceCloseResponse(_)
            | Message::ProviderCloseResponse(_)
            | Message::ErrorResponse(_)
            | Message::MakeCallResponse(_)
            | Message::AnswerResponse(_)
            | Message::DropResponse(_)
            | Message::HoldResponse(_)
            | Message::RetrieveResponse(_)
            | Message::BlindTransferResponse(_)
            | Message::ConsultTransferResponse(_)
            | Message::TransferCompleteResponse(_)
            | Message::SendDtmfResponse(_)
            | Message::RedirectResponse(_) => Kind::Response,
            Message::ProviderOpenCompletedEvent(_)
            | Message::ProviderOpenFailedEvent(_)
            | Message::DeviceInServiceEvent(_)
            | Message::DeviceOutOfServiceEvent(_)
            | Message::NewCallEvent(_)
            | Message::CallStateChangedEvent(_)
            | Message::CallEndedEvent(_) => Kind::Event,
            Message::Heartbeat(_) => Kind::Heartbeat,
        }
    }

    /// Whether a client may send this message (requests and `Heartbeat`); the server answers
    /// anything else with `UNKNOWN_MESSAGE`.
    pub fn sent_by_client(&self) -> bool {
        matches!(self.kind(), Kind::Request | Kind::Heartbeat)
    }

    /// The `seq` of a request or response (`None` for events, heartbeats and
    /// connection-level errors).
    pub fn seq(&self) -> Option<u32> {
        match self {
            Message::ProviderOpenRequest(m) => Some(m.seq),
            Message::ProviderOpenResponse(m) => Some(m.seq),
            Message::ProviderAuthenticateRequest(m) => Some(m.seq),
            Message::ProviderAuthenticateResponse(m) => Some(m.seq),
            Message::DeviceOpenRequest(m) => Some(m.seq),
            Message::DeviceOpenResponse(m) => Some(m.seq),
            Message::LineOpenRequest(m) => Some(m.seq),
            Message::LineOpenResponse(m) => Some(m.seq),
            Message::DeviceCloseRequest(m) => Some(m.seq),
            Message::DeviceCloseResponse(m) => Some(m.seq),
            Message::ProviderCloseRequest(m) => Some(m.seq),
            Message::ProviderCloseResponse(m) => Some(m.seq),
            Message::ErrorResponse(m) => m.seq,
            Message::MakeCallRequest(m) => Some(m.seq),
            Message::MakeCallResponse(m) => Some(m.seq),
            Message::AnswerRequest(m) => Some(m.seq),
            Message::AnswerResponse(m) => Some(m.seq),
            Message::DropRequest(m) => Some(m.seq),
            Message::DropResponse(m) => Some(m.seq),
            Message::HoldRequest(m) => Some(m.seq),
            Message::HoldResponse(m) => Some(m.seq),
            Message::RetrieveRequest(m) => Some(m.seq),
            Message::RetrieveResponse(m) => Some(m.seq),
            Message::BlindTransferRequest(m) => Some(m.seq),
            Message::BlindTransferResponse(m) => Some(m.seq),
            Message::ConsultTransferRequest(m) => Some(m.seq),
            Message::ConsultTransferResponse(m) => Some(m.seq),
            Message::TransferCompleteRequest(m) => Some(m.seq),
            Message::TransferCompleteResponse(m) => Some(m.seq),
            Message::SendDtmfRequest(m) => Some(m.seq),
            Message::SendDtmfResponse(m) => Some(m.seq),
            Message::RedirectRequest(m) => Some(m.seq),
            Message::RedirectResponse(m) => Some(m.seq),
            Message::ProviderOpenCompletedEvent(_)
            | Message::ProviderOpenFailedEvent(_)
            | Message::DeviceInServiceEvent(_)
            | Message::DeviceOutOfServiceEvent(_)
            | Message::NewCallEvent(_)
            | Message::CallStateChangedEvent(_)
            | Message::CallEndedEvent(_)
            | Message::Heartbeat(_) => None,
        }
    }

    /// The protocol version that introduced this message: a session of an earlier version
    /// neither sends nor accepts it (`UNKNOWN_MESSAGE`).
    pub fn since_version(&self) -> u32 {
        match self {
            Message::NewCallEvent(_)
            | Message::CallStateChangedEvent(_)
            | Message::CallEndedEvent(_)
            | Message::MakeCallRequest(_)
            | Message::MakeCallResponse(_)
            | Message::AnswerRequest(_)
            | Message::AnswerResponse(_)
            | Message::DropRequest(_)
            | Message::DropResponse(_)
            | Message::HoldRequest(_)
            | Message::HoldResponse(_)
            | Message::RetrieveRequest(_)
            | Message::RetrieveResponse(_)
            | Message::BlindTransferRequest(_)
            | Message::BlindTransferResponse(_)
            | Message::ConsultTransferRequest(_)
            | Message::ConsultTransferResponse(_)
            | Message::TransferCompleteRequest(_)
            | Message::TransferCompleteResponse(_)
            | Message::SendDtmfRequest(_)
            | Message::SendDtmfResponse(_)
            | Message::RedirectRequest(_)
            | Message::RedirectResponse(_) => CALL_CONTROL_VERSION,
            _ => 1,
        }
    }
}

/// Why a frame's payload is not a message.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DecodeError {
    /// Not JSON, not an object, no string `type`, or fields that do not fit the type.
    #[error("MALFORMED_MESSAGE: {0}")]
    Malformed(String),
    /// A JSON object whose `type` is not a known message.
    #[error("UNKNOWN_MESSAGE: {0}")]
    Unknown(String),
}

impl DecodeError {
    /// The error name to report.
    pub fn name(&self) -> ErrorName {
        match self {
            DecodeError::Malformed(_) => ErrorName::MalformedMessage,
            DecodeError::Unknown(_) => ErrorName::UnknownMessage,
        }
    }
}

/// Parses one message from a JSON payload (a frame's body, or a WebSocket text frame).
pub fn decode_message(payload: &[u8]) -> Result<Message, DecodeError> {
    let value: serde_json::Value =
        serde_json::from_slice(payload).map_err(|e| DecodeError::Malformed(e.to_string()))?;
    let ty = match value.get("type") {
        Some(serde_json::Value::String(t)) => t.clone(),
        _ if !value.is_object() => {
            return Err(DecodeError::Malformed("not a JSON object".into()));
        }
        _ => return Err(DecodeError::Malformed("no string \"type\"".into())),
    };
    if !Message::NAMES.contains(&ty.as_str()) {
        let mut shown: String = ty.chars().take(64).collect();
        if shown.len() < ty.len() {
            shown.push('…');
        }
        return Err(DecodeError::Unknown(shown));
    }
    serde_json::from_value(value).map_err(|e| DecodeError::Malformed(e.to_string()))
}

/// Serialises a message to its JSON payload.
pub fn encode_message(message: &Message) -> Vec<u8> {
    // Serialising these types cannot fail: no maps with non-string keys, no foreign Serialize.
    serde_json::to_vec(message).expect("CTI messages always serialise")
}
