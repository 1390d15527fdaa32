//! The console's first load: the size of each wasm, js and css file of the release build,
//! raw, gzip and brotli, and the budget that `console_budget` enforces. There is no byte
//! target any more (retired with issue 15): what a person waits for is measured in
//! console_wait.rs.

use std::fmt::Write as _;

use hanko_bench::{CONSOLE_BROTLI_BUDGET, console_first_load};

use crate::cli::Args;
use crate::report::kb;

pub fn run(args: &Args) -> anyhow::Result<String> {
    let (files, total) = console_first_load(&args.dist)?;
    let mut s = String::from(
        "## Console first load\n\nThe release build in dist/ (`scripts/build-console.sh`): \
         every wasm, js and css file.\n\n| file | raw | gzip -9 | brotli -q 11 |\n| --- | ---: | ---: | ---: |\n",
    );
    for (name, z) in &files {
        let _ = writeln!(
            s,
            "| {name} | {} | {} | {} |",
            kb(z.raw),
            kb(z.gzip),
            kb(z.brotli)
        );
    }
    let _ = writeln!(
        s,
        "| **total** | {} | {} | **{}** |\n\nBefore: {} brotli ({BEFORE_BROTLI} bytes) on \
         2026-12-01, with a hand-written router and JSON reader; the console has since gone \
         back to leptos_router and serde (issue 15, which retired the byte target). Budget \
         (test `console_budget` in backend/bench, part of `cargo test --workspace`): the \
         measured size rounded up to the next KB, lowered as the console shrinks and never \
         raised by accident; {} bytes brotli ({}); measured {} bytes.\n",
        kb(total.raw),
        kb(total.gzip),
        kb(total.brotli),
        kb(BEFORE_BROTLI),
        CONSOLE_BROTLI_BUDGET,
        kb(CONSOLE_BROTLI_BUDGET),
        total.brotli
    );
    Ok(s)
}

/// The first load's brotli bytes in the 2026-12-01 tables, before leptos_router and serde.
const BEFORE_BROTLI: u64 = 136_878;
