//! Figures: what the tcpwrappers deny file costs every connection. tcpd (libwrap, inside
//! sshd) reads the whole file that hosts.allow's `sshd : DENY_FILE : deny` names for every
//! connection of an address it does not list — every login of a legitimate user. Here the
//! real `tcpdmatch` (Debian package tcpd, the same libwrap matching) runs against deny files
//! of 1,000, 10,000 and 100,000 addresses written by sentry itself (`import --list`), each
//! next to the same run against an empty deny file: the median time per run, what the
//! file adds, and the ratio. `check`'s `DENY_FILE_WARN_LINES` comes from these figures.
//!
//! Run with `cargo bench --bench tcpd` (or `bench/run`). `SENTRY_BENCH_TCPD_LINES`
//! (comma-separated sizes) and `SENTRY_BENCH_TCPD_RUNS` make a short run.

use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

mod program;
use program::SENTRY;
/// An address in no deny file here: tcpd reads every line before it lets it in.
const CLIENT: &str = "192.0.2.77";

fn main() {
    let Some(tcpdmatch) = ["/usr/sbin/tcpdmatch", "/usr/bin/tcpdmatch"]
        .into_iter()
        .find(|p| Path::new(p).exists())
    else {
        println!("(tcpd bench skipped: tcpdmatch is not installed; Debian package tcpd)");
        return;
    };
    let sizes: Vec<u32> = std::env::var("SENTRY_BENCH_TCPD_LINES")
        .ok()
        .map(|v| v.split(',').filter_map(|n| n.trim().parse().ok()).collect())
        .unwrap_or_else(|| vec![1_000, 10_000, 100_000]);
    let runs: u32 = std::env::var("SENTRY_BENCH_TCPD_RUNS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(51);
    let dir = tempfile::tempdir().expect("temporary directory");
    println!(
        "sentry tcpd bench ({}, {runs} runs each)",
        dir.path().display()
    );

    let empty = Tcpd::new(dir.path(), 0);
    // Warm the page cache and the loader before anything is timed.
    empty.access(tcpdmatch);
    for lines in sizes {
        let full = Tcpd::new(dir.path(), lines);
        assert_eq!(
            full.access(tcpdmatch),
            "granted",
            "{CLIENT} is in no deny file"
        );
        assert_eq!(
            full.access_of(tcpdmatch, &address(lines - 1)),
            "denied",
            "the deny file's last address is refused"
        );
        // Interleaved, so that a busy moment of the machine costs both alike.
        let (mut with, mut without) = (Vec::new(), Vec::new());
        for _ in 0..runs {
            with.push(time(|| full.access(tcpdmatch)));
            without.push(time(|| empty.access(tcpdmatch)));
        }
        let (with, without) = (median(with), median(without));
        let added = with.saturating_sub(without);
        println!(
            "tcpd per connection, deny file {lines:>7} lines  median {:>8.3} ms   empty deny file {:>6.3} ms   \
             adds {:>7.3} ms ({:.2} us/line)   ratio {:.1}x",
            ms(with),
            ms(without),
            ms(added),
            added.as_secs_f64() * 1e6 / f64::from(lines.max(1)),
            with.as_secs_f64() / without.as_secs_f64()
        );
    }
}

/// A directory standing in for /etc (hosts.allow with sentry's two lines, an empty
/// hosts.deny) beside a sentry root whose deny file blocks `lines` addresses.
struct Tcpd {
    etc: std::path::PathBuf,
}

impl Tcpd {
    fn new(base: &Path, lines: u32) -> Tcpd {
        let root = base.join(format!("root-{lines}"));
        let etc = base.join(format!("etc-{lines}"));
        std::fs::create_dir_all(&etc).expect("create etc");
        let list = base.join(format!("list-{lines}"));
        let text: String = (0..lines).map(|i| address(i) + "\n").collect();
        std::fs::write(&list, text).expect("write the address list");
        let log = base.join("auth.log");
        std::fs::write(&log, "").expect("write an empty log");
        let sentry = |args: &[&str]| {
            let out = Command::new(&*SENTRY)
                .arg("--root")
                .arg(&root)
                .args(args)
                .env_remove("ROOT_DIR")
                .env("SENTRY_LOGS", &log)
                .stdin(Stdio::null())
                .output()
                .expect("run sentry");
            assert!(
                out.status.success(),
                "sentry {args:?}: {}",
                String::from_utf8_lossy(&out.stderr)
            );
        };
        let started = Instant::now();
        sentry(&["import", "--list", list.to_str().expect("UTF-8 path")]);
        // An empty import writes nothing: `sync` creates the (empty) deny file.
        sentry(&["sync"]);
        let deny_file = root.join("hosts.deny");
        let written = std::fs::read_to_string(&deny_file).expect("read the deny file");
        assert_eq!(
            written.lines().filter(|l| l.starts_with("ALL: ")).count(),
            lines as usize,
            "one line per address"
        );
        if lines > 0 {
            println!(
                "deny file of {lines} addresses written by sentry in {:.1} s",
                started.elapsed().as_secs_f64()
            );
        }
        std::fs::write(
            etc.join("hosts.allow"),
            format!(
                "sshd : {} : deny\nsshd : ALL : allow\n",
                deny_file.display()
            ),
        )
        .expect("write hosts.allow");
        std::fs::write(etc.join("hosts.deny"), "").expect("write hosts.deny");
        Tcpd { etc }
    }

    fn access(&self, tcpdmatch: &str) -> String {
        self.access_of(tcpdmatch, CLIENT)
    }

    /// tcpdmatch's verdict for an sshd connection from `client`: "granted" or "denied".
    fn access_of(&self, tcpdmatch: &str, client: &str) -> String {
        let out = Command::new(tcpdmatch)
            .args(["-d", "sshd", client])
            .current_dir(&self.etc)
            .stdin(Stdio::null())
            .output()
            .expect("run tcpdmatch");
        String::from_utf8_lossy(&out.stdout)
            .lines()
            .find_map(|l| l.strip_prefix("access:"))
            .map(|v| v.trim().to_string())
            .unwrap_or_else(|| panic!("tcpdmatch said no `access:` for {client}"))
    }
}

/// The `i`-th blocked address: 10.0.0.1 onward.
fn address(i: u32) -> String {
    let n = i + 1;
    format!("10.{}.{}.{}", n >> 16 & 255, n >> 8 & 255, n & 255)
}

fn time(f: impl FnOnce() -> String) -> Duration {
    let started = Instant::now();
    f();
    started.elapsed()
}

fn median(mut samples: Vec<Duration>) -> Duration {
    samples.sort();
    samples[samples.len() / 2]
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}
