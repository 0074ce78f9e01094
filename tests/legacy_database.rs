//! A database written by the bash original (sentry.sh 2.00), used in place: created and
//! filled with the real `sqlite3` CLI exactly as sentry.sh does it, then opened by this
//! sentry, and read back with `sqlite3` the way an admin's one-liners do.

mod common;

use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{SystemTime, UNIX_EPOCH};

use common::Root;

/// sentry.sh's `init_db`, verbatim.
const CREATE_TABLE: &str = "CREATE TABLE IF NOT EXISTS ip_records (
        ip TEXT PRIMARY KEY,
        seen INTEGER DEFAULT 0,
        allow INTEGER DEFAULT 0,
        block INTEGER DEFAULT 0
    );";

/// The columns as `PRAGMA table_info(ip_records)` shows them for that table.
const TABLE_INFO: &str = "0|ip|TEXT|0||1\n\
                          1|seen|INTEGER|0|0|0\n\
                          2|allow|INTEGER|0|0|0\n\
                          3|block|INTEGER|0|0|0";

/// Runs one `sqlite3 DB SQL` command line and returns its trimmed stdout.
fn sqlite3(db: &Path, sql: &str) -> String {
    let out = Command::new("sqlite3")
        .arg(db)
        .arg(sql)
        .stdin(Stdio::null())
        .output()
        .expect("run sqlite3");
    assert!(
        out.status.success() && out.stderr.is_empty(),
        "sqlite3 {} {sql:?} failed: {}\nstderr: {}",
        db.display(),
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).trim_end().to_string()
}

/// sentry.sh's `save_ip_record`, verbatim.
fn save_ip_record(db: &Path, ip: &str, seen: i64, allow: i64, block: i64) {
    sqlite3(
        db,
        &format!(
            "INSERT OR REPLACE INTO ip_records (ip, seen, allow, block) \n                        VALUES ('{ip}', {seen}, {allow}, {block});"
        ),
    );
}

fn now() -> i64 {
    let secs = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .expect("the clock is after 1970")
        .as_secs();
    i64::try_from(secs).expect("the time fits in i64")
}

/// Block timestamps of the fixture: recent enough not to expire (90 days by default).
struct Fixture {
    mapped_block: i64,
    ipv6_block: i64,
}

/// What sentry.sh 2.00 leaves behind: every address stored as typed, so one host can
/// have several rows, and whatever else reached the table.
fn bash_original_database(root: &Root) -> Fixture {
    let db = root.db();
    let fixture = Fixture {
        mapped_block: now() - 3600,
        ipv6_block: now() - 7200,
    };
    sqlite3(&db, CREATE_TABLE);
    save_ip_record(&db, "192.0.2.7", 5, 1_700_000_000, 0);
    save_ip_record(&db, "::ffff:198.51.100.7", 2, 0, 0);
    save_ip_record(&db, "198.51.100.7", 3, 0, fixture.mapped_block);
    save_ip_record(&db, "2001:DB8::1", 4, 0, fixture.ipv6_block);
    save_ip_record(&db, "not-an-ip", 1, 0, 0);
    // Allowed and later blocked: the originals left both columns set.
    save_ip_record(&db, "192.0.2.8", 1, 1_700_000_000, 1_700_000_500);

    assert_eq!(
        sqlite3(&db, "PRAGMA user_version"),
        "0",
        "fixture: unversioned"
    );
    assert_eq!(
        sqlite3(&db, "PRAGMA journal_mode"),
        "delete",
        "fixture: rollback journal"
    );
    assert_eq!(sqlite3(&db, "SELECT COUNT(*) FROM ip_records"), "6");
    fixture
}

#[test]
fn bash_database_is_migrated_in_place() {
    if !common::require("sqlite3") {
        return;
    }
    let root = Root::new();
    let fixture = bash_original_database(&root);
    let db = root.db();

    // The first command migrates, so the report already counts one host once.
    let json = root.ok(&["report", "--json"]);
    let report: serde_json::Value = serde_json::from_str(&json).expect("report --json is JSON");
    assert_eq!(
        report,
        serde_json::json!({"unique_ips": 5, "records": 5, "connections": 16, "allowed": 1, "blocked": 3, "blocked_again": 0}),
        "report after migrating: {json}"
    );

    let out = root.run(&["--ip=::ffff:198.51.100.7", "--connect"]);
    assert!(
        out.status.success() && out.stderr.is_empty(),
        "legacy --connect: {}\nstderr: {}",
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );

    assert_eq!(
        sqlite3(
            &db,
            "SELECT seen, allow, block FROM ip_records WHERE ip='198.51.100.7'"
        ),
        format!("6|0|{}", fixture.mapped_block),
        "the mapped and plain rows were merged (2 + 3 + this connection), block kept"
    );
    assert_eq!(
        sqlite3(
            &db,
            "SELECT COUNT(*) FROM ip_records WHERE ip LIKE '%198.51.100.7'"
        ),
        "1",
        "one row for the host"
    );
    assert_eq!(
        sqlite3(
            &db,
            "SELECT ip, seen, allow, block FROM ip_records WHERE ip LIKE '2001:%'"
        ),
        format!("2001:db8::1|4|0|{}", fixture.ipv6_block),
        "upper-case IPv6 became canonical"
    );
    assert_eq!(
        sqlite3(
            &db,
            "SELECT seen, allow, block FROM ip_records WHERE ip='not-an-ip'"
        ),
        "1|0|0",
        "a row that is no address is left untouched"
    );
    assert_eq!(
        sqlite3(
            &db,
            "SELECT seen, allow, block FROM ip_records WHERE ip='192.0.2.7'"
        ),
        "5|1700000000|0",
        "an already canonical row is unchanged"
    );
    assert_eq!(
        sqlite3(
            &db,
            "SELECT seen, allow, block FROM ip_records WHERE ip='192.0.2.8'"
        ),
        "1|0|1700000500",
        "of allow and block, the later decision stays"
    );
    assert_eq!(sqlite3(&db, "PRAGMA user_version"), "7");
    assert_eq!(sqlite3(&db, "PRAGMA journal_mode"), "wal");
    assert_eq!(
        sqlite3(&db, "PRAGMA table_info(ip_records)"),
        TABLE_INFO,
        "the original table's columns are unchanged"
    );
}

#[test]
fn bash_one_liners_keep_working_on_the_migrated_database() {
    if !common::require("sqlite3") {
        return;
    }
    let root = Root::new();
    let fixture = bash_original_database(&root);
    let db = root.db();
    root.ok(&["--ip=::ffff:198.51.100.7", "--connect"]);
    assert_eq!(sqlite3(&db, "PRAGMA user_version"), "7", "migrated");

    // sentry.sh's do_report, init_db and load_ip_record, verbatim.
    assert_eq!(sqlite3(&db, "SELECT COUNT(*) FROM ip_records;"), "5");
    assert_eq!(sqlite3(&db, "SELECT SUM(seen) FROM ip_records;"), "17");
    assert_eq!(
        sqlite3(&db, "SELECT COUNT(*) FROM ip_records WHERE allow > 0;"),
        "1"
    );
    assert_eq!(
        sqlite3(&db, "SELECT COUNT(*) FROM ip_records WHERE block > 0;"),
        "3"
    );
    assert_eq!(sqlite3(&db, CREATE_TABLE), "", "init_db is a no-op");
    assert_eq!(
        sqlite3(
            &db,
            "SELECT seen, allow, block FROM ip_records WHERE ip = '198.51.100.7';"
        ),
        format!("6|0|{}", fixture.mapped_block)
    );

    // A write by the bash original (a rollback, or a script) is seen by sentry.
    save_ip_record(&db, "203.0.113.5", 7, 0, 0);
    let json = root.ok(&["report", "203.0.113.5", "--json"]);
    let report: serde_json::Value = serde_json::from_str(&json).expect("report --json is JSON");
    assert_eq!(report["record"]["seen"], 7, "{json}");
    assert_eq!(report["unique_ips"], 6, "{json}");
    root.ok(&["connect", "203.0.113.5"]);
    assert_eq!(
        sqlite3(&db, "SELECT seen FROM ip_records WHERE ip = '203.0.113.5';"),
        "8"
    );
}

/// sentry.sh prepended `ALL: $IP : deny` with the address as typed; IPv6 without brackets
/// matches nothing in tcpd. The next rewrite puts every such line in the canonical form.
#[test]
fn bash_deny_file_lines_are_made_canonical() {
    if !common::require("sqlite3") {
        return;
    }
    let root = Root::new();
    bash_original_database(&root);
    std::fs::write(
        root.deny_file(),
        "ALL: 2001:DB8::1 : deny\nALL: 198.51.100.7 : deny\nALL: ::ffff:198.51.100.7 : deny\n",
    )
    .expect("write the bash original's deny file");
    root.ok(&["block", "203.0.113.5"]);
    // 192.0.2.8 is blocked in the database but was missing from the file: added on migration.
    assert_eq!(
        root.deny_text(),
        "ALL: [2001:db8::1] : deny\nALL: 198.51.100.7 : deny\nALL: 192.0.2.8 : deny\nALL: 203.0.113.5 : deny\n"
    );
    root.ok(&["delist", "::ffff:198.51.100.7"]);
    assert_eq!(
        root.deny_text(),
        "ALL: [2001:db8::1] : deny\nALL: 192.0.2.8 : deny\nALL: 203.0.113.5 : deny\n"
    );
    assert_eq!(
        sqlite3(
            &root.db(),
            "SELECT COUNT(*) FROM ip_records WHERE block > 0;"
        ),
        "3",
        "2001:db8::1, 192.0.2.8 and 203.0.113.5"
    );
}

/// The first open after the upgrade happens under load: many `--connect`s race to
/// migrate; the merge must happen exactly once and no connection may be lost.
#[test]
fn concurrent_first_opens_migrate_once() {
    if !common::require("sqlite3") {
        return;
    }
    let root = Root::new();
    let fixture = bash_original_database(&root);
    let children: Vec<_> = (0..50)
        .map(|_| {
            root.command(&["--ip=::ffff:198.51.100.7", "--connect"])
                .stdout(Stdio::null())
                .stderr(Stdio::piped())
                .spawn()
                .expect("start sentry --connect")
        })
        .collect();
    for child in children {
        let out = child.wait_with_output().expect("wait for sentry --connect");
        assert!(
            out.status.success() && out.stderr.is_empty(),
            "concurrent --connect: {}\nstderr: {}",
            out.status,
            String::from_utf8_lossy(&out.stderr)
        );
    }
    assert_eq!(
        sqlite3(
            &root.db(),
            "SELECT ip, seen, allow, block FROM ip_records WHERE ip LIKE '%198.51.100.7'"
        ),
        format!("198.51.100.7|55|0|{}", fixture.mapped_block),
        "merged once: 2 + 3 + 50 connections"
    );
    assert_eq!(sqlite3(&root.db(), "PRAGMA user_version"), "7");
}

/// The bash database says blocked but its deny file is gone (or never had the line):
/// the first run of this sentry puts every blocked address back into the deny file.
#[test]
fn blocks_in_a_bash_database_reach_the_deny_file_on_first_run() {
    if !common::require("sqlite3") {
        return;
    }
    let root = Root::new();
    bash_original_database(&root);
    assert!(!root.deny_file().exists());
    root.ok(&["report"]);
    assert_eq!(
        root.deny_text(),
        "ALL: 192.0.2.8 : deny\nALL: 198.51.100.7 : deny\nALL: [2001:db8::1] : deny\n"
    );
}

/// A database of the version before blocks were counted (3): the count starts from the
/// decision history, each move from not blocked to blocked, so an address that already came
/// back after an expired block gets a longer block at once.
#[test]
fn block_counts_start_from_the_history_on_upgrade() {
    if !common::require("sqlite3") {
        return;
    }
    let root = Root::new();
    let db = root.db();
    root.ok(&["block", "198.51.100.7"]);
    root.ok(&["block", "192.0.2.9"]);
    let t = now() - 3600;
    // What version 3 held: no counts; 198.51.100.7 blocked, lifted, blocked again (and
    // `block` typed twice), 192.0.2.9 blocked once; a stray delisted address.
    sqlite3(
        &db,
        &format!(
            "DROP TABLE block_counts; DELETE FROM decisions;
             INSERT INTO decisions (ip, action, at, reason) VALUES
                 ('198.51.100.7', 'block', {t0}, 'x'), ('198.51.100.7', 'unlist', {t1}, 'x'),
                 ('198.51.100.7', 'block', {t}, 'x'), ('198.51.100.7', 'block', {t}, 'x'),
                 ('192.0.2.9', 'block', {t}, 'x'), ('203.0.113.1', 'unlist', {t}, 'x');
             UPDATE ip_records SET block = {t};
             PRAGMA user_version = 3;",
            t0 = t - 200 * 86_400,
            t1 = t - 100 * 86_400,
        ),
    );
    let json: serde_json::Value =
        serde_json::from_str(&root.ok(&["report", "--json", "198.51.100.7"])).expect("json");
    assert_eq!(sqlite3(&db, "PRAGMA user_version"), "7");
    assert_eq!(json["blocks"]["count"], 2, "{json}");
    assert_eq!(json["blocks"]["days"], 180, "{json}");
    assert_eq!(json["blocked_again"], 1, "{json}");
    assert_eq!(
        sqlite3(&db, "SELECT ip, times FROM block_counts ORDER BY ip"),
        "192.0.2.9|1\n198.51.100.7|2"
    );
}

/// A database as sentry wrote it at schema version 3 (before trust was scoped to accounts):
/// the history tells automatic allows from those made by hand.
#[test]
fn automatic_allows_become_expiring_trust_for_any_account_on_upgrade() {
    let root = Root::new();
    let conn = rusqlite::Connection::open(root.db()).expect("open");
    conn.execute_batch(
        "CREATE TABLE ip_records (ip TEXT PRIMARY KEY, seen INTEGER DEFAULT 0,
             allow INTEGER DEFAULT 0, block INTEGER DEFAULT 0);
         CREATE INDEX ip_records_blocked ON ip_records(block) WHERE block > 0;
         CREATE TABLE sentry_meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
         CREATE TABLE evidence (ip TEXT NOT NULL, service TEXT NOT NULL, kind TEXT NOT NULL,
             count INTEGER NOT NULL DEFAULT 0, first INTEGER, last INTEGER,
             version INTEGER NOT NULL DEFAULT 0,
             PRIMARY KEY (ip, service, kind)) WITHOUT ROWID;
         CREATE TABLE log_cursors (source TEXT PRIMARY KEY, device INTEGER NOT NULL,
             inode INTEGER NOT NULL, offset INTEGER NOT NULL, fingerprint BLOB NOT NULL,
             updated INTEGER NOT NULL DEFAULT 0);
         CREATE TABLE decisions (id INTEGER PRIMARY KEY AUTOINCREMENT, ip TEXT NOT NULL,
             action TEXT NOT NULL, at INTEGER NOT NULL, reason TEXT NOT NULL,
             origin TEXT NOT NULL DEFAULT '');
         CREATE TABLE fleet_evidence (host TEXT NOT NULL, ip TEXT NOT NULL,
             service TEXT NOT NULL, kind TEXT NOT NULL, count INTEGER NOT NULL,
             PRIMARY KEY (host, ip, service, kind)) WITHOUT ROWID;
         PRAGMA user_version = 3;",
    )
    .expect("a version 3 schema");
    let day = 86_400;
    let allows = [
        // (address, allowed days ago, reason, origin)
        ("192.0.2.10", 10, "1 success (sshd)", ""),
        ("192.0.2.11", 100, "1 success, 2 failed (sshd)", ""),
        ("192.0.2.12", 200, "by the administrator", ""),
        ("192.0.2.13", 200, "imported from fail2ban.sqlite3", ""),
        (
            "192.0.2.14",
            10,
            "fleet: allow on web2: 1 success (sshd)",
            "web2",
        ),
        ("192.0.2.15", 300, "listed before sentry kept a history", ""),
    ];
    for (ip, days_ago, reason, origin) in allows {
        let at = now() - days_ago * day;
        conn.execute(
            "INSERT INTO ip_records (ip, seen, allow, block) VALUES (?1, 5, ?2, 0)",
            rusqlite::params![ip, at],
        )
        .expect("record");
        conn.execute(
            "INSERT INTO decisions (ip, action, at, reason, origin) VALUES (?1, 'allow', ?2, ?3, ?4)",
            rusqlite::params![ip, at, reason, origin],
        )
        .expect("history");
    }
    drop(conn);

    let trust = |ip: &str| -> serde_json::Value {
        let report: serde_json::Value =
            serde_json::from_str(&root.ok(&["report", ip, "--json"])).expect("JSON");
        report["trust"].clone()
    };
    let recent = trust("192.0.2.10");
    assert_eq!(recent[0]["account"], "*", "any account: {recent}");
    assert_eq!(
        recent[0]["until"].as_i64().expect("until")
            - recent[0]["last_login"].as_i64().expect("last"),
        90 * day
    );
    assert_eq!(
        trust("192.0.2.14")[0]["account"],
        "*",
        "another host's login"
    );
    for manual in ["192.0.2.12", "192.0.2.13", "192.0.2.15"] {
        assert!(
            trust(manual).is_null(),
            "{manual} stays allowed until delisted"
        );
    }

    // Each next connect judges by it: the old automatic allow has run out; the others stay.
    for ip in ["192.0.2.10", "192.0.2.11", "192.0.2.12", "192.0.2.15"] {
        root.ok(&["connect", ip]);
    }
    assert_eq!(root.row("192.0.2.11").map(|r| (r.1, r.2)), Some((0, 0)));
    for stays in ["192.0.2.10", "192.0.2.12", "192.0.2.15"] {
        assert!(
            root.row(stays).expect("row").1 > 0,
            "{stays} is still allowed"
        );
    }
    let report = root.ok(&["report", "192.0.2.11"]);
    assert!(report.contains("trust expired"), "{report}");
}
