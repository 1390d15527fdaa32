//! What the bench binary shares with tests: the console's first-load size (the budget test
//! in tests/console_budget.rs) and a Lambda Runtime API to start a function under (the
//! cold starts here, and the end-to-end test tests/e2e/lambda_function.rs).
//!
//! The binary's own modules (its scenarios and their helpers) sit beside these in src/ and
//! are declared in main.rs, not here.

use std::path::{Path, PathBuf};

pub mod console_size;
pub mod runtime_api;

pub use console_size::{CONSOLE_BROTLI_BUDGET, Sizes, console_first_load, sizes};

/// The workspace root (this crate is backend/bench).
pub fn workspace_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}
