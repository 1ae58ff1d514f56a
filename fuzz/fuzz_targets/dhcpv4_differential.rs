//! Fuzz target: the `differential` check of netboot-proto's DHCPv4 codec (see the shared body in
//! netboot-proto/tests/support/checks.rs, which the test suite also runs on the corpus).
#![no_main]

#[allow(dead_code)]
#[path = "../../netboot-proto/tests/support/checks.rs"]
mod checks;

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    let _ = checks::differential(data);
});
