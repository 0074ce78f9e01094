//! IPv6 prefixes counted and blocked as one (`ipv6_prefix`, `prefix_block_after`): the
//! real binary on a real log and database, the deny file judged by the real `tcpdmatch`.

mod common;

use std::io::Write;
use std::process::Command;

use common::Root;

fn append(root: &Root, lines: &[String]) {
    let mut f = std::fs::OpenOptions::new()
        .append(true)
        .open(root.auth_log())
        .expect("open auth.log");
    for line in lines {
        writeln!(f, "{line}").expect("append");
    }
}

/// An rsyslog line `n` seconds into 2026-11-24 10:00 UTC, from its own sshd process.
fn line(n: u32, message: &str) -> String {
    format!(
        "2026-11-24T10:{:02}:{:02}.000000+00:00 web1 sshd[{}]: {message}",
        n / 60,
        n % 60,
        1000 + n
    )
}

fn invalid_user(n: u32, ip: &str) -> String {
    line(n, &format!("Invalid user admin{n} from {ip} port 4242"))
}

fn failed(n: u32, ip: &str) -> String {
    line(
        n,
        &format!("Failed password for alice from {ip} port {} ssh2", 5000 + n),
    )
}

fn config(root: &Root, text: &str) {
    std::fs::write(root.path().join("sentry.toml"), text).expect("write sentry.toml");
}

fn sqlite(root: &Root, sql: &str) -> String {
    let out = Command::new("sqlite3")
        .arg(root.db())
        .arg(sql)
        .output()
        .expect("run sqlite3");
    String::from_utf8_lossy(&out.stdout).trim().to_string()
}

#[test]
fn three_blocked_addresses_of_a_prefix_become_one_line() {
    let root = Root::new();
    append(
        &root,
        &[
            invalid_user(1, "2001:db8:1:2::a"),
            invalid_user(2, "2001:db8:1:2::b"),
            invalid_user(3, "2001:db8:1:3::c"),
        ],
    );
    root.ok(&["scan"]);
    let deny = root.deny_text();
    assert!(deny.contains("ALL: [2001:db8:1:2::a] : deny"), "{deny}");
    assert!(
        !deny.contains("/64"),
        "two of a /64 are not enough:\n{deny}"
    );

    append(&root, &[invalid_user(4, "2001:db8:1:2::d")]);
    let out = root.ok(&["-v", "scan"]);
    let deny = root.deny_text();
    assert!(
        deny.contains("ALL: [2001:db8:1:2::]/64 : deny"),
        "the prefix is one line:\n{deny}\n{out}"
    );
    for single in ["2001:db8:1:2::a", "2001:db8:1:2::b", "2001:db8:1:2::d"] {
        assert!(
            !deny.contains(&format!("[{single}]")),
            "{single} is dropped from the deny file:\n{deny}"
        );
        assert!(
            root.row(single).expect("row").2 > 0,
            "{single} stays blocked in the database"
        );
    }
    assert!(
        deny.contains("ALL: [2001:db8:1:3::c] : deny"),
        "another prefix's address stays:\n{deny}"
    );

    // A new address of the prefix connecting is refused at the counter, as a blocked one.
    for _ in 0..3 {
        root.ok(&["--connect", "--ip=2001:db8:1:2::99"]);
    }
    assert_eq!(root.row("2001:db8:1:2::99").map(|r| r.2), Some(0));

    let report = root.ok(&["report", "2001:db8:1:2::99"]);
    assert!(
        report.contains("in 2001:db8:1:2::/64, blocked whole since"),
        "{report}"
    );

    // report lists the prefix with its members; delist lifts it and its addresses.
    let report = root.ok(&["report"]);
    assert!(
        report.contains("2001:db8:1:2::/64") && report.contains("4 addresses"),
        "{report}"
    );
    let json = root.ok(&["report", "--json"]);
    assert!(json.contains("\"prefix\":\"2001:db8:1:2::/64\""), "{json}");
    let out = root.ok(&["delist", "2001:db8:1:2::/64"]);
    assert!(out.contains("3 blocked addresses"), "{out}");
    let deny = root.deny_text();
    assert!(!deny.contains("2001:db8:1:2:"), "{deny}");
    assert!(deny.contains("[2001:db8:1:3::c]"), "{deny}");
    assert_eq!(root.row("2001:db8:1:2::a").map(|r| r.2), Some(0));
    let out = root.ok(&["delist", "2001:db8:7::/64"]);
    assert!(out.contains("nothing to delist"), "{out}");
    let refused = root.run(&["delist", "2001:db8:1:2::1/64"]);
    assert_eq!(refused.status.code(), Some(1));
}

#[test]
fn a_bot_rotating_addresses_is_blocked_after_max_attempts_in_total() {
    let root = Root::new();
    config(&root, "max_attempts = 10\n");
    // Eleven addresses of one /64, one failure each: none would ever be blocked alone.
    let lines: Vec<String> = (1..=11)
        .map(|n| failed(n, &format!("2001:db8:5:6::{n:x}")))
        .collect();
    append(&root, &lines[..10]);
    root.ok(&["scan"]);
    assert!(
        !root.deny_text().contains("2001:db8:5:6"),
        "10 in total is not more than 10"
    );
    append(&root, &lines[10..]);
    root.ok(&["scan"]);
    let deny = root.deny_text();
    assert!(deny.contains("ALL: [2001:db8:5:6::]/64 : deny"), "{deny}");
    assert_eq!(
        root.row("2001:db8:5:6::1").map_or(0, |r| r.2),
        0,
        "no single block"
    );
    let history = sqlite(
        &root,
        "SELECT reason FROM decisions WHERE ip = '2001:db8:5:6::/64'",
    );
    assert!(history.contains("11 failed"), "{history}");
}

#[test]
fn prefixes_off_or_protected_are_never_blocked_whole() {
    // 128 turns prefixes off; never_block and an allowed address protect a prefix.
    let cases = [
        ("ipv6_prefix = 128\n", None),
        ("never_block = [\"2001:db8:1:2::77\"]\n", None),
        ("", Some("2001:db8:1:2::77")),
    ];
    for (text, allowed) in cases {
        let root = Root::new();
        config(&root, text);
        if let Some(ip) = allowed {
            root.ok(&["allow", ip]);
        }
        let mut lines: Vec<String> = ["a", "b", "d"]
            .iter()
            .enumerate()
            .map(|(n, h)| invalid_user(n as u32 + 1, &format!("2001:db8:1:2::{h}")))
            .collect();
        lines.extend((10..30).map(|n| failed(n, &format!("2001:db8:1:2::{n:x}"))));
        append(&root, &lines);
        root.ok(&["scan"]);
        let deny = root.deny_text();
        assert!(!deny.contains("/64"), "{text:?} {allowed:?}:\n{deny}");
        assert!(
            deny.contains("[2001:db8:1:2::a]"),
            "single blocks stay:\n{deny}"
        );
    }
}

#[test]
fn connections_count_per_prefix_toward_inspection() {
    let root = Root::new();
    // Two invalid users from two addresses, one connect each: the third connect from a
    // third address of the prefix is the prefix's third, and reads the log.
    append(
        &root,
        &[
            invalid_user(1, "2001:db8:9:9::1"),
            invalid_user(2, "2001:db8:9:9::2"),
            invalid_user(3, "2001:db8:9:9::3"),
        ],
    );
    root.ok(&["--connect", "--ip=2001:db8:9:9::1"]);
    root.ok(&["--connect", "--ip=2001:db8:9:9::2"]);
    assert_eq!(
        root.row("2001:db8:9:9::1").map(|r| r.2),
        Some(0),
        "not read yet"
    );
    root.ok(&["--connect", "--ip=2001:db8:9:9::3"]);
    let deny = root.deny_text();
    assert!(
        deny.contains("ALL: [2001:db8:9:9::]/64 : deny"),
        "the prefix's third connect read the log and blocked it:\n{deny}"
    );
}

#[test]
fn tcpd_denies_the_prefix_and_nothing_outside_it() {
    if !common::require("tcpdmatch") {
        return;
    }
    let root = Root::new();
    append(
        &root,
        &(1..=3)
            .map(|n| invalid_user(n, &format!("2001:db8:1:2::{n}")))
            .collect::<Vec<_>>(),
    );
    root.ok(&["scan"]);
    assert!(root.deny_text().contains("[2001:db8:1:2::]/64"));
    let etc = tempfile::tempdir().expect("a temporary /etc");
    std::fs::write(
        etc.path().join("hosts.allow"),
        format!(
            "sshd : {} : deny\nsshd : ALL : allow\n",
            root.deny_file().display()
        ),
    )
    .expect("write hosts.allow");
    std::fs::write(etc.path().join("hosts.deny"), "").expect("write hosts.deny");
    let access = |address: &str| {
        let out = Command::new("tcpdmatch")
            .args(["-d", "sshd", address])
            .current_dir(etc.path())
            .output()
            .expect("run tcpdmatch");
        let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
        (stdout.lines())
            .find_map(|l| l.strip_prefix("access:"))
            .map(|v| v.trim().to_string())
            .unwrap_or_else(|| panic!("no verdict for {address}: {stdout}"))
    };
    for inside in [
        "2001:db8:1:2::1",
        "2001:db8:1:2::beef",
        "2001:db8:1:2:ffff:ffff:ffff:ffff",
    ] {
        assert_eq!(access(inside), "denied", "{inside}");
    }
    for outside in [
        "2001:db8:1:3::1",
        "2001:db8:1:1:ffff:ffff:ffff:ffff",
        "192.0.2.1",
    ] {
        assert_eq!(access(outside), "granted", "{outside}");
    }
}

#[test]
fn allowing_an_address_lifts_the_block_of_its_prefix() {
    let root = Root::new();
    for ip in ["2001:db8:1:2::a", "2001:db8:1:2::b", "2001:db8:1:2::c"] {
        root.ok(&["block", ip]);
    }
    assert_eq!(root.deny_text(), "ALL: [2001:db8:1:2::]/64 : deny\n");
    // The colleague in that /64 who logs in (here: by hand) must not stay refused.
    root.ok(&["allow", "2001:db8:1:2::77"]);
    assert_eq!(
        root.deny_text(),
        "ALL: [2001:db8:1:2::a] : deny\nALL: [2001:db8:1:2::b] : deny\nALL: [2001:db8:1:2::c] : deny\n",
        "the prefix is lifted, its blocked addresses listed one by one again"
    );
    let history = sqlite(
        &root,
        "SELECT action, reason FROM decisions WHERE ip = '2001:db8:1:2::/64'",
    );
    assert!(
        history.contains("unlist|2001:db8:1:2::77 in it was allowed"),
        "{history}"
    );
    // And it is not blocked whole again.
    root.ok(&["block", "2001:db8:1:2::d"]);
    assert!(!root.deny_text().contains("/64"));
}

#[test]
fn a_prefix_blocked_again_after_its_block_expired_stays_blocked_twice_as_long() {
    let root = Root::new();
    let day = 86_400;
    let prefix = "2001:db8:1:2::/64";
    let now = || {
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .expect("clock")
            .as_secs() as i64
    };
    let age = |days: i64| {
        rusqlite::Connection::open(root.db())
            .expect("open")
            .execute(
                "UPDATE prefixes SET block = ?1 WHERE prefix = ?2",
                rusqlite::params![now() - days * day, prefix],
            )
            .expect("age the prefix's block");
    };
    let blocked_prefix = || -> Option<serde_json::Value> {
        let json: serde_json::Value =
            serde_json::from_str(&root.ok(&["report", "--json"])).expect("json");
        json["prefixes"]
            .as_array()
            .and_then(|p| p.iter().find(|p| p["prefix"] == prefix).cloned())
    };
    for ip in ["2001:db8:1:2::a", "2001:db8:1:2::b", "2001:db8:1:2::c"] {
        root.ok(&["block", ip]);
    }
    let p = blocked_prefix().expect("blocked whole");
    assert_eq!(p["count"].as_i64(), Some(1), "{p}");

    // Its first block ends after 90 days (its addresses' own blocks are younger).
    age(91);
    root.ok(&["expire"]);
    assert!(blocked_prefix().is_none(), "lifted after 90 days");
    assert!(!root.deny_text().contains("/64"));

    // Blocked again: the second time, for 180 days, by `connect` and `expire` alike.
    root.ok(&["block", "2001:db8:1:2::d"]);
    let p = blocked_prefix().expect("blocked whole again");
    assert_eq!(p["count"].as_i64(), Some(2), "{p}");
    assert!(
        root.ok(&["report"]).contains(", blocked 2 times"),
        "report shows the count"
    );
    age(179);
    root.ok(&["--connect", "--ip=2001:db8:1:2::99"]);
    root.ok(&["expire"]);
    assert!(blocked_prefix().is_some(), "still blocked after 179 days");
    age(181);
    root.ok(&["--connect", "--ip=2001:db8:1:2::99"]);
    assert!(
        blocked_prefix().is_none(),
        "a connect lifts it after 180 days"
    );

    // The administrator's delisting makes the next block a first one again.
    root.ok(&["block", "2001:db8:1:2::e"]);
    assert_eq!(
        blocked_prefix().expect("blocked")["count"].as_i64(),
        Some(3)
    );
    root.ok(&["delist", prefix]);
    for ip in ["2001:db8:1:2::a", "2001:db8:1:2::b", "2001:db8:1:2::c"] {
        root.ok(&["block", ip]);
    }
    assert_eq!(
        blocked_prefix().expect("blocked")["count"].as_i64(),
        Some(1)
    );
}
