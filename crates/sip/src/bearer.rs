//! SIP OAuth (RFC 8898, 004 "SIP OAuth mode"): what the registrar needs to accept a bearer
//! token, and the rules of the OAuth ports.
//!
//! The SIP service does not know how tokens are signed or revoked: it is given a
//! [`BearerVerifier`] (the node's OAuth service) that answers, synchronously and from memory,
//! whose token this is. The port rules of 004 Cenário 1 live here as a pure function so that
//! each refusal is tested on its own.

use std::collections::HashSet;
use std::sync::RwLock;

/// Which kind of SIP port a request came in on (each node may number them differently).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum PortKind {
    /// 5060 UDP/TCP, 5061 TLS: digest and certificate registration.
    #[default]
    Standard,
    /// 5090 TLS, server-authenticated only: bearer registration.
    OAuth,
    /// 5091 mutual TLS from an edge proxy (MRA): bearer registration relayed by the proxy.
    MraOAuth,
}

impl PortKind {
    pub fn is_oauth(self) -> bool {
        !matches!(self, PortKind::Standard)
    }

    /// The listener name shown by `switchboard ports`.
    pub fn service_name(self) -> &'static str {
        match self {
            PortKind::Standard => "sip",
            PortKind::OAuth => "sip-oauth",
            PortKind::MraOAuth => "sip-mra-oauth",
        }
    }
}

/// Who a verified access token speaks for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BearerIdentity {
    /// The user (the token's subject).
    pub user: String,
    /// The device the token was issued for, when it is device-bound.
    pub device: Option<String>,
    /// Expiry, seconds since the Unix epoch.
    pub expires_at: i64,
}

/// Verifies bearer tokens. Called on every REGISTER of an OAuth port: it must answer from
/// memory (caching verified tokens) while still honouring revocation.
pub trait BearerVerifier: Send + Sync {
    /// The identity behind `token`, or a short reason it is refused (traced; never contains
    /// the token).
    fn verify(&self, token: &str) -> Result<BearerIdentity, String>;
}

/// The warning text of a REGISTER on the wrong kind of port (004 Cenário 1, word for word).
pub const PORT_MISMATCH: &str = "SIP OAuth Registration port Mismatch";
/// The `Retry-After` seconds sent with a port mismatch.
pub const PORT_MISMATCH_RETRY_AFTER: u32 = 35;

/// Why a REGISTER on an OAuth port is refused before its token is looked at.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PortRuleViolation {
    /// `ClusterSIPOAuthMode` is 0.
    ModeOff,
    /// The device's security profile does not enable OAuth.
    ProfileWithoutOAuth,
    /// The client presented a certificate on the server-authenticated OAuth port.
    MutualTlsOnOAuthPort,
}

impl PortRuleViolation {
    /// Detail for the trace (the wire carries only [`PORT_MISMATCH`]).
    pub fn detail(&self) -> &'static str {
        match self {
            PortRuleViolation::ModeOff => "ClusterSIPOAuthMode is 0: the SIP OAuth ports refuse registrations",
            PortRuleViolation::ProfileWithoutOAuth => {
                "the device's security profile does not enable OAuth: register on the SIP port"
            }
            PortRuleViolation::MutualTlsOnOAuthPort => {
                "a client certificate was presented on the SIP OAuth port (mutual TLS belongs on the MRA port)"
            }
        }
    }
}

/// The port rules of an OAuth port (004 Cenário 1).
pub fn oauth_port_rules(
    port: PortKind,
    cluster_oauth_mode: bool,
    profile_oauth: bool,
    client_certificate: bool,
) -> Result<(), PortRuleViolation> {
    if !cluster_oauth_mode {
        return Err(PortRuleViolation::ModeOff);
    }
    if !profile_oauth {
        return Err(PortRuleViolation::ProfileWithoutOAuth);
    }
    if port == PortKind::OAuth && client_certificate {
        return Err(PortRuleViolation::MutualTlsOnOAuthPort);
    }
    Ok(())
}

/// The edge proxies allowed on the MRA port: every CN/SAN listed in `expresswayconfiguration`
/// (compared case-insensitively, as host names are).
#[derive(Debug, Default)]
pub struct EdgeProxyNames {
    names: RwLock<HashSet<String>>,
}

impl EdgeProxyNames {
    /// Replaces the list from the entries' comma-separated `x509subjectnameoraltname` values.
    pub fn set<'a>(&self, entries: impl IntoIterator<Item = &'a str>) {
        let names = entries
            .into_iter()
            .flat_map(|e| e.split(','))
            .map(|n| n.trim().to_ascii_lowercase())
            .filter(|n| !n.is_empty())
            .collect();
        if let Ok(mut slot) = self.names.write() {
            *slot = names;
        }
    }

    /// The first of `presented` (a certificate's CN and SANs) that is listed.
    pub fn matching<'a>(&self, presented: &'a [String]) -> Option<&'a str> {
        let names = self.names.read().ok()?;
        presented
            .iter()
            .find(|p| names.contains(&p.to_ascii_lowercase()))
            .map(String::as_str)
    }

    /// Every listed name, sorted (for traces and verification).
    pub fn listed(&self) -> Vec<String> {
        let mut v: Vec<String> = self
            .names
            .read()
            .map(|n| n.iter().cloned().collect())
            .unwrap_or_default();
        v.sort();
        v
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn port_rules_in_the_seeds_order() {
        use PortKind::*;
        use PortRuleViolation::*;
        assert_eq!(oauth_port_rules(OAuth, false, true, false), Err(ModeOff));
        assert_eq!(oauth_port_rules(MraOAuth, false, true, true), Err(ModeOff));
        assert_eq!(
            oauth_port_rules(OAuth, true, false, false),
            Err(ProfileWithoutOAuth)
        );
        assert_eq!(
            oauth_port_rules(OAuth, true, true, true),
            Err(MutualTlsOnOAuthPort)
        );
        assert_eq!(oauth_port_rules(OAuth, true, true, false), Ok(()));
        // The MRA port is mutual TLS by definition.
        assert_eq!(oauth_port_rules(MraOAuth, true, true, true), Ok(()));
    }

    #[test]
    fn edge_proxy_names_match_any_listed_cn_or_san() {
        let names = EdgeProxyNames::default();
        names.set(["expc1.example.com, EXPC2.example.com", "10.0.0.7"]);
        let presented = vec![
            "other.example.com".to_string(),
            "Expc2.Example.com".to_string(),
        ];
        assert_eq!(names.matching(&presented), Some("Expc2.Example.com"));
        assert_eq!(names.matching(&["nope.example.com".to_string()]), None);
        assert_eq!(
            names.listed(),
            ["10.0.0.7", "expc1.example.com", "expc2.example.com"]
        );
        names.set([]);
        assert_eq!(names.matching(&presented), None);
    }
}
