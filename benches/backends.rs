//! Blocking 10,000 addresses with `sentry sync` into an empty nftables set and an empty
//! ipset, next to the baseline of one program call per address, in the same run. Runs in a
//! network namespace of its own (needs root and the nftables / ipset packages); prints why
//! when it cannot run.
//!
//! Run with `cargo bench --bench backends` (or `bench/run`). `SENTRY_BENCH_ADDRESSES`
//! changes the count.

use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

mod program;
use program::SENTRY;

struct Namespace(String);

impl Drop for Namespace {
    fn drop(&mut self) {
        let _ = Command::new("ip").args(["netns", "del", &self.0]).status();
    }
}

fn main() {
    let uid = Command::new("id").arg("-u").output().expect("run id");
    if String::from_utf8_lossy(&uid.stdout).trim() != "0" {
        println!("backends bench skipped: needs root (network namespaces)");
        return;
    }
    let count: u32 = std::env::var("SENTRY_BENCH_ADDRESSES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(10_000);
    let ns = Namespace(format!("sentry-bench-{}", std::process::id()));
    let ok = Command::new("ip")
        .args(["netns", "add", &ns.0])
        .status()
        .is_ok_and(|s| s.success());
    assert!(ok, "ip netns add failed");
    let addresses: Vec<String> = (0..count)
        .map(|i| format!("10.{}.{}.{}", 1 + i / 65_536, (i / 256) % 256, i % 256))
        .collect();

    for (backend, per_address) in [
        (
            "nftables",
            nft_one_by_one as fn(&str, &[String]) -> Duration,
        ),
        ("ipset", ipset_one_by_one),
    ] {
        let tool = if backend == "nftables" {
            "nft"
        } else {
            "ipset"
        };
        if !Path::new("/usr/sbin").join(tool).exists() {
            println!("{backend}: skipped ({tool} not installed)");
            continue;
        }
        let dir = tempfile::tempdir().expect("temporary root");
        let root = dir.path();
        std::fs::write(root.join("auth.log"), "").expect("log");
        std::fs::write(
            root.join("sentry.toml"),
            format!("[block]\nbackends = [\"{backend}\"]\n"),
        )
        .expect("config");
        populate(&root.join("sentry.db"), root, &addresses);
        let started = Instant::now();
        let out = Command::new("ip")
            .args(["netns", "exec", &ns.0, &SENTRY, "sync"])
            .env("ROOT_DIR", root)
            .env("SENTRY_LOGS", root.join("auth.log"))
            .output()
            .expect("run sentry sync");
        let batched = started.elapsed();
        assert!(
            out.status.success(),
            "sync failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        let one_by_one = per_address(&ns.0, &addresses);
        println!(
            "{backend:<9} {count} addresses: sentry sync (batched) {:>8.3} s   one call per address {:>8.3} s   ratio {:.0}x",
            batched.as_secs_f64(),
            one_by_one.as_secs_f64(),
            one_by_one.as_secs_f64() / batched.as_secs_f64()
        );
    }
}

/// The database of a host that has blocked these addresses (created by sentry itself).
fn populate(db: &Path, root: &Path, addresses: &[String]) {
    let ok = Command::new(&*SENTRY)
        // (`report` reads a missing database as empty and creates nothing; `expire` opens it)
        .arg("expire")
        .env("ROOT_DIR", root)
        .env("SENTRY_LOGS", root.join("auth.log"))
        .stdout(Stdio::null())
        .status()
        .is_ok_and(|s| s.success());
    assert!(ok, "sentry expire (creating the database) failed");
    let mut conn = rusqlite::Connection::open(db).expect("open db");
    let tx = conn.transaction().expect("begin");
    for ip in addresses {
        tx.execute(
            "INSERT INTO ip_records (ip, seen, allow, block) VALUES (?1, 0, 0, CAST(strftime('%s', 'now') AS INTEGER))",
            [ip],
        )
        .expect("insert");
    }
    tx.commit().expect("commit");
}

fn in_ns(ns: &str, args: &[&str]) {
    let ok = Command::new("ip")
        .args(["netns", "exec", ns])
        .args(args)
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success());
    assert!(ok, "{args:?} failed");
}

/// The baseline: `nft add element` once per address, into a set of its own.
fn nft_one_by_one(ns: &str, addresses: &[String]) -> Duration {
    in_ns(ns, &["nft", "add", "table", "inet", "baseline"]);
    in_ns(
        ns,
        &[
            "nft",
            "add",
            "set",
            "inet",
            "baseline",
            "one",
            "{ type ipv4_addr; }",
        ],
    );
    let started = Instant::now();
    for ip in addresses {
        in_ns(
            ns,
            &[
                "nft",
                "add",
                "element",
                "inet",
                "baseline",
                "one",
                &format!("{{ {ip} }}"),
            ],
        );
    }
    started.elapsed()
}

/// The baseline: `ipset add` once per address, into a set of its own.
fn ipset_one_by_one(ns: &str, addresses: &[String]) -> Duration {
    in_ns(
        ns,
        &[
            "ipset",
            "create",
            "baseline_one",
            "hash:ip",
            "family",
            "inet",
            "-exist",
        ],
    );
    let started = Instant::now();
    for ip in addresses {
        in_ns(ns, &["ipset", "add", "baseline_one", ip, "-exist"]);
    }
    started.elapsed()
}
