/*!
The oldest sentry layout: one file per address, no database.

`$ROOT/seen/A/B/C/D` holds one timestamp line per connection from A.B.C.D, and a file
at `$ROOT/white/A/B/C/D` or `$ROOT/black/A/B/C/D` marks the address as allowed or
blocked (its timestamp is the file's content when that is a number, else its mtime).
[`read`] turns such a tree into records; [`remove`] deletes exactly the files that were
read, and is only called after the records were committed, so a crash in between
never loses data.
*/

use std::fs;
use std::path::{Path, PathBuf};
use std::time::UNIX_EPOCH;

use super::IpRecord;
use crate::error::{Error, Result};
use crate::ip::ClientIp;

/// The three directories of the old layout.
const DIRS: [&str; 3] = ["seen", "white", "black"];

/// What was found in an old layout.
#[derive(Debug, Default)]
pub struct LegacyTree {
    /// One record per address, merged across the three directories.
    pub records: Vec<IpRecord>,
    /// Every file that was read (to delete after the import committed).
    pub files: Vec<PathBuf>,
    /// Paths that did not name a valid address, left untouched.
    pub skipped: Vec<PathBuf>,
}

/// True when `root` still has any directory of the one-file-per-address layout.
pub fn present(root: &Path) -> bool {
    DIRS.iter().any(|d| root.join(d).is_dir())
}

/// Reads the whole layout under `root`.
pub fn read(root: &Path) -> Result<LegacyTree> {
    let mut tree = LegacyTree::default();
    let mut by_ip: std::collections::BTreeMap<ClientIp, IpRecord> = Default::default();
    for dir in DIRS {
        let base = root.join(dir);
        if !base.is_dir() {
            continue;
        }
        let mut files = Vec::new();
        collect_files(&base, 0, &mut files)?;
        for path in files {
            let Some(ip) = address_of(&base, &path) else {
                tree.skipped.push(path);
                continue;
            };
            let record = by_ip.entry(ip).or_insert_with(|| IpRecord::unseen(ip));
            match dir {
                "seen" => record.seen += connection_count(&path)?,
                "white" => record.allow = record.allow.max(timestamp_of(&path)?),
                _ => record.block = record.block.max(timestamp_of(&path)?),
            }
            tree.files.push(path);
        }
    }
    for record in by_ip.values_mut() {
        // The old tool consulted the allow list first: allowed wins.
        if record.allow > 0 {
            record.block = 0;
        }
    }
    tree.records = by_ip.into_values().collect();
    Ok(tree)
}

/// Deletes the imported files, then whichever directories that left empty.
pub fn remove(root: &Path, files: &[PathBuf]) -> Result<()> {
    for file in files {
        match fs::remove_file(file) {
            Ok(()) => {}
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => return Err(Error::io("remove the imported file", file, &e)),
        }
        // Prune emptied parents up to (and including) seen/white/black; stop at the first non-empty.
        let mut dir = file.parent();
        while let Some(d) = dir {
            if d == root || fs::remove_dir(d).is_err() {
                break;
            }
            dir = d.parent();
        }
    }
    Ok(())
}

fn collect_files(dir: &Path, depth: usize, out: &mut Vec<PathBuf>) -> Result<()> {
    let entries = fs::read_dir(dir).map_err(|e| Error::io("read the directory", dir, &e))?;
    for entry in entries {
        let entry = entry.map_err(|e| Error::io("read the directory", dir, &e))?;
        let path = entry.path();
        let kind = entry
            .file_type()
            .map_err(|e| Error::io("inspect", &path, &e))?;
        if kind.is_dir() && depth < 3 {
            collect_files(&path, depth + 1, out)?;
        } else if kind.is_file() {
            out.push(path);
        }
    }
    Ok(())
}

/// `base/A/B/C/D` → `A.B.C.D`, validated like any other address.
fn address_of(base: &Path, path: &Path) -> Option<ClientIp> {
    let relative = path.strip_prefix(base).ok()?;
    let parts: Vec<&str> = relative.iter().map(|p| p.to_str()).collect::<Option<_>>()?;
    if parts.len() != 4 {
        return None;
    }
    ClientIp::parse(&parts.join(".")).ok()
}

fn connection_count(path: &Path) -> Result<i64> {
    let text = fs::read_to_string(path).map_err(|e| Error::io("read", path, &e))?;
    let lines = text.lines().filter(|l| !l.trim().is_empty()).count();
    // The file exists because the address connected at least once.
    Ok(i64::try_from(lines).unwrap_or(i64::MAX).max(1))
}

fn timestamp_of(path: &Path) -> Result<i64> {
    let text = fs::read_to_string(path).map_err(|e| Error::io("read", path, &e))?;
    if let Some(ts) = text
        .split_whitespace()
        .next()
        .and_then(|w| w.parse::<i64>().ok())
        .filter(|ts| *ts > 0)
    {
        return Ok(ts);
    }
    let modified = fs::metadata(path)
        .and_then(|m| m.modified())
        .map_err(|e| Error::io("inspect", path, &e))?;
    let secs = modified
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(1);
    Ok(i64::try_from(secs).unwrap_or(i64::MAX).max(1))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn touch(root: &Path, rel: &str, contents: &str) {
        let path = root.join(rel);
        fs::create_dir_all(path.parent().expect("parent")).expect("mkdir");
        fs::write(path, contents).expect("write");
    }

    #[test]
    fn reads_counts_and_lists_then_removes_only_what_it_read() {
        let dir = tempfile::tempdir().expect("tempdir");
        let root = dir.path();
        touch(
            root,
            "seen/192/0/2/7",
            "1700000000\n1700000001\n1700000002\n",
        );
        touch(root, "seen/198/51/100/9", "1700000000\n");
        touch(root, "black/198/51/100/9", "1700000500\n");
        touch(root, "white/192/0/2/7", "");
        touch(root, "seen/999/1/1/1", "1\n");
        touch(root, "seen/notes.txt", "keep me");

        let tree = read(root).expect("read");
        let find = |ip: &str| tree.records.iter().find(|r| r.ip == ip).cloned().expect(ip);
        assert_eq!(find("192.0.2.7").seen, 3);
        assert!(find("192.0.2.7").allow > 0);
        assert_eq!(find("192.0.2.7").block, 0);
        assert_eq!(find("198.51.100.9").seen, 1);
        assert_eq!(find("198.51.100.9").block, 1_700_000_500);
        assert_eq!(tree.records.len(), 2);
        assert_eq!(
            tree.skipped.len(),
            2,
            "invalid address and stray file are skipped"
        );

        remove(root, &tree.files).expect("remove");
        assert!(!root.join("seen/192").exists());
        assert!(!root.join("black").exists());
        assert!(root.join("seen/999/1/1/1").exists(), "skipped files stay");
        assert!(root.join("seen/notes.txt").exists());
    }
}
