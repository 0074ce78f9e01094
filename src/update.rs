/*!
`sentry update` (the original's `--update`): install this binary at `$ROOT/sentry`, the
path hosts.allow spawns, when it is newer than what is there.

The new binary is copied next to the old one, flushed, then renamed over it — tcpd
spawning sentry at that moment runs either the old or the new file, never half of one.
The old one is kept as `sentry.old` (a hard link made before the rename). Fetching a
release from an `update_url` is not built yet: copy the new binary here and run it.
*/

use std::fs;
use std::path::Path;
use std::time::Duration;

use crate::atomic_file;
use crate::error::{Error, Result};
use crate::exec;

/// What `update` did.
#[derive(Debug, PartialEq, Eq)]
pub enum Outcome {
    Installed { from: Option<String>, to: String },
    AlreadyCurrent { installed: String },
}

/// This build's version.
pub fn own_version() -> &'static str {
    env!("CARGO_PKG_VERSION")
}

/// Installs `source` (this binary) at `target` unless `target` reports the same or a newer
/// version (`--force` installs anyway).
pub fn install(source: &Path, target: &Path, force: bool) -> Result<Outcome> {
    let mine = own_version().to_string();
    let installed = match installed_version(target) {
        Ok(version) => version,
        // --force replaces even what does not answer like sentry.
        Err(_) if force => None,
        Err(e) => return Err(e),
    };
    if let Some(theirs) = &installed
        && !force
        && parse_version(theirs) >= parse_version(&mine)
    {
        return Ok(Outcome::AlreadyCurrent {
            installed: theirs.clone(),
        });
    }
    let bytes = fs::read(source).map_err(|e| Error::io("read", source, &e))?;
    if target.exists() {
        let old = target.with_file_name("sentry.old");
        let _ = fs::remove_file(&old);
        fs::hard_link(target, &old).map_err(|e| Error::io("keep the old binary as", &old, &e))?;
    }
    atomic_file::replace(target, &bytes, 0o750)?;
    Ok(Outcome::Installed {
        from: installed,
        to: mine,
    })
}

/// The version the binary at `path` reports (`sentry X.Y.Z`), None when there is none.
/// A file that does not answer like sentry is refused rather than overwritten.
fn installed_version(path: &Path) -> Result<Option<String>> {
    if !path.exists() {
        return Ok(None);
    }
    let out = exec::run(
        path,
        &["--version".to_string()],
        None,
        Duration::from_secs(5),
    )?;
    let text = String::from_utf8_lossy(&out.stdout);
    match text.trim().strip_prefix("sentry ") {
        Some(version) if out.status.success() => Ok(Some(version.to_string())),
        _ => Err(Error::Input(format!(
            "{} does not answer `--version` like sentry (the Perl or bash original?); \
             move it aside, or use `sentry update --force` to replace it",
            path.display()
        ))),
    }
}

/// `1.2.3` → (1, 2, 3); missing or odd parts count as 0.
fn parse_version(text: &str) -> (u64, u64, u64) {
    let mut parts = text
        .split(['.', '-', '+'])
        .map(|p| p.parse::<u64>().unwrap_or(0));
    (
        parts.next().unwrap_or(0),
        parts.next().unwrap_or(0),
        parts.next().unwrap_or(0),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn versions_compare_numerically() {
        assert!(parse_version("3.0.10") > parse_version("3.0.9"));
        assert!(parse_version("10.0.0") > parse_version("9.9.9"));
        assert_eq!(parse_version("2.00"), (2, 0, 0));
    }
}
