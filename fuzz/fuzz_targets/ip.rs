//! Address text: parsing never panics, and what it accepts prints back to itself.
#![no_main]
use libfuzzer_sys::fuzz_target;
use sentry::ip::ClientIp;

fuzz_target!(|data: &[u8]| {
    if let Ok(text) = std::str::from_utf8(data)
        && let Ok(ip) = ClientIp::parse(text)
    {
        let canonical = ip.to_string();
        assert_eq!(
            ClientIp::parse(&canonical).map(|again| again.to_string()),
            Ok(canonical)
        );
    }
});
