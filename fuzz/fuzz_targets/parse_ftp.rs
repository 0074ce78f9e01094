//! ftp messages (what follows `prog[pid]: `) straight into the ftp parser.
#![no_main]
use libfuzzer_sys::fuzz_target;
use sentry::logs::Service;

mod common;

fuzz_target!(|data: &[u8]| common::message_of(
    &[
        Service::Vsftpd,
        Service::Proftpd,
        Service::PureFtpd,
        Service::Ftpd
    ],
    data
));
