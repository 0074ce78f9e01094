//! Fleet mode against a real PostgreSQL (a private cluster on loopback, started by the
//! test and set up by README's SQL): several sentry roots play several hosts sharing one
//! server, each logging in as its own role.

mod common;

use common::Root;
use common::postgres::{PgCluster, readme_step};

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

/// `[fleet]` for host id `host_id`, logging in with `url` and `password_file`.
fn configured(url: &str, password_file: &std::path::Path, host_id: &str, extra: &str) -> Root {
    let root = Root::new();
    std::fs::write(
        root.path().join("sentry.toml"),
        format!(
            "[fleet]\nurl = \"{url}\"\npassword_file = \"{}\"\nhost_id = \"{host_id}\"\n{extra}",
            password_file.display()
        ),
    )
    .expect("write config");
    root
}

#[test]
fn a_host_writes_only_its_own_rows_and_pullers_take_only_members_rows() {
    let Some(cluster) = PgCluster::start() else {
        return;
    };
    let (a, b, c) = (
        host(&cluster, "a"),
        host(&cluster, "b"),
        host(&cluster, "c"),
    );
    a.ok(&["block", "203.0.113.10"]);
    a.ok(&["sync"]);
    b.ok(&["sync"]);
    c.ok(&["block", "203.0.113.11"]);
    c.ok(&["sync"]);
    assert!(blocked(&c, "203.0.113.10"), "a's block reached c");
    let rows_of_others = "SELECT count(*) FROM sentry.decisions WHERE host <> 'b'";
    let before = cluster.psql(rows_of_others);

    // With b's credentials: SQL that claims a's host or none, or changes a's rows.
    for sql in [
        "INSERT INTO sentry.decisions (change_id, host, local_id, ip, action, at, reason) \
         VALUES (nextval('sentry.change_id'), 'a', 1000, '203.0.113.10', 'unlist', 1, 'forged')",
        "INSERT INTO sentry.decisions (change_id, host, local_id, ip, action, at, reason) \
         VALUES (1000000, '', 1000, '203.0.113.11', 'unlist', 1, 'forged')",
        "INSERT INTO sentry.evidence (host, ip, service, kind, count, change_id) \
         VALUES ('zz', '198.51.100.1', 'sshd', 'naughty', 1, 1000000)",
        "UPDATE sentry.decisions SET action = 'unlist' WHERE host = 'a'",
        "UPDATE sentry.decisions SET host = 'b' WHERE host = 'a'",
        "DELETE FROM sentry.decisions WHERE host = 'a'",
        "DELETE FROM sentry.hosts WHERE host = 'a'",
        "TRUNCATE sentry.decisions",
        "SELECT setval('sentry.change_id', 1000000000)",
        "CREATE TABLE sentry.mine (x int)",
    ] {
        let refused = cluster.psql_as("b", sql);
        assert!(refused.is_err(), "b's role was allowed: {sql}");
    }
    // Through sentry.push, the one way to write, every row is b's whatever it says: b
    // "delists" and "allows" a's block and c's own, and sends fake evidence.
    let pushed = cluster.psql_as(
        "b",
        "SELECT sentry.push((SELECT install FROM sentry.hosts WHERE host = 'b'), 'forged', \
         ARRAY[1000, 1001, 1002, 1003]::bigint[], \
         ARRAY['203.0.113.10', '203.0.113.11', '203.0.113.10', '203.0.113.11'], \
         ARRAY['unlist', 'unlist', 'allow', 'allow'], ARRAY[1, 1, 1, 1]::bigint[], \
         ARRAY['x', 'x', 'x', 'x'], ARRAY['203.0.113.10'], ARRAY['sshd'], ARRAY['failed'], \
         ARRAY[1]::bigint[])",
    );
    assert_eq!(pushed, Ok("t".to_string()));
    assert_eq!(cluster.psql(rows_of_others), before, "nobody else's rows");
    assert_eq!(
        cluster.psql("SELECT count(*) FROM sentry.decisions WHERE local_id >= 1000"),
        "4",
        "the pushed rows are there, as b's"
    );
    // Rows the superuser wrote under no host, or a host no role stands for (rows of the
    // shared role's days), are no member's word: ignored by every puller.
    cluster.psql(
        "INSERT INTO sentry.decisions (change_id, host, local_id, ip, action, at, reason) VALUES \
         (nextval('sentry.change_id'), '', 2000, '203.0.113.11', 'unlist', 1, 'forged'), \
         (nextval('sentry.change_id'), 'ghost', 2001, '203.0.113.12', 'allow', 1, 'forged'), \
         (nextval('sentry.change_id'), 'ghost', 2002, '203.0.113.13', 'block', 1, 'forged')",
    );
    // b's own block still travels.
    b.ok(&["block", "203.0.113.14"]);
    b.ok(&["sync"]);
    for (name, root) in [("a", &a), ("c", &c)] {
        root.ok(&["sync"]);
        assert!(
            blocked(root, "203.0.113.10"),
            "{name}: a's admin block stands"
        );
        assert!(
            blocked(root, "203.0.113.11"),
            "{name}: c's admin block stands"
        );
        assert!(!allowed(root, "203.0.113.12"), "{name}: no ghost's allow");
        assert!(!blocked(root, "203.0.113.13"), "{name}: no ghost's block");
        assert!(blocked(root, "203.0.113.14"), "{name}: b's block arrived");
    }
    let report = c.ok(&["report", "203.0.113.11"]);
    assert!(!report.contains("(from"), "still c's own: {report}");
}

#[test]
fn a_remote_allow_lifts_only_blocks_that_came_from_its_host() {
    let Some(cluster) = PgCluster::start() else {
        return;
    };
    let (a, b, c) = (
        host(&cluster, "a"),
        host(&cluster, "b"),
        host(&cluster, "c"),
    );
    a.ok(&["block", "203.0.113.20"]);
    a.ok(&["sync"]);
    c.ok(&["sync"]);
    assert!(blocked(&c, "203.0.113.20"));
    // b allows the address a blocked, and one nobody listed.
    b.ok(&["allow", "203.0.113.20"]);
    b.ok(&["allow", "203.0.113.21"]);
    b.ok(&["sync"]);
    c.ok(&["sync"]);
    assert!(
        blocked(&c, "203.0.113.20"),
        "b's allow does not lift a's block"
    );
    assert!(allowed(&c, "203.0.113.21"), "an unlisted address: shared");
    // a itself allowing it does.
    a.ok(&["allow", "203.0.113.20"]);
    a.ok(&["sync"]);
    c.ok(&["sync"]);
    assert!(allowed(&c, "203.0.113.20"), "a's allow lifts a's block");
}

#[test]
fn a_flooding_host_is_capped_and_reported() {
    let Some(cluster) = PgCluster::start() else {
        return;
    };
    let (a, b) = (host(&cluster, "a"), host(&cluster, "b"));
    let c = host_extra(&cluster, "c", "max_rows_per_host = 3\n");
    let ips: Vec<String> = (1..=5).map(|i| format!("198.51.100.{i}")).collect();
    for ip in &ips {
        b.ok(&["block", ip]);
    }
    let log: String = (1..=5)
        .map(|i| failed_lines(&format!("192.0.2.{i}"), 1))
        .collect();
    std::fs::write(b.auth_log(), log).expect("write log");
    b.ok(&["scan"]);
    b.ok(&["sync"]);
    a.ok(&["block", "203.0.113.30"]);
    a.ok(&["sync"]);
    let out = c.ok(&["sync"]);
    assert!(
        out.contains(
            "fleet: b sent more than max_rows_per_host: dropped 2 listings and 2 evidence rows"
        ),
        "{out}"
    );
    let taken = ips.iter().filter(|ip| blocked(&c, ip)).count();
    assert_eq!(taken, 3, "only the first 3 of b's blocks");
    assert!(blocked(&c, "203.0.113.30"), "a is no flood");
    let check = c.run(&["check", "--hosts-allow", "/dev/null"]);
    let text = String::from_utf8_lossy(&check.stdout);
    assert!(
        text.contains("max_rows_per_host = 3")
            && text.contains("b (dropped 2 listings, 2 evidence rows)"),
        "{text}"
    );
    // The excess is gone for good, not applied on a later exchange.
    c.ok(&["sync"]);
    assert_eq!(ips.iter().filter(|ip| blocked(&c, ip)).count(), 3);
}

#[test]
fn a_role_that_could_write_around_the_server_is_refused() {
    let Some(cluster) = PgCluster::start() else {
        return;
    };
    let url = |role: &str| format!("{}?sslmode=disable", cluster.url(role));
    let refused = |root: &Root, says: &[&str]| {
        let out = root.run(&["sync"]);
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(!out.status.success(), "accepted: {out:?}");
        for words in says {
            assert!(err.contains(words), "{err}");
        }
    };
    // A superuser (that is also a member).
    let boss_password = cluster.add_host("boss");
    cluster.psql("ALTER ROLE sentry_boss SUPERUSER");
    let boss = configured(&url("boss"), &boss_password, "boss", "");
    boss.ok(&["block", "203.0.113.40"]);
    refused(&boss, &["is a superuser", "allow_privileged_role = true"]);
    assert_eq!(
        cluster.psql("SELECT count(*) FROM sentry.hosts"),
        "0",
        "nothing sent"
    );
    let boss = configured(
        &url("boss"),
        &boss_password,
        "boss",
        "allow_privileged_role = true\n",
    );
    boss.ok(&["block", "203.0.113.40"]);
    assert!(boss.ok(&["sync"]).contains("fleet: sent 1 decisions"));

    // A member granted writes on a table, and the owner's member.
    let writer = cluster.add_host("writer");
    cluster.psql("GRANT DELETE ON sentry.evidence TO sentry_writer");
    refused(
        &configured(&url("writer"), &writer, "writer", ""),
        &["may write the sentry tables directly"],
    );
    let keeper = cluster.add_host("keeper");
    cluster.psql("GRANT sentry_owner TO sentry_keeper");
    refused(
        &configured(&url("keeper"), &keeper, "keeper", ""),
        &["owns the sentry schema"],
    );

    // A role that is no member, and a member under another host's id.
    let outsider = cluster.add_host("outsider");
    cluster.psql("REVOKE sentry_host FROM sentry_outsider");
    refused(
        &configured(&url("outsider"), &outsider, "outsider", ""),
        &["member of sentry_host"],
    );
    let b = cluster.add_host("b");
    refused(
        &configured(&url("b"), &b, "a", ""),
        &["for host \"b\": set host_id = \"b\""],
    );
}

#[test]
fn a_fleet_of_the_shared_role_migrates_by_readme() {
    let Some(cluster) = PgCluster::start() else {
        return;
    };
    // What an earlier sentry made as the one shared role: schema version 1, with a row of
    // host x's and a forged one under no host.
    cluster.psql_in(
        "postgres",
        "CREATE ROLE sentry LOGIN;\nCREATE DATABASE old OWNER sentry;",
    );
    cluster.psql_in(
        "old",
        &format!(
            "SET ROLE sentry;\n{}\nINSERT INTO sentry.decisions \
             (change_id, host, local_id, ip, action, at, reason) VALUES \
             (nextval('sentry.change_id'), 'x', 1, '203.0.113.50', 'block', extract(epoch FROM now())::bigint, 'x'), \
             (nextval('sentry.change_id'), '', 2, '203.0.113.51', 'allow', 1, 'forged');",
            readme_step("schema version 1").replace("SET ROLE sentry_owner;", "")
        ),
    );
    // The README's migration: from the shared role, then version 2.
    cluster.psql_in(
        "old",
        &format!(
            "BEGIN;\n{}\nCOMMIT;\nBEGIN;\n{}\nCOMMIT;",
            readme_step("from the shared role sentry").replace("DATABASE sentry", "DATABASE old"),
            readme_step("schema version 2")
        ),
    );
    assert_eq!(
        cluster.psql_in(
            "old",
            "SELECT tableowner || ' ' || (SELECT rolcanlogin FROM pg_roles \
             WHERE rolname = 'sentry') FROM pg_tables WHERE tablename = 'decisions'"
        ),
        "sentry_owner false"
    );
    cluster.add_host("x");
    cluster.add_host("c");
    let url = cluster.url("c");
    let c = configured(
        &format!(
            "{}/old?sslmode=disable",
            url.strip_suffix("/sentry").expect("db")
        ),
        &cluster.password_file("c"),
        "c",
        "",
    );
    c.ok(&["sync"]);
    assert!(blocked(&c, "203.0.113.50"), "x's row, now a member's");
    assert!(!allowed(&c, "203.0.113.51"), "the forged row is no one's");
}

#[test]
fn a_prefix_blocked_on_one_host_reaches_the_others_within_their_own_rules() {
    let Some(cluster) = PgCluster::start() else {
        return;
    };
    let a = host(&cluster, "a");
    let b = host(&cluster, "b");
    // c counts /56 prefixes: a /64 is no wider, it is taken. d has prefixes off, as an
    // older sentry, which skips a row that is not an address.
    let c = Root::new();
    cluster.add_host("c");
    std::fs::write(
        c.path().join("sentry.toml"),
        format!(
            "ipv6_prefix = 56\n[fleet]\nurl = \"{}?sslmode=disable\"\npassword_file = \"{}\"\nhost_id = \"c\"\n",
            cluster.url("c"),
            cluster.password_file("c").display()
        ),
    )
    .expect("write config");
    let d = Root::new();
    cluster.add_host("d");
    std::fs::write(
        d.path().join("sentry.toml"),
        format!(
            "ipv6_prefix = 128\n[fleet]\nurl = \"{}?sslmode=disable\"\npassword_file = \"{}\"\nhost_id = \"d\"\n",
            cluster.url("d"),
            cluster.password_file("d").display()
        ),
    )
    .expect("write config");
    // b has allowed an address of the prefix: it never blocks the prefix whole.
    let e = host(&cluster, "e");
    e.ok(&["allow", "2001:db8:1:2::77"]);

    for ip in ["2001:db8:1:2::a", "2001:db8:1:2::b", "2001:db8:1:2::c"] {
        a.ok(&["block", ip]);
    }
    assert!(a.deny_text().contains("[2001:db8:1:2::]/64"));
    let out = a.ok(&["sync"]);
    assert!(out.contains("fleet: sent 4 decisions"), "{out}");
    for other in [&b, &c] {
        sync_until_ok(other);
        let deny = other.deny_text();
        assert!(
            deny.contains("ALL: [2001:db8:1:2::]/64 : deny"),
            "the prefix travels:\n{deny}"
        );
        let report = other.ok(&["report"]);
        assert!(report.contains("2001:db8:1:2::/64"), "{report}");
    }
    for (other, why) in [(&d, "prefixes off"), (&e, "an allowed address inside")] {
        let out = sync_until_ok(other);
        let deny = other.deny_text();
        assert!(!deny.contains("/64"), "{why}:\n{deny}\n{out}");
        assert!(
            deny.contains("[2001:db8:1:2::a]"),
            "{why}: the single blocks come:\n{deny}"
        );
    }

    // The delisting travels to the hosts that took the block from a.
    a.ok(&["delist", "2001:db8:1:2::/64"]);
    a.ok(&["sync"]);
    for other in [&b, &c] {
        sync_until_ok(other);
        let deny = other.deny_text();
        assert!(!deny.contains("2001:db8:1:2:"), "{deny}");
    }
}

/// Adds top-level keys to a fleet host's configuration (before its `[fleet]` section).
fn top_level(root: &Root, keys: &str) {
    let path = root.path().join("sentry.toml");
    let text = std::fs::read_to_string(&path).expect("read config");
    std::fs::write(&path, text.replace("[fleet]", &format!("{keys}[fleet]"))).expect("write");
}

/// A syslog line of now (trust counts attempts within `trusted_window` of now).
fn sshd_now(pid: u32, message: &str) -> String {
    format!(
        "{} host sshd[{pid}]: {message}\n",
        chrono::Local::now().format("%b %e %H:%M:%S")
    )
}

fn trust_json(root: &Root, ip: &str) -> serde_json::Value {
    let json: serde_json::Value =
        serde_json::from_str(&root.ok(&["report", "--json", ip])).expect("json");
    json["trust"].clone()
}

fn last_login(root: &Root, ip: &str, account: &str) -> i64 {
    rusqlite::Connection::open(root.db())
        .expect("open")
        .query_row(
            "SELECT last_success FROM trust WHERE ip = ?1 AND account = ?2",
            [ip, account],
            |r| r.get(0),
        )
        .expect("a trusted account")
}

#[test]
fn an_allow_carries_its_accounts_and_last_login_to_the_other_hosts() {
    let Some(cluster) = PgCluster::start() else {
        return;
    };
    let day = 86_400;
    let (a, b, c) = (
        host(&cluster, "a"),
        host(&cluster, "b"),
        host(&cluster, "c"),
    );
    top_level(&b, "trust_days = 30\ntrusted_max_attempts = 5\n");
    let ip = "192.0.2.99";
    std::fs::write(
        a.auth_log(),
        sshd_now(
            999,
            &format!("Accepted password for alice from {ip} port 50999 ssh2"),
        ),
    )
    .expect("write log");
    a.ok(&["scan"]);
    assert!(allowed(&a, ip), "alice logged in on a");
    let last = last_login(&a, ip, "alice");
    a.ok(&["sync"]);
    b.ok(&["sync"]);
    c.ok(&["sync"]);
    assert!(allowed(&b, ip));
    // b trusts the address for alice only, until her last login on a + b's own 30 days.
    let trust = trust_json(&b, ip);
    assert_eq!(trust.as_array().map(Vec::len), Some(1), "{trust}");
    assert_eq!(trust[0]["account"], "alice", "{trust}");
    assert_eq!(trust[0]["last_login"].as_i64(), Some(last), "{trust}");
    assert_eq!(trust[0]["until"].as_i64(), Some(last + 30 * day), "{trust}");
    assert_eq!(
        trust_json(&c, ip)[0]["until"].as_i64(),
        Some(last + 90 * day)
    );

    // Failures for bob from there count on b against trusted_max_attempts (5).
    let bob: String = (0..6)
        .map(|i| {
            sshd_now(
                200 + i,
                &format!("Failed password for bob from {ip} port 4{i:04} ssh2"),
            )
        })
        .collect();
    std::fs::write(b.auth_log(), bob).expect("write log");
    b.ok(&["scan"]);
    assert!(blocked(&b, ip), "{}", b.ok(&["report", ip]));
    assert!(
        b.ok(&["report", ip])
            .contains("more than trusted_max_attempts (5)"),
        "{}",
        b.ok(&["report", ip])
    );

    // A newer login on a renews its trust there, and the renewal travels as an allow.
    for root in [&a, &c] {
        rusqlite::Connection::open(root.db())
            .expect("open")
            .execute(
                "UPDATE trust SET since = since - 10 * 86400, \
                 last_success = last_success - 10 * 86400",
                [],
            )
            .expect("age the trust");
    }
    let mut log = std::fs::read_to_string(a.auth_log()).expect("read log");
    log.push_str(&sshd_now(
        1000,
        &format!("Accepted password for alice from {ip} port 51000 ssh2"),
    ));
    std::fs::write(a.auth_log(), log).expect("write log");
    a.ok(&["scan"]);
    let renewed = last_login(&a, ip, "alice");
    assert!(renewed >= last, "renewed on a");
    let sent = a.ok(&["sync"]);
    assert!(sent.contains("fleet: sent 1 decisions"), "{sent}");
    c.ok(&["sync"]);
    let trust = trust_json(&c, ip);
    assert_eq!(trust[0]["last_login"].as_i64(), Some(renewed), "{trust}");
    assert!(blocked(&b, ip), "b's own block stays");
}

#[test]
fn allows_from_older_hosts_or_through_an_older_server_trust_any_account() {
    let Some(cluster) = PgCluster::start() else {
        return;
    };
    // A server without the optional step: hosts of this version work with it as before.
    cluster.set_up_database_without_trust("plain");
    let (d, e) = (cluster.add_host("d"), cluster.add_host("e"));
    let plain = |host: &str, password: &std::path::Path| {
        let url = cluster.url(host);
        configured(
            &format!(
                "{}/plain?sslmode=disable",
                url.strip_suffix("/sentry").expect("db")
            ),
            password,
            host,
            "",
        )
    };
    let (d, e) = (plain("d", &d), plain("e", &e));
    let ip = "192.0.2.98";
    std::fs::write(
        d.auth_log(),
        sshd_now(
            999,
            &format!("Accepted password for alice from {ip} port 50999 ssh2"),
        ),
    )
    .expect("write log");
    d.ok(&["scan"]);
    d.ok(&["sync"]);
    e.ok(&["sync"]);
    let trust = trust_json(&e, ip);
    assert_eq!(trust[0]["account"], "*", "any account, as before: {trust}");

    // On a server with the step, an older host's push (the version 2 sentry.push) too;
    // and an allow naming only accounts that trust nothing here is not taken.
    let (f, g) = (host(&cluster, "f"), host(&cluster, "g"));
    f.ok(&["sync"]);
    let install = "(SELECT install FROM sentry.hosts WHERE host = 'f')";
    let now = chrono::Utc::now().timestamp();
    let pushed = cluster.psql_as(
        "f",
        &format!(
            "SELECT sentry.push({install}, 'old', ARRAY[900]::bigint[], \
             ARRAY['192.0.2.97'], ARRAY['allow'], ARRAY[{now}]::bigint[], ARRAY['login'], \
             ARRAY[]::text[], ARRAY[]::text[], ARRAY[]::text[], ARRAY[]::bigint[]); \
             SELECT sentry.push({install}, 'new', ARRAY[901]::bigint[], \
             ARRAY['192.0.2.96'], ARRAY['allow'], ARRAY[{now}]::bigint[], ARRAY['login'], \
             ARRAY[]::text[], ARRAY[]::text[], ARRAY[]::text[], ARRAY[]::bigint[], \
             ARRAY['{{\"git\": {now}, \"*\": {now}}}'])"
        ),
    );
    assert!(pushed.is_ok(), "{pushed:?}");
    g.ok(&["sync"]);
    assert_eq!(trust_json(&g, "192.0.2.97")[0]["account"], "*");
    assert!(
        !allowed(&g, "192.0.2.96"),
        "an allow that trusts nothing here"
    );
}

#[test]
fn a_pulled_block_is_judged_by_this_hosts_count_of_the_addresss_blocks() {
    let Some(cluster) = PgCluster::start() else {
        return;
    };
    let (a, b) = (host(&cluster, "a"), host(&cluster, "b"));
    let ip = "203.0.113.60";
    let days_ago = |days: i64| chrono::Utc::now().timestamp() - days * 86_400;
    // b took a's first block, which expired on both.
    a.ok(&["block", ip]);
    a.ok(&["sync"]);
    b.ok(&["sync"]);
    assert!(blocked(&b, ip));
    for root in [&a, &b] {
        rusqlite::Connection::open(root.db())
            .expect("open")
            .execute(
                "UPDATE ip_records SET block = ?1 WHERE ip = ?2",
                rusqlite::params![days_ago(91), ip],
            )
            .expect("age the block");
        root.ok(&["expire"]);
        assert!(!blocked(root, ip));
    }
    // a's second block, 100 days old when it arrives: a second block lasts 180 days on b,
    // which counted the first; a new host c has counted none, so there it has ended.
    a.ok(&["block", ip]);
    a.ok(&["sync"]);
    cluster.psql(&format!(
        "UPDATE sentry.decisions SET at = {} WHERE host = 'a' AND action = 'block' \
         AND local_id = (SELECT max(local_id) FROM sentry.decisions WHERE host = 'a')",
        days_ago(100)
    ));
    let c = host(&cluster, "c");
    b.ok(&["sync"]);
    c.ok(&["sync"]);
    assert!(blocked(&b, ip), "b's second block of it");
    let json: serde_json::Value =
        serde_json::from_str(&b.ok(&["report", "--json", ip])).expect("json");
    assert_eq!(json["blocks"]["count"].as_i64(), Some(2), "{json}");
    assert_eq!(json["blocks"]["days"].as_i64(), Some(180), "{json}");
    assert!(!blocked(&c, ip), "a first block here would have ended");
}
