//! The production interlock. A master that chose full DHCP by itself (`--dhcp auto`, the agent's
//! default) hands out addresses only while the segment looks like an isolated rack: the moment
//! it shows another DHCP server or a router, the master stops answering DHCP (it never hands out
//! another address there) and says so on the console, in its log and on the board. A stick
//! booted by mistake on a production network must not boot production machines into an
//! inventory and power them off. A master told `--dhcp full` (`recon.dhcp=full`) goes on
//! serving and says it is not alone.
//!
//! The signs, watched for as long as the master serves:
//! - a probe ([`watch`]): every `every`, a DISCOVER from a MAC of the master's own; an OFFER from
//!   any server but this one ([RFC 2131, section 4.1]);
//! - what clients say: a REQUEST that names another server (option 54): a client in SELECTING
//!   state broadcasts which server's offer it took ([section 4.3.2]); `runtime::dhcp` checks each
//!   ([`foreign_server`]);
//! - what other servers say: OFFERs and ACKs heard on port 68, which servers broadcast to clients
//!   that set the BROADCAST flag (as PXE ROMs do) ([section 4.1]); this catches a server that
//!   answers only clients it knows, which ignores the probe;
//! - router advertisements ([RFC 4861, section 4.2]) heard on the link.
//!
//! [RFC 2131, section 4.1]: https://www.rfc-editor.org/rfc/rfc2131#section-4.1
//! [section 4.3.2]: https://www.rfc-editor.org/rfc/rfc2131#section-4.3.2
//! [section 4.1]: https://www.rfc-editor.org/rfc/rfc2131#section-4.1
//! [RFC 4861, section 4.2]: https://www.rfc-editor.org/rfc/rfc4861#section-4.2

use std::cell::RefCell;
use std::io;
use std::net::{Ipv4Addr, SocketAddr, SocketAddrV4, UdpSocket};
use std::rc::Rc;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use netboot_proto::Mac;
use netboot_proto::dhcpv4::{self, MessageType, Packet, Repr};
use nix::sys::socket::{AddressFamily, SockFlag, SockProtocol, SockType, setsockopt, socket, sockopt};
use smol::Async;

use super::dhcp::Dhcp;
use super::udp::{UdpOptions, bind_udp};

/// Other recon masters met on the segment with a higher MAC, by address: they stand down for
/// this one (`machine::serve`), and until they have, for at most [`Rivals::GRACE`] from the
/// first beacon, their DHCP replies (and REQUESTs naming them) are no sign of a foreign server.
/// Shared between the agent's thread, which hears the beacons, and the master's.
#[derive(Debug, Clone, Default)]
pub(crate) struct Rivals(Arc<Mutex<Vec<(Ipv4Addr, Instant)>>>);

impl Rivals {
    /// Long enough for the other master to check this one's manifest, close its store and
    /// unmount its stick (seconds); a rival still answering after it is a foreign server.
    pub(crate) const GRACE: Duration = Duration::from_secs(60);

    /// A rival serving at `addr`; its grace runs from the first time it is told, so a master
    /// that beacons on without standing down is not excused for ever.
    pub(crate) fn add(&self, addr: Ipv4Addr) {
        let mut v = self.0.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        if !v.iter().any(|&(a, _)| a == addr) {
            v.push((addr, Instant::now() + Self::GRACE));
        }
    }

    /// Whether `server`'s DHCP traffic is a rival's within its grace.
    pub(crate) fn excuse(&self, server: Ipv4Addr) -> bool {
        let v = self.0.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        v.iter().any(|&(a, until)| a == server && Instant::now() < until)
    }
}

/// How long each probe listens for offers.
const PROBE_WAIT: Duration = Duration::from_secs(3);

/// ICMPv6 Router Advertisement (RFC 4861, section 4.2).
const ROUTER_ADVERTISEMENT: u8 = 134;

/// The probe's client MAC: locally administered (RFC 7042, section 2.1), from the master's own,
/// so it is no node's and the same across probes (one client entry on this master).
pub(crate) fn probe_mac(mac: Mac) -> Mac {
    let [_, _, _, d, e, f] = mac.0;
    Mac([0x02, b'r', b'c', d, e, f])
}

/// Another server, if `req` (a client's datagram to port 67) is a REQUEST that names one that is
/// not `server`.
pub(crate) fn foreign_server(req: &Repr<'_>, server: Ipv4Addr) -> Option<Ipv4Addr> {
    let named = req.server_id()?;
    (req.message_type() == Some(MessageType::Request) && named != server && !named.is_unspecified()).then_some(named)
}

/// The server behind a reply heard on port 68, if it is not `server`: an OFFER or ACK.
pub(crate) fn foreign_reply(datagram: &[u8], from: Ipv4Addr, server: Ipv4Addr) -> Option<Ipv4Addr> {
    let p = Packet::new_checked(datagram).ok()?;
    let mut scratch = vec![0u8; datagram.len()];
    let r = Repr::parse(&p, &mut scratch).ok()?;
    if r.op != dhcpv4::Op::Reply || !matches!(r.message_type(), Some(MessageType::Offer | MessageType::Ack)) {
        return None;
    }
    let other = r.server_id().unwrap_or(from);
    (other != server && from != server).then_some(other)
}

/// Watches for other DHCP servers and routers on `iface` until the DHCP loop has stood down;
/// each sign goes to [`Dhcp::foreign`].
pub(crate) async fn watch(dhcp: Rc<RefCell<Dhcp>>, iface: String, server: Ipv4Addr, mac: Mac, every: Duration) {
    let probes = {
        let (dhcp, iface) = (dhcp.clone(), iface.clone());
        async move {
            let me = probe_mac(mac);
            loop {
                smol::Timer::after(every).await;
                if dhcp.borrow().stood_down() {
                    return;
                }
                match super::dhcp_client::probe(&iface, me, PROBE_WAIT, Some(server)).await {
                    Ok(Some(other)) => {
                        dhcp.borrow_mut().foreign_at(other, format!("another DHCP server ({other}) answered a probe"))
                    }
                    Ok(None) => {}
                    Err(e) => log::warn!("guard: the probe on {iface} failed: {e}"),
                }
            }
        }
    };
    let replies = {
        let (dhcp, iface) = (dhcp.clone(), iface.clone());
        async move {
            if let Err(e) = listen_replies(&dhcp, &iface, server).await {
                log::warn!("guard: cannot listen for other DHCP servers' replies on {iface}: {e}");
            }
            smol::future::pending::<()>().await;
        }
    };
    let routers = {
        let dhcp = dhcp.clone();
        async move {
            if let Err(e) = listen_routers(&dhcp, &iface).await {
                log::info!("guard: not listening for IPv6 router advertisements on {iface}: {e}");
            }
            smol::future::pending::<()>().await;
        }
    };
    smol::future::or(probes, smol::future::or(replies, routers)).await;
}

/// OFFERs and ACKs broadcast by any server, heard on port 68.
async fn listen_replies(dhcp: &Rc<RefCell<Dhcp>>, iface: &str, server: Ipv4Addr) -> io::Result<()> {
    let opts =
        UdpOptions { device: Some(iface.to_owned()), broadcast: true, pktinfo: false, reuse_addr: true, rcvbuf: None };
    let sock = bind_udp(SocketAddrV4::new(Ipv4Addr::UNSPECIFIED, dhcpv4::CLIENT_PORT), &opts)?;
    let mut buf = vec![0u8; 1500];
    loop {
        let (n, from) = sock.recv_from(&mut buf).await?;
        let SocketAddr::V4(from) = from else { continue };
        if let Some(other) = foreign_reply(buf.get(..n).unwrap_or_default(), *from.ip(), server) {
            dhcp.borrow_mut().foreign_at(other, format!("another DHCP server ({other}) answered a client"));
        }
        if dhcp.borrow().stood_down() {
            return Ok(());
        }
    }
}

/// Router advertisements on the link: a raw ICMPv6 socket bound to `iface` (the kernel delivers
/// every ICMPv6 message to it; an interface without IPv6 gets none).
async fn listen_routers(dhcp: &Rc<RefCell<Dhcp>>, iface: &str) -> io::Result<()> {
    let fd = socket(
        AddressFamily::Inet6,
        SockType::Raw,
        SockFlag::SOCK_CLOEXEC | SockFlag::SOCK_NONBLOCK,
        SockProtocol::IcmpV6,
    )?;
    setsockopt(&fd, sockopt::BindToDevice, &std::ffi::OsString::from(iface))?;
    // A raw socket is read and written like a datagram socket; nothing is sent on this one.
    let sock = Async::new(UdpSocket::from(fd))?;
    let mut buf = vec![0u8; 1500];
    loop {
        let (n, from) = sock.recv_from(&mut buf).await?;
        if n >= 4 && buf.first() == Some(&ROUTER_ADVERTISEMENT) && buf.get(1) == Some(&0) {
            let from = match from {
                SocketAddr::V6(a) => a.ip().to_string(),
                SocketAddr::V4(a) => a.ip().to_string(),
            };
            dhcp.borrow_mut().foreign(format!("a router advertises itself ({from})"));
        }
        if dhcp.borrow().stood_down() {
            return Ok(());
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use netboot_proto::dhcpv4::{DhcpOption, Op};

    /// A client's message as the agent's own DHCP client writes it; turned into a server's
    /// reply by its op code (octet 0, RFC 2131 section 2).
    fn message(op: Op, kind: MessageType, server: Option<Ipv4Addr>) -> Vec<u8> {
        let opts: Vec<DhcpOption<'_>> = server.map(DhcpOption::ServerId).into_iter().collect();
        let mut out = super::super::dhcp_client::request(7, Mac([0x52, 0x54, 0, 0, 0, 1]), kind, &opts).unwrap();
        if op == Op::Reply {
            out[0] = 2;
        }
        out
    }

    const US: Ipv4Addr = Ipv4Addr::new(10, 0, 0, 1);
    const THEM: Ipv4Addr = Ipv4Addr::new(10, 0, 0, 254);

    #[test]
    fn a_request_naming_another_server_gives_it_away() {
        let check = |bytes: Vec<u8>| {
            let p = Packet::new_checked(bytes.as_slice()).unwrap();
            let mut scratch = vec![0u8; bytes.len()];
            foreign_server(&Repr::parse(&p, &mut scratch).unwrap(), US)
        };
        assert_eq!(check(message(Op::Request, MessageType::Request, Some(THEM))), Some(THEM));
        assert_eq!(check(message(Op::Request, MessageType::Request, Some(US))), None, "ours");
        assert_eq!(check(message(Op::Request, MessageType::Request, None)), None, "renewing: no server named");
        assert_eq!(check(message(Op::Request, MessageType::Discover, Some(THEM))), None);
    }

    #[test]
    fn offers_and_acks_of_other_servers_give_them_away() {
        assert_eq!(foreign_reply(&message(Op::Reply, MessageType::Offer, Some(THEM)), THEM, US), Some(THEM));
        assert_eq!(foreign_reply(&message(Op::Reply, MessageType::Ack, None), THEM, US), Some(THEM), "by source");
        assert_eq!(foreign_reply(&message(Op::Reply, MessageType::Offer, Some(US)), US, US), None, "our own");
        assert_eq!(foreign_reply(&message(Op::Reply, MessageType::Nak, Some(THEM)), THEM, US), None);
        assert_eq!(foreign_reply(&message(Op::Request, MessageType::Request, Some(THEM)), THEM, US), None);
        assert_eq!(foreign_reply(b"\x02\x01junk", THEM, US), None, "malformed");
    }

    #[test]
    fn a_rival_is_excused_only_at_its_address() {
        let r = Rivals::default();
        assert!(!r.excuse(THEM));
        r.add(THEM);
        assert!(r.excuse(THEM) && !r.excuse(US));
        // Its grace ran out: a rival that does not stand down is a foreign server again.
        r.0.lock().unwrap()[0].1 = Instant::now();
        r.add(THEM);
        assert!(!r.excuse(THEM), "told again, the grace does not start over");
    }

    #[test]
    fn the_probe_mac_is_locally_administered_and_stable() {
        let m = probe_mac(Mac([0x52, 0x54, 0, 1, 2, 3]));
        assert_eq!(m.0[0] & 0x03, 0x02, "locally administered, unicast");
        assert_eq!(m, probe_mac(Mac([0x52, 0x54, 0, 1, 2, 3])));
    }
}
