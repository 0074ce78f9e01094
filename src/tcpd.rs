/*!
tcpd's access rules, evaluated the way libwrap does: which rule of hosts.allow or
hosts.deny decides a (daemon, client) pair, what it decides, and what it spawns.

`setup` uses it to place sentry's lines where they work, `check` and `doctor` to prove
that they do. Debian's `tcpdmatch` prints only granted/denied, so the matching rule and
whether it runs this root's sentry can only come from here; `tests/tcpdmatch.rs` holds
this evaluator against the real `tcpdmatch` on the same files.

The client is judged as `tcpdmatch -d` and a libwrap daemon see an address without a
reverse name: host name, user and server address "unknown". Quirks kept on purpose, each
one checked against tcpdmatch:
- a comment is a `#` in the first column only (` # sshd : ALL : deny` is a rule);
- a last line without a newline is ignored; a backslash before a newline joins lines;
- `:` inside `[...]` does not split fields; in options `\:` is a literal colon;
- patterns are case-insensitive; `.x` is a suffix and `x.` a prefix of the address text
  too (`.2.3.4` matches 1.2.3.4); `*` and `?` are wildcards (not inside brackets);
- `n.n.n.n/len` needs 1 ≤ len ≤ 32 (`/0` never matches), a dotted mask may not be
  255.255.255.255; `[v6]/len` takes 0 ≤ len ≤ 128, an empty length being 0;
- an IPv4-mapped client (`::ffff:a.b.c.d`) is matched as a.b.c.d;
- a `/file` pattern is a list of whitespace-separated words, each a pattern (no comments,
  no commas; a file that cannot be read matches nothing);
- an option error (unknown option, `user` (refused by Debian's tcpdmatch), a missing or extra value, `allow`, `deny` or `twist`
  not last, an empty option) denies.
*/

use std::collections::HashMap;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::path::{Path, PathBuf};

/// One rule: the logical line (continuations joined) and where it starts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rule {
    /// 1-based number of the rule's first physical line.
    pub line: usize,
    /// Physical lines the rule spans (1 + continuations).
    pub lines: usize,
    /// The rule as written, continuations joined.
    pub text: String,
    pub daemons: String,
    pub clients: String,
    /// The options field, `None` without a second `:`.
    pub options: Option<String>,
}

/// One access control file, parsed.
#[derive(Debug, Clone, Default)]
pub struct Table {
    pub path: PathBuf,
    pub rules: Vec<Rule>,
}

impl Table {
    /// Parses `text` as tcpd reads it.
    pub fn parse(path: &Path, text: &str) -> Table {
        let mut rules = Vec::new();
        let mut physical = text.split_inclusive('\n').enumerate().peekable();
        while let Some((index, first)) = physical.next() {
            let mut joined = String::new();
            let mut piece = first;
            let mut lines = 1;
            let complete = loop {
                if let Some(body) = piece.strip_suffix("\\\n") {
                    joined.push_str(body);
                    match physical.next() {
                        Some((_, next)) => {
                            piece = next;
                            lines += 1;
                        }
                        // A continuation at the very end: as a missing newline.
                        None => break false,
                    }
                } else if let Some(body) = piece.strip_suffix('\n') {
                    joined.push_str(body);
                    break true;
                } else {
                    // No newline at the end of the file: tcpd skips the line.
                    joined.push_str(piece);
                    break false;
                }
            };
            if !complete || joined.starts_with('#') || joined.trim_matches(SPACE).is_empty() {
                continue;
            }
            let Some((daemons, rest)) = split_field(&joined) else {
                continue;
            };
            let (clients, options) = match split_field(rest) {
                Some((clients, options)) => (clients, Some(options.to_string())),
                None => (rest, None),
            };
            rules.push(Rule {
                line: index + 1,
                lines,
                text: joined.clone(),
                daemons: daemons.to_string(),
                clients: clients.to_string(),
                options,
            });
        }
        Table {
            path: path.to_path_buf(),
            rules,
        }
    }

    /// Reads and parses `path`; a missing file is an empty table, as for tcpd.
    pub fn read(path: &Path) -> std::io::Result<Table> {
        match std::fs::read(path) {
            Ok(bytes) => Ok(Table::parse(path, &String::from_utf8_lossy(&bytes))),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(Table {
                path: path.to_path_buf(),
                rules: Vec::new(),
            }),
            Err(e) => Err(e),
        }
    }
}

const SPACE: &[char] = &[' ', '\t', '\r', '\n'];
const LIST_SEPARATORS: &[char] = &[' ', '\t', '\r', '\n', ','];

/// Splits at the first `:` outside brackets (Debian's IPv6 patch to tcpd).
fn split_field(text: &str) -> Option<(&str, &str)> {
    let mut depth = 0i32;
    for (i, c) in text.char_indices() {
        match c {
            '[' => depth += 1,
            ']' => depth -= 1,
            ':' if depth == 0 => return Some((&text[..i], &text[i + 1..])),
            _ => {}
        }
    }
    None
}

/// What tcpd does with the connection.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Access {
    Granted,
    Denied,
    /// `twist`: the daemon is replaced by the rule's command.
    Delegated,
}

impl Access {
    /// tcpdmatch's word for it.
    pub fn word(self) -> &'static str {
        match self {
            Access::Granted => "granted",
            Access::Denied => "denied",
            Access::Delegated => "delegated",
        }
    }
}

/// Which file a rule is in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Which {
    Allow,
    Deny,
}

/// The outcome for one (daemon, client) pair.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Verdict {
    pub access: Access,
    /// The rule that decided, `None` when no rule matched (granted by default).
    pub rule: Option<(Which, Rule)>,
    /// The `spawn` commands of that rule, `%` expansions left as written.
    pub spawns: Vec<String>,
    /// The rule's options could not be read: tcpd denies.
    pub option_error: Option<String>,
}

/// A client as tcpd sees it.
#[derive(Debug, Clone)]
pub struct Client {
    pub address: IpAddr,
    /// The verified host name, or "unknown" (what tcpd uses when there is none).
    pub name: String,
}

impl Client {
    /// An address without a reverse name (what `tcpdmatch -d ADDR` evaluates here).
    pub fn address(address: IpAddr) -> Client {
        let address = match address {
            IpAddr::V6(v6) => v6
                .to_ipv4_mapped()
                .map(IpAddr::V4)
                .unwrap_or(IpAddr::V6(v6)),
            v4 => v4,
        };
        Client {
            address,
            name: UNKNOWN.into(),
        }
    }
}

const UNKNOWN: &str = "unknown";
/// tcpd's nesting of `/file` patterns has no limit; a file naming itself would recurse
/// forever. Deeper than this matches nothing here.
const MAX_FILE_DEPTH: usize = 8;

/// hosts.allow and hosts.deny, with the `/file` patterns they reference read once.
#[derive(Debug, Clone, Default)]
pub struct Tables {
    pub allow: Table,
    pub deny: Table,
    files: std::cell::RefCell<HashMap<PathBuf, Option<Vec<String>>>>,
    /// Treat this `/file` pattern as listing every client (true) or none (false): setup
    /// and check ask "what if this address were blocked?", and "if it were not?".
    pub pretend_listed: Option<(PathBuf, bool)>,
}

impl Tables {
    pub fn new(allow: Table, deny: Table) -> Tables {
        Tables {
            allow,
            deny,
            ..Tables::default()
        }
    }

    /// Reads `hosts_allow` and the `hosts.deny` beside it.
    pub fn read(hosts_allow: &Path) -> std::io::Result<Tables> {
        let deny = hosts_allow.with_file_name("hosts.deny");
        Ok(Tables::new(Table::read(hosts_allow)?, Table::read(&deny)?))
    }

    /// The first match wins: hosts.allow, then hosts.deny, else granted.
    pub fn evaluate(&self, daemon: &str, client: &Client) -> Verdict {
        for (which, table) in [(Which::Allow, &self.allow), (Which::Deny, &self.deny)] {
            for rule in &table.rules {
                if self.rule_matches(rule, daemon, client) {
                    return decide(which, rule);
                }
            }
        }
        Verdict {
            access: Access::Granted,
            rule: None,
            spawns: Vec::new(),
            option_error: None,
        }
    }

    /// Whether `rule`'s daemon and client lists both match.
    pub fn rule_matches(&self, rule: &Rule, daemon: &str, client: &Client) -> bool {
        list_match(&tokens(&rule.daemons), &|t| daemon_match(t, daemon))
            && list_match(&tokens(&rule.clients), &|t| self.client_match(t, client, 0))
    }

    fn client_match(&self, token: &str, client: &Client, depth: usize) -> bool {
        // `user@host`: the user is never known here (no ident lookups).
        if let Some(at) = token.get(1..).and_then(|t| t.find('@')) {
            let (user, host) = (&token[..=at], &token[at + 2..]);
            return string_match(user, UNKNOWN) && self.host_match(host, client, depth);
        }
        self.host_match(token, client, depth)
    }

    fn host_match(&self, token: &str, client: &Client, depth: usize) -> bool {
        let address = client.address.to_string();
        if token.starts_with('@') {
            false // NIS netgroups: none here
        } else if token.starts_with('/') {
            self.file_match(token, client, depth)
        } else if token.eq_ignore_ascii_case("KNOWN") {
            known(&client.name)
        } else if token.eq_ignore_ascii_case("LOCAL") {
            known(&client.name) && !client.name.contains('.')
        } else if let Some((net, mask)) = token.split_once('/') {
            masked_match(net, mask, client.address)
        } else if let Some(inner) = token.strip_prefix('[').and_then(|t| t.strip_suffix(']')) {
            matches!((inner.parse::<Ipv6Addr>(), client.address),
                (Ok(pattern), IpAddr::V6(a)) if pattern == a)
        } else {
            string_match(token, &address)
                || (!is_inaddr(token) && string_match(token, &client.name))
        }
    }

    fn file_match(&self, path: &str, client: &Client, depth: usize) -> bool {
        let path = PathBuf::from(path);
        if let Some((pretend, listed)) = &self.pretend_listed
            && *pretend == path
        {
            return *listed;
        }
        if depth >= MAX_FILE_DEPTH {
            return false;
        }
        let words = self
            .files
            .borrow_mut()
            .entry(path.clone())
            .or_insert_with(|| {
                std::fs::read(&path).ok().map(|b| {
                    String::from_utf8_lossy(&b)
                        .split(SPACE)
                        .filter(|w| !w.is_empty())
                        .map(str::to_string)
                        .collect()
                })
            })
            .clone();
        words
            .unwrap_or_default()
            .iter()
            .any(|w| self.host_match(w, client, depth + 1))
    }
}

fn known(name: &str) -> bool {
    !name.eq_ignore_ascii_case(UNKNOWN) && !name.eq_ignore_ascii_case("paranoid")
}

/// Digits, dots and slashes only: an address pattern, never compared with a host name.
fn is_inaddr(token: &str) -> bool {
    token
        .chars()
        .all(|c| c.is_ascii_digit() || c == '.' || c == '/')
}

fn tokens(list: &str) -> Vec<&str> {
    list.split(LIST_SEPARATORS)
        .filter(|t| !t.is_empty())
        .collect()
}

/// `a b EXCEPT c d EXCEPT e` = (a or b) and not ((c or d) and not e).
fn list_match(tokens: &[&str], matches: &dyn Fn(&str) -> bool) -> bool {
    for (i, token) in tokens.iter().enumerate() {
        if token.eq_ignore_ascii_case("EXCEPT") {
            return false;
        }
        if matches(token) {
            return match tokens[i + 1..]
                .iter()
                .position(|t| t.eq_ignore_ascii_case("EXCEPT"))
            {
                None => true,
                Some(at) => !list_match(&tokens[i + 1 + at + 1..], matches),
            };
        }
    }
    false
}

/// `daemon` or `daemon@host`; the server's own address is unknown here, so only
/// `@ALL`-like host parts match.
fn daemon_match(token: &str, daemon: &str) -> bool {
    match token.get(1..).and_then(|t| t.find('@')) {
        Some(at) => {
            let host = &token[at + 2..];
            string_match(&token[..=at], daemon) && (host.eq_ignore_ascii_case("ALL"))
        }
        None => string_match(token, daemon),
    }
}

fn string_match(token: &str, text: &str) -> bool {
    if token.starts_with('.') {
        text.len() > token.len()
            && text.is_char_boundary(text.len() - token.len())
            && text[text.len() - token.len()..].eq_ignore_ascii_case(token)
    } else if token.eq_ignore_ascii_case("ALL") {
        true
    } else if token.eq_ignore_ascii_case("KNOWN") {
        known(text)
    } else if token.ends_with('.') {
        text.len() >= token.len()
            && text.is_char_boundary(token.len())
            && text[..token.len()].eq_ignore_ascii_case(token)
    } else if token.contains(['*', '?']) {
        glob(token.as_bytes(), text.as_bytes())
    } else {
        token.eq_ignore_ascii_case(text)
    }
}

fn glob(pattern: &[u8], text: &[u8]) -> bool {
    match pattern.split_first() {
        None => text.is_empty(),
        Some((b'*', rest)) => (0..=text.len()).any(|i| glob(rest, &text[i..])),
        Some((b'?', rest)) => !text.is_empty() && glob(rest, &text[1..]),
        Some((c, rest)) => text
            .split_first()
            .is_some_and(|(t, tail)| t.eq_ignore_ascii_case(c) && glob(rest, tail)),
    }
}

/// A dotted quad of four decimal numbers, each at most 255.
fn dotted_quad(text: &str) -> Option<u32> {
    let parts: Vec<&str> = text.split('.').collect();
    if parts.len() != 4 {
        return None;
    }
    let mut value = 0u32;
    for part in parts {
        if part.is_empty() || !part.bytes().all(|b| b.is_ascii_digit()) || part.len() > 3 {
            return None;
        }
        let n: u32 = part.parse().ok()?;
        if n > 255 {
            return None;
        }
        value = value << 8 | n;
    }
    Some(value)
}

/// C's `atoi`-like reading of a prefix length: optional sign, leading digits, rest ignored.
fn leading_number(text: &str) -> Option<i64> {
    let text = text.trim_start_matches(SPACE);
    let (sign, digits) = match text.strip_prefix('-') {
        Some(rest) => (-1, rest),
        None => (1, text.strip_prefix('+').unwrap_or(text)),
    };
    let end = digits
        .find(|c: char| !c.is_ascii_digit())
        .unwrap_or(digits.len());
    if end == 0 {
        return None;
    }
    digits[..end.min(6)].parse::<i64>().ok().map(|n| sign * n)
}

fn masked_match(net: &str, mask: &str, address: IpAddr) -> bool {
    if let Some(inner) = net.strip_prefix('[').and_then(|n| n.strip_suffix(']')) {
        let IpAddr::V6(address) = address else {
            return false;
        };
        let Ok(net) = inner.parse::<Ipv6Addr>() else {
            return false;
        };
        let len = if mask.trim_matches(SPACE).is_empty() {
            Some(0)
        } else {
            leading_number(mask)
        };
        let Some(len) = len.filter(|l| (0..=128).contains(l)) else {
            return false;
        };
        let bits = if len == 0 {
            0
        } else {
            u128::MAX << (128 - len)
        };
        return u128::from(net) & bits == u128::from(address) & bits;
    }
    let IpAddr::V4(address) = address else {
        return false;
    };
    let Some(net) = dotted_quad(net) else {
        return false;
    };
    let bits = if mask.contains('.') {
        match dotted_quad(mask) {
            Some(m) if m != u32::MAX => m,
            _ => return false,
        }
    } else {
        match leading_number(mask) {
            Some(len) if (1..=32).contains(&len) => u32::MAX << (32 - len),
            _ => return false,
        }
    };
    u32::from(address) & bits == net
}

/// The options of a matched rule, tcpd's way (hosts_options(5)).
fn decide(which: Which, rule: &Rule) -> Verdict {
    let mut verdict = Verdict {
        access: match which {
            Which::Allow => Access::Granted,
            Which::Deny => Access::Denied,
        },
        rule: Some((which, rule.clone())),
        spawns: Vec::new(),
        option_error: None,
    };
    let Some(options) = &rule.options else {
        return verdict;
    };
    match parse_options(options) {
        Ok(list) => {
            for (name, value) in list {
                match name.as_str() {
                    "allow" => verdict.access = Access::Granted,
                    "deny" => verdict.access = Access::Denied,
                    "twist" => verdict.access = Access::Delegated,
                    "spawn" => verdict.spawns.push(value.unwrap_or_default()),
                    _ => {}
                }
            }
        }
        Err(e) => {
            verdict.access = Access::Denied;
            verdict.option_error = Some(e);
        }
    }
    verdict
}

/// Whether an option takes a value: required, optional or none; and whether it must end
/// the rule.
fn option_kind(name: &str) -> Option<(Arity, bool)> {
    Some(match name {
        "allow" | "deny" => (Arity::None, true),
        "twist" => (Arity::Required, true),
        "keepalive" => (Arity::None, false),
        "rfc931" | "nice" => (Arity::Optional, false),
        "severity" | "spawn" | "aclexec" | "linger" | "banners" | "setenv" | "umask" => {
            (Arity::Required, false)
        }
        _ => return None,
    })
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Arity {
    None,
    Optional,
    Required,
}

/// `name [=] value : name ...` with `\:` for a literal colon; names lower-cased.
pub fn parse_options(options: &str) -> Result<Vec<(String, Option<String>)>, String> {
    let mut fields = Vec::new();
    let mut current = String::new();
    let mut chars = options.chars();
    while let Some(c) = chars.next() {
        match c {
            '\\' => match chars.next() {
                Some(':') => current.push(':'),
                Some(other) => {
                    current.push('\\');
                    current.push(other);
                }
                None => current.push('\\'),
            },
            ':' => fields.push(std::mem::take(&mut current)),
            _ => current.push(c),
        }
    }
    fields.push(current);
    let count = fields.len();
    let mut parsed = Vec::new();
    for (i, field) in fields.iter().enumerate() {
        let field = field.trim_matches(SPACE);
        if field.is_empty() {
            return Err("an empty option".into());
        }
        let end = field.find([' ', '\t', '=']).unwrap_or(field.len());
        let name = field[..end].to_ascii_lowercase();
        let rest = field[end..].trim_start_matches(SPACE);
        let value = rest.strip_prefix('=').unwrap_or(rest).trim_matches(SPACE);
        let Some((arity, last)) = option_kind(&name) else {
            return Err(format!("unknown option `{name}`"));
        };
        match (arity, value.is_empty()) {
            (Arity::Required, true) => return Err(format!("`{name}` needs a value")),
            (Arity::None, false) => return Err(format!("`{name}` takes no value")),
            _ => {}
        }
        if last && i + 1 != count {
            return Err(format!("`{name}` must be the last option"));
        }
        parsed.push((name, (!value.is_empty()).then(|| value.to_string())));
    }
    Ok(parsed)
}

/// An IPv4 or bracketed IPv6 network of a client pattern, for the probes `setup` and
/// `check` try: every address a file names, and the first and last of each network.
pub fn probe_addresses(tables: &Tables) -> Vec<IpAddr> {
    let mut out: Vec<IpAddr> = vec![
        IpAddr::V4(Ipv4Addr::new(192, 0, 2, 1)),
        IpAddr::V4(Ipv4Addr::new(198, 51, 100, 77)),
        IpAddr::V4(Ipv4Addr::new(127, 0, 0, 1)),
        IpAddr::V6("2001:db8::1".parse().unwrap_or(Ipv6Addr::LOCALHOST)),
        IpAddr::V6(Ipv6Addr::LOCALHOST),
    ];
    for rule in tables.allow.rules.iter().chain(&tables.deny.rules) {
        for token in tokens(&rule.clients) {
            let token = token.rsplit('@').next().unwrap_or(token);
            let (net, len) = token.split_once('/').unwrap_or((token, ""));
            let net = net.trim_start_matches('[').trim_end_matches(']');
            let net = net.trim_end_matches('.');
            if let Ok(v4) = net.parse::<Ipv4Addr>() {
                let bits = u32::from(v4);
                let host = match leading_number(len) {
                    Some(l) if (1..=32).contains(&l) => u32::MAX >> l,
                    _ if token.ends_with('.') => 0xff,
                    _ => 0,
                };
                for a in [
                    bits,
                    bits | host,
                    bits.wrapping_add(1),
                    bits.wrapping_sub(1),
                ] {
                    out.push(IpAddr::V4(Ipv4Addr::from(a)));
                }
            } else if let Ok(v6) = net.parse::<Ipv6Addr>() {
                let bits = u128::from(v6);
                let host = match leading_number(len) {
                    Some(l) if (0..128).contains(&l) => u128::MAX >> l,
                    _ => 0,
                };
                for a in [
                    bits,
                    bits | host,
                    bits.wrapping_add(1),
                    bits.wrapping_sub(1),
                ] {
                    out.push(IpAddr::V6(Ipv6Addr::from(a)));
                }
            }
        }
    }
    out.sort();
    out.dedup();
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tables(allow: &str, deny: &str) -> Tables {
        Tables::new(
            Table::parse(Path::new("hosts.allow"), allow),
            Table::parse(Path::new("hosts.deny"), deny),
        )
    }

    fn access(t: &Tables, daemon: &str, ip: &str) -> Access {
        t.evaluate(daemon, &Client::address(ip.parse().expect("ip")))
            .access
    }

    #[test]
    fn first_match_wins_and_options_decide() {
        let t = tables(
            "# comment\nsshd : 192.0.2.1 : deny\nsshd : ALL : spawn /x --connect --ip=%a : allow\n",
            "ALL : ALL\n",
        );
        assert_eq!(access(&t, "sshd", "192.0.2.1"), Access::Denied);
        let v = t.evaluate("sshd", &Client::address("192.0.2.2".parse().expect("ip")));
        assert_eq!(v.access, Access::Granted);
        assert_eq!(v.spawns, ["/x --connect --ip=%a"]);
        assert_eq!(v.rule.map(|(_, r)| r.line), Some(3));
        assert_eq!(access(&t, "vsftpd", "192.0.2.2"), Access::Denied);
    }

    #[test]
    fn quirks_of_the_file_format() {
        // An indented `#` is no comment; a line without newline is skipped.
        assert_eq!(
            access(&tables(" # sshd : ALL : deny\n", ""), "sshd", "192.0.2.1"),
            Access::Denied
        );
        assert_eq!(
            access(&tables("sshd : ALL : deny", ""), "sshd", "192.0.2.1"),
            Access::Granted
        );
        let t = tables("sshd : 192.0.2.1 \\\n : deny\n", "");
        assert_eq!(access(&t, "sshd", "192.0.2.1"), Access::Denied);
        assert_eq!(t.allow.rules[0].lines, 2);
    }

    #[test]
    fn patterns() {
        for (pattern, ip, hit) in [
            ("ALL EXCEPT 192.0.2.0/24", "192.0.2.9", false),
            (
                "ALL EXCEPT 192.0.2.0/24 EXCEPT 192.0.2.9",
                "192.0.2.9",
                true,
            ),
            ("192.0.2.", "192.0.2.9", true),
            (".0.2.9", "192.0.2.9", true),
            ("192.0.2.*", "192.0.2.9", true),
            ("0.0.0.0/0", "192.0.2.9", false),
            ("192.0.2.9/255.255.255.255", "192.0.2.9", false),
            ("192.0.2.9/32", "192.0.2.9", true),
            ("[2001:db8::]/32", "2001:db8::9", true),
            ("[2001:DB8:0::9]", "2001:db8::9", true),
            ("192.0.2.9", "::ffff:192.0.2.9", true),
            ("unknown", "192.0.2.9", true),
            ("KNOWN", "192.0.2.9", false),
            ("ALL@192.0.2.9", "192.0.2.9", true),
        ] {
            let t = tables(&format!("sshd : {pattern} : deny\n"), "");
            let want = if hit { Access::Denied } else { Access::Granted };
            assert_eq!(access(&t, "sshd", ip), want, "{pattern} vs {ip}");
        }
    }

    #[test]
    fn option_errors_deny() {
        for options in [
            "bogus",
            "allow : spawn x",
            "spawn",
            "allow extra",
            "allow :",
        ] {
            let t = tables(&format!("sshd : ALL : {options}\n"), "");
            assert_eq!(access(&t, "sshd", "192.0.2.1"), Access::Denied, "{options}");
        }
        let t = tables("sshd : ALL : twist /bin/echo no\n", "");
        assert_eq!(access(&t, "sshd", "192.0.2.1"), Access::Delegated);
    }
}
