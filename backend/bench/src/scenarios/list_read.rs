//! List and read under load: `hanko serve` on SQLite databases of each `--sizes` count,
//! `wrk` asking for the pending list, then for single pending requests at random.

use std::fmt::Write as _;
use std::process::Command;
use std::time::Instant;

use crate::cli::Args;
use crate::report::{mib, yes};
use crate::seed::{remove_db, seed};
use crate::serve::Serve;
use crate::sfn_stub::SfnStub;
use crate::wrk::{Load, wrk};

/// The measurements at one database size.
struct Row {
    /// Requests in the database.
    n: usize,
    /// Seconds to seed it.
    seeded: f64,
    /// The database file's bytes.
    size: u64,
    list: Load,
    read: Load,
    /// The server's peak memory after both loads, KiB.
    peak: u64,
}

pub async fn run(args: &Args, stub: &SfnStub) -> anyhow::Result<String> {
    let dir = args.work.join("serve");
    std::fs::create_dir_all(&dir)?;
    let mut rows = Vec::new();
    for &n in &args.sizes {
        let db = dir.join(format!("hanko-{n}.db"));
        let t0 = Instant::now();
        // One in twenty waits for a decision, as in a busy but healthy team.
        let pending = seed(&db, n, 20)?;
        let seeded = t0.elapsed().as_secs_f64();
        eprintln!("seeded {n} requests in {seeded:.1} s");
        // Every AWS call (the housekeeping's DescribeExecution) goes to the local stub.
        let serve = Serve::start(
            args,
            &db,
            &[("AWS_ENDPOINT_URL", stub.url.clone())],
            &dir.join(format!("serve-{n}.log")),
        )
        .await?;
        let list = wrk(
            &format!("{}/api/approvals?status=pending&limit=50", serve.url),
            &serve.token,
            args.seconds,
            None,
        )?;
        let script = dir.join(format!("read-{n}.lua"));
        let sample: Vec<String> = pending
            .iter()
            .step_by((pending.len() / 1000).max(1))
            .map(|id| format!("\"{id}\""))
            .collect();
        std::fs::write(
            &script,
            format!(
                "ids = {{{}}}\nrequest = function()\n  return wrk.format(\"GET\", \"/api/approvals/\" .. ids[math.random(#ids)])\nend\n",
                sample.join(",")
            ),
        )?;
        let read = wrk(&serve.url, &serve.token, args.seconds, Some(&script))?;
        let peak = serve.peak();
        drop(serve);
        let size = std::fs::metadata(&db).map_or(0, |m| m.len());
        rows.push(Row {
            n,
            seeded,
            size,
            list,
            read,
            peak,
        });
        remove_db(&db);
        // Freeing a big file's blocks is disk work too: done before the next measurement.
        let _ = Command::new("sync").status();
    }
    Ok(table(&rows))
}

fn table(rows: &[Row]) -> String {
    let mut s = String::from(
        "## List and read (`hanko serve`, SQLite)\n\n`wrk -t1 -c32` on 127.0.0.1 with alice's dev \
         login token: `GET /api/approvals?status=pending&limit=50` (list) and \
         `GET /api/approvals/{id}` for random pending ids (read). One request in twenty is \
         pending, the rest decided with a vote; each has two approver rows and a ~1.3 KB body. \
         Peak memory is the server's VmHWM after that load.\n\n\
         | requests | seed | db size | list req/s | list p50 | list p99 | read req/s | read p50 | read p99 | peak memory |\n\
         | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |\n",
    );
    for r in rows {
        let (list, read) = (&r.list, &r.read);
        let _ = writeln!(
            s,
            "| {} | {:.1} s | {:.0} MB | {:.0} | {:.2} ms | {:.2} ms | {:.0} | {:.2} ms | {:.2} ms | {} |",
            r.n,
            r.seeded,
            r.size as f64 / 1e6,
            list.rps,
            list.p50,
            list.p99,
            read.rps,
            read.p50,
            read.p99,
            mib(r.peak)
        );
        if list.errors + read.errors > 0 {
            let _ = writeln!(
                s,
                "\n(at {}: {} list and {} read answers were not 2xx)\n",
                r.n, list.errors, read.errors
            );
        }
    }
    let at = |n: usize| rows.iter().find(|r| r.n == n);
    if let Some(r) = at(100_000) {
        let _ = writeln!(
            s,
            "\nTargets at 100k: list ≥ 5k req/s and p99 ≤ 10 ms: {} ({:.0} req/s, p99 {:.2} ms); \
             read ≥ 10k req/s and p99 ≤ 5 ms: {} ({:.0} req/s, p99 {:.2} ms).",
            yes(r.list.rps >= 5_000.0 && r.list.p99 <= 10.0),
            r.list.rps,
            r.list.p99,
            yes(r.read.rps >= 10_000.0 && r.read.p99 <= 5.0),
            r.read.rps,
            r.read.p99
        );
    }
    if let (Some(a), Some(b)) = (at(10_000), at(1_000_000)) {
        let l = a.list.rps / b.list.rps;
        let r = a.read.rps / b.read.rps;
        let _ = writeln!(
            s,
            "Target: 1M no more than 1.5× slower than 10k. List {l:.2}× ({}), read {r:.2}× ({}).",
            yes(l <= 1.5),
            yes(r <= 1.5)
        );
    }
    s.push('\n');
    s
}
