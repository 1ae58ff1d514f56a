//! Memory: what the kernel can use (`/proc/meminfo`), what is online (memory blocks, kernel
//! Documentation/admin-guide/mm/memory-hotplug.rst), what is installed (SMBIOS type 16
//! Physical Memory Array, DSP0134 7.17; type 17 Memory Device, 7.18), and EDAC error counts
//! (Documentation/admin-guide/ras.rst, `/sys/devices/system/edac/mc`).

use super::Reader;
use crate::model::{Dimm, EdacController, EdacDimm, Memory, MemoryArray};
use crate::smbios::{self, Structure};

const BLOCKS: &str = "/sys/devices/system/memory";
const EDAC: &str = "/sys/devices/system/edac/mc";

pub(super) fn collect(r: &mut Reader<'_>, s: &[Structure<'_>], m: &mut Memory) {
    if let Some(info) = r.opt_string("/proc/meminfo") {
        m.usable_bytes = info
            .lines()
            .find_map(|l| l.strip_prefix("MemTotal:"))
            .and_then(|v| v.split_whitespace().next()?.parse::<u64>().ok())
            .map(|kb| kb * 1024);
    }
    m.online_bytes = online_blocks(r);
    m.arrays = s.iter().filter(|x| x.kind == 16).map(array).collect();
    m.dimms = s.iter().filter(|x| x.kind == 17).map(dimm).collect();
    let sizes: Vec<u64> = m.dimms.iter().filter_map(|d| d.size_bytes).collect();
    m.installed_bytes = (!sizes.is_empty()).then(|| sizes.iter().sum());
    m.edac = edac(r);
}

fn online_blocks(r: &mut Reader<'_>) -> Option<u64> {
    // block_size_bytes is hex without a 0x prefix.
    let path = format!("{BLOCKS}/block_size_bytes");
    let text = r.opt_string(&path)?;
    let Ok(block) = u64::from_str_radix(text.trim_start_matches("0x"), 16) else {
        r.problem(&path, "not a hex number");
        return None;
    };
    // A machine has hundreds of blocks (196 of 128 MiB here, 512 of 2 GiB on a 1 TiB server):
    // their `state` files are most of this collector's time.
    let states: Vec<String> = r
        .dir(BLOCKS)
        .into_iter()
        .filter(|n| n.strip_prefix("memory").is_some_and(|i| i.parse::<u64>().is_ok()))
        .map(|n| format!("{n}/state"))
        .collect();
    let mut online = 0u64;
    for state in r.root().read_strings_in(BLOCKS, &states) {
        if r.note(state, false).as_deref() == Some("online") {
            online += 1;
        }
    }
    block.checked_mul(online)
}

/// Type 16: 0x06 error correction, 0x07 maximum capacity in KiB (0x80000000: the 64-bit
/// extended capacity in bytes at 0x0f, 2.7+), 0x0d number of slots.
fn array(s: &Structure<'_>) -> MemoryArray {
    let max_capacity_bytes = match s.u32(0x07) {
        Some(0x8000_0000) => s.u64(0x0f),
        Some(kb) => Some(u64::from(kb) * 1024),
        None => None,
    };
    MemoryArray {
        handle: s.handle,
        slots: s.u16(0x0d).map(u32::from),
        max_capacity_bytes,
        error_correction: s.u8(0x06).map(|c| ecc_name(c).to_owned()),
    }
}

/// Type 17. Widths of 0xffff and speeds of 0 are unknown; a speed of 0xffff means the 32-bit
/// extended speed (3.3+, offsets 0x54 and 0x58) holds it. Rank is attributes bits 3:0 (2.6+).
fn dimm(s: &Structure<'_>) -> Dimm {
    let width = |at: usize| s.u16(at).filter(|&w| w != 0xffff && w != 0);
    let speed = |at: usize, ext: usize| match s.u16(at)? {
        0 => None,
        0xffff => s.u32(ext).filter(|&v| v != 0).map(|v| v & 0x7fff_ffff),
        v => Some(u32::from(v)),
    };
    let size_bytes = smbios::dimm_size(s);
    let populated = size_bytes.is_some();
    // An empty slot keeps its locator; the rest of its strings are vendor filler.
    let text = |at: usize| if populated { s.string(at) } else { None };
    Dimm {
        handle: s.handle,
        locator: s.string(0x10),
        bank: s.string(0x11),
        size_bytes,
        form_factor: s.u8(0x0e).map(|f| form_factor_name(f).to_owned()),
        memory_type: s.u8(0x12).filter(|_| populated).map(|t| smbios::memory_type_name(t).to_owned()),
        speed_mts: speed(0x15, 0x54).filter(|_| populated),
        configured_speed_mts: speed(0x20, 0x58).filter(|_| populated),
        manufacturer: text(0x17),
        serial: text(0x18),
        asset_tag: text(0x19),
        part_number: text(0x1a),
        rank: s.u8(0x1b).map(|a| a & 0x0f).filter(|&r| r != 0 && populated),
        total_width: width(0x08),
        data_width: width(0x0a),
    }
}

fn ecc_name(c: u8) -> &'static str {
    match c {
        1 => "Other",
        3 => "None",
        4 => "Parity",
        5 => "Single-bit ECC",
        6 => "Multi-bit ECC",
        7 => "CRC",
        _ => "Unknown",
    }
}

/// Type 17 form factor (7.18.1).
fn form_factor_name(f: u8) -> &'static str {
    match f {
        0x01 => "Other",
        0x03 => "SIMM",
        0x04 => "SIP",
        0x05 => "Chip",
        0x06 => "DIP",
        0x07 => "ZIP",
        0x08 => "Proprietary Card",
        0x09 => "DIMM",
        0x0a => "TSOP",
        0x0b => "Row Of Chips",
        0x0c => "RIMM",
        0x0d => "SODIMM",
        0x0e => "SRIMM",
        0x0f => "FB-DIMM",
        0x10 => "Die",
        _ => "Unknown",
    }
}

fn edac(r: &mut Reader<'_>) -> Vec<EdacController> {
    let mut out = Vec::new();
    for mc in r.dir(EDAC).into_iter().filter(|n| n.starts_with("mc")) {
        let base = format!("{EDAC}/{mc}");
        let mut dimms = Vec::new();
        // Kernels since 3.6 list dimmN (or rankN on rank-based controllers).
        for d in r.dir(&base).into_iter().filter(|n| n.starts_with("dimm") || n.starts_with("rank")) {
            let db = format!("{base}/{d}");
            dimms.push(EdacDimm {
                label: r.opt_string(&format!("{db}/dimm_label")),
                size_bytes: r.opt_u64(&format!("{db}/size")).map(|mb| mb << 20),
                ce_count: r.opt_u64(&format!("{db}/dimm_ce_count")),
                ue_count: r.opt_u64(&format!("{db}/dimm_ue_count")),
                name: d,
            });
        }
        out.push(EdacController {
            kind: r.opt_string(&format!("{base}/mc_name")),
            ce_count: r.opt_u64(&format!("{base}/ce_count")),
            ue_count: r.opt_u64(&format!("{base}/ue_count")),
            dimms,
            name: mc,
        });
    }
    out
}
