//! The end-to-end proof (issue 5, section 1): `tests/e2e/ssh.sh` runs a real Debian sshd
//! (built with libwrap), a real rsyslogd and this crate's `sentry` binary in network and
//! mount namespaces it creates and deletes, makes real failed logins with sshpass + ssh,
//! and checks that sentry blocks the attackers (tcpd spawn, nftables, `scan`, `ingest`)
//! and never the user who once logged in, nor a bystander named at the end of forged log
//! lines cut at sshd's 500 characters; with `UsePAM yes` and pam_exec running `sentry pam`
//! (scenario E), evidence no log line can forge. See the script's header for the scenarios.
//!
//! Needs root and openssh-server, openssh-client, sshpass, rsyslog, nftables, iproute2,
//! python3-paramiko, libpam-runtime (pam-auth-update) and libpam-modules (pam_exec).
//! Without them the test is skipped (`common::skip`); in CI (`CI=true`) they are mandatory.

mod common;

use std::path::PathBuf;
use std::process::Command;

/// The programs the script runs, and the Debian package that brings each.
const TOOLS: [(&str, &str); 13] = [
    ("sshd", "openssh-server"),
    ("ssh", "openssh-client"),
    ("ssh-keygen", "openssh-client"),
    ("sshpass", "sshpass"),
    ("rsyslogd", "rsyslog"),
    ("openssl", "openssl"),
    ("nft", "nftables"),
    ("ip", "iproute2"),
    ("ss", "iproute2"),
    ("unshare", "util-linux"),
    ("nsenter", "util-linux"),
    ("setpriv", "util-linux"),
    ("pam-auth-update", "libpam-runtime"),
];

/// The Python modules the script imports with Debian's interpreter, and their packages.
const PYTHON_MODULES: [(&str, &str); 1] = [("paramiko", "python3-paramiko")];

/// Why the test cannot run here, if it cannot.
fn missing_requirements() -> Vec<String> {
    let mut missing = Vec::new();
    if !common::running_as_root() {
        missing.push("root (network and mount namespaces)".to_string());
    }
    for (tool, package) in TOOLS {
        if !common::have_tool(tool) {
            missing.push(format!("{tool} (Debian package {package})"));
        }
    }
    for (module, package) in PYTHON_MODULES {
        if !common::have_python_module(module) {
            missing.push(format!(
                "/usr/bin/python3 module {module} (Debian package {package})"
            ));
        }
    }
    missing
}

#[test]
fn real_sshd_rsyslog_and_sentry_in_namespaces() {
    let missing = missing_requirements();
    if !missing.is_empty() {
        common::skip(&format!("needs {}", missing.join(", ")));
        return;
    }
    let script: PathBuf = [env!("CARGO_MANIFEST_DIR"), "tests", "e2e", "ssh.sh"]
        .iter()
        .collect();
    let output = Command::new("bash")
        .arg(&script)
        .env("SENTRY_BIN", env!("CARGO_BIN_EXE_sentry"))
        .env_remove("E2E_KEEP")
        .output()
        .expect("run bash tests/e2e/ssh.sh");
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    println!("{stdout}");
    if !stderr.trim().is_empty() {
        println!("stderr:\n{stderr}");
    }
    assert!(
        output.status.success(),
        "tests/e2e/ssh.sh failed ({}):\n{stdout}\n{stderr}",
        output.status
    );
    let last = stdout.lines().last().unwrap_or_default();
    assert!(
        last.starts_with("e2e: ") && last.ends_with(" passed, 0 failed"),
        "the script's last line is its summary: {last}"
    );
}
