/*!
The one place that replaces files and serialises writers.

tcpd re-reads the deny file on every connection, and dozens of `sentry` processes
may change it at once. A reader must therefore see either the old or the new
file, never half of one, and two writers must never both start from the same
old content (the second would undo the first). So every rewrite takes an
exclusive lock on a separate lock file (the data file itself is replaced, so a
lock on it would be lost with the old inode), writes a temporary file in the same
directory, fsyncs it, renames it over the original and fsyncs the directory.
*/

use std::fs::{self, File, OpenOptions, Permissions};
use std::io::Write;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use crate::error::Error;

/// An exclusive advisory lock, released when dropped.
pub struct FileLock {
    _file: File,
}

impl FileLock {
    /// Waits up to `wait` for the lock on `path` (created if missing).
    pub fn acquire(path: &Path, wait: Duration) -> Result<FileLock, Error> {
        let file = OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .open(path)
            .map_err(|e| Error::io("open the lock file", path, &e))?;
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
                    return Err(Error::Runtime(format!(
                        "{} stayed locked by another sentry process for {} ms; try again",
                        path.display(),
                        wait.as_millis()
                    )));
                }
                Err(fs::TryLockError::Error(e)) => return Err(Error::io("lock", path, &e)),
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
    /// Writes `contents` to a temporary file in `target`'s directory.
    pub fn write(target: &Path, contents: &[u8], mode: u32) -> Result<Staged, Error> {
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
        let mut file = File::create(temp).map_err(|e| Error::io("create", temp, &e))?;
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
    fn lock_is_exclusive_and_times_out() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("lock");
        let held = FileLock::acquire(&path, Duration::from_millis(10)).expect("first lock");
        let err = FileLock::acquire(&path, Duration::from_millis(30))
            .err()
            .expect("second waits and fails");
        assert!(err.to_string().contains("stayed locked"), "{err}");
        drop(held);
        FileLock::acquire(&path, Duration::from_millis(10)).expect("free again");
    }
}
