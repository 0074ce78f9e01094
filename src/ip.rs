/*!
Client addresses: strict parsing and the one canonical text form.

Every address sentry stores or compares goes through [`ClientIp::parse`], so one
host is one record however it was written: tcpd hands us `::ffff:192.0.2.7` on a
dual-stack sshd while syslog says `192.0.2.7`, and an IPv6 address can be written
in upper case, with or without zero compression, or with a zone id. The canonical
form is plain dotted IPv4, or IPv6 in RFC 5952 text (lower case, longest zero run
compressed), which is what Rust's `Display` for `Ipv6Addr` produces.

Parsing is deliberately stricter than `std`: a leading-zero octet (`010.1.1.1`) is
octal to some tools and decimal to others, so it is refused rather than guessed.
*/

use std::fmt;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::str::FromStr;

use crate::error::Error;

/// A validated client address in canonical form.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ClientIp(IpAddr);

impl ClientIp {
    /// Parses and canonicalises an address given on the command line, by tcpd or in a file.
    ///
    /// Refuses, with "invalid IP address: X": empty input, `0.x.x.x`, `255.255.255.255`,
    /// `::`, out-of-range or leading-zero octets, wrong octet counts, and trailing garbage.
    pub fn parse(text: &str) -> Result<ClientIp, Error> {
        parse_address(text).ok_or_else(|| invalid_ip(text))
    }

    /// Like [`ClientIp::parse`] without building an error message: for log parsers, which
    /// meet many non-addresses (host names) and only need to know.
    pub fn parse_opt(text: &str) -> Option<ClientIp> {
        parse_address(text)
    }

    /// The address as a standard library value.
    pub fn addr(&self) -> IpAddr {
        self.0
    }

    /// True for IPv6 addresses (IPv4-mapped ones were already turned into IPv4).
    pub fn is_ipv6(&self) -> bool {
        self.0.is_ipv6()
    }
}

impl fmt::Display for ClientIp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
    }
}

/// Saved state (parser joins across scans) keeps addresses in their canonical text.
impl serde::Serialize for ClientIp {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(self)
    }
}

impl<'de> serde::Deserialize<'de> for ClientIp {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let text = <std::borrow::Cow<'de, str>>::deserialize(deserializer)?;
        ClientIp::parse_opt(&text).ok_or_else(|| serde::de::Error::custom("invalid IP address"))
    }
}

impl FromStr for ClientIp {
    type Err = Error;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        ClientIp::parse(s)
    }
}

/// The error for a refused address. The text is escaped: it may come from an attacker.
pub fn invalid_ip(text: &str) -> Error {
    Error::Input(format!("invalid IP address: {}", text.escape_debug()))
}

fn parse_address(text: &str) -> Option<ClientIp> {
    if text.as_bytes().contains(&b':') {
        let v6 = parse_ipv6(text)?;
        return match v6.to_ipv4_mapped() {
            Some(v4) => acceptable_ipv4(v4).map(|v4| ClientIp(IpAddr::V4(v4))),
            None if v6.is_unspecified() => None,
            None => Some(ClientIp(IpAddr::V6(v6))),
        };
    }
    acceptable_ipv4(parse_ipv4_strict(text)?).map(|v4| ClientIp(IpAddr::V4(v4)))
}

/// IPv6 with an optional zone id (`fe80::1%eth0`), which names a local interface and
/// says nothing about the host, so it is dropped.
fn parse_ipv6(text: &str) -> Option<Ipv6Addr> {
    let address = match text.split_once('%') {
        Some((address, zone)) => {
            let zone_ok = !zone.is_empty()
                && zone.len() <= 64
                && zone
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-'));
            if !zone_ok {
                return None;
            }
            address
        }
        None => text,
    };
    // std accepts an embedded dotted quad in the last 32 bits; make it obey our octet rules too.
    if let Some((_, dotted)) = address.rsplit_once(':')
        && dotted.contains('.')
    {
        parse_ipv4_strict(dotted)?;
    }
    Ipv6Addr::from_str(address).ok()
}

/// Exactly four decimal octets, no signs, no leading zeros, each at most 255. One pass over
/// the bytes: log parsers call this for every address they read.
fn parse_ipv4_strict(text: &str) -> Option<Ipv4Addr> {
    let b = text.as_bytes();
    let mut octets = [0u8; 4];
    let mut at = 0;
    for (n, octet) in octets.iter_mut().enumerate() {
        if n > 0 {
            if b.get(at) != Some(&b'.') {
                return None;
            }
            at += 1;
        }
        let start = at;
        let mut value = 0u32;
        while at < b.len() && at - start < 3 && b[at].is_ascii_digit() {
            value = value * 10 + u32::from(b[at] - b'0');
            at += 1;
        }
        let len = at - start;
        if len == 0 || (len > 1 && b[start] == b'0') || value > 255 {
            return None;
        }
        *octet = value as u8;
    }
    (at == b.len()).then(|| Ipv4Addr::from(octets))
}

/// "This network" (0.0.0.0/8) and the limited broadcast address are never a client.
fn acceptable_ipv4(v4: Ipv4Addr) -> Option<Ipv4Addr> {
    (v4.octets()[0] != 0 && !v4.is_broadcast()).then_some(v4)
}

/// An address block such as `127.0.0.0/8` or `2001:db8::/32`, as used by `never_block`,
/// and the IPv6 prefixes sentry blocks whole (`ipv6_prefix`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Network {
    base: IpAddr,
    prefix: u8,
}

impl Network {
    /// Parses `ADDR/PREFIX` or a single address (a /32 or /128).
    pub fn parse(text: &str) -> Result<Network, String> {
        let (address, prefix) = match text.split_once('/') {
            Some((address, prefix)) => (address, Some(prefix)),
            None => (text, None),
        };
        let base: IpAddr = match address.parse::<Ipv6Addr>() {
            Ok(v6) => match v6.to_ipv4_mapped() {
                Some(v4) => IpAddr::V4(v4),
                None => IpAddr::V6(v6),
            },
            Err(_) => IpAddr::V4(
                parse_ipv4_strict(address)
                    .ok_or_else(|| format!("{text:?} is not an address or address/prefix"))?,
            ),
        };
        let max = if base.is_ipv4() { 32 } else { 128 };
        let prefix = match prefix {
            None => max,
            // Plain decimal only: "08" or "+8" are refused rather than guessed at.
            Some(p) => match p.parse::<u8>() {
                Ok(n) if n <= max && p == n.to_string() => n,
                _ => return Err(format!("{text:?} has a prefix length outside 0..={max}")),
            },
        };
        Ok(Network { base, prefix })
    }

    /// The `len`-bit prefix an IPv6 address belongs to (`2001:db8:1:2::/64`), or None for
    /// IPv4 and for `len` 128 or more (prefixes turned off).
    pub fn prefix_of(ip: ClientIp, len: u8) -> Option<Network> {
        match ip.addr() {
            IpAddr::V6(v6) if len < 128 => {
                let mask = u128::MAX.checked_shl(128 - u32::from(len)).unwrap_or(0);
                Some(Network {
                    base: IpAddr::V6(Ipv6Addr::from(u128::from(v6) & mask)),
                    prefix: len,
                })
            }
            _ => None,
        }
    }

    /// Parses an IPv6 prefix as `delist` and the database take it: `ADDR/LEN` with LEN
    /// below 128 and no host bits set (`2001:db8:1:2::/64`), so one prefix has one text.
    pub fn parse_prefix(text: &str) -> Option<Network> {
        let net = Network::parse(text).ok()?;
        let canonical = Network::prefix_of(ClientIp::parse_opt(&net.base.to_string())?, net.prefix);
        canonical.filter(|c| *c == net)
    }

    /// The prefix length.
    pub fn length(&self) -> u8 {
        self.prefix
    }

    /// True when the two blocks share an address (one holds the other).
    pub fn overlaps(&self, other: &Network) -> bool {
        let shorter = self.prefix.min(other.prefix);
        match (self.base, other.base) {
            (IpAddr::V4(a), IpAddr::V4(b)) => {
                let mask = u32::MAX.checked_shl(32 - u32::from(shorter)).unwrap_or(0);
                u32::from(a) & mask == u32::from(b) & mask
            }
            (IpAddr::V6(a), IpAddr::V6(b)) => {
                let mask = u128::MAX.checked_shl(128 - u32::from(shorter)).unwrap_or(0);
                u128::from(a) & mask == u128::from(b) & mask
            }
            _ => false,
        }
    }

    /// The first address of the block (tcpd's and the firewalls' spelling need it apart).
    pub fn base(&self) -> IpAddr {
        self.base
    }

    /// True when the address falls inside this block.
    pub fn contains(&self, ip: ClientIp) -> bool {
        match (self.base, ip.addr()) {
            (IpAddr::V4(base), IpAddr::V4(ip)) => {
                let mask = u32::MAX
                    .checked_shl(32 - u32::from(self.prefix))
                    .unwrap_or(0);
                u32::from(base) & mask == u32::from(ip) & mask
            }
            (IpAddr::V6(base), IpAddr::V6(ip)) => {
                let mask = u128::MAX
                    .checked_shl(128 - u32::from(self.prefix))
                    .unwrap_or(0);
                u128::from(base) & mask == u128::from(ip) & mask
            }
            _ => false,
        }
    }
}

impl fmt::Display for Network {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.base, self.prefix)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn canonical(text: &str) -> String {
        match ClientIp::parse(text) {
            Ok(ip) => ip.to_string(),
            Err(e) => panic!("{text:?} should be accepted: {e}"),
        }
    }

    #[test]
    fn accepts_and_canonicalises() {
        let cases = [
            ("192.0.2.7", "192.0.2.7"),
            ("1.2.3.4", "1.2.3.4"),
            ("10.0.0.0", "10.0.0.0"),
            ("::ffff:192.0.2.7", "192.0.2.7"),
            ("::FFFF:192.0.2.7", "192.0.2.7"),
            ("::ffff:c000:0207", "192.0.2.7"),
            ("2001:DB8::1", "2001:db8::1"),
            ("2001:0db8:0000:0000:0000:0000:0000:0001", "2001:db8::1"),
            ("2001:db8:0:0:1:0:0:1", "2001:db8::1:0:0:1"),
            ("2001:db8::0:1", "2001:db8::1"),
            ("fe80::1%eth0", "fe80::1"),
            ("fe80::1%enp0s3.100", "fe80::1"),
            ("::1", "::1"),
            ("255.255.255.254", "255.255.255.254"),
        ];
        for (input, expected) in cases {
            assert_eq!(canonical(input), expected, "input {input:?}");
        }
    }

    #[test]
    fn refuses_malformed_and_meaningless_addresses() {
        let refused = [
            "",
            " ",
            "0.0.0.0",
            "0.1.2.3",
            "255.255.255.255",
            "::",
            "::ffff:0.0.0.0",
            "::ffff:255.255.255.255",
            "256.1.1.1",
            "1.2.3.256",
            "1.2.3",
            "1.2.3.4.5",
            "010.1.1.1",
            "1.02.3.4",
            "1.2.3.4 ",
            " 1.2.3.4",
            "1.2.3.4x",
            "1.2.3.4/32",
            "+1.2.3.4",
            "1..3.4",
            // The one-pass reader's edges: a fourth digit, a trailing dot, digits past 255
            // within three, a sign inside, a non-ASCII digit.
            "1.2.3.4567",
            "1.2.3.4.",
            ".1.2.3",
            "1.2.3.999",
            "1.-2.3.4",
            "1.2.3.\u{0664}",
            "2001:db8::1::2",
            "2001:db8::g",
            "2001:db8:0:0:0:0:0:0:1",
            "fe80::1%",
            "fe80::1%eth 0",
            "::ffff:010.1.1.1",
            "[2001:db8::1]",
            "localhost",
            "1.2.3.4\n",
        ];
        for input in refused {
            let err = ClientIp::parse(input).expect_err(input);
            assert_eq!(
                err.to_string(),
                format!("invalid IP address: {}", input.escape_debug())
            );
        }
    }

    #[test]
    fn networks_contain_their_members_only() {
        let net = |s: &str| Network::parse(s).expect(s);
        let ip = |s: &str| ClientIp::parse(s).expect(s);
        assert!(net("127.0.0.0/8").contains(ip("127.9.9.9")));
        assert!(!net("127.0.0.0/8").contains(ip("128.0.0.1")));
        assert!(net("::1/128").contains(ip("::1")));
        assert!(!net("::1/128").contains(ip("::2")));
        assert!(net("2001:db8::/32").contains(ip("2001:db8:ffff::1")));
        assert!(!net("2001:db8::/32").contains(ip("1.2.3.4")));
        assert!(net("0.0.0.0/0").contains(ip("8.8.8.8")));
        assert!(net("192.0.2.7").contains(ip("::ffff:192.0.2.7")));
        let prefix = Network::prefix_of(ip("2001:DB8:1:2:aa::1"), 64).expect("v6");
        assert_eq!(prefix.to_string(), "2001:db8:1:2::/64");
        assert!(prefix.contains(ip("2001:db8:1:2:ffff::9")));
        assert!(!prefix.contains(ip("2001:db8:1:3::9")));
        assert_eq!(Network::prefix_of(ip("2001:db8::1"), 128), None);
        assert_eq!(Network::prefix_of(ip("192.0.2.1"), 64), None);
        assert_eq!(Network::parse_prefix("2001:db8:1:2::/64"), Some(prefix));
        assert_eq!(
            Network::parse_prefix("2001:db8:1:2::1/64"),
            None,
            "host bits"
        );
        assert_eq!(Network::parse_prefix("192.0.2.0/24"), None, "IPv4");
        assert_eq!(Network::parse_prefix("2001:db8::1"), None, "an address");
        assert!(prefix.overlaps(&net("2001:db8::/32")));
        assert!(net("2001:db8:1:2::7").overlaps(&prefix));
        assert!(!prefix.overlaps(&net("2001:db8:1:3::/64")));
        assert!(!prefix.overlaps(&net("127.0.0.0/8")));
        for bad in [
            "1.2.3.4/33",
            "::/129",
            "1.2.3.4/08",
            "1.2.3.4/",
            "nonsense/8",
            "1.2.3/24",
        ] {
            assert!(Network::parse(bad).is_err(), "{bad} should be refused");
        }
    }
}
