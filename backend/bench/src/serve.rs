//! `hanko serve` as a child process on a free port of 127.0.0.1, with alice logged in
//! through the dev login; it is stopped when dropped.

use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use serde_json::{Value, json};

use crate::cli::Args;
use crate::procfs::peak_kib;

pub struct Serve {
    child: Child,
    pub url: String,
    /// alice's bearer token.
    pub token: String,
}

impl Serve {
    /// Starts `hanko serve` on the database `db` (its folder is the data folder), with
    /// `extra` environment on top of the bench's, its stderr to `log`, and waits until it
    /// answers its health check and has logged alice in.
    pub async fn start(
        args: &Args,
        db: &Path,
        extra: &[(&str, String)],
        log: &Path,
    ) -> anyhow::Result<Self> {
        let port = {
            let l = std::net::TcpListener::bind("127.0.0.1:0")?;
            l.local_addr()?.port()
        };
        let data = db.parent().unwrap_or(Path::new("."));
        let mut cmd = Command::new(&args.hanko);
        cmd.arg("serve")
            .env_clear()
            .env("PATH", std::env::var_os("PATH").unwrap_or_default())
            .env("HOME", data)
            .env("HANKO_LISTEN", format!("127.0.0.1:{port}"))
            .env("HANKO_DATA_DIR", data)
            .env("HANKO_DATABASE", db)
            .env("HANKO_DEV_USERS", "infra/dev-users.json")
            .env("HANKO_LOGIN_RATE_LIMIT", "0")
            .env("AWS_REGION", "ap-northeast-1")
            .env("AWS_ACCESS_KEY_ID", "test")
            .env("AWS_SECRET_ACCESS_KEY", "test")
            .env("AWS_EC2_METADATA_DISABLED", "true")
            .env("RUST_LOG", "warn")
            .stdout(Stdio::null())
            .stderr(std::fs::File::create(log)?);
        for (k, v) in extra {
            cmd.env(k, v);
        }
        let child = cmd.spawn().context("starting hanko serve")?;
        let url = format!("http://127.0.0.1:{port}");
        let http = reqwest::Client::new();
        let t0 = Instant::now();
        loop {
            if let Ok(r) = http.get(format!("{url}/api/health")).send().await
                && r.status().is_success()
            {
                break;
            }
            if t0.elapsed() > Duration::from_secs(60) {
                bail!("hanko serve did not start; see {}", log.display());
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        let login: Value = http
            .post(format!("{url}/api/dev/login"))
            .json(&json!({"email": "alice@example.com", "password": "alice-approves"}))
            .send()
            .await?
            .error_for_status()?
            .json()
            .await?;
        let token = login["token"].as_str().context("no token")?.to_string();
        Ok(Self { child, url, token })
    }

    /// The server's peak resident memory so far, in KiB.
    pub fn peak(&self) -> u64 {
        peak_kib(self.child.id())
    }
}

/// Waits until `url` answers at all (any status), at most `limit`; `what` names the server
/// in the error.
pub async fn wait_until_answering(url: &str, what: &str, limit: Duration) -> anyhow::Result<()> {
    let http = reqwest::Client::new();
    let t0 = Instant::now();
    while http.get(url).send().await.is_err() {
        if t0.elapsed() > limit {
            bail!("{what} did not start");
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    Ok(())
}

impl Drop for Serve {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
