//! Shared by the fixture tests: where the third-party fixtures are.

use std::path::PathBuf;

/// `tests/fixtures/<sub>`, checked to exist: a missing fixture fails the test, it is part of the
/// suite (tests/fixtures/README.md says where each came from).
pub(crate) fn fixtures(sub: &str) -> PathBuf {
    let dir = PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/../tests/fixtures")).join(sub);
    assert!(dir.is_dir(), "fixtures not found at {}", dir.display());
    dir
}
