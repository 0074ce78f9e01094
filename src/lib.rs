/*!
sentry: safe and effective protection against brute-force login attacks.

The binary is a thin shell around this library; `ARCHITECTURE.md` is the map.
Data flows one way: [`cli`] parses a request into a command, its module in [`cmd`] runs it
through [`actions`], which carries it out against the [`store`] (what we remember) and the
[`block`] deny lists (what the admin's rules consult), asking [`policy`] (pure rules) what
evidence means.
*/

pub mod actions;
pub mod atomic_file;
pub mod block;
pub mod cli;
pub mod cmd;
pub mod config;
pub mod error;
pub mod exec;
pub mod fleet;
pub mod ip;
pub mod logs;
pub mod manpage;
pub mod monitor;
pub mod pam_stack;
pub mod policy;
pub mod printable;
pub mod progress;
pub mod report;
pub mod root;
pub mod scan;
pub mod setup;
pub mod store;
pub mod syslog;
pub mod tcpd;
pub mod update;

pub use error::{Error, Result};
