//! Hostile files where sentry expects ordinary ones: a log that is a FIFO without a writer
//! or a directory (root ignores `chmod 000`, so a directory is this suite's unreadable
//! log), a log replaced by either, a 1 GiB line without a newline, a damaged database, a
//! configuration file that is a directory or not UTF-8.
//!
//! Every command runs under a time limit (a hang fails the test instead of blocking it),
//! never panics, and says what is wrong; `--connect` exits 0 promptly and lets the
//! connection through.

mod common;

use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

use common::Root;

/// What `--connect` may take at most, whatever the files look like.
const CONNECT_LIMIT: Duration = Duration::from_secs(5);
/// What an admin command may take at most here (its lock waits are 10 s; none is held).
const ADMIN_LIMIT: Duration = Duration::from_secs(9);

/// Runs `cmd` with `stdin` as its input; fails the test if it is still running after
/// `limit` (killing it), or if it panicked. Returns its output and how long it took.
fn run_bounded(mut cmd: Command, stdin: &[u8], limit: Duration) -> (Output, Duration) {
    let label = format!("{cmd:?}");
    let started = Instant::now();
    let mut child = cmd
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("start {label}: {e}"));
    let mut input = child.stdin.take().expect("stdin pipe");
    let input_bytes = stdin.to_vec();
    let writer = std::thread::spawn(move || {
        let _ = input.write_all(&input_bytes);
    });
    let readers = [
        child
            .stdout
            .take()
            .map(|p| Box::new(p) as Box<dyn Read + Send>),
        child
            .stderr
            .take()
            .map(|p| Box::new(p) as Box<dyn Read + Send>),
    ]
    .map(|pipe| {
        std::thread::spawn(move || {
            let mut bytes = Vec::new();
            if let Some(mut pipe) = pipe {
                let _ = pipe.read_to_end(&mut bytes);
            }
            bytes
        })
    });
    let status = loop {
        if let Some(status) = child.try_wait().expect("poll the child") {
            break status;
        }
        if started.elapsed() > limit {
            let _ = child.kill();
            let _ = child.wait();
            panic!("{label} hung: still running after {limit:?} (killed)");
        }
        std::thread::sleep(Duration::from_millis(10));
    };
    let took = started.elapsed();
    let _ = writer.join();
    let [stdout, stderr] = readers.map(|r| r.join().expect("reader thread"));
    let output = Output {
        status,
        stdout,
        stderr,
    };
    let err = String::from_utf8_lossy(&output.stderr);
    assert!(
        !err.contains("panicked") && output.status.code() != Some(101),
        "{label} panicked: {err}"
    );
    (output, took)
}

fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

/// `sentry connect IP`: exits 0 within [`CONNECT_LIMIT`]; returns stderr.
fn connect(root: &Root, ip: &str) -> String {
    let (out, took) = run_bounded(root.command(&["connect", ip]), b"", CONNECT_LIMIT);
    assert!(
        out.status.success(),
        "connect {ip} must let the connection through, got {}: {}",
        out.status,
        stderr(&out)
    );
    assert!(took < CONNECT_LIMIT, "connect took {took:?}");
    stderr(&out)
}

/// An admin command: returns its exit code and stderr.
fn admin(root: &Root, args: &[&str], stdin: &[u8]) -> (Option<i32>, String) {
    let (out, _) = run_bounded(root.command(args), stdin, ADMIN_LIMIT);
    (out.status.code(), stderr(&out))
}

/// Keeps the tests off this machine's own journal: sentry reads it by default when no
/// configured log is a regular file, which is the situation these tests create.
fn no_journal(root: &Root) {
    std::fs::write(root.path().join("sentry.toml"), "journal = false\n").expect("write config");
}

fn mkfifo(path: &Path) {
    let status = Command::new("mkfifo")
        .arg(path)
        .status()
        .expect("run mkfifo");
    assert!(status.success(), "mkfifo {}", path.display());
}

fn invalid_user(ip: &str) -> String {
    format!("Nov 24 10:00:00 web1 sshd[1]: Invalid user admin from {ip} port 40000\n")
}

fn seen(root: &Root, ip: &str) -> Option<i64> {
    root.row(ip).map(|(seen, _, _)| seen)
}

fn blocked(root: &Root, ip: &str) -> bool {
    root.row(ip).is_some_and(|(_, _, block)| block > 0)
}

// ---- unreadable logs ------------------------------------------------------------------------

/// A bad log (given first) and the good auth.log, both in SENTRY_LOGS: connects are counted
/// and let through, the good log is still read, and `scan` names the bad one and exits 2.
fn check_bad_log_beside_a_good_one(root: &Root, bad: &Path) {
    let logs = format!("{}:{}", bad.display(), root.auth_log().display());
    let attacker = "198.51.100.7";
    std::fs::write(root.auth_log(), invalid_user(attacker)).expect("write auth.log");
    for _ in 0..4 {
        let mut cmd = root.command(&["connect", attacker]);
        cmd.env("SENTRY_LOGS", &logs);
        let (out, took) = run_bounded(cmd, b"", CONNECT_LIMIT);
        assert!(
            out.status.success(),
            "connect lets the connection through: {}",
            stderr(&out)
        );
        assert!(took < CONNECT_LIMIT, "connect took {took:?}");
    }
    assert_eq!(seen(root, attacker), Some(4), "every connection is counted");
    assert!(
        blocked(root, attacker),
        "the readable log is still read and decides"
    );

    let mut cmd = root.command(&["scan"]);
    cmd.env("SENTRY_LOGS", &logs);
    let (out, _) = run_bounded(cmd, b"", ADMIN_LIMIT);
    let err = stderr(&out);
    assert_eq!(
        out.status.code(),
        Some(2),
        "scan reports the bad log: {err}"
    );
    assert!(
        err.contains(&bad.display().to_string()),
        "the message names the bad log: {err}"
    );
}

#[test]
fn a_log_that_is_a_fifo_without_a_writer_does_not_hang() {
    let root = Root::new();
    no_journal(&root);
    let fifo = root.path().join("fifo.log");
    mkfifo(&fifo);
    check_bad_log_beside_a_good_one(&root, &fifo);
}

#[test]
fn a_log_that_is_a_directory_is_reported() {
    let root = Root::new();
    no_journal(&root);
    let dir = root.path().join("dir.log");
    std::fs::create_dir(&dir).expect("mkdir");
    check_bad_log_beside_a_good_one(&root, &dir);
}

/// A log read before (a cursor is stored) is then replaced by something that is not a file.
fn check_replaced_log(make: fn(&Path)) {
    let root = Root::new();
    no_journal(&root);
    let ip = "198.51.100.8";
    std::fs::write(
        root.auth_log(),
        "Nov 24 10:00:00 web1 sshd[1]: Failed password for bob from 198.51.100.8 port 40000 ssh2\n",
    )
    .expect("write auth.log");
    for _ in 0..3 {
        connect(&root, ip);
    }
    std::fs::remove_file(root.auth_log()).expect("remove auth.log");
    make(&root.auth_log());
    for _ in 0..3 {
        connect(&root, ip);
    }
    assert_eq!(seen(&root, ip), Some(6), "connections are still counted");
    let (code, err) = admin(&root, &["scan"], b"");
    assert_eq!(code, Some(2), "scan: {err}");
    assert!(
        err.contains(&root.auth_log().display().to_string()),
        "the message names the log: {err}"
    );
    // Once the log is a file again, reading goes on.
    if root.auth_log().is_dir() {
        std::fs::remove_dir(root.auth_log()).expect("rmdir");
    } else {
        std::fs::remove_file(root.auth_log()).expect("rm fifo");
    }
    std::fs::write(root.auth_log(), invalid_user(ip)).expect("write auth.log");
    connect(&root, ip);
    assert!(blocked(&root, ip), "the new log is read and decides");
}

#[test]
fn a_log_replaced_by_a_directory_is_reported() {
    check_replaced_log(|path| std::fs::create_dir(path).expect("mkdir"));
}

#[test]
fn a_log_replaced_by_a_fifo_does_not_hang() {
    check_replaced_log(mkfifo);
}

// ---- a 1 GiB line -------------------------------------------------------------------------

/// Peak resident set size in KiB of `sentry ARGS`, measured by GNU time; None without it.
fn connect_with_peak_rss(root: &Root, ip: &str, limit: Duration) -> (Option<u64>, Duration) {
    let report: PathBuf = root.path().join("rss.txt");
    let report_arg = report.display().to_string();
    // tests/install-tools installs GNU time, so in CI the memory bound is always checked.
    let cmd = if common::require("/usr/bin/time") {
        root.command_via(
            &["/usr/bin/time", "-f", "%M", "-o", &report_arg],
            &["connect", ip],
        )
    } else {
        root.command(&["connect", ip]) // the time bound alone
    };
    let (out, took) = run_bounded(cmd, b"", limit);
    assert!(
        out.status.success(),
        "connect lets the connection through: {}",
        stderr(&out)
    );
    let rss = std::fs::read_to_string(&report).ok().map(|text| {
        text.trim()
            .lines()
            .last()
            .and_then(|l| l.trim().parse().ok())
            .unwrap_or_else(|| panic!("unexpected /usr/bin/time output {text:?}"))
    });
    (rss, took)
}

#[test]
fn a_one_gib_line_without_a_newline_is_streamed_not_loaded() {
    let root = Root::new();
    // 1 GiB of zero bytes, no newline: a sparse file, so the disk holds nothing.
    let file = std::fs::OpenOptions::new()
        .write(true)
        .open(root.auth_log())
        .expect("open auth.log");
    file.set_len(1 << 30).expect("make a sparse 1 GiB log");
    drop(file);
    let ip = "198.51.100.9";
    connect(&root, ip);
    connect(&root, ip);
    // The third connection inspects the log and meets the whole 1 GiB line. Reading it
    // costs the kernel about 2.5 s here just to hand over a GiB of sparse pages, and a
    // debug build's byte loop as much again: the limit is 5 s for release builds only.
    let limit = if cfg!(debug_assertions) {
        Duration::from_secs(20)
    } else {
        CONNECT_LIMIT
    };
    let (rss, took) = connect_with_peak_rss(&root, ip, limit);
    eprintln!("inspecting connect over a 1 GiB line: {took:?}, peak RSS {rss:?} KiB");
    if let Some(kib) = rss {
        assert!(
            kib < 64 * 1024,
            "peak RSS {kib} KiB: the line was loaded into memory"
        );
    }
    // The line is not read again by every later connection ...
    let (_, again) = connect_with_peak_rss(&root, ip, limit);
    assert!(
        again < Duration::from_secs(2),
        "the next connect took {again:?}: it read the 1 GiB line again"
    );
    // ... and what is written after it is still read.
    let mut log = std::fs::OpenOptions::new()
        .append(true)
        .open(root.auth_log())
        .expect("open auth.log");
    log.write_all(format!("\n{}", invalid_user(ip)).as_bytes())
        .expect("append");
    drop(log);
    connect(&root, ip);
    assert!(
        blocked(&root, ip),
        "the line after the 1 GiB line is read and decides"
    );
    let (code, err) = admin(&root, &["scan"], b"");
    assert_eq!(code, Some(0), "scan: {err}");
}

/// `sentry ARGS` with its address space capped at `mib` MiB (`ulimit -v`): a program that
/// tried to hold a longer line than that would abort.
fn capped(root: &Root, mib: u64, args: &[&str]) -> Command {
    let script = format!("ulimit -v {}; exec \"$0\" \"$@\"", mib * 1024);
    root.command_via(&["/bin/sh", "-c", &script], args)
}

#[test]
fn ingest_and_parse_skip_an_overlong_line_in_bounded_memory() {
    let root = Root::new();
    let ip = "198.51.100.10";
    // 160 MiB of one line on stdin, then a real line: with 96 MiB of address space the
    // long line can only be streamed past.
    let mut input = vec![b'A'; 160 << 20];
    input.push(b'\n');
    input.extend_from_slice(invalid_user(ip).as_bytes());

    let (out, _) = run_bounded(capped(&root, 96, &["parse", "-"]), &input, ADMIN_LIMIT);
    assert!(out.status.success(), "parse: {}", stderr(&out));
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        stdout.contains(ip),
        "the line after the long one is parsed: {stdout}"
    );
    assert!(
        stderr(&out).contains("2 lines read, 1 recognised"),
        "{}",
        stderr(&out)
    );

    let (out, _) = run_bounded(capped(&root, 96, &["ingest"]), &input, ADMIN_LIMIT);
    assert!(out.status.success(), "ingest: {}", stderr(&out));
    assert!(
        blocked(&root, ip),
        "the line after the long one is ingested and decides"
    );
}

// ---- a damaged database ---------------------------------------------------------------------

/// Every command that uses the database (`connect` in both forms first), with its stdin.
fn database_commands(root: &Root) -> Vec<(Vec<String>, Vec<u8>)> {
    let ip = "192.0.2.9".to_string();
    let dump = root.path().join("dump.txt");
    std::fs::write(&dump, "192.0.2.5\t3\t0\t0\n").expect("write a dump");
    let s = |args: &[&str]| args.iter().map(|a| a.to_string()).collect::<Vec<_>>();
    vec![
        (s(&["connect", &ip]), vec![]),
        (s(&["--ip", &ip, "--connect"]), vec![]),
        (s(&["allow", &ip]), vec![]),
        (s(&["block", &ip]), vec![]),
        (s(&["delist", &ip]), vec![]),
        (s(&["--ip", &ip, "--blacklist"]), vec![]),
        (s(&["report"]), vec![]),
        (s(&["report", &ip, "--json"]), vec![]),
        (s(&["report", &ip, "--lines"]), vec![]),
        (s(&["--report", "-v"]), vec![]),
        (s(&["dump"]), vec![]),
        (s(&["--dbdump"]), vec![]),
        (s(&["scan"]), vec![]),
        (s(&["scan", "--dry-run"]), vec![]),
        (s(&["sync"]), vec![]),
        (s(&["sync", "--dry-run"]), vec![]),
        (s(&["expire"]), vec![]),
        (s(&["import"]), vec![]),
        (
            s(&["import", "--dump", &dump.display().to_string()]),
            vec![],
        ),
        (s(&["ingest"]), invalid_user("192.0.2.77").into_bytes()),
        (s(&["setup"]), vec![]),
    ]
}

/// Runs every command in a fresh root holding `damage(root)`'s database: `--connect` exits
/// 0 and says it let the connection through, every other command exits 2 naming the
/// database, and the damaged file is left as it was.
fn check_every_command_on(damage: fn(&Root), skip: &[&str]) {
    let mut failures = Vec::new();
    let count = database_commands(&Root::new()).len();
    for n in 0..count {
        let root = Root::new();
        std::fs::write(
            root.auth_log(),
            "Nov 24 10:00:00 web1 sshd[1]: Invalid user a from 192.0.2.9 port 1\n",
        )
        .expect("write auth.log");
        damage(&root);
        let before = std::fs::read(root.db()).expect("read the damaged database");
        // The old one-file-per-address layout, for `import` to find.
        let seen_dir = root.path().join("seen/198/51/100");
        if database_commands(&root)[n].0 == ["import"] {
            std::fs::create_dir_all(&seen_dir).expect("mkdir seen");
            std::fs::write(seen_dir.join("7"), "1700000000\n").expect("write a seen file");
        }
        let (args, stdin) = database_commands(&root).swap_remove(n);
        if skip.contains(&args[0].as_str()) {
            continue;
        }
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        let is_connect = args.contains(&"connect") || args.contains(&"--connect");
        let limit = if is_connect {
            CONNECT_LIMIT
        } else {
            ADMIN_LIMIT
        };
        let (out, _) = run_bounded(root.command(&args), &stdin, limit);
        let err = stderr(&out);
        let db = root.db().display().to_string();
        let ok = if is_connect {
            out.status.success() && err.contains("let through") && err.contains(&db)
        } else {
            out.status.code() == Some(2) && err.contains(&db)
        };
        if !ok {
            failures.push(format!("sentry {args:?}: {} {err}", out.status));
        }
        if std::fs::read(root.db()).ok().as_ref() != Some(&before) {
            failures.push(format!("sentry {args:?} changed the damaged database"));
        }
    }
    assert!(
        failures.is_empty(),
        "on a damaged database, --connect must exit 0 and every other command 2, naming the \
         database, and leave it alone:\n{}",
        failures.join("\n")
    );
}

/// Not SQLite at all: 20 KB of pseudo-random bytes.
fn garbage_database(root: &Root) {
    let mut x: u32 = 0x1234_5678;
    let bytes: Vec<u8> = (0..20_000)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 17;
            x ^= x << 5;
            x as u8
        })
        .collect();
    std::fs::write(root.db(), bytes).expect("write a garbage database");
}

/// A real sentry database (30 blocks, checkpointed) whose pages after the first were
/// overwritten: SQLite opens it, and fails on the first read of a table.
fn damaged_pages_database(root: &Root) {
    for i in 1..=30 {
        let out = root.run(&["block", &format!("198.51.100.{i}")]);
        assert!(out.status.success(), "{out:?}");
    }
    let conn = rusqlite::Connection::open(root.db()).expect("open");
    conn.query_row("PRAGMA wal_checkpoint(TRUNCATE)", [], |_| Ok(()))
        .expect("checkpoint");
    drop(conn);
    let mut bytes = std::fs::read(root.db()).expect("read the database");
    assert!(bytes.len() > 8192, "the database has more than two pages");
    for (i, b) in bytes.iter_mut().enumerate().skip(4096) {
        *b = (i.wrapping_mul(7) + 3) as u8;
    }
    std::fs::write(root.db(), bytes).expect("damage the database");
    let _ = std::fs::remove_file(root.path().join("sentry.db-wal"));
    let _ = std::fs::remove_file(root.path().join("sentry.db-shm"));
}

#[test]
fn a_file_that_is_not_a_database_fails_every_command_cleanly() {
    check_every_command_on(garbage_database, &[]);
}

#[test]
fn a_database_with_damaged_pages_fails_every_command_cleanly() {
    check_every_command_on(damaged_pages_database, &["setup"]);
}

#[test]
fn setup_on_a_database_with_damaged_pages_fails() {
    let root = Root::new();
    damaged_pages_database(&root);
    let (code, err) = admin(&root, &["setup"], b"");
    assert_eq!(code, Some(2), "setup on a damaged database: {err}");
    assert!(err.contains(&root.db().display().to_string()), "{err}");
}

#[test]
fn parse_needs_no_database() {
    let root = Root::new();
    garbage_database(&root);
    std::fs::write(root.auth_log(), invalid_user("192.0.2.9")).expect("write auth.log");
    let log = root.auth_log().display().to_string();
    let (out, _) = run_bounded(root.command(&["parse", &log]), b"", ADMIN_LIMIT);
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(
        String::from_utf8_lossy(&out.stdout).contains("192.0.2.9"),
        "{out:?}"
    );
}

// ---- a broken configuration file ----------------------------------------------------------

/// With `--config PATH`: `--connect` exits 0 saying why; other commands fail naming PATH.
fn check_broken_config(root: &Root, path: &Path) -> Vec<Option<i32>> {
    let config = path.display().to_string();
    let mut cmd = root.command(&["--config", &config, "connect", "192.0.2.9"]);
    cmd.env_remove("ROOT_DIR");
    let (out, took) = run_bounded(cmd, b"", CONNECT_LIMIT);
    let err = stderr(&out);
    assert!(out.status.success(), "connect fails open: {err}");
    assert!(took < CONNECT_LIMIT);
    assert!(
        err.contains("let through") && err.contains(&config),
        "connect says why: {err}"
    );
    let log = root.auth_log().display().to_string();
    let mut codes = Vec::new();
    for args in [
        vec!["block", "192.0.2.9"],
        vec!["report"],
        vec!["scan"],
        vec!["parse", &log],
    ] {
        let mut full = vec!["--config", config.as_str()];
        full.extend(&args);
        let (out, _) = run_bounded(root.command(&full), b"", ADMIN_LIMIT);
        let err = stderr(&out);
        assert!(
            !out.status.success(),
            "{args:?} with a broken config: {err}"
        );
        assert!(
            err.contains(&config),
            "{args:?}: the message names the file: {err}"
        );
        codes.push(out.status.code());
    }
    assert!(
        !root.db().exists(),
        "nothing was created with a broken config"
    );
    codes
}

#[test]
fn a_config_file_that_is_a_directory_is_a_clear_error() {
    let root = Root::new();
    let dir = root.path().join("sentry.d");
    std::fs::create_dir(&dir).expect("mkdir");
    check_broken_config(&root, &dir);
}

#[test]
fn a_config_file_with_invalid_utf8_is_a_clear_error() {
    let root = Root::new();
    let path = root.path().join("bad.toml");
    std::fs::write(&path, b"inspect_after = 3\nroot = \"/var/db/\xff\xfe\"\n").expect("write");
    check_broken_config(&root, &path);
}

#[test]
fn a_config_file_with_invalid_utf8_is_bad_input() {
    let root = Root::new();
    let path = root.path().join("bad.toml");
    std::fs::write(&path, b"inspect_after = 3\nroot = \"/var/db/\xff\xfe\"\n").expect("write");
    let codes = check_broken_config(&root, &path);
    assert!(
        codes.iter().all(|c| *c == Some(1)),
        "exit codes {codes:?}, README says 1 for a bad config"
    );
}

#[test]
fn the_default_config_path_being_a_directory_is_a_clear_error() {
    let root = Root::new();
    let config = root.path().join("sentry.toml");
    std::fs::create_dir(&config).expect("mkdir");
    let err = connect(&root, "192.0.2.9");
    assert!(
        err.contains(&config.display().to_string()),
        "connect says the config was not read: {err:?}"
    );
    let (code, err) = admin(&root, &["report"], b"");
    assert_ne!(code, Some(0), "report with an unreadable config: {err}");
    assert!(err.contains(&config.display().to_string()), "{err}");
}

#[test]
fn the_default_config_path_with_invalid_utf8_is_a_clear_error() {
    let root = Root::new();
    let config = root.path().join("sentry.toml");
    std::fs::write(&config, b"max_attempts = 5\n# \xc3\x28 broken\n").expect("write");
    let err = connect(&root, "192.0.2.9");
    assert!(
        err.contains("let through") && err.contains(&config.display().to_string()),
        "{err}"
    );
    let (code, err) = admin(&root, &["block", "192.0.2.9"], b"");
    assert_ne!(code, Some(0), "{err}");
    assert!(err.contains(&config.display().to_string()), "{err}");
    assert!(!root.db().exists(), "nothing was stored");
}
