//! Wire codecs for network boot, with no I/O and no allocation.
//!
//! - [`dhcpv4`]: DHCPv4 messages and options (RFC 2131, RFC 2132) with the PXE (RFC 4578, PXE 2.1)
//!   and iPXE extensions a boot server needs.
//! - [`tftp`]: TFTP packets and options (RFC 1350, 2347-2349, 7440) and the two ends of a read
//!   transfer as sans-IO state machines.
//! - [`Mac`]: the Ethernet address, parsed and printed one way everywhere.
//! - [`capture`]: a reader for the pcap and pcapng files tcpdump writes, down to UDP payloads, so
//!   tools and tests can feed real captures to the codecs.
//!
//! The crate is `no_std` and has no `alloc`: every parser borrows from its input and every emitter
//! writes into a buffer the caller owns. Each module states its no-panic contract once, in its own
//! documentation.
#![no_std]
#![forbid(unsafe_code)]
#![cfg_attr(not(test), deny(clippy::indexing_slicing, clippy::unwrap_used, clippy::expect_used, clippy::panic))]

#[cfg(test)]
extern crate std;

pub mod capture;
pub mod dhcpv4;
pub mod mac;
pub mod tftp;

pub use mac::Mac;
