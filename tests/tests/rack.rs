//! The virtual rack end to end: QEMU VMs (BIOS and UEFI, both peer paths, with and without a
//! BMC) PXE-boot from `recon serve` and upload their inventories; the master's store must hold
//! each VM's exact hardware. Once with recon as the segment's only DHCP server, once beside a
//! foreign dnsmasq, where recon must hand out no address and boot the VMs by proxy.

use std::path::PathBuf;
use std::sync::{Mutex, OnceLock};
use std::time::Duration;

use recon_tests::rack::{RackOpts, build_boot, default_vms, run_rack};
use recon_tests::{require_root, scratch_dir};

/// The boot image, built once; and one rack at a time (two cores, two VMs at once).
fn boot() -> (PathBuf, std::sync::MutexGuard<'static, ()>) {
    static ONE_AT_A_TIME: Mutex<()> = Mutex::new(());
    static BUILT: OnceLock<PathBuf> = OnceLock::new();
    let guard = ONE_AT_A_TIME.lock().unwrap_or_else(|e| e.into_inner());
    let boot = BUILT.get_or_init(|| {
        let boot = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../target/rack/boot");
        build_boot(&boot);
        boot
    });
    (boot.clone(), guard)
}

fn opts(boot: PathBuf, name: &str, foreign_dhcp: bool) -> RackOpts {
    RackOpts {
        boot,
        dir: scratch_dir(name),
        parallel: 2,
        timeout: Duration::from_secs(600),
        progress: true,
        foreign_dhcp,
        append: String::new(),
    }
}

#[test]
fn four_vms_boot_inventory_and_upload() {
    require_root();
    let (boot, _one) = boot();
    let report = run_rack(&default_vms(4), &opts(boot, "rack-test", false));
    eprintln!("{}", report.table());
    assert!(report.ok(), "{}", report.table());
}

/// A BIOS VM (iPXE ROM, e1000) and a UEFI VM (OVMF, virtio): their addresses come from dnsmasq,
/// their boot from recon's proxyDHCP.
#[test]
fn beside_a_foreign_dhcp_server_recon_boots_by_proxy() {
    require_root();
    let (boot, _one) = boot();
    let report = run_rack(&default_vms(2), &opts(boot, "rack-proxy", true));
    eprintln!("{}", report.table());
    assert!(report.ok(), "{}", report.table());
}
