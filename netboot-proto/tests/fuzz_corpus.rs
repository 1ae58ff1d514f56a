//! Replays the fuzz seeds (and, when present, the corpus and crash artifacts a local
//! `cargo fuzz run` left) through the same checks the fuzz targets run, so plain `cargo test`
//! guards every input the fuzzers ever kept.

mod support;

use std::path::Path;

use support::checks;

fn inputs() -> Vec<(String, Vec<u8>)> {
    let fuzz = Path::new(env!("CARGO_MANIFEST_DIR")).join("../fuzz");
    let mut dirs = vec![fuzz.join("seeds/dhcpv4")];
    for t in ["dhcpv4_parse", "dhcpv4_roundtrip", "dhcpv4_differential"] {
        dirs.push(fuzz.join("corpus").join(t));
        dirs.push(fuzz.join("artifacts").join(t));
    }
    let mut out = Vec::new();
    for dir in dirs {
        let Ok(entries) = std::fs::read_dir(&dir) else { continue };
        for e in entries {
            let p = e.unwrap().path();
            if p.is_file() {
                out.push((p.display().to_string(), std::fs::read(&p).unwrap()));
            }
        }
    }
    out
}

#[test]
fn seeds_and_corpus_pass_every_check() {
    let inputs = inputs();
    // The committed seeds alone: every DHCP datagram of the fixture captures.
    assert!(inputs.len() >= 120, "fuzz/seeds/dhcpv4 is missing: {} inputs", inputs.len());
    for (name, data) in &inputs {
        let run = std::panic::catch_unwind(|| {
            checks::parse(data);
            checks::roundtrip(data);
            checks::differential(data);
        });
        assert!(run.is_ok(), "{name} fails a fuzz check");
    }
}
