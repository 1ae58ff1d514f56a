//! What the kernel command line tells the agent (kernel Documentation/admin-guide/
//! kernel-parameters.rst for the syntax: words split on spaces, `"..."` quotes spaces in a
//! value).
//!
//! - `BOOTIF=01-aa-bb-cc-dd-ee-ff`: iPXE/pxelinux's boot interface (ARP type 1, then the MAC);
//!   the node was PXE-booted, and this is the NIC to use.
//! - `pxeaddr=A.B.C.D`: the boot server (the master).
//! - `postaction=liveboot|poweroff|...`: the seed's knob; present with `liveboot` on peers.
//! - `root=live:URL`: the live image this boot fetched (dracut livenet).
//! - `recon.token=HEX`: the upload token the master minted for this MAC.
//! - `recon.master=A.B.C.D`: the master, when it differs from pxeaddr.
//! - `recon.dhcp=auto|full|proxy|off`: what a media-booted node may do as master.
//! - `recon.poweroff=auto|always|never`: what a peer does after its inventory is acknowledged.
//! - `recon.address=A.B.C.D/P`: the master's address when it serves an isolated segment.
//! - `recon.role=auto|master|peer`: force a role (labs, tests).
//! - `recon.path=initramfs|live`: where a peer's agent runs; read by the dracut module
//!   (overlay/), known here only so it is not reported as unknown.

use std::net::Ipv4Addr;

use netboot_proto::Mac;

/// `recon.poweroff=`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PowerPolicy {
    /// Power off when a BMC can do it cleanly (IPMI present), else stay up and say so.
    Auto,
    /// Always power off after the ack.
    Always,
    /// Never: stay up.
    Never,
}

/// `recon.role=`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Role {
    /// Decided by the boot medium and the election.
    Auto,
    /// Serve, without electing.
    Master,
    /// Find a master and upload.
    Peer,
}

/// `recon.dhcp=` (as `recon serve --dhcp`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DhcpPolicy {
    /// Full unless another DHCP server answers the probe (or a router advertises itself), then
    /// none.
    Auto,
    /// Hand out addresses.
    Full,
    /// Answer PXE clients only, without addresses.
    Proxy,
    /// No DHCP.
    Off,
}

/// The parsed command line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Cmdline {
    /// `BOOTIF=`.
    pub boot_mac: Option<Mac>,
    /// `pxeaddr=`.
    pub pxeaddr: Option<Ipv4Addr>,
    /// `recon.master=`.
    pub master: Option<Ipv4Addr>,
    /// `postaction=`.
    pub postaction: Option<String>,
    /// `root=live:...`, the URL or device after `live:`.
    pub live_root: Option<String>,
    /// `recon.token=`.
    pub token: Option<String>,
    /// `recon.dhcp=`.
    pub dhcp: DhcpPolicy,
    /// `recon.poweroff=`.
    pub poweroff: PowerPolicy,
    /// `recon.address=`.
    pub address: Option<(Ipv4Addr, u8)>,
    /// `recon.role=`.
    pub role: Role,
    /// Words recon did not understand under `recon.`, kept for the event log.
    pub unknown: Vec<String>,
}

/// Splits like the kernel: spaces separate, double quotes protect spaces.
fn words(s: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut cur = String::new();
    let mut quoted = false;
    for c in s.chars() {
        match c {
            '"' => quoted = !quoted,
            c if c.is_whitespace() && !quoted => {
                if !cur.is_empty() {
                    out.push(std::mem::take(&mut cur));
                }
            }
            c => cur.push(c),
        }
    }
    if !cur.is_empty() {
        out.push(cur);
    }
    out
}

/// `01-aa-bb-cc-dd-ee-ff` (also with `:`): ARP hardware type 1 (Ethernet), then the MAC.
pub fn parse_bootif(v: &str) -> Option<Mac> {
    let mac = v.strip_prefix("01-").or_else(|| v.strip_prefix("01:"))?;
    Mac::parse(mac)
}

impl Cmdline {
    /// Parses `/proc/cmdline`. Never fails: what is malformed is left out or kept in `unknown`.
    pub fn parse(s: &str) -> Cmdline {
        let mut c = Cmdline {
            boot_mac: None,
            pxeaddr: None,
            master: None,
            postaction: None,
            live_root: None,
            token: None,
            dhcp: DhcpPolicy::Auto,
            poweroff: PowerPolicy::Auto,
            address: None,
            role: Role::Auto,
            unknown: Vec::new(),
        };
        for w in words(s) {
            let (k, v) = w.split_once('=').unwrap_or((w.as_str(), ""));
            match k {
                "BOOTIF" => c.boot_mac = parse_bootif(v),
                "pxeaddr" => c.pxeaddr = v.parse().ok(),
                "postaction" => c.postaction = Some(v.to_owned()),
                "root" => c.live_root = v.strip_prefix("live:").map(str::to_owned),
                "recon.token" => {
                    c.token = (!v.is_empty() && v.len() <= 128 && v.bytes().all(|b| b.is_ascii_hexdigit()))
                        .then(|| v.to_ascii_lowercase())
                }
                // `A.B.C.D` or `A.B.C.D:PORT` (the master's HTTP port; beacons and DHCP use theirs).
                "recon.master" => c.master = v.split(':').next().and_then(|a| a.parse().ok()),
                "recon.dhcp" => match v {
                    "auto" => c.dhcp = DhcpPolicy::Auto,
                    "full" => c.dhcp = DhcpPolicy::Full,
                    "proxy" => c.dhcp = DhcpPolicy::Proxy,
                    "off" => c.dhcp = DhcpPolicy::Off,
                    _ => c.unknown.push(w.clone()),
                },
                "recon.poweroff" => match v {
                    "auto" => c.poweroff = PowerPolicy::Auto,
                    "always" => c.poweroff = PowerPolicy::Always,
                    "never" => c.poweroff = PowerPolicy::Never,
                    _ => c.unknown.push(w.clone()),
                },
                "recon.role" => match v {
                    "auto" => c.role = Role::Auto,
                    "master" => c.role = Role::Master,
                    "peer" => c.role = Role::Peer,
                    _ => c.unknown.push(w.clone()),
                },
                "recon.address" => {
                    let parsed = v.split_once('/').and_then(|(a, p)| Some((a.parse().ok()?, p.parse::<u8>().ok()?)));
                    match parsed {
                        Some((a, p)) if (8..=30).contains(&p) => c.address = Some((a, p)),
                        _ => c.unknown.push(w.clone()),
                    }
                }
                "recon.path" if matches!(v, "initramfs" | "live") => {}
                k if k.starts_with("recon.") => c.unknown.push(w.clone()),
                _ => {}
            }
        }
        c
    }

    /// Whether this boot came over the network from a recon master.
    pub fn pxe_booted(&self) -> bool {
        self.boot_mac.is_some() && (self.pxeaddr.is_some() || self.master.is_some())
    }

    /// The master to upload to, as the boot named it.
    pub fn master_addr(&self) -> Option<Ipv4Addr> {
        self.master.or(self.pxeaddr)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_seed_peer_line() {
        let c = Cmdline::parse(
            "initrd=initrd.img root=live:http://10.0.0.1/recon.iso rd.live.ram=1 rd.live.image \
             BOOTIF=01-52-54-00-12-34-56 pxeaddr=10.0.0.1 postaction=liveboot recon.token=ABCdef01 \
             recon.poweroff=never recon.path=initramfs recon.path=nfs recon.bogus=1 quiet\n",
        );
        assert_eq!(c.boot_mac, Some(Mac([0x52, 0x54, 0, 0x12, 0x34, 0x56])));
        assert_eq!(c.pxeaddr, Some(Ipv4Addr::new(10, 0, 0, 1)));
        assert_eq!(c.live_root.as_deref(), Some("http://10.0.0.1/recon.iso"));
        assert_eq!(c.postaction.as_deref(), Some("liveboot"));
        assert_eq!(c.token.as_deref(), Some("abcdef01"));
        assert_eq!(c.poweroff, PowerPolicy::Never);
        assert_eq!(c.unknown, ["recon.path=nfs", "recon.bogus=1"]);
        assert!(c.pxe_booted());
    }

    #[test]
    fn a_stick_boot_and_garbage() {
        let c =
            Cmdline::parse("BOOT_IMAGE=/boot/vmlinuz root=live:CDLABEL=RECON rd.live.image recon.address=10.9.0.1/16");
        assert!(!c.pxe_booted());
        assert_eq!(c.address, Some((Ipv4Addr::new(10, 9, 0, 1), 16)));
        let c =
            Cmdline::parse("BOOTIF=01-zz pxeaddr=999.1.1.1 recon.token=../x \"a b=c\" recon.address=1.2.3.4/40 ===");
        assert_eq!((c.boot_mac, c.pxeaddr, c.token.as_deref(), c.address), (None, None, None, None));
        assert_eq!(parse_bootif("01:52:54:00:12:34:56"), Some(Mac([0x52, 0x54, 0, 0x12, 0x34, 0x56])));
        assert_eq!(parse_bootif("01-52-54-00-12-34-5"), None);
    }
}
