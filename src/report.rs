/*!
The report: the original's summary, one address's record, and `dump`.

Figures come from SQL aggregates, so a report over a million records reads the
table once and allocates nothing per row.
*/

use std::io::Write;

use chrono::{Local, TimeZone};
use serde::Serialize;

use crate::error::{Error, Result};
use crate::printable::printable;
use crate::store::prefixes::BlockedPrefix;
use crate::store::sqlite::HistoryEntry;
use crate::store::{EvidenceCount, IpRecord, SqliteStore, Summary, TrustedAccount};

/// Everything the report shows, also its `--json` shape.
#[derive(Debug, Serialize)]
pub struct Report {
    #[serde(flatten)]
    pub summary: Summary,
    /// The record asked for with `--ip` / `report IP`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub record: Option<IpRecord>,
    /// That address's evidence from the logs, per service and kind.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub evidence: Vec<EvidenceCount>,
    /// The accounts that address is trusted for after logins (none: no automatic trust).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub trust: Vec<Trust>,
    /// That address's listing decisions, oldest first.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub history: Vec<HistoryEntry>,
    /// How many times that address was blocked, and how long its block lasts.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub blocks: Option<Blocks>,
    /// IPv6 prefixes blocked whole, with how many of their addresses sentry knows.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub prefixes: Vec<BlockedPrefix>,
    /// The blocked prefix the address asked for is in.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub in_prefix: Option<BlockedPrefix>,
    /// The overview asked for with `--top N`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub overview: Option<Overview>,
    /// The log lines about the address, asked for with `--lines`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub lines: Option<Vec<String>>,
}

/// An address's blocks: a repeated block lasts longer (`policy::block_days`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct Blocks {
    /// Times blocked since the administrator last delisted or allowed it (0: never, or
    /// only before sentry counted).
    pub count: u32,
    /// How long the block in force lasts, or else the next one would (0 = never expires).
    pub days: u32,
    /// When the block in force ends (unix seconds); absent when not blocked or never.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub until: Option<i64>,
}

impl Blocks {
    /// The blocks of an address with this record, blocked `count` times.
    pub fn of(record: &IpRecord, count: u32, expire_days: u32) -> Blocks {
        let blocked = record.block > 0;
        // Not blocked: the next block is one more.
        let days = crate::policy::block_days(expire_days, count + u32::from(!blocked));
        Blocks {
            count,
            days,
            until: crate::policy::block_end(record.block, days),
        }
    }
}

/// One account an address is trusted for, and until when (unix seconds).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Trust {
    /// The account's name as the logs gave it; `*` for any account (an allow made before
    /// trust was scoped to accounts).
    pub account: String,
    pub since: i64,
    pub last_login: i64,
    /// `last_login` + `trust_days`.
    pub until: i64,
}

impl Trust {
    /// The report's view of stored trust, with its end under `trust_days`.
    pub fn of(accounts: Vec<TrustedAccount>, trust_days: u32) -> Vec<Trust> {
        accounts
            .into_iter()
            .map(|a| Trust {
                until: crate::policy::trust_until(a.last_success, trust_days),
                account: a.account,
                since: a.since,
                last_login: a.last_success,
            })
            .collect()
    }
}

/// `report --top N`: who knocks most, per-service evidence, and listings per day.
#[derive(Debug, Default, Serialize)]
pub struct Overview {
    pub most_connections: Vec<(String, i64)>,
    pub most_naughty: Vec<(String, i64)>,
    /// `(service, kind, count)`.
    pub evidence_by_service: Vec<(String, String, i64)>,
    /// `(day start, allowed, blocked)` for the last 30 days.
    pub listed_per_day: Vec<(i64, i64, i64)>,
}

impl Overview {
    /// Gathers the overview with aggregate queries.
    pub fn gather(store: &mut SqliteStore, top: u32, now: i64) -> Result<Overview> {
        Ok(Overview {
            most_connections: store.top_connections(top)?,
            most_naughty: store.top_naughty(top)?,
            evidence_by_service: store.evidence_totals()?,
            listed_per_day: store.listings_per_day(now - now.rem_euclid(86_400) - 29 * 86_400)?,
        })
    }
}

/// What an empty section of the overview says, so that it does not look cut off.
const NONE: &str = "       (none)";

fn write_overview(out: &mut dyn Write, o: &Overview) -> std::io::Result<()> {
    for (title, rows) in [
        ("most connections", &o.most_connections),
        ("most naughty attempts", &o.most_naughty),
    ] {
        writeln!(out, "\n   -------- {title} --------")?;
        if rows.is_empty() {
            writeln!(out, "{NONE}")?;
        }
        for (ip, count) in rows {
            writeln!(out, "{count:8}  {}", printable(ip))?;
        }
    }
    writeln!(out, "\n   -------- evidence by service --------")?;
    if o.evidence_by_service.is_empty() {
        writeln!(out, "{NONE}")?;
    }
    for (service, kind, count) in &o.evidence_by_service {
        writeln!(
            out,
            "{count:8}  {:<12} {}",
            printable(service),
            printable(kind)
        )?;
    }
    writeln!(
        out,
        "\n   -------- allowed (+) and blocked (#) per day, last 30 days --------"
    )?;
    if o.listed_per_day.is_empty() {
        writeln!(out, "{NONE}")?;
    }
    let widest = o
        .listed_per_day
        .iter()
        .map(|(_, a, b)| a + b)
        .max()
        .unwrap_or(0)
        .max(1);
    for (day, allowed, blocked) in &o.listed_per_day {
        // Bars scaled to 50 columns; any non-zero count shows at least one mark.
        let width = |n: i64| {
            if n == 0 {
                0
            } else {
                ((n * 50) / widest).max(1) as usize
            }
        };
        let date = chrono::DateTime::from_timestamp(*day, 0)
            .map(|d| d.format("%Y-%m-%d").to_string())
            .unwrap_or_default();
        writeln!(
            out,
            "{date} {:>6} {:>6}  {}{}",
            allowed,
            blocked,
            "+".repeat(width(*allowed)),
            "#".repeat(width(*blocked))
        )?;
    }
    Ok(())
}

/// The original's text layout: sentry.sh's summary lines, but "1 IP is", "1 connection".
pub fn write_text(out: &mut dyn Write, report: &Report) -> std::io::Result<()> {
    let s = &report.summary;
    writeln!(out, "   -------- summary ---------")?;
    writeln!(
        out,
        "{:4} unique {} connected {} {}",
        s.unique_ips,
        plural(s.unique_ips, "IP has", "IPs have"),
        s.connections,
        plural(s.connections, "time", "times")
    )?;
    writeln!(
        out,
        "{:4} {} allowed",
        s.allowed,
        plural(s.allowed, "IP is", "IPs are")
    )?;
    writeln!(
        out,
        "{:4} {} blocked",
        s.blocked,
        plural(s.blocked, "IP is", "IPs are")
    )?;
    if s.blocked_again > 0 {
        writeln!(
            out,
            "{:4} of them blocked more than once, for longer",
            s.blocked_again
        )?;
    }
    if !report.prefixes.is_empty() {
        let n = report.prefixes.len();
        let are = plural(n as i64, "IPv6 prefix is", "IPv6 prefixes are");
        writeln!(out, "{n:4} {are} blocked whole")?;
        for p in &report.prefixes {
            writeln!(
                out,
                "	{} ({} {}), since {}{}",
                printable(&p.prefix),
                p.members,
                plural(p.members, "address", "addresses"),
                local_time(p.block),
                times_blocked(p.count)
            )?;
        }
    }
    if let Some(r) = &report.record {
        writeln!(out)?;
        writeln!(
            out,
            "{:4} {} from {}",
            r.seen,
            plural(r.seen, "connection", "connections"),
            printable(&r.ip)
        )?;
        if r.allow > 0 {
            writeln!(out, "\tallowed since {}", local_time(r.allow))?;
        }
        if r.block > 0 {
            let length = match report.blocks {
                Some(b) => {
                    let until = b.until.map(|t| format!(" until {}", local_time(t)));
                    let times = match b.count {
                        0 => String::new(),
                        1 => "blocked once: ".into(),
                        n => format!("blocked {n} times: "),
                    };
                    let days = match b.days {
                        0 => "never expires".into(),
                        d => format!("{d} days"),
                    };
                    format!("{} ({times}{days})", until.unwrap_or_default())
                }
                None => String::new(),
            };
            writeln!(out, "\tblocked since {}{length}", local_time(r.block))?;
        } else if let Some(b) = report.blocks.filter(|b| b.count > 0) {
            writeln!(
                out,
                "\tblocked {} before; a next block lasts {}",
                match b.count {
                    1 => "once".to_string(),
                    n => format!("{n} times"),
                },
                match b.days {
                    0 => "for ever".to_string(),
                    d => format!("{d} days"),
                }
            )?;
        }
        if r.allow == 0 && r.block == 0 {
            writeln!(out, "\tnot allowed or blocked")?;
        }
        if let Some(p) = &report.in_prefix {
            writeln!(
                out,
                "\tin {}, blocked whole since {}{}",
                printable(&p.prefix),
                local_time(p.block),
                times_blocked(p.count)
            )?;
        }
        if r.allow > 0 && report.trust.is_empty() {
            writeln!(out, "\tallowed until delisted (by hand, or imported)")?;
        }
        for t in &report.trust {
            let account = match t.account.as_str() {
                crate::policy::ANY_ACCOUNT => {
                    "any account (allowed before trust was scoped)".into()
                }
                name => format!("account {}", printable(name)),
            };
            writeln!(
                out,
                "\ttrusted for {account} since {}, last login {}, until {}",
                local_time(t.since),
                local_time(t.last_login),
                local_time(t.until)
            )?;
        }
        if report.evidence.is_empty() {
            writeln!(out, "\tno evidence in the logs")?;
        }
        for e in &report.evidence {
            let when = match (e.first, e.last) {
                (Some(first), Some(last)) => {
                    format!(", {} .. {}", local_time(first), local_time(last))
                }
                _ => String::new(),
            };
            writeln!(
                out,
                "\t{:>6} {:<8} {}{when}",
                e.count,
                printable(&e.kind),
                printable(&e.service)
            )?;
        }
        for h in &report.history {
            let verb = match h.action.as_str() {
                "allow" => "allowed",
                "block" => "blocked",
                "trust" => "trust renewed",
                _ => "delisted",
            };
            let origin = match h.origin.as_str() {
                "" => String::new(),
                "*fleet" => " (fleet)".to_string(),
                host => format!(" (from {})", printable(host)),
            };
            writeln!(
                out,
                "\t{} {verb}{origin}: {}",
                local_time(h.at),
                printable(&h.reason)
            )?;
        }
    }
    if let Some(overview) = &report.overview {
        write_overview(out, overview)?;
    }
    Ok(())
}

/// A prefix's block count after its time: nothing for a first block (or an uncounted one).
fn times_blocked(count: u32) -> String {
    match count {
        0 | 1 => String::new(),
        n => format!(", blocked {n} times"),
    }
}

/// The original's wording for every count but one.
fn plural(n: i64, one: &'static str, many: &'static str) -> &'static str {
    if n == 1 { one } else { many }
}

/// `--json`: one object, the record's times as unix seconds (0 = not listed).
pub fn write_json(out: &mut dyn Write, report: &Report) -> std::io::Result<()> {
    serde_json::to_writer(&mut *out, report)?;
    writeln!(out)
}

/// `sentry dump`: one `ip<TAB>seen<TAB>allow<TAB>block` line per record, for shell pipelines.
pub fn write_dump(out: &mut dyn Write, store: &mut SqliteStore) -> Result<()> {
    store.for_each_record(&mut |r| {
        writeln!(
            out,
            "{}\t{}\t{}\t{}",
            printable(&r.ip),
            r.seen,
            r.allow,
            r.block
        )
        .map_err(|e| Error::output(&e))
    })
}

/// Unix seconds as local time, the way an admin reads a log.
pub fn local_time(unix: i64) -> String {
    match Local.timestamp_opt(unix, 0).single() {
        Some(t) => t.format("%Y-%m-%d %H:%M:%S %z").to_string(),
        None => format!("@{unix}"),
    }
}
