//! The metrics Hanko writes (Embedded Metric Format lines), read back as CloudWatch would
//! read them: for one request's whole life, and for what goes wrong on the way.

use axum::http::StatusCode;
use hanko::metrics::CATALOGUE;
use serde_json::{Value, json};

use crate::common::{Answer, intake_message, test_app, test_app_governed};

/// One metric value of one line, as CloudWatch extracts it.
#[derive(Debug, Clone, PartialEq)]
struct Figure {
    name: String,
    unit: String,
    /// The dimension and its value, when the line has one.
    dimension: Option<(String, String)>,
    value: f64,
}

/// Every figure of `lines`, in order, each checked against the EMF specification and
/// against the catalogue (name, unit, dimension sets).
fn figures(lines: &[String]) -> Vec<Figure> {
    let mut out = Vec::new();
    for line in lines {
        assert!(!line.contains('\n'), "one line each: {line}");
        let doc: Value = serde_json::from_str(line).expect("a JSON object");
        let aws = &doc["_aws"];
        assert!(aws["Timestamp"].as_i64().is_some_and(|t| t > 0), "{line}");
        let directives = aws["CloudWatchMetrics"].as_array().expect("directives");
        assert_eq!(directives.len(), 1, "{line}");
        let d = &directives[0];
        assert_eq!(d["Namespace"], "Hanko/test", "{line}");
        let sets: Vec<Vec<String>> = serde_json::from_value(d["Dimensions"].clone()).unwrap();
        let keys: Vec<&String> = sets.iter().flatten().collect();
        let dimension = match keys.as_slice() {
            [] => None,
            [k, rest @ ..] => {
                assert!(rest.iter().all(|r| r == k), "one dimension a line: {line}");
                let v = doc[k.as_str()].as_str().expect("the dimension's value");
                Some((k.to_string(), v.to_string()))
            }
        };
        for m in d["Metrics"].as_array().expect("metrics") {
            let name = m["Name"].as_str().unwrap().to_string();
            let unit = m["Unit"].as_str().unwrap().to_string();
            let known = CATALOGUE
                .iter()
                .find(|c| c.name == name)
                .unwrap_or_else(|| panic!("{name} is not in the catalogue"));
            assert_eq!(format!("{:?}", known.unit), unit, "{line}");
            let declared: Vec<Vec<String>> = known
                .dimension_sets()
                .iter()
                .map(|s| s.iter().map(|d| d.to_string()).collect())
                .collect();
            assert_eq!(sets, declared, "{line}");
            let value = doc[name.as_str()].as_f64().expect("a number");
            out.push(Figure {
                name,
                unit,
                dimension: dimension.clone(),
                value,
            });
        }
    }
    out
}

fn fig(name: &str, unit: &str, dimension: Option<(&str, &str)>, value: f64) -> Figure {
    Figure {
        name: name.into(),
        unit: unit.into(),
        dimension: dimension.map(|(k, v)| (k.into(), v.into())),
        value,
    }
}

fn api(route: &str, status: u16) -> Vec<Figure> {
    let r = Some(("Route", route));
    vec![
        fig("ApiRequests", "Count", r, 1.0),
        fig(
            "Api4xx",
            "Count",
            r,
            f64::from(u8::from((400..500).contains(&status))),
        ),
        fig("Api5xx", "Count", r, f64::from(u8::from(status >= 500))),
    ]
}

#[tokio::test]
async fn one_requests_life_writes_each_metric_with_its_name_unit_and_value() {
    let app = test_app();
    // Intake: stored, and alice and carol told (bob asked for it and may not approve it).
    let id = app.seed("life-token", json!({})).await;
    let alice = app.login("alice@example.com").await;
    let r = app
        .decide(&id, &alice, json!({"decision": "approve"}))
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    assert_eq!(app.callbacks().len(), 1);
    app.hanko.sweep().await.unwrap();

    let mut want = vec![
        fig("RequestsTaken", "Count", None, 1.0),
        fig("NotificationsSent", "Count", None, 2.0),
        fig("NotificationsFailed", "Count", None, 0.0),
    ];
    want.extend(api("POST /api/dev/login", 200));
    want.extend([
        fig("Votes", "Count", None, 1.0),
        fig("Decisions", "Count", Some(("Outcome", "approved")), 1.0),
        fig("CallbacksDelivered", "Count", None, 1.0),
    ]);
    want.extend(api("POST /api/approvals/{id}/decision", 200));
    want.push(fig("OldestUndeliveredDecisionAge", "Seconds", None, 0.0));
    assert_eq!(figures(&app.metrics.lines()), want);
}

#[tokio::test]
async fn a_decision_step_functions_refuses_is_counted_and_ages_until_it_is_delivered() {
    let app = test_app();
    let id = app.seed("late-token", json!({})).await;
    let carol = app.login("carol@example.com").await;
    app.answer(Answer::Throttled);
    let r = app
        .decide(
            &id,
            &carol,
            json!({"decision": "reject", "comment": "not now"}),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    let before = figures(&app.metrics.lines()).len();
    tokio::time::sleep(std::time::Duration::from_millis(1_200)).await;
    app.hanko.sweep().await.unwrap();
    let after = figures(&app.metrics.lines());
    let decided = after
        .iter()
        .position(|f| f.name == "Decisions")
        .expect("the decision is counted");
    assert_eq!(
        after[decided..decided + 2],
        [
            fig("Decisions", "Count", Some(("Outcome", "rejected")), 1.0),
            fig(
                "CallbackAttemptsFailed",
                "Count",
                Some(("Reason", "refused")),
                1.0
            ),
        ]
    );
    // The sweeper's retry came after the backoff: refused again, then the age.
    let swept = &after[before..];
    let age = swept
        .iter()
        .find(|f| f.name == "OldestUndeliveredDecisionAge")
        .expect("the sweeper writes the age");
    assert_eq!(age.unit, "Seconds");
    assert!(
        (1.0..60.0).contains(&age.value),
        "the decision waits since about a second: {age:?}"
    );

    app.answer(Answer::Accept);
    tokio::time::sleep(std::time::Duration::from_millis(2_100)).await;
    app.hanko.sweep().await.unwrap();
    let last = figures(&app.metrics.lines());
    assert!(last.contains(&fig("CallbacksDelivered", "Count", None, 1.0)));
    assert_eq!(
        last.last(),
        Some(&fig("OldestUndeliveredDecisionAge", "Seconds", None, 0.0))
    );
}

#[tokio::test]
async fn refused_and_dropped_intake_messages_are_counted_by_reason() {
    let app = test_app();
    let invalid = intake_message("bad-token", json!({"requiredApprovals": 0}));
    app.hanko.intake(&invalid, None).await.unwrap();
    app.hanko
        .intake(&json!({"title": "no token at all"}), None)
        .await
        .unwrap();
    hanko::intake::handle_body(&app.hanko, "not json", None)
        .await
        .unwrap();
    let reason = |r| fig("RequestsRefused", "Count", Some(("Reason", r)), 1.0);
    assert_eq!(
        figures(&app.metrics.lines()),
        vec![
            reason("invalid_request"),
            reason("dropped"),
            reason("dropped")
        ]
    );

    // A state machine the operator's policy does not name.
    let governed = test_app_governed(r#"default = "deny""#);
    governed
        .hanko
        .intake(&intake_message("denied-token", json!({})), None)
        .await
        .unwrap();
    assert_eq!(
        figures(&governed.metrics.lines()),
        vec![reason("policy_violation")]
    );
}

#[tokio::test]
async fn api_answers_are_counted_by_matched_route_and_never_by_the_raw_path() {
    let app = test_app();
    let alice = app.login("alice@example.com").await;
    let missing = "0190e4b2-7c1e-7000-8000-0000000000ff";
    let r = app.read(missing, &alice).await;
    assert_eq!(r.status, StatusCode::NOT_FOUND);
    let r = app
        .call("GET", "/api/no/such/route", Some(&alice), None)
        .await;
    assert_eq!(r.status, StatusCode::NOT_FOUND);
    let r = app.call("GET", "/.well-known/jwks.json", None, None).await;
    assert_eq!(r.status, StatusCode::OK);
    let seen = figures(&app.metrics.lines());
    let mut want = api("POST /api/dev/login", 200);
    want.extend(api("GET /api/approvals/{id}", 404));
    want.extend(api("unmatched", 404));
    want.extend(api("GET /.well-known/jwks.json", 200));
    assert_eq!(seen, want);
    assert!(
        app.metrics.lines().iter().all(|l| !l.contains(missing)),
        "no request id in a metric"
    );
}
