//! `sentry update` / `--update`: installs this binary at $ROOT/sentry when newer, keeps the
//! old one as sentry.old, and refuses to overwrite something that is not sentry.

mod common;

use std::os::unix::fs::PermissionsExt;

use common::Root;

fn script(path: &std::path::Path, body: &str) {
    std::fs::write(path, format!("#!/bin/sh\n{body}\n")).expect("write script");
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o755)).expect("chmod");
}

#[test]
fn installs_when_missing_or_older_and_keeps_the_old_one() {
    let root = Root::new();
    let target = root.path().join("sentry");
    let out = root.ok(&["update"]);
    assert!(out.starts_with("installed sentry "), "{out}");
    let version = std::process::Command::new(&target)
        .arg("--version")
        .output()
        .expect("run installed");
    assert_eq!(
        String::from_utf8_lossy(&version.stdout).trim(),
        format!("sentry {}", env!("CARGO_PKG_VERSION"))
    );
    assert_eq!(
        std::fs::metadata(&target)
            .expect("meta")
            .permissions()
            .mode()
            & 0o777,
        0o750
    );
    assert!(
        root.ok(&["--update"]).contains("nothing to do"),
        "same version: legacy flag too"
    );
    assert!(!root.path().join("sentry.old").exists());

    script(&target, "echo 'sentry 2.0.0'");
    let out = root.ok(&["update"]);
    assert!(out.contains("was 2.0.0; kept as sentry.old"), "{out}");
    let old = std::fs::read_to_string(root.path().join("sentry.old")).expect("old kept");
    assert!(old.contains("sentry 2.0.0"));

    script(&target, "echo 'sentry 99.0.0'");
    assert!(
        root.ok(&["update"]).contains("nothing to do"),
        "a newer one stays"
    );
}

#[test]
fn something_that_is_not_sentry_is_not_overwritten_without_force() {
    let root = Root::new();
    let target = root.path().join("sentry");
    script(&target, "echo 'Unknown option: --version' >&2; exit 1");
    let before = std::fs::read(&target).expect("read");
    let out = root.run(&["update"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("--force"));
    assert_eq!(std::fs::read(&target).expect("read"), before, "unchanged");
    root.ok(&["update", "--force"]);
    assert_ne!(std::fs::read(&target).expect("read"), before);
    assert_eq!(
        std::fs::read(root.path().join("sentry.old")).expect("old"),
        before
    );
}
