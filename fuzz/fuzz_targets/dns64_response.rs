//! `cargo fuzz run dns64_response`: see [`sixgate_fuzz::dns64_response::check`].
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| sixgate_fuzz::dns64_response::check(data));
