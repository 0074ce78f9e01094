/*!
Text from outside shown to the admin: the one escaping helper.

Reasons, fleet host ids and errors, user names, service names in old databases, and log
lines come from attackers, other hosts or damaged files. Printed as they are, an escape
sequence in one (`\x1b]0;pwned\x07\x1b[2J`) retitles or clears the admin's terminal, and a
newline forges a line of `check`'s one-line status. Everything that prints such text as
text — `report`, `-v`, `check`, `metrics`, error messages, syslog notices — passes it
through [`printable`]; JSON output is escaped by serde instead.
*/

use std::borrow::Cow;
use std::fmt::Write as _;

/// `text` with every control character (C0, DEL, C1, and the invisible bidirectional and
/// format characters that reorder what a terminal shows) written as `\xNN` or `\u{NNNN}`.
pub fn printable(text: &str) -> Cow<'_, str> {
    if !text.chars().any(needs_escape) {
        return Cow::Borrowed(text);
    }
    let mut out = String::with_capacity(text.len() + 16);
    for c in text.chars() {
        if !needs_escape(c) {
            out.push(c);
        } else if u32::from(c) < 0x100 {
            let _ = write!(out, "\\x{:02x}", u32::from(c));
        } else {
            let _ = write!(out, "\\u{{{:04x}}}", u32::from(c));
        }
    }
    Cow::Owned(out)
}

/// Like [`printable`], but keeps line breaks: for multi-line messages (errors).
pub fn printable_lines(text: &str) -> String {
    text.split('\n')
        .map(printable)
        .collect::<Vec<_>>()
        .join("\n")
}

fn needs_escape(c: char) -> bool {
    c.is_control()
        || matches!(c, '\u{200e}' | '\u{200f}' | '\u{202a}'..='\u{202e}' | '\u{2066}'..='\u{2069}')
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn control_characters_are_shown_not_obeyed() {
        assert_eq!(printable("web1"), "web1");
        assert!(matches!(printable("ünïcode ok"), Cow::Borrowed(_)));
        assert_eq!(
            printable("\x1b]0;pwned\x07\x1b[2J"),
            "\\x1b]0;pwned\\x07\\x1b[2J"
        );
        assert_eq!(
            printable("a\nb\tc\u{9b}d\u{7f}"),
            "a\\x0ab\\x09c\\x9bd\\x7f"
        );
        assert_eq!(printable("user\u{202e}gpj.exe"), "user\\u{202e}gpj.exe");
        assert_eq!(printable_lines("one\x1b\ntwo"), "one\\x1b\ntwo");
    }
}
