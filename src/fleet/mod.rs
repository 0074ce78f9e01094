/*!
Fleet mode: hosts share what they decide and what they see through one PostgreSQL
server, so a bot blocked on one host is blocked on all, and one that spreads its attempts
over many hosts is caught by the sum.

The local SQLite database stays the authority for this host and `--connect` never touches
the network: `sentry sync` (a timer) and `sentry ingest` call [`exchange`], which
1. pushes this host's decisions (the `decisions` history, origin "") and evidence totals
   changed since the last push — what was not sent, for any reason, is sent next time;
2. pulls the other hosts' rows numbered above this host's cursor, and applies them:
   blocks and allows (as `share` says) to addresses not listed here; an allow or a
   delisting from host X also lifts a block that came from X, and nothing else. An
   automatic allow carries its accounts and last logins where the server has the optional
   `trust` column (a renewal travels as another allow): they are trusted here by this
   host's rules (`policy::fleet_trust`), and an allow without them, for any account. A
   block is taken while it would still be in force here, by this host's count of blocks. This
   host's own decisions are never changed by the fleet. An IPv6 prefix blocked whole
   travels as a decision whose address is the prefix (`2001:db8:1:2::/64`), which older
   sentries skip as not an address; here it is taken when prefixes are on, no wider than
   `ipv6_prefix`, and nothing in it is never-block or allowed;
3. blocks addresses whose evidence summed over the fleet passes the fleet rule
   (`policy::decide_fleet`). `never_block` stays local and wins; a local allow wins.

The server makes sure each row's host is the host that wrote it, but a member can still
be taken over: from any one host at most `max_rows_per_host` listings and as many
evidence rows are taken per exchange, the rest is dropped (the cursor moves past it) and
`sentry check` reports the flood.

A server that cannot be reached leaves this host as it was; the failure is counted and
the next attempt waits (2 s, 4 s, ... up to 5 minutes) so a timer every few seconds does
not hammer a server that is down. `sentry check` warns while it lasts.
*/

pub mod server;

use std::collections::{BTreeMap, BTreeSet, HashMap};

use crate::actions::{Decision, PrefixDecision, Sentry, add_stored};
use crate::atomic_file::FileLock;
use crate::config::FleetConfig;
use crate::error::{Error, Result};
use crate::ip::{ClientIp, Network};

use crate::policy::{self, Evidence, Verdict};
use crate::store::fleet_state::HostEvidence;
use crate::store::trust::ACCOUNTS_PER_ADDRESS;
use crate::store::{FLEET_ORIGIN, Listing, TrustedAccount};
use server::{FleetServer, Pulled};

const PUSHED_DECISION: &str = "fleet_pushed_decision";
const PUSHED_EVIDENCE: &str = "fleet_pushed_evidence";
const CURSOR: &str = "fleet_cursor";
/// Consecutive failed exchanges, the time of the next attempt, the last success, the last error.
pub const FAILURES: &str = "fleet_failures";
const NEXT_TRY: &str = "fleet_next_try";
pub const LAST_OK: &str = "fleet_last_ok";
pub const LAST_ERROR: &str = "fleet_last_error";
const LOCK: &str = ".fleet.lock";
const INSTALL_ID: &str = "fleet_install_id";
/// The last flood: "<unix time> <what was dropped from whom>".
pub const FLOOD: &str = "fleet_flood";
/// Decisions per push transaction.
const PUSH_BATCH: u32 = 5000;
/// The longest trust text taken from another host: `ACCOUNTS_PER_ADDRESS` names of
/// `ACCOUNT_NAME_MAX` bytes (JSON-escaped) and their times fit well below it.
const MAX_TRUST_TEXT: usize = 16_384;
/// The longest wait between attempts while the server is unreachable.
const MAX_BACKOFF: i64 = 300;

/// What one exchange did.
#[derive(Debug, Default)]
pub struct Exchange {
    pub pushed_decisions: usize,
    pub pushed_evidence: usize,
    pub pulled_decisions: usize,
    pub pulled_evidence: usize,
    /// Listing changes made here because of the fleet.
    pub applied: Vec<Decision>,
    /// Prefixes blocked or unblocked here because of the fleet.
    pub applied_prefixes: Vec<PrefixDecision>,
    /// Per host over `max_rows_per_host`: the listings and evidence rows dropped.
    pub flooded: BTreeMap<String, [u64; 2]>,
}

/// What each other host sent in this exchange, against `max_rows_per_host`.
struct Intake {
    limit: u64,
    taken: HashMap<String, [u64; 2]>,
}

const LISTINGS: usize = 0;
const EVIDENCE: usize = 1;

impl Intake {
    /// Counts one row of `host`'s; false once the host is over its share (a flood).
    fn take(&mut self, host: &str, which: usize, flooded: &mut BTreeMap<String, [u64; 2]>) -> bool {
        let taken = self.taken.entry(host.to_string()).or_default();
        taken[which] += 1;
        if taken[which] <= self.limit {
            return true;
        }
        flooded.entry(host.to_string()).or_default()[which] += 1;
        false
    }
}

/// Whether an exchange ran.
#[derive(Debug)]
pub enum Outcome {
    Exchanged(Exchange),
    /// The server failed recently; the next attempt is due at `until`.
    Backoff {
        until: i64,
        failures: i64,
    },
}

/// One exchange with the fleet server (see the module comment). `respect_backoff`: skip
/// while a recent failure's wait runs (timers and ingest); an admin's `sync` tries now.
pub fn exchange(sentry: &mut Sentry, respect_backoff: bool) -> Result<Outcome> {
    let Some(fleet) = sentry.config.fleet.clone() else {
        return Err(Error::Input(
            "no [fleet] section in the configuration".into(),
        ));
    };
    let _one_at_a_time = FileLock::acquire(
        &sentry.config.root.join(LOCK),
        std::time::Duration::from_secs(30),
    )?;
    let now = sentry.now();
    let failures = sentry.store.meta_number(FAILURES)?;
    let next_try = sentry.store.meta_number(NEXT_TRY)?;
    if respect_backoff && failures > 0 && now < next_try {
        return Ok(Outcome::Backoff {
            until: next_try,
            failures,
        });
    }
    match run(sentry, &fleet) {
        Ok(done) => {
            sentry.store.set_meta(&[
                (FAILURES, "0".into()),
                (NEXT_TRY, "0".into()),
                (LAST_OK, now.to_string()),
                (LAST_ERROR, String::new()),
            ])?;
            Ok(Outcome::Exchanged(done))
        }
        Err(e) => {
            let failures = failures + 1;
            let wait = 1_i64
                .checked_shl(u32::try_from(failures.min(20)).unwrap_or(20))
                .unwrap_or(MAX_BACKOFF)
                .min(MAX_BACKOFF);
            sentry.store.set_meta(&[
                (FAILURES, failures.to_string()),
                (NEXT_TRY, (now + wait).to_string()),
                (LAST_ERROR, e.to_string()),
            ])?;
            crate::syslog::warn(&format!("fleet exchange failed: {e}"));
            Err(e)
        }
    }
}

/// `ingest`'s companion thread: an exchange every `interval` for as long as the process
/// lives. Failures are reported (stderr, syslog) and retried after the back-off; they never
/// stop the log stream.
pub fn keep_exchanging(
    config: crate::config::Config,
    interval: std::time::Duration,
    now: &dyn Fn() -> i64,
) {
    loop {
        let result = Sentry::open(
            config.clone(),
            crate::actions::Patience::Admin,
            now(),
            false,
        )
        .and_then(|mut sentry| {
            let migrated = sentry.store.migrate()?;
            sentry.catch_up(migrated)?;
            exchange(&mut sentry, true)
        });
        if let Err(e) = result {
            eprintln!("sentry: {e}");
        }
        std::thread::sleep(interval);
    }
}

/// This database's identity in the fleet, made once (16 random bytes, hex).
fn install_id(sentry: &mut Sentry) -> Result<String> {
    if let Some(id) = sentry.store.meta(INSTALL_ID)?.filter(|id| !id.is_empty()) {
        return Ok(id);
    }
    let mut bytes = [0u8; 16];
    std::io::Read::read_exact(
        &mut std::fs::File::open("/dev/urandom")
            .map_err(|e| Error::io("open", "/dev/urandom".as_ref(), &e))?,
        &mut bytes,
    )
    .map_err(|e| Error::io("read", "/dev/urandom".as_ref(), &e))?;
    let id: String = bytes.iter().map(|b| format!("{b:02x}")).collect();
    sentry.store.set_meta(&[(INSTALL_ID, id.clone())])?;
    Ok(id)
}

fn run(sentry: &mut Sentry, fleet: &FleetConfig) -> Result<Exchange> {
    let install = install_id(sentry)?;
    let mut server = FleetServer::connect(fleet)?;
    let mut done = Exchange::default();
    let mut touched: BTreeSet<ClientIp> = BTreeSet::new();
    let mut intake = Intake {
        limit: u64::from(fleet.max_rows_per_host),
        taken: HashMap::new(),
    };
    push(
        sentry,
        fleet,
        &install,
        &mut server,
        &mut done,
        &mut touched,
    )?;
    loop {
        let cursor = sentry.store.meta_number(CURSOR)?;
        let pulled = server.pull(&fleet.host_id, cursor)?;
        done.pulled_decisions += pulled.decisions.len();
        done.pulled_evidence += pulled.evidence.len();
        apply_pulled(sentry, fleet, &pulled, &mut intake, &mut done, &mut touched)?;
        sentry
            .store
            .set_meta(&[(CURSOR, pulled.cursor.to_string())])?;
        if !pulled.more {
            break;
        }
    }
    if !done.flooded.is_empty() {
        let what: Vec<String> = done
            .flooded
            .iter()
            .map(|(host, [listings, evidence])| {
                format!("{host} (dropped {listings} listings, {evidence} evidence rows)")
            })
            .collect();
        let text = format!(
            "fleet hosts sent more than max_rows_per_host = {} in one exchange: {}",
            fleet.max_rows_per_host,
            what.join(", ")
        );
        crate::syslog::warn(&text);
        sentry
            .store
            .set_meta(&[(FLOOD, format!("{} {text}", sentry.now()))])?;
    }
    let verdicts = fleet_verdicts(sentry, fleet, &touched)?;
    sentry.apply_automatic(verdicts.clone())?;
    done.applied.extend(verdicts);
    Ok(done)
}

/// Sends what this host decided and saw since the last push, batch by batch; each batch's
/// marker is stored only after the server committed it.
fn push(
    sentry: &mut Sentry,
    fleet: &FleetConfig,
    install: &str,
    server: &mut FleetServer,
    done: &mut Exchange,
    touched: &mut BTreeSet<ClientIp>,
) -> Result<()> {
    let mut first = true;
    loop {
        let after = sentry.store.meta_number(PUSHED_DECISION)?;
        let rows = sentry.store.own_decisions_after(after, PUSH_BATCH)?;
        let evidence_after = sentry.store.meta_number(PUSHED_EVIDENCE)?;
        // Every row of a change number goes in one push (a number can cover many rows).
        let evidence = sentry
            .store
            .evidence_changed_after(evidence_after, u32::MAX)?;
        // The first push goes even when empty: it is also how the server learns this host
        // is alive, and where a second database under the same host id is caught.
        let empty = rows.is_empty() && evidence.is_empty();
        if empty && !first {
            return Ok(());
        }
        first = false;
        let mut shared: Vec<server::PushedDecision> = Vec::with_capacity(rows.len());
        for r in &rows {
            let trust = match r.action.as_str() {
                "allow" if fleet.share_allows && server.carries_trust() => {
                    pushed_trust(sentry, &r.ip)?
                }
                // A renewal travels as a new allow with its accounts, where the server
                // can carry them (without them it would be an allow of any account).
                "trust" if fleet.share_allows && server.carries_trust() => {
                    match pushed_trust(sentry, &r.ip)? {
                        Some(trust) => Some(trust),
                        None => continue,
                    }
                }
                "block" if fleet.share_blocks => None,
                "allow" if fleet.share_allows => None,
                "unlist" => None,
                _ => continue,
            };
            let action = if r.action == "trust" {
                "allow"
            } else {
                &r.action
            };
            shared.push((
                r.id,
                r.ip.clone(),
                action.to_string(),
                r.at,
                r.reason.clone(),
                trust,
            ));
        }
        let totals: Vec<(String, String, String, i64)> = evidence
            .iter()
            .map(|e| (e.ip.clone(), e.service.clone(), e.kind.clone(), e.count))
            .collect();
        server.push(&fleet.host_id, install, &shared, &totals)?;
        if empty {
            return Ok(());
        }
        done.pushed_decisions += shared.len();
        done.pushed_evidence += totals.len();
        touched.extend(evidence.iter().filter_map(|e| ClientIp::parse(&e.ip).ok()));
        let mut markers = Vec::new();
        if let Some(last) = rows.last() {
            markers.push((PUSHED_DECISION, last.id.to_string()));
        }
        if let Some(last) = evidence.iter().map(|e| e.version).max() {
            markers.push((PUSHED_EVIDENCE, last.to_string()));
        }
        sentry.store.set_meta(&markers)?;
    }
}

/// What an allow of `ip` sends as its trust: the accounts it is trusted for now and their
/// last logins (`{"alice": 1764590000}`, at most `ACCOUNTS_PER_ADDRESS`); None for an
/// allow without automatic trust (by hand, imported) or with trust for any account, which
/// other hosts take as before.
fn pushed_trust(sentry: &Sentry, ip: &str) -> Result<Option<String>> {
    let Some(ip) = ClientIp::parse_opt(ip) else {
        return Ok(None);
    };
    let trust = sentry.store.trust(ip)?;
    if trust.is_empty() || trust.iter().any(|t| t.account == policy::ANY_ACCOUNT) {
        return Ok(None);
    }
    let accounts: BTreeMap<&str, i64> = trust
        .iter()
        .take(usize::try_from(ACCOUNTS_PER_ADDRESS).unwrap_or(usize::MAX))
        .map(|t| (t.account.as_str(), t.last_success))
        .collect();
    Ok(serde_json::to_string(&accounts).ok())
}

/// The accounts another host's allow names (see `pushed_trust`): None when it names none
/// (an older host, or a server without the `trust` column: any account, as before); else
/// those `policy::fleet_trust` accepts here, perhaps none (then the allow is not taken).
fn pulled_trust(
    sentry: &Sentry,
    d: &server::FleetDecision,
    now: i64,
) -> Option<Vec<TrustedAccount>> {
    let text = d.trust.as_deref()?;
    // Another host's text: a bounded object of names and times, or it trusts nothing.
    let sent: BTreeMap<String, i64> = (text.len() <= MAX_TRUST_TEXT)
        .then(|| serde_json::from_str(text).ok())
        .flatten()
        .unwrap_or_default();
    let sent: Vec<(&str, i64)> = sent.iter().map(|(a, t)| (a.as_str(), *t)).collect();
    let limits = sentry.config.trust_limits();
    let max = usize::try_from(ACCOUNTS_PER_ADDRESS).unwrap_or(usize::MAX);
    Some(
        policy::fleet_trust(&sent, d.at, now, max, &limits)
            .into_iter()
            .map(|(account, last)| TrustedAccount {
                account: account.to_string(),
                since: last,
                last_success: last,
            })
            .collect(),
    )
}

/// Stores the other hosts' evidence and applies their decisions, in change order.
fn apply_pulled(
    sentry: &mut Sentry,
    fleet: &FleetConfig,
    pulled: &Pulled,
    intake: &mut Intake,
    done: &mut Exchange,
    touched: &mut BTreeSet<ClientIp>,
) -> Result<()> {
    // The server stamps each row with its writer's host id; still, a row under no usable
    // id or under this host's own (a privileged writer's) is no other host's word.
    let from_another = |host: &str| crate::config::is_host_id(host) && host != fleet.host_id;
    let mut rows = Vec::new();
    let mut forget = Vec::new();
    for e in &pulled.evidence {
        if !from_another(&e.host) || !intake.take(&e.host, EVIDENCE, &mut done.flooded) {
            continue;
        }
        // The server is shared, not trusted blindly: a malformed address is skipped.
        if let Ok(ip) = ClientIp::parse(&e.ip) {
            touched.insert(ip);
            rows.push(HostEvidence {
                host: e.host.clone(),
                ip: ip.to_string(),
                service: e.service.clone(),
                kind: e.kind.clone(),
                count: e.count,
            });
        }
    }
    let now = sentry.now();
    // The listings in force, then what this batch decided per address ahead of the store.
    let addresses: BTreeSet<ClientIp> = pulled
        .decisions
        .iter()
        .filter_map(|d| ClientIp::parse(&d.ip).ok())
        .collect();
    let mut pending = sentry.store.listings_and_origins(&addresses)?;
    let mut decisions: Vec<Decision> = Vec::new();
    let mut prefixes: Vec<PrefixDecision> = Vec::new();
    // The accounts each allow taken trusts its address for, and renewals of allows in force.
    let mut grants: HashMap<ClientIp, Vec<TrustedAccount>> = HashMap::new();
    let mut renewals: Vec<(ClientIp, Vec<TrustedAccount>, String, String)> = Vec::new();
    for d in &pulled.decisions {
        if !from_another(&d.host)
            || d.action != "unlist" && !intake.take(&d.host, LISTINGS, &mut done.flooded)
        {
            continue;
        }
        let Ok(ip) = ClientIp::parse(&d.ip) else {
            if let Some(prefix) = Network::parse_prefix(&d.ip)
                && let Some(decision) = pulled_prefix(sentry, fleet, d, prefix, now)?
            {
                prefixes.push(decision);
            }
            continue;
        };
        let Some((listing, origin)) = pending.get(&ip).cloned() else {
            continue;
        };
        let since = d.at.clamp(1, now);
        let reason = format!("fleet: {} on {}: {}", d.action, d.host, d.reason);
        // A block is judged by how long it lasts here: one more than this host counted
        // (another host's count is its own word, and only lengthens its own blocks).
        let block_days = if d.action == "block" {
            let times = sentry.store.times_blocked(ip)?;
            policy::block_days(sentry.config.expire_block_days, times.saturating_add(1))
        } else {
            0
        };
        let change = match d.action.as_str() {
            "block"
                if fleet.share_blocks
                    && listing == Listing::Unlisted
                    && !sentry.config.is_never_blocked(ip)
                    && !policy::block_expired(since, now, block_days) =>
            {
                Some(Listing::Blocked { since })
            }
            "allow" if fleet.share_allows => {
                let trust = pulled_trust(sentry, d, now);
                match (listing, trust) {
                    // It names accounts, none of which a login here would trust for.
                    (_, Some(accounts)) if accounts.is_empty() => None,
                    // Only the host that made a block here may lift it.
                    (Listing::Unlisted | Listing::Blocked { .. }, trust)
                        if listing == Listing::Unlisted || origin == d.host =>
                    {
                        if let Some(accounts) = trust {
                            grants.insert(ip, accounts);
                        }
                        Some(Listing::Allowed { since })
                    }
                    // A newer login on the host whose allow is in force here renews its
                    // trust (an allow without trust here, by hand, stays as it is).
                    (Listing::Allowed { .. }, Some(accounts)) if origin == d.host => {
                        renewals.push((ip, accounts, reason.clone(), d.host.clone()));
                        None
                    }
                    _ => None,
                }
            }
            "unlist" => {
                forget.push((d.host.clone(), ip.to_string()));
                (listing != Listing::Unlisted && origin == d.host).then_some(Listing::Unlisted)
            }
            _ => None,
        };
        if let Some(listing) = change {
            pending.insert(ip, (listing, d.host.clone()));
            decisions.push(Decision {
                ip,
                listing,
                reason,
                origin: d.host.clone(),
            });
        }
    }
    sentry.store.store_fleet_evidence(&rows, &forget)?;
    if !decisions.is_empty() {
        sentry.apply_from_fleet(&decisions, grants)?;
        done.applied.extend(decisions);
    }
    for (ip, accounts, reason, host) in renewals {
        // Renewals add accounts only up to the per-address limit, however many arrive.
        let mut trusted: BTreeSet<String> = (sentry.store.trust(ip)?.into_iter())
            .map(|t| t.account)
            .collect();
        let limit = usize::try_from(ACCOUNTS_PER_ADDRESS).unwrap_or(usize::MAX);
        let accounts: Vec<TrustedAccount> = accounts
            .into_iter()
            .filter(|a| {
                trusted.contains(&a.account)
                    || trusted.len() < limit && trusted.insert(a.account.clone())
            })
            .collect();
        sentry
            .store
            .renew_trust(ip, &accounts, now, &reason, &host)?;
    }
    if !prefixes.is_empty() {
        sentry.apply_prefixes(&prefixes)?;
        done.applied_prefixes.extend(prefixes);
    }
    Ok(())
}

/// Another host's block or delisting of a whole prefix, as a change here: a block only
/// with prefixes on here, no wider than this host's `ipv6_prefix` (a member cannot block a
/// provider), not expired by this host's count of the prefix's blocks, and over no never-block or allowed address; a delisting only
/// of a block that came from that host.
fn pulled_prefix(
    sentry: &mut Sentry,
    fleet: &FleetConfig,
    d: &server::FleetDecision,
    prefix: Network,
    now: i64,
) -> Result<Option<PrefixDecision>> {
    let config = &sentry.config;
    if config.ipv6_prefix >= 128 || prefix.length() < config.ipv6_prefix {
        return Ok(None);
    }
    let (block, origin) = sentry.store.prefix_block_and_origin(prefix)?;
    let since = d.at.clamp(1, now);
    // As for an address: the block it would be here, one more than this host counted.
    let times = (sentry.store.prefix_record(prefix)?).map_or(0, |r| r.times);
    let days = policy::block_days(sentry.config.expire_block_days, times.saturating_add(1));
    let listing = match d.action.as_str() {
        "block"
            if fleet.share_blocks
                && block == 0
                && !sentry.config.is_never_blocked_prefix(&prefix)
                && !policy::block_expired(since, now, days) =>
        {
            let (members, _) = sentry.store.prefix_members(prefix)?;
            if members
                .iter()
                .any(|m| matches!(m.listing, Listing::Allowed { .. }))
            {
                return Ok(None);
            }
            Listing::Blocked { since }
        }
        "unlist" if block > 0 && origin == d.host => Listing::Unlisted,
        _ => return Ok(None),
    };
    Ok(Some(PrefixDecision {
        prefix,
        listing,
        reason: format!("fleet: {} on {}: {}", d.action, d.host, d.reason),
        origin: d.host.clone(),
    }))
}

/// Blocks for unlisted addresses whose evidence, summed over this host and the others,
/// passes the fleet rule.
fn fleet_verdicts(
    sentry: &mut Sentry,
    fleet: &FleetConfig,
    touched: &BTreeSet<ClientIp>,
) -> Result<Vec<Decision>> {
    let now = sentry.now();
    let mut decisions = Vec::new();
    for &ip in touched {
        let listed = sentry
            .store
            .record(ip)?
            .is_some_and(|r| r.allow > 0 || r.block > 0);
        if listed || sentry.config.is_never_blocked(ip) {
            continue;
        }
        let mut sum = Evidence::default();
        let mut hosts = BTreeSet::new();
        let config = &sentry.config;
        for row in sentry.store.evidence(ip)? {
            if add_stored(config, &mut sum, &row.service, &row.kind, row.count) {
                hosts.insert(fleet.host_id.clone());
            }
        }
        for row in sentry.store.fleet_evidence(ip)? {
            if add_stored(config, &mut sum, &row.service, &row.kind, row.count) {
                hosts.insert(row.host);
            }
        }
        if policy::decide_fleet(
            &sum,
            policy::Limits {
                max_attempts: fleet.max_attempts,
                spam_messages: sentry.config.smtp_spam_messages,
            },
        ) == Verdict::Block
        {
            decisions.push(Decision {
                ip,
                listing: Listing::Blocked { since: now },
                reason: format!(
                    "fleet: {} naughty, {} failed, {} probes, {} virus, {} spam, {} rbl over {} hosts",
                    sum.naughty,
                    sum.failed,
                    sum.probe,
                    sum.virus,
                    sum.spam,
                    sum.rbl,
                    hosts.len()
                ),
                origin: FLEET_ORIGIN.to_string(),
            });
        }
    }
    Ok(decisions)
}
