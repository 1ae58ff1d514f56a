//! `recon inventory` against tools nobody here wrote: `tests/cross-check/guest.sh` boots a QEMU
//! guest (TCG, no user-mode networking, NICs on hubports that reach nothing) with SMBIOS
//! strings, CPU topology, NUMA nodes, disks and NICs we chose, and compares recon with lshw,
//! lspci, dmidecode, lsblk, lscpu and ethtool inside it and with the configured values;
//! `host.sh` compares the same peers on this machine. Both fail on any disagreement.
//!
//! Every dependency is checked up front and a missing one fails the test with the Debian
//! package to install; nothing is skipped.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use recon_tests::{program, recon_bin, require_root, scratch_dir};

/// The tools the two scripts run, and their Debian packages.
const TOOLS: &[(&str, &str)] = &[
    ("qemu-system-x86_64", "qemu-system-x86"),
    ("lshw", "lshw"),
    ("lspci", "pciutils"),
    ("dmidecode", "dmidecode"),
    ("lsblk", "util-linux"),
    ("lscpu", "util-linux"),
    ("ethtool", "ethtool"),
    ("udevadm", "udev"),
    ("busybox", "busybox-static"),
    ("cpio", "cpio"),
    ("modprobe", "kmod"),
    ("depmod", "kmod"),
    ("dpkg-deb", "dpkg"),
    ("apt-get", "apt"),
    ("python3", "python3"),
];

fn scripts() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("cross-check")
}

/// A script run whose process is stopped by PID if the test ends first (the scripts trap TERM
/// and stop their QEMU by PID, then remove their temporary files).
struct Script {
    child: Child,
    log: PathBuf,
}

impl Script {
    fn start(script: &str, out: &Path, log: &Path) -> Script {
        let file = std::fs::File::create(log).unwrap_or_else(|e| panic!("{}: {e}", log.display()));
        let child = Command::new("bash")
            .arg(scripts().join(script))
            .env("RECON_BIN", recon_bin())
            .env("XCHECK_OUT", out)
            .stdin(Stdio::null())
            .stdout(file.try_clone().expect("log file"))
            .stderr(file)
            .spawn()
            .unwrap_or_else(|e| panic!("bash {script}: {e}"));
        Script { child, log: log.to_owned() }
    }

    /// Waits up to `limit`; returns the exit status and the log.
    fn finish(mut self, limit: Duration) -> (Option<i32>, String) {
        let start = Instant::now();
        let status = loop {
            if let Some(s) = self.child.try_wait().expect("wait") {
                break Some(s);
            }
            if start.elapsed() > limit {
                break None;
            }
            std::thread::sleep(Duration::from_millis(200));
        };
        let log = std::fs::read_to_string(&self.log).unwrap_or_default();
        (status.and_then(|s| s.code()), log)
    }
}

impl Drop for Script {
    fn drop(&mut self) {
        if let Ok(None) = self.child.try_wait() {
            let pid = self.child.id().to_string();
            let _ = Command::new("kill").args(["-TERM", &pid]).status();
            let start = Instant::now();
            while start.elapsed() < Duration::from_secs(15) {
                if let Ok(Some(_)) = self.child.try_wait() {
                    return;
                }
                std::thread::sleep(Duration::from_millis(100));
            }
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}

/// `  lshw  112 / 114` lines of the report: peer -> (agree, compared).
fn counts(report: &str) -> Vec<(String, u32, u32)> {
    let mut out = Vec::new();
    let mut on = false;
    for line in report.lines() {
        if line.starts_with("Fields compared per peer") {
            on = true;
            continue;
        }
        if on {
            let w: Vec<&str> = line.split_whitespace().collect();
            match w.as_slice() {
                [peer, agree, "/", total, ..] => {
                    out.push((peer.to_string(), agree.parse().expect("agree"), total.parse().expect("total")))
                }
                _ => break,
            }
        }
    }
    out
}

/// Runs a script and asserts it passed, and that each peer compared at least `floor` fields:
/// a peer's output format changing under the parser would otherwise shrink the comparison
/// silently.
fn run_and_check(script: &str, name: &str, limit: Duration, floors: &[(&str, u32)]) -> PathBuf {
    require_root();
    for (tool, package) in TOOLS {
        program(tool, package);
    }
    let dir = scratch_dir(name);
    let out = dir.join("out");
    let (status, log) = Script::start(script, &out, &dir.join("script.log")).finish(limit);
    let report = std::fs::read_to_string(out.join("report.txt")).unwrap_or_default();
    assert_eq!(
        status,
        Some(0),
        "{script} failed ({status:?}); log:\n{log}\nreport: {}",
        out.join("report.txt").display()
    );
    assert!(report.contains("RESULT: PASS"), "{script}: no PASS in the report:\n{report}");
    let counts = counts(&report);
    for (peer, floor) in floors {
        let (_, agree, total) = counts
            .iter()
            .find(|(p, _, _)| p == peer)
            .unwrap_or_else(|| panic!("{script}: no count for {peer} in the report:\n{report}"));
        assert_eq!(agree, total, "{script}: {peer} disagrees");
        assert!(total >= floor, "{script}: {peer} compared only {total} fields (at least {floor} expected)");
    }
    out
}

/// compare.py must see differences: the guest's own outputs, with recon's values changed in
/// a few places, must fail with each change named by the peers that report the field.
fn planted_differences_are_reported(out: &Path) {
    let g = out.join("guest");
    let arg = |f: &str| g.join(f).into_os_string();
    let mut cmd = Command::new("python3");
    cmd.arg(scripts().join("compare.py"))
        .arg("--recon")
        .arg(arg("recon.json"))
        .arg("--expect")
        .arg(out.join("expect.json"));
    for (flag, file) in [
        ("--lshw", "lshw.json"),
        ("--lspci", "lspci.txt"),
        ("--dmidecode", "dmidecode.txt"),
        ("--lsblk", "lsblk.json"),
        ("--lscpu", "lscpu.json"),
        ("--lscpu-caches", "lscpu-caches.json"),
        ("--ethtool", "ethtool.txt"),
    ] {
        cmd.arg(flag).arg(arg(file));
    }
    for m in [
        r#"system.serial="WRONG""#,
        "cpu.cores=3",
        "memory.dimms.0.size_bytes=1",
        r#"network.0.mac="02:00:00:00:00:99""#,
        "pci.1.device_id=1",
        "cpu.caches.0.instances=99",
        r#"storage.disks.0.serial="WRONG""#,
        r#"network.1.permanent_mac="02:00:00:00:00:01""#,
    ] {
        cmd.arg("--mutate").arg(m);
    }
    let res = cmd.output().expect("python3 compare.py");
    let report = String::from_utf8_lossy(&res.stdout);
    assert_eq!(
        res.status.code(),
        Some(1),
        "compare.py with planted differences:\n{report}\n{}",
        String::from_utf8_lossy(&res.stderr)
    );
    // Each entry: the words one line of the report must hold.
    for want in [
        &["truth: system.serial: recon \"WRONG\""][..],
        &["dmidecode: system.serial: recon \"WRONG\""],
        &["lshw: system.serial: recon \"WRONG\""],
        &["lscpu: cpu.cores: recon 3 "],
        &["truth: cpu.cores: recon 3 "],
        &["dmidecode: memory.dimms[0x1100].size_bytes: recon 1 "],
        &["lshw: memory.dimms[0x1100].size_bytes: recon 1 "],
        &["lshw: network[", "].mac: recon \"02:00:00:00:00:99\""],
        &["lspci: pci[0000:00:02.0].device_id: recon 1 "],
        &["lshw: pci[0000:00:02.0].device_id: recon 1 "],
        &["lscpu: cpu.caches[L1d].instances: recon 99 "],
        &["lsblk: disk[", "].serial: recon \"WRONG\""],
        &["ethtool: network[", "].permanent_mac: recon \"02:00:00:00:00:01\""],
        &["truth: network[", "].permanent_mac: recon \"02:00:00:00:00:01\""],
    ] {
        assert!(
            report.lines().any(|l| want.iter().all(|w| l.contains(w))),
            "compare.py did not report {want:?}:\n{report}"
        );
    }
}

#[test]
fn guest_inventory_agrees_with_peers_and_configured_hardware() {
    // Floors: about 80 % of what a run compared when this was written, disks included.
    let out = run_and_check(
        "guest.sh",
        "xcheck-guest",
        Duration::from_secs(600),
        &[
            ("truth", 150),
            ("dmidecode", 55),
            ("lshw", 100),
            ("lspci", 60),
            ("lsblk", 30),
            ("lscpu", 30),
            ("ethtool", 15),
        ],
    );
    planted_differences_are_reported(&out);
}

#[test]
fn host_inventory_agrees_with_peers() {
    // This machine may have no SMBIOS table (dmidecode then compares only its absence) and one
    // disk, so the floors are low; the report says what was compared.
    run_and_check(
        "host.sh",
        "xcheck-host",
        Duration::from_secs(300),
        &[("dmidecode", 1), ("lshw", 10), ("lspci", 5), ("lsblk", 5), ("lscpu", 20), ("ethtool", 1)],
    );
}
