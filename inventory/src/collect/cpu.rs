//! Processors.

use super::{Options, Reader};
use crate::model::Cpu;
use crate::smbios::Structure;

pub(super) fn collect(_r: &mut Reader<'_>, _s: &[Structure<'_>], _o: &Options, _cpu: &mut Cpu) {}
