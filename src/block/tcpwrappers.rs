/*!
The tcpwrappers deny file, `$ROOT/hosts.deny`, referenced from `/etc/hosts.allow` as
`sshd : /var/db/sentry/hosts.deny : deny`.

tcpd reads such a file as a list of whitespace-separated client patterns. sentry
writes one line per address, `ALL: 203.0.113.9 : deny`, as the originals did: the
words `ALL:`, `:` and `deny` match no client, only the address does. Two quirks
decide the exact spelling:
- `ALL:` must have no space before the colon: a lone `ALL` word is the wildcard
  and would deny every client;
- IPv6 addresses go in brackets (`[2001:db8::1]`), the only IPv6 form tcpd matches;
  a blocked IPv6 prefix is tcpd's `[2001:db8:1:2::]/64`, the length outside the brackets.

sentry's lines sit between two comment lines, `# BEGIN sentry ...` and `# END sentry`;
every line outside them is the admin's and is kept as it is, even one spelled exactly as
sentry spells its own (`sync` never removes it, whatever the database says). A file that
an older sentry wrote has no such section: until `sync` (or `setup`) adopts into a new
section the lines of the addresses the database blocks, sentry edits it as before, every
line in its format counting as its own. Removal compares parsed addresses, so unblocking
`1.2.3.4` never touches `1.2.3.45` or `11.2.3.4`.
*/

use std::collections::HashSet;
use std::io::ErrorKind;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::time::Duration;

use super::{DenyList, Entry, NetEntry};
use crate::atomic_file::{self, FileLock};
use crate::error::{Error, Result};
use crate::ip::{ClientIp, Network};

/// What one of sentry's lines denies: an address or a whole IPv6 prefix.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
enum Listed {
    Ip(ClientIp),
    Net(Network),
}

impl Listed {
    fn line(self) -> String {
        match self {
            Listed::Ip(ip) => deny_line(ip),
            Listed::Net(net) => deny_line_net(net),
        }
    }
}

fn ips(ips: &[ClientIp]) -> Vec<Listed> {
    ips.iter().copied().map(Listed::Ip).collect()
}

fn nets(nets: impl Iterator<Item = Network>) -> Vec<Listed> {
    nets.map(Listed::Net).collect()
}

/// The deny file and the lock that serialises its writers.
pub struct HostsDenyFile {
    path: PathBuf,
    lock: PathBuf,
    lock_wait: Duration,
}

impl HostsDenyFile {
    /// The lock lives in `lock_dir` (the sentry root), not beside the file: a deny file in
    /// `/etc` is natural, and a lock there would be one other users can reach.
    /// `lock_wait` bounds how long a writer waits for another one to finish.
    pub fn new(path: PathBuf, lock_dir: &Path, lock_wait: Duration) -> HostsDenyFile {
        let name = path
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_else(|| "hosts.deny".into());
        HostsDenyFile {
            lock: lock_dir.join(format!(".{name}.lock")),
            path,
            lock_wait,
        }
    }

    fn read(&self) -> Result<String> {
        match std::fs::read_to_string(&self.path) {
            Ok(text) => Ok(text),
            Err(e) if e.kind() == ErrorKind::NotFound => Ok(String::new()),
            Err(e) => Err(Error::io("read the deny file", &self.path, &e)),
        }
    }

    /// Creates an empty deny file if there is none (tcpd warns about a missing one).
    pub fn ensure_exists(&self) -> Result<()> {
        self.rewrite(|old| edit(old, &[], &[])).map(|_| ())
    }

    /// Rewrites the file under the lock with `change`; writes only on change.
    fn rewrite(&self, change: impl FnOnce(&str) -> String) -> Result<bool> {
        let _lock = FileLock::acquire(&self.lock, self.lock_wait)?;
        let old = self.read()?;
        let exists = self.path.exists();
        let new = change(&old);
        if new == old && exists {
            return Ok(false);
        }
        // tcpd must read it; nobody but root may write it (whatever mode it had).
        let mode = std::fs::metadata(&self.path)
            .map(|m| m.permissions().mode() & 0o755)
            .unwrap_or(0o644);
        atomic_file::replace(&self.path, new.as_bytes(), mode)?;
        Ok(true)
    }
}

impl HostsDenyFile {
    /// What sentry's lines deny.
    fn listed(&self) -> Result<Vec<Listed>> {
        let text = self.read()?;
        let ours = match Layout::of(&text) {
            Layout::Marked { section, .. } => section,
            Layout::Unmarked(lines) => lines,
        };
        Ok(ours.into_iter().filter_map(sentry_line_entry).collect())
    }
}

impl DenyList for HostsDenyFile {
    fn name(&self) -> &'static str {
        "tcpwrappers"
    }

    fn add(&mut self, entries: &[Entry]) -> Result<()> {
        let add: Vec<Listed> = entries.iter().map(|e| Listed::Ip(e.ip)).collect();
        self.rewrite(|old| edit(old, &add, &[])).map(|_| ())
    }

    fn remove(&mut self, remove: &[ClientIp]) -> Result<()> {
        if !self.path.exists() {
            return Ok(());
        }
        self.rewrite(|old| edit(old, &[], &ips(remove))).map(|_| ())
    }

    fn members(&self) -> Result<Vec<ClientIp>> {
        Ok(self
            .listed()?
            .into_iter()
            .filter_map(|l| match l {
                Listed::Ip(ip) => Some(ip),
                Listed::Net(_) => None,
            })
            .collect())
    }

    fn holds_networks(&self) -> bool {
        true
    }

    fn add_networks(&mut self, entries: &[NetEntry]) -> Result<()> {
        let add = nets(entries.iter().map(|e| e.net));
        self.rewrite(|old| edit(old, &add, &[])).map(|_| ())
    }

    fn remove_networks(&mut self, remove: &[Network]) -> Result<()> {
        if !self.path.exists() {
            return Ok(());
        }
        let remove = nets(remove.iter().copied());
        self.rewrite(|old| edit(old, &[], &remove)).map(|_| ())
    }

    fn network_members(&self) -> Result<Vec<Network>> {
        Ok(self
            .listed()?
            .into_iter()
            .filter_map(|l| match l {
                Listed::Net(net) => Some(net),
                Listed::Ip(_) => None,
            })
            .collect())
    }

    fn prepare(&mut self) -> Result<()> {
        self.ensure_exists()
    }

    fn adopt(&mut self, blocked: &[ClientIp]) -> Result<()> {
        if !self.path.exists() {
            return Ok(());
        }
        self.rewrite(|old| adopted(old, blocked)).map(|_| ())
    }
}

/// The first line of sentry's section (matched by its start).
const BEGIN: &str = "# BEGIN sentry";
/// The comment that opens sentry's section, as written.
const BEGIN_LINE: &str = "# BEGIN sentry: the addresses it blocks, rewritten on every change; write your own lines outside";
/// The last line of sentry's section.
const END: &str = "# END sentry";

/// A deny file's lines: with sentry's section, or an older sentry's file without one.
enum Layout<'a> {
    Marked {
        before: Vec<&'a str>,
        section: Vec<&'a str>,
        after: Vec<&'a str>,
    },
    Unmarked(Vec<&'a str>),
}

impl<'a> Layout<'a> {
    fn of(text: &'a str) -> Layout<'a> {
        let lines: Vec<&str> = text.lines().collect();
        let Some(begin) = lines.iter().position(|l| l.trim_start().starts_with(BEGIN)) else {
            return Layout::Unmarked(lines);
        };
        // A section left open (an admin's edit cut it) runs to the end of the file.
        let end = (lines[begin + 1..].iter())
            .position(|l| l.trim() == END)
            .map_or(lines.len(), |n| begin + 1 + n);
        Layout::Marked {
            before: lines[..begin].to_vec(),
            section: lines[begin + 1..end].to_vec(),
            after: lines.get(end + 1..).unwrap_or_default().to_vec(),
        }
    }
}

/// The file: the admin's lines before, sentry's section, the admin's lines after.
fn render(before: &[&str], section: &[String], after: &[&str]) -> String {
    let mut out = String::new();
    for line in before {
        out.push_str(line);
        out.push('\n');
    }
    out.push_str(BEGIN_LINE);
    out.push('\n');
    for line in section {
        out.push_str(line);
        out.push('\n');
    }
    out.push_str(END);
    out.push('\n');
    for line in after {
        out.push_str(line);
        out.push('\n');
    }
    out
}

/// The line sentry writes for an address.
pub fn deny_line(ip: ClientIp) -> String {
    if ip.is_ipv6() {
        format!("ALL: [{ip}] : deny")
    } else {
        format!("ALL: {ip} : deny")
    }
}

/// The line sentry writes for a blocked IPv6 prefix: tcpd's `[net]/len` pattern.
pub fn deny_line_net(net: Network) -> String {
    format!("ALL: [{}]/{} : deny", net.base(), net.length())
}

/// What a line written by sentry denies, or None for any other line.
fn sentry_line_entry(line: &str) -> Option<Listed> {
    let pattern = deny_pattern(line)?;
    if let Some(ip) = pattern_address(pattern) {
        return Some(Listed::Ip(ip));
    }
    let (base, len) = pattern.strip_prefix('[')?.split_once("]/")?;
    Network::parse_prefix(&format!("{base}/{len}")).map(Listed::Net)
}

/// The address of a line written by sentry (or by the originals), or None for any other line.
fn sentry_line_address(line: &str) -> Option<ClientIp> {
    pattern_address(deny_pattern(line)?)
}

/// The client pattern of a line in sentry's form, `ALL: PATTERN : deny`.
fn deny_pattern(line: &str) -> Option<&str> {
    let mut words = line.split_whitespace();
    let (Some("ALL:"), Some(pattern), Some(":"), Some("deny"), None) = (
        words.next(),
        words.next(),
        words.next(),
        words.next(),
        words.next(),
    ) else {
        return None;
    };
    Some(pattern)
}

/// The address a pattern names. The originals wrote IPv6 without brackets and kept
/// `::ffff:` prefixes; those are read too and rewritten in the form tcpd matches.
fn pattern_address(pattern: &str) -> Option<ClientIp> {
    let pattern = pattern
        .strip_prefix('[')
        .and_then(|p| p.strip_suffix(']'))
        .unwrap_or(pattern);
    ClientIp::parse(pattern).ok()
}

/// The pure text transformation behind `add` and `remove`: only sentry's section changes.
fn edit(old: &str, add: &[Listed], remove: &[Listed]) -> String {
    match Layout::of(old) {
        Layout::Marked {
            before,
            section,
            after,
        } => render(&before, &edit_lines(&section, add, remove), &after),
        // An older sentry's file: its lines in sentry's format are sentry's, until adopted.
        Layout::Unmarked(lines) if lines.iter().any(|l| sentry_line_entry(l).is_some()) => {
            let mut out = String::with_capacity(old.len() + add.len() * 24);
            for line in edit_lines(&lines, add, remove) {
                out.push_str(&line);
                out.push('\n');
            }
            out
        }
        Layout::Unmarked(lines) => render(&lines, &edit_lines(&[], add, remove), &[]),
    }
}

/// Drops `remove`, appends missing `add`, canonicalises and de-duplicates sentry's lines;
/// other lines are kept.
fn edit_lines(lines: &[&str], add: &[Listed], remove: &[Listed]) -> Vec<String> {
    let remove: HashSet<Listed> = remove.iter().copied().collect();
    let mut listed: HashSet<Listed> = HashSet::new();
    let mut out = Vec::with_capacity(lines.len() + add.len());
    for line in lines {
        match sentry_line_entry(line) {
            Some(entry) if remove.contains(&entry) || !listed.insert(entry) => {}
            Some(entry) => out.push(entry.line()),
            None => out.push(line.to_string()),
        }
    }
    for entry in add {
        if !remove.contains(entry) && listed.insert(*entry) {
            out.push(entry.line());
        }
    }
    out
}

/// An older sentry's file given a section: the lines of addresses the database blocks move
/// into it (sentry wrote them); every other line stays where it is, the admin's from now on.
fn adopted(old: &str, blocked: &[ClientIp]) -> String {
    let Layout::Unmarked(lines) = Layout::of(old) else {
        return old.to_string();
    };
    let blocked: HashSet<ClientIp> = blocked.iter().copied().collect();
    let (ours, theirs): (Vec<&str>, Vec<&str>) = lines
        .into_iter()
        .partition(|l| sentry_line_address(l).is_some_and(|ip| blocked.contains(&ip)));
    render(&theirs, &edit_lines(&ours, &[], &[]), &[])
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(s: &str) -> ClientIp {
        ClientIp::parse(s).expect(s)
    }

    #[test]
    fn lines_have_the_spelling_tcpd_needs() {
        assert_eq!(deny_line(ip("203.0.113.9")), "ALL: 203.0.113.9 : deny");
        assert_eq!(deny_line(ip("2001:DB8::1")), "ALL: [2001:db8::1] : deny");
    }

    #[test]
    fn removal_matches_the_exact_address_only() {
        let old = "# admin's note\n\
                   ALL: 1.2.3.4 : deny\n\
                   ALL: 1.2.3.45 : deny\n\
                   ALL: 11.2.3.4 : deny\n\
                   ALL: 1.2.3.4.5 : deny\n\
                   sshd: 1.2.3.4\n\
                   ALL: [2001:db8::1] : deny\n\
                   ALL: [2001:db8::10] : deny\n";
        let new = edit(old, &[], &ips(&[ip("1.2.3.4"), ip("2001:db8::1")]));
        assert_eq!(
            new,
            "# admin's note\n\
             ALL: 1.2.3.45 : deny\n\
             ALL: 11.2.3.4 : deny\n\
             ALL: 1.2.3.4.5 : deny\n\
             sshd: 1.2.3.4\n\
             ALL: [2001:db8::10] : deny\n"
        );
    }

    #[test]
    fn adding_is_idempotent_and_canonical() {
        let old = "ALL: ::ffff:192.0.2.7 : deny\nALL: 2001:DB8::2 : deny\nALL: 192.0.2.7 : deny\n";
        let new = edit(
            old,
            &ips(&[ip("192.0.2.7"), ip("198.51.100.1"), ip("198.51.100.1")]),
            &[],
        );
        assert_eq!(
            new,
            "ALL: 192.0.2.7 : deny\nALL: [2001:db8::2] : deny\nALL: 198.51.100.1 : deny\n"
        );
        assert_eq!(edit(&new, &ips(&[ip("198.51.100.1")]), &[]), new);
    }

    #[test]
    fn a_prefix_has_tcpds_own_spelling_and_is_edited_as_one_line() {
        let net = Network::parse_prefix("2001:db8:1:2::/64").expect("prefix");
        assert_eq!(deny_line_net(net), "ALL: [2001:db8:1:2::]/64 : deny");
        assert_eq!(
            sentry_line_entry("ALL: [2001:db8:1:2::]/64 : deny"),
            Some(Listed::Net(net))
        );
        for foreign in [
            "ALL: [2001:db8:1:2::1]/64 : deny",
            "ALL: [192.0.2.0]/24 : deny",
            "ALL: [2001:db8:1:2::]/ : deny",
        ] {
            assert_eq!(sentry_line_entry(foreign), None, "{foreign}");
        }
        let old = edit("", &ips(&[ip("2001:db8:1:2::a"), ip("2001:db8:9::1")]), &[]);
        let new = edit(&old, &[Listed::Net(net)], &ips(&[ip("2001:db8:1:2::a")]));
        assert_eq!(
            new,
            format!(
                "{BEGIN_LINE}\nALL: [2001:db8:9::1] : deny\nALL: [2001:db8:1:2::]/64 : deny\n{END}\n"
            )
        );
        assert_eq!(
            edit(&new, &[], &[Listed::Net(net)]).matches("/64").count(),
            0
        );
    }

    #[test]
    fn foreign_lines_are_not_mistaken_for_ours() {
        for line in [
            "ALL : 1.2.3.4 : deny",
            "ALL: 1.2.3.4 : allow",
            "ALL: 1.2.3.4 : deny extra",
            "sshd: 1.2.3.4 : deny",
            "ALL: 1.2.3.0/24 : deny",
            "ALL: host.example.com : deny",
        ] {
            assert_eq!(sentry_line_address(line), None, "{line}");
        }
    }

    #[test]
    fn only_sentrys_section_is_edited() {
        let new = edit("", &ips(&[ip("192.0.2.1")]), &[]);
        assert_eq!(new, format!("{BEGIN_LINE}\nALL: 192.0.2.1 : deny\n{END}\n"));
        // The admin's lines, in sentry's own spelling too, before and after the section.
        let old = format!(
            "# mine\nALL: 203.0.113.5 : deny\n{BEGIN_LINE}\nALL: 192.0.2.1 : deny\n{END}\nALL: 203.0.113.6 : deny\n"
        );
        let new = edit(
            &old,
            &ips(&[ip("192.0.2.2"), ip("203.0.113.6")]),
            &ips(&[ip("203.0.113.5"), ip("192.0.2.1")]),
        );
        assert_eq!(
            new,
            format!(
                "# mine\nALL: 203.0.113.5 : deny\n{BEGIN_LINE}\nALL: 192.0.2.2 : deny\nALL: 203.0.113.6 : deny\n{END}\nALL: 203.0.113.6 : deny\n"
            )
        );
        // A file of the admin's alone gets a section at its end.
        assert_eq!(
            edit("# mine\n", &[], &[]),
            format!("# mine\n{BEGIN_LINE}\n{END}\n")
        );
    }

    #[test]
    fn an_older_sentrys_file_is_adopted_by_what_the_database_blocks() {
        let old = "# mine\nALL: 203.0.113.5 : deny\nALL: ::ffff:192.0.2.9 : deny\n";
        let new = adopted(old, &[ip("192.0.2.9"), ip("192.0.2.10")]);
        assert_eq!(
            new,
            format!(
                "# mine\nALL: 203.0.113.5 : deny\n{BEGIN_LINE}\nALL: 192.0.2.9 : deny\n{END}\n"
            )
        );
        assert_eq!(adopted(&new, &[ip("203.0.113.5")]), new, "adopted once");
    }

    #[test]
    fn file_round_trip_keeps_foreign_lines() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("hosts.deny");
        std::fs::write(&path, "# keep\nALL: 10.9.9.9 : deny\n").expect("seed");
        let mut file = HostsDenyFile::new(path.clone(), dir.path(), Duration::from_secs(1));
        let entries: Vec<Entry> = [ip("203.0.113.9"), ip("2001:db8::9")]
            .into_iter()
            .map(|ip| Entry {
                ip,
                expires_in: None,
            })
            .collect();
        file.add(&entries).expect("add");
        assert_eq!(
            file.members().expect("members"),
            vec![ip("10.9.9.9"), ip("203.0.113.9"), ip("2001:db8::9")]
        );
        file.remove(&[ip("10.9.9.9")]).expect("remove");
        let text = std::fs::read_to_string(&path).expect("read");
        assert_eq!(
            text,
            "# keep\nALL: 203.0.113.9 : deny\nALL: [2001:db8::9] : deny\n"
        );
    }
}
