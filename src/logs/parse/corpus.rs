//! Data-driven parser tests: every file in `tests/parse-corpus/` is a list of real log
//! lines, each followed by the event it must produce:
//!
//! ```text
//! # comments and blank lines are ignored
//! Nov 24 10:00:00 web1 sshd[123]: Invalid user admin from 203.0.113.9 port 4242
//! => naughty 203.0.113.9 admin
//! Nov 24 10:00:00 web1 sshd[123]: Received disconnect from 203.0.113.9 port 4242:11: Bye
//! => none
//! ```
//!
//! The expectation is `=> KIND ADDRESS USER` (`-` for no user; user names with spaces are
//! written as they are, to the end of the line), then ` score=S` for a spam score and
//! ` count=N` for a line that stands for N events, or `=> none`. Run with `SENTRY_BLESS=1` to
//! rewrite every file's expectations from what the parsers now produce, or
//! `SENTRY_BLESS=sshd.txt` for one file — then read the diff.
//!
//! A line whose event waits for the log's next line (MySQL's, see `Held`) is expected to
//! give that event once the next line confirms it: follow it with one in the file.

use std::fmt::Write as _;
use std::path::Path;

use super::{ParseOptions, Parser};
use crate::logs::Event;

/// 2026-11-25T12:00:00Z: BSD timestamps in the corpus are read as of this day.
const NOW: i64 = 1_795_608_000;

fn expectation(event: Option<Event<'_>>) -> String {
    let Some(e) = event else {
        return "=> none".to_string();
    };
    let mut text = format!("=> {} {} {}", e.kind.name(), e.ip, e.user.unwrap_or("-"));
    if let Some(score) = e.score {
        let _ = write!(text, " score={score}");
    }
    if e.count != 1 {
        let _ = write!(text, " count={}", e.count);
    }
    text
}

#[test]
fn corpus_files_parse_as_expected() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/parse-corpus");
    let bless_choice = std::env::var("SENTRY_BLESS").unwrap_or_default();
    let mut entries: Vec<_> = std::fs::read_dir(&dir)
        .expect("tests/parse-corpus exists")
        .map(|e| e.expect("dir entry").path())
        .filter(|p| p.extension().is_some_and(|e| e == "txt"))
        .collect();
    entries.sort();
    assert!(!entries.is_empty(), "no corpus files in {}", dir.display());
    let mut failures = String::new();
    let mut checked = 0;
    for path in entries {
        let name = path
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        let bless = bless_choice == "1" || bless_choice == name;
        let text = std::fs::read_to_string(&path).expect("read corpus");
        let mut parser = Parser::new(ParseOptions::default(), NOW);
        // Each log line's event, in order: a held line's is filled in by the line after it.
        let mut actuals: Vec<String> = Vec::new();
        let mut held: Option<usize> = None;
        for line in text.lines() {
            if line.trim().is_empty() || line.starts_with('#') || line.starts_with("=>") {
                continue;
            }
            actuals.push(expectation(parser.parse_line(line)));
            if let (Some(at), Some(released)) = (held.take(), parser.take_released()) {
                actuals[at] = expectation(Some(released.event()));
            }
            held = parser.is_holding().then_some(actuals.len() - 1);
        }
        let mut actuals = actuals.into_iter();
        let mut blessed = String::new();
        let mut lines = text.lines().enumerate().peekable();
        while let Some((n, line)) = lines.next() {
            if line.trim().is_empty() || line.starts_with('#') {
                blessed.push_str(line);
                blessed.push('\n');
                continue;
            }
            assert!(
                !line.starts_with("=>"),
                "{}:{}: expectation without a log line",
                path.display(),
                n + 1
            );
            let actual = actuals.next().expect("one event per log line");
            blessed.push_str(line);
            blessed.push('\n');
            blessed.push_str(&actual);
            blessed.push('\n');
            match lines.peek() {
                Some((_, next)) if next.starts_with("=>") => {
                    let expected = next.trim_end();
                    if expected != actual && !bless {
                        let _ = writeln!(
                            failures,
                            "{}:{}: {line}\n    expected {expected}\n    got      {actual}",
                            path.display(),
                            n + 1
                        );
                    }
                    checked += 1;
                    lines.next();
                }
                _ if bless => {}
                _ => {
                    let _ = writeln!(
                        failures,
                        "{}:{}: no `=>` expectation after the line",
                        path.display(),
                        n + 1
                    );
                }
            }
        }
        if bless {
            std::fs::write(&path, blessed).expect("rewrite corpus");
        }
    }
    assert!(failures.is_empty(), "corpus mismatches:\n{failures}");
    assert!(checked > 0, "the corpus checked nothing");
}
