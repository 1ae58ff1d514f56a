//! Hardware discovery for recon.
//!
//! Every file this crate reads goes through a [`SysRoot`]: a directory prefix that is `/` on a
//! live machine and a fixture tree in tests, so no test depends on the machine it runs on. A read
//! that fails becomes a [`ReadError`] naming the path and the reason, which the collectors record
//! and carry on: one missing attribute degrades one field, never the run.
#![forbid(unsafe_code)]

mod sysroot;

pub use sysroot::{ReadError, Reason, SysRoot};
