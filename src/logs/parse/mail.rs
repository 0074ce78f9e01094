/*!
Mail authentication: postfix smtpd SASL and vpopmail's vchkpw. See the rules in `parse/mod.rs`.
*/

use super::{Finding, ParseOptions};

/// Recognises one postfix smtpd message.
pub fn parse_postfix<'a>(_message: &'a str, _options: &ParseOptions) -> Option<Finding<'a>> {
    None
}

/// Recognises one vchkpw message.
pub fn parse_vchkpw<'a>(_message: &'a str, _options: &ParseOptions) -> Option<Finding<'a>> {
    None
}
