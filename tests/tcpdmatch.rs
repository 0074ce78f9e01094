//! The deny file checked by tcpd itself: `tcpdmatch -d` (Debian package `tcpd`) evaluates
//! a hosts.allow holding exactly the lines `sentry setup` tells admins to add, against the
//! deny file the real binary wrote. This is the proof that a block refuses that client,
//! and only that client.

mod common;

use std::path::{Path, PathBuf};
use std::process::Command;

use common::Root;

/// A directory standing in for /etc: the hosts.allow that `sentry setup --write-hosts-allow`
/// wrote, and an empty hosts.deny, read by `tcpdmatch -d` from its working directory.
/// It is separate from the sentry root, whose own `hosts.deny` is the deny list.
struct Tcpd {
    dir: tempfile::TempDir,
}

impl Tcpd {
    /// Runs `sentry setup` the way README tells admins to, and checks that the file it
    /// wrote holds the two printed lines (deny first) and nothing else but comments.
    fn set_up(root: &Root) -> Tcpd {
        let dir = tempfile::tempdir().expect("create a temporary /etc for tcpd");
        let hosts_allow = dir.path().join("hosts.allow");
        let hosts_allow_arg = hosts_allow
            .to_str()
            .expect("the temporary directory's path is UTF-8");
        let stdout = root.ok(&[
            "setup",
            "--hosts-allow",
            hosts_allow_arg,
            "--write-hosts-allow",
        ]);
        let printed: Vec<&str> = stdout.lines().filter(|l| l.starts_with("sshd ")).collect();
        assert_eq!(
            printed.len(),
            2,
            "sentry setup prints two hosts.allow lines:\n{stdout}"
        );
        let deny_file = root.deny_file();
        assert_eq!(
            printed[0],
            format!("sshd : {} : deny", deny_file.display()),
            "the deny line comes first"
        );
        assert!(
            printed[1].starts_with("sshd : ALL : spawn ") && printed[1].ends_with(" : allow"),
            "the second line counts and allows: {}",
            printed[1]
        );
        let written = std::fs::read_to_string(&hosts_allow).expect("setup wrote hosts.allow");
        let rules: Vec<&str> = written
            .lines()
            .filter(|l| !l.trim().is_empty() && !l.trim_start().starts_with('#'))
            .collect();
        assert_eq!(
            rules, printed,
            "hosts.allow holds exactly the printed lines"
        );
        std::fs::write(dir.path().join("hosts.deny"), "").expect("write an empty hosts.deny");
        assert!(deny_file.is_file(), "setup created the deny file");
        Tcpd { dir }
    }

    /// A directory with a hand-written hosts.allow that references `deny_file`.
    fn with_deny_file(deny_file: &Path) -> Tcpd {
        let dir = tempfile::tempdir().expect("create a temporary /etc for tcpd");
        std::fs::write(
            dir.path().join("hosts.allow"),
            format!(
                "sshd : {} : deny\nsshd : ALL : allow\n",
                deny_file.display()
            ),
        )
        .expect("write hosts.allow");
        std::fs::write(dir.path().join("hosts.deny"), "").expect("write an empty hosts.deny");
        Tcpd { dir }
    }

    fn path(&self) -> PathBuf {
        self.dir.path().to_path_buf()
    }

    /// tcpd's verdict for an sshd connection from `address`: "granted" or "denied".
    fn access(&self, address: &str) -> String {
        let out = Command::new("tcpdmatch")
            .args(["-d", "sshd", address])
            .current_dir(self.dir.path())
            .output()
            .expect("run tcpdmatch");
        let stdout = String::from_utf8_lossy(&out.stdout);
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(
            out.status.success(),
            "tcpdmatch -d sshd {address} failed: {}\nstdout: {stdout}\nstderr: {stderr}",
            out.status
        );
        let verdict = stdout
            .lines()
            .find_map(|l| l.strip_prefix("access:"))
            .map(|v| v.trim().to_string());
        match verdict {
            Some(v) => v,
            None => panic!(
                "tcpdmatch gave no `access:` line for {address}\nstdout: {stdout}\nstderr: {stderr}"
            ),
        }
    }

    fn assert_access(&self, address: &str, expected: &str, why: &str) {
        assert_eq!(
            self.access(address),
            expected,
            "tcpdmatch -d sshd {address} in {}: {why}",
            self.path().display()
        );
    }
}

#[test]
fn blocked_addresses_are_denied_and_others_granted() {
    if !common::require("tcpdmatch") {
        return;
    }
    let root = Root::new();
    root.ok(&["block", "203.0.113.9"]);
    root.ok(&["block", "2001:db8::9"]);
    let tcpd = Tcpd::set_up(&root);

    tcpd.assert_access("203.0.113.9", "denied", "blocked IPv4");
    tcpd.assert_access("2001:db8::9", "denied", "blocked IPv6");
    tcpd.assert_access("2001:DB8::9", "denied", "blocked IPv6, as typed upper case");
    // A dual-stack sshd hands tcpd IPv4 clients as IPv4-mapped IPv6.
    tcpd.assert_access("::ffff:203.0.113.9", "denied", "blocked IPv4, mapped");

    for unlisted in [
        "203.0.113.90",
        "203.0.113.99",
        "203.0.113.8",
        "2001:db8::90",
        "2001:db8::99",
        "::ffff:203.0.113.90",
    ] {
        tcpd.assert_access(unlisted, "granted", "never blocked");
    }

    root.ok(&["delist", "203.0.113.9"]);
    tcpd.assert_access("203.0.113.9", "granted", "delisted");
    tcpd.assert_access("::ffff:203.0.113.9", "granted", "delisted, mapped");
    tcpd.assert_access("2001:db8::9", "denied", "still blocked IPv6");

    root.ok(&["delist", "2001:db8::9"]);
    tcpd.assert_access("2001:db8::9", "granted", "delisted IPv6");
    assert!(
        !root.deny_text().contains("ALL:"),
        "the deny file holds no block after both delists:\n{}",
        root.deny_text()
    );
}

#[test]
fn delisting_removes_only_the_exact_address() {
    if !common::require("tcpdmatch") {
        return;
    }
    let root = Root::new();
    let blocked = [
        "1.2.3.4",
        "1.2.3.45",
        "11.2.3.4",
        "2001:db8::9",
        "2001:db8::99",
    ];
    for ip in blocked {
        root.ok(&["block", ip]);
    }
    let tcpd = Tcpd::set_up(&root);
    for ip in blocked {
        tcpd.assert_access(ip, "denied", "blocked");
    }

    root.ok(&["delist", "1.2.3.4"]);
    root.ok(&["delist", "2001:db8::9"]);
    tcpd.assert_access("1.2.3.4", "granted", "delisted");
    tcpd.assert_access("2001:db8::9", "granted", "delisted");
    for neighbour in ["1.2.3.45", "11.2.3.4", "2001:db8::99"] {
        tcpd.assert_access(neighbour, "denied", "blocked separately, must stay blocked");
    }
}

/// Why sentry writes `ALL:` with no space: in a file pattern list every word is a client
/// pattern, and a lone `ALL` word is the wildcard that matches every client.
#[test]
fn a_space_before_the_colon_would_deny_everyone() {
    if !common::require("tcpdmatch") {
        return;
    }
    let root = Root::new();
    root.ok(&["block", "1.2.3.4"]);
    let written = root.deny_text();
    assert_eq!(written, "ALL: 1.2.3.4 : deny\n", "sentry's spelling");

    let ours = Tcpd::with_deny_file(&root.deny_file());
    ours.assert_access("1.2.3.4", "denied", "blocked");
    ours.assert_access(
        "198.51.100.77",
        "granted",
        "sentry's line matches only its address",
    );

    let spaced_file = root.path().join("spaced.deny");
    std::fs::write(&spaced_file, written.replace("ALL:", "ALL :")).expect("write spaced.deny");
    let spaced = Tcpd::with_deny_file(&spaced_file);
    spaced.assert_access(
        "198.51.100.77",
        "denied",
        "`ALL : 1.2.3.4 : deny` contains the ALL wildcard",
    );
}

/// tcpdmatch's verdict on `allow` / `deny` for `daemon` and `address`, written into `dir`.
fn tcpdmatch(dir: &Path, daemon: &str, address: &str) -> String {
    let out = Command::new("tcpdmatch")
        .args(["-d", daemon, address])
        .current_dir(dir)
        .output()
        .expect("run tcpdmatch");
    let stdout = String::from_utf8_lossy(&out.stdout);
    stdout
        .lines()
        .find_map(|l| l.strip_prefix("access:"))
        .map(|v| v.trim().to_string())
        .unwrap_or_else(|| panic!("no access line for {daemon} {address}: {stdout}"))
}

/// sentry's evaluator on the same two files.
fn evaluator(dir: &Path, daemon: &str, address: &str) -> String {
    let tables = sentry::tcpd::Tables::read(&dir.join("hosts.allow")).expect("read tables");
    let client = sentry::tcpd::Client::address(address.parse().expect("an address"));
    tables.evaluate(daemon, &client).access.word().to_string()
}

/// Writes the two files and compares every (daemon, address) pair; returns the
/// disagreements.
fn compare(
    dir: &Path,
    allow: &str,
    deny: &str,
    daemons: &[&str],
    addresses: &[&str],
) -> Vec<String> {
    std::fs::write(dir.join("hosts.allow"), allow).expect("write hosts.allow");
    std::fs::write(dir.join("hosts.deny"), deny).expect("write hosts.deny");
    let mut wrong = Vec::new();
    for daemon in daemons {
        for address in addresses {
            let real = tcpdmatch(dir, daemon, address);
            let ours = evaluator(dir, daemon, address);
            if real != ours {
                wrong.push(format!(
                    "{daemon} {address}: tcpdmatch {real}, sentry {ours}\n--- hosts.allow\n{allow}--- hosts.deny\n{deny}"
                ));
            }
        }
    }
    wrong
}

const ADDRESSES: [&str; 10] = [
    "192.0.2.9",
    "192.0.2.10",
    "192.0.3.9",
    "10.1.2.3",
    "::ffff:192.0.2.9",
    "2001:db8::9",
    "2001:db8:1::9",
    "2001:DB8::9",
    "127.0.0.1",
    "::1",
];

/// Handwritten patterns, one per tcpd rule of hosts_access(5) and per quirk we know of.
#[test]
fn the_evaluator_agrees_with_tcpdmatch_on_every_pattern() {
    if !common::require("tcpdmatch") {
        return;
    }
    let dir = tempfile::tempdir().expect("tempdir");
    let d = dir.path();
    let file = |name: &str, text: &str| {
        let path = d.join(name);
        std::fs::write(&path, text).expect("write a pattern file");
        path.display().to_string()
    };
    let listed = file(
        "listed",
        "ALL: 192.0.2.9 : deny\nALL: [2001:db8::9] : deny\n",
    );
    let spaced = file("spaced", "ALL : 192.0.2.9 : deny\n");
    let hashed = file("hashed", "# 192.0.2.10\n#10.1.2.3\n");
    let commas = file("commas", "192.0.2.9,192.0.2.10\n");
    let nets = file("nets", "192.0.3.0/24 [2001:db8:1::]/48\n2001:db8::9\n");
    let nested = file("nested", &format!("{nets}\n"));
    let patterns = [
        "ALL".to_string(),
        "192.0.2.9".into(),
        "192.0.2.".into(),
        "192.0.".into(),
        ".0.2.9".into(),
        ".9".into(),
        "192.0.2.*".into(),
        "192.0.?.9".into(),
        "*".into(),
        "192.0.2.0/24".into(),
        "192.0.2.0/255.255.255.0".into(),
        "192.0.2.8/31".into(),
        "192.0.2.9/32".into(),
        "192.0.2.9/255.255.255.255".into(),
        "0.0.0.0/0".into(),
        "0.0.0.0/1".into(),
        "192.0.2.1/24".into(),
        "192.0.2.0/24x".into(),
        "192.0.2/24".into(),
        "[2001:db8::9]".into(),
        "[2001:DB8:0:0::9]".into(),
        "[2001:db8::]/32".into(),
        "[2001:db8::]/48".into(),
        "[2001:db8::5]/64".into(),
        "[2001:db8::]/".into(),
        "[::]/0".into(),
        "[2001:db8::*]".into(),
        "[::ffff:192.0.2.9]".into(),
        "[192.0.2.9]".into(),
        "[::1]".into(),
        "127.".into(),
        "LOCAL".into(),
        "KNOWN".into(),
        "UNKNOWN".into(),
        "unknown".into(),
        "PARANOID".into(),
        "localhost".into(),
        "@netgroup".into(),
        "ALL@ALL".into(),
        "KNOWN@ALL".into(),
        "unknown@192.0.2.9".into(),
        "ALL EXCEPT 192.0.2.9".into(),
        "ALL except 192.0.2.0/24 EXCEPT 192.0.2.9".into(),
        "EXCEPT 192.0.2.9".into(),
        "192.0.2.9 EXCEPT EXCEPT 192.0.2.9".into(),
        "192.0.2.10, 192.0.2.9".into(),
        "10.1.2.3,192.0.2.9".into(),
        listed.clone(),
        spaced,
        hashed,
        commas,
        nets,
        nested,
        d.join("missing").display().to_string(),
        format!("ALL EXCEPT {listed}"),
    ];
    let mut wrong = Vec::new();
    for pattern in &patterns {
        wrong.extend(compare(
            d,
            &format!("sshd : {pattern} : deny\n"),
            "",
            &["sshd"],
            &ADDRESSES,
        ));
    }
    let lines = [
        ("sshd : ALL : deny", ""),
        ("sshd : ALL : deny\n", ""),
        (" # sshd : ALL : deny\n", ""),
        ("#sshd : ALL : deny\n", ""),
        ("sshd : 192.0.2.9 \\\n : deny\n", ""),
        ("sshd:ALL:deny\n", ""),
        ("sshd : ALL : ALLOW\n", "ALL: ALL\n"),
        ("sshd : ALL : DENY\n", ""),
        ("sshd : ALL\n", "ALL: ALL\n"),
        ("", "sshd : ALL\n"),
        ("", "sshd : ALL : allow\n"),
        ("", "sshd : ALL : spawn /bin/true\n"),
        ("sshd : ALL : spawn /bin/true\n", "ALL: ALL\n"),
        ("sshd : ALL : spawn = /bin/true : deny\n", ""),
        (
            "sshd : ALL : spawn /bin/echo a\\: b : allow\n",
            "ALL: ALL\n",
        ),
        ("sshd : ALL : twist /bin/echo no\n", ""),
        ("sshd : ALL : twist /bin/echo no : allow\n", ""),
        ("sshd : ALL : bogus\n", ""),
        ("sshd : ALL : allow : spawn /bin/true\n", ""),
        ("sshd : ALL : allow extra\n", ""),
        ("sshd : ALL : allow :\n", ""),
        ("sshd : ALL : spawn\n", ""),
        ("sshd : ALL : severity auth.info : allow\n", "ALL: ALL\n"),
        ("sshd : ALL : severity : allow\n", ""),
        (
            "sshd : ALL : nice : rfc931 : keepalive : allow\n",
            "ALL:ALL\n",
        ),
        (
            "sshd : ALL : nice 5 : linger 4 : umask 022 : setenv A b c : banners /tmp : allow\n",
            "ALL:ALL\n",
        ),
        ("sshd : ALL : user nobody : allow\n", "ALL:ALL\n"),
        ("sshd : ALL : keepalive 4 : allow\n", ""),
        ("sshd : ALL : linger : allow\n", ""),
        ("sshd : ALL : allow\\\n", "ALL:ALL\n"),
        ("sshd : ALL :allow\r\n", "ALL:ALL\n"),
        ("sshd 192.0.2.9 : deny\n", ""),
        ("sshd : 192.0.2.9\n", "ALL:ALL\n"),
        ("sshd\n", "ALL:ALL\n"),
        ("ALL EXCEPT sshd : ALL : deny\n", ""),
        ("ALL : ALL : deny\n", ""),
        ("ssh* : ALL : deny\n", ""),
        ("SSHD : ALL : deny\n", ""),
        ("sshd, vsftpd : ALL : deny\n", ""),
        ("sshd@ALL : ALL : deny\n", ""),
        ("sshd@192.0.2.1 : ALL : deny\n", ""),
        ("sshd : [2001:db8::9] : deny\n", ""),
        ("sshd : 2001:db8::9 : deny\n", ""),
        ("sshd : [2001:db8::9 : deny\n", ""),
        ("sshd : ALL : allow\nsshd : ALL : deny\n", ""),
    ];
    for (allow, deny) in lines {
        wrong.extend(compare(
            d,
            allow,
            deny,
            &["sshd", "vsftpd", "in.ftpd"],
            &ADDRESSES,
        ));
    }
    assert!(
        wrong.is_empty(),
        "{} disagreements:\n{}",
        wrong.len(),
        wrong.join("\n")
    );
}

/// Generated rule sets: random daemons, client lists with EXCEPT, options, comments and
/// continuations, in both files, checked pair by pair against tcpdmatch.
#[test]
fn the_evaluator_agrees_with_tcpdmatch_on_generated_files() {
    if !common::require("tcpdmatch") {
        return;
    }
    let dir = tempfile::tempdir().expect("tempdir");
    let d = dir.path();
    let listed = d.join("listed");
    std::fs::write(
        &listed,
        "ALL: 192.0.2.9 : deny\nALL: [2001:db8::9] : deny\n",
    )
    .expect("write");
    let listed = listed.display().to_string();
    let daemons = [
        "sshd",
        "ALL",
        "vsftpd",
        "ssh*",
        "ALL EXCEPT vsftpd",
        "sshd, in.ftpd",
        "SSHD",
        "sshd@ALL",
    ];
    let clients = [
        "ALL",
        "192.0.2.9",
        "192.0.2.",
        "192.0.2.0/24",
        "10.0.0.0/8",
        "[2001:db8::]/32",
        "[2001:db8::9]",
        "127.0.0.1",
        "[::1]",
        "unknown",
        "KNOWN",
        "LOCAL",
        &listed,
        ".0.2.10",
        "192.0.?.9",
        "ALL@ALL",
    ];
    let options = [
        "",
        ": allow",
        ": deny",
        ": spawn /bin/echo %a",
        ": spawn /bin/echo %a : deny",
        ": twist /bin/echo x",
        ": bogus",
        ": severity auth.info : allow",
        ": ALLOW",
        ": keepalive : deny",
    ];
    // A small deterministic generator (xorshift): the same cases on every run.
    let mut state: u64 = 0x9e37_79b9_7f4a_7c15;
    let mut next = |n: usize| {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        (state % n as u64) as usize
    };
    let mut wrong = Vec::new();
    for _ in 0..150 {
        let mut files = [String::new(), String::new()];
        for file in &mut files {
            for _ in 0..next(5) {
                let mut client = clients[next(clients.len())].to_string();
                if next(3) == 0 {
                    client.push_str(&format!(" {}", clients[next(clients.len())]));
                }
                if next(3) == 0 {
                    client.push_str(&format!(" EXCEPT {}", clients[next(clients.len())]));
                }
                let prefix = ["", "", "", "#", " "][next(5)];
                let glue = if next(8) == 0 { " \\\n" } else { " " };
                file.push_str(&format!(
                    "{prefix}{} :{glue}{client} {}\n",
                    daemons[next(daemons.len())],
                    options[next(options.len())]
                ));
            }
        }
        wrong.extend(compare(
            d,
            &files[0],
            &files[1],
            &["sshd", "vsftpd"],
            &ADDRESSES,
        ));
        if wrong.len() > 5 {
            break;
        }
    }
    assert!(
        wrong.is_empty(),
        "{} disagreements:\n{}",
        wrong.len(),
        wrong.join("\n")
    );
}

/// `setup --write-hosts-allow` on files admins really have: its lines already there in
/// part or in the wrong order, sentry.pl's spawn line, an admin's allow-all rule, an
/// admin's own deny rule. Each time tcpd must refuse the blocked address, let the others
/// in, and keep refusing what the admin refused.
#[test]
fn setup_leaves_a_hosts_allow_where_blocked_addresses_are_refused() {
    if !common::require("tcpdmatch") {
        return;
    }
    let deny_line = |root: &Root| format!("sshd : {} : deny\n", root.deny_file().display());
    type HostsAllow = Box<dyn Fn(&Root) -> String>;
    let cases: Vec<(&str, HostsAllow)> = vec![
        ("the deny line pasted earlier", Box::new(deny_line)),
        (
            "sentry.pl's lines",
            Box::new(move |root: &Root| {
                format!(
                    "# tcp wrappers\nsshd : ALL : spawn {}/sentry.pl -c %a : allow\n{}",
                    root.path().display(),
                    deny_line(root)
                )
            }),
        ),
        (
            "sentry.sh's lines, spawn first",
            Box::new(move |root: &Root| {
                format!(
                    "sshd : ALL : spawn /usr/local/sbin/sentry.sh --connect --ip=%a : allow\n{}",
                    deny_line(root)
                )
            }),
        ),
        (
            "an allow-all rule of the admin's above",
            Box::new(move |root: &Root| format!("ALL : ALL : allow\n{}", deny_line(root))),
        ),
        (
            "the admin's own deny rule",
            Box::new(|_: &Root| "sshd : 198.51.100.0/24 : deny\nALL : ALL : allow\n".into()),
        ),
    ];
    for (what, hosts_allow) in cases {
        let root = Root::new();
        root.ok(&["block", "203.0.113.9"]);
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("hosts.allow");
        std::fs::write(&path, hosts_allow(&root)).expect("seed hosts.allow");
        std::fs::write(dir.path().join("hosts.deny"), "").expect("hosts.deny");
        let out = root.ok(&[
            "setup",
            "--write-hosts-allow",
            "--hosts-allow",
            path.to_str().expect("utf-8"),
        ]);
        let written = std::fs::read_to_string(&path).expect("read");
        let why = format!("{what}:\n{written}\nsetup said:\n{out}");
        assert_eq!(
            tcpdmatch(dir.path(), "sshd", "203.0.113.9"),
            "denied",
            "{why}"
        );
        assert_eq!(
            tcpdmatch(dir.path(), "sshd", "::ffff:203.0.113.9"),
            "denied",
            "{why}"
        );
        assert_eq!(
            tcpdmatch(dir.path(), "sshd", "192.0.2.1"),
            "granted",
            "{why}"
        );
        assert_eq!(
            tcpdmatch(dir.path(), "sshd", "198.51.100.7"),
            if what == "the admin's own deny rule" {
                "denied"
            } else {
                "granted"
            },
            "{why}"
        );
        let spawns: Vec<&str> = written.lines().filter(|l| l.contains("spawn")).collect();
        assert_eq!(spawns.len(), 1, "one spawn line, this sentry's: {why}");
        assert!(
            spawns[0].contains(&root.path().join("sentry").display().to_string()),
            "{why}"
        );
        assert!(
            dir.path().join("hosts.allow.sentry-backup").is_file(),
            "{why}"
        );
        assert!(
            out.contains("- ") || !written.contains("sentry.pl"),
            "a listing: {why}"
        );
    }
}

/// A hosts.deny that refuses every sshd client but the admin's own (mostly closed):
/// sentry's `spawn ... : allow` would open sshd to everyone, so setup refuses and says why.
#[test]
fn setup_refuses_to_let_in_what_hosts_deny_refuses() {
    if !common::require("tcpdmatch") {
        return;
    }
    let root = Root::new();
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("hosts.allow");
    let before = "sshd : 192.0.2.0/24 : allow\n";
    std::fs::write(&path, before).expect("seed hosts.allow");
    std::fs::write(dir.path().join("hosts.deny"), "sshd: ALL\n").expect("hosts.deny");
    let out = root.run(&[
        "setup",
        "--write-hosts-allow",
        "--hosts-allow",
        path.to_str().expect("utf-8"),
    ]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "refused: {stderr}");
    assert!(stderr.contains("hosts.deny line 1"), "{stderr}");
    assert_eq!(
        std::fs::read_to_string(&path).expect("read"),
        before,
        "unchanged"
    );
    assert_eq!(tcpdmatch(dir.path(), "sshd", "198.51.100.7"), "denied");
}
