//! The agent's own DHCP client ([RFC 2131, section 3.1] and [section 4.4]): the probe that
//! looks for another DHCP server before a node serves (`auto` mode), and the DORA that gives an
//! election loser or an unconfigured live root an address. Both are one [`exchange`]: a message
//! broadcast every second until a reply with our transaction id settles it or the time is up.
//!
//! [RFC 2131, section 3.1]: https://www.rfc-editor.org/rfc/rfc2131#section-3.1
//! [section 4.4]: https://www.rfc-editor.org/rfc/rfc2131#section-4.4

use std::cell::Cell;
use std::io;
use std::net::{Ipv4Addr, SocketAddr, SocketAddrV4, UdpSocket};
use std::time::{Duration, Instant};

use netboot_proto::Mac;
use netboot_proto::dhcpv4::{self, DhcpOption, MessageType, Packet, Repr};
use smol::Async;

use super::clock::unix_ms;
use super::udp::{UdpOptions, bind_udp};
use crate::serve::dhcp::Mode;

/// What a reply did to an exchange.
enum Step<T> {
    /// Settled.
    Done(T),
    /// Send the (new) message now rather than at the next second.
    Resend,
    /// Not this one; keep listening.
    Wait,
}

/// A BOOTREQUEST from `mac` asking for broadcast replies (it has no address yet), with these
/// options after the message type.
pub(super) fn request(xid: u32, mac: Mac, kind: MessageType, options: &[DhcpOption<'_>]) -> io::Result<Vec<u8>> {
    let mut chaddr = [0u8; 16];
    if let Some(c) = chaddr.get_mut(..6) {
        c.copy_from_slice(&mac.0);
    }
    let mut r = Repr {
        op: dhcpv4::Op::Request,
        htype: dhcpv4::HardwareType::Ethernet,
        hlen: 6,
        hops: 0,
        xid,
        secs: 0,
        flags: dhcpv4::Flags::BROADCAST,
        ciaddr: Ipv4Addr::UNSPECIFIED,
        yiaddr: Ipv4Addr::UNSPECIFIED,
        siaddr: Ipv4Addr::UNSPECIFIED,
        giaddr: Ipv4Addr::UNSPECIFIED,
        chaddr,
        sname: &[],
        file: &[],
        options: dhcpv4::OptionList::new(),
    };
    r.push(DhcpOption::MessageType(kind)).map_err(io::Error::other)?;
    for o in options {
        r.push(*o).map_err(io::Error::other)?;
    }
    let mut out = vec![0u8; r.buffer_len()];
    let n = r.emit(&mut out).map_err(io::Error::other)?;
    out.truncate(n);
    Ok(out)
}

/// A transaction id: the MAC's last four octets mixed with the clock, so two runs differ.
fn xid(mac: Mac, salt: u32) -> u32 {
    let [_, _, a, b, c, d] = mac.0;
    u32::from_be_bytes([a, b, c, d]) ^ (unix_ms() as u32).rotate_left(salt)
}

/// Broadcasts `message()` on `iface` every second (and at once after a [`Step::Resend`]) and
/// hands each reply to our `xid` to `on_reply`, until one settles it (`Some`) or `wait` passes
/// (`None`).
async fn exchange<T>(
    iface: &str,
    xid: u32,
    wait: Duration,
    message: impl Fn() -> io::Result<Vec<u8>>,
    mut on_reply: impl FnMut(&Repr<'_>, SocketAddr) -> Step<T>,
) -> io::Result<Option<T>> {
    let opts =
        UdpOptions { device: Some(iface.to_owned()), broadcast: true, pktinfo: false, reuse_addr: true, rcvbuf: None };
    let sock = bind_udp(SocketAddrV4::new(Ipv4Addr::UNSPECIFIED, dhcpv4::CLIENT_PORT), &opts)?;
    let deadline = Instant::now() + wait;
    let mut buf = vec![0u8; 1500];
    let mut next_send = Instant::now();
    loop {
        let now = Instant::now();
        if now >= deadline {
            return Ok(None);
        }
        if now >= next_send {
            sock.send_to(&message()?, SocketAddrV4::new(Ipv4Addr::BROADCAST, dhcpv4::SERVER_PORT)).await?;
            next_send = now + Duration::from_secs(1);
        }
        let Some(Ok((len, src))) = recv_until(&sock, &mut buf, next_send.min(deadline)).await else { continue };
        let Ok(p) = Packet::new_checked(buf.get(..len).unwrap_or_default()) else { continue };
        let mut scratch = vec![0u8; len];
        let Ok(r) = Repr::parse(&p, &mut scratch) else { continue };
        if r.op != dhcpv4::Op::Reply || r.xid != xid {
            continue;
        }
        match on_reply(&r, src) {
            Step::Done(t) => return Ok(Some(t)),
            Step::Resend => next_send = Instant::now(),
            Step::Wait => {}
        }
    }
}

/// A datagram, or `None` once `until` passes.
async fn recv_until(
    sock: &Async<UdpSocket>,
    buf: &mut [u8],
    until: Instant,
) -> Option<io::Result<(usize, SocketAddr)>> {
    smol::future::or(async { Some(sock.recv_from(buf).await) }, async {
        smol::Timer::at(until).await;
        None
    })
    .await
}

/// The auto mode's probe: a DISCOVER from `mac` on `iface`, listening for offers for `wait`.
/// The first foreign server's identifier (or source address), if one answered; offers from
/// `ours` (a master probing while it serves) do not count.
pub(crate) async fn probe(
    iface: &str,
    mac: Mac,
    wait: Duration,
    ours: Option<Ipv4Addr>,
) -> io::Result<Option<Ipv4Addr>> {
    let xid = xid(mac, 0);
    let discover = || request(xid, mac, MessageType::Discover, &[DhcpOption::VendorClass(b"recon-probe")]);
    exchange(iface, xid, wait, discover, |r, src| {
        if r.message_type() != Some(MessageType::Offer) {
            return Step::Wait;
        }
        let from = match src {
            SocketAddr::V4(a) => *a.ip(),
            SocketAddr::V6(_) => Ipv4Addr::UNSPECIFIED,
        };
        let server = r.server_id().unwrap_or(from);
        if Some(server) == ours || Some(from) == ours {
            return Step::Wait;
        }
        Step::Done(server)
    })
    .await
}

/// Picks the mode for `auto`: full on a segment no other DHCP server answers on, else none at
/// all. Not even proxy DHCP: a segment with a DHCP server is somebody's network, and its PXE
/// clients are not recon's to boot; `--dhcp proxy` (`recon.dhcp=proxy`) says they are.
pub(crate) async fn auto_mode(iface: &str, mac: Mac, wait: Duration) -> (Mode, Option<Ipv4Addr>) {
    match probe(iface, mac, wait, None).await {
        Ok(Some(server)) => (Mode::Off, Some(server)),
        Ok(None) => {
            log::info!("dhcp: no other DHCP server answered on {iface} within {wait:?}: full mode");
            (Mode::Full, None)
        }
        Err(e) => {
            log::warn!("dhcp: probe on {iface} failed ({e}); assuming another server may exist: no DHCP");
            (Mode::Off, None)
        }
    }
}

/// What `auto` found another DHCP server say.
pub(crate) fn another_server(server: Ipv4Addr) -> String {
    format!("ANOTHER DHCP SERVER ({server}) ANSWERS")
}

/// What the console, the log and the board say when `auto` turned DHCP off: `why` is what
/// showed the segment is not an isolated rack.
pub(crate) fn not_alone(iface: &str, why: &str) -> String {
    format!(
        "recon: {why} ON {iface}: this is not an isolated rack, so recon serves no DHCP here and PXE-boots \
         nothing (boot with recon.dhcp=proxy, recon serve --dhcp proxy, to boot this segment's PXE clients by proxy \
         beside another DHCP server; recon.dhcp=full to hand out addresses too, only on a segment that is yours \
         alone)"
    )
}

/// A lease: the address, its prefix and the server's identifier.
pub(crate) type Lease = (Ipv4Addr, u8, Ipv4Addr);

/// DISCOVER, OFFER, REQUEST, ACK on `iface` for `mac`; a NAK starts over. `None` if no server
/// finished within `wait`.
pub(crate) async fn lease(iface: &str, mac: Mac, wait: Duration) -> io::Result<Option<Lease>> {
    let xid = xid(mac, 7);
    // The offer being requested: (address, server, prefix).
    let pending: Cell<Option<(Ipv4Addr, Ipv4Addr, u8)>> = Cell::new(None);
    let message = || match pending.get() {
        None => request(xid, mac, MessageType::Discover, &[DhcpOption::ParameterRequestList(&[1, 3, 6, 54])]),
        Some((ip, server, _)) => request(
            xid,
            mac,
            MessageType::Request,
            &[
                DhcpOption::RequestedIp(ip),
                DhcpOption::ServerId(server),
                DhcpOption::ParameterRequestList(&[1, 3, 6, 54]),
            ],
        ),
    };
    exchange(iface, xid, wait, message, |r, _| {
        if r.mac() != Some(mac.0) {
            return Step::Wait;
        }
        let prefix = r
            .options
            .iter()
            .find_map(|o| {
                if let DhcpOption::SubnetMask(m) = o { u8::try_from(u32::from(*m).count_ones()).ok() } else { None }
            })
            .unwrap_or(24);
        match (r.message_type(), pending.get()) {
            (Some(MessageType::Offer), None) => match r.server_id() {
                Some(server) => {
                    pending.set(Some((r.yiaddr, server, prefix)));
                    Step::Resend
                }
                None => Step::Wait,
            },
            (Some(MessageType::Ack), Some((ip, server, _))) if r.yiaddr == ip => Step::Done((ip, prefix, server)),
            (Some(MessageType::Nak), Some(_)) => {
                pending.set(None);
                Step::Resend
            }
            _ => Step::Wait,
        }
    })
    .await
}
