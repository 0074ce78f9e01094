//! Fleet mode against a private PostgreSQL cluster (tests/common/postgres.rs), each figure
//! next to its baseline in the same run:
//!
//! 1. propagation: hosts A, B and C (`backends = ["nftables"]`), each in a network namespace
//!    of its own so their sets are separate (this machine's ruleset is never touched); B and
//!    C run a 1 s timer (`sentry sync --fleet-only`, then sleep 1 s). A blocks an address and
//!    runs its own `sync --fleet-only`; the time until the address is in B's and C's
//!    `blocklist4`, next to the timer period;
//! 2. 100,000 shared blocks (no nftables: sentry's own cost): the push from the host that
//!    holds them, the first pull of a new host (database + tcpwrappers deny file) and an idle
//!    sync of that host afterwards, next to psql doing the server's part alone (insert / fetch
//!    of as many rows) and to an idle sync in an empty fleet.
//!
//! A fresh network namespace cannot reach this machine's 127.0.0.1, where the cluster
//! listens: in each namespace the bench runs a copy of itself as a relay (127.0.0.1:PORT there
//! -> a unix socket -> 127.0.0.1:PORT here), so sentry connects over TCP as usual.
//!
//! Needs root and PostgreSQL, and nftables for 1. (prints why and exits 0 otherwise). Run with
//! `cargo bench --bench fleet` (or `bench/run`); `SENTRY_BENCH_FLEET_BLOCKS` changes the
//! 100,000.

#[path = "../tests/common/mod.rs"]
mod common;

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{Shutdown, TcpListener, TcpStream};
use std::os::unix::net::{UnixListener, UnixStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use common::postgres::PgCluster;
use common::{Netns, Root, have_tool, is_root};

/// The sync timer of hosts B and C: `sync --fleet-only`, then this long asleep.
const TIMER: Duration = Duration::from_secs(1);
/// How often the bench looks at B's and C's sets.
const POLL: Duration = Duration::from_millis(20);
/// Every wait gives up (with a panic saying what did not happen) after this.
const DEADLINE: Duration = Duration::from_secs(30);
/// Blocks propagated (one address each) for the median and max.
const REPETITIONS: usize = 5;
/// Idle syncs timed (median) on each side of the idle comparison.
const IDLE_RUNS: usize = 5;
/// Set in the environment of the bench's own copy that relays inside a namespace.
const RELAY_ENV: &str = "SENTRY_BENCH_FLEET_RELAY";

fn main() {
    if let Ok(spec) = std::env::var(RELAY_ENV) {
        relay_in_namespace(&spec);
        return;
    }
    if !is_root("the fleet bench") {
        println!(
            "fleet bench skipped: needs root (network namespaces, a private PostgreSQL cluster)"
        );
        return;
    }
    let Some(cluster) = PgCluster::start() else {
        println!(
            "fleet bench skipped: no PostgreSQL server programs, psql or openssl (see SKIPPED above)"
        );
        return;
    };
    let blocks: u32 = std::env::var("SENTRY_BENCH_FLEET_BLOCKS")
        .ok()
        .and_then(|v| v.parse().ok())
        .filter(|&n| n > 0)
        .unwrap_or(100_000);
    if have_tool("nft") && have_tool("ip") {
        propagation(&cluster);
    } else {
        println!("fleet propagation skipped: needs nft (nftables) and ip (iproute2)");
    }
    shared_blocks(&cluster, blocks);
}

// ---- 1. propagation into the other hosts' nftables sets ----

/// A fleet host in a network namespace of its own, reaching the cluster through a relay.
struct NsHost {
    name: &'static str,
    // Dropped in this order: the relay stops before its namespace goes.
    _relay: NsRelay,
    ns: Netns,
    root: Root,
}

impl NsHost {
    fn new(cluster: &PgCluster, relay: &HostRelay, name: &'static str) -> NsHost {
        let ns = Netns::new().expect("a network namespace (root and ip were checked)");
        let root = Root::new();
        let password_file = cluster.add_host(name);
        std::fs::write(
            root.path().join("sentry.toml"),
            format!(
                "[block]\nbackends = [\"nftables\"]\n[fleet]\nurl = \"{}?sslmode=disable\"\npassword_file = \"{}\"\nhost_id = \"{name}\"\n",
                cluster.url(name),
                password_file.display()
            ),
        )
        .expect("write sentry.toml");
        let relay = NsRelay::start(&ns, cluster.port(), &relay.socket());
        NsHost {
            name,
            _relay: relay,
            ns,
            root,
        }
    }

    fn sentry(&self, args: &[&str]) -> Output {
        self.ns.sentry(&self.root, args)
    }

    fn sentry_ok(&self, args: &[&str]) -> String {
        self.ns.sentry_ok(&self.root, args)
    }

    /// Whether `ip` is a member of this host's `inet sentry blocklist4` (the kernel's view).
    fn set_has(&self, ip: &str) -> bool {
        let out = self
            .ns
            .run("nft", &["list", "set", "inet", "sentry", "blocklist4"]);
        // Before the first sync the set may not exist yet: no members.
        out.status.success()
            && String::from_utf8_lossy(&out.stdout)
                .split(|c: char| !(c.is_ascii_digit() || c == '.'))
                .any(|word| word == ip)
    }
}

/// Sets the flag when dropped, also while a panic unwinds, so the timer threads end and
/// the scope holding them can be left.
struct StopOnDrop<'a>(&'a AtomicBool);

impl Drop for StopOnDrop<'_> {
    fn drop(&mut self) {
        self.0.store(true, Ordering::SeqCst);
    }
}

fn propagation(cluster: &PgCluster) {
    let relay = HostRelay::start(cluster.port());
    let a = NsHost::new(cluster, &relay, "a");
    let others = [
        NsHost::new(cluster, &relay, "b"),
        NsHost::new(cluster, &relay, "c"),
    ];
    // A full sync each: the fleet schema on the server and the sets in every namespace.
    for host in std::iter::once(&a).chain(&others) {
        let out = host.sentry_ok(&["sync"]);
        assert!(
            out.contains("fleet: sent"),
            "first sync on {}: {out}",
            host.name
        );
    }

    let stop = AtomicBool::new(false);
    let timer_syncs = Mutex::new(Vec::new());
    let latencies = std::thread::scope(|s| {
        let _stop = StopOnDrop(&stop);
        for host in &others {
            let (stop, timer_syncs) = (&stop, &timer_syncs);
            s.spawn(move || sync_timer(host, stop, timer_syncs));
        }
        let mut latencies = Vec::new();
        for i in 0..REPETITIONS {
            // Start each block at another point of the timers' period.
            std::thread::sleep(TIMER.mul_f64(i as f64 / REPETITIONS as f64));
            let ip = format!("198.51.100.{}", 10 + i);
            let started = Instant::now();
            a.sentry_ok(&["block", &ip]);
            let out = a.sentry_ok(&["sync", "--fleet-only"]);
            assert!(
                out.contains("fleet: sent 1 decisions"),
                "A's sync after blocking {ip}: {out}"
            );
            let mut waiting: Vec<&NsHost> = others.iter().collect();
            let mut latest = Duration::ZERO;
            while !waiting.is_empty() {
                waiting.retain(|host| {
                    let there = host.set_has(&ip);
                    if there {
                        latest = latest.max(started.elapsed());
                    }
                    !there
                });
                if waiting.is_empty() {
                    break;
                }
                let names: Vec<&str> = waiting.iter().map(|h| h.name).collect();
                assert!(
                    started.elapsed() < DEADLINE,
                    "{ip}, blocked on host a, was not in the nftables set of host(s) {names:?} \
                     after {} s (their 1 s sync timers run `sentry sync --fleet-only`)",
                    DEADLINE.as_secs()
                );
                std::thread::sleep(POLL);
            }
            latencies.push(latest);
        }
        latencies
    });
    let syncs = timer_syncs.into_inner().expect("timer durations");
    assert!(!syncs.is_empty(), "the sync timers never completed a sync");
    println!(
        "fleet propagation to {} hosts' nftables sets (1 s sync timer): median {:.2} s, max {:.2} s over {} blocks (timer period {:.2} s; one timer sync takes {:.3} s)",
        others.len(),
        median(&latencies).as_secs_f64(),
        latencies.iter().max().expect("latencies").as_secs_f64(),
        latencies.len(),
        TIMER.as_secs_f64(),
        median(&syncs).as_secs_f64()
    );
}

/// A host's timer: `sentry sync --fleet-only`, sleep 1 s, until `stop`.
fn sync_timer(host: &NsHost, stop: &AtomicBool, took: &Mutex<Vec<Duration>>) {
    while !stop.load(Ordering::SeqCst) {
        let started = Instant::now();
        let out = host.sentry(&["sync", "--fleet-only"]);
        if out.status.success() {
            took.lock()
                .expect("timer durations")
                .push(started.elapsed());
        } else {
            eprintln!(
                "fleet bench: timer sync on host {} failed ({}): {}",
                host.name,
                out.status,
                String::from_utf8_lossy(&out.stderr).trim()
            );
        }
        let until = Instant::now() + TIMER;
        while !stop.load(Ordering::SeqCst) {
            let Some(left) = until.checked_duration_since(Instant::now()) else {
                break;
            };
            std::thread::sleep(left.min(Duration::from_millis(50)));
        }
    }
}

// ---- 2. 100,000 shared blocks ----

fn shared_blocks(cluster: &PgCluster, count: u32) {
    // Two more fleets on the same cluster, set up by README's steps; hosts p, d and e.
    cluster.set_up_database("bulk");
    cluster.set_up_database("empty");
    for name in ["p", "d", "e"] {
        cluster.add_host(name);
    }
    let url = |db: &str, name: &str| {
        format!(
            "postgres://sentry_{name}@127.0.0.1:{}/{db}?sslmode=disable",
            cluster.port()
        )
    };
    // The whole backlog is one exchange for a new host: no flood cap in the way.
    let host = |db: &str, name: &str| {
        let root = Root::new();
        std::fs::write(
            root.path().join("sentry.toml"),
            format!(
                "[fleet]\nurl = \"{}\"\npassword_file = \"{}\"\nhost_id = \"{name}\"\nmax_rows_per_host = {}\n",
                url(db, name),
                cluster.password_file(name).display(),
                u32::MAX
            ),
        )
        .expect("write sentry.toml");
        root
    };
    let password = std::fs::read_to_string(cluster.password_file("p")).expect("read password");
    let psql = |db: &str, sql: &str| psql_as_sentry(&url(db, "p"), password.trim(), sql);
    let n = thousands(u64::from(count));

    // The push, from the host that holds the blocks.
    let a = host("bulk", "p");
    hold_blocks(&a, count);
    let (push, out) = timed(|| a.ok(&["sync", "--fleet-only"]));
    assert!(
        out.contains(&format!("fleet: sent {count} decisions")),
        "push: {out}"
    );
    // Baseline: the server storing as many such rows by itself, the same host's psql
    // inserting them into a table like sentry.decisions.
    cluster.psql_in(
        "bulk",
        "CREATE TABLE sentry.bench_insert (LIKE sentry.decisions INCLUDING ALL);\n\
         GRANT INSERT ON sentry.bench_insert TO sentry_p;",
    );
    let (insert, _) = timed(|| {
        psql(
            "bulk",
            &format!(
                "INSERT INTO sentry.bench_insert (change_id, host, local_id, ip, action, at, reason) \
                 SELECT g, 'p', g, '10.' || (1 + g / 65536) || '.' || (g / 256 % 256) || '.' || (g % 256), \
                 'block', extract(epoch FROM now())::bigint, 'bench: fleet' FROM generate_series(0, {}) g",
                count - 1
            ),
        )
    });
    cluster.psql_in("bulk", "DROP TABLE sentry.bench_insert");
    println!(
        "fleet push of {n} blocks (sync --fleet-only): {:.3} s, {} rows/s   baseline: psql INSERT ... SELECT of as many rows {:.3} s   ratio {:.1}x",
        push.as_secs_f64(),
        rate(count, push),
        insert.as_secs_f64(),
        push.as_secs_f64() / insert.as_secs_f64()
    );

    // The first pull, by a new host (SQLite + the tcpwrappers deny file).
    let d = host("bulk", "d");
    let (pull, out) = timed(|| d.ok(&["sync", "--fleet-only"]));
    assert!(
        out.contains(&format!("received {count} and 0, applied {count}")),
        "first pull: {out}"
    );
    assert_eq!(d.row_count(), i64::from(count), "rows on the new host");
    let denied = d.deny_text().lines().filter(|l| l.contains("10.")).count();
    assert!(
        denied >= count as usize,
        "the new host's deny file lists {denied} of the {count} addresses"
    );
    // Baseline: fetching the same rows with psql.
    let (fetch, rows) = timed(|| {
        psql(
            "bulk",
            "SELECT change_id, host, local_id, ip, action, at, reason FROM sentry.decisions \
             WHERE host <> 'd' ORDER BY change_id",
        )
    });
    assert_eq!(rows.lines().count(), count as usize, "rows fetched by psql");
    println!(
        "fleet first pull of {n} blocks (new host, tcpwrappers): {:.3} s, {} rows/s   baseline: psql fetch of the same rows {:.3} s   ratio {:.1}x",
        pull.as_secs_f64(),
        rate(count, pull),
        fetch.as_secs_f64(),
        pull.as_secs_f64() / fetch.as_secs_f64()
    );

    // Idle: nothing new, with the blocks shared, and in an empty fleet.
    let idle = idle_syncs(&d);
    let e = host("empty", "e");
    e.ok(&["sync", "--fleet-only"]); // the first exchange in the empty fleet
    let empty = idle_syncs(&e);
    println!(
        "fleet idle sync with {n} shared blocks: median {:.3} s   baseline: idle sync in an empty fleet {:.3} s   ratio {:.1}x",
        idle.as_secs_f64(),
        empty.as_secs_f64(),
        idle.as_secs_f64() / empty.as_secs_f64()
    );
}

/// Median of `IDLE_RUNS` runs of `sync --fleet-only` that find nothing to do.
fn idle_syncs(root: &Root) -> Duration {
    let mut took = Vec::new();
    for _ in 0..IDLE_RUNS {
        let (t, out) = timed(|| root.ok(&["sync", "--fleet-only"]));
        assert!(
            out.contains(
                "fleet: sent 0 decisions and 0 evidence totals, received 0 and 0, applied 0"
            ),
            "idle sync: {out}"
        );
        took.push(t);
    }
    median(&took)
}

/// Gives the host `count` blocks of its own (10.x.y.z), as if it had decided them: rows in
/// `ip_records` and in the `decisions` history (origin "" = this host), in one transaction.
fn hold_blocks(root: &Root, count: u32) {
    // Creates the database with sentry's schema (`report` would read a missing one as empty).
    root.ok(&["expire"]);
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .expect("clock after 1970")
        .as_secs() as i64;
    let mut conn = rusqlite::Connection::open(root.db()).expect("open the database");
    let tx = conn.transaction().expect("begin");
    {
        let mut record = tx
            .prepare("INSERT INTO ip_records (ip, seen, allow, block) VALUES (?1, 0, 0, ?2)")
            .expect("prepare");
        let mut decision = tx
            .prepare(
                "INSERT INTO decisions (ip, action, at, reason, origin) \
                 VALUES (?1, 'block', ?2, 'bench: fleet', '')",
            )
            .expect("prepare");
        for i in 0..count {
            let ip = format!("10.{}.{}.{}", 1 + i / 65_536, (i / 256) % 256, i % 256);
            record.execute(rusqlite::params![ip, now]).expect("insert");
            decision
                .execute(rusqlite::params![ip, now])
                .expect("insert");
        }
    }
    tx.commit().expect("commit");
}

/// psql as the fleet's role over TCP, like sentry (the password in the environment);
/// returns stdout (-A -t), panics with stderr on failure.
fn psql_as_sentry(url: &str, password: &str, sql: &str) -> String {
    let mut cmd = Command::new("psql");
    for (key, _) in std::env::vars_os() {
        if key.to_str().is_some_and(|k| k.starts_with("PG")) {
            cmd.env_remove(key);
        }
    }
    let out = cmd
        .args([
            "-X",
            "-A",
            "-t",
            "-q",
            "-v",
            "ON_ERROR_STOP=1",
            "-d",
            url,
            "-c",
            sql,
        ])
        .env("PGPASSWORD", password)
        .stdin(Stdio::null())
        .output()
        .expect("run psql");
    assert!(
        out.status.success(),
        "psql failed ({}) for {sql}: {}",
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

// ---- the relay into the namespaces ----

/// Here: a unix socket whose connections go on to the cluster's 127.0.0.1:PORT. Unix
/// sockets live in the file system, which the namespaces share.
struct HostRelay {
    dir: tempfile::TempDir,
}

impl HostRelay {
    fn start(port: u16) -> HostRelay {
        let dir = tempfile::Builder::new()
            .prefix("sentry-fleet-bench-")
            .tempdir_in("/tmp")
            .expect("temporary directory for the relay socket");
        let listener = UnixListener::bind(dir.path().join("pg.sock")).expect("bind the relay");
        // Blocked in accept until the process ends; the socket file goes with `dir`.
        std::thread::spawn(move || {
            for conn in listener.incoming().flatten() {
                if let Ok(server) = TcpStream::connect(("127.0.0.1", port)) {
                    // Like a direct connection: no Nagle delays on relayed small writes.
                    let _ = server.set_nodelay(true);
                    splice(conn, server);
                }
            }
        });
        HostRelay { dir }
    }

    fn socket(&self) -> PathBuf {
        self.dir.path().join("pg.sock")
    }
}

/// In a namespace: a copy of this bench listening on 127.0.0.1:PORT there, each connection
/// going on to the [`HostRelay`] socket. Killed when dropped; it also exits by itself when
/// the bench ends (its stdin closes).
struct NsRelay(Child);

impl NsRelay {
    fn start(ns: &Netns, port: u16, socket: &Path) -> NsRelay {
        ns.run_ok("ip", &["link", "set", "lo", "up"]);
        let child = Command::new("ip")
            .args(["netns", "exec", &ns.name])
            .arg(std::env::current_exe().expect("path of this bench"))
            .env(RELAY_ENV, format!("{port} {}", socket.display()))
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .spawn()
            .expect("start the relay in the namespace");
        let mut relay = NsRelay(child);
        let mut line = String::new();
        BufReader::new(relay.0.stdout.as_mut().expect("relay stdout"))
            .read_line(&mut line)
            .expect("read from the relay");
        assert_eq!(
            line.trim(),
            "ready",
            "the relay in {} did not start",
            ns.name
        );
        relay
    }
}

impl Drop for NsRelay {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// The relay's side in the namespace (`SENTRY_BENCH_FLEET_RELAY="PORT SOCKET"`).
fn relay_in_namespace(spec: &str) {
    let (port, socket) = spec.split_once(' ').expect("PORT SOCKET");
    let port: u16 = port.parse().expect("relay port");
    let listener = TcpListener::bind(("127.0.0.1", port)).expect("listen in the namespace");
    std::thread::spawn(|| {
        let _ = std::io::copy(&mut std::io::stdin(), &mut std::io::sink());
        std::process::exit(0);
    });
    println!("ready");
    std::io::stdout().flush().expect("flush");
    for conn in listener.incoming().flatten() {
        if let Ok(up) = UnixStream::connect(socket) {
            let _ = conn.set_nodelay(true);
            splice(conn, up);
        }
    }
}

/// A stream that can be copied in both directions at once.
trait Duplex: Read + Write + Send + Sized + 'static {
    fn duplicate(&self) -> std::io::Result<Self>;
    fn close_write(&self);
}

impl Duplex for TcpStream {
    fn duplicate(&self) -> std::io::Result<Self> {
        self.try_clone()
    }
    fn close_write(&self) {
        let _ = self.shutdown(Shutdown::Write);
    }
}

impl Duplex for UnixStream {
    fn duplicate(&self) -> std::io::Result<Self> {
        self.try_clone()
    }
    fn close_write(&self) {
        let _ = self.shutdown(Shutdown::Write);
    }
}

/// Copies `a` to `b` and `b` to `a` until each side ends.
fn splice<A: Duplex, B: Duplex>(a: A, b: B) {
    let (Ok(mut a2), Ok(mut b2)) = (a.duplicate(), b.duplicate()) else {
        return;
    };
    let (mut a, mut b) = (a, b);
    std::thread::spawn(move || {
        let _ = std::io::copy(&mut a, &mut b);
        b.close_write();
    });
    std::thread::spawn(move || {
        let _ = std::io::copy(&mut b2, &mut a2);
        a2.close_write();
    });
}

// ---- figures ----

fn timed<T>(f: impl FnOnce() -> T) -> (Duration, T) {
    let started = Instant::now();
    let value = f();
    (started.elapsed(), value)
}

fn median(values: &[Duration]) -> Duration {
    let mut sorted = values.to_vec();
    sorted.sort();
    sorted[sorted.len() / 2]
}

fn rate(count: u32, took: Duration) -> String {
    thousands((f64::from(count) / took.as_secs_f64()).round() as u64)
}

/// 100000 -> "100,000".
fn thousands(n: u64) -> String {
    let digits = n.to_string();
    let mut out = String::new();
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}
