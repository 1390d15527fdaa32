//! Chromium's virtual authenticator, through WebDriver's WebAuthn extension (W3C WebAuthn
//! Level 2, "Automation"): a passkey device the browser tests can add, and whose user
//! verification they can make fail. fantoccini has no methods for these commands; they are
//! sent raw with [`fantoccini::Client::issue_cmd`].

use fantoccini::Client;
use fantoccini::wd::WebDriverCompatibleCommand;
use serde_json::{Value, json};

/// One command under `/session/{id}/webauthn/...`.
#[derive(Debug)]
struct WebAuthnCommand {
    /// After `/session/{id}/`.
    path: String,
    method: http::Method,
    body: Option<Value>,
}

impl WebDriverCompatibleCommand for WebAuthnCommand {
    fn endpoint(
        &self,
        base_url: &url::Url,
        session_id: Option<&str>,
    ) -> Result<url::Url, url::ParseError> {
        base_url.join(&format!(
            "session/{}/{}",
            session_id.unwrap_or_default(),
            self.path
        ))
    }

    fn method_and_body(&self, _request_url: &url::Url) -> (http::Method, Option<String>) {
        (
            self.method.clone(),
            self.body.as_ref().map(Value::to_string),
        )
    }
}

async fn send(client: &Client, method: http::Method, path: String, body: Option<Value>) -> Value {
    client
        .issue_cmd(WebAuthnCommand {
            path: path.clone(),
            method,
            body,
        })
        .await
        .unwrap_or_else(|e| panic!("WebDriver {path}: {e}"))
}

/// A virtual platform authenticator (CTAP2, internal transport, resident keys, user
/// verification), as a laptop's Touch ID or Windows Hello would be.
pub struct VirtualAuthenticator {
    pub id: String,
}

impl VirtualAuthenticator {
    /// Adds one to the browser; it verifies the person until told otherwise.
    pub async fn add(client: &Client) -> Self {
        let answer = send(
            client,
            http::Method::POST,
            "webauthn/authenticator".into(),
            Some(json!({
                "protocol": "ctap2",
                "transport": "internal",
                "hasResidentKey": true,
                "hasUserVerification": true,
                "isUserVerified": true,
                "automaticPresenceSimulation": true,
            })),
        )
        .await;
        let id = answer
            .as_str()
            .unwrap_or_else(|| panic!("an authenticator id, not {answer}"))
            .to_string();
        VirtualAuthenticator { id }
    }

    /// Whether the person's verification (PIN, fingerprint) succeeds from now on.
    pub async fn set_user_verified(&self, client: &Client, verified: bool) {
        send(
            client,
            http::Method::POST,
            format!("webauthn/authenticator/{}/uv", self.id),
            Some(json!({"isUserVerified": verified})),
        )
        .await;
    }

    /// The credentials it holds (`credentialId`, `rpId`, `signCount`, ...).
    pub async fn credentials(&self, client: &Client) -> Vec<Value> {
        let answer = send(
            client,
            http::Method::GET,
            format!("webauthn/authenticator/{}/credentials", self.id),
            None,
        )
        .await;
        answer.as_array().cloned().unwrap_or_default()
    }
}
