//! NVMe: a namespace's identity and identifiers, and the controllers.
//!
//! NVMe controllers are the entries of `/sys/class/nvme`. A controller's namespaces are its own
//! block devices, the namespaces of its hidden multipath paths, and the namespaces of the
//! subsystem that lists it in `/sys/class/nvme-subsystem`.

use super::block::set_sysfs_serial;
use super::{Reader, fit};
use crate::collect::{is_number, is_pci_address, pci_address_of};
use crate::model::{Disk, NvmeController};

pub(super) const NVME: &str = "/sys/class/nvme";
const NVME_SUBSYSTEMS: &str = "/sys/class/nvme-subsystem";

/// NVMe: identity from the controller (or subsystem), ids from the namespace.
pub(super) fn nvme_namespace(r: &mut Reader<'_>, block: &str, device: &str, d: &mut Disk) {
    d.model = r.opt_string(&format!("{device}/model"));
    d.firmware = r.opt_string(&format!("{device}/firmware_rev"));
    set_sysfs_serial(r, &format!("{device}/serial"), d);
    d.wwn = r.opt_string(&format!("{block}/wwid"));
    let eui_path = format!("{block}/eui");
    d.eui = r.opt_string(&eui_path).and_then(|s| hex_id(r, &eui_path, &s, 8));
    let nguid_path = format!("{block}/nguid");
    d.nguid = r.opt_string(&nguid_path).and_then(|s| hex_id(r, &nguid_path, &s, 16));
    let uuid_path = format!("{block}/uuid");
    d.uuid = r.opt_string(&uuid_path).and_then(|s| {
        let hex = hex_id(r, &uuid_path, &s, 16)?;
        // With no UUID the kernel shows the NGUID here instead (nvme `uuid_show`).
        (d.nguid.as_deref() != Some(hex.as_str())).then(|| s.to_ascii_lowercase())
    });
}

/// An identifier the kernel prints as hex bytes with separators (`00 26 b7 …`, or UUID
/// dashes): contiguous lower-case hex, `None` when all zero (the namespace has none).
fn hex_id(r: &mut Reader<'_>, path: &str, s: &str, len: usize) -> Option<String> {
    let hex: String = s.chars().filter(|c| *c != ' ' && *c != '-').collect::<String>().to_ascii_lowercase();
    if hex.len() != len * 2 || !hex.bytes().all(|b| b.is_ascii_hexdigit()) {
        r.problem(path, "invalid contents");
        return None;
    }
    hex.bytes().any(|b| b != b'0').then_some(hex)
}

//--- NVMe controllers

/// `/sys/class/nvme-subsystem`: which controllers and namespaces each subsystem has.
pub(super) struct Subsystems {
    list: Vec<Subsystem>,
}

struct Subsystem {
    name: String,
    controllers: Vec<String>,
    namespaces: Vec<String>,
}

impl Subsystems {
    pub(super) fn read(r: &mut Reader<'_>) -> Subsystems {
        let mut list = Vec::new();
        for name in r.dir(NVME_SUBSYSTEMS) {
            let entries = r.dir(&format!("{NVME_SUBSYSTEMS}/{name}"));
            let mut controllers: Vec<String> = entries.iter().filter(|e| is_controller_name(e)).cloned().collect();
            controllers.sort_by_key(|c| instance(c));
            let namespaces = entries.into_iter().filter(|e| is_namespace_name(e)).collect();
            list.push(Subsystem { name, controllers, namespaces });
        }
        Subsystems { list }
    }

    pub(super) fn first_controller(&self, subsys: &str) -> Option<String> {
        self.list.iter().find(|s| s.name == subsys)?.controllers.first().cloned()
    }

    fn of_controller(&self, ctrl: &str) -> Option<&Subsystem> {
        self.list.iter().find(|s| s.controllers.iter().any(|c| c == ctrl))
    }
}

/// The number in `nvme12`, for ordering.
fn instance(ctrl: &str) -> u32 {
    ctrl.strip_prefix("nvme").and_then(|n| n.parse().ok()).unwrap_or(u32::MAX)
}

/// `nvme0`.
pub(super) fn is_controller_name(s: &str) -> bool {
    s.strip_prefix("nvme").is_some_and(is_number)
}

/// `nvme0n1`.
fn is_namespace_name(s: &str) -> bool {
    s.strip_prefix("nvme").and_then(|s| s.split_once('n')).is_some_and(|(c, n)| is_number(c) && is_number(n))
}

/// `nvme0c1n1`: one controller's path to a multipath namespace.
pub(super) fn is_path_name(s: &str) -> bool {
    path_head(s).is_some()
}

/// The namespace a path device belongs to: `nvme0c1n1` -> `nvme0n1`.
fn path_head(s: &str) -> Option<String> {
    let rest = s.strip_prefix("nvme")?;
    let (subsys, rest) = rest.split_once('c')?;
    let (ctrl, ns) = rest.split_once('n')?;
    (is_number(subsys) && is_number(ctrl) && is_number(ns)).then(|| format!("nvme{subsys}n{ns}"))
}

pub(super) fn controller(r: &mut Reader<'_>, name: &str, subsystems: &Subsystems) -> NvmeController {
    let base = format!("{NVME}/{name}");
    let mut c = NvmeController { name: name.to_owned(), ..NvmeController::default() };
    c.model = r.opt_string(&format!("{base}/model"));
    c.serial = r.opt_string(&format!("{base}/serial"));
    c.firmware = r.opt_string(&format!("{base}/firmware_rev"));
    c.transport = r.opt_string(&format!("{base}/transport"));
    let cntlid = format!("{base}/cntlid");
    c.cntlid = r.opt_u64(&cntlid).and_then(|v| fit(r, &cntlid, v));
    let subsystem = subsystems.of_controller(name);
    c.nqn = r.opt_string(&format!("{base}/subsysnqn"));
    if c.nqn.is_none() {
        c.nqn = subsystem.and_then(|s| r.opt_string(&format!("{NVME_SUBSYSTEMS}/{}/subsysnqn", s.name)));
    }
    c.pci_address = r.root().read_link(&base).ok().and_then(|p| pci_address_of(&p));
    if c.pci_address.is_none() && c.transport.as_deref() == Some("pcie") {
        c.pci_address = r.opt_string(&format!("{base}/address")).filter(|a| is_pci_address(a));
    }
    let mut namespaces = Vec::new();
    for e in r.dir(&base) {
        if is_namespace_name(&e) {
            namespaces.push(e);
        } else if let Some(head) = path_head(&e) {
            namespaces.push(head);
        }
    }
    if let Some(s) = subsystem {
        namespaces.extend(s.namespaces.iter().cloned());
    }
    namespaces.sort();
    namespaces.dedup();
    c.namespaces = namespaces;
    c
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::collect::storage::tree::Tree;
    use crate::model::Skipped;

    #[test]
    fn nvme_names() {
        assert!(is_controller_name("nvme12"));
        assert!(!is_controller_name("nvme-subsys0"));
        assert!(is_namespace_name("nvme0n1") && !is_namespace_name("nvme0c1n1") && !is_namespace_name("nvme0"));
        assert_eq!(path_head("nvme0c1n2").as_deref(), Some("nvme0n2"));
        assert_eq!(path_head("nvme0n1"), None);
    }

    #[test]
    fn nvme_multipath_namespace_and_its_hidden_paths() {
        let t = Tree::new();
        let ctrl = "/sys/devices/pci0000:00/0000:00:1d.0/0000:3d:00.0/nvme/nvme0";
        let subsys = "/sys/devices/virtual/nvme-subsystem/nvme-subsys0";
        t.file(&format!("{ctrl}/model"), "Dual Port SSD   \n").file(&format!("{ctrl}/serial"), "S1\n");
        t.file(&format!("{ctrl}/transport"), "pcie\n").file(&format!("{ctrl}/cntlid"), "65\n");
        t.file(&format!("{ctrl}/subsysnqn"), "nqn.2014-08.org.example:ssd\n");
        t.link("/sys/class/nvme/nvme0", ctrl);
        // The path device: hidden, under the controller.
        t.file(&format!("{ctrl}/nvme0c0n1/hidden"), "1\n").file(&format!("{ctrl}/nvme0c0n1/size"), "8\n");
        t.link("/sys/block/nvme0c0n1", &format!("{ctrl}/nvme0c0n1"));
        // The namespace: under the subsystem, which links the controller.
        for (f, v) in [("model", "Dual Port SSD"), ("serial", "S1"), ("firmware_rev", "1.0")] {
            t.file(&format!("{subsys}/{f}"), format!("{v}\n"));
        }
        t.link(&format!("{subsys}/nvme0"), ctrl);
        let head = format!("{subsys}/nvme0n1");
        t.file(&format!("{head}/size"), "2048\n").file(&format!("{head}/nsid"), "1\n");
        t.file(&format!("{head}/wwid"), "eui.36344630526001090025384700000001\n");
        t.file(&format!("{head}/nguid"), "36344630-5260-0109-0025-384700000001\n");
        t.file(&format!("{head}/uuid"), "36344630-5260-0109-0025-384700000001\n");
        t.link(&format!("{head}/device"), subsys);
        t.link("/sys/block/nvme0n1", &head);
        t.link("/sys/class/nvme-subsystem/nvme-subsys0", subsys);

        let (s, errors) = t.collect();
        assert_eq!(errors, vec![]);
        assert_eq!(s.skipped, vec![Skipped { name: "nvme0c0n1".into(), why: "nvme multipath path".into() }]);
        let d = &s.disks[0];
        assert_eq!(d.name, "nvme0n1");
        assert_eq!(d.nvme_controller.as_deref(), Some("nvme0"));
        assert_eq!(d.pci_address.as_deref(), Some("0000:3d:00.0"));
        assert_eq!(d.serial.as_deref(), Some("S1"));
        assert_eq!(d.nguid.as_deref(), Some("36344630526001090025384700000001"));
        // The kernel echoes the NGUID as `uuid` when there is none.
        assert_eq!(d.uuid, None);
        assert_eq!(d.by_path, None);
        let c = &s.nvme_controllers[0];
        assert_eq!(c.namespaces, vec!["nvme0n1".to_owned()]);
        assert_eq!((c.cntlid, c.pci_address.as_deref()), (Some(65), Some("0000:3d:00.0")));
        assert_eq!(c.model.as_deref(), Some("Dual Port SSD"));
    }
}
