//! Hardware discovery for recon.
//!
//! Every file this crate reads goes through a [`SysRoot`]: a directory prefix that is `/` on a
//! live machine and a fixture tree in tests, so no test depends on the machine it runs on. Every
//! ioctl goes through a [`DeviceIo`], which tests answer from tables. A read that fails becomes a
//! [`model::Problem`] naming the path and the reason, and the collector carries on: one missing
//! attribute degrades one field, never the run.
//!
//! Unsafe code is denied everywhere but [`live`], the ioctls, where each block carries its proof.
#![deny(unsafe_code)]

mod collect;
#[allow(unsafe_code)]
pub mod live;
pub mod model;
pub mod names;
mod octets;
pub mod report;
pub mod smbios;
mod sysroot;

pub use collect::{DeviceError, DeviceIo, DriverInfo, Ipv4Entry, LinkSettings, NoDevices, Options, collect};
pub use sysroot::{ReadError, Reason, SysRoot};
