//! SMTP: virus and spam senders and blocklisted clients as evidence (services = ["smtp"]),
//! through the real binary: `parse` output and `scan` verdicts on one mail log.

mod common;

use common::Root;

/// A virus sender, a heavy spammer (4 messages over 10), a light spammer (3 over 10, and
/// more under it), a client rejected by a blocklist 11 times, a legitimate submitter whose
/// clean mail and one spammy message change nothing, and the host's own relay.
fn mail_log() -> String {
    let mut log = String::new();
    let mut line = |text: String| {
        log.push_str(&text);
        log.push('\n');
    };
    line("Nov 24 14:00:00 mail amavis[1]: (00001-01) Blocked INFECTED (Eicar-Signature) {DiscardedInbound}, [203.0.113.1]:40000 [203.0.113.1] <a@example.com> -> <u@example.org>, Queue-ID: 1A, Message-ID: <v@x>, mail_id: a, Hits: -, size: 1, 1 ms".into());
    for i in 0..4 {
        line(format!(
            "Nov 24 14:01:0{i} mail amavis[2]: (00002-0{i}) Blocked SPAM {{DiscardedInbound}}, [203.0.113.2]:4000{i} [203.0.113.2] <s@example.net> -> <u@example.org>, Queue-ID: 2A{i}, Message-ID: <s{i}@x>, mail_id: b, Hits: 1{i}.5, size: 1, 1 ms"
        ));
    }
    for i in 0..3 {
        line(format!(
            "Nov 24 14:02:0{i} mail rspamd[3]: <aa{i}>; task; rspamd_task_write_log: id: <l{i}@x>, qid: <3A{i}>, ip: 203.0.113.3, from: <l@example.net>, (default: T (reject): [15.00/15.00] []), len: 1, time: 1ms"
        ));
    }
    for i in 0..5 {
        line(format!(
            "Nov 24 14:02:1{i} mail rspamd[3]: <ab{i}>; task; rspamd_task_write_log: id: <m{i}@x>, qid: <3B{i}>, ip: 203.0.113.3, from: <l@example.net>, (default: T (add header): [8.00/15.00] []), len: 1, time: 1ms"
        ));
    }
    for i in 0..11 {
        line(format!(
            "Nov 24 14:03:{i:02} mail postfix/smtpd[4]: NOQUEUE: reject: RCPT from unknown[203.0.113.4]: 554 5.7.1 Service unavailable; Client host [203.0.113.4] blocked using zen.spamhaus.org; from=<r@example.net> to=<u@example.org> proto=ESMTP helo=<x>"
        ));
    }
    line("Nov 24 14:04:00 mail postfix/submission/smtpd[5]: 5A: client=laptop.example.org[198.51.100.5], sasl_method=PLAIN, sasl_username=carol".into());
    line("Nov 24 14:04:01 mail amavis[6]: (00006-01) Passed SPAMMY {RelayedTaggedInbound}, [198.51.100.5]:50000 [198.51.100.5] <carol@example.org> -> <x@example.com>, Hits: 12.0, size: 1, 1 ms".into());
    for i in 0..5 {
        line(format!(
            "Nov 24 14:05:0{i} mail amavis[7]: (00007-0{i}) Blocked INFECTED (X) {{DiscardedInbound}}, [192.0.2.25]:25 [192.0.2.25] <relay@example.org> -> <u@example.org>, Hits: -, size: 1"
        ));
    }
    log
}

#[test]
fn scan_blocks_virus_senders_heavy_spammers_and_blocklisted_clients_only() {
    let root = Root::new();
    std::fs::write(
        root.path().join("sentry.toml"),
        "services = [\"ssh\", \"smtp\"]\nsmtp_trusted_relays = [\"192.0.2.0/24\"]\n",
    )
    .expect("config");
    std::fs::write(root.auth_log(), mail_log()).expect("log");
    root.ok(&["scan"]);
    let listing = |ip: &str| root.try_row(ip).map(|r| (r.1 > 0, r.2 > 0));
    assert_eq!(listing("203.0.113.1"), Some((false, true)), "virus sender");
    assert_eq!(
        listing("203.0.113.2"),
        Some((false, true)),
        "4 spam messages > 3"
    );
    assert_eq!(
        listing("203.0.113.3"),
        None,
        "3 over the score, 5 under it: not blocked"
    );
    assert_eq!(
        listing("203.0.113.4"),
        Some((false, true)),
        "11 RBL rejects > 10"
    );
    assert_eq!(
        listing("198.51.100.5"),
        Some((true, false)),
        "a SASL submitter is allowed, its spammy mail notwithstanding"
    );
    assert_eq!(
        listing("192.0.2.25"),
        None,
        "the host's own relay is ignored"
    );
    let reason: String = rusqlite::Connection::open(root.db())
        .expect("open")
        .query_row(
            "SELECT reason FROM decisions WHERE ip = '203.0.113.2'",
            [],
            |r| r.get(0),
        )
        .expect("reason");
    assert!(reason.contains("4 spam"), "{reason}");
}

#[test]
fn smtp_evidence_needs_smtp_protection() {
    let root = Root::new();
    std::fs::write(root.auth_log(), mail_log()).expect("log");
    root.ok(&["scan"]);
    assert_eq!(root.try_row("203.0.113.1"), None, "smtp is off by default");
    // PROTECT_SMTP=1, the bash original's switch, turns it on.
    let out = root
        .command(&["scan", "--from-start"])
        .env("PROTECT_SMTP", "1")
        .output()
        .expect("scan");
    assert!(out.status.success(), "{out:?}");
    assert!(root.try_row("203.0.113.1").is_some_and(|r| r.2 > 0));
}

#[test]
fn parse_reports_kind_score_and_the_real_client() {
    let root = Root::new();
    std::fs::write(root.auth_log(), mail_log()).expect("log");
    let out = root.ok(&[
        "parse",
        "--service",
        "smtp",
        &root.auth_log().display().to_string(),
    ]);
    let events: Vec<serde_json::Value> = out
        .lines()
        .filter(|l| l.starts_with('{') && l.contains("\"kind\""))
        .map(|l| serde_json::from_str(l).expect("json"))
        .collect();
    let first_spam = events
        .iter()
        .find(|e| e["kind"] == "spam")
        .expect("a spam event");
    assert_eq!(first_spam["ip"], "203.0.113.2");
    assert_eq!(first_spam["service"], "amavis");
    assert_eq!(first_spam["score"], 10.5);
    assert!(
        events
            .iter()
            .any(|e| e["kind"] == "virus" && e["ip"] == "203.0.113.1")
    );
    assert!(
        events
            .iter()
            .any(|e| e["kind"] == "rbl" && e["ip"] == "203.0.113.4")
    );
    assert!(
        events.iter().all(|e| e["kind"] != "failed"),
        "no SASL failures in this log"
    );
}
