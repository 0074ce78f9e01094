#![allow(dead_code)] // each test binary uses a different subset of these helpers
//! A private, throw-away PostgreSQL cluster for the fleet-mode tests: `initdb` into a
//! temporary directory, listening only on 127.0.0.1 on a free port (and on a unix socket in
//! that directory), with TLS from a private CA made with `openssl`, set up as README's "The
//! fleet server" says, by running the very SQL steps of README: database `sentry` with the
//! schema, and one role per fleet host (`sentry_HOST`, scram-sha-256 password) made by
//! [`PgCluster::add_host`]. The system's own cluster (port 5432, /var/run/postgresql) is
//! never used or touched.
//!
//! The server programs run as the `postgres` user of the Debian package (initdb refuses
//! root), by setting the child's uid/gid with `std::os::unix::process::CommandExt`. The
//! server is stopped and the directory removed on drop, also when the test panics.

use std::io::Write;
use std::os::unix::fs::PermissionsExt;
use std::os::unix::process::CommandExt;
use std::path::PathBuf;
use std::process::{Command, Output, Stdio};
use std::sync::atomic::{AtomicU32, Ordering};

use super::{is_root, require, skip};

/// A running (or deliberately stopped) private cluster; dropped = stopped and removed.
pub struct PgCluster {
    /// Owned by `postgres`, mode 0700: `data/`, `tls/`, the server log, the unix socket.
    dir: tempfile::TempDir,
    /// Directory holding `initdb`, `pg_ctl` and `postgres`.
    bin: PathBuf,
    port: u16,
    /// The cluster's superuser (connects over the unix socket without a password).
    superuser: String,
    /// uid and gid of the `postgres` system user the server runs as.
    uid: u32,
    gid: u32,
    /// The postmaster's pid while running (0 when stopped), from `postmaster.pid`.
    pid: AtomicU32,
}

impl PgCluster {
    /// Starts a new cluster, or None (the test skipped, see [`super::skip`]) when it cannot
    /// run here: not root, or PostgreSQL / psql / openssl not installed.
    pub fn start() -> Option<PgCluster> {
        if !is_root("a private PostgreSQL cluster") || !require("psql") || !require("openssl") {
            return None;
        }
        let bin = match server_bin_dir() {
            Some(bin) => bin,
            // Not in /usr/lib/postgresql/*/bin nor on PATH: require reports the skip.
            None => {
                require("initdb");
                return None;
            }
        };
        let (uid, gid) = match (id_of("-u"), id_of("-g")) {
            (Some(uid), Some(gid)) => (uid, gid),
            _ => {
                skip("no postgres user (Debian package postgresql)");
                return None;
            }
        };

        // In /tmp rather than $TMPDIR: the postgres user must be able to reach it, and the
        // unix socket path must stay short (107 bytes).
        let dir = tempfile::Builder::new()
            .prefix("sentry-pg-")
            .tempdir_in("/tmp")
            .expect("create the cluster's temporary directory");
        std::os::unix::fs::chown(dir.path(), Some(uid), Some(gid)).expect("chown the cluster dir");
        std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o700))
            .expect("chmod the cluster dir");

        let mut cluster = PgCluster {
            dir,
            bin,
            port: free_port(),
            superuser: "postgres".to_string(),
            uid,
            gid,
            pid: AtomicU32::new(0),
        };
        cluster.init();
        // From here on the server may be running: a panic drops `cluster`, which stops it.
        let mut attempt = 0;
        loop {
            let out = cluster.pg_ctl_start();
            if out.status.success() {
                break;
            }
            let log = cluster.server_log();
            attempt += 1;
            // Another process took the port between free_port() and the bind: try another.
            if attempt < 5 && log.contains("could not bind") {
                cluster.port = free_port();
                cluster.append_conf(&format!("port = {}\n", cluster.port));
                continue;
            }
            cluster.start_failed(&out, &log);
        }
        cluster.record_pid();

        cluster.psql_on("postgres", &readme_step("roles"));
        cluster.set_up_database("sentry");
        Some(cluster)
    }

    /// Database `db` with the fleet schema, by README's steps (the database, then each
    /// schema version in one transaction, then the optional step that carries an allow's
    /// accounts).
    pub fn set_up_database(&self, db: &str) {
        self.set_up_database_without_trust(db);
        self.psql_on(
            db,
            &format!(
                "BEGIN;\n{}\nCOMMIT;\n",
                readme_step("allows with their accounts")
            ),
        );
    }

    /// The same without the optional step: a server as sentry before it found it.
    pub fn set_up_database_without_trust(&self, db: &str) {
        self.psql_on(
            "postgres",
            &readme_step("database").replace("DATABASE sentry", &format!("DATABASE {db}")),
        );
        self.psql_on(
            db,
            &format!(
                "BEGIN;\n{}\nCOMMIT;\nBEGIN;\n{}\nCOMMIT;\n",
                readme_step("schema version 1"),
                readme_step("schema version 2")
            ),
        );
    }

    /// Fleet host `host`'s own role, `sentry_HOST`, by README's step for a host with a
    /// password of its own; returns the file (mode 0600) holding that password.
    pub fn add_host(&self, host: &str) -> PathBuf {
        let password = random_hex();
        self.psql_on(
            "postgres",
            &readme_step("host web1")
                .replace("sentry_web1", &format!("\"sentry_{host}\""))
                .replace("'web1-secret'", &format!("'{password}'")),
        );
        let file = self.password_file(host);
        std::fs::write(&file, format!("{password}\n")).expect("write the password file");
        std::fs::set_permissions(&file, std::fs::Permissions::from_mode(0o600))
            .expect("chmod the password file");
        file
    }

    /// The file [`PgCluster::add_host`] wrote `host`'s password to.
    pub fn password_file(&self, host: &str) -> PathBuf {
        self.dir.path().join(format!("password-{host}"))
    }

    /// A libpq-style URL for host `host`'s role to database `sentry`, without the password
    /// (see [`PgCluster::password_file`]).
    pub fn url(&self, host: &str) -> String {
        format!("postgres://sentry_{host}@127.0.0.1:{}/sentry", self.port)
    }

    /// psql as host `host`'s role over TCP (its password, no TLS) on database `sentry`:
    /// what a member can do with its own credentials. Err(stderr) when psql fails.
    pub fn psql_as(&self, host: &str, sql: &str) -> Result<String, String> {
        let password = std::fs::read_to_string(self.password_file(host)).expect("read password");
        let mut cmd = Command::new("psql");
        clear_pg_env(&mut cmd);
        let out = cmd
            .env("PGPASSWORD", password.trim())
            .args(["-h", "127.0.0.1", "-p", &self.port.to_string()])
            .args(["-U", &format!("sentry_{host}"), "-d", "sentry"])
            .args(["-X", "-A", "-t", "-q", "-v", "ON_ERROR_STOP=1", "-c", sql])
            .env("PGSSLMODE", "disable")
            .stdin(Stdio::null())
            .output()
            .expect("run psql");
        if out.status.success() {
            Ok(String::from_utf8_lossy(&out.stdout).trim().to_string())
        } else {
            Err(String::from_utf8_lossy(&out.stderr).into_owned())
        }
    }

    /// [`PgCluster::url`] with `?sslmode=require`; the server certificate (for 127.0.0.1
    /// and localhost) is signed by [`PgCluster::ca_file`].
    pub fn tls_url(&self, host: &str) -> String {
        format!("{}?sslmode=require", self.url(host))
    }

    /// PEM file of this cluster's private CA.
    pub fn ca_file(&self) -> PathBuf {
        self.tls_dir().join("ca.crt")
    }

    /// PEM file of the server's own certificate (signed by the private CA).
    pub fn server_cert_file(&self) -> PathBuf {
        self.tls_dir().join("server.crt")
    }

    /// The TCP port the server listens on (127.0.0.1 only).
    pub fn port(&self) -> u16 {
        self.port
    }

    /// Stops the server (`pg_ctl stop -m fast`), keeping its data: an outage. Stopping a
    /// stopped server does nothing.
    pub fn stop(&self) {
        let out = self.pg_ctl(&["stop", "-m", "fast", "-w", "-t", "30"]);
        if !out.status.success() && self.is_running() {
            panic!(
                "pg_ctl stop failed: {}\nserver log:\n{}",
                String::from_utf8_lossy(&out.stderr),
                self.server_log()
            );
        }
        self.pid.store(0, Ordering::SeqCst);
    }

    /// Starts it again on the same port with the same data; returns when it accepts
    /// connections.
    pub fn restart(&self) {
        let out = self.pg_ctl_start();
        if !out.status.success() {
            self.start_failed(&out, &self.server_log());
        }
        self.record_pid();
        assert_eq!(
            self.psql("SELECT 1"),
            "1",
            "server not usable after restart"
        );
    }

    /// Runs SQL (one or more statements) through psql as the superuser on database
    /// `sentry` (-X -A -t -q, ON_ERROR_STOP=1); returns stdout trimmed, panics with stderr
    /// on failure.
    pub fn psql(&self, sql: &str) -> String {
        self.psql_on("sentry", sql)
    }

    /// [`PgCluster::psql`] on database `db`.
    pub fn psql_in(&self, db: &str, sql: &str) -> String {
        self.psql_on(db, sql)
    }

    // ---- internals ----

    fn data_dir(&self) -> PathBuf {
        self.dir.path().join("data")
    }

    fn tls_dir(&self) -> PathBuf {
        self.dir.path().join("tls")
    }

    fn log_file(&self) -> PathBuf {
        self.dir.path().join("server.log")
    }

    fn server_log(&self) -> String {
        std::fs::read_to_string(self.log_file()).unwrap_or_else(|e| format!("(no log: {e})"))
    }

    /// A command for one of the server programs, run as the postgres user in the cluster
    /// directory, with no PG* variables from the caller's environment.
    fn as_postgres(&self, program: &str) -> Command {
        let mut cmd = Command::new(self.bin.join(program));
        cmd.uid(self.uid)
            .gid(self.gid)
            .current_dir(self.dir.path())
            .env("HOME", self.dir.path())
            .stdin(Stdio::null());
        clear_pg_env(&mut cmd);
        cmd
    }

    fn pg_ctl(&self, args: &[&str]) -> Output {
        self.as_postgres("pg_ctl")
            .arg("-D")
            .arg(self.data_dir())
            .args(args)
            .output()
            .expect("run pg_ctl")
    }

    /// `pg_ctl start -w -t 30`: bounded, and returns once the server accepts connections.
    fn pg_ctl_start(&self) -> Output {
        let log = self.log_file();
        let log = log.to_str().expect("utf-8 log path");
        self.pg_ctl(&["-l", log, "-w", "-t", "30", "start"])
    }

    fn start_failed(&self, out: &Output, log: &str) -> ! {
        panic!(
            "pg_ctl start failed ({}): {}{}\nserver log:\n{log}",
            out.status,
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
    }

    fn pid_file_pid(&self) -> Option<u32> {
        let text = std::fs::read_to_string(self.data_dir().join("postmaster.pid")).ok()?;
        text.lines().next()?.trim().parse().ok()
    }

    fn record_pid(&self) {
        self.pid
            .store(self.pid_file_pid().unwrap_or(0), Ordering::SeqCst);
    }

    fn is_running(&self) -> bool {
        // pg_ctl status: 0 running, 3 not running, 4 no data directory.
        self.pg_ctl(&["status"]).status.success()
    }

    /// initdb, the server configuration, pg_hba.conf and the TLS files.
    fn init(&self) {
        let out = self
            .as_postgres("initdb")
            .arg("-D")
            .arg(self.data_dir())
            .args(["-U", &self.superuser])
            .args(["-A", "trust", "-E", "UTF8", "--no-locale", "--no-sync"])
            .output()
            .expect("run initdb");
        assert!(
            out.status.success(),
            "initdb failed: {}\n{}{}",
            out.status,
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        self.make_tls();

        let dir = self.dir.path().to_str().expect("utf-8 temporary path");
        let tls = self.tls_dir();
        let tls = tls.to_str().expect("utf-8 temporary path");
        self.append_conf(&format!(
            "\n# bruteforce-sentry test cluster\n\
             listen_addresses = '127.0.0.1'\n\
             port = {port}\n\
             unix_socket_directories = '{dir}'\n\
             max_connections = 100\n\
             shared_buffers = '16MB'\n\
             fsync = off\n\
             synchronous_commit = off\n\
             full_page_writes = off\n\
             password_encryption = 'scram-sha-256'\n\
             ssl = on\n\
             ssl_cert_file = '{tls}/server.crt'\n\
             ssl_key_file = '{tls}/server.key'\n",
            port = self.port
        ));
        let hba = "# TYPE  DATABASE USER     ADDRESS       METHOD\n\
                   local    all      postgres                trust\n\
                   hostssl  all      all      127.0.0.1/32  scram-sha-256\n\
                   host     all      all      127.0.0.1/32  scram-sha-256\n";
        std::fs::write(self.data_dir().join("pg_hba.conf"), hba).expect("write pg_hba.conf");
    }

    fn append_conf(&self, text: &str) {
        let mut conf = std::fs::OpenOptions::new()
            .append(true)
            .open(self.data_dir().join("postgresql.conf"))
            .expect("open postgresql.conf");
        conf.write_all(text.as_bytes())
            .expect("write postgresql.conf");
    }

    /// A private CA (EC P-256) and a server certificate for 127.0.0.1 and localhost.
    fn make_tls(&self) {
        let tls = self.tls_dir();
        std::fs::create_dir(&tls).expect("create tls dir");
        let cnf = tls.join("openssl.cnf");
        std::fs::write(
            &cnf,
            "[req]\n\
             distinguished_name = dn\n\
             prompt = no\n\
             [dn]\n\
             CN = bruteforce-sentry test CA\n\
             [ca_ext]\n\
             basicConstraints = critical,CA:TRUE\n\
             keyUsage = critical,keyCertSign,cRLSign\n\
             subjectKeyIdentifier = hash\n\
             [leaf_ext]\n\
             basicConstraints = critical,CA:FALSE\n\
             keyUsage = critical,digitalSignature\n\
             extendedKeyUsage = serverAuth\n\
             subjectAltName = IP:127.0.0.1,DNS:localhost\n\
             subjectKeyIdentifier = hash\n\
             authorityKeyIdentifier = keyid\n",
        )
        .expect("write openssl.cnf");
        let serial = format!("0x{}", &random_hex()[..16]);
        let openssl = |args: &[&str]| {
            let out = Command::new("openssl")
                .args(args)
                .current_dir(&tls)
                .env("OPENSSL_CONF", &cnf)
                .stdin(Stdio::null())
                .output()
                .expect("run openssl");
            assert!(
                out.status.success(),
                "openssl {args:?} failed: {}",
                String::from_utf8_lossy(&out.stderr)
            );
        };
        let ec = ["-algorithm", "EC", "-pkeyopt", "ec_paramgen_curve:P-256"];
        openssl(&[&["genpkey"][..], &ec, &["-out", "ca.key"]].concat());
        openssl(&[
            "req",
            "-new",
            "-x509",
            "-config",
            "openssl.cnf",
            "-extensions",
            "ca_ext",
            "-key",
            "ca.key",
            "-days",
            "7",
            "-set_serial",
            "1",
            "-out",
            "ca.crt",
        ]);
        openssl(&[&["genpkey"][..], &ec, &["-out", "server.key"]].concat());
        openssl(&[
            "req",
            "-new",
            "-config",
            "openssl.cnf",
            "-key",
            "server.key",
            "-subj",
            "/CN=localhost",
            "-out",
            "server.csr",
        ]);
        openssl(&[
            "x509",
            "-req",
            "-in",
            "server.csr",
            "-CA",
            "ca.crt",
            "-CAkey",
            "ca.key",
            "-set_serial",
            &serial,
            "-days",
            "7",
            "-extfile",
            "openssl.cnf",
            "-extensions",
            "leaf_ext",
            "-out",
            "server.crt",
        ]);
        // The server refuses a key readable by others or not owned by its user.
        let key = tls.join("server.key");
        std::os::unix::fs::chown(&key, Some(self.uid), Some(self.gid)).expect("chown server.key");
        std::fs::set_permissions(&key, std::fs::Permissions::from_mode(0o600))
            .expect("chmod server.key");
        std::fs::set_permissions(tls.join("ca.key"), std::fs::Permissions::from_mode(0o600))
            .expect("chmod ca.key");
        for public in ["server.crt", "ca.crt"] {
            std::fs::set_permissions(tls.join(public), std::fs::Permissions::from_mode(0o644))
                .expect("chmod certificate");
        }
        std::fs::set_permissions(&tls, std::fs::Permissions::from_mode(0o755))
            .expect("chmod tls dir");
    }

    /// psql as the superuser over the unix socket in the cluster directory; the SQL goes
    /// in on stdin, so several statements (even CREATE DATABASE) can be run at once.
    fn psql_on(&self, db: &str, sql: &str) -> String {
        let mut cmd = Command::new("psql");
        clear_pg_env(&mut cmd);
        let mut child = cmd
            .arg("-h")
            .arg(self.dir.path())
            .args([
                "-p",
                &self.port.to_string(),
                "-U",
                &self.superuser,
                "-d",
                db,
            ])
            .args(["-X", "-A", "-t", "-q", "-v", "ON_ERROR_STOP=1", "-f", "-"])
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("run psql");
        let mut stdin = child.stdin.take().expect("psql stdin");
        let out = std::thread::scope(|s| {
            // Written from another thread so a large result cannot block a large script.
            s.spawn(move || {
                let _ = stdin.write_all(sql.as_bytes());
            });
            child.wait_with_output().expect("wait for psql")
        });
        assert!(
            out.status.success(),
            "psql on {db} failed ({}) for:\n{sql}\nstderr: {}",
            out.status,
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout).trim().to_string()
    }
}

impl Drop for PgCluster {
    /// Stops the server at once (`pg_ctl stop -m immediate`, errors ignored); TempDir then
    /// removes everything. Never panics, as it also runs while a failed test unwinds.
    fn drop(&mut self) {
        if !self.data_dir().join("postmaster.pid").exists() {
            return;
        }
        let stopped = self
            .as_postgres("pg_ctl")
            .arg("-D")
            .arg(self.data_dir())
            .args(["stop", "-m", "immediate", "-w", "-t", "30"])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .is_ok_and(|s| s.success());
        if !stopped {
            // Last resort, only for the postmaster this cluster started.
            if let Some(pid) = self
                .pid_file_pid()
                .or(Some(self.pid.load(Ordering::SeqCst)))
                .filter(|&p| p > 1)
            {
                let _ = Command::new("kill")
                    .args(["-KILL", &pid.to_string()])
                    .stdout(Stdio::null())
                    .stderr(Stdio::null())
                    .status();
            }
        }
    }
}

/// The directory with initdb, pg_ctl and postgres: the newest /usr/lib/postgresql/N/bin
/// (Debian keeps them off PATH), else wherever `pg_ctl` is on PATH.
fn server_bin_dir() -> Option<PathBuf> {
    let newest = std::fs::read_dir("/usr/lib/postgresql")
        .into_iter()
        .flatten()
        .flatten()
        .filter_map(|e| {
            let version: u32 = e.file_name().to_str()?.parse().ok()?;
            let bin = e.path().join("bin");
            ["initdb", "pg_ctl", "postgres"]
                .iter()
                .all(|p| bin.join(p).is_file())
                .then_some((version, bin))
        })
        .max_by_key(|(version, _)| *version);
    if let Some((_, bin)) = newest {
        return Some(bin);
    }
    let bin = super::find_tool("pg_ctl")?.parent()?.to_path_buf();
    bin.join("initdb").is_file().then_some(bin)
}

/// `id -u postgres` / `id -g postgres`.
fn id_of(flag: &str) -> Option<u32> {
    let out = Command::new("id").args([flag, "postgres"]).output().ok()?;
    if !out.status.success() {
        return None;
    }
    String::from_utf8_lossy(&out.stdout).trim().parse().ok()
}

/// A port that was free a moment ago on 127.0.0.1.
fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("find a free port")
        .port()
}

/// 32 hex digits, different on every call (std's randomly keyed hasher).
fn random_hex() -> String {
    use std::hash::{BuildHasher, Hasher};
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_nanos())
        .unwrap_or_default();
    (0..2u8)
        .map(|i| {
            let mut h = std::hash::RandomState::new().build_hasher();
            h.write_u128(nanos);
            h.write_u32(std::process::id());
            h.write_u8(i);
            format!("{:016x}", h.finish())
        })
        .collect()
}

/// Removes every PG* variable (PGHOST, PGPORT, PGDATA, PGPASSWORD, ...) so the caller's
/// environment cannot redirect a command to another server.
fn clear_pg_env(cmd: &mut Command) {
    for (key, _) in std::env::vars_os() {
        if key.to_str().is_some_and(|k| k.starts_with("PG")) {
            cmd.env_remove(key);
        }
    }
}

/// The SQL of README's fleet server step whose first line is `-- fleet server: NAME`: the
/// tests set the server up exactly as README tells the administrator to.
pub fn readme_step(name: &str) -> String {
    let readme = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/README.md"))
        .expect("read README.md");
    let first = format!("-- fleet server: {name}");
    let mut lines = readme.lines();
    while let Some(line) = lines.next() {
        if line.trim() != "```sql" {
            continue;
        }
        let block: Vec<&str> = lines.by_ref().take_while(|l| l.trim() != "```").collect();
        if block.first().is_some_and(|l| l.trim() == first) {
            return block.join("\n") + "\n";
        }
    }
    panic!("README.md has no ```sql step starting with {first:?}");
}
