//! `make bench`: measures Hanko and prints a table, also written to BENCHMARKS.md.
//!
//! Numbers, not pass/fail (except the console's byte budget, which is a test). Every
//! server it talks to is on 127.0.0.1 and every load is bounded in time.

mod cli;
mod procfs;
mod report;
mod scenarios;
mod seed;
mod serve;
mod sfn_stub;
mod webdriver;
mod wrk;

use std::time::Instant;

use clap::Parser;

use crate::cli::Args;
use crate::report::Report;
use crate::scenarios::{cold_start, console, console_wait, decide, intake, list_read};
use crate::sfn_stub::SfnStub;

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    std::fs::create_dir_all(&args.work)?;
    let mut report = Report::default();
    let started = Instant::now();
    if args.wants("console") {
        report.add(console::run(&args)?);
    }
    let stub = SfnStub::start().await?;
    if args.wants("wait") {
        // A browser that will not start costs this section, not the whole run.
        let wait = console_wait::run(&args, &stub).await;
        report.add(
            wait.unwrap_or_else(|e| format!("## Waiting in the console\n\nNot measured: {e:#}\n")),
        );
    }
    if args.wants("cold") {
        report.add(cold_start::run(&args, &stub).await?);
    }
    // Decide waits on fsync, so it runs before the list and read seeds: deleting a big seed
    // makes a disk mounted with `discard` trim for a while after, and those trims stall
    // the fsyncs that follow.
    if args.wants("decide") {
        report.add(decide::run(&args, &stub).await?);
    }
    if args.wants("serve") {
        report.add(list_read::run(&args, &stub).await?);
    }
    if args.wants("intake") {
        report.add(intake::run(&args, &stub).await?);
    }
    report.write(&args.out, started.elapsed())?;
    eprintln!("wrote {}", args.out.display());
    Ok(())
}
