//! The console's first load must not grow past its budget. Reads the release build in
//! dist/ (`make test` builds it first; by hand: scripts/build-console.sh).

use hanko_bench::{CONSOLE_BROTLI_BUDGET, console_first_load, workspace_root};

#[test]
fn the_console_first_load_stays_within_its_brotli_budget() {
    let dist = std::env::var_os("HANKO_CONSOLE_DIR")
        .map(Into::into)
        .unwrap_or_else(|| workspace_root().join("dist"));
    let (files, total) = console_first_load(&dist).unwrap_or_else(|e| {
        panic!("cannot measure the console: {e:#}");
    });
    for (name, s) in &files {
        eprintln!(
            "{name}: {} raw, {} gzip, {} brotli",
            s.raw, s.gzip, s.brotli
        );
    }
    assert!(
        total.brotli <= CONSOLE_BROTLI_BUDGET,
        "the console's first load is {} bytes brotli, over its budget of {} bytes \
         (hanko-bench CONSOLE_BROTLI_BUDGET); make it smaller rather than raise the budget",
        total.brotli,
        CONSOLE_BROTLI_BUDGET
    );
}
