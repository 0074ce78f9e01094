//! In-process parser throughput with criterion: the per-line cost of the syslog header,
//! the sshd parser, and address validation, on lines written by ../shared/bench/gen-authlog
//! (or a built-in sample when the generator is not there). The side-by-side figures against
//! fail2ban-regex are in benches/logs.rs; this bench tracks the parser itself over time.

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use sentry::ip::ClientIp;
use sentry::logs::parse::{ParseOptions, Parser};

const NOW: i64 = 1_795_608_000;

fn sample_lines() -> Vec<String> {
    let generator =
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../shared/bench/gen-authlog");
    if let Ok(out) = std::process::Command::new("python3")
        .arg(&generator)
        .args(["--lines", "20000", "--seed", "5"])
        .output()
        && out.status.success()
    {
        return String::from_utf8_lossy(&out.stdout)
            .lines()
            .map(str::to_owned)
            .collect();
    }
    [
        "Nov 24 10:00:00 web1 sshd[1]: Invalid user admin from 203.0.113.9 port 4242",
        "Nov 24 10:00:01 web1 sshd[2]: Failed password for root from 198.51.100.7 port 22 ssh2",
        "Nov 24 10:00:02 web1 sshd[3]: Accepted publickey for bob from 192.0.2.5 port 5 ssh2",
        "Nov 24 10:00:03 web1 CRON[4]: pam_unix(cron:session): session opened for user root",
    ]
    .iter()
    .cycle()
    .take(20_000)
    .map(|s| s.to_string())
    .collect()
}

fn parsers(c: &mut Criterion) {
    let lines = sample_lines();
    let bytes: usize = lines.iter().map(|l| l.len() + 1).sum();
    let mut group = c.benchmark_group("parse");
    group.throughput(Throughput::Bytes(bytes as u64));
    group.bench_function("parse_line (all services)", |b| {
        b.iter(|| {
            let mut parser = Parser::new(ParseOptions::default(), NOW);
            lines
                .iter()
                .filter(|l| parser.parse_line(l).is_some())
                .count()
        })
    });
    group.finish();

    let addresses = [
        "203.0.113.9",
        "::ffff:192.0.2.7",
        "2001:db8::1",
        "fe80::1%eth0",
        "010.1.1.1",
    ];
    c.bench_function("ClientIp::parse_opt", |b| {
        b.iter(|| {
            addresses
                .iter()
                .filter(|a| ClientIp::parse_opt(a).is_some())
                .count()
        })
    });
}

criterion_group!(benches, parsers);
criterion_main!(benches);
