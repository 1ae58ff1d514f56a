//! The BMC: whether there is one, and its identity and LAN configuration over IPMI.
//!
//! Presence is an IPMI device node (`/dev/ipmi0`, made by `ipmi_devintf`) or an SMBIOS type 38
//! structure (IPMI Device Information, DSP0134 section 7.39), which also gives the interface type
//! (offset 04h) and the IPMI specification revision the system firmware announces (offset 05h,
//! BCD, major digit in the high nibble).
//!
//! With a device node, the BMC is asked over the system interface ([IPMI v2.0 rev 1.1]):
//!
//! - Get Device ID (NetFn App 06h, command 01h; section 20.1): device id, firmware revision,
//!   IPMI version, manufacturer and product ids. Its IPMI version is the BMC's own word and
//!   replaces SMBIOS's.
//! - Get System GUID (06h/37h; section 22.14), in the byte order of section 20.8 (see
//!   [`guid_string`]).
//! - Get Channel Info (06h/42h; section 22.24) for channels 1 to 11, and for every channel whose
//!   medium is 802.3 LAN (4) or other LAN (6) (section 6.5, Table 6-3; ipmitool's `lan print`
//!   accepts the same two), Get LAN Configuration Parameters (NetFn Transport 0Ch, command 02h;
//!   section 23.2) for parameters 3, 4, 5, 6, 12 and 20 of Table 23-4.
//!
//! Asking and decoding are separate: the `decode_*` functions take a reply as
//! [`DeviceIo::ipmi`] returns it (completion code first) and give values or a [`ReplyError`], so
//! they are tested on bytes without a BMC.
//!
//! Failures. A non-zero completion code, or a reply shorter than the part decoded, becomes a
//! [`Problem`](crate::model::Problem) at `ipmi:<command name>` and leaves only that command's
//! fields empty. Two completion codes mean "this BMC has no such thing" and, by the model's rule
//! that absence is not an error, are not recorded: CCh ("invalid data field") from Get Channel
//! Info, which is how BMCs answer for a channel number they do not implement (ipmitool's
//! `ipmi_get_channel_medium` treats it the same way, and QEMU's `ipmi-bmc-sim` answers it for
//! every channel but 0 and Fh), and 80h ("parameter not supported", section 23.2) from Get LAN
//! Configuration Parameters. A transport failure (no answer within the timeout, or the device
//! itself failing) ends the conversation: it is recorded once, at the command it hit, and no
//! further request is sent, so a BMC that does not answer costs one timeout, not one per request
//! (up to 79).
//!
//! [IPMI v2.0 rev 1.1]: https://www.intel.com/content/dam/www/public/us/en/documents/product-briefs/ipmi-second-gen-interface-spec-v2-rev1-1.pdf

use std::fmt;
use std::net::Ipv4Addr;
use std::time::Duration;

use super::{DeviceIo, Reader};
use crate::model::{Bmc, BmcLan};
use crate::octets;
use crate::smbios::{Structure, ipmi_interface_name};

//--- Commands

/// One IPMI command: where it goes and the name problems are recorded under.
#[derive(Debug, Clone, Copy)]
struct Command {
    netfn: u8,
    cmd: u8,
    name: &'static str,
}

impl Command {
    fn path(self) -> String {
        format!("ipmi:{}", self.name)
    }
}

const NETFN_APP: u8 = 0x06;
const NETFN_TRANSPORT: u8 = 0x0c;

const GET_DEVICE_ID: Command = Command { netfn: NETFN_APP, cmd: 0x01, name: "Get Device ID" };
const GET_SYSTEM_GUID: Command = Command { netfn: NETFN_APP, cmd: 0x37, name: "Get System GUID" };
const GET_CHANNEL_INFO: Command = Command { netfn: NETFN_APP, cmd: 0x42, name: "Get Channel Info" };
const GET_LAN_CONFIG: Command = Command { netfn: NETFN_TRANSPORT, cmd: 0x02, name: "Get LAN Configuration Parameters" };

/// Channel numbers 1 to Bh are the implementation's own (section 6.3); Ch-Dh are reserved, Eh is
/// "this channel" and Fh the system interface, none of them a LAN.
const CHANNELS: std::ops::RangeInclusive<u8> = 1..=0x0b;

/// Channel medium types that carry LAN configuration (Table 6-3).
const MEDIUM_LAN_802_3: u8 = 0x04;
const MEDIUM_LAN_OTHER: u8 = 0x06;

/// Completion codes with a meaning here (section 5.2, Table 5-2; section 23.2).
const CC_INVALID_COMMAND: u8 = 0xc1;
const CC_INVALID_DATA_FIELD: u8 = 0xcc;
const CC_LAN_PARAMETER_NOT_SUPPORTED: u8 = 0x80;

/// LAN configuration parameters read (Table 23-4), with their data length.
const LAN_IP_ADDRESS: (u8, usize, &str) = (3, 4, "IP Address");
const LAN_IP_SOURCE: (u8, usize, &str) = (4, 1, "IP Address Source");
const LAN_MAC: (u8, usize, &str) = (5, 6, "MAC Address");
const LAN_NETMASK: (u8, usize, &str) = (6, 4, "Subnet Mask");
const LAN_GATEWAY: (u8, usize, &str) = (12, 4, "Default Gateway Address");
const LAN_VLAN: (u8, usize, &str) = (20, 2, "802.1q VLAN ID");

//--- Decoding: bytes in, values out

/// Why a reply gave no value.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum ReplyError {
    /// Not even a completion code.
    Empty,
    /// A non-zero completion code.
    Completion(u8),
    /// Fewer data octets (after the completion code) than the decoded part needs.
    Short {
        /// Octets needed.
        need: usize,
        /// Octets received.
        got: usize,
    },
}

impl fmt::Display for ReplyError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match *self {
            ReplyError::Empty => f.write_str("empty reply (no completion code)"),
            ReplyError::Completion(cc) => write!(f, "completion code {cc:#04x} ({})", completion_code_name(cc)),
            ReplyError::Short { need, got } => write!(f, "reply too short: {got} data octets, need {need}"),
        }
    }
}

/// The generic completion codes (section 5.2, Table 5-2); 80h-BEh are command-specific.
fn completion_code_name(cc: u8) -> &'static str {
    match cc {
        0x00 => "completed normally",
        0xc0 => "node busy",
        0xc1 => "invalid command",
        0xc2 => "command invalid for given LUN",
        0xc3 => "timeout while processing command",
        0xc4 => "out of space",
        0xc5 => "reservation canceled or invalid",
        0xc6 => "request data truncated",
        0xc7 => "request data length invalid",
        0xc8 => "request data field length limit exceeded",
        0xc9 => "parameter out of range",
        0xca => "cannot return number of requested data bytes",
        0xcb => "requested sensor, data, or record not present",
        0xcc => "invalid data field in request",
        0xcd => "command illegal for specified sensor or record type",
        0xce => "command response could not be provided",
        0xcf => "cannot execute duplicated request",
        0xd0 => "SDR repository in update mode",
        0xd1 => "device in firmware update mode",
        0xd2 => "BMC initialization in progress",
        0xd3 => "destination unavailable",
        0xd4 => "insufficient privilege level",
        0xd5 => "not supported in present state",
        0xd6 => "sub-function disabled or unavailable",
        0xff => "unspecified error",
        0x80..=0xbe => "command-specific",
        _ => "reserved",
    }
}

/// The data after a zero completion code, at least `need` octets of it.
fn payload(reply: &[u8], need: usize) -> Result<&[u8], ReplyError> {
    let (&cc, data) = reply.split_first().ok_or(ReplyError::Empty)?;
    if cc != 0 {
        return Err(ReplyError::Completion(cc));
    }
    if data.len() < need {
        return Err(ReplyError::Short { need, got: data.len() });
    }
    Ok(data)
}

/// What Get Device ID says (section 20.1).
#[derive(Debug, Clone, PartialEq, Eq)]
struct DeviceId {
    device_id: u8,
    /// `major.minor` as ipmitool's `mc info` prints it (`%u.%02x`).
    firmware: String,
    /// `major.minor` as ipmitool's `mc info` prints it.
    ipmi_version: String,
    manufacturer_id: u32,
    product_id: u16,
}

/// Decodes Get Device ID. Data octets (after the completion code): device id; device revision;
/// firmware major revision (bits 6:0, bit 7 "device update in progress"); firmware minor revision
/// (BCD); IPMI version (BCD, *major digit in the low nibble*: 51h is 1.5, 02h is 2.0); additional
/// device support; manufacturer id (3 octets, LS first, 20 bits); product id (2 octets, LS
/// first); auxiliary firmware revision (4 octets, optional, not read).
///
/// The major firmware revision keeps the seven bits the specification gives it; ipmitool masks
/// six (`IPM_DEV_FWREV1_MAJOR_MASK` 3Fh), so the two differ for majors above 63.
fn decode_device_id(reply: &[u8]) -> Result<DeviceId, ReplyError> {
    let d = payload(reply, 11)?;
    Ok(DeviceId {
        device_id: d[0],
        firmware: format!("{}.{:02x}", d[2] & 0x7f, d[3]),
        ipmi_version: format!("{:x}.{:x}", d[4] & 0x0f, d[4] >> 4),
        manufacturer_id: u32::from_le_bytes([d[6], d[7], d[8], 0]) & 0x000f_ffff,
        product_id: u16::from_le_bytes([d[9], d[10]]),
    })
}

/// Decodes Get System GUID: 16 octets; `None` for all-zero or all-ones (no GUID set).
fn decode_system_guid(reply: &[u8]) -> Result<Option<String>, ReplyError> {
    let d = payload(reply, 16)?;
    let mut raw = [0u8; 16];
    raw.copy_from_slice(&d[..16]);
    Ok(guid_string(&raw))
}

/// A GUID in the byte order of IPMI v2.0 rev 1.1, section 20.8 (Table 20-10, to which Get System
/// GUID refers): every field least-significant octet first and the fields in reverse order, so
/// the canonical text is the 16 octets read backwards. This is what `ipmitool mc guid ipmi`
/// prints; plain `ipmitool mc guid` guesses among three orders from the version nibble and the
/// current date, which would make the same BMC's GUID depend on when it was read. BMCs that send
/// the SMBIOS order instead (ipmitool's man page says many do) show here with their octets
/// reversed; the raw order is the BMC's, not a guess of ours.
fn guid_string(raw: &[u8; 16]) -> Option<String> {
    let mut canonical = *raw;
    canonical.reverse();
    octets::uuid(&canonical)
}

/// Decodes Get Channel Info (section 22.24) down to the channel medium type (data
/// octet 2, bits 6:0).
fn decode_channel_medium(reply: &[u8]) -> Result<u8, ReplyError> {
    let d = payload(reply, 2)?;
    Ok(d[1] & 0x7f)
}

/// Decodes Get LAN Configuration Parameters (section 23.2): the parameter revision,
/// then the parameter's data, of which `len` octets are returned.
fn decode_lan_param(reply: &[u8], len: usize) -> Result<&[u8], ReplyError> {
    let d = payload(reply, 1 + len)?;
    Ok(&d[1..1 + len])
}

/// Parameter 4, IP Address Source (bits 3:0).
fn ip_source_name(b: u8) -> String {
    match b & 0x0f {
        0 => "unspecified".to_owned(),
        1 => "static".to_owned(),
        2 => "dhcp".to_owned(),
        3 => "bios".to_owned(),
        4 => "other".to_owned(),
        n => format!("reserved ({n})"),
    }
}

/// Parameter 20, 802.1q VLAN ID: the id's low eight bits, then bit 7 "enabled" and bits 3:0 the
/// id's high four bits. `None` when disabled.
fn decode_vlan(b: [u8; 2]) -> Option<u16> {
    let v = u16::from_le_bytes(b);
    (v & 0x8000 != 0).then_some(v & 0x0fff)
}

/// SMBIOS type 38's specification revision (BCD, major digit in the high nibble), as dmidecode
/// prints it.
fn smbios_spec_revision(b: u8) -> String {
    format!("{}.{}", b >> 4, b & 0x0f)
}

//--- Asking

/// One conversation with the BMC: requests until a transport failure ends it.
struct Session<'r, 'a> {
    r: &'r mut Reader<'a>,
    dev: &'r dyn DeviceIo,
    timeout: Duration,
    over: bool,
}

impl Session<'_, '_> {
    /// Sends one request; `None` once the conversation is over (the failure that ended it is
    /// recorded at the command that met it).
    fn ask(&mut self, c: Command, data: &[u8]) -> Option<Vec<u8>> {
        if self.over {
            return None;
        }
        match self.dev.ipmi(c.netfn, c.cmd, data, self.timeout) {
            Ok(reply) => Some(reply),
            Err(e) => {
                self.over = true;
                self.r.problem(&c.path(), format_args!("{e}; no further IPMI requests sent"));
                None
            }
        }
    }

    fn device_id(&mut self, out: &mut Bmc) {
        let Some(reply) = self.ask(GET_DEVICE_ID, &[]) else { return };
        match decode_device_id(&reply) {
            Ok(id) => {
                out.device_id = Some(id.device_id);
                out.firmware = Some(id.firmware);
                out.ipmi_version = Some(id.ipmi_version);
                out.manufacturer_id = Some(id.manufacturer_id);
                out.product_id = Some(id.product_id);
            }
            Err(e) => self.r.problem(&GET_DEVICE_ID.path(), e),
        }
    }

    fn system_guid(&mut self, out: &mut Bmc) {
        let Some(reply) = self.ask(GET_SYSTEM_GUID, &[]) else { return };
        match decode_system_guid(&reply) {
            Ok(guid) => out.system_guid = guid,
            Err(e) => self.r.problem(&GET_SYSTEM_GUID.path(), e),
        }
    }

    fn lan_channels(&mut self, out: &mut Vec<BmcLan>) {
        for ch in CHANNELS {
            let Some(reply) = self.ask(GET_CHANNEL_INFO, &[ch]) else { return };
            match decode_channel_medium(&reply) {
                Ok(MEDIUM_LAN_802_3 | MEDIUM_LAN_OTHER) => out.push(self.lan(ch)),
                Ok(_) | Err(ReplyError::Completion(CC_INVALID_DATA_FIELD)) => {}
                Err(e @ ReplyError::Completion(CC_INVALID_COMMAND)) => {
                    // The BMC does not know the command: every other channel would answer alike.
                    self.r.problem(&GET_CHANNEL_INFO.path(), format_args!("channel {ch}: {e}"));
                    return;
                }
                Err(e) => self.r.problem(&GET_CHANNEL_INFO.path(), format_args!("channel {ch}: {e}")),
            }
        }
    }

    fn lan(&mut self, channel: u8) -> BmcLan {
        let mut lan = BmcLan { channel, ..BmcLan::default() };
        lan.ip_source = self.lan_param(channel, LAN_IP_SOURCE, |d| ip_source_name(d[0]));
        lan.ipv4 = self.lan_param(channel, LAN_IP_ADDRESS, ipv4);
        lan.netmask = self.lan_param(channel, LAN_NETMASK, ipv4);
        lan.gateway = self.lan_param(channel, LAN_GATEWAY, ipv4);
        lan.mac = self.lan_param(channel, LAN_MAC, |mac| octets::hex(mac, ":"));
        lan.vlan = self.lan_param(channel, LAN_VLAN, |d| decode_vlan([d[0], d[1]])).flatten();
        lan
    }

    /// One parameter of one channel, decoded by `f` from exactly the parameter's length.
    fn lan_param<T>(
        &mut self,
        channel: u8,
        (param, len, name): (u8, usize, &str),
        f: impl FnOnce(&[u8]) -> T,
    ) -> Option<T> {
        let reply = self.ask(GET_LAN_CONFIG, &[channel, param, 0, 0])?;
        match decode_lan_param(&reply, len) {
            Ok(d) => Some(f(d)),
            Err(ReplyError::Completion(CC_LAN_PARAMETER_NOT_SUPPORTED)) => None,
            Err(e) => {
                let why = format!("channel {channel}, parameter {param} ({name}): {e}");
                self.r.problem(&GET_LAN_CONFIG.path(), why);
                None
            }
        }
    }
}

/// Four octets, most significant first (Table 23-4 gives addresses in network order).
fn ipv4(d: &[u8]) -> String {
    Ipv4Addr::new(d[0], d[1], d[2], d[3]).to_string()
}

pub(super) fn collect(
    r: &mut Reader<'_>,
    dev: &dyn DeviceIo,
    structs: &[Structure<'_>],
    timeout: Duration,
    out: &mut Bmc,
) {
    let smbios = structs.iter().find(|s| s.kind == 38);
    if let Some(s) = smbios {
        out.interface = s.u8(0x04).map(|t| ipmi_interface_name(t).to_owned());
        out.ipmi_version = s.u8(0x05).map(smbios_spec_revision);
    }
    out.device = dev.ipmi_device();
    out.present = out.device.is_some() || smbios.is_some();
    if out.device.is_none() {
        return;
    }
    let mut bmc = Session { r, dev, timeout, over: false };
    bmc.device_id(out);
    bmc.system_guid(out);
    bmc.lan_channels(&mut out.lan);
}

#[cfg(test)]
mod tests {
    use std::cell::RefCell;
    use std::collections::HashMap;

    use super::*;
    use crate::collect::{DeviceError, DriverInfo};
    use crate::model::Problem;
    use crate::smbios;
    use crate::sysroot::SysRoot;

    type Request = (u8, u8, Vec<u8>);

    /// A BMC answering from a table. What is not in it is answered as QEMU's `ipmi-bmc-sim`
    /// would: CCh for Get Channel Info (no such channel), C1h ("invalid command") for the rest.
    #[derive(Default)]
    struct FakeBmc {
        device: Option<&'static str>,
        replies: HashMap<Request, Result<Vec<u8>, DeviceError>>,
        calls: RefCell<Vec<Request>>,
    }

    impl FakeBmc {
        fn new() -> FakeBmc {
            FakeBmc { device: Some("/dev/ipmi0"), ..FakeBmc::default() }
        }

        fn answer(mut self, c: Command, data: &[u8], reply: Result<Vec<u8>, DeviceError>) -> FakeBmc {
            self.replies.insert((c.netfn, c.cmd, data.to_vec()), reply);
            self
        }

        fn ok(self, c: Command, data: &[u8], reply: &[u8]) -> FakeBmc {
            self.answer(c, data, Ok(reply.to_vec()))
        }

        /// A LAN channel's parameter.
        fn lan(self, ch: u8, param: u8, reply: &[u8]) -> FakeBmc {
            self.ok(GET_LAN_CONFIG, &[ch, param, 0, 0], reply)
        }

        fn channel(self, ch: u8, medium: u8) -> FakeBmc {
            // Section 22.24: channel number, medium, protocol IPMB-1.0 (01h, what LAN channels
            // report), multi-session (80h), IANA 7154 (the IPMI forum's), no auxiliary info.
            self.ok(GET_CHANNEL_INFO, &[ch], &[0x00, ch, medium, 0x01, 0x80, 0xf2, 0x1b, 0x00, 0x00, 0x00])
        }

        fn calls(&self) -> Vec<Request> {
            self.calls.borrow().clone()
        }
    }

    impl DeviceIo for FakeBmc {
        fn permanent_mac(&self, _: &str) -> Result<Vec<u8>, DeviceError> {
            Err(DeviceError::Unsupported)
        }
        fn driver_info(&self, _: &str) -> Result<DriverInfo, DeviceError> {
            Err(DeviceError::Unsupported)
        }
        fn ipmi_device(&self) -> Option<String> {
            self.device.map(str::to_owned)
        }
        fn ipmi(&self, netfn: u8, cmd: u8, data: &[u8], _: Duration) -> Result<Vec<u8>, DeviceError> {
            let req = (netfn, cmd, data.to_vec());
            self.calls.borrow_mut().push(req.clone());
            let missing = match (netfn, cmd) {
                (NETFN_APP, 0x42) => vec![CC_INVALID_DATA_FIELD, data.first().copied().unwrap_or(0)],
                _ => vec![CC_INVALID_COMMAND],
            };
            self.replies.get(&req).cloned().unwrap_or(Ok(missing))
        }
    }

    /// Runs the collector against `dev` and a table of `structs` bytes.
    fn run(dev: &FakeBmc, table: &[u8]) -> (Bmc, Vec<Problem>) {
        let root = SysRoot::new("/nonexistent-fixture-root");
        let mut errors = Vec::new();
        let mut r = Reader { root: &root, collector: "bmc", errors: &mut errors };
        let (structs, err) = smbios::structures(table);
        assert_eq!(err, None);
        let mut out = Bmc::default();
        collect(&mut r, dev, &structs, Duration::from_secs(1), &mut out);
        (out, errors)
    }

    /// SMBIOS type 38 of a Dell PowerEdge R630 (tests/fixtures/smbios/go-smbios/
    /// Dell-PowerEdge-R630-Dual-Xeon.dmi): KCS, IPMI 2.0, I/O base CA8h (bit 0 set: I/O space), then End-of-Table.
    const DELL_R630_TYPE38: &[u8] = &[
        0x26, 0x12, 0x00, 0x26, 0x01, 0x20, 0x20, 0xff, 0xa9, 0x0c, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x4a, 0x0a,
        0x00, 0x00, 0x7f, 0x04, 0xff, 0xff, 0x00, 0x00,
    ];

    /// Get Device ID as u-root's `ipmidump -device` printed it in u-root/u-root#1695 (the same
    /// format as `ipmitool mc info`): Device ID 32, Device Revision 1, Firmware Revision 20.14,
    /// IPMI Version 2.0, Manufacturer ID 40981 (0xA015), Product ID 12614 (0x3146), provides
    /// device SDRs (bit 7 of the revision), every additional-support bit but Bridge (BFh),
    /// auxiliary revision 0.
    const WIWYNN_DEVICE_ID: &[u8] =
        &[0x00, 0x20, 0x81, 0x14, 0x14, 0x02, 0xbf, 0x15, 0xa0, 0x00, 0x46, 0x31, 0x00, 0x00, 0x00, 0x00];

    /// Get Device ID from QEMU's `ipmi-bmc-sim` with its defaults (hw/ipmi/ipmi_bmc_sim.c,
    /// `get_device_id`): device id 20h, revision 0, firmware 0.00, IPMI version 02h, additional
    /// support 07h, manufacturer 0, product 0; no auxiliary revision.
    const QEMU_DEVICE_ID: &[u8] = &[0x00, 0x20, 0x00, 0x00, 0x00, 0x02, 0x07, 0x00, 0x00, 0x00, 0x00, 0x00];

    //--- decoders

    #[test]
    fn device_id_decodes_as_ipmitool_mc_info_prints_it() {
        let id = decode_device_id(WIWYNN_DEVICE_ID).unwrap();
        assert_eq!(
            id,
            DeviceId {
                device_id: 32,
                firmware: "20.14".into(),
                ipmi_version: "2.0".into(),
                manufacturer_id: 40981,
                product_id: 12614,
            }
        );
        let id = decode_device_id(QEMU_DEVICE_ID).unwrap();
        assert_eq!((id.device_id, id.firmware.as_str(), id.ipmi_version.as_str()), (0x20, "0.00", "2.0"));
        // IPMI 1.5 is 51h: the major digit is the low nibble.
        let mut v15 = QEMU_DEVICE_ID.to_vec();
        v15[5] = 0x51;
        assert_eq!(decode_device_id(&v15).unwrap().ipmi_version, "1.5");
    }

    #[test]
    fn firmware_minor_is_printed_as_two_bcd_digits() {
        let mut r = QEMU_DEVICE_ID.to_vec();
        (r[3], r[4]) = (0x03, 0x05);
        assert_eq!(decode_device_id(&r).unwrap().firmware, "3.05");
    }

    #[test]
    fn firmware_major_keeps_seven_bits_unlike_ipmitool() {
        // Bit 7 is "device firmware update in progress", not part of the number; bits 6:0 are
        // the major revision (section 20.1). ipmitool masks 3Fh and would print 5.01 here.
        let mut r = QEMU_DEVICE_ID.to_vec();
        (r[3], r[4]) = (0x80 | 69, 0x01);
        assert_eq!(decode_device_id(&r).unwrap().firmware, "69.01");
    }

    #[test]
    fn manufacturer_id_drops_the_reserved_high_bits() {
        let mut r = QEMU_DEVICE_ID.to_vec();
        r[7..10].copy_from_slice(&[0xc4, 0xb3, 0xf2]);
        assert_eq!(decode_device_id(&r).unwrap().manufacturer_id, 0x2_b3c4);
    }

    #[test]
    fn replies_with_an_error_code_or_too_short_are_errors() {
        assert_eq!(decode_device_id(&[]), Err(ReplyError::Empty));
        assert_eq!(decode_device_id(&[0xc1]), Err(ReplyError::Completion(0xc1)));
        // A non-zero code wins over the length: the data of a failed reply means nothing.
        assert_eq!(decode_device_id(&[0xd5, 1, 2, 3]), Err(ReplyError::Completion(0xd5)));
        assert_eq!(decode_device_id(&QEMU_DEVICE_ID[..7]), Err(ReplyError::Short { need: 11, got: 6 }));
        assert_eq!(decode_system_guid(&[0x00; 16]), Err(ReplyError::Short { need: 16, got: 15 }));
        assert_eq!(decode_channel_medium(&[0x00, 0x01]), Err(ReplyError::Short { need: 2, got: 1 }));
        assert_eq!(decode_lan_param(&[0x00, 0x11, 10, 0, 2], 4), Err(ReplyError::Short { need: 5, got: 4 }));
        assert_eq!(
            ReplyError::Completion(0xc1).to_string(),
            "completion code 0xc1 (invalid command)",
            "the code and its Table 5-2 name"
        );
        assert_eq!(ReplyError::Short { need: 11, got: 6 }.to_string(), "reply too short: 6 data octets, need 11");
    }

    #[test]
    fn guid_is_the_sixteen_octets_backwards() {
        let raw: [u8; 16] = std::array::from_fn(|i| i as u8);
        assert_eq!(guid_string(&raw).unwrap(), "0f0e0d0c-0b0a-0908-0706-050403020100");
        let mut reply = vec![0x00];
        reply.extend_from_slice(&raw);
        assert_eq!(decode_system_guid(&reply).unwrap().as_deref(), Some("0f0e0d0c-0b0a-0908-0706-050403020100"));
        assert_eq!(guid_string(&[0; 16]), None, "all zero: no GUID set");
        assert_eq!(guid_string(&[0xff; 16]), None, "all ones: no GUID set");
    }

    #[test]
    fn vlan_disabled_and_enabled() {
        assert_eq!(decode_vlan([0x00, 0x00]), None);
        // Disabled but with an id configured: still no VLAN in use.
        assert_eq!(decode_vlan([0x64, 0x00]), None);
        assert_eq!(decode_vlan([0x64, 0x80]), Some(100));
        // The id's high nibble is in bits 3:0 of the second octet; bits 6:4 are reserved.
        assert_eq!(decode_vlan([0xff, 0xff]), Some(0x0fff));
        assert_eq!(decode_vlan([0x02, 0x8f]), Some(0x0f02));
    }

    #[test]
    fn ip_source_names() {
        let names: Vec<String> = (0..=5).map(ip_source_name).collect();
        assert_eq!(names, ["unspecified", "static", "dhcp", "bios", "other", "reserved (5)"]);
        assert_eq!(ip_source_name(0xf2), "dhcp", "bits 7:4 are reserved");
    }

    #[test]
    fn smbios_revision_has_its_major_digit_high() {
        assert_eq!(smbios_spec_revision(0x20), "2.0");
        assert_eq!(smbios_spec_revision(0x15), "1.5");
    }

    //--- the conversation

    /// The LAN channel of ipmitool's `lan print` in openbmc/openbmc#3704: DHCP, 10.0.2.15,
    /// 255.255.255.0, MAC 52:2e:32:a5:86:66, gateway 10.0.2.2, VLAN disabled; each reply with
    /// parameter revision 11h.
    fn openbmc_lan(b: FakeBmc, ch: u8) -> FakeBmc {
        b.channel(ch, MEDIUM_LAN_802_3)
            .lan(ch, 4, &[0x00, 0x11, 0x02])
            .lan(ch, 3, &[0x00, 0x11, 10, 0, 2, 15])
            .lan(ch, 6, &[0x00, 0x11, 255, 255, 255, 0])
            .lan(ch, 12, &[0x00, 0x11, 10, 0, 2, 2])
            .lan(ch, 5, &[0x00, 0x11, 0x52, 0x2e, 0x32, 0xa5, 0x86, 0x66])
            .lan(ch, 20, &[0x00, 0x11, 0x00, 0x00])
    }

    /// Get System GUID carrying the Dell R630's SMBIOS UUID, 4c4c4544-0039-3010-8048-b7c04f384432,
    /// in the IPMI order (octets backwards).
    fn guid_reply() -> Vec<u8> {
        let mut g = vec![0x00];
        g.extend_from_slice(&[
            0x32, 0x44, 0x38, 0x4f, 0xc0, 0xb7, 0x48, 0x80, 0x10, 0x30, 0x39, 0x00, 0x44, 0x45, 0x4c, 0x4c,
        ]);
        g
    }

    #[test]
    fn a_full_conversation() {
        let dev = openbmc_lan(FakeBmc::new(), 1)
            .ok(GET_DEVICE_ID, &[], WIWYNN_DEVICE_ID)
            .ok(GET_SYSTEM_GUID, &[], &guid_reply())
            .channel(2, 0x05) // serial/modem: no LAN parameters asked
            .channel(3, MEDIUM_LAN_OTHER)
            .lan(3, 4, &[0x00, 0x11, 0x01])
            .lan(3, 3, &[0x00, 0x11, 10, 100, 254, 79])
            .lan(3, 6, &[0x00, 0x11, 255, 255, 255, 0])
            .lan(3, 12, &[0x00, 0x11, 10, 100, 254, 1])
            .lan(3, 5, &[0x00, 0x11, 0x94, 0x40, 0xc9, 0x37, 0x87, 0x32])
            .lan(3, 20, &[0x00, 0x11, 0xd2, 0x84]); // VLAN 1234, enabled
        let (bmc, problems) = run(&dev, DELL_R630_TYPE38);
        assert_eq!(problems, []);
        assert_eq!(
            bmc,
            Bmc {
                present: true,
                device: Some("/dev/ipmi0".into()),
                interface: Some("KCS".into()),
                ipmi_version: Some("2.0".into()),
                device_id: Some(32),
                firmware: Some("20.14".into()),
                manufacturer_id: Some(40981),
                product_id: Some(12614),
                system_guid: Some("4c4c4544-0039-3010-8048-b7c04f384432".into()),
                lan: vec![
                    BmcLan {
                        channel: 1,
                        ip_source: Some("dhcp".into()),
                        ipv4: Some("10.0.2.15".into()),
                        netmask: Some("255.255.255.0".into()),
                        gateway: Some("10.0.2.2".into()),
                        mac: Some("52:2e:32:a5:86:66".into()),
                        vlan: None,
                    },
                    BmcLan {
                        channel: 3,
                        ip_source: Some("static".into()),
                        ipv4: Some("10.100.254.79".into()),
                        netmask: Some("255.255.255.0".into()),
                        gateway: Some("10.100.254.1".into()),
                        mac: Some("94:40:c9:37:87:32".into()),
                        vlan: Some(0x4d2),
                    },
                ],
            }
        );
        let calls = dev.calls();
        assert!(!calls.iter().any(|c| c.0 == NETFN_TRANSPORT && c.2[0] == 2), "channel 2 is not a LAN");
        assert_eq!(calls.len(), 2 + 11 + 2 * 6);
    }

    #[test]
    fn smbios_alone_means_present_without_asking() {
        let dev = FakeBmc { device: None, ..FakeBmc::new() };
        let (bmc, problems) = run(&dev, DELL_R630_TYPE38);
        assert_eq!(problems, []);
        assert!(bmc.present);
        assert_eq!((bmc.interface.as_deref(), bmc.ipmi_version.as_deref()), (Some("KCS"), Some("2.0")));
        assert_eq!(bmc.device, None);
        assert!(dev.calls().is_empty(), "no device node, no IPMI request");
    }

    #[test]
    fn no_device_and_no_smbios_means_absent() {
        let dev = FakeBmc { device: None, ..FakeBmc::new() };
        let (bmc, problems) = run(&dev, &[0x7f, 0x04, 0xff, 0xff, 0x00, 0x00]);
        assert_eq!((bmc, problems), (Bmc::default(), vec![]));
    }

    #[test]
    fn a_device_node_without_smbios_is_present() {
        let dev = FakeBmc::new().ok(GET_DEVICE_ID, &[], QEMU_DEVICE_ID);
        let (bmc, _) = run(&dev, &[]);
        assert!(bmc.present);
        assert_eq!(bmc.interface, None, "the interface type is SMBIOS's to tell");
        assert_eq!(bmc.ipmi_version.as_deref(), Some("2.0"), "from Get Device ID");
    }

    #[test]
    fn device_id_overrides_the_smbios_ipmi_version() {
        let mut id = QEMU_DEVICE_ID.to_vec();
        id[5] = 0x51;
        let dev = FakeBmc::new().ok(GET_DEVICE_ID, &[], &id);
        let (bmc, _) = run(&dev, DELL_R630_TYPE38);
        assert_eq!(bmc.ipmi_version.as_deref(), Some("1.5"));
    }

    #[test]
    fn an_error_code_degrades_only_its_command() {
        let dev = openbmc_lan(FakeBmc::new(), 1)
            .ok(GET_DEVICE_ID, &[], &[0xd2]) // BMC initialization in progress
            .ok(GET_SYSTEM_GUID, &[], &guid_reply());
        let (bmc, problems) = run(&dev, DELL_R630_TYPE38);
        assert_eq!(
            problems,
            [Problem {
                collector: "bmc".into(),
                path: "ipmi:Get Device ID".into(),
                reason: "completion code 0xd2 (BMC initialization in progress)".into(),
            }]
        );
        assert_eq!((bmc.device_id, bmc.firmware, bmc.manufacturer_id), (None, None, None));
        assert_eq!(bmc.ipmi_version.as_deref(), Some("2.0"), "SMBIOS's stays");
        assert!(bmc.system_guid.is_some());
        assert_eq!(bmc.lan.len(), 1);
        assert_eq!(bmc.lan[0].ipv4.as_deref(), Some("10.0.2.15"));
    }

    #[test]
    fn a_short_reply_degrades_only_its_field() {
        let short_mac = [0x00, 0x11, 0x52, 0x2e, 0x32];
        let dev = openbmc_lan(FakeBmc::new(), 1).ok(GET_DEVICE_ID, &[], &QEMU_DEVICE_ID[..9]).lan(1, 5, &short_mac);
        let (bmc, problems) = run(&dev, &[]);
        let got: Vec<(&str, &str)> = problems.iter().map(|p| (p.path.as_str(), p.reason.as_str())).collect();
        assert_eq!(
            got,
            [
                ("ipmi:Get Device ID", "reply too short: 8 data octets, need 11"),
                ("ipmi:Get System GUID", "completion code 0xc1 (invalid command)"),
                (
                    "ipmi:Get LAN Configuration Parameters",
                    "channel 1, parameter 5 (MAC Address): reply too short: 4 data octets, need 7"
                ),
            ]
        );
        assert_eq!(bmc.device_id, None);
        let lan = &bmc.lan[0];
        assert_eq!(lan.mac, None);
        assert_eq!((lan.ipv4.as_deref(), lan.gateway.as_deref()), (Some("10.0.2.15"), Some("10.0.2.2")));
    }

    #[test]
    fn a_timeout_on_the_first_request_ends_the_conversation() {
        let dev = openbmc_lan(FakeBmc::new(), 1).answer(GET_DEVICE_ID, &[], Err(DeviceError::Timeout));
        let (bmc, problems) = run(&dev, DELL_R630_TYPE38);
        assert_eq!(dev.calls().len(), 1, "nothing sent after the timeout");
        assert_eq!(problems.len(), 1);
        assert_eq!(
            (problems[0].path.as_str(), problems[0].reason.as_str()),
            ("ipmi:Get Device ID", "timed out; no further IPMI requests sent")
        );
        assert!(bmc.present);
        assert_eq!((bmc.device_id, bmc.system_guid, bmc.lan), (None, None, vec![]));
    }

    #[test]
    fn a_timeout_later_ends_it_too() {
        let dev = openbmc_lan(FakeBmc::new(), 1).ok(GET_DEVICE_ID, &[], QEMU_DEVICE_ID).answer(
            GET_LAN_CONFIG,
            &[1, 6, 0, 0],
            Err(DeviceError::Timeout),
        );
        let (bmc, problems) = run(&dev, &[]);
        assert_eq!(problems.len(), 2, "{problems:?}"); // the GUID's C1h, then the timeout
        assert_eq!(problems[1].path, "ipmi:Get LAN Configuration Parameters");
        let lan = &bmc.lan[0];
        assert_eq!((lan.ipv4.as_deref(), lan.netmask.as_deref(), lan.mac.as_deref()), (Some("10.0.2.15"), None, None));
        let last = dev.calls().last().cloned().unwrap();
        assert_eq!(last, (NETFN_TRANSPORT, 0x02, vec![1, 6, 0, 0]), "the timed-out request was the last");
    }

    #[test]
    fn a_failing_device_is_recorded_once() {
        let dev = FakeBmc::new().answer(
            GET_DEVICE_ID,
            &[],
            Err(DeviceError::Failed("open /dev/ipmi0: permission denied".into())),
        );
        let (_, problems) = run(&dev, &[]);
        assert_eq!(dev.calls().len(), 1);
        assert_eq!(problems.len(), 1);
        assert_eq!(problems[0].reason, "open /dev/ipmi0: permission denied; no further IPMI requests sent");
    }

    #[test]
    fn missing_channels_and_unsupported_parameters_are_not_problems() {
        // QEMU's simulator: CCh for every channel but 0 and Fh.
        let dev = (1..=11).fold(FakeBmc::new().ok(GET_DEVICE_ID, &[], QEMU_DEVICE_ID), |d, ch| {
            d.ok(GET_CHANNEL_INFO, &[ch], &[CC_INVALID_DATA_FIELD, ch])
        });
        let (bmc, problems) = run(&dev, &[]);
        assert_eq!(bmc.lan, []);
        assert_eq!(problems.iter().map(|p| p.path.as_str()).collect::<Vec<_>>(), ["ipmi:Get System GUID"]);

        // An IPMI 1.5 BMC without parameter 20: 80h, "parameter not supported".
        let dev = openbmc_lan(FakeBmc::new(), 1).lan(1, 20, &[CC_LAN_PARAMETER_NOT_SUPPORTED]);
        let (bmc, problems) = run(&dev, &[]);
        assert!(problems.iter().all(|p| !p.path.contains("LAN")), "{problems:?}");
        assert_eq!(bmc.lan[0].vlan, None);
        assert_eq!(bmc.lan[0].mac.as_deref(), Some("52:2e:32:a5:86:66"));
    }

    #[test]
    fn a_bmc_without_get_channel_info_is_asked_once() {
        let dev =
            FakeBmc::new().ok(GET_DEVICE_ID, &[], QEMU_DEVICE_ID).ok(GET_CHANNEL_INFO, &[1], &[CC_INVALID_COMMAND]);
        let (bmc, problems) = run(&dev, &[]);
        let channel_calls = dev.calls().iter().filter(|c| c.1 == GET_CHANNEL_INFO.cmd).count();
        assert_eq!(channel_calls, 1);
        assert_eq!(bmc.lan, []);
        let p = problems.iter().find(|p| p.path == "ipmi:Get Channel Info").unwrap();
        assert_eq!(p.reason, "channel 1: completion code 0xc1 (invalid command)");
    }

    #[test]
    fn other_channel_errors_are_recorded_and_the_scan_goes_on() {
        let dev = openbmc_lan(FakeBmc::new(), 2).ok(GET_CHANNEL_INFO, &[1], &[0xc3]);
        let (bmc, problems) = run(&dev, &[]);
        assert!(
            problems.iter().any(|p| p.reason == "channel 1: completion code 0xc3 (timeout while processing command)")
        );
        assert_eq!(bmc.lan.iter().map(|l| l.channel).collect::<Vec<_>>(), [2]);
    }
}
