//! IPv4 address conflict detection ([RFC 5227]): before a master puts an address on its
//! interface, it asks the segment whether anyone has it (ARP probes, [RFC 826] requests with a
//! sender address of 0.0.0.0), and after taking it says so (ARP announcements). A master that
//! took an address already in use would break the host that has it and answer for it.
//!
//! The DHCP server probes the same way for addresses it leased when its pool is full
//! ([`probe_many`]): a holder that answers is there, one that does not is gone and its address
//! can be given again (serve/dhcp's reclaim).
//!
//! The frames are written and read on a packet socket bound to the interface: an address that is
//! not yet configured cannot be probed through the kernel's ARP.
//!
//! [RFC 5227]: https://www.rfc-editor.org/rfc/rfc5227
//! [RFC 826]: https://www.rfc-editor.org/rfc/rfc826

use std::io;
use std::net::Ipv4Addr;
use std::os::fd::{AsRawFd, OwnedFd};
use std::time::{Duration, Instant};

use netboot_proto::Mac;
use nix::sys::socket::{AddressFamily, MsgFlags, SockFlag, SockProtocol, SockType, bind, recv, send, socket};
use smol::Async;

/// ARP over Ethernet.
const ETHERTYPE_ARP: u16 = 0x0806;

/// RFC 5227, section 1.1: PROBE_NUM probes, PROBE_MIN..PROBE_MAX apart (1 s here), then
/// ANNOUNCE_WAIT for answers; ANNOUNCE_NUM announcements ANNOUNCE_INTERVAL apart.
const PROBE_NUM: u32 = 3;
const PROBE_INTERVAL: Duration = Duration::from_secs(1);
const ANNOUNCE_WAIT: Duration = Duration::from_secs(2);
const ANNOUNCE_NUM: u32 = 2;
const ANNOUNCE_INTERVAL: Duration = Duration::from_secs(2);

//--- Frames (no I/O)

/// An ARP request on Ethernet, broadcast: a probe for `target` (sender address 0.0.0.0,
/// section 2.1.1) or, with `sender == target`, an announcement (section 2.3).
pub(crate) fn request(mac: Mac, sender: Ipv4Addr, target: Ipv4Addr) -> [u8; 42] {
    let mut f = [0u8; 42];
    let mut put = |at: usize, b: &[u8]| {
        if let Some(d) = f.get_mut(at..at + b.len()) {
            d.copy_from_slice(b);
        }
    };
    put(0, &[0xff; 6]);
    put(6, &mac.0);
    put(12, &ETHERTYPE_ARP.to_be_bytes());
    // htype Ethernet, ptype IPv4, hlen 6, plen 4, oper request (RFC 826).
    put(14, &[0, 1, 8, 0, 6, 4, 0, 1]);
    put(22, &mac.0);
    put(28, &sender.octets());
    put(32, &[0; 6]);
    put(38, &target.octets());
    f
}

/// Whether `frame` (an Ethernet frame) says that another host has `ip` or wants it too
/// (section 2.1.1): any ARP packet whose sender address is `ip`, or a probe for `ip` from
/// another MAC. The MAC of that host, if so.
pub(crate) fn conflict(frame: &[u8], ip: Ipv4Addr, ours: Mac) -> Option<Mac> {
    if frame.get(12..14)? != ETHERTYPE_ARP.to_be_bytes() || frame.get(14..20)? != [0, 1, 8, 0, 6, 4] {
        return None;
    }
    let sha: [u8; 6] = frame.get(22..28)?.try_into().ok()?;
    let spa = Ipv4Addr::from(<[u8; 4]>::try_from(frame.get(28..32)?).ok()?);
    let tpa = Ipv4Addr::from(<[u8; 4]>::try_from(frame.get(38..42)?).ok()?);
    if sha == ours.0 {
        return None;
    }
    (spa == ip || (spa.is_unspecified() && tpa == ip)).then_some(Mac(sha))
}

/// The sender of an ARP frame that has an address (not a probe's 0.0.0.0), and its MAC: a host
/// configured on this segment (RFC 826; RFC 5227 section 2.1.1 for the probe).
pub(crate) fn sender(frame: &[u8]) -> Option<(Ipv4Addr, Mac)> {
    if frame.get(12..14)? != ETHERTYPE_ARP.to_be_bytes() || frame.get(14..20)? != [0, 1, 8, 0, 6, 4] {
        return None;
    }
    let sha: [u8; 6] = frame.get(22..28)?.try_into().ok()?;
    let spa = Ipv4Addr::from(<[u8; 4]>::try_from(frame.get(28..32)?).ok()?);
    (!spa.is_unspecified()).then_some((spa, Mac(sha)))
}

/// The first host with an address heard on `iface` within `limit` (any ARP frame but a probe's
/// and this machine's own), if one speaks. A link-local address (169.254/16, RFC 3927) is one a
/// host gave itself for want of a DHCP server: no sign of a configured network.
pub(crate) async fn first_host(iface: &str, ours: Mac, limit: Duration) -> io::Result<Option<(Ipv4Addr, Mac)>> {
    let sock = open(iface)?;
    let until = Instant::now() + limit;
    let mut buf = [0u8; 1600];
    loop {
        let Some(n) = next_frame(&sock, &mut buf, until).await? else { return Ok(None) };
        if let Some((ip, mac)) = sender(buf.get(..n).unwrap_or_default())
            && mac != ours
            && !ip.is_link_local()
        {
            return Ok(Some((ip, mac)));
        }
    }
}

//--- The socket

/// A packet socket on `iface`, every protocol (ARP is filtered here).
pub(crate) fn open(iface: &str) -> io::Result<Async<OwnedFd>> {
    let link = nix::ifaddrs::getifaddrs()?
        .filter(|a| a.interface_name == iface)
        .find_map(|a| a.address.as_ref().and_then(|s| s.as_link_addr().copied()))
        .ok_or_else(|| io::Error::other(format!("{iface}: no link-layer address")))?;
    let fd = socket(
        AddressFamily::Packet,
        SockType::Raw,
        SockFlag::SOCK_CLOEXEC | SockFlag::SOCK_NONBLOCK,
        SockProtocol::EthAll,
    )?;
    bind(fd.as_raw_fd(), &link)?;
    Async::new(fd)
}

pub(crate) async fn send_frame(sock: &Async<OwnedFd>, frame: &[u8]) -> io::Result<()> {
    sock.write_with(|fd| send(fd.as_raw_fd(), frame, MsgFlags::empty()).map_err(io::Error::from)).await.map(|_| ())
}

/// The next frame's length in `buf`, or `None` once `until` has passed.
async fn next_frame(sock: &Async<OwnedFd>, buf: &mut [u8], until: Instant) -> io::Result<Option<usize>> {
    smol::future::or(
        async {
            sock.read_with(|fd| recv(fd.as_raw_fd(), buf, MsgFlags::empty()).map_err(io::Error::from)).await.map(Some)
        },
        async {
            smol::Timer::at(until).await;
            Ok(None)
        },
    )
    .await
}

/// Watches `sock` until `until` for a conflict over `ip`.
async fn listen(sock: &Async<OwnedFd>, ip: Ipv4Addr, ours: Mac, until: Instant) -> io::Result<Option<Mac>> {
    let mut buf = [0u8; 1600];
    loop {
        let Some(n) = next_frame(sock, &mut buf, until).await? else { return Ok(None) };
        if let Some(other) = conflict(buf.get(..n).unwrap_or_default(), ip, ours) {
            return Ok(Some(other));
        }
    }
}

/// Probes for `ip` on `iface` (about 5 s): the MAC of a host that has it, if one answers.
pub(crate) async fn probe(iface: &str, ours: Mac, ip: Ipv4Addr) -> io::Result<Option<Mac>> {
    let sock = open(iface)?;
    let frame = request(ours, Ipv4Addr::UNSPECIFIED, ip);
    for k in 0..PROBE_NUM {
        send_frame(&sock, &frame).await?;
        let wait = if k + 1 == PROBE_NUM { ANNOUNCE_WAIT } else { PROBE_INTERVAL };
        if let Some(other) = listen(&sock, ip, ours, Instant::now() + wait).await? {
            return Ok(Some(other));
        }
    }
    Ok(None)
}

/// Probes for every address of `ips` at once on `iface` (section 2.1.1: sender address 0.0.0.0,
/// so no neighbour learns anything from the probe), twice, `wait / 2` apart (one lost frame is
/// not taken for absence), listening `wait` in all: the addresses some other host answered for
/// or probed for too, in the order found.
pub(crate) async fn probe_many(iface: &str, ours: Mac, ips: &[Ipv4Addr], wait: Duration) -> io::Result<Vec<Ipv4Addr>> {
    let sock = open(iface)?;
    let mut present = Vec::new();
    let start = Instant::now();
    for until in [start + wait / 2, start + wait] {
        for &ip in ips.iter().filter(|ip| !present.contains(*ip)) {
            send_frame(&sock, &request(ours, Ipv4Addr::UNSPECIFIED, ip)).await?;
        }
        listen_many(&sock, ips, ours, until, &mut present).await?;
    }
    Ok(present)
}

/// Watches `sock` until `until`, adding to `present` each of `ips` another host shows it has.
async fn listen_many(
    sock: &Async<OwnedFd>,
    ips: &[Ipv4Addr],
    ours: Mac,
    until: Instant,
    present: &mut Vec<Ipv4Addr>,
) -> io::Result<()> {
    let mut buf = [0u8; 1600];
    while present.len() < ips.len() {
        let Some(n) = next_frame(sock, &mut buf, until).await? else { break };
        let frame = buf.get(..n).unwrap_or_default();
        if let Some(&ip) = ips.iter().find(|&&ip| !present.contains(&ip) && conflict(frame, ip, ours).is_some()) {
            present.push(ip);
        }
    }
    Ok(())
}

/// Announces that this host now has `ip` (section 2.3), so neighbours' caches and switches
/// learn it at once.
pub(crate) async fn announce(iface: &str, ours: Mac, ip: Ipv4Addr) -> io::Result<()> {
    let sock = open(iface)?;
    let frame = request(ours, ip, ip);
    for k in 0..ANNOUNCE_NUM {
        if k > 0 {
            smol::Timer::after(ANNOUNCE_INTERVAL).await;
        }
        send_frame(&sock, &frame).await?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    const US: Mac = Mac([0x52, 0x54, 0, 0, 0, 1]);
    const THEM: Mac = Mac([0x52, 0x54, 0, 0, 0, 2]);
    const IP: Ipv4Addr = Ipv4Addr::new(10, 213, 0, 1);

    #[test]
    fn a_configured_host_is_told_by_its_arp_sender_address() {
        let them = Mac([2, 0, 0, 0, 0, 7]);
        let asks = request(them, Ipv4Addr::new(10, 0, 0, 5), Ipv4Addr::new(10, 0, 0, 1));
        assert_eq!(sender(&asks), Some((Ipv4Addr::new(10, 0, 0, 5), them)));
        // A probe (RFC 5227) comes from a host that has no address yet.
        assert_eq!(sender(&request(them, Ipv4Addr::UNSPECIFIED, Ipv4Addr::new(10, 0, 0, 5))), None);
        let mut ip = asks;
        ip[12..14].copy_from_slice(&[8, 0]);
        assert_eq!(sender(&ip), None, "not ARP");
        assert_eq!(sender(&asks[..30]), None, "short");
    }

    #[test]
    fn a_probe_is_a_broadcast_request_from_nowhere() {
        let f = request(US, Ipv4Addr::UNSPECIFIED, IP);
        assert_eq!(&f[..6], &[0xff; 6]);
        assert_eq!(&f[12..14], &[8, 6]);
        assert_eq!(&f[20..22], &[0, 1], "a request");
        assert_eq!(&f[28..32], &[0, 0, 0, 0], "sender 0.0.0.0");
        assert_eq!(&f[38..42], &IP.octets());
    }

    #[test]
    fn answers_and_rival_probes_are_conflicts_our_own_frames_are_not() {
        // Someone answering for the address (a reply from THEM with sender IP).
        let mut reply = request(THEM, IP, Ipv4Addr::new(0, 0, 0, 0));
        reply[21] = 2;
        assert_eq!(conflict(&reply, IP, US), Some(THEM));
        // Someone else probing for the same address at the same time.
        assert_eq!(conflict(&request(THEM, Ipv4Addr::UNSPECIFIED, IP), IP, US), Some(THEM));
        // Our own probe, heard back; another address; not ARP; too short.
        assert_eq!(conflict(&request(US, Ipv4Addr::UNSPECIFIED, IP), IP, US), None);
        assert_eq!(conflict(&request(THEM, Ipv4Addr::new(10, 213, 0, 9), Ipv4Addr::new(10, 213, 0, 8)), IP, US), None);
        let mut ip = request(THEM, IP, IP);
        ip[12..14].copy_from_slice(&[8, 0]);
        assert_eq!(conflict(&ip, IP, US), None);
        assert_eq!(conflict(&request(THEM, IP, IP)[..30], IP, US), None);
    }
}
