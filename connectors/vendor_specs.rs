//! Where the vendors' own spec files are: `MILLWRIGHT_VENDOR_SPECS`, or `../shared/specs` beside
//! the checkout (as in CI). They are reference files, not part of the repository; where they are
//! absent, the tests held to them say so and check nothing.

use std::path::PathBuf;

/// The folder of one vendor's files.
pub fn folder(vendor: &str) -> PathBuf {
    let root = std::env::var_os("MILLWRIGHT_VENDOR_SPECS")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../../shared/specs"));
    root.join(vendor)
}

/// Whether the vendor's files are there; when not, says on stderr that the test is skipped.
pub fn present(vendor: &str) -> bool {
    let dir = folder(vendor);
    let found = dir.is_dir();
    if !found {
        eprintln!("SKIPPED: {} not found, so nothing is checked against the vendor's files", dir.display());
    }
    found
}
