/*!
dovecot: see the rules in `parse/mod.rs`.
*/

use super::{Finding, ParseOptions};

/// Recognises one dovecot message.
pub fn parse<'a>(_message: &'a str, _options: &ParseOptions) -> Option<Finding<'a>> {
    None
}
