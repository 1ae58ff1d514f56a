//! The virtual rack end to end: four QEMU VMs (BIOS and UEFI, both peer paths, with and without
//! a BMC) PXE-boot from `recon serve` and upload their inventories; the master's store must hold
//! each VM's exact hardware.

use std::time::Duration;

use recon_tests::rack::{RackOpts, build_boot, default_vms, run_rack};
use recon_tests::{require_root, scratch_dir};

#[test]
fn four_vms_boot_inventory_and_upload() {
    require_root();
    let boot = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../target/rack/boot");
    build_boot(&boot);
    let opts = RackOpts {
        boot,
        dir: scratch_dir("rack-test"),
        parallel: 2,
        timeout: Duration::from_secs(600),
        progress: true,
    };
    let report = run_rack(&default_vms(4), &opts);
    eprintln!("{}", report.table());
    assert!(report.ok(), "{}", report.table());
}
