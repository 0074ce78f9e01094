/*!
Configuration: built-in defaults, then the TOML file, then the bash original's
environment variables, in that order of precedence (last wins).

Where the settings come from, so an admin can predict it:
- the root directory: `--root DIR`, else `ROOT_DIR`, else `root` in the file, else `/var/db/sentry`;
- the file: `--config FILE` (must exist), else `$ROOT/sentry.toml` when present, else none.

Every key is checked: an unknown key or a bad value is an error naming the key and the file,
because a silently ignored typo in a security tool's config is a hole nobody sees.
*/

use std::path::{Path, PathBuf};

use serde::Deserialize;

use crate::error::Error;
use crate::ip::{ClientIp, Network};
use crate::logs::{Event, Kind, Score, Service, ServiceGroup, services};
use crate::policy::{Limits, TrustLimits};
use crate::update::{ReleaseKey, ReleaseSource};

/// Where sentry keeps its database and deny file unless told otherwise.
pub const DEFAULT_ROOT: &str = "/var/db/sentry";
/// Name of the configuration file looked for in the root directory.
pub const CONFIG_FILE_NAME: &str = "sentry.toml";

/// Where the services' logs usually are, from the table of services: the system's syslog
/// files, then each service's own.
pub fn default_logs(services: &Services) -> Vec<&'static str> {
    let mut logs: Vec<&'static str> = services::SYSLOG_FILES.to_vec();
    for row in &services::TABLE {
        if row.logs_when_protected && !services.enabled(row.group) {
            continue;
        }
        for log in row.logs {
            if !logs.contains(log) {
                logs.push(log);
            }
        }
    }
    for shared in &services::SHARED_LOGS {
        if services.enabled(shared.group) && !logs.contains(&shared.path) {
            logs.push(shared.path);
        }
    }
    logs
}

/// Addresses that automatic decisions must never block, whatever the admin configures.
/// Shared or self-service accounts whose logins confer no trust (`untrusted_users`): code
/// forges on the host's sshd, anonymous and guest FTP.
const DEFAULT_UNTRUSTED_USERS: [&str; 8] = [
    "git",
    "gitea",
    "forgejo",
    "gitlab",
    "anonymous",
    "ftp",
    "guest",
    "nobody",
];

const ALWAYS_NEVER_BLOCK: [&str; 2] = ["127.0.0.0/8", "::1/128"];

/// Every blocking backend name sentry knows.
pub const KNOWN_BACKENDS: [&str; 9] = [
    "tcpwrappers",
    "nftables",
    "ipset",
    "iptables",
    "route",
    "pf",
    "ipfw",
    "firewalld",
    "command",
];

/// The settings every command runs with, fully resolved and validated.
#[derive(Debug, Clone)]
pub struct Config {
    /// The directory holding `sentry.db`, `hosts.deny` and the installed binary.
    pub root: PathBuf,
    /// The configuration file that was read, if any (for messages).
    pub source: Option<PathBuf>,
    /// Blocks older than this many days are lifted; 0 keeps blocks forever.
    pub expire_block_days: u32,
    /// Logs are inspected once an address has connected this many times.
    pub inspect_after: u32,
    /// Address blocks that automatic decisions never block (loopback always included).
    pub never_block: Vec<Network>,
    /// Which services' logs are inspected.
    pub services: Services,
    /// More than this many failed + probe events, with no success, block an address.
    pub max_attempts: u32,
    /// A login attempt as root counts as account guessing.
    pub root_is_naughty: bool,
    /// The length of the IPv6 prefixes counted and blocked as one (`ipv6_prefix`); 128 = off.
    pub ipv6_prefix: u8,
    /// This many blocked addresses of one IPv6 prefix block the prefix (0 = never by count).
    pub prefix_block_after: u32,
    /// Shared or self-service accounts (`git`, anonymous FTP): a login as one of them
    /// makes its address trusted for nothing.
    pub untrusted_users: Vec<String>,
    /// Trust after a login ends this many days after the address's last login.
    pub trust_days: u32,
    /// From a trusted address, attempts for other accounts count within this many seconds.
    pub trusted_window: u32,
    /// From a trusted address, more attempts than this for other accounts block it.
    pub trusted_max_attempts: u32,
    /// Where logins and failed attempts are learnt from (`evidence`).
    pub evidence: EvidenceSources,
    /// Log files to read (`logs`, or `SENTRY_LOGS`); None = the default list, those that exist.
    pub logs: Option<Vec<PathBuf>>,
    /// Read the systemd journal: Some(true/false) as configured, None = when no log file is found.
    pub journal: Option<bool>,
    /// Read this journal file instead of the system journal (`journalctl --file`).
    pub journal_file: Option<PathBuf>,
    /// Executables trusted in the journal beside the built-in ones, per service
    /// (`journal_trusted_exe = { sshd = ["/opt/openssh/sbin/sshd"] }`).
    pub journal_trusted_exe: Vec<(Service, String)>,
    /// Enabled blocking backends, in the order they are applied.
    pub backends: Vec<String>,
    /// Table/set name used by firewall backends (the original's `FIREWALL_TABLE`).
    pub firewall_table: String,
    /// The tcpwrappers deny file referenced from `/etc/hosts.allow`.
    pub deny_file: PathBuf,
    /// Each firewall backend's own section (`[nftables]`, `[ipset]`, ...), kept raw: the
    /// backends check their own keys (`block::check_sections`, run by the command line right
    /// after `Config::load`), so this module needs to know nothing of them.
    pub backend_sections: std::collections::BTreeMap<String, toml::Table>,
    /// Where `sentry update` fetches a release manifest (HTTPS only); None = install this binary.
    pub update_url: Option<String>,
    /// PEM file of the certificate authorities trusted for `update_url`; None = the system's
    /// bundle (/etc/ssl/certs/ca-certificates.crt).
    pub update_ca_file: Option<PathBuf>,
    /// The ed25519 key a release manifest from `update_url` must be signed with.
    pub update_public_key: Option<ReleaseKey>,
    /// `[fleet]`: the PostgreSQL server shared with other hosts; None = this host alone.
    pub fleet: Option<FleetConfig>,
    /// More spam messages than this (scored at least `smtp_spam_score`) block an address.
    pub smtp_spam_messages: u32,
    /// A message scored at least this counts as spam.
    pub smtp_spam_score: Score,
    /// This host's own mail relays: their virus, spam and blocklist events are ignored.
    pub smtp_trusted_relays: Vec<Network>,
    /// The group given read access to the root and the database (`group = "adm"`, a name
    /// or a number); None = root alone. Resolved when the root is opened (`root::ensure`).
    pub group: Option<String>,
}

/// `[fleet]`: how this host exchanges decisions and evidence with the others.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FleetConfig {
    /// `postgres://user@host:port/dbname[?sslmode=...]`, without a password.
    pub url: String,
    /// A file holding the password (first line), readable by root only.
    pub password_file: Option<PathBuf>,
    /// CAs trusted for the server's certificate; None = the system bundle.
    pub ca_file: Option<PathBuf>,
    /// This host's name in the fleet.
    pub host_id: String,
    /// Blocks from other hosts are applied here (and ours sent to them).
    pub share_blocks: bool,
    /// Allows from other hosts are applied here (and ours sent to them).
    pub share_allows: bool,
    /// More failed + probe events than this, summed over the fleet, block an address.
    pub max_attempts: u32,
    /// How often `ingest` exchanges with the fleet (seconds).
    pub interval_secs: u64,
    /// Run even as a role that could write around what the server enforces (a superuser,
    /// BYPASSRLS, the tables' owner, direct write grants).
    pub allow_privileged_role: bool,
    /// From any one other host, at most this many blocks and allows, and as many evidence
    /// rows, are taken per exchange; the rest is a flood, dropped and reported.
    pub max_rows_per_host: u32,
}

/// Which services are protected (`services = [...]`, the original's `PROTECT_*` switches):
/// one bit per [`ServiceGroup`], so a new group is one variant, not one more field.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Services {
    on: u32,
}

impl Services {
    /// No group protected.
    pub const NONE: Services = Services { on: 0 };

    fn from_names(names: &[String]) -> Result<Services, String> {
        let mut services = Services::NONE;
        for name in names {
            let Some(group) = ServiceGroup::from_name(name) else {
                let known: Vec<&str> = ServiceGroup::ALL.iter().map(|g| g.name()).collect();
                return Err(format!(
                    "unknown service {name:?}; known: {}",
                    known.join(", ")
                ));
            };
            services.set(group, true);
        }
        Ok(services)
    }

    fn bit(group: ServiceGroup) -> u32 {
        1 << group as u32
    }

    /// True when logs of this group are read.
    pub fn enabled(&self, group: ServiceGroup) -> bool {
        self.on & Services::bit(group) != 0
    }

    /// Protects the group or stops protecting it.
    pub fn set(&mut self, group: ServiceGroup, on: bool) {
        if on {
            self.on |= Services::bit(group);
        } else {
            self.on &= !Services::bit(group);
        }
    }

    /// These groups and no other.
    pub fn of(groups: &[ServiceGroup]) -> Services {
        let mut services = Services::NONE;
        for &group in groups {
            services.set(group, true);
        }
        services
    }
}

/// Where logins and failed attempts are learnt from (`evidence = ["logs", "pam"]`). A log
/// line is text any local user can write in the daemon's name (`logger -t sshd`); what
/// `sentry pam` records comes from the daemon's own PAM stack, with the address the daemon
/// took from the socket. Without `logs`, log lines still count failures and probes (a
/// forgery can only blame) but no login in them makes an address trusted.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct EvidenceSources {
    /// Logins read in log lines make addresses trusted.
    pub logs: bool,
    /// `sentry pam` records failures and logins.
    pub pam: bool,
}

impl Default for EvidenceSources {
    fn default() -> Self {
        EvidenceSources {
            logs: true,
            pam: true,
        }
    }
}

impl EvidenceSources {
    fn from_names(names: &[String]) -> Result<EvidenceSources, String> {
        let mut sources = EvidenceSources {
            logs: false,
            pam: false,
        };
        for name in names {
            match name.as_str() {
                "logs" => sources.logs = true,
                "pam" => sources.pam = true,
                other => {
                    return Err(format!(
                        "unknown evidence {other:?}: write \"logs\", \"pam\" or both"
                    ));
                }
            }
        }
        if !sources.logs && !sources.pam {
            return Err("is empty: write [\"logs\", \"pam\"], [\"logs\"] or [\"pam\"]".into());
        }
        Ok(sources)
    }
}

impl Default for Services {
    /// The original's: ssh, ftp and POP3/IMAP; mail verdicts and the web and application
    /// services only when the admin lists them.
    fn default() -> Self {
        Services::of(&[ServiceGroup::Ssh, ServiceGroup::Ftp, ServiceGroup::Mua])
    }
}

/// The file as written by the admin; every field optional.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct FileConfig {
    root: Option<PathBuf>,
    expire_block_days: Option<u32>,
    inspect_after: Option<u32>,
    never_block: Option<Vec<String>>,
    services: Option<Vec<String>>,
    max_attempts: Option<u32>,
    root_is_naughty: Option<bool>,
    ipv6_prefix: Option<u8>,
    prefix_block_after: Option<u32>,
    untrusted_users: Option<Vec<String>>,
    trust_days: Option<u32>,
    trusted_window: Option<u32>,
    trusted_max_attempts: Option<u32>,
    evidence: Option<Vec<String>>,
    logs: Option<Vec<PathBuf>>,
    journal: Option<bool>,
    journal_file: Option<PathBuf>,
    journal_trusted_exe: Option<std::collections::BTreeMap<String, Vec<String>>>,
    update_url: Option<String>,
    update_ca_file: Option<PathBuf>,
    update_public_key: Option<String>,
    smtp_spam_messages: Option<u32>,
    smtp_spam_score: Option<f64>,
    smtp_trusted_relays: Option<Vec<String>>,
    group: Option<String>,
    fleet: Option<FleetSection>,
    block: Option<BlockSection>,
    tcpwrappers: Option<TcpwrappersSection>,
    nftables: Option<toml::Table>,
    ipset: Option<toml::Table>,
    iptables: Option<toml::Table>,
    route: Option<toml::Table>,
    pf: Option<toml::Table>,
    ipfw: Option<toml::Table>,
    firewalld: Option<toml::Table>,
    command: Option<toml::Table>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct BlockSection {
    backends: Option<Vec<String>>,
    firewall_table: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct FleetSection {
    url: Option<String>,
    password_file: Option<PathBuf>,
    ca_file: Option<PathBuf>,
    host_id: Option<String>,
    share: Option<Vec<String>>,
    fleet_max_attempts: Option<u32>,
    interval: Option<u64>,
    allow_privileged_role: Option<bool>,
    max_rows_per_host: Option<u32>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct TcpwrappersSection {
    deny_file: Option<PathBuf>,
}

/// Checks `[fleet]`; an error names the key.
fn fleet_config(section: FleetSection) -> Result<FleetConfig, (&'static str, String)> {
    let url = section.url.ok_or((
        "fleet.url",
        "is required in [fleet] (postgres://user@host/dbname)".to_string(),
    ))?;
    let Some(rest) = url
        .strip_prefix("postgres://")
        .or_else(|| url.strip_prefix("postgresql://"))
    else {
        return Err(("fleet.url", format!("{url:?} must start with postgres://")));
    };
    let authority = rest.split(['/', '?']).next().unwrap_or_default();
    if let Some((user, _)) = authority.rsplit_once('@')
        && user.contains(':')
    {
        return Err((
            "fleet.url",
            "must not contain the password (the configuration is readable by more people \
             than the password should be): put it in a file and set fleet.password_file"
                .to_string(),
        ));
    }
    if url.contains("password=") {
        return Err((
            "fleet.url",
            "must not contain password=: set fleet.password_file".to_string(),
        ));
    }
    for (key, path) in [
        ("fleet.password_file", &section.password_file),
        ("fleet.ca_file", &section.ca_file),
    ] {
        if let Some(path) = path
            && path.is_relative()
        {
            return Err((key, format!("{} must be an absolute path", path.display())));
        }
    }
    let host_id = match section.host_id {
        Some(id) => id,
        None => std::fs::read_to_string("/proc/sys/kernel/hostname")
            .or_else(|_| std::fs::read_to_string("/etc/hostname"))
            .map(|h| h.trim().to_string())
            .unwrap_or_default(),
    };
    if !is_host_id(&host_id) {
        return Err((
            "fleet.host_id",
            format!(
                "{host_id:?} is not usable as this host's name in the fleet: 1 to 64 letters, \
                 digits, '-', '.', '_', ':' (default: the hostname)"
            ),
        ));
    }
    let share = section
        .share
        .unwrap_or_else(|| vec!["block".to_string(), "allow".to_string()]);
    if let Some(bad) = share.iter().find(|s| *s != "block" && *s != "allow") {
        return Err((
            "fleet.share",
            format!("unknown {bad:?}; use [\"block\"], [\"allow\"], both, or []"),
        ));
    }
    let max_attempts = section.fleet_max_attempts.unwrap_or(20);
    if max_attempts == 0 {
        return Err(("fleet.fleet_max_attempts", "must be at least 1".to_string()));
    }
    Ok(FleetConfig {
        url,
        password_file: section.password_file,
        ca_file: section.ca_file,
        host_id,
        share_blocks: share.iter().any(|s| s == "block"),
        share_allows: share.iter().any(|s| s == "allow"),
        max_attempts,
        interval_secs: match section.interval {
            Some(0) => return Err(("fleet.interval", "must be at least 1 second".to_string())),
            Some(n) => n,
            None => 10,
        },
        allow_privileged_role: section.allow_privileged_role.unwrap_or(false),
        max_rows_per_host: match section.max_rows_per_host {
            Some(0) => return Err(("fleet.max_rows_per_host", "must be at least 1".to_string())),
            Some(n) => n,
            None => 10_000,
        },
    })
}

/// A name a fleet host may have: 1 to 64 letters, digits, '-', '.', '_', ':' (so never
/// empty, and never the `*fleet` origin of blocks on summed evidence).
pub fn is_host_id(id: &str) -> bool {
    !id.is_empty()
        && id.len() <= 64
        && id
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "-._:".contains(c))
}

/// What the command line says about where to look.
#[derive(Debug, Clone, Default)]
pub struct Overrides {
    pub root: Option<PathBuf>,
    pub config: Option<PathBuf>,
}

impl Config {
    /// Resolves the configuration from the command line, the file and the environment.
    /// `env` is passed in so tests can supply a controlled environment.
    pub fn load(
        overrides: &Overrides,
        env: &dyn Fn(&str) -> Option<String>,
    ) -> Result<Config, Error> {
        let env_root = env("ROOT_DIR").filter(|v| !v.is_empty()).map(PathBuf::from);
        // tcpd runs sentry from /, and hosts.allow names the root: it must be absolute.
        // Said here, where it is known who gave it, not later of the paths made from it.
        let relative = |source: String, path: &PathBuf| {
            Error::Input(format!(
                "{source} {}: the root must be an absolute path (tcpd and cron run sentry \
                 from another directory)",
                path.display()
            ))
        };
        if let Some(path) = overrides.root.as_ref().filter(|p| p.is_relative()) {
            return Err(relative("--root".into(), path));
        }
        if let Some(path) = env_root.as_ref().filter(|p| p.is_relative()) {
            return Err(relative("environment variable ROOT_DIR".into(), path));
        }
        let early_root = overrides.root.clone().or_else(|| env_root.clone());

        let file_path = match &overrides.config {
            Some(path) => Some(path.clone()),
            None => {
                let candidate = early_root
                    .clone()
                    .unwrap_or_else(|| PathBuf::from(DEFAULT_ROOT))
                    .join(CONFIG_FILE_NAME);
                // Present but not a file (a directory): say so rather than run on defaults.
                candidate.exists().then_some(candidate)
            }
        };
        let file = match &file_path {
            Some(path) => read_file(path)?,
            None => FileConfig::default(),
        };
        Config::resolve(file, file_path, early_root, env)
    }

    /// The configuration `text` would give, as the file of the root `root`, with no
    /// environment (for tests and the config fuzz target). Reads no file.
    pub fn from_toml(text: &str, root: &Path) -> Result<Config, Error> {
        let path = root.join(CONFIG_FILE_NAME);
        let file = parse_text(text, &path)?;
        Config::resolve(file, Some(path), Some(root.to_path_buf()), &|_| None)
    }

    /// Defaults, then the file's values, then the environment; every value validated.
    fn resolve(
        file: FileConfig,
        file_path: Option<PathBuf>,
        early_root: Option<PathBuf>,
        env: &dyn Fn(&str) -> Option<String>,
    ) -> Result<Config, Error> {
        let root = early_root
            .or(file.root.clone())
            .unwrap_or_else(|| PathBuf::from(DEFAULT_ROOT));
        let block = file.block.unwrap_or_default();
        let backend_sections: std::collections::BTreeMap<String, toml::Table> = [
            ("nftables", file.nftables.clone()),
            ("ipset", file.ipset.clone()),
            ("iptables", file.iptables.clone()),
            ("route", file.route.clone()),
            ("pf", file.pf.clone()),
            ("ipfw", file.ipfw.clone()),
            ("firewalld", file.firewalld.clone()),
            ("command", file.command.clone()),
        ]
        .into_iter()
        .filter_map(|(name, table)| table.map(|t| (name.to_string(), t)))
        .collect();
        let mut config = Config {
            backend_sections,
            deny_file: file
                .tcpwrappers
                .and_then(|t| t.deny_file)
                .unwrap_or_else(|| root.join("hosts.deny")),
            root,
            source: file_path.clone(),
            expire_block_days: file.expire_block_days.unwrap_or(90),
            inspect_after: file.inspect_after.unwrap_or(3),
            never_block: Vec::new(),
            services: Services::default(),
            max_attempts: file.max_attempts.unwrap_or(10),
            root_is_naughty: file.root_is_naughty.unwrap_or(true),
            ipv6_prefix: file.ipv6_prefix.unwrap_or(64),
            prefix_block_after: file.prefix_block_after.unwrap_or(3),
            untrusted_users: file.untrusted_users.clone().unwrap_or_else(|| {
                DEFAULT_UNTRUSTED_USERS
                    .iter()
                    .map(|u| u.to_string())
                    .collect()
            }),
            trust_days: file.trust_days.unwrap_or(90),
            trusted_window: file.trusted_window.unwrap_or(86_400),
            trusted_max_attempts: file
                .trusted_max_attempts
                .unwrap_or_else(|| file.max_attempts.unwrap_or(10).saturating_mul(3)),
            evidence: EvidenceSources::default(),
            logs: file.logs.clone(),
            journal: file.journal,
            journal_file: file.journal_file.clone(),
            journal_trusted_exe: Vec::new(),
            update_url: file.update_url.clone(),
            update_ca_file: file.update_ca_file.clone(),
            update_public_key: None,
            fleet: None,
            smtp_spam_messages: file.smtp_spam_messages.unwrap_or(3),
            smtp_spam_score: Score::from_f64(file.smtp_spam_score.unwrap_or(10.0)),
            smtp_trusted_relays: Vec::new(),
            group: file.group.clone(),
            backends: block
                .backends
                .unwrap_or_else(|| vec!["tcpwrappers".to_string()]),
            firewall_table: block
                .firewall_table
                .unwrap_or_else(|| "sentry_blocklist".to_string()),
        };

        let in_file = |key: &str, msg: String| match &file_path {
            Some(path) => Error::Input(format!("{}: key `{key}`: {msg}", path.display())),
            None => Error::Input(format!("key `{key}`: {msg}")),
        };
        if let Some(group) = &config.group
            && (group.is_empty() || group.contains([':', '\n', ' ']))
        {
            return Err(in_file(
                "group",
                format!("{group:?} is not a group name or number"),
            ));
        }
        for text in ALWAYS_NEVER_BLOCK
            .iter()
            .map(|s| s.to_string())
            .chain(file.never_block.unwrap_or_default())
        {
            let network = Network::parse(&text).map_err(|msg| in_file("never_block", msg))?;
            config.never_block.push(network);
        }
        if let Some(names) = &file.evidence {
            config.evidence =
                EvidenceSources::from_names(names).map_err(|msg| in_file("evidence", msg))?;
        }
        if let Some(names) = &file.services {
            config.services =
                Services::from_names(names).map_err(|msg| in_file("services", msg))?;
        }
        if let Some(logs) = &config.logs
            && let Some(relative) = logs.iter().find(|p| p.is_relative())
        {
            return Err(in_file(
                "logs",
                format!("{} must be an absolute path", relative.display()),
            ));
        }
        if config.inspect_after == 0 {
            return Err(in_file("inspect_after", "must be at least 1".into()));
        }
        // A shorter prefix than a /32 (a regional registry's allocation) would block
        // whole providers for three of their customers.
        if !(32..=128).contains(&config.ipv6_prefix) {
            return Err(in_file(
                "ipv6_prefix",
                format!(
                    "{} is outside 32..=128 (64 is a typical customer's network; 128 turns prefixes off)",
                    config.ipv6_prefix
                ),
            ));
        }
        if config.trust_days == 0 {
            return Err(in_file(
                "trust_days",
                "must be at least 1 (a `sentry allow` is the trust that never ends)".into(),
            ));
        }
        if config.trusted_window == 0 {
            return Err(in_file(
                "trusted_window",
                "must be at least 1 (seconds; 86400 is one day)".into(),
            ));
        }
        if let Some(bad) = config.untrusted_users.iter().find(|u| {
            u.is_empty()
                || u.len() > crate::policy::ACCOUNT_NAME_MAX
                || u.chars().any(char::is_control)
        }) {
            return Err(in_file(
                "untrusted_users",
                format!(
                    "{bad:?} is not an account name (1 to {} bytes, no control characters)",
                    crate::policy::ACCOUNT_NAME_MAX
                ),
            ));
        }
        for name in &config.backends {
            if !KNOWN_BACKENDS.contains(&name.as_str()) {
                return Err(in_file(
                    "block.backends",
                    format!(
                        "unknown backend {name:?}; known: {}",
                        KNOWN_BACKENDS.join(", ")
                    ),
                ));
            }
        }
        if let Some(url) = &config.update_url
            && !url.starts_with("https://")
        {
            return Err(in_file(
                "update_url",
                format!("{url:?} must start with https:// (the release is verified against it)"),
            ));
        }
        if let Some(ca) = &config.update_ca_file
            && ca.is_relative()
        {
            return Err(in_file(
                "update_ca_file",
                format!("{} must be an absolute path", ca.display()),
            ));
        }
        if let Some(text) = &file.update_public_key {
            config.update_public_key =
                Some(ReleaseKey::parse(text).map_err(|msg| in_file("update_public_key", msg))?);
        }
        for (name, paths) in file.journal_trusted_exe.unwrap_or_default() {
            let Some(service) = Service::from_name(&name) else {
                let names: Vec<&str> = Service::ALL.iter().map(|s| s.name()).collect();
                return Err(in_file(
                    "journal_trusted_exe",
                    format!("unknown service {name:?}; known: {}", names.join(", ")),
                ));
            };
            for path in paths {
                if !path.starts_with('/') {
                    return Err(in_file(
                        "journal_trusted_exe",
                        format!("{path:?} must be an absolute path"),
                    ));
                }
                config.journal_trusted_exe.push((service, path));
            }
        }
        for text in file.smtp_trusted_relays.unwrap_or_default() {
            let network =
                Network::parse(&text).map_err(|msg| in_file("smtp_trusted_relays", msg))?;
            config.smtp_trusted_relays.push(network);
        }
        if let Some(score) = file.smtp_spam_score
            && !(score.is_finite() && (-1000.0..=1000.0).contains(&score))
        {
            return Err(in_file(
                "smtp_spam_score",
                format!("{score} is not a usable score (a number like 10 or 7.5)"),
            ));
        }
        if let Some(section) = file.fleet {
            config.fleet = Some(fleet_config(section).map_err(|(key, msg)| in_file(key, msg))?);
        }
        if config.root.is_relative() {
            return Err(in_file("root", "must be an absolute path".into()));
        }
        if config.deny_file.is_relative() {
            return Err(in_file(
                "tcpwrappers.deny_file",
                "must be an absolute path (tcpd only reads absolute file patterns)".into(),
            ));
        }

        config.apply_environment(env)?;
        config.backends.dedup();
        Ok(config)
    }

    /// The bash original's variables, so existing wrappers and cron lines keep their meaning.
    fn apply_environment(&mut self, env: &dyn Fn(&str) -> Option<String>) -> Result<(), Error> {
        let flag = |name: &str| -> Result<Option<bool>, Error> {
            match env(name).as_deref().map(str::trim) {
                None | Some("") => Ok(None),
                Some("1") | Some("yes") | Some("true") => Ok(Some(true)),
                Some("0") | Some("no") | Some("false") => Ok(Some(false)),
                Some(other) => Err(Error::Input(format!(
                    "environment variable {name}={other:?} must be 1 or 0"
                ))),
            }
        };
        let mut toggle_backend = |name: &str, on: Option<bool>| match on {
            Some(true) if !self.backends.iter().any(|b| b == name) => {
                self.backends.push(name.to_string())
            }
            Some(false) => self.backends.retain(|b| b != name),
            _ => {}
        };
        toggle_backend("tcpwrappers", flag("ADD_TO_TCPWRAPPERS")?);
        toggle_backend("pf", flag("ADD_TO_PF")?);
        // In the bash original ADD_TO_IPTABLES meant "put the address in an ipset".
        toggle_backend("ipset", flag("ADD_TO_IPTABLES")?);

        if let Some(table) = env("FIREWALL_TABLE").filter(|v| !v.is_empty()) {
            self.firewall_table = table;
        }
        if let Some(days) = env("EXPIRE_BLOCK_DAYS").filter(|v| !v.trim().is_empty()) {
            self.expire_block_days = days.trim().parse().map_err(|_| {
                Error::Input(format!(
                    "environment variable EXPIRE_BLOCK_DAYS={days:?} must be a whole number of days (0 = never expire)"
                ))
            })?;
        }
        if let Some(paths) = env("SENTRY_LOGS").filter(|v| !v.trim().is_empty()) {
            let paths: Vec<PathBuf> = paths
                .split(':')
                .filter(|p| !p.is_empty())
                .map(PathBuf::from)
                .collect();
            if let Some(relative) = paths.iter().find(|p| p.is_relative()) {
                return Err(Error::Input(format!(
                    "environment variable SENTRY_LOGS: {} must be an absolute path",
                    relative.display()
                )));
            }
            self.logs = Some(paths);
        }
        if let Some(on) = flag("PROTECT_FTP")? {
            self.services.set(ServiceGroup::Ftp, on);
        }
        if let Some(on) = flag("PROTECT_SMTP")? {
            self.services.set(ServiceGroup::Smtp, on);
        }
        if let Some(on) = flag("PROTECT_MUA")? {
            self.services.set(ServiceGroup::Mua, on);
        }
        Ok(())
    }

    /// The log files to read: `logs` / `SENTRY_LOGS` as given, else those of the usual
    /// places that exist on this host: the system's syslog files and the services' own
    /// (some only while their service is protected: rspamd's log), and a shared syslog
    /// file only while one of its daemons is installed.
    pub fn log_files(&self) -> Vec<PathBuf> {
        match &self.logs {
            Some(paths) => paths.clone(),
            None => default_logs(&self.services)
                .into_iter()
                .filter(|p| {
                    (services::SHARED_LOGS.iter()).all(|s| {
                        s.path != *p
                            || (s.installed.iter()).any(|d| crate::exec::find_program(d).is_some())
                    })
                })
                .map(PathBuf::from)
                .filter(|p| p.is_file())
                .collect(),
        }
    }

    /// The only group whose lines count in `path`: a shared syslog file read by default
    /// for one group (`services::SHARED_LOGS`). A file the admin lists in `logs` is read whole.
    pub fn only_group(&self, path: &Path) -> Option<ServiceGroup> {
        if self.logs.is_some() {
            return None;
        }
        (services::SHARED_LOGS.iter())
            .find(|s| Path::new(s.path) == path)
            .map(|s| s.group)
    }

    /// Whether to read the systemd journal: as configured, else only when none of the
    /// log files exists (a minimal Debian 12 has no /var/log/auth.log, only the journal).
    /// Of the default files only the syslog daemon's count: a daemon's own file (dovecot's
    /// `log_path`) says nothing of sshd, whose lines are then in the journal.
    /// (/var/log/syslog counts: the journal holds its FTP lines too, which must not count twice.)
    pub fn use_journal(&self, files: &[PathBuf]) -> bool {
        let syslog = |f: &&PathBuf| {
            self.logs.is_some()
                || (services::SYSLOG_FILES.iter()).any(|s| Path::new(s) == f.as_path())
                || (services::SHARED_LOGS.iter()).any(|s| Path::new(s.path) == f.as_path())
        };
        self.journal
            .unwrap_or_else(|| !files.iter().filter(syslog).any(|f| f.is_file()))
    }

    /// Whether the journal is where this host's evidence is: configured so, or by default
    /// on a host without a syslog file. Not when it is only the fallback for configured
    /// `logs` that are all missing (a typo `check` names as such). `--connect` never reads
    /// it, so `setup` enables the scan timer and `check` wants a reader.
    pub fn journal_holds_evidence(&self) -> bool {
        (self.journal == Some(true) || self.logs.is_none()) && self.use_journal(&self.log_files())
    }

    /// The bounds of trust after a login.
    pub fn trust_limits(&self) -> TrustLimits {
        TrustLimits {
            trust_days: self.trust_days,
            window_secs: i64::from(self.trusted_window),
            max_attempts: self.trusted_max_attempts,
            untrusted_users: self.untrusted_users.clone(),
        }
    }

    /// The thresholds of the blocking rules.
    pub fn limits(&self) -> Limits {
        Limits {
            max_attempts: self.max_attempts,
            spam_messages: self.smtp_spam_messages,
        }
    }

    /// Whether an event read from the logs is evidence here: its service is protected, a
    /// spam score reaches `smtp_spam_score`, and mail verdicts do not concern this host's
    /// own relays (whose mail is other people's).
    pub fn counts(&self, event: &Event) -> bool {
        if !self.services.enabled(event.service.group()) {
            return false;
        }
        match event.kind {
            Kind::Spam if event.score.is_some_and(|s| s < self.smtp_spam_score) => false,
            Kind::Virus | Kind::Spam | Kind::Rbl => !self
                .smtp_trusted_relays
                .iter()
                .any(|n| n.contains(event.ip)),
            _ => true,
        }
    }

    /// The SQLite database file.
    pub fn database_path(&self) -> PathBuf {
        self.root.join("sentry.db")
    }

    /// Where hosts.allow expects the sentry binary (the path in the spawn line).
    pub fn installed_binary(&self) -> PathBuf {
        self.root.join("sentry")
    }

    /// Where `sentry update` gets a release: None = it installs the binary it runs as.
    /// `update_url` without `update_public_key` is refused here, by `update` alone, not when
    /// the configuration is loaded: a config written for an older sentry keeps `--connect`
    /// and every other command working.
    pub fn release_source(&self) -> Result<Option<ReleaseSource<'_>>, Error> {
        let Some(manifest_url) = &self.update_url else {
            return Ok(None);
        };
        let Some(key) = &self.update_public_key else {
            let msg = "`update_url` needs `update_public_key`, the public key release manifests \
                       are signed with (README, \"Updating\"); without it anyone controlling the \
                       release server could install anything here";
            return Err(Error::Input(match &self.source {
                Some(path) => format!("{}: key `update_public_key`: {msg}", path.display()),
                None => format!("key `update_public_key`: {msg}"),
            }));
        };
        Ok(Some(ReleaseSource {
            manifest_url,
            ca_file: self.update_ca_file.as_deref(),
            key,
        }))
    }

    /// The IPv6 prefix an address is counted and blocked with; None for IPv4 and when
    /// `ipv6_prefix` is 128.
    pub fn prefix_of(&self, ip: ClientIp) -> Option<Network> {
        Network::prefix_of(ip, self.ipv6_prefix)
    }

    /// True when a prefix holds a never-block address (it is then never blocked whole).
    pub fn is_never_blocked_prefix(&self, prefix: &Network) -> bool {
        self.never_block.iter().any(|net| net.overlaps(prefix))
    }

    /// True when automatic decisions must leave this address alone.
    pub fn is_never_blocked(&self, ip: ClientIp) -> bool {
        self.never_block.iter().any(|net| net.contains(ip))
    }

    /// True when the named backend is enabled.
    pub fn backend_enabled(&self, name: &str) -> bool {
        self.backends.iter().any(|b| b == name)
    }
}

fn read_file(path: &Path) -> Result<FileConfig, Error> {
    if path.exists() && !path.is_file() {
        return Err(Error::Input(format!(
            "{}: the configuration must be a file; move it aside",
            path.display()
        )));
    }
    let text = std::fs::read_to_string(path).map_err(|e| match e.kind() {
        std::io::ErrorKind::InvalidData => Error::Input(format!(
            "{}: the configuration is not UTF-8 text; fix or move the file",
            path.display()
        )),
        _ => Error::io("read the configuration file", path, &e),
    })?;
    parse_text(&text, path)
}

fn parse_text(text: &str, path: &Path) -> Result<FileConfig, Error> {
    toml::from_str(text).map_err(|e| {
        Error::Input(format!(
            "{}: {}\nfix the file or move it aside; every key is listed in README.md",
            path.display(),
            e.to_string().trim_end()
        ))
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    #[test]
    fn default_logs_are_the_syslog_files_then_the_services_own() {
        let mut services = Services::default();
        let usual = [
            "/var/log/auth.log",
            "/var/log/secure",
            "/var/log/messages",
            "/var/log/maillog",
            "/var/log/mail.log",
        ];
        let own = [
            "/var/log/dovecot.log",
            "/var/log/dovecot-info.log",
            "/var/log/xferlog",
            "/var/log/vsftpd.log",
            "/var/log/proftpd/proftpd.log",
            "/var/log/syslog",
        ];
        assert_eq!(default_logs(&services)[..5], usual);
        assert_eq!(default_logs(&services)[5..], own);
        services.set(ServiceGroup::Smtp, true);
        assert_eq!(default_logs(&services)[5..10], own[..5]);
        assert_eq!(
            default_logs(&services)[10..],
            [
                "/var/log/rspamd/rspamd.log",
                "/var/log/exim4/mainlog",
                "/var/log/exim/main.log",
                "/var/log/syslog"
            ]
        );
        services.set(ServiceGroup::Ftp, false);
        services.set(ServiceGroup::Mua, false);
        assert_eq!(
            default_logs(&services)[5..],
            [
                "/var/log/rspamd/rspamd.log",
                "/var/log/exim4/mainlog",
                "/var/log/exim/main.log"
            ],
            "own files and /var/log/syslog only while their group is protected"
        );
    }

    #[test]
    fn a_daemons_own_file_alone_does_not_stand_for_the_journal() {
        let dir = tempfile::tempdir().expect("tempdir");
        let own = dir.path().join("dovecot.log");
        std::fs::write(&own, "x\n").expect("write");
        let c = load_with(None, &[]).expect("defaults");
        // Default logs: an existing own file (here in place of /var/log/dovecot.log) is no
        // syslog file.
        assert!(c.use_journal(std::slice::from_ref(&own)));
        let listed = load_with(Some("logs = [\"/x\"]\n"), &[]).expect("listed");
        assert!(!listed.use_journal(std::slice::from_ref(&own)));
    }

    #[test]
    fn var_log_syslog_counts_only_ftp_lines_unless_listed() {
        let c = load_with(None, &[]).expect("defaults");
        let syslog = Path::new("/var/log/syslog");
        assert_eq!(c.only_group(syslog), Some(ServiceGroup::Ftp));
        assert_eq!(c.only_group(Path::new("/var/log/auth.log")), None);
        let listed = load_with(Some("logs = [\"/var/log/syslog\"]\n"), &[]).expect("listed");
        assert_eq!(listed.only_group(syslog), None);
    }

    #[test]
    fn the_application_services_are_read_only_when_listed() {
        let default = Services::default();
        for group in [
            ServiceGroup::Cockpit,
            ServiceGroup::Openvpn,
            ServiceGroup::Asterisk,
            ServiceGroup::Http,
            ServiceGroup::Mysql,
        ] {
            assert!(!default.enabled(group), "{}", group.name());
        }
        let logs = default_logs(&default);
        assert!(!logs.contains(&"/var/log/apache2/error.log"));
        assert!(!logs.contains(&"/var/log/mysql/error.log"));
        let mysql = Services::of(&[ServiceGroup::Mysql]);
        assert!(default_logs(&mysql).contains(&"/var/log/mysql/error.log"));
        // Asterisk through syslog only, even when protected (its own file is forgeable).
        let asterisk = Services::of(&[ServiceGroup::Asterisk]);
        assert!(!default_logs(&asterisk).contains(&"/var/log/asterisk/messages"));
        let http = Services::of(&[ServiceGroup::Http]);
        assert!(default_logs(&http).contains(&"/var/log/apache2/error.log"));
        assert!(!default_logs(&http).contains(&"/var/log/openvpn.log"));
        let c =
            load_with(Some("services = [\"ssh\", \"http\", \"openvpn\"]\n"), &[]).expect("loads");
        assert_eq!(
            c.services,
            Services::of(&[ServiceGroup::Ssh, ServiceGroup::Http, ServiceGroup::Openvpn])
        );
        let err = load_with(Some("services = [\"nginx\"]\n"), &[]).expect_err("unknown");
        assert!(err.to_string().contains("http"), "{err}");
    }

    #[test]
    fn trust_keys_have_defaults_and_are_checked() {
        let c = load_with(None, &[]).expect("defaults");
        assert_eq!(
            (c.trust_days, c.trusted_window, c.trusted_max_attempts),
            (90, 86_400, 30)
        );
        assert!(c.untrusted_users.iter().any(|u| u == "git"));
        let c = load_with(Some("max_attempts = 5\n"), &[]).expect("valid");
        assert_eq!(c.trusted_max_attempts, 15, "3 × max_attempts");
        let c = load_with(
            Some("trusted_max_attempts = 7\nuntrusted_users = []\n"),
            &[],
        )
        .expect("valid");
        assert_eq!((c.trusted_max_attempts, c.untrusted_users.len()), (7, 0));
        for (text, key) in [
            ("trust_days = 0\n", "trust_days"),
            ("trusted_window = 0\n", "trusted_window"),
            ("untrusted_users = [\"\"]\n", "untrusted_users"),
        ] {
            let err = load_with(Some(text), &[]).expect_err(text);
            assert!(err.to_string().contains(key), "{err}");
        }
    }

    #[test]
    fn evidence_defaults_to_both_and_is_checked() {
        let c = load_with(None, &[]).expect("defaults");
        assert_eq!(c.evidence, EvidenceSources::default());
        assert!(c.evidence.logs && c.evidence.pam);
        let c = load_with(Some("evidence = [\"pam\"]\n"), &[]).expect("valid");
        assert_eq!((c.evidence.logs, c.evidence.pam), (false, true));
        let c = load_with(Some("evidence = [\"logs\"]\n"), &[]).expect("valid");
        assert_eq!((c.evidence.logs, c.evidence.pam), (true, false));
        for text in ["evidence = []\n", "evidence = [\"journal\"]\n"] {
            let err = load_with(Some(text), &[]).expect_err(text);
            assert!(err.to_string().contains("`evidence`"), "{err}");
        }
    }

    fn load_with(file: Option<&str>, vars: &[(&str, &str)]) -> Result<Config, Error> {
        let dir = tempfile::tempdir().expect("tempdir");
        let overrides = Overrides {
            root: Some(dir.path().to_path_buf()),
            config: None,
        };
        if let Some(text) = file {
            std::fs::write(dir.path().join(CONFIG_FILE_NAME), text).expect("write config");
        }
        let vars: HashMap<String, String> = vars
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        Config::load(&overrides, &|k| vars.get(k).cloned())
    }

    #[test]
    fn defaults_match_the_original() {
        let c = load_with(None, &[]).expect("defaults load");
        assert_eq!(c.expire_block_days, 90);
        assert_eq!(c.inspect_after, 3);
        assert_eq!(c.backends, vec!["tcpwrappers"]);
        assert_eq!(c.firewall_table, "sentry_blocklist");
        assert!(c.deny_file.ends_with("hosts.deny"));
        assert!(c.is_never_blocked(ClientIp::parse("127.0.0.1").expect("ip")));
        assert!(c.is_never_blocked(ClientIp::parse("::1").expect("ip")));
        assert!(!c.is_never_blocked(ClientIp::parse("192.0.2.1").expect("ip")));
    }

    #[test]
    fn file_values_and_admin_networks_are_used() {
        let c = load_with(
            Some(
                "expire_block_days = 7\nnever_block = [\"192.0.2.0/24\"]\nservices = [\"ssh\", \"smtp\"]\n\
                 [block]\nbackends = [\"tcpwrappers\", \"nftables\"]\n",
            ),
            &[],
        )
        .expect("loads");
        assert_eq!(c.expire_block_days, 7);
        assert!(c.is_never_blocked(ClientIp::parse("192.0.2.77").expect("ip")));
        assert!(
            c.is_never_blocked(ClientIp::parse("127.0.0.1").expect("ip")),
            "loopback stays"
        );
        assert_eq!(c.backends, vec!["tcpwrappers", "nftables"]);
        assert_eq!(
            c.services,
            Services::of(&[ServiceGroup::Ssh, ServiceGroup::Smtp])
        );
    }

    #[test]
    fn journal_trusted_exe_names_a_service_and_absolute_paths() {
        let c = load_with(
            Some("journal_trusted_exe = { sshd = [\"/opt/openssh/sbin/sshd\"], pure-ftpd = [\"/opt/bin/pure-ftpd*\"] }\n"),
            &[],
        )
        .expect("loads");
        assert_eq!(
            c.journal_trusted_exe,
            vec![
                (Service::PureFtpd, "/opt/bin/pure-ftpd*".to_string()),
                (Service::Sshd, "/opt/openssh/sbin/sshd".to_string()),
            ]
        );
        assert!(
            load_with(None, &[])
                .expect("defaults")
                .journal_trusted_exe
                .is_empty()
        );
        let err = load_with(Some("journal_trusted_exe = { telnetd = [\"/x\"] }\n"), &[])
            .expect_err("unknown service");
        assert!(
            err.to_string().contains("journal_trusted_exe") && err.to_string().contains("telnetd"),
            "{err}"
        );
        let err = load_with(Some("journal_trusted_exe = { sshd = [\"sshd\"] }\n"), &[])
            .expect_err("relative path");
        assert!(err.to_string().contains("absolute"), "{err}");
    }

    #[test]
    fn unknown_keys_and_bad_values_name_the_key() {
        let err = load_with(Some("expire_blok_days = 7\n"), &[]).expect_err("typo refused");
        assert!(err.to_string().contains("expire_blok_days"), "{err}");
        assert!(err.to_string().contains("sentry.toml"), "{err}");
        let err =
            load_with(Some("expire_block_days = \"soon\"\n"), &[]).expect_err("bad type refused");
        assert!(err.to_string().contains("expire_block_days"), "{err}");
        let err = load_with(Some("never_block = [\"10.0.0.0/40\"]\n"), &[])
            .expect_err("bad cidr refused");
        assert!(err.to_string().contains("never_block"), "{err}");
        let err = load_with(Some("ipv6_prefix = 16\n"), &[]).expect_err("too short a prefix");
        assert!(err.to_string().contains("ipv6_prefix"), "{err}");
        let c = load_with(Some("ipv6_prefix = 56\nprefix_block_after = 5\n"), &[]).expect("valid");
        assert_eq!((c.ipv6_prefix, c.prefix_block_after), (56, 5));
        let err =
            load_with(Some("[block]\nbackends = [\"iptablez\"]\n"), &[]).expect_err("bad backend");
        assert!(err.to_string().contains("iptablez"), "{err}");
        let err = load_with(Some("services = [\"telnet\"]\n"), &[]).expect_err("bad service");
        assert!(
            err.to_string().contains("telnet") && err.to_string().contains("services"),
            "{err}"
        );
        let err = load_with(Some("logs = [\"auth.log\"]\n"), &[]).expect_err("relative log");
        assert!(err.to_string().contains("logs"), "{err}");
        let err = load_with(Some("inspect_after = 0\n"), &[]).expect_err("zero refused");
        assert!(err.to_string().contains("inspect_after"), "{err}");
    }

    #[test]
    fn text_is_checked_like_a_file() {
        let root = Path::new("/var/db/sentry");
        let c = Config::from_toml("max_attempts = 5\n", root).expect("valid text");
        assert_eq!((c.max_attempts, c.root.as_path()), (5, root));
        let err = Config::from_toml("max_attempts = -1\n", root).expect_err("negative");
        assert!(err.to_string().contains("sentry.toml"), "{err}");
    }

    #[test]
    fn environment_overrides_the_file() {
        let c = load_with(
            Some("expire_block_days = 7\n"),
            &[
                ("EXPIRE_BLOCK_DAYS", "0"),
                ("ADD_TO_TCPWRAPPERS", "0"),
                ("ADD_TO_PF", "1"),
                ("FIREWALL_TABLE", "bad_hosts"),
                ("PROTECT_SMTP", "1"),
                ("PROTECT_FTP", "0"),
            ],
        )
        .expect("loads");
        assert_eq!(c.expire_block_days, 0);
        assert_eq!(c.backends, vec!["pf"]);
        assert_eq!(c.firewall_table, "bad_hosts");
        assert!(c.services.enabled(ServiceGroup::Smtp) && !c.services.enabled(ServiceGroup::Ftp));
        let err = load_with(None, &[("EXPIRE_BLOCK_DAYS", "ninety")]).expect_err("bad env");
        assert!(err.to_string().contains("EXPIRE_BLOCK_DAYS"), "{err}");
        let err = load_with(None, &[("ADD_TO_PF", "maybe")]).expect_err("bad env flag");
        assert!(err.to_string().contains("ADD_TO_PF"), "{err}");
    }
}
