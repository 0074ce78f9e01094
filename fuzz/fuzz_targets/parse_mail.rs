//! mail messages (what follows `prog[pid]: `) straight into the mail parsers: SASL,
//! vchkpw, and the mail filters (amavis, rspamd, spamd, postfix rejects).
#![no_main]
use libfuzzer_sys::fuzz_target;
use sentry::logs::Service;

mod common;

fuzz_target!(|data: &[u8]| common::message_of(
    &[
        Service::Postfix,
        Service::VchkpwSmtp,
        Service::VchkpwMua,
        Service::Amavis,
        Service::Rspamd,
        Service::Spamd,
    ],
    data
));
