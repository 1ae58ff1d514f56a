//! Network interfaces from `/sys/class/net` (kernel Documentation/ABI/testing/sysfs-class-net),
//! with the permanent MAC and driver/firmware versions from ethtool (`ETHTOOL_GPERMADDR`,
//! `ETHTOOL_GDRVINFO`), InfiniBand GUIDs from `/sys/class/infiniband`, and the firmware's names
//! for onboard devices from SMBIOS type 41 (DSP0134 7.42).

use super::{DeviceError, DeviceIo, Reader, hex_colon, is_pci_address};
use crate::model::Nic;
use crate::smbios::Structure;

const NET: &str = "/sys/class/net";
/// ARPHRD_ETHER, ARPHRD_INFINIBAND, ARPHRD_LOOPBACK (include/uapi/linux/if_arp.h).
const ETHER: u64 = 1;
const INFINIBAND: u64 = 32;
const LOOPBACK: u64 = 772;

pub(super) fn collect(r: &mut Reader<'_>, dev: &dyn DeviceIo, s: &[Structure<'_>], out: &mut Vec<Nic>) {
    let onboard = onboard_names(s);
    for name in r.dir(NET) {
        let base = format!("{NET}/{name}");
        let kind = r.opt_u64(&format!("{base}/type"));
        if kind == Some(LOOPBACK) {
            continue;
        }
        let devpath = r.link(&format!("{base}/device"));
        let virtual_device = devpath.is_none();
        // The NIC's own PCI function: the device itself, or for virtio-net the function its
        // virtioN device hangs off. A USB NIC has none (its path passes the USB controller's).
        let pci_address = devpath.as_deref().and_then(|p| {
            let (parent, last) = p.rsplit_once('/')?;
            if is_pci_address(last) {
                Some(last.to_owned())
            } else if last.starts_with("virtio") {
                parent.rsplit('/').next().filter(|c| is_pci_address(c)).map(str::to_owned)
            } else {
                None
            }
        });
        let mut nic = Nic {
            mac: r.opt_string(&format!("{base}/address")),
            link_type: kind.map(|k| match k {
                ETHER => "ethernet".to_owned(),
                INFINIBAND => "infiniband".to_owned(),
                other => other.to_string(),
            }),
            mtu: r.opt_u64(&format!("{base}/mtu")).and_then(|v| u32::try_from(v).ok()),
            operstate: r.opt_string(&format!("{base}/operstate")),
            // carrier, speed and duplex fail with EINVAL while the interface is down: that is
            // "unknown", not a fault.
            carrier: quiet(r, &format!("{base}/carrier")).map(|c| c == "1"),
            speed_mbps: quiet(r, &format!("{base}/speed"))
                .and_then(|v| v.parse::<i64>().ok())
                .and_then(|v| u32::try_from(v).ok()),
            duplex: quiet(r, &format!("{base}/duplex")).filter(|d| d != "unknown"),
            driver: r.link_name(&format!("{base}/device/driver")),
            numa_node: if virtual_device {
                None
            } else {
                r.opt_i64(&format!("{base}/device/numa_node")).and_then(|n| i32::try_from(n).ok()).filter(|&n| n >= 0)
            },
            sriov_total_vfs: r.opt_u64(&format!("{base}/device/sriov_totalvfs")).and_then(|v| u32::try_from(v).ok()),
            sriov_num_vfs: r.opt_u64(&format!("{base}/device/sriov_numvfs")).and_then(|v| u32::try_from(v).ok()),
            firmware_name: pci_address
                .as_ref()
                .and_then(|a| onboard.iter().find(|(b, _)| b == a))
                .map(|(_, n)| n.clone()),
            pci_address,
            virtual_device,
            name: name.clone(),
            ..Nic::default()
        };
        if kind == Some(INFINIBAND) {
            infiniband(r, &base, &mut nic);
        }
        if !virtual_device {
            ethtool(r, dev, &mut nic);
        }
        out.push(nic);
    }
}

/// A read whose failure means "unknown".
fn quiet(r: &Reader<'_>, path: &str) -> Option<String> {
    r.root().read_string(path).ok().filter(|s| !s.is_empty())
}

fn ethtool(r: &mut Reader<'_>, dev: &dyn DeviceIo, nic: &mut Nic) {
    match dev.permanent_mac(&nic.name) {
        // Drivers without a burnt-in address answer zeros.
        Ok(mac) if !mac.is_empty() && mac.iter().any(|&b| b != 0) => nic.permanent_mac = Some(hex_colon(&mac)),
        Ok(_) | Err(DeviceError::Unsupported) => {}
        Err(e) => r.problem(&format!("ethtool:ETHTOOL_GPERMADDR:{}", nic.name), e),
    }
    match dev.driver_info(&nic.name) {
        Ok(info) => {
            let some = |s: String| Some(s).filter(|s| !s.is_empty() && s != "N/A");
            if nic.driver.is_none() {
                nic.driver = some(info.driver);
            }
            nic.driver_version = some(info.version);
            nic.firmware_version = some(info.firmware);
        }
        Err(DeviceError::Unsupported) => {}
        Err(e) => r.problem(&format!("ethtool:ETHTOOL_GDRVINFO:{}", nic.name), e),
    }
}

/// An IPoIB interface: its HCA's node GUID and the GID 0 of its port (`dev_port` is 0-based,
/// InfiniBand ports 1-based).
fn infiniband(r: &mut Reader<'_>, base: &str, nic: &mut Nic) {
    let Some(hca) = r.dir(&format!("{base}/device/infiniband")).into_iter().next() else { return };
    let port = r.opt_u64(&format!("{base}/dev_port")).unwrap_or(0) + 1;
    nic.ib_node_guid = r.opt_string(&format!("/sys/class/infiniband/{hca}/node_guid"));
    nic.ib_port_gid = r.opt_string(&format!("/sys/class/infiniband/{hca}/ports/{port}/gids/0"));
}

/// SMBIOS type 41: reference designation at 0x04, segment/bus/devfn at 0x07-0x0a.
fn onboard_names(s: &[Structure<'_>]) -> Vec<(String, String)> {
    s.iter()
        .filter(|x| x.kind == 41)
        .filter_map(|x| {
            let (name, seg, bus, devfn) = (x.string(0x04)?, x.u16(0x07)?, x.u8(0x09)?, x.u8(0x0a)?);
            if seg == 0xffff || bus == 0xff || devfn == 0xff {
                return None;
            }
            Some((format!("{seg:04x}:{bus:02x}:{:02x}.{}", devfn >> 3, devfn & 7), name))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::SysRoot;
    use std::fs;
    use std::os::unix::fs::symlink;

    /// A class/net entry linked to `devdir` (relative to /sys/devices) the way the kernel does.
    fn nic(root: &std::path::Path, name: &str, devdir: &str) {
        let dev = root.join("sys/devices").join(devdir);
        let net = dev.join("net").join(name);
        fs::create_dir_all(&net).unwrap();
        fs::write(net.join("type"), "1\n").unwrap();
        fs::write(net.join("address"), "52:54:00:00:00:01\n").unwrap();
        let up = "../".repeat(3);
        symlink(format!("{up}{}", dev.file_name().unwrap().to_string_lossy()), net.join("device")).unwrap();
        fs::create_dir_all(root.join("sys/class/net")).unwrap();
        symlink(format!("../../devices/{devdir}/net/{name}"), root.join("sys/class/net").join(name)).unwrap();
    }

    #[test]
    fn pci_addresses_of_pci_virtio_and_usb_nics() {
        let d = tempfile::tempdir().unwrap();
        nic(d.path(), "enp1s0", "pci0000:00/0000:01:00.0");
        nic(d.path(), "eth1", "pci0000:00/0000:00:03.0/virtio2");
        nic(d.path(), "enx1", "pci0000:00/0000:00:14.0/usb1/1-1/1-1:1.0");
        let mut errors = Vec::new();
        let root = SysRoot::new(d.path());
        let mut r = Reader { root: &root, collector: "network", errors: &mut errors };
        let mut out = Vec::new();
        collect(&mut r, &super::super::NoDevices, &[], &mut out);
        let addr = |n: &str| out.iter().find(|x| x.name == n).and_then(|x| x.pci_address.clone());
        assert_eq!(addr("enp1s0").as_deref(), Some("0000:01:00.0"));
        assert_eq!(addr("eth1").as_deref(), Some("0000:00:03.0"));
        assert_eq!(addr("enx1"), None, "a USB NIC is not its controller");
        assert!(out.iter().all(|n| !n.virtual_device));
    }
}
