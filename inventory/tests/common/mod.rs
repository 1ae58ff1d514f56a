//! Shared by the fixture tests: where the third-party fixtures are.

use std::path::{Path, PathBuf};

/// The fixtures directory (`../shared/fixtures` beside the repository, or `$RECON_FIXTURES`),
/// checked to hold `sub`. Missing fixtures fail the test: they are part of the suite.
pub(crate) fn fixtures(sub: &str) -> PathBuf {
    let dir = std::env::var_os("RECON_FIXTURES")
        .map(PathBuf::from)
        .unwrap_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join("../../shared/fixtures"));
    assert!(dir.join(sub).is_dir(), "fixtures not found at {} (set RECON_FIXTURES)", dir.display());
    dir.join(sub)
}
