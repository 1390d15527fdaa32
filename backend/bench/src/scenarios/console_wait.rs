//! What a person waits for in the console: headless Chromium (through chromedriver) against
//! `hanko serve` with the release console, a fresh profile (empty cache) for every load.
//!
//! - decision-ready: `/approvals/{id}` opened logged in (the token already in
//!   `sessionStorage`), until the approve button is there and enabled;
//! - inbox ready: `/` until the list's rows are there.
//!
//! Each on the loopback as it is and under Chromium's network emulation at Fast 3G, beside
//! a plain page of the same request: the console's own rendering of it saved as a static
//! HTML file (same markup, same stylesheet, no script), served by the same server. The
//! clock is the page's: a script added to every new document (DevTools
//! `Page.addScriptToEvaluateOnNewDocument`) watches the DOM and, once the condition holds,
//! takes `performance.now()` (milliseconds since the navigation started) in the next
//! animation frame, when the page can be painted with it. WebDriver only reads it after.
//! With `HANKO_BENCH_TIMELINE` set, each load's resource timing goes to standard error.

use std::fmt::Write as _;
use std::path::Path;
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use serde_json::{Value, json};

use crate::cli::Args;
use crate::report::{median, yes};
use crate::seed::seed;
use crate::serve::Serve;
use crate::sfn_stub::SfnStub;
use crate::webdriver::{Driver, Session};

/// Loads of each kind (median taken).
const RUNS: usize = 5;

/// A network to load over: name, and Chromium's emulation (latency ms, down and up bytes/s).
struct Net {
    name: &'static str,
    emulation: Option<(u64, u64, u64)>,
}

const NETS: [Net; 2] = [
    Net {
        name: "loopback",
        emulation: None,
    },
    Net {
        name: "Fast 3G",
        // 1.6 Mbps down, 750 kbps up, 150 ms round trip.
        emulation: Some((150, 200_000, 93_750)),
    },
];

/// A page to wait for: its name, the console's path, the plain page's, and the CSS selector
/// of the element that, present and not disabled, makes it ready.
struct Page {
    name: &'static str,
    plain: &'static str,
    selector: &'static str,
    /// Target in ms on (loopback, Fast 3G).
    target: Option<(f64, f64)>,
}

const APPROVAL: Page = Page {
    name: "decision-ready",
    plain: "/plain-approval.html",
    selector: "#approve-button",
    target: Some((150.0, 1500.0)),
};

const INBOX: Page = Page {
    name: "inbox ready",
    plain: "/plain-inbox.html",
    selector: "#request-list .request-item",
    target: None,
};

/// One load: ms from navigation start to ready, bytes over the network, JS heap in use.
#[derive(Clone, Copy)]
struct Load {
    ms: f64,
    bytes: f64,
    heap: f64,
}

pub async fn run(args: &Args, stub: &SfnStub) -> anyhow::Result<String> {
    let dir = args.work.join("console-wait");
    let _ = std::fs::remove_dir_all(&dir);
    let site = dir.join("site");
    std::fs::create_dir_all(&site)?;
    for entry in std::fs::read_dir(&args.dist)? {
        let path = entry?.path();
        if path.is_file() {
            std::fs::copy(&path, site.join(path.file_name().unwrap_or_default()))?;
        }
    }
    let compressed = site.join("index.html.br").is_file();
    let db = dir.join("hanko.db");
    let pending = seed(&db, 2_000, 20)?;
    let id = pending.last().context("no pending request seeded")?.clone();
    let serve = Serve::start(
        args,
        &db,
        &[
            ("AWS_ENDPOINT_URL", stub.url.clone()),
            ("HANKO_CONSOLE_DIR", site.display().to_string()),
        ],
        &dir.join("serve.log"),
    )
    .await?;
    let driver = Driver::start().await?;
    let approval_url = format!("{}/approvals/{id}", serve.url);
    let inbox_url = format!("{}/", serve.url);

    // The floor: the console's own rendering of each page, saved without its scripts.
    for (page, url) in [(&APPROVAL, &approval_url), (&INBOX, &inbox_url)] {
        let html = rendered(&driver, &dir, &serve.token, page, url).await?;
        let plain = site.join(page.plain.trim_start_matches('/'));
        std::fs::write(&plain, &html)?;
        if compressed {
            let z = hanko_bench::console_size::compressed(html.as_bytes());
            std::fs::write(plain.with_extension("html.br"), z.brotli)?;
            std::fs::write(plain.with_extension("html.gz"), z.gzip)?;
        }
    }

    let mut rows = Vec::new();
    for net in &NETS {
        for (page, url) in [(&APPROVAL, &approval_url), (&INBOX, &inbox_url)] {
            let plain_url = format!("{}{}", serve.url, page.plain);
            let (mut console, mut plain) = (Vec::new(), Vec::new());
            // Alternating, so that both see the machine in the same state.
            for _ in 0..RUNS {
                console.push(load(&driver, &dir, &serve.token, page, url, net).await?);
                plain.push(load(&driver, &dir, &serve.token, page, &plain_url, net).await?);
            }
            rows.push((net, page, console, plain));
        }
    }
    drop(driver);
    drop(serve);
    Ok(table(&rows, compressed))
}

/// The script added to every new document: logs alice in (her token in `sessionStorage`,
/// where the console keeps it) and records in `window.__benchReady` when the page is ready.
fn ready_script(token: &str, selector: &str) -> String {
    let expires = chrono::Utc::now().timestamp_millis() + 3_600_000;
    format!(
        r#"(function () {{
  try {{
    sessionStorage.setItem("hanko.token", {token});
    sessionStorage.setItem("hanko.expiresAt", "{expires}");
  }} catch (e) {{}}
  var fired = false;
  var obs = new MutationObserver(check);
  function check() {{
    if (fired) return;
    var el = document.querySelector({selector});
    if (!el || el.disabled) return;
    fired = true;
    obs.disconnect();
    requestAnimationFrame(function () {{ window.__benchReady = performance.now(); }});
  }}
  obs.observe(document, {{ childList: true, subtree: true, attributes: true, attributeFilter: ["disabled"] }});
}})();"#,
        token = Value::from(token),
        selector = Value::from(selector),
    )
}

/// A fresh browser (empty profile) with the ready script, on the network `net`.
async fn browser<'d>(
    driver: &'d Driver,
    dir: &Path,
    token: &str,
    page: &Page,
    net: Option<&Net>,
) -> anyhow::Result<(Session<'d>, tempfile::TempDir)> {
    let profile = tempfile::TempDir::with_prefix_in("profile-", dir)?;
    let s = driver.session(profile.path()).await?;
    if let Some((latency, down, up)) = net.and_then(|n| n.emulation) {
        s.throttle(latency, down, up).await?;
    }
    s.cdp(
        "Page.addScriptToEvaluateOnNewDocument",
        json!({"source": ready_script(token, page.selector)}),
    )
    .await?;
    Ok((s, profile))
}

/// Waits until the page says it is ready; ms since its navigation started.
async fn ready_ms(s: &Session<'_>) -> anyhow::Result<f64> {
    let t0 = Instant::now();
    loop {
        if let Some(ms) = s.eval("return window.__benchReady ?? null").await?.as_f64() {
            return Ok(ms);
        }
        if t0.elapsed() > Duration::from_secs(60) {
            let text = s
                .eval("return document.body && document.body.innerText")
                .await?;
            bail!("not ready after 60 s; the page shows: {text}");
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// One cold load of `url`.
async fn load(
    driver: &Driver,
    dir: &Path,
    token: &str,
    page: &Page,
    url: &str,
    net: &Net,
) -> anyhow::Result<Load> {
    let (s, _profile) = browser(driver, dir, token, page, Some(net)).await?;
    s.goto(url).await?;
    let ms = ready_ms(&s).await.with_context(|| url.to_string())?;
    if std::env::var_os("HANKO_BENCH_TIMELINE").is_some() {
        // Where the load spent its time: each file and api call, asked for and in (ms).
        let timeline = s
            .eval(
                "return performance.getEntries().filter(function (e) {\
                 return e.entryType === 'navigation' || e.entryType === 'resource'; })\
                 .map(function (e) { return Math.round(e.startTime) + '-' +\
                 Math.round(e.responseEnd) + ' ' + e.name.replace(location.origin, ''); })\
                 .join('\\n')",
            )
            .await?;
        eprintln!(
            "{} on {} ready at {ms:.0} ms:\n{}",
            page.name,
            net.name,
            timeline.as_str().unwrap_or_default()
        );
    }
    let bytes = s
        .eval(
            "return performance.getEntries()\
             .reduce(function (n, e) { return n + (e.transferSize || 0); }, 0)",
        )
        .await?
        .as_f64()
        .unwrap_or(f64::NAN);
    s.cdp("Performance.enable", json!({})).await?;
    let metrics = s.cdp("Performance.getMetrics", json!({})).await?;
    let heap = metrics["metrics"]
        .as_array()
        .into_iter()
        .flatten()
        .find(|m| m["name"] == "JSHeapUsedSize")
        .and_then(|m| m["value"].as_f64())
        .unwrap_or(f64::NAN);
    s.close().await?;
    Ok(Load { ms, bytes, heap })
}

/// The console's rendering of `url` once ready, without scripts and script preloads.
async fn rendered(
    driver: &Driver,
    dir: &Path,
    token: &str,
    page: &Page,
    url: &str,
) -> anyhow::Result<String> {
    let (s, _profile) = browser(driver, dir, token, page, None).await?;
    s.goto(url).await?;
    ready_ms(&s).await.with_context(|| url.to_string())?;
    let html = s
        .eval("return '<!DOCTYPE html>' + document.documentElement.outerHTML")
        .await?;
    s.close().await?;
    Ok(without_scripts(html.as_str().context("no page")?))
}

/// `html` without `<script>` elements and without `<link>`s that preload scripts or wasm.
fn without_scripts(html: &str) -> String {
    let mut out = String::with_capacity(html.len());
    let mut rest = html;
    while let Some(start) = rest.find('<') {
        out.push_str(&rest[..start]);
        rest = &rest[start..];
        if rest.starts_with("<script") {
            let end = rest
                .find("</script>")
                .map_or(rest.len(), |e| e + "</script>".len());
            rest = &rest[end..];
        } else if rest.starts_with("<link") {
            let end = rest.find('>').map_or(rest.len(), |e| e + 1);
            let tag = &rest[..end];
            if !(tag.contains("modulepreload") || tag.contains("rel=\"preload\"")) {
                out.push_str(tag);
            }
            rest = &rest[end..];
        } else {
            out.push('<');
            rest = &rest[1..];
        }
    }
    out.push_str(rest);
    out
}

type Row<'a> = (&'a Net, &'a Page, Vec<Load>, Vec<Load>);

fn table(rows: &[Row<'_>], compressed: bool) -> String {
    let mut s = String::from(
        "## Waiting in the console\n\nHeadless Chromium (Debian's, through chromedriver) \
         against `hanko serve` with the release console, each load in a fresh browser with an \
         empty profile (cold cache). **decision-ready**: `/approvals/{id}` opened logged in \
         (alice's token already in `sessionStorage`) until the approve button is there and \
         enabled; **inbox ready**: `/` until the list's rows are there. The time is the \
         page's own clock, `performance.now()` from the start of the navigation, taken by a \
         script added to each new document (DevTools \
         `Page.addScriptToEvaluateOnNewDocument`) in the first animation frame after the \
         condition holds. Fast 3G is Chromium's network emulation (1.6 Mbps down, 750 kbps \
         up, 150 ms added to each request). The plain page is the floor: the console's own \
         rendering of the same page saved as a static HTML file (same markup and \
         stylesheet, no script), served by the same server. Bytes are what the page \
         fetched (`transferSize` of its navigation and resources). Median of 5, the two \
         kinds of load alternating.\n\n\
         | wait | network | console | plain page | ratio | console bytes | plain bytes | target | console runs (ms) |\n\
         | --- | --- | ---: | ---: | ---: | ---: | ---: | --- | --- |\n",
    );
    let mut heap = None;
    for (net, page, console, plain) in rows {
        let ms = |v: &[Load]| median(&v.iter().map(|l| l.ms).collect::<Vec<_>>());
        let bytes = |v: &[Load]| median(&v.iter().map(|l| l.bytes).collect::<Vec<_>>());
        let (c, p) = (ms(console), ms(plain));
        let target = match page.target {
            Some((lo, fast3g)) => {
                let t = if net.emulation.is_some() { fast3g } else { lo };
                format!("≤ {t:.0} ms: {}", yes(c <= t))
            }
            None => "—".into(),
        };
        let runs: Vec<String> = console.iter().map(|l| format!("{:.0}", l.ms)).collect();
        let _ = writeln!(
            s,
            "| {} | {} | {c:.0} ms | {p:.0} ms | {:.1}× | {:.1} KB | {:.1} KB | {target} | {} |",
            page.name,
            net.name,
            c / p,
            bytes(console) / 1024.0,
            bytes(plain) / 1024.0,
            runs.join(", ")
        );
        if page.selector == INBOX.selector && net.emulation.is_none() {
            heap = Some((
                median(&console.iter().map(|l| l.heap).collect::<Vec<_>>()),
                median(&plain.iter().map(|l| l.heap).collect::<Vec<_>>()),
            ));
        }
    }
    if let Some((c, p)) = heap {
        let _ = writeln!(
            s,
            "\nJS heap in use once the inbox is ready (DevTools `Performance.getMetrics`, \
             `JSHeapUsedSize`, loopback, median): console {:.2} MiB, plain page {:.2} MiB. The \
             wasm's linear memory is not in it.",
            c / 1048576.0,
            p / 1048576.0
        );
    }
    let _ = writeln!(
        s,
        "\nThe server sent the console's files {}.\n",
        if compressed {
            "brotli-compressed where the browser accepted it (the build's `.br` copies)"
        } else {
            "uncompressed (the build had no `.br` copies)"
        }
    );
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_plain_page_keeps_markup_and_stylesheet_and_loses_scripts_and_their_preloads() {
        let html = r#"<html><head><link rel="stylesheet" href="/main-1.css"><script defer src="/boot.js"></script><link rel="modulepreload" href="/a.js"><link rel="preload" as="fetch" href="/a_bg.wasm"></head><body><p>a < b</p><script>x()</script></body></html>"#;
        assert_eq!(
            without_scripts(html),
            r#"<html><head><link rel="stylesheet" href="/main-1.css"></head><body><p>a < b</p></body></html>"#
        );
    }
}
