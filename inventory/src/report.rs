//! A compact text view of one inventory, for a terminal: one line per device, units a person
//! reads (GiB, GHz, Gb/s), the problems last.

use std::fmt::Write;

use crate::model::Inventory;

/// `17179869184` -> `16 GiB`; one decimal below 10 units.
pub fn bytes(n: u64) -> String {
    const UNITS: [&str; 6] = ["B", "KiB", "MiB", "GiB", "TiB", "PiB"];
    let mut v = n as f64;
    let mut u = 0;
    while v >= 1024.0 && u + 1 < UNITS.len() {
        v /= 1024.0;
        u += 1;
    }
    if u == 0 || v >= 10.0 || v.fract() == 0.0 {
        format!("{v:.0} {}", UNITS[u])
    } else {
        format!("{v:.1} {}", UNITS[u])
    }
}

fn opt(v: &Option<String>) -> &str {
    v.as_deref().unwrap_or("-")
}

/// `/, /run/netns (ext4)`: where, then what (of the first; `m` is never empty here).
fn mount_points(m: &[crate::model::Mount]) -> String {
    let points: Vec<&str> = m.iter().map(|m| m.mount_point.as_str()).collect();
    format!("{} ({})", points.join(", "), m.first().map_or("", |m| m.fstype.as_str()))
}

/// The text view.
pub fn table(inv: &Inventory) -> String {
    let mut o = String::new();
    let s = &inv.system;
    let fw = &inv.firmware;
    let _ = writeln!(
        o,
        "system    {} {} (serial {}, uuid {})",
        opt(&s.manufacturer),
        opt(&s.product),
        opt(&s.serial),
        opt(&s.uuid)
    );
    let _ = writeln!(
        o,
        "board     {} {} (serial {});  chassis {} (serial {}, asset {})",
        opt(&s.baseboard.manufacturer),
        opt(&s.baseboard.product),
        opt(&s.baseboard.serial),
        opt(&s.chassis.type_name),
        opt(&s.chassis.serial),
        opt(&s.chassis.asset_tag)
    );
    let mode = match fw.boot_mode {
        Some(crate::model::BootMode::Uefi) => "UEFI",
        Some(crate::model::BootMode::Bios) => "BIOS",
        None => "-",
    };
    let sb = match fw.secure_boot {
        Some(true) => ", Secure Boot on",
        Some(false) => ", Secure Boot off",
        None => "",
    };
    let _ = writeln!(o, "firmware  {} {} ({}); {mode}{sb}", opt(&fw.vendor), opt(&fw.version), opt(&fw.date));
    let c = &inv.cpu;
    let ghz = c.max_hz.map(|h| format!(", up to {:.2} GHz", h as f64 / 1e9)).unwrap_or_default();
    let _ = writeln!(
        o,
        "cpu       {} x {}: {} cores, {} threads{ghz}; {} NUMA node(s){}",
        c.sockets,
        opt(&c.model_name),
        c.cores,
        c.online_cpus,
        c.numa_nodes.len().max(1),
        c.hypervisor.as_ref().map(|h| format!("; hypervisor {h}")).unwrap_or_default()
    );
    let m = &inv.memory;
    let populated = m.dimms.iter().filter(|d| d.size_bytes.is_some()).count();
    let _ = writeln!(
        o,
        "memory    {} usable, {} installed in {populated}/{} slots",
        m.usable_bytes.map(bytes).unwrap_or_else(|| "-".into()),
        m.installed_bytes.map(bytes).unwrap_or_else(|| "-".into()),
        m.dimms.len()
    );
    for d in m.dimms.iter().filter(|d| d.size_bytes.is_some()) {
        let _ = writeln!(
            o,
            "  dimm    {:<12} {:>8} {} {} MT/s {} {} (serial {})",
            opt(&d.locator),
            d.size_bytes.map(bytes).unwrap_or_default(),
            opt(&d.memory_type),
            d.configured_speed_mts.or(d.speed_mts).map(|v| v.to_string()).unwrap_or_else(|| "-".into()),
            opt(&d.manufacturer),
            opt(&d.part_number),
            opt(&d.serial)
        );
    }
    for d in &inv.storage.disks {
        let _ = writeln!(
            o,
            "disk      {:<10} {:>9} {:<5} {} (serial {}, fw {}){}",
            d.name,
            d.size_bytes.map(bytes).unwrap_or_default(),
            opt(&d.transport),
            opt(&d.model),
            opt(&d.serial),
            opt(&d.firmware),
            d.wwn.as_ref().map(|w| format!(" wwn {w}")).unwrap_or_default()
        );
        if !d.mounts.is_empty() {
            let _ = writeln!(o, "            mounted on {}", mount_points(&d.mounts));
        }
        for p in &d.partitions {
            let on = if p.mounts.is_empty() { String::new() } else { format!(" on {}", mount_points(&p.mounts)) };
            let _ = writeln!(o, "  part    {:<10} {:>9}{on}", p.name, p.size_bytes.map(bytes).unwrap_or_default());
        }
    }
    for n in &inv.network {
        let speed = n.speed_mbps.map(|s| format!("{s} Mb/s")).unwrap_or_else(|| "-".into());
        let _ = writeln!(
            o,
            "nic       {:<10} {} {} {} {}{}{}{}",
            n.name,
            opt(&n.mac),
            opt(&n.operstate),
            speed,
            opt(&n.driver),
            n.pci_address.as_ref().map(|a| format!(" at {a}")).unwrap_or_default(),
            n.ipv4.iter().map(|a| format!(" {}/{}", a.address, a.prefix_len)).collect::<String>(),
            if n.boot { " (PXE boot)" } else { "" }
        );
    }
    let driverless = inv.pci.iter().filter(|p| p.driver.is_none()).count();
    let _ = writeln!(o, "pci       {} functions, {driverless} without a driver", inv.pci.len());
    for p in &inv.pci {
        let name = p.names.as_ref().map(|n| format!("{} {}", opt(&n.vendor), opt(&n.device))).unwrap_or_default();
        let _ = writeln!(
            o,
            "  {} {:04x}:{:04x} [{:06x}] {:<10} {}",
            p.address,
            p.vendor_id.unwrap_or(0),
            p.device_id.unwrap_or(0),
            p.class.unwrap_or(0),
            p.driver.as_deref().unwrap_or("(none)"),
            name
        );
    }
    for g in &inv.gpus {
        let _ = writeln!(o, "gpu       {} {}", g.pci_address, g.model.as_deref().unwrap_or(""));
    }
    if let Some(t) = &inv.tpm {
        let _ = writeln!(o, "tpm       {} version {}", t.name, opt(&t.version));
    }
    let b = &inv.bmc;
    if b.present {
        let lan = b
            .lan
            .iter()
            .map(|l| format!("ch{} {} {}", l.channel, opt(&l.ipv4), opt(&l.mac)))
            .collect::<Vec<_>>()
            .join(", ");
        let _ = writeln!(o, "bmc       {} firmware {} {lan}", opt(&b.interface), opt(&b.firmware));
    }
    for p in &inv.power_supplies {
        let _ = writeln!(
            o,
            "psu       {} {} {} W {}",
            opt(&p.location),
            opt(&p.part_number),
            p.max_power_w.map(|w| w.to_string()).unwrap_or_else(|| "-".into()),
            opt(&p.status)
        );
    }
    if !inv.usb.is_empty() {
        let _ = writeln!(o, "usb       {} devices", inv.usb.len());
    }
    let _ = writeln!(
        o,
        "run       recon {} on {} in {:.1} ms{}",
        inv.run.agent_version,
        opt(&inv.run.kernel_release),
        inv.run.duration_us as f64 / 1000.0,
        inv.run.boot_mac.as_ref().map(|m| format!("; PXE MAC {m}")).unwrap_or_default()
    );
    if !inv.errors.is_empty() {
        let _ = writeln!(o, "problems  {}", inv.errors.len());
        for e in &inv.errors {
            let _ = writeln!(o, "  {:<8} {}: {}", e.collector, e.path, e.reason);
        }
    }
    o
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes() {
        assert_eq!(bytes(16 << 30), "16 GiB");
        assert_eq!(bytes(1536 << 20), "1.5 GiB");
        assert_eq!(bytes(512), "512 B");
        assert_eq!(bytes(480_103_981_056), "447 GiB");
    }
}
