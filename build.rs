//! Lays out the code that every `--connect` runs in one place of the release binary.
//!
//! The kernel maps a program's code into a process 64 KiB around each first touch, so a
//! connect whose ~900 functions lie scattered through 6 MB of text holds most of the text
//! resident: 7.0 MiB peak RSS for a connect without this layout, 4.1 MiB with it.
//! `packaging/connect.ld` (written by `packaging/gen-connect-layout`) puts those functions
//! first and side by side; a function it no longer matches only costs memory, never
//! correctness. Relative relocations are packed too (DT_RELR, glibc 2.36+; the linker leaves
//! them unpacked for an older glibc): the loader then reads 2 KB instead of 160 KB.
//! `SENTRY_CONNECT_LAYOUT=0` links without either, for a linker without `INSERT` (gold).

use std::env;
use std::path::Path;

fn main() {
    println!("cargo:rerun-if-changed=packaging/connect.ld");
    println!("cargo:rerun-if-env-changed=SENTRY_CONNECT_LAYOUT");
    let wanted = env::var("SENTRY_CONNECT_LAYOUT").map_or(true, |v| v != "0");
    let release = env::var("PROFILE").is_ok_and(|p| p == "release");
    let linux_gnu = env::var("CARGO_CFG_TARGET_OS").is_ok_and(|os| os == "linux")
        && env::var("CARGO_CFG_TARGET_ENV").is_ok_and(|e| e == "gnu");
    if !(wanted && release && linux_gnu) {
        return;
    }
    let manifest = env::var("CARGO_MANIFEST_DIR").unwrap_or_default();
    let layout = Path::new(&manifest).join("packaging/connect.ld");
    if !layout.is_file() {
        // A source tree without packaging/ (a trimmed crate): the default layout.
        return;
    }
    println!("cargo:rustc-link-arg-bins=-Wl,-T,{}", layout.display());
    println!("cargo:rustc-link-arg-bins=-Wl,-z,pack-relative-relocs");
}
