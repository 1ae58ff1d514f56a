//! `cargo run -p recon-tests --bin rack [N]`: builds the boot image, runs the virtual rack with N
//! VMs (default 4, two at a time), prints the fleet table, and exits non-zero unless every VM's
//! stored inventory matches its hardware. `scripts/rack` runs this after the set-up.
//! `RECON_RACK_APPEND="..."`: more kernel arguments for every VM (to try one, e.g. the seed's
//! `rd.live.overlay.persistent rd.live.overlay.cowfs=ext4`).

use std::path::Path;
use std::time::Duration;

use recon_tests::rack::{RackOpts, build_boot, default_vms, run_rack};

fn main() {
    recon_tests::require_root();
    let n: usize = std::env::args().nth(1).and_then(|a| a.parse().ok()).unwrap_or(4);
    let target = Path::new(env!("CARGO_MANIFEST_DIR")).join("../target/rack");
    let boot = target.join("boot");
    eprintln!("[rack] building the boot image (kernel, dracut initrd with the agent, live ISO, iPXE)");
    build_boot(&boot);
    let dir = recon_tests::scratch_dir("rack");
    let opts = RackOpts {
        boot,
        dir: dir.clone(),
        parallel: 2,
        timeout: Duration::from_secs(600),
        progress: true,
        foreign_dhcp: false,
        append: std::env::var("RECON_RACK_APPEND").unwrap_or_default(),
    };
    let report = run_rack(&default_vms(n), &opts);
    println!("{}", report.table());
    println!("logs and the master's data: {}", dir.display());
    if !report.ok() {
        eprintln!("rack: FAILED");
        std::process::exit(1);
    }
}
