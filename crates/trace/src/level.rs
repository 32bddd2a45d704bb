//! The traced services, the trace levels and the line kinds (`AppInfo`, `SdlSig`).

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

/// A Switchboard service with its own trace directory and trace level,
/// like the per-service trace settings of CUCM's Serviceability pages.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Service {
    /// The CTI manager (CTI/QBE clients such as Jabber or JTAPI applications).
    Cti,
    /// SIP signalling.
    Sip,
    /// End-user and administrator authentication (local and LDAP).
    Auth,
    /// The administrative HTTP API.
    Api,
    /// The OAuth token service.
    Oauth,
    /// The config file service (`<DeviceName>.cnf.xml` over HTTP, CUCM's TFTP service).
    Config,
    /// Node lifecycle: start, stop, listeners, certificates.
    Node,
}

impl Service {
    /// Every service, in a stable order (the order of [`Tracer::levels`](crate::Tracer::levels)).
    pub const ALL: [Service; 7] = [
        Service::Cti,
        Service::Sip,
        Service::Auth,
        Service::Api,
        Service::Oauth,
        Service::Config,
        Service::Node,
    ];

    /// The lowercase name, also used as directory and file-name prefix.
    pub const fn as_str(self) -> &'static str {
        match self {
            Service::Cti => "cti",
            Service::Sip => "sip",
            Service::Auth => "auth",
            Service::Api => "api",
            Service::Oauth => "oauth",
            Service::Config => "config",
            Service::Node => "node",
        }
    }

    /// Position in [`Service::ALL`].
    pub(crate) const fn index(self) -> usize {
        self as usize
    }
}

impl fmt::Display for Service {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Error of [`Service::from_str`]; its message lists the valid names.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown service {0:?}; valid services are: cti, sip, auth, api, oauth, config, node")]
pub struct ParseServiceError(pub String);

impl FromStr for Service {
    type Err = ParseServiceError;

    /// Case-insensitive; surrounding whitespace is ignored.
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let t = s.trim();
        Service::ALL
            .into_iter()
            .find(|svc| svc.as_str().eq_ignore_ascii_case(t))
            .ok_or_else(|| ParseServiceError(s.chars().take(64).collect()))
    }
}

/// Trace level, least to most verbose: `Error < Info < Debug < Detailed`.
/// A line is written when its level is `<=` the service's configured level.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Default, Serialize, Deserialize,
)]
#[serde(rename_all = "lowercase")]
#[repr(u8)]
pub enum Level {
    /// Failures only.
    Error = 0,
    /// Normal operation milestones (the default of every service).
    #[default]
    Info = 1,
    /// Step-by-step traces for troubleshooting (CUCM's "Debug").
    Debug = 2,
    /// Everything, including function enter/exit lines (CUCM's "Detailed").
    Detailed = 3,
}

impl Level {
    /// Every level, least verbose first.
    pub const ALL: [Level; 4] = [Level::Error, Level::Info, Level::Debug, Level::Detailed];

    /// Lowercase name: "error", "info", "debug", "detailed".
    pub const fn as_str(self) -> &'static str {
        match self {
            Level::Error => "error",
            Level::Info => "info",
            Level::Debug => "debug",
            Level::Detailed => "detailed",
        }
    }

    pub(crate) const fn from_u8(v: u8) -> Level {
        match v {
            0 => Level::Error,
            1 => Level::Info,
            2 => Level::Debug,
            _ => Level::Detailed,
        }
    }
}

impl fmt::Display for Level {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Error of [`Level::from_str`]; its message lists the valid names.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown trace level {0:?}; valid levels are: error, info, debug, detailed")]
pub struct ParseLevelError(pub String);

impl FromStr for Level {
    type Err = ParseLevelError;

    /// Case-insensitive ("Debug", "DEBUG" and "debug" are all accepted).
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let t = s.trim();
        Level::ALL
            .into_iter()
            .find(|l| l.as_str().eq_ignore_ascii_case(t))
            .ok_or_else(|| ParseLevelError(s.chars().take(64).collect()))
    }
}

/// The kind column of a trace line.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Kind {
    /// Free-text application information.
    AppInfo,
    /// An SDL signal: `name |state |further fields…`.
    SdlSig,
}

impl Kind {
    /// The name as written in the file: "AppInfo" or "SdlSig".
    pub const fn as_str(self) -> &'static str {
        match self {
            Kind::AppInfo => "AppInfo",
            Kind::SdlSig => "SdlSig",
        }
    }
}

impl fmt::Display for Kind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip() {
        for s in Service::ALL {
            assert_eq!(s.as_str().parse::<Service>(), Ok(s));
            assert_eq!(Service::ALL[s.index()], s);
        }
        for l in Level::ALL {
            assert_eq!(l.to_string().to_uppercase().parse::<Level>(), Ok(l));
            assert_eq!(Level::from_u8(l as u8), l);
        }
    }

    #[test]
    fn level_order_and_errors() {
        assert!(Level::Error < Level::Info && Level::Info < Level::Debug);
        assert!(Level::Debug < Level::Detailed);
        let err = "verbose".parse::<Level>().unwrap_err().to_string();
        for name in ["error", "info", "debug", "detailed", "verbose"] {
            assert!(err.contains(name), "{err}");
        }
        assert!("nope"
            .parse::<Service>()
            .unwrap_err()
            .to_string()
            .contains("oauth"));
    }
}
