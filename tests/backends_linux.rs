//! The ipset, iptables and route backends against the real tools, inside a network
//! namespace each test creates (`ip netns add`) and deletes: block, delist, IPv6, exact
//! membership, sync after the kernel's list was flushed from outside sentry, expiry, a
//! batch of 10,000, and the admin's own rules and routes left alone. Every tool runs
//! through `ip netns exec`, never in this machine's namespace. Needs root (CI runs as
//! root; elsewhere these tests skip with a message).

mod common;

use std::collections::BTreeSet;
use std::path::Path;
use std::time::Instant;

use common::{Netns, Root};

/// A backend under test and how to read the kernel's view of it.
#[derive(Clone, Copy)]
enum Kind {
    Ipset,
    /// iptables (the host's default variant), or iptables-legacy.
    Iptables {
        legacy: bool,
    },
    Route,
}

impl Kind {
    fn backend(self) -> &'static str {
        match self {
            Kind::Ipset => "ipset",
            Kind::Iptables { .. } => "iptables",
            Kind::Route => "route",
        }
    }

    /// The tools the test needs (skips visibly when one is missing).
    fn available(self) -> bool {
        let tools: &[&str] = match self {
            Kind::Ipset => &["ipset"],
            Kind::Iptables { legacy: false } => &[
                "iptables",
                "ip6tables",
                "iptables-restore",
                "ip6tables-restore",
            ],
            Kind::Iptables { legacy: true } => &[
                "iptables-legacy",
                "ip6tables-legacy",
                "iptables-legacy-restore",
                "ip6tables-legacy-restore",
            ],
            Kind::Route => &["ip"],
        };
        tools.iter().all(|t| common::require(t))
    }

    /// The backend's program settings: (key, program).
    fn programs(self) -> Vec<(&'static str, &'static str)> {
        match self {
            Kind::Ipset => vec![("ipset", "ipset")],
            Kind::Iptables { legacy } => {
                let pick = |nft, old| if legacy { old } else { nft };
                vec![
                    ("iptables", pick("iptables", "iptables-legacy")),
                    ("ip6tables", pick("ip6tables", "ip6tables-legacy")),
                    (
                        "iptables_restore",
                        pick("iptables-restore", "iptables-legacy-restore"),
                    ),
                    (
                        "ip6tables_restore",
                        pick("ip6tables-restore", "ip6tables-legacy-restore"),
                    ),
                ]
            }
            Kind::Route => vec![("ip", "ip")],
        }
    }

    /// The backend's section of sentry.toml. With `log`, each program is a wrapper that
    /// appends `PROGRAM ARGS` to that file before running the real one.
    fn section(self, log: Option<&Path>) -> String {
        let mut section = format!("[{}]\n", self.backend());
        for (key, program) in self.programs() {
            let value = match log {
                Some(log) => logging_wrapper(log, program),
                None => program.to_string(),
            };
            section.push_str(&format!("{key} = \"{value}\"\n"));
        }
        section
    }

    fn iptables(self, v6: bool) -> &'static str {
        match (self, v6) {
            (Kind::Iptables { legacy: true }, false) => "iptables-legacy",
            (Kind::Iptables { legacy: true }, true) => "ip6tables-legacy",
            (_, false) => "iptables",
            (_, true) => "ip6tables",
        }
    }

    /// The kernel's view: (IPv4, IPv6) addresses blocked by sentry's set, chain or routes.
    fn view(self, ns: &Netns) -> (BTreeSet<String>, BTreeSet<String>) {
        match self {
            Kind::Ipset => (
                ipset_members(ns, "sentry_blocklist4"),
                ipset_members(ns, "sentry_blocklist6"),
            ),
            Kind::Iptables { .. } => (
                chain_members(ns, self.iptables(false), "SENTRY", "/32"),
                chain_members(ns, self.iptables(true), "SENTRY", "/128"),
            ),
            Kind::Route => (
                blackholes(ns, false, Some("250")),
                blackholes(ns, true, Some("250")),
            ),
        }
    }

    /// What a firewall reload does: empties the list behind sentry's back.
    fn wipe(self, ns: &Netns) {
        match self {
            Kind::Ipset => {
                ns.run_ok("ipset", &["flush", "sentry_blocklist4"]);
                // A set that is gone altogether is recreated by sync.
                ns.run_ok("ipset", &["destroy", "sentry_blocklist6"]);
            }
            Kind::Iptables { .. } => {
                ns.run_ok(self.iptables(false), &["-w", "-F", "SENTRY"]);
                ns.run_ok(self.iptables(true), &["-w", "-F", "SENTRY"]);
            }
            Kind::Route => {
                ns.run_ok("ip", &["-4", "route", "flush", "proto", "250"]);
                ns.run_ok("ip", &["-6", "route", "flush", "proto", "250"]);
            }
        }
    }
}

/// Members of one ipset, from `ipset list NAME -output save`.
fn ipset_members(ns: &Netns, set: &str) -> BTreeSet<String> {
    let out = ns.run_ok("ipset", &["list", set, "-output", "save"]);
    let mut found = BTreeSet::new();
    for line in out.lines() {
        let words: Vec<&str> = line.split_whitespace().collect();
        match words[..] {
            ["create", name, ..] => assert_eq!(name, set, "{out}"),
            ["add", name, addr] if name == set => {
                found.insert(addr.to_string());
            }
            _ => panic!("unexpected line in ipset {set}: {line:?}"),
        }
    }
    found
}

/// Addresses of the chain's rules, from `iptables -S CHAIN`; every rule in it must be a
/// plain `-s ADDRESS/32 -j DROP` (`/128` for IPv6).
fn chain_members(ns: &Netns, tool: &str, chain: &str, full: &str) -> BTreeSet<String> {
    let out = ns.run_ok(tool, &["-w", "-S", chain]);
    let mut found = BTreeSet::new();
    for line in out.lines() {
        let words: Vec<&str> = line.split_whitespace().collect();
        match words[..] {
            ["-N", name] => assert_eq!(name, chain),
            ["-A", name, "-s", source, "-j", "DROP"] if name == chain => {
                let addr = source
                    .strip_suffix(full)
                    .unwrap_or_else(|| panic!("not a host rule: {line:?}"));
                assert!(found.insert(addr.to_string()), "duplicate rule {line:?}");
            }
            _ if line.starts_with('#') => {} // iptables-nft's note about legacy tables
            _ => panic!("unexpected rule in {chain}: {line:?}"),
        }
    }
    found
}

/// Blackhole routes of one family in the main table (only protocol `proto` if given).
fn blackholes(ns: &Netns, v6: bool, proto: Option<&str>) -> BTreeSet<String> {
    let mut args = vec![
        if v6 { "-6" } else { "-4" },
        "route",
        "show",
        "type",
        "blackhole",
    ];
    if let Some(p) = proto {
        args.extend(["proto", p]);
    }
    let out = ns.run_ok("ip", &args);
    out.lines()
        .filter_map(|line| {
            let mut words = line.split_whitespace();
            assert_eq!(words.next(), Some("blackhole"), "{line:?}");
            let dest = words.next()?;
            let addr = dest.split_once('/').map_or(dest, |(a, _)| a);
            Some(addr.to_string())
        })
        .collect()
}

/// A shell script next to `log` that records its call in `log` and runs the real program
/// (found the way `common::require` does), for counting program starts. Returns its path.
fn logging_wrapper(log: &Path, program: &str) -> String {
    let real = common::which(program);
    let dir = log.parent().expect("log in a directory");
    let path = dir.join(format!("wrapped-{program}"));
    std::fs::write(
        &path,
        format!(
            "#!/bin/sh\necho \"{program} $*\" >> '{}'\nexec '{real}' \"$@\"\n",
            log.display()
        ),
    )
    .expect("write wrapper");
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o755)).expect("chmod");
    path.display().to_string()
}

fn set_of(items: &[&str]) -> BTreeSet<String> {
    items.iter().map(|s| s.to_string()).collect()
}

/// A root whose config enables tcpwrappers and the backend.
fn root_for(kind: Kind, extra: &str) -> Root {
    let root = Root::new();
    std::fs::write(
        root.path().join("sentry.toml"),
        format!(
            "[block]\nbackends = [\"tcpwrappers\", \"{}\"]\n{}{extra}",
            kind.backend(),
            kind.section(None)
        ),
    )
    .expect("write config");
    root
}

fn backdate(root: &Root, ip: &str, days: i64) {
    let conn = rusqlite::Connection::open(root.db()).expect("open db");
    let changed = conn
        .execute(
            "UPDATE ip_records SET block = CAST(strftime('%s', 'now') AS INTEGER) - ?1 * 86400 WHERE ip = ?2",
            rusqlite::params![days, ip],
        )
        .expect("backdate");
    assert_eq!(changed, 1, "{ip} has a row");
}

/// Block, re-block, delist, IPv6, exact membership, sync after a flush, strays, expiry.
fn lifecycle(kind: Kind, ns: &Netns, root: &Root) {
    let name = kind.backend();
    let empty = (BTreeSet::new(), BTreeSet::new());

    // Nothing exists yet: a dry run reads "no members" and changes nothing; sync creates.
    let dry = ns.sentry_ok(root, &["sync", "--dry-run"]);
    assert!(
        dry.contains(&format!("{name}: would add 0, would remove 0")),
        "{dry}"
    );
    ns.sentry_ok(root, &["sync"]);
    assert_eq!(kind.view(ns), empty);

    for ip in ["203.0.113.9", "1.2.3.4", "2001:db8::9"] {
        ns.sentry_ok(root, &["block", ip]);
    }
    let blocked = (
        set_of(&["1.2.3.4", "203.0.113.9"]),
        set_of(&["2001:db8::9"]),
    );
    assert_eq!(kind.view(ns), blocked);
    // Exact membership: 1.2.3.4 is not 1.2.3.45.
    assert!(!kind.view(ns).0.contains("1.2.3.45"));
    // Blocking again changes nothing and is not an error.
    ns.sentry_ok(root, &["block", "1.2.3.4"]);
    ns.sentry_ok(root, &["--ip=2001:DB8::9", "--block"]);
    assert_eq!(kind.view(ns), blocked);

    // Removing 1.2.3.45 leaves 1.2.3.4 alone.
    ns.sentry_ok(root, &["block", "1.2.3.45"]);
    assert!(kind.view(ns).0.contains("1.2.3.45"));
    ns.sentry_ok(root, &["delist", "1.2.3.45"]);
    assert_eq!(kind.view(ns), blocked);

    ns.sentry_ok(root, &["delist", "1.2.3.4"]);
    let blocked = (set_of(&["203.0.113.9"]), set_of(&["2001:db8::9"]));
    assert_eq!(kind.view(ns), blocked);
    // Removing what is not there is not an error.
    ns.sentry_ok(root, &["delist", "1.2.3.4"]);
    ns.sentry_ok(root, &["delist", "198.51.100.200"]);
    assert_eq!(kind.view(ns), blocked);

    // A firewall reload empties the list; sync puts the database's blocks back.
    kind.wipe(ns);
    let out = ns.sentry_ok(root, &["sync"]);
    assert!(
        out.contains(&format!("{name}: added 2, removed 0")),
        "{out}"
    );
    assert_eq!(kind.view(ns), blocked);
    let out = ns.sentry_ok(root, &["sync"]);
    assert!(
        out.contains(&format!("{name}: added 0, removed 0")),
        "{out}"
    );

    // Expiry lifts a block that is 100 days old, in the kernel too.
    backdate(root, "203.0.113.9", 100);
    ns.sentry_ok(root, &["expire"]);
    assert_eq!(kind.view(ns), (BTreeSet::new(), set_of(&["2001:db8::9"])));
    assert_eq!(root.row("203.0.113.9").map(|r| r.2), Some(0));
    assert_eq!(root.row("2001:db8::9").map(|r| r.2 > 0), Some(true));
}

/// 10,000 blocked rows (8,000 IPv4, 2,000 IPv6) put in place by one `sentry sync`.
fn ten_thousand(kind: Kind) {
    let Some(ns) = Netns::new() else { return };
    if !kind.available() {
        return;
    }
    let name = kind.backend();
    let legacy = if matches!(kind, Kind::Iptables { legacy: true }) {
        " (legacy)"
    } else {
        ""
    };
    let root = Root::new();
    let calls = root.path().join("calls.log");
    std::fs::write(
        root.path().join("sentry.toml"),
        format!(
            "[block]\nbackends = [\"{name}\"]\n{}",
            kind.section(Some(&calls))
        ),
    )
    .expect("config");
    // Creates the database, and the sets or chains; then count only the big sync's calls.
    ns.sentry_ok(&root, &["sync"]);
    std::fs::write(&calls, "").expect("empty the call log");
    let mut want4 = BTreeSet::new();
    let mut want6 = BTreeSet::new();
    let mut conn = rusqlite::Connection::open(root.db()).expect("open db");
    let tx = conn.transaction().expect("begin");
    for i in 0..10_000u32 {
        let ip = if i < 8_000 {
            let ip = format!("10.{}.{}.{}", 1 + i / 62_500, (i / 250) % 250, 1 + i % 250);
            want4.insert(ip.clone());
            ip
        } else {
            let ip = format!("2001:db8:1::{:x}", i + 1);
            want6.insert(ip.clone());
            ip
        };
        tx.execute(
            "INSERT INTO ip_records (ip, seen, allow, block) VALUES (?1, 0, 0, CAST(strftime('%s', 'now') AS INTEGER))",
            [ip],
        )
        .expect("insert");
    }
    tx.commit().expect("commit");
    drop(conn);

    let started = Instant::now();
    let out = ns.sentry_ok(&root, &["sync"]);
    let first = started.elapsed();
    // One program start changed the kernel's list (one per family for iptables).
    let log = std::fs::read_to_string(&calls).unwrap_or_default();
    let changes: Vec<&str> = log
        .lines()
        .filter(|l| l.contains("restore") || l.contains("-batch"))
        .collect();
    let expected = if matches!(kind, Kind::Iptables { .. }) {
        2
    } else {
        1
    };
    assert_eq!(changes.len(), expected, "{log}");
    eprintln!(
        "{name}{legacy}: program calls of that sync: {:?}",
        log.lines().collect::<Vec<_>>()
    );
    assert!(
        out.contains(&format!("{name}: added 10000, removed 0")),
        "{out}"
    );
    let (got4, got6) = kind.view(&ns);
    assert_eq!(got4.len() + got6.len(), 10_000);
    assert_eq!((got4, got6), (want4, want6));

    let started = Instant::now();
    let out = ns.sentry_ok(&root, &["sync"]);
    let again = started.elapsed();
    assert!(
        out.contains(&format!("{name}: added 0, removed 0")),
        "{out}"
    );
    let started = Instant::now();
    ns.sentry_ok(&root, &["block", "192.0.2.1"]);
    let one = started.elapsed();
    let (got4, got6) = kind.view(&ns);
    assert_eq!(got4.len() + got6.len(), 10_001);
    eprintln!(
        "{name}{legacy}: sync of 10,000 addresses {first:?}; sync with nothing to do {again:?}; one block on top {one:?}"
    );
}

#[test]
fn ipset_follows_the_database() {
    let Some(ns) = Netns::new() else { return };
    if !Kind::Ipset.available() {
        return;
    }
    let root = root_for(Kind::Ipset, "");
    lifecycle(Kind::Ipset, &ns, &root);

    // The kernel matches exact addresses: 1.2.3.45 is not in the set for 1.2.3.4.
    ns.sentry_ok(&root, &["block", "1.2.3.4"]);
    assert!(
        ns.run("ipset", &["test", "sentry_blocklist4", "1.2.3.4"])
            .status
            .success()
    );
    assert!(
        !ns.run("ipset", &["test", "sentry_blocklist4", "1.2.3.45"])
            .status
            .success()
    );
    let families = ns.run_ok("ipset", &["list", "-t"]);
    assert!(families.contains("family inet "), "{families}");
    assert!(families.contains("family inet6 "), "{families}");

    // An address sentry does not block is removed by sync.
    ns.run_ok("ipset", &["add", "sentry_blocklist4", "192.0.2.200"]);
    let out = ns.sentry_ok(&root, &["sync"]);
    assert!(out.contains("ipset: added 0, removed 1"), "{out}");
    assert_eq!(
        ipset_members(&ns, "sentry_blocklist4"),
        set_of(&["1.2.3.4"])
    );
    let deny: BTreeSet<String> = root.deny_text().lines().map(str::to_string).collect();
    assert_eq!(
        deny,
        set_of(&["ALL: 1.2.3.4 : deny", "ALL: [2001:db8::9] : deny"]),
        "tcpwrappers kept in step"
    );
}

#[test]
fn ipset_uses_sets_the_admin_made_and_names_from_the_config() {
    let Some(ns) = Netns::new() else { return };
    if !Kind::Ipset.available() {
        return;
    }
    // Sets made beforehand with options of the admin's own are used as they are.
    ns.run_ok(
        "ipset",
        &[
            "create",
            "bad_hosts4",
            "hash:ip",
            "family",
            "inet",
            "maxelem",
            "1000",
        ],
    );
    let root = Root::new();
    std::fs::write(
        root.path().join("sentry.toml"),
        "[block]\nbackends = [\"ipset\"]\nfirewall_table = \"bad_hosts\"\n[ipset]\nset6 = \"v6-blocked\"\n",
    )
    .expect("config");
    ns.sentry_ok(&root, &["sync"]);
    ns.sentry_ok(&root, &["block", "198.51.100.7"]);
    ns.sentry_ok(&root, &["block", "2001:db8::7"]);
    assert_eq!(ipset_members(&ns, "bad_hosts4"), set_of(&["198.51.100.7"]));
    assert_eq!(ipset_members(&ns, "v6-blocked"), set_of(&["2001:db8::7"]));
    let header = ns.run_ok("ipset", &["list", "-t", "bad_hosts4"]);
    assert!(header.contains("maxelem 1000"), "{header}");

    // A name ipset would misread is refused before ipset runs.
    std::fs::write(
        root.path().join("sentry.toml"),
        "[block]\nbackends = [\"ipset\"]\n[ipset]\nset4 = \"x y\"\n",
    )
    .expect("config");
    let out = ns.sentry(&root, &["block", "198.51.100.8"]);
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("set4"), "{err}");
}

#[test]
fn ipset_puts_a_blocked_prefix_in_a_network_set_and_drops_its_addresses_once_a_rule_uses_it() {
    let Some(ns) = Netns::new() else { return };
    if !Kind::Ipset.available() || !common::require("ip6tables") {
        return;
    }
    let root = root_for(Kind::Ipset, "");
    for ip in ["2001:db8:1:2::a", "2001:db8:1:2::b", "2001:db8:1:2::c"] {
        ns.sentry_ok(&root, &["block", ip]);
    }
    assert_eq!(
        ipset_members(&ns, "sentry_blocklist6net"),
        set_of(&["2001:db8:1:2::/64"])
    );
    let header = ns.run_ok("ipset", &["list", "-t", "sentry_blocklist6net"]);
    assert!(header.contains("hash:net"), "{header}");
    // Unused by any rule: the addresses stay in the address set, and check says so.
    assert_eq!(ipset_members(&ns, "sentry_blocklist6").len(), 3);
    let check = ns.sentry(&root, &["check"]);
    let said = String::from_utf8_lossy(&check.stdout);
    assert!(
        said.contains("no rule uses set sentry_blocklist6net"),
        "check warns until a rule uses the set: {said}"
    );

    // README's rule: the set is referenced, and sync drops the covered addresses.
    ns.run_ok(
        "ip6tables",
        &[
            "-I",
            "INPUT",
            "-m",
            "set",
            "--match-set",
            "sentry_blocklist6net",
            "src",
            "-j",
            "DROP",
        ],
    );
    let out = ns.sentry_ok(&root, &["sync"]);
    assert!(out.contains("ipset: added 0, removed 3"), "{out}");
    assert!(ipset_members(&ns, "sentry_blocklist6").is_empty());
    let check = ns.sentry(&root, &["check"]);
    let said = String::from_utf8_lossy(&check.stdout);
    assert!(!said.contains("sentry_blocklist6net"), "{said}");
    assert!(
        ns.run(
            "ipset",
            &["test", "sentry_blocklist6net", "2001:db8:1:2::beef"]
        )
        .status
        .success(),
        "the kernel matches any address of the prefix"
    );

    ns.sentry_ok(&root, &["delist", "2001:db8:1:2::/64"]);
    assert!(ipset_members(&ns, "sentry_blocklist6net").is_empty());
    assert!(ipset_members(&ns, "sentry_blocklist6").is_empty());
    assert_eq!(root.deny_text(), "");
}

/// The admin's rules around sentry's chain: an unrelated INPUT rule, the jump to SENTRY,
/// and a chain of their own that drops one of the addresses sentry blocks too.
fn admin_rules(kind: Kind, ns: &Netns) {
    for (v6, addr) in [(false, "1.2.3.4/32"), (true, "2001:db8::9/128")] {
        let tool = kind.iptables(v6);
        ns.run_ok(
            tool,
            &[
                "-w", "-A", "INPUT", "-p", "tcp", "--dport", "2222", "-j", "ACCEPT",
            ],
        );
        ns.run_ok(tool, &["-w", "-N", "ADMIN"]);
        ns.run_ok(tool, &["-w", "-A", "ADMIN", "-s", addr, "-j", "DROP"]);
    }
}

/// The filter table minus sentry's chain.
fn others(kind: Kind, ns: &Netns, v6: bool) -> Vec<String> {
    ns.run_ok(kind.iptables(v6), &["-w", "-S"])
        .lines()
        .filter(|l| !l.starts_with("-A SENTRY ") && !l.starts_with('#'))
        .map(str::to_string)
        .collect()
}

fn iptables_follows_the_database(kind: Kind) {
    let Some(ns) = Netns::new() else { return };
    if !kind.available() {
        return;
    }
    admin_rules(kind, &ns);
    let root = root_for(kind, "");
    // sentry creates its chain; the admin links it into INPUT.
    ns.sentry_ok(&root, &["sync"]);
    for v6 in [false, true] {
        ns.run_ok(kind.iptables(v6), &["-w", "-I", "INPUT", "-j", "SENTRY"]);
    }
    let before = (others(kind, &ns, false), others(kind, &ns, true));
    for v6 in [false, true] {
        let table = &if v6 { &before.1 } else { &before.0 };
        for rule in [
            "-A INPUT -j SENTRY",
            "-A INPUT -p tcp -m tcp --dport 2222 -j ACCEPT",
            "-N ADMIN",
        ] {
            assert!(table.iter().any(|l| l == rule), "{rule} in {table:?}");
        }
    }

    lifecycle(kind, &ns, &root);

    // Every change rewrote only sentry's chain: the admin's rules are as they were
    // (including the ADMIN chain's drop of 1.2.3.4, which sentry delisted).
    assert_eq!((others(kind, &ns, false), others(kind, &ns, true)), before);
    assert_eq!(
        ns.run_ok(kind.iptables(false), &["-w", "-S", "ADMIN"])
            .lines()
            .filter(|l| l.starts_with("-A"))
            .collect::<Vec<_>>(),
        ["-A ADMIN -s 1.2.3.4/32 -j DROP"]
    );

    // A rule someone else put in sentry's chain is not a member, and goes at the next change.
    ns.run_ok(
        kind.iptables(false),
        &["-w", "-A", "SENTRY", "-s", "192.0.2.200/32", "-j", "DROP"],
    );
    let out = ns.sentry_ok(&root, &["sync"]);
    assert!(out.contains("iptables: added 0, removed 1"), "{out}");
    assert!(kind.view(&ns).0.is_empty());

    // A missing chain is recreated by sync (after the admin removed the jump too).
    ns.run_ok(kind.iptables(true), &["-w", "-D", "INPUT", "-j", "SENTRY"]);
    ns.run_ok(kind.iptables(true), &["-w", "-F", "SENTRY"]);
    ns.run_ok(kind.iptables(true), &["-w", "-X", "SENTRY"]);
    let out = ns.sentry_ok(&root, &["sync"]);
    assert!(out.contains("iptables: added 1, removed 0"), "{out}");
    assert_eq!(kind.view(&ns).1, set_of(&["2001:db8::9"]));
}

#[test]
fn iptables_follows_the_database_and_leaves_other_rules_alone() {
    iptables_follows_the_database(Kind::Iptables { legacy: false });
}

#[test]
fn iptables_legacy_follows_the_database_and_leaves_other_rules_alone() {
    iptables_follows_the_database(Kind::Iptables { legacy: true });
}

#[test]
fn iptables_refuses_a_built_in_chain() {
    let Some(ns) = Netns::new() else { return };
    if !(Kind::Iptables { legacy: false }).available() {
        return;
    }
    ns.run_ok(
        "iptables",
        &[
            "-w", "-A", "INPUT", "-p", "tcp", "--dport", "2222", "-j", "ACCEPT",
        ],
    );
    let root = Root::new();
    std::fs::write(
        root.path().join("sentry.toml"),
        "[block]\nbackends = [\"iptables\"]\n[iptables]\nchain = \"INPUT\"\n",
    )
    .expect("config");
    let out = ns.sentry(&root, &["block", "198.51.100.8"]);
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("chain"), "{err}");
    let input = ns.run_ok("iptables", &["-w", "-S", "INPUT"]);
    assert!(input.contains("--dport 2222"), "{input}");
}

#[test]
fn routes_follow_the_database_and_leave_the_admins_blackholes_alone() {
    let Some(ns) = Netns::new() else { return };
    if !Kind::Route.available() {
        return;
    }
    // Blackholes of the admin's own (protocol boot) for other addresses.
    ns.run_ok("ip", &["route", "add", "blackhole", "192.0.2.77"]);
    ns.run_ok("ip", &["route", "add", "blackhole", "2001:db8::77"]);
    let root = root_for(Kind::Route, "");
    lifecycle(Kind::Route, &ns, &root);
    assert_eq!(
        blackholes(&ns, false, None),
        set_of(&["192.0.2.77"]),
        "sync and expire removed no route of the admin's"
    );
    assert_eq!(
        blackholes(&ns, true, None),
        set_of(&["2001:db8::77", "2001:db8::9"])
    );

    // Blocking an address the admin already blackholed fails loudly rather than taking
    // the admin's route over (and deleting it at the next delist).
    let out = ns.sentry(&root, &["block", "192.0.2.77"]);
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("192.0.2.77") && err.contains("File exists"),
        "{err}"
    );
    ns.sentry_ok(&root, &["delist", "192.0.2.77"]);
    assert_eq!(blackholes(&ns, false, None), set_of(&["192.0.2.77"]));
    assert!(blackholes(&ns, false, Some("250")).is_empty());

    // A protocol number of the kernel's own is refused.
    std::fs::write(
        root.path().join("sentry.toml"),
        "[block]\nbackends = [\"route\"]\n[route]\nprotocol = 4\n",
    )
    .expect("config");
    let out = ns.sentry(&root, &["sync"]);
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("protocol"), "{err}");
}

#[test]
fn ipset_ten_thousand_addresses_in_one_sync() {
    ten_thousand(Kind::Ipset);
}

#[test]
fn iptables_ten_thousand_addresses_in_one_sync() {
    ten_thousand(Kind::Iptables { legacy: false });
}

#[test]
fn iptables_legacy_ten_thousand_addresses_in_one_sync() {
    ten_thousand(Kind::Iptables { legacy: true });
}

#[test]
fn route_ten_thousand_addresses_in_one_sync() {
    ten_thousand(Kind::Route);
}
