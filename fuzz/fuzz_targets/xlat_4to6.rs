//! `cargo fuzz run xlat_4to6`: see [`sixgate_fuzz::xlat_4to6::check`].
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| sixgate_fuzz::xlat_4to6::check(data));
