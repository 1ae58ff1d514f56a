//! The stick without QEMU: a real hybrid image made here with xorriso (an ISO at octet 0, a
//! `RECONDATA` ext4 partition appended to it, as kiwi's hybrid ISO plus make-recipe-target's
//! partition are), attached as a loop device, its ISO partition mounted where dmsquash-live
//! mounts the live medium (`/run/initramfs/live`, in a mount namespace of the test's own). Then
//! a real `recon agent`, told to be the master, must: find the medium and its RECONDATA, check
//! and mount it on its data directory before it serves, serve `/recon.iso` as the very octets
//! of the ISO at the start of the disk, say its data is kept (`durable`); and `recon finish`
//! must stop DHCP, write the reports, close and unmount RECONDATA, leaving a filesystem e2fsck
//! finds clean and holding the master's own inventory and the reports.
//!
//! Network: a namespace made here, a veth pair, private addresses; the agent runs with
//! `recon.dhcp=off` and serves HTTP inside the namespace only. Everything is undone on drop.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use recon_tests::{Netns, recon_bin, require_root, run, scratch_dir, veth, wait_for};

/// A loop device, detached on drop.
struct Loop(String);

impl Drop for Loop {
    fn drop(&mut self) {
        let _ = Command::new("losetup").args(["--detach", &self.0]).status();
    }
}

/// A stick as make-recipe-target writes one: a small ISO (volume id RECON, its partition at
/// 32 KiB as in kiwi's hybrid ISOs) at octet 0, grown, and a partition appended after it
/// (`sfdisk --append`) holding an ext4 labelled RECONDATA.
fn make_stick(dir: &Path) -> PathBuf {
    let tree = dir.join("iso-tree");
    std::fs::create_dir_all(tree.join("LiveOS")).unwrap();
    std::fs::write(tree.join("LiveOS/marker"), b"the live medium\n").unwrap();
    let img = dir.join("stick.raw");
    run(Command::new("xorriso")
        .args(["-as", "mkisofs", "-quiet", "-V", "RECON", "-partition_offset", "16", "-o"])
        .arg(&img)
        .arg(&tree));
    let iso = std::fs::metadata(&img).unwrap().len();
    std::fs::OpenOptions::new().write(true).open(&img).unwrap().set_len(iso + (64 << 20)).unwrap();
    let mut sfdisk = Command::new("sfdisk")
        .args(["--quiet", "--no-reread", "--no-tell-kernel", "--append"])
        .arg(&img)
        .stdin(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    std::io::Write::write_all(sfdisk.stdin.as_mut().unwrap(), b",,L\n").unwrap();
    assert!(sfdisk.wait().unwrap().success(), "sfdisk --append");
    let table: serde_json::Value =
        serde_json::from_slice(&run(Command::new("sfdisk").arg("--json").arg(&img)).stdout).unwrap();
    let p = &table["partitiontable"]["partitions"][1];
    let (start, size) = (p["start"].as_u64().unwrap(), p["size"].as_u64().unwrap());
    run(Command::new("mkfs.ext4")
        .args(["-q", "-F", "-L", "RECONDATA", "-E", &format!("offset={}", start * 512)])
        .arg(&img)
        .arg(format!("{}k", size / 2)));
    img
}

#[test]
fn the_agent_mounts_recondata_serves_its_own_iso_and_finish_unmounts_cleanly() {
    require_root();
    let dir = scratch_dir("stick-medium");
    let img = make_stick(&dir);
    let out = run(Command::new("losetup").args(["--find", "--show", "--partscan"]).arg(&img));
    let dev = Loop(String::from_utf8_lossy(&out.stdout).trim().to_owned());
    // Where the loop driver does not scan partitions itself (max_part=0), partx adds them.
    if !wait_for(Duration::from_secs(2), || Path::new(&format!("{}p2", dev.0)).exists()) {
        run(Command::new("partx").args(["--add", &dev.0]));
    }
    assert!(
        wait_for(Duration::from_secs(10), || Path::new(&format!("{}p2", dev.0)).exists()),
        "no partitions on {}",
        dev.0
    );
    // The ISO's length, as the master must serve it (util-linux isosize reads the same volume
    // descriptor the agent does, independently).
    let iso_len = {
        let o = run(Command::new("isosize").arg(&img));
        String::from_utf8_lossy(&o.stdout).trim().parse::<u64>().unwrap()
    };

    let ns = Netns::new("stick-medium");
    let client = Netns::new("stick-medium-c");
    veth(&ns, "eth0", &client, "eth0");
    client.exec_ok(&["ip", "addr", "add", "10.233.0.2/24", "dev", "eth0"]);
    ns.exec_ok(&["ip", "addr", "add", "10.233.0.1/24", "dev", "eth0"]);
    let data = dir.join("data");
    std::fs::create_dir_all(&data).unwrap();
    let boot = dir.join("boot");
    std::fs::create_dir_all(&boot).unwrap();
    // The agent sees the medium where dmsquash-live puts it, in a mount namespace of its own with
    // a /run of its own (the host's is untouched), and its RECONDATA mount stays in there too.
    // The agent only reads which device is mounted there (/proc/self/mountinfo), and this
    // machine's kernel may have no iso9660 (the real image's boot, scripts/stick, mounts a real
    // one): a tmpfs named after the ISO's partition stands in for it.
    let script = format!(
        "set -e; mount --make-rprivate /; mount -t tmpfs none /run; mkdir -p /run/initramfs/live; \
         mount -t tmpfs {dev}p1 /run/initramfs/live; \
         exec {bin} agent --interface eth0 --boot {boot} --data {data} \
         --cmdline 'recon.role=master recon.dhcp=off recon.poweroff=never'",
        dev = dev.0,
        bin = recon_bin().display(),
        boot = boot.display(),
        data = data.display()
    );
    let log = dir.join("agent.log");
    let agent = ns.spawn(&["unshare", "--mount", "--propagation", "private", "sh", "-c", &script], &log);
    let text = || std::fs::read_to_string(&log).unwrap_or_default();
    assert!(wait_for(Duration::from_secs(60), || text().contains("own inventory is stored")), "{}", text());
    let t = text();
    assert!(t.contains(&format!("{}p2 (RECONDATA, ext4) mounted on {}", dev.0, data.display())), "{t}");
    assert!(t.contains(&format!("/recon.iso is the first {iso_len} octets of {}", dev.0)), "{t}");
    assert!(!t.contains("KEEPS NOTHING"), "{t}");

    // The very ISO, from the disk's first octets.
    let got = dir.join("got.iso");
    client.exec_ok(&["curl", "-sf", "-o", got.to_str().unwrap(), "http://10.233.0.1/recon.iso"]);
    let want = {
        use std::io::Read;
        let mut v = vec![0u8; usize::try_from(iso_len).unwrap()];
        std::fs::File::open(&img).unwrap().read_exact(&mut v).unwrap();
        v
    };
    assert!(std::fs::read(&got).unwrap() == want, "/recon.iso differs from the image's first {iso_len} octets");
    let manifest = client.exec_ok(&["curl", "-sf", "http://10.233.0.1/api/v1/manifest?mac=52:54:00:00:00:09"]);
    let m: serde_json::Value = serde_json::from_slice(&manifest.stdout).unwrap();
    assert_eq!(m["durable"], true, "{m}");

    // Only the master itself may finish.
    let refused = client.exec_ok(&[
        "curl",
        "-s",
        "-o",
        "/dev/null",
        "-w",
        "%{http_code}",
        "-X",
        "POST",
        "http://10.233.0.1/api/v1/finish",
    ]);
    assert_eq!(String::from_utf8_lossy(&refused.stdout), "403");
    let fin = ns.exec_ok(&[recon_bin().to_str().unwrap(), "finish", "http://10.233.0.1"]);
    let said = String::from_utf8_lossy(&fin.stdout).into_owned();
    assert!(said.contains("RECONDATA unmounted") && said.contains("SAFE TO REMOVE THE STICK"), "{said}");
    assert!(said.contains("1 nodes seen, 1 inventories stored, 0 never finished"), "{said}");
    drop(agent);

    // Clean, and holding what the master kept.
    let fsck = Command::new("e2fsck").args(["-fn", &format!("{}p2", dev.0)]).output().unwrap();
    assert!(fsck.status.success(), "e2fsck: {}", String::from_utf8_lossy(&fsck.stdout));
    let state = run(Command::new("dumpe2fs").args(["-h", &format!("{}p2", dev.0)]));
    assert!(
        String::from_utf8_lossy(&state.stdout)
            .lines()
            .any(|l| l.starts_with("Filesystem state:") && l.ends_with("clean"))
    );
    let ls = run(Command::new("debugfs").args(["-R", "ls -p /", &format!("{}p2", dev.0)]));
    let ls = String::from_utf8_lossy(&ls.stdout).into_owned();
    for name in ["nodes", "report.html", "inventory.csv", "netbox", "ironic", "leases.jsonl", "events.jsonl"] {
        assert!(ls.contains(&format!("/{name}/")), "{name} not on RECONDATA:\n{ls}");
    }
    drop(dev);
}
