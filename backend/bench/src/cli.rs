//! The command line: what to measure, with which binaries, and where the report goes.
//! scripts/bench.sh passes its arguments through, so these flags are its interface too.

use std::path::PathBuf;

use clap::Parser;

#[derive(Parser)]
#[command(about = "Hanko's benchmarks")]
pub struct Args {
    /// The release `hanko` binary.
    #[arg(long)]
    pub hanko: PathBuf,
    /// The built console (Trunk's dist).
    #[arg(long, default_value = "dist")]
    pub dist: PathBuf,
    /// Folder with node_modules/@aws-sdk/client-sfn, for the Node.js cold start.
    #[arg(long, default_value = ".local/bench-node")]
    pub node_dir: PathBuf,
    /// moto_server, for the SQS intake benchmark.
    #[arg(long, default_value = ".venv/bin/moto_server")]
    pub moto: PathBuf,
    /// Scratch folder (databases, outboxes).
    #[arg(long, default_value = ".local/bench")]
    pub work: PathBuf,
    /// Request counts to seed for list/read.
    #[arg(long, value_delimiter = ',', default_value = "10000,100000,1000000")]
    pub sizes: Vec<usize>,
    /// Seconds of load per list/read measurement.
    #[arg(long, default_value_t = 8)]
    pub seconds: u64,
    /// Runs per cold start.
    #[arg(long, default_value_t = 7)]
    pub runs: usize,
    /// Sections to run (console, wait, cold, serve, decide, intake); all when empty.
    #[arg(long, value_delimiter = ',')]
    pub only: Vec<String>,
    /// Where the report goes.
    #[arg(long, default_value = "BENCHMARKS.md")]
    pub out: PathBuf,
}

impl Args {
    /// Whether the section `s` is to run.
    pub fn wants(&self, s: &str) -> bool {
        self.only.is_empty() || self.only.iter().any(|o| o == s)
    }
}
