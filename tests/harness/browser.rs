//! A headless Chromium driven through chromedriver, for the browser tests (console.rs,
//! oidc_login.rs, a11y.rs, keyboard.rs): starting it, waiting for elements, logging in,
//! pressing keys, and running axe-core's accessibility checks on a page.

use std::process::Stdio;
use std::time::{Duration, Instant};

use fantoccini::actions::{InputSource, KeyAction, KeyActions};
use fantoccini::key::Key;
use fantoccini::{Client, ClientBuilder, Locator};
use serde_json::{Value, json};
use tokio::process::{Child, Command};

use crate::{free_port, root};

pub const WAIT: Duration = Duration::from_secs(30);

/// chromedriver and one headless Chromium session; both stop when dropped or closed.
pub struct Browser {
    pub client: Client,
    driver: Child,
    _profile: tempfile::TempDir,
}

impl Drop for Browser {
    /// Ends chromedriver's process group: chromedriver and the Chromium it started. Killing
    /// chromedriver alone leaves Chromium running when a test fails before `close()`.
    fn drop(&mut self) {
        if let Some(pid) = self.driver.id() {
            let _ = std::process::Command::new("kill")
                .args(["-KILL", "--", &format!("-{pid}")])
                .stderr(Stdio::null())
                .status();
        }
    }
}

/// How to start a [`Browser`]: its language and time zone.
#[derive(Debug, Clone)]
pub struct BrowserOptions {
    /// The browser's language (`--lang`, `navigator.languages`), e.g. "en-US", "en-GB".
    pub lang: String,
    /// An IANA time zone (`TZ` of the browser's processes), e.g. "Asia/Tokyo"; the
    /// machine's own when `None`.
    pub time_zone: Option<String>,
}

impl Default for BrowserOptions {
    fn default() -> Self {
        BrowserOptions {
            lang: "en-US".into(),
            time_zone: None,
        }
    }
}

impl Browser {
    pub async fn start() -> Browser {
        Self::start_with(BrowserOptions::default()).await
    }

    pub async fn start_with(opts: BrowserOptions) -> Browser {
        // Several providers are linked in; choose one (a second call only reports it is set).
        let _ = rustls::crypto::aws_lc_rs::default_provider().install_default();
        let port = free_port();
        let mut driver = Command::new("chromedriver");
        // chromedriver starts Chromium with its own environment; Chromium takes its time
        // zone from TZ.
        if let Some(tz) = &opts.time_zone {
            driver.env("TZ", tz);
        }
        let driver = driver
            .arg(format!("--port={port}"))
            // A process group of its own, which Chromium joins: see `Drop`.
            .process_group(0)
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
                    "--window-size=1280,900", format!("--lang={}", opts.lang),
                    format!("--user-data-dir={}", profile.path().display()),
                ],
                // `navigator.languages` (headless Chromium takes them from here, not --lang).
                "prefs": {"intl.accept_languages": opts.lang},
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
            driver,
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

    /// Logs in at the local OpenID provider's form (`infra/local/oidc-provider.mjs`).
    pub async fn log_in_at_the_provider(&self, email: &str, password: &str) {
        self.wait_for("#provider-login #email")
            .await
            .send_keys(email)
            .await
            .unwrap();
        self.wait_for("#provider-login #password")
            .await
            .send_keys(password)
            .await
            .unwrap();
        self.wait_for("#provider-submit")
            .await
            .click()
            .await
            .unwrap();
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

    /// Presses and releases `key` on whatever has the keyboard focus (no element is
    /// clicked or focused by WebDriver).
    pub async fn press(&self, key: Key) {
        self.press_with(None, key).await;
    }

    /// Presses `key` while holding `modifier` (e.g. Shift+Tab).
    pub async fn press_with(&self, modifier: Option<Key>, key: Key) {
        let mut keys = KeyActions::new("keyboard".into());
        if let Some(m) = modifier {
            keys = keys.then(KeyAction::Down { value: m.into() });
        }
        keys = keys
            .then(KeyAction::Down { value: key.into() })
            .then(KeyAction::Up { value: key.into() });
        if let Some(m) = modifier {
            keys = keys.then(KeyAction::Up { value: m.into() });
        }
        self.client.perform_actions(keys).await.unwrap();
    }

    /// Types `text` into whatever has the keyboard focus, key by key.
    pub async fn type_text(&self, text: &str) {
        let mut keys = KeyActions::new("keyboard".into());
        for c in text.chars() {
            keys = keys
                .then(KeyAction::Down { value: c })
                .then(KeyAction::Up { value: c });
        }
        self.client.perform_actions(keys).await.unwrap();
    }

    /// Whether the element with the keyboard focus matches `css`.
    pub async fn focus_is(&self, css: &str) -> bool {
        self.client
            .execute(
                "const el = document.activeElement; return !!el && el.matches(arguments[0]);",
                vec![json!(css)],
            )
            .await
            .unwrap()
            == json!(true)
    }

    /// A short description of the element with the keyboard focus, for messages.
    pub async fn focused(&self) -> String {
        let v = self
            .client
            .execute(
                "const el = document.activeElement;
                 if (!el) return 'nothing';
                 const text = (el.innerText || el.value || '').trim().slice(0, 40);
                 return el.tagName.toLowerCase() + (el.id ? '#' + el.id : '')
                   + (el.className ? '.' + String(el.className).split(' ').join('.') : '')
                   + (text ? ' \"' + text + '\"' : '');",
                vec![],
            )
            .await
            .unwrap();
        v.as_str().unwrap_or_default().to_string()
    }

    /// Whether the focused element shows that it has the focus: an outline or a box
    /// shadow on it or on its `::after` (a link whose box covers a whole row draws there).
    pub async fn focus_is_visible(&self) -> bool {
        self.client
            .execute(
                "const el = document.activeElement;
                 if (!el || el === document.body) return false;
                 const shows = (s) => (s.outlineStyle !== 'none' && parseFloat(s.outlineWidth) > 0)
                   || (s.boxShadow && s.boxShadow !== 'none');
                 return shows(getComputedStyle(el)) || shows(getComputedStyle(el, '::after'));",
                vec![],
            )
            .await
            .unwrap()
            == json!(true)
    }

    /// Presses Tab (or Shift+Tab, `back`) until the focus is on an element matching `css`,
    /// at most `max` times; each stop on the way must show its focus. Panics with the stops
    /// it passed when it does not get there.
    pub async fn tab_to(&self, css: &str, back: bool, max: usize) {
        let mut passed = Vec::new();
        for _ in 0..max {
            match back {
                true => self.press_with(Some(Key::Shift), Key::Tab).await,
                false => self.press(Key::Tab).await,
            }
            let here = self.focused().await;
            assert!(
                self.focus_is_visible().await,
                "the focus on {here} is not visible (after {passed:?})"
            );
            if self.focus_is(css).await {
                return;
            }
            passed.push(here);
        }
        panic!("{css} was not reached with {max} presses of Tab; the focus went to {passed:?}");
    }

    /// Runs axe-core (installed by scripts/setup.sh into .local/axe-core) on the page as it
    /// is, with the WCAG 2.0 and 2.1 level A and AA rules only; returns the violations.
    pub async fn axe_violations(&self) -> Vec<Value> {
        let axe = root().join(".local/axe-core/node_modules/axe-core/axe.min.js");
        let source = std::fs::read_to_string(&axe).unwrap_or_else(|e| {
            panic!(
                "{}: {e} (scripts/setup.sh installs axe-core)",
                axe.display()
            )
        });
        // As the body of a WebDriver script, which the console's CSP (no inline script, no
        // eval) does not stop; axe.min.js sets `window.axe`.
        let loaded = self
            .client
            .execute(&format!("{source}\n;return !!window.axe;"), vec![])
            .await
            .unwrap();
        assert_eq!(loaded, json!(true), "axe-core did not load");
        let result = self
            .client
            .execute_async(
                "const done = arguments[arguments.length - 1];
                 axe.run(document, {
                   runOnly: {type: 'tag', values: ['wcag2a', 'wcag2aa', 'wcag21a', 'wcag21aa']},
                   resultTypes: ['violations'],
                 }).then(
                   (r) => done({passes: r.passes.length, violations: r.violations.map((v) => ({
                     id: v.id, impact: v.impact, help: v.help, helpUrl: v.helpUrl,
                     nodes: v.nodes.map((n) => ({target: n.target, summary: n.failureSummary})),
                   }))}),
                   (e) => done({error: String(e)}),
                 );",
                vec![],
            )
            .await
            .unwrap();
        if let Some(e) = result.get("error") {
            panic!("axe.run failed: {e}");
        }
        // A run that checked nothing would pass anything.
        assert!(
            result["passes"].as_u64().unwrap_or(0) > 0,
            "axe checked nothing: {result}"
        );
        result["violations"]
            .as_array()
            .cloned()
            .unwrap_or_else(|| panic!("axe.run answered {result}"))
    }

    /// Ends the session (Chromium quits); `Drop` then stops chromedriver.
    pub async fn close(self) {
        self.client.clone().close().await.unwrap();
    }
}
