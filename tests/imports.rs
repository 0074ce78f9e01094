//! `sentry import` of other tools' lists: a plain list (as blocks or allows), a DenyHosts /
//! tcpwrappers deny file, and fail2ban's database; each round-trips into the same set.

mod common;

use common::Root;

fn blocked(root: &Root) -> Vec<String> {
    let dump = root.ok(&["dump"]);
    dump.lines()
        .filter(|l| l.split('\t').nth(3).is_some_and(|b| b != "0"))
        .map(|l| l.split('\t').next().expect("ip").to_string())
        .collect()
}

#[test]
fn a_plain_list_round_trips_as_blocks_or_allows() {
    let a = Root::new();
    for ip in ["203.0.113.9", "2001:db8::9", "198.51.100.3"] {
        a.ok(&["block", ip]);
    }
    let list = a.path().join("blocked.txt");
    std::fs::write(
        &list,
        format!(
            "# exported\n{}\n127.0.0.1\nnot-an-address\n",
            blocked(&a).join("\n")
        ),
    )
    .expect("write");

    let b = Root::new();
    let out = b.run(&["import", "--list", list.to_str().expect("utf-8")]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(blocked(&b), blocked(&a), "the same blocked set");
    assert!(String::from_utf8_lossy(&out.stderr).contains("imported 3 addresses"));
    assert_eq!(
        b.row("127.0.0.1"),
        None,
        "never-block addresses are not imported as blocks"
    );
    assert_eq!(b.deny_text().lines().count(), 3);

    let c = Root::new();
    c.ok(&[
        "import",
        "--list",
        list.to_str().expect("utf-8"),
        "--as",
        "allow",
    ]);
    assert!(c.row("203.0.113.9").expect("row").1 > 0, "allowed");
    assert!(
        c.row("127.0.0.1").expect("row").1 > 0,
        "allowing loopback is fine"
    );
    assert_eq!(c.deny_text(), "");
}

#[test]
fn a_denyhosts_file_becomes_blocks() {
    let root = Root::new();
    let file = root.path().join("denyhosts.deny");
    std::fs::write(
        &file,
        "# DenyHosts: Tue Nov 24 10:00:00 2026 | sshd: 203.0.113.20\nsshd: 203.0.113.20\nsshd: 203.0.113.21\nALL: ALL EXCEPT 10.0.0.1\n",
    )
    .expect("write");
    root.ok(&["import", "--hosts-deny", file.to_str().expect("utf-8")]);
    assert_eq!(blocked(&root), ["203.0.113.20", "203.0.113.21"]);
    assert_eq!(
        root.deny_text(),
        "ALL: 203.0.113.20 : deny\nALL: 203.0.113.21 : deny\n"
    );
}

#[test]
fn fail2ban_bans_keep_their_time() {
    let root = Root::new();
    let db = root.path().join("fail2ban.sqlite3");
    let conn = rusqlite::Connection::open(&db).expect("create");
    conn.execute_batch(
        "CREATE TABLE bans(jail TEXT NOT NULL, ip TEXT, timeofban INTEGER NOT NULL, bantime INTEGER NOT NULL, bancount INTEGER NOT NULL default 1, data JSON);
         INSERT INTO bans VALUES ('sshd', '203.0.113.30', 1795000000, 600, 1, '{}');
         INSERT INTO bans VALUES ('sshd', '203.0.113.30', 1795500000, 600, 2, '{}');
         INSERT INTO bans VALUES ('dovecot', '2001:db8::30', 1795400000, 600, 1, '{}');",
    )
    .expect("fill");
    drop(conn);
    root.ok(&["import", "--fail2ban", db.to_str().expect("utf-8")]);
    assert_eq!(
        root.row("203.0.113.30").map(|r| r.2),
        Some(1_795_500_000),
        "the latest ban time"
    );
    assert_eq!(root.row("2001:db8::30").map(|r| r.2), Some(1_795_400_000));

    let not_fail2ban = root.path().join("other.sqlite3");
    rusqlite::Connection::open(&not_fail2ban)
        .expect("create")
        .execute_batch("CREATE TABLE t(x)")
        .expect("fill");
    let out = root.run(&[
        "import",
        "--fail2ban",
        not_fail2ban.to_str().expect("utf-8"),
    ]);
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("not a fail2ban database"));
}

/// sentry.pl kept `seen^white^black` under the address as an integer, in whatever DBM
/// format the host's perl writes (AnyDBM_File): the test writes one with perl the same way.
#[test]
fn a_sentry_pl_dbm_file_is_merged() {
    if !common::require("perl") {
        return;
    }
    let root = Root::new();
    let dbm = root.path().join("sentry.dbm");
    let script = "use Fcntl; use AnyDBM_File; my %h; \
        tie(%h, 'AnyDBM_File', $ARGV[0], O_RDWR|O_CREAT, 0640) or die $!; \
        $h{unpack('N', pack('C4', 203, 0, 113, 9))} = '7^0^1795000000'; \
        $h{unpack('N', pack('C4', 192, 0, 2, 7))} = '3^1795100000^0'; \
        $h{'bogus'} = '1^0^0'; untie %h;";
    let ok = std::process::Command::new("perl")
        .args(["-e", script])
        .arg(&dbm)
        .status()
        .expect("run perl")
        .success();
    assert!(ok, "writing the DBM file with perl failed");
    root.ok(&["connect", "192.0.2.7"]);
    let out = root.run(&["import", "--dbm", dbm.to_str().expect("utf-8")]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(String::from_utf8_lossy(&out.stderr).contains("imported 2 addresses"));
    assert!(String::from_utf8_lossy(&out.stderr).contains("1 entry skipped"));
    assert_eq!(root.row("203.0.113.9"), Some((7, 0, 1_795_000_000)));
    assert_eq!(
        root.row("192.0.2.7"),
        Some((4, 1_795_100_000, 0)),
        "counts are added"
    );
    assert_eq!(root.deny_text(), "ALL: 203.0.113.9 : deny\n");
    let out = root.run(&["import", "--dbm", "/nonexistent/sentry.dbm"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("could not be read"));
}
