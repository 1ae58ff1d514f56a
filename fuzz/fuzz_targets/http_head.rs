//! The master's HTTP request head parser and router on any octets: no panic; a parsed head ends
//! inside the input; a refusal carries a 4xx or 5xx status.
#![no_main]

use agent::serve::http::{parse_head, route};

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    match parse_head(data) {
        Ok(Some(r)) => {
            assert!(r.head_len <= data.len());
            if let Err(rej) = route(&r) {
                assert!((400..600).contains(&rej.status), "{rej:?}");
            }
            let _ = agent::serve::http::query_param(&r.query, "mac");
        }
        Ok(None) => assert!(data.len() <= agent::serve::http::MAX_HEAD),
        Err(rej) => assert!((400..600).contains(&rej.status), "{rej:?}"),
    }
});
