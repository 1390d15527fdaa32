//! The console's first load: the size of each wasm, js and css file of the release build,
//! raw, gzip and brotli, against the target and the budget that `console_budget` enforces.

use std::fmt::Write as _;

use hanko_bench::{CONSOLE_BROTLI_BUDGET, CONSOLE_BROTLI_TARGET, console_first_load};

use crate::cli::Args;
use crate::report::{kb, yes};

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
        "| **total** | {} | {} | **{}** |\n\nTarget ≤ {} brotli: {}. Budget (test \
         `console_budget` in backend/bench, part of `cargo test --workspace`): {} bytes \
         brotli ({}); measured {} bytes.\n",
        kb(total.raw),
        kb(total.gzip),
        kb(total.brotli),
        kb(CONSOLE_BROTLI_TARGET),
        yes(total.brotli <= CONSOLE_BROTLI_TARGET),
        CONSOLE_BROTLI_BUDGET,
        kb(CONSOLE_BROTLI_BUDGET),
        total.brotli
    );
    Ok(s)
}
