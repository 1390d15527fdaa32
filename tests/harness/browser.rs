//! A headless Chromium driven through chromedriver, for the browser tests (console.rs,
//! oidc_login.rs).

use std::process::Stdio;
use std::time::{Duration, Instant};

use fantoccini::{Client, ClientBuilder, Locator};
use serde_json::json;
use tokio::process::{Child, Command};

use crate::free_port;

pub const WAIT: Duration = Duration::from_secs(30);

/// chromedriver and one headless Chromium session; both stop when dropped or closed.
pub struct Browser {
    pub client: Client,
    _driver: Child,
    _profile: tempfile::TempDir,
}

impl Browser {
    pub async fn start() -> Browser {
        // Several providers are linked in; choose one (a second call only reports it is set).
        let _ = rustls::crypto::aws_lc_rs::default_provider().install_default();
        let port = free_port();
        let driver = Command::new("chromedriver")
            .arg(format!("--port={port}"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .kill_on_drop(true)
            .spawn()
            .expect("chromedriver (scripts/setup.sh installs it)");
        let http = reqwest::Client::new();
        let deadline = Instant::now() + WAIT;
        while http
            .get(format!("http://127.0.0.1:{port}/status"))
            .send()
            .await
            .is_err()
        {
            assert!(Instant::now() < deadline, "chromedriver did not start");
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        let profile = tempfile::tempdir().unwrap();
        let mut caps = serde_json::Map::new();
        caps.insert(
            "goog:chromeOptions".into(),
            json!({
                "binary": "/usr/bin/chromium",
                "args": [
                    "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic",
                    "--no-first-run", "--disable-background-networking",
                    "--disable-component-update", "--disable-sync",
                    "--window-size=1280,900", "--lang=en-US",
                    format!("--user-data-dir={}", profile.path().display()),
                ]
            }),
        );
        let client = ClientBuilder::rustls()
            .unwrap()
            .capabilities(caps)
            .connect(&format!("http://127.0.0.1:{port}"))
            .await
            .expect("a Chromium session");
        Browser {
            client,
            _driver: driver,
            _profile: profile,
        }
    }

    pub async fn wait_for(&self, css: &str) -> fantoccini::elements::Element {
        match self
            .client
            .wait()
            .at_most(WAIT)
            .for_element(Locator::Css(css))
            .await
        {
            Ok(e) => e,
            Err(e) => {
                // Where the browser is and what it shows, to tell why.
                let url = self.client.current_url().await.map(|u| u.to_string());
                let text = match self.client.find(Locator::Css("body")).await {
                    Ok(body) => body.text().await.unwrap_or_default(),
                    Err(_) => String::new(),
                };
                panic!("{css} did not appear: {e}; at {url:?}, showing: {text}")
            }
        }
    }

    pub async fn log_in(&self, email: &str, password: &str) {
        self.wait_for("#login-email")
            .await
            .send_keys(email)
            .await
            .unwrap();
        self.wait_for("#login-password")
            .await
            .send_keys(password)
            .await
            .unwrap();
        self.wait_for("#login-submit").await.click().await.unwrap();
    }

    pub async fn close(self) {
        self.client.close().await.unwrap();
    }
}
