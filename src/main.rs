//! The `sentry` binary: parse the command line, run it, turn the outcome into an exit code.
//! Everything else lives in the library so that tests and benches drive the same code.

use std::process::ExitCode;

fn main() -> ExitCode {
    ExitCode::from(sentry::cli::main(std::env::args_os()))
}
