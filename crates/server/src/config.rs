//! The node's configuration file (TOML, strict: an unknown key is an error) and its defaults.
//! The file names only what a node needs before it can read the database: where its data
//! lives, which database, its name and where to listen. Everything shared by the cluster
//! (ports, parameters, users, devices) lives in the database.

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::path::{Path, PathBuf};

use serde::Deserialize;

/// A node's configuration.
#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct NodeConfig {
    /// Where the database (SQLite), certificates, secret key, traces and the CLI's token live.
    pub data_dir: PathBuf,
    /// The node's name (its `callmanager` row and certificate CN); the host name by default.
    pub node_name: Option<String>,
    pub store: StoreSection,
    pub listen: ListenSection,
    pub trace: TraceSection,
}

/// Which database.
#[derive(Debug, Clone, Deserialize, PartialEq, Default)]
#[serde(deny_unknown_fields, default)]
pub struct StoreSection {
    /// "sqlite" (default) or "postgres".
    pub backend: Backend,
    /// PostgreSQL URL (postgres only), e.g. `postgres://switchboard@db.example.com/switchboard`.
    pub url: Option<String>,
}

/// The database backends.
#[derive(Debug, Clone, Copy, Deserialize, PartialEq, Eq, Default)]
#[serde(rename_all = "lowercase")]
pub enum Backend {
    #[default]
    Sqlite,
    Postgres,
}

/// Where the node's services listen.
#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct ListenSection {
    /// Address every service binds to, on the ports configured for this node in the database.
    pub address: IpAddr,
    /// The address other nodes and phones reach this node at (its `callmanager.address` when
    /// the node first registers itself); the listen address, or 127.0.0.1 when that is a
    /// wildcard.
    pub advertise: Option<String>,
    /// Overrides the HTTPS socket (tests use `127.0.0.1:0` for an ephemeral port).
    pub https: Option<SocketAddr>,
    /// Overrides the SIP UDP socket (the node's `sip` port, 5060, otherwise).
    pub sip_udp: Option<SocketAddr>,
    /// Overrides the SIP TCP socket (the node's `sip` port, 5060, otherwise).
    pub sip_tcp: Option<SocketAddr>,
    /// Overrides the SIP TLS socket (the node's `sip_secure` port, 5061, otherwise).
    pub sip_tls: Option<SocketAddr>,
    /// Overrides the SIP OAuth socket (the node's `sip_oauth` port, 5090, otherwise).
    pub sip_oauth: Option<SocketAddr>,
    /// Overrides the SIP MRA OAuth socket (the node's `sip_mra_oauth` port, 5091, otherwise).
    pub sip_mra_oauth: Option<SocketAddr>,
    /// Overrides the config file service's HTTP socket (the node's `config_http` port, 6970,
    /// otherwise).
    pub config_http: Option<SocketAddr>,
    /// Overrides the CTI Manager's plain TCP socket (the node's `cti` port, 2748, otherwise).
    pub cti: Option<SocketAddr>,
    /// Overrides the CTI Manager's TLS socket (the node's `cti_tls` port, 2749, otherwise).
    pub cti_tls: Option<SocketAddr>,
}

impl ListenSection {
    /// Every socket on `ip` with an ephemeral port (tests, and nodes sharing a machine).
    pub fn ephemeral(&mut self, ip: IpAddr) {
        let any = Some(SocketAddr::new(ip, 0));
        self.https = any;
        self.sip_udp = any;
        self.sip_tcp = any;
        self.sip_tls = any;
        self.sip_oauth = any;
        self.sip_mra_oauth = any;
        self.config_http = any;
        self.cti = any;
        self.cti_tls = any;
    }
}

impl Default for ListenSection {
    fn default() -> Self {
        ListenSection {
            address: IpAddr::V4(Ipv4Addr::UNSPECIFIED),
            advertise: None,
            https: None,
            sip_udp: None,
            sip_tcp: None,
            sip_tls: None,
            sip_oauth: None,
            sip_mra_oauth: None,
            config_http: None,
            cti: None,
            cti_tls: None,
        }
    }
}

/// Trace files.
#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct TraceSection {
    /// Largest trace file before rotating (bytes).
    pub max_file_bytes: u64,
    /// Files kept per service.
    pub max_files: u32,
}

impl Default for TraceSection {
    fn default() -> Self {
        TraceSection {
            max_file_bytes: switchboard_trace::DEFAULT_MAX_FILE_BYTES,
            max_files: switchboard_trace::DEFAULT_MAX_FILES,
        }
    }
}

impl Default for NodeConfig {
    fn default() -> Self {
        NodeConfig {
            data_dir: PathBuf::from("./switchboard-data"),
            node_name: None,
            store: StoreSection::default(),
            listen: ListenSection::default(),
            trace: TraceSection::default(),
        }
    }
}

/// Why a configuration cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("cannot read {path}: {source}")]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("{path}: {message}")]
    Parse { path: PathBuf, message: String },
    #[error("store.url is required when store.backend = \"postgres\"")]
    MissingUrl,
}

impl NodeConfig {
    /// Reads and checks a configuration file.
    pub fn from_file(path: &Path) -> Result<NodeConfig, ConfigError> {
        let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Read {
            path: path.into(),
            source,
        })?;
        let config: NodeConfig = toml::from_str(&text).map_err(|e| ConfigError::Parse {
            path: path.into(),
            message: e.to_string(),
        })?;
        config.check()?;
        Ok(config)
    }

    /// Checks rules between fields.
    pub fn check(&self) -> Result<(), ConfigError> {
        if self.store.backend == Backend::Postgres && self.store.url.is_none() {
            return Err(ConfigError::MissingUrl);
        }
        Ok(())
    }

    /// The node name: configured, else the host name.
    pub fn node_name(&self) -> String {
        self.node_name.clone().unwrap_or_else(|| {
            let host = gethostname::gethostname().to_string_lossy().to_string();
            let name: String = host
                .split('.')
                .next()
                .unwrap_or("switchboard")
                .chars()
                .filter(|c| c.is_ascii_alphanumeric() || *c == '-')
                .collect();
            if name.is_empty() {
                "switchboard".into()
            } else {
                name
            }
        })
    }

    /// The address the node advertises.
    pub fn advertise(&self) -> String {
        self.listen.advertise.clone().unwrap_or_else(|| {
            if self.listen.address.is_unspecified() {
                "127.0.0.1".into()
            } else {
                self.listen.address.to_string()
            }
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn empty_file_is_all_defaults() {
        let c: NodeConfig = toml::from_str("").unwrap();
        assert_eq!(c, NodeConfig::default());
        assert_eq!(c.data_dir, PathBuf::from("./switchboard-data"));
        assert_eq!(c.store.backend, Backend::Sqlite);
        assert_eq!(c.advertise(), "127.0.0.1");
    }

    #[test]
    fn unknown_keys_are_errors() {
        let e = toml::from_str::<NodeConfig>("data_dir = 'x'\nnode_nmae = 'typo'\n").unwrap_err();
        assert!(e.to_string().contains("unknown field `node_nmae`"), "{e}");
        let e = toml::from_str::<NodeConfig>("[store]\nbackend = 'mysql'\n").unwrap_err();
        assert!(e.to_string().contains("mysql"), "{e}");
        let e = toml::from_str::<NodeConfig>("[listen]\nport = 1\n").unwrap_err();
        assert!(e.to_string().contains("unknown field `port`"), "{e}");
    }

    #[test]
    fn postgres_needs_a_url() {
        let c: NodeConfig = toml::from_str("[store]\nbackend = 'postgres'\n").unwrap();
        assert!(matches!(c.check(), Err(ConfigError::MissingUrl)));
        let c: NodeConfig = toml::from_str(
            "node_name = 'ucm1'\n[store]\nbackend = 'postgres'\nurl = 'postgres://postgres@127.0.0.1/x'\n[listen]\naddress = '127.0.0.1'\nhttps = '127.0.0.1:0'\n",
        )
        .unwrap();
        c.check().unwrap();
        assert_eq!(c.node_name(), "ucm1");
        assert_eq!(c.advertise(), "127.0.0.1");
    }
}
