//! Prints what recon learns about this machine's BMC, and about the network interfaces named on
//! the command line, as `key=value` lines: the guest half of `tests/tests/bmc_qemu.rs`, which
//! runs it statically linked in a QEMU guest beside ipmitool and ethtool.
//!
//! Usage: `bmc_probe [IFNAME...]`
//!
//! The BMC part is the whole collector ([`inventory::collect`] on `/` with [`Host`]), so SMBIOS
//! type 38 is read from the guest's firmware tables and every IPMI request goes through the live
//! ioctls. One request the collector does not make is added: Get Device GUID (06h/08h), printed
//! raw, because QEMU's simulator answers it with its `guid=` property and does not implement Get
//! System GUID.

use std::time::Duration;

use inventory::live::Host;
use inventory::{DeviceIo, Options, SysRoot, collect};

fn main() {
    let timeout = Duration::from_secs(2);
    let opts = Options { agent_version: "bmc_probe".into(), ipmi_timeout: timeout, ..Options::default() };
    let inv = collect(&SysRoot::host(), &Host, &opts);

    let b = &inv.bmc;
    println!("present={}", b.present);
    field("device", &b.device);
    field("interface", &b.interface);
    field("ipmi_version", &b.ipmi_version);
    field("device_id", &b.device_id);
    field("firmware", &b.firmware);
    field("manufacturer_id", &b.manufacturer_id);
    field("product_id", &b.product_id);
    field("system_guid", &b.system_guid);
    println!("lan_channels={}", b.lan.len());
    for l in &b.lan {
        let c = l.channel;
        field(&format!("lan.{c}.ip_source"), &l.ip_source);
        field(&format!("lan.{c}.ipv4"), &l.ipv4);
        field(&format!("lan.{c}.netmask"), &l.netmask);
        field(&format!("lan.{c}.gateway"), &l.gateway);
        field(&format!("lan.{c}.mac"), &l.mac);
        field(&format!("lan.{c}.vlan"), &l.vlan);
    }
    for p in inv.errors.iter().filter(|p| p.collector == "bmc") {
        println!("problem={}: {}", p.path, p.reason);
    }
    match Host.ipmi(0x06, 0x08, &[], timeout) {
        Ok(reply) => println!("device_guid_reply={}", hex(&reply)),
        Err(e) => println!("device_guid_error={e}"),
    }

    for ifname in std::env::args().skip(1) {
        match Host.permanent_mac(&ifname) {
            Ok(mac) => println!("nic.{ifname}.permanent_mac={}", hex_colon(&mac)),
            Err(e) => println!("nic.{ifname}.permanent_mac_error={e}"),
        }
        match Host.driver_info(&ifname) {
            Ok(d) => {
                println!("nic.{ifname}.driver={}", d.driver);
                println!("nic.{ifname}.version={}", d.version);
                println!("nic.{ifname}.firmware={}", d.firmware);
                println!("nic.{ifname}.bus_info={}", d.bus_info);
            }
            Err(e) => println!("nic.{ifname}.driver_info_error={e}"),
        }
    }
}

/// `key=value`, or `key=-` for a value the machine did not give.
fn field<T: std::fmt::Display>(key: &str, v: &Option<T>) {
    match v {
        Some(v) => println!("{key}={v}"),
        None => println!("{key}=-"),
    }
}

fn hex(b: &[u8]) -> String {
    b.iter().map(|x| format!("{x:02x}")).collect()
}

fn hex_colon(b: &[u8]) -> String {
    b.iter().map(|x| format!("{x:02x}")).collect::<Vec<_>>().join(":")
}
