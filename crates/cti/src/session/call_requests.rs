//! Call requests (protocol version 2, `docs/cti-protocol.md` §13): each checked in the
//! documented order — provider open and version, device handle, the user's control of the
//! device, the fields, the call and the device's part in it, the device in service, the
//! provider's outstanding requests, phone control attached — then carried out by call
//! control's [`PhoneControl`] on a task of its own, so the connection goes on reading; the
//! response (or the named error) is sent when the phone side has answered.

use std::collections::HashMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, Weak};
use std::time::Duration;

use switchboard_callctl::{valid_dtmf_digits, Call, CallId, ControlError, PhoneControl};
use switchboard_cti_proto::{
    valid_destination, AnswerResponse, BlindTransferResponse, ConsultTransferResponse,
    DropResponse, ErrorName, HoldResponse, MakeCallResponse, Message, RedirectResponse,
    RetrieveResponse, SendDtmfResponse, TransferCompleteResponse, CALL_CONTROL_VERSION,
    MAX_DESTINATION_LEN,
};
use switchboard_store::StoreError;
use switchboard_trace::{Service, TraceEvent};

use super::{send_error, Flow, Session, State, ECHO};
use crate::connection::Link;
use crate::manager::CtiManager;

/// Call requests one provider may have being carried out at once.
pub(crate) const MAX_OUTSTANDING: usize = 16;

/// How long the phone side may take to accept or refuse a request.
pub(crate) const REQUEST_TIMEOUT: Duration = Duration::from_secs(20);

/// Longest `directory_number` accepted, in bytes.
const MAX_DN: usize = 64;

/// A provider's call requests in progress and its consultation transfers.
#[derive(Default)]
pub(crate) struct CallRequests {
    outstanding: Arc<AtomicUsize>,
    /// Call being transferred → its consultation call (`None` while being placed).
    consults: Arc<Mutex<HashMap<CallId, Option<CallId>>>>,
}

/// What a call request asks.
#[derive(Debug, Clone)]
enum Op {
    MakeCall {
        destination: String,
        line: Option<String>,
    },
    Answer,
    Drop,
    Hold,
    Retrieve,
    BlindTransfer {
        destination: String,
    },
    ConsultTransfer {
        destination: String,
    },
    TransferComplete {
        consult: CallId,
    },
    SendDtmf {
        digits: String,
    },
    Redirect {
        destination: String,
    },
}

/// One call request, read from its message.
struct Request {
    name: &'static str,
    seq: u32,
    handle: u32,
    /// `None` for `MakeCallRequest`.
    call: Option<CallId>,
    op: Op,
}

impl Request {
    fn of(m: Message) -> Option<Request> {
        let name = m.name();
        let (seq, handle, call, op) = match m {
            Message::MakeCallRequest(r) => (
                r.seq,
                r.device_handle,
                None,
                Op::MakeCall {
                    destination: r.destination,
                    line: r.directory_number,
                },
            ),
            Message::AnswerRequest(r) => (r.seq, r.device_handle, Some(r.call_id), Op::Answer),
            Message::DropRequest(r) => (r.seq, r.device_handle, Some(r.call_id), Op::Drop),
            Message::HoldRequest(r) => (r.seq, r.device_handle, Some(r.call_id), Op::Hold),
            Message::RetrieveRequest(r) => (r.seq, r.device_handle, Some(r.call_id), Op::Retrieve),
            Message::BlindTransferRequest(r) => (
                r.seq,
                r.device_handle,
                Some(r.call_id),
                Op::BlindTransfer {
                    destination: r.destination,
                },
            ),
            Message::ConsultTransferRequest(r) => (
                r.seq,
                r.device_handle,
                Some(r.call_id),
                Op::ConsultTransfer {
                    destination: r.destination,
                },
            ),
            Message::TransferCompleteRequest(r) => (
                r.seq,
                r.device_handle,
                Some(r.call_id),
                Op::TransferComplete {
                    consult: r.consult_call_id,
                },
            ),
            Message::SendDtmfRequest(r) => (
                r.seq,
                r.device_handle,
                Some(r.call_id),
                Op::SendDtmf { digits: r.digits },
            ),
            Message::RedirectRequest(r) => (
                r.seq,
                r.device_handle,
                Some(r.call_id),
                Op::Redirect {
                    destination: r.destination,
                },
            ),
            _ => return None,
        };
        Some(Request {
            name,
            seq,
            handle,
            call,
            op,
        })
    }

    /// The request's fields for its trace line (DTMF digits by their count only).
    fn detail(&self) -> String {
        let mut d = format!("DH={}", self.handle);
        if let Some(call) = self.call {
            d.push_str(&format!(" GCID={call}"));
        }
        let shown = |s: &str| s.chars().take(ECHO).collect::<String>();
        match &self.op {
            Op::MakeCall { destination, line } => {
                d.push_str(&format!(" destination={}", shown(destination)));
                if let Some(line) = line {
                    d.push_str(&format!(" dn={}", shown(line)));
                }
            }
            Op::BlindTransfer { destination }
            | Op::ConsultTransfer { destination }
            | Op::Redirect { destination } => {
                d.push_str(&format!(" destination={}", shown(destination)))
            }
            Op::TransferComplete { consult } => d.push_str(&format!(" consultGCID={consult}")),
            Op::SendDtmf { digits } => d.push_str(&format!(" digits=[{}]", digits.len())),
            Op::Answer | Op::Drop | Op::Hold | Op::Retrieve => {}
        }
        d
    }
}

/// Whether `call` involves `device`: its caller's device, the device that answered, or one
/// it is offered to while nobody has answered.
fn involves(call: &Call, device: &str) -> bool {
    [&call.caller, &call.callee]
        .iter()
        .any(|leg| match &leg.device {
            Some(d) => d == device,
            None => leg.offered.iter().any(|d| d == device),
        })
}

/// The CTI error for a refusal of the phone side.
fn error_of(op: &Op, e: &ControlError) -> ErrorName {
    match e {
        ControlError::UnknownCall(_) => ErrorName::CtierrCallNotExist,
        ControlError::NotOnDevice { .. } => ErrorName::CtierrCallNotOnDevice,
        ControlError::DeviceNotRegistered(_) => ErrorName::CtierrDeviceOutOfService,
        ControlError::NoSuchLine { .. } => ErrorName::LineNotFound,
        ControlError::UnknownNumber(_) => match op {
            Op::BlindTransfer { .. } => ErrorName::TransferfailedDestinationUnreachable,
            _ => ErrorName::CtierrUnknownDestination,
        },
        ControlError::IllegalCallState(_) => ErrorName::IllegalCallstate,
        ControlError::HoldFailed(_) => ErrorName::Holdfailed,
        ControlError::RetrieveFailed(_) => ErrorName::Retrievefailed,
        ControlError::TransferFailed(_) => ErrorName::Transferfailed,
        ControlError::RedirectFailed(_) => ErrorName::Redirectfailed,
        ControlError::InvalidDtmfDigits => ErrorName::CtierrInvalidDtmfdigits,
        ControlError::Unavailable => ErrorName::CtierrCallControlUnavailable,
        ControlError::Failed(_) => ErrorName::CtierrCallControlFailed,
    }
}

/// A consultation being placed: forgotten if its task ends without an outcome (the node is
/// shutting down), so that it cannot block the call's transfers for good.
struct Placing {
    consults: Arc<Mutex<HashMap<CallId, Option<CallId>>>>,
    call: CallId,
}

impl Drop for Placing {
    fn drop(&mut self) {
        let mut map = self.consults.lock().unwrap_or_else(|p| p.into_inner());
        if map.get(&self.call) == Some(&None) {
            map.remove(&self.call);
        }
    }
}

/// Counts a request as outstanding while it lives.
struct Outstanding(Arc<AtomicUsize>);

impl Drop for Outstanding {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::Relaxed);
    }
}

impl Session {
    /// A call request: checked here, carried out on a task of its own.
    pub(super) async fn call_request(&mut self, message: Message) -> Flow {
        let Some(r) = Request::of(message) else {
            return Flow::Continue;
        };
        let Some(provider) = self.provider(r.seq) else {
            return Flow::Continue;
        };
        let (provider_id, userid) = (provider.id, provider.userid.clone());
        if self.version < CALL_CONTROL_VERSION {
            self.error(
                Some(r.seq),
                ErrorName::UnknownMessage,
                format!(
                    "{} needs protocol version {CALL_CONTROL_VERSION}; this session speaks {}",
                    r.name, self.version
                ),
            );
            return Flow::Continue;
        }
        self.signal().emit_default(&TraceEvent::CtiRequestIn {
            name: r.name.into(),
            seq: r.seq,
            detail: r.detail(),
        });
        match self.check(&r, &userid).await {
            Err((error, message)) => self.error(Some(r.seq), error, message),
            Ok((device, driver)) => self.carry_out(r, provider_id, device, driver),
        }
        Flow::Continue
    }

    /// Every check before the phone is driven, in the documented order: the device's name
    /// and the phone control, or the first failure.
    async fn check(
        &mut self,
        r: &Request,
        userid: &str,
    ) -> Result<(String, Arc<dyn PhoneControl>), (ErrorName, String)> {
        let State::Open(provider) = &self.state else {
            return Err((
                ErrorName::ProviderNotOpen,
                "the provider is not open".into(),
            ));
        };
        let Some(device) = provider.devices.get(&r.handle) else {
            return Err((
                ErrorName::InvalidDeviceHandle,
                format!("device handle {} is not open on this provider", r.handle),
            ));
        };
        let (name, lines) = (device.name.clone(), device.lines.clone());
        let user = self.manager.user_settings(userid).await.map_err(|e| {
            (
                ErrorName::InternalError,
                format!("the user's settings could not be read: {e}"),
            )
        })?;
        if !user.super_provider && !user.controlled_devices.contains(&name) {
            return Err((
                ErrorName::CtierrEnduserNotAssociatedWithDevice,
                format!("{userid} no longer controls {name}"),
            ));
        }
        match self.manager.store.get_device(&name).await {
            Ok(d) if d.allow_cti_control => {}
            Ok(_) => {
                return Err((
                    ErrorName::CtierrAccessToDeviceDenied,
                    format!("{name} no longer allows control from CTI"),
                ))
            }
            Err(StoreError::NotFound { .. }) => {
                return Err((ErrorName::DeviceNotFound, format!("{name} was deleted")))
            }
            Err(e) => {
                return Err((
                    ErrorName::InternalError,
                    format!("the device could not be read: {e}"),
                ))
            }
        }
        match &r.op {
            Op::MakeCall { destination, .. }
            | Op::BlindTransfer { destination }
            | Op::ConsultTransfer { destination }
            | Op::Redirect { destination }
                if !valid_destination(destination) =>
            {
                return Err((
                    ErrorName::MalformedMessage,
                    format!(
                        "destination must be 1 to {MAX_DESTINATION_LEN} bytes of 0-9 A-Z a-z * # + . _ - @"
                    ),
                ));
            }
            Op::SendDtmf { digits } if !valid_dtmf_digits(digits) => {
                return Err((
                    ErrorName::CtierrInvalidDtmfdigits,
                    "DTMF digits must be 1 to 32 of 0-9 * # A-D".into(),
                ));
            }
            Op::MakeCall {
                line: Some(line), ..
            } if line.len() > MAX_DN || !lines.contains(line) => {
                return Err((
                    ErrorName::LineNotFound,
                    format!(
                        "{name} has no line {}",
                        line.chars().take(ECHO).collect::<String>()
                    ),
                ));
            }
            _ => {}
        }
        let calls = self.manager.callctl.calls();
        let on_device = |id: CallId| -> Result<Call, (ErrorName, String)> {
            let call = calls.get(id).ok_or((
                ErrorName::CtierrCallNotExist,
                format!("no call {id} on this node"),
            ))?;
            if !involves(&call, &name) {
                return Err((
                    ErrorName::CtierrCallNotOnDevice,
                    format!("call {id} does not involve {name}"),
                ));
            }
            Ok(call)
        };
        if let Some(call) = r.call {
            on_device(call)?;
        }
        let consults = provider.calls.consults.clone();
        match (&r.op, r.call) {
            (Op::TransferComplete { consult }, Some(call)) => {
                on_device(*consult)?;
                let consults = consults.lock().unwrap_or_else(|p| p.into_inner());
                match consults.get(&call) {
                    Some(Some(c)) if c != consult && calls.get(*c).is_some() => {
                        return Err((
                            ErrorName::TransferfailedOutstandingTransfer,
                            format!("call {call}'s consultation call is {c}, not {consult}"),
                        ))
                    }
                    Some(None) => {
                        return Err((
                            ErrorName::TransferfailedOutstandingTransfer,
                            format!("call {call}'s consultation call is still being placed"),
                        ))
                    }
                    _ => {}
                }
            }
            (Op::ConsultTransfer { .. }, Some(call)) => {
                let consults = consults.lock().unwrap_or_else(|p| p.into_inner());
                match consults.get(&call) {
                    Some(None) => {
                        return Err((
                            ErrorName::TransferfailedOutstandingTransfer,
                            format!("a consultation of call {call} is being placed"),
                        ))
                    }
                    Some(Some(c)) if calls.get(*c).is_some() => {
                        return Err((
                            ErrorName::TransferfailedOutstandingTransfer,
                            format!("call {call} already has the consultation call {c}"),
                        ))
                    }
                    _ => {}
                }
            }
            _ => {}
        }
        if !self.manager.callctl.is_in_service(&name) {
            return Err((
                ErrorName::CtierrDeviceOutOfService,
                format!("{name} is not registered"),
            ));
        }
        if provider.calls.outstanding.load(Ordering::Relaxed) >= MAX_OUTSTANDING {
            return Err((
                ErrorName::CtierrTooManyOutstandingRequests,
                format!("{MAX_OUTSTANDING} call requests of this provider are being carried out"),
            ));
        }
        let driver = self
            .manager
            .callctl
            .phone_control()
            .map_err(|e| (ErrorName::CtierrCallControlUnavailable, e.to_string()))?
            .clone();
        Ok((name, driver))
    }

    /// Drives the phone on a task of its own; the response or error follows from there.
    fn carry_out(
        &mut self,
        r: Request,
        provider_id: u32,
        device: String,
        driver: Arc<dyn PhoneControl>,
    ) {
        let State::Open(provider) = &self.state else {
            return;
        };
        provider.calls.outstanding.fetch_add(1, Ordering::Relaxed);
        let guard = Outstanding(provider.calls.outstanding.clone());
        let consults = provider.calls.consults.clone();
        let placing = match (&r.op, r.call) {
            (Op::ConsultTransfer { .. }, Some(call)) => {
                let mut map = consults.lock().unwrap_or_else(|p| p.into_inner());
                let calls = self.manager.callctl.calls();
                map.retain(|_, c| c.is_none_or(|c| calls.get(c).is_some()));
                map.insert(call, None);
                Some(Placing {
                    consults: consults.clone(),
                    call,
                })
            }
            _ => None,
        };
        let manager = self.manager.clone();
        let link = Arc::downgrade(&self.link);
        tokio::spawn(async move {
            let _guard = guard;
            let _placing = placing;
            let outcome = tokio::time::timeout(REQUEST_TIMEOUT, drive(&*driver, &r, device)).await;
            finish(&manager, &link, provider_id, &consults, r, outcome);
        });
    }
}

/// Runs the request on the phone control: the new call's id for a make call or a
/// consultation.
async fn drive(
    driver: &dyn PhoneControl,
    r: &Request,
    device: String,
) -> Result<Option<CallId>, ControlError> {
    let call = r.call.unwrap_or_default();
    match r.op.clone() {
        Op::MakeCall { destination, line } => {
            driver.make_call(device, line, destination).await.map(Some)
        }
        Op::Answer => driver.answer(call, device).await.map(|_| None),
        Op::Drop => driver.drop_call(call, device).await.map(|_| None),
        Op::Hold => driver.hold(call, device).await.map(|_| None),
        Op::Retrieve => driver.retrieve(call, device).await.map(|_| None),
        Op::BlindTransfer { destination } => driver
            .blind_transfer(call, device, destination)
            .await
            .map(|_| None),
        Op::ConsultTransfer { destination } => driver
            .consult_transfer(call, device, destination)
            .await
            .map(Some),
        Op::TransferComplete { consult } => driver
            .transfer_complete(call, consult, device)
            .await
            .map(|_| None),
        Op::SendDtmf { digits } => driver.send_dtmf(call, device, digits).await.map(|_| None),
        Op::Redirect { destination } => driver
            .redirect(call, device, destination)
            .await
            .map(|_| None),
    }
}

/// Sends the outcome of a request carried out (if the connection is still there).
fn finish(
    manager: &CtiManager,
    link: &Weak<Link>,
    provider_id: u32,
    consults: &Mutex<HashMap<CallId, Option<CallId>>>,
    r: Request,
    outcome: Result<Result<Option<CallId>, ControlError>, tokio::time::error::Elapsed>,
) {
    let call = r.call.unwrap_or_default();
    {
        let mut map = consults.lock().unwrap_or_else(|p| p.into_inner());
        match (&r.op, &outcome) {
            (Op::ConsultTransfer { .. }, Ok(Ok(Some(consult)))) => {
                map.insert(call, Some(*consult));
            }
            (Op::ConsultTransfer { .. }, _) => {
                map.remove(&call);
            }
            (Op::TransferComplete { .. }, Ok(Ok(_))) => {
                map.remove(&call);
            }
            _ => {}
        }
    }
    let Some(link) = link.upgrade() else {
        return;
    };
    let (seq, handle) = (r.seq, r.handle);
    let result = match outcome {
        Err(_) => Err((
            ErrorName::CtierrTimeout,
            format!(
                "the phone side did not answer within {} s",
                REQUEST_TIMEOUT.as_secs()
            ),
        )),
        Ok(Err(e)) => Err((error_of(&r.op, &e), e.to_string())),
        Ok(Ok(new_call)) => Ok(new_call),
    };
    let new_call = match result {
        Err((error, message)) => {
            send_error(manager, &link, Some(seq), error, message);
            return;
        }
        Ok(new_call) => new_call,
    };
    let response: Message = match r.op {
        Op::MakeCall { .. } => MakeCallResponse {
            seq,
            device_handle: handle,
            call_id: new_call.unwrap_or_default(),
        }
        .into(),
        Op::Answer => AnswerResponse {
            seq,
            device_handle: handle,
            call_id: call,
        }
        .into(),
        Op::Drop => DropResponse {
            seq,
            device_handle: handle,
            call_id: call,
        }
        .into(),
        Op::Hold => HoldResponse {
            seq,
            device_handle: handle,
            call_id: call,
        }
        .into(),
        Op::Retrieve => RetrieveResponse {
            seq,
            device_handle: handle,
            call_id: call,
        }
        .into(),
        Op::BlindTransfer { .. } => BlindTransferResponse {
            seq,
            device_handle: handle,
            call_id: call,
        }
        .into(),
        Op::ConsultTransfer { .. } => ConsultTransferResponse {
            seq,
            device_handle: handle,
            call_id: call,
            consult_call_id: new_call.unwrap_or_default(),
        }
        .into(),
        Op::TransferComplete { .. } => TransferCompleteResponse {
            seq,
            device_handle: handle,
            call_id: call,
        }
        .into(),
        Op::SendDtmf { .. } => SendDtmfResponse {
            seq,
            device_handle: handle,
            call_id: call,
        }
        .into(),
        Op::Redirect { .. } => RedirectResponse {
            seq,
            device_handle: handle,
            call_id: call,
        }
        .into(),
    };
    let mut detail = format!("DH={handle} GCID={}", new_call.unwrap_or(call));
    if let (Some(consult), Op::ConsultTransfer { .. }) = (new_call, &r.op) {
        detail = format!("DH={handle} GCID={call} consultGCID={consult}");
    }
    manager.tracer.emit_default(
        Service::Cti,
        &TraceEvent::CtiResponseOut {
            name: response.name().into(),
            seq,
            detail: format!("{detail} provider id={provider_id}"),
        },
    );
    link.send(response);
}

#[cfg(test)]
mod tests {
    use super::*;
    use switchboard_callctl::{Calls, LegState, Side};

    #[test]
    fn refusals_of_the_phone_side_have_their_cti_names() {
        let dest = || Op::Redirect {
            destination: "1004".into(),
        };
        let blind = Op::BlindTransfer {
            destination: "1003".into(),
        };
        let cases = [
            (
                dest(),
                ControlError::UnknownCall(7),
                ErrorName::CtierrCallNotExist,
            ),
            (
                Op::Drop,
                ControlError::NotOnDevice {
                    call: 7,
                    device: "SEPA".into(),
                },
                ErrorName::CtierrCallNotOnDevice,
            ),
            (
                Op::Answer,
                ControlError::DeviceNotRegistered("SEPA".into()),
                ErrorName::CtierrDeviceOutOfService,
            ),
            (
                Op::MakeCall {
                    destination: "1".into(),
                    line: Some("9".into()),
                },
                ControlError::NoSuchLine {
                    device: "SEPA".into(),
                    line: "9".into(),
                },
                ErrorName::LineNotFound,
            ),
            (
                dest(),
                ControlError::UnknownNumber("1004".into()),
                ErrorName::CtierrUnknownDestination,
            ),
            (
                blind.clone(),
                ControlError::UnknownNumber("1003".into()),
                ErrorName::TransferfailedDestinationUnreachable,
            ),
            (
                Op::Hold,
                ControlError::IllegalCallState(LegState::Ringing),
                ErrorName::IllegalCallstate,
            ),
            (
                Op::Hold,
                ControlError::HoldFailed("488".into()),
                ErrorName::Holdfailed,
            ),
            (
                Op::Retrieve,
                ControlError::RetrieveFailed("488".into()),
                ErrorName::Retrievefailed,
            ),
            (
                blind,
                ControlError::TransferFailed("x".into()),
                ErrorName::Transferfailed,
            ),
            (
                dest(),
                ControlError::RedirectFailed("x".into()),
                ErrorName::Redirectfailed,
            ),
            (
                Op::SendDtmf { digits: "1".into() },
                ControlError::InvalidDtmfDigits,
                ErrorName::CtierrInvalidDtmfdigits,
            ),
            (
                Op::Drop,
                ControlError::Unavailable,
                ErrorName::CtierrCallControlUnavailable,
            ),
            (
                Op::Drop,
                ControlError::Failed("x".into()),
                ErrorName::CtierrCallControlFailed,
            ),
        ];
        for (op, e, name) in cases {
            assert_eq!(error_of(&op, &e), name, "{e:?}");
        }
    }

    #[test]
    fn a_call_involves_its_caller_the_devices_it_rings_and_the_one_that_answered() {
        let calls = Calls::new();
        let call = calls.new_call("1001", Some("SEPA"), "1002");
        calls
            .offer(call.id, Side::Callee, &["SEPB".into(), "CSFB".into()])
            .unwrap();
        let c = calls.get(call.id).unwrap();
        for d in ["SEPA", "SEPB", "CSFB"] {
            assert!(involves(&c, d), "{d}");
        }
        assert!(!involves(&c, "SEPZ"));
        calls.set_device(call.id, Side::Callee, "CSFB").unwrap();
        let c = calls.get(call.id).unwrap();
        assert!(involves(&c, "CSFB"));
        assert!(!involves(&c, "SEPB"), "answered elsewhere");
    }

    #[test]
    fn traced_details_hide_the_digits() {
        let r = Request::of(
            switchboard_cti_proto::SendDtmfRequest {
                seq: 3,
                device_handle: 1,
                call_id: 7,
                digits: "1234".into(),
            }
            .into(),
        )
        .unwrap();
        assert_eq!(r.detail(), "DH=1 GCID=7 digits=[4]");
        let r = Request::of(
            switchboard_cti_proto::MakeCallRequest {
                seq: 3,
                device_handle: 1,
                destination: "1002".into(),
                directory_number: Some("1001".into()),
            }
            .into(),
        )
        .unwrap();
        assert_eq!(r.detail(), "DH=1 destination=1002 dn=1001");
        assert!(Request::of(Message::Heartbeat(switchboard_cti_proto::Heartbeat {})).is_none());
    }
}
