//! The inventory a peer uploads and the master keeps: one [`Inventory`] per node.
//!
//! Rules the types follow:
//! - integer units, named in the field: `_bytes`, `_hz`, `_mbps` (Mb/s), `_mts` (MT/s);
//! - `Option` for every value a machine may lack; nothing is invented to fill a gap;
//! - stable identities kept raw (SMBIOS UUID, serials, WWN/EUI, permanent MAC, PCI address,
//!   numeric PCI/USB ids); names are added by [`crate::names`] where the report is made;
//! - no `skip_serializing_if`, `flatten` or untagged enums: postcard, the upload format, is not
//!   self-describing, and the same types must round-trip through it and through JSON;
//! - `errors` records every read that failed for a reason other than "this machine has no such
//!   thing", so a degraded field is visible instead of silently empty.
//!
//! [`SCHEMA`] changes whenever a field is added, removed or changes meaning. A field is only
//! ever added with `#[serde(default)]`, so JSON written at an older schema still reads (the new
//! fields empty); postcard has no field names and reads at [`SCHEMA`] only.
//!
//! Schemas: 1, the first; 2 added `run.timings` and `run.kernel_abi`, `pci[].config`, the
//! addresses, flags, autonegotiation and port of `network[]`, `partitions` and `mounts` of
//! `storage.disks[]`, and the `virtio`, `pnp` and `input` device lists.

use serde::{Deserialize, Serialize};

/// The schema version written into every inventory.
pub const SCHEMA: u32 = 2;

/// The oldest schema whose JSON reads as an [`Inventory`] of this one.
pub const OLDEST_JSON_SCHEMA: u32 = 1;

/// Everything recon learned about one machine.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Inventory {
    /// [`SCHEMA`] at the time of writing.
    pub schema: u32,
    /// How, when and by what this inventory was taken.
    pub run: Run,
    /// System, baseboard and chassis identity.
    pub system: System,
    /// Firmware and boot state.
    pub firmware: Firmware,
    /// Processors.
    pub cpu: Cpu,
    /// Memory.
    pub memory: Memory,
    /// Block devices and NVMe controllers.
    pub storage: Storage,
    /// Network interfaces (loopback left out).
    pub network: Vec<Nic>,
    /// Every PCI function.
    pub pci: Vec<PciDevice>,
    /// Display and processing accelerators (PCI class 03 and 12).
    pub gpus: Vec<Gpu>,
    /// The TPM, if the kernel sees one.
    pub tpm: Option<Tpm>,
    /// The baseboard management controller.
    pub bmc: Bmc,
    /// Power supplies (SMBIOS type 39).
    pub power_supplies: Vec<PowerSupply>,
    /// USB devices.
    pub usb: Vec<UsbDevice>,
    /// virtio devices (`/sys/bus/virtio/devices`): what runs on each virtio PCI function.
    #[serde(default)]
    pub virtio: Vec<VirtioDevice>,
    /// Plug and Play devices the firmware describes (`/sys/bus/pnp/devices`): serial ports,
    /// PS/2 controllers, the RTC, ...
    #[serde(default)]
    pub pnp: Vec<PnpDevice>,
    /// Input devices (`/sys/class/input`): keyboards, mice, buttons.
    #[serde(default)]
    pub input: Vec<InputDevice>,
    /// Reads that failed, per collector.
    pub errors: Vec<Problem>,
}

/// One failed read: which collector, what it read, why it failed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Problem {
    /// The collector (`smbios`, `cpu`, `storage`, ...).
    pub collector: String,
    /// The path or device as the live machine names it, or the ioctl.
    pub path: String,
    /// Why (`missing`, `permission denied`, `invalid contents`, a table error, a timeout).
    pub reason: String,
}

/// Where a value came from, when more than one source can give it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Source {
    /// Decoded from the SMBIOS table (`/sys/firmware/dmi/tables/DMI`).
    Smbios,
    /// The kernel's DMI attributes (`/sys/class/dmi/id`), when the table is unreadable.
    DmiId,
    /// sysfs attribute.
    Sysfs,
    /// SCSI VPD page 0x80 (unit serial number).
    VpdPg80,
    /// SCSI VPD page 0x83 (device identification).
    VpdPg83,
    /// An ioctl (ethtool, IPMI).
    Ioctl,
    /// The CPUID instruction.
    Cpuid,
    /// `/proc/cpuinfo`.
    Cpuinfo,
}

/// Run metadata.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Run {
    /// recon's version.
    pub agent_version: String,
    /// When collection started, milliseconds since the Unix epoch.
    pub started_unix_ms: u64,
    /// How long collection took, microseconds.
    pub duration_us: u64,
    /// The host name (`/proc/sys/kernel/hostname`).
    pub hostname: Option<String>,
    /// The kernel release (`/proc/sys/kernel/osrelease`).
    pub kernel_release: Option<String>,
    /// The kernel build (`/proc/sys/kernel/version`).
    pub kernel_version: Option<String>,
    /// The kernel command line.
    pub cmdline: Option<String>,
    /// The MAC the node PXE-booted from (`BOOTIF=01-aa-bb-...` on the command line).
    pub boot_mac: Option<String>,
    /// The image this run booted (`root=live:URL`), if it is a recon live boot.
    pub live_root: Option<String>,
    /// Where `duration_us` went, collector by collector, in the order they ran (schema 2).
    #[serde(default)]
    pub timings: Vec<Timing>,
    /// The kernel's ABI switches (the entries of `/proc/sys/abi`: `vsyscall32` where 32-bit
    /// processes can run).
    #[serde(default)]
    pub kernel_abi: Vec<String>,
}

/// How long one collector took.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Timing {
    /// The collector, as [`Problem::collector`] names it.
    pub collector: String,
    /// Microseconds.
    pub us: u64,
}

/// System identity (SMBIOS types 1, 2 and 3).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct System {
    /// Where the identity came from.
    pub source: Option<Source>,
    /// The SMBIOS version the entry point announces.
    pub smbios_version: Option<String>,
    /// System manufacturer.
    pub manufacturer: Option<String>,
    /// Product name.
    pub product: Option<String>,
    /// Product version.
    pub version: Option<String>,
    /// Serial number.
    pub serial: Option<String>,
    /// System UUID, lower case, as dmidecode prints it.
    pub uuid: Option<String>,
    /// SKU number.
    pub sku: Option<String>,
    /// Family.
    pub family: Option<String>,
    /// Baseboard (type 2).
    pub baseboard: Baseboard,
    /// Chassis (type 3).
    pub chassis: Chassis,
}

/// Baseboard identity (SMBIOS type 2).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Baseboard {
    /// Manufacturer.
    pub manufacturer: Option<String>,
    /// Product.
    pub product: Option<String>,
    /// Version.
    pub version: Option<String>,
    /// Serial number.
    pub serial: Option<String>,
    /// Asset tag.
    pub asset_tag: Option<String>,
}

/// Chassis identity (SMBIOS type 3).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Chassis {
    /// Manufacturer.
    pub manufacturer: Option<String>,
    /// The chassis type code (lock bit cleared).
    pub type_code: Option<u8>,
    /// The chassis type by name (`Rack Mount Chassis`).
    pub type_name: Option<String>,
    /// Version.
    pub version: Option<String>,
    /// Serial number.
    pub serial: Option<String>,
    /// Asset tag.
    pub asset_tag: Option<String>,
    /// SKU number (SMBIOS 2.7+).
    pub sku: Option<String>,
}

/// How the firmware booted the kernel.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum BootMode {
    /// UEFI (`/sys/firmware/efi` exists).
    Uefi,
    /// Legacy BIOS.
    Bios,
}

/// Firmware identity and boot state.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Firmware {
    /// BIOS/UEFI vendor (type 0).
    pub vendor: Option<String>,
    /// Version.
    pub version: Option<String>,
    /// Release date as the firmware writes it (`MM/DD/YYYY`).
    pub date: Option<String>,
    /// System BIOS release (`major.minor`), when given.
    pub release: Option<String>,
    /// UEFI or BIOS.
    pub boot_mode: Option<BootMode>,
    /// Secure Boot enforced (efivar `SecureBoot`).
    pub secure_boot: Option<bool>,
    /// Firmware in setup mode (efivar `SetupMode`): keys can be enrolled without a signature.
    pub setup_mode: Option<bool>,
    /// The boot entry this boot used (efivar `BootCurrent`).
    pub boot_current: Option<u16>,
    /// That entry's description (efivar `Boot####`).
    pub boot_current_name: Option<String>,
    /// The firmware's boot order (efivar `BootOrder`).
    pub boot_order: Vec<u16>,
}

/// Processors: identity from `/proc/cpuinfo` (or CPUID), topology from sysfs, sockets from
/// SMBIOS type 4.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Cpu {
    /// Architecture (`x86_64`, from the kernel's utsname machine or the cpuinfo layout).
    pub architecture: Option<String>,
    /// Vendor (`GenuineIntel`, `AuthenticAMD`).
    pub vendor: Option<String>,
    /// Model name / brand string.
    pub model_name: Option<String>,
    /// Family.
    pub family: Option<u32>,
    /// Model.
    pub model: Option<u32>,
    /// Stepping.
    pub stepping: Option<u32>,
    /// Microcode revision, as the kernel prints it (`0x2007006`).
    pub microcode: Option<String>,
    /// Where vendor/model/flags came from.
    pub source: Option<Source>,
    /// Feature flags.
    pub flags: Vec<String>,
    /// Hypervisor vendor when running virtualised (CPUID leaf 0x40000000).
    pub hypervisor: Option<String>,
    /// Logical CPUs present (`/sys/devices/system/cpu/present`; lscpu's `CPU(s)`).
    pub logical_cpus: u32,
    /// Logical CPUs online.
    pub online_cpus: u32,
    /// Populated sockets (distinct physical package ids).
    pub sockets: u32,
    /// Dies (distinct package/die pairs).
    pub dies: u32,
    /// Physical cores (distinct package/die/core triples).
    pub cores: u32,
    /// Hardware threads per core (the largest sibling set).
    pub threads_per_core: u32,
    /// Highest frequency any CPU may run at (`cpuinfo_max_freq`).
    pub max_hz: Option<u64>,
    /// Lowest (`cpuinfo_min_freq`).
    pub min_hz: Option<u64>,
    /// Caches, one entry per level and type.
    pub caches: Vec<Cache>,
    /// NUMA nodes.
    pub numa_nodes: Vec<NumaNode>,
    /// Sockets as the firmware lists them (SMBIOS type 4), populated or not.
    pub packages: Vec<CpuPackage>,
}

/// One cache level and type across the machine.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Cache {
    /// 1, 2, 3.
    pub level: u8,
    /// `Data`, `Instruction`, `Unified`.
    pub kind: String,
    /// One instance's size.
    pub size_bytes: u64,
    /// How many instances (distinct sets of CPUs sharing one).
    pub instances: u32,
    /// Associativity.
    pub ways: Option<u32>,
    /// Line size.
    pub line_bytes: Option<u32>,
}

/// One NUMA node.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct NumaNode {
    /// Node number.
    pub id: u32,
    /// Its CPUs, as a list (`0-7,16-23`).
    pub cpus: String,
    /// Its memory (`MemTotal` of the node's meminfo).
    pub memory_bytes: Option<u64>,
}

/// One processor socket (SMBIOS type 4).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct CpuPackage {
    /// Socket designation (`CPU1`).
    pub socket: Option<String>,
    /// Whether a CPU sits in it.
    pub populated: bool,
    /// Manufacturer.
    pub manufacturer: Option<String>,
    /// Version string (the brand string on most machines).
    pub version: Option<String>,
    /// Maximum speed the board supports.
    pub max_speed_hz: Option<u64>,
    /// Speed at boot.
    pub current_speed_hz: Option<u64>,
    /// Cores.
    pub core_count: Option<u32>,
    /// Cores enabled.
    pub cores_enabled: Option<u32>,
    /// Threads.
    pub thread_count: Option<u32>,
    /// Serial number.
    pub serial: Option<String>,
    /// Asset tag.
    pub asset_tag: Option<String>,
    /// Part number.
    pub part_number: Option<String>,
}

/// Memory.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Memory {
    /// What the kernel can use (`MemTotal`).
    pub usable_bytes: Option<u64>,
    /// Sum of the DIMMs' sizes (SMBIOS type 17).
    pub installed_bytes: Option<u64>,
    /// Online memory blocks × block size (`/sys/devices/system/memory`).
    pub online_bytes: Option<u64>,
    /// Memory arrays (SMBIOS type 16): slots, capacity, error correction.
    pub arrays: Vec<MemoryArray>,
    /// Every DIMM slot, populated or not.
    pub dimms: Vec<Dimm>,
    /// EDAC memory controllers and their error counts.
    pub edac: Vec<EdacController>,
}

/// A physical memory array (SMBIOS type 16).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct MemoryArray {
    /// SMBIOS handle (type 17 points at it).
    pub handle: u16,
    /// Slots.
    pub slots: Option<u32>,
    /// Maximum capacity.
    pub max_capacity_bytes: Option<u64>,
    /// Error correction (`None`, `Single-bit ECC`, `Multi-bit ECC`, ...).
    pub error_correction: Option<String>,
}

/// One memory device (SMBIOS type 17).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Dimm {
    /// SMBIOS handle.
    pub handle: u16,
    /// Slot (`DIMM_A1`).
    pub locator: Option<String>,
    /// Bank (`NODE 1`).
    pub bank: Option<String>,
    /// Size; `None` for an empty slot.
    pub size_bytes: Option<u64>,
    /// Form factor (`DIMM`, `SODIMM`).
    pub form_factor: Option<String>,
    /// Type (`DDR4`).
    pub memory_type: Option<String>,
    /// Rated speed.
    pub speed_mts: Option<u32>,
    /// Speed as configured.
    pub configured_speed_mts: Option<u32>,
    /// Manufacturer.
    pub manufacturer: Option<String>,
    /// Part number.
    pub part_number: Option<String>,
    /// Serial number.
    pub serial: Option<String>,
    /// Asset tag.
    pub asset_tag: Option<String>,
    /// Rank.
    pub rank: Option<u8>,
    /// Total width in bits (with ECC).
    pub total_width: Option<u16>,
    /// Data width in bits.
    pub data_width: Option<u16>,
}

/// An EDAC memory controller.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct EdacController {
    /// `mc0`.
    pub name: String,
    /// Controller type (`mc_name`).
    pub kind: Option<String>,
    /// Corrected errors.
    pub ce_count: Option<u64>,
    /// Uncorrected errors.
    pub ue_count: Option<u64>,
    /// Its DIMMs with their own counts and labels.
    pub dimms: Vec<EdacDimm>,
}

/// A DIMM as EDAC sees it.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct EdacDimm {
    /// `dimm0` / `rank0`.
    pub name: String,
    /// The label (`CPU_SrcID#0_Ha#0_Chan#0_DIMM#0`).
    pub label: Option<String>,
    /// Size.
    pub size_bytes: Option<u64>,
    /// Corrected errors.
    pub ce_count: Option<u64>,
    /// Uncorrected errors.
    pub ue_count: Option<u64>,
}

/// Block storage.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Storage {
    /// Disks (whole devices, not partitions).
    pub disks: Vec<Disk>,
    /// NVMe controllers.
    pub nvme_controllers: Vec<NvmeController>,
    /// Block devices left out and why (`loop0`: virtual).
    pub skipped: Vec<Skipped>,
}

/// A block device left out of [`Storage::disks`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Skipped {
    /// Kernel name.
    pub name: String,
    /// Why (`loop`, `ram`, `zram`, `device-mapper`, `md`, `nvme multipath path`).
    pub why: String,
}

/// One disk.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Disk {
    /// Kernel name (`sda`, `nvme0n1`).
    pub name: String,
    /// `major:minor`.
    pub dev: Option<String>,
    /// Capacity.
    pub size_bytes: Option<u64>,
    /// Logical block size.
    pub logical_block_bytes: Option<u32>,
    /// Physical block size.
    pub physical_block_bytes: Option<u32>,
    /// Spinning media.
    pub rotational: Option<bool>,
    /// Removable media.
    pub removable: Option<bool>,
    /// Read-only.
    pub read_only: Option<bool>,
    /// `sata`, `sas`, `scsi`, `nvme`, `usb`, `virtio`, `mmc`, `ata`.
    pub transport: Option<String>,
    /// Vendor (SCSI INQUIRY vendor).
    pub vendor: Option<String>,
    /// Model.
    pub model: Option<String>,
    /// Firmware revision.
    pub firmware: Option<String>,
    /// Serial number.
    pub serial: Option<String>,
    /// Where the serial came from.
    pub serial_source: Option<Source>,
    /// World Wide Name (`wwid`, or the NAA/EUI designator of VPD page 0x83).
    pub wwn: Option<String>,
    /// NVMe namespace EUI-64.
    pub eui: Option<String>,
    /// NVMe namespace NGUID.
    pub nguid: Option<String>,
    /// NVMe namespace UUID.
    pub uuid: Option<String>,
    /// SCSI host:channel:target:lun.
    pub hctl: Option<String>,
    /// A stable path like udev's `ID_PATH` (`pci-0000:00:1f.2-ata-1`).
    pub by_path: Option<String>,
    /// The PCI function of the controller.
    pub pci_address: Option<String>,
    /// The NVMe controller (`nvme0`).
    pub nvme_controller: Option<String>,
    /// Partitions (`/sys/block/<disk>/<partition>`), in kernel order.
    #[serde(default)]
    pub partitions: Vec<Partition>,
    /// Where the whole disk itself is mounted (a file system on the disk, no partition table).
    #[serde(default)]
    pub mounts: Vec<Mount>,
}

/// One partition of a disk.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Partition {
    /// Kernel name (`sda1`, `nvme0n1p1`).
    pub name: String,
    /// Partition number (`partition`).
    pub number: Option<u32>,
    /// `major:minor`.
    pub dev: Option<String>,
    /// First byte on the disk (`start`, in 512-byte sectors).
    pub start_bytes: Option<u64>,
    /// Size (`size`, in 512-byte sectors).
    pub size_bytes: Option<u64>,
    /// Read-only.
    pub read_only: Option<bool>,
    /// Where it is mounted.
    pub mounts: Vec<Mount>,
}

/// One mount of a block device, from `/proc/self/mountinfo` (proc(5)).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Mount {
    /// Mount point, with the kernel's octal escapes undone.
    pub mount_point: String,
    /// File system type (`ext4`, `vfat`).
    pub fstype: String,
    /// Mount source as the kernel shows it (`/dev/sda1`).
    pub source: Option<String>,
    /// Per-mount options (`rw,relatime`).
    pub options: String,
    /// Per-superblock options (`rw,errors=remount-ro`).
    pub super_options: String,
}

/// One NVMe controller (`/sys/class/nvme/nvmeN`).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct NvmeController {
    /// `nvme0`.
    pub name: String,
    /// Model.
    pub model: Option<String>,
    /// Serial number.
    pub serial: Option<String>,
    /// Firmware revision.
    pub firmware: Option<String>,
    /// `pcie`, `tcp`, `rdma`, `fc`, `loop`.
    pub transport: Option<String>,
    /// Subsystem NQN.
    pub nqn: Option<String>,
    /// Controller id.
    pub cntlid: Option<u16>,
    /// PCI function (transport pcie).
    pub pci_address: Option<String>,
    /// Its namespaces' block devices.
    pub namespaces: Vec<String>,
}

/// One network interface.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Nic {
    /// Kernel name.
    pub name: String,
    /// Current MAC address (lower case, colon-separated).
    pub mac: Option<String>,
    /// Permanent (factory) MAC (`ETHTOOL_GPERMADDR`).
    pub permanent_mac: Option<String>,
    /// `ethernet`, `infiniband`, or the ARPHRD number.
    pub link_type: Option<String>,
    /// MTU.
    pub mtu: Option<u32>,
    /// `up`, `down`, `unknown`, ...
    pub operstate: Option<String>,
    /// Carrier detected.
    pub carrier: Option<bool>,
    /// Link speed.
    pub speed_mbps: Option<u32>,
    /// `full` / `half`.
    pub duplex: Option<String>,
    /// Driver (the device's `driver` link, or `ETHTOOL_GDRVINFO`).
    pub driver: Option<String>,
    /// Driver version (`ETHTOOL_GDRVINFO`).
    pub driver_version: Option<String>,
    /// NIC firmware version (`ETHTOOL_GDRVINFO`).
    pub firmware_version: Option<String>,
    /// PCI function.
    pub pci_address: Option<String>,
    /// NUMA node of the device.
    pub numa_node: Option<i32>,
    /// No backing device (bridge, veth, bond, tun).
    pub virtual_device: bool,
    /// The firmware's name for an onboard device (SMBIOS type 41).
    pub firmware_name: Option<String>,
    /// SR-IOV virtual functions the device supports.
    pub sriov_total_vfs: Option<u32>,
    /// SR-IOV virtual functions enabled.
    pub sriov_num_vfs: Option<u32>,
    /// InfiniBand node GUID.
    pub ib_node_guid: Option<String>,
    /// InfiniBand port GID 0 of this port.
    pub ib_port_gid: Option<String>,
    /// The node PXE-booted through this interface.
    pub boot: bool,
    /// Interface flags by name (`up`, `broadcast`, `running`, `multicast`; sysfs `flags`,
    /// the `IFF_*` bits of linux/if.h).
    #[serde(default)]
    pub flags: Vec<String>,
    /// IPv4 addresses (`SIOCGIFCONF` and `SIOCGIFNETMASK`; aliases such as `eth0:1` included).
    #[serde(default)]
    pub ipv4: Vec<IpAddress>,
    /// IPv6 addresses (`/proc/net/if_inet6`).
    #[serde(default)]
    pub ipv6: Vec<IpAddress>,
    /// Link autonegotiation enabled (`ETHTOOL_GSET`).
    #[serde(default)]
    pub autonegotiation: Option<bool>,
    /// Connector (`ETHTOOL_GSET`): `tp`, `aui`, `mii`, `fibre`, `bnc`, `da`, `none`, `other`.
    #[serde(default)]
    pub port: Option<String>,
}

/// An interface address.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct IpAddress {
    /// The address as text (`192.0.2.2`, `fe80::1`).
    pub address: String,
    /// Prefix length.
    pub prefix_len: u8,
    /// For IPv6, the scope (`global`, `link`, `host`, `site`); `None` for IPv4.
    pub scope: Option<String>,
}

/// PCIe link state.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct PciLink {
    /// Current speed.
    pub current_speed_mts: Option<u32>,
    /// Current width (lanes).
    pub current_width: Option<u8>,
    /// Maximum speed.
    pub max_speed_mts: Option<u32>,
    /// Maximum width.
    pub max_width: Option<u8>,
}

/// One PCI function.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct PciDevice {
    /// `0000:3b:00.0`.
    pub address: String,
    /// Vendor id.
    pub vendor_id: Option<u16>,
    /// Device id.
    pub device_id: Option<u16>,
    /// Subsystem vendor id.
    pub subsystem_vendor_id: Option<u16>,
    /// Subsystem device id.
    pub subsystem_device_id: Option<u16>,
    /// Class, subclass and programming interface (`0x020000`).
    pub class: Option<u32>,
    /// Revision.
    pub revision: Option<u8>,
    /// The bound driver; `None` flags a device no driver claimed.
    pub driver: Option<String>,
    /// NUMA node.
    pub numa_node: Option<i32>,
    /// PCIe link (absent for conventional PCI).
    pub link: Option<PciLink>,
    /// Physical slot (`/sys/bus/pci/slots` or SMBIOS type 9).
    pub slot: Option<String>,
    /// Names from pci.ids, added by [`crate::names`]; `None` as collected.
    pub names: Option<PciNames>,
    /// What the configuration space header says (sysfs `config`), when it could be read.
    #[serde(default)]
    pub config: Option<PciConfig>,
}

/// A PCI function's configuration space header and capability lists (PCI Local Bus 3.0,
/// chapter 6; PCI Express Base, chapter 7).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct PciConfig {
    /// Its size as sysfs gives it: 256 (PCI) or 4096 (PCI Express extended space). Without
    /// root only the first 64 octets read: the capability lists then stay empty.
    pub octets: u32,
    /// Header type, the multi-function bit cleared: 0 device, 1 PCI bridge, 2 CardBus bridge.
    pub header_type: u8,
    /// The multi-function bit of the header type.
    pub multifunction: bool,
    /// The command register may master the bus (command bit 2).
    pub bus_master: bool,
    /// The device can run its conventional PCI bus at 66 MHz (status bit 5); the bus clock is
    /// 66 MHz then, 33 MHz otherwise.
    pub bus_clock_hz: u64,
    /// The widest memory BAR: 64 if any is 64-bit (BAR type 10b), else 32.
    pub address_bits: u8,
    /// Latency timer (offset 0x0d; for a bridge, the secondary latency timer at 0x1b).
    pub latency_timer: u8,
    /// Minimum grant (0x3e, header type 0), when not 0.
    pub min_grant: Option<u8>,
    /// Maximum latency (0x3f, header type 0), when not 0.
    pub max_latency: Option<u8>,
    /// Interrupt pin (`INTA`-`INTD`), when the function uses one.
    pub interrupt_pin: Option<String>,
    /// The capability list (status bit 4), by lshw's names where it has one (`pm`, `msi`,
    /// `msix`, `pciexpress`, `vpd`, `pcix`, `ht`, `vendor_specific`, ...), else `cap_0xNN`.
    pub capabilities: Vec<String>,
    /// PCI Express extended capabilities (from 0x100, needs the 4096 octets): `aer`, `dsn`,
    /// `sriov`, `acs`, `ari`, ..., else `ecap_0xNNNN`.
    pub extended_capabilities: Vec<String>,
    /// Device Serial Number (extended capability 3), as lspci prints it (`00-11-22-...`).
    pub serial_number: Option<String>,
}

/// Human names for a PCI function.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct PciNames {
    /// Vendor.
    pub vendor: Option<String>,
    /// Device.
    pub device: Option<String>,
    /// Subsystem.
    pub subsystem: Option<String>,
    /// Class, most specific known (`Ethernet controller`).
    pub class: Option<String>,
}

/// A display or processing accelerator.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Gpu {
    /// PCI function.
    pub pci_address: String,
    /// Vendor id.
    pub vendor_id: Option<u16>,
    /// Device id.
    pub device_id: Option<u16>,
    /// Class.
    pub class: Option<u32>,
    /// Driver.
    pub driver: Option<String>,
    /// DRM card (`card0`).
    pub drm_card: Option<String>,
    /// Model (`/proc/driver/nvidia/gpus/*/information`).
    pub model: Option<String>,
    /// GPU UUID (NVIDIA).
    pub uuid: Option<String>,
    /// Video BIOS version (NVIDIA).
    pub vbios: Option<String>,
}

/// The TPM.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Tpm {
    /// `tpm0`.
    pub name: String,
    /// `2.0` or `1.2`.
    pub version: Option<String>,
    /// The platform description (`/sys/class/tpm/tpm0/device/description`).
    pub description: Option<String>,
}

/// The BMC.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Bmc {
    /// A BMC is there: an IPMI device node, or SMBIOS type 38.
    pub present: bool,
    /// The device node used (`/dev/ipmi0`).
    pub device: Option<String>,
    /// Interface from SMBIOS type 38 (`KCS`, `SSIF`, ...).
    pub interface: Option<String>,
    /// IPMI version the firmware announces.
    pub ipmi_version: Option<String>,
    /// Get Device ID: device id.
    pub device_id: Option<u8>,
    /// Get Device ID: firmware revision (`1.23`).
    pub firmware: Option<String>,
    /// Get Device ID: IANA manufacturer id.
    pub manufacturer_id: Option<u32>,
    /// Get Device ID: product id.
    pub product_id: Option<u16>,
    /// Get System GUID.
    pub system_guid: Option<String>,
    /// LAN channels.
    pub lan: Vec<BmcLan>,
}

/// A BMC LAN channel's configuration.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct BmcLan {
    /// Channel number.
    pub channel: u8,
    /// `static`, `dhcp`, `bios`, `other`.
    pub ip_source: Option<String>,
    /// IPv4 address.
    pub ipv4: Option<String>,
    /// Subnet mask.
    pub netmask: Option<String>,
    /// Default gateway.
    pub gateway: Option<String>,
    /// MAC.
    pub mac: Option<String>,
    /// 802.1q VLAN id, when enabled.
    pub vlan: Option<u16>,
}

/// A power supply (SMBIOS type 39).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct PowerSupply {
    /// Location (`PSU1`).
    pub location: Option<String>,
    /// Device name.
    pub name: Option<String>,
    /// Manufacturer.
    pub manufacturer: Option<String>,
    /// Serial number.
    pub serial: Option<String>,
    /// Asset tag.
    pub asset_tag: Option<String>,
    /// Model part number.
    pub part_number: Option<String>,
    /// Revision.
    pub revision: Option<String>,
    /// Maximum output in watts.
    pub max_power_w: Option<u32>,
    /// Present.
    pub present: Option<bool>,
    /// Hot-replaceable.
    pub hot_replaceable: Option<bool>,
    /// Status (`OK`, `Non-critical`, `Critical`, ...).
    pub status: Option<String>,
}

/// A virtio device (`/sys/bus/virtio/devices/virtioN`, the virtio 1.x device types).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct VirtioDevice {
    /// `virtio0`.
    pub name: String,
    /// Device type (`device`): 1 network, 2 block, 4 entropy, 5 balloon, 19 vsock, ...
    pub device_id: Option<u32>,
    /// The device type by name (`network`, `block`, `entropy`, `balloon`, `vsock`, ...).
    pub kind: Option<String>,
    /// Vendor id (`vendor`; 0x1af4 for most).
    pub vendor_id: Option<u32>,
    /// The bound driver (`virtio_net`, `virtio_blk`).
    pub driver: Option<String>,
    /// The PCI function it sits on (virtio-pci), if any.
    pub pci_address: Option<String>,
}

/// A Plug and Play device (`/sys/bus/pnp/devices/NN:NN`).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct PnpDevice {
    /// `00:01`.
    pub name: String,
    /// Its EISA/PNP ids (`PNP0303`), the first the main one.
    pub ids: Vec<String>,
    /// The bound driver (`serial`, `i8042 kbd`).
    pub driver: Option<String>,
}

/// An input device (`/sys/class/input/inputN`).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct InputDevice {
    /// `input0`.
    pub name: String,
    /// What the driver calls it (`AT Translated Set 2 keyboard`).
    pub product: Option<String>,
    /// Physical path (`isa0060/serio0/input0`).
    pub phys: Option<String>,
    /// Unique id (a Bluetooth address, a serial), when it has one.
    pub uniq: Option<String>,
    /// Bus type (`id/bustype`, linux/input.h `BUS_*`: 0x11 i8042, 0x03 USB, ...).
    pub bus_type: Option<u16>,
    /// Vendor id.
    pub vendor_id: Option<u16>,
    /// Product id.
    pub product_id: Option<u16>,
    /// Version.
    pub version: Option<u16>,
    /// Its handlers (`event0`, `mouse0`).
    pub handlers: Vec<String>,
}

/// A USB device.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct UsbDevice {
    /// Bus path (`1-1.2`, `usb1` for a root hub).
    pub path: String,
    /// Vendor id.
    pub vendor_id: Option<u16>,
    /// Product id.
    pub product_id: Option<u16>,
    /// Device class.
    pub class: Option<u8>,
    /// Manufacturer string.
    pub manufacturer: Option<String>,
    /// Product string.
    pub product: Option<String>,
    /// Serial string.
    pub serial: Option<String>,
    /// Negotiated speed in kb/s (low speed is 1.5 Mb/s, so Mb/s would not do).
    pub speed_kbps: Option<u32>,
}
