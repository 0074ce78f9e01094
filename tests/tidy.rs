/*!
Keeps ARCHITECTURE.md honest: the code map is read out of the file and every row's "must not
depend on" is checked against the sources, so the map cannot drift from the code. A module
that starts importing what it must not know about, or a new file that no row describes, fails
this test instead of quietly eroding the layering.

What is read: `use` declarations (grouped ones expanded: `use crate::{a, b::{c}}`), and
`crate::…`, `super::…` and `self::…` paths anywhere in the code, with comments and string
literals blanked first. `super` is resolved from the file's module and the inline modules
around it (`mod tests { use super::*; }` is the file's own module).

Beside the map, the properties ARCHITECTURE.md calls "the only place": one file spawns
programs, one renames and locks files, one reads lines from a reader.
*/

use std::path::{Path, PathBuf};

/// The words of the "must not depend on" column, and what each forbids. A word not here
/// fails the test: say what it means before using it in the map.
fn rule_for(word: &str) -> Option<Rule> {
    Some(match word {
        "—" => Rule::Nothing,
        "store" => Rule::Modules(&["store"]),
        "block" => Rule::Modules(&["block"]),
        "policy" => Rule::Modules(&["policy"]),
        "config" => Rule::Modules(&["config"]),
        "actions" => Rule::Modules(&["actions"]),
        // The command line: its grammar (`cli`) and the commands it runs (`cmd/`).
        "cli" => Rule::Modules(&["cli", "cmd"]),
        "cmd" => Rule::Modules(&["cmd"]),
        "parse" => Rule::Modules(&["logs::parse"]),
        // The SQLite library itself; the store's own types stay usable.
        "SQLite" => Rule::Text(&["rusqlite"]),
        "files" => Rule::Text(&["std::fs", "File::", "std::process"]),
        "clock" => Rule::Text(&["SystemTime", "Instant", "::now()"]),
        _ => return None,
    })
}

#[derive(Debug, Clone)]
enum Rule {
    Nothing,
    /// No path into these modules (or below them).
    Modules(&'static [&'static str]),
    /// None of these strings in the code.
    Text(&'static [&'static str]),
    /// `everything` / `anything else`: no crate-internal path but into these modules.
    AllBut(Vec<String>),
}

/// "Only X does Y": what counts as doing it, and who may, with why.
struct Only {
    what: &'static str,
    patterns: &'static [&'static str],
    allowed: &'static [(&'static str, &'static str)],
}

const ONLY: &[Only] = &[
    Only {
        what: "runs external programs (use exec::run)",
        patterns: &["Command::new", "std::process::Command", "process::Command"],
        allowed: &[("src/exec.rs", "fixed PATH, clean environment, timeouts")],
    },
    Only {
        what: "renames files (use atomic_file::replace or Staged)",
        patterns: &["fs::rename", "rename("],
        allowed: &[("src/atomic_file.rs", "temp + fsync + rename")],
    },
    Only {
        what: "locks files (use atomic_file::FileLock)",
        patterns: &["try_lock", "flock(", "lock_shared("],
        allowed: &[("src/atomic_file.rs", "the one lock, 0600, no links")],
    },
    Only {
        what: "reads lines from a reader (use logs::source::read_line_bounded)",
        patterns: &[
            "read_line(",
            "read_until(",
            "stdin().lines()",
            ".lock().lines()",
        ],
        allowed: &[(
            "src/logs/source.rs",
            "the bounded reader itself: a line is never held past MAX_LINE",
        )],
    },
];

/// `str::lines()` on text already in memory is fine: the files read whole are small and
/// root's (hosts.allow, the deny file, /etc/passwd, a password file) or a program's output
/// captured by `exec` with its own limit. `.lines()` on a reader needs `BufRead` in scope,
/// so a file that imports it may call `.lines()` only if it is listed here.
const BUFREAD_ALLOWED: &[(&str, &str)] = &[("src/logs/source.rs", "the bounded reader itself")];

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// One row of the code map: the paths it covers and its rules.
#[derive(Debug)]
struct Row {
    paths: Vec<String>,
    rules: Vec<Rule>,
    cell: String,
}

fn code_map() -> Vec<Row> {
    let text = std::fs::read_to_string(root().join("ARCHITECTURE.md")).expect("ARCHITECTURE.md");
    let section = text
        .split("\n## Code map")
        .nth(1)
        .expect("ARCHITECTURE.md has a `## Code map` section");
    let section = section.split("\n## ").next().unwrap_or_default();
    let mut rows = Vec::new();
    for line in section.lines().filter(|l| l.starts_with('|')) {
        let cells: Vec<&str> = line.trim().trim_matches('|').split(" | ").collect();
        if cells[0].trim() == "path" || cells[0].starts_with("---") {
            continue;
        }
        assert_eq!(cells.len(), 3, "code map row without three columns: {line}");
        let cell = cells[2].trim().to_string();
        rows.push(Row {
            paths: row_paths(cells[0]),
            rules: rules(&cell).unwrap_or_else(|e| panic!("{e} in code map row: {line}")),
            cell,
        });
    }
    assert!(
        rows.len() > 20,
        "the code map was not found ({} rows)",
        rows.len()
    );
    rows
}

/// `` `src/block/pf.rs`, `ipfw.rs` `` → both paths (names without a directory are in the
/// first one's); a path ending in `/` stands for everything below it.
fn row_paths(cell: &str) -> Vec<String> {
    let mut paths: Vec<String> = Vec::new();
    for item in cell.split(',') {
        let item = item.trim().trim_matches('`');
        let path = match (paths.first(), item.contains('/')) {
            (Some(first), false) => {
                let dir = first.rsplit_once('/').map_or("", |(d, _)| d);
                format!("{dir}/{item}")
            }
            _ => item.to_string(),
        };
        paths.push(path);
    }
    paths
}

fn rules(cell: &str) -> Result<Vec<Rule>, String> {
    // A remark in parentheses explains; it forbids nothing.
    let cell = match cell.split_once(" (") {
        Some((rule, _)) => rule,
        None => cell,
    };
    let mut out = Vec::new();
    for word in cell.split(',').map(str::trim) {
        let all_but = ["everything", "anything else"]
            .iter()
            .find_map(|w| word.strip_prefix(w));
        if let Some(rest) = all_but {
            let allowed = match rest.trim().strip_prefix("but ") {
                Some(list) => (list.split([',', ' ']))
                    .map(|m| m.trim_matches('`').replace('/', "::"))
                    .filter(|m| !m.is_empty() && m != "and")
                    .collect(),
                None if rest.trim().is_empty() => Vec::new(),
                None => return Err(format!("cannot read {word:?}")),
            };
            out.push(Rule::AllBut(allowed));
        } else {
            out.push(rule_for(word).ok_or_else(|| {
                format!("unknown word {word:?} (say what it means in tests/tidy.rs `rule_for`)")
            })?);
        }
    }
    Ok(out)
}

fn src_files() -> Vec<String> {
    fn walk(dir: &Path, out: &mut Vec<PathBuf>) {
        for entry in std::fs::read_dir(dir).expect("list src") {
            let path = entry.expect("dir entry").path();
            if path.is_dir() {
                walk(&path, out);
            } else if path.extension().is_some_and(|e| e == "rs") {
                out.push(path);
            }
        }
    }
    let mut files = Vec::new();
    walk(&root().join("src"), &mut files);
    let mut rel: Vec<String> = (files.iter())
        .map(|p| {
            let p = p.strip_prefix(root()).expect("under the crate");
            p.to_string_lossy().into_owned()
        })
        .collect();
    rel.sort();
    rel
}

fn covers(row_path: &str, file: &str) -> bool {
    match row_path.strip_suffix('/') {
        Some(dir) => file.starts_with(&format!("{dir}/")),
        None => row_path == file,
    }
}

/// The module a source file is: `src/block/pf.rs` → `block::pf`, `src/store/mod.rs` → `store`.
fn module_of(file: &str) -> Vec<String> {
    let rel = file.strip_prefix("src/").expect("a source file");
    let rel = rel.strip_suffix(".rs").expect("a Rust file");
    let mut segments: Vec<String> = rel.split('/').map(String::from).collect();
    if matches!(
        segments.last().map(String::as_str),
        Some("mod" | "lib" | "main")
    ) {
        segments.pop();
    }
    segments
}

#[test]
fn every_source_file_has_a_row_and_every_row_a_file() {
    let rows = code_map();
    let files = src_files();
    for file in &files {
        assert!(
            rows.iter().any(|r| r.paths.iter().any(|p| covers(p, file))),
            "{file} is in no row of ARCHITECTURE.md's code map: add one (what lives there, \
             what it must not depend on)"
        );
    }
    for row in &rows {
        for path in &row.paths {
            assert!(
                root().join(path).exists(),
                "ARCHITECTURE.md's code map names {path}, which does not exist"
            );
            if !path.starts_with("src/") {
                assert!(
                    row.rules.iter().all(|r| matches!(r, Rule::Nothing)),
                    "{path}: only rules for src/ are checked, so say `—` here"
                );
            }
        }
    }
}

#[test]
fn every_row_of_the_code_map_holds() {
    let rows = code_map();
    let mut broken = Vec::new();
    let mut checked = 0;
    for file in src_files() {
        let text = std::fs::read_to_string(root().join(&file)).expect("read source");
        let code = blank_comments_and_literals(&text);
        let module = module_of(&file);
        let paths = crate_paths(&file, &code, &module);
        for row in rows
            .iter()
            .filter(|r| r.paths.iter().any(|p| covers(p, &file)))
        {
            for rule in &row.rules {
                checked += 1;
                broken.extend(violations(&file, &module, &code, &paths, rule, &row.cell));
            }
        }
    }
    assert!(checked > 30, "only {checked} rules checked");
    assert!(
        broken.is_empty(),
        "code map rules broken:\n{}",
        broken.join("\n")
    );
}

fn violations(
    file: &str,
    module: &[String],
    code: &str,
    paths: &[Vec<String>],
    rule: &Rule,
    cell: &str,
) -> Vec<String> {
    let starts = |path: &[String], prefix: &str| {
        let prefix: Vec<&str> = prefix.split("::").collect();
        path.len() >= prefix.len() && path.iter().zip(&prefix).all(|(a, b)| a == b)
    };
    let mut out = Vec::new();
    match rule {
        Rule::Nothing => {}
        Rule::Modules(forbidden) => {
            for path in paths {
                for m in forbidden.iter() {
                    if starts(path, m) && !starts(module, m) {
                        out.push(format!(
                            "{file} must not depend on {m} ({cell}), uses crate::{}",
                            path.join("::")
                        ));
                    }
                }
            }
        }
        Rule::Text(words) => {
            for word in words.iter() {
                if code.contains(word) {
                    out.push(format!("{file} must not use {word} ({cell})"));
                }
            }
        }
        Rule::AllBut(allowed) => {
            for path in paths {
                // A module's own items and children are not dependencies (the crate root has none).
                let inside = !module.is_empty() && path.starts_with(module);
                if !inside && !allowed.iter().any(|a| starts(path, a)) {
                    out.push(format!(
                        "{file} must not depend on {cell}, uses crate::{}",
                        path.join("::")
                    ));
                }
            }
        }
    }
    out
}

#[test]
fn only_one_place_does_each_dangerous_thing() {
    let mut broken = Vec::new();
    for file in src_files() {
        let text = std::fs::read_to_string(root().join(&file)).expect("read source");
        // Test code may stage what it checks (a log rotated by rename, say).
        let code = without_test_modules(&blank_comments_and_literals(&text));
        let uses = use_paths(&code).concat();
        for only in ONLY {
            if only.allowed.iter().any(|(f, _)| *f == file) {
                continue;
            }
            for pattern in only.patterns {
                if code.contains(pattern) || uses.iter().any(|u| u.contains(pattern)) {
                    broken.push(format!("{file} {} (found `{pattern}`)", only.what));
                }
            }
        }
        let bufread = code.contains("BufRead;")
            || code.contains("BufRead,")
            || code.contains("BufRead}")
            || code.contains("io::prelude");
        if bufread && code.contains(".lines()") && !BUFREAD_ALLOWED.iter().any(|(f, _)| *f == file)
        {
            broken.push(format!(
                "{file} calls .lines() with BufRead in scope: read lines through \
                 logs::source::read_line_bounded"
            ));
        }
    }
    assert!(broken.is_empty(), "{}", broken.join("\n"));
}

#[test]
fn main_stays_thin() {
    let text = std::fs::read_to_string(root().join("src/main.rs")).expect("main.rs");
    let code_lines = text
        .lines()
        .filter(|l| !l.trim().is_empty() && !l.trim_start().starts_with("//"))
        .count();
    assert!(
        code_lines <= 10,
        "src/main.rs has {code_lines} code lines; move logic into the library"
    );
}

/// The source with comments, strings and character literals turned into spaces (line
/// breaks kept), so a path in a doc comment or a message is not taken for a dependency.
fn blank_comments_and_literals(text: &str) -> String {
    let c: Vec<char> = text.chars().collect();
    let mut out = c.clone();
    let blank = |out: &mut Vec<char>, from: usize, to: usize| {
        for ch in &mut out[from..to.min(c.len())] {
            if *ch != '\n' {
                *ch = ' ';
            }
        }
    };
    let ident = |ch: char| ch.is_alphanumeric() || ch == '_';
    let mut i = 0;
    while i < c.len() {
        let prev_ident = i > 0 && ident(c[i - 1]);
        if c[i] == '/' && c.get(i + 1) == Some(&'/') {
            let end = (i..c.len()).find(|&j| c[j] == '\n').unwrap_or(c.len());
            blank(&mut out, i, end);
            i = end;
        } else if c[i] == '/' && c.get(i + 1) == Some(&'*') {
            let (mut depth, mut j) = (1, i + 2);
            while j < c.len() && depth > 0 {
                if c[j] == '/' && c.get(j + 1) == Some(&'*') {
                    depth += 1;
                    j += 1;
                } else if c[j] == '*' && c.get(j + 1) == Some(&'/') {
                    depth -= 1;
                    j += 1;
                }
                j += 1;
            }
            blank(&mut out, i, j);
            i = j;
        } else if !prev_ident && (c[i] == 'r' || (c[i] == 'b' && c.get(i + 1) == Some(&'r'))) {
            // A raw string: r"…", r#"…"#, br"…".
            let mut j = i + if c[i] == 'b' { 2 } else { 1 };
            let hashes = (j..c.len()).take_while(|&k| c[k] == '#').count();
            j += hashes;
            if c.get(j) == Some(&'"') && (c[i] != 'r' || c.get(i + 1) != Some(&'b')) {
                let close: String = std::iter::once('"')
                    .chain("#".repeat(hashes).chars())
                    .collect();
                let rest: String = c[j + 1..].iter().collect();
                let end = rest
                    .find(&close)
                    .map_or(c.len(), |k| j + 1 + rest[..k].chars().count() + close.len());
                blank(&mut out, j, end);
                i = end;
            } else {
                i += 1;
            }
        } else if c[i] == '"' {
            let mut j = i + 1;
            while j < c.len() && c[j] != '"' {
                j += if c[j] == '\\' { 2 } else { 1 };
            }
            blank(&mut out, i + 1, j);
            i = j + 1;
        } else if c[i] == '\'' {
            // A character literal ('x', '\n', '\u{1F}'), or a lifetime ('a), left alone.
            if c.get(i + 1) == Some(&'\\') {
                let end = (i + 2..c.len()).find(|&j| c[j] == '\'').unwrap_or(c.len());
                blank(&mut out, i + 1, end);
                i = end + 1;
            } else if c.get(i + 2) == Some(&'\'') {
                blank(&mut out, i + 1, i + 2);
                i += 3;
            } else {
                i += 1;
            }
        } else {
            i += 1;
        }
    }
    out.into_iter().collect()
}

/// The code without `#[cfg(test)] mod … { … }` blocks.
fn without_test_modules(code: &str) -> String {
    let mut out = code.to_string();
    let mut from = 0;
    while let Some(at) = out[from..].find("#[cfg(test)]").map(|k| k + from) {
        let after = at + "#[cfg(test)]".len();
        let rest = out[after..].trim_start();
        if rest.starts_with("mod ") || rest.starts_with("pub mod ") {
            let open = after + out[after..].find('{').expect("a module body");
            let end = matching_brace(&out, open);
            out.replace_range(at..end, &" ".repeat(end - at));
        }
        from = after;
    }
    out
}

/// The byte offset just past the brace that closes the one at `open`.
fn matching_brace(code: &str, open: usize) -> usize {
    let mut depth = 0;
    for (k, b) in code.bytes().enumerate().skip(open) {
        match b {
            b'{' => depth += 1,
            b'}' => {
                depth -= 1;
                if depth == 0 {
                    return k + 1;
                }
            }
            _ => {}
        }
    }
    code.len()
}

/// Every crate-internal path the file names, resolved to segments from the crate root.
fn crate_paths(file: &str, code: &str, module: &[String]) -> Vec<Vec<String>> {
    // Inline modules (`mod tests { … }`): their spans and names, so `super` resolves.
    let mut inline: Vec<(usize, usize, String)> = Vec::new();
    for (at, _) in code.match_indices("mod ") {
        if at > 0 && code.as_bytes()[at - 1].is_ascii_alphanumeric() {
            continue;
        }
        let rest = &code[at + 4..];
        let name: String = rest
            .chars()
            .take_while(|c| c.is_alphanumeric() || *c == '_')
            .collect();
        let after = rest[name.len()..].trim_start();
        if !name.is_empty() && after.starts_with('{') {
            let open = at + 4 + rest.len() - after.len();
            inline.push((open, matching_brace(code, open), name));
        }
    }
    let module_at = |offset: usize| {
        let mut m = module.to_vec();
        m.extend(
            (inline.iter().filter(|(s, e, _)| *s < offset && offset < *e))
                .map(|(_, _, n)| n.clone()),
        );
        m
    };
    let mut raw: Vec<(usize, Vec<String>)> = Vec::new();
    for (at, paths) in use_statements(code) {
        raw.extend(paths.into_iter().map(|p| (at, p)));
    }
    // Paths in the body: `crate::x::y`, `super::x`, `self::x` (in main.rs, `sentry::x`).
    let heads: &[&str] = if file == "src/main.rs" {
        &["crate::", "super::", "self::", "sentry::"]
    } else {
        &["crate::", "super::", "self::"]
    };
    for head in heads {
        for (at, _) in code.match_indices(head) {
            let before = code[..at].chars().next_back();
            if before.is_some_and(|c| c.is_alphanumeric() || c == '_' || c == ':') {
                continue;
            }
            let chain: String = code[at..]
                .chars()
                .take_while(|c| c.is_alphanumeric() || *c == '_' || *c == ':')
                .collect();
            raw.push((
                at,
                chain
                    .split("::")
                    .filter(|s| !s.is_empty())
                    .map(String::from)
                    .collect(),
            ));
        }
    }
    let mut out = Vec::new();
    for (at, path) in raw {
        let mut here = module_at(at);
        let mut segments = path.into_iter().peekable();
        match segments.peek().map(String::as_str) {
            Some("crate") | Some("sentry") => {
                segments.next();
                here.clear();
            }
            Some("super") => {
                while segments.peek().map(String::as_str) == Some("super") {
                    segments.next();
                    here.pop();
                }
            }
            Some("self") => {
                segments.next();
            }
            _ => continue, // std, another crate, or a name in scope
        }
        here.extend(segments.filter(|s| s != "self" && s != "*"));
        if !here.is_empty() {
            out.push(here);
        }
    }
    out.sort();
    out.dedup();
    out
}

/// Each `use` declaration's offset and the paths it names, groups expanded.
fn use_statements(code: &str) -> Vec<(usize, Vec<Vec<String>>)> {
    let mut out = Vec::new();
    for (at, _) in code.match_indices("use ") {
        let before = code[..at].chars().next_back();
        if before.is_some_and(|c| c.is_alphanumeric() || c == '_') {
            continue;
        }
        let Some(end) = code[at..].find(';') else {
            continue;
        };
        let tree = &code[at + 4..at + end];
        out.push((at, expand(tree)));
    }
    out
}

fn use_paths(code: &str) -> Vec<Vec<String>> {
    (use_statements(code).into_iter())
        .flat_map(|(_, paths)| paths)
        .map(|p| vec![p.join("::")])
        .collect()
}

/// `a::{b, c::{d, self}}` → `a::b`, `a::c::d`, `a::c`; `x as y` → `x`.
fn expand(tree: &str) -> Vec<Vec<String>> {
    let mut tokens = Vec::new();
    let mut word = String::new();
    for c in tree.chars() {
        if c.is_alphanumeric() || c == '_' || c == '*' {
            word.push(c);
            continue;
        }
        if !word.is_empty() {
            tokens.push(std::mem::take(&mut word));
        }
        if matches!(c, '{' | '}' | ',') {
            tokens.push(c.to_string());
        }
    }
    tokens.extend((!word.is_empty()).then_some(word));
    fn branch(tokens: &[String], i: &mut usize, prefix: &[String], out: &mut Vec<Vec<String>>) {
        let mut path = prefix.to_vec();
        while let Some(token) = tokens.get(*i) {
            match token.as_str() {
                "," | "}" => break,
                "{" => {
                    *i += 1;
                    while *i < tokens.len() {
                        branch(tokens, i, &path, out);
                        let close = tokens.get(*i).is_none_or(|t| t == "}");
                        *i += 1;
                        if close {
                            break;
                        }
                    }
                    return;
                }
                "as" => *i += 1, // and the new name below
                "self" => {}
                _ => path.push(token.clone()),
            }
            *i += 1;
        }
        if !path.is_empty() {
            out.push(path);
        }
    }
    let mut out = Vec::new();
    branch(&tokens, &mut 0, &[], &mut out);
    out
}

#[test]
fn grouped_use_declarations_are_expanded() {
    let join = |v: Vec<Vec<String>>| v.into_iter().map(|p| p.join("::")).collect::<Vec<_>>();
    assert_eq!(
        join(expand("crate::{a, b::{c, self}, d as e}")),
        ["crate::a", "crate::b::c", "crate::b", "crate::d"]
    );
    let code = blank_comments_and_literals(
        "//! crate::store\nuse crate::{ip, logs::{parse::X}};\nfn f() { let s = \"crate::block\"; \
         crate::policy::decide(); }\nmod tests { use super::*; }\n",
    );
    let found: Vec<String> = crate_paths(
        "src/logs/header.rs",
        &code,
        &module_of("src/logs/header.rs"),
    )
    .into_iter()
    .map(|p| p.join("::"))
    .collect();
    assert_eq!(
        found,
        ["ip", "logs::header", "logs::parse::X", "policy::decide"]
    );
}
