//! The pure part of `switchboard cti`: console commands, one line per message (human or
//! JSON), and where the CTI Manager is (`--server`, the node's listeners).

use std::fmt::Write as _;

use switchboard_cti_client::proto::{CtiFlags, EventFilter};
use switchboard_cti_client::{Direction, Message};

/// A command typed at the console.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ConsoleCommand {
    /// `open <device>`: DeviceOpenRequest with device-state events.
    Open(String),
    /// `close <handle>`: DeviceCloseRequest.
    Close(u32),
    /// `line <handle> <dn>`: LineOpenRequest.
    Line(u32, String),
    /// `makecall <handle|device> <number> [dn]`: MakeCallRequest.
    MakeCall {
        device: DeviceRef,
        destination: String,
        line: Option<String>,
    },
    /// `answer|drop|hold|retrieve|transfer|consult|complete|dtmf|redirect <call> … [DH=<n>]`.
    Call {
        verb: CallVerb,
        call: u64,
        /// `DH=<n>`: the device the request acts for, when the call is on several.
        handle: Option<u32>,
    },
    /// `quit` (or `exit`, or end of input): ProviderCloseRequest, then exit.
    Quit,
    /// `help`.
    Help,
    /// An empty line.
    Nothing,
}

/// A device named in a command: its handle (`DH=` of the open) or its name.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DeviceRef {
    Handle(u32),
    Name(String),
}

/// What a call command asks.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CallVerb {
    Answer,
    Drop,
    Hold,
    Retrieve,
    /// Blind transfer to a number.
    Transfer(String),
    /// Consultation transfer to a number.
    Consult(String),
    /// Completes the transfer with this consultation call.
    Complete(u64),
    Dtmf(String),
    Redirect(String),
}

/// The console's help text.
pub const HELP: &str = "\
commands:
  open <device>                 open a device (DeviceOpenRequest, device and call events)
  close <handle>                close a device (DeviceCloseRequest)
  line <handle> <dn>            open a line of an open device (LineOpenRequest)
  makecall <device> <number> [<dn>]
                                the device calls the number (MakeCallRequest); <device> is
                                its handle or its name
  answer <call>                 answer a call offered to an open device (AnswerRequest)
  drop <call>                   hang up (DropRequest)
  hold <call>                   put on hold (HoldRequest)
  retrieve <call>               take off hold (RetrieveRequest)
  transfer <call> <number>      blind transfer (BlindTransferRequest)
  consult <call> <number>       hold and call the number (ConsultTransferRequest)
  complete <call> <consult>     join the held call and its consultation (TransferCompleteRequest)
  dtmf <call> <digits>          send DTMF digits (SendDtmfRequest)
  redirect <call> <number>      send a ringing call on (RedirectRequest)
                                <call> is the call= of the call events; add DH=<handle> when
                                the call is on several open devices
  quit                          close the provider (ProviderCloseRequest) and exit
  help                          this text";

fn handle(word: &str) -> Result<u32, String> {
    word.parse()
        .map_err(|_| format!("{word:?} is not a device handle (a number, the DH= of the open)"))
}

fn call_id(word: &str) -> Result<u64, String> {
    word.parse()
        .map_err(|_| format!("{word:?} is not a call id (a number, the call= of the call events)"))
}

/// Parses one input line; `Err` says what is wrong, for the user.
pub fn parse_command(line: &str) -> Result<ConsoleCommand, String> {
    let mut words: Vec<&str> = line.split_whitespace().collect();
    // `DH=<n>` anywhere after the verb names the device of a call command.
    let mut dh = None;
    if words.len() > 1 {
        if let Some(at) = words[1..]
            .iter()
            .position(|w| w.to_ascii_uppercase().starts_with("DH="))
        {
            let word = words.remove(at + 1);
            dh = Some(handle(&word[3..])?);
        }
    }
    let call = |verb: CallVerb, id: &str| -> Result<ConsoleCommand, String> {
        Ok(ConsoleCommand::Call {
            verb,
            call: call_id(id)?,
            handle: dh,
        })
    };
    let Some((&verb, args)) = words.split_first() else {
        return Ok(ConsoleCommand::Nothing);
    };
    let usage = |u: &str| Err(format!("usage: {u}"));
    match (verb.to_ascii_lowercase().as_str(), args) {
        ("open", [device]) => Ok(ConsoleCommand::Open((*device).to_owned())),
        ("open", _) => usage("open <device>"),
        ("close", [h]) => Ok(ConsoleCommand::Close(handle(h)?)),
        ("close", _) => usage("close <handle>"),
        ("line", [h, dn]) => Ok(ConsoleCommand::Line(handle(h)?, (*dn).to_owned())),
        ("line", _) => usage("line <handle> <dn>"),
        ("makecall", [device, number, rest @ ..]) if rest.len() <= 1 => {
            Ok(ConsoleCommand::MakeCall {
                device: match device.parse() {
                    Ok(h) => DeviceRef::Handle(h),
                    Err(_) => DeviceRef::Name((*device).to_owned()),
                },
                destination: (*number).to_owned(),
                line: rest.first().map(|dn| (*dn).to_owned()),
            })
        }
        ("makecall", _) => usage("makecall <handle|device> <number> [<dn>]"),
        ("answer", [c]) => call(CallVerb::Answer, c),
        ("drop", [c]) => call(CallVerb::Drop, c),
        ("hold", [c]) => call(CallVerb::Hold, c),
        ("retrieve", [c]) => call(CallVerb::Retrieve, c),
        ("transfer", [c, n]) => call(CallVerb::Transfer((*n).to_owned()), c),
        ("consult", [c, n]) => call(CallVerb::Consult((*n).to_owned()), c),
        ("complete", [c, k]) => call(CallVerb::Complete(call_id(k)?), c),
        ("dtmf", [c, d]) => call(CallVerb::Dtmf((*d).to_owned()), c),
        ("redirect", [c, n]) => call(CallVerb::Redirect((*n).to_owned()), c),
        ("answer" | "drop" | "hold" | "retrieve", _) => usage(&format!(
            "{} <call> [DH=<handle>]",
            verb.to_ascii_lowercase()
        )),
        ("transfer" | "consult" | "redirect", _) => usage(&format!(
            "{} <call> <number> [DH=<handle>]",
            verb.to_ascii_lowercase()
        )),
        ("complete", _) => usage("complete <call> <consult-call> [DH=<handle>]"),
        ("dtmf", _) => usage("dtmf <call> <digits> [DH=<handle>]"),
        ("quit" | "exit", []) => Ok(ConsoleCommand::Quit),
        ("help" | "?", _) => Ok(ConsoleCommand::Help),
        ("quit" | "exit", _) => usage("quit"),
        (other, _) => Err(format!("unknown command {other:?} (type help)")),
    }
}

/// What the console knows from the messages it saw: the devices it opened (name → handle)
/// and the calls live on them (call → handles), to fill in a command's device.
#[derive(Debug, Default)]
pub struct Tracker {
    devices: std::collections::HashMap<String, u32>,
    calls: std::collections::HashMap<u64, Vec<u32>>,
}

/// Most calls the console remembers (older ones are forgotten first… all at once).
const MAX_TRACKED_CALLS: usize = 4096;

impl Tracker {
    /// Follows one received message.
    pub fn observe(&mut self, message: &Message) {
        match message {
            Message::DeviceOpenResponse(r) => {
                self.devices.insert(r.device_name.clone(), r.device_handle);
            }
            Message::DeviceCloseResponse(r) => {
                self.devices.retain(|_, h| *h != r.device_handle);
                for handles in self.calls.values_mut() {
                    handles.retain(|h| *h != r.device_handle);
                }
            }
            Message::NewCallEvent(e) => {
                if self.calls.len() >= MAX_TRACKED_CALLS {
                    self.calls.clear();
                }
                let handles = self.calls.entry(e.call_id).or_default();
                if !handles.contains(&e.device_handle) {
                    handles.push(e.device_handle);
                }
            }
            Message::CallEndedEvent(e) => {
                if let Some(handles) = self.calls.get_mut(&e.call_id) {
                    handles.retain(|h| *h != e.device_handle);
                    if handles.is_empty() {
                        self.calls.remove(&e.call_id);
                    }
                }
            }
            _ => {}
        }
    }

    /// The handle of a device named in a command.
    pub fn device(&self, device: &DeviceRef) -> Result<u32, String> {
        match device {
            DeviceRef::Handle(h) => Ok(*h),
            DeviceRef::Name(name) => {
                self.devices.get(name).copied().ok_or_else(|| {
                    format!("{name} is not open (open it first, or give its handle)")
                })
            }
        }
    }

    /// The device a call command acts for: the one given, else the only open device the
    /// call is on.
    pub fn call_device(&self, call: u64, given: Option<u32>) -> Result<u32, String> {
        if let Some(h) = given {
            return Ok(h);
        }
        match self.calls.get(&call).map(Vec::as_slice) {
            Some([h]) => Ok(*h),
            Some([_, _, ..]) => Err(format!(
                "call {call} is on several open devices: add DH=<handle>"
            )),
            _ => Err(format!(
                "call {call} is not on an open device (wait for its NewCallEvent, or add DH=<handle>)"
            )),
        }
    }
}

/// Control characters (a server's message text) shown as spaces: one message, one line.
fn clean(text: &str) -> String {
    text.chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .collect()
}

/// The wire name of a unit enum (`in_service`, `registration_expired`, …).
fn wire<T: serde::Serialize>(value: &T) -> String {
    match serde_json::to_value(value) {
        Ok(serde_json::Value::String(s)) => s,
        Ok(other) => other.to_string(),
        Err(_) => String::new(),
    }
}

fn flags(f: &CtiFlags) -> String {
    let set: Vec<&str> = [
        (f.cti_enabled, "cti_enabled"),
        (f.super_provider, "super_provider"),
        (f.call_park_retrieval_allowed, "call_park_retrieval_allowed"),
        (f.modify_calling_number, "modify_calling_number"),
        (f.call_monitor, "call_monitor"),
        (f.call_record, "call_record"),
    ]
    .iter()
    .filter(|(on, _)| *on)
    .map(|(_, name)| *name)
    .collect();
    if set.is_empty() {
        "none".into()
    } else {
        set.join(",")
    }
}

fn filter(f: &EventFilter) -> String {
    match (f.device_state, f.call_state) {
        (true, true) => "device_state,call_state".into(),
        (true, false) => "device_state".into(),
        (false, true) => "call_state".into(),
        (false, false) => "none".into(),
    }
}

/// The key fields of a message, as the console shows them after its name (never a
/// password, token or sealed blob).
pub fn summary(message: &Message) -> String {
    use switchboard_cti_client::proto::Auth;
    match message {
        Message::ProviderOpenRequest(r) => {
            let auth = match r.auth {
                Auth::Password { .. } => "password",
                Auth::SealedPassword {} => "sealed_password",
                Auth::Oauth { .. } => "oauth",
            };
            format!(
                "seq={} login={} auth={auth} application={:?} heartbeat={} timer={}",
                r.seq,
                clean(&r.login),
                clean(&r.application),
                r.heartbeat_s,
                r.timer_s
            )
        }
        Message::ProviderOpenResponse(r) => {
            let mut s = format!(
                "seq={} provider={} version={} heartbeat={} timer={}",
                r.seq, r.provider_id, r.protocol_version, r.heartbeat_s, r.timer_s
            );
            if r.nonce.is_some() {
                s.push_str(" nonce+key");
            }
            s
        }
        Message::ProviderAuthenticateRequest(r) => format!("seq={} sealed_password", r.seq),
        Message::ProviderAuthenticateResponse(r) => format!("seq={}", r.seq),
        Message::ProviderOpenCompletedEvent(e) => format!(
            "provider={} user={} flags={}",
            e.provider_id,
            clean(&e.user_id),
            flags(&e.flags)
        ),
        Message::ProviderOpenFailedEvent(e) => format!(
            "provider={} {}: {}",
            e.provider_id,
            e.reason,
            clean(&e.message)
        ),
        Message::DeviceOpenRequest(r) => format!(
            "seq={} {} filter={}",
            r.seq,
            clean(&r.device_name),
            filter(&r.event_filter)
        ),
        Message::DeviceOpenResponse(r) => format!(
            "seq={} DH={} {} {:?} {} id={}",
            r.seq,
            r.device_handle,
            clean(&r.device_name),
            clean(&r.device_type),
            wire(&r.state),
            clean(&r.device_id)
        ),
        Message::DeviceInServiceEvent(e) => {
            format!("DH={} {}", e.device_handle, clean(&e.device_name))
        }
        Message::DeviceOutOfServiceEvent(e) => format!(
            "DH={} {} {}",
            e.device_handle,
            clean(&e.device_name),
            wire(&e.reason)
        ),
        Message::LineOpenRequest(r) => format!(
            "seq={} DH={} DN={}",
            r.seq,
            r.device_handle,
            clean(&r.directory_number)
        ),
        Message::LineOpenResponse(r) => format!(
            "seq={} DH={} LH={} DN={}",
            r.seq,
            r.device_handle,
            r.line_handle,
            clean(&r.directory_number)
        ),
        Message::DeviceCloseRequest(r) => format!("seq={} DH={}", r.seq, r.device_handle),
        Message::DeviceCloseResponse(r) => format!("seq={} DH={}", r.seq, r.device_handle),
        Message::ProviderCloseRequest(r) => format!("seq={}", r.seq),
        Message::ProviderCloseResponse(r) => format!("seq={}", r.seq),
        Message::Heartbeat(_) => String::new(),
        Message::NewCallEvent(e) => format!(
            "DH={} call={} conn={} {} {} → {} dn={} {}",
            e.device_handle,
            e.call_id,
            e.connection_id,
            wire(&e.role),
            clean(&e.calling_number),
            clean(&e.called_number),
            clean(&e.directory_number),
            wire(&e.state)
        ),
        Message::CallStateChangedEvent(e) => {
            let mut s = format!(
                "DH={} call={} conn={} {}",
                e.device_handle,
                e.call_id,
                e.connection_id,
                wire(&e.state)
            );
            if let Some(cause) = &e.cause {
                let _ = write!(s, " cause={}", wire(cause));
            }
            s
        }
        Message::CallEndedEvent(e) => format!(
            "DH={} call={} conn={} cause={}",
            e.device_handle,
            e.call_id,
            e.connection_id,
            wire(&e.cause)
        ),
        Message::MakeCallRequest(r) => {
            let mut s = format!(
                "seq={} DH={} destination={}",
                r.seq,
                r.device_handle,
                clean(&r.destination)
            );
            if let Some(dn) = &r.directory_number {
                let _ = write!(s, " DN={}", clean(dn));
            }
            s
        }
        Message::BlindTransferRequest(r) => format!(
            "seq={} DH={} call={} destination={}",
            r.seq,
            r.device_handle,
            r.call_id,
            clean(&r.destination)
        ),
        Message::ConsultTransferRequest(r) => format!(
            "seq={} DH={} call={} destination={}",
            r.seq,
            r.device_handle,
            r.call_id,
            clean(&r.destination)
        ),
        Message::RedirectRequest(r) => format!(
            "seq={} DH={} call={} destination={}",
            r.seq,
            r.device_handle,
            r.call_id,
            clean(&r.destination)
        ),
        Message::TransferCompleteRequest(r) => format!(
            "seq={} DH={} call={} consult={}",
            r.seq, r.device_handle, r.call_id, r.consult_call_id
        ),
        Message::SendDtmfRequest(r) => format!(
            "seq={} DH={} call={} digits={}",
            r.seq,
            r.device_handle,
            r.call_id,
            clean(&r.digits)
        ),
        Message::ConsultTransferResponse(r) => format!(
            "seq={} DH={} call={} consult={}",
            r.seq, r.device_handle, r.call_id, r.consult_call_id
        ),
        Message::AnswerRequest(r) => call_line(r.seq, r.device_handle, r.call_id),
        Message::DropRequest(r) => call_line(r.seq, r.device_handle, r.call_id),
        Message::HoldRequest(r) => call_line(r.seq, r.device_handle, r.call_id),
        Message::RetrieveRequest(r) => call_line(r.seq, r.device_handle, r.call_id),
        Message::MakeCallResponse(r) => call_line(r.seq, r.device_handle, r.call_id),
        Message::AnswerResponse(r) => call_line(r.seq, r.device_handle, r.call_id),
        Message::DropResponse(r) => call_line(r.seq, r.device_handle, r.call_id),
        Message::HoldResponse(r) => call_line(r.seq, r.device_handle, r.call_id),
        Message::RetrieveResponse(r) => call_line(r.seq, r.device_handle, r.call_id),
        Message::BlindTransferResponse(r) => call_line(r.seq, r.device_handle, r.call_id),
        Message::TransferCompleteResponse(r) => call_line(r.seq, r.device_handle, r.call_id),
        Message::SendDtmfResponse(r) => call_line(r.seq, r.device_handle, r.call_id),
        Message::RedirectResponse(r) => call_line(r.seq, r.device_handle, r.call_id),
        Message::ErrorResponse(e) => {
            let mut s = String::new();
            if let Some(seq) = e.seq {
                let _ = write!(s, "seq={seq} ");
            }
            let _ = write!(s, "{}: {}", e.error, clean(&e.message));
            if let Some(v) = &e.supported_versions {
                let _ = write!(s, " supported_versions={v:?}");
            }
            s
        }
    }
}

fn call_line(seq: u32, handle: u32, call: u64) -> String {
    format!("seq={seq} DH={handle} call={call}")
}

/// One console line: `07:40:01.123 ← DeviceInServiceEvent DH=1 SEP001794625DE5`.
pub fn message_line(clock: &str, direction: Direction, message: &Message) -> String {
    let arrow = match direction {
        Direction::Sent => '→',
        Direction::Received => '←',
    };
    let summary = summary(message);
    if summary.is_empty() {
        format!("{clock} {arrow} {}", message.name())
    } else {
        format!("{clock} {arrow} {} {summary}", message.name())
    }
}

/// `--json`: a received message as one line of JSON (its wire form); `None` for what is
/// not shown (sent messages: they may carry the password).
pub fn json_line(direction: Direction, message: &Message) -> Option<String> {
    (direction == Direction::Received).then(|| {
        String::from_utf8(switchboard_cti_client::proto::encode_message(message))
            .expect("JSON is UTF-8")
    })
}

/// Whether the console shows this message at all (heartbeats are noise).
pub fn shown(message: &Message) -> bool {
    !matches!(message, Message::Heartbeat(_))
}

/// `HH:MM:SS.mmm` of a time of day.
pub fn clock(time: time::OffsetDateTime) -> String {
    format!(
        "{:02}:{:02}:{:02}.{:03}",
        time.hour(),
        time.minute(),
        time.second(),
        time.millisecond()
    )
}

/// `host:port`, `[v6]:port`, or a bare host (then `default_port`) into host (no brackets)
/// and port.
pub fn split_host_port(text: &str, default_port: u16) -> Result<(String, u16), String> {
    let text = text.trim();
    let bad = || format!("bad CTI server {text:?}: expected HOST:PORT");
    if text.is_empty() {
        return Err(bad());
    }
    if let Some(rest) = text.strip_prefix('[') {
        let (host, after) = rest.split_once(']').ok_or_else(bad)?;
        let port = match after.strip_prefix(':') {
            Some(p) => p.parse().map_err(|_| bad())?,
            None if after.is_empty() => default_port,
            None => return Err(bad()),
        };
        return Ok((host.to_owned(), port));
    }
    match text.matches(':').count() {
        0 => Ok((text.to_owned(), default_port)),
        1 => {
            let (host, port) = text.split_once(':').expect("one colon");
            if host.is_empty() {
                return Err(bad());
            }
            Ok((host.to_owned(), port.parse().map_err(|_| bad())?))
        }
        // A bare IPv6 address.
        _ => Ok((text.to_owned(), default_port)),
    }
}

/// `host:port` with brackets around an IPv6 host, for URLs and messages.
pub fn authority(host: &str, port: u16) -> String {
    if host.contains(':') {
        format!("[{host}]:{port}")
    } else {
        format!("{host}:{port}")
    }
}

/// The WebSocket URL of a node whose HTTPS API is at `base` (`https://h:8443` →
/// `wss://h:8443/cti`).
pub fn websocket_url(base: &str) -> Result<String, String> {
    let rest = base
        .trim_end_matches('/')
        .strip_prefix("https://")
        .ok_or_else(|| format!("{base:?} is not an https:// URL: WebSocket needs TLS"))?;
    let authority = rest.split('/').next().unwrap_or(rest);
    Ok(format!("wss://{authority}/cti"))
}

/// Where the node's `service` listener (`cti`, `cti-tls`) is: its port, and its address
/// unless it is a wildcard (then `node_host`, the host the node's API was reached at).
pub fn listener_address(
    listeners: &[(String, String)],
    service: &str,
    node_host: &str,
) -> Option<(String, u16)> {
    let (_, address) = listeners.iter().find(|(s, _)| s == service)?;
    let addr: std::net::SocketAddr = address.parse().ok()?;
    let host = if addr.ip().is_unspecified() {
        node_host.to_owned()
    } else {
        addr.ip().to_string()
    };
    Some((host, addr.port()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use switchboard_cti_client::proto::*;

    #[test]
    fn call_commands() {
        assert_eq!(
            parse_command("makecall 1 1002"),
            Ok(ConsoleCommand::MakeCall {
                device: DeviceRef::Handle(1),
                destination: "1002".into(),
                line: None
            })
        );
        assert_eq!(
            parse_command("makecall SEP001794625DE5 1002 1001"),
            Ok(ConsoleCommand::MakeCall {
                device: DeviceRef::Name("SEP001794625DE5".into()),
                destination: "1002".into(),
                line: Some("1001".into())
            })
        );
        assert_eq!(
            parse_command("answer 7"),
            Ok(ConsoleCommand::Call {
                verb: CallVerb::Answer,
                call: 7,
                handle: None
            })
        );
        assert_eq!(
            parse_command("DTMF 7 12# dh=2"),
            Ok(ConsoleCommand::Call {
                verb: CallVerb::Dtmf("12#".into()),
                call: 7,
                handle: Some(2)
            })
        );
        assert_eq!(
            parse_command("complete 7 DH=1 10"),
            Ok(ConsoleCommand::Call {
                verb: CallVerb::Complete(10),
                call: 7,
                handle: Some(1)
            })
        );
        for (line, verb) in [
            ("drop 7", CallVerb::Drop),
            ("hold 7", CallVerb::Hold),
            ("retrieve 7", CallVerb::Retrieve),
            ("transfer 7 1003", CallVerb::Transfer("1003".into())),
            ("consult 7 1003", CallVerb::Consult("1003".into())),
            ("redirect 7 1004", CallVerb::Redirect("1004".into())),
        ] {
            assert_eq!(
                parse_command(line),
                Ok(ConsoleCommand::Call {
                    verb,
                    call: 7,
                    handle: None
                }),
                "{line}"
            );
        }
        assert!(parse_command("answer")
            .unwrap_err()
            .starts_with("usage: answer"));
        assert!(parse_command("answer x")
            .unwrap_err()
            .contains("not a call id"));
        assert!(parse_command("transfer 7")
            .unwrap_err()
            .starts_with("usage: transfer"));
        assert!(parse_command("makecall 1")
            .unwrap_err()
            .starts_with("usage: makecall"));
        assert!(parse_command("hold 7 DH=x")
            .unwrap_err()
            .contains("not a device handle"));
    }

    #[test]
    fn the_tracker_finds_the_device_of_a_call() {
        let mut t = Tracker::default();
        t.observe(&Message::DeviceOpenResponse(DeviceOpenResponse {
            seq: 1,
            device_handle: 3,
            device_name: "SEP001794625DE5".into(),
            device_type: "Cisco 8841".into(),
            device_id: "SEP001794625DE5".into(),
            protocol: DeviceProtocol::Sip,
            state: DeviceState::InService,
        }));
        assert_eq!(t.device(&DeviceRef::Name("SEP001794625DE5".into())), Ok(3));
        assert_eq!(t.device(&DeviceRef::Handle(9)), Ok(9));
        assert!(t.device(&DeviceRef::Name("SEPX".into())).is_err());
        let new = |h: u32| {
            Message::NewCallEvent(NewCallEvent {
                device_handle: h,
                device_name: "d".into(),
                call_id: 7,
                connection_id: 8,
                directory_number: "1001".into(),
                calling_number: "1001".into(),
                called_number: "1002".into(),
                role: CallRole::Originating,
                state: CallState::Offering,
            })
        };
        assert!(t.call_device(7, None).is_err());
        t.observe(&new(3));
        assert_eq!(t.call_device(7, None), Ok(3));
        t.observe(&new(4));
        assert!(t.call_device(7, None).unwrap_err().contains("several"));
        assert_eq!(t.call_device(7, Some(4)), Ok(4));
        t.observe(&Message::CallEndedEvent(CallEndedEvent {
            device_handle: 3,
            device_name: "d".into(),
            call_id: 7,
            connection_id: 8,
            cause: CallCause::Normal,
        }));
        assert_eq!(t.call_device(7, None), Ok(4));
    }

    #[test]
    fn call_messages_have_one_line_summaries() {
        let line = message_line(
            "07:40:01.123",
            Direction::Received,
            &Message::CallStateChangedEvent(CallStateChangedEvent {
                device_handle: 1,
                device_name: "SEP00AABBCCDDEE".into(),
                call_id: 7,
                connection_id: 9,
                state: CallState::Disconnected,
                cause: Some(CallCause::AnsweredElsewhere),
            }),
        );
        assert_eq!(
            line,
            "07:40:01.123 ← CallStateChangedEvent DH=1 call=7 conn=9 disconnected cause=answered_elsewhere"
        );
        let line = message_line(
            "07:40:01.123",
            Direction::Received,
            &Message::NewCallEvent(NewCallEvent {
                device_handle: 1,
                device_name: "SEP00AABBCCDDEE".into(),
                call_id: 7,
                connection_id: 9,
                directory_number: "1002".into(),
                calling_number: "1001\r\n".into(),
                called_number: "1002".into(),
                role: CallRole::Terminating,
                state: CallState::Offering,
            }),
        );
        assert_eq!(
            line,
            "07:40:01.123 ← NewCallEvent DH=1 call=7 conn=9 terminating 1001   → 1002 dn=1002 offering"
        );
    }

    #[test]
    fn commands() {
        assert_eq!(
            parse_command("open SEP001794625DE5"),
            Ok(ConsoleCommand::Open("SEP001794625DE5".into()))
        );
        assert_eq!(parse_command("  close 38 "), Ok(ConsoleCommand::Close(38)));
        assert_eq!(
            parse_command("LINE 38 1001"),
            Ok(ConsoleCommand::Line(38, "1001".into()))
        );
        assert_eq!(parse_command("quit"), Ok(ConsoleCommand::Quit));
        assert_eq!(parse_command("exit"), Ok(ConsoleCommand::Quit));
        assert_eq!(parse_command("help"), Ok(ConsoleCommand::Help));
        assert_eq!(parse_command(""), Ok(ConsoleCommand::Nothing));
        assert_eq!(parse_command("   "), Ok(ConsoleCommand::Nothing));
        assert_eq!(parse_command("open"), Err("usage: open <device>".into()));
        assert_eq!(
            parse_command("open a b"),
            Err("usage: open <device>".into())
        );
        assert!(parse_command("close x")
            .unwrap_err()
            .contains("not a device handle"));
        assert!(parse_command("close -1").is_err());
        assert_eq!(
            parse_command("line 1"),
            Err("usage: line <handle> <dn>".into())
        );
        assert!(parse_command("dial 1001")
            .unwrap_err()
            .contains("unknown command"));
    }

    #[test]
    fn event_lines() {
        let m: Message = DeviceInServiceEvent {
            device_handle: 1,
            device_name: "SEP001794625DE5".into(),
        }
        .into();
        assert_eq!(
            message_line("07:40:01.123", Direction::Received, &m),
            "07:40:01.123 ← DeviceInServiceEvent DH=1 SEP001794625DE5"
        );
        let m: Message = DeviceOutOfServiceEvent {
            device_handle: 38,
            device_name: "SEP001794625DE5".into(),
            reason: OutOfServiceReason::RegistrationExpired,
        }
        .into();
        assert_eq!(summary(&m), "DH=38 SEP001794625DE5 registration_expired");
        let m: Message = DeviceOpenResponse {
            seq: 4,
            device_handle: 38,
            device_name: "SEP001794625DE5".into(),
            device_type: "Cisco 8841".into(),
            device_id: "38".into(),
            protocol: DeviceProtocol::Sip,
            state: DeviceState::OutOfService,
        }
        .into();
        assert_eq!(
            summary(&m),
            "seq=4 DH=38 SEP001794625DE5 \"Cisco 8841\" out_of_service id=38"
        );
        assert_eq!(
            message_line("x", Direction::Received, &Heartbeat {}.into()),
            "x ← Heartbeat"
        );
        assert!(!shown(&Heartbeat {}.into()));
    }

    #[test]
    fn requests_never_show_secrets() {
        let m: Message = ProviderOpenRequest {
            seq: 1,
            protocol_versions: vec![1],
            login: "wwhite".into(),
            auth: Auth::Password {
                password: "Heisenb3".into(),
            },
            application: "switchboard cti".into(),
            client_version: "x".into(),
            heartbeat_s: 30,
            timer_s: 10,
        }
        .into();
        let line = message_line("t", Direction::Sent, &m);
        assert_eq!(
            line,
            "t → ProviderOpenRequest seq=1 login=wwhite auth=password application=\"switchboard cti\" heartbeat=30 timer=10"
        );
        assert_eq!(json_line(Direction::Sent, &m), None);
        let m: Message = ProviderAuthenticateRequest {
            seq: 2,
            sealed_password: SealedPassword {
                enc: "ENC".into(),
                ciphertext: "CT".into(),
            },
        }
        .into();
        let line = message_line("t", Direction::Sent, &m);
        assert!(!line.contains("ENC") && !line.contains("CT"), "{line}");
    }

    #[test]
    fn provider_and_error_lines() {
        let m: Message = ProviderOpenCompletedEvent {
            provider_id: 16777223,
            user_id: "wwhite".into(),
            flags: CtiFlags {
                super_provider: true,
                call_park_retrieval_allowed: false,
                modify_calling_number: false,
                cti_enabled: true,
                call_monitor: false,
                call_record: false,
            },
        }
        .into();
        assert_eq!(
            summary(&m),
            "provider=16777223 user=wwhite flags=cti_enabled,super_provider"
        );
        let m: Message = ErrorResponse {
            seq: Some(4),
            error: ErrorName::CtierrEnduserNotAssociatedWithDevice,
            message: "wwhite does not control\nSEP001794625DE6".into(),
            supported_versions: None,
        }
        .into();
        assert_eq!(
            summary(&m),
            "seq=4 CTIERR_ENDUSER_NOT_ASSOCIATED_WITH_DEVICE: wwhite does not control SEP001794625DE6"
        );
        let m: Message = ErrorResponse {
            seq: None,
            error: ErrorName::HeartbeatTimeout,
            message: "nothing received for 70 s".into(),
            supported_versions: None,
        }
        .into();
        assert_eq!(summary(&m), "HEARTBEAT_TIMEOUT: nothing received for 70 s");
        let m: Message = ProviderOpenFailedEvent {
            provider_id: 9,
            reason: ErrorName::DirectoryLoginFailed,
            message: "login failed".into(),
        }
        .into();
        assert_eq!(
            summary(&m),
            "provider=9 DIRECTORY_LOGIN_FAILED: login failed"
        );
    }

    #[test]
    fn json_lines_are_the_wire_form() {
        let m: Message = DeviceInServiceEvent {
            device_handle: 38,
            device_name: "SEP001794625DE5".into(),
        }
        .into();
        let line = json_line(Direction::Received, &m).unwrap();
        assert_eq!(
            line,
            r#"{"type":"DeviceInServiceEvent","device_handle":38,"device_name":"SEP001794625DE5"}"#
        );
        assert_eq!(decode_message(line.as_bytes()).unwrap(), m);
    }

    #[test]
    fn clock_has_milliseconds() {
        let t = time::macros::datetime!(2025-01-02 07:40:01.123456 UTC);
        assert_eq!(clock(t), "07:40:01.123");
    }

    #[test]
    fn server_addresses() {
        assert_eq!(
            split_host_port("ucm1.example.com:2748", 1),
            Ok(("ucm1.example.com".into(), 2748))
        );
        assert_eq!(
            split_host_port("10.0.0.5", 2749),
            Ok(("10.0.0.5".into(), 2749))
        );
        assert_eq!(split_host_port("[::1]:2749", 1), Ok(("::1".into(), 2749)));
        assert_eq!(split_host_port("[::1]", 2748), Ok(("::1".into(), 2748)));
        assert_eq!(split_host_port("::1", 2748), Ok(("::1".into(), 2748)));
        assert!(split_host_port("h:port", 1).is_err());
        assert!(split_host_port(":2748", 1).is_err());
        assert!(split_host_port("", 1).is_err());
        assert_eq!(authority("::1", 8443), "[::1]:8443");
        assert_eq!(authority("h", 8443), "h:8443");
    }

    #[test]
    fn websocket_urls() {
        assert_eq!(
            websocket_url("https://127.0.0.1:8443"),
            Ok("wss://127.0.0.1:8443/cti".into())
        );
        assert_eq!(
            websocket_url("https://ucm1.example.com:8443/"),
            Ok("wss://ucm1.example.com:8443/cti".into())
        );
        assert!(websocket_url("http://h:8080").is_err());
    }

    #[test]
    fn listeners_are_found_by_service() {
        let listeners = vec![
            ("https".to_string(), "0.0.0.0:8443".to_string()),
            ("cti".to_string(), "0.0.0.0:2748".to_string()),
            ("cti-tls".to_string(), "10.0.0.5:2749".to_string()),
        ];
        assert_eq!(
            listener_address(&listeners, "cti", "ucm1"),
            Some(("ucm1".into(), 2748))
        );
        assert_eq!(
            listener_address(&listeners, "cti-tls", "ucm1"),
            Some(("10.0.0.5".into(), 2749))
        );
        assert_eq!(listener_address(&listeners, "sip", "ucm1"), None);
    }
}
