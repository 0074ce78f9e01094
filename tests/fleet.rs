//! Fleet mode against a real PostgreSQL (a private cluster on loopback, started by the
//! test and set up by README's SQL): several sentry roots play several hosts sharing one
//! server, each logging in as its own role.

mod common;

use common::Root;
use common::postgres::PgCluster;

/// A new fleet host `host` of `cluster` (its own role; plain TCP, password file).
fn host(cluster: &PgCluster, host: &str) -> Root {
    host_extra(cluster, host, "")
}

/// The same, with more `[fleet]` keys.
fn host_extra(cluster: &PgCluster, host: &str, extra: &str) -> Root {
    cluster.add_host(host);
    host_with(
        cluster,
        host,
        &format!("{}?sslmode=disable", cluster.url(host)),
        extra,
    )
}

/// A root configured as fleet host `host` (whose role exists) with this URL.
fn host_with(cluster: &PgCluster, host: &str, url: &str, extra: &str) -> Root {
    let root = Root::new();
    std::fs::write(
        root.path().join("sentry.toml"),
        format!(
            "[fleet]\nurl = \"{url}\"\npassword_file = \"{}\"\nhost_id = \"{host}\"\n{extra}",
            cluster.password_file(host).display()
        ),
    )
    .expect("write config");
    root
}

fn blocked(root: &Root, ip: &str) -> bool {
    root.try_row(ip).is_some_and(|r| r.2 > 0)
}

fn allowed(root: &Root, ip: &str) -> bool {
    root.try_row(ip).is_some_and(|r| r.1 > 0)
}

/// `sync` until it succeeds (the server may be in its back-off after an outage).
fn sync_until_ok(root: &Root) -> String {
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
    loop {
        let out = root.run(&["sync"]);
        let text = String::from_utf8_lossy(&out.stdout).into_owned();
        if out.status.success() && text.contains("fleet: sent") {
            return text;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "sync never succeeded: {out:?}"
        );
        std::thread::sleep(std::time::Duration::from_millis(300));
    }
}

fn failed_lines(ip: &str, n: usize) -> String {
    (0..n)
        .map(|i| {
            format!(
                "Nov 24 10:00:{i:02} host sshd[{}]: Failed password for alice from {ip} port 5{i:04} ssh2\n",
                100 + i
            )
        })
        .collect()
}

#[test]
fn a_block_on_one_host_reaches_the_others_and_so_does_its_delisting() {
    let Some(cluster) = PgCluster::start() else {
        return;
    };
    let (a, b, c) = (
        host(&cluster, "a"),
        host(&cluster, "b"),
        host(&cluster, "c"),
    );
    a.ok(&["block", "203.0.113.5"]);
    let out = a.ok(&["sync"]);
    assert!(out.contains("fleet: sent 1 decisions"), "{out}");
    for other in [&b, &c] {
        assert!(!blocked(other, "203.0.113.5"));
        let out = other.ok(&["sync"]);
        assert!(out.contains("applied 1"), "{out}");
        assert!(blocked(other, "203.0.113.5"), "one sync brings the block");
        assert!(
            other.deny_text().contains("203.0.113.5"),
            "and the deny file has it"
        );
        let report = other.ok(&["report", "203.0.113.5"]);
        assert!(
            report.contains("blocked (from a): fleet: block on a"),
            "{report}"
        );
    }
    // A block that came from the fleet is not sent back.
    assert!(b.ok(&["sync"]).contains("fleet: sent 0 decisions"));
    assert_eq!(
        cluster.psql("SELECT count(*) FROM sentry.decisions"),
        "1",
        "one decision on the server"
    );

    // Delisted where it was decided: delisted everywhere it came from there.
    a.ok(&["delist", "203.0.113.5"]);
    a.ok(&["sync"]);
    for other in [&b, &c] {
        other.ok(&["sync"]);
        assert!(!blocked(other, "203.0.113.5"), "delisting travels too");
        assert!(!other.deny_text().contains("203.0.113.5"));
    }

    // never_block stays local and wins.
    std::fs::write(
        c.path().join("sentry.toml"),
        std::fs::read_to_string(c.path().join("sentry.toml"))
            .expect("read")
            .replace("[fleet]", "never_block = [\"198.51.100.0/24\"]\n[fleet]"),
    )
    .expect("rewrite config");
    a.ok(&["block", "198.51.100.9"]);
    a.ok(&["sync"]);
    b.ok(&["sync"]);
    c.ok(&["sync"]);
    assert!(blocked(&b, "198.51.100.9"));
    assert!(!blocked(&c, "198.51.100.9"), "never_block on c wins");
}

#[test]
fn failures_spread_over_ten_hosts_block_everywhere_but_a_login_anywhere_wins() {
    let Some(cluster) = PgCluster::start() else {
        return;
    };
    let roots: Vec<Root> = (0..10).map(|i| host(&cluster, &format!("h{i}"))).collect();
    let bot = "192.0.2.77";
    let colleague = "192.0.2.88";
    for (i, root) in roots.iter().enumerate() {
        let mut log = failed_lines(bot, 3) + &failed_lines(colleague, 3);
        if i == 4 {
            log.push_str(&format!(
                "Nov 24 10:01:00 host sshd[999]: Accepted password for alice from {colleague} port 50999 ssh2\n"
            ));
        }
        std::fs::write(root.auth_log(), log).expect("write log");
        root.ok(&["scan"]);
        assert!(!blocked(root, bot), "3 failures are nothing on one host");
    }
    assert!(allowed(&roots[4], colleague));
    for _round in 0..2 {
        for root in &roots {
            root.ok(&["sync"]);
        }
    }
    for (i, root) in roots.iter().enumerate() {
        assert!(
            blocked(root, bot),
            "host {i}: 30 failures over the fleet block"
        );
        assert!(
            !blocked(root, colleague),
            "host {i}: the colleague is never blocked"
        );
        assert!(allowed(root, colleague), "host {i}: h4's allow is shared");
    }
    let reason: String = rusqlite::Connection::open(roots[0].db())
        .expect("open")
        .query_row(
            "SELECT reason FROM decisions WHERE ip = ?1 ORDER BY id DESC LIMIT 1",
            [bot],
            |r| r.get(0),
        )
        .expect("a decision");
    assert!(
        reason.contains("fleet:") && reason.contains("30 failed"),
        "{reason}"
    );
}

#[test]
fn an_outage_loses_nothing_and_is_reported() {
    let Some(cluster) = PgCluster::start() else {
        return;
    };
    let (a, b) = (host(&cluster, "a"), host(&cluster, "b"));
    a.ok(&["block", "203.0.113.1"]);
    sync_until_ok(&a);
    cluster.stop();
    a.ok(&["block", "203.0.113.2"]);
    let out = a.run(&["sync"]);
    assert_eq!(out.status.code(), Some(2), "{out:?}");
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("unavailable") && err.contains("unaffected"),
        "{err}"
    );
    assert!(blocked(&a, "203.0.113.2"), "local protection goes on");
    assert!(a.deny_text().contains("203.0.113.2"));
    let check = a.run(&["check", "--hosts-allow", "/dev/null"]);
    let text = String::from_utf8_lossy(&check.stdout);
    assert!(text.contains("fleet exchange failed"), "{text}");
    // Back-off: an immediate second sync from a timer does not even try.
    let again = a.run(&["-v", "sync"]);
    assert!(
        String::from_utf8_lossy(&again.stderr).contains("next attempt"),
        "{again:?}"
    );

    cluster.restart();
    sync_until_ok(&a);
    sync_until_ok(&b);
    assert!(blocked(&b, "203.0.113.1"));
    assert!(
        blocked(&b, "203.0.113.2"),
        "the block made during the outage arrives"
    );
    let check = a.run(&["check", "--hosts-allow", "/dev/null"]);
    assert!(!String::from_utf8_lossy(&check.stdout).contains("fleet"));
}

#[test]
fn twenty_hosts_syncing_at_once_end_consistent() {
    let Some(cluster) = PgCluster::start() else {
        return;
    };
    let roots: Vec<Root> = (0..20).map(|i| host(&cluster, &format!("n{i}"))).collect();
    let ip = |i: usize| format!("198.18.0.{}", i + 1);
    for (i, root) in roots.iter().enumerate() {
        root.ok(&["block", &ip(i)]);
    }
    for _round in 0..2 {
        std::thread::scope(|scope| {
            for root in &roots {
                scope.spawn(move || {
                    let out = root.run(&["sync"]);
                    assert!(out.status.success(), "{out:?}");
                });
            }
        });
    }
    for (n, root) in roots.iter().enumerate() {
        for i in 0..20 {
            assert!(blocked(root, &ip(i)), "host {n} lacks {}", ip(i));
        }
    }
    assert_eq!(cluster.psql("SELECT count(*) FROM sentry.decisions"), "20");
    assert_eq!(
        cluster.psql("SELECT count(DISTINCT change_id) FROM sentry.decisions"),
        "20"
    );
}

#[test]
fn tls_with_a_private_ca_and_refusals() {
    let Some(cluster) = PgCluster::start() else {
        return;
    };
    for name in ["a", "b", "d", "e"] {
        cluster.add_host(name);
    }
    let ca = format!("ca_file = \"{}\"\n", cluster.ca_file().display());
    let a = host_with(&cluster, "a", &cluster.tls_url("a"), &ca);
    a.ok(&["block", "203.0.113.9"]);
    assert!(a.ok(&["sync"]).contains("fleet: sent 1"));
    // The same server without its CA trusted: refused, nothing lost.
    let b = host_with(&cluster, "b", &cluster.tls_url("b"), "");
    let out = b.run(&["sync"]);
    assert_eq!(out.status.code(), Some(2));
    let said = String::from_utf8_lossy(&out.stderr);
    assert!(
        said.contains("certificate") && said.contains("ca_file"),
        "says what to do: {out:?}"
    );
    // The server's own certificate in ca_file (what a self-signed server, such as Debian's
    // PostgreSQL out of the box, needs) is trusted exactly; it is no CA, so no chain
    // to it would do.
    let pinned = format!("ca_file = \"{}\"\n", cluster.server_cert_file().display());
    let d = host_with(&cluster, "d", &cluster.tls_url("d"), &pinned);
    let out = d.ok(&["sync"]);
    assert!(out.contains("received 1"), "{out}");
    assert!(blocked(&d, "203.0.113.9"));
    // A ca_file without a certificate is a configuration error, said as such.
    let e = host_with(
        &cluster,
        "e",
        &cluster.tls_url("e"),
        &format!("ca_file = \"{}\"\n", cluster.password_file("e").display()),
    );
    let out = e.run(&["sync"]);
    assert_eq!(out.status.code(), Some(1), "{out:?}");
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("no PEM certificate"),
        "{out:?}"
    );

    // A password in the URL is refused at load, naming the key.
    let c = Root::new();
    std::fs::write(
        c.path().join("sentry.toml"),
        "[fleet]\nurl = \"postgres://sentry:secret@127.0.0.1/sentry\"\n",
    )
    .expect("write config");
    let out = c.run(&["sync"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("fleet.password_file"));
}

#[test]
fn ingest_exchanges_with_the_fleet_while_it_runs() {
    let Some(cluster) = PgCluster::start() else {
        return;
    };
    let a = host_extra(&cluster, "a", "interval = 1\n");
    let b = host(&cluster, "b");
    let mut ingest = a
        .command(&["ingest"])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .expect("start ingest");
    let mut stdin = ingest.stdin.take().expect("stdin");
    // A bot guesses a user on a (ingest decides at once) ...
    use std::io::Write;
    writeln!(
        stdin,
        "Nov 24 10:00:00 host sshd[7]: Invalid user admin from 203.0.113.70 port 40000"
    )
    .expect("write");
    stdin.flush().expect("flush");
    // ... and b blocks another by hand.
    b.ok(&["block", "203.0.113.71"]);
    b.ok(&["sync"]);
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
    while !blocked(&a, "203.0.113.71") {
        assert!(
            std::time::Instant::now() < deadline,
            "ingest never pulled b's block"
        );
        std::thread::sleep(std::time::Duration::from_millis(100));
    }
    while !blocked(&b, "203.0.113.70") {
        assert!(
            std::time::Instant::now() < deadline,
            "b never received the block ingest made on a"
        );
        b.ok(&["sync"]);
        std::thread::sleep(std::time::Duration::from_millis(200));
    }
    drop(stdin);
    let _ = ingest.kill();
    let _ = ingest.wait();
}

#[test]
fn a_second_database_under_the_same_host_id_is_refused() {
    let Some(cluster) = PgCluster::start() else {
        return;
    };
    let first = host(&cluster, "web1");
    first.ok(&["block", "203.0.113.30"]);
    first.ok(&["sync"]);
    // A cloned machine (or this one with a new database) under the same name.
    let clone = host_with(
        &cluster,
        "web1",
        &format!("{}?sslmode=disable", cluster.url("web1")),
        "",
    );
    clone.ok(&["block", "203.0.113.31"]);
    let out = clone.run(&["sync"]);
    assert_eq!(out.status.code(), Some(2), "{out:?}");
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("already used by another sentry database"),
        "{err}"
    );
    assert_eq!(
        cluster.psql("SELECT count(*) FROM sentry.decisions"),
        "1",
        "nothing of the clone's reached the server"
    );
    // The original goes on as before.
    assert!(first.ok(&["sync"]).contains("fleet: sent 0"));
}
