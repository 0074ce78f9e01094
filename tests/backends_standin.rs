//! The pf, ipfw, firewalld and command backends, driven through the real binary.
//!
//! pfctl, ipfw and firewall-cmd do not run on Linux (and firewalld would need a system
//! bus), so these tests point sentry at stand-in programs: small bash scripts, written
//! into a temporary directory by each test, that append their argument vector to a log
//! (one line per call, arguments separated by \x1f) and keep the list in a state file so
//! that `show`, `list` and `--get-entries` answer truthfully. The tests assert the exact
//! invocations (program and every argument), and what happens when the program is
//! missing, the configuration is wrong, or a template looks like shell code.

mod common;

use std::path::{Path, PathBuf};

use common::Root;

/// Every stand-in logs its argv first: `name\x1farg1\x1farg2...`.
const PRELUDE: &str = r##"#!/bin/bash
LOG='@LOG@'
STATE='@STATE@'
{ printf '%s' "${0##*/}"; for a in "$@"; do printf '\x1f%s' "$a"; done; printf '\n'; } >> "$LOG"
"##;

/// pfctl: `-q -t T -T add|delete|show [IP...]` and `-q -k IP`.
const PFCTL: &str = r##"
[ "$1" = -q ] && shift
[ "$1" = -k ] && exit 0
[ "$1" = -t ] && [ "$3" = -T ] || { echo "pfctl: bad usage" >&2; exit 64; }
cmd=$4; shift 4
case "$cmd" in
  add) touch "$STATE"
       for a in "$@"; do grep -qxF -- "$a" "$STATE" || echo "$a" >> "$STATE"; done ;;
  delete) [ -f "$STATE" ] || { echo "pfctl: Table does not exist." >&2; exit 1; }
       for a in "$@"; do grep -vxF -- "$a" "$STATE" > "$STATE.new"; cat "$STATE.new" > "$STATE"; done
       rm -f "$STATE.new" ;;
  show) [ -f "$STATE" ] || { echo "pfctl: Table does not exist." >&2; exit 1; }
       sed 's/^/   /' "$STATE"
       echo "   10.0.0.0/8" ;;
  *) exit 64 ;;
esac
"##;

/// ipfw: `-q table T create type addr|add IP VALUE...|delete IP...` and `table T list`.
const IPFW: &str = r##"
[ "$1" = -q ] && shift
[ "$1" = table ] || { echo "ipfw: bad usage" >&2; exit 64; }
table=$2; cmd=$3; shift 3
case "$cmd" in
  create) [ -f "$STATE" ] && { echo "ipfw: Table creation failed: File exists" >&2; exit 71; }
       touch "$STATE" ;;
  add) touch "$STATE"
       while [ $# -gt 0 ]; do
         [ $# -ge 2 ] || { echo "ipfw: $1 has no value" >&2; exit 64; }
         grep -qxF -- "$1" "$STATE" || echo "$1" >> "$STATE"; shift 2
       done ;;
  delete) [ -f "$STATE" ] || { echo "ipfw: Table $table does not exist" >&2; exit 65; }
       for a in "$@"; do grep -vxF -- "$a" "$STATE" > "$STATE.new"; cat "$STATE.new" > "$STATE"; done
       rm -f "$STATE.new" ;;
  list) [ -f "$STATE" ] || { echo "ipfw: failed to request table info: No such process" >&2; exit 71; }
       echo "--- table($table), set(0) ---"
       while read -r a; do case $a in *:*) echo "$a/128 0" ;; *) echo "$a/32 0" ;; esac; done < "$STATE"
       echo "10.0.0.0/8 0" ;;
  *) exit 64 ;;
esac
"##;

/// firewall-cmd: ipsets in $STATE/permanent and $STATE/runtime, one file each. Entry files
/// are logged too: `entries-file\x1fDIR-MODE\x1fFILE-MODE\x1fentry...`.
const FIREWALL_CMD: &str = r##"
perm=; ipset=; action=; file=; new=
for a in "$@"; do
  case $a in
    --permanent) perm=1 ;;
    --ipset=*) ipset=${a#*=} ;;
    --add-entries-from-file=*) action=add; file=${a#*=} ;;
    --remove-entries-from-file=*) action=remove; file=${a#*=} ;;
    --get-entries) action=get ;;
    --new-ipset=*) action=new; new=${a#*=} ;;
    --type=hash:ip|--option=family=inet|--option=family=inet6) ;;
    --get-ipsets) action=ipsets ;;
    --reload) action=reload ;;
    *) echo "usage: unknown option $a" >&2; exit 2 ;;
  esac
done
mkdir -p "$STATE/permanent" "$STATE/runtime"
if [ -n "$perm" ]; then d="$STATE/permanent"; else d="$STATE/runtime"; fi
case $action in
  new) [ -n "$perm" ] || { echo "Error: permanent only" >&2; exit 2; }
       [ -f "$d/$new" ] && { echo "Error: NAME_CONFLICT: new_ipset(): '$new'" >&2; exit 26; }
       : > "$d/$new"; echo success ;;
  ipsets) ls "$d" | tr '\n' ' '; echo ;;
  reload) rm -f "$STATE/runtime/"*; cp "$STATE/permanent/"* "$STATE/runtime/" 2>/dev/null; echo success ;;
  get) [ -f "$d/$ipset" ] || { echo "Error: INVALID_IPSET: $ipset" >&2; exit 136; }
       cat "$d/$ipset" ;;
  add|remove)
       [ -f "$d/$ipset" ] || { echo "Error: INVALID_IPSET: $ipset" >&2; exit 136; }
       { printf 'entries-file\x1f%s\x1f%s' "$(stat -c %a "${file%/*}")" "$(stat -c %a "$file")"
         while read -r e; do printf '\x1f%s' "$e"; done < "$file"; printf '\n'; } >> "$LOG"
       while read -r e; do
         if [ $action = add ]; then grep -qxF -- "$e" "$d/$ipset" || echo "$e" >> "$d/$ipset"
         else grep -vxF -- "$e" "$d/$ipset" > "$STATE/new"; cat "$STATE/new" > "$d/$ipset"; fi
       done < "$file"
       rm -f "$STATE/new"; echo success ;;
  *) echo "usage" >&2; exit 2 ;;
esac
"##;

/// The admin's own tool: `add --ip=IP ...`, `del IP`, `list` (with a comment line).
const CLOUD_ACL: &str = r##"
cmd=$1; shift
touch "$STATE"
case $cmd in
  add) a=${1#--ip=}; grep -qxF -- "$a" "$STATE" || echo "$a" >> "$STATE" ;;
  del) grep -vxF -- "$1" "$STATE" > "$STATE.new"; cat "$STATE.new" > "$STATE"; rm -f "$STATE.new" ;;
  list) echo "# cloud ACL"; cat "$STATE" ;;
  *) exit 64 ;;
esac
"##;

/// A directory of stand-ins sharing one call log and one state path.
struct Standins {
    dir: tempfile::TempDir,
}

impl Standins {
    fn new() -> Standins {
        Standins {
            dir: tempfile::tempdir().expect("stand-in directory"),
        }
    }

    fn path(&self) -> &Path {
        self.dir.path()
    }

    fn log(&self) -> PathBuf {
        self.path().join("calls.log")
    }

    /// The stand-in's list: a file of addresses (a directory for firewall-cmd).
    fn state(&self) -> PathBuf {
        self.path().join("state")
    }

    /// Writes an executable stand-in `name` and returns its absolute path.
    fn script(&self, name: &str, body: &str) -> String {
        use std::os::unix::fs::PermissionsExt;
        let path = self.path().join(name);
        let text = PRELUDE
            .replace("@LOG@", &self.log().display().to_string())
            .replace("@STATE@", &self.state().display().to_string())
            + body;
        std::fs::write(&path, text).expect("write stand-in");
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o755)).expect("chmod");
        path.display().to_string()
    }

    /// The calls logged since the last take, and forgets them.
    fn take_calls(&self) -> Vec<Vec<String>> {
        let text = std::fs::read_to_string(self.log()).unwrap_or_default();
        let _ = std::fs::remove_file(self.log());
        text.lines()
            .map(|line| line.split('\x1f').map(str::to_string).collect())
            .collect()
    }

    fn state_lines(&self, file: &Path) -> Vec<String> {
        std::fs::read_to_string(file)
            .unwrap_or_default()
            .lines()
            .map(str::to_string)
            .collect()
    }
}

fn call(words: &[&str]) -> Vec<String> {
    words.iter().map(|w| w.to_string()).collect()
}

/// A root whose database exists already. A new database is synced with every enabled
/// backend when it is first opened; starting from an existing one keeps each test's
/// calls to the ones its commands make.
fn root_with_database() -> Root {
    let root = Root::new();
    root.ok(&["expire"]); // creates the database
    assert!(root.db().exists());
    root
}

fn configure(root: &Root, text: &str) {
    std::fs::write(root.path().join("sentry.toml"), text).expect("write config");
}

fn stderr(out: &std::process::Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

#[test]
fn pf_adds_kills_states_deletes_and_syncs() {
    let s = Standins::new();
    let pfctl = s.script("pfctl", PFCTL);
    let root = root_with_database();
    configure(
        &root,
        &format!(
            "[block]\nbackends = [\"pf\"]\nfirewall_table = \"ssh_abusers\"\n\n[pf]\npfctl = \"{pfctl}\"\n"
        ),
    );
    let table = |command: &str, ips: &[&str]| {
        let mut words = vec!["pfctl", "-q", "-t", "ssh_abusers", "-T", command];
        words.extend_from_slice(ips);
        call(&words)
    };
    let kill = |ip: &str| call(&["pfctl", "-q", "-k", ip]);

    root.ok(&["block", "203.0.113.9"]);
    assert_eq!(
        s.take_calls(),
        vec![table("add", &["203.0.113.9"]), kill("203.0.113.9")]
    );
    root.ok(&["--ip=2001:DB8::7", "--block"]);
    assert_eq!(
        s.take_calls(),
        vec![table("add", &["2001:db8::7"]), kill("2001:db8::7")]
    );
    root.ok(&["delist", "203.0.113.9"]);
    assert_eq!(s.take_calls(), vec![table("delete", &["203.0.113.9"])]);
    assert_eq!(s.state_lines(&s.state()), ["2001:db8::7"]);

    // pf lost the table (a reload without `persist`): sync puts the block back.
    std::fs::remove_file(s.state()).expect("drop the table");
    let out = root.ok(&["sync"]);
    assert!(out.contains("pf: added 1, removed 0"), "{out}");
    assert_eq!(
        s.take_calls(),
        vec![
            table("show", &[]),
            table("add", &["2001:db8::7"]),
            kill("2001:db8::7")
        ]
    );

    // An address sentry no longer blocks is taken out; the admin's network stays.
    std::fs::write(s.state(), "2001:db8::7\n198.51.100.1\n").expect("state");
    let out = root.ok(&["sync", "--dry-run"]);
    assert!(out.contains("pf: would add 0, would remove 1"), "{out}");
    assert!(out.contains("  - 198.51.100.1"), "{out}");
    assert_eq!(
        s.take_calls(),
        vec![table("show", &[])],
        "a dry run only reads"
    );
    root.ok(&["sync"]);
    assert_eq!(
        s.take_calls(),
        vec![table("show", &[]), table("delete", &["198.51.100.1"])]
    );
    assert_eq!(s.state_lines(&s.state()), ["2001:db8::7"]);
    let out = root.ok(&["sync"]);
    assert!(out.contains("pf: added 0, removed 0"), "{out}");
    assert_eq!(s.take_calls(), vec![table("show", &[])]);
}

#[test]
fn pf_table_setting_and_no_state_kill() {
    let s = Standins::new();
    let pfctl = s.script("pfctl", PFCTL);
    let root = root_with_database();
    configure(
        &root,
        &format!(
            "[block]\nbackends = [\"pf\"]\n\n[pf]\npfctl = \"{pfctl}\"\ntable = \"bad_hosts\"\nkill_states = false\n"
        ),
    );
    root.ok(&["block", "203.0.113.9"]);
    assert_eq!(
        s.take_calls(),
        vec![call(&[
            "pfctl",
            "-q",
            "-t",
            "bad_hosts",
            "-T",
            "add",
            "203.0.113.9"
        ])]
    );
}

#[test]
fn ipfw_pairs_values_tolerates_absent_tables_and_syncs() {
    let s = Standins::new();
    let ipfw = s.script("ipfw", IPFW);
    let root = root_with_database();
    configure(
        &root,
        &format!("[block]\nbackends = [\"ipfw\"]\n\n[ipfw]\nipfw = \"{ipfw}\"\n"),
    );
    let quiet = |words: &[&str]| {
        let mut all = vec!["ipfw", "-q", "table", "sentry_blocklist"];
        all.extend_from_slice(words);
        call(&all)
    };

    root.ok(&["block", "203.0.113.9"]);
    assert_eq!(s.take_calls(), vec![quiet(&["add", "203.0.113.9", "0"])]);
    root.ok(&["block", "2001:DB8::7"]);
    assert_eq!(s.take_calls(), vec![quiet(&["add", "2001:db8::7", "0"])]);
    root.ok(&["delist", "203.0.113.9"]);
    assert_eq!(s.take_calls(), vec![quiet(&["delete", "203.0.113.9"])]);

    // The table is gone (a reboot): deleting from it is not an error...
    std::fs::remove_file(s.state()).expect("drop the table");
    root.ok(&["delist", "203.0.113.9"]);
    assert_eq!(s.take_calls(), vec![quiet(&["delete", "203.0.113.9"])]);
    // ...and sync creates it and adds every block in one call, address/value pairs.
    root.ok(&["block", "203.0.113.10"]);
    s.take_calls();
    std::fs::remove_file(s.state()).expect("drop the table");
    let out = root.ok(&["sync"]);
    assert!(out.contains("ipfw: added 2, removed 0"), "{out}");
    assert_eq!(
        s.take_calls(),
        vec![
            quiet(&["create", "type", "addr"]),
            call(&["ipfw", "table", "sentry_blocklist", "list"]),
            quiet(&["add", "203.0.113.10", "0", "2001:db8::7", "0"]),
        ]
    );
    assert_eq!(s.state_lines(&s.state()), ["203.0.113.10", "2001:db8::7"]);

    // In step: the table exists ("File exists" is fine), the admin's /8 is left alone.
    let out = root.ok(&["sync"]);
    assert!(out.contains("ipfw: added 0, removed 0"), "{out}");
    assert_eq!(
        s.take_calls(),
        vec![
            quiet(&["create", "type", "addr"]),
            call(&["ipfw", "table", "sentry_blocklist", "list"]),
        ]
    );
    root.ok(&["sync", "--dry-run"]);
    assert_eq!(
        s.take_calls(),
        vec![call(&["ipfw", "table", "sentry_blocklist", "list"])]
    );
}

/// Replaces the entry file in `--add/remove-entries-from-file=PATH` by `FILE`, checking
/// that it was in a private directory under the root and is gone.
fn entry_files_checked(calls: Vec<Vec<String>>, root: &Root) -> Vec<Vec<String>> {
    calls
        .into_iter()
        .map(|c| {
            c.into_iter()
                .map(|arg| match arg.split_once("-entries-from-file=") {
                    Some((head, path)) => {
                        let path = Path::new(path);
                        let dir = path.parent().expect("a directory");
                        assert_eq!(dir.parent(), Some(root.path()), "{}", path.display());
                        assert!(!dir.exists(), "{} left behind", dir.display());
                        format!("{head}-entries-from-file=FILE")
                    }
                    None => arg,
                })
                .collect()
        })
        .collect()
}

#[test]
fn firewalld_changes_permanent_and_runtime_from_private_files() {
    let s = Standins::new();
    let fc = s.script("firewall-cmd", FIREWALL_CMD);
    let root = root_with_database();
    configure(
        &root,
        &format!("[block]\nbackends = [\"firewalld\"]\n\n[firewalld]\nfirewall_cmd = \"{fc}\"\n"),
    );
    let perm = |words: &[&str]| {
        let mut all = vec!["firewall-cmd", "--permanent"];
        all.extend_from_slice(words);
        call(&all)
    };
    let runtime = |words: &[&str]| {
        let mut all = vec!["firewall-cmd"];
        all.extend_from_slice(words);
        call(&all)
    };
    let file = |ips: &[&str]| {
        let mut all = vec!["entries-file", "700", "600"];
        all.extend_from_slice(ips);
        call(&all)
    };
    let v4 = "--ipset=sentry_blocklist4";
    let v6 = "--ipset=sentry_blocklist6";
    let add = "--add-entries-from-file=FILE";
    let remove = "--remove-entries-from-file=FILE";
    let state = |config: &str, set: &str| s.state_lines(&s.state().join(config).join(set));

    // Before the ipsets exist a block fails, is kept, and the message says what to do.
    let out = root.run(&["block", "203.0.113.9"]);
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    let err = stderr(&out);
    assert!(
        err.contains("firewalld") && err.contains("INVALID_IPSET") && err.contains("sentry sync"),
        "{err}"
    );
    assert!(root.row("203.0.113.9").is_some_and(|r| r.2 > 0));
    s.take_calls();

    // sync creates both ipsets, reloads once so they exist at runtime, then adds.
    let out = root.ok(&["sync"]);
    assert!(out.contains("firewalld: added 1, removed 0"), "{out}");
    assert_eq!(
        entry_files_checked(s.take_calls(), &root),
        vec![
            perm(&[
                "--new-ipset=sentry_blocklist4",
                "--type=hash:ip",
                "--option=family=inet"
            ]),
            perm(&[
                "--new-ipset=sentry_blocklist6",
                "--type=hash:ip",
                "--option=family=inet6"
            ]),
            runtime(&["--get-ipsets"]),
            runtime(&["--reload"]),
            runtime(&[v4, "--get-entries"]),
            perm(&[v4, "--get-entries"]),
            runtime(&[v6, "--get-entries"]),
            perm(&[v6, "--get-entries"]),
            perm(&[v4, add]),
            file(&["203.0.113.9"]),
            runtime(&[v4, add]),
            file(&["203.0.113.9"]),
        ]
    );
    assert_eq!(state("permanent", "sentry_blocklist4"), ["203.0.113.9"]);
    assert_eq!(state("runtime", "sentry_blocklist4"), ["203.0.113.9"]);

    root.ok(&["block", "2001:DB8::7"]);
    root.ok(&["block", "203.0.113.10"]);
    assert_eq!(
        entry_files_checked(s.take_calls(), &root),
        vec![
            perm(&[v6, add]),
            file(&["2001:db8::7"]),
            runtime(&[v6, add]),
            file(&["2001:db8::7"]),
            perm(&[v4, add]),
            file(&["203.0.113.10"]),
            runtime(&[v4, add]),
            file(&["203.0.113.10"]),
        ]
    );
    root.ok(&["delist", "203.0.113.9"]);
    assert_eq!(
        entry_files_checked(s.take_calls(), &root),
        vec![
            perm(&[v4, remove]),
            file(&["203.0.113.9"]),
            runtime(&[v4, remove]),
            file(&["203.0.113.9"]),
        ]
    );
    assert_eq!(state("permanent", "sentry_blocklist4"), ["203.0.113.10"]);
    assert_eq!(state("runtime", "sentry_blocklist4"), ["203.0.113.10"]);

    // The runtime lost an entry: it counts as missing and is added to both again,
    // without a reload (the ipsets exist at runtime).
    std::fs::write(s.state().join("runtime/sentry_blocklist6"), "").expect("state");
    let out = root.ok(&["sync", "--dry-run"]);
    assert!(out.contains("  + 2001:db8::7"), "{out}");
    assert_eq!(
        s.take_calls(),
        vec![
            runtime(&[v4, "--get-entries"]),
            perm(&[v4, "--get-entries"]),
            runtime(&[v6, "--get-entries"]),
            perm(&[v6, "--get-entries"]),
        ],
        "a dry run only reads"
    );
    root.ok(&["sync"]);
    let calls = entry_files_checked(s.take_calls(), &root);
    assert!(!calls.contains(&runtime(&["--reload"])), "{calls:?}");
    assert_eq!(
        calls[calls.len() - 4..],
        [
            perm(&[v6, add]),
            file(&["2001:db8::7"]),
            runtime(&[v6, add]),
            file(&["2001:db8::7"]),
        ]
    );
    assert_eq!(state("runtime", "sentry_blocklist6"), ["2001:db8::7"]);
    assert_eq!(state("permanent", "sentry_blocklist6"), ["2001:db8::7"]);
}

#[test]
fn command_substitutes_the_address_in_each_argument_and_syncs_with_list() {
    let s = Standins::new();
    let acl = s.script("cloud-acl", CLOUD_ACL);
    let root = root_with_database();
    configure(
        &root,
        &format!(
            "[block]\nbackends = [\"command\"]\n\n[command]\n\
             block = \"{acl} add --ip={{ip}} --comment=sentry\"\n\
             unblock = \"{acl}   del\t{{ip}}\"\nlist = \"{acl} list\"\n"
        ),
    );
    let added = |ip: &str| {
        call(&[
            "cloud-acl",
            "add",
            &format!("--ip={ip}"),
            "--comment=sentry",
        ])
    };
    let deleted = |ip: &str| call(&["cloud-acl", "del", ip]);
    let list = call(&["cloud-acl", "list"]);

    root.ok(&["block", "203.0.113.9"]);
    root.ok(&["block", "2001:DB8::7"]);
    assert_eq!(
        s.take_calls(),
        vec![added("203.0.113.9"), added("2001:db8::7")]
    );
    root.ok(&["delist", "203.0.113.9"]);
    assert_eq!(s.take_calls(), vec![deleted("203.0.113.9")]);

    std::fs::write(s.state(), "198.51.100.1\n").expect("state");
    let out = root.ok(&["sync"]);
    assert!(out.contains("command: added 1, removed 1"), "{out}");
    assert_eq!(
        s.take_calls(),
        vec![list.clone(), added("2001:db8::7"), deleted("198.51.100.1")]
    );
    assert_eq!(s.state_lines(&s.state()), ["2001:db8::7"]);
    root.ok(&["sync", "--dry-run"]);
    assert_eq!(s.take_calls(), vec![list]);
}

#[test]
fn command_without_list_cannot_sync_and_says_so() {
    let s = Standins::new();
    let acl = s.script("cloud-acl", CLOUD_ACL);
    let root = root_with_database();
    configure(
        &root,
        &format!(
            "[block]\nbackends = [\"tcpwrappers\", \"command\"]\n\n[command]\n\
             block = \"{acl} add {{ip}}\"\nunblock = \"{acl} del {{ip}}\"\n"
        ),
    );
    root.ok(&["block", "203.0.113.9"]);
    assert_eq!(
        s.take_calls(),
        vec![call(&["cloud-acl", "add", "203.0.113.9"])]
    );
    let out = root.run(&["sync"]);
    assert_eq!(out.status.code(), Some(2));
    let err = stderr(&out);
    assert!(
        err.contains("command") && err.contains("`list`") && err.contains("sync"),
        "{err}"
    );
    assert!(s.take_calls().is_empty());
    assert!(
        root.deny_text().contains("203.0.113.9"),
        "tcpwrappers synced"
    );
}

#[test]
fn command_templates_never_reach_a_shell() {
    let s = Standins::new();
    let acl = s.script("cloud-acl", CLOUD_ACL);
    let dir = s.path().display().to_string();
    let root = root_with_database();
    configure(
        &root,
        &format!(
            "[block]\nbackends = [\"command\"]\n\n[command]\n\
             block = \"{acl} add {{ip}} ;touch {dir}/semicolon $(touch {dir}/subst) `touch {dir}/backtick` |tee {dir}/pipe &&true >{dir}/redirect\"\n\
             unblock = \"{acl} del {{ip}};$(id)\"\n"
        ),
    );
    root.ok(&["block", "203.0.113.9"]);
    root.ok(&["delist", "203.0.113.9"]);
    assert_eq!(
        s.take_calls(),
        vec![
            call(&[
                "cloud-acl",
                "add",
                "203.0.113.9",
                ";touch",
                &format!("{dir}/semicolon"),
                "$(touch",
                &format!("{dir}/subst)"),
                "`touch",
                &format!("{dir}/backtick`"),
                "|tee",
                &format!("{dir}/pipe"),
                "&&true",
                &format!(">{dir}/redirect"),
            ]),
            call(&["cloud-acl", "del", "203.0.113.9;$(id)"]),
        ]
    );
    for name in ["semicolon", "subst", "backtick", "pipe", "redirect"] {
        assert!(!s.path().join(name).exists(), "a shell ran: {name} exists");
    }
}

#[test]
fn command_calls_are_killed_at_the_timeout() {
    let s = Standins::new();
    let slow = s.script("slow-acl", "exec sleep 30\n");
    let root = root_with_database();
    configure(
        &root,
        &format!(
            "[block]\nbackends = [\"command\"]\n\n[command]\n\
             block = \"{slow} add {{ip}}\"\nunblock = \"{slow} del {{ip}}\"\ntimeout_secs = 1\n"
        ),
    );
    let started = std::time::Instant::now();
    let out = root.run(&["block", "203.0.113.9"]);
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    assert!(started.elapsed() < std::time::Duration::from_secs(20));
    assert!(stderr(&out).contains("command"), "{}", stderr(&out));
    assert!(root.row("203.0.113.9").is_some_and(|r| r.2 > 0));
}

#[test]
fn a_missing_program_keeps_the_block_and_sync_repairs_the_list() {
    let s = Standins::new();
    let pfctl = s.script("pfctl", PFCTL);
    let missing = s.path().join("no-such-dir/pfctl").display().to_string();
    let root = root_with_database();
    let config = |program: &str| {
        format!("[block]\nbackends = [\"tcpwrappers\", \"pf\"]\n\n[pf]\npfctl = \"{program}\"\n")
    };
    configure(&root, &config(&missing));

    let out = root.run(&["block", "203.0.113.9"]);
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    let err = stderr(&out);
    assert!(err.contains("pf:") && err.contains(&missing), "{err}");
    assert!(err.contains("sentry sync"), "{err}");
    assert!(root.row("203.0.113.9").is_some_and(|r| r.2 > 0), "kept");
    assert_eq!(root.deny_text(), "ALL: 203.0.113.9 : deny\n");

    configure(&root, &config(&pfctl));
    let out = root.ok(&["sync"]);
    assert!(out.contains("pf: added 1, removed 0"), "{out}");
    assert!(out.contains("tcpwrappers: added 0, removed 0"), "{out}");
    let table = |command: &str, ips: &[&str]| {
        let mut words = vec!["pfctl", "-q", "-t", "sentry_blocklist", "-T", command];
        words.extend_from_slice(ips);
        call(&words)
    };
    assert_eq!(
        s.take_calls(),
        vec![
            table("show", &[]),
            table("add", &["203.0.113.9"]),
            call(&["pfctl", "-q", "-k", "203.0.113.9"]),
        ]
    );
}

#[test]
fn bad_backend_settings_fail_at_load_naming_section_and_key() {
    let cases: &[(&str, &[&str])] = &[
        ("[pf]\ntabel = \"x\"\n", &["[pf]", "tabel"]),
        (
            "[pf]\npfctl = \"sbin/pfctl\"\n",
            &["[pf]", "pfctl", "absolute"],
        ),
        ("[pf]\nkill_states = \"yes\"\n", &["[pf]", "kill_states"]),
        // A table name pfctl would read as an option, from the shared default.
        (
            "[block]\nbackends = [\"pf\"]\nfirewall_table = \"-F\"\n",
            &["[block] firewall_table", "[pf] table", "\"-F\""],
        ),
        (
            "[block]\nbackends = [\"ipfw\"]\n[ipfw]\ntable = \"a b\"\n",
            &["[ipfw] table", "\"a b\""],
        ),
        ("[ipfw]\nipfw = \"../../tmp/ipfw\"\n", &["[ipfw]", "ipfw"]),
        ("[ipfw]\ntables = \"x\"\n", &["[ipfw]", "tables"]),
        ("[firewalld]\nipset = \"x\"\n", &["[firewalld]", "ipset"]),
        (
            "[block]\nbackends = [\"firewalld\"]\n[firewalld]\nipset6 = \"v6;set\"\n",
            &["[firewalld] ipset6", "v6;set"],
        ),
        (
            "[block]\nbackends = [\"firewalld\"]\nfirewall_table = \"a_very_long_table_name_for_ipsets\"\n",
            &["[block] firewall_table", "[firewalld] ipset4", "31"],
        ),
        (
            "[firewalld]\nfirewall_cmd = \"bin/firewall-cmd\"\n",
            &["[firewalld]", "firewall_cmd"],
        ),
        ("[command]\nblok = \"/x {ip}\"\n", &["[command]", "blok"]),
        (
            "[block]\nbackends = [\"command\"]\n[command]\nblock = \"cloud-acl add {ip}\"\nunblock = \"/bin/acl del {ip}\"\n",
            &["[command]", "`block`", "absolute"],
        ),
        (
            "[block]\nbackends = [\"command\"]\n[command]\nblock = \"/bin/acl add {ip}\"\nunblock = \"/bin/acl del\"\n",
            &["[command]", "`unblock`", "{ip}"],
        ),
        (
            "[block]\nbackends = [\"command\"]\n[command]\nblock = \"/bin/acl add {ip}\"\n",
            &["[command]", "`unblock`", "required"],
        ),
        (
            "[block]\nbackends = [\"command\"]\n[command]\nblock = \"/bin/acl add {ip}\"\nunblock = \"/bin/acl del {ip}\"\nlist = \"/bin/acl list {ip}\"\n",
            &["[command]", "`list`"],
        ),
        (
            "[block]\nbackends = [\"command\"]\n[command]\nblock = \"  \"\nunblock = \"/bin/acl del {ip}\"\n",
            &["[command]", "`block`", "empty"],
        ),
        (
            "[block]\nbackends = [\"command\"]\n[command]\nblock = \"/bin/acl add {ip}\"\nunblock = \"/bin/acl del {ip}\"\ntimeout_secs = 0\n",
            &["[command]", "timeout_secs"],
        ),
    ];
    for (config, wanted) in cases {
        let root = root_with_database();
        configure(&root, config);
        let out = root.run(&["block", "203.0.113.9"]);
        let err = stderr(&out);
        assert_eq!(out.status.code(), Some(1), "{config}: {err}");
        for word in *wanted {
            assert!(err.contains(word), "{config}: {word:?} not in {err}");
        }
        assert_eq!(root.row_count(), 0, "{config}: nothing was changed");
    }
}
