//! One connection's CTI session: the state machine of `docs/cti-protocol.md` §4 (connected →
//! provider open pending → open → closed), each request checked against the state and answered
//! with its response or a named error, and the seed's trace lines (000 steps 1–17) for each
//! step: provider open, sealed-password decryption and nonce check, login check, the user's
//! CTI settings, device open and the device's state.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::Arc;
use std::time::Duration;

use switchboard_cti_proto::seal::SealError;
use switchboard_cti_proto::{
    negotiate_version, Auth, CtiFlags, DeviceCloseRequest, DeviceCloseResponse, DeviceOpenRequest,
    DeviceOpenResponse, DeviceProtocol, ErrorName, ErrorResponse, Kind, LineOpenRequest,
    LineOpenResponse, Message, ProviderAuthenticateRequest, ProviderAuthenticateResponse,
    ProviderCloseRequest, ProviderCloseResponse, ProviderOpenCompletedEvent,
    ProviderOpenFailedEvent, ProviderOpenRequest, ProviderOpenResponse, SealedPassword,
    CALL_CONTROL_VERSION, SUPPORTED_VERSIONS,
};
use switchboard_store::model::User;
use switchboard_store::StoreError;
use switchboard_trace::{Level, Service, Signal, TraceEvent};
use tokio::time::Instant;

use crate::connection::{Link, Transport};
use crate::manager::CtiManager;
use crate::registry::Watcher;

mod call_requests;

pub(crate) use call_requests::CallRequests;

/// What the connection does after a message.
pub(crate) enum Flow {
    Continue,
    /// Close the connection (after what was queued is written), for this reason (traced).
    Close(String),
}

/// Longest login, application name or client version accepted, in bytes.
const MAX_NAME: usize = 256;

/// Longest name echoed back in an error message, in characters.
const ECHO: usize = 64;

enum State {
    Connected,
    /// `sealed_password`: waiting for `ProviderAuthenticateRequest` with this nonce.
    AwaitingSeal {
        provider_id: u32,
        /// The `seq` of the `ProviderOpenRequest` (the login check is traced under it).
        open_seq: u32,
        login: String,
        nonce: String,
    },
    Open(Provider),
    Closed,
}

struct Provider {
    id: u32,
    userid: String,
    devices: HashMap<u32, OpenDevice>,
    next_handle: u32,
    /// Call requests being carried out and outstanding consultation transfers.
    calls: CallRequests,
}

struct OpenDevice {
    name: String,
    /// Directory numbers of the device's lines, as configured when it was opened.
    lines: Vec<String>,
    /// Open lines: directory number → line handle.
    open_lines: HashMap<String, u32>,
}

/// How the user proves who they are.
enum Credential {
    Password(String),
    /// A password sealed to the node's key with the nonce issued on this connection.
    Sealed {
        sealed: SealedPassword,
        nonce: String,
    },
    Token(String),
}

pub(crate) struct Session {
    manager: Arc<CtiManager>,
    link: Arc<Link>,
    transport: Transport,
    peer: SocketAddr,
    local: SocketAddr,
    state: State,
    /// Shared with the writer: the negotiated heartbeat interval (0 before the open).
    heartbeat_s: Arc<AtomicU32>,
    /// Silence allowed before `HEARTBEAT_TIMEOUT`.
    silence_allowed: Duration,
    last_received: Instant,
    next_line_handle: u32,
    /// The negotiated protocol version (0 before `ProviderOpenResponse`).
    version: u32,
}

impl Session {
    pub fn new(
        manager: Arc<CtiManager>,
        link: Arc<Link>,
        transport: Transport,
        peer: SocketAddr,
        local: SocketAddr,
        heartbeat_s: Arc<AtomicU32>,
    ) -> Session {
        let silence_allowed = manager.config.open_timeout;
        Session {
            manager,
            link,
            transport,
            peer,
            local,
            state: State::Connected,
            heartbeat_s,
            silence_allowed,
            last_received: Instant::now(),
            next_line_handle: 1,
            version: 0,
        }
    }

    /// When the connection is dead if nothing more arrives.
    pub fn read_deadline(&self) -> Instant {
        self.last_received + self.silence_allowed
    }

    /// Something arrived: the client is alive.
    pub fn touch(&mut self) {
        self.last_received = Instant::now();
    }

    pub fn killed(&self) -> Option<ErrorName> {
        self.link.killed()
    }

    fn signal(&self) -> Signal {
        self.manager.tracer.signal(Service::Cti)
    }

    /// Sends an `ErrorResponse` (traced).
    fn error(&self, seq: Option<u32>, error: ErrorName, message: impl Into<String>) {
        send_error(&self.manager, &self.link, seq, error, message.into());
    }

    /// Bytes that were not a message.
    pub fn bad_frame(&self, error: ErrorName, detail: String) {
        self.error(None, error, detail);
    }

    /// Nothing arrived in time.
    pub fn heartbeat_timeout(&self) {
        let waited = self.silence_allowed.as_secs();
        self.error(
            None,
            ErrorName::HeartbeatTimeout,
            format!("nothing received for {waited} s"),
        );
    }

    /// Handles one message from the client.
    pub async fn handle(&mut self, message: Message) -> Flow {
        match message {
            Message::Heartbeat(_) => Flow::Continue,
            Message::ProviderOpenRequest(r) => self.provider_open(r).await,
            Message::ProviderAuthenticateRequest(r) => self.provider_authenticate(r).await,
            Message::DeviceOpenRequest(r) => self.device_open(r).await,
            Message::LineOpenRequest(r) => self.line_open(r),
            Message::DeviceCloseRequest(r) => self.device_close(r),
            Message::ProviderCloseRequest(r) => self.provider_close(r),
            m if m.kind() == Kind::Request && m.since_version() >= CALL_CONTROL_VERSION => {
                self.call_request(m).await
            }
            other => {
                self.error(
                    None,
                    ErrorName::UnknownMessage,
                    format!("{} is not sent by clients", other.name()),
                );
                Flow::Continue
            }
        }
    }

    /// Fails the request with `error` and closes the connection.
    fn refuse_and_close(&self, seq: u32, error: ErrorName, message: impl Into<String>) -> Flow {
        self.error(Some(seq), error, message);
        Flow::Close(error.as_str().into())
    }

    async fn provider_open(&mut self, r: ProviderOpenRequest) -> Flow {
        if !matches!(self.state, State::Connected) {
            self.error(
                Some(r.seq),
                ErrorName::ProviderAlreadyOpen,
                "a provider is already open on this connection",
            );
            return Flow::Continue;
        }
        let Some(version) = negotiate_version(&r.protocol_versions) else {
            let message = "no common protocol version".to_string();
            self.signal().emit_default(&TraceEvent::CtiErrorResponse {
                seq: Some(r.seq),
                error: ErrorName::IncompatibleProtocolVersion.as_str().into(),
                message: message.clone(),
            });
            self.link.send(Message::ErrorResponse(ErrorResponse {
                seq: Some(r.seq),
                error: ErrorName::IncompatibleProtocolVersion,
                message,
                supported_versions: Some(SUPPORTED_VERSIONS.to_vec()),
            }));
            return Flow::Close("INCOMPATIBLE_PROTOCOL_VERSION".into());
        };
        let config = &self.manager.config;
        let limit = self.manager.max_connections();
        if self.manager.connections.load(Ordering::Relaxed) > limit {
            return self.refuse_and_close(
                r.seq,
                ErrorName::MaxNumberOfCtiConnectionsReached,
                format!("this node serves at most {limit} CTI connections"),
            );
        }
        if r.login.is_empty()
            || r.login.len() > MAX_NAME
            || r.application.len() > MAX_NAME
            || r.client_version.len() > MAX_NAME
        {
            self.error(
                Some(r.seq),
                ErrorName::MalformedMessage,
                format!("login must be 1 to {MAX_NAME} bytes, application and client_version at most {MAX_NAME}"),
            );
            return Flow::Continue;
        }
        if matches!(r.auth, Auth::Password { .. }) && !self.transport.is_encrypted() {
            return self.refuse_and_close(
                r.seq,
                ErrorName::CleartextPasswordRefused,
                "a cleartext password is refused on the plain port: seal it (auth sealed_password) or use TLS",
            );
        }
        let provider_id = self.manager.next_provider_id();
        let heartbeat = r
            .heartbeat_s
            .clamp(config.heartbeat_range_s.0, config.heartbeat_range_s.1);
        let timer = r
            .timer_s
            .clamp(config.timer_range_s.0, config.timer_range_s.1);
        let auth_style = match r.auth {
            Auth::Password { .. } => 0,
            Auth::SealedPassword {} => 0,
            Auth::Oauth { .. } => 1,
        };
        let mut signal = self.signal();
        signal.emit_default(&TraceEvent::CtiProviderOpenRequest {
            seq: r.seq,
            provider: r.application.clone(),
            login: r.login.clone(),
            heartbeat: r.heartbeat_s,
            timer: r.timer_s,
        });
        signal.sdl(
            Level::Debug,
            "CtiProviderOpenReq",
            "init_complete_await_provopen",
            &format!(
                "Async Response={} ProviderName={} ClientVersion={} LoginId={} ApplName={} \
                 ServerHeartbeat={heartbeat} Auth Style={auth_style} Transport={}",
                r.seq,
                r.application,
                r.client_version,
                r.login,
                r.application,
                self.transport.name()
            ),
        );
        let nonce = match r.auth {
            Auth::SealedPassword {} => {
                let mut nonces = self
                    .manager
                    .nonces
                    .lock()
                    .unwrap_or_else(|p| p.into_inner());
                Some(nonces.issue(&mut rand::rngs::OsRng, std::time::Instant::now()))
            }
            _ => None,
        };
        let response = ProviderOpenResponse {
            seq: r.seq,
            provider_id,
            protocol_version: version,
            heartbeat_s: heartbeat,
            timer_s: timer,
            cti_public_key: nonce.as_ref().map(|_| self.manager.public_key_base64()),
            nonce: nonce.clone(),
        };
        self.link.send(Message::ProviderOpenResponse(response));
        signal.emit_default(&TraceEvent::CtiProviderOpenResponse {
            seq: r.seq,
            provider_id,
        });
        drop(signal);
        self.heartbeat_s.store(heartbeat, Ordering::Relaxed);
        self.version = version;
        self.silence_allowed = Duration::from_secs(u64::from(heartbeat) + u64::from(timer));
        match r.auth {
            Auth::SealedPassword {} => {
                self.state = State::AwaitingSeal {
                    provider_id,
                    open_seq: r.seq,
                    login: r.login,
                    nonce: nonce.unwrap_or_default(),
                };
                Flow::Continue
            }
            Auth::Password { password } => {
                self.login(provider_id, r.seq, r.login, Credential::Password(password))
                    .await
            }
            Auth::Oauth { access_token } => {
                self.login(provider_id, r.seq, r.login, Credential::Token(access_token))
                    .await
            }
        }
    }

    /// 000 step 3: the sealed password arrives (decrypted and checked in [`Session::login`]).
    async fn provider_authenticate(&mut self, r: ProviderAuthenticateRequest) -> Flow {
        let (provider_id, open_seq, login, nonce) = match &self.state {
            State::AwaitingSeal {
                provider_id,
                open_seq,
                login,
                nonce,
            } => (*provider_id, *open_seq, login.clone(), nonce.clone()),
            State::Open(_) => {
                self.error(
                    Some(r.seq),
                    ErrorName::ProviderAlreadyOpen,
                    "the provider is already authenticated",
                );
                return Flow::Continue;
            }
            _ => {
                self.error(
                    Some(r.seq),
                    ErrorName::ProviderNotOpen,
                    "no ProviderOpenRequest with auth sealed_password before",
                );
                return Flow::Continue;
            }
        };
        self.link.send(Message::ProviderAuthenticateResponse(
            ProviderAuthenticateResponse { seq: r.seq },
        ));
        self.signal().emit_default(&TraceEvent::CtiResponseOut {
            name: "ProviderAuthenticateResponse".into(),
            seq: r.seq,
            detail: format!("provider id={provider_id}"),
        });
        let credential = Credential::Sealed {
            sealed: r.sealed_password,
            nonce,
        };
        self.login(provider_id, open_seq, login, credential).await
    }

    /// 000 step 4: decrypts a sealed password and checks its nonce (issued to this connection,
    /// unused, fresh); traces each step without the password.
    fn unseal(
        &self,
        signal: &mut Signal,
        login: &str,
        sealed: &SealedPassword,
        issued_nonce: &str,
    ) -> Result<String, SealError> {
        signal.emit(
            Level::Detailed,
            &TraceEvent::Text {
                text: "CCMASymmetricEncryption::DecryptText Enter".into(),
            },
        );
        let opened = self.manager.keys.open(login, sealed);
        signal.emit(
            Level::Detailed,
            &TraceEvent::Text {
                text: "CCMASymmetricEncryption::DecryptText Exit".into(),
            },
        );
        let len = sealed.ciphertext.len();
        let (nonce, password) = match opened {
            Ok(opened) => opened,
            Err(e) => {
                signal.emit_default(&TraceEvent::DecryptedKeyStatus {
                    success: false,
                    len,
                });
                return Err(e);
            }
        };
        signal.emit_default(&TraceEvent::DecryptedKeyStatus { success: true, len });
        signal.emit_default(&TraceEvent::NonceIs {
            nonce: nonce.chars().take(ECHO).collect(),
        });
        let checked = if nonce != issued_nonce {
            Err(SealError::NonceMismatch)
        } else {
            let mut nonces = self
                .manager
                .nonces
                .lock()
                .unwrap_or_else(|p| p.into_inner());
            nonces.consume(&nonce, std::time::Instant::now())
        };
        signal.emit_default(&TraceEvent::NonceValidation {
            success: checked.is_ok(),
        });
        checked?;
        signal.emit_default(&TraceEvent::DecryptedPasswordStatus {
            success: true,
            len: password.chars().count(),
        });
        Ok(password)
    }

    /// Sends `ProviderOpenFailedEvent` and closes.
    fn open_failed(&mut self, provider_id: u32, reason: ErrorName, message: String) -> Flow {
        self.state = State::Closed;
        self.signal()
            .emit_default(&TraceEvent::CtiProviderOpenFailed {
                provider_id,
                reason: reason.as_str().into(),
                message: message.clone(),
            });
        let message = match reason {
            // The cause of a failed login is told apart in the trace only.
            ErrorName::DirectoryLoginFailed => "login failed".to_string(),
            _ => message,
        };
        self.link
            .send(Message::ProviderOpenFailedEvent(ProviderOpenFailedEvent {
                provider_id,
                reason,
                message,
            }));
        Flow::Close(reason.as_str().into())
    }

    /// 000 steps 3, 5–14: authentication, then the user's CTI settings.
    async fn login(
        &mut self,
        provider_id: u32,
        seq: u32,
        login: String,
        credential: Credential,
    ) -> Flow {
        self.state = State::Closed;
        let mut signal = self.signal();
        signal.sdl(
            Level::Debug,
            "CtiProceedWithAppLogin",
            "init_complete_await_auth",
            &format!("provider id={provider_id}"),
        );
        let style = match credential {
            Credential::Password(_) | Credential::Sealed { .. } => 0,
            Credential::Token(_) => 1,
        };
        signal.sdl(
            Level::Debug,
            "CtiLoginCheckReq",
            "ready",
            &format!("Login={login} Seq#={seq} Auth Style={style}"),
        );
        let by = match credential {
            Credential::Token(_) => "CtiLoginCheckReq:authenticateByAccessToken",
            _ => "CtiLoginCheckReq:authenticateByUserName",
        };
        signal.emit(Level::Debug, &TraceEvent::Text { text: by.into() });
        let password = match credential {
            Credential::Sealed { sealed, nonce } => {
                match self.unseal(&mut signal, &login, &sealed, &nonce) {
                    Ok(password) => Some(password),
                    Err(e) => {
                        drop(signal);
                        return self.open_failed(
                            provider_id,
                            ErrorName::NonceInvalid,
                            e.to_string(),
                        );
                    }
                }
            }
            Credential::Password(password) => Some(password),
            Credential::Token(token) => {
                let checked = self.manager.tokens.verify(&token).and_then(|subject| {
                    if subject == login {
                        Ok(())
                    } else {
                        Err(format!(
                            "the token was issued to '{subject}', not to the login"
                        ))
                    }
                });
                if let Err(why) = checked {
                    return self.login_check_failed(signal, provider_id, seq, &login, why);
                }
                None
            }
        };
        let checked: Result<String, String> = match password {
            Some(password) => self
                .manager
                .authenticator
                .authenticate(&login, &password)
                .await
                .map(|u| u.userid)
                .map_err(|f| f.to_string()),
            None => Ok(login.clone()),
        };
        let userid = match checked {
            Ok(userid) => userid,
            Err(why) => return self.login_check_failed(signal, provider_id, seq, &login, why),
        };
        signal.sdl(
            Level::Debug,
            "CtiLoginCheckRes",
            "authenticating",
            &format!("Seq#={seq} result=Success LoginUserID={userid} Expire days=4294967295"),
        );
        signal.sdl(
            Level::Debug,
            "CtiUserSettingsReq",
            "ready",
            &format!("mUserId={userid}"),
        );
        signal.emit(
            Level::Debug,
            &TraceEvent::Text {
                text: "DbAccess::ReadCtiUserSettingsReq".into(),
            },
        );
        let user = match self.manager.user_settings(&userid).await {
            Ok(user) => user,
            Err(e) => {
                drop(signal);
                return self.open_failed(
                    provider_id,
                    ErrorName::InternalError,
                    format!("the user's settings could not be read: {e}"),
                );
            }
        };
        let settings = TraceEvent::CtiUserSettings {
            userid: user.userid.clone(),
            super_provider: user.super_provider,
            call_park_retrieval_allowed: user.call_park_retrieval_allowed,
            modify_calling_number: user.modify_calling_number,
            cti_enabled: user.cti_enabled,
            call_monitor: user.call_monitor,
            call_record: user.call_record,
        };
        signal.sdl(
            Level::Debug,
            "CtiUserSettingsRes",
            "verifying",
            &settings.to_string(),
        );
        if !user.cti_enabled || !user.enabled {
            drop(signal);
            return self.open_failed(
                provider_id,
                ErrorName::CtierrUserNotCtiEnabled,
                format!("user {} is not CTI enabled", user.userid),
            );
        }
        signal.emit(
            Level::Debug,
            &TraceEvent::Text {
                text: format!(
                    "[CTI-INFO] [CTIHandler::verifying_CtiUserSettingsRes] mListenPort={}",
                    self.local.port()
                ),
            },
        );
        signal.emit_default(&TraceEvent::CtiProviderOpenCompleted {
            provider_id,
            userid: user.userid.clone(),
        });
        drop(signal);
        self.link.send(Message::ProviderOpenCompletedEvent(
            ProviderOpenCompletedEvent {
                provider_id,
                user_id: user.userid.clone(),
                flags: flags(&user),
            },
        ));
        self.manager.providers.fetch_add(1, Ordering::Relaxed);
        self.state = State::Open(Provider {
            id: provider_id,
            userid: user.userid.clone(),
            devices: HashMap::new(),
            next_handle: 1,
            calls: CallRequests::default(),
        });
        Flow::Continue
    }

    /// The login check failed (000 step 13 with `result=Failure`): `DIRECTORY_LOGIN_FAILED`.
    fn login_check_failed(
        &mut self,
        mut signal: Signal,
        provider_id: u32,
        seq: u32,
        login: &str,
        why: String,
    ) -> Flow {
        signal.sdl(
            Level::Error,
            "CtiLoginCheckRes",
            "authenticating",
            &format!("Seq#={seq} result=Failure LoginUserID={login} ({why})"),
        );
        drop(signal);
        self.open_failed(provider_id, ErrorName::DirectoryLoginFailed, why)
    }

    /// The open provider, or `PROVIDER_NOT_OPEN` sent for `seq`.
    fn provider(&mut self, seq: u32) -> Option<&mut Provider> {
        if !matches!(self.state, State::Open(_)) {
            self.not_open(seq);
        }
        match &mut self.state {
            State::Open(p) => Some(p),
            _ => None,
        }
    }

    fn not_open(&self, seq: u32) {
        self.error(
            Some(seq),
            ErrorName::ProviderNotOpen,
            "open a provider first (ProviderOpenRequest, then wait for ProviderOpenCompletedEvent)",
        );
    }

    /// 000 steps 15–17.
    async fn device_open(&mut self, r: DeviceOpenRequest) -> Flow {
        let Some(provider) = self.provider(r.seq) else {
            return Flow::Continue;
        };
        let (provider_id, userid) = (provider.id, provider.userid.clone());
        let already = provider.devices.values().any(|d| d.name == r.device_name);
        let shown: String = r.device_name.chars().take(ECHO).collect();
        self.signal()
            .emit_default(&TraceEvent::CtiDeviceOpenRequest {
                seq: r.seq,
                device: shown.clone(),
            });
        if already {
            self.error(
                Some(r.seq),
                ErrorName::DeviceAlreadyOpen,
                format!("{shown} is already open on this provider"),
            );
            return Flow::Continue;
        }
        let device = match self.manager.store.get_device(&r.device_name).await {
            Ok(d) => d,
            Err(StoreError::NotFound { .. }) => {
                self.error(
                    Some(r.seq),
                    ErrorName::DeviceNotFound,
                    format!("no device named {shown}"),
                );
                return Flow::Continue;
            }
            Err(e) => {
                self.error(
                    Some(r.seq),
                    ErrorName::InternalError,
                    format!("the device could not be read: {e}"),
                );
                return Flow::Continue;
            }
        };
        // The user's settings as they are now: an administrator's change applies to the next
        // open without a reconnect.
        let user = match self.manager.user_settings(&userid).await {
            Ok(u) => u,
            Err(e) => {
                self.error(
                    Some(r.seq),
                    ErrorName::InternalError,
                    format!("the user's settings could not be read: {e}"),
                );
                return Flow::Continue;
            }
        };
        if !user.super_provider && !user.controlled_devices.contains(&device.name) {
            self.error(
                Some(r.seq),
                ErrorName::CtierrEnduserNotAssociatedWithDevice,
                format!("{userid} does not control {shown}"),
            );
            return Flow::Continue;
        }
        if !device.allow_cti_control {
            self.error(
                Some(r.seq),
                ErrorName::CtierrAccessToDeviceDenied,
                format!("{shown} does not allow control from CTI"),
            );
            return Flow::Continue;
        }
        let handle = match &mut self.state {
            State::Open(provider) => {
                provider.next_handle += 1;
                provider.next_handle - 1
            }
            _ => {
                self.not_open(r.seq);
                return Flow::Continue;
            }
        };
        let watcher = Watcher {
            link: self.link.clone(),
            provider_id,
            handle,
            device_state: r.event_filter.device_state,
            call_state: r.event_filter.call_state && self.version >= CALL_CONTROL_VERSION,
        };
        let callctl = self.manager.callctl.clone();
        let response = |state| {
            Message::DeviceOpenResponse(DeviceOpenResponse {
                seq: r.seq,
                device_handle: handle,
                device_name: device.name.clone(),
                device_type: device.product.clone(),
                device_id: device.name.clone(),
                protocol: DeviceProtocol::Sip,
                state,
            })
        };
        let Some((state, call_traces)) = self.manager.registry.open(
            &device.name,
            watcher,
            || callctl.is_in_service(&device.name),
            response,
        ) else {
            return Flow::Continue;
        };
        let State::Open(provider) = &mut self.state else {
            return Flow::Continue;
        };
        provider.devices.insert(
            handle,
            OpenDevice {
                name: device.name.clone(),
                lines: device.lines.iter().map(|l| l.dn.clone()).collect(),
                open_lines: HashMap::new(),
            },
        );
        let in_service = state == switchboard_cti_proto::DeviceState::InService;
        let mut signal = self.signal();
        signal.sdl(
            Level::Debug,
            "CtiDeviceOpenDeviceRes",
            "ready",
            &format!(
                "mAsyncResponse = {} DH={handle} Name={} mOpenResult=0x0 AppLoginUserId={userid} \
                 ProviderIds are {provider_id}, IsCTIConnectionTLS = {}",
                r.seq,
                device.name,
                if self.transport.is_encrypted() {
                    "T"
                } else {
                    "F"
                }
            ),
        );
        signal.emit_default(&TraceEvent::CtiDeviceOpenResponse {
            seq: r.seq,
            device: device.name.clone(),
            handle,
            device_type: device.product.clone(),
            device_id: device.name.clone(),
            state: if in_service {
                "in_service"
            } else {
                "out_of_service"
            }
            .into(),
        });
        if in_service && r.event_filter.device_state {
            signal.emit_default(&TraceEvent::CtiDeviceInServiceEvent {
                handle,
                device: device.name.clone(),
                provider_id,
            });
        }
        for t in &call_traces {
            signal.emit_default(t);
        }
        Flow::Continue
    }

    fn line_open(&mut self, r: LineOpenRequest) -> Flow {
        let next_line_handle = self.next_line_handle;
        let Some(provider) = self.provider(r.seq) else {
            return Flow::Continue;
        };
        let provider_id = provider.id;
        let outcome = match provider.devices.get_mut(&r.device_handle) {
            None => Err((
                ErrorName::InvalidDeviceHandle,
                format!(
                    "device handle {} is not open on this provider",
                    r.device_handle
                ),
            )),
            Some(device) if !device.lines.contains(&r.directory_number) => Err((
                ErrorName::LineNotFound,
                format!(
                    "{} has no line {}",
                    device.name,
                    r.directory_number.chars().take(ECHO).collect::<String>()
                ),
            )),
            Some(device) => Ok(*device
                .open_lines
                .entry(r.directory_number.clone())
                .or_insert(next_line_handle)),
        };
        let mut signal = self.signal();
        signal.emit_default(&TraceEvent::CtiRequestIn {
            name: "LineOpenRequest".into(),
            seq: r.seq,
            detail: format!(
                "DH={} dn={}",
                r.device_handle,
                r.directory_number.chars().take(ECHO).collect::<String>()
            ),
        });
        match outcome {
            Err((error, message)) => {
                drop(signal);
                self.error(Some(r.seq), error, message);
            }
            Ok(line_handle) => {
                if line_handle == next_line_handle {
                    self.next_line_handle += 1;
                }
                signal.emit_default(&TraceEvent::CtiResponseOut {
                    name: "LineOpenResponse".into(),
                    seq: r.seq,
                    detail: format!(
                        "DH={} LH={line_handle} dn={} provider id={provider_id}",
                        r.device_handle, r.directory_number
                    ),
                });
                self.link.send(Message::LineOpenResponse(LineOpenResponse {
                    seq: r.seq,
                    device_handle: r.device_handle,
                    line_handle,
                    directory_number: r.directory_number,
                }));
            }
        }
        Flow::Continue
    }

    fn device_close(&mut self, r: DeviceCloseRequest) -> Flow {
        let link_id = self.link.id;
        let Some(provider) = self.provider(r.seq) else {
            return Flow::Continue;
        };
        let closed = provider.devices.remove(&r.device_handle);
        self.signal().emit_default(&TraceEvent::CtiRequestIn {
            name: "DeviceCloseRequest".into(),
            seq: r.seq,
            detail: format!("DH={}", r.device_handle),
        });
        match closed {
            None => self.error(
                Some(r.seq),
                ErrorName::InvalidDeviceHandle,
                format!(
                    "device handle {} is not open on this provider",
                    r.device_handle
                ),
            ),
            Some(device) => {
                self.manager
                    .registry
                    .close(&device.name, link_id, r.device_handle);
                self.signal().emit_default(&TraceEvent::CtiResponseOut {
                    name: "DeviceCloseResponse".into(),
                    seq: r.seq,
                    detail: format!("DH={} deviceName={}", r.device_handle, device.name),
                });
                self.link
                    .send(Message::DeviceCloseResponse(DeviceCloseResponse {
                        seq: r.seq,
                        device_handle: r.device_handle,
                    }));
            }
        }
        Flow::Continue
    }

    fn provider_close(&mut self, r: ProviderCloseRequest) -> Flow {
        let provider_id = match &self.state {
            State::Open(p) => Some(p.id),
            State::AwaitingSeal { provider_id, .. } => Some(*provider_id),
            _ => None,
        };
        let mut signal = self.signal();
        signal.emit_default(&TraceEvent::CtiRequestIn {
            name: "ProviderCloseRequest".into(),
            seq: r.seq,
            detail: provider_id
                .map(|id| format!("provider id={id}"))
                .unwrap_or_default(),
        });
        signal.emit_default(&TraceEvent::CtiResponseOut {
            name: "ProviderCloseResponse".into(),
            seq: r.seq,
            detail: String::new(),
        });
        self.link
            .send(Message::ProviderCloseResponse(ProviderCloseResponse {
                seq: r.seq,
            }));
        Flow::Close("ProviderCloseRequest".into())
    }

    /// The connection is over: every device the provider opened is released.
    pub fn finish(&mut self, reason: &str) {
        let provider_id = match std::mem::replace(&mut self.state, State::Closed) {
            State::Open(provider) => {
                for (handle, device) in provider.devices {
                    self.manager
                        .registry
                        .close(&device.name, self.link.id, handle);
                }
                self.manager.providers.fetch_sub(1, Ordering::Relaxed);
                Some(provider.id)
            }
            State::AwaitingSeal { provider_id, .. } => Some(provider_id),
            _ => None,
        };
        self.signal()
            .emit_default(&TraceEvent::CtiConnectionClosed {
                transport: self.transport.name().into(),
                peer: self.peer.to_string(),
                provider_id,
                reason: reason.into(),
            });
    }
}

/// Sends an `ErrorResponse` on `link` (traced); the message is cut to a readable length.
pub(crate) fn send_error(
    manager: &CtiManager,
    link: &Link,
    seq: Option<u32>,
    error: ErrorName,
    message: String,
) {
    let message = if message.chars().count() > MAX_MESSAGE {
        let mut cut: String = message.chars().take(MAX_MESSAGE).collect();
        cut.push('…');
        cut
    } else {
        message
    };
    manager.tracer.emit_default(
        Service::Cti,
        &TraceEvent::CtiErrorResponse {
            seq,
            error: error.as_str().into(),
            message: message.clone(),
        },
    );
    link.send(Message::ErrorResponse(ErrorResponse {
        seq,
        error,
        message,
        supported_versions: None,
    }));
}

/// Longest error message sent, in characters.
const MAX_MESSAGE: usize = 512;

fn flags(user: &User) -> CtiFlags {
    CtiFlags {
        super_provider: user.super_provider,
        call_park_retrieval_allowed: user.call_park_retrieval_allowed,
        modify_calling_number: user.modify_calling_number,
        cti_enabled: user.cti_enabled,
        call_monitor: user.call_monitor,
        call_record: user.call_record,
    }
}
