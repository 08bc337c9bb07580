//! `cargo fuzz run http_head`: see [`sixgate_fuzz::http_head::check`].
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| sixgate_fuzz::http_head::check(data));
