//! Fuzz target: the `parse` check of netboot-proto's TFTP codec and sender (see the shared body
//! in netboot-proto/tests/support/tftp_checks.rs, which the test suite also runs).
#![no_main]

#[allow(dead_code)]
#[path = "../../netboot-proto/tests/support/tftp_checks.rs"]
mod tftp_checks;

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    tftp_checks::parse(data);
});
