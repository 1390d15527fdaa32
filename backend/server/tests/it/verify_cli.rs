//! `hanko verify` through the real binary: a decision approved through the api and its
//! signature checked against the JWKS the server publishes (URL and file, argument, file
//! and standard input), and every kind of forgery refused with exit code 1.

use crate::common;

use std::io::Write;
use std::process::{Command, Output, Stdio};

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use common::test_app;
use hanko::keys::EcKey;
use hanko::signer::{LocalSigner, Signer};
use hanko::store::Callback;
use hanko_api::TaskOutput;
use serde_json::{Value, json};

/// Runs `hanko verify ARGS`, with `stdin` on standard input.
fn hanko_verify(args: &[&str], stdin: Option<&str>) -> Output {
    let mut child = Command::new(env!("CARGO_BIN_EXE_hanko"))
        .arg("verify")
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("hanko runs");
    {
        let mut input = child.stdin.take().unwrap();
        if let Some(s) = stdin {
            input.write_all(s.as_bytes()).unwrap();
        }
    }
    child.wait_with_output().unwrap()
}

fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

/// A decision approved by alice through the api: (its signature, the JWKS the api serves).
async fn approved_decision() -> (String, Value) {
    let t = test_app();
    let id = t.seed("verify-token-1", json!({})).await;
    let alice = t.login("alice@example.com").await;
    let r = t
        .decide(
            &id,
            &alice,
            json!({"decision": "approve", "comment": "Ship it"}),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.text);
    let Callback::Success { output } = &t.callbacks()[0].1 else {
        panic!("not a success");
    };
    let out: TaskOutput = serde_json::from_str(output).unwrap();
    let jwks = t
        .call("GET", "/.well-known/jwks.json", None, None)
        .await
        .body;
    (out.signature, jwks)
}

fn write(dir: &tempfile::TempDir, name: &str, text: &str) -> String {
    let p = dir.path().join(name);
    std::fs::write(&p, text).unwrap();
    p.to_string_lossy().into_owned()
}

fn b64(v: &Value) -> String {
    URL_SAFE_NO_PAD.encode(v.to_string())
}

#[tokio::test]
async fn an_approved_decision_verifies_from_an_argument_a_file_and_standard_input() {
    let (jws, jwks) = approved_decision().await;
    let dir = tempfile::tempdir().unwrap();
    let jwks_file = write(&dir, "jwks.json", &jwks.to_string());
    let jws_file = write(&dir, "decision.jws", &format!("{jws}\n"));

    let o = hanko_verify(&[&jws, "--jwks", &jwks_file], None);
    assert_eq!(o.status.code(), Some(0), "{}", stdout(&o));
    let text = stdout(&o);
    assert!(text.starts_with("VALID"), "{text}");
    assert!(text.contains("approved"), "{text}");
    assert!(text.contains("alice@example.com"), "{text}");
    assert!(text.contains("\"Ship it\""), "{text}");
    assert!(text.contains("arn:aws:states:ap-northeast-1:123456789012:execution:deploy:"));

    let o = hanko_verify(&["--file", &jws_file, "--jwks", &jwks_file], None);
    assert_eq!(o.status.code(), Some(0), "{}", stdout(&o));

    let o = hanko_verify(&["--jwks", &jwks_file, "--json"], Some(&jws));
    assert_eq!(o.status.code(), Some(0), "{}", stdout(&o));
    let v: Value = serde_json::from_str(&stdout(&o)).unwrap();
    assert_eq!(v["valid"], true);
    assert_eq!(v["decision"], "approved");
    assert_eq!(v["approvers"][0]["email"], "alice@example.com");
    assert_eq!(v["approvers"][0]["comment"], "Ship it");
    assert!(v["requestId"].as_str().is_some_and(|s| !s.is_empty()));
    assert!(v["decidedAt"].as_str().is_some());
    assert!(
        v["executionArn"]
            .as_str()
            .unwrap()
            .starts_with("arn:aws:states:")
    );
    assert_eq!(v["kid"], jwks["keys"][0]["kid"]);
}

#[tokio::test]
async fn the_jwks_can_be_fetched_from_the_servers_url() {
    let t = test_app();
    let id = t.seed("verify-token-2", json!({})).await;
    let alice = t.login("alice@example.com").await;
    t.decide(&id, &alice, json!({"decision": "approve"})).await;
    let Callback::Success { output } = &t.callbacks()[0].1 else {
        panic!("not a success");
    };
    let jws = serde_json::from_str::<TaskOutput>(output)
        .unwrap()
        .signature;

    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let stop = tokio_util::sync::CancellationToken::new();
    let server = {
        let stop = stop.clone();
        // A URL that sends elsewhere: the keys must come from the URL given.
        let app = axum::Router::new()
            .route(
                "/moved.json",
                axum::routing::get(|| async {
                    axum::response::Redirect::temporary("/.well-known/jwks.json")
                }),
            )
            .merge(t.app.clone());
        tokio::spawn(async move {
            axum::serve(listener, app)
                .with_graceful_shutdown(async move { stop.cancelled().await })
                .await
        })
    };
    let url = format!("http://{addr}/.well-known/jwks.json");
    let o = tokio::task::spawn_blocking(move || hanko_verify(&["-", "--jwks", &url], Some(&jws)))
        .await
        .unwrap();
    assert_eq!(o.status.code(), Some(0), "{}", stdout(&o));
    let missing = format!("http://{addr}/no-such-jwks.json");
    let o = tokio::task::spawn_blocking(move || hanko_verify(&["x.y.z", "--jwks", &missing], None))
        .await
        .unwrap();
    assert_eq!(o.status.code(), Some(2));
    let moved = format!("http://{addr}/moved.json");
    let jws = serde_json::from_str::<TaskOutput>(output)
        .unwrap()
        .signature;
    let o = tokio::task::spawn_blocking(move || hanko_verify(&[&jws, "--jwks", &moved], None))
        .await
        .unwrap();
    assert_eq!(o.status.code(), Some(2), "a redirect was followed");
    assert!(
        String::from_utf8_lossy(&o.stderr).contains("307"),
        "{}",
        String::from_utf8_lossy(&o.stderr)
    );
    stop.cancel();
    server.await.unwrap().unwrap();
}

#[tokio::test]
async fn a_tampered_payload_is_invalid() {
    let (jws, jwks) = approved_decision().await;
    let dir = tempfile::tempdir().unwrap();
    let jwks_file = write(&dir, "jwks.json", &jwks.to_string());
    let parts: Vec<&str> = jws.split('.').collect();
    let mut payload: Value =
        serde_json::from_slice(&URL_SAFE_NO_PAD.decode(parts[1]).unwrap()).unwrap();
    payload["approvals"][0]["approver"] = json!("mallory@example.com");
    let forged = format!("{}.{}.{}", parts[0], b64(&payload), parts[2]);
    let o = hanko_verify(&[&forged, "--jwks", &jwks_file, "--json"], None);
    assert_eq!(o.status.code(), Some(1));
    let v: Value = serde_json::from_str(&stdout(&o)).unwrap();
    assert_eq!(v["valid"], false);
    assert!(v["error"].as_str().unwrap().contains("signature"));
    assert!(!stdout(&o).contains("mallory"));
}

#[tokio::test]
async fn a_decision_signed_by_a_key_not_in_the_jwks_is_invalid() {
    let (jws, jwks) = approved_decision().await;
    let dir = tempfile::tempdir().unwrap();
    let jwks_file = write(&dir, "jwks.json", &jwks.to_string());
    let parts: Vec<&str> = jws.split('.').collect();
    let record = serde_json::from_slice(&URL_SAFE_NO_PAD.decode(parts[1]).unwrap()).unwrap();
    let stranger = LocalSigner::new(EcKey::generate().unwrap(), vec![]);
    let foreign = stranger.sign(&record).await.unwrap();
    let o = hanko_verify(&[&foreign, "--jwks", &jwks_file], None);
    assert_eq!(o.status.code(), Some(1));
    assert!(stdout(&o).starts_with("INVALID"), "{}", stdout(&o));
    assert!(stdout(&o).contains(stranger.kid()));
}

#[tokio::test]
async fn unsigned_and_wrong_algorithm_decisions_are_invalid() {
    let (jws, jwks) = approved_decision().await;
    let dir = tempfile::tempdir().unwrap();
    let jwks_file = write(&dir, "jwks.json", &jwks.to_string());
    let parts: Vec<&str> = jws.split('.').collect();
    let kid = jwks["keys"][0]["kid"].as_str().unwrap();
    let unsigned = format!("{}.{}.", b64(&json!({"alg": "none", "kid": kid})), parts[1]);
    let hs256 = format!(
        "{}.{}.{}",
        b64(&json!({"alg": "HS256", "kid": kid})),
        parts[1],
        parts[2]
    );
    let es384 = format!(
        "{}.{}.{}",
        b64(&json!({"alg": "ES384", "kid": kid})),
        parts[1],
        parts[2]
    );
    for forged in [unsigned, hs256, es384] {
        let o = hanko_verify(&["--jwks", &jwks_file], Some(&forged));
        assert_eq!(o.status.code(), Some(1), "{forged}: {}", stdout(&o));
        assert!(stdout(&o).contains("alg"), "{}", stdout(&o));
    }
}

#[tokio::test]
async fn missing_input_or_keys_is_a_usage_error() {
    let (jws, jwks) = approved_decision().await;
    let dir = tempfile::tempdir().unwrap();
    let jwks_file = write(&dir, "jwks.json", &jwks.to_string());
    let not_jwks = write(&dir, "not.json", "{\"hello\": 1}");
    let missing = dir.path().join("missing.json");
    let missing = missing.to_string_lossy();
    for (args, stdin) in [
        (vec![jws.as_str()], None),
        (vec![jws.as_str(), "--jwks", &missing], None),
        (vec![jws.as_str(), "--jwks", &not_jwks], None),
        (vec!["--file", &missing, "--jwks", &jwks_file], None),
        (vec!["--jwks", &jwks_file], Some("")),
    ] {
        let o = hanko_verify(&args, stdin);
        assert_eq!(o.status.code(), Some(2), "{args:?}: {}", stdout(&o));
        assert!(!String::from_utf8_lossy(&o.stderr).is_empty());
    }
}

#[tokio::test]
async fn a_jwks_url_over_plain_http_is_refused_unless_it_is_this_machine() {
    let (jws, _) = approved_decision().await;
    for url in [
        "http://hanko.example/.well-known/jwks.json",
        "http://10.0.0.8:8080/.well-known/jwks.json",
        "ftp://hanko.example/jwks.json",
    ] {
        let o = hanko_verify(&[&jws, "--jwks", url], None);
        assert_eq!(o.status.code(), Some(2), "{url}");
        let err = String::from_utf8_lossy(&o.stderr);
        assert!(
            err.contains("--jwks") && err.contains("https://"),
            "{url}: {err}"
        );
    }
}

const POLICY: &str = r#"
default = "deny"

[[policies]]
name = "production-deploys"
stateMachines = ["arn:aws:states:*:123456789012:stateMachine:deploy"]
approvers = ["group:release-managers"]
minApprovals = 1
maxTimeoutSeconds = 86400
"#;

#[tokio::test]
async fn verify_prints_the_approval_policy_the_decision_was_held_to() {
    let t = common::test_app_governed(POLICY);
    let id = t
        .seed(
            "verify-policy",
            json!({"approvers": null, "requiredApprovals": null}),
        )
        .await;
    let alice = t.login("alice@example.com").await;
    let r = t.decide(&id, &alice, json!({"decision": "approve"})).await;
    assert_eq!(r.status, 200, "{}", r.text);
    let Callback::Success { output } = &t.callbacks()[0].1 else {
        panic!("not a success");
    };
    let out: TaskOutput = serde_json::from_str(output).unwrap();
    let jwks = t
        .call("GET", "/.well-known/jwks.json", None, None)
        .await
        .body;
    let dir = tempfile::tempdir().unwrap();
    let jwks_file = write(&dir, "jwks.json", &jwks.to_string());
    let o = hanko_verify(&[&out.signature, "--jwks", &jwks_file], None);
    assert_eq!(o.status.code(), Some(0), "{}", stdout(&o));
    let text = stdout(&o);
    let hash = r.body["policy"]["sha256"].as_str().unwrap();
    assert!(
        text.contains(&format!("policy      production-deploys (sha256 {hash})")),
        "{text}"
    );
    let o = hanko_verify(&[&out.signature, "--jwks", &jwks_file, "--json"], None);
    let v: Value = serde_json::from_str(&stdout(&o)).unwrap();
    assert_eq!(v["policy"]["approvers"], json!(["group:release-managers"]));
    assert_eq!(v["policySha256"], hash);
}

#[test]
fn policy_check_names_each_mistake_or_prints_what_each_state_machine_gets() {
    let dir = tempfile::tempdir().unwrap();
    let good = write(&dir, "policy.toml", POLICY);
    let run = |file: &str| {
        Command::new(env!("CARGO_BIN_EXE_hanko"))
            .args(["policy", "check", file, "--state-machine"])
            .arg("arn:aws:states:eu-west-1:123456789012:stateMachine:deploy")
            .output()
            .unwrap()
    };
    let o = run(&good);
    assert_eq!(o.status.code(), Some(0), "{}", stdout(&o));
    assert!(
        stdout(&o).contains("stateMachine:deploy -> \"production-deploys\""),
        "{}",
        stdout(&o)
    );
    let bad = write(
        &dir,
        "bad.json",
        r#"{"default": "deny", "policies": [{"name": "x", "stateMachines": ["*"], "approvers": ["Bob"], "minApprovals": 1, "maxTimeoutSeconds": 60}]}"#,
    );
    let o = run(&bad);
    assert_eq!(o.status.code(), Some(1), "{}", stdout(&o));
    let text = stdout(&o);
    assert!(text.starts_with("INVALID"), "{text}");
    assert!(text.contains("not an ARN pattern"), "{text}");
    assert!(
        text.contains("neither an email address nor group:NAME"),
        "{text}"
    );
}
