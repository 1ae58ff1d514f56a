//! Network interfaces.

use super::{DeviceIo, Reader};
use crate::model::Nic;
use crate::smbios::Structure;

pub(super) fn collect(_r: &mut Reader<'_>, _dev: &dyn DeviceIo, _s: &[Structure<'_>], _out: &mut Vec<Nic>) {}
