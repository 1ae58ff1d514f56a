//! The master's services as cores without sockets: each decides what a request gets; the
//! runtime (`crate::runtime`) does the I/O. Everything here sees input from the network or the
//! disk, so, as in netboot-proto, no index or slice may panic: `get` and friends only.
#![cfg_attr(not(test), deny(clippy::indexing_slicing, clippy::unwrap_used, clippy::expect_used, clippy::panic))]

pub mod dhcp;
pub mod dns;
pub mod fleet;
pub mod http;
pub mod tftp;
pub mod time;
