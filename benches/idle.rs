//! Resident memory of a log follower sitting idle, side by side in one run:
//! `sentry ingest` fed through a pipe, a running `fail2ban-server` with its sshd jail, and
//! `sshguard`, all watching the same small auth.log. The peers run inside a network
//! namespace of the bench's own, with fail2ban's `dummy` action, so nothing touches this
//! machine's firewall. A peer that is not installed is reported as skipped. Then
//! `sentry ingest`'s memory while a day of gen-authlog traffic (86,400 lines) goes through.
//!
//! Run with `cargo bench --bench idle` (or `bench/run`).

use std::io::Write;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

mod program;
use program::SENTRY;

fn main() {
    let dir = tempfile::tempdir().expect("temporary directory");
    let root = dir.path();
    let log = root.join("auth.log");
    std::fs::write(
        &log,
        "2026-11-24T10:00:00.000000+00:00 web1 sshd[1]: Invalid user admin from 203.0.113.9 port 4242\n",
    )
    .expect("log");

    // The database exists before the follower starts, as `setup` leaves it on a host (a
    // first start would also hold the schema's creation code).
    let created = Command::new(&*SENTRY)
        .arg("expire")
        .env("ROOT_DIR", root)
        .env("SENTRY_LOGS", &log)
        .stdout(Stdio::null())
        .status()
        .is_ok_and(|s| s.success());
    assert!(created, "sentry expire (creating the database) failed");
    // sentry ingest: reads stdin; give it one line, then let it sit.
    let mut sentry = Command::new(&*SENTRY)
        .arg("ingest")
        .env("ROOT_DIR", root)
        .env("SENTRY_LOGS", &log)
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .spawn()
        .expect("start sentry ingest");
    let mut stdin = sentry.stdin.take().expect("stdin");
    writeln!(
        stdin,
        "2026-11-24T10:00:01.000000+00:00 web1 sshd[2]: Invalid user test from 203.0.113.10 port 1"
    )
    .expect("feed");
    std::thread::sleep(Duration::from_secs(2));
    let sentry_kib = rss_kib(sentry.id());
    println!("idle RSS: sentry ingest {}", show(sentry_kib));
    // Then a day of generated traffic (one line a second) through the same follower: its
    // memory must stay flat, whatever the log holds.
    let day = root.join("day.log");
    let generated = Command::new("python3")
        .arg(Path::new(env!("CARGO_MANIFEST_DIR")).join("../shared/bench/gen-authlog"))
        .args(["--lines", "86400", "--span", "86400", "--seed", "2", "-o"])
        .arg(&day)
        .status()
        .is_ok_and(|s| s.success());
    if generated {
        let text = std::fs::read_to_string(&day).expect("day log");
        let mut samples = Vec::new();
        for (n, line) in text.lines().enumerate() {
            writeln!(stdin, "{line}").expect("feed");
            if n % 8_640 == 8_639 {
                stdin.flush().expect("flush");
                std::thread::sleep(Duration::from_millis(200));
                samples.extend(rss_kib(sentry.id()));
            }
        }
        std::thread::sleep(Duration::from_secs(2));
        let after = rss_kib(sentry.id());
        let max = samples.iter().copied().max();
        println!(
            "ingest RSS through a day of traffic (86,400 lines): idle before {}, at most {} while it ran ({} samples), idle after {}",
            show(sentry_kib),
            show(max),
            samples.len(),
            show(after)
        );
    } else {
        println!("(a day of traffic skipped: gen-authlog did not run)");
    }
    drop(stdin);
    let _ = sentry.wait();

    let root_user = Command::new("id")
        .arg("-u")
        .output()
        .is_ok_and(|o| String::from_utf8_lossy(&o.stdout).trim() == "0");
    if !root_user {
        println!("idle RSS: peers skipped (need root for a network namespace)");
        return;
    }
    let ns = format!("sentry-idle-{}", std::process::id());
    let ok = Command::new("ip")
        .args(["netns", "add", &ns])
        .status()
        .is_ok_and(|s| s.success());
    assert!(ok, "ip netns add failed");

    let f2b = if Path::new("/usr/bin/fail2ban-server").exists() {
        start_fail2ban(&ns, root, &log).and_then(|mut child| {
            std::thread::sleep(Duration::from_secs(4));
            let kib = rss_kib(child.id());
            let _ = child.kill();
            let _ = child.wait();
            kib
        })
    } else {
        None
    };
    println!("idle RSS: fail2ban-server {}", show(f2b));

    let sshguard = if Path::new("/usr/sbin/sshguard").exists() {
        Command::new("ip")
            .args(["netns", "exec", &ns, "/usr/sbin/sshguard", "-l"])
            .arg(&log)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .ok()
            .map(|mut child| {
                std::thread::sleep(Duration::from_secs(2));
                // sshguard is a shell script starting several processes: add them all up.
                let kib = tree_rss_kib(child.id());
                kill_tree(child.id());
                let _ = child.kill();
                let _ = child.wait();
                kib
            })
    } else {
        None
    };
    println!(
        "idle RSS: sshguard (all its processes) {}",
        show(sshguard.flatten())
    );
    let _ = Command::new("ip").args(["netns", "del", &ns]).status();
    if let (Some(ours), Some(theirs)) = (sentry_kib, f2b) {
        println!(
            "ratio: fail2ban-server uses {:.0}x the memory of sentry ingest",
            theirs as f64 / ours as f64
        );
    }
}

fn show(kib: Option<u64>) -> String {
    match kib {
        Some(k) => format!("{:.1} MiB", k as f64 / 1024.0),
        None => "skipped (not installed or not running)".into(),
    }
}

/// A private fail2ban configuration: Debian's filters and actions, the sshd jail on our
/// log, polling backend, the `dummy` ban action, database in memory.
fn start_fail2ban(ns: &str, root: &Path, log: &Path) -> Option<Child> {
    let conf = root.join("fail2ban");
    let ok = Command::new("cp")
        .args(["-r", "/etc/fail2ban"])
        .arg(&conf)
        .status()
        .is_ok_and(|s| s.success());
    if !ok {
        return None;
    }
    let _ = std::fs::remove_dir_all(conf.join("jail.d"));
    std::fs::create_dir_all(conf.join("jail.d")).ok()?;
    std::fs::write(
        conf.join("fail2ban.local"),
        format!(
            "[Definition]\nlogtarget = {}\ndbfile = :memory:\n",
            root.join("f2b.log").display()
        ),
    )
    .ok()?;
    std::fs::write(
        conf.join("jail.local"),
        format!(
            "[DEFAULT]\nbanaction = dummy\nbanaction_allports = dummy\nbackend = polling\n[sshd]\nenabled = true\nlogpath = {}\n",
            log.display()
        ),
    )
    .ok()?;
    Command::new("ip")
        .args([
            "netns",
            "exec",
            ns,
            "/usr/bin/fail2ban-server",
            "-f",
            "-x",
            "-c",
        ])
        .arg(&conf)
        .arg("-s")
        .arg(root.join("f2b.sock"))
        .arg("-p")
        .arg(root.join("f2b.pid"))
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .ok()
}

fn rss_kib(pid: u32) -> Option<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
}

fn children(pid: u32) -> Vec<u32> {
    let mut out = Vec::new();
    if let Ok(entries) = std::fs::read_dir("/proc") {
        for entry in entries.flatten() {
            let Ok(child) = entry.file_name().to_string_lossy().parse::<u32>() else {
                continue;
            };
            let stat = std::fs::read_to_string(format!("/proc/{child}/stat")).unwrap_or_default();
            // The parent pid is the 4th field, after the parenthesised command name.
            let ppid = stat
                .rsplit_once(") ")
                .and_then(|(_, rest)| rest.split(' ').nth(1)?.parse::<u32>().ok());
            if ppid == Some(pid) {
                out.push(child);
                out.extend(children(child));
            }
        }
    }
    out
}

fn tree_rss_kib(pid: u32) -> Option<u64> {
    let mut total = rss_kib(pid)?;
    for child in children(pid) {
        total += rss_kib(child).unwrap_or(0);
    }
    Some(total)
}

fn kill_tree(pid: u32) {
    for child in children(pid) {
        let _ = Command::new("kill")
            .arg("-9")
            .arg(child.to_string())
            .status();
    }
}
