/*!
command: the administrator's own programs, for lists sentry has no backend for (a cloud
provider's network ACL, a router's API, a script of theirs).

```toml
[command]
block = "/usr/local/bin/cloud-acl add {ip}"
unblock = "/usr/local/bin/cloud-acl del {ip}"
list = "/usr/local/bin/cloud-acl list"     # optional; what `sentry sync` reads
timeout_secs = 10                          # per call
```

A template is split on whitespace into an argument vector when the configuration loads,
and run without a shell: there is no quoting language, and `;`, `|`, `$(...)` or `*` in
a template are passed to the program as the literal text they are. The program (first
word) must be an absolute path, since the caller's PATH is never used. `{ip}` is replaced
by the address inside whichever arguments contain it (`--source={ip}/32` works); the
address is a validated, canonical IP address and is never split or re-read by anything.

The templates take one address, so a batch is one call per address; a failing call does
not stop the others, and all failures are reported. sentry calls `unblock` for every
address it frees (delist, allow, expiry), listed or not, and may call `block` for an
address already listed, so both must succeed in those cases (be idempotent).

`list` must print the listed addresses, one per line (blank lines and `#` comments are
skipped; anything else is an error, so a changed output format cannot quietly make sync
re-add everything). Without `list`, sentry cannot know what the list holds: `sentry sync`
then fails for this backend with a message saying so (blocking and delisting still
work). A silent "nothing is listed" would instead re-run `block` for every blocked
address on every sync.
*/

use std::time::Duration;

use serde::Deserialize;

use super::{DenyList, Entry, program};
use crate::error::{Error, Result};
use crate::exec;
use crate::ip::ClientIp;

/// Where the address goes in a template.
const IP: &str = "{ip}";

/// `[command]` settings.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Settings {
    /// Blocks one address: `/absolute/program args... {ip} ...`.
    pub block: Option<String>,
    /// Unblocks one address.
    pub unblock: Option<String>,
    /// Prints the listed addresses, one per line (for `sentry sync`).
    pub list: Option<String>,
    /// Each call is killed after this many seconds.
    pub timeout_secs: u64,
}

impl Default for Settings {
    fn default() -> Self {
        Settings {
            block: None,
            unblock: None,
            list: None,
            timeout_secs: 10,
        }
    }
}

/// A template split into its program and arguments.
#[derive(Debug, Clone)]
struct Template {
    key: &'static str,
    program: String,
    args: Vec<String>,
}

impl Template {
    /// Splits and checks the template in `key`; `takes_ip` says whether it must use `{ip}`
    /// (block, unblock) or must not (list).
    fn parse(key: &'static str, text: Option<&str>, takes_ip: bool) -> Result<Template> {
        let bad = |why: String| {
            Error::Input(format!(
                "[command] `{key}` = {:?}: {why}",
                text.unwrap_or("")
            ))
        };
        let Some(text) = text else {
            return Err(Error::Input(format!(
                "[command] `{key}` is required: the command that {} one address, e.g. \
                 {key} = \"/usr/local/bin/cloud-acl {} {IP}\"",
                if key == "block" { "blocks" } else { "unblocks" },
                if key == "block" { "add" } else { "del" },
            )));
        };
        let mut words = text.split_whitespace().map(str::to_string);
        let Some(program) = words.next() else {
            return Err(bad(
                "empty; give the program's absolute path and its arguments".into(),
            ));
        };
        if !program.starts_with('/') {
            return Err(bad(format!(
                "the program {program:?} must be an absolute path (templates run without a shell or PATH)"
            )));
        }
        if program.contains(IP) {
            return Err(bad(format!("{IP} cannot be part of the program's path")));
        }
        let args: Vec<String> = words.collect();
        let uses_ip = args.iter().any(|a| a.contains(IP));
        if takes_ip && !uses_ip {
            return Err(bad(format!("put {IP} where the address goes")));
        }
        if !takes_ip && uses_ip {
            return Err(bad(format!("this command takes no address; remove {IP}")));
        }
        Ok(Template { key, program, args })
    }

    /// The argument vector for one address: `{ip}` replaced inside each argument.
    fn args_for(&self, ip: Option<ClientIp>) -> Vec<String> {
        match ip {
            Some(ip) => {
                let text = ip.to_string();
                self.args.iter().map(|a| a.replace(IP, &text)).collect()
            }
            None => self.args.clone(),
        }
    }
}

/// The admin's commands.
pub struct Commands {
    block: Template,
    unblock: Template,
    list: Option<Template>,
    timeout: Duration,
}

impl Commands {
    /// Checks the settings; errors name the section and the key.
    pub fn new(settings: Settings) -> Result<Commands> {
        if settings.timeout_secs == 0 {
            return Err(Error::Input(
                "[command] `timeout_secs` must be at least 1".into(),
            ));
        }
        Ok(Commands {
            block: Template::parse("block", settings.block.as_deref(), true)?,
            unblock: Template::parse("unblock", settings.unblock.as_deref(), true)?,
            list: settings
                .list
                .as_deref()
                .map(|text| Template::parse("list", Some(text), false))
                .transpose()?,
            timeout: Duration::from_secs(settings.timeout_secs),
        })
    }

    /// Runs a template (for one address, or none) and returns its stdout.
    fn run(&self, template: &Template, ip: Option<ClientIp>) -> Result<Vec<u8>> {
        let path = program(&template.program, "command", template.key)?;
        let args = template.args_for(ip);
        let out = exec::run(&path, &args, None, self.timeout)?;
        if !out.status.success() {
            return Err(Error::Runtime(format!(
                "command: `{}` failed: {}",
                std::iter::once(template.program.as_str())
                    .chain(args.iter().map(String::as_str))
                    .collect::<Vec<_>>()
                    .join(" "),
                out.complaint()
            )));
        }
        Ok(out.stdout)
    }

    /// Runs `template` once per address, on through failures; reports them all.
    fn each(&self, template: &Template, ips: impl Iterator<Item = ClientIp>) -> Result<()> {
        let failures: Vec<String> = ips
            .filter_map(|ip| self.run(template, Some(ip)).err())
            .map(|e| e.to_string())
            .collect();
        match failures.len() {
            0 => Ok(()),
            1 => Err(Error::Runtime(failures.join(""))),
            n => Err(Error::Runtime(format!(
                "command: {n} `{}` calls failed: {}",
                template.key,
                failures.join("; ")
            ))),
        }
    }
}

impl DenyList for Commands {
    fn name(&self) -> &'static str {
        "command"
    }

    fn add(&mut self, entries: &[Entry]) -> Result<()> {
        self.each(&self.block, entries.iter().map(|e| e.ip))
    }

    fn remove(&mut self, ips: &[ClientIp]) -> Result<()> {
        self.each(&self.unblock, ips.iter().copied())
    }

    fn members(&self) -> Result<Vec<ClientIp>> {
        let Some(list) = &self.list else {
            return Err(Error::Runtime(
                "command: `sentry sync` cannot read this backend's list: [command] has no `list` \
                 template; add one that prints the listed addresses, one per line \
                 (blocking and delisting work without it)"
                    .into(),
            ));
        };
        let stdout = self.run(list, None)?;
        let mut members = Vec::new();
        for (n, line) in String::from_utf8_lossy(&stdout).lines().enumerate() {
            let line = line.trim();
            if line.is_empty() || line.starts_with('#') {
                continue;
            }
            let ip = ClientIp::parse_opt(line).ok_or_else(|| {
                let shown: String = line.chars().take(80).collect();
                Error::Runtime(format!(
                    "command: `list` printed {shown:?} on line {}, which is not an address; \
                     it must print one address per line",
                    n + 1
                ))
            })?;
            members.push(ip);
        }
        Ok(members)
    }
}
