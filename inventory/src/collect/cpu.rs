//! Processors: identity from `/proc/cpuinfo` (CPUID on the live machine for what cpuinfo lacks),
//! topology and caches from `/sys/devices/system/cpu` (kernel Documentation/ABI/stable/
//! sysfs-devices-system-cpu and Documentation/admin-guide/cputopology.rst), NUMA from
//! `/sys/devices/system/node`, sockets as the firmware lists them from SMBIOS type 4 (DSP0134
//! 7.5).
//!
//! Counting follows lscpu: a core is a distinct `thread_siblings` set, a socket a distinct
//! `core_siblings` (package) set, a cache instance a distinct `shared_cpu_map`, all over online
//! CPUs. Sets rather than ids, because `core_id` repeats across dies and packages on many
//! machines.

use std::collections::{BTreeMap, BTreeSet};

use super::{Options, Reader, parse_cpulist};
use crate::model::{Cache, Cpu, CpuPackage, NumaNode, Source};
use crate::smbios::Structure;

const CPU: &str = "/sys/devices/system/cpu";
const NODE: &str = "/sys/devices/system/node";

pub(super) fn collect(r: &mut Reader<'_>, s: &[Structure<'_>], o: &Options, cpu: &mut Cpu) {
    identity(r, cpu);
    #[cfg(any(target_arch = "x86", target_arch = "x86_64"))]
    if o.live {
        cpuid(cpu);
    }
    if o.live {
        cpu.architecture = nix::sys::utsname::uname().ok().map(|u| u.machine().to_string_lossy().into_owned());
    }
    topology(r, cpu);
    numa(r, cpu);
    cpu.packages = s.iter().filter(|x| x.kind == 4).map(package).collect();
}

/// The first processor block of `/proc/cpuinfo`. x86 names its fields `vendor_id`, `model
/// name`, `cpu family`, `flags`; arm64 `CPU implementer`, `Features`; the rest is left out.
fn identity(r: &mut Reader<'_>, cpu: &mut Cpu) {
    let Some(text) = r.req_string("/proc/cpuinfo") else { return };
    let mut fields: BTreeMap<&str, &str> = BTreeMap::new();
    for line in text.lines() {
        if line.trim().is_empty() && !fields.is_empty() {
            break;
        }
        if let Some((k, v)) = line.split_once(':') {
            fields.entry(k.trim()).or_insert(v.trim());
        }
    }
    let get = |k: &str| fields.get(k).map(|v| v.to_string()).filter(|v| !v.is_empty());
    let num = |k: &str| fields.get(k).and_then(|v| v.parse::<u32>().ok());
    cpu.source = Some(Source::Cpuinfo);
    cpu.vendor = get("vendor_id");
    cpu.model_name = get("model name");
    cpu.family = num("cpu family");
    cpu.model = num("model");
    cpu.stepping = num("stepping");
    cpu.microcode = get("microcode");
    cpu.flags = get("flags")
        .or_else(|| get("Features"))
        .map(|f| f.split_whitespace().map(str::to_owned).collect())
        .unwrap_or_default();
}

/// CPUID on the CPU this thread runs on: fills what cpuinfo left empty, and the hypervisor.
#[cfg(any(target_arch = "x86", target_arch = "x86_64"))]
fn cpuid(cpu: &mut Cpu) {
    let id = raw_cpuid::CpuId::new();
    if cpu.vendor.is_none() {
        cpu.vendor = id.get_vendor_info().map(|v| v.as_str().to_owned());
        cpu.source = Some(Source::Cpuid);
    }
    if cpu.model_name.is_none() {
        cpu.model_name = id.get_processor_brand_string().map(|b| b.as_str().trim().to_owned());
    }
    if let Some(f) = id.get_feature_info() {
        cpu.family.get_or_insert(u32::from(f.family_id()));
        cpu.model.get_or_insert(u32::from(f.model_id()));
        cpu.stepping.get_or_insert(u32::from(f.stepping_id()));
    }
    cpu.hypervisor = id.get_hypervisor_info().map(|h| match h.identify() {
        raw_cpuid::Hypervisor::Xen => "Xen".to_owned(),
        raw_cpuid::Hypervisor::VMware => "VMware".to_owned(),
        raw_cpuid::Hypervisor::HyperV => "Microsoft".to_owned(),
        raw_cpuid::Hypervisor::KVM => "KVM".to_owned(),
        raw_cpuid::Hypervisor::QEMU => "QEMU".to_owned(),
        raw_cpuid::Hypervisor::Bhyve => "bhyve".to_owned(),
        raw_cpuid::Hypervisor::QNX => "QNX".to_owned(),
        raw_cpuid::Hypervisor::ACRN => "ACRN".to_owned(),
        raw_cpuid::Hypervisor::Unknown(a, b, c) => {
            let bytes: Vec<u8> = [a, b, c].iter().flat_map(|w| w.to_le_bytes()).collect();
            String::from_utf8_lossy(&bytes).trim_matches(char::from(0)).trim().to_owned()
        }
    });
}

fn count(r: &mut Reader<'_>, file: &str) -> Option<Vec<u32>> {
    let path = format!("{CPU}/{file}");
    let text = r.opt_string(&path)?;
    let list = parse_cpulist(&text);
    if list.is_none() {
        r.problem(&path, "not a CPU list");
    }
    list
}

fn topology(r: &mut Reader<'_>, cpu: &mut Cpu) {
    let dirs: Vec<u32> = r.dir(CPU).iter().filter_map(|n| n.strip_prefix("cpu")?.parse().ok()).collect();
    let present = count(r, "present").unwrap_or_else(|| dirs.clone());
    let online = count(r, "online").unwrap_or_else(|| present.clone());
    cpu.logical_cpus = u32::try_from(present.len()).unwrap_or(u32::MAX);
    cpu.online_cpus = u32::try_from(online.len()).unwrap_or(u32::MAX);

    let mut cores = BTreeSet::new();
    let mut packages = BTreeSet::new();
    let mut dies = BTreeSet::new();
    let mut threads = 0u32;
    // (level, type) -> (size, ways, line, distinct sharing sets)
    let mut caches: BTreeMap<(u8, String), CacheSeen> = BTreeMap::new();
    let (mut max_khz, mut min_khz) = (None::<u64>, None::<u64>);
    // CPUs whose core was read through a sibling, and cache instances already read through
    // another CPU (index directory, sharing set): what they would say is known, so their files
    // are left unread, 60 % of the reads on a 96-thread EPYC. Caches are still listed for every
    // CPU: thread siblings need not share them (VMware guests report SMT pairs with an L1 each).
    let mut covered = BTreeSet::new();
    let mut instances = BTreeSet::new();
    for &n in &online {
        let t = format!("{CPU}/cpu{n}/topology");
        if !covered.contains(&n) {
            // The thread siblings set is the core; the package set is the socket. Old kernels
            // name them *_siblings_list, new ones core_cpus_list/package_cpus_list as well.
            let core = r.opt_string(&format!("{t}/thread_siblings_list")).unwrap_or_else(|| n.to_string());
            let siblings = parse_cpulist(&core).unwrap_or_default();
            threads = threads.max(u32::try_from(siblings.len()).unwrap_or(1).max(1));
            covered.extend(siblings);
            let package = r
                .opt_string(&format!("{t}/core_siblings_list"))
                .or_else(|| r.opt_string(&format!("{t}/physical_package_id")))
                .unwrap_or_default();
            let die = r.opt_string(&format!("{t}/die_cpus_list")).unwrap_or_else(|| package.clone());
            cores.insert(core);
            dies.insert((package.clone(), die));
            packages.insert(package);
        }

        let c = format!("{CPU}/cpu{n}/cache");
        for index in r.dir(&c).into_iter().filter(|i| i.starts_with("index")) {
            let base = format!("{c}/{index}");
            let shared = r
                .opt_string(&format!("{base}/shared_cpu_map"))
                .or_else(|| r.opt_string(&format!("{base}/shared_cpu_list")))
                .unwrap_or_else(|| n.to_string());
            if instances.contains(&(index.clone(), shared.clone())) {
                continue;
            }
            let (Some(level), Some(kind)) =
                (r.opt_u64(&format!("{base}/level")), r.opt_string(&format!("{base}/type")))
            else {
                continue;
            };
            let key = (u8::try_from(level).unwrap_or(u8::MAX), kind);
            // Size, ways and line size are the first instance's: read them once per kind.
            if !caches.contains_key(&key) {
                let Some(size) = r.opt_string(&format!("{base}/size")) else { continue };
                let Some(size) = parse_size(&size) else {
                    r.problem(&format!("{base}/size"), "not a size");
                    continue;
                };
                let ways = r.opt_u64(&format!("{base}/ways_of_associativity")).and_then(|v| u32::try_from(v).ok());
                let line = r.opt_u64(&format!("{base}/coherency_line_size")).and_then(|v| u32::try_from(v).ok());
                caches.insert(key.clone(), (size, ways, line, BTreeSet::new()));
            }
            if let Some(e) = caches.get_mut(&key) {
                e.3.insert(shared.clone());
            }
            instances.insert((index, shared));
        }

        let f = format!("{CPU}/cpu{n}/cpufreq");
        if let Some(v) = r.opt_u64(&format!("{f}/cpuinfo_max_freq")) {
            max_khz = Some(max_khz.map_or(v, |m| m.max(v)));
        }
        if let Some(v) = r.opt_u64(&format!("{f}/cpuinfo_min_freq")) {
            min_khz = Some(min_khz.map_or(v, |m| m.min(v)));
        }
    }
    cpu.cores = u32::try_from(cores.len()).unwrap_or(u32::MAX);
    cpu.sockets = u32::try_from(packages.len()).unwrap_or(u32::MAX);
    cpu.dies = u32::try_from(dies.len()).unwrap_or(u32::MAX);
    cpu.threads_per_core = threads;
    cpu.max_hz = max_khz.map(|k| k * 1000);
    cpu.min_hz = min_khz.map(|k| k * 1000);
    cpu.caches = caches
        .into_iter()
        .map(|((level, kind), (size_bytes, ways, line_bytes, sets))| Cache {
            level,
            kind,
            size_bytes,
            instances: u32::try_from(sets.len()).unwrap_or(u32::MAX),
            ways,
            line_bytes,
        })
        .collect();
}

/// One cache level and type as seen so far: size, ways, line, and the distinct CPU sets that
/// share an instance.
type CacheSeen = (u64, Option<u32>, Option<u32>, BTreeSet<String>);

/// A sysfs cache size: `32K`, `8192K`, `2M`.
fn parse_size(s: &str) -> Option<u64> {
    let s = s.trim();
    let (num, mult) = match s.as_bytes().last()? {
        b'K' => (&s[..s.len() - 1], 1u64 << 10),
        b'M' => (&s[..s.len() - 1], 1 << 20),
        b'G' => (&s[..s.len() - 1], 1 << 30),
        _ => (s, 1),
    };
    num.parse::<u64>().ok()?.checked_mul(mult)
}

/// A kernel CPU mask (`00000000,0000003f`: 32-bit hex words, most significant first) as a list.
pub(crate) fn parse_cpumask(s: &str) -> Option<Vec<u32>> {
    let mut out = Vec::new();
    let words: Vec<&str> = s.trim().split(',').collect();
    for (i, w) in words.iter().rev().enumerate() {
        let v = u32::from_str_radix(w, 16).ok()?;
        let base = u32::try_from(i).ok()?.checked_mul(32)?;
        out.extend((0..32).filter(|b| v & (1 << b) != 0).map(|b| base + b));
    }
    out.sort_unstable();
    Some(out)
}

/// A CPU list in the kernel's compact form (`0-5,48-53`).
pub(crate) fn format_cpulist(cpus: &[u32]) -> String {
    let mut out: Vec<String> = Vec::new();
    let mut i = 0;
    while i < cpus.len() {
        let mut j = i;
        while j + 1 < cpus.len() && cpus[j + 1] == cpus[j] + 1 {
            j += 1;
        }
        out.push(if i == j { cpus[i].to_string() } else { format!("{}-{}", cpus[i], cpus[j]) });
        i = j + 1;
    }
    out.join(",")
}

fn numa(r: &mut Reader<'_>, cpu: &mut Cpu) {
    for name in r.dir(NODE) {
        let Some(id) = name.strip_prefix("node").and_then(|n| n.parse::<u32>().ok()) else { continue };
        let base = format!("{NODE}/{name}");
        let cpus = match r.opt_string(&format!("{base}/cpulist")) {
            Some(list) => parse_cpulist(&list),
            None => r.opt_string(&format!("{base}/cpumap")).and_then(|m| parse_cpumask(&m)),
        };
        let memory_bytes = r.opt_string(&format!("{base}/meminfo")).and_then(|m| {
            m.lines()
                .find(|l| l.contains("MemTotal:"))
                .and_then(|l| l.split_whitespace().rev().nth(1)?.parse::<u64>().ok())
                .map(|kb| kb * 1024)
        });
        cpu.numa_nodes.push(NumaNode { id, cpus: cpus.map(|c| format_cpulist(&c)).unwrap_or_default(), memory_bytes });
    }
    cpu.numa_nodes.sort_by_key(|n| n.id);
}

/// SMBIOS type 4 (7.5): strings at 0x04 socket, 0x07 manufacturer, 0x10 version, 0x20 serial,
/// 0x21 asset tag, 0x22 part number; speeds in MHz at 0x14/0x16; status bit 6 = populated;
/// counts at 0x23-0x25, with the 16-bit forms at 0x2a-0x2e when the octet reads 0xff (3.0+).
fn package(s: &Structure<'_>) -> CpuPackage {
    let mhz = |at: usize| s.u16(at).filter(|&v| v != 0).map(|v| u64::from(v) * 1_000_000);
    let count = |at8: usize, at16: usize| match s.u8(at8)? {
        0 => None,
        0xff => s.u16(at16).filter(|&v| v != 0 && v != 0xffff).map(u32::from),
        v => Some(u32::from(v)),
    };
    CpuPackage {
        socket: s.string(0x04),
        populated: s.u8(0x18).is_some_and(|st| st & 0x40 != 0),
        manufacturer: s.string(0x07),
        version: s.string(0x10),
        max_speed_hz: mhz(0x14),
        current_speed_hz: mhz(0x16),
        core_count: count(0x23, 0x2a),
        cores_enabled: count(0x24, 0x2c),
        thread_count: count(0x25, 0x2e),
        serial: s.string(0x20),
        asset_tag: s.string(0x21),
        part_number: s.string(0x22),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn masks_lists_sizes() {
        assert_eq!(parse_cpumask("00000000,00070000,00000007"), Some(vec![0, 1, 2, 48, 49, 50]));
        assert_eq!(format_cpulist(&[0, 1, 2, 48, 49, 50, 60]), "0-2,48-50,60");
        assert_eq!(parse_cpumask("zz"), None);
        assert_eq!(parse_size("8192K"), Some(8 << 20));
        assert_eq!(parse_size("2M"), Some(2 << 20));
        assert_eq!(parse_size("K"), None);
    }
}
