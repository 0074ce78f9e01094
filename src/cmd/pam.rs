/*!
`sentry pam`: evidence no log line can imitate, from the daemon's own PAM stack.

pam_exec runs it with `PAM_TYPE`, `PAM_SERVICE`, `PAM_USER` and `PAM_RHOST` in the
environment. The daemon (sshd, dovecot, vsftpd, proftpd) set `PAM_RHOST` from the socket
it accepted; any local user can write a log line in sshd's name, but not into sshd's PAM
stack. An `auth` call placed after the last authentication module (reached only when all
of them failed) records a failure; `open_session` records a login, and so trust.

A PAM stack must never fail or wait because of sentry: this command exits 0 whatever
happens, waits for the database at most as long as `--connect`, and says what went wrong
on stderr and in syslog. It records nothing when `PAM_RHOST` is missing or is a host name
(`UseDNS yes`), and it never takes the address from anywhere else.
*/

use crate::actions::Patience;
use crate::cmd::{Context, now};
use crate::error::{EXIT_OK, Error, Result};
use crate::ip::ClientIp;
use crate::logs::{Event, Kind, Report, Service, services};
use crate::printable::printable;
use crate::scan::Tally;

/// What the PAM stack says happened.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    /// `PAM_TYPE=auth`: every authentication module before the hook failed.
    Failure,
    /// `PAM_TYPE=open_session`: a login.
    Login,
}

/// One call of the hook, read from pam_exec's environment.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Attempt {
    pub outcome: Outcome,
    pub ip: ClientIp,
    pub service: Service,
    /// `PAM_USER`, as the client gave it.
    pub user: String,
}

/// Why a call records nothing: `Quiet` for calls that are not a remote login's (the hook
/// also runs for `su`, `cron` and `close_session` from the shared `common-*` files), `Why`
/// for a set-up that needs the admin (said on stderr and in syslog).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Nothing {
    Quiet(String),
    Why(String),
}

/// The attempt pam_exec's environment describes, or why there is none to record.
pub fn attempt(env: &dyn Fn(&str) -> Option<String>) -> std::result::Result<Attempt, Nothing> {
    let outcome = match env("PAM_TYPE").as_deref() {
        Some("auth") => Outcome::Failure,
        Some("open_session") => Outcome::Login,
        Some(other) => {
            return Err(Nothing::Quiet(format!(
                "PAM_TYPE {}: only auth and open_session are recorded",
                printable(other)
            )));
        }
        None => {
            return Err(Nothing::Why(
                "PAM_TYPE is not set: `sentry pam` is run by pam_exec from a PAM stack (see sentry(8), PAM)"
                    .into(),
            ));
        }
    };
    let Some(name) = env("PAM_SERVICE").filter(|s| !s.is_empty()) else {
        return Err(Nothing::Why(
            "PAM_SERVICE is not set: nothing recorded".into(),
        ));
    };
    let Some(service) = services::service_of_pam(&name) else {
        return Err(Nothing::Quiet(format!(
            "PAM service {}: not a daemon sentry records",
            printable(&name)
        )));
    };
    let rhost = env("PAM_RHOST").unwrap_or_default();
    if rhost.is_empty() {
        return Err(Nothing::Why(format!(
            "{name}: no PAM_RHOST, so no client address: nothing recorded"
        )));
    }
    let ip = ClientIp::parse(&rhost).map_err(|_| {
        Nothing::Why(format!(
            "{name}: PAM_RHOST {} is not an address (a host name: set UseDNS no, or the \
             daemon's equivalent): nothing recorded",
            printable(&rhost)
        ))
    })?;
    Ok(Attempt {
        outcome,
        ip,
        service,
        user: env("PAM_USER").unwrap_or_default(),
    })
}

/// The whole hook: records what the environment describes and always exits 0.
pub fn main(ctx: &Context) -> u8 {
    match run(ctx) {
        Ok(()) | Err(Error::OutputClosed) => {}
        Err(e) => {
            let text = crate::printable::printable_lines(&e.to_string());
            let message = match e {
                Error::Input(_) => format!("pam: {text}"),
                _ => format!("pam: failed, nothing recorded (the login is PAM's alone): {text}"),
            };
            eprintln!("sentry: {message}");
            crate::syslog::warn(&message);
        }
    }
    EXIT_OK
}

fn run(ctx: &Context) -> Result<()> {
    let attempt = match attempt(ctx.env) {
        Ok(attempt) => attempt,
        Err(Nothing::Quiet(why)) => {
            if ctx.verbose {
                eprintln!("sentry: {why}");
            }
            return Ok(());
        }
        Err(Nothing::Why(why)) => return Err(Error::Input(why)),
    };
    let config = ctx.config()?;
    if !config.evidence.pam {
        if ctx.verbose {
            eprintln!("sentry: evidence does not list \"pam\": nothing recorded");
        }
        return Ok(());
    }
    let event_kind = match attempt.outcome {
        Outcome::Login => Kind::Success,
        Outcome::Failure => crate::logs::parse::lex::root_rule(
            Kind::Failed,
            Some(&attempt.user),
            &crate::scan::parse_options(&config),
        ),
    };
    let event = Event {
        service: attempt.service,
        kind: event_kind,
        ip: attempt.ip,
        user: Some(&attempt.user),
        time: Some(now()),
        score: None,
        count: 1,
        report: Report::Sole,
        pid: None,
    };
    if !config.counts(&event) {
        if ctx.verbose {
            eprintln!(
                "sentry: {} is not in services: nothing recorded",
                attempt.service.group().name()
            );
        }
        return Ok(());
    }
    let mut tally = Tally::of_hook();
    tally.add(&event);
    let mut sentry = ctx.open(&config, Patience::Login)?;
    sentry.record_and_decide(&mut tally)?;
    if ctx.verbose {
        eprintln!(
            "sentry: recorded {} from {} ({}, {})",
            match attempt.outcome {
                Outcome::Login => "a login",
                Outcome::Failure => "a failed login",
            },
            attempt.ip,
            attempt.service.name(),
            printable(&attempt.user)
        );
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn read(vars: &[(&str, &str)]) -> std::result::Result<Attempt, Nothing> {
        let vars: Vec<(String, String)> = (vars.iter())
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        let env = move |name: &str| vars.iter().find(|(k, _)| k == name).map(|(_, v)| v.clone());
        attempt(&env)
    }

    const SSHD_AUTH: [(&str, &str); 4] = [
        ("PAM_TYPE", "auth"),
        ("PAM_SERVICE", "sshd"),
        ("PAM_USER", "alice"),
        ("PAM_RHOST", "192.0.2.7"),
    ];

    fn with(changes: &[(&'static str, &'static str)]) -> Vec<(&'static str, &'static str)> {
        let mut vars: Vec<_> = SSHD_AUTH
            .iter()
            .filter(|(k, _)| !changes.iter().any(|(c, _)| c == k))
            .copied()
            .collect();
        vars.extend(changes.iter().filter(|(_, v)| !v.is_empty()).copied());
        vars
    }

    #[test]
    fn auth_is_a_failure_and_open_session_a_login() {
        let failure = read(&SSHD_AUTH).expect("an attempt");
        assert_eq!(
            failure,
            Attempt {
                outcome: Outcome::Failure,
                ip: ClientIp::parse("192.0.2.7").expect("address"),
                service: Service::Sshd,
                user: "alice".into(),
            }
        );
        let login = read(&with(&[("PAM_TYPE", "open_session")])).expect("a login");
        assert_eq!(login.outcome, Outcome::Login);
        for (name, service) in [
            ("dovecot", Service::Dovecot),
            ("vsftpd", Service::Vsftpd),
            ("proftpd", Service::Proftpd),
        ] {
            let a = read(&with(&[("PAM_SERVICE", name)])).expect(name);
            assert_eq!(a.service, service);
        }
    }

    #[test]
    fn the_address_is_canonical_and_only_from_pam_rhost() {
        let a = read(&with(&[("PAM_RHOST", "::ffff:192.0.2.9")])).expect("mapped");
        assert_eq!(a.ip.to_string(), "192.0.2.9");
        let a = read(&with(&[("PAM_RHOST", "2001:DB8::1")])).expect("v6");
        assert_eq!(a.ip.to_string(), "2001:db8::1");
        // No PAM_RHOST: nothing, said why; other variables are never asked.
        let mut vars = with(&[("PAM_RHOST", "")]);
        vars.push(("TCPREMOTEIP", "192.0.2.8"));
        vars.push(("SSH_CLIENT", "192.0.2.8 5555 22"));
        assert!(matches!(read(&vars), Err(Nothing::Why(w)) if w.contains("PAM_RHOST")));
    }

    #[test]
    fn host_names_and_garbage_record_nothing_and_say_why() {
        for rhost in [
            "host.example.org",
            "192.0.2.7 ",
            "192.0.2.7\n",
            "010.0.0.1",
            "192.0.2.7:22",
            "\x1b[31m",
        ] {
            match read(&with(&[("PAM_RHOST", rhost)])) {
                Err(Nothing::Why(why)) => {
                    assert!(why.contains("not an address"), "{rhost:?}: {why}");
                    assert!(!why.chars().any(char::is_control), "{why:?}");
                }
                other => panic!("{rhost:?}: {other:?}"),
            }
        }
    }

    #[test]
    fn other_calls_and_local_services_pass_quietly() {
        for changes in [
            vec![("PAM_TYPE", "close_session")],
            vec![("PAM_TYPE", "account")],
            vec![("PAM_TYPE", "password")],
            vec![("PAM_SERVICE", "cron"), ("PAM_RHOST", "")],
            vec![("PAM_SERVICE", "sudo")],
        ] {
            assert!(
                matches!(read(&with(&changes)), Err(Nothing::Quiet(_))),
                "{changes:?}"
            );
        }
        assert!(matches!(read(&[]), Err(Nothing::Why(w)) if w.contains("PAM_TYPE")));
        assert!(matches!(
            read(&with(&[("PAM_SERVICE", "")])),
            Err(Nothing::Why(_))
        ));
    }
}
