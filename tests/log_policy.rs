//! The log intelligence end to end, through the real binary: `scan` verdicts against the
//! ground truth of `../shared/bench/gen-authlog`, the policy through `--connect` with a log
//! directory, rotation, `ingest` from a pipe, and the journal through a journal file.

mod common;

use std::collections::BTreeMap;
use std::io::Write;
use std::path::PathBuf;
use std::process::{Command, Stdio};

use common::Root;

fn stderr(out: &std::process::Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

fn append(root: &Root, lines: &[String]) {
    let mut f = std::fs::OpenOptions::new()
        .append(true)
        .open(root.auth_log())
        .expect("open auth.log");
    for line in lines {
        writeln!(f, "{line}").expect("append");
    }
}

/// An rsyslog (Debian default) line `secs` seconds into 2026-11-24 10:00 UTC.
fn line(secs: u32, program: &str, message: &str) -> String {
    format!(
        "2026-11-24T10:{:02}:{:02}.000000+00:00 web1 {program}: {message}",
        secs / 60,
        secs % 60
    )
}

fn generator() -> Option<PathBuf> {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../shared/bench/gen-authlog");
    if path.is_file() {
        return Some(path);
    }
    common::skip(&format!(
        "{} not found (../shared beside the repository)",
        path.display()
    ));
    None
}

#[test]
fn scan_verdicts_match_the_generators_ground_truth() {
    let Some(gen_authlog) = generator() else {
        return;
    };
    let root = Root::new();
    let truth_path = root.path().join("truth.tsv");
    // The follower reads the same log as one burst on stdin: many batches of its own, with
    // the joins it forgets between them.
    for (format, seed, reader) in [
        ("bsd", "1", "scan"),
        ("iso", "2", "scan"),
        ("iso", "3", "ingest"),
    ] {
        let status = Command::new("python3")
            .arg(&gen_authlog)
            .args([
                "--lines",
                "20000",
                "--seed",
                seed,
                "--format",
                format,
                "--start",
                "2026-11-20T00:00:00",
            ])
            .arg("--truth")
            .arg(&truth_path)
            .arg("-o")
            .arg(root.auth_log())
            .status()
            .expect("run gen-authlog");
        assert!(status.success(), "gen-authlog failed");

        // Fresh database each round; smtp is on because the truth counts postfix SASL too.
        let _ = std::fs::remove_file(root.db());
        let mut command = root.command(&[reader]);
        if reader == "ingest" {
            let log = std::fs::File::open(root.auth_log()).expect("open the log");
            command.stdin(log);
        }
        let out = (command.env("PROTECT_SMTP", "1").output()).expect("run sentry");
        assert!(out.status.success(), "{reader} failed: {}", stderr(&out));

        let truth = std::fs::read_to_string(&truth_path).expect("read truth");
        let mut mismatches = Vec::new();
        let mut verdicts: BTreeMap<String, usize> = BTreeMap::new();
        for row in truth.lines().skip(1) {
            let cols: Vec<&str> = row.split('\t').collect();
            let (ip, verdict) = (cols[0], cols[5]);
            *verdicts.entry(verdict.to_string()).or_default() += 1;
            let (_, allow, block) = root.row(ip).unwrap_or((0, 0, 0));
            let ours = match (allow > 0, block > 0) {
                (true, _) => "allow",
                (_, true) => "block",
                _ => "none",
            };
            // The never-block list (loopback) keeps its own rule.
            let expected = if ip.starts_with("127.") || ip == "::1" {
                "none"
            } else {
                verdict
            };
            if ours != expected {
                mismatches.push(format!("{row} -> ours {ours} ({reader})"));
            }
        }
        assert!(
            verdicts.get("block").copied().unwrap_or(0) > 50,
            "the truth has attackers: {verdicts:?}"
        );
        assert!(
            verdicts.get("allow").copied().unwrap_or(0) > 10,
            "and users: {verdicts:?}"
        );
        assert!(
            mismatches.is_empty(),
            "{format}: {} verdicts differ from the truth:\n{}",
            mismatches.len(),
            mismatches
                .iter()
                .take(20)
                .cloned()
                .collect::<Vec<_>>()
                .join("\n")
        );
    }
}

#[test]
fn connect_applies_the_policy_with_a_log_directory() {
    let root = Root::new();
    append(
        &root,
        &[
            line(
                1,
                "sshd[100]",
                "Invalid user admin from 203.0.113.9 port 4242",
            ),
            line(
                2,
                "sshd[101]",
                "Failed password for alice from 198.51.100.7 port 5000 ssh2",
            ),
            line(
                3,
                "sshd[101]",
                "Failed password for alice from 198.51.100.7 port 5000 ssh2",
            ),
            line(
                4,
                "sshd[102]",
                "Accepted password for alice from 198.51.100.7 port 5001 ssh2",
            ),
        ],
    );
    for ip in ["203.0.113.9", "198.51.100.7", "192.0.2.44"] {
        for _ in 0..2 {
            root.ok(&["--ip", ip, "--connect"]);
        }
        assert_eq!(
            root.row(ip).map(|r| (r.1, r.2)),
            Some((0, 0)),
            "nothing is decided before the 3rd connect"
        );
    }
    for ip in ["203.0.113.9", "198.51.100.7", "192.0.2.44"] {
        root.ok(&["--ip", ip, "--connect"]);
    }
    assert!(
        root.row("203.0.113.9").expect("row").2 > 0,
        "the guesser is blocked"
    );
    assert!(
        root.row("198.51.100.7").expect("row").1 > 0,
        "the user who logged in is allowed"
    );
    assert_eq!(
        root.row("192.0.2.44"),
        Some((3, 0, 0)),
        "no evidence, no decision"
    );
    assert_eq!(root.deny_text(), "ALL: 203.0.113.9 : deny\n");

    // The user later fails 20 times: still allowed (a success was seen).
    let fails: Vec<String> = (10..30)
        .map(|s| {
            line(
                s,
                "sshd[103]",
                "Failed password for alice from 198.51.100.7 port 5002 ssh2",
            )
        })
        .collect();
    append(&root, &fails);
    root.ok(&["--ip", "198.51.100.7", "--connect"]);
    assert!(root.row("198.51.100.7").expect("row").1 > 0);

    // More than max_attempts failures with no success block; a never-block address is spared.
    let mut lines = Vec::new();
    for s in 0..11 {
        lines.push(line(
            40 + s,
            "sshd[104]",
            "Failed password for bob from 192.0.2.44 port 6000 ssh2",
        ));
        lines.push(line(
            40 + s,
            "sshd[105]",
            "Failed password for bob from 127.0.0.1 port 6000 ssh2",
        ));
    }
    append(&root, &lines);
    root.ok(&["connect", "192.0.2.44"]);
    assert!(
        root.row("192.0.2.44").expect("row").2 > 0,
        "11 failures block"
    );
    for _ in 0..3 {
        root.ok(&["connect", "127.0.0.1"]);
    }
    assert_eq!(
        root.row("127.0.0.1").map(|r| r.2),
        Some(0),
        "loopback is never blocked"
    );

    let report = root.ok(&["report", "-v", "192.0.2.44"]);
    assert!(
        report.contains("11 failed") || report.contains("    11 failed"),
        "{report}"
    );
    let with_lines = root.ok(&["report", "192.0.2.44", "--lines"]);
    assert_eq!(
        with_lines
            .matches("Failed password for bob from 192.0.2.44")
            .count(),
        11,
        "{with_lines}"
    );
}

#[test]
fn each_line_is_counted_once_across_runs_and_rotation() {
    let root = Root::new();
    let fail = |s| {
        line(
            s,
            "sshd[200]",
            "Failed password for carol from 198.51.100.20 port 7000 ssh2",
        )
    };
    append(&root, &[fail(1), fail(2)]);
    root.ok(&["scan"]);
    root.ok(&["scan"]);
    append(&root, &[fail(3)]);
    // Rotate by rename, as logrotate does, then new lines in the new file.
    std::fs::rename(root.auth_log(), root.path().join("auth.log.1")).expect("rotate");
    std::fs::write(root.auth_log(), "").expect("new log");
    append(&root, &[fail(4)]);
    root.ok(&["scan"]);
    let json: serde_json::Value =
        serde_json::from_str(&root.ok(&["report", "--json", "198.51.100.20"])).expect("json");
    let count = json["evidence"][0]["count"].as_i64().expect("count");
    assert_eq!(count, 4, "{json}");

    // Truncation in place: the new content is read from the start, nothing twice.
    std::fs::write(root.auth_log(), "").expect("truncate");
    append(&root, &[fail(5)]);
    root.ok(&["scan"]);
    let json: serde_json::Value =
        serde_json::from_str(&root.ok(&["report", "--json", "198.51.100.20"])).expect("json");
    assert_eq!(json["evidence"][0]["count"].as_i64(), Some(5), "{json}");

    // --from-start forgets and re-reads everything, rotated generations included.
    root.ok(&["scan", "--from-start"]);
    let json: serde_json::Value =
        serde_json::from_str(&root.ok(&["report", "--json", "198.51.100.20"])).expect("json");
    assert_eq!(
        json["evidence"][0]["count"].as_i64(),
        Some(4),
        "auth.log.1 (3) + auth.log (1): {json}"
    );
}

/// The evidence of `ip` as `(service, kind, count)`, from `report --json`.
fn evidence_of(root: &Root, ip: &str) -> Vec<(String, String, i64)> {
    let json: serde_json::Value =
        serde_json::from_str(&root.ok(&["report", "--json", ip])).expect("json");
    let mut rows: Vec<_> = (json["evidence"].as_array().cloned().unwrap_or_default())
        .iter()
        .filter(|e| e["count"].as_i64() != Some(0))
        .map(|e| {
            (
                e["service"].as_str().unwrap_or("?").to_string(),
                e["kind"].as_str().unwrap_or("?").to_string(),
                e["count"].as_i64().unwrap_or(-1),
            )
        })
        .collect();
    rows.sort();
    rows
}

#[test]
fn what_joins_lines_survives_between_scans() {
    let root = Root::new();
    // BSD ftpd names the address on one line and the verdict on later ones of its pid:
    // a scan between them must not lose the join.
    append(
        &root,
        &[line(
            1,
            "ftpd[5001]",
            "connection from scanner.example (198.51.100.30)",
        )],
    );
    root.ok(&["scan"]);
    append(
        &root,
        &[
            line(
                2,
                "ftpd[5001]",
                "FTP LOGIN FAILED FROM scanner.example, root",
            ),
            line(
                3,
                "ftpd[5001]",
                "FTP LOGIN FAILED FROM scanner.example, root",
            ),
        ],
    );
    root.ok(&["scan"]);
    let ftp = evidence_of(&root, "198.51.100.30");
    assert!(
        ftp.iter()
            .any(|(s, k, n)| s == "ftpd" && k == "naughty" && *n >= 1),
        "{ftp:?}"
    );

    // sshd's and PAM's reports of the same wrong passwords, split over three scans: each
    // attempt counts once.
    let pam = |s, msg: &str| line(s, "sshd[4001]", msg);
    append(
        &root,
        &[pam(
            10,
            "pam_unix(sshd:auth): authentication failure; logname= uid=0 euid=0 tty=ssh ruser= rhost=198.51.100.31  user=bob",
        )],
    );
    root.ok(&["scan"]);
    append(
        &root,
        &[
            pam(11, "Failed password for bob from 198.51.100.31 port 5 ssh2"),
            pam(12, "Failed password for bob from 198.51.100.31 port 5 ssh2"),
        ],
    );
    root.ok(&["scan"]);
    append(
        &root,
        &[pam(
            13,
            "PAM 1 more authentication failure; logname= uid=0 euid=0 tty=ssh ruser= rhost=198.51.100.31  user=bob",
        )],
    );
    root.ok(&["scan"]);
    assert_eq!(
        evidence_of(&root, "198.51.100.31"),
        [("sshd".to_string(), "failed".to_string(), 2)]
    );
}

/// MySQL's refused login counts only once its log's next line is MySQL's, across scans: a
/// client's user name with a line break ends a genuine-looking line that blames someone else,
/// and what follows it is never MySQL's time stamp.
#[test]
fn a_mysql_refusal_counts_once_its_logs_next_line_is_mysqls() {
    let root = Root::new();
    std::fs::write(
        root.path().join("sentry.toml"),
        "services = [\"ssh\", \"mysql\"]\n",
    )
    .expect("config");
    let denied = |t: &str, user: &str, ip: &str| {
        format!(
            "2026-11-24T10:00:{t}.000000Z 7 [Note] [MY-010926] [Server] Access denied for user '{user}'@'{ip}' (using password: YES)"
        )
    };
    let note = |t: &str| {
        format!(
            "2026-11-24T10:00:{t}.000000Z 0 [Warning] [MY-010068] [Server] CA certificate is self signed."
        )
    };
    append(&root, &[denied("01", "bob", "203.0.113.80")]);
    root.ok(&["scan"]);
    assert_eq!(
        evidence_of(&root, "203.0.113.80"),
        [],
        "held until the next line"
    );
    append(&root, &[note("02")]);
    root.ok(&["scan"]);
    assert_eq!(
        evidence_of(&root, "203.0.113.80"),
        [("mysql".to_string(), "failed".to_string(), 1)]
    );
    // `report --lines` shows the held line once the next one confirmed it.
    let lines = root.ok(&["report", "203.0.113.80", "--lines"]);
    assert!(
        lines.contains(&denied("01", "bob", "203.0.113.80")),
        "{lines}"
    );
    assert!(!lines.contains("CA certificate"), "{lines}");
    // `x'@'198.51.100.81' (using password: YES)`, a line break and MySQL's rest.
    append(&root, &[denied("03", "x", "198.51.100.81")]);
    root.ok(&["scan"]);
    append(
        &root,
        &[
            "aaaa'@'203.0.113.82' (using password: YES)".to_string(),
            note("04"),
        ],
    );
    root.ok(&["scan"]);
    assert_eq!(
        evidence_of(&root, "198.51.100.81"),
        [],
        "the broken line blames no one"
    );
    // Not read at all without `mysql` in `services`.
    std::fs::write(root.path().join("sentry.toml"), "services = [\"ssh\"]\n").expect("config");
    append(&root, &[denied("05", "carol", "203.0.113.83"), note("06")]);
    root.ok(&["scan"]);
    assert_eq!(evidence_of(&root, "203.0.113.83"), []);
}

#[test]
fn a_connect_reads_a_bounded_part_of_a_flood_and_nothing_is_skipped() {
    let root = Root::new();
    // 120,000 failures of as many addresses (100.64.0.0/10, text only) since the last
    // look, about 12 MiB, then the connecting address's own invalid-user line at the end.
    let mut flood = String::with_capacity(24 << 20);
    for n in 0..120_000u32 {
        let (a, b, c) = (n >> 16, (n >> 8) & 0xff, n & 0xff);
        let message = format!(
            "Failed password for bob from 100.{}.{b}.{c} port 7000 ssh2",
            64 + a
        );
        flood.push_str(&line(1, "sshd[300]", &message));
        flood.push('\n');
    }
    let ip = "198.51.100.40";
    flood.push_str(&line(
        2,
        "sshd[301]",
        &format!("Invalid user x from {ip} port 1"),
    ));
    flood.push('\n');
    std::fs::write(root.auth_log(), &flood).expect("write the flood");

    for _ in 0..3 {
        root.ok(&["--connect", "--ip", ip]);
    }
    // The third connect read about 2 MiB, not 12: the address's line is still unread ...
    assert_eq!(
        root.row(ip).map(|r| r.2),
        Some(0),
        "decided on a line it should not have reached"
    );
    let check = root.run(&["check"]);
    let said = String::from_utf8_lossy(&check.stdout).into_owned();
    assert!(
        said.contains("not read yet"),
        "check warns about the lag: {said}"
    );
    // ... and stays for the next reader: `scan` reads the rest and decides.
    root.ok(&["scan"]);
    assert!(
        root.row(ip).is_some_and(|r| r.2 > 0),
        "the flood's last line decides"
    );
    let conn = rusqlite::Connection::open(root.db()).expect("open db");
    let failed: i64 = conn
        .query_row(
            "SELECT coalesce(sum(count), 0) FROM evidence WHERE kind = 'failed'",
            [],
            |r| r.get(0),
        )
        .expect("sum");
    assert_eq!(failed, 120_000, "every line counted once, none skipped");
    let check = root.run(&["check"]);
    let said = String::from_utf8_lossy(&check.stdout).into_owned();
    assert!(!said.contains("not read yet"), "{said}");
}

#[test]
fn scan_dry_run_decides_nothing() {
    let root = Root::new();
    append(
        &root,
        &[line(
            1,
            "sshd[1]",
            "Invalid user oracle from 203.0.113.50 port 1",
        )],
    );
    let out = root.ok(&["scan", "--dry-run"]);
    assert_eq!(out, "would be blocked 203.0.113.50: 1 naughty (sshd)\n");
    assert_eq!(root.row("203.0.113.50"), None);
    assert_eq!(root.deny_text(), "");
}

#[test]
fn ingest_decides_as_lines_arrive_on_stdin() {
    let root = Root::new();
    let mut child = root
        .command(&["ingest"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start ingest");
    let mut stdin = child.stdin.take().expect("stdin");
    writeln!(
        stdin,
        "{}",
        line(1, "sshd[1]", "Invalid user test from 203.0.113.60 port 1")
    )
    .expect("write");
    stdin.flush().expect("flush");
    // The decision is made while the pipe stays open (no end of input yet).
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    while root.try_row("203.0.113.60").is_none_or(|r| r.2 == 0) {
        assert!(
            std::time::Instant::now() < deadline,
            "ingest did not decide in time"
        );
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    // While ingest waits for input it holds no database lock: an admin command runs at once.
    let started = std::time::Instant::now();
    root.ok(&["block", "198.51.100.99"]);
    assert!(
        started.elapsed() < std::time::Duration::from_secs(2),
        "block waited on ingest"
    );
    writeln!(
        stdin,
        "{}",
        line(
            2,
            "sshd[2]",
            "Accepted publickey for dave from 198.51.100.61 port 2 ssh2"
        )
    )
    .expect("write");
    drop(stdin);
    let out = child
        .wait_with_output()
        .expect("ingest exits at end of input");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(root.row("198.51.100.61").expect("row").1 > 0);
    assert_eq!(
        root.deny_text(),
        "ALL: 203.0.113.60 : deny\nALL: 198.51.100.99 : deny\n"
    );
}

/// A sender as journald records it from the kernel: `_EXE`, `_UID`, `_COMM`.
type Sender = (&'static str, &'static str, &'static str);
/// sshd itself, as root.
const SSHD: Sender = ("/usr/sbin/sshd", "0", "sshd");
/// `logger -t sshd ...` run by nobody.
const LOGGER: Sender = ("/usr/bin/logger", "65534", "logger");
/// A user's own program named sshd.
const EVE_SSHD: Sender = ("/home/eve/sshd", "1000", "sshd");
/// The right binary, run by a user (a copy of it, or sshd -D on a high port).
const SSHD_AS_EVE: Sender = ("/usr/sbin/sshd", "1000", "sshd");

/// The forged address logger claims logged in, and the victim it blames.
const FORGED_ALLOWED: &str = "203.0.113.5";
const FORGED_VICTIM: &str = "198.51.100.66";

/// Journal entries: (identifier, sender, message). Only sshd's own give evidence.
fn journal_entries() -> Vec<(&'static str, Sender, String)> {
    let mut entries = vec![
        (
            "sshd",
            SSHD,
            "Invalid user admin from 203.0.113.70 port 4242".to_string(),
        ),
        (
            "sshd-session",
            ("/usr/lib/openssh/sshd-session", "0", "sshd-session"),
            "Accepted publickey for bob from 198.51.100.71 port 5555 ssh2".to_string(),
        ),
        (
            "myapp",
            ("/usr/bin/myapp", "0", "myapp"),
            "Invalid user admin from 203.0.113.72 port 4242".to_string(),
        ),
        (
            "sshd",
            LOGGER,
            format!("Accepted password for alice from {FORGED_ALLOWED} port 22 ssh2"),
        ),
        (
            "sshd",
            EVE_SSHD,
            "Accepted password for eve from 203.0.113.73 port 22 ssh2".to_string(),
        ),
        (
            "sshd",
            SSHD_AS_EVE,
            "Accepted password for eve from 203.0.113.74 port 22 ssh2".to_string(),
        ),
    ];
    for _ in 0..3 {
        entries.push((
            "sshd",
            LOGGER,
            format!("Invalid user admin from {FORGED_VICTIM} port 4242"),
        ));
        entries.push((
            "sshd",
            EVE_SSHD,
            "Failed password for root from 203.0.113.75 port 22 ssh2".to_string(),
        ));
    }
    entries
}

/// What a scan or ingest of [`journal_entries`] must have decided.
fn assert_only_sshds_own_entries_counted(root: &Root) {
    assert!(
        root.row("203.0.113.70").expect("row").2 > 0,
        "blocked from the journal"
    );
    assert!(
        root.row("198.51.100.71").expect("row").1 > 0,
        "allowed from the journal"
    );
    for (ip, who) in [
        ("203.0.113.72", "another program's text is not sshd's"),
        (FORGED_ALLOWED, "logger -t sshd allows no one"),
        (FORGED_VICTIM, "logger -t sshd blames no one"),
        ("203.0.113.73", "a user's binary named sshd allows no one"),
        ("203.0.113.75", "a user's binary named sshd blames no one"),
        ("203.0.113.74", "sshd run by a user allows no one"),
    ] {
        assert_eq!(root.row(ip), None, "{who}");
    }
    assert_eq!(root.deny_text(), "ALL: 203.0.113.70 : deny\n");
}

/// systemd-journal-remote, which writes a journal file from export format.
fn journal_remote() -> Option<&'static str> {
    if !common::require("journalctl") {
        return None;
    }
    let remote = [
        "/lib/systemd/systemd-journal-remote",
        "/usr/lib/systemd/systemd-journal-remote",
    ]
    .into_iter()
    .find(|p| common::have_tool(p));
    if remote.is_none() {
        common::skip("systemd-journal-remote is not installed");
    }
    remote
}

/// Points the root's sentry at `journal` as its journal (`config`: keys written before it).
fn read_journal_file(root: &Root, journal: &std::path::Path, config: &str) {
    std::fs::write(
        root.path().join("sentry.toml"),
        format!(
            "{config}journal = true\njournal_file = \"{}\"\n",
            journal.display()
        ),
    )
    .expect("config");
}

/// A journal file in the root holding `entries`, with the trusted fields journald
/// would have set (export format carries them as they are).
fn journal_file(
    root: &Root,
    remote: &str,
    entries: &[(&str, Sender, String)],
) -> std::path::PathBuf {
    let mut text = String::new();
    for (n, (id, (exe, uid, comm), message)) in (0u64..).zip(entries) {
        text += &format!(
            "__REALTIME_TIMESTAMP={}\n__MONOTONIC_TIMESTAMP={}\n_BOOT_ID=0123456789abcdef0123456789abcdef\n_HOSTNAME=web1\nSYSLOG_IDENTIFIER={id}\n_PID={}\n_UID={uid}\n_GID={uid}\n_COMM={comm}\n_EXE={exe}\n_CMDLINE={exe}\nMESSAGE={message}\n\n",
            1_795_514_400_000_000u64 + n * 1_000_000,
            1000 * (n + 1),
            100 + n
        );
    }
    let export = root.path().join("entries.export");
    std::fs::write(&export, text).expect("write export");
    let journal = root.path().join("test.journal");
    let status = Command::new(remote)
        .arg(format!("--output={}", journal.display()))
        .arg(&export)
        .stderr(Stdio::null())
        .status()
        .expect("run systemd-journal-remote");
    assert!(status.success(), "building the journal file failed");
    journal
}

#[test]
fn journal_entries_are_read_from_a_journal_file() {
    let Some(remote) = journal_remote() else {
        return;
    };
    let root = Root::new();
    let journal = journal_file(&root, remote, &journal_entries());
    read_journal_file(&root, &journal, "");
    root.ok(&["scan"]);
    assert_only_sshds_own_entries_counted(&root);
    // The cursor is remembered: a second scan reads nothing new and changes nothing.
    root.ok(&["delist", "203.0.113.70"]);
    root.ok(&["scan"]);
    assert_eq!(root.row("203.0.113.70").map(|r| r.2), Some(0));
}

/// On a journald-only host `--connect` never runs journalctl: it judges what a reader
/// stored. `setup` reads the journal once and enables the scan timer; `check` is CRITICAL
/// while nothing reads the journal.
#[test]
fn connect_leaves_the_journal_to_the_scan_timer_setup_enables() {
    let Some(remote) = journal_remote() else {
        return;
    };
    let root = Root::new();
    let journal = journal_file(&root, remote, &journal_entries());
    read_journal_file(&root, &journal, "");
    let systemd = root.path().join("systemd");
    let empty = root.path().join("empty");
    for dir in [&systemd, &empty] {
        std::fs::create_dir(dir).expect("mkdir");
    }
    let hosts_allow = root.path().join("hosts.allow");
    let with_system = |args: &[&str], systemd_dir: &std::path::Path| {
        let out = root
            .command(args)
            .env("SENTRY_SSHD", "/nonexistent/sshd")
            .env("SENTRY_SYSTEMD_DIR", systemd_dir)
            .env("SENTRY_CRONTABS", &empty)
            .env("SENTRY_RSYSLOG_DIR", &empty)
            .output()
            .expect("run sentry");
        String::from_utf8_lossy(&out.stdout).into_owned()
    };
    let check = |dir: &std::path::Path| {
        with_system(
            &[
                "check",
                "--hosts-allow",
                hosts_allow.to_str().expect("utf-8"),
            ],
            dir,
        )
    };
    for _ in 0..4 {
        root.ok(&["--connect", "--ip=203.0.113.70"]);
    }
    assert_eq!(
        root.row("203.0.113.70").map(|r| r.2),
        Some(0),
        "the journal is not read"
    );
    let before = check(&empty);
    assert!(
        before.starts_with("SENTRY CRITICAL") && before.contains("in the systemd journal"),
        "{before}"
    );

    let out = with_system(&["setup"], &systemd);
    assert!(out.contains("sentry-scan.timer"), "{out}");
    let link = systemd.join("timers.target.wants/sentry-scan.timer");
    assert!(std::fs::symlink_metadata(&link).is_ok(), "timer enabled");
    let service = std::fs::read_to_string(systemd.join("sentry-scan.service")).expect("unit");
    assert!(
        service.contains(&format!("--root {} scan", root.path().display())),
        "{service}"
    );
    assert!(!check(&systemd).contains("systemd journal"));

    root.ok(&["--connect", "--ip=203.0.113.70"]);
    assert!(
        root.row("203.0.113.70").expect("row").2 > 0,
        "judged on what setup read"
    );
}

#[test]
fn the_journal_is_read_for_every_program_of_a_service() {
    let Some(remote) = journal_remote() else {
        return;
    };
    const VCHKPW: Sender = ("/home/vpopmail/bin/vchkpw", "0", "vchkpw");
    const SMTPD: Sender = ("/usr/lib/postfix/sbin/smtpd", "0", "smtpd");
    let root = Root::new();
    let entries = [
        (
            "vchkpw-pop3s",
            VCHKPW,
            "vpopmail user not found info@example.org:203.0.113.91".to_string(),
        ),
        // vpopmail's own ident: the message names the service.
        (
            "vpopmail",
            VCHKPW,
            "vchkpw-imap: vpopmail user not found x@example.org:203.0.113.92".to_string(),
        ),
        // A postfix instance the admin named: no list of identifiers holds it.
        (
            "postfix-in/smtpd",
            SMTPD,
            "warning: unknown[203.0.113.93]: SASL PLAIN authentication failed: , \
             sasl_username=root"
                .to_string(),
        ),
        (
            "postfix-in/smtpd",
            LOGGER,
            "warning: unknown[203.0.113.94]: SASL PLAIN authentication failed: , \
             sasl_username=root"
                .to_string(),
        ),
    ];
    let journal = journal_file(&root, remote, &entries);
    read_journal_file(&root, &journal, "services = [\"ssh\", \"mua\", \"smtp\"]\n");
    root.ok(&["scan"]);
    for ip in ["203.0.113.91", "203.0.113.92", "203.0.113.93"] {
        assert!(
            root.row(ip).expect("row").2 > 0,
            "{ip} blocked from the journal"
        );
    }
    assert_eq!(root.row("203.0.113.94"), None, "logger is not postfix");
}

/// `sentry ingest` with `input` on stdin, to its end.
fn ingest(root: &Root, input: &[u8]) {
    let mut child = root
        .command(&["ingest"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start ingest");
    child
        .stdin
        .take()
        .expect("stdin")
        .write_all(input)
        .expect("write");
    let out = child.wait_with_output().expect("ingest exits");
    assert!(out.status.success(), "{}", stderr(&out));
}

/// The real `journalctl -o json` output of a journal file.
fn journalctl_json(journal: &std::path::Path) -> Vec<u8> {
    let json = Command::new("journalctl")
        .arg(format!("--file={}", journal.display()))
        .args(["-o", "json", "--no-pager", "-q"])
        .output()
        .expect("run journalctl");
    assert!(json.status.success(), "{}", stderr(&json));
    json.stdout
}

#[test]
fn ingest_judges_journalctl_json_by_its_trusted_fields() {
    let Some(remote) = journal_remote() else {
        return;
    };
    let root = Root::new();
    let journal = journal_file(&root, remote, &journal_entries());
    // What `journalctl -f -o json | sentry ingest` passes: journalctl's own output.
    let json = journalctl_json(&journal);
    assert_eq!(json.iter().filter(|&&b| b == b'\n').count(), 12);
    ingest(&root, &json);
    assert_only_sshds_own_entries_counted(&root);
}

/// `parse` reads `journalctl -o json` output as `ingest` does: an event for each entry its
/// sender may write, none for the forged ones, and `--unmatched` prints sshd's own entries
/// that no rule read.
#[test]
fn parse_judges_journalctl_json_by_its_trusted_fields() {
    let Some(remote) = journal_remote() else {
        return;
    };
    let root = Root::new();
    let mut entries = journal_entries();
    entries.push((
        "sshd",
        SSHD,
        "Server listening on 0.0.0.0 port 22.".to_string(),
    ));
    let journal = journal_file(&root, remote, &entries);
    let file = root.path().join("journal.json");
    std::fs::write(&file, journalctl_json(&journal)).expect("write the export");
    let file = file.to_str().expect("utf-8");
    let out = root.run(&["parse", file]);
    assert!(out.status.success(), "{}", stderr(&out));
    let seen: Vec<(String, String)> = (std::str::from_utf8(&out.stdout).expect("utf-8").lines())
        .map(|l| serde_json::from_str::<serde_json::Value>(l).expect("json"))
        .map(|e| {
            (
                e["ip"].as_str().unwrap_or("").to_string(),
                e["kind"].as_str().unwrap_or("").to_string(),
            )
        })
        .collect();
    assert_eq!(
        seen,
        [
            ("203.0.113.70".to_string(), "naughty".to_string()),
            ("198.51.100.71".to_string(), "success".to_string())
        ],
        "only sshd's own entries"
    );
    let out = root.run(&["parse", "--unmatched", file]);
    assert!(out.status.success(), "{}", stderr(&out));
    let unmatched = String::from_utf8_lossy(&out.stdout);
    assert_eq!(unmatched.lines().count(), 1, "{unmatched}");
    assert!(unmatched.contains("Server listening"), "{unmatched}");
    assert_eq!(root.row_count(), 0, "parse touches no database");
}

#[test]
fn ingest_takes_json_entries_and_syslog_lines_together() {
    let root = Root::new();
    let entry = |(exe, uid, comm): Sender, message: &str| {
        serde_json::json!({
            "__CURSOR": "s=0;i=1",
            "__REALTIME_TIMESTAMP": "1795514400000000",
            "SYSLOG_IDENTIFIER": "sshd",
            "_PID": "4242",
            "_UID": uid,
            "_COMM": comm,
            "_EXE": exe,
            "MESSAGE": message,
        })
        .to_string()
    };
    let input = [
        entry(
            LOGGER,
            &format!("Accepted password for alice from {FORGED_ALLOWED} port 22 ssh2"),
        ),
        entry(
            LOGGER,
            &format!("Invalid user admin from {FORGED_VICTIM} port 4242"),
        ),
        entry(
            EVE_SSHD,
            "Accepted password for eve from 203.0.113.73 port 22 ssh2",
        ),
        entry(
            SSHD_AS_EVE,
            "Accepted password for eve from 203.0.113.74 port 22 ssh2",
        ),
        entry(SSHD, "Invalid user admin from 203.0.113.70 port 4242"),
        "{\"not\": \"an entry\"".to_string(),
        line(
            1,
            "sshd[7]",
            "Accepted publickey for bob from 198.51.100.71 port 5555 ssh2",
        ),
    ]
    .join("\n")
        + "\n";
    ingest(&root, input.as_bytes());
    assert!(root.row("203.0.113.70").expect("row").2 > 0, "sshd's entry");
    assert!(
        root.row("198.51.100.71").expect("row").1 > 0,
        "a syslog line, as before"
    );
    for ip in [
        FORGED_ALLOWED,
        FORGED_VICTIM,
        "203.0.113.73",
        "203.0.113.74",
    ] {
        assert_eq!(root.row(ip), None, "{ip}");
    }
}

#[test]
fn parse_prints_one_json_object_per_recognised_line() {
    let root = Root::new();
    let log = root.path().join("sample.log");
    std::fs::write(
        &log,
        [
            "Nov 24 10:00:00 web1 sshd[1]: Invalid user admin from 10.0.0.1 port 22 from 203.0.113.9 port 4242",
            "Nov 24 10:00:01 web1 CRON[2]: pam_unix(cron:session): session opened for user root",
            "Nov 24 10:00:02 web1 sshd[3]: Server listening on 0.0.0.0 port 22.",
            "2026-11-24T10:00:03.000000+00:00 web1 myapp[4]: Accepted password for x from 198.51.100.1 port 1 ssh2",
        ]
        .join("\n")
            + "\n",
    )
    .expect("write sample");
    let out = root.run(&["parse", log.to_str().expect("utf-8")]);
    assert!(out.status.success(), "{}", stderr(&out));
    let stdout = String::from_utf8_lossy(&out.stdout);
    let lines: Vec<&str> = stdout.lines().collect();
    assert_eq!(lines.len(), 1, "{stdout}");
    let event: serde_json::Value = serde_json::from_str(lines[0]).expect("json");
    let keys: Vec<&str> = event
        .as_object()
        .expect("object")
        .keys()
        .map(String::as_str)
        .collect();
    assert_eq!(keys.len(), 7, "{event}");
    for key in ["file", "line", "service", "kind", "ip", "user", "time"] {
        assert!(keys.contains(&key), "missing {key}: {event}");
    }
    assert_eq!(event["line"], 1);
    assert_eq!(event["service"], "sshd");
    assert_eq!(event["kind"], "naughty");
    assert_eq!(
        event["ip"], "203.0.113.9",
        "the source, never the address in the user name"
    );
    assert_eq!(event["user"], "admin from 10.0.0.1 port 22");
    assert!(
        event["time"].as_str().is_some_and(|t| t.ends_with('Z')),
        "{event}"
    );
    let summary = stderr(&out);
    assert!(
        summary.contains("4 lines read, 1 recognised") && summary.contains("naughty"),
        "{summary}"
    );

    // --unmatched: lines of known programs that no rule recognised.
    let out = root.ok(&["parse", "--unmatched", log.to_str().expect("utf-8")]);
    assert_eq!(
        out,
        "Nov 24 10:00:02 web1 sshd[3]: Server listening on 0.0.0.0 port 22.\n"
    );

    // --service with bare messages (sshd -E writes no syslog header), from stdin.
    let mut child = root
        .command(&["parse", "--service", "sshd", "-"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start parse");
    child
        .stdin
        .take()
        .expect("stdin")
        .write_all(b"Failed password for root from 2001:db8::7 port 5 ssh2\n")
        .expect("write");
    let out = child.wait_with_output().expect("parse exits");
    let event: serde_json::Value = serde_json::from_slice(&out.stdout).expect("json");
    assert_eq!(
        (event["ip"].as_str(), event["kind"].as_str()),
        (Some("2001:db8::7"), Some("naughty"))
    );
    assert!(event["time"].is_null());
    assert_eq!(root.row_count(), 0, "parse touches no database");

    let out = root.run(&[
        "parse",
        "--service",
        "telnetd",
        log.to_str().expect("utf-8"),
    ]);
    assert_eq!(out.status.code(), Some(1));
    assert!(stderr(&out).contains("unknown service"), "{}", stderr(&out));
}

#[test]
fn parse_shows_how_many_events_a_line_stands_for() {
    let root = Root::new();
    append(
        &root,
        &[line(
            1,
            "sshd[9]",
            "message repeated 3 times: [ Failed password for bob from 198.51.100.50 port 5 ssh2]",
        )],
    );
    let out = root.run(&["parse", &root.auth_log().display().to_string()]);
    assert!(out.status.success(), "{}", stderr(&out));
    let json: serde_json::Value = serde_json::from_slice(&out.stdout).expect("one JSON object");
    assert_eq!(json["count"], 3, "{json}");
    assert_eq!(json["ip"], "198.51.100.50");
    // The summary counts events, not lines.
    assert!(stderr(&out).contains("failed   3"), "{}", stderr(&out));
}

/// An rsyslog line stamped now: trust counts attempts within `trusted_window` of now.
fn line_now(program: &str, message: &str) -> String {
    let now = chrono::Utc::now().format("%Y-%m-%dT%H:%M:%S%.6f+00:00");
    format!("{now} web1 {program}: {message}")
}

fn history_reasons(root: &Root, ip: &str) -> Vec<(String, String)> {
    let report: serde_json::Value =
        serde_json::from_str(&root.ok(&["report", ip, "--json"])).expect("report JSON");
    (report["history"].as_array().cloned().unwrap_or_default())
        .iter()
        .map(|h| {
            (
                h["action"].as_str().unwrap_or_default().to_string(),
                h["reason"].as_str().unwrap_or_default().to_string(),
            )
        })
        .collect()
}

#[test]
fn a_login_trusts_its_accounts_only_and_never_as_a_shared_account() {
    let root = Root::new();
    let (bot, colleague, visitor) = ("203.0.113.50", "198.51.100.50", "198.51.100.51");
    let mut lines = vec![
        line_now(
            "sshd[200]",
            &format!("Accepted publickey for git from {bot} port 4000 ssh2"),
        ),
        line_now(
            "sshd[300]",
            &format!("Accepted password for alice from {colleague} port 5000 ssh2"),
        ),
        line_now(
            "sshd[400]",
            &format!("Accepted password for carol from {visitor} port 6000 ssh2"),
        ),
    ];
    append(&root, &lines);
    for ip in [bot, colleague, visitor] {
        for _ in 0..3 {
            root.ok(&["connect", ip]);
        }
    }
    assert_eq!(
        root.row(bot).map(|r| (r.1, r.2)),
        Some((0, 0)),
        "git@ confers no trust"
    );
    assert!(
        root.row(colleague).expect("row").1 > 0,
        "alice's login trusts"
    );
    assert!(
        root.row(visitor).expect("row").1 > 0,
        "carol's login trusts"
    );

    // The git@ user guesses 12 other accounts and root: blocked, and the reason says why.
    lines.clear();
    for (n, user) in (0..12).map(|n| format!("user{n}")).enumerate() {
        lines.push(line_now(
            &format!("sshd[{}]", 210 + n),
            &format!("Invalid user {user} from {bot} port {}", 4001 + n),
        ));
    }
    lines.push(line_now(
        "sshd[230]",
        &format!("Failed password for root from {bot} port 4100 ssh2"),
    ));
    // The colleague mistypes his own password a hundred times: never blocked.
    for n in 0..100 {
        lines.push(line_now(
            "sshd[301]",
            &format!(
                "Failed password for alice from {colleague} port {} ssh2",
                5001 + n
            ),
        ));
    }
    // The visitor guesses 12 other accounts and root: counted, under trusted_max_attempts (30).
    for n in 0..12 {
        lines.push(line_now(
            &format!("sshd[{}]", 410 + n),
            &format!("Invalid user guess{n} from {visitor} port {}", 6001 + n),
        ));
    }
    lines.push(line_now(
        "sshd[430]",
        &format!("Failed password for root from {visitor} port 6100 ssh2"),
    ));
    append(&root, &lines);
    for ip in [bot, colleague, visitor] {
        root.ok(&["connect", ip]);
    }
    assert!(
        root.row(bot).expect("row").2 > 0,
        "the git@ guesser is blocked"
    );
    let (_, reason) = history_reasons(&root, bot).pop().expect("a decision");
    assert!(reason.contains("confer no trust"), "{reason}");
    assert!(
        root.row(colleague).expect("row").1 > 0,
        "alice's typos never block"
    );
    assert!(
        root.row(visitor).expect("row").1 > 0,
        "13 attempts are not more than 30"
    );

    // 18 more guesses from the visitor's address: 31 within the window block it.
    lines.clear();
    for n in 0..18 {
        lines.push(line_now(
            &format!("sshd[{}]", 440 + n),
            &format!(
                "Failed password for bob from {visitor} port {} ssh2",
                6200 + n
            ),
        ));
    }
    append(&root, &lines);
    root.ok(&["connect", visitor]);
    let (_, _, blocked) = root.row(visitor).expect("row");
    assert!(
        blocked > 0,
        "a trusted address guessing other accounts is blocked"
    );
    let (action, reason) = history_reasons(&root, visitor).pop().expect("a decision");
    assert_eq!(action, "block");
    assert!(
        reason.contains("31 failed or invalid logins")
            && reason.contains("(carol)")
            && reason.contains("trusted_max_attempts (30)"),
        "{reason}"
    );
    assert!(root.deny_text().contains(visitor));
    assert!(!root.deny_text().contains(colleague));

    // The report shows whom the colleague's address is trusted for, and until when.
    let report: serde_json::Value =
        serde_json::from_str(&root.ok(&["report", colleague, "--json"])).expect("JSON");
    let trust = report["trust"].as_array().expect("trust in the report");
    assert_eq!(trust.len(), 1, "{report}");
    assert_eq!(trust[0]["account"], "alice");
    let (last, until) = (
        trust[0]["last_login"].as_i64().expect("last_login"),
        trust[0]["until"].as_i64().expect("until"),
    );
    assert_eq!(until - last, 90 * 86_400);
    let text = root.ok(&["report", colleague]);
    assert!(text.contains("trusted for account alice since"), "{text}");
}

#[test]
fn trust_expires_trust_days_after_the_last_login_and_a_login_renews_it() {
    let root = Root::new();
    let ip = "198.51.100.60";
    append(
        &root,
        &[line_now(
            "sshd[500]",
            &format!("Accepted publickey for dave from {ip} port 7000 ssh2"),
        )],
    );
    for _ in 0..3 {
        root.ok(&["connect", ip]);
    }
    assert!(root.row(ip).expect("row").1 > 0, "allowed after the login");

    // A newer login renews the trust, and the history says so.
    append(
        &root,
        &[line_now(
            "sshd[501]",
            &format!("Accepted publickey for dave from {ip} port 7001 ssh2"),
        )],
    );
    let conn = rusqlite::Connection::open(root.db()).expect("open");
    conn.execute("UPDATE trust SET last_success = last_success - 86400", [])
        .expect("age the login a day");
    root.ok(&["connect", ip]);
    let history = history_reasons(&root, ip);
    assert_eq!(
        history.iter().map(|h| h.0.as_str()).collect::<Vec<_>>(),
        ["allow", "trust"],
        "{history:?}"
    );
    assert!(history[1].1.contains("login as dave"), "{history:?}");

    // 91 days without a login: the next connect ends the trust and says why.
    conn.execute(
        "UPDATE trust SET last_success = last_success - 91 * 86400",
        [],
    )
    .expect("age the trust");
    drop(conn);
    root.ok(&["connect", ip]);
    assert_eq!(
        root.row(ip).map(|r| (r.1, r.2)),
        Some((0, 0)),
        "trust expired"
    );
    let (action, reason) = history_reasons(&root, ip).pop().expect("a decision");
    assert_eq!(action, "unlist");
    assert!(reason.starts_with("trust expired"), "{reason}");
    let report: serde_json::Value =
        serde_json::from_str(&root.ok(&["report", ip, "--json"])).expect("JSON");
    assert!(report.get("trust").is_none(), "no trust is left: {report}");

    // A manual allow is not trust: it stays until delisted, with no end shown.
    root.ok(&["allow", "198.51.100.61"]);
    let text = root.ok(&["report", "198.51.100.61"]);
    assert!(text.contains("allowed until delisted"), "{text}");

    // Expiry through `sentry expire` as well.
    append(
        &root,
        &[line_now(
            "sshd[502]",
            &format!("Accepted publickey for dave from {ip} port 7002 ssh2"),
        )],
    );
    root.ok(&["connect", ip]);
    assert!(root.row(ip).expect("row").1 > 0, "a new login trusts again");
    let conn = rusqlite::Connection::open(root.db()).expect("open");
    conn.execute(
        "UPDATE trust SET last_success = last_success - 91 * 86400",
        [],
    )
    .expect("age the trust");
    drop(conn);
    root.ok(&["expire"]);
    assert_eq!(
        root.row(ip).map(|r| (r.1, r.2)),
        Some((0, 0)),
        "expired by expire"
    );
    assert!(
        root.row("198.51.100.61").expect("row").1 > 0,
        "the manual allow stays"
    );
}

#[test]
fn scan_trusts_a_login_but_not_a_shared_accounts() {
    let root = Root::new();
    let (forge_user, colleague) = ("203.0.113.80", "198.51.100.80");
    let mut lines = vec![
        line_now(
            "sshd[600]",
            &format!("Accepted publickey for gitea from {forge_user} port 1 ssh2"),
        ),
        line_now(
            "sshd[601]",
            &format!("Invalid user oracle from {forge_user} port 2"),
        ),
        line_now(
            "sshd[700]",
            &format!("Accepted password for erin from {colleague} port 3 ssh2"),
        ),
    ];
    for n in 0..40 {
        lines.push(line_now(
            "sshd[701]",
            &format!(
                "Failed password for erin from {colleague} port {} ssh2",
                10 + n
            ),
        ));
    }
    append(&root, &lines);
    root.ok(&["scan"]);
    assert!(
        root.row(forge_user).expect("row").2 > 0,
        "gitea@ trusts nothing"
    );
    assert!(
        root.row(colleague).expect("row").1 > 0,
        "erin's own typos never block"
    );
    let history = history_reasons(&root, colleague);
    assert_eq!(history.len(), 1, "{history:?}");
    assert!(
        history[0].1.contains("trusted for erin until"),
        "{history:?}"
    );
}
