/*!
firewalld: two `hash:ip` ipsets, one per family (default `[block] firewall_table` + `4`
and + `6`), kept with `firewall-cmd`.

firewalld has two configurations: the runtime one (what the kernel does now) and the
permanent one (what it loads at boot and on `--reload`). A block must hold in both, so
every change is made twice with the same file of addresses: `firewall-cmd --permanent
--ipset=NAME --add-entries-from-file=FILE`, then the runtime twin without `--permanent`
(likewise `--remove-entries-from-file`). One pair of calls per family handles any number
of addresses; firewall-cmd skips present entries when adding and absent ones when
removing, so both are idempotent. The file is written in a private directory (0700, a
fresh name under sentry's root, never a shared /tmp) and removed afterwards.

`sync` counts an address as listed only when both configurations have it, so one that
either lost is added to both again. The admin's zone refers to the ipsets
(`firewall-cmd --permanent --zone=drop --add-source=ipset:sentry_blocklist4`).

Creating the ipsets (`sync`, `setup`): `firewall-cmd --permanent --new-ipset=NAME
--type=hash:ip --option=family=inet|inet6` (an existing one answers NAME_CONFLICT, which
is fine). firewalld cannot create an ipset at runtime, so a new one exists only after
`firewall-cmd --reload`. sentry reloads only when one of its ipsets is missing from the
runtime configuration (`--get-ipsets`): a reload drops the admin's runtime-only changes,
so it happens once, at setup, not on every sync. Until the ipsets exist, adding fails and
says to run `sentry sync`.
*/

use std::io::Write;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Deserializer};

use super::{
    DenyList, Entry, by_family, check_list_name, check_program_setting, name_source, program,
    program_setting,
};
use crate::config::Config;
use crate::error::{Error, Result};
use crate::exec;
use crate::ip::ClientIp;

/// ipset names are at most 31 characters.
const MAX_IPSET_NAME: usize = 31;

/// What firewall-cmd says about an ipset that does not exist.
const MISSING: &[&str] = &["INVALID_IPSET"];

/// `[firewalld]` settings.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Settings {
    /// The IPv4 ipset; default `[block] firewall_table` + `4`.
    pub ipset4: Option<String>,
    /// The IPv6 ipset; default `[block] firewall_table` + `6`.
    pub ipset6: Option<String>,
    /// The firewall-cmd program (name on the safe PATH, or absolute path).
    #[serde(deserialize_with = "firewall_cmd_setting")]
    pub firewall_cmd: String,
}

impl Default for Settings {
    fn default() -> Self {
        Settings {
            ipset4: None,
            ipset6: None,
            firewall_cmd: "firewall-cmd".into(),
        }
    }
}

fn firewall_cmd_setting<'de, D: Deserializer<'de>>(d: D) -> std::result::Result<String, D::Error> {
    program_setting(d, "firewall_cmd")
}

/// One ipset, with where its name came from (for messages).
struct Ipset {
    name: String,
    key: String,
    family: &'static str,
}

/// The two firewalld ipsets.
pub struct Firewalld {
    v4: Ipset,
    v6: Ipset,
    firewall_cmd: String,
    /// sentry's root, where the private directories for entry files are made.
    root: PathBuf,
}

impl Firewalld {
    pub fn new(settings: Settings, config: &Config) -> Firewalld {
        let ipset = |value: Option<String>, key: &str, suffix: &str, family| Ipset {
            key: name_source(&value, "firewalld", key),
            name: value.unwrap_or_else(|| format!("{}{suffix}", config.firewall_table)),
            family,
        };
        Firewalld {
            v4: ipset(settings.ipset4, "ipset4", "4", "inet"),
            v6: ipset(settings.ipset6, "ipset6", "6", "inet6"),
            firewall_cmd: settings.firewall_cmd,
            root: config.root.clone(),
        }
    }

    fn check_names(&self) -> Result<()> {
        for set in [&self.v4, &self.v6] {
            check_list_name(&set.key, &set.name, MAX_IPSET_NAME)?;
        }
        Ok(())
    }

    fn firewall_cmd(&self) -> Result<PathBuf> {
        self.check_names()?;
        program(&self.firewall_cmd, "firewalld", "firewall_cmd")
    }

    /// Runs `firewall-cmd ARGS`; a failure whose message contains one of `harmless` is no
    /// failure. Returns stdout when the call succeeded, None when it failed harmlessly.
    fn call(&self, args: &[String], harmless: &[&str]) -> Result<Option<String>> {
        let program = self.firewall_cmd()?;
        let out = exec::run(&program, args, None, super::PROGRAM_TIMEOUT)?;
        let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
        let said = |text: &str| out.stderr.contains(text) || stdout.contains(text);
        let command = || format!("`{} {}`", program.display(), args.join(" "));
        // firewall-cmd reports an unreadable entries file and still exits 0.
        if said("Failed to read file") {
            return Err(Error::Runtime(format!(
                "firewalld: {} could not read its entries file: {}",
                command(),
                stdout.trim()
            )));
        }
        if out.status.success() {
            return Ok(Some(stdout));
        }
        if harmless.iter().any(|h| said(h)) {
            return Ok(None);
        }
        let mut complaint = out.complaint();
        if complaint.starts_with("exited") && !stdout.trim().is_empty() {
            complaint = stdout.trim().to_string();
        }
        Err(Error::Runtime(format!(
            "firewalld: {} failed: {complaint}",
            command()
        )))
    }

    /// Adds or removes (`verb`: `add` or `remove`) addresses in the permanent and the
    /// runtime configuration of each ipset, from one private file per family.
    fn change(&self, verb: &str, ips: &[ClientIp]) -> Result<()> {
        let (v4, v6) = by_family(ips.iter());
        for (set, list) in [(&self.v4, v4), (&self.v6, v6)] {
            if list.is_empty() {
                continue;
            }
            let file = EntriesFile::create(&self.root, &list)?;
            let option = format!("--{verb}-entries-from-file={}", file.path.display());
            let ipset = format!("--ipset={}", set.name);
            for permanent in [true, false] {
                let mut args = Vec::new();
                if permanent {
                    args.push("--permanent".to_string());
                }
                args.push(ipset.clone());
                args.push(option.clone());
                // Removing from an ipset that does not exist: nothing to remove.
                let harmless = if verb == "remove" { MISSING } else { &[] };
                self.call(&args, harmless).map_err(|e| match e {
                    Error::Runtime(msg) if msg.contains("INVALID_IPSET") => Error::Runtime(
                        format!("{msg}; the ipset does not exist yet: `sentry sync` creates it"),
                    ),
                    other => other,
                })?;
            }
        }
        Ok(())
    }

    /// The entries of one ipset in one configuration (none when it does not exist).
    fn entries(&self, set: &Ipset, permanent: bool) -> Result<Vec<ClientIp>> {
        let mut args = Vec::new();
        if permanent {
            args.push("--permanent".to_string());
        }
        args.push(format!("--ipset={}", set.name));
        args.push("--get-entries".to_string());
        let stdout = self.call(&args, MISSING)?.unwrap_or_default();
        // hash:ip ipsets can also hold ranges and networks: those are the admin's own.
        Ok(stdout
            .lines()
            .filter_map(|line| ClientIp::parse_opt(line.trim()))
            .collect())
    }
}

impl DenyList for Firewalld {
    fn name(&self) -> &'static str {
        "firewalld"
    }

    fn check(&self) -> Result<()> {
        self.check_names()?;
        check_program_setting(&self.firewall_cmd, "firewalld", "firewall_cmd")
    }

    fn add(&mut self, entries: &[Entry]) -> Result<()> {
        let ips: Vec<ClientIp> = entries.iter().map(|e| e.ip).collect();
        self.change("add", &ips)
    }

    fn remove(&mut self, ips: &[ClientIp]) -> Result<()> {
        self.change("remove", ips)
    }

    fn members(&self) -> Result<Vec<ClientIp>> {
        let mut members = Vec::new();
        for set in [&self.v4, &self.v6] {
            let runtime: std::collections::HashSet<ClientIp> =
                self.entries(set, false)?.into_iter().collect();
            members.extend(
                self.entries(set, true)?
                    .into_iter()
                    .filter(|ip| runtime.contains(ip)),
            );
        }
        Ok(members)
    }

    fn prepare(&mut self) -> Result<()> {
        for set in [&self.v4, &self.v6] {
            let args: Vec<String> = [
                "--permanent".to_string(),
                format!("--new-ipset={}", set.name),
                "--type=hash:ip".to_string(),
                format!("--option=family={}", set.family),
            ]
            .into();
            self.call(&args, &["NAME_CONFLICT", "already exists"])?;
        }
        let runtime = self
            .call(&["--get-ipsets".to_string()], &[])?
            .unwrap_or_default();
        let present: Vec<&str> = runtime.split_whitespace().collect();
        if [&self.v4, &self.v6]
            .iter()
            .any(|set| !present.contains(&set.name.as_str()))
        {
            self.call(&["--reload".to_string()], &[])?;
        }
        Ok(())
    }
}

/// A file of addresses (one per line) for firewall-cmd, alone in a fresh private
/// directory under sentry's root; both are removed when this is dropped.
struct EntriesFile {
    dir: PathBuf,
    path: PathBuf,
}

impl EntriesFile {
    fn create(root: &Path, ips: &[ClientIp]) -> Result<EntriesFile> {
        use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt};
        static NEXT: std::sync::atomic::AtomicU32 = std::sync::atomic::AtomicU32::new(0);
        let mut attempt = 0;
        let dir = loop {
            let nanos = std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map(|d| d.subsec_nanos())
                .unwrap_or(0);
            let n = NEXT.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
            let dir = root.join(format!(".firewalld-{}-{n}-{nanos:08x}", std::process::id()));
            // create, not create_all: the name must be new, so nobody prepared it for us.
            match std::fs::DirBuilder::new().mode(0o700).create(&dir) {
                Ok(()) => break dir,
                Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists && attempt < 16 => {
                    attempt += 1;
                }
                Err(e) => return Err(Error::io("create a private directory", &dir, &e)),
            }
        };
        let file = EntriesFile {
            path: dir.join("entries"),
            dir,
        };
        let mut text = String::new();
        for ip in ips {
            text.push_str(&ip.to_string());
            text.push('\n');
        }
        std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(0o600)
            .open(&file.path)
            .and_then(|mut f| f.write_all(text.as_bytes()))
            .map_err(|e| Error::io("write the entries file", &file.path, &e))?;
        Ok(file)
    }
}

impl Drop for EntriesFile {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.path);
        let _ = std::fs::remove_dir(&self.dir);
    }
}
