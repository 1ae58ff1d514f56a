//! The agent's HTTP response parser on any octets: no panic; an accepted body lies within them.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    if let Ok((status, body)) = agent::serve::http::client::parse_response(data) {
        assert!((100..600).contains(&status));
        assert!(body.len() <= data.len());
    }
});
