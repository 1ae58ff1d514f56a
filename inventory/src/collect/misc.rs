//! TPM, USB, power supplies and run metadata.

use super::{Options, Reader};
use crate::model::Inventory;
use crate::smbios::Structure;

pub(super) fn collect(_r: &mut Reader<'_>, _s: &[Structure<'_>], _inv: &mut Inventory) {}

pub(super) fn run(_r: &mut Reader<'_>, _o: &Options, _inv: &mut Inventory) {}
