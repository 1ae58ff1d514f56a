//! The live machine's [`DeviceIo`]: ethtool, interface address and IPMI ioctls.
//!
//! The structures the ioctls exchange are the kernel's UAPI ones, written out here from
//! `linux/ethtool.h`, `linux/if.h`, `linux/in.h` and `linux/ipmi.h` (linux-libc-dev 6.1) with `#[repr(C)]`, and their sizes
//! asserted at compile time against what the C compiler gives for the same headers. The ioctl
//! numbers are computed from those sizes by nix's `ioctl_*!` macros, the same way the headers'
//! `_IOR`/`_IOWR` compute them, and asserted against the headers' values on 64-bit.
//!
//! Every `unsafe` block is one ioctl; the proof beside it says why the pointers it hands the
//! kernel are valid for what the kernel does with them.

use std::ffi::c_void;
use std::fs::{File, OpenOptions};
use std::io;
use std::mem::size_of;
use std::os::fd::{AsFd, AsRawFd};
use std::path::Path;
use std::sync::atomic::{AtomicI64, Ordering};
use std::time::{Duration, Instant};

use nix::errno::Errno;
use nix::libc::{self, c_char, c_int, c_long, c_short, c_uchar, c_uint, c_ushort};
use nix::poll::{PollFd, PollFlags, PollTimeout, poll};
use nix::sys::socket::{AddressFamily, SockFlag, SockType, socket};

use crate::collect::{DeviceError, DeviceIo, DriverInfo, Ipv4Entry, LinkSettings};

/// This machine.
#[derive(Debug, Default)]
pub struct Host;

impl DeviceIo for Host {
    fn permanent_mac(&self, ifname: &str) -> Result<Vec<u8>, DeviceError> {
        let mut req = EthtoolPermAddr { cmd: ETHTOOL_GPERMADDR, size: MAX_ADDR_LEN as u32, data: [0; MAX_ADDR_LEN] };
        ethtool(ifname, "ETHTOOL_GPERMADDR", &mut req)?;
        // The kernel sets `size` to the address length; never trust it past the buffer. An
        // all-zero address is what an interface without a permanent one answers (`ethtool -P`
        // prints "not set"); it is returned as it came.
        let len = usize::try_from(req.size).unwrap_or(usize::MAX);
        req.data.get(..len).map(<[u8]>::to_vec).ok_or_else(|| {
            DeviceError::Failed(format!("ETHTOOL_GPERMADDR on {ifname}: address length {len} exceeds {MAX_ADDR_LEN}"))
        })
    }

    fn driver_info(&self, ifname: &str) -> Result<DriverInfo, DeviceError> {
        let mut req = EthtoolDrvinfo { cmd: ETHTOOL_GDRVINFO, ..EthtoolDrvinfo::default() };
        ethtool(ifname, "ETHTOOL_GDRVINFO", &mut req)?;
        Ok(DriverInfo {
            driver: c_text(&req.driver),
            version: c_text(&req.version),
            firmware: c_text(&req.fw_version),
            bus_info: c_text(&req.bus_info),
        })
    }

    fn link_settings(&self, ifname: &str) -> Result<LinkSettings, DeviceError> {
        let mut req = EthtoolCmd { cmd: ETHTOOL_GSET, ..EthtoolCmd::default() };
        ethtool(ifname, "ETHTOOL_GSET", &mut req)?;
        Ok(LinkSettings { autoneg: req.autoneg != 0, port: req.port })
    }

    fn ipv4_addresses(&self) -> Result<Vec<Ipv4Entry>, DeviceError> {
        ipv4_addresses()
    }

    fn ipmi_device(&self) -> Option<String> {
        // The nodes ipmitool's open interface tries, in its order.
        ["/dev/ipmi0", "/dev/ipmi/0", "/dev/ipmidev/0"].into_iter().find(|p| Path::new(p).exists()).map(str::to_owned)
    }

    fn ipmi(&self, netfn: u8, cmd: u8, data: &[u8], timeout: Duration) -> Result<Vec<u8>, DeviceError> {
        let path = self.ipmi_device().ok_or(DeviceError::Unsupported)?;
        let dev = OpenOptions::new().read(true).write(true).open(&path).map_err(|e| match e.kind() {
            io::ErrorKind::NotFound => DeviceError::Unsupported,
            _ => DeviceError::Failed(format!("open {path}: {e}")),
        })?;
        let msgid = send(&dev, netfn, cmd, data)?;
        receive(&dev, msgid, netfn, cmd, Instant::now() + timeout)
    }
}

//--- IPMI (linux/ipmi.h)

const IPMI_IOC_MAGIC: u8 = b'i';
const IPMI_SYSTEM_INTERFACE_ADDR_TYPE: c_int = 0x0c;
const IPMI_BMC_CHANNEL: c_short = 0x0f;
const IPMI_RESPONSE_RECV_TYPE: c_int = 1;
/// `IPMI_MAX_MSG_LENGTH` (linux/ipmi_msgdefs.h): the longest message data the driver carries.
const IPMI_MAX_MSG_LENGTH: usize = 272;
const IPMI_MAX_ADDR_SIZE: usize = 32;

/// `struct ipmi_system_interface_addr`: the BMC, through the system interface.
#[repr(C)]
struct IpmiSystemInterfaceAddr {
    addr_type: c_int,
    channel: c_short,
    lun: c_uchar,
}

/// `struct ipmi_addr`: room for any address the driver reports a reply from.
#[repr(C)]
struct IpmiAddr {
    addr_type: c_int,
    channel: c_short,
    data: [c_char; IPMI_MAX_ADDR_SIZE],
}

/// `struct ipmi_msg`.
#[repr(C)]
struct IpmiMsg {
    netfn: c_uchar,
    cmd: c_uchar,
    data_len: c_ushort,
    data: *mut c_uchar,
}

/// `struct ipmi_req`, for `IPMICTL_SEND_COMMAND`.
#[repr(C)]
struct IpmiReq {
    addr: *mut c_uchar,
    addr_len: c_uint,
    msgid: c_long,
    msg: IpmiMsg,
}

/// `struct ipmi_recv`, for `IPMICTL_RECEIVE_MSG_TRUNC`.
#[repr(C)]
struct IpmiRecv {
    recv_type: c_int,
    addr: *mut c_uchar,
    addr_len: c_uint,
    msgid: c_long,
    msg: IpmiMsg,
}

// Sizes as gcc gives them for linux/ipmi.h (x86_64: 8, 40, 16, 40, 48; i386: 8, 40, 8, 20, 24).
#[cfg(target_pointer_width = "64")]
const _: () = {
    assert!(size_of::<IpmiSystemInterfaceAddr>() == 8);
    assert!(size_of::<IpmiAddr>() == 40);
    assert!(size_of::<IpmiMsg>() == 16);
    assert!(size_of::<IpmiReq>() == 40);
    assert!(size_of::<IpmiRecv>() == 48);
    // The headers' values: IPMICTL_SEND_COMMAND 0x8028690d, IPMICTL_RECEIVE_MSG_TRUNC 0xc030690b.
    assert!(nix::request_code_read!(IPMI_IOC_MAGIC, 13, size_of::<IpmiReq>()) as u32 == 0x8028_690d);
    assert!(nix::request_code_readwrite!(IPMI_IOC_MAGIC, 11, size_of::<IpmiRecv>()) as u32 == 0xc030_690b);
};
#[cfg(target_pointer_width = "32")]
const _: () = {
    assert!(size_of::<IpmiSystemInterfaceAddr>() == 8);
    assert!(size_of::<IpmiAddr>() == 40);
    assert!(size_of::<IpmiMsg>() == 8);
    assert!(size_of::<IpmiReq>() == 20);
    assert!(size_of::<IpmiRecv>() == 24);
};

mod ioctls {
    use super::{IPMI_IOC_MAGIC, Ifreq, IpmiRecv, IpmiReq};
    // `_IOR` although the kernel only reads the request: the header's historical choice, and the
    // number must match it.
    nix::ioctl_read!(ipmictl_send_command, IPMI_IOC_MAGIC, 13, IpmiReq);
    // The _TRUNC variant hands over a reply longer than the buffer cut short (with EMSGSIZE)
    // instead of leaving it queued, where it would block every later receive.
    nix::ioctl_readwrite!(ipmictl_receive_msg_trunc, IPMI_IOC_MAGIC, 11, IpmiRecv);
    nix::ioctl_readwrite_bad!(siocethtool, nix::libc::SIOCETHTOOL, Ifreq);
    nix::ioctl_readwrite_bad!(siocgifconf, nix::libc::SIOCGIFCONF, super::Ifconf);
    nix::ioctl_readwrite_bad!(siocgifnetmask, nix::libc::SIOCGIFNETMASK, super::IfreqAddr);
}

/// Sequence numbers for requests: the driver echoes one back with its reply.
static MSGID: AtomicI64 = AtomicI64::new(1);

/// Sends one request to the BMC; its message id.
fn send(dev: &File, netfn: u8, cmd: u8, data: &[u8]) -> Result<c_long, DeviceError> {
    if data.len() > IPMI_MAX_MSG_LENGTH {
        return Err(DeviceError::Failed(format!(
            "request data of {} octets exceeds {IPMI_MAX_MSG_LENGTH}",
            data.len()
        )));
    }
    // The message id is a C long; on 32-bit targets the counter wraps into its range, which is
    // enough to tell this request's reply from an earlier one's.
    let msgid = MSGID.fetch_add(1, Ordering::Relaxed) as c_long;
    let mut addr =
        IpmiSystemInterfaceAddr { addr_type: IPMI_SYSTEM_INTERFACE_ADDR_TYPE, channel: IPMI_BMC_CHANNEL, lun: 0 };
    // The driver copies the data in and never writes it; a copy gives it the `*mut` it is
    // declared with without casting a shared borrow to a mutable pointer.
    let mut body = data.to_vec();
    let mut req = IpmiReq {
        addr: (&raw mut addr).cast(),
        addr_len: size_of::<IpmiSystemInterfaceAddr>() as c_uint,
        msgid,
        msg: IpmiMsg {
            netfn,
            cmd,
            // Bounded by IPMI_MAX_MSG_LENGTH above.
            data_len: body.len() as c_ushort,
            data: body.as_mut_ptr(),
        },
    };
    // SAFETY: `dev` is an open IPMI device node, so the fd is valid for the call. `req` is a
    // live, fully initialised `struct ipmi_req` (layout asserted above); its `addr` points at
    // `addr`, a `struct ipmi_system_interface_addr` of exactly `addr_len` octets, and `msg.data`
    // at `body`, `msg.data_len` octets long. All three outlive the call, and the driver copies
    // from them during it (ipmi_devintf.c, handle_send_req) and keeps no pointer afterwards.
    unsafe { ioctls::ipmictl_send_command(dev.as_raw_fd(), &raw mut req) }
        .map_err(|e| DeviceError::Failed(format!("IPMICTL_SEND_COMMAND: {e}")))?;
    Ok(msgid)
}

/// Waits until `deadline` for the reply to `msgid`; its data, completion code first.
fn receive(dev: &File, msgid: c_long, netfn: u8, cmd: u8, deadline: Instant) -> Result<Vec<u8>, DeviceError> {
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        // Whole milliseconds, rounded up so a short remainder still waits instead of spinning.
        let ms = left.as_millis().saturating_add(u128::from(!left.subsec_nanos().is_multiple_of(1_000_000)));
        let wait = PollTimeout::try_from(ms).unwrap_or(PollTimeout::MAX);
        let mut fds = [PollFd::new(dev.as_fd(), PollFlags::POLLIN)];
        match poll(&mut fds, wait) {
            Ok(0) => return Err(DeviceError::Timeout),
            Ok(_) => {}
            Err(Errno::EINTR) => continue,
            Err(e) => return Err(DeviceError::Failed(format!("poll: {e}"))),
        }
        let mut data = [0u8; IPMI_MAX_MSG_LENGTH];
        let mut from = IpmiAddr { addr_type: 0, channel: 0, data: [0; IPMI_MAX_ADDR_SIZE] };
        let mut recv = IpmiRecv {
            recv_type: 0,
            addr: (&raw mut from).cast(),
            addr_len: size_of::<IpmiAddr>() as c_uint,
            msgid: 0,
            msg: IpmiMsg { netfn: 0, cmd: 0, data_len: IPMI_MAX_MSG_LENGTH as c_ushort, data: data.as_mut_ptr() },
        };
        // SAFETY: the fd is valid (open `dev`). `recv` is a live, fully initialised `struct
        // ipmi_recv` (layout asserted above); `addr` points at `from`, `addr_len` octets of
        // writable memory, and `msg.data` at `data`, `msg.data_len` octets of writable memory.
        // The driver writes at most those lengths into them (it truncates longer replies and
        // says so with EMSGSIZE) and updates the lengths; all of it outlives the call.
        match unsafe { ioctls::ipmictl_receive_msg_trunc(dev.as_raw_fd(), &raw mut recv) } {
            // EMSGSIZE: the reply was cut to the buffer, which is already the driver's maximum.
            Ok(_) | Err(Errno::EMSGSIZE) => {}
            // Woken without a message after all.
            Err(Errno::EAGAIN | Errno::EINTR) => continue,
            Err(e) => return Err(DeviceError::Failed(format!("IPMICTL_RECEIVE_MSG_TRUNC: {e}"))),
        }
        // Only replies to this request count; anything else (an event, a late reply to an
        // earlier request) is dropped.
        if recv.recv_type != IPMI_RESPONSE_RECV_TYPE || recv.msgid != msgid {
            continue;
        }
        if recv.msg.netfn != netfn | 1 || recv.msg.cmd != cmd {
            return Err(DeviceError::Failed(format!(
                "reply to netfn {:#04x} cmd {:#04x} for request netfn {netfn:#04x} cmd {cmd:#04x}",
                recv.msg.netfn, recv.msg.cmd
            )));
        }
        let len = usize::from(recv.msg.data_len).min(data.len());
        return Ok(data[..len].to_vec());
    }
}

//--- ethtool (linux/ethtool.h, linux/sockios.h)

const ETHTOOL_GSET: u32 = 0x01;
const ETHTOOL_GDRVINFO: u32 = 0x03;
const ETHTOOL_GPERMADDR: u32 = 0x20;
/// `MAX_ADDR_LEN` (linux/netdevice.h): the longest hardware address.
const MAX_ADDR_LEN: usize = 32;

/// `struct ethtool_perm_addr` with its flexible `data` sized for the longest address.
#[repr(C)]
struct EthtoolPermAddr {
    cmd: u32,
    size: u32,
    data: [u8; MAX_ADDR_LEN],
}

/// `struct ethtool_cmd` (the legacy link settings, which every driver with link_ksettings
/// still answers through the kernel's compatibility path).
#[derive(Default)]
#[repr(C)]
struct EthtoolCmd {
    cmd: u32,
    supported: u32,
    advertising: u32,
    speed: u16,
    duplex: u8,
    port: u8,
    phy_address: u8,
    transceiver: u8,
    autoneg: u8,
    mdio_support: u8,
    maxtxpkt: u32,
    maxrxpkt: u32,
    speed_hi: u16,
    eth_tp_mdix: u8,
    eth_tp_mdix_ctrl: u8,
    lp_advertising: u32,
    reserved: [u32; 2],
}

/// `struct ethtool_drvinfo`.
#[derive(Default)]
#[repr(C)]
struct EthtoolDrvinfo {
    cmd: u32,
    driver: [u8; 32],
    version: [u8; 32],
    fw_version: [u8; 32],
    bus_info: [u8; 32],
    erom_version: [u8; 32],
    reserved2: [u8; 12],
    n_priv_flags: u32,
    n_stats: u32,
    testinfo_len: u32,
    eedump_len: u32,
    regdump_len: u32,
}

/// `struct ifreq` as SIOCETHTOOL reads it: the name, then `ifr_data` at the start of the union.
/// libc's own `ifreq` is a union this module would have to write through; this one is plain data,
/// with its size and alignment asserted equal to libc's.
#[repr(C)]
struct Ifreq {
    name: [c_char; libc::IFNAMSIZ],
    data: *mut c_void,
    pad: [u8; IFREQ_PAD],
}

const IFREQ_PAD: usize = size_of::<libc::ifreq>() - libc::IFNAMSIZ - size_of::<*mut c_void>();

const _: () = {
    // gcc: sizeof(struct ethtool_drvinfo) 196, sizeof(struct ethtool_perm_addr) 8 plus data,
    // sizeof(struct ethtool_cmd) 44.
    assert!(size_of::<EthtoolDrvinfo>() == 196);
    assert!(size_of::<EthtoolCmd>() == 44);
    assert!(size_of::<EthtoolPermAddr>() == 8 + MAX_ADDR_LEN);
    assert!(size_of::<Ifreq>() == size_of::<libc::ifreq>());
    assert!(align_of::<Ifreq>() == align_of::<libc::ifreq>());
    assert!(libc::SIOCETHTOOL == 0x8946);
};

/// A request structure SIOCETHTOOL can carry.
///
/// # Safety
///
/// Implementors are `#[repr(C)]` structures whose first field is the `u32` ethtool command, and
/// whose size covers everything the kernel writes back for every command they can hold.
unsafe trait EthtoolRequest {}

// SAFETY: `struct ethtool_perm_addr` with MAX_ADDR_LEN octets of data: the kernel writes the
// 8-octet header and `size` octets of address, and refuses (ETOOSMALL) an address longer than
// the `size` it was given, which `permanent_mac` sets to MAX_ADDR_LEN.
unsafe impl EthtoolRequest for EthtoolPermAddr {}
// SAFETY: `struct ethtool_drvinfo` exactly (size asserted); the kernel writes that structure.
unsafe impl EthtoolRequest for EthtoolDrvinfo {}
// SAFETY: `struct ethtool_cmd` exactly (size asserted); ETHTOOL_GSET writes that structure.
unsafe impl EthtoolRequest for EthtoolCmd {}

/// One SIOCETHTOOL request on `ifname`.
fn ethtool<T: EthtoolRequest>(ifname: &str, what: &str, req: &mut T) -> Result<(), DeviceError> {
    let name = ifr_name(ifname)?;
    let sock = socket(AddressFamily::Inet, SockType::Datagram, SockFlag::SOCK_CLOEXEC, None)
        .map_err(|e| DeviceError::Failed(format!("socket for SIOCETHTOOL: {e}")))?;
    let mut ifr = Ifreq { name, data: (req as *mut T).cast(), pad: [0; IFREQ_PAD] };
    // SAFETY: `sock` is an open socket. `ifr` is a fully initialised `struct ifreq` (size and
    // alignment asserted equal to libc's) whose name is NUL-terminated within IFNAMSIZ and
    // whose `ifr_data` points at `req`, a live `T` the kernel reads the command from and writes
    // the answer into, never beyond its size (the `EthtoolRequest` contract). Both outlive the
    // call; the kernel keeps no pointer to either.
    unsafe { ioctls::siocethtool(sock.as_raw_fd(), &raw mut ifr) }.map_err(|e| match e {
        Errno::EOPNOTSUPP | Errno::ENODEV => DeviceError::Unsupported,
        e => DeviceError::Failed(format!("SIOCETHTOOL {what} on {ifname}: {e}")),
    })?;
    Ok(())
}

//--- IPv4 addresses (SIOCGIFCONF, SIOCGIFNETMASK; linux/if.h, linux/in.h)

/// `struct sockaddr_in`, as plain octets.
#[derive(Debug, Clone, Copy, Default)]
#[repr(C)]
struct SockaddrIn {
    family: u16,
    port: [u8; 2],
    addr: [u8; 4],
    zero: [u8; 8],
}

/// `struct ifreq` with an address in its union: the name, then a `struct sockaddr`.
#[derive(Debug, Clone, Copy)]
#[repr(C)]
struct IfreqAddr {
    name: [c_char; libc::IFNAMSIZ],
    addr: SockaddrIn,
    pad: [u8; IFREQ_ADDR_PAD],
}

const IFREQ_ADDR_PAD: usize = size_of::<libc::ifreq>() - libc::IFNAMSIZ - size_of::<SockaddrIn>();

impl Default for IfreqAddr {
    fn default() -> IfreqAddr {
        IfreqAddr { name: [0; libc::IFNAMSIZ], addr: SockaddrIn::default(), pad: [0; IFREQ_ADDR_PAD] }
    }
}

/// `struct ifconf`: the length of the buffer in octets, then the buffer.
#[repr(C)]
struct Ifconf {
    len: c_int,
    buf: *mut IfreqAddr,
}

const _: () = {
    // The kernel writes SIOCGIFCONF's entries `sizeof(struct ifreq)` apart.
    assert!(size_of::<SockaddrIn>() == size_of::<libc::sockaddr_in>());
    assert!(size_of::<IfreqAddr>() == size_of::<libc::ifreq>());
    assert!(size_of::<Ifconf>() == size_of::<libc::ifconf>());
    assert!(libc::SIOCGIFCONF == 0x8912);
    assert!(libc::SIOCGIFNETMASK == 0x891b);
};

/// Every IPv4 address with its interface (or alias label) and netmask. The buffer grows until
/// the kernel leaves room to spare, so no address is cut off.
fn ipv4_addresses() -> Result<Vec<Ipv4Entry>, DeviceError> {
    let sock = socket(AddressFamily::Inet, SockType::Datagram, SockFlag::SOCK_CLOEXEC, None)
        .map_err(|e| DeviceError::Failed(format!("socket for SIOCGIFCONF: {e}")))?;
    let mut entries = vec![IfreqAddr::default(); 64];
    let used = loop {
        let room = entries.len() * size_of::<IfreqAddr>();
        let mut conf = Ifconf { len: c_int::try_from(room).unwrap_or(c_int::MAX), buf: entries.as_mut_ptr() };
        // SAFETY: `sock` is an open socket; `conf` is a `struct ifconf` (size asserted) whose
        // buffer is `entries`, live and `conf.len` octets long; the kernel writes at most that
        // many octets of whole `struct ifreq`s into it and sets `conf.len` to what it wrote.
        unsafe { ioctls::siocgifconf(sock.as_raw_fd(), &raw mut conf) }
            .map_err(|e| DeviceError::Failed(format!("SIOCGIFCONF: {e}")))?;
        let used = usize::try_from(conf.len).unwrap_or(0) / size_of::<IfreqAddr>();
        // A full buffer may have been cut short: ask again with twice the room.
        if used < entries.len() || entries.len() >= 1 << 16 {
            break used.min(entries.len());
        }
        entries = vec![IfreqAddr::default(); entries.len() * 2];
    };
    let mut out = Vec::new();
    for e in &entries[..used] {
        if e.addr.family != libc::AF_INET as u16 {
            continue;
        }
        let mut req = IfreqAddr { name: e.name, ..IfreqAddr::default() };
        // SAFETY: `sock` is an open socket; `req` is a `struct ifreq` (size asserted) with a
        // NUL-terminated name (the kernel's own, IFNAMSIZ with its NUL); the kernel writes a
        // `struct sockaddr` into its union, which `req.addr` and `req.pad` cover.
        let netmask = match unsafe { ioctls::siocgifnetmask(sock.as_raw_fd(), &raw mut req) } {
            Ok(_) => req.addr.addr,
            Err(_) => [0; 4],
        };
        let name: Vec<u8> = e.name.iter().take_while(|&&c| c != 0).map(|&c| c as u8).collect();
        out.push(Ipv4Entry { ifname: String::from_utf8_lossy(&name).into_owned(), address: e.addr.addr, netmask });
    }
    Ok(out)
}

/// An interface name as `ifr_name` holds it: at most IFNAMSIZ - 1 octets, no NUL, NUL-padded.
fn ifr_name(ifname: &str) -> Result<[c_char; libc::IFNAMSIZ], DeviceError> {
    let b = ifname.as_bytes();
    if b.is_empty() || b.len() >= libc::IFNAMSIZ || b.contains(&0) {
        return Err(DeviceError::Failed(format!("invalid interface name {ifname:?}")));
    }
    let mut name = [0 as c_char; libc::IFNAMSIZ];
    for (d, &s) in name.iter_mut().zip(b) {
        *d = s as c_char;
    }
    Ok(name)
}

/// A NUL-terminated string field (the whole field when it has no NUL).
fn c_text(b: &[u8]) -> String {
    let end = b.iter().position(|&c| c == 0).unwrap_or(b.len());
    String::from_utf8_lossy(&b[..end]).into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn interface_names_are_checked_before_any_ioctl() {
        let name = ifr_name("eth0").unwrap();
        assert_eq!(&name[..5], &[b'e' as c_char, b't' as c_char, b'h' as c_char, b'0' as c_char, 0]);
        assert!(ifr_name("fifteen-chars-x").is_ok(), "IFNAMSIZ - 1 fits");
        for bad in ["", "sixteen-chars-xx", "eth\0", "a-much-longer-interface-name"] {
            assert!(matches!(ifr_name(bad), Err(DeviceError::Failed(_))), "{bad:?}");
            assert!(matches!(Host.permanent_mac(bad), Err(DeviceError::Failed(_))), "{bad:?}");
        }
    }

    #[test]
    fn c_text_stops_at_the_first_nul() {
        assert_eq!(c_text(b"e1000\0\0garbage"), "e1000");
        assert_eq!(c_text(b"no-nul"), "no-nul");
        assert_eq!(c_text(&[0; 32]), "");
    }

    // The host's loopback, which every network namespace has: what `ethtool -P lo` ("Permanent
    // address: not set", an all-zero address) and `ethtool -i lo` ("Operation not supported")
    // show, through the real ioctl.
    #[test]
    fn loopback_through_the_real_ioctl() {
        assert_eq!(Host.permanent_mac("lo"), Ok(vec![0; 6]));
        assert_eq!(Host.driver_info("lo"), Err(DeviceError::Unsupported));
    }

    #[test]
    fn loopback_has_its_address_and_no_link_settings() {
        let all = Host.ipv4_addresses().unwrap();
        assert!(
            all.iter().any(|e| e.ifname == "lo" && e.address == [127, 0, 0, 1] && e.netmask == [255, 0, 0, 0]),
            "{all:?}"
        );
        assert!(Host.link_settings("lo").is_err());
    }

    #[test]
    fn a_missing_interface_is_unsupported() {
        assert_eq!(Host.permanent_mac("recon-nope0"), Err(DeviceError::Unsupported));
        assert_eq!(Host.driver_info("recon-nope0"), Err(DeviceError::Unsupported));
    }
}
