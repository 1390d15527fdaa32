//! The local OpenID provider (`infra/local/oidc-provider.mjs`: oidc-provider, an OpenID
//! Certified implementation, with the dev users) on a free port of 127.0.0.1, for the
//! console's login tests: the authorization code flow with PKCE through its login form,
//! refresh tokens, revocation, a JWKS and RP-initiated logout.
//!
//! What the provider does is read back from its log (one JSON line per event) as [`Seen`].
//! [`OidcProvider::set_token_ttl`] and [`OidcProvider::set_refresh_tokens`] change its
//! settings file, which it reads at each token.

use std::collections::HashMap;
use std::path::PathBuf;
use std::process::Stdio;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use reqwest::header::{COOKIE, LOCATION, SET_COOKIE};
use serde_json::{Value, json};
use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::process::{Child, Command};

use crate::{free_port, root};

/// The console's client id at the local provider (as in `make run`).
pub const CLIENT_ID: &str = "hanko-console";

/// What the provider did, from its log.
#[derive(Debug, Default, Clone)]
pub struct Seen {
    /// Authorization requests answered with a code (one per completed login).
    pub authorizations: usize,
    /// Authorization requests that showed the login form or went on without it.
    pub authorizations_started: usize,
    /// Codes exchanged at `/token`.
    pub code_exchanges: usize,
    /// Refresh tokens used at `/token`.
    pub refreshes: usize,
    /// Logins at the form.
    pub logins: usize,
    /// RP-initiated logouts completed (the provider's session ended).
    pub logouts: usize,
    /// Calls of `/revoke`.
    pub revocations: usize,
    /// What the provider refused, and its server errors.
    pub refusals: Vec<String>,
    /// The `state` of each authorization request, in order.
    pub states: Vec<String>,
}

/// The provider process; stopped when dropped.
pub struct OidcProvider {
    child: Child,
    port: u16,
    settings: PathBuf,
    _dir: tempfile::TempDir,
    events: Arc<Mutex<Vec<Value>>>,
    http: reqwest::Client,
}

impl OidcProvider {
    /// Starts the provider with the dev users (`infra/dev-users.json`); `unverified` emails
    /// get `email_verified: false` in their tokens.
    pub async fn start(unverified: &[&str]) -> anyhow::Result<Self> {
        let dir = tempfile::tempdir()?;
        let settings = dir.path().join("settings.json");
        std::fs::write(&settings, "{}")?;
        let script = root().join("infra/local/oidc-provider.mjs");
        anyhow::ensure!(
            root()
                .join("infra/local/node_modules/oidc-provider")
                .is_dir(),
            "infra/local/node_modules is missing: run scripts/setup.sh"
        );
        let port = free_port();
        let mut cmd = Command::new("node");
        cmd.arg(&script)
            .args(["--port", &port.to_string(), "--client-id", CLIENT_ID])
            .arg("--settings")
            .arg(&settings);
        for email in unverified {
            cmd.args(["--unverified", email]);
        }
        let mut child = cmd
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .kill_on_drop(true)
            .spawn()
            .context("starting node infra/local/oidc-provider.mjs")?;
        let events = Arc::new(Mutex::new(Vec::new()));
        let mut lines = BufReader::new(child.stdout.take().context("provider stdout")?).lines();
        let (ready_tx, ready_rx) = tokio::sync::oneshot::channel();
        let log = events.clone();
        tokio::spawn(async move {
            let mut ready = Some(ready_tx);
            while let Ok(Some(line)) = lines.next_line().await {
                let Ok(event) = serde_json::from_str::<Value>(&line) else {
                    continue;
                };
                if event["event"] == "listening"
                    && let Some(tx) = ready.take()
                {
                    let _ = tx.send(());
                }
                log.lock().unwrap().push(event);
            }
        });
        tokio::time::timeout(Duration::from_secs(20), ready_rx)
            .await
            .context("the OpenID provider did not start within 20 s")?
            .context("the OpenID provider exited at start")?;
        let http = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .build()?;
        Ok(Self {
            child,
            port,
            settings,
            _dir: dir,
            events,
            http,
        })
    }

    pub fn issuer(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    /// `hanko serve`'s flags for this provider, its tokens of `token_use` (`id` or `access`).
    pub fn hanko_args(&self, token_use: &str) -> Vec<String> {
        let i = self.issuer();
        [
            ("--oidc-issuer", i.clone()),
            ("--oidc-jwks-url", format!("{i}/jwks.json")),
            ("--oidc-client-id", CLIENT_ID.to_string()),
            ("--oidc-token-use", token_use.to_string()),
            ("--oidc-groups-claim", "groups".to_string()),
            ("--oidc-authorize-url", format!("{i}/authorize")),
            ("--oidc-token-url", format!("{i}/token")),
            ("--oidc-logout-url", format!("{i}/logout")),
        ]
        .into_iter()
        .flat_map(|(k, v)| [k.to_string(), v])
        .collect()
    }

    /// Lifetime of the ID and access tokens handed out from now on.
    pub fn set_token_ttl(&self, seconds: u64) {
        self.update_settings("tokenTtl", json!(seconds));
    }

    /// Whether logins from now on get a refresh token.
    pub fn set_refresh_tokens(&self, on: bool) {
        self.update_settings("refreshTokens", json!(on));
    }

    fn update_settings(&self, key: &str, value: Value) {
        let mut settings: Value = std::fs::read(&self.settings)
            .ok()
            .and_then(|b| serde_json::from_slice(&b).ok())
            .unwrap_or_else(|| json!({}));
        settings[key] = value;
        std::fs::write(&self.settings, settings.to_string()).expect("provider settings");
    }

    /// What the provider did so far.
    pub fn seen(&self) -> Seen {
        let mut seen = Seen::default();
        for e in self.events.lock().unwrap().iter() {
            match e["event"].as_str().unwrap_or_default() {
                "authorization.started" => {
                    seen.authorizations_started += 1;
                    if let Some(s) = e["state"].as_str() {
                        seen.states.push(s.to_string());
                    }
                }
                "authorization.success" => seen.authorizations += 1,
                "token" if e["grantType"] == "authorization_code" => seen.code_exchanges += 1,
                "token" if e["grantType"] == "refresh_token" => seen.refreshes += 1,
                "login" => seen.logins += 1,
                "logout" => seen.logouts += 1,
                "revocation" => seen.revocations += 1,
                "refused" | "login.refused" | "server_error" => seen.refusals.push(e.to_string()),
                _ => {}
            }
        }
        seen
    }

    /// Waits (up to 40 s) until `f` holds for what the provider did.
    pub async fn wait_until(&self, what: &str, f: impl Fn(&Seen) -> bool) -> Seen {
        let deadline = Instant::now() + Duration::from_secs(40);
        loop {
            let seen = self.seen();
            if f(&seen) {
                return seen;
            }
            assert!(
                Instant::now() < deadline,
                "timed out waiting for {what}: {seen:?}; {:?}",
                self.events.lock().unwrap()
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// Logs `email` in through the provider's own form, as a browser would, for a code sent
    /// to `redirect_uri` with `state`. Returns the redirect's query (`code`, `state`, `iss`).
    pub async fn authorize(
        &self,
        email: &str,
        password: &str,
        redirect_uri: &str,
        state: &str,
        challenge: &str,
    ) -> anyhow::Result<HashMap<String, String>> {
        let mut jar: HashMap<String, String> = HashMap::new();
        let mut url = reqwest::Url::parse_with_params(
            &format!("{}/authorize", self.issuer()),
            [
                ("client_id", CLIENT_ID),
                ("response_type", "code"),
                ("redirect_uri", redirect_uri),
                ("scope", "openid email profile"),
                ("state", state),
                ("code_challenge", challenge),
                ("code_challenge_method", "S256"),
            ],
        )?;
        let mut form: Option<Vec<(&str, &str)>> = None;
        for _ in 0..10 {
            let cookies = jar
                .iter()
                .map(|(k, v)| format!("{k}={v}"))
                .collect::<Vec<_>>()
                .join("; ");
            let req = match form.take() {
                Some(f) => self.http.post(url.clone()).form(&f),
                None => self.http.get(url.clone()),
            };
            let resp = req.header(COOKIE, cookies).send().await?;
            for c in resp.headers().get_all(SET_COOKIE) {
                let pair = c.to_str()?.split(';').next().unwrap_or_default();
                if let Some((k, v)) = pair.split_once('=') {
                    jar.insert(k.trim().to_string(), v.to_string());
                }
            }
            let status = resp.status();
            if let Some(to) = resp.headers().get(LOCATION) {
                let next = url.join(to.to_str()?)?;
                if next.as_str().starts_with(redirect_uri) {
                    return Ok(next.query_pairs().into_owned().collect());
                }
                url = next;
            } else if status.is_success() && url.path().starts_with("/interaction/") {
                url = url.join(&format!("{}/login", url.path()))?;
                form = Some(vec![("email", email), ("password", password)]);
            } else {
                bail!("the provider answered {status} at {url}");
            }
        }
        bail!("too many redirects logging {email} in")
    }

    /// An ID token for a dev user, from a real login at the provider (for the test's own api
    /// calls).
    pub async fn id_token(&self, email: &str, password: &str) -> anyhow::Result<String> {
        let redirect_uri = "http://127.0.0.1/auth/callback";
        let verifier = URL_SAFE_NO_PAD.encode(rand_bytes());
        let challenge = URL_SAFE_NO_PAD.encode(aws_lc_rs::digest::digest(
            &aws_lc_rs::digest::SHA256,
            verifier.as_bytes(),
        ));
        let answer = self
            .authorize(email, password, redirect_uri, "test", &challenge)
            .await?;
        let code = answer.get("code").context("no code in the answer")?;
        let tokens: Value = self
            .http
            .post(format!("{}/token", self.issuer()))
            .form(&[
                ("grant_type", "authorization_code"),
                ("code", code),
                ("client_id", CLIENT_ID),
                ("redirect_uri", redirect_uri),
                ("code_verifier", &verifier),
            ])
            .send()
            .await?
            .error_for_status()?
            .json()
            .await?;
        tokens["id_token"]
            .as_str()
            .map(str::to_string)
            .with_context(|| format!("no id_token in {tokens}"))
    }

    /// Stops the provider.
    pub async fn stop(mut self) {
        let _ = self.child.kill().await;
    }
}

fn rand_bytes() -> [u8; 32] {
    use aws_lc_rs::rand::{SecureRandom, SystemRandom};
    let mut b = [0u8; 32];
    SystemRandom::new().fill(&mut b).expect("random bytes");
    b
}
