#!/usr/bin/env python3
"""Writes the ground truth for the cross-check guest as JSON on stdout.

guest.sh exports the values it hands QEMU; this turns them into checks compare.py runs against
recon's JSON. Each check names a place in recon's inventory (`at`, a dotted path), how to find
one element when that place is a list (`match`: field values), and the fields it must have.
A value is either a literal, or an object saying how to compare:
  {"hex": "00ab.."}       the same hex digits, whatever the separators and case;
  {"range": [lo, hi]}     an integer within [lo, hi];
  {"cpuset": "0-3"}       the same set of CPUs, whatever the list's spelling;
  {"one_of": [a, b]}      any of these literals.
Only what QEMU was told (or what QEMU documents it builds from what it was told) is here: the
point is values no tool wrote.
"""

import json
import os

E = os.environ
MIB = 1 << 20


def pci(slot):
    return f"0000:00:{slot}.0"


def nvme_wwids():
    """The namespace's wwid as the kernel writes it (drivers/nvme/host/core.c, wwid_show): the
    UUID when it has one, else the NGUID, else the EUI-64, else `nvme.VID-SERIAL-MODEL-NSID` in
    hex. Linux 6.1 (Debian 12) sets NVME_QUIRK_BOGUS_NID for QEMU's controller (1b36:0010) and
    drops all three ids, so the fallback is what this kernel shows; a kernel without the quirk
    shows the UUID given to QEMU. Either is derived from the configuration alone."""
    serial = E["NVME_SERIAL"].encode().hex()
    model = b"QEMU NVMe Ctrl".hex()
    return [f"nvme.1b36-{serial}-{model}-00000001", f"uuid.{E['NVME_UUID']}"]


def checks():
    out = []

    def check(what, at, fields, match=None):
        out.append({"what": what, "at": at, "match": match, "fields": fields})

    check("SMBIOS type 1, 2, 3", "system", {
        "source": "smbios",
        "manufacturer": E["SYS_MANUFACTURER"], "product": E["SYS_PRODUCT"], "version": E["SYS_VERSION"],
        "serial": E["SYS_SERIAL"], "uuid": E["SYS_UUID"].lower(), "sku": E["SYS_SKU"],
        "family": E["SYS_FAMILY"],
        "baseboard.manufacturer": E["BB_MANUFACTURER"], "baseboard.product": E["BB_PRODUCT"],
        "baseboard.version": E["BB_VERSION"], "baseboard.serial": E["BB_SERIAL"],
        "baseboard.asset_tag": E["BB_ASSET"],
        "chassis.manufacturer": E["CH_MANUFACTURER"], "chassis.version": E["CH_VERSION"],
        "chassis.serial": E["CH_SERIAL"], "chassis.asset_tag": E["CH_ASSET"], "chassis.sku": E["CH_SKU"],
        # QEMU's type 3 has no type option and writes 0x01, "Other".
        "chassis.type_code": 1, "chassis.type_name": "Other",
    })
    check("SMBIOS type 0", "firmware", {
        "vendor": E["BIOS_VENDOR"], "version": E["BIOS_VERSION"], "date": E["BIOS_DATE"],
        "release": E["BIOS_RELEASE"],
        # -kernel boots through SeaBIOS.
        "boot_mode": "bios",
    })
    # QEMU writes one type 17 per 16 GiB, located "<loc_pfx> <n>"; memory type RAM, form DIMM.
    check("SMBIOS type 17", "memory.dimms", {
        "bank": E["DIMM_BANK"], "size_bytes": int(E["MEM_MIB"]) * MIB,
        "manufacturer": E["DIMM_MANUFACTURER"], "serial": E["DIMM_SERIAL"], "asset_tag": E["DIMM_ASSET"],
        "part_number": E["DIMM_PART"], "speed_mts": int(E["DIMM_SPEED"]),
        "configured_speed_mts": int(E["DIMM_SPEED"]), "form_factor": "DIMM", "memory_type": "RAM",
    }, match={"locator": f"{E['DIMM_LOC_PFX']} 0"})
    check("memory totals", "memory", {
        "installed_bytes": int(E["MEM_MIB"]) * MIB,
        "usable_bytes": {"range": [int(E["MEM_MIB"]) * MIB * 3 // 4, int(E["MEM_MIB"]) * MIB]},
    })
    for sock in range(2):
        # QEMU names sockets "%s%2x" % (sock_pfx, n); per socket 2 cores, 2 x 2 threads.
        check(f"SMBIOS type 4, socket {sock}", "cpu.packages", {
            "populated": True, "manufacturer": E["CPU_MANUFACTURER"], "version": E["CPU_VERSION"],
            "serial": E["CPU_SERIAL"], "asset_tag": E["CPU_ASSET"], "part_number": E["CPU_PART"],
            "max_speed_hz": int(E["CPU_MAX_MHZ"]) * 1_000_000,
            "current_speed_hz": int(E["CPU_CUR_MHZ"]) * 1_000_000,
            "core_count": 2, "cores_enabled": 2, "thread_count": 4,
        }, match={"socket": f"{E['CPU_SOCK_PFX']}{sock:2x}"})
    check("-cpu and -smp 8,sockets=2,cores=2,threads=2", "cpu", {
        "vendor": E["CPU_VENDOR"], "model_name": E["CPU_MODEL_ID"], "family": int(E["CPU_FAMILY"]),
        "model": int(E["CPU_MODEL"]), "stepping": int(E["CPU_STEPPING"]), "architecture": "x86_64",
        "logical_cpus": 8, "online_cpus": 8, "sockets": 2, "dies": 2, "cores": 4, "threads_per_core": 2,
    })
    half = int(E["MEM_MIB"]) // 2 * MIB
    for node, cpus in ((0, "0-3"), (1, "4-7")):
        # The node's MemTotal is its memdev less what the kernel reserved there.
        check(f"-numa node {node}", "cpu.numa_nodes", {
            "cpus": {"cpuset": cpus}, "memory_bytes": {"range": [half // 2, half]},
        }, match={"id": node})

    nics = [
        ("e1000", E["NIC0_MAC"], E["NIC0_MAC"], E["NIC0_PCI"], 1000, E["ONBOARD_NAME"]),
        ("virtio_net", E["NIC1_MAC"], E["NIC1_MAC"], E["NIC1_PCI"], 10000, None),
        ("e1000e", E["NIC2_NEWMAC"], E["NIC2_MAC"], E["NIC2_PCI"], 1000, None),
    ]
    for driver, mac, perm, slot, speed, onboard in nics:
        fields = {
            "permanent_mac": perm, "driver": driver, "pci_address": pci(slot), "speed_mbps": speed,
            "duplex": "full", "carrier": True, "link_type": "ethernet", "virtual_device": False,
            "firmware_name": onboard,
        }
        check(f"NIC {driver} at {pci(slot)}", "network", fields, match={"mac": mac})

    check("NVMe namespace", "storage.disks", {
        "size_bytes": int(E["NVME_MIB"]) * MIB, "logical_block_bytes": 4096, "physical_block_bytes": 4096,
        "transport": "nvme", "model": "QEMU NVMe Ctrl", "pci_address": pci(E["NVME_PCI"]),
        "removable": False, "read_only": False, "wwn": {"one_of": nvme_wwids()},
    }, match={"serial": E["NVME_SERIAL"]})
    check("NVMe controller", "storage.nvme_controllers", {
        "model": "QEMU NVMe Ctrl", "transport": "pcie", "pci_address": pci(E["NVME_PCI"]),
    }, match={"serial": E["NVME_SERIAL"]})
    check("SATA disk on the q35 AHCI", "storage.disks", {
        "size_bytes": int(E["SATA_MIB"]) * MIB, "model": E["SATA_MODEL"], "firmware": E["SATA_VER"],
        "wwn": f"0x{int(E['SATA_WWN'], 16):016x}", "rotational": False, "transport": "sata",
        "logical_block_bytes": 512, "pci_address": "0000:00:1f.2", "vendor": "ATA",
    }, match={"serial": E["SATA_SERIAL"]})
    check("virtio disk", "storage.disks", {
        "size_bytes": int(E["VIRTIO_MIB"]) * MIB, "transport": "virtio", "pci_address": pci(E["VIRTIO_PCI"]),
    }, match={"serial": E["VIRTIO_SERIAL"]})

    # PCI ids QEMU documents for these models (docs/specs/pci-ids.rst and the device sources).
    for slot, ven, dev, cls, drv in (
        (E["NIC0_PCI"], 0x8086, 0x100E, 0x020000, "e1000"),
        (E["NIC2_PCI"], 0x8086, 0x10D3, 0x020000, "e1000e"),
        (E["NVME_PCI"], 0x1B36, 0x0010, 0x010802, "nvme"),
        (E["NIC1_PCI"], 0x1AF4, None, 0x020000, "virtio-pci"),
        (E["VIRTIO_PCI"], 0x1AF4, None, 0x010000, "virtio-pci"),
    ):
        fields = {"vendor_id": ven, "class": cls, "driver": drv}
        if dev is not None:
            fields["device_id"] = dev
        check(f"PCI {pci(slot)}", "pci", fields, match={"address": pci(slot)})
    check("PCI 0000:00:1f.2 (ICH9 AHCI)", "pci", {
        "vendor_id": 0x8086, "device_id": 0x2922, "class": 0x010601, "driver": "ahci",
    }, match={"address": "0000:00:1f.2"})
    return out


if __name__ == "__main__":
    json.dump({"checks": checks()}, __import__("sys").stdout, indent=1)
    print()
