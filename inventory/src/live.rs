//! The live machine's [`DeviceIo`]: ethtool and IPMI ioctls.

use std::time::Duration;

use crate::collect::{DeviceError, DeviceIo, DriverInfo};

/// This machine.
#[derive(Debug, Default)]
pub struct Host;

impl DeviceIo for Host {
    fn permanent_mac(&self, _ifname: &str) -> Result<Vec<u8>, DeviceError> {
        Err(DeviceError::Unsupported)
    }
    fn driver_info(&self, _ifname: &str) -> Result<DriverInfo, DeviceError> {
        Err(DeviceError::Unsupported)
    }
    fn ipmi_device(&self) -> Option<String> {
        None
    }
    fn ipmi(&self, _: u8, _: u8, _: &[u8], _: Duration) -> Result<Vec<u8>, DeviceError> {
        Err(DeviceError::Unsupported)
    }
}
