//! Parse a real PXE request and build the boot server's reply: recon's codec against dhcproto's
//! decode + encode, doing the same work on the same packets. A counting allocator reports the
//! heap allocations per packet of each path; recon's must be zero.
//!
//! `cargo bench -p netboot-proto --bench dhcpv4`; `bench/dhcpv4.sh` runs it, counts instructions
//! per packet with callgrind (`DHCPV4_LOOP`, `DHCPV4_PATH`, `DHCPV4_CASE`) and prints ratios.
// The counting allocator needs `unsafe impl GlobalAlloc`; nothing else here is unsafe.
#![allow(unsafe_code)]

use std::alloc::{GlobalAlloc, Layout, System};
use std::hint::black_box;
use std::net::Ipv4Addr;
use std::sync::atomic::{AtomicUsize, Ordering};

use criterion::{Criterion, Throughput};
use netboot_proto::capture::Capture;
use netboot_proto::dhcpv4::pxe::{BootClass, SuboptionWriter, vendor};
use netboot_proto::dhcpv4::{DhcpOption, Ipv4List, MessageType, Packet, Repr, max_len_for};

struct Counting;

static ALLOCATIONS: AtomicUsize = AtomicUsize::new(0);

// SAFETY: delegates every call to the system allocator unchanged; the counter has no effect on
// the memory handed out.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        ALLOCATIONS.fetch_add(1, Ordering::Relaxed);
        // SAFETY: the caller upholds GlobalAlloc::alloc's contract, which System requires too.
        unsafe { System.alloc(layout) }
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: ptr came from System.alloc/realloc with this layout, as the caller guarantees.
        unsafe { System.dealloc(ptr, layout) }
    }
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        ALLOCATIONS.fetch_add(1, Ordering::Relaxed);
        // SAFETY: as for dealloc; new_size is non-zero per the caller's contract.
        unsafe { System.realloc(ptr, layout, new_size) }
    }
}

#[global_allocator]
static GLOBAL: Counting = Counting;

const SERVER: Ipv4Addr = Ipv4Addr::new(10, 213, 7, 1);
const CLIENT: Ipv4Addr = Ipv4Addr::new(10, 213, 7, 50);

/// The boot file the server hands out: the script to iPXE, the right iPXE build to firmware.
fn boot_file(ipxe: bool, uefi: bool) -> &'static [u8] {
    match (ipxe, uefi) {
        (true, _) => b"http://10.213.7.1/boot.ipxe",
        (false, true) => b"ipxe.efi",
        (false, false) => b"undionly.kpxe",
    }
}

/// recon: parse the request and emit the reply into `out`; returns its length.
fn ours(request: &[u8], pxe_vendor: &[u8], scratch: &mut [u8], out: &mut [u8]) -> usize {
    let packet = Packet::new_checked(request).expect("request");
    // Borrowed from the result, not moved out of it: a Repr is most of a kilobyte.
    let parsed = Repr::parse(&packet, scratch);
    let Ok(req) = &parsed else { panic!("request parses") };
    let kind = match req.message_type() {
        Some(MessageType::Discover) => MessageType::Offer,
        Some(MessageType::Request) => MessageType::Ack,
        other => panic!("unexpected {other:?}"),
    };
    let pxe = req.vendor_class().is_some_and(|v| v.class == BootClass::PxeClient);
    let uefi = req.client_arch().and_then(|a| a.first()).is_some_and(|a| a.is_uefi());
    let file = boot_file(req.is_ipxe(), uefi);
    let routers = [SERVER.octets()];

    let mut reply = Repr::reply_to(req, kind);
    reply.yiaddr = CLIENT;
    reply.siaddr = SERVER;
    reply.file = file;
    let opts = [
        DhcpOption::ServerId(SERVER),
        DhcpOption::LeaseTime(3600),
        DhcpOption::SubnetMask(Ipv4Addr::new(255, 255, 255, 0)),
        DhcpOption::Router(Ipv4List::new(&routers)),
        DhcpOption::DomainNameServer(Ipv4List::new(&routers)),
    ];
    for o in opts {
        reply.push(o).expect("capacity");
    }
    if pxe {
        reply.push(DhcpOption::VendorClass(b"PXEClient")).expect("capacity");
        reply.push(DhcpOption::VendorSpecific(pxe_vendor)).expect("capacity");
    }
    if let Some(id) = req.client_machine_id() {
        reply.push(DhcpOption::ClientMachineId(id)).expect("capacity");
    }
    reply.push(DhcpOption::BootfileName(file)).expect("capacity");
    reply.emit_within(max_len_for(req.max_message_size()), out).expect("reply fits")
}

/// dhcproto: the same decisions on its owned `Message`, encoded into a new `Vec`.
fn theirs(request: &[u8], pxe_vendor: &[u8]) -> Vec<u8> {
    use dhcproto::{Decodable, Decoder, Encodable, v4};
    let req = v4::Message::decode(&mut Decoder::new(request)).expect("request");
    let kind = match req.opts().msg_type() {
        Some(v4::MessageType::Discover) => v4::MessageType::Offer,
        Some(v4::MessageType::Request) => v4::MessageType::Ack,
        other => panic!("unexpected {other:?}"),
    };
    let pxe = matches!(req.opts().get(v4::OptionCode::ClassIdentifier), Some(v4::DhcpOption::ClassIdentifier(c)) if c.starts_with(b"PXEClient"));
    let uefi = matches!(
        req.opts().get(v4::OptionCode::ClientSystemArchitecture),
        Some(v4::DhcpOption::ClientSystemArchitecture(a)) if matches!(u16::from(*a), 6 | 7 | 9 | 10 | 11 | 15 | 16 | 18 | 19)
    );
    let ipxe = matches!(req.opts().get(v4::OptionCode::UserClass), Some(v4::DhcpOption::UserClass(u)) if u == b"iPXE")
        || req.opts().get(v4::OptionCode::from(175)).is_some();
    let file = boot_file(ipxe, uefi);
    let mut reply =
        v4::Message::new_with_id(req.xid(), Ipv4Addr::UNSPECIFIED, CLIENT, SERVER, req.giaddr(), req.chaddr());
    reply.set_opcode(v4::Opcode::BootReply).set_htype(req.htype()).set_flags(req.flags()).set_fname(file);
    let o = reply.opts_mut();
    o.insert(v4::DhcpOption::MessageType(kind));
    o.insert(v4::DhcpOption::ServerIdentifier(SERVER));
    o.insert(v4::DhcpOption::AddressLeaseTime(3600));
    o.insert(v4::DhcpOption::SubnetMask(Ipv4Addr::new(255, 255, 255, 0)));
    o.insert(v4::DhcpOption::Router(vec![SERVER]));
    o.insert(v4::DhcpOption::DomainNameServer(vec![SERVER]));
    if pxe {
        o.insert(v4::DhcpOption::ClassIdentifier(b"PXEClient".to_vec()));
        o.insert(v4::DhcpOption::VendorExtensions(pxe_vendor.to_vec()));
    }
    if let Some(v4::DhcpOption::ClientMachineIdentifier(id)) = req.opts().get(v4::OptionCode::ClientMachineIdentifier) {
        o.insert(v4::DhcpOption::ClientMachineIdentifier(id.clone()));
    }
    o.insert(v4::DhcpOption::BootfileName(file.to_vec()));
    reply.to_vec().expect("encodes")
}

fn payload(capture: &str, frame: usize) -> Vec<u8> {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../tests/fixtures/pcap").join(capture);
    let bytes = std::fs::read(&path).expect("fixture");
    let f = Capture::new(&bytes).expect("capture").frames().nth(frame - 1).expect("frame").expect("frame");
    f.udp().expect("udp").payload.to_vec()
}

fn allocations_per_call(mut f: impl FnMut()) -> f64 {
    const N: usize = 1000;
    f();
    let before = ALLOCATIONS.load(Ordering::Relaxed);
    for _ in 0..N {
        f();
    }
    (ALLOCATIONS.load(Ordering::Relaxed) - before) as f64 / N as f64
}

fn main() {
    let cases = [
        ("pxe_discover_offer", payload("netboot/usec.pcap", 1)),
        ("pxe_request_ack", payload("netboot/usec.pcap", 4)),
        ("ipxe_discover_offer", payload("lab/bios-ipxe.pcap", 1)),
        ("ipxe_request_ack", payload("lab/bios-ipxe.pcap", 7)),
    ];
    // Server configuration, made once: the PXE vendor options (43) that tell a PXE ROM to boot
    // the file it is given without boot-server discovery.
    let mut vendor_buf = [0u8; 8];
    let mut w = SuboptionWriter::new(&mut vendor_buf);
    w.push(vendor::DISCOVERY_CONTROL, &[vendor::DISCOVERY_USE_BOOTFILE]).expect("fits");
    let pxe_vendor = w.finish().expect("fits");
    // The server's receive loop owns these, reused for every packet.
    let mut out = vec![0u8; 1500];
    let mut scratch = vec![0u8; 1500];
    // `DHCPV4_LOOP=N valgrind --tool=callgrind ...`: run each path N times per case and exit, for
    // instruction counts that do not depend on the machine's load.
    if let Some(n) = std::env::var("DHCPV4_LOOP").ok().and_then(|v| v.parse::<usize>().ok()) {
        let which = std::env::var("DHCPV4_PATH").unwrap_or_default();
        let only = std::env::var("DHCPV4_CASE").unwrap_or_default();
        for (_, req) in cases.iter().filter(|(name, _)| only.is_empty() || *name == only) {
            for _ in 0..n {
                match which.as_str() {
                    "dhcproto" => drop(black_box(theirs(black_box(req), pxe_vendor))),
                    _ => drop(black_box(ours(black_box(req), pxe_vendor, &mut scratch, &mut out))),
                }
            }
        }
        return;
    }
    for (name, req) in &cases {
        // Both paths must produce a reply that decodes to the same decisions.
        let n = ours(req, pxe_vendor, &mut scratch, &mut out);
        let mine = Packet::new_checked(&out[..n]).expect("our reply");
        let theirs_bytes = theirs(req, pxe_vendor);
        let other = Packet::new_checked(&theirs_bytes).expect("dhcproto's reply");
        assert_eq!(mine.xid(), other.xid());
        assert_eq!(mine.yiaddr(), other.yiaddr());
        assert_eq!(mine.header().file, other.header().file, "{name}: boot file");
        let ours_allocs = allocations_per_call(|| {
            black_box(ours(black_box(req), pxe_vendor, &mut scratch, &mut out));
        });
        let theirs_allocs = allocations_per_call(|| {
            black_box(theirs(black_box(req), pxe_vendor));
        });
        println!("allocations per packet, {name}: recon {ours_allocs}, dhcproto {theirs_allocs}");
        assert_eq!(ours_allocs, 0.0, "{name}: recon's path allocated");
    }

    let mut c = Criterion::default().configure_from_args();
    for (name, req) in &cases {
        let mut g = c.benchmark_group(*name);
        g.throughput(Throughput::Elements(1));
        g.bench_function("recon", |b| b.iter(|| ours(black_box(req), pxe_vendor, &mut scratch, &mut out)));
        g.bench_function("dhcproto", |b| b.iter(|| theirs(black_box(req), pxe_vendor)));
        g.finish();
    }
    c.final_summary();
}
