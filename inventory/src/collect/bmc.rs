//! The BMC: presence, and its identity and LAN configuration over IPMI.

use std::time::Duration;

use super::{DeviceIo, Reader};
use crate::model::Bmc;
use crate::smbios::Structure;

pub(super) fn collect(
    _r: &mut Reader<'_>,
    _dev: &dyn DeviceIo,
    _structs: &[Structure<'_>],
    _timeout: Duration,
    _out: &mut Bmc,
) {
}
