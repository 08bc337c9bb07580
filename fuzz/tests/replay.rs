//! Replays every checked-in corpus file through its fuzz target's check, so
//! `cargo test` catches a regression on a known input without libFuzzer or
//! a nightly toolchain.

use std::fs;
use std::path::{Path, PathBuf};

/// Every file in `corpus/<target>/`, sorted; fails if there are none.
fn corpus(target: &str) -> Vec<PathBuf> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("corpus")
        .join(target);
    let mut files: Vec<PathBuf> = fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("reading {}: {e}", dir.display()))
        .map(|entry| entry.expect("a directory entry").path())
        .filter(|path| path.is_file())
        .collect();
    files.sort();
    assert!(!files.is_empty(), "{} holds no corpus files", dir.display());
    files
}

/// Runs `check` on every corpus file of `target`, naming the file that fails.
fn replay(target: &str, check: fn(&[u8])) {
    for path in corpus(target) {
        let data = fs::read(&path).unwrap_or_else(|e| panic!("reading {}: {e}", path.display()));
        let outcome = std::panic::catch_unwind(|| check(&data));
        assert!(
            outcome.is_ok(),
            "{target}: {} fails its check",
            path.display()
        );
    }
}

#[test]
fn client_hello() {
    replay("client_hello", sixgate_fuzz::client_hello::check);
}

#[test]
fn dns64_response() {
    replay("dns64_response", sixgate_fuzz::dns64_response::check);
}

#[test]
fn http_head() {
    replay("http_head", sixgate_fuzz::http_head::check);
}

#[test]
fn proxy_header() {
    replay("proxy_header", sixgate_fuzz::proxy_header::check);
}

#[test]
fn xlat_6to4() {
    replay("xlat_6to4", sixgate_fuzz::xlat_6to4::check);
}

#[test]
fn xlat_4to6() {
    replay("xlat_4to6", sixgate_fuzz::xlat_4to6::check);
}

#[test]
fn nat64_sequence() {
    replay("nat64_sequence", sixgate_fuzz::nat64_sequence::check);
}
