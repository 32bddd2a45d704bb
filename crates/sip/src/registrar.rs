//! The registrar (RFC 3261 §10.3) for the digest ports (5060 UDP/TCP, 5061 TLS): identifies
//! the device (Cisco's `+u.sip!devicename.ccm.cisco.com` Contact parameter, else the To
//! user), applies its security profile (transport, digest, OAuth-only devices refused here),
//! checks digest credentials (RFC 8760: SHA-256 and MD5, `qop=auth`, nonces that expire and
//! cannot be replayed), grants at most `SipMaxRegistrationExpiresSeconds`, and publishes every
//! binding change to call control.

use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, AtomicU32, Ordering};
use std::sync::{Arc, Mutex, RwLock};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use switchboard_auth::digest::{self, DigestAlgorithm};
use switchboard_auth::nonce::{NonceManager, NonceStatus};
use switchboard_callctl::{CallControl, RegistrationChange, RegistrationEvent};
use switchboard_sip_proto::{ContactList, Credentials, Message};
use switchboard_store::model::{SecurityMode, Transport as ProfileTransport};
use switchboard_store::Store;
use switchboard_trace::{Level, Service, TraceEvent, Tracer};

use crate::bearer::{
    oauth_port_rules, BearerVerifier, PortKind, PORT_MISMATCH, PORT_MISMATCH_RETRY_AFTER,
};
use crate::devices::{DeviceAuth, DeviceCache};
use crate::dialplan::DialPlan;
use crate::limiter::{FailureLimiter, LimiterConfig};
use crate::location::{Binding, Change, ContactUpdate, Location, RegisterMeta, Transport};

/// The digest realm, as CUCM uses it.
pub const REALM: &str = "ccmsipline";
/// The `Server` header of every response.
pub const SERVER: &str = concat!("Switchboard/", env!("CARGO_PKG_VERSION"));
/// Lifetime of a digest nonce.
const NONCE_LIFETIME_SECS: u64 = 300;
/// Expiry asked for when a REGISTER names none (RFC 3261 §10.2.1.1).
const DEFAULT_EXPIRES: u32 = 3600;

/// Where a request came from.
#[derive(Debug, Clone)]
pub struct Inbound {
    pub transport: Transport,
    pub source: SocketAddr,
    /// The TCP/TLS connection it arrived on.
    pub flow: Option<u64>,
    /// The kind of port (digest/certificate, SIP OAuth, MRA OAuth).
    pub port: PortKind,
    /// The names (CN and SANs) of the client certificate presented on a TLS connection, once
    /// verified against the trust store; empty otherwise.
    pub peer_names: Arc<[String]>,
}

/// The registrar of one node.
pub struct Registrar {
    tracer: Tracer,
    callctl: Arc<CallControl>,
    node_name: String,
    devices: DeviceCache,
    /// Lines of devices and devices of lines, for call routing; cleared with the devices.
    dial_plan: DialPlan,
    nonces: NonceManager,
    limiter: FailureLimiter,
    location: Mutex<Location>,
    store: Store,
    max_expires: AtomicU32,
    min_expires: AtomicU32,
    sha256_first: AtomicBool,
    /// Whether the challenge offers SHA-256 at all.
    offer_sha256: AtomicBool,
    /// `ClusterSIPOAuthMode`.
    oauth_mode: AtomicBool,
    bearer: RwLock<Option<Arc<dyn BearerVerifier>>>,
}

fn unix_now() -> Duration {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap_or_default()
}

/// A refusal: the response to send and what to trace.
struct Refusal {
    response: Message,
    device: String,
    reason: String,
}

impl Registrar {
    pub fn new(
        store: Store,
        tracer: Tracer,
        callctl: Arc<CallControl>,
        node_name: String,
        limits: LimiterConfig,
    ) -> Registrar {
        Registrar {
            devices: DeviceCache::new(store.clone()),
            dial_plan: DialPlan::new(store.clone()),
            store,
            tracer,
            callctl,
            node_name,
            nonces: NonceManager::new(NONCE_LIFETIME_SECS),
            limiter: FailureLimiter::new(limits),
            location: Mutex::new(Location::new(8)),
            max_expires: AtomicU32::new(120),
            min_expires: AtomicU32::new(60),
            sha256_first: AtomicBool::new(false),
            offer_sha256: AtomicBool::new(true),
            oauth_mode: AtomicBool::new(false),
            bearer: RwLock::new(None),
        }
    }

    /// Reads the registration parameters again (at start and when they change).
    pub async fn reload_params(&self) {
        if let Ok(v) = self
            .store
            .param_i64("SipMaxRegistrationExpiresSeconds")
            .await
        {
            self.max_expires.store(v as u32, Ordering::Relaxed);
        }
        if let Ok(v) = self
            .store
            .param_i64("SipMinRegistrationExpiresSeconds")
            .await
        {
            self.min_expires.store(v as u32, Ordering::Relaxed);
        }
        if let Ok(v) = self.store.param_i64("SipDigestSha256Preferred").await {
            self.sha256_first.store(v == 1, Ordering::Relaxed);
        }
        if let Ok(v) = self.store.param_i64("SipDigestOfferSha256").await {
            self.offer_sha256.store(v == 1, Ordering::Relaxed);
        }
        if let Ok(v) = self.store.param_i64("ClusterSIPOAuthMode").await {
            self.oauth_mode.store(v == 1, Ordering::Relaxed);
        }
    }

    /// Whether the cluster's SIP OAuth mode is on, as this registrar last read it.
    pub fn oauth_mode(&self) -> bool {
        self.oauth_mode.load(Ordering::Relaxed)
    }

    /// Gives the registrar the node's token verifier (bearer registration on the OAuth
    /// ports; without one those ports answer 503).
    pub fn set_bearer_verifier(&self, verifier: Arc<dyn BearerVerifier>) {
        if let Ok(mut slot) = self.bearer.write() {
            *slot = Some(verifier);
        }
    }

    /// Loads every device into the cache (at start).
    pub async fn preload_devices(&self) {
        match self.devices.preload().await {
            Ok(n) => tracing::info!(devices = n, "device cache loaded"),
            Err(e) => {
                tracing::warn!(error = %e, "device cache not loaded; devices load on first REGISTER")
            }
        }
    }

    /// Forgets one cached device (it was created, changed or deleted), and the dial plan
    /// (its lines may have changed).
    pub fn device_changed(&self, name: &str) {
        self.devices.forget(name);
        self.dial_plan.clear();
    }

    /// Forgets every cached device and the dial plan (a profile changed, or changes were
    /// missed).
    pub fn devices_changed(&self) {
        self.devices.clear();
        self.dial_plan.clear();
    }

    /// Forgets the dial plan (a line was created, changed or deleted).
    pub fn lines_changed(&self) {
        self.dial_plan.clear();
    }

    /// The cached dial plan call routing reads.
    pub fn dial_plan(&self) -> &DialPlan {
        &self.dial_plan
    }

    /// How many bindings are live.
    pub fn binding_count(&self) -> usize {
        self.location.lock().map(|l| l.len()).unwrap_or(0)
    }

    /// When the next binding may expire.
    pub fn next_deadline(&self) -> Option<Instant> {
        self.location.lock().ok().and_then(|l| l.next_deadline())
    }

    /// Removes the bindings that ran out by `now` and announces them.
    pub fn expire(&self, now: Instant) {
        let expired = match self.location.lock() {
            Ok(mut l) => l
                .expire(now)
                .into_iter()
                .map(|(d, b)| (d.clone(), b, l.bindings(&d).is_empty()))
                .collect::<Vec<_>>(),
            Err(_) => return,
        };
        for (device, binding, gone) in expired {
            self.trace(
                || TraceEvent::SipRegistrationExpired {
                    device: device.clone(),
                    contact: binding.uri.clone(),
                },
                Level::Info,
            );
            self.publish(&device, RegistrationChange::Expired, &binding, !gone, 0);
        }
    }

    /// The bindings of a device (for routing requests to it).
    pub fn bindings(&self, device: &str) -> Vec<Binding> {
        self.location
            .lock()
            .map(|l| l.bindings(device).to_vec())
            .unwrap_or_default()
    }

    /// The device registered from where `inbound` came (see [`Location::device_at`]).
    pub fn device_at(&self, inbound: &Inbound) -> Option<(String, Binding)> {
        let l = self.location.lock().ok()?;
        l.device_at(inbound.transport, inbound.source, inbound.flow)
            .map(|(d, b)| (d.clone(), b.clone()))
    }

    /// The store, for the call router's number lookups.
    pub fn store(&self) -> &Store {
        &self.store
    }

    fn publish(
        &self,
        device: &str,
        change: RegistrationChange,
        b: &Binding,
        in_service: bool,
        expires_at: u64,
    ) {
        self.callctl.publish(RegistrationEvent {
            device: device.to_string(),
            change,
            contact: b.uri.clone(),
            transport: b.transport.as_str().to_string(),
            source: b.source,
            in_service,
            expires_at,
        });
    }

    /// Emits a trace event, building it only when its level is traced (this is the hot path).
    fn trace(&self, event: impl FnOnce() -> TraceEvent, level: Level) {
        if self.tracer.enabled(Service::Sip, level) {
            self.tracer.emit(Service::Sip, level, &event());
        }
    }

    fn response(&self, req: &Message, code: u16, reason: &str) -> Message {
        Message::response_to(req, code, reason).with_header("Server", SERVER)
    }

    fn refuse(
        &self,
        req: &Message,
        device: &str,
        code: u16,
        reason: &str,
        warning: Option<&str>,
    ) -> Box<Refusal> {
        let mut response = self.response(req, code, reason);
        if let Some(text) = warning {
            response = response.with_header(
                "Warning",
                &format!("399 {} \"{}\"", self.node_name, text.replace('"', "'")),
            );
        }
        Box::new(Refusal {
            response,
            device: device.to_string(),
            reason: warning.unwrap_or(reason).to_string(),
        })
    }

    /// Answers one REGISTER.
    pub async fn handle_register(&self, req: &Message, inbound: &Inbound) -> Message {
        match self.register(req, inbound).await {
            Ok(response) => response,
            Err(refusal) => {
                let refusal = *refusal;
                let code = refusal.response.code().unwrap_or(500);
                if code == 401 || code == 407 {
                    let scheme = if code == 401 { "digest" } else { "bearer" };
                    self.trace(
                        || TraceEvent::SipChallengeSent {
                            device: refusal.device,
                            code,
                            scheme: scheme.into(),
                            detail: refusal.reason,
                        },
                        Level::Debug,
                    );
                } else {
                    self.trace(
                        || TraceEvent::SipRegistrationRefused {
                            device: refusal.device,
                            code,
                            reason: refusal.reason,
                        },
                        Level::Error,
                    );
                }
                refusal.response
            }
        }
    }

    async fn register(&self, req: &Message, inbound: &Inbound) -> Result<Message, Box<Refusal>> {
        let now = Instant::now();
        let h = &req.headers;
        let bad = |what: String| self.refuse(req, "?", 400, "Bad Request", Some(&what));
        let call_id = h.call_id().map_err(|e| bad(e.to_string()))?.to_string();
        let cseq = h.cseq().map_err(|e| bad(e.to_string()))?;
        let to = h.to().map_err(|e| bad(e.to_string()))?;
        let contacts = h.contacts().map_err(|e| bad(e.to_string()))?;
        let header_expires = h.expires().map_err(|e| bad(e.to_string()))?;
        let list: &[switchboard_sip_proto::Contact] = match &contacts {
            ContactList::Star => &[],
            ContactList::List(l) => l,
        };
        let device_name = list
            .iter()
            .find_map(|c| c.device_name.clone())
            .or_else(|| {
                to.uri.user().map(|u| {
                    String::from_utf8_lossy(&switchboard_sip_proto::percent_decode(u)).into_owned()
                })
            })
            .unwrap_or_default();
        self.trace(
            || TraceEvent::SipRegisterReceived {
                transport: inbound.transport.as_str().into(),
                source: inbound.source.to_string(),
                device: device_name.clone(),
                call_id: call_id.clone(),
                cseq: cseq.seq,
                expires: header_expires,
            },
            Level::Debug,
        );
        if let Some(until) = self.limiter.blocked(inbound.source.ip(), now) {
            let wait = until.saturating_duration_since(now).as_secs().max(1);
            let mut r = self.refuse(
                req,
                &device_name,
                403,
                "Forbidden",
                Some("Too many failed authentications from this address"),
            );
            r.response = r.response.with_header("Retry-After", &wait.to_string());
            return Err(r);
        }
        let device = match self.devices.get(&device_name, now).await {
            Ok(Some(d)) => d,
            Ok(None) => {
                return Err(self.refuse(
                    req,
                    &device_name,
                    404,
                    "Not Found",
                    Some("Device not provisioned"),
                ))
            }
            Err(e) => {
                tracing::error!(error = %e, "store unavailable for a REGISTER");
                let mut r = self.refuse(
                    req,
                    &device_name,
                    500,
                    "Server Internal Error",
                    Some("Configuration store unavailable"),
                );
                r.response = r.response.with_header("Retry-After", "5");
                return Err(r);
            }
        };
        if inbound.port.is_oauth() {
            self.check_oauth_port(req, &device, inbound)?;
            self.check_bearer(req, &device, inbound, now)?;
        } else {
            self.check_profile(req, &device, inbound)?;
            if device.digest_auth {
                self.check_digest(req, &device, inbound, now)?;
            }
        }
        self.apply(
            req,
            &device,
            inbound,
            &contacts,
            header_expires,
            &call_id,
            cseq.seq,
            now,
        )
    }

    fn check_profile(
        &self,
        req: &Message,
        device: &DeviceAuth,
        inbound: &Inbound,
    ) -> Result<(), Box<Refusal>> {
        if device.oauth_auth {
            return Err(self.refuse(
                req,
                &device.name,
                403,
                "Forbidden",
                Some(
                    "Device's security profile requires SIP OAuth: register on the SIP OAuth port",
                ),
            ));
        }
        if device.security_mode != SecurityMode::NonSecure
            && !inbound.peer_names.contains(&device.name)
        {
            let text = format!(
                "Device certificate required: security profile '{}' is authenticated; connect over TLS with a certificate whose CN is {} from a CA in the trust store",
                device.profile, device.name
            );
            return Err(self.refuse(req, &device.name, 403, "Forbidden", Some(&text)));
        }
        let allowed = match device.transport {
            ProfileTransport::Udp => inbound.transport == Transport::Udp,
            ProfileTransport::Tcp => inbound.transport == Transport::Tcp,
            ProfileTransport::TcpUdp => inbound.transport != Transport::Tls,
            ProfileTransport::Tls => inbound.transport == Transport::Tls,
        };
        if !allowed {
            let text = format!(
                "Transport {} not allowed by security profile '{}'",
                inbound.transport.as_str().to_uppercase(),
                device.profile
            );
            return Err(self.refuse(req, &device.name, 403, "Forbidden", Some(&text)));
        }
        Ok(())
    }

    /// 004 Cenário 1: the OAuth ports take only OAuth devices, only in OAuth mode, and 5090
    /// only without a client certificate.
    fn check_oauth_port(
        &self,
        req: &Message,
        device: &DeviceAuth,
        inbound: &Inbound,
    ) -> Result<(), Box<Refusal>> {
        let verdict = oauth_port_rules(
            inbound.port,
            self.oauth_mode.load(Ordering::Relaxed),
            device.oauth_auth,
            !inbound.peer_names.is_empty(),
        );
        if let Err(violation) = verdict {
            let mut r = self.refuse(req, &device.name, 403, "Forbidden", Some(PORT_MISMATCH));
            r.response = r
                .response
                .with_header("Retry-After", &PORT_MISMATCH_RETRY_AFTER.to_string());
            r.reason = format!("{PORT_MISMATCH}: {}", violation.detail());
            return Err(r);
        }
        Ok(())
    }

    /// The RFC 8898 challenge: `407` with `Proxy-Authenticate: Bearer realm="ccmsipline"`
    /// (the seed's header), plus `error="invalid_token"` when a token was refused.
    fn bearer_challenge(
        &self,
        req: &Message,
        device: &DeviceAuth,
        error: Option<&str>,
        why: &str,
    ) -> Box<Refusal> {
        let value = match error {
            Some(e) => format!("Bearer realm=\"{REALM}\", error=\"{e}\""),
            None => format!("Bearer realm=\"{REALM}\""),
        };
        Box::new(Refusal {
            response: self
                .response(req, 407, "Proxy Authentication Required")
                .with_header("Proxy-Authenticate", &value),
            device: device.name.clone(),
            reason: why.to_string(),
        })
    }

    /// The bearer token of the request: `Proxy-Authorization` first (the seed's), then
    /// `Authorization` (RFC 8898); the seed's `token="…"` form and the bare one alike.
    fn check_bearer(
        &self,
        req: &Message,
        device: &DeviceAuth,
        inbound: &Inbound,
        now: Instant,
    ) -> Result<(), Box<Refusal>> {
        let mut token = None;
        for found in [
            req.headers.proxy_authorization(),
            req.headers.authorization(),
        ] {
            match found {
                Ok(Some(Credentials::Bearer { token: t })) => {
                    token = Some(t);
                    break;
                }
                Ok(_) => {}
                Err(e) => {
                    return Err(self.refuse(
                        req,
                        &device.name,
                        400,
                        "Bad Request",
                        Some(&e.to_string()),
                    ))
                }
            }
        }
        let Some(token) = token else {
            return Err(self.bearer_challenge(req, device, None, "no bearer token"));
        };
        let verifier = self.bearer.read().ok().and_then(|v| v.clone());
        let Some(verifier) = verifier else {
            let mut r = self.refuse(
                req,
                &device.name,
                503,
                "Service Unavailable",
                Some("SIP OAuth is not available on this node"),
            );
            r.response = r.response.with_header("Retry-After", "30");
            return Err(r);
        };
        let identity = match verifier.verify(&token) {
            Ok(identity) => identity,
            Err(reason) => {
                self.limiter.fail(inbound.source.ip(), now);
                return Err(self.bearer_challenge(
                    req,
                    device,
                    Some("invalid_token"),
                    &format!("token refused: {reason} (token length {})", token.len()),
                ));
            }
        };
        if device.owner.as_deref() != Some(identity.user.as_str()) {
            self.limiter.fail(inbound.source.ip(), now);
            let text = format!(
                "The token's user {} does not own device {}",
                identity.user, device.name
            );
            return Err(self.refuse(req, &device.name, 403, "Forbidden", Some(&text)));
        }
        if let Some(bound) = identity.device.as_deref().filter(|d| *d != device.name) {
            self.limiter.fail(inbound.source.ip(), now);
            let text = format!(
                "The token was issued for device {bound}, not {}",
                device.name
            );
            return Err(self.refuse(req, &device.name, 403, "Forbidden", Some(&text)));
        }
        Ok(())
    }

    fn challenge(
        &self,
        req: &Message,
        device: &DeviceAuth,
        stale: bool,
        why: &str,
    ) -> Box<Refusal> {
        let nonce = self.nonces.issue(unix_now().as_millis() as u64);
        let stale = if stale { ", stale=true" } else { "" };
        let mut response = self.response(req, 401, "Unauthorized");
        // Most preferred first (RFC 8760 §2.4); most phones answer only the first.
        let order: &[DigestAlgorithm] = if !self.offer_sha256.load(Ordering::Relaxed) {
            &[DigestAlgorithm::Md5]
        } else if self.sha256_first.load(Ordering::Relaxed) {
            &[DigestAlgorithm::Sha256, DigestAlgorithm::Md5]
        } else {
            &[DigestAlgorithm::Md5, DigestAlgorithm::Sha256]
        };
        for alg in order {
            let value = format!(
                "Digest realm=\"{REALM}\", nonce=\"{nonce}\", algorithm={alg}, qop=\"auth\"{stale}"
            );
            response = response.with_header("WWW-Authenticate", &value);
        }
        let algorithms = order
            .iter()
            .map(|a| a.as_str())
            .collect::<Vec<_>>()
            .join(",");
        Box::new(Refusal {
            response,
            device: device.name.clone(),
            reason: format!("{why}; realm={REALM}, algorithms={algorithms}{stale}"),
        })
    }

    fn check_digest(
        &self,
        req: &Message,
        device: &DeviceAuth,
        inbound: &Inbound,
        now: Instant,
    ) -> Result<(), Box<Refusal>> {
        let creds = match req.headers.authorization() {
            Ok(Some(Credentials::Digest(c))) => c,
            Ok(_) => return Err(self.challenge(req, device, false, "no credentials")),
            Err(e) => {
                return Err(self.refuse(
                    req,
                    &device.name,
                    400,
                    "Bad Request",
                    Some(&e.to_string()),
                ))
            }
        };
        let Some(password) = device.digest_password.as_deref() else {
            return Err(self.refuse(
                req,
                &device.name,
                403,
                "Forbidden",
                Some("No digest credentials provisioned for this device"),
            ));
        };
        let alg: DigestAlgorithm = match creds.algorithm.as_deref().unwrap_or("MD5").parse() {
            Ok(a) => a,
            Err(_) => {
                return Err(self.challenge(req, device, false, "unsupported digest algorithm"))
            }
        };
        if creds.realm != REALM || creds.username != device.digest_user {
            self.limiter.fail(inbound.source.ip(), now);
            return Err(self.challenge(req, device, false, "wrong user name or realm"));
        }
        let qop = creds.qop.as_deref().unwrap_or("");
        let nc = match (qop, creds.nc.as_deref()) {
            ("", _) => 0,
            ("auth", Some(nc)) => match u32::from_str_radix(nc, 16) {
                Ok(n) if n > 0 => n,
                _ => {
                    return Err(self.refuse(
                        req,
                        &device.name,
                        400,
                        "Bad Request",
                        Some("Malformed nonce count"),
                    ))
                }
            },
            _ => return Err(self.challenge(req, device, false, "unsupported qop")),
        };
        let expected = digest::response(
            alg,
            &digest::ha1(alg, &creds.username, REALM, password),
            &creds.nonce,
            creds.nc.as_deref().unwrap_or(""),
            creds.cnonce.as_deref().unwrap_or(""),
            qop,
            "REGISTER",
            &creds.uri,
        );
        if !digest::responses_match(&expected, &creds.response) {
            self.limiter.fail(inbound.source.ip(), now);
            return Err(self.challenge(req, device, false, "wrong password"));
        }
        match self
            .nonces
            .check(&creds.nonce, nc, unix_now().as_millis() as u64)
        {
            NonceStatus::Valid => Ok(()),
            NonceStatus::Stale => Err(self.challenge(req, device, true, "nonce expired")),
            NonceStatus::Invalid => {
                Err(self.challenge(req, device, false, "nonce not issued here"))
            }
            NonceStatus::Replayed => {
                self.limiter.fail(inbound.source.ip(), now);
                Err(self.challenge(req, device, false, "nonce count replayed"))
            }
        }
    }

    #[allow(clippy::too_many_arguments)]
    fn apply(
        &self,
        req: &Message,
        device: &DeviceAuth,
        inbound: &Inbound,
        contacts: &ContactList,
        header_expires: Option<u32>,
        call_id: &str,
        cseq: u32,
        now: Instant,
    ) -> Result<Message, Box<Refusal>> {
        let max = self.max_expires.load(Ordering::Relaxed);
        let min = self.min_expires.load(Ordering::Relaxed);
        let meta = RegisterMeta {
            call_id,
            cseq,
            transport: inbound.transport,
            source: inbound.source,
            flow: inbound.flow,
        };
        let mut requested_first = None;
        let result = match contacts {
            ContactList::Star => {
                if header_expires != Some(0) {
                    return Err(self.refuse(
                        req,
                        &device.name,
                        400,
                        "Bad Request",
                        Some("Contact: * needs Expires: 0"),
                    ));
                }
                self.location
                    .lock()
                    .map_err(|_| {
                        self.refuse(req, &device.name, 500, "Server Internal Error", None)
                    })?
                    .remove_all(&device.name, &meta)
            }
            ContactList::List(list) => {
                let mut updates = Vec::with_capacity(list.len());
                for c in list {
                    let requested = c.expires.or(header_expires).unwrap_or(DEFAULT_EXPIRES);
                    requested_first.get_or_insert(requested);
                    if requested != 0 && requested < min {
                        let mut r = self.refuse(req, &device.name, 423, "Interval Too Brief", None);
                        r.response = r.response.with_header("Min-Expires", &min.to_string());
                        r.reason = format!("expires {requested} below the minimum {min}");
                        return Err(r);
                    }
                    let uri = c.name_addr.uri.to_string();
                    let mut kept = c.name_addr.clone();
                    kept.params.remove("expires");
                    updates.push(ContactUpdate {
                        contact: kept.to_string(),
                        uri,
                        instance: c.instance.clone(),
                        expires: requested.min(max),
                    });
                }
                self.location
                    .lock()
                    .map_err(|_| {
                        self.refuse(req, &device.name, 500, "Server Internal Error", None)
                    })?
                    .update(&device.name, &updates, &meta, now)
            }
        };
        let changes = result.map_err(|e| {
            self.refuse(
                req,
                &device.name,
                500,
                "Server Internal Error",
                Some(&e.to_string()),
            )
        })?;
        // The device's bindings after the change, as the 200 lists them (Contact with the
        // seconds left): read under the lock, without copying the bindings.
        let remaining: Vec<(String, u64)> = self
            .location
            .lock()
            .map(|l| {
                l.bindings(&device.name)
                    .iter()
                    .map(|b| {
                        let left = b.expires_at.saturating_duration_since(now).as_secs();
                        (format!("{};expires={left}", b.contact), left)
                    })
                    .collect()
            })
            .unwrap_or_default();
        let in_service = !remaining.is_empty();
        let wall = unix_now().as_secs();
        for change in &changes {
            match change {
                Change::Added(b) | Change::Refreshed(b) => {
                    let granted = b.expires_at.saturating_duration_since(now).as_secs() as u32;
                    self.trace(
                        || TraceEvent::SipRegistrationAccepted {
                            device: device.name.clone(),
                            contact: b.uri.clone(),
                            granted,
                            requested: requested_first.unwrap_or(granted),
                            transport: inbound.transport.as_str().into(),
                            source: inbound.source.to_string(),
                        },
                        Level::Info,
                    );
                    let kind = if matches!(change, Change::Added(_)) {
                        RegistrationChange::Registered
                    } else {
                        RegistrationChange::Refreshed
                    };
                    self.publish(&device.name, kind, b, true, wall + u64::from(granted));
                }
                Change::Removed(b) => {
                    self.trace(
                        || TraceEvent::SipRegistrationRemoved {
                            device: device.name.clone(),
                            contact: b.uri.clone(),
                        },
                        Level::Info,
                    );
                    self.publish(
                        &device.name,
                        RegistrationChange::Unregistered,
                        b,
                        in_service,
                        0,
                    );
                }
            }
        }
        let mut response = self.response(req, 200, "OK");
        // RFC 3327 §5.3: the Path an edge proxy recorded goes back in the 200, in order.
        for path in req.headers.lines("Path") {
            response = response.with_header("Path", path);
        }
        let mut granted_header = None;
        for (contact, left) in &remaining {
            granted_header.get_or_insert(*left);
            response = response.with_header("Contact", contact);
        }
        if let Some(g) = granted_header {
            response = response.with_header("Expires", &g.to_string());
        }
        Ok(response.with_header("Date", &httpdate(SystemTime::now())))
    }
}

/// An RFC 1123 date for the `Date` header: formatted once per second and thread (every 200 OK
/// carries one).
fn httpdate(t: SystemTime) -> String {
    thread_local! {
        static LAST: std::cell::RefCell<(u64, String)> = const { std::cell::RefCell::new((u64::MAX, String::new())) };
    }
    let second = t
        .duration_since(SystemTime::UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0);
    LAST.with(|last| {
        let mut last = last.borrow_mut();
        if last.0 != second {
            *last = (second, format_httpdate(t));
        }
        last.1.clone()
    })
}

fn format_httpdate(t: SystemTime) -> String {
    let t: time::OffsetDateTime = t.into();
    let format = time::macros::format_description!(
        "[weekday repr:short], [day] [month repr:short] [year] [hour]:[minute]:[second] GMT"
    );
    t.format(&format).unwrap_or_default()
}
