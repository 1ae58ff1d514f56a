#!/usr/bin/env python3
"""Compares `recon inventory` JSON with what other tools report about the same machine.

Peers, each optional: lshw -json [-numeric], lspci -vmm -k -D -nn, dmidecode (text), lsblk -J -O
-b, lscpu -J, lscpu -J -C -B (caches), ethtool (-P, -i and the settings, one `== ethtool ...`
header per run), and the ground truth the guest was configured with (expect.json, expect.py).

For every field recon and a peer both report, one row: peer, field, recon's value, the peer's,
and whether they agree. Values are normalised only where the two sides spell the same fact
differently (a CPU list as `0-1` or `0,1`; lshw's product with the SKU appended; a MAC's case);
each normalisation says so where it is made. Fields only one side reports are listed apart:
- "gap": recon's model has the field but left it empty while the peer has a value. A gap fails
  the run, unless GAP_EXCEPTIONS below names it with the reason recon leaves it empty by design;
- "recon only": recon reports what the peer does not (where recon is a superset);
- "<peer> fields recon lacks": what the peer reports that recon's model has no field for.

Exit status: 0 when every compared field agrees and there is no gap; 1 otherwise; 2 when an
input cannot be read. A peer given on the command line that yields no comparable field at all
also fails: a parser that silently finds nothing would otherwise look like agreement.
"""

import argparse
import json
import re
import sys
from collections import OrderedDict, defaultdict

#--- Result bookkeeping


class Report:
    def __init__(self):
        self.rows = []          # (peer, field, recon, peer value, ok, note)
        self.gaps = []          # (peer, field, peer value, excused reason or None)
        self.recon_only = []    # (peer, field, recon value)
        self.lacks = defaultdict(OrderedDict)   # peer -> {field: example value}
        self.notes = []

    def cmp(self, peer, field, recon, theirs, eq=None, note="", empty_by_design=None):
        """One field: recon's value against the peer's (None: that side does not say).
        `empty_by_design`: why recon leaves this field empty here, if it does so on purpose."""
        if recon is None and theirs is None:
            return
        if theirs is None:
            self.recon_only.append((peer, field, recon))
            return
        if recon is None:
            self.gaps.append((peer, field, theirs, empty_by_design or gap_excuse(peer, field)))
            return
        ok = eq(recon, theirs) if eq else recon == theirs
        self.rows.append((peer, field, recon, theirs, bool(ok), note))

    def lack(self, peer, field, example):
        self.lacks[peer].setdefault(field, example)


# Gaps that are not recon bugs: (peer, field pattern, why recon leaves it empty).
GAP_EXCEPTIONS = [
    ("lsblk", r"^disk\[vd[a-z]+\]\.vendor$",
     "lsblk prints a virtio disk's PCI vendor id (0x1af4) as vendor; recon's vendor is the SCSI "
     "INQUIRY vendor, which a virtio disk does not have"),
]


def gap_excuse(peer, field):
    for p, pattern, why in GAP_EXCEPTIONS:
        if p == peer and re.search(pattern, field):
            return why
    return None


#--- Small helpers


def get(obj, path):
    """A dotted path into recon's JSON (`system.baseboard.serial`); None when absent."""
    for part in path.split("."):
        if not isinstance(obj, dict) or part not in obj:
            return None
        obj = obj[part]
    return obj


def strip(v):
    """Peers pad fixed-width fields (SCSI INQUIRY vendor `ATA     `): padding is not data."""
    if isinstance(v, str):
        v = v.strip()
        return v or None
    return v


def cpuset(text):
    """`0-3,8` or `0,1,2,3,8` -> {0,1,2,3,8}: lscpu writes two CPUs as `0,1`, recon as `0-1`."""
    out = set()
    if text is None:
        return None
    for part in str(text).replace(" ", "").split(","):
        if not part:
            continue
        if "-" in part:
            a, b = part.split("-")
            out.update(range(int(a), int(b) + 1))
        else:
            out.add(int(part))
    return out


def lower(v):
    return v.lower() if isinstance(v, str) else v


def hexdigits(v):
    return re.sub(r"[^0-9a-f]", "", v.lower()) if isinstance(v, str) else v


def short(v, width=44):
    if isinstance(v, (list, set)):
        return f"<{len(v)} items>"
    s = json.dumps(v) if not isinstance(v, str) else v
    return s if len(s) <= width else s[: width - 3] + "..."


def by(items, key):
    out = OrderedDict()
    for i in items or []:
        if i.get(key) is not None:
            out[i[key]] = i
    return out


#--- dmidecode


NOT_SPECIFIED = {"Not Specified", "Not Provided", "Not Present"}


def parse_dmidecode(text):
    """Records as dicts: {'_type', '_handle', key: value, ...}; nested lists kept as lists."""
    records = []
    cur = None
    last_key = None
    version = None
    for line in text.splitlines():
        m = re.match(r"^SMBIOS (\S+) present\.", line)
        if m:
            version = m.group(1)
        m = re.match(r"^Handle 0x([0-9A-Fa-f]+), DMI type (\d+),", line)
        if m:
            cur = {"_handle": int(m.group(1), 16), "_type": int(m.group(2))}
            records.append(cur)
            last_key = None
            continue
        if cur is None or not line.strip():
            continue
        if line.startswith("\t\t") and last_key:
            v = cur.get(last_key)
            cur[last_key] = (v if isinstance(v, list) else []) + [line.strip()]
        elif line.startswith("\t") and ":" in line:
            k, v = line.strip().split(":", 1)
            cur[k.strip()] = v.strip()
            last_key = k.strip()
        elif not line.startswith("\t"):
            cur["_title"] = line.strip()
    return version, records


def dmi_str(rec, key):
    v = rec.get(key)
    if v is None or v in NOT_SPECIFIED or isinstance(v, list):
        return None
    return strip(v)


def dmi_size(v):
    """`1 GB`, `1024 MB`, `64 kB` -> bytes (dmidecode's units are binary)."""
    if not v:
        return None
    m = re.match(r"^(\d+) (bytes|kB|MB|GB|TB)$", v)
    if not m:
        return None
    mult = {"bytes": 1, "kB": 1 << 10, "MB": 1 << 20, "GB": 1 << 30, "TB": 1 << 40}[m.group(2)]
    return int(m.group(1)) * mult


def dmi_int(v, unit=None):
    if not v:
        return None
    m = re.match(r"^(\d+)" + (r"\s*" + re.escape(unit) if unit else "") + r"$", v)
    return int(m.group(1)) if m else None


def compare_dmidecode(rep, inv, text):
    peer = "dmidecode"
    version, recs = parse_dmidecode(text)
    if not recs:
        # No table (a firecracker VM, a container): recon must not have invented one either.
        recon_has = bool(get(inv, "system.source") == "smbios" or get(inv, "memory.dimms"))
        rep.cmp(peer, "smbios table present", recon_has, False)
        rep.notes.append("dmidecode found no SMBIOS table: compared only its absence")
        return
    first = lambda t: next((r for r in recs if r["_type"] == t), None)
    if version is not None:
        rep.cmp(peer, "system.smbios_version", get(inv, "system.smbios_version"), version,
                eq=lambda a, b: b == a or b.startswith(a + "."),
                note="dmidecode adds the docrev (3.0.0)")
    t0, t1, t2, t3 = first(0), first(1), first(2), first(3)
    if t1:
        for key, path in (("Manufacturer", "manufacturer"), ("Product Name", "product"),
                          ("Version", "version"), ("Serial Number", "serial"), ("SKU Number", "sku"),
                          ("Family", "family")):
            rep.cmp(peer, f"system.{path}", get(inv, f"system.{path}"), dmi_str(t1, key))
        uuid = dmi_str(t1, "UUID")
        if uuid and not re.match(r"^[0-9A-Fa-f-]{36}$", uuid):
            uuid = None   # "Not Settable", "Not Present"
        rep.cmp(peer, "system.uuid", get(inv, "system.uuid"), uuid, eq=lambda a, b: a.lower() == b.lower(),
                note="case-insensitive")
        for k in ("Wake-up Type",):
            rep.lack(peer, f"type 1 {k}", t1.get(k))
    if t2:
        for key, path in (("Manufacturer", "manufacturer"), ("Product Name", "product"),
                          ("Version", "version"), ("Serial Number", "serial"), ("Asset Tag", "asset_tag")):
            rep.cmp(peer, f"system.baseboard.{path}", get(inv, f"system.baseboard.{path}"), dmi_str(t2, key))
        for k in ("Location In Chassis", "Type", "Features"):
            rep.lack(peer, f"type 2 {k}", t2.get(k))
    if t3:
        for key, path in (("Manufacturer", "manufacturer"), ("Version", "version"), ("Serial Number", "serial"),
                          ("Asset Tag", "asset_tag"), ("SKU Number", "sku"), ("Type", "type_name")):
            rep.cmp(peer, f"system.chassis.{path}", get(inv, f"system.chassis.{path}"), dmi_str(t3, key))
        for k in ("Lock", "Boot-up State", "Power Supply State", "Thermal State", "Height"):
            rep.lack(peer, f"type 3 {k}", t3.get(k))
    if t0:
        for key, path in (("Vendor", "vendor"), ("Version", "version"), ("Release Date", "date"),
                          ("BIOS Revision", "release")):
            rep.cmp(peer, f"firmware.{path}", get(inv, f"firmware.{path}"), dmi_str(t0, key))
        for k in ("Address", "Runtime Size", "ROM Size", "Characteristics"):
            rep.lack(peer, f"type 0 {k}", t0.get(k))

    # Type 4, in table order: recon keeps the table's order and has no handle for them.
    t4s = [r for r in recs if r["_type"] == 4]
    packages = get(inv, "cpu.packages") or []
    rep.cmp(peer, "cpu.packages count", len(packages), len(t4s))
    for i, (p, r) in enumerate(zip(packages, t4s)):
        f = f"cpu.packages[{i}]"
        rep.cmp(peer, f"{f}.socket", p.get("socket"), dmi_str(r, "Socket Designation"))
        rep.cmp(peer, f"{f}.populated", p.get("populated"), (r.get("Status") or "").startswith("Populated"))
        for key, name in (("Manufacturer", "manufacturer"), ("Version", "version"), ("Serial Number", "serial"),
                          ("Asset Tag", "asset_tag"), ("Part Number", "part_number")):
            rep.cmp(peer, f"{f}.{name}", p.get(name), dmi_str(r, key))
        for key, name in (("Max Speed", "max_speed_hz"), ("Current Speed", "current_speed_hz")):
            mhz = dmi_int(r.get(key), "MHz")
            rep.cmp(peer, f"{f}.{name}", p.get(name), mhz * 1_000_000 if mhz else None)
        for key, name in (("Core Count", "core_count"), ("Core Enabled", "cores_enabled"),
                          ("Thread Count", "thread_count")):
            rep.cmp(peer, f"{f}.{name}", p.get(name), dmi_int(r.get(key)))
        for k in ("Family", "ID", "Voltage", "External Clock", "Upgrade", "Characteristics"):
            rep.lack(peer, f"type 4 {k}", r.get(k))

    arrays = by(get(inv, "memory.arrays"), "handle")
    for r in (r for r in recs if r["_type"] == 16):
        a = arrays.get(r["_handle"])
        f = f"memory.arrays[0x{r['_handle']:04x}]"
        rep.cmp(peer, f"{f} present", a is not None, True)
        if a:
            rep.cmp(peer, f"{f}.slots", a.get("slots"), dmi_int(r.get("Number Of Devices")))
            rep.cmp(peer, f"{f}.max_capacity_bytes", a.get("max_capacity_bytes"), dmi_size(r.get("Maximum Capacity")))
            rep.cmp(peer, f"{f}.error_correction", a.get("error_correction"), dmi_str(r, "Error Correction Type"))
        for k in ("Location", "Use"):
            rep.lack(peer, f"type 16 {k}", r.get(k))

    dimms = by(get(inv, "memory.dimms"), "handle")
    t17 = [r for r in recs if r["_type"] == 17]
    rep.cmp(peer, "memory.dimms count", len(dimms), len(t17))
    installed = 0
    for r in t17:
        d = dimms.get(r["_handle"])
        f = f"memory.dimms[0x{r['_handle']:04x}]"
        rep.cmp(peer, f"{f} present", d is not None, True)
        if not d:
            continue
        size = dmi_size(r.get("Size"))
        installed += size or 0
        rep.cmp(peer, f"{f}.locator", d.get("locator"), dmi_str(r, "Locator"))
        rep.cmp(peer, f"{f}.bank", d.get("bank"), dmi_str(r, "Bank Locator"))
        rep.cmp(peer, f"{f}.size_bytes", d.get("size_bytes"), size)
        rep.cmp(peer, f"{f}.form_factor", d.get("form_factor"), dmi_str(r, "Form Factor"))
        if size:
            # dmidecode describes an empty slot's type and strings too; recon keeps them only
            # for a populated slot (memory.rs: "the rest of its strings are vendor filler").
            rep.cmp(peer, f"{f}.memory_type", d.get("memory_type"), dmi_str(r, "Type"))
            rep.cmp(peer, f"{f}.speed_mts", d.get("speed_mts"), dmi_int(r.get("Speed"), "MT/s"))
            rep.cmp(peer, f"{f}.configured_speed_mts", d.get("configured_speed_mts"),
                    dmi_int(r.get("Configured Memory Speed"), "MT/s"))
            for key, name in (("Manufacturer", "manufacturer"), ("Serial Number", "serial"),
                              ("Asset Tag", "asset_tag"), ("Part Number", "part_number")):
                rep.cmp(peer, f"{f}.{name}", d.get(name), dmi_str(r, key))
            rep.cmp(peer, f"{f}.rank", d.get("rank"), dmi_int(r.get("Rank")))
        rep.cmp(peer, f"{f}.total_width", d.get("total_width"), dmi_int(r.get("Total Width"), "bits"))
        rep.cmp(peer, f"{f}.data_width", d.get("data_width"), dmi_int(r.get("Data Width"), "bits"))
        for k in ("Type Detail", "Set", "Minimum Voltage", "Maximum Voltage", "Configured Voltage"):
            rep.lack(peer, f"type 17 {k}", r.get(k))
    if t17:
        rep.cmp(peer, "memory.installed_bytes", get(inv, "memory.installed_bytes"), installed or None)

    # Type 41 onboard devices: recon puts the name on the NIC at that PCI address.
    nics = by(get(inv, "network"), "pci_address")
    for r in (r for r in recs if r["_type"] == 41):
        addr = dmi_str(r, "Bus Address")
        if dmi_str(r, "Type") != "Ethernet" or not addr:
            continue
        nic = nics.get(addr)
        rep.cmp(peer, f"network[{addr}].firmware_name", nic.get("firmware_name") if nic else None,
                dmi_str(r, "Reference Designation"))

    seen = {0, 1, 2, 3, 4, 16, 17, 41, 127}
    for r in recs:
        if r["_type"] not in seen:
            rep.lack(peer, f"type {r['_type']} ({r.get('_title')})", "...")


#--- lshw


# lshw writes its own vendor names for the CPUID vendor strings (lshw src/core/cpuinfo.cc).
LSHW_CPU_VENDORS = {"GenuineIntel": "Intel Corp.", "AuthenticAMD": "Advanced Micro Devices [AMD]"}


def lshw_nodes(node, parent=None, out=None):
    out = [] if out is None else out
    node["_parent"] = parent
    out.append(node)
    for c in node.get("children", []):
        lshw_nodes(c, node, out)
    return out


def lshw_pci(node):
    """The PCI function a node sits on: its own businfo or its nearest PCI ancestor's (lshw puts
    a virtio NIC under its PCI function as `virtio@N`)."""
    while node is not None:
        b = node.get("businfo") or ""
        if b.startswith("pci@"):
            return b[4:]
        node = node.get("_parent")
    return None


def lshw_ids(node):
    """`-numeric` appends `[8086:100E]` to the product and `[8086]` to the vendor."""
    ven = dev = None
    m = re.search(r"\[([0-9A-Fa-f]{4}):([0-9A-Fa-f]{4})\]$", node.get("product") or "")
    if m:
        ven, dev = int(m.group(1), 16), int(m.group(2), 16)
    m = re.search(r"\[([0-9A-Fa-f]{4})\]$", node.get("vendor") or "")
    if m and ven is None:
        ven = int(m.group(1), 16)
    return ven, dev


def lshw_lacks(rep, kind, node, used):
    for k, v in node.items():
        if k in ("children", "_parent", "id", "class", "claimed", "physid", "handle", "description") or k in used:
            continue
        if k == "configuration":
            for ck, cv in v.items():
                if f"configuration.{ck}" not in used:
                    rep.lack("lshw", f"{kind}: configuration.{ck}", cv)
        elif k == "capabilities":
            if "capabilities" not in used:
                rep.lack("lshw", f"{kind}: capabilities", ",".join(sorted(v))[:60])
        else:
            rep.lack("lshw", f"{kind}: {k}", v)


def compare_lshw(rep, inv, data):
    peer = "lshw"
    root = data[0] if isinstance(data, list) else data
    nodes = lshw_nodes(root)
    cfg = lambda n, k: strip((n.get("configuration") or {}).get(k))

    # The machine (root), board (core) and firmware: SMBIOS types 1, 2, 0.
    if root.get("class") == "system":
        sku = cfg(root, "sku")
        product = strip(root.get("product"))
        if product and sku and product.endswith(f" ({sku})"):
            # lshw appends the SKU to the product name (lshw src/core/dmi.cc).
            product = product[: -len(f" ({sku})")]
        has_dmi = (root.get("handle") or "").startswith("DMI:")
        if has_dmi:
            rep.cmp(peer, "system.manufacturer", get(inv, "system.manufacturer"), strip(root.get("vendor")))
            rep.cmp(peer, "system.product", get(inv, "system.product"), product, note="lshw's ' (SKU)' suffix removed")
            rep.cmp(peer, "system.version", get(inv, "system.version"), strip(root.get("version")))
            rep.cmp(peer, "system.serial", get(inv, "system.serial"), strip(root.get("serial")))
            rep.cmp(peer, "system.uuid", get(inv, "system.uuid"), cfg(root, "uuid"),
                    eq=lambda a, b: a.lower() == b.lower(), note="case-insensitive")
            rep.cmp(peer, "system.sku", get(inv, "system.sku"), sku)
            rep.cmp(peer, "system.family", get(inv, "system.family"), cfg(root, "family"))
            smb = next((c[len("smbios-"):] for c in (root.get("capabilities") or {}) if c.startswith("smbios-")), None)
            rep.cmp(peer, "system.smbios_version", get(inv, "system.smbios_version"), smb)
        used = {"vendor", "product", "version", "serial", "configuration.uuid", "configuration.sku",
                "configuration.family", "capabilities"} if has_dmi else set()
        lshw_lacks(rep, "system", root, used)

    for n in nodes:
        cls, nid = n.get("class"), n.get("id") or ""
        if cls == "bus" and nid == "core" and (n.get("handle") or "").startswith("DMI:"):
            for k, path in (("vendor", "manufacturer"), ("product", "product"), ("version", "version"),
                            ("serial", "serial")):
                rep.cmp(peer, f"system.baseboard.{path}", get(inv, f"system.baseboard.{path}"), strip(n.get(k)))
            lshw_lacks(rep, "motherboard", n, {"vendor", "product", "version", "serial"})
        elif cls == "memory" and nid == "firmware":
            for k in ("vendor", "version", "date"):
                rep.cmp(peer, f"firmware.{k}", get(inv, f"firmware.{k}"), strip(n.get(k)))
            lshw_lacks(rep, "firmware", n, {"vendor", "version", "date", "units"})

    # Memory: lshw's System Memory node sums the DIMMs when there is a table, else it sizes the
    # memory the kernel has online.
    dimms = by(get(inv, "memory.dimms"), "handle")
    for n in nodes:
        if n.get("class") != "memory" or n.get("id") not in ("memory",) or "size" not in n:
            continue
        if get(inv, "memory.installed_bytes") is not None:
            rep.cmp(peer, "memory.installed_bytes", get(inv, "memory.installed_bytes"), n.get("size"))
        else:
            rep.cmp(peer, "memory.online_bytes", get(inv, "memory.online_bytes"), n.get("size"),
                    note="no SMBIOS: lshw sizes online memory")
        arrays = get(inv, "memory.arrays") or []
        if arrays and "capacity" in n:
            rep.cmp(peer, "memory.arrays max_capacity_bytes (sum)",
                    sum(a.get("max_capacity_bytes") or 0 for a in arrays), n.get("capacity"))
        ecc = cfg(n, "errordetection")
        if arrays and ecc:
            # lshw spells `Multi-bit ECC` as `multi-bit-ecc`.
            rep.cmp(peer, "memory.arrays[0].error_correction", arrays[0].get("error_correction"), ecc,
                    eq=lambda a, b: a.lower().replace(" ", "-") == b, note="lshw's spelling")
        lshw_lacks(rep, "memory", n, {"size", "capacity", "units", "configuration.errordetection", "capabilities"})
        for b in n.get("children", []):
            h = b.get("handle") or ""
            if not h.startswith("DMI:"):
                continue
            handle = int(h[4:], 16)
            d = dimms.get(handle)
            f = f"memory.dimms[0x{handle:04x}]"
            rep.cmp(peer, f"{f} present", d is not None, True)
            if not d:
                continue
            rep.cmp(peer, f"{f}.locator", d.get("locator"), strip(b.get("slot")))
            rep.cmp(peer, f"{f}.size_bytes", d.get("size_bytes"), b.get("size"))
            rep.cmp(peer, f"{f}.manufacturer", d.get("manufacturer"), strip(b.get("vendor")))
            rep.cmp(peer, f"{f}.part_number", d.get("part_number"), strip(b.get("product")))
            rep.cmp(peer, f"{f}.serial", d.get("serial"), strip(b.get("serial")))
            clock = b.get("clock")
            rep.cmp(peer, f"{f}.speed_mts", d.get("speed_mts"), clock // 1_000_000 if clock else None,
                    note="lshw clock is MT/s x 1e6")
            desc = b.get("description") or ""
            if d.get("size_bytes") and d.get("form_factor") and d.get("memory_type"):
                rep.cmp(peer, f"{f}.form_factor + memory_type", f"{d['form_factor']} {d['memory_type']}", desc,
                        eq=lambda a, b: all(w in b.split() for w in a.split()),
                        note="words of lshw's description")
            lshw_lacks(rep, "memory bank", b, {"slot", "size", "vendor", "product", "serial", "clock", "units"})

    # CPUs: one node per SMBIOS type 4 with a table (DMI:04xx), else per package from cpuinfo.
    cpu = inv.get("cpu") or {}
    packages = cpu.get("packages") or []
    t4_handles = sorted(int(n["handle"][4:], 16) for n in nodes
                        if n.get("class") == "processor" and (n.get("handle") or "").startswith("DMI:"))
    for n in nodes:
        if n.get("class") != "processor":
            continue
        f = f"cpu ({n.get('id')})"
        if n.get("product") and not n.get("disabled"):
            rep.cmp(peer, f"{f} model_name", cpu.get("model_name"), strip(n.get("product")))
            rep.cmp(peer, f"{f} vendor", LSHW_CPU_VENDORS.get(cpu.get("vendor"), cpu.get("vendor")),
                    strip(n.get("vendor")), note="lshw's vendor names")
            fms = None
            if None not in (cpu.get("family"), cpu.get("model"), cpu.get("stepping")):
                fms = f"{cpu['family']}.{cpu['model']}.{cpu['stepping']}"
            rep.cmp(peer, f"{f} family.model.stepping", fms, strip(n.get("version")))
            mc = cfg(n, "microcode")
            rep.cmp(peer, f"{f} microcode", int(cpu["microcode"], 16) if cpu.get("microcode") else None,
                    int(mc) if mc else None, note="lshw prints it in decimal")
        used = {"product", "vendor", "version", "configuration.microcode"}
        h = n.get("handle") or ""
        if h.startswith("DMI:"):
            i = t4_handles.index(int(h[4:], 16))
            p = packages[i] if i < len(packages) else None
            g = f"cpu.packages[{i}]"
            rep.cmp(peer, f"{g} present", p is not None, True)
            if p:
                rep.cmp(peer, f"{g}.socket", p.get("socket"), strip(n.get("slot")))
                rep.cmp(peer, f"{g}.serial", p.get("serial"), strip(n.get("serial")))
                rep.cmp(peer, f"{g}.current_speed_hz", p.get("current_speed_hz"), n.get("size"))
                rep.cmp(peer, f"{g}.max_speed_hz", p.get("max_speed_hz"), n.get("capacity"))
                for k, name in (("cores", "core_count"), ("enabledcores", "cores_enabled"), ("threads", "thread_count")):
                    v = cfg(n, k)
                    rep.cmp(peer, f"{g}.{name}", p.get(name), int(v) if v else None)
            used |= {"slot", "serial", "size", "capacity", "units", "configuration.cores",
                     "configuration.enabledcores", "configuration.threads"}
        # lshw's capabilities are cpuinfo's flags, with `lm` called `x86-64`, plus cpuinfo's
        # `fpu_exception: yes` and `wp: yes` lines (lshw src/core/cpuinfo.cc).
        caps = set((n.get("capabilities") or {}).keys())
        if caps and cpu.get("flags"):
            mine = {"x86-64" if x == "lm" else x for x in cpu["flags"]}
            lines = {"fpu_exception", "wp"}
            rep.cmp(peer, f"{f} flags (as a set)", sorted(mine), sorted(caps - lines),
                    note="lm is x86-64 in lshw")
            used.add("capabilities")
            if caps & lines:
                rep.lack(peer, "processor: cpuinfo yes/no lines", ",".join(sorted(caps & lines)))
        lshw_lacks(rep, "processor", n, used)

    # PCI functions.
    pci = by(inv.get("pci"), "address")
    for n in nodes:
        b = n.get("businfo") or ""
        if not b.startswith("pci@"):
            continue
        addr = b[4:]
        p = pci.get(addr)
        f = f"pci[{addr}]"
        rep.cmp(peer, f"{f} present", p is not None, True)
        if not p:
            continue
        ven, dev = lshw_ids(n)
        rep.cmp(peer, f"{f}.vendor_id", p.get("vendor_id"), ven)
        rep.cmp(peer, f"{f}.device_id", p.get("device_id"), dev)
        rev = n.get("version")
        # lshw writes the revision as two hex digits; on an NVMe node it is the firmware instead.
        if rev and re.match(r"^[0-9a-f]{2}$", rev) and n.get("description") != "NVMe device":
            rep.cmp(peer, f"{f}.revision", p.get("revision"), int(rev, 16))
        rep.cmp(peer, f"{f}.driver", p.get("driver"), cfg(n, "driver"))
        # NICs and NVMe controllers list their own extra fields below.
        if n.get("class") != "network" and n.get("description") != "NVMe device":
            lshw_lacks(rep, "pci function", n, {"vendor", "product", "version", "configuration.driver", "businfo"})

    # NICs, by interface name.
    nics = by(inv.get("network"), "name")
    for n in nodes:
        if n.get("class") != "network" or not isinstance(n.get("logicalname"), str):
            continue
        name = n["logicalname"]
        nic = nics.get(name)
        f = f"network[{name}]"
        rep.cmp(peer, f"{f} present", nic is not None, True)
        if not nic:
            continue
        rep.cmp(peer, f"{f}.mac", nic.get("mac"), lower(strip(n.get("serial"))), note="lshw shows the current MAC")
        rep.cmp(peer, f"{f}.pci_address", nic.get("pci_address"), lshw_pci(n))
        rep.cmp(peer, f"{f}.driver", nic.get("driver"), cfg(n, "driver"))
        rep.cmp(peer, f"{f}.driver_version", nic.get("driver_version"), cfg(n, "driverversion"))
        rep.cmp(peer, f"{f}.firmware_version", nic.get("firmware_version"), cfg(n, "firmware"))
        rep.cmp(peer, f"{f}.duplex", nic.get("duplex"), cfg(n, "duplex"))
        link = cfg(n, "link")
        rep.cmp(peer, f"{f}.carrier", nic.get("carrier"), {"yes": True, "no": False}.get(link))
        size = n.get("size") if n.get("units") == "bit/s" else None
        rep.cmp(peer, f"{f}.speed_mbps", nic.get("speed_mbps"), size // 1_000_000 if size else None)
        lshw_lacks(rep, "network", n, {"serial", "configuration.driver", "configuration.driverversion",
                                       "configuration.firmware", "configuration.duplex", "configuration.link",
                                       "size", "units", "configuration.speed", "logicalname", "businfo",
                                       "vendor", "product", "version", "configuration.latency"})

    # NVMe controllers (lshw: storage node with logicalname /dev/nvmeN).
    ctrls = by(get(inv, "storage.nvme_controllers"), "name")
    for n in nodes:
        ln = n.get("logicalname")
        if n.get("description") != "NVMe device" or not isinstance(ln, str):
            continue
        name = ln.rsplit("/", 1)[-1]
        c = ctrls.get(name)
        f = f"nvme_controllers[{name}]"
        rep.cmp(peer, f"{f} present", c is not None, True)
        if not c:
            continue
        rep.cmp(peer, f"{f}.model", c.get("model"), strip(n.get("product")))
        rep.cmp(peer, f"{f}.serial", c.get("serial"), strip(n.get("serial")))
        rep.cmp(peer, f"{f}.firmware", c.get("firmware"), strip(n.get("version")))
        rep.cmp(peer, f"{f}.nqn", c.get("nqn"), cfg(n, "nqn"))
        rep.cmp(peer, f"{f}.pci_address", c.get("pci_address"), lshw_pci(n))
        lshw_lacks(rep, "nvme controller", n, {"product", "serial", "version", "configuration.nqn", "logicalname",
                                               "businfo", "vendor", "configuration.driver"})

    # Disks (class disk with a /dev/ logical name; lshw lists mount points after it).
    disks = by(get(inv, "storage.disks"), "name")
    for n in nodes:
        if n.get("class") != "disk":
            continue
        ln = n.get("logicalname")
        ln = ln[0] if isinstance(ln, list) else ln
        if not isinstance(ln, str) or not ln.startswith("/dev/"):
            # lshw 02.19 names NVMe namespaces by their hidden multipath path (nvme0c0n1) or
            # by hwmon0: nothing to match a disk by.
            rep.notes.append(f"lshw disk node {n.get('id')} has no /dev name ({ln}): not compared")
            continue
        name = ln[len("/dev/"):]
        if re.fullmatch(r"ng\d+n\d+", name):
            # The namespace's NVMe generic character device (Linux 5.13+), which lshw lists as a
            # disk of its own: the same namespace as its block device nvmeXnY, compared there.
            rep.notes.append(f"lshw disk node {n.get('id')} is the NVMe generic char device {ln}: not compared")
            continue
        d = disks.get(name)
        f = f"disk[{name}]"
        rep.cmp(peer, f"{f} present", d is not None, True)
        if not d:
            continue
        rep.cmp(peer, f"{f}.size_bytes", d.get("size_bytes"), n.get("size"))
        rep.cmp(peer, f"{f}.model", d.get("model"), strip(n.get("product")))
        rep.cmp(peer, f"{f}.vendor", d.get("vendor"), strip(n.get("vendor")))
        rep.cmp(peer, f"{f}.serial", d.get("serial"), strip(n.get("serial")))
        b = n.get("businfo") or ""
        m = re.match(r"^scsi@(\d+):(\d+)\.(\d+)\.(\d+)$", b)
        rep.cmp(peer, f"{f}.hctl", d.get("hctl"), ":".join(m.groups()) if m else None)
        rep.cmp(peer, f"{f}.dev", d.get("dev"), strip(n.get("dev")))
        for k, name2 in (("logicalsectorsize", "logical_block_bytes"), ("sectorsize", "physical_block_bytes")):
            v = cfg(n, k)
            rep.cmp(peer, f"{f}.{name2}", d.get(name2), int(v) if v else None)
        ver = strip(n.get("version"))
        if ver and (d.get("vendor") or "").strip() == "ATA":
            # lshw shows the SCSI INQUIRY revision: libata fills it with the last 4 of the 8
            # characters of the ATA firmware revision.
            rep.cmp(peer, f"{f}.firmware (INQUIRY form)", d.get("firmware"), ver,
                    eq=lambda a, b: a.ljust(8)[4:8].strip() == b, note="last 4 of 8 ATA chars")
        else:
            rep.cmp(peer, f"{f}.firmware", d.get("firmware"), ver)
        lshw_lacks(rep, "disk", n, {"size", "product", "vendor", "serial", "businfo", "version", "units", "dev",
                                    "configuration.logicalsectorsize", "configuration.sectorsize", "logicalname"})

    for n in nodes:
        if n.get("class") in ("input", "communication", "system", "generic", "multimedia", "display", "bus") \
                and not (n.get("businfo") or "").startswith("pci@") and n is not root and n.get("id") != "core":
            rep.lack(peer, f"node class {n.get('class')} ({n.get('product') or n.get('description')})", n.get("id"))


#--- lspci -vmm -k -D -nn


def parse_lspci(text):
    devs = []
    for block in re.split(r"\n\s*\n", text.strip()):
        d = {}
        for line in block.splitlines():
            if ":\t" in line:
                k, v = line.split(":\t", 1)
                d[k] = v.strip()
        if "Slot" in d:
            devs.append(d)
    return devs


def bracket_id(v):
    """`Intel Corporation [8086]` -> 0x8086 (-nn)."""
    if v is None:
        return None
    m = re.search(r"\[([0-9a-fA-F]{4})\]$", v)
    return int(m.group(1), 16) if m else None


def compare_lspci(rep, inv, text):
    peer = "lspci"
    devs = parse_lspci(text)
    pci = by(inv.get("pci"), "address")
    seen = set()
    for d in devs:
        addr = d["Slot"]
        seen.add(addr)
        p = pci.get(addr)
        f = f"pci[{addr}]"
        rep.cmp(peer, f"{f} present", p is not None, True)
        if not p:
            continue
        rep.cmp(peer, f"{f}.vendor_id", p.get("vendor_id"), bracket_id(d.get("Vendor")))
        rep.cmp(peer, f"{f}.device_id", p.get("device_id"), bracket_id(d.get("Device")))
        rep.cmp(peer, f"{f}.subsystem_vendor_id", p.get("subsystem_vendor_id"), bracket_id(d.get("SVendor")))
        rep.cmp(peer, f"{f}.subsystem_device_id", p.get("subsystem_device_id"), bracket_id(d.get("SDevice")))
        cls = bracket_id(d.get("Class"))
        prog = int(d["ProgIf"], 16) if "ProgIf" in d else 0
        rep.cmp(peer, f"{f}.class", p.get("class"), (cls << 8 | prog) if cls is not None else None,
                eq=lambda a, b: a == b, note="Class [ccss] + ProgIf")
        # lspci -vmm prints Rev only when it is not zero.
        rep.cmp(peer, f"{f}.revision", p.get("revision"), int(d["Rev"], 16) if "Rev" in d else 0)
        # -k prints Driver only for a bound device: its absence is "no driver", a fact to compare.
        rep.cmp(peer, f"{f}.driver", p.get("driver") or "(none)", d.get("Driver") or "(none)")
        if "NUMANode" in d:
            rep.cmp(peer, f"{f}.numa_node", p.get("numa_node"), int(d["NUMANode"]))
        if "PhySlot" in d:
            rep.cmp(peer, f"{f}.slot", p.get("slot"), d["PhySlot"])
        for k in d:
            if k not in ("Slot", "Class", "Vendor", "Device", "SVendor", "SDevice", "Rev", "ProgIf", "Driver",
                         "NUMANode", "PhySlot"):
                rep.lack(peer, k, d[k])
    for addr in pci:
        if addr not in seen:
            rep.cmp(peer, f"pci[{addr}] present", True, False)


#--- lsblk -J -O -b


def compare_lsblk(rep, inv, data):
    peer = "lsblk"
    disks = by(get(inv, "storage.disks"), "name")
    skipped = {s["name"]: s["why"] for s in (get(inv, "storage.skipped") or [])}
    seen = set()
    used = {"name", "kname", "type", "size", "model", "serial", "wwn", "rota", "rm", "ro", "log-sec", "phy-sec",
            "tran", "hctl", "rev", "vendor", "maj:min", "children", "path"}
    for b in data.get("blockdevices", []):
        name = b.get("name")
        seen.add(name)
        if name in skipped:
            rep.notes.append(f"lsblk {name} ({b.get('type')}): recon skips it ({skipped[name]})")
            continue
        if b.get("type") != "disk":
            rep.notes.append(f"lsblk {name} is type {b.get('type')}: not a disk")
            continue
        d = disks.get(name)
        f = f"disk[{name}]"
        rep.cmp(peer, f"{f} present", d is not None, True)
        if not d:
            continue
        rep.cmp(peer, f"{f}.size_bytes", d.get("size_bytes"), b.get("size"))
        rep.cmp(peer, f"{f}.model", d.get("model"), strip(b.get("model")))
        rep.cmp(peer, f"{f}.serial", d.get("serial"), strip(b.get("serial")))
        rep.cmp(peer, f"{f}.wwn", d.get("wwn"), strip(b.get("wwn")))
        rep.cmp(peer, f"{f}.rotational", d.get("rotational"), b.get("rota"))
        rep.cmp(peer, f"{f}.removable", d.get("removable"), b.get("rm"))
        rep.cmp(peer, f"{f}.read_only", d.get("read_only"), b.get("ro"))
        rep.cmp(peer, f"{f}.logical_block_bytes", d.get("logical_block_bytes"), b.get("log-sec"))
        rep.cmp(peer, f"{f}.physical_block_bytes", d.get("physical_block_bytes"), b.get("phy-sec"))
        rep.cmp(peer, f"{f}.transport", d.get("transport"), strip(b.get("tran")))
        rep.cmp(peer, f"{f}.hctl", d.get("hctl"), strip(b.get("hctl")))
        rep.cmp(peer, f"{f}.dev", d.get("dev"), strip(b.get("maj:min")))
        vendor = strip(b.get("vendor"))
        rep.cmp(peer, f"{f}.vendor", d.get("vendor"), vendor)
        rev = strip(b.get("rev"))
        if rev and vendor == "ATA":
            # lsblk reads sysfs `rev`, the SCSI INQUIRY revision libata builds from the last 4 of
            # the 8 characters of the ATA firmware revision; recon reports the whole revision.
            rep.cmp(peer, f"{f}.firmware (INQUIRY form)", d.get("firmware"), rev,
                    eq=lambda a, b: a.ljust(8)[4:8].strip() == b, note="last 4 of 8 ATA chars")
        else:
            rep.cmp(peer, f"{f}.firmware", d.get("firmware"), rev)
        for k, v in b.items():
            if k not in used:
                rep.lack(peer, k, v)
    for name in disks:
        if name not in seen:
            rep.cmp(peer, f"disk[{name}] present", True, False)


#--- lscpu -J, lscpu -J -C -B


def lscpu_fields(data):
    out = {}

    def walk(entries):
        for e in entries:
            out[e["field"].rstrip(":")] = e.get("data")
            walk(e.get("children", []))
    walk(data.get("lscpu", []))
    return out


def compare_lscpu(rep, inv, data, caches):
    peer = "lscpu"
    f = lscpu_fields(data)
    cpu = inv.get("cpu") or {}
    num = lambda k: int(f[k]) if f.get(k) not in (None, "-") and re.match(r"^\d+$", f[k]) else None
    rep.cmp(peer, "cpu.architecture", cpu.get("architecture"), f.get("Architecture"))
    rep.cmp(peer, "cpu.vendor", cpu.get("vendor"), f.get("Vendor ID"))
    rep.cmp(peer, "cpu.model_name", cpu.get("model_name"), f.get("Model name"))
    rep.cmp(peer, "cpu.family", cpu.get("family"), num("CPU family"))
    rep.cmp(peer, "cpu.model", cpu.get("model"), num("Model"))
    rep.cmp(peer, "cpu.stepping", cpu.get("stepping"), num("Stepping"))
    rep.cmp(peer, "cpu.logical_cpus", cpu.get("logical_cpus"), num("CPU(s)"))
    online = cpuset(f.get("On-line CPU(s) list"))
    rep.cmp(peer, "cpu.online_cpus", cpu.get("online_cpus"), len(online) if online is not None else None)
    rep.cmp(peer, "cpu.sockets", cpu.get("sockets"), num("Socket(s)"))
    rep.cmp(peer, "cpu.threads_per_core", cpu.get("threads_per_core"), num("Thread(s) per core"))
    cps, sockets = num("Core(s) per socket"), num("Socket(s)")
    rep.cmp(peer, "cpu.cores", cpu.get("cores"), cps * sockets if cps and sockets else None,
            note="Core(s) per socket x Socket(s)")
    rep.cmp(peer, "cpu.hypervisor", cpu.get("hypervisor"), f.get("Hypervisor vendor"))
    mhz = lambda k: round(float(f[k]) * 1e6) if f.get(k) else None
    rep.cmp(peer, "cpu.max_hz", cpu.get("max_hz"), mhz("CPU max MHz"), eq=lambda a, b: abs(a - b) < 1e6)
    rep.cmp(peer, "cpu.min_hz", cpu.get("min_hz"), mhz("CPU min MHz"), eq=lambda a, b: abs(a - b) < 1e6)
    if f.get("Flags"):
        rep.cmp(peer, "cpu.flags (set)", sorted(cpu.get("flags") or []), sorted(f["Flags"].split()))
    nodes = by(cpu.get("numa_nodes"), "id")
    rep.cmp(peer, "cpu.numa_nodes count", len(nodes) if nodes else None, num("NUMA node(s)"))
    for k, v in f.items():
        m = re.match(r"^NUMA node(\d+) CPU\(s\)$", k)
        if m:
            n = nodes.get(int(m.group(1)))
            rep.cmp(peer, f"cpu.numa_nodes[{m.group(1)}].cpus", n.get("cpus") if n else None, v,
                    eq=lambda a, b: cpuset(a) == cpuset(b), note="as CPU sets")
    # lscpu's BIOS lines come from SMBIOS type 4 (the first).
    pk = (cpu.get("packages") or [None])[0] or {}
    rep.cmp(peer, "cpu.packages[0].manufacturer", pk.get("manufacturer"), f.get("BIOS Vendor ID"))
    used = {"Architecture", "Vendor ID", "Model name", "CPU family", "Model", "Stepping", "CPU(s)",
            "On-line CPU(s) list", "Socket(s)", "Thread(s) per core", "Core(s) per socket", "Hypervisor vendor",
            "CPU max MHz", "CPU min MHz", "Flags", "NUMA node(s)", "BIOS Vendor ID",
            "L1d cache", "L1i cache", "L2 cache", "L3 cache"}
    for k, v in f.items():
        if k in used or re.match(r"^NUMA node\d+ CPU\(s\)$", k):
            continue
        rep.lack(peer, re.sub(r"^Vulnerability .*", "Vulnerability *", k), v)

    if caches is not None:
        mine = {(c["level"], c["kind"]): c for c in cpu.get("caches") or []}
        for c in caches.get("caches", []):
            key = (c["level"], c["type"])
            r = mine.get(key)
            g = f"cpu.caches[L{c['name'][1:]}]"
            rep.cmp(peer, f"{g} present", r is not None, True)
            if not r:
                continue
            one, total = int(c["one-size"]), int(c["all-size"])
            rep.cmp(peer, f"{g}.size_bytes", r.get("size_bytes"), one)
            rep.cmp(peer, f"{g}.instances", r.get("instances"), total // one if one else None,
                    note="all-size / one-size")
            rep.cmp(peer, f"{g}.ways", r.get("ways"), c.get("ways"))
            rep.cmp(peer, f"{g}.line_bytes", r.get("line_bytes"), c.get("coherency-size"))
            for k in ("sets", "phy-line"):
                rep.lack(peer, f"cache {k}", c.get(k))
        for key in mine:
            if not any((c["level"], c["type"]) == key for c in caches.get("caches", [])):
                rep.cmp(peer, f"cpu.caches[{key}] present", True, False)


#--- ethtool


def parse_ethtool(text):
    out = defaultdict(dict)
    cur = None
    for line in text.splitlines():
        m = re.match(r"^== ethtool (\S*)\s*(\S+)$", line)
        if m:
            cur = (m.group(1), m.group(2))
            continue
        if cur is None or ":" not in line:
            continue
        k, v = line.strip().split(":", 1)
        out[cur[1]][f"{cur[0] or 'settings'} {k.strip()}"] = v.strip()
    return out


def compare_ethtool(rep, inv, text):
    peer = "ethtool"
    nics = by(inv.get("network"), "name")
    for name, e in parse_ethtool(text).items():
        nic = nics.get(name)
        f = f"network[{name}]"
        rep.cmp(peer, f"{f} present", nic is not None, True)
        if not nic:
            continue
        val = lambda k: (e.get(k) or None) if e.get(k) not in ("", "N/A") else None
        perm = val("-P Permanent address")
        if perm in ("00:00:00:00:00:00", "not set"):
            perm = None   # no burnt-in address; recon leaves it empty too (net.rs)
        # recon asks ethtool only about interfaces with a backing device (net.rs: virtual
        # bridges, veths, ifbs get no ioctls), so their ethtool-only fields stay empty.
        virt = "virtual interface: recon runs no ethtool ioctls on it" if nic.get("virtual_device") else None
        rep.cmp(peer, f"{f}.permanent_mac", nic.get("permanent_mac"), lower(perm), empty_by_design=virt)
        rep.cmp(peer, f"{f}.driver", nic.get("driver"), val("-i driver"), empty_by_design=virt)
        rep.cmp(peer, f"{f}.driver_version", nic.get("driver_version"), val("-i version"), empty_by_design=virt)
        rep.cmp(peer, f"{f}.firmware_version", nic.get("firmware_version"), val("-i firmware-version"),
                empty_by_design=virt)
        bus = val("-i bus-info")
        rep.cmp(peer, f"{f}.pci_address", nic.get("pci_address"),
                bus if bus and re.match(r"^[0-9a-f]{4}:", bus) else None)
        sp = re.match(r"^(\d+)Mb/s$", e.get("settings Speed") or "")
        rep.cmp(peer, f"{f}.speed_mbps", nic.get("speed_mbps"), int(sp.group(1)) if sp else None)
        dup = (e.get("settings Duplex") or "").lower()
        rep.cmp(peer, f"{f}.duplex", nic.get("duplex"), dup if dup in ("full", "half") else None)
        link = e.get("settings Link detected")
        rep.cmp(peer, f"{f}.carrier", nic.get("carrier"), {"yes": True, "no": False}.get(link))
        for k in ("settings Auto-negotiation", "settings Port", "settings Supported link modes",
                  "settings Wake-on", "-i expansion-rom-version", "-i supports-statistics"):
            if k in e:
                rep.lack(peer, k, e[k])


#--- Ground truth


def match(item, m):
    return all(item.get(k) == v for k, v in m.items())


def truth_eq(expected):
    if isinstance(expected, dict) and "hex" in expected:
        return lambda a, b: hexdigits(a) == hexdigits(expected["hex"])
    if isinstance(expected, dict) and "range" in expected:
        lo, hi = expected["range"]
        return lambda a, b: isinstance(a, int) and lo <= a <= hi
    if isinstance(expected, dict) and "one_of" in expected:
        return lambda a, b: a in expected["one_of"]
    if isinstance(expected, dict) and "cpuset" in expected:
        return lambda a, b: cpuset(a) == cpuset(expected["cpuset"])
    return None


def compare_truth(rep, inv, expect):
    peer = "truth"
    for c in expect["checks"]:
        obj = get(inv, c["at"])
        label = c["at"]
        if c.get("match"):
            cands = [i for i in (obj or []) if match(i, c["match"])]
            label = f"{c['at']}[{','.join(f'{k}={v}' for k, v in c['match'].items())}]"
            rep.cmp(peer, f"{label} present ({c['what']})", len(cands), 1)
            if len(cands) != 1:
                continue
            obj = cands[0]
        for path, expected in c["fields"].items():
            got = get(obj, path)
            eq = truth_eq(expected)
            shown = expected if eq is None else json.dumps(expected)
            if expected is None:
                # The truth is "nothing": recon must not invent one.
                rep.rows.append((peer, f"{label}.{path}", got, None, got is None, "must be empty"))
            elif got is None:
                rep.rows.append((peer, f"{label}.{path}", None, shown, False, "recon empty"))
            else:
                ok = eq(got, expected) if eq else got == expected
                rep.rows.append((peer, f"{label}.{path}", got, shown, bool(ok), ""))


#--- Output


def render(rep, label, peers):
    out = []
    w = lambda s: out.append(s)
    w(f"recon cross-check ({label})")
    w("")
    w(f"{'peer':<10} {'field':<58} {'recon':<34} {'peer value':<34} agree")
    w("-" * 146)
    for peer, field, r, p, ok, note in rep.rows:
        mark = "yes" if ok else "NO"
        w(f"{peer:<10} {short(field, 58):<58} {short(r, 34):<34} {short(p, 34):<34} {mark}"
          + (f"  ({note})" if note and not ok else ""))
    w("")
    w("Fields compared per peer (agree / compared):")
    per = defaultdict(lambda: [0, 0])
    for peer, _, _, _, ok, _ in rep.rows:
        per[peer][1] += 1
        per[peer][0] += int(ok)
    for peer in peers:
        a, n = per[peer]
        w(f"  {peer:<10} {a:>4} / {n:<4}" + ("" if a == n else f"  <- {n - a} DISAGREE"))
    w("")
    bad = [r for r in rep.rows if not r[4]]
    if bad:
        w(f"Disagreements ({len(bad)}):")
        for peer, field, r, p, ok, note in bad:
            w(f"  {peer}: {field}: recon {json.dumps(r)} vs {json.dumps(p)}" + (f" ({note})" if note else ""))
        w("")
    gaps = [g for g in rep.gaps if g[3] is None]
    excused = [g for g in rep.gaps if g[3] is not None]
    if gaps:
        w(f"Gaps: recon's model has the field, recon left it empty, the peer has a value ({len(gaps)}):")
        for peer, field, p, _ in gaps:
            w(f"  {peer}: {field} = {short(p, 70)}")
        w("")
    if excused:
        w(f"Empty in recon by design ({len(excused)}):")
        for peer, field, p, why in excused:
            w(f"  {peer}: {field} = {short(p, 40)}  -- {why}")
        w("")
    if rep.recon_only:
        w(f"Recon only: recon reports, the peer does not ({len(rep.recon_only)}):")
        for peer, field, r in rep.recon_only:
            w(f"  {peer}: {field} = {short(r, 70)}")
        w("")
    for peer in peers:
        lacks = rep.lacks.get(peer)
        if not lacks:
            continue
        w(f"{peer} fields recon lacks ({len(lacks)}):")
        for field, example in lacks.items():
            w(f"  {field}" + (f"  e.g. {short(example, 60)}" if example not in (None, "", "...") else ""))
        w("")
    if rep.notes:
        w("Notes:")
        for n in rep.notes:
            w(f"  {n}")
        w("")
    empty = [p for p in peers if per[p][1] == 0]
    ok = not bad and not gaps and not empty
    for p in empty:
        w(f"FAIL: {p} was given but no field could be compared (a parser that found nothing?)")
    w(f"RESULT: {'PASS' if ok else 'FAIL'}: {sum(n for _, n in per.values())} fields compared, "
      f"{len(bad)} disagree, {len(gaps)} gaps")
    return "\n".join(out), ok


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--recon", required=True, help="recon inventory --format json")
    ap.add_argument("--lshw", help="lshw -json -numeric")
    ap.add_argument("--lspci", help="lspci -vmm -k -D -nn")
    ap.add_argument("--dmidecode", help="dmidecode (text)")
    ap.add_argument("--lsblk", help="lsblk -J -O -b")
    ap.add_argument("--lscpu", help="lscpu -J")
    ap.add_argument("--lscpu-caches", help="lscpu -J -C -B")
    ap.add_argument("--ethtool", help="ethtool -P/-i/settings, each after a '== ethtool OPT IF' line")
    ap.add_argument("--expect", help="ground truth (expect.py)")
    ap.add_argument("--label", default="", help="a name for the machine in the report")
    ap.add_argument("--mutate", action="append", default=[], metavar="PATH=JSON",
                    help="change recon's value at PATH (dots, list indices as numbers) before comparing: "
                         "the test of this script itself, which must then report the field")
    a = ap.parse_args()

    def load(path, kind):
        try:
            with open(path, encoding="utf-8", errors="replace") as fh:
                return json.load(fh) if kind == "json" else fh.read()
        except (OSError, ValueError) as e:
            print(f"compare.py: cannot read {path}: {e}", file=sys.stderr)
            sys.exit(2)

    inv = load(a.recon, "json")
    for m in a.mutate:
        path, _, value = m.partition("=")
        *parents, last = path.split(".")
        obj = inv
        for part in parents:
            obj = obj[int(part)] if isinstance(obj, list) else obj[part]
        if isinstance(obj, list):
            obj[int(last)] = json.loads(value)
        else:
            obj[last] = json.loads(value)
    rep = Report()
    peers = []
    if a.expect:
        peers.append("truth")
        compare_truth(rep, inv, load(a.expect, "json"))
    if a.dmidecode:
        peers.append("dmidecode")
        compare_dmidecode(rep, inv, load(a.dmidecode, "text"))
    if a.lshw:
        peers.append("lshw")
        compare_lshw(rep, inv, load(a.lshw, "json"))
    if a.lspci:
        peers.append("lspci")
        compare_lspci(rep, inv, load(a.lspci, "text"))
    if a.lsblk:
        peers.append("lsblk")
        compare_lsblk(rep, inv, load(a.lsblk, "json"))
    if a.lscpu:
        peers.append("lscpu")
        compare_lscpu(rep, inv, load(a.lscpu, "json"), load(a.lscpu_caches, "json") if a.lscpu_caches else None)
    if a.ethtool:
        peers.append("ethtool")
        compare_ethtool(rep, inv, load(a.ethtool, "text"))
    text, ok = render(rep, a.label or a.recon, peers)
    print(text)
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
