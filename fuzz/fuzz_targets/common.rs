//! What every per-service target does with its input.

use sentry::logs::Service;
use sentry::logs::parse::{ParseOptions, Parser};

/// The first byte picks the service (and the root_is_naughty option), the rest is the
/// message that follows `prog[pid]: `. Beyond not panicking: an IPv4 address the parser
/// reports must appear in the message as written (IPv6 and mapped forms may be spelled
/// differently from their canonical text).
pub fn message_of(services: &[Service], data: &[u8]) {
    let Some((&selector, rest)) = data.split_first() else {
        return;
    };
    let service = services[usize::from(selector) % services.len()];
    let message = String::from_utf8_lossy(rest);
    let options = ParseOptions {
        root_is_naughty: selector & 0x80 == 0,
    };
    let mut parser = Parser::new(options, 1_795_608_000);
    let (pid, time) = (Some(u32::from(selector)), Some(1_795_608_000));
    if let Some((_, finding)) = parser.parse_message(service, pid, time, &message) {
        let ip = finding.ip.to_string();
        if !finding.ip.is_ipv6() && !message.to_ascii_lowercase().contains("::ffff:") {
            assert!(message.contains(&ip), "{ip} is not in {message:?}");
        }
    }
}
