//! The report: markdown sections printed as they are measured, then written with a header
//! about the machine and the change log (CHANGES.md) to BENCHMARKS.md. Also the few
//! helpers the sections share to turn measurements into table cells.

use std::fmt::Write as _;
use std::path::Path;
use std::time::Duration;

use anyhow::Context;

use crate::procfs::{cpu_model, mem_total_gib};

/// The report, section by section (markdown).
#[derive(Default)]
pub struct Report {
    sections: Vec<String>,
}

impl Report {
    pub fn add(&mut self, s: String) {
        println!("{s}");
        self.sections.push(s);
    }

    /// Writes the whole report to `out`; `took` is how long the measurements ran.
    pub fn write(&self, out: &Path, took: Duration) -> anyhow::Result<()> {
        let took = took.as_secs();
        let mut md = String::new();
        writeln!(md, "# Benchmarks\n")?;
        writeln!(
            md,
            "Measured by `make bench` on {} ({}; {} cores, {} GiB memory), in {}m{:02}s. \
             Numbers, not pass/fail: the target column says what we aim for. Everything runs \
             on the one machine, load generator included.\n",
            chrono::Utc::now().format("%Y-%m-%d %H:%M UTC"),
            cpu_model(),
            std::thread::available_parallelism().map_or(0, |n| n.get()),
            mem_total_gib(),
            took / 60,
            took % 60
        )?;
        for s in &self.sections {
            writeln!(md, "{s}")?;
        }
        md.push_str(include_str!("../CHANGES.md"));
        std::fs::write(out, md).with_context(|| format!("writing {}", out.display()))
    }
}

pub fn kb(bytes: u64) -> String {
    format!("{:.1} KB", bytes as f64 / 1024.0)
}

pub fn mib(kib: u64) -> String {
    format!("{:.1} MiB", kib as f64 / 1024.0)
}

/// A target met or not, as a table shows it.
pub fn yes(ok: bool) -> &'static str {
    if ok { "yes" } else { "**no**" }
}

pub fn median<T: Copy + PartialOrd>(v: &[T]) -> T {
    let mut s = v.to_vec();
    s.sort_by(|a, b| a.partial_cmp(b).unwrap_or(std::cmp::Ordering::Equal));
    s[s.len() / 2]
}

/// The `p` quantile (0 to 1) of sorted values, nearest rank; NaN when there are none.
pub fn percentile(sorted: &[f64], p: f64) -> f64 {
    if sorted.is_empty() {
        return f64::NAN;
    }
    let i = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[i.min(sorted.len() - 1)]
}
