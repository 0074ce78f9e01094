/*!
The root directory and the database in it, kept private.

The database holds the allow list, the user names of failed logins and the first bytes
of log lines: nothing other local users should read. So every command makes sure, before
opening the database, that the root is 0700 and `sentry.db` with its `-wal` and `-shm`
files 0600 — or 0750 and 0640 with the group the admin named (`group = "adm"`). Whatever
is wider (an older sentry, `sentry update` before `setup`, an admin's `mkdir`) is narrowed,
with a warning. SQLite creates the `-wal` and `-shm` files with the database's own mode and
owner, so a database created private stays private. Lock files are root's alone whatever
the group (`atomic_file::FileLock`): a lock that can be opened can be held.
*/

use std::fs::{self, OpenOptions, Permissions};
use std::io::ErrorKind;
use std::os::unix::fs::{DirBuilderExt, MetadataExt, OpenOptionsExt, PermissionsExt};
use std::path::Path;

use crate::config::Config;
use crate::error::{Error, Result};

/// The database and the files SQLite keeps beside it.
const DATABASE_FILES: [&str; 3] = ["", "-wal", "-shm"];

/// Creates the root (and an empty database) with private modes, or narrows what is wider.
/// What was narrowed goes to syslog, and to stderr when `to_stderr` (not for `--connect`,
/// which must stay silent).
pub fn ensure(config: &Config, to_stderr: bool) -> Result<()> {
    let gid = ensure_directory(config, to_stderr)?;
    let root = &config.root;
    let file_mode = if gid.is_some() { 0o640 } else { 0o600 };
    let database = config.database_path();
    // Created here, not by SQLite (which would make it 0644), so that the WAL and
    // shared-memory files SQLite adds later take this mode from it.
    match OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(file_mode)
        .custom_flags(libc::O_NOFOLLOW)
        .open(&database)
    {
        Ok(_) => {}
        Err(e) if e.kind() == ErrorKind::AlreadyExists => {}
        // Not root: whether the database exists is not the point.
        Err(e) if e.kind() == ErrorKind::PermissionDenied => {
            return Err(Error::io("open the database", &database, &e));
        }
        Err(e) => return Err(Error::io("create the database", &database, &e)),
    }
    for suffix in DATABASE_FILES {
        let mut path = database.clone().into_os_string();
        path.push(suffix);
        let path = Path::new(&path);
        if fs::symlink_metadata(path).is_ok_and(|m| m.is_file()) {
            keep_private(path, file_mode, gid, to_stderr)?;
        }
    }
    // Lock files are narrowed when taken; those of older sentries are narrowed here too,
    // even when this command takes none.
    let entries = fs::read_dir(root).map_err(|e| Error::io("list", root, &e))?;
    for entry in entries.flatten() {
        let name = entry.file_name();
        let name = name.to_string_lossy();
        if name.starts_with('.')
            && name.ends_with(".lock")
            && entry.file_type().is_ok_and(|t| t.is_file())
        {
            keep_private(&entry.path(), 0o600, None, to_stderr)?;
        }
    }
    Ok(())
}

/// For the commands that only read (`report`, `dump`, `check`, `metrics`): whether the
/// root holds a database, creating nothing. A root that does not exist is an error (a
/// typo in `--root` must not look like a fresh, empty sentry); one the caller may not
/// look into says so, rather than that something is missing.
pub fn has_database(config: &Config) -> Result<bool> {
    let root = &config.root;
    match fs::metadata(root) {
        Ok(meta) if meta.is_dir() => {}
        Ok(_) => {
            return Err(Error::Input(format!(
                "{} is not a directory: the sentry root is one (run sentry setup)",
                root.display()
            )));
        }
        Err(e) if e.kind() == ErrorKind::NotFound => {
            return Err(Error::Input(format!(
                "no sentry root {}: run sentry setup",
                root.display()
            )));
        }
        Err(e) => return Err(Error::io("look into", root, &e)),
    }
    let database = config.database_path();
    match fs::metadata(&database) {
        Ok(_) => Ok(true),
        Err(e) if e.kind() == ErrorKind::NotFound => Ok(false),
        Err(e) => Err(Error::io("open the database", &database, &e)),
    }
}

/// Creates the root directory private, or narrows it; returns the group given access.
pub fn ensure_directory(config: &Config, to_stderr: bool) -> Result<Option<u32>> {
    let gid = config.group.as_deref().map(group_id).transpose()?;
    let dir_mode = if gid.is_some() { 0o750 } else { 0o700 };
    let root = &config.root;
    if !root.is_dir() {
        fs::DirBuilder::new()
            .recursive(true)
            .mode(dir_mode)
            .create(root)
            .map_err(|e| Error::io("create the sentry root directory", root, &e))?;
    }
    keep_private(root, dir_mode, gid, to_stderr)?;
    Ok(gid)
}

/// Sets `path` to `mode` and, if given, group `gid`; warns when it was open to more users.
fn keep_private(path: &Path, mode: u32, gid: Option<u32>, to_stderr: bool) -> Result<()> {
    let meta = fs::metadata(path).map_err(|e| Error::io("inspect", path, &e))?;
    let had = meta.mode() & 0o7777;
    if had & !mode != 0 {
        let message = format!(
            "{} was mode {had:04o}, open to other users; set to {mode:04o} (sentry's files hold \
             the allow list, user names and log excerpts; `group` in the configuration gives \
             one group read access)",
            path.display()
        );
        if to_stderr {
            eprintln!("sentry: warning: {message}");
        }
        crate::syslog::warn(&message);
    }
    if let Some(gid) = gid
        && meta.gid() != gid
    {
        std::os::unix::fs::chown(path, None, Some(gid))
            .map_err(|e| Error::io("change the group of", path, &e))?;
    }
    if had != mode {
        fs::set_permissions(path, Permissions::from_mode(mode))
            .map_err(|e| Error::io("set permissions on", path, &e))?;
    }
    Ok(())
}

/// The number of the group `name` (a number is taken as it is), from /etc/group.
fn group_id(name: &str) -> Result<u32> {
    if let Ok(gid) = name.parse::<u32>() {
        return Ok(gid);
    }
    let path = Path::new("/etc/group");
    let text = fs::read_to_string(path).map_err(|e| Error::io("read", path, &e))?;
    text.lines()
        .filter_map(|line| {
            let mut fields = line.split(':');
            let (group, _, gid) = (fields.next()?, fields.next()?, fields.next()?);
            (group == name).then(|| gid.parse::<u32>().ok()).flatten()
        })
        .next()
        .ok_or_else(|| {
            Error::Input(format!(
                "key `group`: no group named {name:?} in /etc/group; name an existing group \
                 (or its number), or remove the key"
            ))
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn groups_are_found_by_name_or_number() {
        assert_eq!(group_id("root").expect("root group"), 0);
        assert_eq!(group_id("4242").expect("number"), 4242);
        let err = group_id("no-such-group-here").expect_err("unknown");
        assert!(err.to_string().contains("key `group`"), "{err}");
    }
}
