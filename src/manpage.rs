/*!
The man page, sentry(8), from the same clap definition as `--help` and the completions.

clap_mangen renders the title, synopsis, description and options; its list of
subcommands would point at a `sentry-connect(8)` page per command, which nobody ships.
So each command gets its own subsection here instead, with its usage, its description and
its options, taken from the definition. What a definition cannot say — the configuration
file, FILES, EXIT STATUS, ENVIRONMENT — is written here in roff, and SEE ALSO names only
pages that tcpd and libwrap0 install, and the README the package ships.
*/

use std::io::Write;

use clap::Command;
use clap_mangen::Man;

/// Writes the whole page for `cmd` (the top-level `sentry` command, not yet built).
pub fn render(cmd: Command, out: &mut dyn Write) -> std::io::Result<()> {
    // Unbuilt, a command's own arguments do not yet include the global ones, which the
    // OPTIONS section documents once.
    let commands: Vec<Command> = cmd.get_subcommands().cloned().collect();
    let mut built = cmd.clone();
    built.build();
    let man = Man::new(cmd).section("8");
    man.render_title(out)?;
    man.render_name_section(out)?;
    man.render_synopsis_section(out)?;
    man.render_description_section(out)?;
    man.render_options_section(out)?;
    writeln!(out, ".SH COMMANDS")?;
    for command in commands.iter().filter(|c| !c.is_hide_set()) {
        let usage = built
            .find_subcommand_mut(command.get_name())
            .map(|c| c.render_usage().to_string())
            .unwrap_or_default();
        let usage = usage.trim_start_matches("Usage:").trim();
        writeln!(out, ".SS \"{}\"", escape(usage))?;
        let page = Man::new(command.clone().disable_help_flag(true));
        let mut text = Vec::new();
        page.render_description_section(&mut text)?;
        if command.get_arguments().any(|a| !a.is_positional()) {
            page.render_options_section(&mut text)?;
        }
        // Their sections become paragraphs of this subsection.
        for line in String::from_utf8_lossy(&text).lines() {
            if line.starts_with(".SH") {
                writeln!(out, ".PP")?;
            } else {
                writeln!(out, "{line}")?;
            }
        }
    }
    let mut examples = Vec::new();
    man.render_extra_section(&mut examples)?;
    let examples = String::from_utf8_lossy(&examples).replace(".SH EXTRA", ".SH EXAMPLES");
    out.write_all(examples.as_bytes())?;
    out.write_all(SECTIONS.as_bytes())?;
    man.render_version_section(out)
}

/// Text for a quoted macro argument.
fn escape(text: &str) -> String {
    text.replace('\\', "\\\\")
        .replace('-', "\\-")
        .replace('"', "\\(dq")
}

/// The sections the command line's definition has nothing to say about.
const SECTIONS: &str = r##".SH CONFIGURATION
sentry runs with built\-in defaults. To change them, write
.I $ROOT/sentry.toml
(TOML), or name another file with
.BR \-\-config .
An unknown key or a bad value stops sentry with an error that names the key and the file.
The main keys, with their defaults:
.TP
.B root = \(dq/var/db/sentry\(dq
The root directory (see FILES); an absolute path.
.TP
.B group
A group that may read the database: the root becomes 0750 and the database 0640.
Unset: root alone (0700, 0600).
.TP
.B expire_block_days = 90
Blocks older than this are lifted; 0: never. An address or IPv6 prefix blocked again after
its block expired stays blocked twice as long each time, up to 8 times as long; an administrator's
delist or allow resets the count.
.TP
.B inspect_after = 3
Read the logs once an address has connected this many times.
.TP
.B max_attempts = 10
More failed and probe events than this, and no successful login, block an address.
.TP
.B root_is_naughty = true
A login attempt as root blocks at once.
.TP
.B ipv6_prefix = 64
IPv6 addresses are also counted and blocked by this prefix (32 to 128; 128: off).
.TP
.B prefix_block_after = 3
This many blocked addresses of one IPv6 prefix block the prefix (0: never by count).
.TP
.B untrusted_users = [\(dqgit\(dq, \(dqgitea\(dq, \(dqforgejo\(dq, \(dqgitlab\(dq, \(dqanonymous\(dq, \(dqftp\(dq, \(dqguest\(dq, \(dqnobody\(dq]
Shared or self\-service accounts: a login as one of them trusts the address for nothing.
.TP
.B trust_days = 90
A login trusts its address for the accounts that logged in, until this many days after
the last login; so does another fleet host's allow, for the accounts it names (none named,
by an older sentry: any account).
.TP
.B trusted_window = 86400, trusted_max_attempts
From a trusted address, more failed or invalid logins than trusted_max_attempts
(unset: 3 \(mu max_attempts) for other accounts within this many seconds block it.
.TP
.B evidence = [\(dqlogs\(dq, \(dqpam\(dq]
Where logins and failures are learnt from: log lines, and
.B sentry pam
run by pam_exec from the daemons' PAM stacks. Without logs, log lines still count
failures and probes, but no login in them trusts an address (any local user can write one).
.TP
.B never_block = []
Networks never blocked automatically (127.0.0.0/8 and ::1 always are).
.TP
.B services = [\(dqssh\(dq, \(dqftp\(dq, \(dqmua\(dq]
Whose logs are read: ssh, ftp, mua (POP3 and IMAP), smtp; and, only when listed, cockpit,
openvpn, asterisk, http (Apache basic and digest auth), mysql (MySQL 5.7+'s error log).
.TP
.B logs
The log files to read. Unset: those of the usual places that exist.
.TP
.B journal, journal_file, journal_trusted_exe
Whether and which systemd journal to read, and the executables whose entries count.
The journal is read by
.BR scan ,
.B setup
and
.BR ingest ,
never by
.BR \-\-connect ;
where it holds the evidence,
.B sentry setup
enables
.IR sentry\-scan.timer .
.TP
.B smtp_spam_messages, smtp_spam_score, smtp_trusted_relays
What counts as spam, and this host's own relays.
.TP
.B update_url, update_ca_file, update_public_key
Where
.B sentry update
fetches a signed release, and the key it must be signed with.
.TP
.B [block] backends = [\(dqtcpwrappers\(dq]
The deny lists kept: tcpwrappers, nftables, ipset, iptables, route, pf, ipfw,
firewalld, command; each has a section of its own settings.
.TP
.B [tcpwrappers] deny_file = \(dq$ROOT/hosts.deny\(dq
The deny file; an absolute path.
.TP
.B [fleet]
Share decisions and evidence with other hosts through PostgreSQL
.RB ( url ,
.BR password_file ,
.BR ca_file ,
.BR host_id ,
.BR share ,
.BR interval ,
and more).
.PP
Every key, each backend's section and fleet mode are described in the README.
.SH ENVIRONMENT
The variables of the bash original still work, and override the file.
.TP
.B ROOT_DIR
The root directory (below
.BR \-\-root ).
.TP
.B SENTRY_LOGS
Colon\-separated log files, replacing
.BR logs .
.TP
.B TCPREMOTEIP, PAM_RHOST
The address for
.B connect
when none is given (tcpserver, pam_exec).
.TP
.B PAM_TYPE, PAM_SERVICE, PAM_USER, PAM_RHOST
What
.B pam
records, as pam_exec sets them: auth (placed after the last authentication module)
is a failed login, open_session a login; the address is PAM_RHOST only, and a host
name or none records nothing.
.TP
.B ADD_TO_TCPWRAPPERS, ADD_TO_PF, ADD_TO_IPTABLES
1 or 0: enable or disable the tcpwrappers, pf and ipset backends.
.TP
.B FIREWALL_TABLE
.BR [block]\ firewall_table .
.TP
.B EXPIRE_BLOCK_DAYS
.BR expire_block_days .
.TP
.B PROTECT_FTP, PROTECT_SMTP, PROTECT_MUA
1 or 0: add or remove ftp, smtp, mua in
.BR services .
.SH FILES
.TP
.I /var/db/sentry
The root directory (\fB\-\-root\fR, \fBROOT_DIR\fR, \fBroot\fR), mode 0700.
.TP
.I $ROOT/sentry.db
The SQLite database (with its \-wal and \-shm files), mode 0600.
.TP
.I $ROOT/hosts.deny
The tcpwrappers deny file. sentry rewrites only the lines between
.B # BEGIN sentry
and
.BR "# END sentry" ;
lines outside them are the administrator's.
.TP
.I $ROOT/sentry.toml
The configuration file.
.TP
.I $ROOT/sentry
The binary hosts.allow runs; with the Debian package, a link to
.IR /usr/sbin/sentry ,
upgraded with apt.
.B sentry update
replaces a file there, keeping the previous one as
.IR $ROOT/sentry.old .
.TP
.I $ROOT/.*.lock
Lock files that serialise scans and deny\-list changes, mode 0600.
.TP
.I /usr/share/pam\-configs/sentry
The Debian package's pam\-auth\-update profile (not enabled by itself:
.BR "pam\-auth\-update \-\-enable sentry" )
that puts
.B sentry pam
into common\-auth and common\-session;
.B sentry setup \-\-pam
prints the lines, and
.B check
judges their order.
.TP
.I /etc/hosts.allow
Where
.B sentry setup
shows (or inserts) the two lines that run sentry.
.TP
.I /etc/systemd/system/sentry\-scan.timer
The scan timer
.B sentry setup
enables (and writes, with its service, when no package installed them) where the
journal holds the evidence;
.B $SENTRY_SYSTEMD_DIR
points elsewhere.
.SH "EXIT STATUS"
.TP
.B 0
Done; also when the reader of the output went away (a closed pipe).
.TP
.B 1
Bad usage or input: an unknown option, an invalid address, a bad configuration,
a refused action, a root that does not exist for a command that only reads.
Nothing was changed.
.TP
.B 2
A failure at run time (database, files, a firewall program).
.PP
.B connect
(\fB\-\-connect\fR) exits 0 on runtime failures, so that the login proceeds; the reason
goes to stderr and syslog.
.B pam
always exits 0, whatever happened (said on stderr and in syslog).
.B check
exits as a Nagios plugin does: 0 OK, 1 WARNING, 2 CRITICAL, 3 UNKNOWN.
.SH "SEE ALSO"
.BR hosts_access (5),
.BR tcpd (8),
.BR pam_exec (8),
and the README,
.IR /usr/share/doc/bruteforce\-sentry/README.md .
"##;
