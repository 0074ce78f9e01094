/*!
FTP servers: vsftpd, proftpd, pure-ftpd and the BSD ftpd. See the rules in `parse/mod.rs`.
*/

use super::{Finding, ParseOptions};

/// Recognises one vsftpd message.
pub fn parse_vsftpd<'a>(_message: &'a str, _options: &ParseOptions) -> Option<Finding<'a>> {
    None
}

/// Recognises one proftpd message.
pub fn parse_proftpd<'a>(_message: &'a str, _options: &ParseOptions) -> Option<Finding<'a>> {
    None
}

/// Recognises one pure-ftpd message.
pub fn parse_pure_ftpd<'a>(_message: &'a str, _options: &ParseOptions) -> Option<Finding<'a>> {
    None
}

/// BSD ftpd logs the address on `connection from NAME (ADDR)` and the verdict on a later
/// line of the same pid; this remembers the address per pid (bounded).
#[derive(Debug, Default)]
pub struct FtpdSessions {}

impl FtpdSessions {
    /// Recognises one BSD ftpd message of process `pid`.
    pub fn parse<'a>(
        &mut self,
        _pid: Option<u32>,
        _message: &'a str,
        _options: &ParseOptions,
    ) -> Option<Finding<'a>> {
        None
    }
}
