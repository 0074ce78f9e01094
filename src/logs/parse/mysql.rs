/*!
MySQL's refused logins, from its own error log (5.7 and later, `log_error`; MySQL 8 logs them
with `log_error_verbosity = 3`, 5.7 with `log_warnings = 2`): `[Note] [MY-010926] [Server]
Access denied for user 'NAME'@'HOST' (using password: YES)` (8.0 and later) or `[Note]
Access denied for user ...` (5.7), the message from its level on (`app_logs` splits the time
and the connection id off).

NAME is the client's, unescaped, cut at 48 (`'%-.48s'`, ER_ACCESS_DENIED_ERROR); HOST is
the server's view of the client (its address with `skip_name_resolve`, else a resolved name,
which is not evidence), then the fixed ` (using password: YES|NO)`. Read from the end: the
last `'@'` is MySQL's, since no address or host name holds a quote.

A NAME with a line break writes a line of its own: `x'@'192.0.2.1' (using password: YES)`
followed by a break makes the line up to the break look like MySQL's, header included, and
leaves at most 13 bytes of the name before MySQL's own `'@'HOST' (using password: ...)` on
the next line, which therefore never starts with a MySQL time stamp. So a line read here
counts only once the file's next line is seen to start with one (`Parser` holds it until
then; see `parse::Held`). MariaDB does not cut the name, so its error log (space-padded
hours, no `T`) is not read at all; nor is a `mysqld` syslog line, whose neighbours are other
programs' (mysqld_safe's `logger` splits mysqld's output at line breaks).
*/

use super::lex::Cut;
use super::lex::failure_kind;
use super::{Finding, ParseOptions, address};

/// The longest user name MySQL writes into the message (`'%-.48s'`).
pub const NAME_CAP: usize = 48;

/// A MySQL error log message from its level on.
pub fn parse<'a>(m: &'a str, o: &ParseOptions) -> Option<Finding<'a>> {
    let rest = (m.strip_prefix("[Note] ")).or_else(|| m.strip_prefix("[Warning] "))?;
    // MySQL 8: `[MY-010926] [Server] ` (the error's number, then the subsystem).
    let rest = match rest.strip_prefix("[MY-") {
        Some(code) => code.strip_prefix("010926] [Server] ")?,
        None => rest,
    };
    let rest = rest.strip_prefix("Access denied for user '")?;
    let rest = (rest.strip_suffix("' (using password: YES)"))
        .or_else(|| rest.strip_suffix("' (using password: NO)"))?;
    let (user, host) = rest.rcut("'@'")?;
    if user.len() > NAME_CAP {
        // Not MySQL's cut: a longer name is no line of the MySQL this reads.
        return None;
    }
    let ip = address(host)?;
    Some(Finding::new(failure_kind(Some(user), o), ip, Some(user)))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::logs::Kind;
    use crate::logs::parse::testing::{Parsed, show, some};

    fn p(m: &str) -> Parsed {
        show(parse(m, &ParseOptions::default()))
    }

    #[test]
    fn access_denied() {
        assert_eq!(
            p(
                "[Note] [MY-010926] [Server] Access denied for user 'bob'@'192.0.2.1' (using password: YES)"
            ),
            some(Kind::Failed, "192.0.2.1", Some("bob"))
        );
        assert_eq!(
            p("[Note] Access denied for user 'root'@'2001:db8::1' (using password: NO)"),
            some(Kind::Naughty, "2001:db8::1", Some("root"))
        );
        // The name is the client's: the last `'@'` is MySQL's.
        assert_eq!(
            p(
                "[Note] Access denied for user 'x'@'9.9.9.9' (using password: YES)'@'192.0.2.2' (using password: YES)"
            ),
            some(
                Kind::Failed,
                "192.0.2.2",
                Some("x'@'9.9.9.9' (using password: YES)")
            )
        );
    }

    /// The held line is decided by its own log's next line, also after other logs' lines.
    #[test]
    fn a_line_waits_for_its_logs_next_line() {
        use crate::logs::parse::Parser;
        let denied = "2026-11-24T10:00:01.000000Z 7 [Note] [MY-010926] [Server] Access denied for user 'bob'@'203.0.113.80' (using password: YES)";
        let note =
            "2026-11-24T10:00:02.000000Z 0 [System] [MY-010931] [Server] ready for connections.";
        let mut parser = Parser::new(ParseOptions::default(), 1_795_608_000);
        parser.begin_source("/var/log/mysql/error.log");
        assert!(parser.parse_line(denied).is_none());
        assert!(parser.is_holding());
        // Another log's lines (any shape) leave it waiting.
        parser.begin_source("/var/log/auth.log");
        assert!(parser.parse_line("no header at all").is_none());
        assert!(parser.take_released().is_none());
        assert!(!parser.is_holding(), "not this log's");
        parser.begin_source("/var/log/mysql/error.log");
        assert!(parser.parse_line(note).is_none());
        let released = parser.take_released().expect("confirmed");
        assert_eq!(
            (released.event().kind, released.event().ip.to_string()),
            (Kind::Failed, "203.0.113.80".to_string())
        );
        // Saved with the cursors: a later run takes it up.
        assert!(parser.parse_line(denied).is_none());
        let saved = serde_json::to_string(&parser.saved_state()).expect("saved");
        let mut later = Parser::new(ParseOptions::default(), 1_795_608_000);
        later.restore_state(serde_json::from_str(&saved).expect("restored"));
        later.begin_source("/var/log/mysql/error.log");
        assert!(
            later
                .parse_line("x'@'203.0.113.81' (using password: YES)")
                .is_none()
        );
        assert!(
            later.take_released().is_none(),
            "a broken line's rest drops it"
        );
        // State saved before held lines existed still loads.
        let old: crate::logs::parse::ParserState =
            serde_json::from_str(&saved.replace(",\"held\":", ",\"old\":")).expect("old");
        later.restore_state(old);
    }

    #[test]
    fn not_evidence() {
        for m in [
            // A host name (name resolution on), localhost, another error number.
            "[Note] Access denied for user 'bob'@'client.example.com' (using password: YES)",
            "[Note] Access denied for user 'bob'@'localhost' (using password: YES)",
            "[Note] [MY-010055] [Server] Access denied for user 'bob'@'192.0.2.1' (using password: YES)",
            // Cut, or another level's.
            "[Note] Access denied for user 'bob'@'192.0.2.1' (using password: Y",
            "[ERROR] Access denied for user 'bob'@'192.0.2.1' (using password: YES)",
            // Longer than MySQL's cut: MariaDB's, or no one's.
            "[Note] Access denied for user 'aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa'@'192.0.2.1' (using password: YES)",
        ] {
            assert_eq!(p(m), None, "{m}");
        }
    }
}
