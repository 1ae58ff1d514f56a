//! One pass over the machine: every collector reads through a [`Reader`] (files under a
//! [`SysRoot`]) and a [`DeviceIo`] (ioctls), records what failed in the inventory's `errors`, and
//! carries on.

mod bmc;
mod buses;
mod cpu;
mod dmi;
mod efi;
mod memory;
mod misc;
mod net;
mod pci;
mod storage;

use std::fmt::Display;
use std::time::{Duration, Instant};

use crate::model::{Inventory, Problem, SCHEMA, Timing};
use crate::smbios::{self, Structure, Version};
use crate::sysroot::{ReadError, Reason, SysRoot};

/// What `ETHTOOL_GDRVINFO` answers.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct DriverInfo {
    /// Driver name.
    pub driver: String,
    /// Driver version.
    pub version: String,
    /// Firmware version.
    pub firmware: String,
    /// Bus address (`0000:00:03.0`).
    pub bus_info: String,
}

/// What `ETHTOOL_GSET` answers that sysfs does not.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct LinkSettings {
    /// Autonegotiation enabled.
    pub autoneg: bool,
    /// The connector, `PORT_*` of linux/ethtool.h (0 twisted pair, 3 fibre, 0xef none, ...).
    pub port: u8,
}

/// One IPv4 address of an interface, as `SIOCGIFCONF` and `SIOCGIFNETMASK` give it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Ipv4Entry {
    /// The interface's name, or the address's label (`eth0:1`) for an alias.
    pub ifname: String,
    /// The address.
    pub address: [u8; 4],
    /// Its netmask.
    pub netmask: [u8; 4],
}

/// Why a device call failed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DeviceError {
    /// The device or interface does not support the call (or there is no such device).
    Unsupported,
    /// No answer within the time allowed.
    Timeout,
    /// Any other failure, described.
    Failed(String),
}

impl std::fmt::Display for DeviceError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            DeviceError::Unsupported => f.write_str("not supported"),
            DeviceError::Timeout => f.write_str("timed out"),
            DeviceError::Failed(why) => f.write_str(why),
        }
    }
}

/// The calls that are not file reads: ethtool and IPMI ioctls. The live machine implements them
/// with ioctls ([`crate::live::Host`]); tests answer them from tables; a fixture tree with no
/// devices uses [`NoDevices`].
pub trait DeviceIo {
    /// `ETHTOOL_GPERMADDR`: the interface's permanent hardware address.
    fn permanent_mac(&self, ifname: &str) -> Result<Vec<u8>, DeviceError>;
    /// `ETHTOOL_GDRVINFO`.
    fn driver_info(&self, ifname: &str) -> Result<DriverInfo, DeviceError>;
    /// Whether an IPMI device node exists (`/dev/ipmi0`), by its path.
    fn ipmi_device(&self) -> Option<String>;
    /// One IPMI request to the BMC over the system interface; the reply's data with the
    /// completion code first. Implementations bound the wait by `timeout`.
    fn ipmi(&self, netfn: u8, cmd: u8, data: &[u8], timeout: Duration) -> Result<Vec<u8>, DeviceError>;
    /// `ETHTOOL_GSET`: autonegotiation and the connector.
    fn link_settings(&self, ifname: &str) -> Result<LinkSettings, DeviceError> {
        let _ = ifname;
        Err(DeviceError::Unsupported)
    }
    /// Every IPv4 address on the machine's interfaces (one `SIOCGIFCONF`).
    fn ipv4_addresses(&self) -> Result<Vec<Ipv4Entry>, DeviceError> {
        Err(DeviceError::Unsupported)
    }
}

/// A machine with no devices to ask: fixture trees.
#[derive(Debug, Clone, Copy, Default)]
pub struct NoDevices;

impl DeviceIo for NoDevices {
    fn permanent_mac(&self, _: &str) -> Result<Vec<u8>, DeviceError> {
        Err(DeviceError::Unsupported)
    }
    fn driver_info(&self, _: &str) -> Result<DriverInfo, DeviceError> {
        Err(DeviceError::Unsupported)
    }
    fn ipmi_device(&self) -> Option<String> {
        None
    }
    fn ipmi(&self, _: u8, _: u8, _: &[u8], _: Duration) -> Result<Vec<u8>, DeviceError> {
        Err(DeviceError::Unsupported)
    }
}

/// Options for one collection.
#[derive(Debug, Clone)]
pub struct Options {
    /// recon's version, written into the run metadata.
    pub agent_version: String,
    /// Wall-clock start, milliseconds since the epoch (the caller reads the clock).
    pub started_unix_ms: u64,
    /// Bound on each IPMI request.
    pub ipmi_timeout: Duration,
    /// The root is this running machine: ask CPUID and uname(2) too. Off for fixture trees,
    /// whose CPU is not the one the test runs on.
    pub live: bool,
}

impl Default for Options {
    fn default() -> Options {
        Options { agent_version: String::new(), started_unix_ms: 0, ipmi_timeout: Duration::from_secs(2), live: false }
    }
}

/// Collects everything, in one pass. Never fails: what could not be read is in `errors`.
pub fn collect(root: &SysRoot, dev: &dyn DeviceIo, opts: &Options) -> Inventory {
    let start = Instant::now();
    let mut inv = Inventory { schema: SCHEMA, ..Inventory::default() };
    let mut errors = Vec::new();
    let mut r = Reader { root, collector: "smbios", errors: &mut errors };

    let mut timings = Vec::new();
    let mut lap = Lap { since: start, timings: &mut timings };

    let tables = Tables::read(&mut r);
    let structs = tables.structures(&mut r);
    r.collector = "smbios";
    dmi::system(&mut r, &tables, &structs, &mut inv);
    lap.done("smbios");
    r.collector = "firmware";
    efi::collect(&mut r, &mut inv.firmware);
    lap.done(r.collector);
    r.collector = "cpu";
    cpu::collect(&mut r, &structs, opts, &mut inv.cpu);
    lap.done(r.collector);
    r.collector = "memory";
    memory::collect(&mut r, &structs, &mut inv.memory);
    lap.done(r.collector);
    r.collector = "pci";
    pci::collect(&mut r, &structs, &mut inv);
    lap.done(r.collector);
    r.collector = "storage";
    storage::collect(&mut r, &mut inv.storage);
    lap.done(r.collector);
    r.collector = "network";
    net::collect(&mut r, dev, &structs, &mut inv.network);
    lap.done(r.collector);
    r.collector = "bmc";
    bmc::collect(&mut r, dev, &structs, opts.ipmi_timeout, &mut inv.bmc);
    lap.done(r.collector);
    r.collector = "misc";
    misc::collect(&mut r, &structs, &mut inv);
    lap.done(r.collector);
    r.collector = "buses";
    inv.virtio = buses::virtio(&mut r);
    inv.pnp = buses::pnp(&mut r);
    inv.input = buses::input(&mut r);
    lap.done(r.collector);
    r.collector = "run";
    misc::run(&mut r, opts, &mut inv);
    lap.done(r.collector);
    inv.run.timings = timings;
    if let Some(mac) = inv.run.boot_mac.clone() {
        for nic in &mut inv.network {
            nic.boot = nic.mac.as_deref() == Some(mac.as_str()) || nic.permanent_mac.as_deref() == Some(mac.as_str());
        }
    }
    inv.errors = errors;
    inv.run.duration_us = u64::try_from(start.elapsed().as_micros()).unwrap_or(u64::MAX);
    inv
}

/// The time since the last lap, recorded under a collector's name.
struct Lap<'a> {
    since: Instant,
    timings: &'a mut Vec<Timing>,
}

impl Lap<'_> {
    fn done(&mut self, collector: &str) {
        let now = Instant::now();
        let us = u64::try_from(now.duration_since(self.since).as_micros()).unwrap_or(u64::MAX);
        self.timings.push(Timing { collector: collector.to_owned(), us });
        self.since = now;
    }
}

/// Reads for one collector: files under the root, with failures recorded.
///
/// `opt_*` reads are for attributes a machine may simply not have (a virtio disk has no
/// `vpd_pg80`): absence is silent, any other failure is recorded. `req_*` reads are for
/// attributes every such device has: absence is recorded too.
pub(crate) struct Reader<'a> {
    root: &'a SysRoot,
    collector: &'static str,
    errors: &'a mut Vec<Problem>,
}

impl Reader<'_> {
    pub(crate) fn problem(&mut self, path: &str, reason: impl Display) {
        self.errors.push(Problem {
            collector: self.collector.to_owned(),
            path: path.to_owned(),
            reason: reason.to_string(),
        });
    }

    fn note<T>(&mut self, res: Result<T, ReadError>, required: bool) -> Option<T> {
        match res {
            Ok(v) => Some(v),
            Err(e) if e.reason == Reason::Missing && !required => None,
            Err(e) => {
                self.problem(&e.path, e.reason);
                None
            }
        }
    }

    pub(crate) fn root(&self) -> &SysRoot {
        self.root
    }

    pub(crate) fn exists(&self, path: &str) -> bool {
        self.root.exists(path)
    }

    /// A text attribute; empty means absent.
    pub(crate) fn opt_string(&mut self, path: &str) -> Option<String> {
        let res = self.root.read_string(path);
        self.note(res, false).filter(|s| !s.is_empty())
    }

    pub(crate) fn req_string(&mut self, path: &str) -> Option<String> {
        let res = self.root.read_string(path);
        self.note(res, true).filter(|s| !s.is_empty())
    }

    pub(crate) fn opt_u64(&mut self, path: &str) -> Option<u64> {
        let res = self.root.read_u64(path);
        self.note(res, false)
    }

    pub(crate) fn req_u64(&mut self, path: &str) -> Option<u64> {
        let res = self.root.read_u64(path);
        self.note(res, true)
    }

    /// A number that may legitimately read as `-1` or text (`numa_node`, `speed`): parsed as
    /// i64, no error for contents that are not a number.
    pub(crate) fn opt_i64(&mut self, path: &str) -> Option<i64> {
        self.opt_string(path)?.parse().ok()
    }

    pub(crate) fn opt_bytes(&mut self, path: &str) -> Option<Vec<u8>> {
        let res = self.root.read_bytes(path);
        self.note(res, false)
    }

    /// A directory's entries; a missing directory is an empty list.
    pub(crate) fn dir(&mut self, path: &str) -> Vec<String> {
        let res = self.root.read_dir(path);
        self.note(res, false).unwrap_or_default()
    }

    /// A symlink's target as a live path.
    pub(crate) fn link(&mut self, path: &str) -> Option<String> {
        let res = self.root.read_link(path);
        self.note(res, false)
    }

    /// The last component of a symlink's target (`driver` -> `e1000e`).
    pub(crate) fn link_name(&mut self, path: &str) -> Option<String> {
        let res = self.root.link_name(path);
        match self.note(res, false) {
            Some(Some(name)) => Some(name),
            Some(None) => {
                self.link(path).and_then(|l| l.rsplit('/').next().map(str::to_owned)).filter(|s| !s.is_empty())
            }
            None => None,
        }
    }
}

/// The SMBIOS table as read from `/sys/firmware/dmi/tables`.
pub(crate) struct Tables {
    pub(crate) version: Option<Version>,
    data: Vec<u8>,
}

impl Tables {
    const EP: &'static str = "/sys/firmware/dmi/tables/smbios_entry_point";
    const DMI: &'static str = "/sys/firmware/dmi/tables/DMI";

    fn read(r: &mut Reader<'_>) -> Tables {
        let mut version = None;
        let mut limit = None;
        if let Some(ep) = r.opt_bytes(Self::EP) {
            match smbios::EntryPoint::parse(&ep) {
                Ok(ep) => {
                    version = Some(ep.version);
                    limit = usize::try_from(ep.table_len).ok();
                }
                Err(e) => r.problem(Self::EP, e),
            }
        }
        let mut data = r.opt_bytes(Self::DMI).unwrap_or_default();
        // A 2.x table length is exact; a 3.x one is a maximum. Either way never read past it.
        if let Some(limit) = limit {
            data.truncate(limit);
        }
        Tables { version, data }
    }

    fn structures(&self, r: &mut Reader<'_>) -> Vec<Structure<'_>> {
        let (list, err) = smbios::structures(&self.data);
        if let Some(e) = err {
            r.problem(Self::DMI, e);
        }
        list
    }
}

/// Parses a kernel CPU list (`0-3,8,10-11`) into CPU numbers; `None` if malformed.
pub(crate) fn parse_cpulist(s: &str) -> Option<Vec<u32>> {
    let mut out = Vec::new();
    for part in s.trim().split(',').filter(|p| !p.is_empty()) {
        match part.split_once('-') {
            Some((a, b)) => {
                let (a, b): (u32, u32) = (a.parse().ok()?, b.parse().ok()?);
                if b < a || b - a > 1 << 16 {
                    return None;
                }
                out.extend(a..=b);
            }
            None => out.push(part.parse().ok()?),
        }
    }
    Some(out)
}

/// A PCI address from a sysfs device path: the last `dddd:bb:dd.f` component.
pub(crate) fn pci_address_of(devpath: &str) -> Option<String> {
    devpath.split('/').rev().find(|c| is_pci_address(c)).map(str::to_owned)
}

/// One or more decimal digits and nothing else (the `3` of `host3`, `input3`, `nvme3`).
pub(crate) fn is_number(s: &str) -> bool {
    !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit())
}

pub(crate) fn is_pci_address(c: &str) -> bool {
    let b = c.as_bytes();
    b.len() == 12
        && b[4] == b':'
        && b[7] == b':'
        && b[10] == b'.'
        && b.iter().enumerate().all(|(i, &x)| matches!(i, 4 | 7 | 10) || x.is_ascii_hexdigit())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cpulists() {
        assert_eq!(parse_cpulist("0-3,8,10-11\n"), Some(vec![0, 1, 2, 3, 8, 10, 11]));
        assert_eq!(parse_cpulist(""), Some(vec![]));
        assert_eq!(parse_cpulist("3-1"), None);
        assert_eq!(parse_cpulist("x"), None);
    }

    #[test]
    fn pci_addresses_in_paths() {
        assert_eq!(
            pci_address_of("/sys/devices/pci0000:00/0000:00:1c.0/0000:03:00.0/net/eth0").as_deref(),
            Some("0000:03:00.0")
        );
        assert_eq!(pci_address_of("/sys/devices/virtual/net/lo"), None);
        assert!(!is_pci_address("pci0000:00"));
    }
}
