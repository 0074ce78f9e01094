//! Progress display: drawn on a terminal (a pseudo-terminal from util-linux `script`),
//! never on a pipe — cron mail and the journal must not fill with bar redraws.

mod common;

use common::Root;

/// A log of `n` failed sshd logins from rotating documentation addresses.
fn big_log(root: &Root, n: usize) {
    let mut text = String::with_capacity(n * 100);
    for i in 0..n {
        text.push_str(&format!(
            "Nov 24 10:{:02}:{:02} host sshd[{}]: Failed password for invalid user u{i} from 198.51.100.{} port 4{:04} ssh2\n",
            (i / 60) % 60,
            i % 60,
            1000 + i % 5000,
            i % 200,
            i % 10000
        ));
    }
    std::fs::write(root.auth_log(), text).expect("write log");
}

/// Runs sentry with stderr on a pseudo-terminal; returns what the terminal showed.
fn on_a_terminal(root: &Root, args: &str) -> String {
    let transcript = root.path().join("typescript");
    let command = format!(
        "ROOT_DIR={} SENTRY_LOGS={} {} {args}",
        root.path().display(),
        root.auth_log().display(),
        env!("CARGO_BIN_EXE_sentry")
    );
    let out = std::process::Command::new("script")
        .args(["-qec", &command])
        .arg(&transcript)
        .stdin(std::process::Stdio::null())
        .output()
        .expect("run script");
    assert!(out.status.success(), "{out:?}");
    String::from_utf8_lossy(&std::fs::read(&transcript).expect("transcript")).into_owned()
}

#[test]
fn long_work_shows_progress_on_a_terminal_only() {
    if !common::require("script") {
        return;
    }
    let root = Root::new();
    big_log(&root, 400_000);

    let shown = on_a_terminal(&root, "scan --from-start");
    assert!(
        shown.contains("lines read"),
        "scan shows lines read: {shown}"
    );
    assert!(
        shown.contains(&root.auth_log().display().to_string()),
        "and the file"
    );

    let list = root.path().join("list.txt");
    let addresses: String = (0..3000)
        .map(|i| format!("2001:db8::{:x}\n", i + 1))
        .collect();
    std::fs::write(&list, addresses).expect("write list");
    let shown = on_a_terminal(&root, &format!("import --list {}", list.display()));
    assert!(shown.contains("database: 3000 addresses"), "{shown}");
    assert!(shown.contains("tcpwrappers"), "{shown}");

    // The same work with stderr on a pipe prints no progress at all.
    let quiet = Root::new();
    big_log(&quiet, 400_000);
    for args in [
        vec!["scan", "--from-start"],
        vec!["import", "--list", list.to_str().expect("utf-8")],
        vec!["sync"],
    ] {
        let out = quiet.run(&args);
        assert!(out.status.success(), "{out:?}");
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(
            !err.contains('\r') && !err.contains('\u{1b}') && !err.contains("lines read"),
            "{args:?}: {err}"
        );
    }
}
