//! dropbear messages (what follows `prog[pid]: `) straight into the dropbear parser.
#![no_main]
use libfuzzer_sys::fuzz_target;
use sentry::logs::Service;

mod common;

fuzz_target!(|data: &[u8]| common::message_of(&[Service::Dropbear], data));
