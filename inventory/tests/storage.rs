//! The storage collector on sysfs trees from real machines, against tools nobody here wrote.
//!
//! - util-linux's lsblk dumps: every whole disk lsblk lists must be one of recon's disks (and no
//!   other device may be), and each disk must agree with lsblk's expected output on every column
//!   both have; so must every partition (MAJ:MIN, SIZE, RO, MOUNTPOINT and MOUNTPOINTS, from the
//!   dumps' `proc/self/mountinfo`, bcachefs's one mount of two partitions included). One dump also carries the udev properties lsblk read in place of a udev
//!   database (`<dump>/dev/<name>`), so serial, WWN and udev's `ID_PATH` are compared too.
//! - prometheus/procfs's fixture tree: a flattened `/sys/block`, `/sys/class/nvme` and
//!   `/sys/class/nvme-subsystem`, and a SAS disk behind an expander.
//!
//! Disagreements are not tolerated silently: each one recon is expected to have is listed in
//! [`KNOWN`] with the reason, and the test fails on any other, and on a listed one that no
//! longer happens.
//!
//! The fixtures are in `tests/fixtures` (its README says where each came from). Missing fixtures
//! fail the test: they are not optional.

mod common;

use std::collections::{BTreeMap, BTreeSet};
use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;

use inventory::model::{Disk, Inventory, Mount, Partition, Source};
use inventory::{NoDevices, Options, SysRoot, collect};

fn run(cmd: &mut Command) {
    let out = cmd.output().unwrap_or_else(|e| panic!("{cmd:?}: {e}"));
    assert!(out.status.success(), "{cmd:?}: {}", String::from_utf8_lossy(&out.stderr));
}

/// A util-linux dump unpacked into a temporary directory: `(guard, root)`.
fn lsblk_dump(name: &str) -> (tempfile::TempDir, PathBuf) {
    let tmp = tempfile::tempdir().expect("tempdir");
    let tarball = common::fixtures("lsblk-dumps").join(format!("dumps/{name}.tar.xz"));
    run(Command::new("tar").arg("xJf").arg(&tarball).arg("-C").arg(tmp.path()));
    let root = tmp.path().join(name);
    (tmp, root)
}

/// prometheus/procfs's tree unpacked: `(guard, root)`.
fn procfs_tree() -> (tempfile::TempDir, PathBuf) {
    let tmp = tempfile::tempdir().expect("tempdir");
    let dir = common::fixtures("procfs");
    run(Command::new("python3").arg(dir.join("unttar.py")).arg(dir.join("fixtures.ttar")).arg(tmp.path()));
    let root = tmp.path().join("fixtures");
    (tmp, root)
}

fn inventory(root: &Path) -> Inventory {
    collect(&SysRoot::new(root), &NoDevices, &Options::default())
}

//--- lsblk's table output

/// Columns lsblk right-aligns (`SCOLS_FL_RIGHT` in misc-utils/lsblk.c).
const RIGHT_ALIGNED: &[&str] = &[
    "RA",
    "RO",
    "RM",
    "HOTPLUG",
    "ROTA",
    "RAND",
    "SIZE",
    "ALIGNMENT",
    "MIN-IO",
    "OPT-IO",
    "PHY-SEC",
    "LOG-SEC",
    "RQ-SIZE",
    "DISC-ALN",
    "DISC-GRAN",
    "DISC-MAX",
    "DISC-ZERO",
    "WSAME",
    "REV",
    "FSAVAIL",
    "FSSIZE",
    "FSUSED",
    "FSUSE%",
];

/// One row per device as lsblk printed it: column name to cell. Cells are placed by the
/// header: a left-aligned cell starts under its header, a right-aligned one ends under it and
/// holds no spaces; so a left cell (a MODEL with spaces) is bounded by the next header, or by
/// the right-aligned value that ends under the next header.
fn parse_table(text: &str) -> Vec<BTreeMap<String, String>> {
    assert!(text.is_ascii(), "expected lsblk output in ASCII");
    let mut lines = text.lines();
    let header = lines.next().expect("header line");
    let mut cols: Vec<(String, usize, usize)> = Vec::new(); // name, start, end (exclusive)
    let mut pos = 0;
    for name in header.split(' ').filter(|s| !s.is_empty()) {
        let start = pos + header[pos..].find(name).expect("header name");
        pos = start + name.len();
        cols.push((name.to_owned(), start, pos));
    }
    let right = |name: &str| RIGHT_ALIGNED.contains(&name);
    let mut rows = Vec::new();
    for line in lines {
        let b = line.as_bytes();
        let at = |i: usize| b.get(i).copied().unwrap_or(b' ');
        // A right-aligned cell: the run of non-spaces ending under its header's last character.
        let right_cell = |end: usize| -> (usize, String) {
            let mut start = end;
            while start > 0 && at(start - 1) != b' ' {
                start -= 1;
            }
            (start, line.get(start..end).unwrap_or_default().to_owned())
        };
        let mut row = BTreeMap::new();
        for (j, (name, start, end)) in cols.iter().enumerate() {
            let cell = if right(name) {
                right_cell(*end).1
            } else {
                let limit = match cols.get(j + 1) {
                    None => line.len(),
                    Some((next, nstart, _)) if !right(next) => *nstart,
                    Some((_, _, nend)) => right_cell(*nend).0,
                };
                line.get(*start..limit.max(*start).min(line.len())).unwrap_or_default().trim().to_owned()
            };
            row.insert(name.clone(), cell);
        }
        rows.push(row);
    }
    rows
}

/// lsblk's SIZE: util-linux `size_to_human_string(SIZE_SUFFIX_1LETTER, bytes)`, binary units
/// with one decimal rounded half up, and a trailing `.0` dropped.
fn lsblk_size(bytes: u64) -> String {
    let exp = (10..=60).step_by(10).find(|s| bytes < 1u64 << s).map_or(60, |s| s - 10);
    let unit = char::from(b"BKMGTPE"[exp / 10]);
    let (mut dec, mut frac) = if exp == 0 { (bytes, 0) } else { (bytes >> exp, bytes & ((1u64 << exp) - 1)) };
    if frac != 0 {
        frac = if frac >= u64::MAX / 1000 {
            ((frac / 1024) * 1000) / (1u64 << (exp - 10))
        } else {
            (frac * 1000) / (1u64 << exp)
        };
        frac = ((frac + 50) / 100) * 10;
        if frac == 100 {
            dec += 1;
            frac = 0;
        }
    }
    if frac == 0 { format!("{dec}{unit}") } else { format!("{dec}.{}{unit}", frac / 10) }
}

#[test]
fn lsblk_size_matches_util_linux_rounding() {
    assert_eq!(lsblk_size(240_057_409_536), "223.6G");
    assert_eq!(lsblk_size(1_073_741_312), "1024M"); // 2097151 sectors: rounds up into the next integer
    assert_eq!(lsblk_size(524_288_000), "500M");
    assert_eq!(lsblk_size(512), "512B");
    assert_eq!(lsblk_size(1 << 40), "1T");
}

//--- udev's property files in the dump

/// `KEY=value` lines of `<dump>/dev/<name>`, the udev database entry lsblk `--sysroot` reads.
fn udev_properties(root: &Path, name: &str) -> Option<BTreeMap<String, String>> {
    let text = fs::read_to_string(root.join("dev").join(name)).ok()?;
    Some(text.lines().filter_map(|l| l.split_once('=')).map(|(k, v)| (k.to_owned(), v.to_owned())).collect())
}

/// udev's `ID_MODEL` as `ata_id` and `scsi_id` write it: runs of white space become one `_`
/// (leading and trailing ones dropped), and any byte outside udev's safe set becomes `_`.
fn udev_encoded(s: &str) -> String {
    let mut out = String::new();
    for word in s.split_whitespace() {
        if !out.is_empty() {
            out.push('_');
        }
        out.push_str(word);
    }
    out.chars().map(|c| if c.is_ascii_alphanumeric() || "#+-.:=@_".contains(c) { c } else { '_' }).collect()
}

//--- The comparison

/// Disagreements recon is expected to have: (dump, disk, column, why).
const KNOWN: &[(&str, &str, &str, &str)] = &[
    (
        "simple-nvme",
        "nvme0n1",
        "REV",
        "lsblk without udev reads device/rev, which an NVMe controller lacks; recon reads the controller's firmware_rev",
    ),
    (
        "simple-lvm",
        "nvme0n1",
        "REV",
        "lsblk without udev reads device/rev, which an NVMe controller lacks; recon reads the controller's firmware_rev",
    ),
    (
        "multi-devs-bcachefs",
        "sda",
        "ID_PATH",
        "the dump lacks ata1/ata_port/ata1/port_no, and recon does not guess the port number from `ata1`",
    ),
    (
        "multi-devs-bcachefs",
        "sdb",
        "ID_PATH",
        "the dump lacks ata2/ata_port/ata2/port_no, and recon does not guess the port number from `ata2`",
    ),
];

/// What a comparison found.
#[derive(Default)]
struct Tally {
    /// (dump, disk, column) -> (theirs, recon's), where they differ.
    differences: BTreeMap<(String, String, String), (String, String)>,
    /// Cells compared, per column.
    compared: BTreeMap<String, usize>,
    /// Of those, cells where the other tool had a value.
    non_empty: usize,
}

impl Tally {
    fn check(&mut self, dump: &str, disk: &str, column: &str, theirs: &str, ours: &str) {
        *self.compared.entry(column.to_owned()).or_default() += 1;
        if !theirs.is_empty() {
            self.non_empty += 1;
        }
        if theirs != ours {
            self.differences
                .insert((dump.to_owned(), disk.to_owned(), column.to_owned()), (theirs.to_owned(), ours.to_owned()));
        }
    }
}

fn flag(b: Option<bool>) -> String {
    b.map(|b| if b { "1" } else { "0" }.to_owned()).unwrap_or_default()
}

fn text(s: &Option<String>) -> String {
    s.clone().unwrap_or_default()
}

/// recon's value for an lsblk column, rendered as lsblk renders it; `None` for a column recon
/// does not collect (NAME, KNAME and TYPE are the membership checks, not compared here). `udev` is the dump's udev entry for the disk, which lsblk prefers for MODEL
/// and REV when it exists.
fn as_lsblk(d: &Disk, column: &str, udev: Option<&BTreeMap<String, String>>) -> Option<String> {
    Some(match column {
        "MAJ:MIN" => text(&d.dev),
        "SIZE" => d.size_bytes.map(lsblk_size).unwrap_or_default(),
        "RM" => flag(d.removable),
        "RO" => flag(d.read_only),
        "ROTA" => flag(d.rotational),
        "LOG-SEC" => d.logical_block_bytes.map(|v| v.to_string()).unwrap_or_default(),
        "PHY-SEC" => d.physical_block_bytes.map(|v| v.to_string()).unwrap_or_default(),
        "VENDOR" => text(&d.vendor),
        "REV" => text(&d.firmware),
        "MODEL" => {
            let model = text(&d.model);
            match udev.map(|u| (u.get("ID_MODEL"), u.get("ID_BUS").map(String::as_str))) {
                // ata_id and scsi_id encode ID_MODEL; the NVMe rule copies the attribute.
                Some((Some(_), Some("ata" | "scsi"))) => udev_encoded(&model),
                _ => model,
            }
        }
        "HCTL" => text(&d.hctl),
        "MOUNTPOINT" => mountpoint(&d.mounts),
        "MOUNTPOINTS" => mountpoints(&d.mounts),
        "TRAN" => text(&d.transport),
        "SERIAL" => text(&d.serial),
        "WWN" => text(&d.wwn),
        _ => return None,
    })
}

/// lsblk's MOUNTPOINT: the first mount point (all of these dumps have one at most).
fn mountpoint(m: &[Mount]) -> String {
    m.first().map(|m| m.mount_point.clone()).unwrap_or_default()
}

/// lsblk's MOUNTPOINTS, one line per mount point: the same, for single mounts.
fn mountpoints(m: &[Mount]) -> String {
    m.iter().map(|m| m.mount_point.as_str()).collect::<Vec<_>>().join("\n")
}

/// recon's value for an lsblk column of a partition row.
fn part_as_lsblk(p: &Partition, column: &str) -> Option<String> {
    Some(match column {
        "MAJ:MIN" => text(&p.dev),
        "SIZE" => p.size_bytes.map(lsblk_size).unwrap_or_default(),
        "RO" => flag(p.read_only),
        "MOUNTPOINT" => mountpoint(&p.mounts),
        "MOUNTPOINTS" => mountpoints(&p.mounts),
        _ => return None,
    })
}

/// Compares one dump: membership and every shared column.
fn compare_dump(dump: &str, tally: &mut Tally) -> Inventory {
    let (_tmp, root) = lsblk_dump(dump);
    let inv = inventory(&root);
    let storage = &inv.storage;

    // Every table of the dump, merged per top-level device; children (partitions, LVM) noted.
    let mut top: BTreeMap<String, BTreeMap<String, String>> = BTreeMap::new();
    let mut children = BTreeSet::new();
    let mut child_rows: BTreeMap<String, BTreeMap<String, String>> = BTreeMap::new();
    let expected = common::fixtures("lsblk-dumps/expected");
    let mut tables = 0;
    for entry in fs::read_dir(&root).expect("dump dir") {
        let path = entry.expect("entry").path();
        let Some(sub) = path.file_name().and_then(|n| n.to_str()).and_then(|n| n.strip_suffix(".cols")) else {
            continue;
        };
        let out = fs::read_to_string(expected.join(format!("lsblk-{dump}-{sub}"))).expect("expected output");
        tables += 1;
        for row in parse_table(&out) {
            let name = row.get("NAME").expect("NAME column").clone();
            if name.starts_with(['|', '`', ' ']) {
                let child = name.trim_start_matches(['|', '`', '-', ' ']).to_owned();
                child_rows.entry(child.clone()).or_default().extend(row);
                children.insert(child);
            } else {
                top.entry(name).or_default().extend(row);
            }
        }
    }
    assert!(tables >= 7, "{dump}: expected outputs for every .cols file");

    let lsblk_disks: BTreeSet<&str> = top
        .iter()
        .filter(|(_, r)| r.get("TYPE").map(String::as_str) == Some("disk"))
        .map(|(n, _)| n.as_str())
        .collect();
    let recon_disks: BTreeSet<&str> = storage.disks.iter().map(|d| d.name.as_str()).collect();
    assert_eq!(recon_disks, lsblk_disks, "{dump}: recon's disks against lsblk's TYPE disk rows");
    let skipped: BTreeSet<&str> = storage.skipped.iter().map(|s| s.name.as_str()).collect();
    for (name, row) in &top {
        if row.get("TYPE").map(String::as_str) != Some("disk") {
            assert!(skipped.contains(name.as_str()), "{dump}: {name} ({:?}) is not listed as skipped", row.get("TYPE"));
        }
    }
    for name in &children {
        assert!(!recon_disks.contains(name.as_str()), "{dump}: {name} is a partition or holder, not a disk");
    }
    // Everything in /sys/block is accounted for, one way or the other.
    let block: BTreeSet<String> = fs::read_dir(root.join("sys/block"))
        .expect("sys/block")
        .map(|e| e.expect("entry").file_name().into_string().expect("utf-8"))
        .collect();
    let seen: BTreeSet<String> = recon_disks.iter().chain(skipped.iter()).map(|s| (*s).to_owned()).collect();
    assert_eq!(seen, block, "{dump}: every /sys/block entry is a disk or skipped");

    // Partitions: every `part` row is one of recon's partitions, of the disk above it.
    let partitions: BTreeMap<&str, &Partition> =
        storage.disks.iter().flat_map(|d| d.partitions.iter().map(|p| (p.name.as_str(), p))).collect();
    let lsblk_parts: BTreeSet<&str> = child_rows
        .iter()
        .filter(|(_, r)| r.get("TYPE").map(String::as_str) == Some("part"))
        .map(|(n, _)| n.as_str())
        .collect();
    assert_eq!(partitions.keys().copied().collect::<BTreeSet<_>>(), lsblk_parts, "{dump}: partitions");
    for (name, p) in &partitions {
        for (column, theirs) in &child_rows[*name] {
            if let Some(ours) = part_as_lsblk(p, column) {
                tally.check(dump, name, column, theirs.as_str(), &ours);
            }
        }
    }

    for d in &storage.disks {
        let row = top.get(&d.name).expect("lsblk row");
        let udev = udev_properties(&root, &d.name);
        for (column, theirs) in row {
            if let Some(ours) = as_lsblk(d, column, udev.as_ref()) {
                tally.check(dump, &d.name, column, theirs.as_str(), &ours);
            }
        }
        if let Some(u) = &udev {
            // lsblk's own order of preference when it reads udev (lsblk-properties.c).
            let pick = |keys: &[&str]| keys.iter().find_map(|k| u.get(*k)).cloned().unwrap_or_default();
            let serial = pick(&["SCSI_IDENT_SERIAL", "ID_SCSI_SERIAL", "ID_SERIAL_SHORT"]);
            tally.check(dump, &d.name, "SERIAL", &serial, &text(&d.serial));
            tally.check(dump, &d.name, "WWN", &pick(&["ID_WWN_WITH_EXTENSION", "ID_WWN"]), &text(&d.wwn));
            tally.check(dump, &d.name, "ID_PATH", &pick(&["ID_PATH"]), &text(&d.by_path));
        }
    }
    inv
}

#[test]
fn disks_agree_with_lsblk_and_udev_on_util_linux_dumps() {
    let mut tally = Tally::default();
    let mut disks = 0;
    for dump in ["simple-nvme", "simple-lvm", "multi-devs-bcachefs"] {
        let inv = compare_dump(dump, &mut tally);
        disks += inv.storage.disks.len();
        let storage_errors: Vec<_> = inv.errors.iter().filter(|e| e.collector == "storage").collect();
        assert!(storage_errors.is_empty(), "{dump}: no storage read failed: {storage_errors:?}");
    }
    let known: BTreeSet<(String, String, String)> =
        KNOWN.iter().map(|(a, b, c, _)| ((*a).to_owned(), (*b).to_owned(), (*c).to_owned())).collect();
    let found: BTreeSet<(String, String, String)> = tally.differences.keys().cloned().collect();
    let unexpected: Vec<_> = tally.differences.iter().filter(|(k, _)| !known.contains(*k)).collect();
    assert!(unexpected.is_empty(), "recon disagrees with lsblk/udev: {unexpected:#?}");
    let gone: Vec<_> = known.difference(&found).collect();
    assert!(gone.is_empty(), "listed differences that no longer happen: {gone:?}");

    let total: usize = tally.compared.values().sum();
    println!(
        "{disks} disks, {total} cells compared ({} non-empty on lsblk/udev's side), {} known differences",
        tally.non_empty,
        found.len()
    );
    println!("per column: {:?}", tally.compared);
    // Not a vacuous pass: the columns that matter were there to compare.
    for column in [
        "SIZE",
        "MAJ:MIN",
        "RM",
        "RO",
        "ROTA",
        "LOG-SEC",
        "PHY-SEC",
        "MODEL",
        "VENDOR",
        "REV",
        "SERIAL",
        "WWN",
        "MOUNTPOINT",
        "MOUNTPOINTS",
    ] {
        assert!(tally.compared.get(column).copied().unwrap_or(0) > 0, "column {column} never compared");
    }
    assert_eq!(disks, 10);
}

#[test]
fn ata_model_and_firmware_come_from_identify_data() {
    let (_tmp, root) = lsblk_dump("multi-devs-bcachefs");
    let inv = inventory(&root);
    let sda = inv.storage.disks.iter().find(|d| d.name == "sda").expect("sda");
    // sysfs has the INQUIRY cut-downs `KINGSTON SH103S3` and `BBF0`.
    assert_eq!(sda.model.as_deref(), Some("KINGSTON SH103S3240G"));
    assert_eq!(sda.firmware.as_deref(), Some("580ABBF0"));
    assert_eq!((sda.serial.as_deref(), sda.serial_source), (Some("50026B724B09A1FF"), Some(Source::VpdPg80)));
    assert_eq!(sda.hctl.as_deref(), Some("0:0:0:0"));
    assert_eq!(sda.pci_address.as_deref(), Some("0000:00:1f.2"));
    // No scsi_host/proc_name in the dump: libata, SATA or not unknown.
    assert_eq!(sda.transport.as_deref(), Some("ata"));
    let nvme = inv.storage.disks.iter().find(|d| d.name == "nvme0n1").expect("nvme0n1");
    assert_eq!(nvme.by_path.as_deref(), Some("pci-0000:05:00.0-nvme-1"));
    assert_eq!(nvme.eui.as_deref(), Some("0026b7283b12b315"));
    assert_eq!(nvme.nguid.as_deref(), Some("00000000000000000026b7283b12b315"));
    assert_eq!(nvme.uuid, None, "the kernel's uuid file echoes the NGUID");
    assert_eq!(nvme.nvme_controller.as_deref(), Some("nvme0"));
    let sdc = inv.storage.disks.iter().find(|d| d.name == "sdc").expect("sdc");
    assert_eq!((sdc.transport.as_deref(), sdc.by_path.as_deref()), (Some("scsi"), None));
}

#[test]
fn wwn_falls_back_to_vpd_page_83_without_wwid() {
    let (_tmp, root) = lsblk_dump("multi-devs-bcachefs");
    let scsi = root.join("sys/devices/pci0000:00/0000:00:1f.2/ata1/host0/target0:0:0/0:0:0:0");
    fs::remove_file(scsi.join("wwid")).expect("rm wwid");
    fs::remove_file(root.join("sys/devices/pseudo_0/adapter0/host6/target6:0:0/6:0:0:0/wwid")).expect("rm wwid");
    let inv = inventory(&root);
    for (name, udev_wwn) in [("sda", "0x50026b724b09a1ff"), ("sdc", "0x33333330000036b0")] {
        let d = inv.storage.disks.iter().find(|d| d.name == name).expect("disk");
        assert_eq!(d.wwn.as_deref(), Some(udev_wwn), "{name}");
        assert_eq!(udev_properties(&root, name).expect("udev")["ID_WWN"], udev_wwn);
    }
    assert!(inv.errors.iter().all(|e| e.collector != "storage"), "{:?}", inv.errors);
}

#[test]
fn procfs_tree_flattened_block_devices_and_nvme_controllers() {
    let (_tmp, root) = procfs_tree();
    let inv = inventory(&root);
    let s = &inv.storage;
    let names: Vec<&str> = s.disks.iter().map(|d| d.name.as_str()).collect();
    assert_eq!(names, ["sda", "sdb", "sdc", "sdd", "sde"]);
    let skipped: Vec<(&str, &str)> = s.skipped.iter().map(|k| (k.name.as_str(), k.why.as_str())).collect();
    assert_eq!(
        skipped,
        [
            ("dm-0", "device-mapper"),
            ("dm-1", "device-mapper"),
            ("dm-2", "device-mapper"),
            ("md0", "md"),
            ("md1", "md"),
            ("md10", "md"),
            ("md4", "md"),
            ("md5", "md"),
            ("md6", "md"),
            ("md7", "md"),
            ("md8", "md"),
        ]
    );
    // Plain directories, not links: attributes only, no topology.
    let sda = &s.disks[0];
    assert_eq!((sda.size_bytes, sda.rotational), (Some(3_750_748_848 * 512), Some(true)));
    assert_eq!((sda.transport.as_deref(), sda.pci_address.as_deref(), sda.by_path.as_deref()), (None, None, None));
    // sdb..sde have no `size`: required, so recorded, and the rest of the run goes on.
    let missing: Vec<&str> = inv
        .errors
        .iter()
        .filter(|p| p.collector == "storage" && p.reason == "missing")
        .map(|p| p.path.as_str())
        .collect();
    assert_eq!(missing, ["/sys/block/sdb/size", "/sys/block/sdc/size", "/sys/block/sdd/size", "/sys/block/sde/size"]);

    assert_eq!(s.nvme_controllers.len(), 1);
    let c = &s.nvme_controllers[0];
    assert_eq!(c.name, "nvme0");
    assert_eq!(c.model.as_deref(), Some("Samsung SSD 970 PRO 512GB"));
    assert_eq!(c.serial.as_deref(), Some("S680HF8N190894I"));
    assert_eq!(c.firmware.as_deref(), Some("1B2QEXP7"));
    assert_eq!(c.cntlid, Some(1997));
    // nvme0n0 is its own; nvme0n1 belongs to nvme-subsys0, which lists nvme0.
    assert_eq!(c.namespaces, ["nvme0n0", "nvme0n1"]);
    assert_eq!(c.nqn.as_deref(), Some("nqn.2014-08.org.nvmexpress:uuid:a34c4f3a-0d6f-5cec-dead-beefcafebabe"));
    assert_eq!((c.transport.as_deref(), c.pci_address.as_deref()), (None, None));
}

#[test]
fn sas_disk_behind_an_expander_in_the_procfs_tree() {
    let (_tmp, root) = procfs_tree();
    // The tree has a real mpt3sas topology (HBA, expander, end devices) but no block device on
    // it: give the SCSI device at 11:0:8:0 one, as the sd driver would.
    let scsi = "sys/devices/pci0000:00/0000:00:03.0/0000:03:00.0/host11/port-11:0/expander-11:0/port-11:0:1/\
                end_device-11:0:1/target11:0:8/11:0:8:0";
    let block = root.join(scsi).join("block/sdz");
    fs::create_dir_all(block.join("queue")).expect("mkdir");
    for (file, value) in [("size", "15628053168"), ("dev", "65:144"), ("ro", "0"), ("removable", "0")] {
        fs::write(block.join(file), format!("{value}\n")).expect("write");
    }
    std::os::unix::fs::symlink("../../../11:0:8:0", block.join("device")).expect("symlink");
    std::os::unix::fs::symlink(format!("../../{scsi}/block/sdz"), root.join("sys/block/sdz")).expect("symlink");

    let inv = inventory(&root);
    let d = inv.storage.disks.iter().find(|d| d.name == "sdz").expect("sdz");
    assert_eq!(d.transport.as_deref(), Some("sas"));
    assert_eq!(d.hctl.as_deref(), Some("11:0:8:0"));
    assert_eq!(d.pci_address.as_deref(), Some("0000:03:00.0"));
    assert_eq!((d.vendor.as_deref(), d.model.as_deref()), (Some("HITACHI"), Some("HUH72808CLAR8000")));
    assert_eq!(d.firmware.as_deref(), Some("M7K0"));
    assert_eq!(d.wwn.as_deref(), Some("0x5000cca26128b1f4"));
    assert_eq!(d.size_bytes, Some(15_628_053_168 * 512));
    // SAS by-path names (sas-exp…-phy…) are not reproduced.
    assert_eq!(d.by_path, None);
    // The text archive turned the page code 0x80 into U+FFFD: refused and recorded, not misread.
    assert_eq!(d.serial, None);
    let pg80 = format!("/{scsi}/vpd_pg80");
    let problem = inv.errors.iter().find(|p| p.path == pg80).expect("vpd_pg80 problem");
    assert_eq!(problem.reason, "invalid contents: page code 0xef, expected 0x80");
}
