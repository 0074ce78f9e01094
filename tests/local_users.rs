//! What a local user who is not root can do to sentry's decisions: hold its locks, read
//! its database, plant a file beside the deny file, leave a failed deny-list update
//! unrepaired, or print escape sequences to the admin's terminal. Tests that act as
//! another user (`nobody`, through setpriv) need root.

mod common;

use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::time::{Duration, Instant};

use common::Root;

fn mode(path: &Path) -> u32 {
    std::fs::metadata(path)
        .unwrap_or_else(|e| panic!("stat {}: {e}", path.display()))
        .permissions()
        .mode()
        & 0o7777
}

fn chmod(path: &Path, mode: u32) {
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode))
        .unwrap_or_else(|e| panic!("chmod {}: {e}", path.display()));
}

fn write_config(root: &Path, text: &str) {
    std::fs::write(root.join("sentry.toml"), text).expect("write sentry.toml");
}

fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

fn stdout(out: &Output) -> String {
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// sentry in a root that need not exist yet (`update` creates it).
fn sentry_at(root: &Path, log: &Path, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_sentry"))
        .args(args)
        .env("ROOT_DIR", root)
        .env("SENTRY_LOGS", log)
        .output()
        .expect("run sentry")
}

/// The files a local user must not open, with the modes they must have.
fn private_files(root: &Path) -> Vec<PathBuf> {
    [
        "sentry.db",
        "sentry.db-wal",
        "sentry.db-shm",
        ".lists.lock",
        ".scan.lock",
        ".hosts.deny.lock",
    ]
    .iter()
    .map(|name| root.join(name))
    .collect()
}

/// `nobody` running `flock -n PATH sleep 10`; returned while it holds the lock.
fn nobody_holds(path: &Path) -> Option<std::process::Child> {
    let mut child = Command::new("setpriv")
        .args([
            "--reuid=65534",
            "--regid=65534",
            "--clear-groups",
            "flock",
            "-n",
        ])
        .arg(path)
        .args(["sleep", "10"])
        .stderr(std::process::Stdio::null())
        .spawn()
        .expect("run setpriv flock");
    std::thread::sleep(Duration::from_millis(300));
    match child.try_wait().expect("wait") {
        Some(_) => None,
        None => Some(child),
    }
}

#[test]
fn nobody_cannot_hold_any_lock_of_sentry() {
    if !common::is_root("locks held by nobody") || !common::require("setpriv") {
        return;
    }
    let root = Root::new();
    // The root as `update` then `setup` left it, and a deny file in a directory like /etc.
    chmod(root.path(), 0o755);
    let shared = tempfile::tempdir().expect("shared dir");
    chmod(shared.path(), 0o755);
    let deny = shared.path().join("hosts.deny");
    write_config(
        root.path(),
        &format!(
            "[tcpwrappers]\ndeny_file = {:?}\n",
            deny.display().to_string()
        ),
    );
    root.ok(&["block", "192.0.2.1"]);
    root.ok(&["scan"]);

    let mut candidates = private_files(root.path());
    candidates.push(shared.path().join(".hosts.deny.lock"));
    let mut held = Vec::new();
    let mut holders = Vec::new();
    for path in &candidates {
        if let Some(child) = nobody_holds(path) {
            held.push(path.display().to_string());
            holders.push(child);
        }
    }
    let started = Instant::now();
    let out = root.run(&["block", "192.0.2.2"]);
    let took = started.elapsed();
    for mut child in holders {
        let _ = child.kill();
        let _ = child.wait();
    }
    assert!(held.is_empty(), "nobody held {held:?}");
    assert!(out.status.success(), "block: {}", stderr(&out));
    assert!(took < Duration::from_secs(3), "block took {took:?}");
    let text = std::fs::read_to_string(&deny).expect("deny file");
    assert!(text.contains("ALL: 192.0.2.2 : deny"), "{text}");
    assert!(
        !shared.path().join(".hosts.deny.lock").exists(),
        "no lock beside a deny file in a shared directory"
    );
}

#[test]
fn update_then_setup_leaves_the_root_and_its_files_private() {
    let base = tempfile::tempdir().expect("tempdir");
    let root = base.path().join("db").join("sentry");
    let log = base.path().join("auth.log");
    std::fs::write(&log, "").expect("log");
    for args in [
        &["update"][..],
        &["setup"],
        &["--connect", "--ip=192.0.2.9"],
        &["block", "192.0.2.10"],
        &["scan"],
    ] {
        let out = sentry_at(&root, &log, args);
        assert!(out.status.success(), "{args:?}: {}", stderr(&out));
    }
    assert_eq!(mode(&root), 0o700, "root directory");
    for path in private_files(&root) {
        assert_eq!(mode(&path), 0o600, "{}", path.display());
    }

    // An older sentry's wide modes are reported and fixed by the next command.
    chmod(&root, 0o755);
    for path in private_files(&root) {
        chmod(&path, 0o644);
    }
    let out = sentry_at(&root, &log, &["--connect", "--ip=192.0.2.9"]);
    assert!(out.status.success(), "{}", stderr(&out));
    let out = sentry_at(&root, &log, &["report"]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(mode(&root), 0o700, "root directory fixed");
    for path in private_files(&root) {
        assert_eq!(mode(&path), 0o600, "{} fixed", path.display());
    }
}

#[test]
fn a_wide_root_is_reported_to_the_admin() {
    let root = Root::new();
    root.ok(&["block", "192.0.2.11"]);
    chmod(root.path(), 0o755);
    chmod(&root.db(), 0o644);
    let out = root.run(&["report"]);
    assert!(out.status.success(), "{}", stderr(&out));
    let err = stderr(&out);
    assert!(
        err.contains(&root.path().display().to_string()) && err.contains("0755"),
        "warning names the directory and its mode: {err}"
    );
    assert_eq!(mode(root.path()), 0o700);
    assert_eq!(mode(&root.db()), 0o600);
}

#[test]
fn the_group_key_opens_the_database_to_one_group() {
    if !common::is_root("chgrp to adm") {
        return;
    }
    let root = Root::new();
    write_config(root.path(), "group = \"adm\"\n");
    root.ok(&["--connect", "--ip=192.0.2.12"]);
    root.ok(&["block", "192.0.2.13"]);
    root.ok(&["scan"]);
    let meta = std::fs::metadata(root.path()).expect("root");
    assert_eq!(mode(root.path()), 0o750);
    assert_eq!(meta.gid(), 4, "root directory's group is adm");
    for name in ["sentry.db", "sentry.db-wal", "sentry.db-shm"] {
        let path = root.path().join(name);
        assert_eq!(mode(&path), 0o640, "{name}");
        assert_eq!(std::fs::metadata(&path).expect("meta").gid(), 4, "{name}");
    }
    for name in [".lists.lock", ".scan.lock", ".hosts.deny.lock"] {
        assert_eq!(
            mode(&root.path().join(name)),
            0o600,
            "{name}: locks stay root's"
        );
    }
    // An unknown group is a configuration error that names the key.
    write_config(root.path(), "group = \"no-such-group-here\"\n");
    let out = root.run(&["report"]);
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    assert!(stderr(&out).contains("group"), "{}", stderr(&out));
}

/// A deny file whose directory is a plain file cannot be written; making it a directory
/// again is the admin fixing the cause.
fn break_dir(dir: &Path) {
    let _ = std::fs::remove_dir_all(dir);
    std::fs::write(dir, "not a directory").expect("break");
}

fn repair_dir(dir: &Path) {
    std::fs::remove_file(dir).expect("unbreak");
    std::fs::create_dir(dir).expect("mkdir");
    chmod(dir, 0o700);
}

#[test]
fn a_failed_deny_list_update_is_retried_without_the_admin() {
    let root = Root::new();
    let dir = root.path().join("deny");
    let deny = dir.join("hosts.deny");
    write_config(
        root.path(),
        &format!(
            "[tcpwrappers]\ndeny_file = {:?}\n",
            deny.display().to_string()
        ),
    );
    let hosts_allow = root.path().join("hosts.allow");
    std::fs::write(&hosts_allow, "").expect("hosts.allow");
    let check = |root: &Root| {
        stdout(&root.run(&["check", "--hosts-allow", &hosts_allow.display().to_string()]))
    };
    break_dir(&dir);
    let out = root.run(&["block", "192.0.2.7"]);
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    assert!(
        root.row("192.0.2.7").is_some_and(|r| r.2 > 0),
        "decision kept"
    );
    repair_dir(&dir);
    let status = check(&root);
    assert!(
        status.contains("1 listing change not yet on every deny list"),
        "{status}"
    );

    // The address is known (blocked): its connect takes the cheap path, which still
    // notices the pending change and applies it.
    root.ok(&["--connect", "--ip=192.0.2.7"]);
    let text = std::fs::read_to_string(&deny).unwrap_or_default();
    assert!(text.contains("ALL: 192.0.2.7 : deny"), "{text}");
    assert!(!check(&root).contains("not yet on every deny list"));

    // A delisting that failed is retried by the next scan.
    // (A deny file that is a directory cannot be read.)
    root.ok(&["block", "192.0.2.8"]);
    let before = std::fs::read_to_string(&deny).expect("deny file");
    std::fs::remove_file(&deny).expect("rm deny");
    std::fs::create_dir(&deny).expect("deny file as a directory");
    let out = root.run(&["delist", "192.0.2.8"]);
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    std::fs::remove_dir(&deny).expect("rmdir deny");
    std::fs::write(&deny, before).expect("the deny file as it was");
    root.ok(&["scan"]);
    let text = std::fs::read_to_string(&deny).expect("deny file");
    assert!(!text.contains("192.0.2.8"), "{text}");
    assert!(text.contains("192.0.2.7"), "{text}");
}

#[test]
fn a_deny_file_in_a_directory_others_can_write_is_refused() {
    for dir_mode in [0o777, 0o1777, 0o775] {
        let root = Root::new();
        let shared = tempfile::tempdir().expect("shared dir");
        chmod(shared.path(), dir_mode);
        let deny = shared.path().join("hosts.deny");
        write_config(
            root.path(),
            &format!(
                "[tcpwrappers]\ndeny_file = {:?}\n",
                deny.display().to_string()
            ),
        );
        let out = root.run(&["block", "192.0.2.20"]);
        let err = stderr(&out);
        assert_eq!(out.status.code(), Some(2), "mode {dir_mode:o}: {err}");
        assert!(
            err.contains(&deny.display().to_string()) && err.contains("writable"),
            "mode {dir_mode:o}: the message names the file and the problem: {err}"
        );
        assert!(!deny.exists(), "mode {dir_mode:o}: nothing written");
    }
}

/// What a fleet server, a log or an old database may hold: a title change and a clear screen.
const HOSTILE: &str = "\x1b]0;pwned\x07\x1b[2J";

fn has_control(text: &str) -> bool {
    text.chars()
        .any(|c| c.is_control() && c != '\n' && c != '\t')
}

fn seed_hostile_rows(root: &Root, ip: &str) {
    let conn = rusqlite::Connection::open(root.db()).expect("open db");
    conn.execute(
        "INSERT INTO decisions (ip, action, at, reason, origin) VALUES (?1, 'block', 1700000000, ?2, ?3)",
        rusqlite::params![ip, format!("fleet: {HOSTILE}"), format!("web{HOSTILE}")],
    )
    .expect("decision");
    conn.execute(
        "INSERT INTO evidence (ip, service, kind, count) VALUES (?1, ?2, 'naughty', 1)",
        rusqlite::params![ip, format!("sshd{HOSTILE}\"")],
    )
    .expect("evidence");
    conn.execute_batch(&format!(
        "INSERT OR REPLACE INTO sentry_meta (key, value) VALUES ('fleet_failures', '2');
         INSERT OR REPLACE INTO sentry_meta (key, value) VALUES ('fleet_last_error', 'server said {HOSTILE}
second line');"
    ))
    .expect("meta");
}

#[test]
fn text_from_logs_fleet_or_database_is_printed_escaped() {
    let root = Root::new();
    root.ok(&["--connect", "--ip=192.0.2.30"]);
    seed_hostile_rows(&root, "192.0.2.30");
    write_config(
        root.path(),
        "[fleet]\nurl = \"postgres://sentry@127.0.0.1:1/sentry\"\nhost_id = \"web1\"\n",
    );

    let report = root.ok(&["report", "192.0.2.30"]);
    assert!(!has_control(&report), "report: {report:?}");
    assert!(report.contains("\\x1b]0;pwned"), "shown, escaped: {report}");

    let overview = root.ok(&["report", "--top", "5"]);
    assert!(!has_control(&overview), "report --top: {overview:?}");

    for _ in 0..3 {
        root.ok(&["--connect", "--ip=192.0.2.30"]);
    }
    let out = root.run(&["-v", "--connect", "--ip=192.0.2.30"]);
    let verbose = stderr(&out);
    assert!(
        verbose.contains("sshd\\x1b"),
        "-v shows the evidence: {verbose}"
    );
    assert!(!has_control(&verbose), "-v: {verbose:?}");

    let hosts_allow = root.path().join("hosts.allow");
    std::fs::write(&hosts_allow, "").expect("hosts.allow");
    let check = stdout(&root.run(&["check", "--hosts-allow", &hosts_allow.display().to_string()]));
    assert!(check.contains("server said \\x1b"), "{check}");
    assert!(!has_control(&check), "check: {check:?}");
    assert_eq!(check.lines().count(), 1, "one status line: {check}");

    let metrics = root.ok(&["metrics"]);
    assert!(!has_control(&metrics), "metrics: {metrics:?}");
    let line = metrics
        .lines()
        .find(|l| l.starts_with("sentry_evidence{service=\"sshd"))
        .expect("the hostile row's metric");
    assert!(
        line.ends_with("\\\"\",kind=\"naughty\"} 1"),
        "the quote is escaped: {line}"
    );
}
