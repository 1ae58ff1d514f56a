//! Identity from SMBIOS.

use super::{Reader, Tables};
use crate::model::Inventory;
use crate::smbios::Structure;

pub(super) fn system(_r: &mut Reader<'_>, _t: &Tables, _s: &[Structure<'_>], _inv: &mut Inventory) {}
