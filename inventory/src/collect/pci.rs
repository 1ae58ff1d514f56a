//! PCI devices and accelerators.

use super::Reader;
use crate::model::Inventory;
use crate::smbios::Structure;

pub(super) fn collect(_r: &mut Reader<'_>, _s: &[Structure<'_>], _inv: &mut Inventory) {}
