//! The enterprise and service parameters Switchboard knows (`processconfig`), with their
//! defaults and the values each accepts. Unknown names are refused: a typo must not silently
//! create a parameter nothing reads.

use crate::error::{Result, StoreError};

/// What values a parameter accepts.
#[derive(Debug, Clone, Copy)]
pub enum ParamKind {
    /// 0 (disabled) or 1 (enabled).
    Flag,
    /// An integer in the inclusive range.
    Range(i64, i64),
    /// Empty, or an `https://` URL without query or fragment (an OAuth issuer identifier).
    HttpsUrlOrEmpty,
    /// 1 to 128 characters from `A-Z a-z 0-9 . _ : / -` (an OAuth audience).
    Name,
}

/// A known parameter.
#[derive(Debug, Clone, Copy)]
pub struct ParamDef {
    pub name: &'static str,
    pub default: &'static str,
    pub kind: ParamKind,
    pub description: &'static str,
}

/// Every parameter, with the defaults of SPEC §2 and the seed (004 "Configure os Logons de
/// Atualização").
pub const PARAMS: &[ParamDef] = &[
    ParamDef {
        name: "ClusterSIPOAuthMode",
        default: "0",
        kind: ParamKind::Flag,
        description: "SIP OAuth mode for the cluster: 0 disabled, 1 enabled",
    },
    ParamDef {
        name: "OAuthAccessTokenExpiryMinutes",
        default: "60",
        kind: ParamKind::Range(1, 1440),
        description: "OAuth access token expiry timer (minutes)",
    },
    ParamDef {
        name: "JabberOAuthRefreshTokenExpiryDays",
        default: "60",
        kind: ParamKind::Range(1, 90),
        description: "Jabber OAuth refresh token expiry timer (days)",
    },
    ParamDef {
        name: "PhoneOAuthRefreshTokenExpiryDays",
        default: "60",
        kind: ParamKind::Range(1, 3650),
        description: "Physical phone OAuth refresh token expiry timer (days)",
    },
    ParamDef {
        name: "OAuthWithRefreshLoginFlow",
        default: "1",
        kind: ParamKind::Flag,
        description: "OAuth with refresh login flow: 0 disabled, 1 enabled",
    },
    ParamDef {
        name: "OAuthIssuer",
        default: "",
        kind: ParamKind::HttpsUrlOrEmpty,
        description: "Issuer (iss) of the OAuth tokens this cluster signs; empty: https://<first node's address>:<its https port>",
    },
    ParamDef {
        name: "OAuthAudience",
        default: "switchboard",
        kind: ParamKind::Name,
        description: "Audience (aud) of the OAuth access tokens this cluster signs and accepts",
    },
    ParamDef {
        name: "SipMaxRegistrationExpiresSeconds",
        default: "120",
        kind: ParamKind::Range(1, 86400),
        description: "Longest registration the SIP registrar grants (seconds)",
    },
    ParamDef {
        name: "SipMinRegistrationExpiresSeconds",
        default: "60",
        kind: ParamKind::Range(1, 3600),
        description: "Shorter requested registrations get 423 Interval Too Brief (seconds)",
    },
    ParamDef {
        name: "SipDigestSha256Preferred",
        default: "0",
        kind: ParamKind::Flag,
        description: "Digest challenge order: 0 MD5 first then SHA-256 (what phones expect), 1 SHA-256 first (RFC 8760)",
    },
    ParamDef {
        name: "SipDigestOfferSha256",
        default: "1",
        kind: ParamKind::Flag,
        description: "1: the 401 offers SHA-256 beside MD5 (RFC 8760); 0: MD5 only, for phones that give up on a challenge whose algorithm they do not know (e.g. baresip 1.0)",
    },
    ParamDef {
        name: "CredentialPolicyFailedLogonThreshold",
        default: "5",
        kind: ParamKind::Range(0, 100),
        description: "Failed logons before a local user is locked out (0 = never)",
    },
    ParamDef {
        name: "CredentialPolicyLockoutMinutes",
        default: "30",
        kind: ParamKind::Range(0, 1440),
        description: "How long a locked-out local user stays locked (minutes)",
    },
    ParamDef {
        name: "TLSResumptionTimeoutSeconds",
        default: "3600",
        kind: ParamKind::Range(0, 3600),
        description: "How long a phone may resume a TLS session (seconds; the config file's TLSResumptionTimer)",
    },
    ParamDef {
        name: "CtiMaxConnections",
        default: "20000",
        kind: ParamKind::Range(1, 100000),
        description: "Most CTI connections a node serves (a ProviderOpenRequest beyond gets MAX_NUMBER_OF_CTI_CONNECTIONS_REACHED)",
    },
];

/// The definition of `name`, or `NotFound`.
pub fn definition(name: &str) -> Result<&'static ParamDef> {
    PARAMS
        .iter()
        .find(|p| p.name == name)
        .ok_or_else(|| StoreError::not_found("parameter", name))
}

/// Checks `value` against the parameter's kind and returns it normalised.
pub fn check_value(def: &ParamDef, value: &str) -> Result<String> {
    let value = value.trim();
    let (low, high) = match def.kind {
        ParamKind::Flag => (0, 1),
        ParamKind::Range(low, high) => (low, high),
        ParamKind::HttpsUrlOrEmpty => {
            if !value.is_empty() {
                crate::validate::https_url(def.name, value)?;
            }
            return Ok(value.to_string());
        }
        ParamKind::Name => {
            crate::validate::oauth_name(def.name, value)?;
            return Ok(value.to_string());
        }
    };
    let number: i64 = value
        .parse()
        .map_err(|_| StoreError::invalid(def.name, format!("must be an integer, got '{value}'")))?;
    if !(low..=high).contains(&number) {
        return Err(StoreError::invalid(
            def.name,
            format!("must be between {low} and {high}, got {number}"),
        ));
    }
    Ok(number.to_string())
}
