/*!
sshd: see the rules in `parse/mod.rs`.
*/

use super::{Finding, ParseOptions};

/// Recognises one sshd message.
pub fn parse<'a>(_message: &'a str, _options: &ParseOptions) -> Option<Finding<'a>> {
    None
}
