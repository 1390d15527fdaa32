//! An in-process Hanko for Router tests: SQLite in memory, a file outbox in a temp dir,
//! the dev identity provider, and a recording stand-in for Step Functions (the real one
//! runs in the end-to-end tests under tests/).
#![allow(dead_code)]

use std::sync::{Arc, Mutex, OnceLock};

use async_trait::async_trait;
use axum::Router;
use axum::body::Body;
use axum::http::{Request, StatusCode, header};
use hanko::auth::dev::{DevIdp, DevUser, hash_password};
use hanko::auth::{Authenticator, TrustedIssuer};
use hanko::domain::{PolicyDocument, RequestId, TaskToken};

/// The id `id` as the store takes it.
pub fn rid(id: &str) -> RequestId {
    RequestId::parse(id).expect("a request id")
}

/// A task token for tests.
pub fn token(t: &str) -> TaskToken {
    TaskToken::parse(t).expect("a task token")
}
use hanko::http::{AppState, Policy, router};
use hanko::keys::EcKey;
use hanko::metrics::{Metrics, Recorded};
use hanko::notifier::FileOutbox;
use hanko::policy_source::Policies;
use hanko::service::{DeliveryPolicy, Hanko};
use hanko::signer::LocalSigner;
use hanko::store::Callback;
use hanko::store::sqlite::SqliteStore;
use hanko::workflow::{CallbackError, Execution, ExecutionState, Workflow};
use http_body_util::BodyExt;
use serde_json::{Value, json};
use tower::ServiceExt;

pub const PASSWORD: &str = "hanko-test-password";

#[derive(Clone, Copy, PartialEq, Eq)]
pub enum Answer {
    Accept,
    Gone,
    Throttled,
    /// Accepts after this many milliseconds.
    Slow(u64),
    /// A timeout: the call may have reached Step Functions.
    Silence,
}

/// Records every callback; answers as told.
pub struct RecordingWorkflow {
    pub sent: Mutex<Vec<(String, Callback)>>,
    pub answer: Mutex<Answer>,
    /// What `DescribeExecution` says of every execution.
    pub execution: Mutex<ExecutionState>,
    /// The state machine `DescribeExecution` names; `None`: the one in the execution's ARN.
    pub state_machine: Mutex<Option<String>>,
}

impl RecordingWorkflow {
    /// Accepts every callback; every execution runs.
    pub fn accepting() -> Self {
        Self {
            sent: Mutex::new(Vec::new()),
            answer: Mutex::new(Answer::Accept),
            execution: Mutex::new(ExecutionState::Running),
            state_machine: Mutex::new(None),
        }
    }
}

#[async_trait]
impl Workflow for RecordingWorkflow {
    async fn send(&self, token: &TaskToken, cb: &Callback) -> Result<(), CallbackError> {
        let answer = *self.answer.lock().unwrap();
        if let Answer::Slow(ms) = answer {
            tokio::time::sleep(std::time::Duration::from_millis(ms)).await;
        }
        match answer {
            Answer::Accept | Answer::Slow(_) => {
                self.sent
                    .lock()
                    .unwrap()
                    .push((token.expose().to_string(), cb.clone()));
                Ok(())
            }
            Answer::Gone => Err(CallbackError::TaskGone("InvalidToken".into())),
            Answer::Throttled => Err(CallbackError::Transient("ThrottlingException".into())),
            Answer::Silence => Err(CallbackError::Unknown("timed out".into())),
        }
    }

    async fn execution_status(&self, _arn: &str) -> Result<ExecutionState, String> {
        Ok(self.execution.lock().unwrap().clone())
    }

    async fn describe_execution(&self, arn: &str) -> Result<Execution, String> {
        let own = hanko::domain::intake::state_machine_of(arn);
        Ok(Execution {
            state: self.execution.lock().unwrap().clone(),
            state_machine_arn: self.state_machine.lock().unwrap().clone().or(own),
        })
    }
}

/// Signs with a local key; while `hold_until` is set, only after that time (a slow KMS).
pub struct HeldSigner {
    inner: LocalSigner,
    pub hold_until: Mutex<Option<chrono::DateTime<chrono::Utc>>>,
}

#[async_trait]
impl hanko::signer::Signer for HeldSigner {
    fn kid(&self) -> &str {
        hanko::signer::Signer::kid(&self.inner)
    }

    fn jwks(&self) -> Value {
        hanko::signer::Signer::jwks(&self.inner)
    }

    async fn sign(&self, record: &hanko_api::DecisionRecord) -> anyhow::Result<String> {
        let until = *self.hold_until.lock().unwrap();
        if let Some(wait) = until.and_then(|t| (t - chrono::Utc::now()).to_std().ok()) {
            tokio::time::sleep(wait).await;
        }
        hanko::signer::Signer::sign(&self.inner, record).await
    }
}

pub struct TestApp {
    pub app: Router,
    pub hanko: Arc<Hanko>,
    pub workflow: Arc<RecordingWorkflow>,
    pub outbox: tempfile::TempDir,
    /// The app's signer, to slow it down.
    pub signer: Arc<HeldSigner>,
    /// The metric lines (EMF) the app wrote.
    pub metrics: Recorded,
}

fn users() -> Vec<DevUser> {
    static HASH: OnceLock<String> = OnceLock::new();
    let hash = HASH
        .get_or_init(|| hash_password(PASSWORD).unwrap())
        .clone();
    let user = |email: &str, name: &str, groups: &[&str]| DevUser {
        email: email.into(),
        name: name.into(),
        groups: groups.iter().map(|g| g.to_string()).collect(),
        password_hash: hash.clone(),
    };
    vec![
        user("alice@example.com", "Alice", &["release-managers"]),
        user(
            "bob@example.com",
            "Bob",
            &["developers", "release-managers"],
        ),
        user("carol@example.com", "Carol", &["release-managers"]),
        user("mallory@example.com", "Mallory", &["developers"]),
        user("dave@example.com", "Dave", &["auditors"]),
    ]
}

pub fn test_app() -> TestApp {
    test_app_with(true)
}

pub fn test_app_with(dev_login: bool) -> TestApp {
    test_app_configured(
        dev_login,
        Policy::default(),
        DeliveryPolicy::default(),
        Vec::new(),
    )
}

pub fn test_app_with_policy(policy: Policy) -> TestApp {
    test_app_configured(true, policy, DeliveryPolicy::default(), Vec::new())
}

pub fn test_app_full(dev_login: bool, delivery: DeliveryPolicy) -> TestApp {
    test_app_configured(dev_login, Policy::default(), delivery, Vec::new())
}

/// The test app, also trusting `issuers` (an OIDC provider the test serves).
pub fn test_app_trusting(dev_login: bool, issuers: Vec<TrustedIssuer>) -> TestApp {
    test_app_configured(
        dev_login,
        Policy::default(),
        DeliveryPolicy::default(),
        issuers,
    )
}

/// The api's rules, the delivery pacing and extra trusted issuers, without an approval
/// policy document.
pub fn test_app_configured(
    dev_login: bool,
    policy: Policy,
    delivery: DeliveryPolicy,
    issuers: Vec<TrustedIssuer>,
) -> TestApp {
    test_app_built(dev_login, policy, delivery, issuers, Policies::Absent)
}

/// The test app holding requests to the operator's approval policy document `doc`.
pub fn test_app_governed(doc: &str) -> TestApp {
    let doc = PolicyDocument::parse(doc).expect("a valid policy document");
    test_app_built(
        true,
        Policy::default(),
        DeliveryPolicy::default(),
        Vec::new(),
        Policies::Fixed(Arc::new(doc)),
    )
}

/// The test app, publishing no events.
pub fn test_app_built(
    dev_login: bool,
    policy: Policy,
    delivery: DeliveryPolicy,
    issuers: Vec<TrustedIssuer>,
    policies: Policies,
) -> TestApp {
    test_app_publishing(
        dev_login,
        policy,
        delivery,
        issuers,
        policies,
        Arc::new(hanko::events::NoEvents),
    )
}

/// The one constructor; the app publishes its events to `events`.
pub fn test_app_publishing(
    dev_login: bool,
    policy: Policy,
    delivery: DeliveryPolicy,
    issuers: Vec<TrustedIssuer>,
    policies: Policies,
    events: Arc<dyn hanko::events::Events>,
) -> TestApp {
    let outbox = tempfile::tempdir().unwrap();
    let workflow = Arc::new(RecordingWorkflow::accepting());
    let idp = Arc::new(DevIdp::new(users(), EcKey::generate().unwrap()).unwrap());
    let signer = Arc::new(HeldSigner {
        inner: LocalSigner::new(EcKey::generate().unwrap(), vec![]),
        hold_until: Mutex::new(None),
    });
    let (metrics, recorded) = Metrics::memory("Hanko/test");
    let hanko = Arc::new(Hanko {
        store: Arc::new(SqliteStore::in_memory().unwrap()),
        workflow: workflow.clone(),
        notifier: Arc::new(FileOutbox {
            dir: outbox.path().to_path_buf(),
            from: "hanko@example.com".into(),
            public_url: "http://console.example".into(),
            directory: idp.clone(),
        }),
        signer: signer.clone(),
        delivery,
        policies,
        reconcile_from: Default::default(),
        passkeys: hanko::passkeys::Passkeys::localhost(),
        metrics,
        events,
    });
    let state = AppState {
        hanko: hanko.clone(),
        auth: Arc::new(Authenticator::new(
            std::iter::once(idp.trusted_issuer())
                .chain(issuers)
                .collect(),
        )),
        dev_idp: dev_login.then_some(idp),
        policy: Arc::new(policy),
    };
    TestApp {
        app: router(state, None),
        hanko,
        workflow,
        outbox,
        signer,
        metrics: recorded,
    }
}

pub fn intake_message(token: &str, overrides: Value) -> Value {
    // The execution name must not repeat the token: the test checks the token never shows.
    let run = format!("run-{}", token.bytes().map(u32::from).sum::<u32>());
    let mut m = json!({
        "taskToken": token,
        "execution": {"Id": format!("arn:aws:states:ap-northeast-1:123456789012:execution:deploy:{run}"), "Name": run},
        "stateMachine": {"Id": "arn:aws:states:ap-northeast-1:123456789012:stateMachine:deploy", "Name": "deploy"},
        "state": {"Name": "AskForApproval"},
        "title": "Deploy shop-api v1.4.2 to production",
        "description": "Release notes: fixes checkout rounding.",
        "details": {"service": "shop-api", "version": "1.4.2"},
        "approvers": ["alice@example.com", "group:release-managers"],
        "requiredApprovals": 1,
        "requestedBy": "bob@example.com",
        "timeoutSeconds": 3600
    });
    for (k, v) in overrides.as_object().unwrap() {
        m[k] = v.clone();
    }
    m
}

pub struct Resp {
    pub status: StatusCode,
    pub headers: axum::http::HeaderMap,
    pub body: Value,
    pub text: String,
}

impl TestApp {
    /// Creates a request through the intake, as a workflow would; returns its id.
    pub async fn seed(&self, token: &str, overrides: Value) -> String {
        match self
            .hanko
            .intake(&intake_message(token, overrides), None)
            .await
            .unwrap()
        {
            hanko::service::IntakeOutcome::Created { id } => id.to_string(),
            other => panic!("seed failed: {other:?}"),
        }
    }

    pub async fn call(
        &self,
        method: &str,
        uri: &str,
        token: Option<&str>,
        body: Option<Value>,
    ) -> Resp {
        let mut b = Request::builder().method(method).uri(uri);
        if let Some(t) = token {
            b = b.header(header::AUTHORIZATION, format!("Bearer {t}"));
        }
        let req = match body {
            Some(v) => b
                .header(header::CONTENT_TYPE, "application/json")
                .body(Body::from(v.to_string()))
                .unwrap(),
            None => b.body(Body::empty()).unwrap(),
        };
        self.send(req).await
    }

    pub async fn send(&self, req: Request<Body>) -> Resp {
        let resp = self.app.clone().oneshot(req).await.unwrap();
        let status = resp.status();
        let headers = resp.headers().clone();
        let bytes = resp.into_body().collect().await.unwrap().to_bytes();
        let text = String::from_utf8_lossy(&bytes).into_owned();
        let body = serde_json::from_slice(&bytes).unwrap_or(Value::Null);
        Resp {
            status,
            headers,
            body,
            text,
        }
    }

    /// `POST /api/approvals/{id}/decision` as the holder of `token`.
    pub async fn decide(&self, id: &(impl AsRef<str> + ?Sized), token: &str, body: Value) -> Resp {
        let uri = format!("/api/approvals/{}/decision", id.as_ref());
        self.call("POST", &uri, Some(token), Some(body)).await
    }

    /// `GET /api/approvals/{id}` as the holder of `token`.
    pub async fn read(&self, id: &(impl AsRef<str> + ?Sized), token: &str) -> Resp {
        let uri = format!("/api/approvals/{}", id.as_ref());
        self.call("GET", &uri, Some(token), None).await
    }

    pub async fn login(&self, email: &str) -> String {
        let r = self
            .call(
                "POST",
                "/api/dev/login",
                None,
                Some(json!({"email": email, "password": PASSWORD})),
            )
            .await;
        assert_eq!(r.status, StatusCode::OK, "login {email}: {}", r.text);
        r.body["token"].as_str().unwrap().to_string()
    }

    pub fn callbacks(&self) -> Vec<(String, Callback)> {
        self.workflow.sent.lock().unwrap().clone()
    }

    pub fn answer(&self, a: Answer) {
        *self.workflow.answer.lock().unwrap() = a;
    }
}

/// Asserts the error shape and code.
pub fn assert_error(r: &Resp, status: StatusCode, code: &str) {
    assert_eq!(r.status, status, "body: {}", r.text);
    assert_eq!(r.body["error"]["code"], code, "body: {}", r.text);
    assert!(
        r.body["error"]["message"]
            .as_str()
            .is_some_and(|m| !m.is_empty()),
        "no message: {}",
        r.text
    );
}
