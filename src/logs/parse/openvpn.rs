/*!
OpenVPN 2.4-2.6 servers (src/openvpn/ssl_verify.c, ssl.c, ssl_pkt.c, multi.c).

In server mode every line about one client starts with the client's prefix, which multi.c
builds from the certificate's common name and the real address: `CN/ADDR:PORT ` or, before
the TLS handshake names anyone, `ADDR:PORT ` (an IPv6 client without its port). The address is OpenVPN's own print of the
socket address, always the last part of that first word (a common name has no spaces:
OpenVPN maps other characters to `_`), and the messages read here are fixed text to the
end of the line, with nothing of the client's in them:

- `TLS Auth Error: Auth Username/Password verification failed for peer` (auth-user-pass-verify
  script or plugin said no): a failed login; `TLS: Username/Password authentication succeeded
  for username 'NAME' [CN SET]` (the name mapped to OpenVPN's class, no quote in it): a login;
- `TLS Error: TLS handshake failed`: a client that never finished the handshake (scanners,
  or a wrong `tls-auth`/`tls-crypt` key): a probe; so is `SIGUSR1[soft,connection-reset]
  received, client-instance restarting` (TCP mode, sig.c) under the bare `ADDR:PORT` prefix,
  a client that hung up before the handshake named it;
- `TLS Error: cannot locate HMAC in incoming packet from [AF_INET]ADDR:PORT`, `TLS Error:
  incoming packet authentication failed from ...`, `TLS Error: tls-crypt unwrapping failed
  from ...`: packets without the `tls-auth`/`tls-crypt` key, logged before any client
  prefix exists: a probe.
*/

use super::lex::Cut;
use super::{Finding, address};
use crate::ip::ClientIp;
use crate::logs::Kind;

pub fn parse(m: &str) -> Option<Finding<'_>> {
    if let Some(rest) = m.strip_prefix("TLS Error: ") {
        return unkeyed_packet(rest).map(|ip| Finding::new(Kind::Probe, ip, None));
    }
    let (prefix, rest) = m.cut(" ")?;
    let ip = client_prefix(prefix)?;
    if let Some(user) =
        rest.strip_prefix("TLS: Username/Password authentication succeeded for username '")
    {
        let user = user
            .strip_suffix("' [CN SET]")
            .or_else(|| user.strip_suffix("' "))
            .or_else(|| user.strip_suffix('\''))?;
        if user.contains('\'') {
            return None;
        }
        return Some(Finding::new(Kind::Success, ip, Some(user)));
    }
    let kind = match rest {
        "TLS Auth Error: Auth Username/Password verification failed for peer" => Kind::Failed,
        "TLS Error: TLS handshake failed" => Kind::Probe,
        // TCP mode: the client dropped the connection. Only before the handshake named
        // anyone (no `CN/`): a connected client's reset is not a probe. (`tls-error`
        // restarts follow the handshake failure above, which counted them already.)
        "SIGUSR1[soft,connection-reset] received, client-instance restarting"
            if !prefix.contains('/') =>
        {
            Kind::Probe
        }
        _ => {
            // In TCP mode the packet errors carry the prefix too: it must name the same client.
            let from = unkeyed_packet(rest.strip_prefix("TLS Error: ")?)?;
            (from == ip).then_some(Kind::Probe)?
        }
    };
    Some(Finding::new(kind, ip, None))
}

/// `[CN/]ADDR:PORT`, or `[CN/]ADDR` for an IPv6 client: mroute_addr_print() writes the port
/// only for IPv4 (and IPv4-mapped) clients, "because v6addr:port is too ambiguous".
fn client_prefix(prefix: &str) -> Option<ClientIp> {
    let real = prefix.rcut("/").map_or(prefix, |(_, real)| real);
    match real.bytes().filter(|&b| b == b':').count() {
        // An address alone is never ambiguous; IPv4 always comes with its port, but
        // alone it could not mean another address.
        0 => address(real),
        1 => address_and_port(real),
        _ if real.starts_with('[') => address_and_port(real),
        _ => address(real),
    }
}

fn address_and_port(text: &str) -> Option<ClientIp> {
    let (addr, port) = text.rcut(":")?;
    if port.is_empty() || port.len() > 5 || !port.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let addr = match addr.strip_prefix('[') {
        Some(inner) => inner.strip_suffix(']')?,
        None => addr,
    };
    address(addr)
}

/// The packet errors' fixed text and `from [AF_INET]ADDR:PORT` (or `[AF_INET6]`) ending the
/// line: the sender of a packet without the shared key.
fn unkeyed_packet(rest: &str) -> Option<ClientIp> {
    let from = [
        "cannot locate HMAC in incoming packet from ",
        "incoming packet authentication failed from ",
        "tls-crypt unwrapping failed from ",
    ]
    .iter()
    .find_map(|text| rest.strip_prefix(text))?;
    let socket = from
        .strip_prefix("[AF_INET]")
        .or_else(|| from.strip_prefix("[AF_INET6]"))?;
    address_and_port(socket)
}
