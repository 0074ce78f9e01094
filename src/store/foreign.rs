/*!
Lists kept by other tools, read for `sentry import`: a plain list of addresses, fail2ban's
SQLite database, and tcpwrappers deny files such as DenyHosts' `/etc/hosts.deny`.

Each reader returns addresses with the time they were listed (when the source knows it);
what to do with them is the caller's decision. Lines and rows that are not a single
address (networks, host names, patterns) are counted as skipped, never guessed at.
*/

use std::path::Path;

use crate::error::{Error, Result};
use crate::ip::ClientIp;

/// What a foreign list yielded.
#[derive(Debug, Default)]
pub struct Imported {
    /// Addresses with when they were listed (unix seconds), if the source says.
    pub addresses: Vec<(ClientIp, Option<i64>)>,
    /// Entries that were not one valid address, as written.
    pub skipped: Vec<String>,
}

/// One address per line; `#` starts a comment; blank lines are ignored.
pub fn plain_list(text: &str) -> Imported {
    let mut out = Imported::default();
    for line in text.lines() {
        let entry = line.split('#').next().unwrap_or_default().trim();
        if entry.is_empty() {
            continue;
        }
        match ClientIp::parse_opt(entry) {
            Some(ip) => out.addresses.push((ip, None)),
            None => out.skipped.push(entry.to_string()),
        }
    }
    out
}

/// A tcpwrappers deny file (DenyHosts writes `sshd: 1.2.3.4`, the originals `ALL: 1.2.3.4 :
/// deny`): every client pattern that is one address. The `ALL` wildcard, networks, host
/// names and `EXCEPT` clauses are skipped.
pub fn hosts_deny(text: &str) -> Imported {
    let mut out = Imported::default();
    for line in text.lines() {
        let line = line.split('#').next().unwrap_or_default().trim();
        if line.is_empty() {
            continue;
        }
        // `daemons : clients [: options]` — or, in a file sentry's deny line points to,
        // just words; take the client field when there is one.
        let clients = match line.split_once(':') {
            Some((daemons, rest)) if !daemons.trim().is_empty() && !daemons.contains('[') => {
                rest.split(" : ").next().unwrap_or_default()
            }
            _ => line,
        };
        for word in clients.split([' ', ',', '\t']).filter(|w| !w.is_empty()) {
            if word.eq_ignore_ascii_case("EXCEPT") {
                break;
            }
            let word = word
                .strip_prefix('[')
                .and_then(|w| w.strip_suffix(']'))
                .unwrap_or(word);
            match ClientIp::parse_opt(word) {
                Some(ip) => out.addresses.push((ip, None)),
                None => out.skipped.push(word.to_string()),
            }
        }
    }
    out
}

/// fail2ban's database (`/var/lib/fail2ban/fail2ban.sqlite3`): the `bans` table, each
/// address with its latest `timeofban`. Opened read-only.
pub fn fail2ban(path: &Path) -> Result<Imported> {
    let flags = rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY;
    let err = |e: rusqlite::Error| {
        Error::Input(format!(
            "{} is not a fail2ban database with a `bans` table: {e}",
            path.display()
        ))
    };
    let conn = rusqlite::Connection::open_with_flags(path, flags).map_err(err)?;
    let mut stmt = conn
        .prepare("SELECT ip, max(timeofban) FROM bans GROUP BY ip ORDER BY ip")
        .map_err(err)?;
    let rows = stmt
        .query_map([], |r| {
            Ok((r.get::<_, String>(0)?, r.get::<_, Option<i64>>(1)?))
        })
        .map_err(err)?;
    let mut out = Imported::default();
    for row in rows {
        let (text, at) = row.map_err(err)?;
        match ClientIp::parse_opt(&text) {
            Some(ip) => out.addresses.push((ip, at)),
            None => out.skipped.push(text),
        }
    }
    Ok(out)
}

/// The DBM file of sentry.pl (before 2.0): key = the IPv4 address as an integer (or as
/// text), value = `seen^white^black`, white/black being when the address was listed
/// (0 or empty = not listed). Read through the system's perl and its AnyDBM_File module,
/// the same module sentry.pl wrote it with; `path` is what sentry.pl passed to `tie`
/// (e.g. `/var/db/sentry/sentry.dbm`). Returns records for `merge_records`.
pub fn perl_dbm(path: &Path, now: i64) -> Result<(Vec<super::IpRecord>, usize)> {
    const DUMP: &str = "use strict; use Fcntl; use AnyDBM_File; my %h; \
        tie(%h, 'AnyDBM_File', $ARGV[0], O_RDONLY, 0) or die \"cannot open $ARGV[0]: $!\\n\"; \
        while (my ($k, $v) = each %h) { print \"$k\\t$v\\n\" }";
    let perl = crate::exec::find_program("perl").ok_or_else(|| {
        Error::Input(
            "importing a sentry.pl DBM file needs perl (with its DBM modules); install perl".into(),
        )
    })?;
    let out = crate::exec::run(
        &perl,
        &[
            "-e".to_string(),
            DUMP.to_string(),
            path.display().to_string(),
        ],
        None,
        std::time::Duration::from_secs(120),
    )?;
    if !out.status.success() {
        return Err(Error::Input(format!(
            "{} could not be read as a sentry.pl DBM file: {}",
            path.display(),
            out.complaint()
        )));
    }
    let mut records = Vec::new();
    let mut skipped = 0;
    for line in String::from_utf8_lossy(&out.stdout).lines() {
        let Some((key, value)) = line.split_once('\t') else {
            skipped += 1;
            continue;
        };
        let ip = match key.parse::<u32>() {
            Ok(n) if n > 0 => ClientIp::parse_opt(&std::net::Ipv4Addr::from(n).to_string()),
            _ => ClientIp::parse_opt(key),
        };
        let Some(ip) = ip else {
            skipped += 1;
            continue;
        };
        let mut fields = value
            .split('^')
            .map(|f| f.trim().parse::<i64>().unwrap_or(0));
        let seen = fields.next().unwrap_or(0).max(0);
        // A bare flag (1) instead of a time means "listed", time unknown: now.
        let when = |v: i64| if v == 1 { now } else { v.max(0) };
        let allow = when(fields.next().unwrap_or(0));
        let block = if allow > 0 {
            0
        } else {
            when(fields.next().unwrap_or(0))
        };
        records.push(super::IpRecord {
            ip: ip.to_string(),
            seen,
            allow,
            block,
        });
    }
    Ok((records, skipped))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ips(imported: &Imported) -> Vec<String> {
        imported
            .addresses
            .iter()
            .map(|(ip, _)| ip.to_string())
            .collect()
    }

    #[test]
    fn plain_lists_take_addresses_and_skip_the_rest() {
        let got = plain_list(
            "# bots\n203.0.113.9\n  2001:DB8::1  # noted\n\n198.51.100.0/24\nhost.example\n",
        );
        assert_eq!(ips(&got), ["203.0.113.9", "2001:db8::1"]);
        assert_eq!(got.skipped, ["198.51.100.0/24", "host.example"]);
    }

    #[test]
    fn deny_files_of_denyhosts_and_the_originals() {
        let got = hosts_deny(
            "# DenyHosts: 2026\nsshd: 203.0.113.9\nALL: 198.51.100.7 : deny\nALL: [2001:db8::2] : deny\n\
             sshd: 192.0.2.1, 192.0.2.2\nALL: ALL EXCEPT 10.0.0.1\nsshd: .example.com\n",
        );
        assert_eq!(
            ips(&got),
            [
                "203.0.113.9",
                "198.51.100.7",
                "2001:db8::2",
                "192.0.2.1",
                "192.0.2.2"
            ]
        );
        assert_eq!(
            got.skipped.len(),
            2,
            "the ALL wildcard and a domain pattern"
        );
    }
}
