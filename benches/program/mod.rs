//! The program the benches measure.

/// bench/run's release build (`packaging/build-release`, linked statically as the package
/// is) in `SENTRY_BENCH_BIN`, else the one cargo built here.
pub static SENTRY: std::sync::LazyLock<String> = std::sync::LazyLock::new(|| {
    std::env::var("SENTRY_BENCH_BIN").unwrap_or_else(|_| env!("CARGO_BIN_EXE_sentry").into())
});
