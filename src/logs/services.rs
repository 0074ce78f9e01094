/*!
The one table of the services sentry reads: [`TABLE`], one [`Row`] per [`Service`].

Everything that used to list the services by hand derives from it: the names in the
database and in `parse --service`, the groups an admin switches on, which syslog programs
(and which journal identifiers) belong to which parser, who may speak for a service in the
journal, the log files read by default, the daemons `check` watches, and the tcpd daemon
names `setup` writes into hosts.allow. Adding a service is a variant of [`Service`], a row
here, a parser file under `parse/` and a corpus file under `tests/parse-corpus/`.
*/

use std::collections::HashMap;
use std::hash::{BuildHasherDefault, Hasher};
use std::sync::OnceLock;

use serde::Serialize;

use super::app_logs::MYSQL_ERROR_LOG;
use super::parse::{Finding, ParseFn};
use super::parse::{
    Joins, ParseOptions, asterisk, cockpit, courier, cyrus, dovecot, dropbear, exim, ftp, http,
    lex, mail, mailfilter, mysql, openvpn, sendmail, uwimap,
};

/// The program whose log line it was. The order is [`TABLE`]'s.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, serde::Deserialize,
)]
pub enum Service {
    Sshd,
    Dropbear,
    Dovecot,
    Vsftpd,
    Proftpd,
    PureFtpd,
    /// The BSD ftpd (`ftpd[pid]`).
    Ftpd,
    /// postfix smtpd SASL authentication.
    Postfix,
    /// vpopmail's `vchkpw-smtp` / `vchkpw-submission`.
    VchkpwSmtp,
    /// vpopmail's `vchkpw-pop3` / `vchkpw-imap`.
    VchkpwMua,
    /// amavisd-new's verdict on a message.
    Amavis,
    /// rspamd's task log line.
    Rspamd,
    /// SpamAssassin's spamd, joined to the client through postfix's queue lines.
    Spamd,
    /// exim's SMTP AUTH failures (syslog or its own main log).
    Exim,
    /// sendmail's SMTP AUTH failures.
    Sendmail,
    /// Courier's IMAP and POP3 login failures.
    Courier,
    /// Courier's SMTP AUTH failures (courieresmtpd).
    CourierSmtp,
    /// Cyrus IMAP's IMAP and POP3 login failures.
    Cyrus,
    /// Cockpit's web console, through PAM.
    Cockpit,
    Openvpn,
    /// Asterisk's SIP channels (chan_sip, res_pjsip).
    Asterisk,
    /// Apache httpd's basic authentication, from its error log.
    Apache,
    /// MySQL's refused logins, from its own error log.
    Mysql,
    /// OpenSMTPD's SMTP AUTH results.
    Opensmtpd,
    /// UW IMAP's `imapd` and `ipop3d` login failures.
    UwImap,
}

/// The groups an admin switches on and off (`services = [...]`, `PROTECT_*`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ServiceGroup {
    Ssh,
    Ftp,
    /// POP3 and IMAP (mail user agents).
    Mua,
    Smtp,
    /// Cockpit's web console logins (through PAM).
    Cockpit,
    Openvpn,
    /// Asterisk's SIP registrations and requests.
    Asterisk,
    /// HTTP basic authentication in a web server's error log (Apache).
    Http,
    /// MySQL's refused logins, from its error log.
    Mysql,
}

impl ServiceGroup {
    /// In the order `setup` lists their tcpd daemons.
    pub const ALL: [ServiceGroup; 9] = [
        ServiceGroup::Ssh,
        ServiceGroup::Ftp,
        ServiceGroup::Mua,
        ServiceGroup::Smtp,
        ServiceGroup::Cockpit,
        ServiceGroup::Openvpn,
        ServiceGroup::Asterisk,
        ServiceGroup::Http,
        ServiceGroup::Mysql,
    ];

    /// The name in `services = [...]` and `parse --service`.
    pub fn name(self) -> &'static str {
        match self {
            ServiceGroup::Ssh => "ssh",
            ServiceGroup::Ftp => "ftp",
            ServiceGroup::Mua => "mua",
            ServiceGroup::Smtp => "smtp",
            ServiceGroup::Cockpit => "cockpit",
            ServiceGroup::Openvpn => "openvpn",
            ServiceGroup::Asterisk => "asterisk",
            ServiceGroup::Http => "http",
            ServiceGroup::Mysql => "mysql",
        }
    }

    /// A group by its name, or by the original's `pop3` / `imap` for `mua`.
    pub fn from_name(name: &str) -> Option<ServiceGroup> {
        match name {
            "pop3" | "imap" => Some(ServiceGroup::Mua),
            _ => ServiceGroup::ALL.into_iter().find(|g| g.name() == name),
        }
    }
}

/// Who may speak for a service in the journal: see `journal::Trust`.
#[derive(Debug)]
pub struct Senders {
    /// The daemon's executables as journald records them (`_EXE`, the kernel's path of
    /// the running binary): exact paths, or a pattern ending in `*`, which stands for
    /// the rest of the file name (never a `/`): `/usr/lib/dovecot/*`, `/usr/sbin/pure-ftpd*`.
    pub exes: &'static [&'static str],
    /// The daemon's own system users; root is always one. Names, resolved to uids through
    /// /etc/passwd when the journal is read: a user this host does not have is no one.
    pub users: &'static [&'static str],
    /// Interpreters the daemon is a script for (same patterns as `exes`). See
    /// `journal::Trust` for why an interpreter alone says nothing.
    pub interpreters: &'static [&'static str],
    /// For a root process under an interpreter: the daemon's script, which `_CMDLINE`
    /// must name as argv\[0\] or after the interpreter and its options ...
    pub scripts: &'static [&'static str],
    /// ... or the process titles the daemon gives itself, which `_CMDLINE` must be (a
    /// trailing `*` stands for the rest). `_CMDLINE` is read from /proc/PID/cmdline, and
    /// perl's `$0 = ...` overwrites it: spamd's children are `spamd child`, its master
    /// `spamd` once daemonized, amavisd's processes `amavisd (master)`, `amavisd (ch1-avail)`.
    pub titles: &'static [&'static str],
}

/// A family of program names no list can hold: postfix's instances (`postfix-in/smtpd`,
/// `postfix/submission/smtpd`) are named by the admin.
#[derive(Debug)]
pub struct Instances {
    /// The program name starts with this ...
    pub prefix: &'static str,
    /// ... and ends with `/` and one of these daemons, which is also the process name
    /// (`_COMM`) the journal is asked for.
    pub daemons: &'static [&'static str],
}

/// The tcpd daemon names a service's programs call libwrap with.
#[derive(Debug)]
pub struct Tcpd {
    /// Listed only when this program is installed (None: always).
    pub installed: Option<&'static str>,
    pub daemons: &'static [&'static str],
}

/// Everything sentry knows of one service.
#[derive(Debug)]
pub struct Row {
    pub service: Service,
    /// The name used in `parse` output, the database and reports.
    pub name: &'static str,
    pub group: ServiceGroup,
    /// The syslog program names (journal identifiers) of its lines.
    pub programs: &'static [&'static str],
    /// Program names given by a rule rather than a list.
    pub instances: Option<Instances>,
    /// Another ident the service may log under, whose message then starts with one of
    /// `programs` and `: ` (vchkpw under `vpopmail`).
    pub relay: Option<&'static str>,
    /// Idents the service shares with other programs, read as the service's only for
    /// messages that start with its own fixed text, and before the program names: dovecot's
    /// auth process logs PAM's `pam_unix(dovecot:auth): ...` under `auth` on some systems,
    /// an ident any other program's auth code may use too; Cyrus's `badlogin: ` under
    /// `imapd`/`pop3d`, Courier's program names.
    pub shared_idents: &'static [SharedIdent],
    /// Who may speak for it in the journal.
    pub senders: Senders,
    /// Its own log files, read by default when they exist.
    pub logs: &'static [&'static str],
    /// Whether `logs` are read by default only while the service's group is protected:
    /// a file holding nothing else is not worth reading otherwise (and rspamd writes
    /// several lines for every message).
    pub logs_when_protected: bool,
    /// The process name (`comm`) `check` warns about when it runs but says nothing that
    /// sentry understands for a week: login daemons only, which are always running.
    pub watched_process: Option<&'static str>,
    /// What `setup` writes into hosts.allow for it, if it uses libwrap.
    pub tcpd: Option<Tcpd>,
    /// Its PAM service names (`PAM_SERVICE`), for `sentry pam`: the daemons that hand
    /// PAM the client's address from the socket (`PAM_RHOST`).
    pub pam: &'static [&'static str],
    /// Its parser: a message (with the header's pid) to a finding.
    pub parse: ParseFn,
}

/// The system's syslog files, which hold many services' lines: read by default when they
/// exist, whatever is protected (Debian, RHEL, FreeBSD, mail).
pub const SYSLOG_FILES: [&str; 5] = [
    "/var/log/auth.log",
    "/var/log/secure",
    "/var/log/messages",
    "/var/log/maillog",
    "/var/log/mail.log",
];

/// A syslog file that holds every facility's lines, read by default only for one group's
/// daemons, which log to a facility no other file gets.
#[derive(Debug)]
pub struct SharedLog {
    pub path: &'static str,
    /// Read while this group is protected, and only its services' lines count: the rest
    /// are other facilities', some written to another file read too (mail.log).
    pub group: ServiceGroup,
    /// ... and only while one of these daemons is installed: a busy file is not read for
    /// nothing (a `--connect`'s read budget is shared by every log).
    pub installed: &'static [&'static str],
}

/// Debian's rsyslog writes facilities `ftp` (vsftpd with `syslog_enable=YES`, pure-ftpd, BSD
/// ftpd) and `daemon` (proftpd without `SystemLog`) only to /var/log/syslog
/// (`*.*;auth,authpriv.none`); Debian 12 has no daemon.log.
pub const SHARED_LOGS: [SharedLog; 1] = [SharedLog {
    path: "/var/log/syslog",
    group: ServiceGroup::Ftp,
    installed: &[
        "vsftpd",
        "proftpd",
        "pure-ftpd",
        "pure-ftpd-mysql",
        "pure-ftpd-ldap",
        "pure-ftpd-postgresql",
        "in.ftpd",
        "ftpd",
    ],
}];

const PERL: &[&str] = &["/usr/bin/perl", "/usr/bin/perl5*"];

const fn native(exes: &'static [&'static str], users: &'static [&'static str]) -> Senders {
    Senders {
        exes,
        users,
        interpreters: &[],
        scripts: &[],
        titles: &[],
    }
}

const VCHKPW_EXES: &[&str] = &[
    "/home/vpopmail/bin/vchkpw",
    "/var/vpopmail/bin/vchkpw",
    "/var/qmail/bin/*",
];
const VCHKPW_USERS: &[&str] = &["vpopmail", "qmaild"];

/// An ident shared with other programs, and the start a message of this service has there.
#[derive(Debug)]
pub struct SharedIdent {
    pub ident: &'static str,
    pub prefix: &'static str,
}

/// A row with what most services lack left empty.
const fn row(
    service: Service,
    name: &'static str,
    group: ServiceGroup,
    programs: &'static [&'static str],
    senders: Senders,
    parse: ParseFn,
) -> Row {
    Row {
        service,
        name,
        group,
        programs,
        instances: None,
        relay: None,
        shared_idents: &[],
        senders,
        logs: &[],
        logs_when_protected: false,
        watched_process: None,
        tcpd: None,
        pam: &[],
        parse,
    }
}

/// The services, in [`Service`]'s order.
pub const TABLE: [Row; 25] = [
    Row {
        watched_process: Some("sshd"),
        pam: &["sshd"],
        tcpd: Some(Tcpd {
            installed: None,
            daemons: &["sshd"],
        }),
        ..row(
            Service::Sshd,
            "sshd",
            ServiceGroup::Ssh,
            &["sshd", "sshd-session", "sshd-auth"],
            native(
                &[
                    "/usr/sbin/sshd",
                    // OpenSSH 9.8+ splits the per-connection work into sshd-session (and
                    // 10.0 sshd-auth): Debian's, Fedora's and upstream's default places.
                    "/usr/lib/openssh/sshd-session",
                    "/usr/lib/openssh/sshd-auth",
                    "/usr/libexec/openssh/sshd-session",
                    "/usr/libexec/openssh/sshd-auth",
                    "/usr/libexec/sshd-session",
                    "/usr/libexec/sshd-auth",
                ],
                &["sshd"],
            ),
            |j, pid, m, o| j.sshd.parse(pid, m, o),
        )
    },
    Row {
        watched_process: Some("dropbear"),
        ..row(
            Service::Dropbear,
            "dropbear",
            ServiceGroup::Ssh,
            &["dropbear"],
            native(&["/usr/sbin/dropbear"], &[]),
            |_, _, m, o| dropbear::parse(m, o),
        )
    },
    Row {
        // `log_path` / `info_log_path` as dovecot's documentation and admins set them.
        logs: &["/var/log/dovecot.log", "/var/log/dovecot-info.log"],
        logs_when_protected: true,
        watched_process: Some("dovecot"),
        pam: &["dovecot"],
        tcpd: Some(Tcpd {
            installed: Some("dovecot"),
            daemons: &["imap", "pop3"],
        }),
        // Its auth process under its own name (`auth: pam_unix(dovecot:auth): ...`): only
        // PAM's line for the `dovecot` PAM service is read there.
        shared_idents: &[
            SharedIdent {
                ident: "auth",
                prefix: "pam_unix(dovecot:auth): ",
            },
            SharedIdent {
                ident: "auth",
                prefix: "pam_sss(dovecot:auth): ",
            },
        ],
        ..row(
            Service::Dovecot,
            "dovecot",
            ServiceGroup::Mua,
            &[
                "dovecot",
                // Old dovecot's auth process (1.x): `dovecot-auth: pam_unix(dovecot:auth): ...`.
                "dovecot-auth",
                "imap-login",
                "pop3-login",
                "submission-login",
                "managesieve-login",
            ],
            native(
                &[
                    "/usr/sbin/dovecot",
                    // imap-login, pop3-login, submission-login, managesieve-login, auth, log, ...
                    "/usr/lib/dovecot/*",
                    "/usr/libexec/dovecot/*",
                ],
                &["dovecot", "dovenull"],
            ),
            |_, _, m, o| dovecot::parse(m, o),
        )
    },
    Row {
        // `xferlog_file`'s and `vsftpd_log_file`'s defaults (the second holds the logins).
        logs: &["/var/log/xferlog", "/var/log/vsftpd.log"],
        logs_when_protected: true,
        watched_process: Some("vsftpd"),
        pam: &["vsftpd"],
        tcpd: Some(Tcpd {
            installed: Some("vsftpd"),
            daemons: &["vsftpd"],
        }),
        ..row(
            Service::Vsftpd,
            "vsftpd",
            ServiceGroup::Ftp,
            &["vsftpd"],
            native(&["/usr/sbin/vsftpd"], &["ftp"]),
            |_, _, m, o| ftp::parse_vsftpd(m, o),
        )
    },
    Row {
        // Debian's `SystemLog`.
        logs: &["/var/log/proftpd/proftpd.log"],
        logs_when_protected: true,
        watched_process: Some("proftpd"),
        // Debian's `AuthPAMConfig proftpd`; mod_auth_pam's own default is `ftp`.
        pam: &["proftpd", "ftp"],
        tcpd: Some(Tcpd {
            installed: Some("proftpd"),
            daemons: &["proftpd"],
        }),
        ..row(
            Service::Proftpd,
            "proftpd",
            ServiceGroup::Ftp,
            &["proftpd"],
            native(&["/usr/sbin/proftpd"], &["proftpd"]),
            |_, _, m, o| ftp::parse_proftpd(m, o),
        )
    },
    Row {
        watched_process: Some("pure-ftpd"),
        ..row(
            Service::PureFtpd,
            "pure-ftpd",
            ServiceGroup::Ftp,
            &["pure-ftpd"],
            // pure-ftpd, and Debian's pure-ftpd-ldap / -mysql / -postgresql builds.
            native(&["/usr/sbin/pure-ftpd*"], &[]),
            |_, _, m, o| ftp::parse_pure_ftpd(m, o),
        )
    },
    Row {
        tcpd: Some(Tcpd {
            installed: Some("in.ftpd"),
            daemons: &["in.ftpd"],
        }),
        ..row(
            Service::Ftpd,
            "ftpd",
            ServiceGroup::Ftp,
            &["ftpd"],
            // inetutils-ftpd, Debian's ftpd-ssl (netkit), the BSDs.
            native(
                &["/usr/sbin/ftpd", "/usr/sbin/in.ftpd", "/usr/libexec/ftpd"],
                &[],
            ),
            // libwrap (in ftpd, or tcpd started as it) logs its refusals under its name.
            |j, pid, m, o| lex::tcpd_refusal(m).or_else(|| j.ftpd.parse(pid, m, o)),
        )
    },
    Row {
        instances: Some(Instances {
            prefix: "postfix",
            daemons: &["smtpd", "cleanup", "postscreen"],
        }),
        ..row(
            Service::Postfix,
            "postfix",
            ServiceGroup::Smtp,
            &[
                "postfix/smtpd",
                "postfix/submission/smtpd",
                "postfix/smtps/smtpd",
                "postfix/cleanup",
                "postfix/postscreen",
            ],
            // smtpd, postscreen, cleanup: Debian's place, then Fedora's.
            native(
                &["/usr/lib/postfix/sbin/*", "/usr/libexec/postfix/*"],
                &["postfix"],
            ),
            |j, _, m, o| mailfilter::parse_postfix(m, o, &mut j.mail),
        )
    },
    Row {
        relay: Some("vpopmail"),
        ..row(
            Service::VchkpwSmtp,
            "vchkpw-smtp",
            ServiceGroup::Smtp,
            &["vchkpw-smtp", "vchkpw-submission", "vchkpw-smtps"],
            native(VCHKPW_EXES, VCHKPW_USERS),
            |_, _, m, o| mail::parse_vchkpw(m, o),
        )
    },
    Row {
        relay: Some("vpopmail"),
        ..row(
            Service::VchkpwMua,
            "vchkpw-pop3",
            ServiceGroup::Mua,
            &["vchkpw-pop3", "vchkpw-imap", "vchkpw-pop3s", "vchkpw-imaps"],
            native(VCHKPW_EXES, VCHKPW_USERS),
            |_, _, m, o| mail::parse_vchkpw(m, o),
        )
    },
    row(
        Service::Amavis,
        "amavis",
        ServiceGroup::Smtp,
        &["amavis", "amavisd", "amavisd-new"],
        Senders {
            exes: &[],
            users: &["amavis"],
            interpreters: PERL,
            // Debian 12 ships /usr/sbin/amavisd; older releases amavisd-new.
            scripts: &["/usr/sbin/amavisd", "/usr/sbin/amavisd-new"],
            titles: &["amavisd (*"],
        },
        |_, _, m, _| mailfilter::parse_amavis(m),
    ),
    Row {
        logs: &["/var/log/rspamd/rspamd.log"],
        logs_when_protected: true,
        ..row(
            Service::Rspamd,
            "rspamd",
            ServiceGroup::Smtp,
            &["rspamd"],
            native(
                &["/usr/bin/rspamd", "/usr/sbin/rspamd"],
                &["_rspamd", "rspamd"],
            ),
            |_, _, m, _| mailfilter::parse_rspamd(m),
        )
    },
    row(
        Service::Spamd,
        "spamd",
        ServiceGroup::Smtp,
        &["spamd"],
        Senders {
            exes: &[],
            users: &["debian-spamd", "spamd"],
            interpreters: PERL,
            scripts: &["/usr/sbin/spamd", "/usr/bin/spamd"],
            titles: &["spamd child", "spamd"],
        },
        |j, pid, m, _| mailfilter::parse_spamd(pid, m, &mut j.mail),
    ),
    Row {
        // exim's own main log: Debian's, then RHEL's and upstream's default place.
        logs: &["/var/log/exim4/mainlog", "/var/log/exim/main.log"],
        logs_when_protected: true,
        ..row(
            Service::Exim,
            "exim",
            ServiceGroup::Smtp,
            &["exim", "exim4"],
            native(
                &["/usr/sbin/exim4", "/usr/sbin/exim"],
                &["Debian-exim", "exim"],
            ),
            |_, _, m, o| exim::parse(m, o),
        )
    },
    row(
        Service::Sendmail,
        "sendmail",
        ServiceGroup::Smtp,
        // `sm-acceptingconnections`: the listening daemon's process title (`sm-mta:
        // accepting connections`, set over argv[0]) made into a tag, as real logs show it.
        &["sendmail", "sm-mta", "sm-acceptingconnections"],
        // Debian's sm-mta is a link to /usr/libexec/sendmail/sendmail (older releases
        // /usr/lib/sm.bin); RHEL's sendmail is /usr/sbin/sendmail.sendmail.
        native(
            &[
                "/usr/libexec/sendmail/sendmail",
                "/usr/lib/sm.bin/sendmail",
                "/usr/sbin/sendmail.sendmail",
            ],
            &["smmta", "smmsp"],
        ),
        |_, _, m, o| sendmail::parse(m, o),
    ),
    row(
        Service::Courier,
        "courier",
        ServiceGroup::Mua,
        // courierlogger's `-name=` in Debian's and upstream's init files; older
        // releases logged under the login program's own name.
        &[
            "imapd",
            "imapd-ssl",
            "pop3d",
            "pop3d-ssl",
            "courierpop3login",
            "courierimaplogin",
        ],
        // The login programs write to stderr; courierlogger hands it to syslog.
        native(&["/usr/sbin/courierlogger"], &["courier"]),
        |_, _, m, o| courier::parse(m, o),
    ),
    row(
        Service::CourierSmtp,
        "courier-esmtpd",
        ServiceGroup::Smtp,
        // courierlogger's `-name=` in courier's esmtpd script.
        &["courieresmtpd"],
        native(&["/usr/sbin/courierlogger"], &["courier"]),
        |_, _, m, _| courier::parse_esmtpd(m),
    ),
    Row {
        // Cyrus installed as plain `imapd`/`pop3d` (its binaries' names, without
        // `syslog_prefix`) shares Courier's program names: its `badlogin: ` is Cyrus's
        // alone (Courier's lines start with `LOGIN FAILED`, `INFO: ` and the like), and
        // so are its TLS handshake failures.
        shared_idents: &[
            SharedIdent {
                ident: "imapd",
                prefix: "badlogin: ",
            },
            SharedIdent {
                ident: "imapd",
                prefix: "imaps TLS negotiation failed: ",
            },
            SharedIdent {
                ident: "imapd",
                prefix: "STARTTLS negotiation failed: ",
            },
            SharedIdent {
                ident: "pop3d",
                prefix: "badlogin: ",
            },
            SharedIdent {
                ident: "pop3d",
                prefix: "pop3s TLS negotiation failed: ",
            },
            SharedIdent {
                ident: "pop3d",
                prefix: "STARTTLS negotiation failed: ",
            },
        ],
        ..row(
            Service::Cyrus,
            "cyrus",
            ServiceGroup::Mua,
            // The service names of cyrus.conf, under Debian's `cyrus/` syslog prefix or not.
            &[
                "cyrus/imap",
                "cyrus/imaps",
                "cyrus/pop3",
                "cyrus/pop3s",
                "cyrus/sieve",
                "imap",
                "imaps",
                "pop3",
                "pop3s",
                // timsieved (ManageSieve) logs the same `badlogin:` for its SASL failures.
                "sieve",
            ],
            native(
                &[
                    "/usr/lib/cyrus/bin/imapd",
                    "/usr/lib/cyrus/bin/pop3d",
                    "/usr/libexec/cyrus-imapd/imapd",
                    "/usr/libexec/cyrus-imapd/pop3d",
                ],
                &["cyrus"],
            ),
            |_, _, m, _| cyrus::parse(m),
        )
    },
    row(
        Service::Cockpit,
        "cockpit",
        ServiceGroup::Cockpit,
        &["cockpit-session"],
        // Fedora/RHEL's place, then Debian's.
        native(
            &[
                "/usr/libexec/cockpit-session",
                "/usr/lib/cockpit/cockpit-session",
            ],
            &[],
        ),
        |_, _, m, o| cockpit::parse(m, o),
    ),
    Row {
        // `log`/`log-append` as the packages' examples name it; read only with `openvpn` in
        // `services`.
        logs: &[
            "/var/log/openvpn.log",
            "/var/log/openvpn/openvpn.log",
            "/var/log/openvpn/server.log",
        ],
        logs_when_protected: true,
        ..row(
            Service::Openvpn,
            "openvpn",
            ServiceGroup::Openvpn,
            // systemd's openvpn-server@ units log as `openvpn`; `--daemon ovpn-server` (the
            // old init scripts' name for server.conf) as that.
            &["openvpn", "ovpn-server"],
            // It drops to `nobody` (Debian's example) or `openvpn` (RHEL).
            native(&["/usr/sbin/openvpn"], &["nobody", "openvpn"]),
            |_, _, m, _| openvpn::parse(m),
        )
    },
    Row {
        // Through syslog only (logger.conf's `syslog.local0 => ...` channel), never its own
        // `messages` file, which a SIP client can write whole lines into (`parse::asterisk`):
        // `check` tells an admin whose Asterisk says nothing sentry reads.
        watched_process: Some("asterisk"),
        ..row(
            Service::Asterisk,
            "asterisk",
            ServiceGroup::Asterisk,
            &["asterisk"],
            native(&["/usr/sbin/asterisk"], &["asterisk"]),
            |_, _, m, _| asterisk::parse(m),
        )
    },
    Row {
        // Debian's place, then RHEL's; read only with `http` in `services`.
        logs: &["/var/log/apache2/error.log", "/var/log/httpd/error_log"],
        logs_when_protected: true,
        ..row(
            Service::Apache,
            "apache",
            ServiceGroup::Http,
            // Its own error log (`app_logs`), or `ErrorLog syslog:` under these names.
            &["apache2", "httpd"],
            native(
                &["/usr/sbin/apache2", "/usr/sbin/httpd"],
                &["www-data", "apache"],
            ),
            |_, _, m, o| http::parse_apache(m, o),
        )
    },
    Row {
        // `log_error` of Debian's and Oracle's packages, then RHEL's; read only with `mysql`
        // in `services`. Only the file: its syslog lines are not read (`parse::mysql`).
        logs: &[
            "/var/log/mysql/error.log",
            "/var/log/mysqld.log",
            "/var/log/mysql/mysqld.log",
        ],
        logs_when_protected: true,
        // MySQL 8 logs refused logins only with `log_error_verbosity = 3`: `check` says so
        // when a running mysqld gave sentry nothing for a week.
        watched_process: Some("mysqld"),
        ..row(
            Service::Mysql,
            "mysql",
            ServiceGroup::Mysql,
            &[MYSQL_ERROR_LOG],
            native(&["/usr/sbin/mysqld"], &["mysql"]),
            |_, _, m, o| mysql::parse(m, o),
        )
    },
    row(
        Service::Opensmtpd,
        "opensmtpd",
        ServiceGroup::Smtp,
        // postfix's smtpd logs as `postfix/smtpd`: a bare `smtpd` is OpenSMTPD's.
        &["smtpd"],
        // Its processes log themselves: the parent as root, the SMTP engine as its user
        // (Debian's `opensmtpd`, OpenBSD's and upstream's `_smtpd`).
        native(&["/usr/sbin/smtpd"], &["opensmtpd", "_smtpd"]),
        |j, _, m, o| j.smtpd.parse(m, o),
    ),
    Row {
        // Courier's program name too: UW's `imapd` lines are its `Login failed user=`.
        shared_idents: &[
            SharedIdent {
                ident: "imapd",
                prefix: "Login failed user=",
            },
            SharedIdent {
                ident: "imapd",
                prefix: "AUTHENTICATE ",
            },
        ],
        ..row(
            Service::UwImap,
            "uw-imap",
            ServiceGroup::Mua,
            &["ipop3d", "ipop2d"],
            // Started by inetd as root.
            native(
                &["/usr/sbin/imapd", "/usr/sbin/ipop3d", "/usr/sbin/ipop2d"],
                &[],
            ),
            |_, _, m, o| uwimap::parse(m, o),
        )
    },
];

// The table is in `Service`'s order, so a service finds its row by index.
const _: () = {
    let mut i = 0;
    while i < TABLE.len() {
        assert!(TABLE[i].service as usize == i);
        i += 1;
    }
};

impl Service {
    pub const ALL: [Service; TABLE.len()] = {
        let mut all = [Service::Sshd; TABLE.len()];
        let mut i = 0;
        while i < TABLE.len() {
            all[i] = TABLE[i].service;
            i += 1;
        }
        all
    };

    /// Its row of [`TABLE`].
    pub fn row(self) -> &'static Row {
        &TABLE[self as usize]
    }

    /// The name used in `parse` output, the database and reports.
    pub fn name(self) -> &'static str {
        self.row().name
    }

    /// A service by its name as the database and `parse --service` spell it.
    pub fn from_name(name: &str) -> Option<Service> {
        TABLE.iter().find(|r| r.name == name).map(|r| r.service)
    }

    pub fn group(self) -> ServiceGroup {
        self.row().group
    }

    /// Its finding in one message (with the header's pid, for the joins across lines).
    pub fn parse<'a>(
        self,
        joins: &mut Joins,
        pid: Option<u32>,
        message: &'a str,
        options: &ParseOptions,
    ) -> Option<Finding<'a>> {
        (self.row().parse)(joins, pid, message, options)
    }
}

/// The service a PAM service name (`PAM_SERVICE`) belongs to, if `sentry pam` records it.
pub fn service_of_pam(name: &str) -> Option<Service> {
    TABLE
        .iter()
        .find(|r| r.pam.contains(&name))
        .map(|r| r.service)
}

/// The service a syslog program name belongs to, if sentry reads it.
pub fn service_of(program: &str) -> Option<Service> {
    match names().get(program) {
        Some(name) => name.service,
        None => instance_service_of(program),
    }
}

/// What the table says about one of its names (a program, a relay's or a shared ident).
struct Name {
    /// The services sharing this ident, each with the start of its messages, in table order.
    shared: Vec<(&'static str, Service)>,
    /// A relay's ident: the message names the program.
    relay: bool,
    /// [`table_service_of`] this name.
    service: Option<Service>,
}

/// Every name of the table, answered once from it: `parse` and `scan` ask per line, and
/// scanning 21 rows' names (and their shared and relay idents) showed in `parse`'s profile.
/// Names the table does not list can only be an instance's (postfix's `postfix-in/smtpd`).
fn names() -> &'static HashMap<&'static str, Name, BuildHasherDefault<Fnv>> {
    static NAMES: OnceLock<HashMap<&'static str, Name, BuildHasherDefault<Fnv>>> = OnceLock::new();
    NAMES.get_or_init(|| {
        (TABLE.iter().flat_map(identifiers))
            .map(|ident| {
                let shared = (TABLE.iter())
                    .flat_map(|r| r.shared_idents.iter().map(move |s| (s, r.service)))
                    .filter(|(s, _)| s.ident == ident)
                    .map(|(s, service)| (s.prefix, service))
                    .collect();
                let name = Name {
                    shared,
                    relay: TABLE.iter().any(|r| r.relay == Some(ident)),
                    service: table_service_of(ident),
                };
                (ident, name)
            })
            .collect()
    })
}

/// FNV-1a: the map above is fixed when built, so a short name needs no keyed hash.
#[derive(Default)]
struct Fnv(u64);

impl Hasher for Fnv {
    fn finish(&self) -> u64 {
        self.0
    }

    fn write(&mut self, bytes: &[u8]) {
        let mut hash = if self.0 == 0 {
            0xcbf2_9ce4_8422_2325
        } else {
            self.0
        };
        for &b in bytes {
            hash = (hash ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3);
        }
        self.0 = hash;
    }
}

/// [`service_of`] by the table itself: a row's program names, or its instances' rule.
fn table_service_of(program: &str) -> Option<Service> {
    TABLE
        .iter()
        .find(|r| r.programs.contains(&program) || is_instance_of(r, program))
        .map(|r| r.service)
}

/// `program` is an instance of the row's daemons (`postfix-in/smtpd`).
fn is_instance_of(row: &Row, program: &str) -> bool {
    row.instances.as_ref().is_some_and(|i| {
        program.starts_with(i.prefix)
            && (i.daemons.iter())
                .any(|d| (program.strip_suffix(d)).is_some_and(|rest| rest.ends_with('/')))
    })
}

/// The service of a name [`names`] does not hold: only an instance's can be one (every
/// program of the table is among the names). Asked of every line of a program that is
/// none of ours (cron, sudo, systemd), so only the rows with instances are looked at.
fn instance_service_of(program: &str) -> Option<Service> {
    let service = (TABLE.iter())
        .filter(|r| r.instances.is_some())
        .find(|r| is_instance_of(r, program))
        .map(|r| r.service);
    debug_assert_eq!(service, table_service_of(program));
    service
}

/// The service a line of `program` with `message` belongs to: by the program name, or,
/// under a relay's ident (`vpopmail`), by the program the message starts with, or under a
/// shared ident (`auth`) by the service's own start of the message.
pub fn service_of_line(program: &str, message: &str) -> Option<Service> {
    let Some(name) = names().get(program) else {
        return instance_service_of(program);
    };
    if let Some((_, service)) = name.shared.iter().find(|(p, _)| message.starts_with(p)) {
        return Some(*service);
    }
    if !name.relay {
        return name.service;
    }
    let (named, _) = message.split_once(": ")?;
    service_of(named).filter(|s| s.row().relay == Some(program))
}

/// Every exact journal identifier of a service: its programs, its relay's ident and the
/// idents it shares (an ident may repeat: the journal's list is deduplicated).
pub fn identifiers(row: &Row) -> impl Iterator<Item = &'static str> {
    (row.programs.iter().copied())
        .chain(row.relay)
        .chain(row.shared_idents.iter().map(|s| s.ident))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_and_programs_are_unique() {
        for (i, a) in TABLE.iter().enumerate() {
            for b in &TABLE[i + 1..] {
                assert_ne!(a.name, b.name);
                for p in a.programs {
                    assert!(!b.programs.contains(p), "{p}");
                }
            }
            for p in a.programs {
                assert_eq!(service_of(p), Some(a.service), "{p}");
            }
            // `service_of_line` reads a relay's lines by the message only.
            if let Some(relay) = a.relay {
                assert_eq!(service_of(relay), None, "{relay}");
            }
            assert_eq!(Service::from_name(a.name), Some(a.service));
        }
    }

    #[test]
    fn postfix_instances_and_the_vpopmail_ident() {
        for p in [
            "postfix-in/smtpd",
            "postfix/submission/smtpd",
            "postfix-out/cleanup",
        ] {
            assert_eq!(service_of(p), Some(Service::Postfix), "{p}");
        }
        for p in ["postfix/qmgr", "postfix-in/xsmtpd", "postfix", "vpopmail"] {
            assert_eq!(service_of(p), None, "{p}");
        }
        // A bare `smtpd` is OpenSMTPD, never postfix.
        assert_eq!(service_of("smtpd"), Some(Service::Opensmtpd));
        assert_eq!(
            service_of_line("vpopmail", "vchkpw-pop3: password fail"),
            Some(Service::VchkpwMua)
        );
        assert_eq!(service_of_line("vpopmail", "sshd: x"), None);
        for (ident, message, service) in [
            ("imapd", "badlogin: x [192.0.2.1] plain [y]", Service::Cyrus),
            ("pop3d", "badlogin: [192.0.2.1] plain [y]", Service::Cyrus),
            ("imapd", "LOGIN FAILED, user=x, ip=[::1]", Service::Courier),
            (
                "imapd",
                "Login failed user=x auth=x host=[::1]",
                Service::UwImap,
            ),
            (
                "ipop3d",
                "Login failed user=x auth=x host=[::1]",
                Service::UwImap,
            ),
            (
                "imapd",
                "AUTHENTICATE PLAIN failure host=[::1]",
                Service::UwImap,
            ),
            ("imapd", "INFO: badlogin: x", Service::Courier),
            (
                "imapd-ssl",
                "badlogin: [192.0.2.1] plain [y]",
                Service::Courier,
            ),
            ("auth", "pam_sss(dovecot:auth): x", Service::Dovecot),
        ] {
            assert_eq!(service_of_line(ident, message), Some(service), "{message}");
        }
        let cyrus = Service::Cyrus.row();
        assert!(identifiers(cyrus).any(|i| i == "imapd"));
        assert_eq!(
            service_of_line("sshd", "vchkpw-pop3: x"),
            Some(Service::Sshd)
        );
    }
}
