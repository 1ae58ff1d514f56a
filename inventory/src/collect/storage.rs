//! Block devices and NVMe controllers.

use super::Reader;
use crate::model::Storage;

pub(super) fn collect(_r: &mut Reader<'_>, _out: &mut Storage) {}
