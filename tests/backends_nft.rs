//! The nftables backend against the real `nft`, inside a network namespace each test
//! creates (`ip netns add`) and deletes: block, delist, IPv6, sync after a flush, expiry,
//! element timeouts, a batch of 10,000, and a broken backend that must not lose decisions.
//! Needs root (CI runs as root; elsewhere these tests skip with a message).

mod common;

use std::collections::BTreeSet;

use common::{Netns, Root};

/// A root whose config enables tcpwrappers and nftables; `top` goes before any table,
/// `extra` after.
fn nft_root_with(top: &str, extra: &str) -> Root {
    let root = Root::new();
    std::fs::write(
        root.path().join("sentry.toml"),
        format!("{top}[block]\nbackends = [\"tcpwrappers\", \"nftables\"]\n{extra}"),
    )
    .expect("write config");
    root
}

fn nft_root(extra: &str) -> Root {
    nft_root_with("", extra)
}

/// The kernel's view: the elements of one set, read with `nft -j`.
fn elements(ns: &Netns, set: &str) -> BTreeSet<String> {
    let out = ns.run_ok("nft", &["-j", "list", "set", "inet", "sentry", set]);
    let json: serde_json::Value = serde_json::from_str(&out).expect("nft json");
    let mut found = BTreeSet::new();
    for item in json["nftables"].as_array().expect("nftables array") {
        for elem in item["set"]["elem"].as_array().into_iter().flatten() {
            let text = elem
                .as_str()
                .or_else(|| elem["elem"]["val"].as_str())
                .expect("element");
            found.insert(text.to_string());
        }
    }
    found
}

fn set_of(items: &[&str]) -> BTreeSet<String> {
    items.iter().map(|s| s.to_string()).collect()
}

#[test]
fn block_delist_and_ipv6_reach_the_kernel_sets() {
    let Some(ns) = Netns::new() else { return };
    if !common::require("nft") {
        return;
    }
    let root = nft_root("");
    ns.sentry_ok(&root, &["block", "203.0.113.9"]);
    ns.sentry_ok(&root, &["block", "203.0.113.99"]);
    ns.sentry_ok(&root, &["--ip=2001:DB8::9", "--block"]);
    assert_eq!(
        elements(&ns, "blocklist4"),
        set_of(&["203.0.113.9", "203.0.113.99"])
    );
    assert_eq!(elements(&ns, "blocklist6"), set_of(&["2001:db8::9"]));
    // The table holds sets only: sentry never writes a rule.
    let ruleset = ns.run_ok("nft", &["list", "table", "inet", "sentry"]);
    assert!(!ruleset.contains("chain"), "{ruleset}");

    ns.sentry_ok(&root, &["delist", "203.0.113.9"]);
    ns.sentry_ok(&root, &["allow", "2001:db8::9"]);
    assert_eq!(elements(&ns, "blocklist4"), set_of(&["203.0.113.99"]));
    assert!(elements(&ns, "blocklist6").is_empty());
    // Removing what is not there is not an error.
    ns.sentry_ok(&root, &["delist", "203.0.113.9"]);
    assert_eq!(
        root.deny_text(),
        "ALL: 203.0.113.99 : deny\n",
        "tcpwrappers kept in step"
    );
}

#[test]
fn sync_restores_a_flushed_set_and_removes_strays() {
    let Some(ns) = Netns::new() else { return };
    if !common::require("nft") {
        return;
    }
    let root = nft_root("");
    for ip in ["198.51.100.1", "198.51.100.2", "2001:db8::1"] {
        ns.sentry_ok(&root, &["block", ip]);
    }
    // A firewall reload empties the sets; an address sentry no longer blocks is left over.
    ns.run_ok("nft", &["flush", "set", "inet", "sentry", "blocklist4"]);
    ns.run_ok(
        "nft",
        &[
            "add",
            "element",
            "inet",
            "sentry",
            "blocklist4",
            "{ 192.0.2.200 }",
        ],
    );
    let dry = ns.sentry_ok(&root, &["sync", "--dry-run"]);
    assert!(
        dry.contains("nftables: would add 2, would remove 1"),
        "{dry}"
    );
    assert_eq!(
        elements(&ns, "blocklist4"),
        set_of(&["192.0.2.200"]),
        "dry run changes nothing"
    );
    let out = ns.sentry_ok(&root, &["sync"]);
    assert!(out.contains("nftables: added 2, removed 1"), "{out}");
    assert_eq!(
        elements(&ns, "blocklist4"),
        set_of(&["198.51.100.1", "198.51.100.2"])
    );
    assert_eq!(elements(&ns, "blocklist6"), set_of(&["2001:db8::1"]));
    // Sync also recreates a deleted table.
    ns.run_ok("nft", &["delete", "table", "inet", "sentry"]);
    ns.sentry_ok(&root, &["sync"]);
    assert_eq!(elements(&ns, "blocklist4").len(), 2);
}

#[test]
fn expire_lifts_backdated_blocks_everywhere() {
    let Some(ns) = Netns::new() else { return };
    if !common::require("nft") {
        return;
    }
    let root = nft_root("");
    ns.sentry_ok(&root, &["block", "198.51.100.10"]);
    ns.sentry_ok(&root, &["block", "198.51.100.11"]);
    let conn = rusqlite::Connection::open(root.db()).expect("open db");
    conn.execute(
        "UPDATE ip_records SET block = CAST(strftime('%s', 'now') AS INTEGER) - 100 * 86400 WHERE ip = '198.51.100.10'",
        [],
    )
    .expect("backdate");
    drop(conn);
    ns.sentry_ok(&root, &["expire"]);
    assert_eq!(elements(&ns, "blocklist4"), set_of(&["198.51.100.11"]));
    assert_eq!(root.row("198.51.100.10").map(|r| r.2), Some(0));
    assert_eq!(root.deny_text(), "ALL: 198.51.100.11 : deny\n");
}

#[test]
fn element_timeouts_carry_the_remaining_life_of_the_block() {
    let Some(ns) = Netns::new() else { return };
    if !common::require("nft") {
        return;
    }
    let root = nft_root_with("expire_block_days = 2\n", "[nftables]\ntimeout = true\n");
    ns.sentry_ok(&root, &["block", "203.0.113.50"]);
    let out = ns.run_ok(
        "nft",
        &["-j", "list", "set", "inet", "sentry", "blocklist4"],
    );
    let json: serde_json::Value = serde_json::from_str(&out).expect("json");
    let elem = json["nftables"]
        .as_array()
        .expect("array")
        .iter()
        .find_map(|i| i["set"]["elem"].as_array().and_then(|e| e.first().cloned()))
        .expect("one element");
    assert_eq!(elem["elem"]["val"], "203.0.113.50");
    let timeout = elem["elem"]["timeout"].as_u64().expect("timeout");
    assert!(
        (2 * 86_400 - 60..=2 * 86_400).contains(&timeout),
        "timeout {timeout}"
    );

    // Blocked again after the block expired: the element lives twice as long.
    let conn = rusqlite::Connection::open(root.db()).expect("open");
    conn.execute("UPDATE ip_records SET block = block - 3 * 86400", [])
        .expect("age the block");
    drop(conn);
    ns.sentry_ok(&root, &["expire"]);
    ns.sentry_ok(&root, &["block", "203.0.113.50"]);
    let out = ns.run_ok(
        "nft",
        &["-j", "list", "set", "inet", "sentry", "blocklist4"],
    );
    let json: serde_json::Value = serde_json::from_str(&out).expect("json");
    let timeout = json["nftables"]
        .as_array()
        .expect("array")
        .iter()
        .find_map(|i| i["set"]["elem"].as_array().and_then(|e| e.first().cloned()))
        .and_then(|e| e["elem"]["timeout"].as_u64())
        .expect("one element with a timeout");
    assert!(
        (4 * 86_400 - 60..=4 * 86_400).contains(&timeout),
        "a second block's timeout {timeout}"
    );
}

#[test]
fn ten_thousand_addresses_in_one_sync() {
    let Some(ns) = Netns::new() else { return };
    if !common::require("nft") {
        return;
    }
    let root = Root::new();
    std::fs::write(
        root.path().join("sentry.toml"),
        "[block]\nbackends = [\"nftables\"]\n",
    )
    .expect("config");
    root.ok(&["expire"]); // creates the database
    let mut conn = rusqlite::Connection::open(root.db()).expect("open db");
    let tx = conn.transaction().expect("begin");
    for i in 0..10_000u32 {
        let ip = format!("10.{}.{}.{}", 1 + i / 65_536, (i / 256) % 256, i % 256);
        tx.execute(
            "INSERT INTO ip_records (ip, seen, allow, block) VALUES (?1, 0, 0, CAST(strftime('%s', 'now') AS INTEGER))",
            [ip],
        )
        .expect("insert");
    }
    tx.commit().expect("commit");
    drop(conn);
    let started = std::time::Instant::now();
    let out = ns.sentry_ok(&root, &["sync"]);
    eprintln!(
        "sync of 10,000 addresses into nftables: {:?}",
        started.elapsed()
    );
    assert!(out.contains("nftables: added 10000, removed 0"), "{out}");
    assert_eq!(elements(&ns, "blocklist4").len(), 10_000);
}

#[test]
fn a_broken_backend_keeps_the_decision_and_sync_repairs_it() {
    let Some(ns) = Netns::new() else { return };
    if !common::require("nft") {
        return;
    }
    let root = nft_root("[nftables]\nnft = \"/nonexistent/nft\"\n");
    let out = ns.sentry(&root, &["block", "203.0.113.77"]);
    assert_eq!(out.status.code(), Some(2), "the admin is told");
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("nftables") && err.contains("sentry sync"),
        "{err}"
    );
    assert!(
        root.row("203.0.113.77").expect("row").2 > 0,
        "the decision is kept"
    );
    assert_eq!(
        root.deny_text(),
        "ALL: 203.0.113.77 : deny\n",
        "other backends still applied"
    );

    // --connect fails open even when a backend is broken.
    std::fs::write(
        root.auth_log(),
        "2026-11-24T10:00:00.000000+00:00 web1 sshd[1]: Invalid user x from 203.0.113.78 port 1\n",
    )
    .expect("log");
    for _ in 0..3 {
        let out = ns.sentry(&root, &["connect", "203.0.113.78"]);
        assert!(out.status.success());
    }
    assert!(root.row("203.0.113.78").expect("row").2 > 0);

    // The admin fixes the path; sync puts both addresses in the set.
    std::fs::write(
        root.path().join("sentry.toml"),
        "[block]\nbackends = [\"tcpwrappers\", \"nftables\"]\n",
    )
    .expect("config");
    ns.sentry_ok(&root, &["sync"]);
    assert_eq!(
        elements(&ns, "blocklist4"),
        set_of(&["203.0.113.77", "203.0.113.78"])
    );
}

#[test]
fn a_blocked_prefix_goes_to_the_network_set_and_its_addresses_leave_once_a_rule_uses_it() {
    let Some(ns) = Netns::new() else { return };
    if !common::require("nft") {
        return;
    }
    let root = nft_root("");
    for ip in ["2001:db8:1:2::a", "2001:db8:1:2::b", "2001:db8:1:2::c"] {
        ns.sentry_ok(&root, &["block", ip]);
    }
    assert_eq!(
        elements_net(&ns, "blocklist6net"),
        set_of(&["2001:db8:1:2::/64"]),
        "the third blocked address blocks its /64"
    );
    assert_eq!(root.deny_text(), "ALL: [2001:db8:1:2::]/64 : deny\n");
    // No rule uses the network set yet: the addresses stay, and check says what to add.
    assert_eq!(elements(&ns, "blocklist6").len(), 3);
    let check = ns.sentry(&root, &["check"]);
    let said = String::from_utf8_lossy(&check.stdout);
    assert!(
        said.contains("no rule uses set blocklist6net"),
        "check warns until a rule uses the set: {said}"
    );
    let out = ns.sentry_ok(&root, &["sync"]);
    assert!(out.contains("nftables: added 0, removed 0"), "{out}");
    assert_eq!(elements(&ns, "blocklist6").len(), 3);

    // README's rule; then sync drops the single addresses, which the prefix covers.
    ns.run_ok(
        "nft",
        &[
            "add",
            "chain",
            "inet",
            "sentry",
            "input",
            "{ type filter hook input priority -10; policy accept; }",
        ],
    );
    ns.run_ok(
        "nft",
        &[
            "add",
            "rule",
            "inet",
            "sentry",
            "input",
            "ip6",
            "saddr",
            "@blocklist6net",
            "drop",
        ],
    );
    let out = ns.sentry_ok(&root, &["sync"]);
    assert!(out.contains("nftables: added 0, removed 3"), "{out}");
    assert!(elements(&ns, "blocklist6").is_empty());
    let check = ns.sentry(&root, &["check"]);
    let said = String::from_utf8_lossy(&check.stdout);
    assert!(!said.contains("blocklist6net"), "{said}");
    // A fourth address of the prefix never reaches the address set.
    ns.sentry_ok(&root, &["block", "2001:db8:1:2::d"]);
    assert!(elements(&ns, "blocklist6").is_empty());
    ns.sentry_ok(&root, &["block", "2001:db8:7::1"]);
    assert_eq!(elements(&ns, "blocklist6"), set_of(&["2001:db8:7::1"]));

    ns.sentry_ok(&root, &["delist", "2001:db8:1:2::/64"]);
    assert!(elements_net(&ns, "blocklist6net").is_empty());
    assert_eq!(elements(&ns, "blocklist6"), set_of(&["2001:db8:7::1"]));
    assert_eq!(root.deny_text(), "ALL: [2001:db8:7::1] : deny\n");
}

/// The prefixes of an interval set, as `ADDR/LEN`.
fn elements_net(ns: &Netns, set: &str) -> BTreeSet<String> {
    let out = ns.run_ok("nft", &["-j", "list", "set", "inet", "sentry", set]);
    let json: serde_json::Value = serde_json::from_str(&out).expect("nft json");
    let mut found = BTreeSet::new();
    for item in json["nftables"].as_array().expect("nftables array") {
        for elem in item["set"]["elem"].as_array().into_iter().flatten() {
            let prefix = &elem["prefix"];
            found.insert(format!(
                "{}/{}",
                prefix["addr"].as_str().expect("addr"),
                prefix["len"]
            ));
        }
    }
    found
}
