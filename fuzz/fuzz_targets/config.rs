//! Configuration text: any bytes give a configuration or a clear error, never a panic.
#![no_main]
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(text) = std::str::from_utf8(data) {
        let _ = sentry::config::Config::from_toml(text, std::path::Path::new("/var/db/sentry"));
    }
});
