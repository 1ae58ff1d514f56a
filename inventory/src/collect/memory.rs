//! Memory.

use super::Reader;
use crate::model::Memory;
use crate::smbios::Structure;

pub(super) fn collect(_r: &mut Reader<'_>, _s: &[Structure<'_>], _m: &mut Memory) {}
