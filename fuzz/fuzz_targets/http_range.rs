//! Range (RFC 9110, section 14) against any representation length: a partial answer always lies
//! inside the representation, first <= last.
#![no_main]

use agent::serve::http::{RangeAnswer, parse_range};

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    let Some((len, rest)) = data.split_first_chunk::<8>() else { return };
    let len = u64::from_le_bytes(*len) >> (len[0] % 64);
    let value = String::from_utf8_lossy(rest);
    if let RangeAnswer::Partial { first, last } = parse_range(&value, len) {
        assert!(first <= last && last < len, "{first}-{last} of {len} for {value:?}");
    }
});
