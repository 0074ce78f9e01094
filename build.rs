//! Lays out the code that every `--connect` runs in one place of the release binary.
//!
//! The kernel maps a program's code into a process 64 KiB around each first touch, so a
//! connect whose ~900 functions lie scattered through 6 MB of text holds most of the text
//! resident: 7.0 MiB peak RSS for a connect without this layout, 3.5–3.9 MiB with it.
//! `packaging/connect.ld` (written by `packaging/gen-connect-layout`) puts those functions
//! first and side by side; a function it no longer matches only costs memory, never
//! correctness. Relative relocations are packed too (DT_RELR) when the C library here can
//! load them (glibc 2.36+): the loader then reads 2 KB instead of 160 KB.
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
    if glibc_loads_relr() {
        println!("cargo:rustc-link-arg-bins=-Wl,-z,pack-relative-relocs");
    }
}

/// Whether this system's glibc defines `GLIBC_ABI_DT_RELR` (2.36 and later). A binary with
/// packed relocations needs it at run time, and lld adds the need whatever the C library
/// it links against: on an older system the program would not start.
fn glibc_loads_relr() -> bool {
    let arch = env::var("CARGO_CFG_TARGET_ARCH").unwrap_or_default();
    let candidates = [
        format!("/lib/{arch}-linux-gnu/libc.so.6"),
        format!("/usr/lib/{arch}-linux-gnu/libc.so.6"),
        "/lib64/libc.so.6".to_string(),
        "/usr/lib64/libc.so.6".to_string(),
        "/usr/lib/libc.so.6".to_string(),
    ];
    let needle = b"GLIBC_ABI_DT_RELR";
    candidates
        .iter()
        .find_map(|path| std::fs::read(path).ok())
        .is_some_and(|libc| libc.windows(needle.len()).any(|w| w == needle))
}
