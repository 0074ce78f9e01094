//! The private PostgreSQL cluster helper itself (tests/common/postgres.rs): superuser SQL,
//! set up by README's SQL steps, password logins as a host's role `sentry_web1` over TCP, TLS verified against the cluster's own CA,
//! and an outage with stop() / restart().

mod common;

use std::os::unix::fs::PermissionsExt;
use std::process::{Command, Output};

use common::postgres::PgCluster;

/// `psql CONNINFO -c SQL` as a client would run it, with the given password.
fn client(conninfo: &str, password: &str, sql: &str) -> Output {
    let mut cmd = Command::new("psql");
    for (key, _) in std::env::vars_os() {
        if key.to_str().is_some_and(|k| k.starts_with("PG")) {
            cmd.env_remove(key);
        }
    }
    cmd.arg(conninfo)
        .args(["-X", "-A", "-t", "-c", sql])
        .env("PGPASSWORD", password)
        .env("PGCONNECT_TIMEOUT", "5")
        .output()
        .expect("run psql")
}

fn client_ok(conninfo: &str, password: &str, sql: &str) -> String {
    let out = client(conninfo, password, sql);
    assert!(
        out.status.success(),
        "psql {conninfo:?} -c {sql:?} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).trim().to_string()
}

#[test]
fn private_cluster_serves_password_and_tls_logins_and_survives_an_outage() {
    let Some(pg) = PgCluster::start() else {
        return;
    };
    assert_eq!(pg.psql("select 1"), "1");
    assert!(
        pg.url("web1")
            .starts_with("postgres://sentry_web1@127.0.0.1:")
    );
    assert_eq!(
        pg.tls_url("web1"),
        format!("{}?sslmode=require", pg.url("web1"))
    );

    let password_file = pg.add_host("web1");
    assert_eq!(password_file, pg.password_file("web1"));
    let mode = std::fs::metadata(&password_file)
        .expect("password file")
        .permissions()
        .mode();
    assert_eq!(mode & 0o777, 0o600, "password file mode {mode:o}");
    let text = std::fs::read_to_string(&password_file).expect("read password file");
    assert!(text.ends_with('\n') && text.trim() == text.trim_end_matches('\n'));
    let password = text.trim_end_matches('\n');

    // Password (scram-sha-256) login over TCP, plain URL and sslmode=require.
    assert_eq!(
        client_ok(&pg.url("web1"), password, "select current_user"),
        "sentry_web1"
    );
    assert_eq!(
        client_ok(
            &pg.tls_url("web1"),
            password,
            "select ssl from pg_stat_ssl where pid = pg_backend_pid()"
        ),
        "t"
    );
    let wrong = client(&pg.url("web1"), "not-the-password", "select 1");
    assert!(!wrong.status.success(), "a wrong password was accepted");

    // Full verification: the server certificate chains to ca_file() and names 127.0.0.1.
    let verify_full = format!(
        "host=127.0.0.1 port={} dbname=sentry user=sentry_web1 sslmode=verify-full sslrootcert={}",
        pg.port(),
        pg.ca_file().display()
    );
    assert_eq!(
        client_ok(
            &verify_full,
            password,
            "select current_user || ' ' || ssl from pg_stat_ssl where pid = pg_backend_pid()"
        ),
        "sentry_web1 true"
    );

    // A host's role reads the fleet's tables and creates nothing.
    assert_eq!(
        client_ok(&pg.url("web1"), password, "select sentry.session_host()"),
        "web1"
    );
    let created = client(&pg.url("web1"), password, "create table sentry.t (x int)");
    assert!(!created.status.success(), "a host created a table");

    // An outage: nothing connects while stopped; the same data is back after restart().
    pg.stop();
    let down = client(&pg.url("web1"), password, "select 1");
    assert!(!down.status.success(), "connected to a stopped server");
    pg.stop(); // stopping twice is harmless
    pg.restart();
    assert_eq!(
        client_ok(
            &pg.url("web1"),
            password,
            "select count(*) from sentry.decisions"
        ),
        "0"
    );
    assert_eq!(
        client_ok(&verify_full, password, "select current_user"),
        "sentry_web1"
    );
}
