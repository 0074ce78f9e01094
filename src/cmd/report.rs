/*!
`sentry report` (`--report`, `-r`): the summary, one address's record, evidence and log
lines, the `--top` overview; text or JSON. A root without a database reports nothing.
*/

use std::io::Write;

use crate::actions::{Patience, Sentry};
use crate::cmd::{Context, now};
use crate::config::Config;
use crate::error::{Error, Result};
use crate::ip::ClientIp;
use crate::logs::parse::Parser;
use crate::report::{self, Report};
use crate::store::IpRecord;

/// Print the summary report, and one address's record and evidence when IP is given
#[derive(Debug, Clone, PartialEq, Eq, clap::Args)]
pub struct Args {
    pub ip: Option<ClientIp>,
    /// Print one JSON object instead of text
    #[arg(long)]
    pub json: bool,
    /// With IP: also print the log lines about it
    #[arg(long)]
    pub lines: bool,
    /// Also show the N addresses with most connections and most naughty attempts,
    /// evidence per service, and listings per day for the last 30 days
    #[arg(long, value_name = "N")]
    pub top: Option<u32>,
}

pub fn run(ctx: &Context, args: Args) -> Result<()> {
    let Args {
        ip,
        json,
        lines,
        top,
    } = args;
    let config = ctx.config()?;
    let write_err = |e: std::io::Error| Error::output(&e);
    // A root without a database reports nothing, as the original did, and stays so.
    let mut report = match crate::root::has_database(&config)? {
        true => gather(&mut ctx.open(&config, Patience::Admin)?, ip, top)?,
        false => Report {
            summary: Default::default(),
            record: ip.map(IpRecord::unseen),
            evidence: Vec::new(),
            trust: Vec::new(),
            history: Vec::new(),
            blocks: None,
            prefixes: Vec::new(),
            in_prefix: None,
            overview: top.map(|_| report::Overview::default()),
            lines: None,
        },
    };
    let stdout = std::io::stdout();
    let mut out = stdout.lock();
    if json {
        // The log lines go inside the one object, so that it stays JSON.
        if let (Some(ip), true) = (ip, lines) {
            let mut found = Vec::new();
            lines_about(&config, ip, now(), &mut |line| {
                found.push(line.to_string());
                Ok(())
            })?;
            report.lines = Some(found);
        }
        report::write_json(&mut out, &report).map_err(write_err)?;
    } else {
        report::write_text(&mut out, &report).map_err(write_err)?;
        if let (Some(ip), true) = (ip, lines) {
            writeln!(out).map_err(write_err)?;
            lines_about(&config, ip, now(), &mut |line| {
                writeln!(out, "{}", crate::printable::printable(line)).map_err(write_err)
            })?;
        }
    }
    Ok(())
}

/// The report of an opened sentry: the summary, IP's record, evidence and history, and
/// with `top` the overview.
fn gather(sentry: &mut Sentry, ip: Option<ClientIp>, top: Option<u32>) -> Result<Report> {
    let summary = sentry.store.summary()?;
    let (record, evidence, trust, history) = match ip {
        Some(ip) => (
            Some(
                sentry
                    .store
                    .record(ip)?
                    .unwrap_or_else(|| IpRecord::unseen(ip)),
            ),
            sentry.store.evidence(ip)?,
            report::Trust::of(sentry.store.trust(ip)?, sentry.config.trust_days),
            sentry.store.history(ip)?,
        ),
        None => (None, Vec::new(), Vec::new(), Vec::new()),
    };
    let blocks = match (ip, &record) {
        (Some(ip), Some(record)) => Some(report::Blocks::of(
            record,
            sentry.store.times_blocked(ip)?,
            sentry.config.expire_block_days,
        )),
        _ => None,
    };
    let overview = match top {
        Some(n) => Some(report::Overview::gather(&mut sentry.store, n, now())?),
        None => None,
    };
    let prefixes = sentry.store.blocked_prefix_report()?;
    let in_prefix = ip.and_then(|ip| {
        (prefixes.iter())
            .find(|p| crate::ip::Network::parse_prefix(&p.prefix).is_some_and(|n| n.contains(ip)))
            .cloned()
    });
    Ok(Report {
        summary,
        record,
        evidence,
        trust,
        history,
        blocks,
        prefixes,
        in_prefix,
        overview,
        lines: None,
    })
}

/// `report --lines`: the log lines whose event concerns `ip`, from every configured log
/// (rotated and compressed generations first), as the original's report showed them.
fn lines_about(
    config: &Config,
    ip: ClientIp,
    now: i64,
    visit: &mut dyn FnMut(&str) -> Result<()>,
) -> Result<()> {
    let mut parser = Parser::new(crate::scan::parse_options(config), now);
    let mut failure = None;
    // The line the parser holds (MySQL's, `parse::Held`), shown if the next one confirms it.
    let mut held = String::new();
    for path in config.log_files() {
        let only = config.only_group(&path);
        let about =
            |e: &crate::logs::Event| e.ip == ip && only.is_none_or(|g| e.service.group() == g);
        parser.begin_source(&path.display().to_string());
        let mut generations = crate::logs::source::rotated_generations(&path);
        generations.push(path);
        for file in generations {
            crate::logs::source::read_whole(&file, &mut |line| {
                let event = parser.parse_line(line).is_some_and(|e| about(&e));
                let released = parser.take_released().is_some_and(|h| about(&h.event()));
                if failure.is_none() {
                    let shown = (if released { visit(&held) } else { Ok(()) })
                        .and_then(|()| if event { visit(line) } else { Ok(()) });
                    failure = shown.err();
                }
                if parser.is_holding() {
                    held.clear();
                    held.push_str(line);
                }
            })?;
        }
    }
    failure.map_or(Ok(()), Err)
}
