//! `sentry update` / `--update`: installs this binary at $ROOT/sentry when newer, keeps the
//! old one as sentry.old, and refuses to overwrite something that is not sentry.

mod common;

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::Command;

use common::Root;

fn script(path: &Path, body: &str) {
    std::fs::write(path, format!("#!/bin/sh\n{body}\n")).expect("write script");
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o755)).expect("chmod");
}

#[test]
fn installs_when_missing_or_older_and_keeps_the_old_one() {
    let root = Root::new();
    let target = root.path().join("sentry");
    let out = root.ok(&["update"]);
    assert!(out.starts_with("installed sentry "), "{out}");
    let version = Command::new(&target)
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

/// Runs `openssl ARGS` in `dir`: the tool the release manager uses (README, "Updating").
fn openssl(dir: &Path, args: &[&str]) {
    let out = Command::new("openssl")
        .args(args)
        .current_dir(dir)
        .output()
        .expect("run openssl");
    assert!(
        out.status.success(),
        "openssl {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// A private certificate authority and a loopback HTTPS server (Python's http.server)
/// serving `dir`; killed when dropped.
struct ReleaseServer {
    child: std::process::Child,
    port: u16,
    ca: PathBuf,
    _certs: tempfile::TempDir,
}

impl ReleaseServer {
    fn start(dir: &Path) -> Option<ReleaseServer> {
        if !common::require("openssl") || !common::require("python3") {
            return None;
        }
        let certs = tempfile::tempdir().expect("tempdir");
        let c = certs.path();
        let ec = [
            "-newkey",
            "ec",
            "-pkeyopt",
            "ec_paramgen_curve:P-256",
            "-nodes",
        ];
        openssl(
            c,
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
            c,
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
        openssl(
            c,
            &[
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
            ],
        );
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
        let mut child = Command::new("python3")
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

fn sha256_of(path: &Path) -> String {
    let out = Command::new("sha256sum")
        .arg(path)
        .output()
        .expect("sha256sum");
    String::from_utf8_lossy(&out.stdout)
        .split_whitespace()
        .next()
        .expect("a sum")
        .to_string()
}

/// A release server with this build as `sentry-release`, the release manager's signing
/// keys, and a sentry root whose installed binary is a stand-in answering an old version.
/// Keys and signatures are made by openssl with README's commands, never by sentry's code.
struct Releases {
    server: ReleaseServer,
    dir: tempfile::TempDir,
    root: Root,
    binary_sum: String,
    /// The stand-in installed before each test's `update`.
    old: Vec<u8>,
}

impl Releases {
    fn start(installed_version: &str) -> Option<Releases> {
        let dir = tempfile::tempdir().expect("tempdir");
        let server = ReleaseServer::start(dir.path())?;
        let binary = dir.path().join("sentry-release");
        std::fs::copy(env!("CARGO_BIN_EXE_sentry"), &binary).expect("copy release");
        let root = Root::new();
        let target = root.path().join("sentry");
        script(&target, &format!("echo 'sentry {installed_version}'"));
        Some(Releases {
            binary_sum: sha256_of(&binary),
            old: std::fs::read(&target).expect("read"),
            server,
            dir,
            root,
        })
    }

    fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    fn target(&self) -> PathBuf {
        self.root.path().join("sentry")
    }

    /// A new ed25519 key `NAME.key`; returns its public key for `update_public_key`,
    /// exactly as README "Updating" gets it.
    fn new_key(&self, name: &str) -> String {
        openssl(
            self.dir.path(),
            &[
                "genpkey",
                "-algorithm",
                "ed25519",
                "-out",
                &format!("{name}.key"),
            ],
        );
        let out = Command::new("sh")
            .arg("-c")
            .arg(format!(
                "openssl pkey -in {name}.key -pubout -outform DER | tail -c 32 | base64"
            ))
            .current_dir(self.dir.path())
            .output()
            .expect("run sh");
        assert!(out.status.success(), "{out:?}");
        String::from_utf8(out.stdout)
            .expect("base64 is text")
            .trim()
            .to_string()
    }

    /// Writes the manifest `name` for `version` of the binary `file` on the server.
    fn manifest(&self, name: &str, version: &str, file: &str, sha256: &str) {
        std::fs::write(
            self.path(name),
            format!(
                "version = \"{version}\"\nurl = \"{}\"\nsha256 = \"{sha256}\"\n",
                self.server.url(file)
            ),
        )
        .expect("write manifest");
    }

    /// Signs the manifest `name` with `key` (README's command): `name.sig` beside it.
    fn sign(&self, name: &str, key: &str) {
        openssl(
            self.dir.path(),
            &[
                "pkeyutl",
                "-sign",
                "-rawin",
                "-inkey",
                &format!("{key}.key"),
                "-in",
                name,
                "-out",
                &format!("{name}.sig"),
            ],
        );
    }

    /// Points the root's config at the manifest `name`, trusting the test CA when `ca`.
    fn configure(&self, name: &str, public_key: &str, ca: bool) {
        let ca = if ca {
            format!("update_ca_file = \"{}\"\n", self.server.ca.display())
        } else {
            String::new()
        };
        std::fs::write(
            self.root.path().join("sentry.toml"),
            format!(
                "update_url = \"{}\"\nupdate_public_key = \"{public_key}\"\n{ca}",
                self.server.url(name)
            ),
        )
        .expect("write config");
    }

    /// Runs `sentry ARGS`, which must fail with exit 2 and change nothing; returns stderr.
    fn refused(&self, args: &[&str]) -> String {
        let out = self.root.run(args);
        let err = String::from_utf8_lossy(&out.stderr).into_owned();
        assert_eq!(out.status.code(), Some(2), "{out:?}");
        assert!(err.contains("nothing was installed"), "{err}");
        assert_eq!(
            std::fs::read(self.target()).expect("read"),
            self.old,
            "untouched"
        );
        assert!(!self.root.path().join("sentry.old").exists());
        self.assert_no_leftovers();
        err
    }

    fn assert_no_leftovers(&self) {
        let staged = std::fs::read_dir(self.root.path())
            .expect("ls")
            .filter_map(|e| e.ok())
            .filter(|e| e.file_name().to_string_lossy().starts_with(".sentry.tmp"))
            .count();
        assert_eq!(staged, 0, "no staged file left behind");
    }

    /// The release binary is installed and the stand-in kept as sentry.old.
    fn assert_installed(&self) {
        assert_eq!(
            std::fs::read(self.target()).expect("read"),
            std::fs::read(self.path("sentry-release")).expect("read")
        );
        assert_eq!(
            std::fs::read(self.root.path().join("sentry.old")).expect("old kept"),
            self.old
        );
        self.assert_no_leftovers();
    }
}

#[test]
fn update_url_installs_a_signed_release_and_refuses_a_bad_checksum() {
    let Some(releases) = Releases::start("2.0.0") else {
        return;
    };
    let version = env!("CARGO_PKG_VERSION");
    let key = releases.new_key("release");
    let sum = releases.binary_sum.clone();
    releases.manifest("good.toml", version, "sentry-release", &sum);
    releases.manifest("tampered.toml", version, "sentry-release", &"0".repeat(64));
    // Same version as installed: must not even download (the url is a 404).
    releases.manifest("same.toml", "2.0.0", "missing", &sum);
    for name in ["good.toml", "tampered.toml", "same.toml"] {
        releases.sign(name, "release");
    }

    releases.configure("tampered.toml", &key, true);
    let err = releases.refused(&["update"]);
    assert!(err.contains("SHA-256"), "{err}");

    releases.configure("good.toml", &key, false);
    let out = releases.root.run(&["update"]);
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
    assert_eq!(
        std::fs::read(releases.target()).expect("read"),
        releases.old
    );

    releases.configure("same.toml", &key, true);
    assert!(releases.root.ok(&["update"]).contains("nothing to do"));

    releases.configure("good.toml", &key, true);
    let out = releases.root.ok(&["update"]);
    assert!(
        out.contains(&format!("installed sentry {version}")) && out.contains("was 2.0.0"),
        "{out}"
    );
    releases.assert_installed();
    assert!(
        releases.root.ok(&["update"]).contains("nothing to do"),
        "now current"
    );
}

/// A server offering this build, signed by the key `release` (what the config trusts)
/// once the test has refused what it should; returns the releases and that public key.
fn signed_release_setup() -> Option<(Releases, String)> {
    let releases = Releases::start("2.0.0")?;
    let key = releases.new_key("release");
    releases.configure("manifest.toml", &key, true);
    let sum = releases.binary_sum.clone();
    releases.manifest(
        "manifest.toml",
        env!("CARGO_PKG_VERSION"),
        "sentry-release",
        &sum,
    );
    Some((releases, key))
}

/// After a refusal, the same server with the manifest signed by the release key installs:
/// what was refused was the signature, not the set-up.
fn installs_once_signed(releases: &Releases) {
    let sum = releases.binary_sum.clone();
    let version = env!("CARGO_PKG_VERSION");
    releases.manifest("manifest.toml", version, "sentry-release", &sum);
    releases.sign("manifest.toml", "release");
    let out = releases.root.ok(&["update"]);
    assert!(
        out.contains(&format!("installed sentry {version}")),
        "{out}"
    );
    releases.assert_installed();
}

#[test]
fn update_url_refuses_an_unsigned_manifest() {
    let Some((releases, _)) = signed_release_setup() else {
        return;
    };
    // No manifest.toml.sig on the server.
    let err = releases.refused(&["update"]);
    assert!(
        err.contains("manifest.toml.sig") && err.contains("not signed"),
        "{err}"
    );
    assert!(
        err.contains("README"),
        "says where signing is explained: {err}"
    );
    let err = releases.refused(&["update", "--force"]);
    assert!(
        err.contains("not signed"),
        "--force skips no signature: {err}"
    );
    installs_once_signed(&releases);
}

#[test]
fn update_url_refuses_a_manifest_signed_by_another_key() {
    let Some((releases, _)) = signed_release_setup() else {
        return;
    };
    releases.new_key("stranger");
    releases.sign("manifest.toml", "stranger");
    let err = releases.refused(&["update"]);
    assert!(
        err.contains("does not verify") && err.contains("update_public_key"),
        "{err}"
    );
    let err = releases.refused(&["update", "--force"]);
    assert!(
        err.contains("does not verify"),
        "--force skips no signature: {err}"
    );
    installs_once_signed(&releases);
}

#[test]
fn update_url_refuses_a_manifest_changed_after_signing() {
    let Some((releases, _)) = signed_release_setup() else {
        return;
    };
    // What an attacker on the server would do: keep the signature, point the manifest at
    // a binary of their own, with its true checksum.
    let version = env!("CARGO_PKG_VERSION");
    let evil = releases.path("evil");
    script(&evil, &format!("echo 'sentry {version}'"));
    releases.sign("manifest.toml", "release");
    releases.manifest("manifest.toml", version, "evil", &sha256_of(&evil));
    let err = releases.refused(&["update"]);
    assert!(err.contains("does not verify"), "{err}");

    // A signature that is not 64 raw bytes (cut short, or base64 text).
    let sum = releases.binary_sum.clone();
    releases.manifest("manifest.toml", version, "sentry-release", &sum);
    releases.sign("manifest.toml", "release");
    let sig = std::fs::read(releases.path("manifest.toml.sig")).expect("read sig");
    std::fs::write(releases.path("manifest.toml.sig"), &sig[..63]).expect("cut sig");
    let err = releases.refused(&["update"]);
    assert!(err.contains("64 bytes"), "{err}");
    installs_once_signed(&releases);
}

#[test]
fn update_url_refuses_a_downgrade_unless_forced() {
    let Some(releases) = Releases::start("99.0.0") else {
        return;
    };
    let version = env!("CARGO_PKG_VERSION");
    let key = releases.new_key("release");
    let sum = releases.binary_sum.clone();
    // A genuine, signed manifest of an older release: what a server replays to roll
    // hosts back to a version with a known hole.
    releases.manifest("manifest.toml", version, "sentry-release", &sum);
    releases.sign("manifest.toml", "release");
    releases.configure("manifest.toml", &key, true);

    let err = releases.refused(&["update"]);
    assert!(
        err.contains(&format!("offers sentry {version}"))
            && err.contains("older than")
            && err.contains("99.0.0")
            && err.contains("--force"),
        "{err}"
    );

    let out = releases.root.ok(&["update", "--force"]);
    assert!(
        out.contains(&format!("installed sentry {version}")) && out.contains("was 99.0.0"),
        "{out}"
    );
    releases.assert_installed();
}

#[test]
fn update_url_needs_update_public_key() {
    let root = Root::new();
    let config = root.path().join("sentry.toml");
    std::fs::write(
        &config,
        "update_url = \"https://127.0.0.1:1/manifest.toml\"\n",
    )
    .expect("write config");
    let out = root.run(&["update"]);
    assert_eq!(out.status.code(), Some(1), "{out:?}");
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains(&config.display().to_string())
            && err.contains("update_public_key")
            && err.contains("README"),
        "{err}"
    );
    assert!(!root.path().join("sentry").exists());
    // A config written for an older sentry keeps every other command working.
    root.ok(&["report"]);

    for bad in ["not base64!", "AAAA", "MCowBQYDK2VwAyEA"] {
        std::fs::write(
            &config,
            format!(
                "update_url = \"https://127.0.0.1:1/manifest.toml\"\nupdate_public_key = \"{bad}\"\n"
            ),
        )
        .expect("write config");
        let out = root.run(&["update"]);
        assert_eq!(out.status.code(), Some(1), "{bad}: {out:?}");
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(
            err.contains("update_public_key") && err.contains("32-byte"),
            "{bad}: {err}"
        );
    }
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

#[test]
fn the_debian_packages_link_is_left_to_apt() {
    let root = Root::new();
    let target = root.path().join("sentry");
    // As debian/postinst makes it (the packaged binary need not exist here).
    std::os::unix::fs::symlink("/usr/sbin/sentry", &target).expect("symlink");
    for args in [
        vec!["update"],
        vec!["update", "--force"],
        vec!["--update", "--force"],
    ] {
        let out = root.run(&args);
        assert_eq!(out.status.code(), Some(1), "{args:?}");
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(
            err.contains("/usr/sbin/sentry") && err.contains("apt"),
            "{err}"
        );
        assert_eq!(
            std::fs::read_link(&target).expect("still a link"),
            Path::new("/usr/sbin/sentry")
        );
        assert!(!root.path().join("sentry.old").exists());
    }
}
