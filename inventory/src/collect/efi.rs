//! Boot mode and EFI variables.

use super::Reader;
use crate::model::Firmware;

pub(super) fn collect(_r: &mut Reader<'_>, _fw: &mut Firmware) {}
