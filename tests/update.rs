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

/// A private certificate authority and a loopback HTTPS server (Python's http.server)
/// serving `dir`; killed when dropped.
struct ReleaseServer {
    child: std::process::Child,
    port: u16,
    ca: std::path::PathBuf,
    _certs: tempfile::TempDir,
}

impl ReleaseServer {
    fn start(dir: &std::path::Path) -> Option<ReleaseServer> {
        if !common::have_tool("openssl") || !common::have_tool("python3") {
            return None;
        }
        let certs = tempfile::tempdir().expect("tempdir");
        let c = certs.path();
        let openssl = |args: &[&str]| {
            let out = std::process::Command::new("openssl")
                .args(args)
                .current_dir(c)
                .output()
                .expect("run openssl");
            assert!(
                out.status.success(),
                "openssl {args:?}: {}",
                String::from_utf8_lossy(&out.stderr)
            );
        };
        let ec = [
            "-newkey",
            "ec",
            "-pkeyopt",
            "ec_paramgen_curve:P-256",
            "-nodes",
        ];
        openssl(
            &[
                &["req", "-x509"][..],
                &ec,
                &[
                    "-keyout",
                    "ca.key",
                    "-out",
                    "ca.pem",
                    "-days",
                    "2",
                    "-subj",
                    "/CN=sentry test CA",
                ],
            ]
            .concat(),
        );
        openssl(
            &[
                &["req"][..],
                &ec,
                &[
                    "-keyout",
                    "leaf.key",
                    "-out",
                    "leaf.csr",
                    "-subj",
                    "/CN=localhost",
                ],
            ]
            .concat(),
        );
        std::fs::write(
            c.join("leaf.ext"),
            "subjectAltName=IP:127.0.0.1,DNS:localhost\nbasicConstraints=CA:FALSE\nextendedKeyUsage=serverAuth\n",
        )
        .expect("write ext");
        openssl(&[
            "x509",
            "-req",
            "-in",
            "leaf.csr",
            "-CA",
            "ca.pem",
            "-CAkey",
            "ca.key",
            "-CAcreateserial",
            "-out",
            "leaf.pem",
            "-days",
            "2",
            "-extfile",
            "leaf.ext",
        ]);
        let server = r#"
import http.server, signal, ssl, sys
directory, cert, key = sys.argv[1:4]
signal.alarm(300)  # never outlive a stuck test
class Handler(http.server.SimpleHTTPRequestHandler):
    def __init__(self, *a, **k):
        super().__init__(*a, directory=directory, **k)
    def log_message(self, *a):
        pass
srv = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
ctx.load_cert_chain(cert, key)
srv.socket = ctx.wrap_socket(srv.socket, server_side=True)
print(srv.server_address[1], flush=True)
srv.serve_forever()
"#;
        let mut child = std::process::Command::new("python3")
            .args(["-c", server])
            .arg(dir)
            .arg(c.join("leaf.pem"))
            .arg(c.join("leaf.key"))
            .stdout(std::process::Stdio::piped())
            .spawn()
            .expect("start the HTTPS server");
        let mut line = String::new();
        std::io::BufRead::read_line(
            &mut std::io::BufReader::new(child.stdout.take().expect("stdout")),
            &mut line,
        )
        .expect("read port");
        let port = line.trim().parse().expect("server prints its port");
        Some(ReleaseServer {
            child,
            port,
            ca: c.join("ca.pem"),
            _certs: certs,
        })
    }

    fn url(&self, name: &str) -> String {
        format!("https://127.0.0.1:{}/{name}", self.port)
    }
}

impl Drop for ReleaseServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn sha256_of(path: &std::path::Path) -> String {
    let out = std::process::Command::new("sha256sum")
        .arg(path)
        .output()
        .expect("sha256sum");
    String::from_utf8_lossy(&out.stdout)
        .split_whitespace()
        .next()
        .expect("a sum")
        .to_string()
}

fn manifest(dir: &std::path::Path, name: &str, version: &str, url: &str, sha256: &str) {
    std::fs::write(
        dir.join(name),
        format!("version = \"{version}\"\nurl = \"{url}\"\nsha256 = \"{sha256}\"\n"),
    )
    .expect("write manifest");
}

#[test]
fn update_url_installs_a_verified_release_and_refuses_a_bad_checksum() {
    let releases = tempfile::tempdir().expect("tempdir");
    let Some(server) = ReleaseServer::start(releases.path()) else {
        eprintln!("SKIPPED update_url test: openssl or python3 missing");
        return;
    };
    let version = env!("CARGO_PKG_VERSION");
    let binary = releases.path().join("sentry-release");
    std::fs::copy(env!("CARGO_BIN_EXE_sentry"), &binary).expect("copy release");
    let good_sum = sha256_of(&binary);
    manifest(
        releases.path(),
        "good.toml",
        version,
        &server.url("sentry-release"),
        &good_sum,
    );
    manifest(
        releases.path(),
        "tampered.toml",
        version,
        &server.url("sentry-release"),
        &"0".repeat(64),
    );
    // Same version as installed: must not even download (the url is a 404).
    manifest(
        releases.path(),
        "same.toml",
        "2.0.0",
        &server.url("missing"),
        &good_sum,
    );

    let root = Root::new();
    let target = root.path().join("sentry");
    let config = |manifest: &str, ca: bool| {
        let ca = if ca {
            format!("update_ca_file = \"{}\"\n", server.ca.display())
        } else {
            String::new()
        };
        std::fs::write(
            root.path().join("sentry.toml"),
            format!("update_url = \"{}\"\n{ca}", server.url(manifest)),
        )
        .expect("write config");
    };
    script(&target, "echo 'sentry 2.0.0'");
    let old = std::fs::read(&target).expect("read");
    let leftovers = || {
        std::fs::read_dir(root.path())
            .expect("ls")
            .filter_map(|e| e.ok())
            .filter(|e| e.file_name().to_string_lossy().starts_with(".sentry.tmp"))
            .count()
    };

    config("tampered.toml", true);
    let out = root.run(&["update"]);
    assert_eq!(out.status.code(), Some(2), "{out:?}");
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("SHA-256") && err.contains("nothing was installed"),
        "{err}"
    );
    assert_eq!(std::fs::read(&target).expect("read"), old, "untouched");
    assert!(!root.path().join("sentry.old").exists());
    assert_eq!(leftovers(), 0);

    config("good.toml", false);
    let out = root.run(&["update"]);
    assert_eq!(
        out.status.code(),
        Some(2),
        "an untrusted server is refused: {out:?}"
    );
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("cannot fetch") && err.contains("update_ca_file"),
        "{err}"
    );
    assert_eq!(std::fs::read(&target).expect("read"), old, "untouched");

    config("same.toml", true);
    assert!(root.ok(&["update"]).contains("nothing to do"));

    config("good.toml", true);
    let out = root.ok(&["update"]);
    assert!(
        out.contains(&format!("installed sentry {version}")) && out.contains("was 2.0.0"),
        "{out}"
    );
    assert_eq!(
        std::fs::read(&target).expect("read"),
        std::fs::read(&binary).expect("read")
    );
    assert_eq!(
        std::fs::read(root.path().join("sentry.old")).expect("old kept"),
        old
    );
    assert_eq!(leftovers(), 0);
    assert!(
        root.ok(&["update"]).contains("nothing to do"),
        "now current"
    );
}

#[test]
fn update_url_must_be_https() {
    let root = Root::new();
    std::fs::write(
        root.path().join("sentry.toml"),
        "update_url = \"http://127.0.0.1:1/manifest.toml\"\n",
    )
    .expect("write config");
    let out = root.run(&["update"]);
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("update_url") && err.contains("https://"),
        "{err}"
    );
    assert!(!root.path().join("sentry").exists());
}
