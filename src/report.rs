/*!
The report: the original's summary, one address's record, and `dump`.

Figures come from SQL aggregates, so a report over a million records reads the
table once and allocates nothing per row.
*/

use std::io::Write;

use chrono::{Local, TimeZone};
use serde::Serialize;

use crate::error::{Error, Result};
use crate::store::{EvidenceCount, IpRecord, Store, Summary};

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
}

/// The original's text layout (the summary lines are byte-for-byte those of sentry.sh).
pub fn write_text(out: &mut dyn Write, report: &Report) -> std::io::Result<()> {
    let s = &report.summary;
    writeln!(out, "   -------- summary ---------")?;
    writeln!(
        out,
        "{:4} unique IPs have connected {} times",
        s.unique_ips, s.connections
    )?;
    writeln!(out, "{:4} IPs are allowed", s.allowed)?;
    writeln!(out, "{:4} IPs are blocked", s.blocked)?;
    if let Some(r) = &report.record {
        writeln!(out)?;
        writeln!(out, "{:4} connections from {}", r.seen, r.ip)?;
        if r.allow > 0 {
            writeln!(out, "\tallowed since {}", local_time(r.allow))?;
        }
        if r.block > 0 {
            writeln!(out, "\tblocked since {}", local_time(r.block))?;
        }
        if r.allow == 0 && r.block == 0 {
            writeln!(out, "\tnot allowed or blocked")?;
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
            writeln!(out, "\t{:>6} {:<8} {}{when}", e.count, e.kind, e.service)?;
        }
    }
    Ok(())
}

/// `--json`: one object, the record's times as unix seconds (0 = not listed).
pub fn write_json(out: &mut dyn Write, report: &Report) -> std::io::Result<()> {
    serde_json::to_writer(&mut *out, report)?;
    writeln!(out)
}

/// `sentry dump`: one `ip<TAB>seen<TAB>allow<TAB>block` line per record, for shell pipelines.
pub fn write_dump(out: &mut dyn Write, store: &mut dyn Store) -> Result<()> {
    store.for_each_record(&mut |r| {
        writeln!(out, "{}\t{}\t{}\t{}", r.ip, r.seen, r.allow, r.block)
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
