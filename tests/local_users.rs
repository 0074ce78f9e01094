//! What a local user who is not root can do to sentry's decisions: hold its locks, read
//! its database, plant a file beside the deny file, leave a failed deny-list update
//! unrepaired, or print escape sequences to the admin's terminal. Tests that act as
//! another user (`nobody`, through setpriv) need root.

mod common;

use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::process::Output;

use common::Root;

fn chmod(path: &Path, mode: u32) {
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode))
        .unwrap_or_else(|e| panic!("chmod {}: {e}", path.display()));
}

fn write_config(root: &Path, text: &str) {
    std::fs::write(root.join("sentry.toml"), text).expect("write sentry.toml");
}

fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

#[test]
fn a_deny_file_in_a_directory_others_can_write_is_refused() {
    for dir_mode in [0o777, 0o1777, 0o775] {
        let root = Root::new();
        let shared = tempfile::tempdir().expect("shared dir");
        chmod(shared.path(), dir_mode);
        let deny = shared.path().join("hosts.deny");
        write_config(
            root.path(),
            &format!(
                "[tcpwrappers]\ndeny_file = {:?}\n",
                deny.display().to_string()
            ),
        );
        let out = root.run(&["block", "192.0.2.20"]);
        let err = stderr(&out);
        assert_eq!(out.status.code(), Some(2), "mode {dir_mode:o}: {err}");
        assert!(
            err.contains(&deny.display().to_string()) && err.contains("writable"),
            "mode {dir_mode:o}: the message names the file and the problem: {err}"
        );
        assert!(!deny.exists(), "mode {dir_mode:o}: nothing written");
    }
}
