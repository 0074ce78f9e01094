/*!
The one place that replaces files and serialises writers.

tcpd re-reads the deny file on every connection, and dozens of `sentry` processes
may change it at once. A reader must therefore see either the old or the new
file, never half of one, and two writers must never both start from the same
old content (the second would undo the first). So every rewrite takes an
exclusive lock on a separate lock file (the data file itself is replaced, so a
lock on it would be lost with the old inode), writes a temporary file in the same
directory, fsyncs it, renames it over the original and fsyncs the directory.

Other local users must not get a say in any of this. A lock file is opened by root only
(mode 0600, never through a symbolic link): `flock` works on a read-only descriptor, so a
lock anyone can open is a lock anyone can hold. The temporary file is created new
(`O_EXCL|O_NOFOLLOW`), so a name planted beside the target cannot redirect the write, and a
directory that another user can write is refused outright: whoever can write it can
replace the file itself.
*/

use std::fs::{self, File, OpenOptions, Permissions};
use std::io::{ErrorKind, Write};
use std::os::unix::fs::{MetadataExt, OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use crate::error::Error;

/// An exclusive advisory lock, released when dropped.
pub struct FileLock {
    _file: File,
}

/// Why a lock was not taken. Only [`LockError::Busy`] means another sentry is at work; a
/// lock file that cannot be opened (permissions, a link planted there, a full disk) is a
/// fault to report, never a reason to quietly skip the work.
#[derive(Debug)]
pub enum LockError {
    /// Another process held the lock for the whole wait.
    Busy { path: PathBuf, waited: Duration },
    /// The lock file could not be opened, inspected or locked.
    Unavailable(Error),
}

impl From<LockError> for Error {
    fn from(e: LockError) -> Error {
        match e {
            LockError::Busy { path, waited } => Error::Runtime(format!(
                "{} stayed locked by another sentry process for {} ms; try again",
                path.display(),
                waited.as_millis()
            )),
            LockError::Unavailable(e) => e,
        }
    }
}

impl FileLock {
    /// Waits up to `wait` for the lock on `path` (created if missing).
    /// The file is root's alone (0600); one an older sentry left wider is narrowed.
    pub fn acquire(path: &Path, wait: Duration) -> Result<FileLock, LockError> {
        let fault =
            |doing: &str, e: &std::io::Error| LockError::Unavailable(Error::io(doing, path, e));
        let file = OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .mode(0o600)
            .custom_flags(libc::O_NOFOLLOW)
            .open(path)
            .map_err(|e| fault("open the lock file", &e))?;
        let meta = file
            .metadata()
            .map_err(|e| fault("inspect the lock file", &e))?;
        if meta.mode() & 0o077 != 0 {
            file.set_permissions(Permissions::from_mode(0o600))
                .map_err(|e| fault("set permissions on", &e))?;
        }
        let deadline = Instant::now() + wait;
        let mut pause = Duration::from_millis(1);
        loop {
            match file.try_lock() {
                Ok(()) => return Ok(FileLock { _file: file }),
                Err(fs::TryLockError::WouldBlock) if Instant::now() < deadline => {
                    std::thread::sleep(pause);
                    pause = (pause * 2).min(Duration::from_millis(20));
                }
                Err(fs::TryLockError::WouldBlock) => {
                    return Err(LockError::Busy {
                        path: path.to_path_buf(),
                        waited: wait,
                    });
                }
                Err(fs::TryLockError::Error(e)) => return Err(fault("lock", &e)),
            }
        }
    }
}

/// Replaces `path` with `contents` atomically, with the given permission bits.
/// The caller holds the lock that serialises writers of this file.
pub fn replace(path: &Path, contents: &[u8], mode: u32) -> Result<(), Error> {
    Staged::write(path, contents, mode)?.commit()
}

/// The new contents of a file, written and flushed beside it but not yet in place, so the
/// caller can check them first (`update` runs a new binary's `--version`). Removed when
/// dropped uncommitted.
pub struct Staged {
    temp: PathBuf,
    target: PathBuf,
    committed: bool,
}

impl Staged {
    /// Writes `contents` to a temporary file in `target`'s directory, which only root (or
    /// this process's user) may write.
    pub fn write(target: &Path, contents: &[u8], mode: u32) -> Result<Staged, Error> {
        refuse_shared_directory(target)?;
        let name = target
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        let staged = Staged {
            temp: parent_dir(target).join(format!(".{name}.tmp.{}", std::process::id())),
            target: target.to_path_buf(),
            committed: false,
        };
        let temp = &staged.temp;
        let create = || {
            OpenOptions::new()
                .write(true)
                .create_new(true)
                .mode(mode & 0o777)
                .custom_flags(libc::O_NOFOLLOW)
                .open(temp)
        };
        // A leftover of a process that died with this pid: remove the name (never what a
        // link there points to) and create the file anew.
        let mut file = match create() {
            Err(e) if e.kind() == ErrorKind::AlreadyExists => {
                fs::remove_file(temp).map_err(|e| Error::io("remove", temp, &e))?;
                create()
            }
            other => other,
        }
        .map_err(|e| Error::io("create", temp, &e))?;
        file.set_permissions(Permissions::from_mode(mode))
            .map_err(|e| Error::io("set permissions on", temp, &e))?;
        file.write_all(contents)
            .map_err(|e| Error::io("write", temp, &e))?;
        file.sync_all().map_err(|e| Error::io("flush", temp, &e))?;
        Ok(staged)
    }

    /// Where the new contents are until `commit`.
    pub fn path(&self) -> &Path {
        &self.temp
    }

    /// Renames the new contents over the target, and makes the rename durable.
    pub fn commit(mut self) -> Result<(), Error> {
        fs::rename(&self.temp, &self.target).map_err(|e| Error::io("replace", &self.target, &e))?;
        self.committed = true;
        // Failure to flush the directory is not worth failing the command.
        if let Ok(d) = File::open(parent_dir(&self.target)) {
            let _ = d.sync_all();
        }
        Ok(())
    }
}

impl Drop for Staged {
    fn drop(&mut self) {
        if !self.committed {
            let _ = fs::remove_file(&self.temp);
        }
    }
}

/// Refuses to write `target` in a directory that a user other than root (or this process's
/// own user) can write: sticky bit or not, that user could replace the file.
fn refuse_shared_directory(target: &Path) -> Result<(), Error> {
    let dir = parent_dir(target);
    let meta = fs::metadata(&dir).map_err(|e| Error::io("inspect the directory of", target, &e))?;
    let mode = meta.mode() & 0o7777;
    let own_uid = fs::metadata("/proc/self").map(|m| m.uid()).unwrap_or(0);
    let who = if mode & 0o002 != 0 {
        "every user".to_string()
    } else if mode & 0o020 != 0 {
        format!("group {}", meta.gid())
    } else if meta.uid() != 0 && meta.uid() != own_uid {
        format!("its owner, uid {}", meta.uid())
    } else {
        return Ok(());
    };
    Err(Error::Runtime(format!(
        "refusing to write {}: its directory {} is writable by {who} (mode {mode:04o}), who \
         could replace the file or plant the temporary file written beside it; keep the file \
         in a directory only root can write (the sentry root, or /etc), or make {} so \
         (`chown root {} && chmod go-w {}`)",
        target.display(),
        dir.display(),
        dir.display(),
        dir.display(),
        dir.display()
    )))
}

fn parent_dir(path: &Path) -> PathBuf {
    match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
        _ => PathBuf::from("."),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn replace_writes_whole_file_with_mode() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("f");
        fs::write(&path, "old").expect("seed");
        replace(&path, b"new contents\n", 0o640).expect("replace");
        assert_eq!(fs::read_to_string(&path).expect("read"), "new contents\n");
        let mode = fs::metadata(&path).expect("meta").permissions().mode() & 0o777;
        assert_eq!(mode, 0o640);
        let leftovers: Vec<_> = fs::read_dir(dir.path()).expect("ls").collect();
        assert_eq!(leftovers.len(), 1, "no temporary file is left behind");
    }

    #[test]
    fn a_symlink_planted_at_the_temporary_name_is_not_followed() {
        let dir = tempfile::tempdir().expect("tempdir");
        let elsewhere = tempfile::tempdir().expect("tempdir");
        let victim = elsewhere.path().join("shadow");
        fs::write(&victim, "secret\n").expect("victim");
        fs::set_permissions(&victim, Permissions::from_mode(0o600)).expect("chmod");
        let path = dir.path().join("hosts.deny");
        std::os::unix::fs::symlink(
            &victim,
            dir.path()
                .join(format!(".hosts.deny.tmp.{}", std::process::id())),
        )
        .expect("plant");
        replace(&path, b"ALL: 192.0.2.1 : deny\n", 0o644).expect("replace");
        assert_eq!(fs::read_to_string(&victim).expect("read"), "secret\n");
        let mode = fs::metadata(&victim).expect("meta").permissions().mode() & 0o777;
        assert_eq!(mode, 0o600, "the target's mode is untouched");
        assert!(fs::symlink_metadata(&path).expect("meta").is_file());
        assert_eq!(
            fs::read_to_string(&path).expect("read"),
            "ALL: 192.0.2.1 : deny\n"
        );
    }

    #[test]
    fn a_directory_others_can_write_is_refused() {
        for mode in [0o777, 0o1777, 0o770, 0o722] {
            let dir = tempfile::tempdir().expect("tempdir");
            fs::set_permissions(dir.path(), Permissions::from_mode(mode)).expect("chmod");
            let path = dir.path().join("hosts.deny");
            let err = replace(&path, b"x\n", 0o644).expect_err("refused");
            let text = err.to_string();
            assert!(
                text.contains(&path.display().to_string()) && text.contains("writable"),
                "{mode:o}: {text}"
            );
            assert!(!path.exists());
        }
    }

    #[test]
    fn lock_is_exclusive_and_times_out() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("lock");
        let held = FileLock::acquire(&path, Duration::from_millis(10)).expect("first lock");
        let err = FileLock::acquire(&path, Duration::from_millis(30))
            .err()
            .expect("second waits and fails");
        assert!(matches!(err, LockError::Busy { .. }), "{err:?}");
        let err = Error::from(err);
        assert!(err.to_string().contains("stayed locked"), "{err}");
        drop(held);
        FileLock::acquire(&path, Duration::from_millis(10)).expect("free again");
    }

    #[test]
    fn a_lock_file_that_cannot_be_opened_is_not_busy() {
        let dir = tempfile::tempdir().expect("tempdir");
        // A directory where the lock file should be: opening it for writing fails.
        let path = dir.path().join("lock");
        fs::create_dir(&path).expect("mkdir");
        let err = FileLock::acquire(&path, Duration::from_millis(10))
            .err()
            .expect("cannot open");
        assert!(matches!(err, LockError::Unavailable(_)), "{err:?}");
        let text = Error::from(err).to_string();
        assert!(text.contains("open the lock file"), "{text}");
        // A symbolic link planted at the name is not followed, and not taken for a holder.
        let link = dir.path().join("linked.lock");
        std::os::unix::fs::symlink(dir.path().join("elsewhere"), &link).expect("plant");
        let err = FileLock::acquire(&link, Duration::from_millis(10))
            .err()
            .expect("refused");
        assert!(matches!(err, LockError::Unavailable(_)), "{err:?}");
    }
}
