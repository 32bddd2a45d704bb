//! The records of the store as the rest of the system and the provisioning API see them.
//!
//! Reads return these types; writes take the `*New` (create) and `*Patch` (partial update)
//! types. Secrets are write-only: they appear in inputs (`password`, `digest_password`,
//! `service_password`) and never in what a read returns.

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

/// Where an end user's password is checked.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema, Default)]
#[serde(rename_all = "lowercase")]
pub enum UserSource {
    /// Argon2id hash in the store.
    #[default]
    Local,
    /// Bind to the configured LDAP / Active Directory.
    Ldap,
}

/// An end user, with the six CTI settings of the seed's `CtiUserSettingsRes` (000 step 14).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct User {
    pub userid: String,
    pub display_name: String,
    pub source: UserSource,
    pub enabled: bool,
    pub cti_enabled: bool,
    pub super_provider: bool,
    pub call_park_retrieval_allowed: bool,
    pub modify_calling_number: bool,
    pub call_monitor: bool,
    pub call_record: bool,
    /// Devices this user may open through CTI.
    pub controlled_devices: Vec<String>,
    /// Whether a local password is set (the hash itself is never returned).
    pub has_password: bool,
    /// Consecutive failed logons of a local user since the last success or lockout
    /// (credential policy).
    #[serde(default)]
    pub failed_logons: u32,
    /// Set while a local user is locked out by the credential policy (RFC 3339 UTC); setting
    /// a new password unlocks.
    #[serde(default)]
    pub locked_until: Option<String>,
    pub created_at: String,
    pub updated_at: String,
}

/// A new end user.
#[derive(Debug, Clone, Default, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct UserNew {
    pub userid: String,
    #[serde(default)]
    pub display_name: String,
    #[serde(default)]
    pub source: UserSource,
    /// Local password (write-only; stored as an Argon2id hash).
    #[serde(default)]
    pub password: Option<String>,
    #[serde(default = "yes")]
    pub enabled: bool,
    #[serde(default)]
    pub cti_enabled: bool,
    #[serde(default)]
    pub super_provider: bool,
    #[serde(default)]
    pub call_park_retrieval_allowed: bool,
    #[serde(default)]
    pub modify_calling_number: bool,
    #[serde(default)]
    pub call_monitor: bool,
    #[serde(default)]
    pub call_record: bool,
    #[serde(default)]
    pub controlled_devices: Vec<String>,
}

fn yes() -> bool {
    true
}

/// A partial update of an end user: absent fields are left as they are.
#[derive(Debug, Clone, Default, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct UserPatch {
    pub display_name: Option<String>,
    pub source: Option<UserSource>,
    /// New local password (write-only).
    pub password: Option<String>,
    pub enabled: Option<bool>,
    pub cti_enabled: Option<bool>,
    pub super_provider: Option<bool>,
    pub call_park_retrieval_allowed: Option<bool>,
    pub modify_calling_number: Option<bool>,
    pub call_monitor: Option<bool>,
    pub call_record: Option<bool>,
    /// Replaces the whole list when present.
    pub controlled_devices: Option<Vec<String>>,
}

/// What kind of OAuth client this is; it chooses the refresh-token lifetime
/// (`JabberOAuthRefreshTokenExpiryDays` for `jabber` and `app`,
/// `PhoneOAuthRefreshTokenExpiryDays` for `phone`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum OAuthClientKind {
    /// Cisco Jabber and other softphones.
    Jabber,
    /// Physical phones.
    Phone,
    /// Any other application.
    App,
}

/// A registered OAuth client (all clients are public: no secret, PKCE for browser login).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct OAuthClient {
    pub client_id: String,
    pub name: String,
    pub kind: OAuthClientKind,
    /// Redirect URIs for the authorization code flow, matched exactly; a loopback URI
    /// (`http://127.0.0.1/…`, `http://[::1]/…`) matches any port, and a loopback URI whose path
    /// is `/*` any path (RFC 8252 §7.3).
    pub redirect_uris: Vec<String>,
    pub created_at: String,
}

/// Another OAuth issuer whose access tokens are accepted, verified against its JWKS.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct OAuthIssuer {
    /// The `iss` its tokens carry, e.g. `https://idp.example.com`.
    pub issuer: String,
    /// The `aud` its tokens must carry.
    pub audience: String,
    /// Its JSON Web Key Set (`{"keys": [...]}`), public keys only.
    #[schema(value_type = Object)]
    pub jwks: serde_json::Value,
    pub created_at: String,
}

/// A new external issuer (replaces the one with the same `issuer`).
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct OAuthIssuerNew {
    pub issuer: String,
    pub audience: String,
    /// The issuer's JSON Web Key Set: EC P-256 or RSA public keys, each with a `kid`.
    #[schema(value_type = Object)]
    pub jwks: serde_json::Value,
}

/// A signing key of this cluster's OAuth authorization server (public part only).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct OAuthKey {
    pub kid: String,
    /// `ES256`.
    pub algorithm: String,
    /// The public key as a JWK.
    #[schema(value_type = Object)]
    pub public_jwk: serde_json::Value,
    pub created_at: String,
    /// When a newer key took over signing; the key keeps verifying until every token it
    /// signed has expired.
    pub retired_at: Option<String>,
}

/// Device security mode of a phone security profile.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum SecurityMode {
    NonSecure,
    Authenticated,
    Encrypted,
}

/// SIP transport a profile allows.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Transport {
    Udp,
    Tcp,
    TcpUdp,
    Tls,
}

/// A phone security profile (System > Phone Security Profile).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SecurityProfile {
    pub name: String,
    #[serde(default)]
    pub description: String,
    /// e.g. "Cisco Unified Client Services Framework", "Cisco 8841".
    pub product_type: String,
    pub device_security_mode: SecurityMode,
    pub transport: Transport,
    #[serde(default)]
    pub tftp_encrypted_config: bool,
    #[serde(default)]
    pub digest_auth: bool,
    #[serde(default)]
    pub oauth_auth: bool,
}

/// A partial update of a security profile.
#[derive(Debug, Clone, Default, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SecurityProfilePatch {
    pub description: Option<String>,
    pub product_type: Option<String>,
    pub device_security_mode: Option<SecurityMode>,
    pub transport: Option<Transport>,
    pub tftp_encrypted_config: Option<bool>,
    pub digest_auth: Option<bool>,
    pub oauth_auth: Option<bool>,
}

/// What kind of endpoint a device is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum DeviceClass {
    Deskphone,
    Softphone,
}

/// A line appearance: directory number `dn` on button `index` of a device.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct LineAppearance {
    pub index: u32,
    pub dn: String,
}

/// A phone or softphone.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct Device {
    pub name: String,
    pub description: String,
    /// Model / product type, e.g. "Cisco 8841".
    pub product: String,
    pub device_class: DeviceClass,
    pub protocol: String,
    pub owner: Option<String>,
    pub security_profile: String,
    /// Digest user name (the device name when unset); the password is never returned.
    pub digest_user: Option<String>,
    pub has_digest_password: bool,
    /// CUCM's "Allow Control of Device from CTI"; when off, CTI applications may not open the
    /// device (`CTIERR_ACCESS_TO_DEVICE_DENIED`).
    pub allow_cti_control: bool,
    pub lines: Vec<LineAppearance>,
    pub created_at: String,
    pub updated_at: String,
}

/// A new device.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct DeviceNew {
    pub name: String,
    #[serde(default)]
    pub description: String,
    pub product: String,
    pub device_class: DeviceClass,
    pub owner: Option<String>,
    pub security_profile: String,
    #[serde(default)]
    pub digest_user: Option<String>,
    /// Digest password (write-only; kept encrypted at rest).
    #[serde(default)]
    pub digest_password: Option<String>,
    #[serde(default)]
    pub lines: Vec<LineAppearance>,
    /// Whether CTI applications may open the device (default: yes).
    #[serde(default = "yes")]
    pub allow_cti_control: bool,
}

/// A partial update of a device. `owner: null` is not distinguishable from absent: use
/// `clear_owner` to remove the owner.
#[derive(Debug, Clone, Default, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct DevicePatch {
    pub description: Option<String>,
    pub product: Option<String>,
    pub device_class: Option<DeviceClass>,
    pub owner: Option<String>,
    #[serde(default)]
    pub clear_owner: bool,
    pub security_profile: Option<String>,
    pub digest_user: Option<String>,
    pub digest_password: Option<String>,
    /// Replaces all line appearances when present.
    pub lines: Option<Vec<LineAppearance>>,
    pub allow_cti_control: Option<bool>,
}

/// A directory number.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Line {
    pub dn: String,
    #[serde(default)]
    pub description: String,
    #[serde(default)]
    pub alerting_name: String,
}

/// A partial update of a line.
#[derive(Debug, Clone, Default, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct LinePatch {
    pub description: Option<String>,
    pub alerting_name: Option<String>,
}

/// The ports of one node ("Cisco Unified Communications Manager TCP Port Settings").
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NodePorts {
    pub ethernet_phone: u32,
    pub mgcp_listen: u32,
    pub mgcp_keepalive: u32,
    pub sip: u32,
    pub sip_secure: u32,
    pub sip_oauth: u32,
    pub sip_mra_oauth: u32,
    pub cti: u32,
    pub cti_tls: u32,
    pub config_http: u32,
    pub https: u32,
}

impl Default for NodePorts {
    fn default() -> Self {
        NodePorts {
            ethernet_phone: 2000,
            mgcp_listen: 2427,
            mgcp_keepalive: 2428,
            sip: 5060,
            sip_secure: 5061,
            sip_oauth: 5090,
            sip_mra_oauth: 5091,
            cti: 2748,
            cti_tls: 2749,
            config_http: 6970,
            https: 8443,
        }
    }
}

impl NodePorts {
    /// Each port with its field name, in the order of the CUCM page.
    pub fn named(&self) -> [(&'static str, u32); 11] {
        [
            ("ethernet_phone", self.ethernet_phone),
            ("mgcp_listen", self.mgcp_listen),
            ("mgcp_keepalive", self.mgcp_keepalive),
            ("sip", self.sip),
            ("sip_secure", self.sip_secure),
            ("sip_oauth", self.sip_oauth),
            ("sip_mra_oauth", self.sip_mra_oauth),
            ("cti", self.cti),
            ("cti_tls", self.cti_tls),
            ("config_http", self.config_http),
            ("https", self.https),
        ]
    }
}

/// A node of the cluster (table `callmanager`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Node {
    pub name: String,
    pub address: String,
    #[serde(default)]
    pub description: String,
    /// Order in the call-manager group (1 first).
    #[serde(default = "one")]
    pub priority: u32,
    #[serde(default)]
    pub ports: NodePorts,
}

fn one() -> u32 {
    1
}

/// A partial update of a node; `ports` entries absent stay as they are.
#[derive(Debug, Clone, Default, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NodePatch {
    pub address: Option<String>,
    pub description: Option<String>,
    pub priority: Option<u32>,
    pub ports: Option<NodePortsPatch>,
}

/// Ports to change on a node.
#[derive(Debug, Clone, Default, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NodePortsPatch {
    pub ethernet_phone: Option<u32>,
    pub mgcp_listen: Option<u32>,
    pub mgcp_keepalive: Option<u32>,
    pub sip: Option<u32>,
    pub sip_secure: Option<u32>,
    pub sip_oauth: Option<u32>,
    pub sip_mra_oauth: Option<u32>,
    pub cti: Option<u32>,
    pub cti_tls: Option<u32>,
    pub config_http: Option<u32>,
    pub https: Option<u32>,
}

impl NodePortsPatch {
    /// The ports after applying this patch to `base`.
    pub fn apply(&self, base: NodePorts) -> NodePorts {
        NodePorts {
            ethernet_phone: self.ethernet_phone.unwrap_or(base.ethernet_phone),
            mgcp_listen: self.mgcp_listen.unwrap_or(base.mgcp_listen),
            mgcp_keepalive: self.mgcp_keepalive.unwrap_or(base.mgcp_keepalive),
            sip: self.sip.unwrap_or(base.sip),
            sip_secure: self.sip_secure.unwrap_or(base.sip_secure),
            sip_oauth: self.sip_oauth.unwrap_or(base.sip_oauth),
            sip_mra_oauth: self.sip_mra_oauth.unwrap_or(base.sip_mra_oauth),
            cti: self.cti.unwrap_or(base.cti),
            cti_tls: self.cti_tls.unwrap_or(base.cti_tls),
            config_http: self.config_http.unwrap_or(base.config_http),
            https: self.https.unwrap_or(base.https),
        }
    }
}

/// An enterprise or service parameter (`processconfig`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct Param {
    pub name: String,
    pub value: String,
    pub default: String,
    pub description: String,
}

/// An edge proxy's entry (`expresswayconfiguration`), as it pushes it through the API.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct Expressway {
    pub pkid: String,
    pub hostnameorip: String,
    pub description: String,
    /// Comma-separated CN/SAN list of the edge proxy's certificate.
    pub x509subjectnameoraltname: String,
}

/// A new edge-proxy entry, or its full replacement.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ExpresswayNew {
    pub hostnameorip: String,
    #[serde(default)]
    pub description: String,
    pub x509subjectnameoraltname: String,
}

/// How an LDAP server is reached.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum LdapTls {
    Plain,
    Ldaps,
    Starttls,
}

/// One LDAP / AD server, tried in list order.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct LdapServer {
    pub host: String,
    pub port: u32,
    pub tls: LdapTls,
    /// PEM of the CA to trust for this server (LDAPS / StartTLS).
    #[serde(default)]
    pub ca_pem: Option<String>,
}

/// LDAP authentication settings as read (the service password is never returned).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct LdapSettings {
    pub enabled: bool,
    pub servers: Vec<LdapServer>,
    pub service_dn: String,
    pub has_service_password: bool,
    pub search_bases: Vec<String>,
    pub filter_template: String,
    pub userid_attribute: String,
}

/// LDAP authentication settings as written; absent fields keep their value.
#[derive(Debug, Clone, Default, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct LdapSettingsPatch {
    pub enabled: Option<bool>,
    pub servers: Option<Vec<LdapServer>>,
    pub service_dn: Option<String>,
    /// Service-account password (write-only; kept encrypted at rest).
    pub service_password: Option<String>,
    pub search_bases: Option<Vec<String>>,
    pub filter_template: Option<String>,
    pub userid_attribute: Option<String>,
}

/// A CA certificate of the trust store.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct TrustCert {
    pub fingerprint: String,
    pub subject: String,
    pub not_after: String,
    pub pem: String,
    pub added_at: String,
}

/// One entry of the audit log.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct AuditEntry {
    pub id: String,
    pub at: String,
    pub actor: String,
    pub action: String,
    pub object_type: String,
    pub object_id: String,
    pub detail: serde_json::Value,
}

/// The answer to a read-only SQL query: column names and rows of JSON values.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct SqlResult {
    pub columns: Vec<String>,
    pub rows: Vec<Vec<serde_json::Value>>,
    /// True when more rows matched than were returned.
    pub truncated: bool,
}
