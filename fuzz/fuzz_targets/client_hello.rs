//! `cargo fuzz run client_hello`: see [`sixgate_fuzz::client_hello::check`].
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| sixgate_fuzz::client_hello::check(data));
