//! Network interfaces from `/sys/class/net` (kernel Documentation/ABI/testing/sysfs-class-net),
//! with the permanent MAC and driver/firmware versions from ethtool (`ETHTOOL_GPERMADDR`,
//! `ETHTOOL_GDRVINFO`), InfiniBand GUIDs from `/sys/class/infiniband`, and the firmware's names
//! for onboard devices from SMBIOS type 41 (DSP0134 7.42).
//!
//! Flags are sysfs `flags` named after linux/if.h's `IFF_*` bits; IPv6 addresses come from
//! `/proc/net/if_inet6` (one line per address: address, ifindex, prefix length, scope, flags,
//! name); IPv4 addresses from one `SIOCGIFCONF` (procfs has no per-interface IPv4 list);
//! autonegotiation and the connector from `ETHTOOL_GSET`.

use super::{DeviceError, DeviceIo, Ipv4Entry, Reader, is_pci_address};
use crate::model::{IpAddress, Nic};
use crate::octets;
use crate::smbios::Structure;

const NET: &str = "/sys/class/net";
/// ARPHRD_ETHER, ARPHRD_INFINIBAND, ARPHRD_LOOPBACK (include/uapi/linux/if_arp.h).
const ETHER: u64 = 1;
const INFINIBAND: u64 = 32;
const LOOPBACK: u64 = 772;

pub(super) fn collect(r: &mut Reader<'_>, dev: &dyn DeviceIo, s: &[Structure<'_>], out: &mut Vec<Nic>) {
    let onboard = onboard_names(s);
    let ipv6 = r.opt_string("/proc/net/if_inet6").map(|t| parse_if_inet6(&t)).unwrap_or_default();
    let names = r.dir(NET);
    // Asked once for the machine, and only when there is a NIC to give addresses to.
    let ipv4 = if names.is_empty() {
        Vec::new()
    } else {
        match dev.ipv4_addresses() {
            Ok(list) => list,
            Err(DeviceError::Unsupported) => Vec::new(),
            Err(e) => {
                r.problem("ioctl:SIOCGIFCONF", e);
                Vec::new()
            }
        }
    };
    for name in names {
        let base = format!("{NET}/{name}");
        let kind = r.opt_u64(&format!("{base}/type"));
        if kind == Some(LOOPBACK) {
            continue;
        }
        let flags_path = format!("{base}/flags");
        let flags = r.opt_u64(&flags_path).map(flag_names).unwrap_or_default();
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
            flags,
            ipv4: ipv4_of(&ipv4, &name),
            ipv6: ipv6.iter().filter(|(n, _)| *n == name).map(|(_, a)| a.clone()).collect(),
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
        Ok(mac) if !mac.is_empty() && mac.iter().any(|&b| b != 0) => nic.permanent_mac = Some(octets::hex(&mac, ":")),
        Ok(_) | Err(DeviceError::Unsupported) => {}
        Err(e) => r.problem(&format!("ethtool:ETHTOOL_GPERMADDR:{}", nic.name), e),
    }
    match dev.link_settings(&nic.name) {
        Ok(l) => {
            nic.autonegotiation = Some(l.autoneg);
            nic.port = Some(port_name(l.port));
        }
        Err(DeviceError::Unsupported) => {}
        Err(e) => r.problem(&format!("ethtool:ETHTOOL_GSET:{}", nic.name), e),
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

/// `IFF_*` (linux/if.h) by name, lowest bit first; unknown bits as `0xN`.
fn flag_names(bits: u64) -> Vec<String> {
    const NAMES: [&str; 19] = [
        "up",
        "broadcast",
        "debug",
        "loopback",
        "pointopoint",
        "notrailers",
        "running",
        "noarp",
        "promisc",
        "allmulti",
        "master",
        "slave",
        "multicast",
        "portsel",
        "automedia",
        "dynamic",
        "lower_up",
        "dormant",
        "echo",
    ];
    (0..64)
        .filter(|b| bits & (1 << b) != 0)
        .map(|b| NAMES.get(b).map_or_else(|| format!("0x{:x}", 1u64 << b), |n| (*n).to_owned()))
        .collect()
}

/// `PORT_*` of linux/ethtool.h.
fn port_name(port: u8) -> String {
    match port {
        0x00 => "tp".to_owned(),
        0x01 => "aui".to_owned(),
        0x02 => "mii".to_owned(),
        0x03 => "fibre".to_owned(),
        0x04 => "bnc".to_owned(),
        0x05 => "da".to_owned(),
        0xef => "none".to_owned(),
        0xff => "other".to_owned(),
        p => format!("0x{p:02x}"),
    }
}

/// This interface's IPv4 addresses: its own and its aliases' (`eth0:1`).
fn ipv4_of(all: &[Ipv4Entry], name: &str) -> Vec<IpAddress> {
    all.iter()
        .filter(|e| e.ifname == name || e.ifname.split_once(':').is_some_and(|(n, _)| n == name))
        .map(|e| IpAddress {
            address: std::net::Ipv4Addr::from(e.address).to_string(),
            prefix_len: u32::from_be_bytes(e.netmask).count_ones() as u8,
            scope: None,
        })
        .collect()
}

/// `/proc/net/if_inet6`: `fe800000000000000000000000000001 02 40 20 80 eth0` (address,
/// ifindex, prefix length and scope in hex, flags, name). Lines that do not fit are skipped.
pub(crate) fn parse_if_inet6(text: &str) -> Vec<(String, IpAddress)> {
    let mut out = Vec::new();
    for line in text.lines() {
        let f: Vec<&str> = line.split_whitespace().collect();
        let [hex, _, plen, scope, _, name] = f[..] else { continue };
        let (Ok(raw), Ok(plen), Ok(scope)) =
            (u128::from_str_radix(hex, 16), u8::from_str_radix(plen, 16), u8::from_str_radix(scope, 16))
        else {
            continue;
        };
        if hex.len() != 32 {
            continue;
        }
        // IPV6_ADDR_SCOPE_* of the kernel's ipv6 address type (net/ipv6/addrconf.c).
        let scope = match scope & 0xf0 {
            0x00 => "global",
            0x10 => "host",
            0x20 => "link",
            0x40 => "site",
            0x80 => "compat",
            _ => "other",
        };
        let address = IpAddress {
            address: std::net::Ipv6Addr::from(raw).to_string(),
            prefix_len: plen,
            scope: Some(scope.to_owned()),
        };
        out.push((name.to_owned(), address));
    }
    out
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
    fn flags_ports_and_addresses() {
        assert_eq!(flag_names(0x1003), ["up", "broadcast", "multicast"]);
        assert_eq!(flag_names(0x1_0000_0000), ["0x100000000"]);
        assert_eq!((port_name(0), port_name(0xef), port_name(0x42)), ("tp".into(), "none".into(), "0x42".into()));
        // This machine's (a Firecracker guest's) /proc/net/if_inet6, and a line cut short.
        let text = "fd000000000000000000000000000002 04 40 00 82     eth0\n\
                    fe8000000000000000fc00fffe000001 04 40 20 80     eth0\n\
                    00000000000000000000000000000001 01 80 10 80       lo\n\
                    fe80 04 40\n";
        let got = parse_if_inet6(text);
        let shown: Vec<_> =
            got.iter().map(|(n, a)| format!("{n} {}/{} {:?}", a.address, a.prefix_len, a.scope)).collect();
        assert_eq!(
            shown,
            [
                "eth0 fd00::2/64 Some(\"global\")",
                "eth0 fe80::fc:ff:fe00:1/64 Some(\"link\")",
                "lo ::1/128 Some(\"host\")"
            ]
        );
        let all = [
            Ipv4Entry { ifname: "eth0".into(), address: [192, 0, 2, 2], netmask: [255, 255, 255, 0] },
            Ipv4Entry { ifname: "eth0:1".into(), address: [198, 51, 100, 7], netmask: [255, 255, 255, 255] },
            Ipv4Entry { ifname: "eth01".into(), address: [203, 0, 113, 1], netmask: [255, 0, 0, 0] },
        ];
        let eth0: Vec<_> =
            ipv4_of(&all, "eth0").into_iter().map(|a| format!("{}/{}", a.address, a.prefix_len)).collect();
        assert_eq!(eth0, ["192.0.2.2/24", "198.51.100.7/32"]);
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
