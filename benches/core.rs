//! Figures for the core, each printed beside a baseline measured in the same run:
//!
//! - `connect` of a known address (the per-connection cost) vs. starting `/bin/true`;
//! - `report` on a database of 1,000,000 records vs. the four `sqlite3` queries the bash
//!   original runs for the same figures (when `sqlite3` is installed);
//! - peak memory (max RSS) of both, via `/usr/bin/time` when present;
//! - `sentry pam` as pam_exec runs it, the time it adds to one login (a failed login's
//!   auth call, a login's session call, a local session it ignores) vs. `/bin/true`.
//! - a journald-only host (a journal file of `SENTRY_BENCH_JOURNAL_MB`, 100 by default:
//!   journald caps one file at 128 MiB, and `journal_file` names one; written by
//!   systemd-journal-remote, never this machine's journal): `connect` of a known
//!   address vs. `/bin/true`, and `journalctl` on the same journal (what every such connect
//!   ran before `--connect` left the journal to the scan timer); `setup`'s first read of it.
//!
//! Run with `cargo bench --bench core` (or `bench/run`). Wall-clock figures, so run on an
//! otherwise idle machine; the ratios are what to compare between versions.

use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

mod program;
use program::SENTRY;
const RECORDS: i64 = 1_000_000;

fn main() {
    let dir = tempfile::tempdir().expect("temporary root");
    let root = dir.path();
    println!("sentry core bench ({})", root.display());
    // An empty log: connects past inspect_after scan it (cheaply), never this host's logs.
    std::fs::write(root.join("auth.log"), "").expect("create an empty auth.log");

    // --- connect: the cost tcpd pays on every login attempt ---------------------------
    // Medians of many runs, each next to the median of starting /bin/true in this run.
    let runs = 201;
    let baseline = median(runs, |_| {
        Command::new("/bin/true").status().expect("run /bin/true");
    });
    run_quiet(root, &["allow", "192.0.2.7"]);
    for _ in 0..3 {
        run_quiet(root, &["connect", "198.51.100.1"]); // known: past inspect_after, undecided
    }
    let cases: [(&str, &dyn Fn(u32) -> String); 3] = [
        ("new address", &|i| {
            format!("203.0.{}.{}", i / 250, i % 250 + 1)
        }),
        ("known address", &|_| "198.51.100.1".to_string()),
        ("allowed address", &|_| "192.0.2.7".to_string()),
    ];
    let true_rss = max_rss_kib_of(&["/bin/true"]);
    for (what, address) in cases {
        let took = median(runs, |i| run_quiet(root, &["connect", &address(i)]));
        // The spawn line's spelling, which tcpd runs.
        let ip = address(9_999);
        let rss = max_rss_kib(root, &["--connect", &format!("--ip={ip}")])
            .map(|kib| match true_rss {
                Some(t) => format!(
                    "{:.1} MiB (/bin/true {:.1} MiB, {:.1}x)",
                    kib as f64 / 1024.0,
                    t as f64 / 1024.0,
                    kib as f64 / t as f64
                ),
                None => format!("{:.1} MiB", kib as f64 / 1024.0),
            })
            .unwrap_or_else(|| "n/a".into());
        println!(
            "connect ({what}) median {:>7.3} ms   /bin/true {:>6.3} ms   ratio {:.1}x   peak RSS {rss}",
            ms(took),
            ms(baseline),
            took.as_secs_f64() / baseline.as_secs_f64()
        );
    }
    if let Some(kib) = true_rss {
        println!("/bin/true peak RSS {:.1} MiB", kib as f64 / 1024.0);
    }
    linked_dynamically(root, runs);
    let connect = median(runs, |_| run_quiet(root, &["connect", "192.0.2.7"]));
    journald_only(runs, baseline);

    // --- sentry pam: what pam_exec adds to one login ------------------------------------
    let hook = |kind: &str, service: &str, ip: &str| {
        let status = Command::new(&*SENTRY)
            .arg("pam")
            .env_clear()
            .env("ROOT_DIR", root)
            .env("SENTRY_LOGS", root.join("auth.log"))
            .env("PAM_TYPE", kind)
            .env("PAM_SERVICE", service)
            .env("PAM_USER", "alice")
            .env("PAM_RHOST", ip)
            .stdout(Stdio::null())
            .status()
            .expect("run sentry pam");
        assert!(status.success(), "sentry pam exits 0");
    };
    hook("open_session", "sshd", "192.0.2.50"); // a trusted address, logging in again
    let pam_cases: [(&str, &dyn Fn(u32)); 4] = [
        ("failed login, auth", &|i| {
            hook(
                "auth",
                "sshd",
                &format!("203.1.{}.{}", i / 250, i % 250 + 1),
            )
        }),
        ("login of a trusted address, session", &|_| {
            hook("open_session", "sshd", "192.0.2.50")
        }),
        ("first login of an address, session", &|i| {
            hook(
                "open_session",
                "sshd",
                &format!("203.2.{}.{}", i / 250, i % 250 + 1),
            )
        }),
        ("a local session it ignores (cron)", &|_| {
            hook("open_session", "cron", "")
        }),
    ];
    for (what, call) in pam_cases {
        let took = median(runs, call);
        println!(
            "pam ({what}) median {:>7.3} ms   /bin/true {:>6.3} ms   ratio {:.1}x",
            ms(took),
            ms(baseline),
            took.as_secs_f64() / baseline.as_secs_f64()
        );
    }

    // --- report over a million records ------------------------------------------------
    let started = Instant::now();
    populate(&root.join("sentry.db"), RECORDS);
    println!(
        "populated {RECORDS} records in {:.1} s",
        started.elapsed().as_secs_f64()
    );
    run_quiet(root, &["report"]); // first run: page cache warm, schema current
    let report = per_run(5, || run_quiet(root, &["report"]));
    print!("report, {RECORDS} records   {:>9.1} ms/run", ms(report));
    if have("sqlite3") {
        let db = root.join("sentry.db");
        let bash_way = per_run(5, || {
            for sql in [
                "SELECT COUNT(*) FROM ip_records;",
                "SELECT SUM(seen) FROM ip_records;",
                "SELECT COUNT(*) FROM ip_records WHERE allow > 0;",
                "SELECT COUNT(*) FROM ip_records WHERE block > 0;",
            ] {
                let ok = Command::new("sqlite3")
                    .arg(&db)
                    .arg(sql)
                    .stdout(Stdio::null())
                    .status()
                    .expect("run sqlite3")
                    .success();
                assert!(ok, "sqlite3 failed on {sql}");
            }
        });
        println!(
            "   sentry.sh's 4 sqlite3 queries {:>7.1} ms/run   ratio {:.2}x",
            ms(bash_way),
            report.as_secs_f64() / bash_way.as_secs_f64()
        );
    } else {
        println!("   (baseline skipped: sqlite3 not installed)");
    }
    if let Some(kib) = max_rss_kib(root, &["report"]) {
        println!("report peak memory           {kib:>8} KiB");
    }
    let connect_big = median(101, |_| run_quiet(root, &["connect", "192.0.2.7"]));
    println!(
        "connect (allowed) with {RECORDS} records median {:>7.3} ms   (vs {:.3} ms on a tiny database)",
        ms(connect_big),
        ms(connect)
    );
}

/// The connect of a known address on a host whose only log is the journal, against
/// `/bin/true` and against the `journalctl` each such connect ran before.
fn journald_only(runs: u32, true_took: Duration) {
    let Some(remote) = [
        "/lib/systemd/systemd-journal-remote",
        "/usr/lib/systemd/systemd-journal-remote",
    ]
    .into_iter()
    .find(|p| Path::new(p).exists()) else {
        println!("(journald-only figures skipped: systemd-journal-remote not installed)");
        return;
    };
    let mb: u64 = std::env::var("SENTRY_BENCH_JOURNAL_MB")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(100);
    let dir = tempfile::tempdir().expect("temporary root");
    let root = dir.path();
    let journal = root.join("bench.journal");
    let started = Instant::now();
    write_journal(remote, &journal, mb);
    let size = std::fs::metadata(&journal).map(|m| m.len()).unwrap_or(0);
    println!(
        "journal of {:.0} MB written by systemd-journal-remote in {:.1} s",
        size as f64 / 1e6,
        started.elapsed().as_secs_f64()
    );
    std::fs::write(
        root.join("sentry.toml"),
        format!(
            "logs = []\njournal = true\njournal_file = \"{}\"\n",
            journal.display()
        ),
    )
    .expect("config");
    let systemd = root.join("systemd");
    std::fs::create_dir(&systemd).expect("mkdir");
    let sentry = |args: &[&str]| {
        let status = Command::new(&*SENTRY)
            .args(args)
            .env("ROOT_DIR", root)
            .env("SENTRY_SYSTEMD_DIR", &systemd)
            .stdout(Stdio::null())
            .status()
            .expect("run sentry");
        assert!(status.success(), "sentry {args:?} failed");
    };
    let started = Instant::now();
    sentry(&["setup"]);
    let first_read = started.elapsed();
    for _ in 0..3 {
        sentry(&["connect", "198.51.100.1"]); // known: past inspect_after, undecided
    }
    let took = median(runs, |_| sentry(&["connect", "198.51.100.1"]));
    println!(
        "connect (known address, journald-only, {:.0} MB journal) median {:>7.3} ms   /bin/true {:>6.3} ms   ratio {:.1}x",
        size as f64 / 1e6,
        ms(took),
        ms(true_took),
        took.as_secs_f64() / true_took.as_secs_f64()
    );
    // What every such connect ran before: journalctl after the stored cursor, with the
    // default services' matches.
    let config = sentry::config::Config::load(
        &sentry::config::Overrides {
            root: Some(root.to_path_buf()),
            config: None,
        },
        &|_| None,
    )
    .expect("config");
    let matches = sentry::logs::journal::matches(&|g| config.services.enabled(g));
    let last = Command::new("journalctl")
        .arg(format!("--file={}", journal.display()))
        .args(["-n", "1", "-o", "export", "--no-pager", "-q"])
        .output()
        .expect("run journalctl");
    let cursor = String::from_utf8_lossy(&last.stdout)
        .lines()
        .find_map(|l| l.strip_prefix("__CURSOR=").map(str::to_string))
        .expect("a cursor");
    let journalctl = |after: Option<&str>| {
        let mut cmd = Command::new("journalctl");
        cmd.arg(format!("--file={}", journal.display()))
            .args(["-o", "json", "--no-pager", "-q"]);
        if let Some(c) = after {
            cmd.arg(format!("--after-cursor={c}"));
        }
        cmd.args(&matches)
            .stdout(Stdio::null())
            .status()
            .expect("run journalctl");
    };
    let before = median(runs.min(51), |_| journalctl(Some(&cursor)));
    println!(
        "journalctl --after-cursor on the same journal (each connect's read before) median {:>7.3} ms   ratio to connect {:.1}x",
        ms(before),
        before.as_secs_f64() / took.as_secs_f64()
    );
    let started = Instant::now();
    journalctl(None);
    println!(
        "journal first read: sentry setup {:.2} s   journalctl -o json of the whole journal {:.2} s (neither on a login's path)",
        first_read.as_secs_f64(),
        started.elapsed().as_secs_f64()
    );
}

/// A journal file of about `mb` MB of sshd entries with the trusted fields journald would
/// set: failures from many addresses, some logins.
fn write_journal(remote: &str, journal: &Path, mb: u64) {
    use std::io::Write;
    let mut child = Command::new(remote)
        .arg(format!("--output={}", journal.display()))
        .arg("-")
        .stdin(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("run systemd-journal-remote");
    {
        let mut stdin = std::io::BufWriter::new(child.stdin.take().expect("stdin"));
        // About 275 bytes of journal file per entry (fields, data objects, entry arrays).
        let entries = mb * 1_000_000 / 275;
        for n in 0..entries {
            let ip = format!("10.{}.{}.{}", (n >> 16) & 255, (n >> 8) & 255, n & 255 | 1);
            let message = if n % 50 == 0 {
                format!(
                    "Accepted publickey for alice from {ip} port {} ssh2: ED25519 SHA256:abc",
                    1024 + n % 60000
                )
            } else {
                format!(
                    "Failed password for invalid user admin{} from {ip} port {} ssh2",
                    n % 997,
                    1024 + n % 60000
                )
            };
            write!(
                stdin,
                "__REALTIME_TIMESTAMP={}\n__MONOTONIC_TIMESTAMP={}\n_BOOT_ID=0123456789abcdef0123456789abcdef\n_HOSTNAME=web1\n_TRANSPORT=syslog\nPRIORITY=6\nSYSLOG_FACILITY=4\nSYSLOG_IDENTIFIER=sshd\n_PID={}\n_UID=0\n_GID=0\n_COMM=sshd\n_EXE=/usr/sbin/sshd\n_CMDLINE=sshd: admin [priv]\n_SYSTEMD_UNIT=ssh.service\nMESSAGE={message}\n\n",
                1_795_514_400_000_000u64 + n * 100_000,
                1_000 + n * 100_000,
                1000 + n % 30_000,
            )
            .expect("write export");
        }
    }
    let status = child.wait().expect("systemd-journal-remote");
    assert!(status.success(), "systemd-journal-remote failed");
}

fn run_quiet(root: &Path, args: &[&str]) {
    run_quiet_with(&SENTRY, root, args);
}

fn run_quiet_with(program: &str, root: &Path, args: &[&str]) {
    let status = Command::new(program)
        .args(args)
        .env("ROOT_DIR", root)
        .env("SENTRY_LOGS", root.join("auth.log"))
        .stdout(Stdio::null())
        .status()
        .expect("run sentry");
    assert!(status.success(), "sentry {args:?} failed");
}

/// The known address's connect by the same code linked dynamically (what `cargo build`
/// makes), next to the static release build bench/run measures (`SENTRY_BENCH_BIN`): what
/// the static link saves per connection.
fn linked_dynamically(root: &Path, runs: u32) {
    let dynamic = env!("CARGO_BIN_EXE_sentry");
    if *SENTRY == dynamic {
        println!(
            "(static vs dynamic link skipped: SENTRY_BENCH_BIN is not set; bench/run sets it)"
        );
        return;
    }
    let known = ["connect", "198.51.100.1"];
    let linked = median(runs, |_| run_quiet(root, &known));
    let other = median(runs, |_| run_quiet_with(dynamic, root, &known));
    let rss = |program: &str| {
        max_rss_kib_with(program, root, &["--connect", "--ip=198.51.100.1"])
            .map_or("n/a".into(), |kib| {
                format!("{:.1} MiB", kib as f64 / 1024.0)
            })
    };
    println!(
        "connect (known address) linked statically {:.3} ms, peak RSS {}   dynamically {:.3} ms, peak RSS {}   ratio {:.2}x",
        ms(linked),
        rss(&SENTRY),
        ms(other),
        rss(dynamic),
        other.as_secs_f64() / linked.as_secs_f64()
    );
}

/// The median duration of `runs` calls (`f` gets the run number).
fn median(runs: u32, mut f: impl FnMut(u32)) -> Duration {
    let mut times: Vec<Duration> = (0..runs)
        .map(|i| {
            let started = Instant::now();
            f(i);
            started.elapsed()
        })
        .collect();
    times.sort();
    times[times.len() / 2]
}

fn per_run(runs: u32, mut f: impl FnMut()) -> Duration {
    let started = Instant::now();
    for _ in 0..runs {
        f();
    }
    started.elapsed() / runs
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

fn have(tool: &str) -> bool {
    Command::new("sh")
        .args(["-c", &format!("command -v {tool} >/dev/null")])
        .status()
        .is_ok_and(|s| s.success())
}

/// Peak resident memory of `/bin/true` (the baseline), measured by GNU time.
fn max_rss_kib_of(command: &[&str]) -> Option<u64> {
    let (program, args) = command.split_first()?;
    peak_rss(
        Command::new("/usr/bin/time")
            .args(["-f", "%M", program])
            .args(args),
    )
}

/// Peak resident memory of one sentry run in `root`, measured by GNU time.
fn max_rss_kib(root: &Path, args: &[&str]) -> Option<u64> {
    max_rss_kib_with(&SENTRY, root, args)
}

/// The same for another build of sentry (`program`).
fn max_rss_kib_with(program: &str, root: &Path, args: &[&str]) -> Option<u64> {
    if !Path::new("/usr/bin/time").exists() {
        println!("(memory figures skipped: /usr/bin/time not installed)");
        return None;
    }
    peak_rss(
        Command::new("/usr/bin/time")
            .args(["-f", "%M", program])
            .args(args)
            .env("ROOT_DIR", root)
            .env("SENTRY_LOGS", root.join("auth.log")),
    )
}

/// Runs a `/usr/bin/time -f %M ...` command and reads the figure it prints last.
fn peak_rss(time: &mut Command) -> Option<u64> {
    let out = time.stdout(Stdio::null()).output().ok()?;
    String::from_utf8_lossy(&out.stderr)
        .lines()
        .last()?
        .trim()
        .parse()
        .ok()
}

/// A million records shaped like a busy server's: most seen a few times, some listed.
fn populate(db: &Path, n: i64) {
    let mut conn = rusqlite::Connection::open(db).expect("open db");
    let tx = conn.transaction().expect("begin");
    {
        let mut stmt = tx
            .prepare("INSERT OR REPLACE INTO ip_records (ip, seen, allow, block) VALUES (?1, ?2, ?3, ?4)")
            .expect("prepare");
        for i in 0..n {
            let ip = format!(
                "{}.{}.{}.{}",
                11 + (i >> 24),
                (i >> 16) & 255,
                (i >> 8) & 255,
                i & 255
            );
            let allow = if i % 97 == 0 { 1_700_000_000 } else { 0 };
            let block = if allow == 0 && i % 5 == 0 {
                1_700_000_000 + i
            } else {
                0
            };
            stmt.execute(rusqlite::params![ip, 1 + i % 7, allow, block])
                .expect("insert");
        }
    }
    tx.commit().expect("commit");
}
