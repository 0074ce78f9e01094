/*!
The PAM lines that run `sentry pam`, as `setup --pam` prints them and `check` judges them.

The `auth` hook must be reached only when every authentication module failed: placed after
the last one and before `pam_deny`, with every earlier module's `success=N` jumping over it
(else a login through pam_sss or krb5 would be counted as a failure of pam_unix, and a
colleague blocked for logging in). It must never decide anything itself: `sufficient` or a
`success=` jump on it would let a failed login in whenever sentry exits 0. The `session`
hook records logins. Debian's pam-auth-update writes both from the package's profile
(`/usr/share/pam-configs/sentry`), raising the earlier jumps itself.
*/

use std::path::Path;

use crate::config::Config;
use crate::monitor::State;

/// Debian's pam-auth-update profile, as the package installs it.
pub const PROFILE: &str = "/usr/share/pam-configs/sentry";

/// The PAM services (`/etc/pam.d/NAME`) of the daemons that set `PAM_RHOST`.
pub fn daemon_services() -> impl Iterator<Item = &'static str> {
    crate::logs::services::TABLE
        .iter()
        .flat_map(|r| r.pam.iter().copied())
}

/// The command pam_exec runs: the binary hosts.allow runs, with the root unless it is the
/// default one (pam_exec passes no `ROOT_DIR`).
pub fn hook_command(config: &Config) -> String {
    let binary = config.installed_binary();
    if config.root == Path::new(crate::config::DEFAULT_ROOT) {
        format!("{} pam", binary.display())
    } else {
        format!("{} --root {} pam", binary.display(), config.root.display())
    }
}

/// The two lines: `auth` (before `pam_deny`) and `session`.
pub fn hook_lines(config: &Config) -> [String; 2] {
    let command = hook_command(config);
    [
        format!("auth\t[default=ignore]\tpam_exec.so quiet {command}"),
        format!("session\toptional\tpam_exec.so quiet {command}"),
    ]
}

/// One rule of a PAM file: type, control, module and its arguments.
#[derive(Debug)]
struct Rule<'a> {
    kind: &'a str,
    control: String,
    module: &'a str,
    args: Vec<&'a str>,
}

/// The rules of a PAM file's text, comments and blank lines left out; a bracketed control
/// (`[success=1 default=ignore]`) is one field.
fn rules(text: &str) -> Vec<Rule<'_>> {
    let mut rules = Vec::new();
    for line in text.lines() {
        let line = line.split('#').next().unwrap_or("").trim();
        if line.is_empty() || line.starts_with('@') {
            continue;
        }
        let (kind, rest) = line.split_once(char::is_whitespace).unwrap_or((line, ""));
        let rest = rest.trim_start();
        let (control, rest) = if let Some(inner) = rest.strip_prefix('[') {
            match inner.split_once(']') {
                Some((c, r)) => (format!("[{c}]"), r),
                None => (rest.to_string(), ""),
            }
        } else {
            let (c, r) = rest.split_once(char::is_whitespace).unwrap_or((rest, ""));
            (c.to_string(), r)
        };
        let mut words = rest.split_whitespace();
        let module = words.next().unwrap_or("");
        rules.push(Rule {
            kind: kind.trim_start_matches('-'),
            control,
            module,
            args: words.collect(),
        });
    }
    rules
}

fn module_is(rule: &Rule<'_>, name: &str) -> bool {
    rule.module == name || rule.module.ends_with(&format!("/{name}"))
}

/// pam_exec running `sentry ... pam`.
fn is_hook(rule: &Rule<'_>) -> bool {
    module_is(rule, "pam_exec.so")
        && rule.args.last() == Some(&"pam")
        && rule
            .args
            .iter()
            .any(|a| a.ends_with("/sentry") || *a == "sentry")
}

/// How many rules a `success=N` control jumps over, if it has one.
fn success_jump(control: &str) -> Option<usize> {
    let inner = control.strip_prefix('[')?.strip_suffix(']')?;
    inner
        .split_whitespace()
        .find_map(|kv| kv.strip_prefix("success="))
        .and_then(|n| n.parse().ok())
}

/// What is wrong with the hooks in one PAM file's text (`name` for messages): an `auth`
/// hook a login can reach, one that can let a failure in, one that never runs. Empty
/// when the file has no hook, or its hooks are in a working order.
pub fn judge(name: &str, text: &str) -> Vec<(State, String)> {
    let rules = rules(text);
    let auth: Vec<&Rule<'_>> = rules.iter().filter(|r| r.kind == "auth").collect();
    let mut problems = Vec::new();
    for (h, hook) in auth.iter().enumerate().filter(|(_, r)| is_hook(r)) {
        let control = hook.control.as_str();
        if control == "sufficient"
            || success_jump(control).is_some()
            || control.contains("success=done")
        {
            problems.push((
                State::Critical,
                format!(
                    "{name}: sentry's auth hook has control {control}: a failed login is let in whenever sentry exits 0 (use [default=ignore])"
                ),
            ));
        }
        let deny = (auth.iter().enumerate())
            .skip(h)
            .find(|(_, r)| module_is(r, "pam_deny.so"))
            .map(|(d, _)| d);
        for (i, earlier) in auth[..h].iter().enumerate() {
            let Some(n) = success_jump(&earlier.control) else {
                continue;
            };
            // success=N skips the next N rules.
            let target = i + n + 1;
            if target <= h {
                problems.push((
                    State::Critical,
                    format!(
                        "{name}: {}'s success={n} lands on or before sentry's auth hook: its logins are counted as failed (raise it by one)",
                        earlier.module
                    ),
                ));
            } else if deny.is_some_and(|d| target <= d) {
                problems.push((
                    State::Critical,
                    format!(
                        "{name}: {}'s success={n} lands on pam_deny: nobody logs in through it (the hook was added without raising it by one)",
                        earlier.module
                    ),
                ));
            }
        }
        if deny.is_none() && auth.iter().any(|r| module_is(r, "pam_deny.so")) {
            problems.push((
                State::Warning,
                format!("{name}: sentry's auth hook comes after pam_deny: it never runs"),
            ));
        }
    }
    problems
}

/// True when the file's text runs the hook for `kind` (`auth`, `session`).
pub fn has_hook(text: &str, kind: &str) -> bool {
    rules(text).iter().any(|r| r.kind == kind && is_hook(r))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// What pam-auth-update writes from Debian's `unix` profile and ours.
    const DEBIAN: &str = "\
# here are the per-package modules (the \"Primary\" block)
auth\t[success=2 default=ignore]\tpam_unix.so nullok
auth\t[default=ignore]\tpam_exec.so quiet /usr/sbin/sentry pam
# here's the fallback if no module succeeds
auth\trequisite\t\t\tpam_deny.so
auth\trequired\t\t\tpam_permit.so
";

    #[test]
    fn the_stack_pam_auth_update_writes_is_in_working_order() {
        assert!(judge("common-auth", DEBIAN).is_empty());
        assert!(has_hook(DEBIAN, "auth") && !has_hook(DEBIAN, "session"));
        let sss = "auth [success=3 default=ignore] pam_unix.so nullok\n\
                   auth [success=2 default=ignore] pam_sss.so use_first_pass\n\
                   auth [default=ignore] pam_exec.so quiet /var/db/sentry/sentry --root /srv/s pam\n\
                   auth requisite pam_deny.so\nauth required pam_permit.so\n";
        assert!(
            judge("common-auth", sss).is_empty(),
            "{:?}",
            judge("x", sss)
        );
    }

    #[test]
    fn a_hook_a_login_reaches_or_that_decides_is_critical() {
        // Pasted without raising pam_unix's jump: every login lands on the hook.
        let unraised = DEBIAN.replace("success=2", "success=1");
        let problems = judge("common-auth", &unraised);
        assert_eq!(problems.len(), 1, "{problems:?}");
        assert_eq!(problems[0].0, State::Critical);
        assert!(problems[0].1.contains("pam_unix.so"), "{problems:?}");
        let sufficient = DEBIAN.replace("[default=ignore]\tpam_exec", "sufficient pam_exec");
        assert_eq!(judge("x", &sufficient)[0].0, State::Critical);
        let after_deny = "auth [success=1 default=ignore] pam_unix.so\nauth requisite pam_deny.so\n\
                          auth optional pam_exec.so /usr/sbin/sentry pam\n";
        let problems = judge("x", after_deny);
        assert!(
            problems
                .iter()
                .any(|(s, p)| *s == State::Warning && p.contains("never runs"))
        );
    }

    #[test]
    fn other_pam_exec_lines_are_not_the_hook() {
        let other = "auth optional pam_exec.so /usr/local/bin/notify pam\n\
                     auth optional pam_exec.so /usr/sbin/sentry --connect\n";
        assert!(!has_hook(other, "auth"));
        assert!(judge("x", other).is_empty());
    }
}
