//! `stick [N] --image STICK.raw`: the whole story on the real image (tests/src/stick.rs): the
//! stick boots from USB and serves, N peers (default 3) and a second stick boot from it, the
//! master is powered down, and RECONDATA is checked from the host. Prints the timeline and the
//! check; exits non-zero unless everything held. `scripts/stick` builds the image and runs this.

use std::path::PathBuf;
use std::time::Duration;

use recon_tests::stick::{StickOpts, run_stick};

const USAGE: &str = "usage: stick [PEERS] --image STICK.raw [--no-second-stick] [--parallel N] [--timeout SECS]";

fn main() {
    recon_tests::require_root();
    let mut peers = 3usize;
    let mut image = None;
    let mut second = true;
    let mut parallel = 2usize;
    let mut timeout = 900u64;
    let mut args = std::env::args().skip(1);
    while let Some(a) = args.next() {
        let mut value = |what: &str| args.next().unwrap_or_else(|| fail(&format!("{a} needs {what}")));
        match a.as_str() {
            "-h" | "--help" => {
                println!("{USAGE}");
                return;
            }
            "--image" => image = Some(PathBuf::from(value("a file"))),
            "--no-second-stick" => second = false,
            "--parallel" => parallel = value("a number").parse().unwrap_or_else(|_| fail("--parallel: a number")),
            "--timeout" => timeout = value("seconds").parse().unwrap_or_else(|_| fail("--timeout: seconds")),
            n => peers = n.parse().unwrap_or_else(|_| fail(&format!("{n:?}: not a number of peers"))),
        }
    }
    let image = image.unwrap_or_else(|| fail("--image STICK.raw is required"));
    if !image.is_file() {
        fail(&format!("{}: no such stick image (kiwi/make-recipe-target debian-12 virtual)", image.display()));
    }
    let dir = recon_tests::scratch_dir("stick");
    let opts = StickOpts {
        image,
        dir: dir.clone(),
        peers,
        second_stick: second,
        parallel: parallel.max(1),
        timeout: Duration::from_secs(timeout),
    };
    let report = run_stick(&opts);
    println!("{}", report.text());
    println!("serial logs and what RECONDATA held: {}", dir.display());
    if !report.ok() {
        eprintln!("stick: FAILED");
        std::process::exit(1);
    }
}

fn fail(msg: &str) -> ! {
    eprintln!("stick: {msg}\n{USAGE}");
    std::process::exit(2);
}
