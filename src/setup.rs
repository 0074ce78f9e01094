/*!
`sentry setup`: the root directory, the database, the deny file, and the two lines
`/etc/hosts.allow` needs.

The order of those lines matters: tcpd stops at the first match, so the deny line
(blocked addresses) must come before the spawn line (which counts the connection
and allows everyone else). They go near the top of hosts.allow, after its opening
comments, so that no earlier `allow` rule lets a blocked address through.
*/

use std::path::Path;

use crate::atomic_file;
use crate::config::Config;
use crate::error::{Error, Result};

/// The two hosts.allow lines for this configuration, deny first. tcpd runs the spawn
/// line without sentry's environment, so a root or configuration file other than the
/// defaults is passed on the command line.
pub fn hosts_allow_lines(config: &Config) -> [String; 2] {
    let mut options = String::new();
    if config.root != Path::new(crate::config::DEFAULT_ROOT) {
        options.push_str(&format!(" --root {}", config.root.display()));
    }
    if let Some(file) = &config.source
        && *file != config.root.join(crate::config::CONFIG_FILE_NAME)
    {
        options.push_str(&format!(" --config {}", file.display()));
    }
    [
        format!("sshd : {} : deny", config.deny_file.display()),
        format!(
            "sshd : ALL : spawn {}{options} --connect --ip=%a : allow",
            config.installed_binary().display()
        ),
    ]
}

/// Inserts the lines that are missing, after the file's leading comment block.
/// Keeps a copy of the previous file as `PATH.sentry-backup`. Returns false when both
/// lines were already there (nothing written).
pub fn write_hosts_allow(path: &Path, lines: &[String; 2]) -> Result<bool> {
    let old = match std::fs::read_to_string(path) {
        Ok(text) => text,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => String::new(),
        Err(e) => return Err(Error::io("read", path, &e)),
    };
    let normalise = |l: &str| l.split_whitespace().collect::<Vec<_>>().join(" ");
    let present: Vec<String> = old.lines().map(normalise).collect();
    let missing: Vec<&String> = lines
        .iter()
        .filter(|l| !present.contains(&normalise(l)))
        .collect();
    if missing.is_empty() {
        return Ok(false);
    }
    let old_lines: Vec<&str> = old.lines().collect();
    let at = old_lines
        .iter()
        .position(|l| !(l.trim().is_empty() || l.trim_start().starts_with('#')))
        .unwrap_or(old_lines.len());
    let mut new = String::with_capacity(old.len() + 200);
    for l in &old_lines[..at] {
        new.push_str(l);
        new.push('\n');
    }
    new.push_str("# sentry: refuse blocked addresses, count every other connection (added by `sentry setup`)\n");
    for l in missing {
        new.push_str(l);
        new.push('\n');
    }
    for l in &old_lines[at..] {
        new.push_str(l);
        new.push('\n');
    }
    let mode = match std::fs::metadata(path) {
        Ok(meta) => {
            use std::os::unix::fs::PermissionsExt;
            let backup = path.with_file_name(format!(
                "{}.sentry-backup",
                path.file_name()
                    .map(|n| n.to_string_lossy())
                    .unwrap_or_default()
            ));
            std::fs::copy(path, &backup).map_err(|e| Error::io("back up", path, &e))?;
            meta.permissions().mode() & 0o7777
        }
        Err(_) => 0o644,
    };
    atomic_file::replace(path, new.as_bytes(), mode)?;
    Ok(true)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn inserts_after_leading_comments_once_and_keeps_a_backup() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("hosts.allow");
        std::fs::write(
            &path,
            "# /etc/hosts.allow\n#\n\nALL : 192.0.2.0/24 : allow\n",
        )
        .expect("seed");
        let lines = [
            "sshd : /var/db/sentry/hosts.deny : deny".to_string(),
            "sshd : ALL : spawn /var/db/sentry/sentry --connect --ip=%a : allow".to_string(),
        ];
        assert!(write_hosts_allow(&path, &lines).expect("first write"));
        let text = std::fs::read_to_string(&path).expect("read");
        let body: Vec<&str> = text.lines().collect();
        assert_eq!(body[0..3], ["# /etc/hosts.allow", "#", ""]);
        assert_eq!(body[4], lines[0]);
        assert_eq!(body[5], lines[1]);
        assert_eq!(body[6], "ALL : 192.0.2.0/24 : allow");
        assert!(dir.path().join("hosts.allow.sentry-backup").exists());
        assert!(
            !write_hosts_allow(&path, &lines).expect("second write"),
            "idempotent"
        );
        assert_eq!(std::fs::read_to_string(&path).expect("read"), text);
    }
}
