//! The few rtnetlink requests the master makes (rtnetlink(7), include/uapi/linux/rtnetlink.h,
//! neighbour.h, if_addr.h): bring an interface up, give it an address (and take it back when
//! the master stands down), and add a neighbour
//! entry so a DHCP reply can be unicast to a client that has no address yet (RFC 2131 section
//! 4.1), which dnsmasq does with the SIOCSARP ioctl. Messages are built by hand: a header, a
//! fixed part and attributes, each padded to 4 octets. Every request asks for an ACK and waits
//! at most a second for it.

use std::io;
use std::net::Ipv4Addr;
use std::os::fd::{AsRawFd, OwnedFd};

use nix::sys::socket::{
    AddressFamily, MsgFlags, NetlinkAddr, SockFlag, SockProtocol, SockType, recv, sendto, setsockopt, socket, sockopt,
};

const RTM_NEWLINK: u16 = 16;
const RTM_NEWADDR: u16 = 20;
const RTM_DELADDR: u16 = 21;
const RTM_NEWNEIGH: u16 = 28;
const NLMSG_ERROR: u16 = 2;
const NLM_F_REQUEST: u16 = 0x1;
const NLM_F_ACK: u16 = 0x4;
const NLM_F_REPLACE: u16 = 0x100;
const NLM_F_EXCL: u16 = 0x200;
const NLM_F_CREATE: u16 = 0x400;
const AF_INET: u8 = 2;
const NUD_REACHABLE: u16 = 0x02;
const NDA_DST: u16 = 1;
const NDA_LLADDR: u16 = 2;
const IFA_ADDRESS: u16 = 1;
const IFA_LOCAL: u16 = 2;
const IFA_BROADCAST: u16 = 4;
const IFF_UP: u32 = 1;

/// A NETLINK_ROUTE socket.
pub(crate) struct Rtnl {
    fd: OwnedFd,
    seq: u32,
}

fn attr(buf: &mut Vec<u8>, kind: u16, data: &[u8]) {
    let len = u16::try_from(4 + data.len()).unwrap_or(u16::MAX);
    buf.extend_from_slice(&len.to_ne_bytes());
    buf.extend_from_slice(&kind.to_ne_bytes());
    buf.extend_from_slice(data);
    while !buf.len().is_multiple_of(4) {
        buf.push(0);
    }
}

impl Rtnl {
    pub(crate) fn open() -> io::Result<Rtnl> {
        let fd = socket(AddressFamily::Netlink, SockType::Raw, SockFlag::SOCK_CLOEXEC, SockProtocol::NetlinkRoute)?;
        setsockopt(&fd, sockopt::ReceiveTimeout, &nix::sys::time::TimeVal::new(1, 0))?;
        Ok(Rtnl { fd, seq: 1 })
    }

    /// Sends one request (header filled in here) and reads its ACK.
    fn request(&mut self, kind: u16, flags: u16, body: &[u8]) -> io::Result<()> {
        self.seq = self.seq.wrapping_add(1);
        let mut msg = Vec::with_capacity(16 + body.len());
        let len = u32::try_from(16 + body.len()).map_err(|_| io::Error::other("netlink message too long"))?;
        msg.extend_from_slice(&len.to_ne_bytes());
        msg.extend_from_slice(&kind.to_ne_bytes());
        msg.extend_from_slice(&(flags | NLM_F_REQUEST | NLM_F_ACK).to_ne_bytes());
        msg.extend_from_slice(&self.seq.to_ne_bytes());
        msg.extend_from_slice(&0u32.to_ne_bytes());
        msg.extend_from_slice(body);
        sendto(self.fd.as_raw_fd(), &msg, &NetlinkAddr::new(0, 0), MsgFlags::empty())?;
        let mut buf = [0u8; 4096];
        loop {
            let n = recv(self.fd.as_raw_fd(), &mut buf, MsgFlags::empty())?;
            let reply = &buf[..n];
            if reply.len() < 20 {
                return Err(io::Error::other("short netlink reply"));
            }
            let rtype = u16::from_ne_bytes([reply[4], reply[5]]);
            let rseq = u32::from_ne_bytes([reply[8], reply[9], reply[10], reply[11]]);
            if rseq != self.seq {
                continue;
            }
            if rtype == NLMSG_ERROR {
                let err = i32::from_ne_bytes([reply[16], reply[17], reply[18], reply[19]]);
                return match err {
                    0 => Ok(()),
                    e if -e == nix::libc::EPERM => Err(io::Error::new(
                        io::ErrorKind::PermissionDenied,
                        "changing links, addresses or neighbours needs root or CAP_NET_ADMIN",
                    )),
                    e => Err(io::Error::from_raw_os_error(-e)),
                };
            }
        }
    }

    /// `ip neigh replace IP lladdr MAC dev IFINDEX nud reachable`.
    pub(crate) fn add_neighbour(&mut self, ifindex: u32, ip: Ipv4Addr, mac: [u8; 6]) -> io::Result<()> {
        let mut body = Vec::with_capacity(40);
        body.extend_from_slice(&[AF_INET, 0, 0, 0]);
        body.extend_from_slice(&i32::try_from(ifindex).unwrap_or(0).to_ne_bytes());
        body.extend_from_slice(&NUD_REACHABLE.to_ne_bytes());
        body.extend_from_slice(&[0, 0]);
        attr(&mut body, NDA_DST, &ip.octets());
        attr(&mut body, NDA_LLADDR, &mac);
        self.request(RTM_NEWNEIGH, NLM_F_CREATE | NLM_F_REPLACE, &body)
    }

    /// `ip addr add IP/PREFIX brd + dev IFINDEX`; an address already there is not an error.
    pub(crate) fn add_address(&mut self, ifindex: u32, ip: Ipv4Addr, prefix: u8) -> io::Result<()> {
        let mut body = Vec::with_capacity(32);
        body.extend_from_slice(&[AF_INET, prefix, 0, 0]);
        body.extend_from_slice(&ifindex.to_ne_bytes());
        attr(&mut body, IFA_LOCAL, &ip.octets());
        attr(&mut body, IFA_ADDRESS, &ip.octets());
        let mask = u32::MAX.checked_shl(32 - u32::from(prefix)).unwrap_or(0);
        attr(&mut body, IFA_BROADCAST, &Ipv4Addr::from(u32::from(ip) | !mask).octets());
        match self.request(RTM_NEWADDR, NLM_F_CREATE | NLM_F_EXCL, &body) {
            Err(e) if e.raw_os_error() == Some(nix::libc::EEXIST) => Ok(()),
            other => other,
        }
    }

    /// `ip addr del IP/PREFIX dev IFINDEX`; an address not there is not an error.
    pub(crate) fn del_address(&mut self, ifindex: u32, ip: Ipv4Addr, prefix: u8) -> io::Result<()> {
        let mut body = Vec::with_capacity(24);
        body.extend_from_slice(&[AF_INET, prefix, 0, 0]);
        body.extend_from_slice(&ifindex.to_ne_bytes());
        attr(&mut body, IFA_LOCAL, &ip.octets());
        match self.request(RTM_DELADDR, 0, &body) {
            Err(e) if e.raw_os_error() == Some(nix::libc::EADDRNOTAVAIL) => Ok(()),
            other => other,
        }
    }

    /// `ip link set dev IFINDEX up`.
    pub(crate) fn set_up(&mut self, ifindex: u32) -> io::Result<()> {
        let mut body = Vec::with_capacity(16);
        body.extend_from_slice(&[0, 0, 0, 0]);
        body.extend_from_slice(&i32::try_from(ifindex).unwrap_or(0).to_ne_bytes());
        body.extend_from_slice(&IFF_UP.to_ne_bytes());
        body.extend_from_slice(&IFF_UP.to_ne_bytes());
        self.request(RTM_NEWLINK, 0, &body)
    }
}
