/*!
The one error type, and the exit codes it maps to.

Exit codes are part of sentry's interface (scripts and pam_exec read them):
0 success, 1 bad usage or input (nothing was changed), 2 runtime failure
(database, file system, external program). Messages are written for the
administrator: they name the file, the key or the address, and what to do.
*/

use std::fmt;
use std::path::Path;

/// Exit code for success.
pub const EXIT_OK: u8 = 0;
/// Exit code for bad usage or bad input: the command changed nothing.
pub const EXIT_USAGE: u8 = 1;
/// Exit code for a failure at run time (database, files, external programs).
pub const EXIT_RUNTIME: u8 = 2;

/// Why a command failed, already phrased for the administrator.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Error {
    /// The caller asked for something invalid (bad address, bad config, refused action).
    Input(String),
    /// The request was fine but the system could not carry it out.
    Runtime(String),
    /// Whoever reads our output went away (`sentry dump | head`): not a failure.
    OutputClosed,
}

/// Shorthand used across the crate.
pub type Result<T, E = Error> = std::result::Result<T, E>;

impl Error {
    /// The exit code this error ends the program with.
    pub fn exit_code(&self) -> u8 {
        match self {
            Error::Input(_) => EXIT_USAGE,
            Error::Runtime(_) => EXIT_RUNTIME,
            Error::OutputClosed => EXIT_OK,
        }
    }

    /// A file operation failed: name the file and what we were doing with it.
    pub fn io(doing: &str, path: &Path, err: &std::io::Error) -> Error {
        let hint = match err.kind() {
            std::io::ErrorKind::PermissionDenied => " (permission denied: run as root)",
            std::io::ErrorKind::StorageFull => " (the disk is full: free some space)",
            std::io::ErrorKind::ReadOnlyFilesystem => " (the file system is read-only)",
            _ => "",
        };
        Error::Runtime(format!("could not {doing} {}: {err}{hint}", path.display()))
    }
}

impl Error {
    /// Writing to stdout failed; a closed pipe ends the command quietly.
    pub fn output(err: &std::io::Error) -> Error {
        if err.kind() == std::io::ErrorKind::BrokenPipe {
            Error::OutputClosed
        } else {
            Error::Runtime(format!("could not write the output: {err}"))
        }
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Error::Input(msg) | Error::Runtime(msg) => f.write_str(msg),
            Error::OutputClosed => f.write_str("output closed"),
        }
    }
}

impl std::error::Error for Error {}
