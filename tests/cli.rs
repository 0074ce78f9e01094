//! The binary driven as an administrator (or tcpd) drives it, in a temporary root:
//! legacy and modern forms, address handling, list transitions, report, import.

mod common;

use common::Root;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

fn now() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .expect("clock after 1970")
        .as_secs() as i64
}

fn stderr(out: &std::process::Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

#[test]
fn no_arguments_prints_usage_and_fails() {
    let root = Root::new();
    let out = root.run(&[]);
    assert_eq!(out.status.code(), Some(1));
    assert!(stderr(&out).contains("Usage:"), "{}", stderr(&out));
    assert!(out.stdout.is_empty());
}

#[test]
fn unknown_option_is_named_with_usage() {
    let root = Root::new();
    for args in [
        vec!["--frobnicate"],
        vec!["--ip=192.0.2.1", "--connect", "--bogus"],
        vec!["-x"],
    ] {
        let out = root.run(&args);
        assert_eq!(out.status.code(), Some(1), "{args:?}");
        let err = stderr(&out);
        let bad = args.last().expect("an arg");
        assert!(err.contains(&format!("Unknown option: {bad}")), "{err}");
        assert!(err.contains("Usage:"), "{err}");
    }
    assert_eq!(root.row_count(), 0);
}

#[test]
fn help_goes_to_stdout_with_success() {
    let root = Root::new();
    for flag in ["--help", "-h"] {
        let out = root.ok(&[flag]);
        assert!(
            out.contains("--connect") && out.contains("--whitelist"),
            "{out}"
        );
    }
    let out = root.ok(&["block", "--help"]);
    assert!(out.contains("--force"), "{out}");
}

/// The original's own test suite reads its help for these lines.
#[test]
fn help_keeps_the_originals_name_line_and_headings() {
    let root = Root::new();
    let long = root.ok(&["--help"]);
    let has_line = |text: &str, line: &str| text.lines().any(|l| l.trim_end() == line);
    for line in [
        "sentry - safe and effective protection against bruteforce attacks",
        "SYNOPSIS",
        "OPTIONS",
    ] {
        assert!(
            has_line(&long, line),
            "--help lacks the line {line:?}:\n{long}"
        );
    }
    let short = root.ok(&["-h"]);
    assert!(has_line(&short, "SYNOPSIS"), "-h lacks SYNOPSIS:\n{short}");
}

#[test]
fn legacy_connect_counts_in_any_flag_order_and_is_silent() {
    let root = Root::new();
    let forms: [&[&str]; 5] = [
        &["--ip=192.0.2.7", "--connect"],
        &["--connect", "--ip=192.0.2.7"],
        &["-c", "--ip", "192.0.2.7"],
        &["--ip", "192.0.2.7", "-c"],
        &["connect", "192.0.2.7"],
    ];
    for form in forms {
        let out = root.run(form);
        assert!(out.status.success(), "{form:?}: {}", stderr(&out));
        assert!(
            out.stdout.is_empty() && out.stderr.is_empty(),
            "{form:?} must be silent"
        );
    }
    assert_eq!(root.row("192.0.2.7"), Some((5, 0, 0)));
    let out = root.run(&["--verbose", "--ip=192.0.2.7", "--connect"]);
    assert!(
        stderr(&out).contains("6 connections from 192.0.2.7"),
        "{}",
        stderr(&out)
    );
}

#[test]
fn connect_reads_the_address_from_tcpserver_and_pam() {
    let root = Root::new();
    let out = root
        .command(&["--connect"])
        .env("TCPREMOTEIP", "192.0.2.8")
        .output()
        .expect("run");
    assert!(out.status.success(), "{}", stderr(&out));
    let out = root
        .command(&["connect"])
        .env("PAM_RHOST", "::ffff:192.0.2.8")
        .output()
        .expect("run");
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(root.row("192.0.2.8"), Some((2, 0, 0)));
    let out = root.run(&["--connect"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        stderr(&out).contains("needs an address"),
        "{}",
        stderr(&out)
    );
}

#[test]
fn every_spelling_of_one_host_is_one_record() {
    let root = Root::new();
    for form in ["192.0.2.7", "::ffff:192.0.2.7", "::FFFF:192.0.2.7"] {
        root.ok(&["--ip", form, "--connect"]);
    }
    assert_eq!(root.row("192.0.2.7"), Some((3, 0, 0)));
    for form in ["2001:DB8::1", "2001:db8:0:0:0:0:0:1", "2001:0db8::0001"] {
        root.ok(&["connect", form]);
    }
    assert_eq!(root.row("2001:db8::1"), Some((3, 0, 0)));
    root.ok(&["--ip=fe80::1%eth0", "--connect"]);
    assert_eq!(root.row("fe80::1"), Some((1, 0, 0)));
    assert_eq!(root.row_count(), 3);
}

#[test]
fn invalid_addresses_are_refused_and_change_nothing() {
    let root = Root::new();
    let refused = [
        "",
        " ",
        "0.0.0.0",
        "0.1.2.3",
        "255.255.255.255",
        "::",
        "256.1.2.3",
        "1.2.3",
        "1.2.3.4.5",
        "010.1.1.1",
        "2001:db8::1::2",
        "2001:db8::zz",
        "1.2.3.4abc",
        "1.2.3.4 ",
    ];
    for ip in refused {
        for form in [
            vec!["--ip", ip, "--connect"],
            vec!["block", ip],
            vec!["--ip", ip, "--whitelist"],
        ] {
            let out = root.run(&form);
            assert_eq!(out.status.code(), Some(1), "{form:?}");
            assert!(
                stderr(&out).contains("invalid IP address:"),
                "{form:?}: {}",
                stderr(&out)
            );
        }
    }
    let ip_equals_empty = root.run(&["--ip=", "--connect"]);
    assert_eq!(ip_equals_empty.status.code(), Some(1));
    assert!(!root.db().exists(), "nothing was created for invalid input");
    assert!(!root.deny_file().exists());
}

#[test]
fn allow_block_delist_transitions() {
    let root = Root::new();
    let ip = "203.0.113.9";
    root.ok(&["connect", ip]);
    let before = now();
    root.ok(&["--ip", ip, "--blacklist"]);
    let (seen, allow, block) = root.row(ip).expect("row");
    assert_eq!((seen, allow), (1, 0));
    assert!(
        block >= before && block <= now(),
        "block is a unix timestamp of now"
    );
    assert_eq!(root.deny_text(), "ALL: 203.0.113.9 : deny\n");

    root.ok(&["--ip", ip, "--whitelist"]);
    let (seen, allow, block) = root.row(ip).expect("row");
    assert_eq!((seen, block), (1, 0));
    assert!(allow >= before);
    assert_eq!(root.deny_text(), "");

    root.ok(&["block", ip]);
    root.ok(&["--delist", "--ip", ip]);
    assert_eq!(root.row(ip), Some((1, 0, 0)));
    assert_eq!(root.deny_text(), "");

    root.ok(&["--block", "--ip=2001:db8::dead"]);
    assert_eq!(root.deny_text(), "ALL: [2001:db8::dead] : deny\n");
    root.ok(&["allow", "2001:db8::dead"]);
    assert_eq!(root.deny_text(), "");
}

#[test]
fn allowed_and_blocked_addresses_stop_at_the_counter() {
    let root = Root::new();
    root.ok(&["block", "198.51.100.1"]);
    root.ok(&["allow", "198.51.100.2"]);
    let blocked_at = root.row("198.51.100.1").expect("row").2;
    for _ in 0..5 {
        root.ok(&["connect", "198.51.100.1"]);
        root.ok(&["connect", "198.51.100.2"]);
    }
    assert_eq!(root.row("198.51.100.1"), Some((5, 0, blocked_at)));
    assert_eq!(root.row("198.51.100.2").expect("row").0, 5);
}

#[test]
fn expired_blocks_are_lifted_on_connect() {
    let root = Root::new();
    root.ok(&["block", "198.51.100.3"]);
    root.ok(&["block", "198.51.100.4"]);
    let conn = rusqlite::Connection::open(root.db()).expect("open");
    let old = now() - 91 * 86_400;
    conn.execute("UPDATE ip_records SET block = ?1", [old])
        .expect("age the blocks");
    drop(conn);
    root.ok(&["connect", "198.51.100.3"]);
    assert_eq!(root.row("198.51.100.3"), Some((1, 0, 0)));
    assert_eq!(
        root.deny_text(),
        "ALL: 198.51.100.4 : deny\n",
        "only the connecting address is lifted"
    );

    let out = root
        .command(&["connect", "198.51.100.4"])
        .env("EXPIRE_BLOCK_DAYS", "0")
        .output()
        .expect("run");
    assert!(out.status.success());
    assert_eq!(
        root.row("198.51.100.4"),
        Some((1, 0, old)),
        "0 = blocks never expire"
    );
}

/// A block that expires and comes back lasts twice as long each time, up to 8 × 90 days;
/// time is advanced by ageing the stored block, as if the days had passed.
#[test]
fn repeat_offenders_are_blocked_longer_each_time() {
    let root = Root::new();
    let ip = "198.51.100.5";
    let day = 86_400;
    let age = |days: i64| {
        let conn = rusqlite::Connection::open(root.db()).expect("open");
        conn.execute(
            "UPDATE ip_records SET block = ?1 WHERE ip = ?2",
            rusqlite::params![now() - days * day, ip],
        )
        .expect("age the block");
    };
    let blocks = || -> serde_json::Value {
        let json: serde_json::Value =
            serde_json::from_str(&root.ok(&["report", "--json", ip])).expect("json");
        json["blocks"].clone()
    };

    root.ok(&["block", ip]);
    root.ok(&["block", ip]);
    let b = blocks();
    assert_eq!(
        (b["count"].as_i64(), b["days"].as_i64()),
        (Some(1), Some(90)),
        "{b}"
    );
    let since = root.row(ip).expect("row").2;
    assert_eq!(b["until"].as_i64(), Some(since + 90 * day), "{b}");

    // Each block lasts twice the one before, then no more than 8 × 90 days.
    let mut length = 90;
    for (count, days) in [(2, 180), (3, 360), (4, 720), (5, 720)] {
        age(length + 1);
        root.ok(&["connect", ip]);
        assert_eq!(
            root.row(ip).expect("row").2,
            0,
            "lifted after {length} days"
        );
        let b = blocks();
        assert_eq!(b["count"].as_i64(), Some(count - 1), "{b}");
        assert_eq!(b["days"].as_i64(), Some(days), "the next block: {b}");
        assert!(b.get("until").is_none(), "not blocked: {b}");
        root.ok(&["block", ip]);
        let b = blocks();
        assert_eq!(
            (b["count"].as_i64(), b["days"].as_i64()),
            (Some(count), Some(days)),
            "{b}"
        );
        let text = root.ok(&["report", ip]);
        assert!(
            text.contains(&format!(" (blocked {count} times: {days} days)\n")),
            "{text}"
        );
        // Still blocked a day before its end, by `connect` and by `expire` alike.
        age(days - 1);
        root.ok(&["connect", ip]);
        root.ok(&["expire"]);
        assert!(
            root.row(ip).expect("row").2 > 0,
            "block {count} lasts {days} days"
        );
        length = days;
    }
    let text = root.ok(&["report"]);
    assert!(
        text.ends_with("   1 IP is blocked\n   1 of them blocked more than once, for longer\n"),
        "{text}"
    );

    // `expire` lifts it after its own length and says so in the history.
    age(721);
    root.ok(&["expire"]);
    assert_eq!(root.row(ip).expect("row").2, 0);
    let text = root.ok(&["report", ip]);
    assert!(
        text.contains("delisted: block expired after 720 days"),
        "{text}"
    );
    assert!(
        text.contains("\tblocked 5 times before; a next block lasts 720 days\n"),
        "{text}"
    );

    // The administrator's delisting says the blocks were mistakes: the next is a first one.
    root.ok(&["block", ip]);
    root.ok(&["delist", ip]);
    root.ok(&["block", ip]);
    let b = blocks();
    assert_eq!(
        (b["count"].as_i64(), b["days"].as_i64()),
        (Some(1), Some(90)),
        "{b}"
    );
    let text = root.ok(&["report", ip]);
    assert!(text.contains(" (blocked once: 90 days)\n"), "{text}");
}

#[test]
fn never_block_addresses_are_refused_unless_forced() {
    let root = Root::new();
    std::fs::write(
        root.path().join("sentry.toml"),
        "never_block = [\"192.0.2.0/24\"]\n",
    )
    .expect("config");
    for ip in ["127.0.0.1", "::1", "192.0.2.200"] {
        let out = root.run(&["block", ip]);
        assert_eq!(out.status.code(), Some(1), "{ip}");
        assert!(stderr(&out).contains("never-block"), "{}", stderr(&out));
        let out = root.run(&["--ip", ip, "--blacklist"]);
        assert_eq!(out.status.code(), Some(1), "{ip}");
    }
    assert_eq!(root.row_count(), 0);
    assert_eq!(root.deny_text(), "");
    root.ok(&["block", "--force", "192.0.2.200"]);
    assert!(root.row("192.0.2.200").expect("row").2 > 0);
}

#[test]
fn report_figures_text_and_json() {
    let root = Root::new();
    for (ip, times) in [("192.0.2.1", 3), ("192.0.2.2", 2), ("2001:db8::5", 1)] {
        for _ in 0..times {
            root.ok(&["connect", ip]);
        }
    }
    root.ok(&["allow", "192.0.2.1"]);
    root.ok(&["block", "192.0.2.2"]);
    root.ok(&["block", "2001:db8::5"]);

    let text = root.ok(&["--report"]);
    assert_eq!(
        text,
        "   -------- summary ---------\n   3 unique IPs have connected 6 times\n   1 IP is allowed\n   2 IPs are blocked\n"
    );
    let text = root.ok(&["-r", "-v", "--ip=192.0.2.2"]);
    assert!(text.contains("   2 connections from 192.0.2.2\n"), "{text}");
    assert!(text.contains("\tblocked since 20"), "{text}");

    let json: serde_json::Value =
        serde_json::from_str(&root.ok(&["report", "--json", "192.0.2.1"])).expect("json");
    assert_eq!(json["unique_ips"], 3);
    assert_eq!(json["connections"], 6);
    assert_eq!(json["allowed"], 1);
    assert_eq!(json["blocked"], 2);
    assert_eq!(json["record"]["seen"], 3);
    assert!(json["record"]["allow"].as_i64().expect("allow") > 0);

    let dump = root.ok(&["dump"]);
    let lines: Vec<&str> = dump.lines().collect();
    assert_eq!(lines.len(), 3);
    assert!(
        lines.iter().any(|l| l.starts_with("192.0.2.2\t2\t0\t")),
        "{dump}"
    );
    assert_eq!(root.ok(&["--dbdump"]), dump);
}

#[test]
fn dump_output_imports_into_another_root() {
    let a = Root::new();
    a.ok(&["connect", "192.0.2.1"]);
    a.ok(&["block", "192.0.2.9"]);
    let dump_file = a.path().join("dump.tsv");
    std::fs::write(&dump_file, a.ok(&["dump"])).expect("write dump");
    let b = Root::new();
    b.ok(&["import", "--dump", dump_file.to_str().expect("utf-8 path")]);
    assert_eq!(b.row("192.0.2.1"), Some((1, 0, 0)));
    assert!(b.row("192.0.2.9").expect("row").2 > 0);
    assert_eq!(b.deny_text(), "ALL: 192.0.2.9 : deny\n");
    std::fs::write(&dump_file, "192.0.2.1\tmany\t0\t0\n").expect("write bad dump");
    let out = b.run(&["import", "--dump", dump_file.to_str().expect("utf-8 path")]);
    assert_eq!(out.status.code(), Some(1));
    assert!(stderr(&out).contains("dump.tsv:1"), "{}", stderr(&out));
    assert_eq!(
        b.row("192.0.2.1"),
        Some((1, 0, 0)),
        "a bad file changes nothing"
    );
}

#[test]
fn one_file_per_address_tree_is_imported_on_first_run() {
    let root = Root::new();
    let put = |rel: &str, text: &str| {
        let path = root.path().join(rel);
        std::fs::create_dir_all(path.parent().expect("parent")).expect("mkdir");
        std::fs::write(path, text).expect("write");
    };
    put("seen/192/0/2/7", "1700000000\n1700000100\n");
    put(
        "seen/198/51/100/9",
        "1700000000\n1700000001\n1700000002\n1700000003\n",
    );
    put("white/192/0/2/7", "1700000100\n");
    put("black/198/51/100/9", "1700000200\n");

    // The first command of any kind finds and imports the tree.
    root.ok(&["connect", "192.0.2.7"]);
    assert_eq!(root.row("192.0.2.7"), Some((3, 1_700_000_100, 0)));
    assert_eq!(root.row("198.51.100.9"), Some((4, 0, 1_700_000_200)));
    assert!(
        !root.path().join("seen").exists(),
        "imported files are removed"
    );
    assert!(!root.path().join("black").exists());
    assert_eq!(root.deny_text(), "ALL: 198.51.100.9 : deny\n");

    // A second tree appearing later is not imported behind the admin's back...
    put("seen/203/0/113/1", "1700000000\n");
    root.ok(&["connect", "192.0.2.7"]);
    assert_eq!(root.row("203.0.113.1"), None);
    // ...but `sentry import` merges it.
    root.ok(&["import"]);
    assert_eq!(root.row("203.0.113.1"), Some((1, 0, 0)));
}

#[test]
fn bad_configuration_is_named_and_changes_nothing() {
    let root = Root::new();
    std::fs::write(root.path().join("sentry.toml"), "expire_blok_days = 3\n").expect("config");
    let out = root.run(&["block", "192.0.2.1"]);
    assert_eq!(out.status.code(), Some(1));
    let err = stderr(&out);
    assert!(
        err.contains("sentry.toml") && err.contains("expire_blok_days"),
        "{err}"
    );
    assert_eq!(root.row_count(), 0);

    // --connect still lets the user in (exit 0) and says why.
    let out = root.run(&["connect", "192.0.2.1"]);
    assert!(out.status.success());
    assert!(stderr(&out).contains("let through"), "{}", stderr(&out));

    std::fs::remove_file(root.path().join("sentry.toml")).expect("remove config");
    let out = root
        .command(&["block", "192.0.2.1"])
        .env("EXPIRE_BLOCK_DAYS", "lots")
        .output()
        .expect("run");
    assert_eq!(out.status.code(), Some(1));
    assert!(stderr(&out).contains("EXPIRE_BLOCK_DAYS"));
}

#[test]
fn explicit_config_file_and_root_option() {
    let root = Root::new();
    let other = Root::new();
    let cfg = root.path().join("custom.toml");
    std::fs::write(
        &cfg,
        format!(
            "root = \"{}\"\nexpire_block_days = 1\n",
            other.path().display()
        ),
    )
    .expect("config");
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_sentry"))
        .args([
            "--config",
            cfg.to_str().expect("utf-8"),
            "block",
            "192.0.2.1",
        ])
        .env_remove("ROOT_DIR")
        .output()
        .expect("run");
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(other.row("192.0.2.1").is_some(), "config `root` is used");
    let third = Root::new();
    root.ok(&[
        "--root",
        third.path().to_str().expect("utf-8"),
        "block",
        "192.0.2.2",
    ]);
    assert!(
        third.row("192.0.2.2").is_some(),
        "--root wins over ROOT_DIR"
    );
    let out = root.run(&["--config", "/nonexistent/sentry.toml", "report"]);
    assert_ne!(out.status.code(), Some(0));
    assert!(stderr(&out).contains("/nonexistent/sentry.toml"));
}

#[test]
fn connect_fails_open_on_a_damaged_database() {
    let root = Root::new();
    std::fs::write(
        root.db(),
        b"this is not a database, just some text that is long enough",
    )
    .expect("damage");
    let out = root.run(&["--ip=192.0.2.1", "--connect"]);
    assert!(out.status.success(), "connect lets the user in");
    let err = stderr(&out);
    assert!(
        err.contains("let through") && err.contains("not a usable SQLite database"),
        "{err}"
    );
    let out = root.run(&["block", "192.0.2.1"]);
    assert_eq!(
        out.status.code(),
        Some(2),
        "admin commands report a runtime failure"
    );
}

#[test]
fn connect_gives_up_quickly_on_a_locked_database() {
    let root = Root::new();
    root.ok(&["connect", "192.0.2.1"]);
    let conn = rusqlite::Connection::open(root.db()).expect("open");
    conn.execute_batch("BEGIN EXCLUSIVE")
        .expect("hold the write lock");
    let started = Instant::now();
    let out = root.run(&["connect", "192.0.2.1"]);
    let took = started.elapsed();
    conn.execute_batch("ROLLBACK").expect("release");
    assert!(out.status.success(), "fail open");
    let err = stderr(&out);
    assert!(!err.contains("database is locked"), "{err}");
    assert!(err.contains("stayed busy"), "{err}");
    // Generous bound: the budget is 1 s, this only guards against waiting forever.
    assert!(took < Duration::from_secs(5), "waited {took:?}");
}

#[test]
fn setup_creates_the_root_and_edits_hosts_allow_once() {
    let root = Root::new();
    let target = root.path().join("new-root");
    let hosts_allow = root.path().join("hosts.allow");
    std::fs::write(&hosts_allow, "# comment\nALL : 192.0.2.0/24 : allow\n").expect("seed");
    let args = [
        "--root",
        target.to_str().expect("utf-8"),
        "setup",
        "--write-hosts-allow",
        "--hosts-allow",
        hosts_allow.to_str().expect("utf-8"),
    ];
    let out = root.ok(&args);
    let deny_line = format!("sshd : {}/hosts.deny : deny", target.display());
    let spawn_line = format!(
        "sshd : ALL : spawn {}/sentry --root {} --connect --ip=%a : allow",
        target.display(),
        target.display()
    );
    assert!(
        out.contains(&deny_line) && out.contains(&spawn_line),
        "{out}"
    );
    use std::os::unix::fs::PermissionsExt;
    let mode = std::fs::metadata(&target)
        .expect("root")
        .permissions()
        .mode()
        & 0o777;
    assert_eq!(mode, 0o700);
    assert!(target.join("sentry.db").is_file() && target.join("hosts.deny").is_file());
    let text = std::fs::read_to_string(&hosts_allow).expect("read");
    let deny_at = text.find(&deny_line).expect("deny line");
    let spawn_at = text.find(&spawn_line).expect("spawn line");
    assert!(deny_at < spawn_at && spawn_at < text.find("ALL : 192.0.2.0/24").expect("old rule"));
    root.ok(&args);
    assert_eq!(
        std::fs::read_to_string(&hosts_allow).expect("read"),
        text,
        "idempotent"
    );

    // tcpd runs the spawn command without sentry's environment: it must still count the
    // connection in this root, not in /var/db/sentry.
    let command = spawn_line
        .strip_prefix("sshd : ALL : spawn ")
        .and_then(|c| c.strip_suffix(" : allow"))
        .expect("spawn command");
    let words: Vec<String> = command
        .split_whitespace()
        .skip(1)
        .map(|w| w.replace("%a", "192.0.2.33"))
        .collect();
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_sentry"))
        .args(&words)
        .env_remove("ROOT_DIR")
        .env("SENTRY_LOGS", root.auth_log())
        .output()
        .expect("run the spawn command");
    assert!(out.status.success(), "{}", stderr(&out));
    let conn = rusqlite::Connection::open(target.join("sentry.db")).expect("open");
    let seen: i64 = conn
        .query_row(
            "SELECT seen FROM ip_records WHERE ip = '192.0.2.33'",
            [],
            |r| r.get(0),
        )
        .expect("counted in the set-up root");
    assert_eq!(seen, 1);
}

/// Runs `args` with stdout a pipe whose reader is already gone, as `sentry X | head -0`.
fn run_into_closed_pipe(root: &Root, args: &[&str]) -> std::process::Output {
    let (reader, writer) = std::io::pipe().expect("pipe");
    drop(reader);
    root.command(args)
        .stdout(writer)
        .stderr(std::process::Stdio::piped())
        .output()
        .expect("run")
}

#[test]
fn a_closed_pipe_ends_every_command_quietly() {
    let root = Root::new();
    root.ok(&["block", "192.0.2.1"]);
    let hosts_allow = root.path().join("hosts.allow");
    std::fs::write(&hosts_allow, "").expect("hosts.allow");
    let hosts_allow = hosts_allow.to_str().expect("utf-8");
    for args in [
        vec!["setup", "--hosts-allow", hosts_allow],
        vec!["check", "--hosts-allow", hosts_allow],
        vec!["completions", "bash"],
        vec!["manpage"],
        vec!["report", "192.0.2.1"],
        vec!["report", "--json"],
        vec!["--report"],
        vec!["dump"],
        vec!["metrics"],
        vec!["sync", "--dry-run"],
        vec!["update"],
        vec!["--help"],
        vec!["--version"],
    ] {
        let out = run_into_closed_pipe(&root, &args);
        assert_eq!(out.status.code(), Some(0), "{args:?}: {}", stderr(&out));
        assert!(
            !stderr(&out).contains("panicked"),
            "{args:?}: {}",
            stderr(&out)
        );
    }
}

/// sentry with `--root DIR` and no ROOT_DIR, run in `cwd`.
fn sentry_in(dir: &std::path::Path, cwd: &std::path::Path, args: &[&str]) -> std::process::Output {
    let mut argv = vec!["--root", dir.to_str().expect("utf-8")];
    argv.extend_from_slice(args);
    std::process::Command::new(env!("CARGO_BIN_EXE_sentry"))
        .args(&argv)
        .current_dir(cwd)
        .env_remove("ROOT_DIR")
        .env("SENTRY_LOGS", cwd.join("auth.log"))
        .output()
        .expect("run sentry")
}

#[test]
fn read_only_commands_need_an_existing_root_and_create_nothing() {
    let parent = Root::new();
    let typo = parent.path().join("sentyr");
    for args in [
        vec!["report"],
        vec!["--report"],
        vec!["report", "--json", "192.0.2.1"],
        vec!["dump"],
        vec!["--dbdump"],
        vec!["metrics"],
    ] {
        let out = sentry_in(&typo, parent.path(), &args);
        assert_eq!(out.status.code(), Some(1), "{args:?}: {}", stderr(&out));
        assert!(
            stderr(&out).contains(&format!(
                "no sentry root {}: run sentry setup",
                typo.display()
            )),
            "{args:?}: {}",
            stderr(&out)
        );
        assert!(!typo.exists(), "{args:?} created the root");
    }
    for command in ["check", "doctor"] {
        let out = sentry_in(&typo, parent.path(), &[command]);
        assert_eq!(out.status.code(), Some(1), "{command}: {out:?}");
        assert!(
            String::from_utf8_lossy(&out.stdout).contains("no sentry root"),
            "{command}: {out:?}"
        );
        assert!(!typo.exists(), "{command} created the root");
    }

    // A root without a database: the empty report, as the original printed it.
    std::fs::create_dir(&typo).expect("mkdir");
    for args in [
        vec!["report"],
        vec!["--report"],
        vec!["-r", "-v", "--ip=192.0.2.1"],
    ] {
        let out = sentry_in(&typo, parent.path(), &args);
        assert_eq!(out.status.code(), Some(0), "{args:?}: {}", stderr(&out));
        assert!(
            String::from_utf8_lossy(&out.stdout)
                .contains("   0 unique IPs have connected 0 times\n"),
            "{out:?}"
        );
    }
    let out = sentry_in(&typo, parent.path(), &["dump"]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert!(out.stdout.is_empty());
    let left: Vec<_> = std::fs::read_dir(&typo)
        .expect("list")
        .map(|e| e.expect("entry").file_name())
        .collect();
    assert!(left.is_empty(), "read-only commands created {left:?}");

    // --connect still sets itself up on first use.
    std::fs::remove_dir(&typo).expect("rmdir");
    let out = sentry_in(&typo, parent.path(), &["connect", "192.0.2.1"]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert!(typo.join("sentry.db").is_file());
}

#[test]
fn a_relative_root_is_named_as_given() {
    let cwd = Root::new();
    let out = sentry_in(
        std::path::Path::new("relative/dir"),
        cwd.path(),
        &["block", "192.0.2.1"],
    );
    assert_eq!(out.status.code(), Some(1));
    let err = stderr(&out);
    assert!(err.contains("--root relative/dir"), "{err}");
    assert!(!err.contains("deny_file"), "{err}");
    assert!(!cwd.path().join("relative").exists());
}

#[test]
fn a_user_other_than_root_is_told_to_run_as_root() {
    if !common::is_root("run sentry as nobody") {
        return;
    }
    let root = Root::new();
    root.ok(&["block", "192.0.2.1"]);
    for args in [
        vec!["report"],
        vec!["dump"],
        vec!["block", "192.0.2.2"],
        vec!["check"],
    ] {
        let out = std::process::Command::new("setpriv")
            .args(["--reuid=65534", "--regid=65534", "--clear-groups"])
            .arg(env!("CARGO_BIN_EXE_sentry"))
            .args(["--root", root.path().to_str().expect("utf-8")])
            .args(&args)
            .output()
            .expect("run setpriv");
        let said = format!("{}{}", String::from_utf8_lossy(&out.stdout), stderr(&out));
        assert_ne!(out.status.code(), Some(0), "{args:?}");
        assert!(
            said.contains("permission denied: run as root"),
            "{args:?}: {said}"
        );
        assert!(
            !said.contains("no database") && !said.contains("could not create"),
            "{args:?}: {said}"
        );
    }
}

/// Rows of one table, read with SQLite directly.
fn table_rows(root: &Root, table: &str) -> i64 {
    let conn = rusqlite::Connection::open(root.db()).expect("open db");
    conn.query_row(&format!("SELECT count(*) FROM {table}"), [], |r| r.get(0))
        .expect("count")
}

#[test]
fn a_dry_run_scan_stores_nothing() {
    let root = Root::new();
    root.ok(&["connect", "192.0.2.1"]);
    let lines: String = (0..12)
        .map(|n| {
            format!(
                "Nov 24 10:00:{n:02} web1 sshd[{}]: Failed password for invalid user admin \
                 from 203.0.113.7 port 5 ssh2\n",
                4000 + n
            )
        })
        .collect();
    std::fs::write(root.auth_log(), &lines).expect("write log");
    for args in [
        vec!["scan", "--dry-run"],
        vec!["scan", "--dry-run", "--from-start"],
    ] {
        let out = root.ok(&args);
        assert!(
            out.contains("would be blocked 203.0.113.7"),
            "{args:?}: {out}"
        );
        assert_eq!(table_rows(&root, "evidence"), 0, "{args:?} stored evidence");
        assert_eq!(
            table_rows(&root, "log_cursors"),
            0,
            "{args:?} moved a cursor"
        );
        assert_eq!(root.row("203.0.113.7"), None);
    }
    assert_eq!(root.deny_text(), "");
    // The real scan still sees every line.
    root.ok(&["scan"]);
    assert!(root.row("203.0.113.7").expect("record").2 > 0);
    assert!(root.deny_text().contains("203.0.113.7"));
    let evidence = table_rows(&root, "evidence");
    assert!(evidence > 0);
    // A dry run from the start deletes nothing either.
    root.ok(&["scan", "--dry-run", "--from-start"]);
    assert_eq!(table_rows(&root, "evidence"), evidence);
}

#[test]
fn the_admins_own_deny_lines_survive_sync_and_delist() {
    let root = Root::new();
    root.ok(&["block", "192.0.2.1"]);
    let mine = "# the admin's own\nALL: 203.0.113.5 : deny\n";
    let text = format!("{mine}{}ALL: 203.0.113.6 : deny\n", root.deny_file_text());
    std::fs::write(root.deny_file(), &text).expect("admin edits the deny file");
    root.ok(&["block", "192.0.2.2"]);
    root.ok(&["delist", "192.0.2.1"]);
    let out = root.ok(&["sync"]);
    assert!(out.contains("tcpwrappers: added 0, removed 0"), "{out}");
    let after = root.deny_file_text();
    assert!(after.starts_with(mine), "{after}");
    assert!(after.ends_with("ALL: 203.0.113.6 : deny\n"), "{after}");
    assert!(
        after.contains("ALL: 192.0.2.2 : deny") && !after.contains("192.0.2.1 "),
        "{after}"
    );

    // A file an older sentry wrote, without a section: what the database blocks is
    // sentry's, the rest the admin's.
    let old = Root::new();
    old.ok(&["block", "192.0.2.9"]);
    std::fs::write(
        old.deny_file(),
        "ALL: 203.0.113.5 : deny\nALL: 192.0.2.9 : deny\n",
    )
    .expect("an older sentry's file");
    let out = old.ok(&["sync"]);
    assert!(out.contains("tcpwrappers: added 0, removed 0"), "{out}");
    old.ok(&["delist", "192.0.2.9"]);
    assert_eq!(old.deny_text(), "ALL: 203.0.113.5 : deny\n");
}

#[test]
fn delisting_an_unknown_address_creates_no_record() {
    let root = Root::new();
    root.ok(&["connect", "192.0.2.1"]);
    let out = root.run(&["delist", "192.0.2.99"]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    // Said on stdout: not an error, the address is off every list as asked.
    let said = String::from_utf8_lossy(&out.stdout);
    assert!(said.contains("no record of 192.0.2.99"), "{said}");
    assert_eq!(root.row("192.0.2.99"), None);
    assert_eq!(root.row_count(), 1);
}

#[test]
fn import_list_reads_stdin_and_names_what_it_skips() {
    use std::io::Write;
    let root = Root::new();
    let mut child = root
        .command(&["import", "--list", "-"])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("spawn");
    child
        .stdin
        .take()
        .expect("stdin")
        .write_all(b"# bots\n203.0.113.9\n198.51.100.0/24\nhost.example\n127.0.0.1\n")
        .expect("write");
    let out = child.wait_with_output().expect("wait");
    let err = stderr(&out);
    assert_eq!(out.status.code(), Some(0), "{err}");
    assert!(root.row("203.0.113.9").expect("record").2 > 0);
    assert!(err.contains("imported 1 address from -"), "{err}");
    for skipped in ["198.51.100.0/24", "host.example", "127.0.0.1"] {
        assert!(err.contains(skipped), "{skipped} not named: {err}");
    }
    assert!(err.contains("3 entries skipped"), "{err}");
}

#[test]
fn report_lines_in_json_stay_json_and_counts_read_right() {
    let root = Root::new();
    std::fs::write(
        root.auth_log(),
        "Nov 24 10:00:01 web1 sshd[4001]: Failed password for invalid user admin from 203.0.113.7 port 5 ssh2\n",
    )
    .expect("log");
    root.ok(&["connect", "203.0.113.7"]);
    let json = root.ok(&["report", "203.0.113.7", "--lines", "--json"]);
    let value: serde_json::Value = serde_json::from_str(&json).expect("one JSON object");
    let lines = value["lines"].as_array().expect("lines");
    assert_eq!(lines.len(), 1, "{json}");
    assert!(
        lines[0]
            .as_str()
            .expect("text")
            .contains("invalid user admin")
    );

    // One connection is one connection; an address listed without connecting (an import,
    // a block by hand) is not one that connected.
    root.ok(&["block", "198.51.100.9"]);
    let text = root.ok(&["report", "203.0.113.7"]);
    assert!(
        text.contains("   1 unique IP has connected 1 time\n"),
        "{text}"
    );
    assert!(text.contains("   0 IPs are allowed\n"), "{text}");
    assert!(text.contains("   1 IP is blocked\n"), "{text}");
    assert!(
        text.contains("   1 connection from 203.0.113.7\n"),
        "{text}"
    );
    let json: serde_json::Value =
        serde_json::from_str(&root.ok(&["report", "--json"])).expect("json");
    assert_eq!(json["unique_ips"], 1);
    assert_eq!(json["records"], 2);
}

#[test]
fn a_missing_log_is_named_and_verbose_names_every_source() {
    let root = Root::new();
    root.ok(&["connect", "192.0.2.1"]);
    let missing = root.path().join("auht.log");
    let logs = format!("{}:{}", missing.display(), root.auth_log().display());
    let out = root
        .command(&["scan"])
        .env("SENTRY_LOGS", &logs)
        .output()
        .expect("run");
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let err = stderr(&out);
    assert!(
        err.contains(&format!("{} does not exist", missing.display())),
        "{err}"
    );
    let out = root
        .command(&["-v", "scan"])
        .env("SENTRY_LOGS", &logs)
        .output()
        .expect("run");
    let err = stderr(&out);
    assert!(
        err.contains(&format!("read 0 lines from {}", root.auth_log().display())),
        "{err}"
    );
    let hosts_allow = root.path().join("hosts.allow");
    std::fs::write(&hosts_allow, "").expect("hosts.allow");
    let out = root
        .command(&[
            "check",
            "--hosts-allow",
            hosts_allow.to_str().expect("utf-8"),
        ])
        .env("SENTRY_LOGS", &logs)
        .output()
        .expect("run");
    let said = String::from_utf8_lossy(&out.stdout);
    assert!(
        said.contains(&format!("{} does not exist", missing.display())),
        "{said}"
    );
}

#[test]
fn the_daemons_own_log_files_are_read() {
    let root = Root::new();
    root.ok(&["connect", "192.0.2.1"]);
    let stamp = |format: &str| chrono::Local::now().format(format).to_string();
    let mut lines = String::new();
    for n in 0..12 {
        // vsftpd.log, dovecot's log_path, proftpd's SystemLog: no syslog header.
        lines += &format!(
            "{} [pid {}] [bob] FAIL LOGIN: Client \"::ffff:203.0.113.8\"\n",
            stamp("%a %b %e %H:%M:%S %Y"),
            2000 + n
        );
        lines += &format!(
            "{} imap-login: Info: Disconnected (auth failed, 1 attempts in 2 secs): user=<bob>, \
             method=PLAIN, rip=203.0.113.9, lip=192.0.2.1, session=<s{n}>\n",
            stamp("%b %d %H:%M:%S")
        );
        lines += &format!(
            "{},512 web1 proftpd[{}] web1 (203.0.113.10[203.0.113.10]): USER bob (Login \
             failed): Incorrect password\n",
            stamp("%Y-%m-%d %H:%M:%S"),
            3000 + n
        );
    }
    lines += &format!(
        "{} [pid 2999] [alice] OK LOGIN: Client \"198.51.100.80\"\n",
        stamp("%a %b %e %H:%M:%S %Y")
    );
    std::fs::write(root.auth_log(), &lines).expect("write log");
    root.ok(&["scan"]);
    let deny = root.deny_text();
    for ip in ["203.0.113.8", "203.0.113.9", "203.0.113.10"] {
        assert!(deny.contains(ip), "{ip} not blocked: {deny}");
    }
    let (_, allow, block) = root.row("198.51.100.80").expect("a success is recorded");
    assert_eq!((allow > 0, block), (true, 0), "OK LOGIN allow-lists");
}

/// Every corpus file's lines in one log, interleaved file by file as a host's syslog mixes
/// its services: `parse --unmatched` must leave no attack line unread (the lines the corpus
/// expects an event from), and `parse` must find an event in each.
#[test]
fn parse_unmatched_leaves_no_attack_line_of_a_mixed_log() {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/parse-corpus");
    let mut files: Vec<_> = std::fs::read_dir(&dir)
        .expect("corpus dir")
        .map(|e| e.expect("entry").path())
        .filter(|p| p.extension().is_some_and(|e| e == "txt"))
        .collect();
    files.sort();
    // (line, whether the corpus expects an event), per file, in the file's order.
    let mut per_file: Vec<Vec<(String, bool)>> = Vec::new();
    for file in &files {
        let text = std::fs::read_to_string(file).expect("corpus file");
        let mut lines = Vec::new();
        let mut pending: Option<String> = None;
        for line in text.lines() {
            if let Some(expect) = line.strip_prefix("=> ") {
                let log = pending.take().expect("a line before its expectation");
                lines.push((log, expect != "none"));
            } else if !line.starts_with('#') && !line.is_empty() {
                pending = Some(line.to_string());
            }
        }
        per_file.push(lines);
    }
    // MySQL's lines stay together, as in its own error log: each of its refused logins counts
    // only once the log's next line is MySQL's too.
    let mysql = files.iter().position(|f| f.ends_with("mysql.txt"));
    let together = mysql.map(|i| per_file.remove(i)).unwrap_or_default();
    let mut mixed = Vec::new();
    let longest = per_file.iter().map(Vec::len).max().unwrap_or(0);
    for i in 0..longest {
        for lines in &per_file {
            if let Some(line) = lines.get(i) {
                mixed.push(line.clone());
            }
        }
    }
    mixed.extend(together);
    let attacks: std::collections::HashSet<&str> = (mixed.iter())
        .filter(|(_, attack)| *attack)
        .map(|(line, _)| line.as_str())
        .collect();
    assert!(
        attacks.len() > 300,
        "the corpus holds {} attack lines",
        attacks.len()
    );
    let root = Root::new();
    let log = root.path().join("mixed.log");
    let text: String = mixed.iter().map(|(l, _)| format!("{l}\n")).collect();
    std::fs::write(&log, text).expect("write the mixed log");
    let log = log.to_str().expect("utf-8");
    let out = root.run(&["parse", "--unmatched", log]);
    assert!(out.status.success(), "{}", stderr(&out));
    let unread: Vec<&str> = (std::str::from_utf8(&out.stdout).expect("utf-8").lines())
        .filter(|l| attacks.contains(l))
        .collect();
    assert!(
        unread.is_empty(),
        "attack lines left unread:\n{}",
        unread.join("\n")
    );
    let out = root.run(&["parse", log]);
    assert!(out.status.success(), "{}", stderr(&out));
    let events = std::str::from_utf8(&out.stdout)
        .expect("utf-8")
        .lines()
        .count();
    assert!(
        events >= attacks.len(),
        "{events} events for {} attack lines",
        attacks.len()
    );
}
