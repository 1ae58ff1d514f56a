//! Option codes and typed option values.
//!
//! Codes and formats: [RFC 2132] (sections 3 to 9), [RFC 3004] (77), [RFC 3046] (82),
//! [RFC 4578, section 2] (93, 94, 97), iPXE (175). Length rules are the RFCs' own: a value whose
//! length breaks them is kept as [`DhcpOption::Other`].
//!
//! [RFC 2132]: https://www.rfc-editor.org/rfc/rfc2132
//! [RFC 3004]: https://www.rfc-editor.org/rfc/rfc3004
//! [RFC 3046]: https://www.rfc-editor.org/rfc/rfc3046
//! [RFC 4578, section 2]: https://www.rfc-editor.org/rfc/rfc4578#section-2

use core::fmt;
use core::net::Ipv4Addr;
use zerocopy::network_endian::U16;
use zerocopy::{FromBytes, IntoBytes};

use super::pxe::{ClientArch, Suboptions};

/// A DHCP option code. Every value is valid data; the constants name the ones recon uses or
/// shows. [`OptionCode::name`] gives a short name for display.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct OptionCode(pub u8);

macro_rules! codes {
    ($($(#[$doc:meta])* $name:ident = $v:literal, $text:literal;)*) => {
        impl OptionCode {
            $($(#[$doc])* pub const $name: OptionCode = OptionCode($v);)*

            /// A short name for display (IANA "BOOTP Vendor Extensions and DHCP Options"), or
            /// `None` for codes this table does not know.
            pub const fn name(self) -> Option<&'static str> {
                match self.0 {
                    $($v => Some($text),)*
                    v => more_names(v),
                }
            }
        }
    };
}

codes! {
    /// 0, Pad ([RFC 2132, section 3.1](https://www.rfc-editor.org/rfc/rfc2132#section-3.1)).
    PAD = 0, "Pad";
    /// 1, Subnet Mask.
    SUBNET_MASK = 1, "Subnet-Mask";
    /// 2, Time Offset.
    TIME_OFFSET = 2, "Time-Offset";
    /// 3, Router.
    ROUTER = 3, "Router";
    /// 4, Time Server.
    TIME_SERVER = 4, "Time-Server";
    /// 5, Name Server (IEN 116).
    NAME_SERVER = 5, "Name-Server";
    /// 6, Domain Name Server.
    DOMAIN_NAME_SERVER = 6, "Domain-Name-Server";
    /// 7, Log Server.
    LOG_SERVER = 7, "Log-Server";
    /// 12, Host Name.
    HOST_NAME = 12, "Hostname";
    /// 13, Boot File Size.
    BOOT_FILE_SIZE = 13, "Boot-File-Size";
    /// 15, Domain Name.
    DOMAIN_NAME = 15, "Domain-Name";
    /// 17, Root Path.
    ROOT_PATH = 17, "Root-Path";
    /// 26, Interface MTU.
    INTERFACE_MTU = 26, "MTU";
    /// 28, Broadcast Address.
    BROADCAST_ADDRESS = 28, "Broadcast-Address";
    /// 33, Static Route.
    STATIC_ROUTE = 33, "Static-Route";
    /// 40, NIS Domain.
    NIS_DOMAIN = 40, "NIS-Domain";
    /// 41, NIS Servers.
    NIS_SERVERS = 41, "NIS-Servers";
    /// 42, NTP Servers.
    NTP_SERVERS = 42, "NTP-Servers";
    /// 43, Vendor-Specific Information (PXE sub-options for `PXEClient`).
    VENDOR_SPECIFIC = 43, "Vendor-Specific";
    /// 44, NetBIOS Name Server.
    NETBIOS_NAME_SERVER = 44, "NetBIOS-Name-Server";
    /// 46, NetBIOS Node Type.
    NETBIOS_NODE_TYPE = 46, "NetBIOS-Node-Type";
    /// 50, Requested IP Address.
    REQUESTED_IP = 50, "Requested-IP";
    /// 51, IP Address Lease Time.
    LEASE_TIME = 51, "Lease-Time";
    /// 52, Option Overload ([RFC 2132, section 9.3](https://www.rfc-editor.org/rfc/rfc2132#section-9.3)).
    OVERLOAD = 52, "Overload";
    /// 53, DHCP Message Type.
    MESSAGE_TYPE = 53, "DHCP-Message-Type";
    /// 54, Server Identifier.
    SERVER_ID = 54, "Server-ID";
    /// 55, Parameter Request List.
    PARAMETER_REQUEST_LIST = 55, "Parameter-Request";
    /// 56, Message.
    MESSAGE = 56, "Message";
    /// 57, Maximum DHCP Message Size.
    MAX_MESSAGE_SIZE = 57, "Max-Message-Size";
    /// 58, Renewal (T1) Time.
    RENEWAL_TIME = 58, "Renewal-Time";
    /// 59, Rebinding (T2) Time.
    REBINDING_TIME = 59, "Rebinding-Time";
    /// 60, Vendor Class Identifier.
    VENDOR_CLASS = 60, "Vendor-Class";
    /// 61, Client Identifier.
    CLIENT_ID = 61, "Client-ID";
    /// 66, TFTP Server Name.
    TFTP_SERVER_NAME = 66, "TFTP-Server-Name";
    /// 67, Bootfile Name.
    BOOTFILE_NAME = 67, "Bootfile-Name";
    /// 77, User Class ([RFC 3004](https://www.rfc-editor.org/rfc/rfc3004)).
    USER_CLASS = 77, "User-Class";
    /// 80, Rapid Commit ([RFC 4039](https://www.rfc-editor.org/rfc/rfc4039)).
    RAPID_COMMIT = 80, "Rapid-Commit";
    /// 81, Client FQDN ([RFC 4702](https://www.rfc-editor.org/rfc/rfc4702)).
    CLIENT_FQDN = 81, "Client-FQDN";
    /// 82, Relay Agent Information ([RFC 3046](https://www.rfc-editor.org/rfc/rfc3046)).
    RELAY_AGENT_INFO = 82, "Relay-Agent-Info";
    /// 93, Client System Architecture ([RFC 4578, section 2.1](https://www.rfc-editor.org/rfc/rfc4578#section-2.1)).
    CLIENT_ARCH = 93, "Client-Arch";
    /// 94, Client Network Device Interface ([RFC 4578, section 2.2](https://www.rfc-editor.org/rfc/rfc4578#section-2.2)).
    CLIENT_NDI = 94, "Client-NDI";
    /// 97, Client Machine Identifier ([RFC 4578, section 2.3](https://www.rfc-editor.org/rfc/rfc4578#section-2.3)).
    CLIENT_MACHINE_ID = 97, "Client-Machine-ID";
    /// 100, POSIX time zone ([RFC 4833](https://www.rfc-editor.org/rfc/rfc4833)).
    PCODE = 100, "POSIX-TZ";
    /// 101, TZ database name ([RFC 4833](https://www.rfc-editor.org/rfc/rfc4833)).
    TCODE = 101, "TZ-Name";
    /// 108, IPv6-Only Preferred ([RFC 8925](https://www.rfc-editor.org/rfc/rfc8925)).
    IPV6_ONLY_PREFERRED = 108, "IPv6-Only-Preferred";
    /// 114, Captive portal URL ([RFC 8910](https://www.rfc-editor.org/rfc/rfc8910)).
    CAPTIVE_PORTAL = 114, "Captive-Portal";
    /// 116, Auto-Configure ([RFC 2563](https://www.rfc-editor.org/rfc/rfc2563)).
    AUTO_CONFIGURE = 116, "Auto-Configure";
    /// 118, Subnet Selection ([RFC 3011](https://www.rfc-editor.org/rfc/rfc3011)).
    SUBNET_SELECTION = 118, "Subnet-Selection";
    /// 119, Domain Search ([RFC 3397](https://www.rfc-editor.org/rfc/rfc3397)).
    DOMAIN_SEARCH = 119, "Domain-Search";
    /// 121, Classless Static Route ([RFC 3442](https://www.rfc-editor.org/rfc/rfc3442)).
    CLASSLESS_STATIC_ROUTE = 121, "Classless-Static-Route";
    /// 145, FORCERENEW nonce capable ([RFC 6704](https://www.rfc-editor.org/rfc/rfc6704)).
    FORCERENEW_NONCE = 145, "Forcerenew-Nonce";
    /// 150, TFTP server addresses ([RFC 5859](https://www.rfc-editor.org/rfc/rfc5859)).
    TFTP_SERVER_ADDRESS = 150, "TFTP-Server-Address";
    /// 151, Lease query status code ([RFC 6926](https://www.rfc-editor.org/rfc/rfc6926)).
    STATUS_CODE = 151, "Status-Code";
    /// 161, MUD URL ([RFC 8520](https://www.rfc-editor.org/rfc/rfc8520)).
    MUD_URL = 161, "MUD-URL";
    /// 175, iPXE (Etherboot) encapsulated options.
    IPXE = 175, "iPXE";
    /// 208, PXELINUX magic ([RFC 5071](https://www.rfc-editor.org/rfc/rfc5071)).
    PXELINUX_MAGIC = 208, "PXELINUX-Magic";
    /// 209, PXELINUX configuration file ([RFC 5071](https://www.rfc-editor.org/rfc/rfc5071)).
    CONFIGURATION_FILE = 209, "Configuration-File";
    /// 210, PXELINUX path prefix ([RFC 5071](https://www.rfc-editor.org/rfc/rfc5071)).
    PATH_PREFIX = 210, "Path-Prefix";
    /// 211, PXELINUX reboot time ([RFC 5071](https://www.rfc-editor.org/rfc/rfc5071)).
    REBOOT_TIME = 211, "Reboot-Time";
    /// 252, Web Proxy Auto-Discovery.
    WPAD = 252, "WPAD";
    /// 255, End ([RFC 2132, section 3.2](https://www.rfc-editor.org/rfc/rfc2132#section-3.2)).
    END = 255, "End";
}

/// Names for registered codes without a constant of their own.
const fn more_names(code: u8) -> Option<&'static str> {
    Some(match code {
        8 => "Cookie-Server",
        9 => "LPR-Server",
        10 => "Impress-Server",
        11 => "Resource-Location-Server",
        14 => "Merit-Dump",
        16 => "Swap-Server",
        18 => "Extensions-Path",
        19 => "IP-Forwarding",
        20 => "Non-Local-Source-Routing",
        21 => "Policy-Filter",
        22 => "Max-Datagram-Reassembly",
        23 => "Default-IP-TTL",
        24 => "Path-MTU-Aging-Timeout",
        25 => "Path-MTU-Plateau",
        27 => "All-Subnets-Local",
        29 => "Mask-Discovery",
        30 => "Mask-Supplier",
        31 => "Router-Discovery",
        32 => "Router-Solicitation",
        34 => "Trailers",
        35 => "ARP-Timeout",
        36 => "Ethernet-Encapsulation",
        37 => "TCP-TTL",
        38 => "TCP-Keepalive-Interval",
        39 => "TCP-Keepalive-Garbage",
        45 => "NetBIOS-Datagram-Server",
        47 => "NetBIOS-Scope",
        48 => "X-Font-Server",
        49 => "X-Display-Manager",
        62 => "NetWare-IP-Domain",
        63 => "NetWare-IP-Option",
        64 => "NIS+-Domain",
        65 => "NIS+-Servers",
        68 => "Mobile-IP-Home-Agent",
        69 => "SMTP-Server",
        70 => "POP3-Server",
        71 => "NNTP-Server",
        72 => "WWW-Server",
        73 => "Finger-Server",
        74 => "IRC-Server",
        75 => "StreetTalk-Server",
        76 => "STDA-Server",
        78 => "SLP-Directory-Agent",
        79 => "SLP-Service-Scope",
        83 => "iSNS",
        85 => "NDS-Servers",
        86 => "NDS-Tree-Name",
        87 => "NDS-Context",
        88 => "BCMCS-Domain",
        89 => "BCMCS-Address",
        90 => "Authentication",
        91 => "Client-Last-Transaction-Time",
        92 => "Associated-IP",
        95 => "LDAP",
        98 => "User-Auth",
        99 => "GeoConf-Civic",
        112 => "NetInfo-Address",
        113 => "NetInfo-Tag",
        117 => "Name-Service-Search",
        120 => "SIP-Servers",
        122 => "CableLabs-Client-Config",
        123 => "GeoConf",
        124 => "VI-Vendor-Class",
        125 => "VI-Vendor-Specific",
        // RFC 4578, section 2.4: "PXE - undefined (vendor specific)".
        128..=135 => "PXE-Vendor",
        136 => "PANA-Agent",
        137 => "LoST-Server",
        138 => "CAPWAP-AC",
        141 => "SIP-UA-Domains",
        159 => "Port-Params",
        _ => return None,
    })
}

impl OptionCode {
    /// Pad, End and Overload: structure of the option area, never carried in a
    /// [`Repr`](super::Repr).
    pub const fn is_structural(self) -> bool {
        matches!(self.0, 0 | 52 | 255)
    }
}

impl fmt::Display for OptionCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.name() {
            Some(name) => write!(f, "{name} ({})", self.0),
            None => write!(f, "Unknown ({})", self.0),
        }
    }
}

/// Option 53, the DHCP message type ([RFC 2132, section 9.6]; 9-18 from RFC 3203, 4388, 6926
/// and 7724). Unknown values are kept.
///
/// [RFC 2132, section 9.6]: https://www.rfc-editor.org/rfc/rfc2132#section-9.6
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum MessageType {
    /// 1
    Discover,
    /// 2
    Offer,
    /// 3
    Request,
    /// 4
    Decline,
    /// 5
    Ack,
    /// 6
    Nak,
    /// 7
    Release,
    /// 8
    Inform,
    /// 9 ([RFC 3203](https://www.rfc-editor.org/rfc/rfc3203))
    ForceRenew,
    /// 10 ([RFC 4388](https://www.rfc-editor.org/rfc/rfc4388))
    LeaseQuery,
    /// 11 ([RFC 4388](https://www.rfc-editor.org/rfc/rfc4388))
    LeaseUnassigned,
    /// 12 ([RFC 4388](https://www.rfc-editor.org/rfc/rfc4388))
    LeaseUnknown,
    /// 13 ([RFC 4388](https://www.rfc-editor.org/rfc/rfc4388))
    LeaseActive,
    /// Anything else, 14-18 (bulk lease query, TLS) included.
    Unknown(u8),
}

impl From<u8> for MessageType {
    fn from(v: u8) -> MessageType {
        use MessageType::*;
        match v {
            1 => Discover,
            2 => Offer,
            3 => Request,
            4 => Decline,
            5 => Ack,
            6 => Nak,
            7 => Release,
            8 => Inform,
            9 => ForceRenew,
            10 => LeaseQuery,
            11 => LeaseUnassigned,
            12 => LeaseUnknown,
            13 => LeaseActive,
            v => Unknown(v),
        }
    }
}

impl From<MessageType> for u8 {
    fn from(t: MessageType) -> u8 {
        use MessageType::*;
        match t {
            Discover => 1,
            Offer => 2,
            Request => 3,
            Decline => 4,
            Ack => 5,
            Nak => 6,
            Release => 7,
            Inform => 8,
            ForceRenew => 9,
            LeaseQuery => 10,
            LeaseUnassigned => 11,
            LeaseUnknown => 12,
            LeaseActive => 13,
            Unknown(v) => v,
        }
    }
}

impl fmt::Display for MessageType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        use MessageType::*;
        let s = match self {
            Discover => "DISCOVER",
            Offer => "OFFER",
            Request => "REQUEST",
            Decline => "DECLINE",
            Ack => "ACK",
            Nak => "NAK",
            Release => "RELEASE",
            Inform => "INFORM",
            ForceRenew => "FORCERENEW",
            LeaseQuery => "LEASEQUERY",
            LeaseUnassigned => "LEASEUNASSIGNED",
            LeaseUnknown => "LEASEUNKNOWN",
            LeaseActive => "LEASEACTIVE",
            Unknown(v) => return write!(f, "UNKNOWN({v})"),
        };
        f.write_str(s)
    }
}

/// A list of IPv4 addresses (options 3, 6, ...), viewed in place: four octets each.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Ipv4List<'a>(&'a [[u8; 4]]);

impl<'a> Ipv4List<'a> {
    /// A list of the given addresses, in network order (`Ipv4Addr::octets`).
    pub const fn new(addrs: &'a [[u8; 4]]) -> Ipv4List<'a> {
        Ipv4List(addrs)
    }

    /// Views `data` as addresses: at least one, and a multiple of four octets
    /// ([RFC 2132, section 3.5]).
    ///
    /// [RFC 2132, section 3.5]: https://www.rfc-editor.org/rfc/rfc2132#section-3.5
    pub fn from_wire(data: &'a [u8]) -> Option<Ipv4List<'a>> {
        let list = <[[u8; 4]]>::ref_from_bytes(data).ok()?;
        (!list.is_empty()).then_some(Ipv4List(list))
    }

    /// The addresses.
    pub fn iter(&self) -> impl ExactSizeIterator<Item = Ipv4Addr> + 'a {
        self.0.iter().map(|a| Ipv4Addr::from(*a))
    }

    /// The number of addresses.
    pub fn len(&self) -> usize {
        self.0.len()
    }

    /// Whether there are none (never, for a list read from the wire).
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// The octets on the wire.
    pub fn as_bytes(&self) -> &'a [u8] {
        self.0.as_bytes()
    }
}

/// Option 93, the client system architectures, viewed in place: two octets each
/// ([RFC 4578, section 2.1]).
///
/// [RFC 4578, section 2.1]: https://www.rfc-editor.org/rfc/rfc4578#section-2.1
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ArchList<'a>(&'a [U16]);

impl<'a> ArchList<'a> {
    /// A list of the given architecture types.
    pub const fn new(archs: &'a [U16]) -> ArchList<'a> {
        ArchList(archs)
    }

    /// Views `data` as architecture types: at least one, two octets each.
    pub fn from_wire(data: &'a [u8]) -> Option<ArchList<'a>> {
        let list = <[U16]>::ref_from_bytes(data).ok()?;
        (!list.is_empty()).then_some(ArchList(list))
    }

    /// The architectures, in the client's order.
    pub fn iter(&self) -> impl ExactSizeIterator<Item = ClientArch> + 'a {
        self.0.iter().map(|a| ClientArch(a.get()))
    }

    /// The first architecture: the one the client is booting as.
    pub fn first(&self) -> Option<ClientArch> {
        self.0.first().map(|a| ClientArch(a.get()))
    }

    /// The number of architectures.
    pub fn len(&self) -> usize {
        self.0.len()
    }

    /// Whether there are none (never, for a list read from the wire).
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// The octets on the wire.
    pub fn as_bytes(&self) -> &'a [u8] {
        self.0.as_bytes()
    }
}

/// Option 94, the client network device interface ([RFC 4578, section 2.2]): type 1 is UNDI,
/// with its major and minor version (2.1 for PXE 2.1).
///
/// [RFC 4578, section 2.2]: https://www.rfc-editor.org/rfc/rfc4578#section-2.2
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct ClientNdi {
    /// Interface type; 1 = UNDI.
    pub kind: u8,
    /// Major version.
    pub major: u8,
    /// Minor version.
    pub minor: u8,
}

/// Option 97, the client machine identifier ([RFC 4578, section 2.3]): type 0 and a 16-octet
/// GUID, usually the SMBIOS system UUID. A server echoes it in its replies (PXE 2.1).
///
/// [RFC 4578, section 2.3]: https://www.rfc-editor.org/rfc/rfc4578#section-2.3
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct ClientMachineId {
    /// The GUID, octets as on the wire (SMBIOS stores the first three fields little-endian).
    pub guid: [u8; 16],
}

impl ClientMachineId {
    /// The SMBIOS-style UUID text of the GUID: the first three fields little-endian, as
    /// `dmidecode` and `/sys/class/dmi/id/product_uuid` show it (SMBIOS 3.x, section 7.2.1).
    pub fn uuid_le(&self) -> impl fmt::Display + '_ {
        UuidLe(&self.guid)
    }
}

struct UuidLe<'a>(&'a [u8; 16]);

impl fmt::Display for UuidLe<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let g = self.0;
        let order = [3, 2, 1, 0, 5, 4, 7, 6, 8, 9, 10, 11, 12, 13, 14, 15];
        for (i, &at) in order.iter().enumerate() {
            if matches!(i, 4 | 6 | 8 | 10) {
                f.write_str("-")?;
            }
            write!(f, "{:02x}", g.get(at).copied().unwrap_or(0))?;
        }
        Ok(())
    }
}

/// One option, typed where recon uses its meaning.
///
/// [`DhcpOption::from_wire`] gives the typed variant when the value is well formed for the code
/// and [`DhcpOption::Other`] otherwise; [`DhcpOption::wire_data`] gives the octets back, so every
/// option round-trips.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DhcpOption<'a> {
    /// 1: the client's subnet mask (4 octets).
    SubnetMask(Ipv4Addr),
    /// 3: routers, in order of preference.
    Router(Ipv4List<'a>),
    /// 6: DNS servers, in order of preference.
    DomainNameServer(Ipv4List<'a>),
    /// 12: host name (at least 1 octet; not necessarily UTF-8).
    HostName(&'a [u8]),
    /// 15: domain name.
    DomainName(&'a [u8]),
    /// 28: broadcast address.
    BroadcastAddress(Ipv4Addr),
    /// 43: vendor-specific information, encapsulated sub-options; see
    /// [`pxe::Suboptions`](super::pxe::Suboptions).
    VendorSpecific(&'a [u8]),
    /// 50: the address the client asks for.
    RequestedIp(Ipv4Addr),
    /// 51: lease time in seconds.
    LeaseTime(u32),
    /// 53: the message type.
    MessageType(MessageType),
    /// 54: the server identifier.
    ServerId(Ipv4Addr),
    /// 55: the option codes the client asks for, in its order of preference.
    ParameterRequestList(&'a [u8]),
    /// 57: the largest message the client accepts ([RFC 2132, section 9.10]).
    ///
    /// [RFC 2132, section 9.10]: https://www.rfc-editor.org/rfc/rfc2132#section-9.10
    MaxMessageSize(u16),
    /// 58: T1, seconds until RENEWING.
    RenewalTime(u32),
    /// 59: T2, seconds until REBINDING.
    RebindingTime(u32),
    /// 60: vendor class identifier; see [`pxe::VendorClass`](super::pxe::VendorClass).
    VendorClass(&'a [u8]),
    /// 61: client identifier (type octet, then the identifier; at least 2 octets).
    ClientId(&'a [u8]),
    /// 66: TFTP server name.
    TftpServerName(&'a [u8]),
    /// 67: boot file name.
    BootfileName(&'a [u8]),
    /// 77: user class; see [`pxe::UserClass`](super::pxe::UserClass).
    UserClass(&'a [u8]),
    /// 82: relay agent information: one or more whole sub-options; see
    /// [`pxe::RelayAgentInfo`](super::pxe::RelayAgentInfo).
    RelayAgentInfo(&'a [u8]),
    /// 93: the client's architectures.
    ClientArch(ArchList<'a>),
    /// 94: the client's network interface.
    ClientNdi(ClientNdi),
    /// 97: the client's machine identifier.
    ClientMachineId(ClientMachineId),
    /// 175: iPXE encapsulated options (at least 1 octet; the view reads whole sub-options and
    /// [`Suboptions::is_well_formed`](super::pxe::Suboptions::is_well_formed) says if that was
    /// all); see [`pxe::IpxeOptions`](super::pxe::IpxeOptions).
    Ipxe(&'a [u8]),
    /// Any other code, or a known code whose value does not have the length its RFC gives.
    Other {
        /// The code (never Pad, End or Overload in a `Repr`).
        code: u8,
        /// The value.
        data: &'a [u8],
    },
}

/// The octets of one option's value: borrowed, or encoded in place for fixed-size values.
#[derive(Debug, Clone, Copy)]
pub struct WireData<'a> {
    inner: WireInner<'a>,
}

#[derive(Debug, Clone, Copy)]
enum WireInner<'a> {
    Borrowed(&'a [u8]),
    Inline([u8; 17], u8),
}

impl<'a> WireData<'a> {
    fn inline(bytes: &[u8]) -> WireData<'a> {
        let mut buf = [0u8; 17];
        let len = bytes.len().min(buf.len());
        if let (Some(dst), Some(src)) = (buf.get_mut(..len), bytes.get(..len)) {
            dst.copy_from_slice(src);
        }
        WireData { inner: WireInner::Inline(buf, len as u8) }
    }

    /// The octets.
    pub fn as_slice(&self) -> &[u8] {
        match &self.inner {
            WireInner::Borrowed(b) => b,
            WireInner::Inline(buf, len) => buf.get(..usize::from(*len)).unwrap_or(&[]),
        }
    }
}

impl<'a> DhcpOption<'a> {
    /// The typed option for `code` and `data` when the value is well formed for the code,
    /// [`DhcpOption::Other`] otherwise. Never fails.
    #[inline(always)]
    pub fn from_wire(code: u8, data: &'a [u8]) -> DhcpOption<'a> {
        let other = DhcpOption::Other { code, data };
        // Integer patterns, not the `OptionCode` constants, so this compiles to one jump table.
        match (code, data) {
            (1, &[a, b, c, d]) => DhcpOption::SubnetMask(Ipv4Addr::new(a, b, c, d)),
            (3, _) => Ipv4List::from_wire(data).map_or(other, DhcpOption::Router),
            (6, _) => Ipv4List::from_wire(data).map_or(other, DhcpOption::DomainNameServer),
            (12, [_, ..]) => DhcpOption::HostName(data),
            (15, [_, ..]) => DhcpOption::DomainName(data),
            (28, &[a, b, c, d]) => DhcpOption::BroadcastAddress(Ipv4Addr::new(a, b, c, d)),
            (43, [_, ..]) => DhcpOption::VendorSpecific(data),
            (50, &[a, b, c, d]) => DhcpOption::RequestedIp(Ipv4Addr::new(a, b, c, d)),
            (51, &[a, b, c, d]) => DhcpOption::LeaseTime(u32::from_be_bytes([a, b, c, d])),
            (53, &[t]) => DhcpOption::MessageType(MessageType::from(t)),
            (54, &[a, b, c, d]) => DhcpOption::ServerId(Ipv4Addr::new(a, b, c, d)),
            (55, [_, ..]) => DhcpOption::ParameterRequestList(data),
            (57, &[a, b]) => DhcpOption::MaxMessageSize(u16::from_be_bytes([a, b])),
            (58, &[a, b, c, d]) => DhcpOption::RenewalTime(u32::from_be_bytes([a, b, c, d])),
            (59, &[a, b, c, d]) => DhcpOption::RebindingTime(u32::from_be_bytes([a, b, c, d])),
            (60, [_, ..]) => DhcpOption::VendorClass(data),
            (61, [_, _, ..]) => DhcpOption::ClientId(data),
            (66, [_, ..]) => DhcpOption::TftpServerName(data),
            (67, [_, ..]) => DhcpOption::BootfileName(data),
            (77, [_, ..]) => DhcpOption::UserClass(data),
            (82, [_, _, ..]) if Suboptions::without_pad_end(data).is_well_formed() => DhcpOption::RelayAgentInfo(data),
            (93, _) => ArchList::from_wire(data).map_or(other, DhcpOption::ClientArch),
            (94, &[kind, major, minor]) => DhcpOption::ClientNdi(ClientNdi { kind, major, minor }),
            (97, [0, guid @ ..]) => match <[u8; 16]>::try_from(guid) {
                Ok(guid) => DhcpOption::ClientMachineId(ClientMachineId { guid }),
                Err(_) => other,
            },
            (175, [_, ..]) => DhcpOption::Ipxe(data),
            _ => other,
        }
    }

    /// The option code.
    pub fn code(&self) -> OptionCode {
        OptionCode(match self {
            DhcpOption::SubnetMask(_) => 1,
            DhcpOption::Router(_) => 3,
            DhcpOption::DomainNameServer(_) => 6,
            DhcpOption::HostName(_) => 12,
            DhcpOption::DomainName(_) => 15,
            DhcpOption::BroadcastAddress(_) => 28,
            DhcpOption::VendorSpecific(_) => 43,
            DhcpOption::RequestedIp(_) => 50,
            DhcpOption::LeaseTime(_) => 51,
            DhcpOption::MessageType(_) => 53,
            DhcpOption::ServerId(_) => 54,
            DhcpOption::ParameterRequestList(_) => 55,
            DhcpOption::MaxMessageSize(_) => 57,
            DhcpOption::RenewalTime(_) => 58,
            DhcpOption::RebindingTime(_) => 59,
            DhcpOption::VendorClass(_) => 60,
            DhcpOption::ClientId(_) => 61,
            DhcpOption::TftpServerName(_) => 66,
            DhcpOption::BootfileName(_) => 67,
            DhcpOption::UserClass(_) => 77,
            DhcpOption::RelayAgentInfo(_) => 82,
            DhcpOption::ClientArch(_) => 93,
            DhcpOption::ClientNdi(_) => 94,
            DhcpOption::ClientMachineId(_) => 97,
            DhcpOption::Ipxe(_) => 175,
            DhcpOption::Other { code, .. } => *code,
        })
    }

    /// The value's octets as they go on the wire.
    pub fn wire_data(&self) -> WireData<'a> {
        let borrowed = |b: &'a [u8]| WireData { inner: WireInner::Borrowed(b) };
        match *self {
            DhcpOption::SubnetMask(a)
            | DhcpOption::BroadcastAddress(a)
            | DhcpOption::RequestedIp(a)
            | DhcpOption::ServerId(a) => WireData::inline(&a.octets()),
            DhcpOption::Router(l) | DhcpOption::DomainNameServer(l) => borrowed(l.as_bytes()),
            DhcpOption::LeaseTime(s) | DhcpOption::RenewalTime(s) | DhcpOption::RebindingTime(s) => {
                WireData::inline(&s.to_be_bytes())
            }
            DhcpOption::MessageType(t) => WireData::inline(&[u8::from(t)]),
            DhcpOption::MaxMessageSize(s) => WireData::inline(&s.to_be_bytes()),
            DhcpOption::ClientArch(l) => borrowed(l.as_bytes()),
            DhcpOption::ClientNdi(n) => WireData::inline(&[n.kind, n.major, n.minor]),
            DhcpOption::ClientMachineId(id) => {
                let mut b = [0u8; 17];
                for (dst, src) in b.iter_mut().skip(1).zip(id.guid) {
                    *dst = src;
                }
                WireData { inner: WireInner::Inline(b, 17) }
            }
            DhcpOption::HostName(b)
            | DhcpOption::DomainName(b)
            | DhcpOption::VendorSpecific(b)
            | DhcpOption::ParameterRequestList(b)
            | DhcpOption::VendorClass(b)
            | DhcpOption::ClientId(b)
            | DhcpOption::TftpServerName(b)
            | DhcpOption::BootfileName(b)
            | DhcpOption::UserClass(b)
            | DhcpOption::RelayAgentInfo(b)
            | DhcpOption::Ipxe(b)
            | DhcpOption::Other { data: b, .. } => borrowed(b),
        }
    }

    /// Length of the value in octets (before any RFC 3396 split).
    #[inline]
    pub fn data_len(&self) -> usize {
        match self {
            DhcpOption::SubnetMask(_)
            | DhcpOption::BroadcastAddress(_)
            | DhcpOption::RequestedIp(_)
            | DhcpOption::ServerId(_)
            | DhcpOption::LeaseTime(_)
            | DhcpOption::RenewalTime(_)
            | DhcpOption::RebindingTime(_) => 4,
            DhcpOption::MessageType(_) => 1,
            DhcpOption::MaxMessageSize(_) => 2,
            DhcpOption::ClientNdi(_) => 3,
            DhcpOption::ClientMachineId(_) => 17,
            DhcpOption::Router(l) | DhcpOption::DomainNameServer(l) => l.as_bytes().len(),
            DhcpOption::ClientArch(l) => l.as_bytes().len(),
            DhcpOption::HostName(b)
            | DhcpOption::DomainName(b)
            | DhcpOption::VendorSpecific(b)
            | DhcpOption::ParameterRequestList(b)
            | DhcpOption::VendorClass(b)
            | DhcpOption::ClientId(b)
            | DhcpOption::TftpServerName(b)
            | DhcpOption::BootfileName(b)
            | DhcpOption::UserClass(b)
            | DhcpOption::RelayAgentInfo(b)
            | DhcpOption::Ipxe(b)
            | DhcpOption::Other { data: b, .. } => b.len(),
        }
    }

    /// Octets this option takes on the wire: code and length octets for each instance of at
    /// most 255 octets ([RFC 3396, section 5]), plus the value.
    ///
    /// [RFC 3396, section 5]: https://www.rfc-editor.org/rfc/rfc3396#section-5
    #[inline]
    pub fn wire_len(&self) -> usize {
        let len = self.data_len();
        if len <= 255 { len + 2 } else { len + 2 * len.div_ceil(255) }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::string::ToString;

    #[test]
    fn length_rules_follow_the_rfcs() {
        // (code, well-formed values, malformed values)
        type Case<'a> = (u8, &'a [&'a [u8]], &'a [&'a [u8]]);
        let cases: &[Case<'_>] = &[
            (1, &[&[255, 255, 255, 0]], &[&[], &[255, 255, 255], &[1, 2, 3, 4, 5]]),
            (3, &[&[10, 0, 0, 1], &[10, 0, 0, 1, 10, 0, 0, 2]], &[&[], &[10, 0, 0], &[10, 0, 0, 1, 10]]),
            (12, &[b"n", b"node-1"], &[&[]]),
            (51, &[&[0, 0, 14, 16]], &[&[0, 14, 16], &[0, 0, 0, 14, 16]]),
            (53, &[&[1], &[200]], &[&[], &[1, 1]]),
            (57, &[&[5, 192]], &[&[5], &[0, 5, 192]]),
            (61, &[&[1, 2], &[1, 2, 3, 4, 5, 6, 7]], &[&[], &[1]]),
            (82, &[&[1, 0], &[1, 1, 9, 2, 0]], &[&[], &[1], &[1, 2, 9]]),
            (93, &[&[0, 0], &[0, 7, 0, 9]], &[&[], &[0], &[0, 7, 0]]),
            (94, &[&[1, 2, 1]], &[&[1, 2], &[1, 2, 1, 0]]),
            (97, &[&[0; 17]], &[&[0; 16], &[0; 18], &[1; 17]]),
            (175, &[&[19, 1, 1], &[19, 2, 1]], &[&[]]),
        ];
        for (code, good, bad) in cases {
            for v in *good {
                let o = DhcpOption::from_wire(*code, v);
                assert!(!matches!(o, DhcpOption::Other { .. }), "option {code} {v:?} should be typed");
                assert_eq!(o.code(), OptionCode(*code));
                assert_eq!(o.wire_data().as_slice(), *v, "option {code} must give its octets back");
            }
            for v in *bad {
                assert_eq!(
                    DhcpOption::from_wire(*code, v),
                    DhcpOption::Other { code: *code, data: v },
                    "option {code} {v:?}"
                );
            }
        }
    }

    #[test]
    fn unknown_values_are_data() {
        assert_eq!(DhcpOption::from_wire(53, &[42]), DhcpOption::MessageType(MessageType::Unknown(42)));
        assert_eq!(u8::from(MessageType::Unknown(42)), 42);
        for v in 0..=255u8 {
            assert_eq!(u8::from(MessageType::from(v)), v);
        }
        assert_eq!(DhcpOption::from_wire(224, &[1, 2]), DhcpOption::Other { code: 224, data: &[1, 2] });
        assert_eq!(OptionCode(224).to_string(), "Unknown (224)");
        assert_eq!(OptionCode(93).to_string(), "Client-Arch (93)");
    }

    #[test]
    fn machine_id_prints_as_smbios_does() {
        // SMBIOS stores the first three UUID fields little-endian; dmidecode shows them swapped.
        let mut data = [0u8; 17];
        data[1..].copy_from_slice(&[
            0x33, 0x22, 0x11, 0x00, 0x55, 0x44, 0x77, 0x66, 0x88, 0x99, 0xaa, 0xbb, 0xcc, 0xdd, 0xee, 0xff,
        ]);
        let DhcpOption::ClientMachineId(id) = DhcpOption::from_wire(97, &data) else { panic!("typed") };
        assert_eq!(std::format!("{}", id.uuid_le()), "00112233-4455-6677-8899-aabbccddeeff");
    }

    #[test]
    fn lists_iterate_in_order() {
        let l = Ipv4List::from_wire(&[10, 0, 0, 1, 10, 0, 0, 2]).unwrap();
        let v: std::vec::Vec<Ipv4Addr> = l.iter().collect();
        assert_eq!(v, [Ipv4Addr::new(10, 0, 0, 1), Ipv4Addr::new(10, 0, 0, 2)]);
        let a = ArchList::from_wire(&[0, 7, 0, 16]).unwrap();
        assert_eq!(a.first(), Some(ClientArch(7)));
        assert_eq!(a.iter().nth(1), Some(ClientArch::HTTP_X64));
    }
}
