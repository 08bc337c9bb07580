//! `cargo fuzz run xlat_6to4`: see [`sixgate_fuzz::xlat_6to4::check`].
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| sixgate_fuzz::xlat_6to4::check(data));
