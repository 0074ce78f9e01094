//! ftp messages (what follows `prog[pid]: `) straight into the ftp parser.
#![no_main]
use libfuzzer_sys::fuzz_target;
use sentry::logs::Service;
use sentry::logs::parse::{ParseOptions, Parser};

fuzz_target!(|data: &[u8]| {
    let Some((&selector, rest)) = data.split_first() else {
        return;
    };
    let services = [
        Service::Vsftpd,
        Service::Proftpd,
        Service::PureFtpd,
        Service::Ftpd,
    ];
    let service = services[usize::from(selector) % services.len()];
    let message = String::from_utf8_lossy(rest);
    let mut parser = Parser::new(
        ParseOptions {
            root_is_naughty: selector & 0x80 == 0,
        },
        1_795_608_000,
    );
    if let Some((_, finding)) = parser.parse_message(service, Some(u32::from(selector)), &message) {
        // An IPv4 address the parser reports must appear in the message as written (IPv6
        // and mapped forms may be spelled differently from their canonical text).
        let ip = finding.ip.to_string();
        if !finding.ip.is_ipv6() && !message.to_ascii_lowercase().contains("::ffff:") {
            assert!(message.contains(&ip), "{ip} is not in {message:?}");
        }
    }
});
