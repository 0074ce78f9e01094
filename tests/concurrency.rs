//! Many sentry processes at once, as tcpd starts them: one per connection, all racing for
//! the database and the deny file. No count may be lost, no process may fail on a lock,
//! and the deny file must end up holding exactly the blocked set, whole lines only.

mod common;

use std::collections::BTreeSet;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::Mutex;

use common::Root;

/// The tests in this file each start a hundred or more processes; running two of them at
/// once on a small machine would measure the machine, not sentry.
static ONE_AT_A_TIME: Mutex<()> = Mutex::new(());

fn serialise() -> std::sync::MutexGuard<'static, ()> {
    ONE_AT_A_TIME
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

/// Starts every command before waiting for any, then checks that each exited 0 and said
/// nothing on stderr (these commands are silent on success; a lock timeout is not).
fn run_all_at_once(commands: Vec<(String, Command)>) {
    let children: Vec<(String, Child)> = commands
        .into_iter()
        .map(|(label, mut cmd)| {
            let child = cmd
                .stdin(Stdio::null())
                .stdout(Stdio::null())
                .stderr(Stdio::piped())
                .spawn()
                .unwrap_or_else(|e| panic!("start `{label}`: {e}"));
            (label, child)
        })
        .collect();
    let mut failures = Vec::new();
    for (label, child) in children {
        let out = child
            .wait_with_output()
            .unwrap_or_else(|e| panic!("wait for `{label}`: {e}"));
        let stderr = String::from_utf8_lossy(&out.stderr);
        if !out.status.success() || !stderr.is_empty() {
            failures.push(format!("`{label}`: {} stderr: {stderr}", out.status));
        }
    }
    assert!(
        failures.is_empty(),
        "{} of the concurrent commands failed or complained (e.g. \"database is locked\"):\n{}",
        failures.len(),
        failures.join("\n")
    );
}

fn sentry(root: &Root, args: &[&str]) -> (String, Command) {
    (format!("sentry {}", args.join(" ")), root.command(args))
}

fn blocked_in_database(db: &Path) -> BTreeSet<String> {
    let conn = rusqlite::Connection::open(db).expect("open the database");
    let mut stmt = conn
        .prepare("SELECT ip FROM ip_records WHERE block > 0")
        .expect("prepare the blocked-set query");
    stmt.query_map([], |r| r.get::<_, String>(0))
        .expect("query the blocked set")
        .collect::<rusqlite::Result<_>>()
        .expect("read the blocked set")
}

fn pragma(db: &Path, name: &str) -> String {
    let conn = rusqlite::Connection::open(db).expect("open the database");
    conn.query_row(&format!("PRAGMA {name}"), [], |r| {
        r.get::<_, rusqlite::types::Value>(0)
    })
    .map(|v| match v {
        rusqlite::types::Value::Integer(n) => n.to_string(),
        rusqlite::types::Value::Text(t) => t,
        other => format!("{other:?}"),
    })
    .unwrap_or_else(|e| panic!("PRAGMA {name}: {e}"))
}

/// No `.hosts.deny.tmp.PID` (or other temporary) file may be left behind.
fn assert_no_temporary_files(dir: &Path) {
    let leftovers: Vec<String> = std::fs::read_dir(dir)
        .expect("list the root")
        .map(|e| {
            e.expect("read a directory entry")
                .file_name()
                .to_string_lossy()
                .into_owned()
        })
        .filter(|name| name.contains(".tmp"))
        .collect();
    assert!(
        leftovers.is_empty(),
        "temporary files left in {}: {leftovers:?}",
        dir.display()
    );
}

fn two_hundred_connects(root: &Root) {
    let ip = "192.0.2.50";
    run_all_at_once((0..200).map(|_| sentry(root, &["connect", ip])).collect());
    assert_eq!(
        root.row(ip).map(|(seen, _, _)| seen),
        Some(200),
        "every one of 200 concurrent connections is counted"
    );
    assert_eq!(
        root.row_count(),
        1 + i64::from(root.row("192.0.2.1").is_some()),
        "one row per address"
    );
    assert_eq!(pragma(&root.db(), "journal_mode"), "wal");
    assert_eq!(pragma(&root.db(), "user_version"), "7");
}

#[test]
fn concurrent_connects_on_an_existing_database_all_count() {
    let _one = serialise();
    let root = Root::new();
    root.ok(&["connect", "192.0.2.1"]);
    assert!(
        root.db().is_file(),
        "the first connect created the database"
    );
    two_hundred_connects(&root);
}

/// The first-run race: 200 processes all find no database and create it together.
#[test]
fn concurrent_connects_create_the_database_once() {
    let _one = serialise();
    let root = Root::new();
    assert!(!root.db().exists());
    two_hundred_connects(&root);
}

/// The same race one step earlier: not even the root directory exists yet.
#[test]
fn concurrent_connects_create_the_root_directory_once() {
    let _one = serialise();
    let parent = Root::new();
    let fresh = parent.path().join("fresh");
    let ip = "192.0.2.50";
    let commands = (0..100)
        .map(|_| {
            let (label, mut cmd) = sentry(&parent, &["connect", ip]);
            cmd.env("ROOT_DIR", &fresh);
            (label, cmd)
        })
        .collect();
    run_all_at_once(commands);
    let db = fresh.join("sentry.db");
    let conn = rusqlite::Connection::open(&db).expect("open the new database");
    let seen: i64 = conn
        .query_row("SELECT seen FROM ip_records WHERE ip = ?1", [ip], |r| {
            r.get(0)
        })
        .expect("the address has a row");
    assert_eq!(seen, 100, "every connection is counted");
}

fn net(i: u32) -> String {
    format!("198.51.100.{i}")
}

const FOREIGN: [&str; 3] = [
    "# admin comment",
    "sshd: 10.1.1.1",
    "ALL EXCEPT sshd: 10.2.2.2",
];

/// The deny file holds the foreign lines unchanged and in order, plus one whole
/// `ALL: IP : deny` line per blocked address; returns those addresses.
fn deny_file_addresses(root: &Root) -> BTreeSet<String> {
    let text = root.deny_text();
    assert!(text.ends_with('\n'), "the file ends with a whole line");
    let mut foreign = Vec::new();
    let mut addresses = BTreeSet::new();
    for line in text.lines() {
        if FOREIGN.contains(&line) {
            foreign.push(line);
            continue;
        }
        let ip = line
            .strip_prefix("ALL: ")
            .and_then(|rest| rest.strip_suffix(" : deny"))
            .unwrap_or_else(|| panic!("torn or unknown line {line:?} in the deny file:\n{text}"));
        assert!(
            addresses.insert(ip.to_string()),
            "{ip} is listed twice in the deny file:\n{text}"
        );
    }
    assert_eq!(
        foreign, FOREIGN,
        "foreign lines are kept, once each, in order"
    );
    addresses
}

fn assert_consistent(root: &Root, expected: &BTreeSet<String>) {
    let in_file = deny_file_addresses(root);
    assert_eq!(
        &in_file, expected,
        "the deny file holds exactly the blocked set"
    );
    assert_eq!(
        &blocked_in_database(&root.db()),
        expected,
        "the database's blocked set equals the deny file's"
    );
    assert_no_temporary_files(root.path());
}

#[test]
fn concurrent_blocks_and_delists_keep_the_deny_file_exact() {
    let _one = serialise();
    let root = Root::new();
    std::fs::write(root.deny_file(), FOREIGN.join("\n") + "\n").expect("write a foreign deny file");

    run_all_at_once(
        (1..=100)
            .map(|i| sentry(&root, &["block", &net(i)]))
            .collect(),
    );
    let mut expected: BTreeSet<String> = (1..=100).map(net).collect();
    assert_consistent(&root, &expected);

    // Delist the even ones while blocking 101..=150.
    let mut commands: Vec<(String, Command)> = Vec::new();
    for i in 1..=50 {
        commands.push(sentry(&root, &["delist", &net(2 * i)]));
        commands.push(sentry(&root, &["block", &net(100 + i)]));
    }
    run_all_at_once(commands);
    expected = (1..=99).step_by(2).chain(101..=150).map(net).collect();
    assert_eq!(expected.len(), 100);
    assert_consistent(&root, &expected);
    for i in 1..=50 {
        assert_eq!(
            root.row(&net(2 * i)),
            Some((0, 0, 0)),
            "{} is delisted in the database",
            net(2 * i)
        );
    }
}

/// tcpd keeps counting connections while addresses are being blocked: a realistic mix
/// (a burst of list changes among many connections) loses no count.
#[test]
fn connects_are_counted_beside_list_changes() {
    let _one = serialise();
    let root = Root::new();
    std::fs::write(root.deny_file(), FOREIGN.join("\n") + "\n").expect("write a foreign deny file");
    root.ok(&["block", &net(200)]);
    let mut commands: Vec<(String, Command)> = Vec::new();
    for i in 1..=100 {
        commands.push(sentry(&root, &["connect", "192.0.2.77"]));
        if i % 5 == 0 {
            commands.push(sentry(&root, &["block", &net(i)]));
        }
        if i == 50 {
            commands.push(sentry(&root, &["delist", &net(200)]));
        }
    }
    run_all_at_once(commands);
    assert_eq!(
        root.row("192.0.2.77").map(|(seen, _, _)| seen),
        Some(100),
        "connections counted beside the list changes"
    );
    let expected: BTreeSet<String> = (5..=100).step_by(5).map(net).collect();
    assert_consistent(&root, &expected);
}

/// The same under a heavy burst: 100 list changes queue up beside 50 connects. List
/// changes are serialised by their own lock and hold SQLite's write lock only for one
/// short transaction (never across the deny file's fsync), so no connect runs out of its
/// one-second budget and every one is counted.
#[test]
fn connects_are_counted_beside_a_burst_of_list_changes() {
    let _one = serialise();
    let root = Root::new();
    std::fs::write(root.deny_file(), FOREIGN.join("\n") + "\n").expect("write a foreign deny file");
    run_all_at_once(
        (1..=100)
            .map(|i| sentry(&root, &["block", &net(i)]))
            .collect(),
    );
    let mut commands: Vec<(String, Command)> = Vec::new();
    for i in 1..=50 {
        commands.push(sentry(&root, &["delist", &net(2 * i)]));
        commands.push(sentry(&root, &["block", &net(100 + i)]));
        commands.push(sentry(&root, &["connect", "192.0.2.77"]));
    }
    run_all_at_once(commands);
    assert_eq!(root.row("192.0.2.77").map(|(seen, _, _)| seen), Some(50));
    let expected: BTreeSet<String> = (1..=99).step_by(2).chain(101..=150).map(net).collect();
    assert_consistent(&root, &expected);
}
