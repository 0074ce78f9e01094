//! Shared helpers for the black-box tests: a temporary sentry root, running the real
//! binary in it, and reading `ip_records` back.
#![allow(dead_code)] // each test binary uses a different subset of these helpers

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

pub mod postgres;

/// A throw-away sentry root directory with helpers to drive the binary in it.
pub struct Root {
    pub dir: tempfile::TempDir,
}

impl Root {
    /// A new root with an empty `auth.log` inside it, which is the only log sentry reads
    /// (so no test ever reads this machine's own logs or journal).
    pub fn new() -> Root {
        let root = Root {
            dir: tempfile::tempdir().expect("create a temporary root"),
        };
        // As sentry keeps its root (it warns about, and narrows, a wider one).
        std::fs::set_permissions(
            root.path(),
            std::os::unix::fs::PermissionsExt::from_mode(0o700),
        )
        .expect("chmod the temporary root");
        std::fs::write(root.auth_log(), "").expect("create auth.log");
        root
    }

    /// The log file this root's sentry reads (`SENTRY_LOGS`).
    pub fn auth_log(&self) -> PathBuf {
        self.path().join("auth.log")
    }

    pub fn path(&self) -> &Path {
        self.dir.path()
    }

    pub fn db(&self) -> PathBuf {
        self.path().join("sentry.db")
    }

    pub fn deny_file(&self) -> PathBuf {
        self.path().join("hosts.deny")
    }

    /// A command for the real binary with ROOT_DIR set and a clean sentry environment.
    pub fn command(&self, args: &[&str]) -> Command {
        self.command_via(&[], args)
    }

    /// The same, run through `wrapper` (e.g. `ip netns exec NS`).
    pub fn command_via(&self, wrapper: &[&str], args: &[&str]) -> Command {
        let mut cmd = match wrapper.split_first() {
            Some((program, rest)) => {
                let mut cmd = Command::new(program);
                cmd.args(rest).arg(env!("CARGO_BIN_EXE_sentry"));
                cmd
            }
            None => Command::new(env!("CARGO_BIN_EXE_sentry")),
        };
        cmd.args(args)
            .env("ROOT_DIR", self.path())
            .env("SENTRY_LOGS", self.auth_log());
        for var in [
            "TCPREMOTEIP",
            "PAM_RHOST",
            "ADD_TO_TCPWRAPPERS",
            "ADD_TO_PF",
            "ADD_TO_IPTABLES",
            "FIREWALL_TABLE",
            "EXPIRE_BLOCK_DAYS",
            "PROTECT_FTP",
            "PROTECT_SMTP",
            "PROTECT_MUA",
        ] {
            cmd.env_remove(var);
        }
        cmd
    }

    pub fn run(&self, args: &[&str]) -> Output {
        self.command(args).output().expect("run sentry")
    }

    /// Runs and asserts exit code 0, returning stdout.
    pub fn ok(&self, args: &[&str]) -> String {
        let out = self.run(args);
        assert!(
            out.status.success(),
            "sentry {args:?} failed: {}\nstderr: {}",
            out.status,
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    /// `(seen, allow, block)` of one row of ip_records, read with SQLite directly.
    pub fn row(&self, ip: &str) -> Option<(i64, i64, i64)> {
        let conn = rusqlite::Connection::open(self.db()).expect("open db");
        let mut stmt = conn
            .prepare("SELECT seen, allow, block FROM ip_records WHERE ip = ?1")
            .expect("prepare");
        let mut rows = stmt.query([ip]).expect("query");
        rows.next().expect("step").map(|r| {
            (
                r.get(0).expect("seen"),
                r.get(1).expect("allow"),
                r.get(2).expect("block"),
            )
        })
    }

    /// Like [`Root::row`], but None while the database or its table does not exist yet
    /// (for polling a process that is still starting).
    pub fn try_row(&self, ip: &str) -> Option<(i64, i64, i64)> {
        let conn = rusqlite::Connection::open_with_flags(
            self.db(),
            rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY,
        )
        .ok()?;
        conn.query_row(
            "SELECT seen, allow, block FROM ip_records WHERE ip = ?1",
            [ip],
            |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)),
        )
        .ok()
    }

    /// Number of rows in ip_records (0 when the database does not exist).
    pub fn row_count(&self) -> i64 {
        if !self.db().exists() {
            return 0;
        }
        let conn = rusqlite::Connection::open(self.db()).expect("open db");
        conn.query_row("SELECT count(*) FROM ip_records", [], |r| r.get(0))
            .expect("count")
    }

    /// The deny file's lines without the two comments that mark sentry's section.
    pub fn deny_text(&self) -> String {
        self.deny_file_text()
            .lines()
            .filter(|l| !l.starts_with("# BEGIN sentry") && *l != "# END sentry")
            .map(|l| format!("{l}\n"))
            .collect()
    }

    /// The deny file as it is.
    pub fn deny_file_text(&self) -> String {
        std::fs::read_to_string(self.deny_file()).unwrap_or_default()
    }
}

/// The one way a test says that it, or a part of it, cannot run on this machine. In CI
/// (CI=true), which runs as root after `tests/install-tools`, that is a failure. Elsewhere
/// the reason goes to stderr and, as `TEST<TAB>REASON`, to the file `$SENTRY_SKIPPED_TESTS`
/// names: libtest reports a test that returned early as `ok`, so `tests/run` (README's test
/// command) sets that variable and sums the file up after `cargo test`.
pub fn skip(reason: &str) {
    if std::env::var("CI").is_ok_and(|v| v == "true") {
        panic!("{reason}: required in CI, which runs as root after tests/install-tools");
    }
    // libtest names each test's thread after the test.
    let test = format!(
        "{}::{}",
        env!("CARGO_CRATE_NAME"),
        std::thread::current().name().unwrap_or("?")
    );
    eprintln!("SKIPPED: {test}: {reason}");
    if let Some(path) = std::env::var_os("SENTRY_SKIPPED_TESTS") {
        use std::io::Write;
        let line = format!("{test}\t{}\n", reason.replace(['\t', '\n'], " "));
        // One write per line, in append mode: tests running in parallel do not interleave.
        std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&path)
            .and_then(|mut file| file.write_all(line.as_bytes()))
            .unwrap_or_else(|e| panic!("append to {}: {e}", Path::new(&path).display()));
    }
}

/// The one entry point for a test that needs an external tool: true when `tool` is
/// installed ([`have_tool`]); otherwise the test, or the part of it that needs the tool, is
/// skipped ([`skip`], a failure in CI) with the reason `TOOL is not installed`.
/// `if !common::require("nft") { return; }`
pub fn require(tool: &str) -> bool {
    let found = have_tool(tool);
    if !found {
        skip(&format!("{tool} is not installed"));
    }
    found
}

/// Where `tool` is, or None: a name is looked up on PATH and then in the system
/// directories that sentry's own program calls and `tests/e2e/ssh.sh` use (sshd, ip and nft
/// live in `/usr/sbin`, off a normal user's PATH); a path is taken as it is. An executable
/// file only: not the shell's builtins. `SENTRY_TESTS_WITHOUT=nft,time` pretends the
/// listed tools (by name) are missing, to see the skips of a machine without them.
pub fn find_tool(tool: &str) -> Option<PathBuf> {
    use std::os::unix::fs::PermissionsExt;
    let name = Path::new(tool).file_name()?.to_string_lossy().into_owned();
    let pretend_missing = std::env::var("SENTRY_TESTS_WITHOUT")
        .is_ok_and(|list| list.split(',').any(|missing| missing.trim() == name));
    if pretend_missing {
        return None;
    }
    let executable = |path: &Path| {
        std::fs::metadata(path).is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
    };
    if tool.contains('/') {
        return executable(Path::new(tool)).then(|| PathBuf::from(tool));
    }
    let path = std::env::var_os("PATH").unwrap_or_default();
    std::env::split_paths(&path)
        .chain(["/usr/sbin", "/usr/bin", "/sbin", "/bin"].map(PathBuf::from))
        .map(|dir| dir.join(tool))
        .find(|candidate| executable(candidate))
}

/// Whether `tool` is installed ([`find_tool`]), without skipping anything: for a test
/// that says itself why it cannot run ([`require`] is the usual way).
pub fn have_tool(tool: &str) -> bool {
    find_tool(tool).is_some()
}

/// The absolute path of an installed program ([`find_tool`]); panics when it is missing,
/// so [`require`] it first.
pub fn which(tool: &str) -> String {
    find_tool(tool)
        .unwrap_or_else(|| panic!("{tool} is not installed"))
        .display()
        .to_string()
}

/// Whether Debian's Python (`/usr/bin/python3`, whatever python3 comes first on PATH) can
/// import `module`, a library from a Debian package the tests use.
pub fn have_python_module(module: &str) -> bool {
    have_tool("/usr/bin/python3")
        && Command::new("/usr/bin/python3")
            .args(["-c", &format!("import {module}")])
            .output()
            .is_ok_and(|o| o.status.success())
}

/// True when running as root; otherwise the test is skipped ([`skip`]).
pub fn is_root(what: &str) -> bool {
    let root = running_as_root();
    if !root {
        skip(&format!("needs root ({what})"));
    }
    root
}

/// Whether this process runs as root, without skipping anything ([`is_root`] skips).
pub fn running_as_root() -> bool {
    let uid = Command::new("id").arg("-u").output().expect("run id");
    String::from_utf8_lossy(&uid.stdout).trim() == "0"
}

/// A network namespace of the test's own (`ip netns add`), deleted when dropped. Firewall
/// tests run sentry and the kernel checks inside it, never in this machine's namespace.
pub struct Netns {
    pub name: String,
}

impl Netns {
    /// A fresh namespace, or None (skipped with a message) without root or `ip`.
    pub fn new() -> Option<Netns> {
        if !is_root("network namespace tests") || !require("ip") {
            return None;
        }
        static NEXT: std::sync::atomic::AtomicU32 = std::sync::atomic::AtomicU32::new(0);
        let n = NEXT.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        let name = format!("sentry-test-{}-{n}", std::process::id());
        let status = Command::new("ip")
            .args(["netns", "add", &name])
            .status()
            .expect("run ip");
        assert!(status.success(), "ip netns add {name} failed");
        Some(Netns { name })
    }

    /// `ip netns exec NAME sentry ARGS` with the root's environment.
    pub fn sentry(&self, root: &Root, args: &[&str]) -> Output {
        root.command_via(&["ip", "netns", "exec", &self.name], args)
            .output()
            .expect("run sentry in the namespace")
    }

    /// Like [`Netns::sentry`], asserting success; returns stdout.
    pub fn sentry_ok(&self, root: &Root, args: &[&str]) -> String {
        let out = self.sentry(root, args);
        assert!(
            out.status.success(),
            "sentry {args:?} in {} failed: {}\nstderr: {}",
            self.name,
            out.status,
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    /// Runs a program inside the namespace (the kernel's view: `nft list set`, `ipset list`).
    pub fn run(&self, program: &str, args: &[&str]) -> Output {
        Command::new("ip")
            .args(["netns", "exec", &self.name, program])
            .args(args)
            .output()
            .expect("run in the namespace")
    }

    /// Like [`Netns::run`], asserting success; returns stdout.
    pub fn run_ok(&self, program: &str, args: &[&str]) -> String {
        let out = self.run(program, args);
        assert!(
            out.status.success(),
            "{program} {args:?} in {} failed: {}",
            self.name,
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout).into_owned()
    }
}

impl Drop for Netns {
    fn drop(&mut self) {
        let _ = Command::new("ip")
            .args(["netns", "del", &self.name])
            .status();
    }
}
