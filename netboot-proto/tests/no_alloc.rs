//! The codec allocates nothing: parsing every fixture datagram, reading its options and
//! emitting a reply, under a global allocator that counts.
// The counting allocator needs `unsafe impl GlobalAlloc`; nothing else here is unsafe.
#![allow(unsafe_code)]

mod support;

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;

use netboot_proto::dhcpv4::{DhcpOption, MIN_MAX_LEN, MessageType, Packet, Repr};

struct Counting;

thread_local! {
    // Per thread, so the test harness's other threads do not count.
    static ALLOCATIONS: Cell<usize> = const { Cell::new(0) };
}

// SAFETY: every call is passed to the system allocator unchanged; counting has no effect on the
// memory returned.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        let _ = ALLOCATIONS.try_with(|c| c.set(c.get() + 1));
        // SAFETY: the caller upholds GlobalAlloc::alloc's contract, which System needs too.
        unsafe { System.alloc(layout) }
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: ptr came from System with this layout, as the caller guarantees.
        unsafe { System.dealloc(ptr, layout) }
    }
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        let _ = ALLOCATIONS.try_with(|c| c.set(c.get() + 1));
        // SAFETY: as for dealloc; new_size is non-zero per the caller's contract.
        unsafe { System.realloc(ptr, layout, new_size) }
    }
}

#[global_allocator]
static GLOBAL: Counting = Counting;

#[test]
fn parse_read_and_reply_allocate_nothing() {
    let datagrams = support::all_dhcp_datagrams();
    let mut scratch = vec![0u8; 2048];
    let mut out = vec![0u8; 2048];
    let mut replies = 0;
    let before = ALLOCATIONS.with(Cell::get);
    for d in &datagrams {
        let Ok(p) = Packet::new_checked(&d.payload) else { continue };
        let _ = p.options().count();
        let Ok(req) = Repr::parse(&p, &mut scratch) else { continue };
        let _ = (req.message_type(), req.vendor_class().map(|v| (v.arch(), v.undi())), req.is_ipxe());
        let _ = req.user_class().map(|u| u.instances().count());
        let mut reply = Repr::reply_to(&req, MessageType::Offer);
        reply.push(DhcpOption::BootfileName(b"undionly.kpxe")).unwrap();
        if let Some(id) = req.client_machine_id() {
            reply.push(DhcpOption::ClientMachineId(id)).unwrap();
        }
        reply.emit_within(MIN_MAX_LEN, &mut out).unwrap();
        req.emit(&mut out).unwrap();
        replies += 1;
    }
    let allocations = ALLOCATIONS.with(Cell::get) - before;
    assert!(replies > 100, "{replies}");
    assert_eq!(allocations, 0, "the codec allocated {allocations} times over {replies} messages");
}
