//! Identity from SMBIOS (DSP0134 3.x): type 0 BIOS (7.1), type 1 System (7.2), type 2
//! Baseboard (7.3), type 3 Chassis (7.4). When the table cannot be read (not root, or a kernel
//! without `/sys/firmware/dmi/tables`) the kernel's own decode in `/sys/class/dmi/id` is used.

use super::{Reader, Tables};
use crate::model::{Baseboard, Chassis, Firmware, Inventory, Source, System};
use crate::smbios::{self, Structure};

pub(super) fn system(r: &mut Reader<'_>, t: &Tables, s: &[Structure<'_>], inv: &mut Inventory) {
    let first = |kind: u8| s.iter().find(|x| x.kind == kind);
    if let (Some(version), Some(t1)) = (t.version, first(1)) {
        let sys = &mut inv.system;
        sys.source = Some(Source::Smbios);
        sys.smbios_version = Some(version.to_string());
        sys.manufacturer = t1.string(0x04);
        sys.product = t1.string(0x05);
        sys.version = t1.string(0x06);
        sys.serial = t1.string(0x07);
        sys.uuid = t1.data.get(0x08..0x18).and_then(|b| smbios::uuid(b, version));
        sys.sku = t1.string(0x19);
        sys.family = t1.string(0x1a);
        if let Some(t2) = first(2) {
            sys.baseboard = baseboard(t2);
        }
        if let Some(t3) = first(3) {
            sys.chassis = chassis(t3);
        }
        if let Some(t0) = first(0) {
            bios(t0, &mut inv.firmware);
        }
    } else {
        dmi_id(r, inv);
    }
}

fn baseboard(t2: &Structure<'_>) -> Baseboard {
    Baseboard {
        manufacturer: t2.string(0x04),
        product: t2.string(0x05),
        version: t2.string(0x06),
        serial: t2.string(0x07),
        asset_tag: t2.string(0x08),
    }
}

fn chassis(t3: &Structure<'_>) -> Chassis {
    let type_code = t3.u8(0x05).map(|t| t & 0x7f);
    // The SKU string follows the contained-element records, whose count and size are in the
    // structure (2.7+, offsets 0x13 and 0x14).
    let sku = match (t3.u8(0x13), t3.u8(0x14)) {
        (Some(n), Some(m)) => t3.string(0x15 + usize::from(n) * usize::from(m)),
        _ => None,
    };
    Chassis {
        manufacturer: t3.string(0x04),
        type_code,
        type_name: type_code.map(|c| smbios::chassis_type_name(c).to_owned()),
        version: t3.string(0x06),
        serial: t3.string(0x07),
        asset_tag: t3.string(0x08),
        sku,
    }
}

fn bios(t0: &Structure<'_>, fw: &mut Firmware) {
    fw.vendor = t0.string(0x04);
    fw.version = t0.string(0x05);
    fw.date = t0.string(0x08);
    // 0xff/0xff: the firmware does not give a release (7.1, offsets 0x14-0x15).
    fw.release = match (t0.u8(0x14), t0.u8(0x15)) {
        (Some(a), Some(b)) if (a, b) != (0xff, 0xff) => Some(format!("{a}.{b}")),
        _ => None,
    };
}

/// The kernel's DMI attributes: the same fields, already decoded, some readable only by root.
fn dmi_id(r: &mut Reader<'_>, inv: &mut Inventory) {
    const D: &str = "/sys/class/dmi/id";
    if !r.exists(D) {
        return;
    }
    let mut a = |name: &str| r.opt_string(&format!("{D}/{name}"));
    let sys = System {
        source: Some(Source::DmiId),
        smbios_version: None,
        manufacturer: a("sys_vendor"),
        product: a("product_name"),
        version: a("product_version"),
        serial: a("product_serial"),
        uuid: a("product_uuid").map(|u| u.to_ascii_lowercase()),
        sku: a("product_sku"),
        family: a("product_family"),
        baseboard: Baseboard {
            manufacturer: a("board_vendor"),
            product: a("board_name"),
            version: a("board_version"),
            serial: a("board_serial"),
            asset_tag: a("board_asset_tag"),
        },
        chassis: Chassis {
            manufacturer: a("chassis_vendor"),
            type_code: None,
            type_name: None,
            version: a("chassis_version"),
            serial: a("chassis_serial"),
            asset_tag: a("chassis_asset_tag"),
            sku: None,
        },
    };
    let chassis_type = a("chassis_type").and_then(|t| t.parse::<u8>().ok());
    inv.firmware.vendor = a("bios_vendor");
    inv.firmware.version = a("bios_version");
    inv.firmware.date = a("bios_date");
    inv.firmware.release = a("bios_release");
    inv.system = sys;
    if let Some(c) = chassis_type {
        inv.system.chassis.type_code = Some(c & 0x7f);
        inv.system.chassis.type_name = Some(smbios::chassis_type_name(c).to_owned());
    }
}
