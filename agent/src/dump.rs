//! `recon dump`: a readable decode of the DHCP traffic in a capture file, in the spirit of
//! `tcpdump -v`, through recon's own codec. Useful to see what a firmware really sends, and the
//! first thing to run on a capture from a machine that will not boot.

use std::fmt::Write as _;
use std::io::{self, Write};
use std::net::Ipv4Addr;

use netboot_proto::capture::{Capture, Frame};
use netboot_proto::dhcpv4::pxe::{BootClass, IpxeOptions, RelayAgentInfo, Suboptions, UserClass, VendorClass};
use netboot_proto::dhcpv4::{DhcpOption, Error, Op, OptionCode, Packet, Region};

/// What one dump saw, for the summary line and the exit status.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Counts {
    pub(crate) frames: usize,
    pub(crate) dhcp: usize,
    pub(crate) malformed: usize,
    pub(crate) other: usize,
}

/// Whether a datagram on these ports is DHCP: the server and client ports, and PXE's 4011.
fn is_dhcp_port(port: u16) -> bool {
    matches!(port, 67 | 68 | 4011)
}

/// Decodes every frame of `capture` into `out`.
pub(crate) fn dump(bytes: &[u8], out: &mut dyn Write) -> anyhow::Result<Counts> {
    let capture = Capture::new(bytes)?;
    let mut counts = Counts::default();
    for frame in capture.frames() {
        let frame = frame?;
        counts.frames += 1;
        let mut text = String::new();
        frame_text(&frame, &mut counts, &mut text);
        out.write_all(text.as_bytes())?;
    }
    writeln!(
        out,
        "{} frames: {} DHCP, {} malformed DHCP, {} other",
        counts.frames, counts.dhcp, counts.malformed, counts.other
    )?;
    Ok(counts)
}

fn frame_text(frame: &Frame<'_>, counts: &mut Counts, s: &mut String) {
    let _ =
        write!(s, "{:5}  {} ", frame.number, crate::serve::time::utc_datetime(frame.time.0, Some(frame.time.1 / 1000)));
    let Some(udp) = frame.udp() else {
        counts.other += 1;
        let _ = writeln!(s, "not IPv4/UDP, {} octets", frame.data.len());
        return;
    };
    let _ = write!(s, "{} > {}: ", udp.src, udp.dst);
    if !(is_dhcp_port(udp.src.port()) || is_dhcp_port(udp.dst.port())) {
        counts.other += 1;
        let _ = writeln!(s, "UDP, length {}", udp.payload.len());
        return;
    }
    match Packet::new_checked(udp.payload) {
        Ok(packet) => match dhcp_text(&packet, s) {
            Ok(()) => counts.dhcp += 1,
            Err(e) => {
                counts.malformed += 1;
                let _ = writeln!(s, "      malformed: {e}");
            }
        },
        Err(e) => {
            counts.malformed += 1;
            let _ = writeln!(s, "DHCP malformed, length {}{}: {e}", udp.payload.len(), trunc(udp.truncated));
        }
    }
}

fn trunc(truncated: bool) -> &'static str {
    if truncated { " (truncated capture)" } else { "" }
}

/// The header line, the fixed fields that are set, then one line per option instance.
fn dhcp_text(p: &Packet<'_>, s: &mut String) -> Result<(), Error> {
    let mut kind = None;
    for opt in p.options().flatten() {
        if opt.code == OptionCode::MESSAGE_TYPE.0
            && let DhcpOption::MessageType(t) = DhcpOption::from_wire(opt.code, opt.data)
        {
            kind = Some(t);
        }
    }
    let op = match p.op() {
        Op::Request => "request".to_owned(),
        Op::Reply => "reply".to_owned(),
        Op::Unknown(v) => format!("op {v}"),
    };
    match kind {
        Some(t) => {
            let _ = write!(s, "DHCP {t} ({op})");
        }
        None => {
            let _ = write!(s, "BOOTP {op}");
        }
    }
    let _ = write!(s, ", length {}, xid {:#010x}", p.len(), p.xid());
    if p.hops() != 0 {
        let _ = write!(s, ", hops {}", p.hops());
    }
    if p.secs() != 0 {
        let _ = write!(s, ", secs {}", p.secs());
    }
    let _ = writeln!(s, ", flags [{}]", if p.flags().broadcast() { "broadcast" } else { "none" });
    for (name, addr) in
        [("client-ip", p.ciaddr()), ("your-ip", p.yiaddr()), ("server-ip", p.siaddr()), ("relay-ip", p.giaddr())]
    {
        if addr != Ipv4Addr::UNSPECIFIED {
            let _ = writeln!(s, "      {name} {addr}");
        }
    }
    let _ = writeln!(s, "      client {}", hex_colon(p.hw_addr()));
    let overload = p.overload().unwrap_or(0);
    let field = |bytes: &[u8]| {
        let end = bytes.iter().position(|&b| b == 0).unwrap_or(bytes.len());
        bytes.get(..end).map(quoted).unwrap_or_default()
    };
    if overload & 2 == 0 && p.header().sname[0] != 0 {
        let _ = writeln!(s, "      sname {}", field(&p.header().sname));
    }
    if overload & 1 == 0 && p.header().file[0] != 0 {
        let _ = writeln!(s, "      file {}", field(&p.header().file));
    }
    for opt in p.options() {
        let opt = opt?;
        let code = OptionCode(opt.code);
        let region = match opt.region {
            Region::Options => "",
            Region::File => " [in file]",
            Region::Sname => " [in sname]",
        };
        let _ = writeln!(s, "      {code}{region}, length {}: {}", opt.data.len(), option_value(opt.code, opt.data));
    }
    Ok(())
}

/// A readable value for one option instance: typed where recon knows the meaning.
fn option_value(code: u8, data: &[u8]) -> String {
    match DhcpOption::from_wire(code, data) {
        DhcpOption::SubnetMask(a)
        | DhcpOption::BroadcastAddress(a)
        | DhcpOption::RequestedIp(a)
        | DhcpOption::ServerId(a) => a.to_string(),
        DhcpOption::Router(l) | DhcpOption::DomainNameServer(l) => {
            l.iter().map(|a| a.to_string()).collect::<Vec<_>>().join(",")
        }
        DhcpOption::LeaseTime(t) | DhcpOption::RenewalTime(t) | DhcpOption::RebindingTime(t) => format!("{t} s"),
        DhcpOption::MessageType(t) => t.to_string(),
        DhcpOption::MaxMessageSize(v) => v.to_string(),
        DhcpOption::ParameterRequestList(codes) => {
            codes.iter().map(|&c| OptionCode(c).to_string()).collect::<Vec<_>>().join(", ")
        }
        DhcpOption::HostName(b)
        | DhcpOption::DomainName(b)
        | DhcpOption::TftpServerName(b)
        | DhcpOption::BootfileName(b) => quoted(b),
        DhcpOption::VendorClass(b) => {
            let vc = VendorClass::parse(b);
            let mut v = quoted(b);
            if vc.class != BootClass::Other {
                let class = if vc.class == BootClass::PxeClient { "PXE" } else { "HTTP boot" };
                let _ = write!(v, " ({class}");
                if let Some(a) = vc.arch() {
                    let _ = write!(v, ", arch {a}");
                }
                if let Some((major, minor)) = vc.undi() {
                    let _ = write!(v, ", UNDI {major}.{minor}");
                }
                v.push(')');
            }
            v
        }
        DhcpOption::ClientId(b) => match b.split_first() {
            Some((1, mac)) if mac.len() == 6 => format!("ether {}", hex_colon(mac)),
            _ => hex(b),
        },
        DhcpOption::UserClass(b) => {
            let uc = UserClass::new(b);
            let parts: Vec<String> = uc.instances().map(quoted).collect();
            format!("{}{}", parts.join(", "), if uc.is_rfc3004() { " (RFC 3004)" } else { " (raw)" })
        }
        DhcpOption::ClientArch(l) => l.iter().map(|a| a.to_string()).collect::<Vec<_>>().join(", "),
        DhcpOption::ClientNdi(n) => format!("type {} version {}.{}", n.kind, n.major, n.minor),
        DhcpOption::ClientMachineId(id) => format!("uuid {}", id.uuid_le()),
        DhcpOption::VendorSpecific(b) => suboptions(Suboptions::new(b)),
        DhcpOption::RelayAgentInfo(b) => {
            let r = RelayAgentInfo::new(b);
            suboptions(r.suboptions())
        }
        DhcpOption::Ipxe(b) => {
            let x = IpxeOptions::new(b);
            let mut v = suboptions(x.suboptions());
            if let Some((a, b, c)) = x.version() {
                let _ = write!(v, " (iPXE {a}.{b}.{c})");
            }
            v
        }
        DhcpOption::Other { code: 93, data } => format!("malformed: {}", hex(data)),
        DhcpOption::Other { data, .. } => {
            if !data.is_empty() && data.iter().all(|&b| b.is_ascii_graphic() || b == b' ') {
                quoted(data)
            } else {
                hex(data)
            }
        }
    }
}

fn suboptions(subs: Suboptions<'_>) -> String {
    let well_formed = subs.is_well_formed();
    let mut parts: Vec<String> = subs.map(|(c, v)| format!("{c}={}", hex(v))).collect();
    if !well_formed {
        parts.push("(malformed tail)".into());
    }
    parts.join(" ")
}

fn quoted(b: &[u8]) -> String {
    let mut out = String::from("\"");
    for &c in b {
        if c.is_ascii_graphic() || c == b' ' {
            if c == b'"' || c == b'\\' {
                out.push('\\');
            }
            out.push(char::from(c));
        } else {
            let _ = write!(out, "\\x{c:02x}");
        }
    }
    out.push('"');
    out
}

fn hex(b: &[u8]) -> String {
    if b.is_empty() {
        return "(empty)".into();
    }
    b.iter().map(|x| format!("{x:02x}")).collect()
}

fn hex_colon(b: &[u8]) -> String {
    b.iter().map(|x| format!("{x:02x}")).collect::<Vec<_>>().join(":")
}

/// Dumps each file in turn to stdout.
pub(crate) fn run(files: &[std::path::PathBuf]) -> anyhow::Result<Counts> {
    let stdout = io::stdout();
    let mut out = stdout.lock();
    let mut total = Counts::default();
    for path in files {
        let bytes = std::fs::read(path).map_err(|e| anyhow::anyhow!("{}: {e}", path.display()))?;
        if files.len() > 1 {
            writeln!(out, "== {}", path.display())?;
        }
        let c = dump(&bytes, &mut out).map_err(|e| anyhow::anyhow!("{}: {e}", path.display()))?;
        total.frames += c.frames;
        total.dhcp += c.dhcp;
        total.malformed += c.malformed;
        total.other += c.other;
    }
    Ok(total)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quoting_escapes_what_is_not_printable() {
        assert_eq!(quoted(b"iPXE"), "\"iPXE\"");
        assert_eq!(quoted(b"a\"b\x01"), "\"a\\\"b\\x01\"");
    }

    #[test]
    fn option_values_are_typed() {
        assert_eq!(option_value(53, &[1]), "DISCOVER");
        assert_eq!(option_value(93, &[0, 7]), "x64 UEFI (7)");
        assert_eq!(option_value(3, &[10, 0, 0, 1, 10, 0, 0, 2]), "10.0.0.1,10.0.0.2");
        assert_eq!(option_value(77, b"iPXE"), "\"iPXE\" (raw)");
        assert_eq!(option_value(61, &[1, 0xd0, 0x50, 0x99, 0x4e, 5, 0x57]), "ether d0:50:99:4e:05:57");
    }
}
