//! Figures for the log intelligence, each beside its baseline measured in the same run:
//!
//! - `sentry parse` and `sentry scan` on a 1,000,000-line auth log written by
//!   `../shared/bench/gen-authlog`: MB/s, lines/s, peak memory; and the ratio to
//!   `fail2ban-regex FILE sshd` (Debian package fail2ban) on the same file, and to an earlier
//!   build's `parse` (`SENTRY_BENCH_BASELINE`, which bench/run builds) to show that new
//!   formats and rules cost no throughput;
//! - `sentry parse` of a 200,000-line log vs. `fail2ban-regex` and SSHGuard's `sshg-parser`
//!   (both from `SENTRY_BENCH_TOOLS`, where bench/run unpacks their Debian packages);
//! - a `--connect` that triggers a scan of 1,000 new lines, vs. a `--connect` of an allowed
//!   address (no scan);
//! - a `--connect` facing 1,500,000 new lines from as many addresses (a flood since the last
//!   look): its time and peak memory, bounded by `scan::CONNECT_READ_BUDGET`.
//!
//! Run with `cargo bench --bench logs` (or `bench/run`). `SENTRY_BENCH_LINES` changes the
//! log size. Wall-clock figures: run on an idle machine.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

mod program;
use program::SENTRY;

fn main() {
    let lines: u64 = std::env::var("SENTRY_BENCH_LINES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(1_000_000);
    let dir = tempfile::tempdir().expect("temporary directory");
    let log = dir.path().join("auth.log");
    let gen_authlog = Path::new(env!("CARGO_MANIFEST_DIR")).join("../shared/bench/gen-authlog");
    let started = Instant::now();
    let truth = dir.path().join("truth.tsv");
    let ok = Command::new("python3")
        .arg(&gen_authlog)
        .args(["--lines", &lines.to_string(), "--seed", "1", "--truth"])
        .arg(&truth)
        .arg("-o")
        .arg(&log)
        .status()
        .expect("run gen-authlog")
        .success();
    assert!(ok, "gen-authlog failed");
    let bytes = std::fs::metadata(&log).expect("log").len();
    let mb = bytes as f64 / 1e6;
    println!(
        "log: {lines} lines, {mb:.1} MB (generated in {:.1} s)",
        started.elapsed().as_secs_f64()
    );

    // --- parse: the filter tester, output discarded -----------------------------------
    let parse = time(|| {
        quietly(
            Command::new(&*SENTRY).arg("parse").arg(&log),
            "sentry parse",
        )
    });
    report("sentry parse", parse, mb, lines);

    // --- the same parse by an earlier build (bench/run builds it): throughput kept? -------
    // The fastest of 3 runs each, taken in turn, so that a busy moment does not decide.
    if let Ok(baseline) = std::env::var("SENTRY_BENCH_BASELINE") {
        let label = std::env::var("SENTRY_BENCH_BASELINE_REF").unwrap_or_default();
        let (mut now, mut before) = (Duration::MAX, Duration::MAX);
        for _ in 0..3 {
            now = now.min(time(|| {
                quietly(
                    Command::new(&*SENTRY).arg("parse").arg(&log),
                    "sentry parse",
                )
            }));
            before = before.min(time(|| {
                quietly(
                    Command::new(&baseline).arg("parse").arg(&log),
                    "the baseline's parse",
                )
            }));
        }
        report("sentry parse (fastest of 3)", now, mb, lines);
        report(&format!("baseline parse ({label})"), before, mb, lines);
        println!(
            "ratio: parse throughput is {:.2}x the baseline's ({label}; 1.00 = unchanged)",
            before.as_secs_f64() / now.as_secs_f64()
        );
    }

    parse_vs_peers(dir.path(), &gen_authlog);

    // --- scan: parse + evidence into SQLite + decisions ---------------------------------
    let root = dir.path().join("root");
    let scan = time(|| {
        let ok = sentry(&root, &log)
            .arg("scan")
            .status()
            .expect("run sentry scan")
            .success();
        assert!(ok, "sentry scan failed");
    });
    report("sentry scan (fresh db)", scan, mb, lines);
    let (agree, total) = agreement(&root.join("sentry.db"), &truth);
    println!(
        "scan verdicts agree with the truth for {agree} of {total} addresses ({:.2}%)",
        100.0 * agree as f64 / total.max(1) as f64
    );
    if let Some(kib) = max_rss_kib(&root, &log, &["scan", "--from-start"]) {
        println!("sentry scan --from-start peak memory: {kib} KiB");
    }

    // --- the baseline: fail2ban-regex with its sshd filter --------------------------------
    match find("fail2ban-regex") {
        Some(f2b) => {
            let baseline =
                time(|| quietly(Command::new(&f2b).arg(&log).arg("sshd"), "fail2ban-regex"));
            report("fail2ban-regex (sshd)", baseline, mb, lines);
            println!(
                "ratio: sentry parse is {:.0}x faster than fail2ban-regex, sentry scan {:.0}x",
                baseline.as_secs_f64() / parse.as_secs_f64(),
                baseline.as_secs_f64() / scan.as_secs_f64()
            );
        }
        None => {
            println!("(baseline skipped: fail2ban-regex not installed; apt-get install fail2ban)")
        }
    }

    // --- connect that scans 1,000 new lines ----------------------------------------------
    let small = dir.path().join("small");
    std::fs::create_dir_all(&small).expect("mkdir");
    let small_log = small.join("auth.log");
    std::fs::write(&small_log, "").expect("log");
    let run_connect = |ip: &str| connect_in(&small, &small_log, ip);
    for _ in 0..3 {
        run_connect("192.0.2.200"); // past inspect_after, never decided: scans every time
    }
    run_connect("192.0.2.201");
    let rounds = 20;
    let mut scanning = Duration::ZERO;
    for round in 0..rounds {
        append_lines(&small_log, round, 1000);
        let started = Instant::now();
        run_connect("192.0.2.200");
        scanning += started.elapsed();
    }
    sentry(&small, &small_log)
        .args(["allow", "192.0.2.201"])
        .status()
        .expect("allow");
    let cheap = time(|| {
        for _ in 0..rounds {
            run_connect("192.0.2.201");
        }
    }) / rounds;
    println!(
        "connect scanning 1,000 new lines: {:.2} ms   connect of an allowed address: {:.2} ms",
        ms(scanning / rounds),
        ms(cheap)
    );

    // --- connect facing a flood: 1,500,000 new lines from as many addresses ---------------
    let flood = dir.path().join("flood");
    std::fs::create_dir_all(&flood).expect("mkdir");
    let flood_log = flood.join("auth.log");
    std::fs::write(&flood_log, "").expect("log");
    let flood_connect = |ip: &str| connect_in(&flood, &flood_log, ip);
    for _ in 0..2 {
        flood_connect("192.0.2.210");
    }
    write_flood(&flood_log, 1_500_000);
    let flood_mb = std::fs::metadata(&flood_log).expect("flood log").len() as f64 / 1e6;
    let started = Instant::now();
    flood_connect("192.0.2.210"); // the third: inspects, meets the flood
    let facing = started.elapsed();
    flood_connect("192.0.2.210");
    let rss = max_rss_kib(&flood, &flood_log, &["connect", "192.0.2.210"]);
    println!(
        "connect facing a flood of 1,500,000 new lines ({flood_mb:.0} MB, as many addresses): {:.1} ms, \
         peak RSS {} KiB (reads at most {} MiB; connect of an allowed address: {:.2} ms, ratio {:.1}x)",
        ms(facing),
        rss.map_or("?".to_string(), |k| k.to_string()),
        sentry::scan::CONNECT_READ_BUDGET >> 20,
        ms(cheap),
        facing.as_secs_f64() / cheap.as_secs_f64()
    );
}

/// `sentry connect IP` in `root`, reading `log`.
fn connect_in(root: &Path, log: &Path, ip: &str) {
    let ok = sentry(root, log)
        .args(["connect", ip])
        .status()
        .expect("connect")
        .success();
    assert!(ok, "connect failed");
}

/// `n` failures, each from another address (100.64.0.0/10: text only, no traffic).
fn write_flood(log: &Path, n: u32) {
    let file = std::fs::OpenOptions::new()
        .append(true)
        .open(log)
        .expect("open log");
    let mut out = std::io::BufWriter::with_capacity(1 << 20, file);
    for i in 0..n {
        writeln!(
            out,
            "2026-11-24T10:00:00.000000+00:00 web1 sshd[7]: Failed password for bob from 100.{}.{}.{} port 4000 ssh2",
            64 + (i >> 16),
            (i >> 8) & 0xff,
            i & 0xff
        )
        .expect("append");
    }
    out.flush().expect("flush");
}

/// How many addresses of gen-authlog's ground truth got the same verdict from the scan
/// (loopback is never blocked: the never-block list decides there).
fn agreement(db: &Path, truth: &Path) -> (usize, usize) {
    let conn = rusqlite::Connection::open(db).expect("open db");
    let text = std::fs::read_to_string(truth).expect("read truth");
    let (mut agree, mut total) = (0, 0);
    for row in text.lines().skip(1) {
        let cols: Vec<&str> = row.split('\t').collect();
        let (ip, verdict) = (cols[0], cols[5]);
        let (allow, block): (i64, i64) = conn
            .query_row(
                "SELECT allow, block FROM ip_records WHERE ip = ?1",
                [ip],
                |r| Ok((r.get(0)?, r.get(1)?)),
            )
            .unwrap_or((0, 0));
        let ours = if allow > 0 {
            "allow"
        } else if block > 0 {
            "block"
        } else {
            "none"
        };
        let expected = if ip.starts_with("127.") || ip == "::1" {
            "none"
        } else {
            verdict
        };
        total += 1;
        if ours == expected {
            agree += 1;
        }
    }
    (agree, total)
}

fn sentry(root: &Path, log: &Path) -> Command {
    let mut cmd = Command::new(&*SENTRY);
    cmd.env("ROOT_DIR", root)
        .env("SENTRY_LOGS", log)
        .env("PROTECT_SMTP", "1")
        .stdout(Stdio::null());
    cmd
}

/// 1,000 lines of failures from many addresses (none of them the connecting one).
fn append_lines(log: &Path, round: u32, n: u32) {
    let mut f = std::fs::OpenOptions::new()
        .append(true)
        .open(log)
        .expect("open log");
    for i in 0..n {
        writeln!(
            f,
            "2026-11-24T10:00:00.000000+00:00 web1 sshd[{i}]: Failed password for user{i} from 198.51.{}.{} port 4000 ssh2",
            round % 250,
            i % 250 + 1
        )
        .expect("append");
    }
}

fn time(f: impl FnOnce()) -> Duration {
    let started = Instant::now();
    f();
    started.elapsed()
}

/// Runs a measured program with its output discarded; a failure makes the figure
/// meaningless, so it stops the bench.
fn quietly(cmd: &mut Command, what: &str) {
    let status = cmd
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .unwrap_or_else(|e| panic!("run {what}: {e}"));
    assert!(status.success(), "{what} failed: {status}");
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

fn report(what: &str, took: Duration, mb: f64, lines: u64) {
    let secs = took.as_secs_f64();
    println!(
        "{what:<26} {secs:>8.2} s  {:>8.1} MB/s  {:>10.0} lines/s",
        mb / secs,
        lines as f64 / secs
    );
}

/// `sentry parse` against fail2ban-regex (its sshd filter) and SSHGuard's `sshg-parser`
/// on the same 200,000-line log, in this run: the fastest of a few runs each (the slow
/// fail2ban-regex once), output discarded.
fn parse_vs_peers(dir: &Path, gen_authlog: &Path) {
    let lines = 200_000u64;
    let log = dir.join("auth200k.log");
    let ok = Command::new("python3")
        .arg(gen_authlog)
        .args(["--lines", &lines.to_string(), "--seed", "1", "-o"])
        .arg(&log)
        .status()
        .expect("run gen-authlog")
        .success();
    assert!(ok, "gen-authlog failed");
    let mb = std::fs::metadata(&log).expect("log").len() as f64 / 1e6;
    let fastest = |runs: u32, f: &dyn Fn()| (0..runs).map(|_| time(f)).min().expect("a run");
    let parse = fastest(7, &|| {
        quietly(
            Command::new(&*SENTRY).arg("parse").arg(&log),
            "sentry parse",
        )
    });
    report("sentry parse (200k lines)", parse, mb, lines);
    if let Some(sshg) = find("sshg-parser") {
        let took = fastest(7, &|| {
            let input = std::fs::File::open(&log).expect("log");
            quietly(Command::new(&sshg).stdin(input), "sshg-parser")
        });
        report("sshg-parser (200k lines)", took, mb, lines);
        println!(
            "ratio: sentry parse is {:.1}x faster than sshg-parser (200k lines)",
            took.as_secs_f64() / parse.as_secs_f64()
        );
    } else {
        println!("(sshg-parser baseline skipped: not found; bench/run unpacks Debian's sshguard)");
    }
    if let Some(f2b) = find("fail2ban-regex") {
        let took = fastest(1, &|| {
            quietly(Command::new(&f2b).arg(&log).arg("sshd"), "fail2ban-regex")
        });
        report("fail2ban-regex (200k lines)", took, mb, lines);
        println!(
            "ratio: sentry parse is {:.0}x faster than fail2ban-regex (200k lines)",
            took.as_secs_f64() / parse.as_secs_f64()
        );
    } else {
        println!(
            "(fail2ban-regex baseline skipped: not found; bench/run unpacks Debian's fail2ban)"
        );
    }
}

/// A peer's tool: from `SENTRY_BENCH_TOOLS` (where bench/run unpacked Debian's packages
/// without installing them), else installed.
fn find(tool: &str) -> Option<PathBuf> {
    let unpacked = std::env::var_os("SENTRY_BENCH_TOOLS").map(PathBuf::from);
    unpacked
        .into_iter()
        .chain(
            ["/usr/bin", "/usr/local/bin", "/bin"]
                .iter()
                .map(PathBuf::from),
        )
        .map(|d| d.join(tool))
        .find(|p| p.is_file())
}

fn max_rss_kib(root: &Path, log: &Path, args: &[&str]) -> Option<u64> {
    if !Path::new("/usr/bin/time").exists() {
        println!("(memory figure skipped: /usr/bin/time not installed)");
        return None;
    }
    let out = Command::new("/usr/bin/time")
        .args(["-f", "%M", &SENTRY])
        .args(args)
        .env("ROOT_DIR", root)
        .env("SENTRY_LOGS", log)
        .env("PROTECT_SMTP", "1")
        .stdout(Stdio::null())
        .output()
        .expect("run /usr/bin/time");
    String::from_utf8_lossy(&out.stderr)
        .lines()
        .last()?
        .trim()
        .parse()
        .ok()
}
