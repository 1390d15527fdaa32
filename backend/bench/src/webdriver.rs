//! Headless Chromium through chromedriver, spoken to in WebDriver's JSON over HTTP: only
//! what the console wait measurement needs (a session with a fresh profile, navigation,
//! scripts, chromedriver's network emulation and its DevTools passthrough).

use std::process::{Child, Command, Stdio};
use std::time::Duration;

use anyhow::{Context, bail};
use serde_json::{Value, json};

use crate::serve::wait_until_answering;

/// chromedriver on a free port of 127.0.0.1; stopped when dropped.
pub struct Driver {
    child: Child,
    url: String,
    http: reqwest::Client,
}

impl Driver {
    pub async fn start() -> anyhow::Result<Self> {
        let port = std::net::TcpListener::bind("127.0.0.1:0")?
            .local_addr()?
            .port();
        let child = Command::new("chromedriver")
            .arg(format!("--port={port}"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .context("starting chromedriver (Debian's chromium-driver)")?;
        let driver = Self {
            child,
            url: format!("http://127.0.0.1:{port}"),
            http: reqwest::Client::new(),
        };
        let status = format!("{}/status", driver.url);
        wait_until_answering(&status, "chromedriver", Duration::from_secs(30)).await?;
        Ok(driver)
    }

    /// A new headless Chromium with an empty profile in `profile` (so an empty cache).
    pub async fn session(&self, profile: &std::path::Path) -> anyhow::Result<Session<'_>> {
        let caps = json!({"capabilities": {"alwaysMatch": {"goog:chromeOptions": {
            "binary": "/usr/bin/chromium",
            "args": [
                "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic",
                "--no-first-run", "--disable-background-networking",
                "--disable-component-update", "--disable-sync",
                "--window-size=1280,900", "--lang=en-US",
                format!("--user-data-dir={}", profile.display()),
            ]
        }}}});
        let v = self.call("POST", "/session", caps).await?;
        let id = v["sessionId"]
            .as_str()
            .context("chromedriver gave no session id")?;
        Ok(Session {
            driver: self,
            id: id.to_string(),
        })
    }

    async fn call(&self, method: &str, path: &str, body: Value) -> anyhow::Result<Value> {
        let url = format!("{}{path}", self.url);
        let req = match method {
            "GET" => self.http.get(url),
            "DELETE" => self.http.delete(url),
            _ => self.http.post(url).json(&body),
        };
        let v: Value = req.send().await?.json().await?;
        if let Some(err) = v["value"].get("error") {
            bail!(
                "chromedriver {method} {path}: {err}: {}",
                v["value"]["message"]
            );
        }
        Ok(v["value"].clone())
    }
}

impl Drop for Driver {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// One browser; call [`Session::close`] when done.
pub struct Session<'a> {
    driver: &'a Driver,
    id: String,
}

impl Session<'_> {
    async fn call(&self, method: &str, path: &str, body: Value) -> anyhow::Result<Value> {
        self.driver
            .call(method, &format!("/session/{}{path}", self.id), body)
            .await
    }

    /// Opens `url` and waits for its load event.
    pub async fn goto(&self, url: &str) -> anyhow::Result<()> {
        self.call("POST", "/url", json!({"url": url})).await?;
        Ok(())
    }

    /// Runs `script` (a function body) in the page; its return value.
    pub async fn eval(&self, script: &str) -> anyhow::Result<Value> {
        self.call(
            "POST",
            "/execute/sync",
            json!({"script": script, "args": []}),
        )
        .await
    }

    /// A DevTools protocol command, passed through by chromedriver.
    pub async fn cdp(&self, cmd: &str, params: Value) -> anyhow::Result<Value> {
        self.call(
            "POST",
            "/goog/cdp/execute",
            json!({"cmd": cmd, "params": params}),
        )
        .await
    }

    /// Chromium's network emulation from now on: `latency` ms added to each request,
    /// throughputs in bytes per second.
    pub async fn throttle(&self, latency_ms: u64, down: u64, up: u64) -> anyhow::Result<()> {
        self.call(
            "POST",
            "/chromium/network_conditions",
            json!({"network_conditions": {"offline": false, "latency": latency_ms,
                   "download_throughput": down, "upload_throughput": up}}),
        )
        .await?;
        Ok(())
    }

    pub async fn close(self) -> anyhow::Result<()> {
        self.call("DELETE", "", Value::Null).await?;
        Ok(())
    }
}
