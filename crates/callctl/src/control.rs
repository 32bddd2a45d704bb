//! Driving calls on phones: the one interface between a call-control facade (CTI's call
//! requests) and whatever makes a phone do something. The SIP back-to-back user agent is the
//! first [`PhoneControl`] (it calls the deskphone with an auto-answer indication, holds with
//! re-INVITEs, transfers by re-routing its own legs); vendor mechanisms (Cisco remotecc REFER,
//! BroadSoft `Event: talk` NOTIFY, uaCSTA) are further implementations of the same trait.
//!
//! Every operation names the device it acts for: the call must involve that device
//! ([`ControlError::NotOnDevice`] otherwise). Operations return once the phone side has
//! accepted or refused them; progress after that (ringing, answer, hang-up) arrives as
//! [`crate::CallEvent`]s.

use std::future::Future;
use std::pin::Pin;

use crate::calls::{CallId, LegState};

/// What a [`PhoneControl`] operation returns.
pub type ControlFuture<'a, T> = Pin<Box<dyn Future<Output = Result<T, ControlError>> + Send + 'a>>;

/// Why a call-control operation was refused. CTI maps each to its named error.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ControlError {
    #[error("no such call: {0}")]
    UnknownCall(CallId),
    /// The call does not involve the device the request acts for.
    #[error("call {call} does not involve device {device}")]
    NotOnDevice { call: CallId, device: String },
    /// The device has no live registration, so it cannot be driven.
    #[error("device {0} is not registered")]
    DeviceNotRegistered(String),
    /// The device has no line to call from (or not the line named).
    #[error("device {device} has no line {line}")]
    NoSuchLine { device: String, line: String },
    /// The dialed number is not a line of the cluster.
    #[error("unknown number: {0}")]
    UnknownNumber(String),
    /// The operation does not apply to the call's present state (CTI's `ILLEGAL_CALLSTATE`).
    #[error("not allowed while the call is {0:?}")]
    IllegalCallState(LegState),
    #[error("hold failed: {0}")]
    HoldFailed(String),
    #[error("retrieve failed: {0}")]
    RetrieveFailed(String),
    #[error("transfer failed: {0}")]
    TransferFailed(String),
    #[error("redirect failed: {0}")]
    RedirectFailed(String),
    /// DTMF digits outside `0-9 * # A-D`, or more than [`MAX_DTMF_DIGITS`].
    #[error("invalid DTMF digits")]
    InvalidDtmfDigits,
    /// No phone control is attached (no SIP service on this node).
    #[error("call control is not available on this node")]
    Unavailable,
    #[error("{0}")]
    Failed(String),
}

/// The most digits one `SendDtmf` may carry.
pub const MAX_DTMF_DIGITS: usize = 32;

/// Whether `digits` are valid DTMF digits to send (RFC 4733 events 0–15: `0-9 * # A-D`).
pub fn valid_dtmf_digits(digits: &str) -> bool {
    !digits.is_empty()
        && digits.len() <= MAX_DTMF_DIGITS
        && digits
            .bytes()
            .all(|b| matches!(b, b'0'..=b'9' | b'*' | b'#' | b'A'..=b'D' | b'a'..=b'd'))
}

/// How calls are driven on phones. Implementations publish every resulting change through
/// the call model ([`crate::Calls`]).
pub trait PhoneControl: Send + Sync {
    /// Places a call from `device` (on `line`, its first line when `None`) to `dialed`: the
    /// phone is called first with an auto-answer indication; once it answers, the destination
    /// is called and the two are bridged. Returns the new call at once (the phone's leg
    /// offering).
    fn make_call(
        &self,
        device: String,
        line: Option<String>,
        dialed: String,
    ) -> ControlFuture<'_, CallId>;

    /// Answers a call alerting on `device`.
    fn answer(&self, call: CallId, device: String) -> ControlFuture<'_, ()>;

    /// Hangs up `device`'s side of `call` (the whole call for a two-party call).
    fn drop_call(&self, call: CallId, device: String) -> ControlFuture<'_, ()>;

    /// Puts the far end of `call` on hold from `device`.
    fn hold(&self, call: CallId, device: String) -> ControlFuture<'_, ()>;

    /// Takes `call` off hold on `device`.
    fn retrieve(&self, call: CallId, device: String) -> ControlFuture<'_, ()>;

    /// Sends the far end of `call` to `destination`; `device` leaves the call.
    fn blind_transfer(
        &self,
        call: CallId,
        device: String,
        destination: String,
    ) -> ControlFuture<'_, ()>;

    /// Puts `call` on hold and places a consultation call from `device` to `destination`;
    /// returns the consultation call.
    fn consult_transfer(
        &self,
        call: CallId,
        device: String,
        destination: String,
    ) -> ControlFuture<'_, CallId>;

    /// Joins the far ends of the held `call` and of `consult` (its consultation call);
    /// `device` leaves both.
    fn transfer_complete(
        &self,
        call: CallId,
        consult: CallId,
        device: String,
    ) -> ControlFuture<'_, ()>;

    /// Sends DTMF `digits` from `device` to the far end of `call`.
    fn send_dtmf(&self, call: CallId, device: String, digits: String) -> ControlFuture<'_, ()>;

    /// Sends a call still alerting on `device` on to `destination`.
    fn redirect(&self, call: CallId, device: String, destination: String) -> ControlFuture<'_, ()>;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dtmf_digits_are_checked() {
        for ok in [
            "1",
            "0123456789*#",
            "ABCD",
            "abcd",
            &"9".repeat(MAX_DTMF_DIGITS),
        ] {
            assert!(valid_dtmf_digits(ok), "{ok}");
        }
        for bad in ["", "E", "1 2", "12,", "½", &"9".repeat(MAX_DTMF_DIGITS + 1)] {
            assert!(!valid_dtmf_digits(bad), "{bad}");
        }
    }
}
