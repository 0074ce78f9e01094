/*!
The fleet's PostgreSQL server: connection (TLS through rustls, password from a file), the
checks that the schema and the role are what this build expects, and the two operations a
host performs — push its news, pull the others'.

The database superuser creates and migrates the `sentry` schema (README, "The fleet
server"); a host only reads its tables and writes through `sentry.push`, a SECURITY
DEFINER function that stamps every row with the host the session's role stands for, so a
host cannot write, change or delete another host's rows. sentry refuses a role that could
write around that function (see [`privileges`]) unless the admin allows it.

An optional step of the same schema version (README, "allows with their accounts") adds
`sentry.decisions.trust` and a `sentry.push` taking it: a host finds out whether the
server has it when it connects, so hosts that predate it, and servers that lack it, keep
working as before (a version bump would lock older hosts out).

Every row pushed gets a number from one sequence, `sentry.change_id`, and each host pulls
what is numbered above its cursor. For that to lose nothing, numbers must become visible
in order: `sentry.push` takes a transaction-scoped advisory lock before drawing numbers, so
two pushes never interleave and a lower number always commits first. Pushes are a few rows
each, so this serialisation costs nothing noticeable; pulls take no lock.
*/

use std::path::Path;
use std::str::FromStr;
use std::time::Duration;

use postgres::Client;

use crate::config::FleetConfig;
use crate::error::{Error, Result};

/// The schema this build speaks; the admin migrates the server to it (README).
const SCHEMA_VERSION: i32 = 2;
/// Rows per pull query.
pub const PULL_BATCH: i64 = 5000;
/// Connecting, and any one statement, give up after this.
const TIMEOUT: Duration = Duration::from_secs(10);

/// A decision as the fleet carries it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FleetDecision {
    pub change_id: i64,
    pub host: String,
    pub local_id: i64,
    pub ip: String,
    pub action: String,
    pub at: i64,
    pub reason: String,
    /// An automatic allow's accounts and their last logins (`{"alice": 1764590000}`), as
    /// its host sent them; None from hosts or servers without the `trust` column.
    pub trust: Option<String>,
}

/// A decision as this host pushes it: local id, address, action, time, reason, trust.
pub type PushedDecision = (i64, String, String, i64, String, Option<String>);

/// One host's evidence total for an address, service and kind.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FleetEvidence {
    pub change_id: i64,
    pub host: String,
    pub ip: String,
    pub service: String,
    pub kind: String,
    pub count: i64,
}

/// What one pull brought, in change order per kind.
#[derive(Debug, Default)]
pub struct Pulled {
    pub decisions: Vec<FleetDecision>,
    pub evidence: Vec<FleetEvidence>,
    /// The cursor after this pull.
    pub cursor: i64,
    /// More is waiting beyond `cursor`.
    pub more: bool,
}

/// A connection to the fleet server.
pub struct FleetServer {
    client: Client,
    /// The server has the optional `trust` column and the `sentry.push` that takes it.
    carries_trust: bool,
}

/// The `sentry.push` of the optional step: the version 2 one with `in_trusts` added.
const PUSH_WITH_TRUST: &str = "sentry.push(text, text, bigint[], text[], text[], bigint[], \
     text[], text[], text[], text[], bigint[], text[])";

impl FleetServer {
    /// Connects (TLS when the URL's sslmode asks for it) and checks the schema's version,
    /// the role's privileges and that the role is this host's.
    pub fn connect(config: &FleetConfig) -> Result<FleetServer> {
        let mut pg = postgres::Config::from_str(&config.url)
            .map_err(|e| Error::Input(format!("fleet.url: {e}")))?;
        if let Some(file) = &config.password_file {
            let text = std::fs::read_to_string(file).map_err(|e| {
                Error::Runtime(format!(
                    "cannot read fleet.password_file {}: {e}",
                    file.display()
                ))
            })?;
            pg.password(text.lines().next().unwrap_or_default());
        }
        pg.connect_timeout(TIMEOUT)
            .tcp_user_timeout(TIMEOUT)
            .keepalives(true)
            .application_name(&format!("sentry {}", config.host_id))
            .options(&format!(
                "-c statement_timeout={} -c lock_timeout={}",
                TIMEOUT.as_millis(),
                TIMEOUT.as_millis()
            ));
        let tls =
            tokio_postgres_rustls::MakeRustlsConnect::new(tls_config(config.ca_file.as_deref())?);
        let client = pg
            .connect(tls)
            .map_err(|e| unreachable_error(&config.url, &e))?;
        let mut server = FleetServer {
            client,
            carries_trust: false,
        };
        server.check_schema(&config.url)?;
        server.carries_trust = server.has_trust(&config.url)?;
        if !config.allow_privileged_role
            && let Some(why) = server.privileges(&config.url)?
        {
            return Err(Error::Input(format!(
                "the fleet role of {} {why}: through it this host could write any host's rows, \
                 and so could whoever takes it over. Log in as this host's own role \
                 (sentry_{}, a member of sentry_host; README \"The fleet server\"), or set \
                 [fleet] allow_privileged_role = true",
                config.url, config.host_id
            )));
        }
        server.check_host(config)?;
        Ok(server)
    }

    /// The schema must be the version this build speaks; the admin creates and migrates it.
    fn check_schema(&mut self, url: &str) -> Result<()> {
        let found: Option<i32> = match self
            .client
            .query_opt("SELECT max(version) FROM sentry.schema_version", &[])
        {
            Ok(row) => row.and_then(|row| row.get(0)),
            Err(e) if e.code() == Some(&postgres::error::SqlState::UNDEFINED_TABLE) => None,
            Err(e) if e.code() == Some(&postgres::error::SqlState::INSUFFICIENT_PRIVILEGE) => {
                return Err(Error::Runtime(format!(
                    "the fleet server {url} refuses this role the sentry schema ({e}): the \
                     database superuser makes each host's role a member of sentry_host \
                     (README \"The fleet server\")"
                )));
            }
            Err(e) => return Err(unreachable_error(url, &e)),
        };
        match found {
            Some(SCHEMA_VERSION) => Ok(()),
            Some(v) if v > SCHEMA_VERSION => Err(Error::Runtime(format!(
                "the fleet schema on {url} is version {v}, newer than this sentry \
                 understands ({SCHEMA_VERSION}); update sentry on this host"
            ))),
            Some(v) => Err(Error::Runtime(format!(
                "the fleet schema on {url} is version {v}; this sentry needs version \
                 {SCHEMA_VERSION}: the database superuser applies the later steps of README \
                 \"The fleet server\""
            ))),
            None => Err(Error::Runtime(format!(
                "no sentry schema on the fleet server {url}: the database superuser creates it \
                 (README \"The fleet server\")"
            ))),
        }
    }

    /// Whether the optional step that carries an allow's accounts was applied.
    fn has_trust(&mut self, url: &str) -> Result<bool> {
        self.client
            .query_one(
                &format!(
                    "SELECT pg_catalog.to_regprocedure('{PUSH_WITH_TRUST}') IS NOT NULL
                        AND EXISTS (SELECT 1 FROM pg_catalog.pg_attribute
                                    WHERE attrelid = 'sentry.decisions'::regclass
                                      AND attname = 'trust' AND NOT attisdropped)"
                ),
                &[],
            )
            .map(|row| row.get(0))
            .map_err(|e| unreachable_error(url, &e))
    }

    /// Whether allows travel with their accounts (the server has the optional step).
    pub fn carries_trust(&self) -> bool {
        self.carries_trust
    }

    /// Why this session's role could write around `sentry.push`, if it could: a superuser
    /// or BYPASSRLS role (or a member of one), a member of the owner of the schema or of
    /// anything in it, or one granted writes on its tables or sequence.
    fn privileges(&mut self, url: &str) -> Result<Option<String>> {
        let row = self
            .client
            .query_one(
                "SELECT
                   EXISTS (SELECT 1 FROM pg_catalog.pg_roles r
                           WHERE (r.rolsuper OR r.rolbypassrls)
                             AND pg_catalog.pg_has_role(current_user, r.oid, 'MEMBER')),
                   pg_catalog.pg_has_role(current_user, n.nspowner, 'MEMBER')
                   OR EXISTS (SELECT 1 FROM pg_catalog.pg_class c
                              WHERE c.relnamespace = n.oid
                                AND pg_catalog.pg_has_role(current_user, c.relowner, 'MEMBER'))
                   OR EXISTS (SELECT 1 FROM pg_catalog.pg_proc p
                              WHERE p.pronamespace = n.oid
                                AND pg_catalog.pg_has_role(current_user, p.proowner, 'MEMBER')),
                   EXISTS (SELECT 1 FROM pg_catalog.pg_class c
                           WHERE c.relnamespace = n.oid AND c.relkind = 'r'
                             AND pg_catalog.has_table_privilege(c.oid,
                                   'INSERT, UPDATE, DELETE, TRUNCATE'))
                   OR pg_catalog.has_sequence_privilege('sentry.change_id', 'UPDATE')
                 FROM pg_catalog.pg_namespace n WHERE n.nspname = 'sentry'",
                &[],
            )
            .map_err(|e| unreachable_error(url, &e))?;
        let (superuser, owner, writes): (bool, bool, bool) = (row.get(0), row.get(1), row.get(2));
        Ok(if superuser {
            Some("is a superuser or BYPASSRLS role".to_string())
        } else if owner {
            Some("owns the sentry schema or objects in it".to_string())
        } else if writes {
            Some("may write the sentry tables directly".to_string())
        } else {
            None
        })
    }

    /// The server stamps rows with the host the role stands for: it must be `host_id`.
    fn check_host(&mut self, config: &FleetConfig) -> Result<()> {
        let host: Option<String> = self
            .client
            .query_one("SELECT sentry.session_host()", &[])
            .map_err(|e| unreachable_error(&config.url, &e))?
            .get(0);
        match host {
            Some(host) if host == config.host_id => Ok(()),
            Some(host) => Err(Error::Input(format!(
                "fleet.host_id is {:?}, but the server takes this role (fleet.url {}) for \
                 host {host:?}: set host_id = {host:?}, or log in as sentry_{}",
                config.host_id, config.url, config.host_id
            ))),
            None => Err(Error::Runtime(format!(
                "the role of fleet.url {} is no fleet host: the database superuser runs \
                 CREATE ROLE sentry_{} LOGIN IN ROLE sentry_host (README \"The fleet server\")",
                config.url, config.host_id
            ))),
        }
    }

    /// Sends this host's new decisions and evidence totals in one call of `sentry.push`,
    /// which writes them under the host this role stands for. Repeating a push is harmless:
    /// decisions are keyed by (host, local id), evidence by its key.
    ///
    /// `install` identifies this host's database: a second machine with the same host id
    /// (a cloned VM), or this machine with a new database, would have its decisions taken
    /// for the old ones' (same host, same local numbers) and silently dropped, so it is
    /// refused instead.
    pub fn push(
        &mut self,
        host: &str,
        install: &str,
        decisions: &[PushedDecision],
        evidence: &[(String, String, String, i64)],
    ) -> Result<()> {
        let err = |e: postgres::Error| Error::Runtime(format!("fleet push failed: {e}"));
        // Arrays unnested in order by the server: one statement, not a round trip per row.
        let local_ids: Vec<i64> = decisions.iter().map(|d| d.0).collect();
        let ips: Vec<&str> = decisions.iter().map(|d| d.1.as_str()).collect();
        let actions: Vec<&str> = decisions.iter().map(|d| d.2.as_str()).collect();
        let ats: Vec<i64> = decisions.iter().map(|d| d.3).collect();
        let reasons: Vec<&str> = decisions.iter().map(|d| d.4.as_str()).collect();
        let evidence_ips: Vec<&str> = evidence.iter().map(|e| e.0.as_str()).collect();
        let services: Vec<&str> = evidence.iter().map(|e| e.1.as_str()).collect();
        let kinds: Vec<&str> = evidence.iter().map(|e| e.2.as_str()).collect();
        let counts: Vec<i64> = evidence.iter().map(|e| e.3).collect();
        let trusts: Vec<Option<&str>> = decisions.iter().map(|d| d.5.as_deref()).collect();
        let version = env!("CARGO_PKG_VERSION");
        let mut params: Vec<&(dyn postgres::types::ToSql + Sync)> = vec![
            &install,
            &version,
            &local_ids,
            &ips,
            &actions,
            &ats,
            &reasons,
            &evidence_ips,
            &services,
            &kinds,
            &counts,
        ];
        let call = if self.carries_trust {
            params.push(&trusts);
            "SELECT sentry.push($1, $2, $3::bigint[], $4::text[], $5::text[], $6::bigint[],
                                $7::text[], $8::text[], $9::text[], $10::text[], $11::bigint[],
                                $12::text[])"
        } else {
            "SELECT sentry.push($1, $2, $3::bigint[], $4::text[], $5::text[], $6::bigint[],
                                $7::text[], $8::text[], $9::text[], $10::text[], $11::bigint[])"
        };
        let accepted: bool = self.client.query_one(call, &params).map_err(err)?.get(0);
        if !accepted {
            return Err(Error::Runtime(format!(
                "fleet host_id {host:?} is already used by another sentry database (a cloned \
                 machine?); nothing was sent. Give this host its own [fleet] host_id and role, \
                 or, if this machine's database was recreated, have the database superuser \
                 remove the old one's rows: DELETE FROM sentry.decisions WHERE host = '{host}'; \
                 DELETE FROM sentry.evidence WHERE host = '{host}'; DELETE FROM sentry.hosts \
                 WHERE host = '{host}';"
            )));
        }
        Ok(())
    }

    /// Other hosts' rows numbered above `cursor`, at most `PULL_BATCH` of each kind; only
    /// those of current members (a revoked host's rows are ignored from then on).
    pub fn pull(&mut self, host: &str, cursor: i64) -> Result<Pulled> {
        let err = |e: postgres::Error| Error::Runtime(format!("fleet pull failed: {e}"));
        let mut tx = self
            .client
            .build_transaction()
            .isolation_level(postgres::IsolationLevel::RepeatableRead)
            .read_only(true)
            .start()
            .map_err(err)?;
        let trust = if self.carries_trust {
            "trust"
        } else {
            "NULL::text"
        };
        let decisions: Vec<FleetDecision> = tx
            .query(
                &format!(
                    "SELECT change_id, host, local_id, ip, action, at, reason, {trust}
                     FROM sentry.decisions
                     WHERE change_id > $1 AND host <> $2
                       AND host IN (SELECT host FROM sentry.members)
                     ORDER BY change_id LIMIT $3"
                ),
                &[&cursor, &host, &PULL_BATCH],
            )
            .map_err(err)?
            .into_iter()
            .map(|r| FleetDecision {
                change_id: r.get(0),
                host: r.get(1),
                local_id: r.get(2),
                ip: r.get(3),
                action: r.get(4),
                at: r.get(5),
                reason: r.get(6),
                trust: r.get(7),
            })
            .collect();
        let evidence: Vec<FleetEvidence> = tx
            .query(
                "SELECT change_id, host, ip, service, kind, count FROM sentry.evidence
                 WHERE change_id > $1 AND host <> $2
                   AND host IN (SELECT host FROM sentry.members)
                 ORDER BY change_id LIMIT $3",
                &[&cursor, &host, &PULL_BATCH],
            )
            .map_err(err)?
            .into_iter()
            .map(|r| FleetEvidence {
                change_id: r.get(0),
                host: r.get(1),
                ip: r.get(2),
                service: r.get(3),
                kind: r.get(4),
                count: r.get(5),
            })
            .collect();
        tx.commit().map_err(err)?;
        Ok(cut_at_common_boundary(decisions, evidence, cursor))
    }
}

/// When one kind filled its batch, the other may already reach further: keep only what
/// lies at or below the smaller of the full batches' last numbers, so the next pull
/// starts where nothing was skipped.
fn cut_at_common_boundary(
    mut decisions: Vec<FleetDecision>,
    mut evidence: Vec<FleetEvidence>,
    cursor: i64,
) -> Pulled {
    let full = |len: usize| i64::try_from(len).unwrap_or(i64::MAX) >= PULL_BATCH;
    let mut boundary = i64::MAX;
    if full(decisions.len()) {
        boundary = boundary.min(decisions.last().map_or(cursor, |d| d.change_id));
    }
    if full(evidence.len()) {
        boundary = boundary.min(evidence.last().map_or(cursor, |e| e.change_id));
    }
    let more = boundary != i64::MAX;
    decisions.retain(|d| d.change_id <= boundary);
    evidence.retain(|e| e.change_id <= boundary);
    let last = decisions
        .iter()
        .map(|d| d.change_id)
        .chain(evidence.iter().map(|e| e.change_id))
        .max()
        .unwrap_or(cursor);
    Pulled {
        decisions,
        evidence,
        cursor: if more { boundary } else { last.max(cursor) },
        more,
    }
}

/// rustls trusting `ca_file`, or the system's CA bundle.
fn tls_config(ca_file: Option<&Path>) -> Result<rustls::ClientConfig> {
    use rustls_pki_types::CertificateDer;
    use rustls_pki_types::pem::PemObject;
    let path = ca_file.unwrap_or(Path::new("/etc/ssl/certs/ca-certificates.crt"));
    let mut roots = rustls::RootCertStore::empty();
    let mut pinned = Vec::new();
    // A missing system bundle only matters when the URL asks for TLS; then the
    // handshake fails with a message naming the certificate.
    if ca_file.is_some() || path.exists() {
        let certs = CertificateDer::pem_file_iter(path).map_err(|e| {
            Error::Runtime(format!("cannot read the CA file {}: {e}", path.display()))
        })?;
        for cert in certs {
            let cert =
                cert.map_err(|e| Error::Runtime(format!("the CA file {}: {e}", path.display())))?;
            if ca_file.is_some() {
                pinned.push(cert.clone());
            }
            // The system bundle holds a few certificates rustls cannot use; skip those.
            let _ = roots.add(cert);
        }
        if ca_file.is_some() && pinned.is_empty() {
            return Err(Error::Input(format!(
                "fleet.ca_file {} holds no PEM certificate (-----BEGIN CERTIFICATE-----)",
                path.display()
            )));
        }
    }
    let provider = std::sync::Arc::new(rustls::crypto::ring::default_provider());
    let chains = rustls::client::WebPkiServerVerifier::builder_with_provider(
        std::sync::Arc::new(roots),
        provider.clone(),
    )
    .build()
    .ok();
    let verifier = ServerCertificate {
        pinned,
        chains,
        algorithms: provider.signature_verification_algorithms,
    };
    let config = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| Error::Runtime(format!("TLS set-up: {e}")))?
        .dangerous()
        .with_custom_certificate_verifier(std::sync::Arc::new(verifier))
        .with_no_client_auth();
    Ok(config)
}

/// How the fleet server's certificate is checked: exactly a certificate the administrator
/// put in `ca_file` (a self-signed one, such as Debian's "snakeoil" that PostgreSQL uses
/// out of the box), else a chain to a CA in `ca_file` or the system bundle with the host
/// name of the URL. Either way the server must prove it holds the certificate's key.
#[derive(Debug)]
struct ServerCertificate {
    pinned: Vec<rustls_pki_types::CertificateDer<'static>>,
    chains: Option<std::sync::Arc<rustls::client::WebPkiServerVerifier>>,
    algorithms: rustls::crypto::WebPkiSupportedAlgorithms,
}

impl rustls::client::danger::ServerCertVerifier for ServerCertificate {
    fn verify_server_cert(
        &self,
        end_entity: &rustls_pki_types::CertificateDer<'_>,
        intermediates: &[rustls_pki_types::CertificateDer<'_>],
        server_name: &rustls_pki_types::ServerName<'_>,
        ocsp_response: &[u8],
        now: rustls_pki_types::UnixTime,
    ) -> std::result::Result<rustls::client::danger::ServerCertVerified, rustls::Error> {
        if self
            .pinned
            .iter()
            .any(|c| c.as_ref() == end_entity.as_ref())
        {
            return Ok(rustls::client::danger::ServerCertVerified::assertion());
        }
        match &self.chains {
            Some(chains) => chains.verify_server_cert(
                end_entity,
                intermediates,
                server_name,
                ocsp_response,
                now,
            ),
            None => Err(rustls::Error::InvalidCertificate(
                rustls::CertificateError::UnknownIssuer,
            )),
        }
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &rustls_pki_types::CertificateDer<'_>,
        dss: &rustls::DigitallySignedStruct,
    ) -> std::result::Result<rustls::client::danger::HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls12_signature(message, cert, dss, &self.algorithms)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &rustls_pki_types::CertificateDer<'_>,
        dss: &rustls::DigitallySignedStruct,
    ) -> std::result::Result<rustls::client::danger::HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls13_signature(message, cert, dss, &self.algorithms)
    }

    fn supported_verify_schemes(&self) -> Vec<rustls::SignatureScheme> {
        self.algorithms.supported_schemes()
    }
}

/// The server could not be reached or refused us: say which, and that this host is fine.
fn unreachable_error(url: &str, e: &postgres::Error) -> Error {
    let mut detail = e.to_string();
    let mut source = std::error::Error::source(e);
    while let Some(inner) = source {
        detail.push_str(&format!(": {inner}"));
        source = inner.source();
    }
    // sentry always verifies the server (a forged server could block anyone fleet-wide),
    // also where libpq's sslmode=prefer or require would not: say how to make it trusted.
    let advice = if detail.contains("certificate") {
        "; the server's TLS certificate is not trusted: set [fleet] ca_file to the \
         certificate itself when it is self-signed (Debian's PostgreSQL: \
         /etc/ssl/certs/ssl-cert-snakeoil.pem on the server), or to the CA that signed it (then \
         url must name the server as its certificate does); on a trusted private network, \
         sslmode=disable in url turns TLS off"
    } else if detail.contains("CONNECT privilege") {
        "; this role is no fleet host: the database superuser makes each host's own role a \
         member of sentry_host (README \"The fleet server\")"
    } else {
        ""
    };
    Error::Runtime(format!(
        "fleet server {url} unavailable ({detail}){advice}; this host's own protection is \
         unaffected, and its news will be sent at the next successful sync"
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn d(id: i64) -> FleetDecision {
        FleetDecision {
            change_id: id,
            host: "a".into(),
            local_id: id,
            ip: "192.0.2.1".into(),
            action: "block".into(),
            at: 1,
            reason: String::new(),
            trust: None,
        }
    }

    #[test]
    fn a_pull_never_skips_past_a_full_batch() {
        let batch = usize::try_from(PULL_BATCH).expect("small");
        // Decisions fill their batch up to 5000; evidence (none here) cannot reach beyond.
        let decisions: Vec<_> = (1..=batch as i64).map(d).collect();
        let pulled = cut_at_common_boundary(decisions, Vec::new(), 0);
        assert!(pulled.more);
        assert_eq!(pulled.cursor, PULL_BATCH);
        // Not full: everything, cursor at the last number.
        let pulled = cut_at_common_boundary(vec![d(7), d(9)], Vec::new(), 3);
        assert!(!pulled.more);
        assert_eq!(pulled.cursor, 9);
        let pulled = cut_at_common_boundary(Vec::new(), Vec::new(), 3);
        assert_eq!(pulled.cursor, 3);
    }
}
