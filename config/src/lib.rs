//! Node configuration: `config.toml` in the node's home, parsed into a raw struct that denies
//! unknown keys, then validated into a typed [`NodeConfig`]. Every error names the file, the key
//! path and the problem. Every key is documented in `config/example.toml` (parsed by a test) and
//! docs/configuration.md.

mod units;

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::Deserialize;

pub use units::{format_duration, parse_duration, parse_size};

/// The file name of the configuration inside a node's home.
pub const CONFIG_FILE: &str = "config.toml";

/// Environment variable that overrides the default home directory.
pub const HOME_ENV: &str = "DEBRIEF_HOME";

/// Why the configuration could not be loaded.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("no configuration at {0}; run `debrief init` to create a home there, or pass --home")]
    Missing(PathBuf),
    #[error("cannot read {path}: {source}")]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("{path}: {message}")]
    Syntax { path: PathBuf, message: String },
    #[error("{path}: `{key}`: {problem}")]
    Invalid {
        path: PathBuf,
        key: String,
        problem: String,
    },
    #[error("cannot find a home directory for debrief; pass --home PATH or set {HOME_ENV}")]
    NoHome,
}

// ---------------------------------------------------------------------------------------------
// Raw form: exactly the TOML, every key optional, unknown keys refused.

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawConfig {
    #[serde(default)]
    node: RawNode,
    #[serde(default)]
    server: RawServer,
    #[serde(default)]
    limits: RawLimits,
    #[serde(default)]
    sync: RawSync,
    #[serde(default)]
    keystore: RawKeystore,
    #[serde(default)]
    declassify: RawDeclassify,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawNode {
    org: Option<String>,
    data_dir: Option<PathBuf>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawServer {
    listen: Option<String>,
    admin_listen: Option<String>,
    public_endpoint: Option<String>,
}

/// A size: an integer number of bytes or a string such as "10MiB".
#[derive(Debug, Deserialize)]
#[serde(untagged)]
enum RawSize {
    Bytes(i64),
    Text(String),
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawLimits {
    max_request_body: Option<RawSize>,
    max_bundle: Option<RawSize>,
    max_report: Option<RawSize>,
    rate_limit_per_minute: Option<i64>,
    request_timeout: Option<String>,
    rate_limit_burst: Option<i64>,
    rate_limit_unit: Option<RawSize>,
    idle_timeout: Option<String>,
    max_join_body: Option<RawSize>,
    max_pending: Option<i64>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawSync {
    enabled: Option<bool>,
    interval: Option<String>,
    peer_timeout: Option<String>,
    max_clock_skew: Option<String>,
    fetch_batch: Option<i64>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawKeystore {
    scrypt_work_factor: Option<i64>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawDeclassify {
    private_terms: Option<Vec<String>>,
}

// ---------------------------------------------------------------------------------------------
// Validated form.

/// The validated node configuration.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NodeConfig {
    pub node: NodeSection,
    pub server: ServerConfig,
    pub limits: Limits,
    pub sync: SyncConfig,
    pub keystore: KeystoreConfig,
    pub declassify: DeclassifyConfig,
}

/// `[node]`
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NodeSection {
    /// The organisation's display name as written at `init` (the signed name lives in the
    /// keystore; `id show` notes it if they differ).
    pub org: Option<String>,
    /// Where circle databases live; absolute (relative paths are resolved against the home).
    pub data_dir: PathBuf,
}

/// `[server]`
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ServerConfig {
    /// The HTTPS listen address for peers.
    pub listen: SocketAddr,
    /// The admin/metrics listen address; `None` disables it.
    pub admin_listen: Option<SocketAddr>,
    /// The URL peers use to reach this node, published on the identity card.
    pub public_endpoint: Option<String>,
}

/// `[limits]`
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Limits {
    pub max_request_body: u64,
    pub max_bundle: u64,
    pub max_report: u64,
    pub rate_limit_per_minute: u32,
    pub request_timeout: Duration,
    /// How many request units one peer may spend at once before the per-minute rate applies.
    pub rate_limit_burst: u32,
    /// Body bytes that cost as much as one request in the per-peer token bucket.
    pub rate_limit_unit: u64,
    /// Longest pause while a request body is arriving before the server cuts it off.
    pub idle_timeout: Duration,
    /// Largest body of a `join` POST (a join request or a vouch).
    pub max_join_body: u64,
    /// Most join requests and vouches held per circle waiting for the sequencer.
    pub max_pending: u32,
}

/// `[sync]`
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SyncConfig {
    pub enabled: bool,
    pub interval: Duration,
    pub peer_timeout: Duration,
    pub max_clock_skew: Duration,
    /// Bundles asked of a peer in one request, and stored in one commit (1 to 32).
    pub fetch_batch: usize,
}

/// `[keystore]`
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeystoreConfig {
    /// scrypt work factor (log2 N) for writing the keystore; `None` = age's default (~1 s).
    pub scrypt_work_factor: Option<u8>,
}

/// `[declassify]`
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeclassifyConfig {
    /// This member's private deny list: names that must never appear in anything published.
    pub private_terms: Vec<String>,
}

/// Defaults, also documented in `config/example.toml`.
pub mod defaults {
    use std::time::Duration;

    pub const DATA_DIR: &str = "data";
    pub const LISTEN: &str = "0.0.0.0:8443";
    pub const MAX_REQUEST_BODY: u64 = 16 * 1024 * 1024;
    pub const MAX_BUNDLE: u64 = 10 * 1024 * 1024;
    pub const MAX_REPORT: u64 = 1024 * 1024;
    pub const RATE_LIMIT_PER_MINUTE: u32 = 600;
    pub const REQUEST_TIMEOUT: Duration = Duration::from_secs(30);
    pub const RATE_LIMIT_BURST: u32 = 120;
    pub const RATE_LIMIT_UNIT: u64 = 64 * 1024;
    pub const IDLE_TIMEOUT: Duration = Duration::from_secs(10);
    pub const MAX_JOIN_BODY: u64 = 64 * 1024;
    pub const MAX_PENDING: u32 = 1000;
    pub const SYNC_ENABLED: bool = true;
    pub const SYNC_INTERVAL: Duration = Duration::from_secs(5 * 60);
    pub const PEER_TIMEOUT: Duration = Duration::from_secs(30);
    /// protocol.md §4.9.3: the most ids one `bundles?ids=` request may name.
    pub const FETCH_BATCH: usize = 32;
    pub const MAX_CLOCK_SKEW: Duration = Duration::from_secs(5 * 60);
}

/// Range of accepted scrypt work factors (the keystore crate enforces the same bounds).
pub const SCRYPT_WORK_FACTOR_RANGE: std::ops::RangeInclusive<u8> = 1..=30;

struct Checker<'a> {
    path: &'a Path,
}

impl Checker<'_> {
    fn invalid(&self, key: &str, problem: impl Into<String>) -> ConfigError {
        ConfigError::Invalid {
            path: self.path.to_owned(),
            key: key.to_owned(),
            problem: problem.into(),
        }
    }

    fn socket_addr(&self, key: &str, text: &str) -> Result<SocketAddr, ConfigError> {
        text.parse().map_err(|_| {
            self.invalid(
                key,
                format!("{text:?} is not an IP address with a port, like \"0.0.0.0:8443\" or \"[::1]:8443\""),
            )
        })
    }

    fn duration(
        &self,
        key: &str,
        text: Option<&str>,
        default: Duration,
        min: Duration,
        max: Duration,
    ) -> Result<Duration, ConfigError> {
        let Some(text) = text else { return Ok(default) };
        let d = parse_duration(text).map_err(|e| self.invalid(key, e))?;
        if d < min || d > max {
            return Err(self.invalid(
                key,
                format!(
                    "{text:?} is out of range; use {} to {}",
                    format_duration(min),
                    format_duration(max)
                ),
            ));
        }
        Ok(d)
    }

    fn size(
        &self,
        key: &str,
        raw: Option<&RawSize>,
        default: u64,
        min: u64,
        max: u64,
    ) -> Result<u64, ConfigError> {
        let n = match raw {
            None => return Ok(default),
            Some(RawSize::Bytes(n)) => u64::try_from(*n)
                .map_err(|_| self.invalid(key, format!("{n} is negative; sizes are bytes ≥ 0")))?,
            Some(RawSize::Text(t)) => parse_size(t).map_err(|e| self.invalid(key, e))?,
        };
        if n < min || n > max {
            return Err(self.invalid(
                key,
                format!("{n} bytes is out of range; use {min} to {max} bytes"),
            ));
        }
        Ok(n)
    }
}

impl NodeConfig {
    /// Loads `config.toml` from `home`. A missing file is an error: `debrief init` writes one.
    pub fn load(home: &Path) -> Result<NodeConfig, ConfigError> {
        let path = home.join(CONFIG_FILE);
        let text = std::fs::read_to_string(&path).map_err(|source| {
            if source.kind() == std::io::ErrorKind::NotFound {
                ConfigError::Missing(path.clone())
            } else {
                ConfigError::Io {
                    path: path.clone(),
                    source,
                }
            }
        })?;
        NodeConfig::parse(&text, &path, home)
    }

    /// Parses and validates configuration text. `path` names the file in errors; relative paths
    /// in the file are resolved against `home`.
    pub fn parse(text: &str, path: &Path, home: &Path) -> Result<NodeConfig, ConfigError> {
        let raw: RawConfig = toml::from_str(text).map_err(|e| ConfigError::Syntax {
            path: path.to_owned(),
            message: e.to_string().trim_end().to_owned(),
        })?;
        let c = Checker { path };

        let org = match raw.node.org {
            Some(org) => {
                let ok = !org.trim().is_empty()
                    && org.chars().count() <= 100
                    && !org.chars().any(char::is_control);
                if !ok {
                    return Err(c.invalid(
                        "node.org",
                        "must be 1 to 100 characters without control characters",
                    ));
                }
                Some(org)
            }
            None => None,
        };
        let data_dir = raw
            .node
            .data_dir
            .unwrap_or_else(|| PathBuf::from(defaults::DATA_DIR));
        if data_dir.as_os_str().is_empty() {
            return Err(c.invalid("node.data_dir", "must not be empty"));
        }
        let data_dir = if data_dir.is_absolute() {
            data_dir
        } else {
            home.join(data_dir)
        };

        let listen = c.socket_addr(
            "server.listen",
            raw.server.listen.as_deref().unwrap_or(defaults::LISTEN),
        )?;
        let admin_listen = raw
            .server
            .admin_listen
            .as_deref()
            .map(|t| c.socket_addr("server.admin_listen", t))
            .transpose()?;
        if admin_listen == Some(listen) {
            return Err(c.invalid(
                "server.admin_listen",
                "must differ from server.listen (the admin endpoints are not for peers)",
            ));
        }
        let public_endpoint = match raw.server.public_endpoint {
            Some(url) => {
                debrief_protocol::identity::check_endpoint(&url).map_err(|_| {
                    c.invalid(
                        "server.public_endpoint",
                        format!(
                            "{url:?} must be an https:// URL with a host and optional port, \
                             like \"https://debrief.example.com:8443\""
                        ),
                    )
                })?;
                Some(url)
            }
            None => None,
        };

        const KIB: u64 = 1024;
        const GIB: u64 = 1024 * 1024 * 1024;
        let l = &raw.limits;
        let max_request_body = c.size(
            "limits.max_request_body",
            l.max_request_body.as_ref(),
            defaults::MAX_REQUEST_BODY,
            64 * KIB,
            GIB,
        )?;
        let max_bundle = c.size(
            "limits.max_bundle",
            l.max_bundle.as_ref(),
            defaults::MAX_BUNDLE,
            4 * KIB,
            GIB,
        )?;
        if max_bundle > max_request_body {
            return Err(c.invalid(
                "limits.max_bundle",
                format!(
                    "{max_bundle} bytes is larger than limits.max_request_body ({max_request_body}); \
                     a bundle must fit in one request"
                ),
            ));
        }
        let max_report = c.size(
            "limits.max_report",
            l.max_report.as_ref(),
            defaults::MAX_REPORT,
            KIB,
            max_bundle,
        )?;
        let rate_limit_per_minute = match l.rate_limit_per_minute {
            None => defaults::RATE_LIMIT_PER_MINUTE,
            Some(n) => u32::try_from(n)
                .ok()
                .filter(|n| (1..=1_000_000).contains(n))
                .ok_or_else(|| {
                    c.invalid(
                        "limits.rate_limit_per_minute",
                        format!("{n} is out of range; use 1 to 1000000 requests per minute"),
                    )
                })?,
        };
        let request_timeout = c.duration(
            "limits.request_timeout",
            l.request_timeout.as_deref(),
            defaults::REQUEST_TIMEOUT,
            Duration::from_secs(1),
            Duration::from_secs(600),
        )?;
        let count = |key: &str, raw: Option<i64>, default: u32| -> Result<u32, ConfigError> {
            match raw {
                None => Ok(default),
                Some(n) => u32::try_from(n)
                    .ok()
                    .filter(|n| (1..=1_000_000).contains(n))
                    .ok_or_else(|| {
                        c.invalid(key, format!("{n} is out of range; use 1 to 1000000"))
                    }),
            }
        };
        let rate_limit_burst = count(
            "limits.rate_limit_burst",
            l.rate_limit_burst,
            defaults::RATE_LIMIT_BURST,
        )?;
        let rate_limit_unit = c.size(
            "limits.rate_limit_unit",
            l.rate_limit_unit.as_ref(),
            defaults::RATE_LIMIT_UNIT,
            KIB,
            GIB,
        )?;
        let idle_timeout = c.duration(
            "limits.idle_timeout",
            l.idle_timeout.as_deref(),
            defaults::IDLE_TIMEOUT,
            Duration::from_secs(1),
            Duration::from_secs(600),
        )?;
        let max_join_body = c.size(
            "limits.max_join_body",
            l.max_join_body.as_ref(),
            defaults::MAX_JOIN_BODY,
            KIB,
            1024 * KIB,
        )?;
        let max_pending = count("limits.max_pending", l.max_pending, defaults::MAX_PENDING)?;

        let s = &raw.sync;
        let interval = c.duration(
            "sync.interval",
            s.interval.as_deref(),
            defaults::SYNC_INTERVAL,
            Duration::from_secs(10),
            Duration::from_secs(7 * 86_400),
        )?;
        let peer_timeout = c.duration(
            "sync.peer_timeout",
            s.peer_timeout.as_deref(),
            defaults::PEER_TIMEOUT,
            Duration::from_secs(1),
            Duration::from_secs(600),
        )?;
        let max_clock_skew = c.duration(
            "sync.max_clock_skew",
            s.max_clock_skew.as_deref(),
            defaults::MAX_CLOCK_SKEW,
            Duration::from_secs(0),
            Duration::from_secs(86_400),
        )?;

        let fetch_batch = match s.fetch_batch {
            None => defaults::FETCH_BATCH,
            Some(n) => usize::try_from(n)
                .ok()
                .filter(|n| (1..=defaults::FETCH_BATCH).contains(n))
                .ok_or_else(|| {
                    c.invalid(
                        "sync.fetch_batch",
                        format!(
                            "{n} is out of range; use 1 to {} bundles",
                            defaults::FETCH_BATCH
                        ),
                    )
                })?,
        };

        let scrypt_work_factor = match raw.keystore.scrypt_work_factor {
            None => None,
            Some(n) => Some(
                u8::try_from(n)
                    .ok()
                    .filter(|n| SCRYPT_WORK_FACTOR_RANGE.contains(n))
                    .ok_or_else(|| {
                        c.invalid(
                            "keystore.scrypt_work_factor",
                            format!(
                                "{n} is out of range; use 1 to 30 (leave it unset for age's default)"
                            ),
                        )
                    })?,
            ),
        };

        let mut private_terms = Vec::new();
        for (i, term) in raw
            .declassify
            .private_terms
            .unwrap_or_default()
            .into_iter()
            .enumerate()
        {
            let key = format!("declassify.private_terms[{i}]");
            let trimmed = term.trim();
            if trimmed.is_empty() {
                return Err(c.invalid(&key, "is empty"));
            }
            if trimmed.chars().count() > 200 || trimmed.chars().any(char::is_control) {
                return Err(c.invalid(
                    &key,
                    "must be at most 200 characters without control characters",
                ));
            }
            if private_terms
                .iter()
                .any(|t: &String| t.to_lowercase() == trimmed.to_lowercase())
            {
                return Err(c.invalid(&key, format!("{trimmed:?} is listed twice")));
            }
            private_terms.push(trimmed.to_owned());
        }

        Ok(NodeConfig {
            node: NodeSection { org, data_dir },
            server: ServerConfig {
                listen,
                admin_listen,
                public_endpoint,
            },
            limits: Limits {
                max_request_body,
                max_bundle,
                max_report,
                rate_limit_per_minute,
                request_timeout,
                rate_limit_burst,
                rate_limit_unit,
                idle_timeout,
                max_join_body,
                max_pending,
            },
            sync: SyncConfig {
                enabled: s.enabled.unwrap_or(defaults::SYNC_ENABLED),
                interval,
                peer_timeout,
                max_clock_skew,
                fetch_batch,
            },
            keystore: KeystoreConfig { scrypt_work_factor },
            declassify: DeclassifyConfig { private_terms },
        })
    }

    /// The configuration `debrief init` writes: the organisation name, and the endpoint and the
    /// scrypt work factor when given. Every other key keeps its default (see example.toml).
    pub fn initial_toml(
        org: &str,
        public_endpoint: Option<&str>,
        scrypt_work_factor: Option<u8>,
    ) -> String {
        let quote = |s: &str| toml::Value::String(s.to_owned()).to_string();
        let mut out = String::from(
            "# Debrief node configuration. Every key, with its default, is documented in\n\
             # docs/configuration.md and config/example.toml.\n\n[node]\n",
        );
        out.push_str(&format!("org = {}\n", quote(org)));
        out.push_str(&format!("data_dir = {}\n", quote(defaults::DATA_DIR)));
        if let Some(url) = public_endpoint {
            out.push_str(&format!("\n[server]\npublic_endpoint = {}\n", quote(url)));
        }
        if let Some(n) = scrypt_work_factor {
            out.push_str(&format!("\n[keystore]\nscrypt_work_factor = {n}\n"));
        }
        out
    }
}

/// Resolves the node's home: `explicit` (from `--home` or `DEBRIEF_HOME`, which clap merges),
/// else the platform's data directory for "debrief" (XDG: `$XDG_DATA_HOME/debrief`, usually
/// `~/.local/share/debrief`).
pub fn resolve_home(explicit: Option<&Path>) -> Result<PathBuf, ConfigError> {
    if let Some(p) = explicit {
        return Ok(p.to_owned());
    }
    directories::ProjectDirs::from("", "", "debrief")
        .map(|d| d.data_dir().to_owned())
        .ok_or(ConfigError::NoHome)
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn parse(text: &str) -> Result<NodeConfig, ConfigError> {
        NodeConfig::parse(text, Path::new("/h/config.toml"), Path::new("/h"))
    }

    fn invalid_key(text: &str) -> (String, String) {
        match parse(text).unwrap_err() {
            ConfigError::Invalid { key, problem, .. } => (key, problem),
            other => panic!("expected Invalid, got {other:?}"),
        }
    }

    #[test]
    fn empty_config_gets_defaults() {
        let c = parse("").unwrap();
        assert_eq!(c.node.data_dir, PathBuf::from("/h/data"));
        assert_eq!(c.node.org, None);
        assert_eq!(c.server.listen, "0.0.0.0:8443".parse().unwrap());
        assert_eq!(c.server.admin_listen, None);
        assert_eq!(c.limits.max_request_body, defaults::MAX_REQUEST_BODY);
        assert_eq!(c.limits.request_timeout, Duration::from_secs(30));
        assert_eq!(c.sync.interval, Duration::from_secs(300));
        assert!(c.sync.enabled);
        assert_eq!(c.keystore.scrypt_work_factor, None);
        assert!(c.declassify.private_terms.is_empty());
    }

    #[test]
    fn example_toml_parses_and_documents_every_key() {
        let text = include_str!("../example.toml");
        let c = parse(text).unwrap();
        assert_eq!(c.node.org.as_deref(), Some("Example Corp"));
        assert_eq!(
            c.server.admin_listen,
            Some("127.0.0.1:9090".parse().unwrap())
        );
        assert_eq!(
            c.declassify.private_terms,
            vec!["Project Falcon", "falcon.internal"]
        );
        // Every key the raw struct knows appears in the example, so it cannot drift.
        for key in [
            "[node]",
            "org =",
            "data_dir =",
            "[server]",
            "listen =",
            "admin_listen =",
            "public_endpoint =",
            "[limits]",
            "max_request_body =",
            "max_bundle =",
            "max_report =",
            "rate_limit_per_minute =",
            "request_timeout =",
            "rate_limit_burst =",
            "rate_limit_unit =",
            "idle_timeout =",
            "max_join_body =",
            "max_pending =",
            "[sync]",
            "enabled =",
            "interval =",
            "peer_timeout =",
            "max_clock_skew =",
            "fetch_batch =",
            "[keystore]",
            "scrypt_work_factor =",
            "[declassify]",
            "private_terms =",
        ] {
            assert!(
                text.lines().any(|l| l.trim_start().starts_with(key)),
                "example.toml does not set {key}"
            );
        }
    }

    #[test]
    fn unknown_keys_are_refused_with_their_name() {
        let err = parse("[server]\nlisten = \"0.0.0.0:1\"\nlistne = 1\n").unwrap_err();
        let text = err.to_string();
        assert!(matches!(err, ConfigError::Syntax { .. }));
        assert!(text.starts_with("/h/config.toml: "), "{text}");
        assert!(text.contains("unknown field `listne`"), "{text}");
        assert!(text.contains("line 3"), "{text}");
        let err = parse("[sever]\n").unwrap_err();
        assert!(err.to_string().contains("unknown field `sever`"));
    }

    #[test]
    fn bad_values_name_their_key() {
        assert_eq!(
            invalid_key("[server]\nlisten = \"localhost\"").0,
            "server.listen"
        );
        assert_eq!(
            invalid_key("[server]\npublic_endpoint = \"http://x.example\"").0,
            "server.public_endpoint"
        );
        let (key, problem) = invalid_key("[sync]\ninterval = \"5 minutes\"");
        assert_eq!(key, "sync.interval");
        assert!(
            problem.contains("\"5 minutes\" is not a duration"),
            "{problem}"
        );
        let (key, problem) = invalid_key("[sync]\ninterval = \"1s\"");
        assert_eq!(key, "sync.interval");
        assert_eq!(problem, "\"1s\" is out of range; use 10s to 7d");
        assert_eq!(
            invalid_key("[limits]\nmax_bundle = \"2GiB\"").0,
            "limits.max_bundle"
        );
        let (key, problem) = invalid_key("[limits]\nmax_request_body = \"1MiB\"");
        assert_eq!(key, "limits.max_bundle");
        assert!(problem.contains("a bundle must fit in one request"));
        assert_eq!(
            invalid_key("[limits]\nmax_bundle = -1").1,
            "-1 is negative; sizes are bytes ≥ 0"
        );
        assert_eq!(
            invalid_key("[limits]\nrate_limit_per_minute = 0").0,
            "limits.rate_limit_per_minute"
        );
        assert_eq!(
            invalid_key("[keystore]\nscrypt_work_factor = 64").0,
            "keystore.scrypt_work_factor"
        );
        assert_eq!(
            invalid_key("[declassify]\nprivate_terms = [\"a\", \" \"]").0,
            "declassify.private_terms[1]"
        );
        assert_eq!(
            invalid_key("[declassify]\nprivate_terms = [\"Falcon\", \"falcon\"]").1,
            "\"falcon\" is listed twice"
        );
        assert_eq!(
            invalid_key("[server]\nlisten = \"127.0.0.1:1\"\nadmin_listen = \"127.0.0.1:1\"").0,
            "server.admin_listen"
        );
        assert_eq!(invalid_key("[node]\norg = \"\"").0, "node.org");
        let err = parse("[node]\norg = \"x\"\n").unwrap();
        assert_eq!(err.node.org.as_deref(), Some("x"));
        let msg = parse("[sync]\ninterval = \"1s\"").unwrap_err().to_string();
        assert_eq!(
            msg,
            "/h/config.toml: `sync.interval`: \"1s\" is out of range; use 10s to 7d"
        );
    }

    #[test]
    fn type_errors_are_syntax_errors_naming_the_key() {
        let err = parse("[sync]\nenabled = \"yes\"").unwrap_err();
        assert!(matches!(err, ConfigError::Syntax { .. }));
        assert!(err.to_string().contains("enabled"), "{err}");
    }

    #[test]
    fn absolute_data_dir_is_kept() {
        let c = parse("[node]\ndata_dir = \"/var/lib/debrief\"").unwrap();
        assert_eq!(c.node.data_dir, PathBuf::from("/var/lib/debrief"));
    }

    #[test]
    fn initial_toml_round_trips() {
        let text = NodeConfig::initial_toml(
            "Acme \"Quotes\" Inc",
            Some("https://acme.example:8443"),
            Some(10),
        );
        let c = parse(&text).unwrap();
        assert_eq!(c.node.org.as_deref(), Some("Acme \"Quotes\" Inc"));
        assert_eq!(
            c.server.public_endpoint.as_deref(),
            Some("https://acme.example:8443")
        );
        assert_eq!(c.keystore.scrypt_work_factor, Some(10));
        let plain = parse(&NodeConfig::initial_toml("A", None, None)).unwrap();
        assert_eq!(plain.keystore.scrypt_work_factor, None);
    }

    #[test]
    fn missing_file_says_to_run_init() {
        let dir = tempfile::tempdir().unwrap();
        let err = NodeConfig::load(dir.path()).unwrap_err();
        assert_eq!(
            err.to_string(),
            format!(
                "no configuration at {}; run `debrief init` to create a home there, or pass --home",
                dir.path().join("config.toml").display()
            )
        );
        fs_write(dir.path(), "[node]\norg = \"A\"\n");
        assert_eq!(
            NodeConfig::load(dir.path()).unwrap().node.org.as_deref(),
            Some("A")
        );
    }

    fn fs_write(dir: &Path, text: &str) {
        std::fs::write(dir.join(CONFIG_FILE), text).unwrap();
    }

    #[test]
    fn home_resolution_prefers_explicit() {
        assert_eq!(
            resolve_home(Some(Path::new("/tmp/x"))).unwrap(),
            PathBuf::from("/tmp/x")
        );
    }
}
