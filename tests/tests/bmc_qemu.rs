//! recon's BMC collector and live ioctls against a BMC no one here wrote: QEMU's `ipmi-bmc-sim`
//! behind an ISA KCS interface, in a TCG guest with no network backend at all (`-nic none`, and
//! one e1000 with no peer so the ethtool ioctls have a real driver to ask).
//!
//! The guest is a Debian kernel and a busybox initramfs built here; its `/init` loads the IPMI and
//! e1000 modules, then runs `inventory/examples/bmc_probe` (statically linked), `ipmitool` and
//! `ethtool` and prints their output on the serial console. Three sources are compared: the
//! values the simulator is configured with on QEMU's command line, what ipmitool and ethtool
//! decode, and what recon decodes.
//!
//! Needs (and fails, naming the package, without them): qemu-system-x86 (qemu-system-x86_64),
//! busybox-static, ipmitool, ethtool, kmod (modprobe, depmod), cpio, and the kernel
//! scripts/setup unpacked (`recon_tests::kernel_root`). The probe is built by a nested
//! `cargo build` into `target/e2e-cache/static`.

use std::collections::BTreeMap;
use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use recon_tests::{program, run, scratch_dir};

/// What the simulator is told to be (`qemu-system-x86_64 -device ipmi-bmc-sim,help` lists the
/// properties of QEMU 10.0). Not `device_id` or `ipmi_version`: the simulator's realize function
/// sets them to 20h and 02h after the properties are applied (hw/ipmi/ipmi_bmc_sim.c,
/// `ipmi_sim_realize`), so `device_id=0x42` is answered as 32; the test expects those two values.
const DEVICE_ID: u8 = 0x20;
const FWREV1: u8 = 3;
const FWREV2: u8 = 0x17;
/// Supermicro's IANA enterprise number, so the value is a realistic one.
const MFG_ID: u32 = 10876;
const PRODUCT_ID: u16 = 0x1b2c;
const GUID: &str = "5e6f7a8b-1c2d-4e3f-8a9b-0c1d2e3f4a5b";
const NIC_MAC: &str = "52:54:00:b3:c0:01";

/// Modules the guest loads, in this order, with their dependencies.
const MODULES: [&str; 4] = ["ipmi_msghandler", "ipmi_devintf", "ipmi_si", "e1000"];

/// How long the guest may take, boot to power-off, under TCG (it takes about 13 s).
const GUEST_LIMIT: Duration = Duration::from_secs(120);

#[test]
fn bmc_in_a_qemu_guest_agrees_with_its_configuration_and_ipmitool() {
    // A runtime failure, not a compile-time one: elsewhere the rest of the test crate still builds.
    if !cfg!(target_arch = "x86_64") {
        panic!("this test boots an x86_64 guest with an x86_64 probe");
    }
    let qemu = program("qemu-system-x86_64", "qemu-system-x86");
    let dir = scratch_dir("bmc-qemu");
    let kernel = Kernel::get();
    let probe = build_probe();
    let initrd = build_initrd(&dir, &kernel, &probe);

    let serial = dir.join("serial.log");
    let bmc = format!(
        "ipmi-bmc-sim,id=bmc0,fwrev1={FWREV1},fwrev2={FWREV2:#x},mfg_id={MFG_ID},\
         product_id={PRODUCT_ID:#x},guid={GUID}"
    );
    let mut cmd = Command::new(qemu);
    cmd.args(["-accel", "tcg", "-machine", "pc", "-m", "512", "-smp", "1"])
        .args(["-nodefaults", "-display", "none", "-no-reboot", "-nic", "none"])
        .arg("-serial")
        .arg(format!("file:{}", serial.display()))
        .arg("-kernel")
        .arg(&kernel.vmlinuz)
        .arg("-initrd")
        .arg(&initrd)
        .args(["-append", "console=ttyS0 loglevel=3 panic=-1"])
        .args(["-device", &bmc, "-device", "isa-ipmi-kcs,bmc=bmc0"])
        .args(["-device", &format!("e1000,mac={NIC_MAC}")]);
    eprintln!("bmc_qemu: {cmd:?}");
    let log = fs::File::create(dir.join("qemu.log")).expect("qemu log");
    let child = cmd
        .stdin(Stdio::null())
        .stdout(log.try_clone().expect("qemu log"))
        .stderr(log)
        .spawn()
        .expect("start qemu-system-x86_64");
    let mut guest = Guest(child);
    let start = Instant::now();
    let status = guest.wait(GUEST_LIMIT);
    let console = fs::read_to_string(&serial).unwrap_or_default().replace('\r', "");
    eprintln!("bmc_qemu: guest ran {:.1} s, {status:?}\n{console}", start.elapsed().as_secs_f64());
    assert!(status.is_some(), "the guest did not power off within {GUEST_LIMIT:?}; serial log above");
    assert!(console.contains("GUEST: end"), "the guest did not finish its script; serial log above");

    let probe = keyed(&console, "PROBE: ", '=');
    let mc = keyed(&console, "MCINFO: ", ':');
    let p = |k: &str| probe.get(k).map(String::as_str).unwrap_or_else(|| panic!("probe printed no {k}"));
    let m = |k: &str| mc.get(k).map(String::as_str).unwrap_or_else(|| panic!("ipmitool mc info printed no {k}"));

    // Presence and the interface, from the device node and QEMU's SMBIOS type 38.
    assert_eq!(p("present"), "true");
    assert_eq!(p("device"), "/dev/ipmi0");
    assert_eq!(p("interface"), "KCS");

    // Get Device ID: QEMU's configuration, ipmitool's decode and recon's, side by side.
    assert_eq!(p("device_id"), DEVICE_ID.to_string());
    assert_eq!(m("Device ID"), p("device_id"));
    assert_eq!(p("firmware"), format!("{FWREV1}.{FWREV2:02x}"));
    assert_eq!(m("Firmware Revision"), p("firmware"));
    // The simulator's default ipmi_version property, 02h: "2.0" with the major digit low.
    assert_eq!(p("ipmi_version"), "2.0");
    assert_eq!(m("IPMI Version"), p("ipmi_version"));
    assert_eq!(p("manufacturer_id"), MFG_ID.to_string());
    assert_eq!(m("Manufacturer ID"), p("manufacturer_id"));
    assert_eq!(p("product_id"), PRODUCT_ID.to_string());
    assert_eq!(m("Product ID"), format!("{PRODUCT_ID} ({PRODUCT_ID:#06x})"));

    // Get System GUID is not implemented by the simulator (it registers Get Device GUID, 08h,
    // but not 37h): recon records the C1h and leaves the field empty; ipmitool's `mc guid` fails
    // with "Invalid command" too.
    assert_eq!(p("system_guid"), "-");
    let mc_guid = lines(&console, "MCGUID: ");
    assert!(!mc_guid.iter().any(|l| l.contains("System GUID")), "ipmitool mc guid: {mc_guid:?}");
    assert!(mc_guid.iter().any(|l| l.contains("Invalid command")), "ipmitool mc guid: {mc_guid:?}");
    let mut expected = vec!["ipmi:Get System GUID: completion code 0xc1 (invalid command)"];
    // No LAN channel. QEMU 10.0's simulator does not implement Get Channel Info either (C1h,
    // which ends recon's channel scan with one problem); later upstream versions answer it, with
    // CCh for channels 1-11, which recon takes as "no such channel", not a problem. Which of the
    // two this QEMU does is what ipmitool's `lan print 1` reports.
    assert_eq!(p("lan_channels"), "0");
    let lan_print = lines(&console, "LANPRINT: ").join("\n");
    if lan_print.contains("Get Channel Info command failed: Invalid command") {
        expected.push("ipmi:Get Channel Info: channel 1: completion code 0xc1 (invalid command)");
    } else {
        assert!(lan_print.contains("is not a LAN channel"), "ipmitool lan print 1: {lan_print}");
    }
    let problems = lines(&console, "PROBE: problem=");
    assert_eq!(problems, expected);

    // Get Device GUID through recon's ioctls: the simulator sends its guid= property in the
    // order the text is written (RFC 4122), after a zero completion code; ipmitool's raw request
    // gets the same octets.
    let guid_octets = GUID.replace('-', "");
    assert_eq!(p("device_guid_reply"), format!("00{guid_octets}"));
    let raw = lines(&console, "RAWGUID: ").concat().split_whitespace().collect::<String>();
    assert_eq!(raw, guid_octets, "ipmitool raw 0x06 0x08");

    // The NIC: ETHTOOL_GPERMADDR and ETHTOOL_GDRVINFO against ethtool -P and -i.
    let nic = lines(&console, "GUEST: nic=").concat();
    assert!(!nic.is_empty(), "the guest found no network interface");
    let ethtool_i = keyed(&console, "ETHTOOLI: ", ':');
    let e = |k: &str| ethtool_i.get(k).map(String::as_str).unwrap_or_else(|| panic!("ethtool -i printed no {k}"));
    let pk = |k: &str| p(&format!("nic.{nic}.{k}")).to_owned();
    assert_eq!(pk("permanent_mac"), NIC_MAC);
    assert_eq!(lines(&console, "ETHTOOLP: "), [format!("Permanent address: {NIC_MAC}")]);
    assert_eq!(pk("driver"), "e1000");
    assert_eq!(e("driver"), pk("driver"));
    assert_eq!(e("version"), pk("version"));
    assert_eq!(e("firmware-version"), pk("firmware"));
    assert_eq!(e("bus-info"), pk("bus_info"));
    assert!(pk("bus_info").starts_with("0000:00:"), "a PCI address: {}", pk("bus_info"));
}

//--- the guest's console

/// The lines after `prefix`.
fn lines(console: &str, prefix: &str) -> Vec<String> {
    console.lines().filter_map(|l| l.strip_prefix(prefix)).map(|l| l.trim_end().to_owned()).collect()
}

/// `key SEP value` lines after `prefix`, keys and values trimmed; the first of a repeated key.
fn keyed(console: &str, prefix: &str, sep: char) -> BTreeMap<String, String> {
    let mut out = BTreeMap::new();
    for l in lines(console, prefix) {
        if let Some((k, v)) = l.split_once(sep) {
            out.entry(k.trim().to_owned()).or_insert_with(|| v.trim().to_owned());
        }
    }
    out
}

/// QEMU, killed and reaped by PID if the test ends first.
struct Guest(Child);

impl Guest {
    /// Waits up to `limit` for QEMU to exit; its status, or `None` on time-out.
    fn wait(&mut self, limit: Duration) -> Option<std::process::ExitStatus> {
        let start = Instant::now();
        while start.elapsed() < limit {
            if let Some(s) = self.0.try_wait().expect("wait for qemu") {
                return Some(s);
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        None
    }
}

impl Drop for Guest {
    fn drop(&mut self) {
        if let Ok(None) = self.0.try_wait() {
            let _ = self.0.kill();
            let _ = self.0.wait();
        }
    }
}

//--- the kernel

fn workspace() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

/// A Debian kernel package unpacked (never installed): `boot/vmlinuz-*` and `lib/modules/*`.
struct Kernel {
    root: PathBuf,
    version: String,
    vmlinuz: PathBuf,
}

impl Kernel {
    fn get() -> Kernel {
        let root = recon_tests::kernel_root();
        Kernel::find(&root).unwrap_or_else(|| {
            panic!("no kernel under {} (boot/vmlinuz-*, lib/modules/*): run scripts/setup", root.display())
        })
    }

    fn find(root: &Path) -> Option<Kernel> {
        let mut versions: Vec<String> = fs::read_dir(root.join("lib/modules"))
            .ok()?
            .filter_map(|e| e.ok()?.file_name().into_string().ok())
            .filter(|v| root.join(format!("boot/vmlinuz-{v}")).exists())
            .collect();
        versions.sort();
        let version = versions.pop()?;
        let vmlinuz = root.join(format!("boot/vmlinuz-{version}"));
        Some(Kernel { root: root.to_owned(), version, vmlinuz })
    }

    /// The module files `names` need, dependencies first, each once.
    fn modules(&self, names: &[&str]) -> Vec<PathBuf> {
        let modprobe = program("modprobe", "kmod");
        let mut out: Vec<PathBuf> = Vec::new();
        for name in names {
            let o = run(Command::new(&modprobe)
                .arg("-d")
                .arg(&self.root)
                .args(["-S", &self.version])
                .args(["--show-depends", name]));
            for l in String::from_utf8_lossy(&o.stdout).lines() {
                let Some(ko) = l.strip_prefix("insmod ").map(|r| PathBuf::from(r.trim())) else { continue };
                if !out.contains(&ko) {
                    out.push(ko);
                }
            }
        }
        assert!(!out.is_empty(), "modprobe found none of {names:?} for kernel {}", self.version);
        out
    }
}

//--- the probe and the initramfs

/// `bmc_probe` built statically (glibc with `crt-static`, the host's own target), so the
/// initramfs needs no libraries for it.
fn build_probe() -> PathBuf {
    const TRIPLE: &str = "x86_64-unknown-linux-gnu";
    let target = workspace().join("target/e2e-cache/static");
    let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    run(Command::new(cargo)
        .current_dir(workspace())
        .args(["build", "--release", "-p", "inventory", "--example", "bmc_probe", "--target", TRIPLE])
        .env("CARGO_TARGET_DIR", &target)
        // Only the probe is linked statically: --target keeps these flags off build scripts and
        // proc macros, and a RUSTFLAGS from outside would override them.
        .env_remove("RUSTFLAGS")
        .env_remove("CARGO_ENCODED_RUSTFLAGS")
        .env("CARGO_TARGET_X86_64_UNKNOWN_LINUX_GNU_RUSTFLAGS", "-C target-feature=+crt-static")
        .env("CARGO_PROFILE_RELEASE_DEBUG", "false")
        .env("CARGO_PROFILE_RELEASE_STRIP", "true"));
    let bin = target.join(TRIPLE).join("release/examples/bmc_probe");
    let ldd = Command::new("ldd").arg(&bin).output().expect("ldd");
    let said = format!("{}{}", String::from_utf8_lossy(&ldd.stdout), String::from_utf8_lossy(&ldd.stderr));
    assert!(said.contains("statically linked") || said.contains("not a dynamic executable"), "{bin:?}: {said}");
    bin
}

const INIT: &str = r#"#!/bin/busybox sh
/bin/busybox --install -s /bin
export PATH=/bin:/usr/bin:/usr/sbin:/sbin
mount -t proc proc /proc
mount -t sysfs sysfs /sys
mount -t devtmpfs devtmpfs /dev
while read -r ko; do insmod "$ko" || echo "GUEST: insmod $ko failed"; done < /etc/modules.order
n=0
while [ ! -e /dev/ipmi0 ] && [ $n -lt 50 ]; do sleep 0.2; n=$((n+1)); done
nic=""
for p in /sys/class/net/*; do [ "${p##*/}" = lo ] || { nic=${p##*/}; break; }; done
echo "GUEST: nic=$nic"
/bin/bmc_probe $nic 2>&1 | sed 's/^/PROBE: /'
ipmitool mc info 2>&1 | sed 's/^/MCINFO: /'
ipmitool mc guid 2>&1 | sed 's/^/MCGUID: /'
ipmitool raw 0x06 0x08 2>/tmp/raw.err | sed 's/^/RAWGUID: /'
sed 's/^/RAWGUID-STDERR: /' /tmp/raw.err
ipmitool lan print 1 2>&1 | sed 's/^/LANPRINT: /'
ethtool -P $nic 2>&1 | sed 's/^/ETHTOOLP: /'
ethtool -i $nic 2>&1 | sed 's/^/ETHTOOLI: /'
echo "GUEST: end"
poweroff -f
"#;

/// A gzip'd newc initramfs: busybox, the probe, ipmitool and ethtool with their libraries, the
/// modules and `INIT`.
fn build_initrd(dir: &Path, kernel: &Kernel, probe: &Path) -> PathBuf {
    let root = dir.join("initrd-root");
    for d in ["bin", "dev", "proc", "sys", "etc", "tmp"] {
        fs::create_dir_all(root.join(d)).expect("initrd dir");
    }
    let busybox = program("busybox", "busybox-static");
    let ldd = Command::new("ldd").arg(&busybox).output().expect("ldd");
    assert!(!ldd.status.success(), "{} is dynamically linked: install busybox-static", busybox.display());
    copy(&busybox, &root.join("bin/busybox"));
    copy(probe, &root.join("bin/bmc_probe"));
    for (tool, package) in [("ipmitool", "ipmitool"), ("ethtool", "ethtool")] {
        let path = program(tool, package);
        copy_with_libraries(&path, &root);
    }
    let mut order = String::new();
    for ko in kernel.modules(&MODULES) {
        let rel = ko.strip_prefix(&kernel.root).expect("module under the kernel root");
        copy(&ko, &root.join(rel));
        order.push_str(&format!("/{}\n", rel.display()));
    }
    fs::write(root.join("etc/modules.order"), order).expect("modules.order");
    fs::write(root.join("init"), INIT).expect("init");
    run(Command::new("chmod").arg("755").arg(root.join("init")));
    let initrd = dir.join("initrd.gz");
    let cpio = program("cpio", "cpio");
    let script = format!(
        "cd '{}' && find . | sort | '{}' -o -H newc --quiet | gzip -1 > '{}'",
        root.display(),
        cpio.display(),
        initrd.display()
    );
    run(Command::new("sh").arg("-c").arg(script));
    initrd
}

/// Copies a file, following links, creating the parent directory.
fn copy(from: &Path, to: &Path) {
    fs::create_dir_all(to.parent().expect("a parent")).expect("mkdir");
    fs::copy(from, to).unwrap_or_else(|e| panic!("copy {} to {}: {e}", from.display(), to.display()));
}

/// Copies a dynamically linked program and every library `ldd` names (the loader too) to the
/// same paths under `root`.
fn copy_with_libraries(bin: &Path, root: &Path) {
    let rel = |p: &Path| root.join(p.strip_prefix("/").expect("absolute path"));
    copy(bin, &rel(bin));
    let out = run(Command::new("ldd").arg(bin));
    for lib in String::from_utf8_lossy(&out.stdout).split_whitespace().filter(|w| w.starts_with('/')) {
        copy(Path::new(lib), &rel(Path::new(lib)));
    }
}
