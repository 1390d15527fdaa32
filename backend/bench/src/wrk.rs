//! The load generator: `wrk` run for a while against one URL, and its summary read back.

use std::path::Path;
use std::process::Command;

use anyhow::{Context, bail};

/// What `wrk` measured: requests per second, latency percentiles in ms, and the answers
/// that were not 2xx or 3xx.
pub struct Load {
    pub rps: f64,
    pub p50: f64,
    pub p99: f64,
    pub errors: u64,
}

/// `wrk -t1 -c32` for `seconds` against `url` with `token` as the bearer (with `script`
/// choosing paths when given).
pub fn wrk(url: &str, token: &str, seconds: u64, script: Option<&Path>) -> anyhow::Result<Load> {
    let mut cmd = Command::new("wrk");
    cmd.args(["-t1", "-c32", "--latency", "--timeout", "5s"])
        .arg(format!("-d{seconds}s"))
        .arg("-H")
        .arg(format!("Authorization: Bearer {token}"));
    if let Some(s) = script {
        cmd.arg("-s").arg(s);
    }
    let out = cmd.arg(url).output().context("running wrk")?;
    let text = String::from_utf8_lossy(&out.stdout).to_string();
    if !out.status.success() {
        bail!("wrk failed: {text}{}", String::from_utf8_lossy(&out.stderr));
    }
    Ok(parse(&text))
}

/// `wrk --latency`'s summary.
fn parse(text: &str) -> Load {
    let field = |prefix: &str| -> Option<String> {
        text.lines()
            .map(str::trim)
            .find(|l| l.starts_with(prefix))
            .and_then(|l| l.split_whitespace().nth(1))
            .map(str::to_string)
    };
    let errors = text
        .lines()
        .find(|l| l.contains("Non-2xx or 3xx responses:"))
        .and_then(|l| l.split(':').nth(1))
        .and_then(|n| n.trim().parse().ok())
        .unwrap_or(0);
    Load {
        rps: field("Requests/sec:")
            .and_then(|v| v.parse().ok())
            .unwrap_or(f64::NAN),
        p50: field("50%").map_or(f64::NAN, |v| ms(&v)),
        p99: field("99%").map_or(f64::NAN, |v| ms(&v)),
        errors,
    }
}

/// A `wrk` duration (`812.00us`, `1.25ms`, `2.01s`) in ms.
fn ms(v: &str) -> f64 {
    let num = |s: &str| s.parse::<f64>().unwrap_or(f64::NAN);
    if let Some(x) = v.strip_suffix("us") {
        num(x) / 1000.0
    } else if let Some(x) = v.strip_suffix("ms") {
        num(x)
    } else if let Some(x) = v.strip_suffix('s') {
        num(x) * 1000.0
    } else {
        num(v)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_summary_gives_rate_percentiles_and_errors_in_ms() {
        let text = "Running 8s test @ http://127.0.0.1:1234/api/approvals\n\
            \x20 1 threads and 32 connections\n\
            \x20 Latency Distribution\n\
            \x20    50%  812.00us\n\
            \x20    75%    1.10ms\n\
            \x20    90%    1.50ms\n\
            \x20    99%    2.50s\n\
            \x20 80000 requests in 8.00s, 10.00MB read\n\
            \x20 Non-2xx or 3xx responses: 12\n\
            Requests/sec:  10000.50\n";
        let load = parse(text);
        assert_eq!(load.rps, 10000.5);
        assert!((load.p50 - 0.812).abs() < 1e-9);
        assert_eq!(load.p99, 2500.0);
        assert_eq!(load.errors, 12);
    }
}
