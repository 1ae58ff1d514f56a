//! CPU topology, caches, NUMA and identity against util-linux lscpu's expected output for its
//! nine real dumps (x86 Intel and AMD servers and laptops, a VirtualBox guest, arm64 big.LITTLE,
//! POWER7, RISC-V), and memory blocks against lsmem's.

use std::collections::BTreeMap;
mod common;

use std::path::{Path, PathBuf};
use std::process::Command;

use inventory::model::Inventory;
use inventory::{NoDevices, Options, SysRoot, collect};

fn untar(archive: &Path, flag: &str, into: &Path) {
    let st = Command::new("tar").arg(flag).arg(archive).arg("-C").arg(into).status().expect("tar");
    assert!(st.success(), "tar {}", archive.display());
}

/// lscpu's first block as key -> values (keys repeat on arm big.LITTLE, one block per core type).
fn lscpu_summary(text: &str) -> BTreeMap<String, Vec<String>> {
    let mut out: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for line in text.lines().take_while(|l| !l.trim().is_empty()) {
        if let Some((k, v)) = line.split_once(':') {
            out.entry(k.trim().to_owned()).or_default().push(v.trim().to_owned());
        }
    }
    out
}

/// `1.5 MiB` -> bytes.
fn human(v: &str) -> f64 {
    let mut it = v.split_whitespace();
    let n: f64 = it.next().unwrap().parse().unwrap();
    n * match it.next().unwrap() {
        "B" => 1.0,
        "KiB" => 1024.0,
        "MiB" => 1024.0 * 1024.0,
        "GiB" => 1024.0 * 1024.0 * 1024.0,
        u => panic!("unit {u}"),
    }
}

fn cache_name(level: u8, kind: &str) -> String {
    match kind {
        "Data" => format!("L{level}d"),
        "Instruction" => format!("L{level}i"),
        _ => format!("L{level}"),
    }
}

fn check(name: &str, inv: &Inventory, expected: &str) -> usize {
    let exp = lscpu_summary(expected);
    let one = |k: &str| exp.get(k).map(|v| v[0].as_str());
    let cpu = &inv.cpu;
    let mut n = 0;
    let mut eq = |what: &str, want: Option<&str>, got: Option<String>| {
        if let Some(want) = want {
            assert_eq!(got.as_deref(), Some(want), "{name}: {what}");
            n += 1;
        }
    };
    eq("CPU(s)", one("CPU(s)"), Some(cpu.logical_cpus.to_string()));
    let online = one("On-line CPU(s) list").unwrap();
    let online_count = online
        .split(',')
        .map(|p| p.split_once('-').map_or(1, |(a, b)| b.parse::<u32>().unwrap() - a.parse::<u32>().unwrap() + 1))
        .sum::<u32>();
    eq("online", Some(&online_count.to_string()), Some(cpu.online_cpus.to_string()));
    // Identity fields lscpu copies from x86 cpuinfo; on arm/ppc/riscv it decodes part numbers
    // through its own tables, which recon leaves to the report.
    if cpu.vendor.is_some() {
        eq("Vendor ID", one("Vendor ID"), cpu.vendor.clone());
        eq("Model name", one("Model name"), cpu.model_name.clone());
        eq("CPU family", one("CPU family"), cpu.family.map(|v| v.to_string()));
        eq("Model", one("Model"), cpu.model.map(|v| v.to_string()));
        eq("Stepping", one("Stepping"), cpu.stepping.map(|v| v.to_string()));
        eq("Microcode version", one("Microcode version"), cpu.microcode.clone());
        eq("flags", one("Flags"), Some(cpu.flags.join(" ")));
    }
    let tpc: Vec<u32> = exp["Thread(s) per core"].iter().map(|v| v.parse().unwrap()).collect();
    eq("Thread(s) per core", Some(&tpc.iter().max().unwrap().to_string()), Some(cpu.threads_per_core.to_string()));
    // Cores: per-socket count times sockets, summed over core types.
    let cores: u32 = exp["Core(s) per socket"]
        .iter()
        .zip(&exp["Socket(s)"])
        .map(|(c, s)| c.parse::<u32>().unwrap() * s.parse::<u32>().unwrap())
        .sum();
    eq("cores", Some(&cores.to_string()), Some(cpu.cores.to_string()));
    if exp["Socket(s)"].len() == 1 {
        eq("Socket(s)", one("Socket(s)"), Some(cpu.sockets.to_string()));
    }
    if let Some(max) = exp.get("CPU max MHz") {
        let want = max.iter().map(|v| v.parse::<f64>().unwrap()).fold(0.0, f64::max);
        eq("CPU max MHz", Some(&format!("{want:.4}")), cpu.max_hz.map(|h| format!("{:.4}", h as f64 / 1e6)));
        let want = exp["CPU min MHz"].iter().map(|v| v.parse::<f64>().unwrap()).fold(f64::MAX, f64::min);
        eq("CPU min MHz", Some(&format!("{want:.4}")), cpu.min_hz.map(|h| format!("{:.4}", h as f64 / 1e6)));
    }
    // Caches: `L1d cache: 1.5 MiB (48 instances)`; lscpu prints the total, rounded.
    let caches: Vec<(&String, &Vec<String>)> = exp.iter().filter(|(k, _)| k.ends_with(" cache")).collect();
    assert_eq!(caches.len(), cpu.caches.len(), "{name}: caches {:?} vs {:?}", caches, cpu.caches);
    for (k, v) in caches {
        let label = k.trim_end_matches(" cache");
        let c = cpu
            .caches
            .iter()
            .find(|c| cache_name(c.level, &c.kind) == label)
            .unwrap_or_else(|| panic!("{name}: no {label}"));
        let (size, count) = v[0].split_once(" (").unwrap();
        let instances: u32 = count.split_whitespace().next().unwrap().parse().unwrap();
        eq(&format!("{label} instances"), Some(&instances.to_string()), Some(c.instances.to_string()));
        let total = (c.size_bytes * u64::from(c.instances)) as f64;
        let want = human(size);
        assert!((total - want).abs() / want < 0.05, "{name}: {label} total {total} vs lscpu {size}");
        eq(&format!("{label} total"), Some("ok"), Some("ok".to_owned()));
    }
    if let Some(nodes) = one("NUMA node(s)") {
        eq("NUMA node(s)", Some(nodes), Some(cpu.numa_nodes.len().to_string()));
        for node in &cpu.numa_nodes {
            // Compared as sets: lscpu writes a run of two as `0,1` and strides as `0-62:2`, the
            // kernel `0-1` and every CPU.
            let set = |l: &str| {
                l.split(',')
                    .flat_map(|p| {
                        let (range, step) = p.split_once(':').map_or((p, 1), |(r, s)| (r, s.parse::<usize>().unwrap()));
                        match range.split_once('-') {
                            Some((a, b)) => {
                                (a.parse::<u32>().unwrap()..=b.parse().unwrap()).step_by(step).collect::<Vec<_>>()
                            }
                            None => vec![range.parse().unwrap()],
                        }
                    })
                    .map(|c| c.to_string())
                    .collect::<Vec<_>>()
                    .join(",")
            };
            let want = one(&format!("NUMA node{} CPU(s)", node.id)).map(set);
            eq(&format!("node{}", node.id), want.as_deref(), Some(set(&node.cpus)));
        }
    }
    n
}

#[test]
fn topology_caches_and_identity_agree_with_lscpu() {
    let f = common::fixtures("lscpu-dumps");
    let tmp = tempfile::tempdir().unwrap();
    let mut dumps: Vec<PathBuf> = std::fs::read_dir(f.join("dumps")).unwrap().map(|e| e.unwrap().path()).collect();
    dumps.sort();
    assert_eq!(dumps.len(), 9);
    let mut total = 0;
    for d in dumps {
        let name = d.file_name().unwrap().to_string_lossy().trim_end_matches(".tar.gz").to_owned();
        untar(&d, "-xzf", tmp.path());
        let inv = collect(&SysRoot::new(tmp.path().join(&name)), &NoDevices, &Options::default());
        let expected = std::fs::read_to_string(f.join(format!("expected/lscpu-{name}"))).unwrap();
        let n = check(&name, &inv, &expected);
        let cpu_errors: Vec<_> = inv.errors.iter().filter(|e| e.collector == "cpu").collect();
        assert!(cpu_errors.is_empty(), "{name}: {cpu_errors:?}");
        eprintln!("{name}: {n} values agree");
        total += n;
    }
    assert!(total > 150, "only {total} values compared");
}

#[test]
fn online_memory_agrees_with_lsmem() {
    let f = common::fixtures("lsmem-dumps");
    let tmp = tempfile::tempdir().unwrap();
    untar(&f.join("dumps/x86_64-16g.tar.bz2"), "-xjf", tmp.path());
    let inv = collect(&SysRoot::new(tmp.path().join("x86_64-16g")), &NoDevices, &Options::default());
    let expected = std::fs::read_to_string(f.join("expected/lsmem-x86_64-16g")).unwrap();
    // Every `lsmem` run in the file reports the same totals.
    let online: Vec<&str> =
        expected.lines().filter_map(|l| l.strip_prefix("Total online memory:")).map(str::trim).collect();
    assert!(!online.is_empty());
    for t in online {
        assert_eq!(t, "16G");
    }
    assert_eq!(inv.memory.online_bytes, Some(16 << 30));
}
