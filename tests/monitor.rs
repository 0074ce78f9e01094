//! `sentry check` (Nagios plugin: the right exit code for each broken set-up), `sentry
//! metrics` (valid Prometheus text), the man page and shell completions.

mod common;

use common::Root;

/// A root set up as README says: setup with hosts.allow, the binary installed at $ROOT/sentry.
fn installed() -> (Root, std::path::PathBuf) {
    let root = Root::new();
    let hosts_allow = root.path().join("hosts.allow");
    root.ok(&[
        "setup",
        "--write-hosts-allow",
        "--hosts-allow",
        hosts_allow.to_str().expect("utf-8"),
    ]);
    std::fs::copy(env!("CARGO_BIN_EXE_sentry"), root.path().join("sentry"))
        .expect("install the binary");
    (root, hosts_allow)
}

fn check(root: &Root, hosts_allow: &std::path::Path) -> (i32, String) {
    check_on(root, hosts_allow, &[])
}

/// `check` with this machine's places replaced: `SENTRY_SSHD` (none unless given), an
/// empty systemd directory and no crontab unless given.
fn check_on(root: &Root, hosts_allow: &std::path::Path, env: &[(&str, &str)]) -> (i32, String) {
    let out = system(root, "check", hosts_allow, env);
    let line = String::from_utf8_lossy(&out.stdout).into_owned();
    assert_eq!(line.lines().count(), 1, "one status line: {line:?}");
    (out.status.code().expect("exit code"), line)
}

fn system(
    root: &Root,
    command: &str,
    hosts_allow: &std::path::Path,
    env: &[(&str, &str)],
) -> std::process::Output {
    let empty = root.path().join("empty");
    std::fs::create_dir_all(&empty).expect("an empty directory");
    let empty = empty.to_str().expect("utf-8").to_string();
    let mut cmd = root.command(&[
        command,
        "--hosts-allow",
        hosts_allow.to_str().expect("utf-8"),
    ]);
    cmd.env("SENTRY_SSHD", "/nonexistent/sshd")
        .env("SENTRY_SYSTEMD_DIR", &empty)
        .env("SENTRY_CRONTABS", &empty)
        .env("SENTRY_RSYSLOG_DIR", &empty);
    for (k, v) in env {
        cmd.env(k, v);
    }
    cmd.output().expect("run sentry")
}

/// hosts.allow judged by tcpd's rules: the two lines present is not enough, their order
/// and what stands above them decide.
#[test]
fn check_judges_hosts_allow_by_tcpds_first_match() {
    let (root, hosts_allow) = installed();
    let deny = format!("sshd : {} : deny", root.deny_file().display());
    let spawn = format!(
        "sshd : ALL : spawn {} --root {} --connect --ip=%a : allow",
        root.path().join("sentry").display(),
        root.path().display()
    );
    let other_root = "sshd : ALL : spawn /srv/other/sentry --connect --ip=%a : allow";
    for (what, text, needle) in [
        (
            "spawn line first",
            format!("{spawn}\n{deny}\n"),
            "does not refuse sshd",
        ),
        (
            "a shadowing rule above",
            format!("ALL : ALL : allow\n{deny}\n{spawn}\n"),
            "does not refuse sshd",
        ),
        (
            "another root's sentry",
            format!("{deny}\n{other_root}\n"),
            "never runs this sentry",
        ),
        (
            "sentry.pl",
            format!("{deny}\nsshd : ALL : spawn /var/db/sentry/sentry.pl -c %a : allow\n"),
            "never runs this sentry",
        ),
        (
            "an allow rule above the spawn line",
            format!("{deny}\nsshd : 192.0.2.0/24 : allow\n{spawn}\n"),
            "never runs this sentry",
        ),
    ] {
        std::fs::write(&hosts_allow, &text).expect("rewrite");
        let (code, line) = check(&root, &hosts_allow);
        assert_eq!(code, 2, "{what}: {line}");
        assert!(line.contains(needle), "{what}: {line}");
    }
    std::fs::write(&hosts_allow, format!("{deny}\n{spawn}\n")).expect("rewrite");
    let (code, line) = check(&root, &hosts_allow);
    assert_eq!(code, 0, "{line}");
    // The binary the spawn line runs is gone.
    std::fs::remove_file(root.path().join("sentry")).expect("remove");
    let (code, line) = check(&root, &hosts_allow);
    assert_eq!(code, 2, "{line}");
    assert!(line.contains("missing or not executable"), "{line}");
}

/// An sshd without libwrap ignores hosts.allow: with nothing else running sentry, sentry
/// protects nothing (CRITICAL); with a scan timer but only the deny file, blocks do not
/// stop sshd (WARNING). tcpd itself stands in for a libwrap sshd, `true` for one without.
#[test]
fn check_finds_an_sshd_that_ignores_hosts_allow() {
    let (root, hosts_allow) = installed();
    // Not `command -v true`: that is the shell's builtin.
    let without = ["/usr/bin/true", "/bin/true"]
        .into_iter()
        .find(|p| std::path::Path::new(p).is_file())
        .expect("a true binary")
        .to_string();
    let (code, line) = check_on(&root, &hosts_allow, &[("SENTRY_SSHD", &without)]);
    assert_eq!(code, 2, "{line}");
    assert!(
        line.contains("not linked with libwrap") && line.contains("protects nothing"),
        "{line}"
    );

    let cron = root.path().join("crontab");
    std::fs::write(&cron, "*/5 * * * * root /var/db/sentry/sentry scan\n").expect("crontab");
    let (code, line) = check_on(
        &root,
        &hosts_allow,
        &[
            ("SENTRY_SSHD", &without),
            ("SENTRY_CRONTABS", cron.to_str().expect("utf-8")),
        ],
    );
    assert_eq!(code, 1, "{line}");
    assert!(line.contains("do not stop it"), "{line}");

    if common::require("tcpd") {
        let with = common::which("tcpd");
        let (code, line) = check_on(&root, &hosts_allow, &[("SENTRY_SSHD", &with)]);
        assert_eq!(code, 0, "{line}");
    }
}

#[test]
fn check_warns_about_a_missing_log_file_and_doctor_says_what_to_do() {
    let (root, hosts_allow) = installed();
    let missing = root.path().join("no-such.log");
    let (code, line) = check_on(
        &root,
        &hosts_allow,
        &[("SENTRY_LOGS", missing.to_str().expect("utf-8"))],
    );
    assert_eq!(code, 1, "{line}");
    assert!(line.contains("does not exist"), "{line}");

    std::fs::write(
        &hosts_allow,
        format!(
            "sshd : ALL : spawn {} --connect --ip=%a : allow\nsshd : {} : deny\n",
            root.path().join("sentry").display(),
            root.deny_file().display()
        ),
    )
    .expect("rewrite");
    let out = system(&root, "doctor", &hosts_allow, &[]);
    let text = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(2), "{text}");
    assert!(text.starts_with("CRITICAL: "), "{text}");
    assert!(
        text.contains("  fix: run `") && text.contains("setup --write-hosts-allow"),
        "{text}"
    );
}

#[test]
fn check_is_ok_on_a_sound_installation() {
    let (root, hosts_allow) = installed();
    root.ok(&["block", "203.0.113.9"]);
    let (code, line) = check(&root, &hosts_allow);
    assert_eq!(code, 0, "{line}");
    assert!(line.starts_with("SENTRY OK - 1 blocked"), "{line}");
    assert!(
        line.contains("| records=1 allowed=0 blocked=1"),
        "perfdata: {line}"
    );
}

/// The PAM hook judged where it stands in the stack: pam-auth-update's stack is fine, the
/// line pasted without raising pam_unix's jump is CRITICAL (every login would land on
/// pam_deny), `evidence = ["pam"]` without any hook a warning; `setup --pam` says the same.
#[test]
fn check_judges_the_pam_hooks_order() {
    let (root, hosts_allow) = installed();
    let pam = root.path().join("pam.d");
    std::fs::create_dir_all(&pam).expect("pam.d");
    let pam_dir = pam.to_str().expect("utf-8").to_string();
    let hook = "pam_exec.so quiet /usr/sbin/sentry pam";
    let write = |auth_jump: u32| {
        std::fs::write(
            pam.join("common-auth"),
            format!(
                "auth\t[success={auth_jump} default=ignore]\tpam_unix.so nullok\n\
                 auth\t[default=ignore]\t{hook}\nauth\trequisite\tpam_deny.so\n\
                 auth\trequired\tpam_permit.so\n"
            ),
        )
        .expect("common-auth");
        std::fs::write(
            pam.join("common-session"),
            format!("session\trequired\tpam_unix.so\nsession\toptional\t{hook}\n"),
        )
        .expect("common-session");
    };
    write(2);
    let (code, line) = check_on(&root, &hosts_allow, &[("SENTRY_PAM_DIR", &pam_dir)]);
    assert_eq!(code, 0, "{line}");
    write(1);
    let (code, line) = check_on(&root, &hosts_allow, &[("SENTRY_PAM_DIR", &pam_dir)]);
    assert_eq!(code, 2, "{line}");
    assert!(
        line.contains("common-auth: pam_unix.so's success=1"),
        "{line}"
    );
    let out = system(
        &root,
        "doctor",
        &hosts_allow,
        &[("SENTRY_PAM_DIR", &pam_dir)],
    );
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains("fix: sentry setup --pam"), "{text}");
    let setup = root
        .command(&["setup", "--pam"])
        .env("SENTRY_PAM_DIR", &pam_dir)
        .output()
        .expect("setup --pam");
    let text = String::from_utf8_lossy(&setup.stdout);
    assert!(
        text.contains("CRITICAL: common-auth: pam_unix.so's success=1"),
        "{text}"
    );
    assert!(text.contains("pam_exec.so quiet"), "{text}");
    std::fs::remove_file(pam.join("common-auth")).expect("rm");
    std::fs::remove_file(pam.join("common-session")).expect("rm");
    std::fs::write(root.path().join("sentry.toml"), "evidence = [\"pam\"]\n").expect("config");
    let (code, line) = check_on(&root, &hosts_allow, &[("SENTRY_PAM_DIR", &pam_dir)]);
    assert_eq!(code, 1, "{line}");
    assert!(line.contains("no PAM stack runs sentry pam"), "{line}");
}

/// tcpd reads the whole deny file on every connection: past `DENY_FILE_WARN_LINES` (5,000,
/// from benches/tcpd.rs) `check` warns and `doctor` says to block in the kernel instead.
#[test]
fn check_warns_when_the_deny_file_grows_past_what_tcpd_reads_cheaply() {
    let (root, hosts_allow) = installed();
    let list = root.path().join("list");
    let addresses: String = (1..=5_000u32)
        .map(|n| format!("10.0.{}.{}\n", n >> 8, n & 255))
        .collect();
    std::fs::write(&list, addresses).expect("write the list");
    root.ok(&["import", "--list", list.to_str().expect("utf-8")]);
    root.ok(&["scan"]);
    let (code, line) = check(&root, &hosts_allow);
    assert_eq!(code, 0, "5,000 lines are fine: {line}");

    root.ok(&["block", "203.0.113.9"]);
    let (code, line) = check(&root, &hosts_allow);
    assert_eq!(code, 1, "{line}");
    assert!(
        line.contains(&format!(
            "the deny file {} has 5001 lines",
            root.deny_file().display()
        )),
        "{line}"
    );
    let out = system(&root, "doctor", &hosts_allow, &[]);
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        text.contains("WARNING: the deny file ")
            && text.contains("  fix: block in the kernel instead: `backends = [\"nftables\"]`"),
        "{text}"
    );
}

#[test]
fn check_finds_each_broken_set_up() {
    // hosts.allow without sentry's lines: CRITICAL.
    let (root, hosts_allow) = installed();
    std::fs::write(&hosts_allow, "ALL : ALL : allow\n").expect("rewrite");
    let (code, line) = check(&root, &hosts_allow);
    assert_eq!(code, 2, "{line}");
    assert!(line.contains("does not refuse"), "{line}");

    // The binary hosts.allow spawns is missing: CRITICAL.
    let (root, hosts_allow) = installed();
    std::fs::remove_file(root.path().join("sentry")).expect("remove binary");
    let (code, line) = check(&root, &hosts_allow);
    assert_eq!(code, 2, "{line}");
    assert!(line.contains("missing or not executable"), "{line}");

    // The deny file lost a blocked address: WARNING, with what to do.
    let (root, hosts_allow) = installed();
    root.ok(&["block", "203.0.113.9"]);
    std::fs::write(root.deny_file(), "").expect("empty deny file");
    let (code, line) = check(&root, &hosts_allow);
    assert_eq!(code, 1, "{line}");
    assert!(
        line.contains("tcpwrappers differs") && line.contains("sentry sync"),
        "{line}"
    );
    root.ok(&["sync"]);
    assert_eq!(check(&root, &hosts_allow).0, 0);

    // No new log line was read for two days: WARNING.
    let (root, hosts_allow) = installed();
    let conn = rusqlite::Connection::open(root.db()).expect("open");
    conn.execute("UPDATE log_cursors SET updated = updated - 2 * 86400", [])
        .expect("age");
    drop(conn);
    let (code, line) = check(&root, &hosts_allow);
    assert_eq!(code, 1, "{line}");
    assert!(line.contains("no new log line read for 48 h"), "{line}");

    // A damaged database: CRITICAL. (Its WAL goes too: it would still hold good pages.)
    let (root, hosts_allow) = installed();
    for suffix in ["-wal", "-shm"] {
        let _ = std::fs::remove_file(format!("{}{suffix}", root.db().display()));
    }
    std::fs::write(
        root.db(),
        b"not a database at all, just text that is long enough",
    )
    .expect("damage");
    let (code, line) = check(&root, &hosts_allow);
    assert_eq!(code, 2, "{line}");

    // No database at all: CRITICAL, and check creates nothing.
    let root = Root::new();
    let (code, line) = check(&root, &root.path().join("hosts.allow"));
    assert_eq!(code, 2, "{line}");
    assert!(line.contains("no database"), "{line}");
    assert!(!root.db().exists());
}

/// Parses Prometheus text with the official client library's parser (Debian's
/// python3-prometheus-client, which `tests/install-tools` installs): every sample as `name{labels}` →
/// value, labels in the order written. Panics on text the parser refuses; None (skipped,
/// visibly) where the library is missing outside CI.
fn parse_with_prometheus_client(text: &str) -> Option<std::collections::BTreeMap<String, f64>> {
    /// Debian's interpreter: the one that sees Debian's python3-prometheus-client.
    const DEBIAN_PYTHON: &str = "/usr/bin/python3";
    const PARSER: &str = r#"
import sys
from prometheus_client.parser import text_string_to_metric_families
for family in text_string_to_metric_families(sys.stdin.read()):
    assert family.name.startswith("sentry_"), family.name
    assert family.documentation, "no HELP for " + family.name
    assert family.type in ("counter", "gauge"), family.type
    for s in family.samples:
        labels = ",".join('%s="%s"' % kv for kv in s.labels.items())
        print("%s%s %r" % (s.name, "{%s}" % labels if labels else "", s.value))
"#;
    use std::io::Write;
    if !common::have_python_module("prometheus_client") {
        common::skip("parsing metrics needs Debian's python3-prometheus-client");
        return None;
    }
    let mut child = std::process::Command::new(DEBIAN_PYTHON)
        .args(["-c", PARSER])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("python3");
    child
        .stdin
        .take()
        .expect("stdin")
        .write_all(text.as_bytes())
        .expect("write metrics");
    let out = child.wait_with_output().expect("parser");
    assert!(
        out.status.success(),
        "the Prometheus parser refused the metrics: {}\n{text}",
        String::from_utf8_lossy(&out.stderr)
    );
    let samples = String::from_utf8(out.stdout)
        .expect("utf-8")
        .lines()
        .map(|line| {
            let (series, value) = line.rsplit_once(' ').expect("series and value");
            (series.to_string(), value.parse().expect("a number"))
        })
        .collect();
    Some(samples)
}

#[test]
fn metrics_are_valid_prometheus_text() {
    let (root, _) = installed();
    std::fs::write(
        root.auth_log(),
        "2026-11-24T10:00:00.000000+00:00 web1 sshd[1]: Invalid user a from 203.0.113.7 port 1\n\
         2026-11-24T10:00:01.000000+00:00 web1 sshd[2]: Invalid user b from 203.0.113.7 port 1\n",
    )
    .expect("log");
    root.ok(&["scan"]);
    root.ok(&["allow", "192.0.2.1"]);
    let text = root.ok(&["metrics"]);
    let Some(samples) = parse_with_prometheus_client(&text) else {
        return;
    };
    assert_eq!(samples.get("sentry_blocked"), Some(&1.0), "{text}");
    assert_eq!(samples.get("sentry_allowed"), Some(&1.0), "{text}");
    assert_eq!(samples.get("sentry_records"), Some(&2.0), "{text}");
    assert_eq!(
        samples.get("sentry_evidence{service=\"sshd\",kind=\"naughty\"}"),
        Some(&2.0),
        "{text}"
    );
    assert_eq!(
        samples.get("sentry_backend_out_of_sync{backend=\"tcpwrappers\"}"),
        Some(&0.0),
        "{text}"
    );
    assert!(
        samples.contains_key("sentry_last_scan_timestamp_seconds"),
        "{text}"
    );
}

#[test]
fn man_page_and_completions_come_from_the_command_line_definition() {
    let root = Root::new();
    let man = root.ok(&["manpage"]);
    assert!(
        man.starts_with(".ie") || man.contains(".TH sentry"),
        "roff: {}",
        &man[..man.len().min(200)]
    );
    for word in ["connect", "report", "sync", "setup", "Exit codes"] {
        assert!(man.contains(word), "the man page mentions {word}");
    }
    if common::require("man") {
        let page = root.path().join("sentry.8");
        std::fs::write(&page, &man).expect("write");
        let out = std::process::Command::new("man")
            .args(["-l", "-P", "cat"])
            .arg(&page)
            .env("MANWIDTH", "80")
            .output()
            .expect("run man");
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        assert!(String::from_utf8_lossy(&out.stdout).contains("--connect"));
    }
    let bash = root.ok(&["completions", "bash"]);
    let script = root.path().join("sentry.bash");
    std::fs::write(&script, bash).expect("write");
    let out = std::process::Command::new("bash")
        .arg("-c")
        .arg(format!("source {} && complete -p sentry", script.display()))
        .output()
        .expect("run bash");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(String::from_utf8_lossy(&out.stdout).contains("sentry"));
    for shell in ["zsh", "fish"] {
        assert!(!root.ok(&["completions", shell]).is_empty(), "{shell}");
    }
}

#[test]
fn report_top_shows_who_knocks_most_and_what_was_decided_per_day() {
    let root = Root::new();
    // A new database: every section says it is empty rather than looking cut off.
    root.ok(&["setup"]);
    let empty = root.ok(&["report", "--top", "2"]);
    assert_eq!(empty.matches("(none)").count(), 4, "{empty}");
    // Connections first (their scans find an empty log), then the log, then one scan.
    for _ in 0..4 {
        root.ok(&["connect", "192.0.2.50"]);
    }
    std::fs::write(
        root.auth_log(),
        "2026-11-24T10:00:00.000000+00:00 web1 sshd[1]: Invalid user a from 203.0.113.7 port 1\n\
         2026-11-24T10:00:01.000000+00:00 web1 sshd[2]: Invalid user b from 203.0.113.7 port 1\n\
         2026-11-24T10:00:02.000000+00:00 web1 sshd[3]: Invalid user c from 203.0.113.8 port 1\n",
    )
    .expect("log");
    root.ok(&["scan"]);
    root.ok(&["allow", "192.0.2.50"]);
    let text = root.ok(&["report", "--top", "2"]);
    let after = |title: &str| {
        text.split(title)
            .nth(1)
            .unwrap_or_else(|| panic!("no {title} section:\n{text}"))
            .lines()
            .nth(1)
            .unwrap_or_default()
            .to_string()
    };
    assert_eq!(
        after("most connections")
            .split_whitespace()
            .collect::<Vec<_>>(),
        ["4", "192.0.2.50"]
    );
    assert_eq!(
        after("most naughty attempts")
            .split_whitespace()
            .collect::<Vec<_>>(),
        ["2", "203.0.113.7"]
    );
    assert_eq!(
        after("evidence by service")
            .split_whitespace()
            .collect::<Vec<_>>(),
        ["3", "sshd", "naughty"]
    );
    let today = after("per day, last 30 days");
    let columns: Vec<&str> = today.split_whitespace().collect();
    assert_eq!(
        columns[1..3],
        ["1", "2"],
        "one allowed, two blocked today: {today:?}"
    );
    let bar = columns[3];
    assert_eq!(
        bar.matches('+').count(),
        16,
        "1 of 3 in 50 columns, rounded down: {today:?}"
    );
    assert_eq!(
        bar.matches('#').count(),
        33,
        "two thirds blocked: {today:?}"
    );

    let json: serde_json::Value =
        serde_json::from_str(&root.ok(&["report", "--json", "--top", "1"])).expect("json");
    assert_eq!(json["overview"]["most_naughty"][0][0], "203.0.113.7");
    assert_eq!(json["overview"]["listed_per_day"][0][2], 2);

    // The per-day history comes from the decisions log: a delisted block still counts.
    root.ok(&["delist", "203.0.113.8"]);
    let json: serde_json::Value =
        serde_json::from_str(&root.ok(&["report", "--json", "--top", "1"])).expect("json");
    assert_eq!(json["overview"]["listed_per_day"][0][2], 2, "{json}");
    assert_eq!(json["blocked"], 1, "{json}");
}

/// The long options `sentry ARGS --help` lists.
fn long_options(root: &Root, args: &[&str]) -> Vec<String> {
    let mut argv = args.to_vec();
    argv.push("--help");
    let help = root.ok(&argv);
    let mut found: Vec<String> = help
        .split(|c: char| !(c.is_ascii_alphanumeric() || c == '-'))
        .filter(|w| w.starts_with("--") && w.len() > 2)
        .map(str::to_string)
        .collect();
    found.sort();
    found.dedup();
    found
}

#[test]
fn the_man_page_documents_every_command_and_refers_only_to_shipped_pages() {
    let root = Root::new();
    let man = root.ok(&["manpage"]);
    let text = man.replace("\\-", "-");
    for section in [
        ".SH COMMANDS",
        ".SH CONFIGURATION",
        ".SH ENVIRONMENT",
        ".SH FILES",
        ".SH \"EXIT STATUS\"",
    ] {
        assert!(man.contains(section), "no {section}");
    }
    for command in [
        "connect",
        "allow",
        "block",
        "delist",
        "report",
        "parse",
        "scan",
        "ingest",
        "sync",
        "expire",
        "check",
        "metrics",
        "update",
        "manpage",
        "completions",
        "dump",
        "import",
        "setup",
    ] {
        assert!(
            text.contains(&format!(".SS \"sentry {command}")),
            "no subsection for {command}"
        );
        for option in long_options(&root, &[command]) {
            assert!(
                text.contains(&option),
                "{command} {option} is not in the man page"
            );
        }
    }
    for variable in [
        "ROOT_DIR",
        "SENTRY_LOGS",
        "TCPREMOTEIP",
        "EXPIRE_BLOCK_DAYS",
    ] {
        assert!(text.contains(variable), "{variable}");
    }
    // Every page it names is one that is installed with sentry or the packages it
    // recommends, or with every Debian system (pam_exec: libpam-modules, priority
    // required): no sentry-connect(8) and the like.
    let shipped = ["hosts_access(5)", "tcpd(8)", "pam_exec(8)"];
    let plain = text
        .replace("\\fB", "")
        .replace("\\fR", "")
        .replace(".BR ", "");
    for (at, _) in plain.match_indices('(') {
        let digit = plain[at + 1..]
            .chars()
            .next()
            .is_some_and(|c| c.is_ascii_digit());
        let closes = plain[at..].chars().nth(2) == Some(')');
        if !(digit && closes) {
            continue;
        }
        let start = plain[..at]
            .rfind(|c: char| !(c.is_ascii_alphanumeric() || "_-.".contains(c)))
            .map_or(0, |p| p + 1);
        let page = format!("{}{}", plain[start..at].trim(), &plain[at..at + 3]);
        assert!(
            page.starts_with('(') || shipped.contains(&page.as_str()),
            "refers to {page}, which is not shipped"
        );
    }
}

/// A daemon that runs but says nothing sentry understands for a week (a new log format, a
/// log sentry does not read): WARNING, once sentry has been reading for that long.
#[test]
fn check_warns_about_a_running_daemon_that_gives_no_event_for_a_week() {
    let (root, hosts_allow) = installed();
    // A /proc with one process, sshd.
    let proc_dir = root.path().join("proc");
    std::fs::create_dir_all(proc_dir.join("4242")).expect("mkdir");
    std::fs::write(proc_dir.join("4242/comm"), "sshd\n").expect("comm");
    let proc_dir = proc_dir.to_str().expect("utf-8").to_string();
    let env = [("SENTRY_PROC", proc_dir.as_str())];
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .expect("clock")
        .as_secs() as i64;

    // Reading for a day only: too early to tell.
    let (_, line) = check_on(&root, &hosts_allow, &env);
    assert!(!line.contains("no event from it"), "{line}");

    // Reading for eight days, never an sshd event: WARNING, and doctor says what to do.
    let conn = rusqlite::Connection::open(root.db()).expect("open");
    conn.execute(
        "UPDATE sentry_meta SET value = ?1 WHERE key = 'reading_since'",
        [(now - 8 * 86_400).to_string()],
    )
    .expect("age");
    let (code, line) = check_on(&root, &hosts_allow, &env);
    assert_eq!(code, 1, "{line}");
    assert!(
        line.contains("sshd is running but no event from it"),
        "{line}"
    );
    let out = system(&root, "doctor", &hosts_allow, &env);
    let said = String::from_utf8_lossy(&out.stdout);
    assert!(
        said.contains("sentry parse --service sshd --unmatched"),
        "{said}"
    );

    // An sshd event from today: quiet again.
    conn.execute(
        "INSERT INTO evidence (ip, service, kind, count, first, last, version)
         VALUES ('203.0.113.5', 'sshd', 'failed', 1, ?1, ?1, 1)",
        [now],
    )
    .expect("evidence");
    let (_, line) = check_on(&root, &hosts_allow, &env);
    assert!(!line.contains("no event from it"), "{line}");
}

/// sshd started with `-e` logs to standard error, where a user name's line break is
/// written as it is and which sentry does not read: CRITICAL (WARNING with the PAM hook's
/// evidence), with the fix; an sshd without it, or whose `-e` is an option's value, is fine.
#[test]
fn check_flags_an_sshd_that_logs_to_standard_error() {
    let (root, hosts_allow) = installed();
    let proc_dir = root.path().join("proc");
    let sshd = |pid: &str, args: &[&str]| {
        let dir = proc_dir.join(pid);
        std::fs::create_dir_all(&dir).expect("mkdir");
        std::fs::write(dir.join("comm"), "sshd\n").expect("comm");
        let mut cmdline = Vec::new();
        for arg in std::iter::once(&"/usr/sbin/sshd").chain(args) {
            cmdline.extend_from_slice(arg.as_bytes());
            cmdline.push(0);
        }
        std::fs::write(dir.join("cmdline"), cmdline).expect("cmdline");
    };
    let proc_text = proc_dir.to_str().expect("utf-8").to_string();
    let pam_dir = root.path().join("pam.d");
    std::fs::create_dir_all(&pam_dir).expect("mkdir");
    let pam_text = pam_dir.to_str().expect("utf-8").to_string();
    let env = [
        ("SENTRY_PROC", proc_text.as_str()),
        ("SENTRY_PAM_DIR", pam_text.as_str()),
    ];

    sshd("100", &["-D", "-o", "-e", "-f", "/etc/ssh/sshd_config"]);
    sshd("101", &["-Dp22"]);
    let (_, line) = check_on(&root, &hosts_allow, &env);
    assert!(!line.contains("standard error"), "{line}");

    sshd("102", &["-De"]);
    let (code, line) = check_on(&root, &hosts_allow, &env);
    assert_eq!(code, 2, "{line}");
    assert!(line.contains("sshd runs with -e"), "{line}");
    let out = system(&root, "doctor", &hosts_allow, &env);
    let said = String::from_utf8_lossy(&out.stdout);
    assert!(
        said.contains("remove -e / -E from sshd's command line"),
        "{said}"
    );

    std::fs::remove_dir_all(proc_dir.join("102")).expect("rm");
    sshd("103", &["-D", "-E", "/var/log/sshd.log"]);
    let (code, line) = check_on(&root, &hosts_allow, &env);
    assert_eq!(code, 2, "{line}");
    assert!(line.contains("sshd runs with -E"), "{line}");

    // With the PAM hook in sshd's auth stack its password failures still count: WARNING.
    let hook = format!(
        "auth\t[success=1 default=ignore]\tpam_unix.so nullok\n\
         auth\t[default=ignore]\tpam_exec.so quiet {} pam\n\
         auth\trequisite\tpam_deny.so\nauth\trequired\tpam_permit.so\n",
        root.path().join("sentry").display()
    );
    std::fs::write(pam_dir.join("common-auth"), hook).expect("common-auth");
    let (_, line) = check_on(&root, &hosts_allow, &env);
    assert!(
        line.contains("sshd runs with -E") && line.contains("only the PAM hook counts"),
        "{line}"
    );
}
