//! `report.html`: one self-contained page (its style inline, no script, nothing fetched from
//! anywhere), readable from the stick on any laptop. First the fleet: counts, then what a fleet
//! is made of (CPU models, memory sizes, disk types and sizes, NIC speeds, BMCs), the nodes with
//! devices that have no driver, the nodes that never finished and where they stopped, the nodes
//! whose PXE machine UUID differs from their SMBIOS UUID; then the fleet table; then a section
//! per node.

use std::collections::BTreeMap;
use std::fmt::Write as _;

use super::{Record, disk_size, driverless, gib, table, uuid_mismatch};
use crate::serve::fleet::FleetView;

/// HTML-escapes text for element content and attribute values.
pub fn esc(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

const STYLE: &str = "body{font:14px/1.4 system-ui,sans-serif;margin:1.5em auto;max-width:72em;padding:0 1em;color:#222}\
h1{font-size:1.6em;margin-bottom:.2em}h2{margin-top:1.6em;border-bottom:1px solid #ccc}h3{margin-bottom:.3em}\
table{border-collapse:collapse;margin:.5em 0}th,td{border:1px solid #ccc;padding:.2em .5em;text-align:left;vertical-align:top}\
th{background:#f0f0f0}td.n{text-align:right}.bad{color:#a00;font-weight:bold}.ok{color:#070}.muted{color:#777}\
code,.mono{font-family:ui-monospace,monospace}section.node{border-top:2px solid #888;margin-top:2em}";

fn tally(rows: &mut BTreeMap<String, u32>, k: String) {
    *rows.entry(k).or_default() += 1;
}

fn count_table(out: &mut String, title: &str, what: &str, rows: &BTreeMap<String, u32>) {
    if rows.is_empty() {
        // An empty table reads as a rendering fault; say it.
        let _ = write!(out, "<h3>{}</h3><p class=muted>none reported</p>", esc(title));
        return;
    }
    let _ = write!(out, "<h3>{}</h3><table><tr><th>{}</th><th>count</th></tr>", esc(title), esc(what));
    for (k, n) in rows {
        let _ = write!(out, "<tr><td>{}</td><td class=n>{n}</td></tr>", esc(k));
    }
    out.push_str("</table>");
}

/// The page.
pub fn page(fleet: &FleetView, records: &[Record], generated: &str) -> String {
    let mut o = String::new();
    let _ = write!(
        o,
        "<!DOCTYPE html><html lang=en><head><meta charset=utf-8><title>recon fleet report</title>\
         <style>{STYLE}</style></head><body><h1>recon fleet report</h1><p class=muted>generated {} &middot; {}</p>",
        esc(generated),
        esc(&table::counts(fleet))
    );
    summary(&mut o, fleet, records);
    o.push_str("<h2>Fleet</h2><table><tr><th>MAC</th><th>serial / host</th><th>status</th><th>last event</th></tr>");
    for r in records {
        let v = &r.view;
        let cls = if v.state == "done" {
            "ok"
        } else if v.state == "stuck" {
            "bad"
        } else {
            ""
        };
        let _ = write!(
            o,
            "<tr><td class=mono><a href=\"#n{}\">{}</a></td><td>{}</td><td class={cls}>{}</td><td>{}</td></tr>",
            v.mac.dashed(),
            v.mac,
            esc(&table::name(v)),
            esc(&v.status),
            esc(&v.last)
        );
    }
    o.push_str("</table>");
    for r in records {
        node(&mut o, r);
    }
    o.push_str("</body></html>\n");
    o
}

/// "2 sockets, 32 logical CPUs", leaving out what the node did not report (0).
fn cpu_counts(counts: &[(u32, &str)]) -> String {
    let known: Vec<String> = counts.iter().filter(|(n, _)| *n > 0).map(|(n, what)| format!("{n} {what}")).collect();
    if known.is_empty() { "counts not reported".into() } else { known.join(", ") }
}

fn summary(o: &mut String, fleet: &FleetView, records: &[Record]) {
    o.push_str("<h2>Summary</h2>");
    let mut states = BTreeMap::new();
    for (k, n) in &fleet.counts {
        states.insert(k.clone(), *n);
    }
    count_table(o, "Nodes by state", "state", &states);
    let (mut cpus, mut mem, mut disks, mut speeds, mut bmc) =
        (BTreeMap::new(), BTreeMap::new(), BTreeMap::new(), BTreeMap::new(), BTreeMap::new());
    for i in records.iter().filter_map(|r| r.inventory.as_ref()) {
        let model = i.cpu.model_name.clone().unwrap_or_else(|| "unknown".into());
        tally(
            &mut cpus,
            format!("{model} ({})", cpu_counts(&[(i.cpu.sockets, "sockets"), (i.cpu.logical_cpus, "logical CPUs")])),
        );
        tally(&mut mem, i.memory.usable_bytes.map_or("unknown".into(), gib));
        for d in &i.storage.disks {
            let kind = match (d.transport.as_deref(), d.rotational) {
                (Some(t), Some(true)) => format!("{t} HDD"),
                (Some(t), _) => format!("{t} SSD"),
                (None, _) => "unknown".into(),
            };
            tally(&mut disks, format!("{kind} {}", d.size_bytes.map_or("?".into(), disk_size)));
        }
        for n in i.network.iter().filter(|n| !n.virtual_device) {
            tally(&mut speeds, n.speed_mbps.map_or("unknown or no link".into(), |s| format!("{s} Mb/s")));
        }
        tally(&mut bmc, if i.bmc.present { "BMC present".into() } else { "no BMC".into() });
    }
    count_table(o, "CPU models (nodes)", "model", &cpus);
    count_table(o, "Memory (nodes)", "usable memory", &mem);
    count_table(o, "Disks (drives)", "type and size", &disks);
    count_table(o, "NIC speeds (ports)", "speed", &speeds);
    count_table(o, "BMC (nodes)", "BMC", &bmc);
    o.push_str("<h3>Devices without a driver</h3>");
    let mut any = false;
    for r in records {
        let Some(i) = &r.inventory else { continue };
        let d = driverless(i);
        if !d.is_empty() {
            any = true;
            let _ = write!(
                o,
                "<p><span class=mono>{}</span> {}: {}</p>",
                r.view.mac,
                esc(&table::name(&r.view)),
                esc(&d.join("; "))
            );
        }
    }
    if !any {
        o.push_str("<p class=ok>every PCI device has a driver</p>");
    }
    o.push_str("<h3>Nodes that never finished</h3>");
    let unfinished: Vec<&Record> = records.iter().filter(|r| r.view.end.is_none()).collect();
    if unfinished.is_empty() {
        o.push_str("<p class=ok>none</p>");
    } else {
        o.push_str("<table><tr><th>MAC</th><th>where it stopped</th><th>last event</th><th>errors</th></tr>");
        for r in unfinished {
            let _ = write!(
                o,
                "<tr><td class=mono>{}</td><td class=bad>{}</td><td>{}</td><td>{}</td></tr>",
                r.view.mac,
                esc(&r.view.status),
                esc(&r.view.last),
                esc(&r.view.errors.join("; "))
            );
        }
        o.push_str("</table>");
    }
    let mismatches: Vec<(String, (String, String))> =
        records.iter().filter_map(|r| uuid_mismatch(r).map(|m| (r.view.mac.to_string(), m))).collect();
    if !mismatches.is_empty() {
        o.push_str("<h3 class=bad>PXE machine UUID differs from the SMBIOS UUID</h3><table><tr><th>MAC</th><th>option 97</th><th>SMBIOS</th></tr>");
        for (m, (d, s)) in mismatches {
            let _ = write!(
                o,
                "<tr><td class=mono>{m}</td><td class=mono>{}</td><td class=mono>{}</td></tr>",
                esc(&d),
                esc(&s)
            );
        }
        o.push_str("</table>");
    }
}

fn row(o: &mut String, k: &str, v: &str) {
    let v = v.trim();
    if !v.is_empty() {
        let _ = write!(o, "<tr><th>{}</th><td>{}</td></tr>", esc(k), esc(v));
    }
}

fn node(o: &mut String, r: &Record) {
    let v = &r.view;
    let _ = write!(
        o,
        "<section class=node id=\"n{}\"><h2>{} &middot; {}</h2>",
        v.mac.dashed(),
        v.mac,
        esc(&table::name(v))
    );
    o.push_str("<table>");
    row(o, "status", &v.status);
    row(o, "address", &v.ip.map(|i| i.to_string()).unwrap_or_default());
    let id = &v.identity;
    row(o, "client architecture (option 93)", &id.arch.map(|a| a.to_string()).unwrap_or_default());
    row(o, "vendor class (option 60)", id.vendor_class.as_deref().unwrap_or_default());
    row(o, "user class (option 77)", id.user_class.as_deref().unwrap_or_default());
    row(o, "relay agent", &id.relay.map(|i| i.to_string()).unwrap_or_default());
    row(
        o,
        "option 82 circuit / remote id",
        &[id.circuit_id.as_deref(), id.remote_id.as_deref()].into_iter().flatten().collect::<Vec<_>>().join(" / "),
    );
    match uuid_mismatch(r) {
        Some((d, s)) => {
            let _ = write!(
                o,
                "<tr><th>machine UUID (option 97)</th><td class=bad>{} differs from SMBIOS {}</td></tr>",
                esc(&d),
                esc(&s)
            );
        }
        None => row(o, "machine UUID (option 97)", id.uuid.as_deref().unwrap_or_default()),
    }
    o.push_str("</table>");
    if !v.errors.is_empty() {
        let _ = write!(o, "<p class=bad>errors: {}</p>", esc(&v.errors.join("; ")));
    }
    let Some(i) = &r.inventory else {
        o.push_str("<p class=bad>no inventory stored</p></section>");
        return;
    };
    o.push_str("<h3>System</h3><table>");
    let s = |x: &Option<String>| x.clone().unwrap_or_default();
    row(o, "serial", &s(&i.system.serial));
    row(o, "UUID", &s(&i.system.uuid));
    row(o, "manufacturer", &s(&i.system.manufacturer));
    row(o, "product", &s(&i.system.product));
    row(o, "host name", &s(&i.run.hostname));
    row(
        o,
        "board",
        &[s(&i.system.baseboard.manufacturer), s(&i.system.baseboard.product), s(&i.system.baseboard.serial)].join(" "),
    );
    row(o, "chassis", &[s(&i.system.chassis.type_name), s(&i.system.chassis.serial)].join(" "));
    row(o, "firmware", &[s(&i.firmware.vendor), s(&i.firmware.version), s(&i.firmware.date)].join(" "));
    row(
        o,
        "CPU",
        &format!(
            "{} ({})",
            s(&i.cpu.model_name),
            cpu_counts(&[(i.cpu.sockets, "sockets"), (i.cpu.cores, "cores"), (i.cpu.logical_cpus, "logical")])
        ),
    );
    row(o, "memory", &i.memory.usable_bytes.map(gib).unwrap_or_default());
    row(
        o,
        "BMC",
        &if i.bmc.present {
            format!("present {}", i.bmc.lan.iter().filter_map(|l| l.ipv4.clone()).collect::<Vec<_>>().join(" "))
        } else {
            "none".into()
        },
    );
    o.push_str("</table><h3>Disks</h3><table><tr><th>name</th><th>model</th><th>serial</th><th>size</th><th>transport</th><th>WWN</th></tr>");
    for d in &i.storage.disks {
        let _ = write!(
            o,
            "<tr><td class=mono>{}</td><td>{}</td><td class=mono>{}</td><td class=n>{}</td><td>{}</td><td class=mono>{}</td></tr>",
            esc(&d.name),
            esc(&s(&d.model)),
            esc(&s(&d.serial)),
            d.size_bytes.map(disk_size).unwrap_or_default(),
            esc(&s(&d.transport)),
            esc(&s(&d.wwn))
        );
    }
    o.push_str("</table><h3>Network</h3><table><tr><th>name</th><th>MAC</th><th>speed</th><th>driver</th><th>PCI</th><th>boot</th></tr>");
    for n in i.network.iter().filter(|n| !n.virtual_device) {
        let _ = write!(
            o,
            "<tr><td>{}</td><td class=mono>{}</td><td class=n>{}</td><td>{}</td><td class=mono>{}</td><td>{}</td></tr>",
            esc(&n.name),
            esc(&n.permanent_mac.clone().or_else(|| n.mac.clone()).unwrap_or_default()),
            n.speed_mbps.map(|x| format!("{x} Mb/s")).unwrap_or_default(),
            esc(&s(&n.driver)),
            esc(&s(&n.pci_address)),
            if n.boot { "yes" } else { "" }
        );
    }
    o.push_str("</table>");
    let d = driverless(i);
    if !d.is_empty() {
        let _ = write!(o, "<p class=bad>without a driver: {}</p>", esc(&d.join("; ")));
    }
    o.push_str("</section>");
}
