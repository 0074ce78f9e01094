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
    if !common::have_tool("tcpdmatch") {
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
    if !common::have_tool("tcpdmatch") {
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
    if !common::have_tool("tcpdmatch") {
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
