//! UDP sockets for the servers: bound to an address (and, for DHCP, an interface), with
//! `IP_PKTINFO` so a server bound to 0.0.0.0 learns which address and interface each datagram
//! came in on, as dnsmasq does.

use std::io;
use std::net::{Ipv4Addr, SocketAddr, SocketAddrV4, UdpSocket};
use std::os::fd::AsRawFd;

use nix::sys::socket::{
    AddressFamily, ControlMessageOwned, MsgFlags, SockFlag, SockType, SockaddrIn, bind, recvmsg, setsockopt, socket,
    sockopt,
};
use smol::Async;

/// Options for [`bind`].
#[derive(Debug, Clone, Default)]
pub(crate) struct UdpOptions {
    /// `SO_BINDTODEVICE`: only this interface's traffic.
    pub(crate) device: Option<String>,
    /// `SO_BROADCAST`.
    pub(crate) broadcast: bool,
    /// `IP_PKTINFO`, for [`recv_with_info`].
    pub(crate) pktinfo: bool,
    /// `SO_REUSEADDR`.
    pub(crate) reuse_addr: bool,
    /// `SO_RCVBUFFORCE` (root), else `SO_RCVBUF` (clamped to net.core.rmem_max): room for a
    /// burst while the owner is busy, e.g. the DHCP server waiting on fdatasync.
    pub(crate) rcvbuf: Option<usize>,
}

/// A non-blocking UDP socket bound to `addr`.
pub(crate) fn bind_udp(addr: SocketAddrV4, opts: &UdpOptions) -> io::Result<Async<UdpSocket>> {
    let fd = socket(AddressFamily::Inet, SockType::Datagram, SockFlag::SOCK_CLOEXEC | SockFlag::SOCK_NONBLOCK, None)?;
    if opts.reuse_addr {
        setsockopt(&fd, sockopt::ReuseAddr, &true)?;
    }
    if opts.broadcast {
        setsockopt(&fd, sockopt::Broadcast, &true)?;
    }
    if opts.pktinfo {
        setsockopt(&fd, sockopt::Ipv4PacketInfo, &true)?;
    }
    if let Some(dev) = &opts.device {
        setsockopt(&fd, sockopt::BindToDevice, &std::ffi::OsString::from(dev)).map_err(|e| {
            privileged(e, &format!("binding to interface {dev} (SO_BINDTODEVICE)"), "root or CAP_NET_RAW")
        })?;
    }
    if let Some(n) = opts.rcvbuf {
        // Best effort: a smaller buffer costs drops under bursts, not correctness.
        let _ = setsockopt(&fd, sockopt::RcvBufForce, &n).or_else(|_| setsockopt(&fd, sockopt::RcvBuf, &n));
    }
    bind(fd.as_raw_fd(), &SockaddrIn::from(addr)).map_err(|e| bind_error(e, "udp", addr))?;
    let sock = UdpSocket::from(fd);
    Async::new(sock)
}

/// An error that a missing privilege explains says which.
pub(crate) fn privileged(e: nix::Error, what: &str, needs: &str) -> io::Error {
    let e = io::Error::from(e);
    match e.kind() {
        io::ErrorKind::PermissionDenied => io::Error::new(e.kind(), format!("{what}: {e}: this needs {needs}")),
        _ => io::Error::new(e.kind(), format!("{what}: {e}")),
    }
}

/// A failed bind(2) says what was bound, and for a port below 1024 what it takes.
pub(crate) fn bind_error(e: nix::Error, proto: &str, addr: SocketAddrV4) -> io::Error {
    let what = format!("binding {proto} {addr}");
    if addr.port() < 1024 {
        privileged(e, &what, "root or CAP_NET_BIND_SERVICE (ports below 1024)")
    } else {
        privileged(e, &what, "root")
    }
}

/// A datagram and where it came from and to.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Received {
    /// Octets in the buffer.
    pub(crate) len: usize,
    /// The sender.
    pub(crate) from: SocketAddrV4,
    /// The local address it was sent to (`ipi_spec_dst`), when `IP_PKTINFO` is on.
    pub(crate) local: Option<Ipv4Addr>,
    /// The interface it came in on, when `IP_PKTINFO` is on.
    pub(crate) ifindex: Option<u32>,
}

/// Receives one datagram with its `IP_PKTINFO`.
pub(crate) async fn recv_with_info(sock: &Async<UdpSocket>, buf: &mut [u8]) -> io::Result<Received> {
    sock.read_with(|s| {
        let mut iov = [io::IoSliceMut::new(buf)];
        let mut cmsg = nix::cmsg_space!(nix::libc::in_pktinfo);
        let msg = recvmsg::<SockaddrIn>(s.as_raw_fd(), &mut iov, Some(&mut cmsg), MsgFlags::empty())
            .map_err(io::Error::from)?;
        let mut local = None;
        let mut ifindex = None;
        for c in msg.cmsgs().map_err(io::Error::from)? {
            if let ControlMessageOwned::Ipv4PacketInfo(info) = c {
                local = Some(Ipv4Addr::from(u32::from_be(info.ipi_spec_dst.s_addr)));
                ifindex = u32::try_from(info.ipi_ifindex).ok();
            }
        }
        let from =
            msg.address.map(|a| SocketAddrV4::new(a.ip(), a.port())).ok_or_else(|| io::Error::other("no source"))?;
        Ok(Received { len: msg.bytes, from, local, ifindex })
    })
    .await
}

/// The MTU of interface `ifindex`, from sysfs.
pub(crate) fn interface_mtu(ifindex: u32) -> Option<u32> {
    let name = nix::net::if_::if_indextoname(ifindex).ok()?;
    let path = format!("/sys/class/net/{}/mtu", name.to_string_lossy());
    std::fs::read_to_string(path).ok()?.trim().parse().ok()
}

/// The local IPv4 address of a socket.
pub(crate) fn local_v4(sock: &Async<UdpSocket>) -> io::Result<SocketAddrV4> {
    match sock.get_ref().local_addr()? {
        SocketAddr::V4(a) => Ok(a),
        SocketAddr::V6(_) => Err(io::Error::other("IPv6 socket")),
    }
}
