//! The task token never leaves the server: over a whole approval (intake, lists, reads,
//! votes, the decision and its delivery, console pages, emails), every response body and
//! header, every outbox message and every log line of a real `hanko serve` process is
//! searched for each task token.

use base64::Engine;
use hanko_e2e::{Options, Stack, example_input};
use serde_json::json;

/// Every MIME part of an email, decoded from base64 or quoted-printable, so that a token
/// hidden by a transfer encoding is found too.
fn decoded_parts(raw: &str) -> String {
    let mut out = String::new();
    let mut encoding = String::new();
    let mut lines = raw.lines().peekable();
    while let Some(line) = lines.next() {
        if let Some(v) = line
            .to_ascii_lowercase()
            .strip_prefix("content-transfer-encoding:")
        {
            encoding = v.trim().to_string();
            continue;
        }
        if !line.is_empty() {
            continue;
        }
        // A blank line: the body of the part whose headers were just read.
        let mut body = Vec::new();
        while let Some(l) = lines.peek() {
            if l.starts_with("--") {
                break;
            }
            body.push(lines.next().unwrap());
        }
        match encoding.as_str() {
            "base64" => {
                let compact: String = body.concat().split_whitespace().collect();
                let bytes = base64::engine::general_purpose::STANDARD
                    .decode(compact)
                    .expect("a base64 part");
                out.push_str(&String::from_utf8_lossy(&bytes));
            }
            "quoted-printable" => out.push_str(&unquote(&body.join("\n"))),
            _ => out.push_str(&body.join("\n")),
        }
        encoding.clear();
    }
    out
}

fn unquote(qp: &str) -> String {
    let qp = qp.replace("=\n", "");
    let mut bytes = Vec::new();
    let b = qp.as_bytes();
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'='
            && i + 2 < b.len()
            && let Some(v) = std::str::from_utf8(&b[i + 1..i + 3])
                .ok()
                .and_then(|h| u8::from_str_radix(h, 16).ok())
        {
            bytes.push(v);
            i += 3;
            continue;
        }
        bytes.push(b[i]);
        i += 1;
    }
    String::from_utf8_lossy(&bytes).into_owned()
}

/// Keeps every header of a response.
fn record(seen: &mut String, r: &reqwest::Response) {
    for (k, v) in r.headers() {
        seen.push_str(&format!("{k}: {}\n", String::from_utf8_lossy(v.as_bytes())));
    }
}

/// GETs `path` and keeps all of the answer.
async fn get(stack: &Stack, seen: &mut String, path: String, token: Option<&str>) {
    let mut rb = stack.http.get(format!("{}{path}", stack.base));
    if let Some(t) = token {
        rb = rb.bearer_auth(t);
    }
    let r = rb.send().await.unwrap();
    record(seen, &r);
    seen.push_str(&r.text().await.unwrap());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn no_task_token_shows_in_any_response_page_email_or_log_line() {
    let stack = Stack::start_opts(Options {
        console: true,
        process: true,
        ..Options::default()
    })
    .await
    .expect("stack (build the console first)");
    let mut seen = String::new();

    let mut execs = Vec::new();
    for (name, approvers) in [
        ("secret-approve", json!(["alice@example.com"])),
        ("secret-reject", json!(["group:release-managers"])),
        // Alice must see all three (a request is shown only to its approvers).
        (
            "secret-left",
            json!(["carol@example.com", "alice@example.com"]),
        ),
    ] {
        execs.push(
            stack
                .start_execution(name, example_input(name, approvers, 1))
                .await
                .unwrap(),
        );
    }
    let alice = stack
        .login("alice@example.com", "alice-approves")
        .await
        .unwrap();
    let mut ids = Vec::new();
    for name in ["secret-approve", "secret-reject", "secret-left"] {
        ids.push(stack.wait_for_request(name, &alice).await.unwrap());
    }
    for path in [
        "/api/approvals?status=all".to_string(),
        "/api/approvals?status=pending&mine=true".to_string(),
        "/api/me".to_string(),
        "/.well-known/jwks.json".to_string(),
        "/".to_string(),
        "/approvals".to_string(),
        "/history".to_string(),
    ] {
        get(&stack, &mut seen, path, Some(&alice)).await;
    }
    for id in &ids {
        get(
            &stack,
            &mut seen,
            format!("/api/approvals/{id}"),
            Some(&alice),
        )
        .await;
        get(&stack, &mut seen, format!("/approvals/{id}"), None).await;
    }
    for (id, body) in [
        (&ids[0], json!({"decision": "approve", "comment": "fine"})),
        (&ids[1], json!({"decision": "reject", "comment": "not now"})),
    ] {
        let r = stack
            .http
            .post(format!("{}/api/approvals/{id}/decision", stack.base))
            .bearer_auth(&alice)
            .json(&body)
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 200);
        record(&mut seen, &r);
        seen.push_str(&r.text().await.unwrap());
    }
    for e in &execs[..2] {
        stack.wait_for_end(e).await.unwrap();
    }
    for id in &ids {
        get(
            &stack,
            &mut seen,
            format!("/api/approvals/{id}"),
            Some(&alice),
        )
        .await;
    }
    get(
        &stack,
        &mut seen,
        "/api/approvals?status=all".into(),
        Some(&alice),
    )
    .await;

    // The tokens, from the server's own database.
    let db = rusqlite::Connection::open(stack.database()).unwrap();
    let tokens: Vec<String> = db
        .prepare("SELECT task_token FROM requests")
        .unwrap()
        .query_map([], |r| r.get(0))
        .unwrap()
        .collect::<Result<_, _>>()
        .unwrap();
    assert_eq!(tokens.len(), 3);
    let mut mails = String::new();
    for e in std::fs::read_dir(stack.outbox()).unwrap() {
        let raw = std::fs::read_to_string(e.unwrap().path()).unwrap();
        mails.push_str(&raw);
        mails.push_str(&decoded_parts(&raw));
    }
    assert!(mails.contains("/approvals/"), "the emails were written");
    let log = stack.hanko_log();
    assert!(
        log.contains("the workflow was told"),
        "the log was captured: {log}"
    );
    for token in &tokens {
        assert!(token.len() > 20, "a real task token: {token}");
        // A token is long; a telling slice of it is enough to find a leak.
        let needle = &token[..32.min(token.len())];
        assert!(!seen.contains(needle), "a response carried a task token");
        assert!(!mails.contains(needle), "an email carried a task token");
        assert!(!log.contains(needle), "a log line carried a task token");
    }
    eprintln!(
        "token secrecy: {} tokens searched in {} bytes of responses, {} bytes of email, {} log lines",
        tokens.len(),
        seen.len(),
        mails.len(),
        log.lines().count()
    );
    stack.stop().await.unwrap();
}
