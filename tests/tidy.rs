//! Keeps ARCHITECTURE.md's dependency rules honest: a module that starts importing what
//! it must not know about fails this test instead of quietly eroding the layering.

use std::path::Path;

fn source(rel: &str) -> String {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join(rel);
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("read {}: {e}", path.display()))
}

fn rust_files(dir: &str) -> Vec<(String, String)> {
    let base = Path::new(env!("CARGO_MANIFEST_DIR")).join(dir);
    let mut out = Vec::new();
    for entry in std::fs::read_dir(&base).expect("list source dir") {
        let path = entry.expect("dir entry").path();
        if path.extension().is_some_and(|e| e == "rs") {
            let rel = format!(
                "{dir}/{}",
                path.file_name().expect("name").to_string_lossy()
            );
            out.push((rel.clone(), source(&rel)));
        }
    }
    assert!(!out.is_empty(), "no sources under {dir}");
    out
}

fn assert_no_use(file: &str, text: &str, forbidden: &[&str]) {
    for module in forbidden {
        for pattern in [format!("crate::{module}"), format!("super::{module}")] {
            assert!(
                !text.contains(&pattern),
                "{file} must not depend on `{module}` (found `{pattern}`)"
            );
        }
    }
}

#[test]
fn policy_is_pure() {
    let text = source("src/policy.rs");
    assert_no_use(
        "src/policy.rs",
        &text,
        &["store", "block", "config", "actions", "atomic_file"],
    );
    for io in ["std::fs", "std::process", "SystemTime", "rusqlite"] {
        assert!(!text.contains(io), "policy must not use {io}");
    }
}

#[test]
fn backends_know_nothing_of_the_database_or_policy() {
    for (file, text) in rust_files("src/block") {
        assert_no_use(&file, &text, &["store", "policy", "actions"]);
        assert!(!text.contains("rusqlite"), "{file} must not use SQLite");
    }
}

#[test]
fn the_store_knows_nothing_of_backends_or_policy() {
    for (file, text) in rust_files("src/store") {
        assert_no_use(&file, &text, &["block", "policy", "actions"]);
    }
}

#[test]
fn only_atomic_file_replaces_files() {
    for dir in ["src", "src/store", "src/block"] {
        for (file, text) in rust_files(dir) {
            if file != "src/atomic_file.rs" {
                assert!(
                    !text.contains("fs::rename"),
                    "{file} renames files: use atomic_file::replace"
                );
                assert!(
                    !text.contains("try_lock"),
                    "{file} locks files: use atomic_file::FileLock"
                );
            }
        }
    }
}

#[test]
fn main_stays_thin() {
    let text = source("src/main.rs");
    let code_lines = text
        .lines()
        .filter(|l| !l.trim().is_empty() && !l.trim_start().starts_with("//"))
        .count();
    assert!(
        code_lines <= 10,
        "src/main.rs has {code_lines} code lines; move logic into the library"
    );
}
