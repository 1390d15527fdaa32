//! Mail scanners and link previews follow links with GET and HEAD. Nothing they can do
//! changes anything: every api route (read from the router's source) and every console
//! page, the deep link included, logged in and out, leaves the database and the
//! executions exactly as they were.

use hanko_e2e::{Stack, example_input, root};
use serde_json::json;

/// Every `.route("...")` of the api, as the router modules declare them.
fn api_routes() -> Vec<String> {
    let mut routes = Vec::new();
    let dir = root().join("backend/server/src/http");
    for entry in std::fs::read_dir(dir).unwrap() {
        let text = std::fs::read_to_string(entry.unwrap().path()).unwrap();
        for part in text.split(".route(\"").skip(1) {
            let path = part.split('"').next().unwrap();
            let full = if path.starts_with("/.well-known") {
                path.to_string()
            } else {
                format!("/api{path}")
            };
            routes.push(full);
        }
    }
    routes.sort();
    routes
}

/// Every row of every table, in a stable order.
fn dump(db: &std::path::Path) -> Vec<String> {
    let conn = rusqlite::Connection::open(db).unwrap();
    let tables: Vec<String> = conn
        .prepare("SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY name")
        .unwrap()
        .query_map([], |r| r.get(0))
        .unwrap()
        .collect::<Result<_, _>>()
        .unwrap();
    let mut out = Vec::new();
    for t in tables {
        let mut stmt = conn.prepare(&format!("SELECT * FROM {t}")).unwrap();
        let n = stmt.column_count();
        let mut rows: Vec<String> = stmt
            .query_map([], |r| {
                let mut cells = Vec::new();
                for i in 0..n {
                    cells.push(format!("{:?}", r.get_ref(i)?));
                }
                Ok(format!("{t}: {}", cells.join(" | ")))
            })
            .unwrap()
            .collect::<Result<_, _>>()
            .unwrap();
        rows.sort();
        out.extend(rows);
    }
    out
}

async fn executions(stack: &Stack) -> Vec<String> {
    let list = stack
        .sfn
        .list_executions()
        .state_machine_arn(&stack.state_machine_arn)
        .send()
        .await
        .unwrap();
    let mut out: Vec<String> = list
        .executions()
        .iter()
        .map(|e| format!("{} {:?}", e.name(), e.status()))
        .collect();
    out.sort();
    out
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn get_and_head_on_every_route_and_page_logged_in_or_out_change_nothing() {
    let stack = Stack::start_with(true)
        .await
        .expect("stack (build the console first)");
    stack
        .start_execution(
            "scanned",
            example_input("Scan me", json!(["alice@example.com"]), 1),
        )
        .await
        .unwrap();
    let alice = stack
        .login("alice@example.com", "alice-approves")
        .await
        .unwrap();
    let id = stack.wait_for_request("scanned", &alice).await.unwrap();
    // Let the intake finish its work (the email) before taking the picture.
    tokio::time::sleep(std::time::Duration::from_secs(2)).await;

    let routes = api_routes();
    for expected in [
        "/api/approvals/{id}/decision",
        "/api/dev/login",
        "/api/approvals",
        "/api/me/delegation",
    ] {
        assert!(
            routes.iter().any(|r| r == expected),
            "{expected} in {routes:?}"
        );
    }
    let pages = [
        "/",
        "/approvals",
        "/approvals/{id}",
        "/history",
        "/away",
        "/login",
        "/index.html",
    ];
    let paths: Vec<String> = routes
        .iter()
        .map(String::as_str)
        .chain(pages)
        .map(|p| p.replace("{id}", &id))
        .collect();

    let db_before = dump(&stack.database());
    let runs_before = executions(&stack).await;
    let mut calls = 0;
    for path in &paths {
        for method in [reqwest::Method::GET, reqwest::Method::HEAD] {
            for token in [Some(alice.as_str()), None] {
                let mut rb = stack
                    .http
                    .request(method.clone(), format!("{}{path}", stack.base));
                if let Some(t) = token {
                    rb = rb.bearer_auth(t);
                }
                let r = rb.send().await.unwrap();
                assert!(r.status().as_u16() < 500, "{method} {path}: {}", r.status());
                calls += 1;
            }
        }
    }
    assert_eq!(dump(&stack.database()), db_before, "the database changed");
    assert_eq!(
        executions(&stack).await,
        runs_before,
        "an execution changed"
    );
    let (_, r) = stack
        .get(&format!("/api/approvals/{id}"), &alice)
        .await
        .unwrap();
    assert_eq!(r["status"], "pending");
    assert!(r["votes"].as_array().unwrap().is_empty());
    eprintln!(
        "mail scanners: {calls} GET/HEAD calls on {} paths changed nothing",
        paths.len()
    );
    stack.stop().await.unwrap();
}
