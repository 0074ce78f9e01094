/*!
Reading log files incrementally: every line once, across all runs, through rotation.

Re-reading a whole log on every connection (what the originals did) lets an attacker
make each of his connections cost a scan of a log he makes grow. Instead a [`Cursor`]
per file remembers the file's identity (device, inode, first bytes) and the offset after
the last complete line read. On the next run:
- same file, grown: read from the offset;
- same file, shorter than the offset (truncated, or `copytruncate`): finish the copy
  (`FILE.1`) if it is the file the cursor was in, then read the new content from 0;
- another file at the path (rotated by rename): finish the old file, found as `FILE.1`
  (same inode) or `FILE.1.gz` (same first bytes), then read the new one from 0.

A last line without its newline is left for the next run: the writer may be mid-line.
Memory stays bounded: lines are streamed, and a line longer than [`MAX_LINE`] is skipped.
*/

use std::fs::File;
use std::io::{BufRead, BufReader, Read, Seek, SeekFrom};
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};

use crate::error::{Error, Result};
use crate::store::Cursor;

/// Longer lines are not syslog lines worth reading (syslog itself truncates far below).
pub const MAX_LINE: usize = 16 * 1024;
/// How many leading bytes identify a file across renames.
const FINGERPRINT_LEN: usize = 256;

/// Reads the complete lines of `path` that no earlier run has read, calling `visit` for
/// each, and returns where to start next time. `cursor` is where the last run stopped.
/// `budget` bounds the bytes read from the file in this call (it is decreased by what was
/// read): the lines past it stay for the next run, whose cursor starts there. What a
/// rotated generation still held after the cursor is read whole.
pub fn read_new_lines(
    path: &Path,
    cursor: Option<&Cursor>,
    visit: &mut dyn FnMut(&str),
    budget: &mut u64,
) -> Result<Cursor> {
    let source = path.display().to_string();
    // Only regular files: opening a FIFO would block until a writer comes (a `--connect`
    // must never hang), and a directory or device is a configuration mistake.
    match std::fs::metadata(path) {
        Ok(meta) if !meta.is_file() => {
            return Err(Error::Input(format!(
                "the log {} is not a regular file; fix `logs` in the configuration",
                path.display()
            )));
        }
        _ => {}
    }
    let file = match File::open(path) {
        Ok(f) => f,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            // Rotated away and not yet re-created: keep the cursor, nothing to read.
            return Ok(cursor.cloned().unwrap_or(Cursor {
                source,
                ..Cursor::default()
            }));
        }
        Err(e) => return Err(Error::io("open the log file", path, &e)),
    };
    let meta = file
        .metadata()
        .map_err(|e| Error::io("inspect the log file", path, &e))?;
    let fingerprint = read_fingerprint(&file, path)?;
    let same_identity = |c: &Cursor| c.device == meta.dev() && c.inode == meta.ino();

    let mut start = 0;
    if let Some(c) = cursor {
        let same_content = fingerprint.starts_with(&c.fingerprint) || c.fingerprint.is_empty();
        if same_identity(c) && meta.len() >= c.offset && same_content {
            start = c.offset;
        } else {
            finish_rotated(path, c, same_identity(c), visit)?;
        }
    }
    let mut reader = BufReader::with_capacity(64 * 1024, file);
    reader
        .seek(SeekFrom::Start(start))
        .map_err(|e| Error::io("seek in the log file", path, &e))?;
    let consumed = read_lines(&mut reader, visit, true, *budget)
        .map_err(|e| Error::io("read the log file", path, &e))?;
    *budget = budget.saturating_sub(consumed);
    Ok(Cursor {
        source,
        device: meta.dev(),
        inode: meta.ino(),
        offset: start + consumed,
        fingerprint,
    })
}

/// Every rotated generation of `path`, oldest first (`FILE.9.gz` ... `FILE.1`), for
/// `scan --from-start`.
pub fn rotated_generations(path: &Path) -> Vec<PathBuf> {
    let mut found = Vec::new();
    for n in (1..=20).rev() {
        for suffix in [format!(".{n}.gz"), format!(".{n}")] {
            let candidate = with_suffix(path, &suffix);
            if candidate.is_file() {
                found.push(candidate);
            }
        }
    }
    found
}

/// Reads a whole file, plain or gzip-compressed, from the start.
pub fn read_whole(path: &Path, visit: &mut dyn FnMut(&str)) -> Result<()> {
    let file = File::open(path).map_err(|e| Error::io("open the log file", path, &e))?;
    let result = if is_gzip(path) {
        read_lines(
            &mut BufReader::new(flate2::read::MultiGzDecoder::new(file)),
            visit,
            false,
            u64::MAX,
        )
    } else {
        read_lines(
            &mut BufReader::with_capacity(64 * 1024, file),
            visit,
            false,
            u64::MAX,
        )
    };
    result
        .map(|_| ())
        .map_err(|e| Error::io("read the log file", path, &e))
}

/// The cursor's file was replaced or truncated: read what it still held after the offset.
fn finish_rotated(
    path: &Path,
    cursor: &Cursor,
    truncated_in_place: bool,
    visit: &mut dyn FnMut(&str),
) -> Result<()> {
    let plain = with_suffix(path, ".1");
    if let Ok(file) = File::open(&plain) {
        let meta = file
            .metadata()
            .map_err(|e| Error::io("inspect", &plain, &e))?;
        let renamed = meta.dev() == cursor.device && meta.ino() == cursor.inode;
        // copytruncate leaves a copy (new inode) whose first bytes are the old file's.
        let copied =
            truncated_in_place && read_fingerprint(&file, &plain)?.starts_with(&cursor.fingerprint);
        if (renamed || copied) && meta.len() >= cursor.offset {
            let mut reader = BufReader::new(file);
            reader
                .seek(SeekFrom::Start(cursor.offset))
                .map_err(|e| Error::io("seek in", &plain, &e))?;
            read_lines(&mut reader, visit, false, u64::MAX)
                .map_err(|e| Error::io("read", &plain, &e))?;
            return Ok(());
        }
    }
    let gz = with_suffix(path, ".1.gz");
    if let Ok(file) = File::open(&gz) {
        let mut decoded = BufReader::new(flate2::read::MultiGzDecoder::new(file));
        let mut head = vec![0u8; cursor.fingerprint.len()];
        if decoded.read_exact(&mut head).is_ok() && head == cursor.fingerprint && !head.is_empty() {
            let skip = cursor.offset.saturating_sub(head.len() as u64);
            let skipped = std::io::copy(&mut (&mut decoded).take(skip), &mut std::io::sink())
                .map_err(|e| Error::io("read", &gz, &e))?;
            if skipped == skip {
                read_lines(&mut decoded, visit, false, u64::MAX)
                    .map_err(|e| Error::io("read", &gz, &e))?;
            }
        }
    }
    Ok(())
}

/// Calls `visit` per complete line; returns the bytes consumed. With `keep_partial`, a
/// final line without newline is not consumed (it is still being written). No line is
/// started once `budget` bytes were consumed.
fn read_lines(
    reader: &mut dyn BufRead,
    visit: &mut dyn FnMut(&str),
    keep_partial: bool,
    budget: u64,
) -> std::io::Result<u64> {
    let mut consumed = 0u64;
    let mut line = Vec::with_capacity(512);
    while consumed < budget {
        line.clear();
        let n = read_line_bounded(reader, &mut line, MAX_LINE)?;
        if n == 0 {
            return Ok(consumed);
        }
        let complete = line.last() == Some(&b'\n');
        // A partial last line is left for the next run, unless it is already longer than
        // any line worth reading: then it is skipped, or every run would read it again.
        if !complete && keep_partial && n <= MAX_LINE {
            return Ok(consumed);
        }
        consumed += n as u64;
        if overlong(&line, MAX_LINE) {
            continue;
        }
        let bytes = line.strip_suffix(b"\n").unwrap_or(&line);
        match std::str::from_utf8(bytes) {
            Ok(text) => visit(text),
            Err(_) => visit(&String::from_utf8_lossy(bytes)),
        }
    }
    Ok(consumed)
}

/// The index of the first `\n` in `bytes`, eight bytes at a time: the byte-by-byte search
/// was a tenth of `parse`'s time. In each word, a byte equal to `\n` becomes zero after the
/// xor; `(x - 0x01…) & !x & 0x80…` flags zero bytes, and the lowest flag is always a real
/// one (a borrow only travels up from a zero byte), so its position is the answer.
pub(crate) fn find_newline(bytes: &[u8]) -> Option<usize> {
    const ONES: u64 = 0x0101_0101_0101_0101;
    const HIGHS: u64 = 0x8080_8080_8080_8080;
    const NEWLINES: u64 = ONES * b'\n' as u64;
    let mut words = bytes.chunks_exact(8);
    let mut start = 0;
    for word in &mut words {
        let mut eight = [0u8; 8];
        eight.copy_from_slice(word);
        let x = u64::from_le_bytes(eight) ^ NEWLINES;
        let zeros = x.wrapping_sub(ONES) & !x & HIGHS;
        if zeros != 0 {
            return Some(start + (zeros.trailing_zeros() / 8) as usize);
        }
        start += 8;
    }
    (words.remainder().iter())
        .position(|&b| b == b'\n')
        .map(|i| start + i)
}

/// A line as text: borrowed where it is valid UTF-8 (the common case), with invalid bytes
/// replaced otherwise. For every reader of log lines (`parse`'s reading thread, `ingest`).
pub fn line_text(bytes: &[u8]) -> std::borrow::Cow<'_, str> {
    // `from_utf8` first: its check has a fast path for ASCII that `from_utf8_lossy`'s
    // chunked walk lacks, and nearly every line is valid.
    match std::str::from_utf8(bytes) {
        Ok(text) => std::borrow::Cow::Borrowed(text),
        Err(_) => String::from_utf8_lossy(bytes),
    }
}

/// Calls `each` with every line of `reader` as [`read_line_bounded`] returns it (an
/// overlong line cut, see [`overlong`]), until `each` says stop. A line whole in the
/// reader's buffer is handed over where it lies, not copied: `parse` reads whole logs,
/// and copying each line out was a tenth of its time. Between the reader's buffers `each`
/// gets None: the next line may have to wait for input (a pipe), so what is gathered
/// should go on now.
pub fn each_line_bounded(
    reader: &mut dyn BufRead,
    limit: usize,
    each: &mut dyn FnMut(Option<&[u8]>) -> bool,
) -> std::io::Result<()> {
    let mut spill: Vec<u8> = Vec::new();
    loop {
        let buf = match reader.fill_buf() {
            Ok(b) => b,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(e),
        };
        if buf.is_empty() {
            if !spill.is_empty() {
                each(Some(&spill));
            }
            return Ok(());
        }
        let mut used = 0;
        let mut go = true;
        if spill.is_empty() {
            while let Some(i) = find_newline(&buf[used..]) {
                let line = &buf[used..used + i + 1];
                used += i + 1;
                go = if line.len() > limit + 1 {
                    spill.extend_from_slice(&line[..limit + 1]);
                    spill.push(b'\n');
                    let go = each(Some(&spill));
                    spill.clear();
                    go
                } else {
                    each(Some(line))
                };
                if !go {
                    break;
                }
            }
        }
        if go {
            // The start (or more) of a line that goes on past the buffer.
            let (taken, done) = append_bounded(&mut spill, &buf[used..], limit);
            used += taken;
            if done {
                go = each(Some(&spill));
                spill.clear();
            }
        }
        reader.consume(used);
        if !go || !each(None) {
            return Ok(());
        }
    }
}

/// Like `read_until(b'\n')` but keeps at most `limit + 1` bytes of a line in memory (the
/// rest is counted and dropped, see [`overlong`]). Returns the bytes consumed. Every reader
/// of lines (files, `parse`, `ingest`, journalctl's output) goes through it: a writer of
/// one endless line must not make sentry hold it.
pub fn read_line_bounded(
    reader: &mut dyn BufRead,
    line: &mut Vec<u8>,
    limit: usize,
) -> std::io::Result<usize> {
    let mut total = 0;
    loop {
        let buf = match reader.fill_buf() {
            Ok(b) => b,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(e),
        };
        if buf.is_empty() {
            return Ok(total);
        }
        let (used, done) = append_bounded(line, buf, limit);
        reader.consume(used);
        total += used;
        if done {
            return Ok(total);
        }
    }
}

/// Appends `buf` up to and including its first newline to `line`, keeping at most
/// `limit + 1` bytes of the line; an overlong line keeps its end marker so that it counts as
/// complete. Returns the bytes of `buf` taken and whether the line ended in them.
fn append_bounded(line: &mut Vec<u8>, buf: &[u8], limit: usize) -> (usize, bool) {
    let (chunk, done) = match find_newline(buf) {
        Some(i) => (&buf[..=i], true),
        None => (buf, false),
    };
    let room = (limit + 1).saturating_sub(line.len());
    line.extend_from_slice(&chunk[..chunk.len().min(room)]);
    if done && line.last() != Some(&b'\n') {
        line.push(b'\n');
    }
    (chunk.len(), done)
}

/// Whether a line read by [`read_line_bounded`] with `limit` was longer than that (and so
/// was cut in memory: it is skipped, never read in part).
pub fn overlong(line: &[u8], limit: usize) -> bool {
    line.strip_suffix(b"\n").unwrap_or(line).len() > limit
}

fn read_fingerprint(file: &File, path: &Path) -> Result<Vec<u8>> {
    let mut head = Vec::with_capacity(FINGERPRINT_LEN);
    let mut handle = file;
    handle
        .seek(SeekFrom::Start(0))
        .map_err(|e| Error::io("read", path, &e))?;
    handle
        .take(FINGERPRINT_LEN as u64)
        .read_to_end(&mut head)
        .map_err(|e| Error::io("read", path, &e))?;
    Ok(head)
}

fn with_suffix(path: &Path, suffix: &str) -> PathBuf {
    let mut name = path.as_os_str().to_owned();
    name.push(suffix);
    PathBuf::from(name)
}

fn is_gzip(path: &Path) -> bool {
    path.extension().is_some_and(|e| e == "gz")
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    #[test]
    fn find_newline_agrees_with_a_byte_by_byte_search() {
        // Every position in words and remainders, next to bytes that differ from `\n` by
        // one bit, high bytes and other newlines.
        let fillers: [u8; 6] = [b'a', 0x0b, 0x09, 0x8a, 0xff, 0x00];
        for len in 0..40 {
            for filler in fillers {
                let mut bytes = vec![filler; len];
                assert_eq!(find_newline(&bytes), None, "{bytes:?}");
                for at in 0..len {
                    bytes[at] = b'\n';
                    let expected = bytes.iter().position(|&b| b == b'\n');
                    assert_eq!(find_newline(&bytes), expected, "{bytes:?}");
                    assert_eq!(expected, Some(at));
                    // A second newline later changes nothing.
                    if at + 3 < len {
                        bytes[at + 3] = b'\n';
                        assert_eq!(find_newline(&bytes), Some(at), "{bytes:?}");
                        bytes[at + 3] = filler;
                    }
                    bytes[at] = filler;
                }
            }
        }
    }

    /// The in-place reader hands over the lines the copying one returns, whatever the
    /// buffer size: short, empty, overlong, across the buffer, without a final newline.
    #[test]
    fn each_line_is_read_line_bounded() {
        let long = "x".repeat(40);
        let texts = [
            String::new(),
            "a\n".to_string(),
            "a\n\nbc\n".to_string(),
            format!("a\n{long}\nb\n{long}"),
            format!("{long}\n{long}\nshort\nend"),
            "no newline at all".to_string(),
        ];
        for text in &texts {
            for capacity in [1, 3, 7, 16, 64, 1024] {
                for limit in [4, 10, 100] {
                    let mut expected = Vec::new();
                    let mut reader = std::io::BufReader::with_capacity(capacity, text.as_bytes());
                    let mut line = Vec::new();
                    while read_line_bounded(&mut reader, &mut line, limit).expect("read") > 0 {
                        expected.push(std::mem::take(&mut line));
                    }
                    let mut got = Vec::new();
                    let mut reader = std::io::BufReader::with_capacity(capacity, text.as_bytes());
                    each_line_bounded(&mut reader, limit, &mut |l| {
                        got.extend(l.map(<[u8]>::to_vec));
                        true
                    })
                    .expect("read");
                    assert_eq!(got, expected, "{text:?} {capacity} {limit}");
                }
            }
        }
    }

    fn collect(path: &Path, cursor: Option<&Cursor>) -> (Vec<String>, Cursor) {
        let mut lines = Vec::new();
        let mut all = u64::MAX;
        let c = read_new_lines(path, cursor, &mut |l| lines.push(l.to_string()), &mut all)
            .expect("read");
        (lines, c)
    }

    fn append(path: &Path, text: &str) {
        let mut f = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(path)
            .expect("open");
        f.write_all(text.as_bytes()).expect("append");
    }

    #[test]
    fn reads_each_line_once_and_leaves_partial_lines() {
        let dir = tempfile::tempdir().expect("tempdir");
        let log = dir.path().join("auth.log");
        append(&log, "one\ntwo\nthr");
        let (lines, c) = collect(&log, None);
        assert_eq!(lines, ["one", "two"]);
        let (lines, c) = collect(&log, Some(&c));
        assert!(lines.is_empty());
        append(&log, "ee\nfour\n");
        let (lines, _) = collect(&log, Some(&c));
        assert_eq!(lines, ["three", "four"]);
    }

    #[test]
    fn rename_rotation_finishes_the_old_file_first() {
        let dir = tempfile::tempdir().expect("tempdir");
        let log = dir.path().join("auth.log");
        append(&log, "a1\na2\n");
        let (_, c) = collect(&log, None);
        append(&log, "a3\n");
        std::fs::rename(&log, dir.path().join("auth.log.1")).expect("rotate");
        append(&log, "b1\n");
        let (lines, _) = collect(&log, Some(&c));
        assert_eq!(lines, ["a3", "b1"]);
    }

    #[test]
    fn gzip_rotation_is_finished_too() {
        let dir = tempfile::tempdir().expect("tempdir");
        let log = dir.path().join("auth.log");
        append(&log, "a1\na2\n");
        let (_, c) = collect(&log, None);
        append(&log, "a3\n");
        let old = std::fs::read(&log).expect("read");
        let gz = std::fs::File::create(dir.path().join("auth.log.1.gz")).expect("create gz");
        let mut enc = flate2::write::GzEncoder::new(gz, flate2::Compression::default());
        enc.write_all(&old).expect("compress");
        enc.finish().expect("finish gz");
        std::fs::remove_file(&log).expect("remove");
        append(&log, "b1\n");
        let (lines, _) = collect(&log, Some(&c));
        assert_eq!(lines, ["a3", "b1"]);
    }

    #[test]
    fn copytruncate_and_plain_truncation() {
        let dir = tempfile::tempdir().expect("tempdir");
        let log = dir.path().join("auth.log");
        append(&log, "a1\na2\n");
        let (_, c) = collect(&log, None);
        append(&log, "a3\n");
        std::fs::copy(&log, dir.path().join("auth.log.1")).expect("copy");
        std::fs::File::create(&log).expect("truncate");
        append(&log, "b1\n");
        let (lines, c) = collect(&log, Some(&c));
        assert_eq!(lines, ["a3", "b1"]);

        // Truncated with no copy: start again from the beginning.
        std::fs::remove_file(dir.path().join("auth.log.1")).expect("rm");
        std::fs::File::create(&log).expect("truncate");
        append(&log, "c1\n");
        let (lines, _) = collect(&log, Some(&c));
        assert_eq!(lines, ["c1"]);
    }

    #[test]
    fn overlong_lines_are_skipped_with_bounded_memory() {
        let dir = tempfile::tempdir().expect("tempdir");
        let log = dir.path().join("auth.log");
        append(&log, &format!("ok1\n{}\nok2\n", "x".repeat(MAX_LINE * 4)));
        let (lines, c) = collect(&log, None);
        assert_eq!(lines, ["ok1", "ok2"]);
        assert_eq!(c.offset, std::fs::metadata(&log).expect("meta").len());
    }

    #[test]
    fn an_overlong_unfinished_line_is_skipped_not_reread() {
        let dir = tempfile::tempdir().expect("tempdir");
        let log = dir.path().join("auth.log");
        append(&log, &format!("ok1\n{}", "x".repeat(MAX_LINE * 2)));
        let (lines, c) = collect(&log, None);
        assert_eq!(lines, ["ok1"]);
        assert_eq!(c.offset, std::fs::metadata(&log).expect("meta").len());
    }

    #[test]
    fn a_budget_leaves_the_rest_for_the_next_run() {
        let dir = tempfile::tempdir().expect("tempdir");
        let log = dir.path().join("auth.log");
        append(&log, "one\ntwo\nthree\nfour\n");
        let mut lines = Vec::new();
        let mut budget = 5;
        let c = read_new_lines(&log, None, &mut |l| lines.push(l.to_string()), &mut budget)
            .expect("read");
        // A line once started is read whole: `one\n` (4) then `two\n` (4 > 5 - 4).
        assert_eq!(lines, ["one", "two"]);
        assert_eq!((c.offset, budget), (8, 0));
        let (rest, _) = collect(&log, Some(&c));
        assert_eq!(rest, ["three", "four"]);
    }

    #[test]
    fn only_regular_files_are_read() {
        let dir = tempfile::tempdir().expect("tempdir");
        let mut all = u64::MAX;
        let err = read_new_lines(dir.path(), None, &mut |_| {}, &mut all).expect_err("a directory");
        assert!(err.to_string().contains("not a regular file"), "{err}");
    }

    #[test]
    fn generations_are_listed_oldest_first() {
        let dir = tempfile::tempdir().expect("tempdir");
        let log = dir.path().join("auth.log");
        for name in ["auth.log", "auth.log.1", "auth.log.2.gz", "auth.log.3.gz"] {
            append(&dir.path().join(name), "x\n");
        }
        let names: Vec<String> = rotated_generations(&log)
            .iter()
            .map(|p| p.file_name().expect("name").to_string_lossy().into_owned())
            .collect();
        assert_eq!(names, ["auth.log.3.gz", "auth.log.2.gz", "auth.log.1"]);
    }
}
