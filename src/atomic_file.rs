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
    let dir = parent_dir(path);
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let temp: PathBuf = dir.join(format!(".{name}.tmp.{}", std::process::id()));
    let result = (|| {
        let mut file = File::create(&temp).map_err(|e| Error::io("create", &temp, &e))?;
        file.set_permissions(Permissions::from_mode(mode))
            .map_err(|e| Error::io("set permissions on", &temp, &e))?;
        file.write_all(contents)
            .map_err(|e| Error::io("write", &temp, &e))?;
        file.sync_all().map_err(|e| Error::io("flush", &temp, &e))?;
        fs::rename(&temp, path).map_err(|e| Error::io("replace", path, &e))?;
        // Make the rename itself durable; failure here is not worth failing the command.
        if let Ok(d) = File::open(&dir) {
            let _ = d.sync_all();
        }
        Ok(())
    })();
    if result.is_err() {
        let _ = fs::remove_file(&temp);
    }
    result
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
