//! Property tests (proptest): address canonicalisation and the log parsers.
//!
//! - `ClientIp::parse` turns every way of writing one host into one canonical text, and
//!   that text parses back to itself.
//! - The parsers never panic on any line, and a user name (the text a client chooses) can
//!   neither frame another address nor turn a failure into a success; a sender's text
//!   never raises the spam score a mail filter gave.
//!
//! Each property runs at most 256 cases; failures are not persisted to a regressions file
//! (the shrunk input is printed instead).

use std::net::{Ipv4Addr, Ipv6Addr};

use proptest::prelude::*;
use proptest::test_runner::Config as ProptestConfig;
use sentry::ip::ClientIp;
use sentry::logs::parse::{ParseOptions, Parser};
use sentry::logs::{Kind, Score};

/// 2026-11-24 10:00 UTC: places the BSD timestamps below in a definite year.
const NOW: i64 = 1_795_514_400;

fn config() -> ProptestConfig {
    ProptestConfig {
        cases: 256,
        failure_persistence: None,
        ..ProptestConfig::default()
    }
}

fn canonical(text: &str) -> Option<String> {
    ClientIp::parse(text).ok().map(|ip| ip.to_string())
}

/// IPv4 addresses sentry accepts: not 0.0.0.0/8, not the limited broadcast address.
fn client_v4() -> impl Strategy<Value = Ipv4Addr> {
    any::<u32>()
        .prop_map(Ipv4Addr::from)
        .prop_filter("0.x.x.x and broadcast are refused", |a| {
            a.octets()[0] != 0 && !a.is_broadcast()
        })
}

/// IPv6 addresses that stay IPv6: not `::`, not IPv4-mapped. Half of them have long zero
/// runs, so that `::` compression is exercised.
fn client_v6() -> impl Strategy<Value = Ipv6Addr> {
    let segment = prop_oneof![3 => Just(0u16), 1 => Just(1u16), 6 => any::<u16>()];
    proptest::array::uniform8(segment)
        .prop_map(Ipv6Addr::from)
        .prop_filter("not unspecified, not v4-mapped", |a| {
            !a.is_unspecified() && a.to_ipv4_mapped().is_none()
        })
}

/// Every group written out in full, four upper-case hex digits each.
fn expanded(a: &Ipv6Addr) -> String {
    a.segments()
        .iter()
        .map(|s| format!("{s:04X}"))
        .collect::<Vec<_>>()
        .join(":")
}

proptest! {
    #![proptest_config(config())]

    #[test]
    fn ipv4_round_trips(a in client_v4()) {
        let text = a.to_string();
        prop_assert_eq!(canonical(&text), Some(text));
    }

    #[test]
    fn ipv4_this_network_and_broadcast_are_refused(rest in any::<[u8; 3]>()) {
        let zero = Ipv4Addr::new(0, rest[0], rest[1], rest[2]).to_string();
        prop_assert_eq!(canonical(&zero), None);
        prop_assert_eq!(canonical(&format!("::ffff:{zero}")), None);
        prop_assert_eq!(canonical("255.255.255.255"), None);
    }

    #[test]
    fn ipv4_mapped_is_stored_as_ipv4(a in client_v4(), upper in any::<bool>()) {
        let prefix = if upper { "::FFFF:" } else { "::ffff:" };
        prop_assert_eq!(canonical(&format!("{prefix}{a}")), Some(a.to_string()));
        // The mapped form written in hex groups is the same host too.
        let o = a.octets();
        let hex = format!("0:0:0:0:0:ffff:{:x}:{:x}", u16::from_be_bytes([o[0], o[1]]), u16::from_be_bytes([o[2], o[3]]));
        prop_assert_eq!(canonical(&hex), Some(a.to_string()));
    }

    #[test]
    fn a_zone_id_is_dropped(
        tail in proptest::array::uniform7(any::<u16>()),
        zone in "[A-Za-z0-9._-]{1,16}",
    ) {
        let mut segments = [0xfe80u16; 8];
        segments[1..].copy_from_slice(&tail);
        let a = Ipv6Addr::from(segments);
        prop_assert_eq!(canonical(&format!("{a}%{zone}")), Some(a.to_string()));
    }

    #[test]
    fn ipv6_has_one_canonical_form(a in client_v6()) {
        let text = a.to_string();
        prop_assert_eq!(canonical(&text), Some(text.clone()), "std's Display form");
        prop_assert_eq!(canonical(&text.to_uppercase()), Some(text.clone()), "upper case");
        prop_assert_eq!(canonical(&expanded(&a)), Some(text.clone()), "uncompressed");
        let ip = ClientIp::parse(&text).map_err(|e| TestCaseError::fail(e.to_string()))?;
        prop_assert!(ip.is_ipv6());
    }

    /// Whatever is accepted comes out canonical: parsing the output again changes nothing.
    #[test]
    fn random_text_never_panics_and_output_is_canonical(
        text in prop_oneof![any::<String>(), "[0-9a-fA-F:.%/ fF]{0,45}", "[0-9.]{1,20}"],
    ) {
        if let Some(out) = canonical(&text) {
            prop_assert_eq!(canonical(&out), Some(out.clone()));
            prop_assert!(!out.contains('%') && out == out.to_lowercase(), "{}", out);
        }
        let _ = ClientIp::parse_opt(&text);
    }
}

// ---- parsers ------------------------------------------------------------------------------

/// Pieces an attacker puts in a user name: other addresses in every field syntax the
/// parsers look for, fake verdicts, and the trailing markers sshd appends.
fn hostile_piece() -> impl Strategy<Value = String> {
    let victim = prop_oneof![
        client_v4().prop_map(|a| a.to_string()),
        client_v6().prop_map(|a| a.to_string()),
        Just("10.0.0.1".to_string()),
        Just("9.9.9.9".to_string()),
    ];
    let fixed = prop_oneof![
        Just(" ".to_string()),
        Just("Accepted".to_string()),
        Just("Accepted password for root".to_string()),
        Just("[preauth]".to_string()),
        Just(" ssh2".to_string()),
        Just(" port 22".to_string()),
        Just("invalid user ".to_string()),
        Just("authenticating user ".to_string()),
        Just(">, method=PLAIN".to_string()),
        Just("] OK LOGIN: Client \"".to_string()),
        Just("\"".to_string()),
        Just(", sasl_username=".to_string()),
        Just("(".to_string()),
        Just(")".to_string()),
        Just(",".to_string()),
        Just(":".to_string()),
        Just("@".to_string()),
        Just(": unknown user".to_string()),
        Just(" not allowed because ".to_string()),
        "\\PC{0,12}",
    ];
    let framed = victim.prop_flat_map(|v| {
        prop_oneof![
            Just(format!(" from {v} port 22")),
            Just(format!(" from {v} port 22 ssh2")),
            Just(format!(" from {v}")),
            Just(format!(" {v} port 22")),
            Just(format!("rhost={v}")),
            Just(format!(" rhost={v}  user=root")),
            Just(format!(", rip={v}, lip=192.0.2.1")),
            Just(format!("Client \"{v}\"")),
            Just(format!("unknown[{v}]")),
            Just(format!("[{v}]:22")),
            Just(format!(",{v}")),
            Just(format!(":{v}")),
            Just(format!("@{v}")),
            Just(format!(", relay=[{v}]")),
            Just(format!(", ip=[{v}], port=[1]")),
            Just(format!(") [{v}]:25: 535 Incorrect authentication data")),
            Just(format!("[{v}] ")),
            Just(format!("[client {v}:1] AH01618: user x not found: /")),
            Just(format!("' failed for '{v}:5060' - Wrong password")),
            Just(format!(
                "' failed for '{v}:5060' (callid: x) - Failed to authenticate"
            )),
            Just("' (callid: x) - Failed to authenticate".to_string()),
            Just(format!(
                "{v}:1194 TLS Auth Error: Auth Username/Password verification failed for peer"
            )),
            Just(v),
        ]
    });
    prop_oneof![2 => framed, 2 => fixed]
}

/// A user name: printable text (spaces included) made of hostile pieces.
fn user_name() -> impl Strategy<Value = String> {
    prop_oneof![
        1 => "\\PC{0,30}",
        3 => proptest::collection::vec(hostile_piece(), 1..6).prop_map(|p| p.concat()),
    ]
}

/// A line template: header + message with `{U}` (user) and `{S}` (the real source), whether
/// the real event is a success, and whether every plain user name gives an event (a valid
/// account's refused key counts only when its connection ends).
const TEMPLATES: &[(&str, bool, bool)] = &[
    // sshd
    (
        "Nov 24 10:00:00 web1 sshd[101]: Invalid user {U} from {S} port 40001",
        false,
        true,
    ),
    (
        "Nov 24 10:00:00 web1 sshd[101]: Invalid user {U} from {S}",
        false,
        true,
    ),
    (
        "Nov 24 10:00:00 web1 sshd[101]: Failed password for invalid user {U} from {S} port 40001 ssh2",
        false,
        true,
    ),
    (
        "Nov 24 10:00:00 web1 sshd[101]: Failed password for {U} from {S} port 40001 ssh2",
        false,
        true,
    ),
    (
        "Nov 24 10:00:00 web1 sshd[101]: Failed publickey for {U} from {S} port 40001 ssh2: RSA SHA256:uNiVztksCsDhcc0u9e8BujQXVUpKZIDTMczCvj3tD2s",
        false,
        false,
    ),
    (
        "Nov 24 10:00:00 web1 sshd[101]: Connection closed by invalid user {U} {S} port 40001 [preauth]",
        false,
        true,
    ),
    (
        "Nov 24 10:00:00 web1 sshd[101]: Disconnected from invalid user {U} {S} port 40001 [preauth]",
        false,
        true,
    ),
    (
        "Nov 24 10:00:00 web1 sshd[101]: Connection closed by authenticating user {U} {S} port 40001 [preauth]",
        false,
        true,
    ),
    (
        "Nov 24 10:00:00 web1 sshd[101]: Disconnecting invalid user {U} {S} port 40001: Too many authentication failures [preauth]",
        false,
        true,
    ),
    (
        "Nov 24 10:00:00 web1 sshd[101]: error: maximum authentication attempts exceeded for invalid user {U} from {S} port 40001 ssh2 [preauth]",
        false,
        true,
    ),
    (
        "Nov 24 10:00:00 web1 sshd[101]: User {U} from {S} not allowed because not listed in AllowUsers",
        false,
        true,
    ),
    (
        "Nov 24 10:00:00 web1 sshd[101]: pam_unix(sshd:auth): authentication failure; logname= uid=0 euid=0 tty=ssh ruser= rhost={S}  user={U}",
        false,
        true,
    ),
    (
        "Nov 24 10:00:00 web1 sshd[101]: PAM 2 more authentication failures; logname= uid=0 euid=0 tty=ssh ruser= rhost={S}  user={U}",
        false,
        true,
    ),
    (
        "Nov 24 10:00:00 bsd1 sshd[101]: error: PAM: authentication error for {U} from {S}",
        false,
        true,
    ),
    (
        "Nov 24 10:00:00 web1 sshd[101]: message repeated 2 times: [ Failed password for {U} from {S} port 40001 ssh2]",
        false,
        true,
    ),
    (
        "2026-11-24T10:00:00.123456+00:00 web1 sshd-session[101]: Failed password for invalid user {U} from {S} port 40001 ssh2",
        false,
        true,
    ),
    (
        "<38>1 2026-11-24T10:00:00.000Z web1 sshd-session 101 - - Invalid user {U} from {S} port 40001",
        false,
        true,
    ),
    (
        "Nov 24 10:00:00 web1 sshd[101]: Accepted password for {U} from {S} port 40001 ssh2",
        true,
        true,
    ),
    (
        "Nov 24 10:00:00 web1 sshd[101]: Accepted publickey for {U} from {S} port 40001 ssh2: ED25519 SHA256:7f4Vh2lYqkV7WnCZ0yB8M1x0m1rD3zQx5rB2Jw9s6nE",
        true,
        true,
    ),
    // dovecot
    (
        "Nov 24 10:00:00 mail dovecot: imap-login: Login: user=<{U}>, method=PLAIN, rip={S}, lip=192.0.2.1, mpid=3312841, TLS, session=<d946c4bf653c>",
        true,
        true,
    ),
    (
        "Nov 24 10:00:00 mail dovecot: imap-login: Disconnected (auth failed, 1 attempts in 2 secs): user=<{U}>, method=PLAIN, rip={S}, lip=192.0.2.1, TLS, session=<35bed465c85b>",
        false,
        true,
    ),
    (
        "Nov 24 10:00:00 mail dovecot: pop3-login: Aborted login (auth failed, 1 attempts in 17 secs): user=<{U}>, method=PLAIN, rip={S}, lip=192.0.2.1, session=<YADINsQCDs5BH8Pg>",
        false,
        true,
    ),
    (
        "Nov 24 10:00:00 mail dovecot: auth: passwd-file({U},{S}): unknown user",
        false,
        true,
    ),
    (
        "Nov 24 10:00:00 mail dovecot: auth-worker(123): pam({U},{S},<XyZ1>): unknown user",
        false,
        true,
    ),
    (
        "Nov 24 10:00:00 mail dovecot: auth: pam({U},{S}): pam_authenticate() failed: Authentication failure (password mismatch?)",
        false,
        true,
    ),
    // vsftpd
    (
        "Nov 24 11:00:00 web1 vsftpd[1785972]: [{U}] OK LOGIN: Client \"{S}\"",
        true,
        true,
    ),
    (
        "Nov 24 11:00:00 web1 vsftpd[1785972]: [{U}] FAIL LOGIN: Client \"{S}\"",
        false,
        true,
    ),
    (
        "Nov 24 11:00:00 web1 vsftpd[1785972]: [pid 27202] [{U}] FAIL LOGIN: Client \"{S}\"",
        false,
        true,
    ),
    // postfix
    (
        "Nov 24 13:00:00 mail postfix/smtpd[7679]: warning: unknown[{S}]: SASL LOGIN authentication failed: (reason unavailable), sasl_username={U}",
        false,
        true,
    ),
    (
        "Nov 24 13:00:00 mail postfix/smtpd[7683]: 4ABCD1234F: client=unknown[{S}], sasl_method=PLAIN, sasl_username={U}",
        true,
        true,
    ),
    // exim (syslog and its own main log), sendmail, Courier, Cyrus, postscreen's PREGREET
    (
        "Nov 24 15:00:00 mail exim4[2210]: 2026-11-24 15:00:00 plain authenticator failed for (User) [{S}]:57362: 535 Incorrect authentication data (set_id={U})",
        false,
        true,
    ),
    (
        "2026-11-24 15:00:00 [31337] login authenticator failed for mx.example.net [{S}] U=nobody: 535 Incorrect authentication data (set_id={U})",
        false,
        true,
    ),
    (
        "Nov 24 16:00:00 mail sm-mta[27429]: 5AOG00hX027429: AUTH failure (LOGIN): authentication failure (-13) SASL(-13): authentication failure: checkpass failed, user={U}, relay=h.example.net [{S}]",
        false,
        true,
    ),
    (
        "Nov 24 17:00:00 mail imapd: LOGIN FAILED, user={U}, ip=[{S}], port=[40122]",
        false,
        true,
    ),
    (
        "Nov 24 17:00:00 mail pop3d: LOGIN FAILED, method={U}, ip=[{S}]",
        false,
        true,
    ),
    (
        "Nov 24 18:00:00 mail cyrus/imap[4101]: badlogin: [{S}] plaintext ({U}) [SASL(-13): authentication failure: checkpass failed]",
        false,
        true,
    ),
    (
        "Nov 24 14:02:10 mail postfix/postscreen[4010]: PREGREET 11 after 0.1 from [{S}]:51200: {U}",
        false,
        true,
    ),
    // mail filters: {U} stands for the sender's envelope, HELO and Message-ID
    (
        "Nov 24 14:00:00 mail amavis[2102]: (02102-01) Blocked SPAM {DiscardedInbound}, [{S}]:25 [{S}] <{U}> -> <u@example.org>, Message-ID: <{U}>, mail_id: x, Hits: 17.3, size: 1",
        false,
        true,
    ),
    (
        "Nov 24 14:01:00 mail rspamd[3001]: <4d5e6f>; task; rspamd_task_write_log: id: <{U}>, qid: <4AB>, ip: {S}, from: <{U}>, (default: T (reject): [16.50/15.00] []), len: 1",
        false,
        true,
    ),
    (
        "Nov 24 14:02:00 mail postfix/smtpd[4001]: NOQUEUE: reject: RCPT from unknown[{S}]: 554 5.7.1 Service unavailable; Client host [{S}] blocked using zen.spamhaus.org; from=<{U}> to=<u@example.org> proto=ESMTP helo=<{U}>",
        false,
        true,
    ),
    (
        "Nov 24 14:03:00 mail postfix/cleanup[5001]: 4ABC9D: milter-reject: END-OF-MESSAGE from unknown[{S}]: 5.7.1 Virus found: Eicar; from=<{U}> to=<u@example.org> proto=ESMTP helo=<{U}>",
        false,
        true,
    ),
    // Cockpit (pam_unix, the user last).
    (
        "Mar  2 09:14:03 host cockpit-session[4242]: pam_unix(cockpit:auth): authentication failure; logname= uid=0 euid=0 tty= ruser= rhost={S}  user={U}",
        false,
        true,
    ),
    // OpenVPN: the address first; a name only in a success (mapped by OpenVPN, no quotes).
    (
        "Mar  2 09:17:00 vpn openvpn[901]: {S} TLS: Username/Password authentication succeeded for username '{U}' [CN SET]",
        true,
        true,
    ),
    // Asterisk: chan_sip's From header before the address, res_pjsip's From and Call-ID
    // on either side of it.
    (
        "Mar  2 09:14:03 pbx asterisk[1200]: NOTICE[1234][C-00000001]: chan_sip.c:28501 in handle_request_register: Registration from '{U}' failed for '{S}:5060' - Wrong password",
        false,
        true,
    ),
    (
        "Mar  2 09:14:06 pbx asterisk[1200]: NOTICE[2211]: res_pjsip/pjsip_distributor.c:519 in log_failed_request: Request 'REGISTER' from '{U}' failed for '{S}:5060' (callid: {U}) - Failed to authenticate",
        false,
        true,
    ),
    // Asterisk: a guest's call, the dialled extension (URI-decoded) after the address.
    (
        "Mar  2 09:14:20 pbx asterisk[1200]: NOTICE[3734]: chan_sip.c:25650 in handle_request_invite: Call from '' ({S}:5071) to extension '{U}' rejected because extension not found in context 'default'.",
        false,
        true,
    ),
    // MySQL: the user before the address, read from the end (the line counts once the log's
    // next line, MYSQL_NEXT, is MySQL's).
    (
        "2024-03-02T09:14:03.123456Z 113 [Note] [MY-010926] [Server] Access denied for user '{U}'@'{S}' (using password: YES)",
        false,
        true,
    ),
    // Apache: the client before the user and the URI.
    (
        "[Sat Mar 02 09:14:03.123456 2024] [auth_basic:error] [pid 1234:tid 140023] [client {S}:51234] AH01617: user {U}: authentication failure for \"/{U}\": Password Mismatch, referer: {U}",
        false,
        true,
    ),
];

/// MySQL's next line, which confirms a held `Access denied` line before it.
const MYSQL_NEXT: &str =
    "2024-03-02T09:14:04.000000Z 0 [System] [MY-010931] [Server] ready for connections.";

/// The event of one template line: its own, or (MySQL's) once the log's next line came.
fn event_of(parser: &mut Parser, line: &str) -> Option<(ClientIp, Kind)> {
    let own = parser.parse_line(line).map(|e| (e.ip, e.kind));
    let _ = parser.parse_line(MYSQL_NEXT);
    own.or_else(|| {
        parser
            .take_released()
            .map(|h| (h.event().ip, h.event().kind))
    })
}

/// The real client: any acceptable address, written as sshd / dovecot would.
fn source() -> impl Strategy<Value = (String, ClientIp)> {
    prop_oneof![
        client_v4().prop_map(|a| a.to_string()),
        client_v4().prop_map(|a| format!("::ffff:{a}")),
        client_v6().prop_map(|a| a.to_string()),
    ]
    .prop_map(|text| {
        let ip = ClientIp::parse(&text).expect("the strategies give valid addresses");
        (text, ip)
    })
}

proptest! {
    #![proptest_config(config())]

    #[test]
    fn a_user_name_never_chooses_whom_to_blame(
        template in 0..TEMPLATES.len(),
        user in user_name(),
        (src_text, src) in source(),
    ) {
        let (pattern, success, _) = TEMPLATES[template];
        // The one assumption the sshd parser documents: the account of an *accepted* key
        // is a real one, whose name holds no ` ssh2: ` (a client cannot choose it; a name
        // ending in ` ssh2:` would form one with the ` from` that follows).
        prop_assume!(!(pattern.contains("Accepted publickey") && user.contains(" ssh2:")));
        let line = pattern.replace("{S}", &src_text).replace("{U}", &user);
        let mut parser = Parser::new(ParseOptions::default(), NOW);
        if let Some((ip, kind)) = event_of(&mut parser, &line) {
            prop_assert_eq!(ip, src, "blamed the wrong address for {:?}", line);
            if !success {
                prop_assert_ne!(kind, Kind::Success, "a user name faked a success: {:?}", line);
            }
        }
    }

    /// The user-name fields hold plain names too: the templates themselves are recognised
    /// (so that the property above is not vacuous).
    #[test]
    fn plain_user_names_are_recognised(
        template in 0..TEMPLATES.len(),
        user in "[a-z][a-z0-9]{0,7}",
        (src_text, src) in source(),
    ) {
        let (pattern, success, always) = TEMPLATES[template];
        let line = pattern.replace("{S}", &src_text).replace("{U}", &user);
        let mut parser = Parser::new(ParseOptions::default(), NOW);
        let event = event_of(&mut parser, &line);
        if !always {
            return Ok(());
        }
        prop_assert!(event.is_some(), "not recognised: {:?}", line);
        let (ip, kind) = event.expect("checked");
        prop_assert_eq!(ip, src);
        prop_assert_eq!(kind == Kind::Success, success, "{:?}", line);
    }

    /// Arbitrary text, and arbitrary messages behind every header the parsers dispatch on,
    /// through one parser (some services keep per-pid state across lines).
    #[test]
    fn arbitrary_lines_never_panic(
        lines in proptest::collection::vec(
            prop_oneof![
                any::<String>(),
                (header(), proptest::collection::vec(prop_oneof![hostile_piece(), message_word()], 0..10))
                    .prop_map(|(h, words)| h + &words.concat()),
            ],
            1..20,
        ),
    ) {
        let mut parser = Parser::new(ParseOptions::default(), NOW);
        for line in &lines {
            let _ = parser.parse_line(line);
        }
        let mut lenient = Parser::new(ParseOptions { root_is_naughty: false }, 0);
        for line in &lines {
            let _ = lenient.parse_line(line);
        }
    }
}

/// Sender text (a Message-ID, a Subject) imitating amavis's own `, Hits: N` field.
fn forged_hits() -> impl Strategy<Value = String> {
    prop_oneof![
        (0u32..2000).prop_map(|n| format!(", Hits: {}.{}", n / 10, n % 10)),
        Just(", mail_id: x, Hits: 99, size: 1".to_string()),
        Just(">, mail_id: y, Hits: 50.5, size: 9>".to_string()),
        hostile_piece(),
    ]
}

proptest! {
    #![proptest_config(config())]

    /// A spammer relaying through a big provider must not raise the provider's score: what
    /// the sender wrote never makes amavis's score higher than the one amavis gave.
    #[test]
    fn sender_text_never_raises_an_amavis_score(
        real in 0u32..400,
        message_id in proptest::collection::vec(forged_hits(), 0..4),
        subject in proptest::collection::vec(forged_hits(), 0..4),
        (src_text, src) in source(),
    ) {
        let line = format!(
            "Nov 24 14:00:00 mail amavis[2102]: (02102-01) Passed SPAMMY {{RelayedTaggedInbound}}, \
             [{src_text}]:25 [{src_text}] <a@example.net> -> <u@example.org>, Message-ID: <{}>, \
             mail_id: x, Hits: {}.{}, size: 1, Subject: \"{}\", 10 ms",
            message_id.concat(),
            real / 10,
            real % 10,
            subject.concat(),
        );
        let mut parser = Parser::new(ParseOptions::default(), NOW);
        let event = parser.parse_line(&line);
        prop_assert!(event.is_some(), "not recognised: {:?}", line);
        let event = event.expect("checked");
        prop_assert_eq!(event.ip, src);
        prop_assert_eq!(event.kind, Kind::Spam);
        let real = Score(i32::try_from(real).expect("small"));
        prop_assert!(
            event.score.is_some_and(|s| s <= real),
            "score {:?} above the real {:?}: {:?}", event.score, real, line
        );
    }
}

/// Syslog headers of every format, with random timestamps and every program sentry reads.
fn header() -> impl Strategy<Value = String> {
    let program = prop_oneof![
        Just("sshd[1]"),
        Just("sshd-session[2]"),
        Just("sshd-auth"),
        Just("dropbear[3]"),
        Just("dovecot"),
        Just("imap-login"),
        Just("vsftpd[4]"),
        Just("proftpd[5]"),
        Just("pure-ftpd"),
        Just("ftpd[6]"),
        Just("ftpd[7]"),
        Just("postfix/smtpd[8]"),
        Just("postfix/submission/smtpd[9]"),
        Just("vchkpw-smtp"),
        Just("vpopmail[10]"),
        Just("amavis[11]"),
        Just("rspamd[12]"),
        Just("spamd[13]"),
        Just("postfix/cleanup[14]"),
        Just("postfix/postscreen[15]"),
        Just("logger"),
    ];
    let bsd = (
        prop_oneof![
            Just("Jan"),
            Just("Feb"),
            Just("Nov"),
            Just("Dec"),
            Just("Xyz")
        ],
        0u32..40,
        0u32..30,
        0u32..70,
    )
        .prop_map(|(m, d, h, s)| format!("{m} {d:2} {h:02}:{s:02}:{s:02} host "));
    let iso = (
        1969u32..2100,
        0u32..14,
        0u32..35,
        prop_oneof!["[.0-9+:Z-]{0,12}", "[.0-9+:Z-]{0,4}\\PC{1,3}"],
    )
        .prop_map(|(y, mo, d, tail)| format!("{y}-{mo:02}-{d:02}T10:00:00{tail} host "));
    let rfc5424 = Just("<38>1 2026-11-24T10:00:00.000Z host ".to_string());
    (prop_oneof![bsd, iso, rfc5424], program).prop_map(|(time, program)| {
        // RFC 5424 separates the program and the pid by a space and has no colon.
        if time.starts_with('<') {
            let name = program.split('[').next().unwrap_or(program);
            format!("{time}{name} 1 - - ")
        } else {
            format!("{time}{program}: ")
        }
    })
}

/// Words of the messages the parsers know.
fn message_word() -> impl Strategy<Value = String> {
    prop_oneof![
        Just("Invalid user ".to_string()),
        Just("Failed password for ".to_string()),
        Just("Accepted publickey for ".to_string()),
        Just("Connection closed by ".to_string()),
        Just("imap-login: ".to_string()),
        Just("Login: user=<".to_string()),
        Just("Disconnected (auth failed, 1 attempts in 2 secs): ".to_string()),
        Just("auth-worker(1): ".to_string()),
        Just("connection from ".to_string()),
        Just("FTP LOGIN FAILED FROM ".to_string()),
        Just("warning: ".to_string()),
        Just("SASL LOGIN authentication failed: ".to_string()),
        Just("vchkpw-pop3: password fail ".to_string()),
        Just("Exit before auth from <".to_string()),
        Just("drop connection #1 from [".to_string()),
        Just("message repeated 2 times: [ ".to_string()),
        Just("(?@".to_string()),
        Just(" - USER ".to_string()),
        "\\PC{0,8}",
        "[\u{0}-\u{7f}]{0,4}",
    ]
}

// ---- OpenSSH's escaping and cut ------------------------------------------------------------

/// OpenSSH's `log.c` as it shapes a message for syslog: every byte that is not printable
/// ASCII becomes `\ooo` and a backslash becomes `\\` (`strnvis` with `VIS_OCTAL |
/// VIS_CSTYLE`; `\n`, `\t` and friends in their short C form are no harder to forge, so
/// octal stands for all of them).
fn openssh_escape(text: &[u8]) -> String {
    let mut out = String::with_capacity(text.len() * 4);
    for &b in text {
        match b {
            b'\\' => out.push_str("\\\\"),
            0x20..=0x7e => out.push(char::from(b)),
            _ => out.push_str(&format!("\\{b:03o}")),
        }
    }
    out
}

/// `%.Ns` of C: the first `n` bytes.
fn c_cut(text: &[u8], n: usize) -> &[u8] {
    &text[..text.len().min(n)]
}

/// How one sshd message that carries the client's user name reaches syslog.
#[derive(Debug, Clone, Copy)]
enum SshdMessage {
    /// Logged by the monitor, escaped once: `Invalid user %.100s from ADDR port N`.
    InvalidUser,
    /// `auth_log`: `Failed password for invalid user %.100s from %.200s port %d ssh2`.
    FailedPassword,
    /// `Failed publickey for invalid user ... ssh2: ED25519 SHA256:...`.
    FailedPublickey,
    /// `User %.100s from ADDR not allowed because not listed in AllowUsers`.
    NotAllowed,
    /// From the pre-auth child: escaped there, relayed by the monitor with ` [preauth]`
    /// and escaped again. The connection id cuts its preamble at 200 bytes.
    ClosedInvalid,
    DisconnectedInvalid,
    TooManyFailures,
    /// `maximum authentication attempts exceeded for invalid user %.100s from ...`.
    MaxAttempts,
}

const SSHD_MESSAGES: [SshdMessage; 8] = [
    SshdMessage::InvalidUser,
    SshdMessage::FailedPassword,
    SshdMessage::FailedPublickey,
    SshdMessage::NotAllowed,
    SshdMessage::ClosedInvalid,
    SshdMessage::DisconnectedInvalid,
    SshdMessage::TooManyFailures,
    SshdMessage::MaxAttempts,
];

/// The message text sshd hands syslog for `user` connecting from `addr`: formatted,
/// escaped (twice for the pre-auth child), ` [preauth]` appended by the monitor, cut at
/// 500 bytes.
fn sshd_writes(kind: SshdMessage, user: &[u8], addr: &str) -> String {
    let user100 = c_cut(user, 100);
    let text = |prefix: &str, user: &[u8], suffix: &str| {
        let mut bytes = prefix.as_bytes().to_vec();
        bytes.extend_from_slice(user);
        bytes.extend_from_slice(suffix.as_bytes());
        bytes
    };
    let connection_id = |verb: &str, tail: &str| {
        let mut preamble = b"invalid user ".to_vec();
        preamble.extend_from_slice(user);
        let mut bytes = verb.as_bytes().to_vec();
        bytes.extend_from_slice(c_cut(&preamble, 200));
        bytes.extend_from_slice(format!(" {addr} port 40001{tail}").as_bytes());
        bytes
    };
    let (formatted, relayed) = match kind {
        SshdMessage::InvalidUser => (
            text(
                "Invalid user ",
                user100,
                &format!(" from {addr} port 40001"),
            ),
            false,
        ),
        SshdMessage::FailedPassword => (
            text(
                "Failed password for invalid user ",
                user100,
                &format!(" from {addr} port 40001 ssh2"),
            ),
            false,
        ),
        SshdMessage::FailedPublickey => (
            text(
                "Failed publickey for invalid user ",
                user100,
                &format!(" from {addr} port 40001 ssh2: ED25519 SHA256:7f4Vh2lYqkV7WnCZ0yB8M1x0m"),
            ),
            false,
        ),
        SshdMessage::NotAllowed => (
            text(
                "User ",
                user100,
                &format!(" from {addr} not allowed because not listed in AllowUsers"),
            ),
            false,
        ),
        SshdMessage::ClosedInvalid => (connection_id("Connection closed by ", ""), true),
        SshdMessage::DisconnectedInvalid => (connection_id("Disconnected from ", ""), true),
        SshdMessage::TooManyFailures => (
            connection_id("Disconnecting ", ": Too many authentication failures"),
            true,
        ),
        SshdMessage::MaxAttempts => (
            text(
                "maximum authentication attempts exceeded for invalid user ",
                user100,
                &format!(" from {addr} port 40001 ssh2"),
            ),
            true,
        ),
    };
    let mut message = openssh_escape(&formatted);
    if relayed {
        message = openssh_escape(format!("{message} [preauth]").as_bytes());
    }
    message.truncate(500);
    message
}

/// User names of the cut attack: control bytes (each 4 or 5 characters once escaped),
/// plain text, spaces, and forged tails naming a victim.
fn escaped_user_name() -> impl Strategy<Value = Vec<u8>> {
    let victim = prop_oneof![
        client_v4().prop_map(|a| a.to_string()),
        client_v6().prop_map(|a| a.to_string()),
        Just("9.9.9.9".to_string()),
    ];
    let piece = prop_oneof![
        3 => proptest::collection::vec(prop_oneof![1u8..0x20, Just(0x7f), 0x80u8..=0xff], 1..80),
        2 => "[A-Za-z0-9 ]{1,20}".prop_map(String::into_bytes),
        3 => victim.prop_flat_map(|v| prop_oneof![
            Just(format!(" {v} port 22")),
            Just(format!(" {v} port 22 [preauth]")),
            Just(format!(" from {v} port 22 ssh2")),
            Just(format!(" from {v} port 22 ssh2 [preauth]")),
            Just(format!(" from {v} port 22")),
            Just(format!(" from {v}")),
            Just(format!(" {v} port 22: Too many authentication failures [preauth]")),
        ]).prop_map(String::into_bytes),
        1 => Just(b"\\".to_vec()),
    ];
    proptest::collection::vec(piece, 1..8).prop_map(|p| p.concat())
}

proptest! {
    #![proptest_config(config())]

    /// However the client shapes its user name, and wherever sshd's escaping and its
    /// 500-byte cut make the line end, no address but the connection's own is blamed.
    #[test]
    fn openssh_escaping_and_cut_never_blame_another_address(
        kind in 0..SSHD_MESSAGES.len(),
        user in escaped_user_name(),
        (src_text, src) in source(),
    ) {
        let message = sshd_writes(SSHD_MESSAGES[kind], &user, &src_text);
        let line = format!("Nov 24 10:00:00 web1 sshd[101]: {message}");
        let mut parser = Parser::new(ParseOptions::default(), NOW);
        if let Some(event) = parser.parse_line(&line) {
            prop_assert_eq!(event.ip, src, "blamed the wrong address for {:?}", line);
            prop_assert_ne!(event.kind, Kind::Success);
        }
    }

    /// The model is not vacuous: with a short plain user name every message is evidence
    /// against the connection's address.
    #[test]
    fn openssh_messages_of_plain_users_are_recognised(
        kind in 0..SSHD_MESSAGES.len(),
        user in "[a-z][a-z0-9]{0,7}",
        (src_text, src) in source(),
    ) {
        let message = sshd_writes(SSHD_MESSAGES[kind], user.as_bytes(), &src_text);
        let line = format!("Nov 24 10:00:00 web1 sshd[101]: {message}");
        let mut parser = Parser::new(ParseOptions::default(), NOW);
        let event = parser.parse_line(&line);
        prop_assert!(event.is_some(), "not recognised: {:?}", line);
        prop_assert_eq!(event.map(|e| e.ip), Some(src));
    }
}
