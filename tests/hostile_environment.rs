//! A full disk and a read-only file system, for real: the root directory is a tiny tmpfs
//! (or a read-only bind mount) inside a private mount namespace that the test creates with
//! `unshare -m`, so nothing on this machine's own mounts changes. Needs root; skipped with
//! a message elsewhere, mandatory in CI.

mod common;

use std::process::Command;

fn is_root() -> bool {
    common::is_root("mounting a test file system")
}

/// Runs `script` with `$1` = an empty directory, `$2` = the sentry binary, in a private
/// mount namespace. Returns (stdout, stderr).
fn in_mount_namespace(script: &str) -> (String, String) {
    let dir = tempfile::tempdir().expect("tempdir");
    let out = Command::new("unshare")
        .args(["-m", "--propagation", "private", "sh", "-c", script, "sh"])
        .arg(dir.path())
        .arg(env!("CARGO_BIN_EXE_sentry"))
        .env_remove("EXPIRE_BLOCK_DAYS")
        .output()
        .expect("run unshare");
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    assert!(
        out.status.success(),
        "script failed: {}\n{stdout}\n{stderr}",
        out.status
    );
    (stdout, stderr)
}

const SETUP: &str = r#"
set -u
root="$1"; bin="$2"; export ROOT_DIR="$root" SENTRY_LOGS="$1/auth.log"
mount -t tmpfs -o size=256k tmpfs "$root"
: > "$root/auth.log"
"$bin" setup >/dev/null
"$bin" block 192.0.2.1 >/dev/null
"$bin" connect 192.0.2.2 >/dev/null
"#;

#[test]
fn a_full_disk_changes_nothing_and_connect_still_lets_users_in() {
    if !is_root() || !common::require("unshare") {
        return;
    }
    let script = format!(
        r#"{SETUP}
dd if=/dev/zero of="$root/filler" bs=4k 2>/dev/null
"$bin" block 198.51.100.7; echo "block=$?"
"$bin" connect 192.0.2.2; echo "connect=$?"
"$bin" --ip=198.51.100.8 --connect; echo "new_connect=$?"
rm -f "$root/filler"
echo "--- dump"; "$bin" dump
echo "--- deny"; cat "$root/hosts.deny"
"#
    );
    let (out, err) = in_mount_namespace(&script);
    assert!(out.contains("block=2\n"), "{out}");
    assert!(
        out.contains("connect=0\n") && out.contains("new_connect=0\n"),
        "{out}"
    );
    assert!(err.contains("is full"), "the admin is told why: {err}");
    assert!(err.contains("let through"), "{err}");
    assert!(!err.contains("database is locked"), "{err}");
    let dump = out.split("--- dump\n").nth(1).expect("dump section");
    let dump = dump.split("--- deny\n").next().expect("dump body");
    let rows: Vec<&str> = dump.lines().collect();
    assert_eq!(rows.len(), 2, "nothing new was stored: {dump}");
    assert!(
        rows.iter().any(|r| r.starts_with("192.0.2.2\t1\t")),
        "{dump}"
    );
    let deny = out.split("--- deny\n").nth(1).expect("deny section");
    let entries: Vec<&str> = deny.lines().filter(|l| !l.starts_with('#')).collect();
    assert_eq!(entries, ["ALL: 192.0.2.1 : deny"]);
}

#[test]
fn a_read_only_root_is_reported_and_reports_still_work() {
    if !is_root() || !common::require("unshare") {
        return;
    }
    let script = format!(
        r#"{SETUP}
mount --bind "$root" "$root" && mount -o remount,ro,bind "$root"
"$bin" block 198.51.100.9; echo "block=$?"
"$bin" allow 192.0.2.1; echo "allow=$?"
"$bin" connect 198.51.100.9; echo "connect=$?"
"$bin" report; echo "report=$?"
"#
    );
    let (out, err) = in_mount_namespace(&script);
    assert!(
        out.contains("block=2\n") && out.contains("allow=2\n"),
        "{out}"
    );
    assert!(out.contains("connect=0\n"), "{out}");
    assert!(err.contains("read-only"), "{err}");
    assert!(
        out.contains("   1 unique IP has connected 1 time\n"),
        "{out}"
    );
    assert!(out.contains("report=0\n"), "{out}");
}
