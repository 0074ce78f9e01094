//! Whole log lines (any header format, any program) through the parser dispatch.
#![no_main]
use libfuzzer_sys::fuzz_target;
use sentry::logs::parse::{ParseOptions, Parser};

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    let mut parser = Parser::new(ParseOptions::default(), 1_795_608_000);
    for line in text.lines() {
        let _ = parser.parse_line(line);
    }
});
