//! Replays the fuzz seeds (and, when present, the corpus and crash artifacts a local
//! `cargo fuzz run` left) through the same checks the fuzz targets run, so plain `cargo test`
//! guards every input the fuzzers ever kept.

mod support;

use std::path::Path;

use support::checks;

fn inputs(seeds: &str, targets: &[&str]) -> Vec<(String, Vec<u8>)> {
    let fuzz = Path::new(env!("CARGO_MANIFEST_DIR")).join("../fuzz");
    let mut dirs = vec![fuzz.join("seeds").join(seeds)];
    for t in targets {
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
fn tftp_seeds_and_corpus_pass_every_check() {
    let packets = inputs("tftp", &["tftp_parse", "tftp_roundtrip"]);
    assert!(packets.len() >= 40, "fuzz/seeds/tftp is missing: {} inputs", packets.len());
    for (name, data) in &packets {
        let run = std::panic::catch_unwind(|| {
            support::tftp_checks::parse(data);
            support::tftp_checks::roundtrip(data);
        });
        assert!(run.is_ok(), "{name} fails a fuzz check");
    }
    let ops = inputs("tftp_transfer", &["tftp_transfer"]);
    assert!(ops.len() >= 20, "fuzz/seeds/tftp_transfer is missing: {} inputs", ops.len());
    for (name, data) in &ops {
        assert!(std::panic::catch_unwind(|| support::tftp_checks::transfer(data)).is_ok(), "{name} fails");
    }
}

#[test]
fn seeds_and_corpus_pass_every_check() {
    let inputs = inputs("dhcpv4", &["dhcpv4_parse", "dhcpv4_roundtrip", "dhcpv4_differential"]);
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
