//! `cargo fuzz run proxy_header`: see [`sixgate_fuzz::proxy_header::check`].
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| sixgate_fuzz::proxy_header::check(data));
