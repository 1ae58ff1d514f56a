//! TPM (`/sys/class/tpm`, kernel Documentation/ABI/stable/sysfs-class-tpm), USB devices
//! (`/sys/bus/usb/devices`, Documentation/ABI/stable/sysfs-bus-usb), power supplies (SMBIOS type
//! 39 System Power Supply, DSP0134 7.40) and the run metadata (`/proc/sys/kernel`, the command
//! line, the ABI switches of `/proc/sys/abi`).

use super::{Options, Reader};
use crate::model::{Inventory, PowerSupply, Tpm, UsbDevice};
use crate::smbios::Structure;

pub(super) fn collect(r: &mut Reader<'_>, s: &[Structure<'_>], inv: &mut Inventory) {
    inv.tpm = tpm(r);
    inv.usb = usb(r);
    inv.power_supplies = s.iter().filter(|x| x.kind == 39).map(psu).collect();
}

fn tpm(r: &mut Reader<'_>) -> Option<Tpm> {
    let name = r.dir("/sys/class/tpm").into_iter().find(|n| n.starts_with("tpm"))?;
    let base = format!("/sys/class/tpm/{name}");
    // tpm_version_major exists since Linux 5.6; before that only TPM 1.2 devices have `caps`.
    let version = match r.opt_u64(&format!("{base}/tpm_version_major")) {
        Some(2) => Some("2.0".to_owned()),
        Some(1) => Some("1.2".to_owned()),
        Some(v) => Some(v.to_string()),
        None if r.exists(&format!("{base}/device/caps")) => Some("1.2".to_owned()),
        None => None,
    };
    Some(Tpm { description: r.opt_string(&format!("{base}/device/description")), version, name })
}

fn usb(r: &mut Reader<'_>) -> Vec<UsbDevice> {
    const D: &str = "/sys/bus/usb/devices";
    let mut out = Vec::new();
    // Interfaces are named `1-1:1.0`; devices `usb1`, `1-1`, `1-1.2`.
    for path in r.dir(D).into_iter().filter(|n| !n.contains(':')) {
        let base = format!("{D}/{path}");
        let hex16 = |r: &mut Reader<'_>, f: &str| {
            let text = r.opt_string(&format!("{base}/{f}"))?;
            u16::from_str_radix(&text, 16).ok()
        };
        let vendor_id = hex16(r, "idVendor");
        let product_id = hex16(r, "idProduct");
        let class = r.opt_string(&format!("{base}/bDeviceClass")).and_then(|c| u8::from_str_radix(&c, 16).ok());
        // `1.5`, `12`, `480`, `5000` (Mb/s).
        let speed_kbps = r.opt_string(&format!("{base}/speed")).and_then(|s| {
            let (int, frac) = s.split_once('.').unwrap_or((&s, "0"));
            let int: u32 = int.parse().ok()?;
            let frac: u32 = frac.get(..1)?.parse().ok()?;
            int.checked_mul(1000)?.checked_add(frac * 100)
        });
        out.push(UsbDevice {
            manufacturer: r.opt_string(&format!("{base}/manufacturer")),
            product: r.opt_string(&format!("{base}/product")),
            serial: r.opt_string(&format!("{base}/serial")),
            vendor_id,
            product_id,
            class,
            speed_kbps,
            path,
        });
    }
    out
}

/// Type 39: strings at 0x05 location, 0x06 name, 0x07 manufacturer, 0x08 serial, 0x09 asset
/// tag, 0x0a part number, 0x0b revision; 0x0c maximum power in W (0x8000: unknown); 0x0e
/// characteristics: bit 0 hot-replaceable, bit 1 present, bits 9:7 status.
fn psu(s: &Structure<'_>) -> PowerSupply {
    let ch = s.u16(0x0e);
    PowerSupply {
        location: s.string(0x05),
        name: s.string(0x06),
        manufacturer: s.string(0x07),
        serial: s.string(0x08),
        asset_tag: s.string(0x09),
        part_number: s.string(0x0a),
        revision: s.string(0x0b),
        max_power_w: s.u16(0x0c).filter(|&w| w != 0x8000).map(u32::from),
        present: ch.map(|c| c & 0x2 != 0),
        hot_replaceable: ch.map(|c| c & 0x1 != 0),
        status: ch.map(|c| {
            match (c >> 7) & 0x7 {
                1 => "Other",
                3 => "OK",
                4 => "Non-critical",
                5 => "Critical",
                _ => "Unknown",
            }
            .to_owned()
        }),
    }
}

pub(super) fn run(r: &mut Reader<'_>, o: &Options, inv: &mut Inventory) {
    let run = &mut inv.run;
    run.agent_version = o.agent_version.clone();
    run.started_unix_ms = o.started_unix_ms;
    run.hostname = r.opt_string("/proc/sys/kernel/hostname");
    run.kernel_release = r.opt_string("/proc/sys/kernel/osrelease");
    run.kernel_version = r.opt_string("/proc/sys/kernel/version");
    run.cmdline = r.opt_string("/proc/cmdline");
    run.kernel_abi = r.dir("/proc/sys/abi");
    if let Some(cmdline) = run.cmdline.as_deref() {
        for arg in cmdline.split_whitespace() {
            if let Some(v) = arg.strip_prefix("BOOTIF=") {
                run.boot_mac = bootif_mac(v);
            } else if let Some(v) = arg.strip_prefix("root=live:") {
                run.live_root = Some(v.to_owned());
            }
        }
    }
}

/// `BOOTIF=01-52-54-00-12-34-56` (pxelinux/iPXE: ARP hardware type, then the address) ->
/// `52:54:00:12:34:56`.
pub(crate) fn bootif_mac(v: &str) -> Option<String> {
    let parts: Vec<&str> = v.split(['-', ':']).collect();
    let (htype, mac) = parts.split_first()?;
    if *htype != "01" || mac.len() != 6 || !mac.iter().all(|p| p.len() == 2 && p.bytes().all(|b| b.is_ascii_hexdigit()))
    {
        return None;
    }
    Some(mac.join(":").to_ascii_lowercase())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bootif() {
        assert_eq!(bootif_mac("01-52-54-00-AB-34-56").as_deref(), Some("52:54:00:ab:34:56"));
        assert_eq!(bootif_mac("52-54-00-ab-34-56"), None);
        assert_eq!(bootif_mac("01-52-54-00"), None);
        assert_eq!(bootif_mac(""), None);
    }
}
