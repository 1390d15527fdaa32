//! Delegation through the api: "while I am away, carol decides for me". Setting, reading
//! and ending it; a delegate's vote in the delegator's seat, recorded and signed as
//! "carol for alice"; and the rules: one seat for the two, no self-approval, no passing
//! on, only inside the window, and nothing revealed to someone who is not a delegate.

use axum::http::StatusCode;
use chrono::{Duration, SecondsFormat, Utc};
use hanko::domain::Delegation;
use hanko::store::Callback;
use hanko_api::{DecisionRecord, TaskOutput};
use serde_json::{Value, json};

use crate::common::{TestApp, assert_error, test_app};

/// A time `hours` from now, as the api takes it.
fn at(hours: i64) -> String {
    (Utc::now() + Duration::hours(hours)).to_rfc3339_opts(SecondsFormat::Secs, true)
}

async fn delegate(t: &TestApp, token: &str, to: &str, from_h: i64, until_h: i64) -> Value {
    let r = t
        .call(
            "PUT",
            "/api/me/delegation",
            Some(token),
            Some(json!({"delegate": to, "from": at(from_h), "until": at(until_h)})),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    r.body
}

/// A request only alice approves (by email), asked for by `requester`.
async fn alices_request(t: &TestApp, token: &str, requester: &str) -> String {
    t.seed(
        token,
        json!({"approvers": ["alice@example.com"], "requestedBy": requester}),
    )
    .await
}

fn approve_for(who: &str) -> Value {
    json!({"decision": "approve", "comment": "while alice is away", "onBehalfOf": who})
}

#[tokio::test]
async fn a_person_sets_reads_and_ends_her_delegation_and_her_delegate_sees_it() {
    let t = test_app();
    let (alice, carol) = (
        t.login("alice@example.com").await,
        t.login("carol@example.com").await,
    );
    let none = t
        .call("GET", "/api/me/delegation", Some(&alice), None)
        .await;
    assert_eq!(none.status, StatusCode::OK);
    assert_eq!(none.body, json!({"delegation": null, "standingInFor": []}));

    let set = delegate(&t, &alice, "Carol@Example.com", 0, 24 * 7).await;
    let d = &set["delegation"];
    assert_eq!(d["delegator"], "alice@example.com");
    assert_eq!(d["delegate"], "carol@example.com");
    assert_eq!(d["groups"], json!(["release-managers"]));
    assert_eq!(d["active"], true);

    let hers = t
        .call("GET", "/api/me/delegation", Some(&carol), None)
        .await;
    assert_eq!(hers.body["delegation"], Value::Null);
    assert_eq!(
        hers.body["standingInFor"][0]["delegator"],
        "alice@example.com"
    );

    // A new one replaces it.
    let later = delegate(&t, &alice, "bob@example.com", 24, 48).await;
    assert_eq!(later["delegation"]["delegate"], "bob@example.com");
    assert_eq!(later["delegation"]["active"], false);
    let hers = t
        .call("GET", "/api/me/delegation", Some(&carol), None)
        .await;
    assert_eq!(hers.body["standingInFor"], json!([]));

    let end = t
        .call("DELETE", "/api/me/delegation", Some(&alice), None)
        .await;
    assert_eq!(end.status, StatusCode::NO_CONTENT, "{}", end.text);
    let gone = t
        .call("GET", "/api/me/delegation", Some(&alice), None)
        .await;
    assert_eq!(gone.body["delegation"], Value::Null);
    let again = t
        .call("DELETE", "/api/me/delegation", Some(&alice), None)
        .await;
    assert_eq!(again.status, StatusCode::NO_CONTENT);
    let anonymous = t.call("GET", "/api/me/delegation", None, None).await;
    assert_error(&anonymous, StatusCode::UNAUTHORIZED, "unauthorized");
}

#[tokio::test]
async fn a_delegation_to_oneself_to_no_email_in_a_wrong_window_or_too_long_is_refused() {
    let t = test_app();
    let alice = t.login("alice@example.com").await;
    let put = |body: Value| {
        let (t, alice) = (&t, &alice);
        async move {
            t.call("PUT", "/api/me/delegation", Some(alice), Some(body))
                .await
        }
    };
    let cases = [
        (
            json!({"delegate": "ALICE@example.com", "from": at(0), "until": at(24)}),
            "self_delegation",
        ),
        (
            json!({"delegate": "carol", "from": at(0), "until": at(24)}),
            "invalid_delegate",
        ),
        (
            json!({"delegate": "carol@example.com", "from": at(24), "until": at(2)}),
            "invalid_until",
        ),
        (
            json!({"delegate": "carol@example.com", "from": at(-48), "until": at(-24)}),
            "invalid_until",
        ),
        (
            json!({"delegate": "carol@example.com", "from": at(0), "until": at(24 * 91)}),
            "too_long",
        ),
        (
            json!({"delegate": "carol@example.com", "until": at(24)}),
            "invalid_body",
        ),
        (
            json!({"delegate": "carol@example.com", "from": "next monday", "until": at(24)}),
            "invalid_body",
        ),
        (
            json!({"delegate": "carol@example.com", "from": at(0), "until": at(24), "for": "bob@example.com"}),
            "invalid_body",
        ),
    ];
    for (body, code) in cases {
        let r = put(body.clone()).await;
        assert_error(&r, StatusCode::UNPROCESSABLE_ENTITY, code);
    }
    // Nothing was written.
    let r = t
        .call("GET", "/api/me/delegation", Some(&alice), None)
        .await;
    assert_eq!(r.body["delegation"], Value::Null);
}

#[tokio::test]
async fn a_delegate_votes_for_alice_and_the_signed_record_says_carol_for_alice() {
    let t = test_app();
    let (alice, carol, dave) = (
        t.login("alice@example.com").await,
        t.login("carol@example.com").await,
        t.login("dave@example.com").await,
    );
    let id = alices_request(&t, "tok-deleg-vote", "bob@example.com").await;
    // Before the delegation carol does not see it.
    assert_error(
        &t.read(&id, &carol).await,
        StatusCode::NOT_FOUND,
        "not_found",
    );
    delegate(&t, &alice, "carol@example.com", 0, 24).await;

    let inbox = t
        .call("GET", "/api/approvals?mine=true", Some(&carol), None)
        .await;
    assert_eq!(inbox.body["items"][0]["id"], id, "{}", inbox.text);
    let seen = t.read(&id, &carol).await;
    assert_eq!(seen.status, StatusCode::OK, "{}", seen.text);
    assert_eq!(seen.body["viewer"]["canVote"], false);
    assert_eq!(
        seen.body["viewer"]["onBehalfOf"],
        json!(["alice@example.com"])
    );

    let r = t
        .decide(&id, &carol, approve_for("Alice@Example.com"))
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    assert_eq!(r.body["status"], "approved");
    let vote = &r.body["votes"][0];
    assert_eq!(vote["approver"], "carol@example.com");
    assert_eq!(vote["name"], "Carol");
    assert_eq!(vote["onBehalfOf"], "alice@example.com");

    let sent = t.callbacks();
    let Callback::Success { output } = &sent[0].1 else {
        panic!("expected success, got {:?}", sent[0].1)
    };
    let out: TaskOutput = serde_json::from_str(output).unwrap();
    assert_eq!(out.approvals[0].approver, "carol@example.com");
    assert_eq!(
        out.approvals[0].on_behalf_of.as_deref(),
        Some("alice@example.com")
    );
    let jwks = t.call("GET", "/.well-known/jwks.json", None, None).await;
    let set: jsonwebtoken::jwk::JwkSet = serde_json::from_value(jwks.body).unwrap();
    let header = jsonwebtoken::decode_header(&out.signature).unwrap();
    let key = set.find(header.kid.as_deref().unwrap()).unwrap();
    let mut v = jsonwebtoken::Validation::new(jsonwebtoken::Algorithm::ES256);
    v.required_spec_claims.clear();
    v.validate_exp = false;
    let record = jsonwebtoken::decode::<DecisionRecord>(
        &out.signature,
        &jsonwebtoken::DecodingKey::from_jwk(key).unwrap(),
        &v,
    )
    .unwrap()
    .claims;
    assert_eq!(record.approvals, out.approvals);

    // The audit trail says it too, in JSON and in CSV.
    let audit = t.call("GET", "/api/audit", Some(&dave), None).await;
    assert_eq!(audit.status, StatusCode::OK, "{}", audit.text);
    let votes = &audit.body["items"][0]["votes"][0];
    assert_eq!(votes["approver"], "carol@example.com");
    assert_eq!(votes["onBehalfOf"], "alice@example.com");
    let csv = t
        .call("GET", "/api/audit?format=csv", Some(&dave), None)
        .await;
    let line = csv
        .text
        .trim_end()
        .split("\r\n")
        .nth(1)
        .unwrap()
        .to_string();
    assert!(line.contains(",carol@example.com,"), "{line}");
    assert!(line.ends_with(",alice@example.com"), "{line}");
}

#[tokio::test]
async fn alice_and_her_delegate_count_once_and_a_delegate_votes_once_in_all() {
    let t = test_app();
    let (alice, carol) = (
        t.login("alice@example.com").await,
        t.login("carol@example.com").await,
    );
    delegate(&t, &alice, "carol@example.com", 0, 24).await;
    let two = t
        .seed(
            "tok-deleg-two",
            json!({"approvers": ["alice@example.com", "carol@example.com"], "requiredApprovals": 2}),
        )
        .await;
    let r = t
        .decide(&two, &carol, approve_for("alice@example.com"))
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    assert_eq!(r.body["status"], "pending");
    assert_eq!(
        r.body["viewer"]["canVote"], false,
        "one person, one vote: a quorum of two needs two people"
    );
    assert_eq!(
        r.body["viewer"]["onBehalfOf"],
        Value::Null,
        "alice's is not"
    );
    // Alice's seat is taken by her delegate's vote; a second vote for her too; and carol
    // cannot add her own seat's approval to it.
    let r = t.decide(&two, &alice, json!({"decision": "approve"})).await;
    assert_error(&r, StatusCode::CONFLICT, "already_voted");
    let r = t
        .decide(&two, &carol, approve_for("alice@example.com"))
        .await;
    assert_error(&r, StatusCode::CONFLICT, "already_voted");
    let r = t.decide(&two, &carol, json!({"decision": "approve"})).await;
    assert_error(&r, StatusCode::CONFLICT, "already_voted");
    assert!(t.callbacks().is_empty(), "one person is one approval");

    // And the other way round: alice voted, so carol cannot vote for her.
    let one = t
        .seed(
            "tok-deleg-first",
            json!({"approvers": ["alice@example.com", "group:ops"], "requiredApprovals": 2}),
        )
        .await;
    let r = t.decide(&one, &alice, json!({"decision": "approve"})).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    let r = t
        .decide(&one, &carol, approve_for("alice@example.com"))
        .await;
    assert_error(&r, StatusCode::CONFLICT, "already_voted");
}

#[tokio::test]
async fn a_delegate_cannot_approve_for_alice_what_either_of_them_asked_for() {
    let t = test_app();
    let (alice, carol) = (
        t.login("alice@example.com").await,
        t.login("carol@example.com").await,
    );
    delegate(&t, &alice, "carol@example.com", 0, 24).await;
    let carols = alices_request(&t, "tok-deleg-carols", "carol@example.com").await;
    let r = t
        .decide(&carols, &carol, approve_for("alice@example.com"))
        .await;
    assert_error(&r, StatusCode::FORBIDDEN, "own_request");
    let alices = t
        .seed(
            "tok-deleg-alices",
            json!({"approvers": ["group:release-managers"], "requestedBy": "alice@example.com"}),
        )
        .await;
    let r = t
        .decide(&alices, &carol, approve_for("alice@example.com"))
        .await;
    assert_error(&r, StatusCode::FORBIDDEN, "own_request");
    // Carol's own seat (by her group) is not touched by the delegation.
    let r = t
        .decide(&alices, &carol, json!({"decision": "approve"}))
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    assert!(t.callbacks().len() == 1);
}

#[tokio::test]
async fn outside_its_window_a_delegation_lets_the_delegate_neither_see_nor_vote() {
    let t = test_app();
    let (alice, carol) = (
        t.login("alice@example.com").await,
        t.login("carol@example.com").await,
    );
    let id = alices_request(&t, "tok-deleg-window", "bob@example.com").await;
    // Not begun yet.
    delegate(&t, &alice, "carol@example.com", 24, 48).await;
    assert_error(
        &t.read(&id, &carol).await,
        StatusCode::NOT_FOUND,
        "not_found",
    );
    let r = t
        .decide(&id, &carol, approve_for("alice@example.com"))
        .await;
    assert_error(&r, StatusCode::NOT_FOUND, "not_found");
    let inbox = t
        .call("GET", "/api/approvals?mine=true", Some(&carol), None)
        .await;
    assert_eq!(inbox.body["items"], json!([]));
    // Ended (the api does not set one in the past; the store keeps what it is given).
    let now = Utc::now();
    t.hanko
        .store
        .put_delegation(&Delegation {
            delegator: "alice@example.com".into(),
            groups: vec!["release-managers".into()],
            delegate: "carol@example.com".parse().unwrap(),
            from: now - Duration::days(2),
            until: now - Duration::seconds(1),
            created_at: now - Duration::days(2),
        })
        .await
        .unwrap();
    let r = t
        .decide(&id, &carol, approve_for("alice@example.com"))
        .await;
    assert_error(&r, StatusCode::NOT_FOUND, "not_found");
    // Carol among the approvers sees it, and hears why she cannot vote for alice.
    let shared = t
        .seed(
            "tok-deleg-window-2",
            json!({"approvers": ["alice@example.com", "carol@example.com"]}),
        )
        .await;
    let r = t
        .decide(&shared, &carol, approve_for("alice@example.com"))
        .await;
    assert_error(&r, StatusCode::FORBIDDEN, "not_a_delegate");
    assert!(t.callbacks().is_empty());
}

#[tokio::test]
async fn a_seat_held_as_a_delegate_is_not_passed_on() {
    let t = test_app();
    let (alice, bob, carol) = (
        t.login("alice@example.com").await,
        t.login("bob@example.com").await,
        t.login("carol@example.com").await,
    );
    let id = alices_request(&t, "tok-deleg-chain", "mallory@example.com").await;
    delegate(&t, &alice, "bob@example.com", 0, 24).await;
    delegate(&t, &bob, "carol@example.com", 0, 24).await;
    // Carol stands in for bob's own seat only: alice's request is not hers to see or decide.
    let r = t
        .decide(&id, &carol, approve_for("alice@example.com"))
        .await;
    assert_error(&r, StatusCode::NOT_FOUND, "not_found");
    let r = t.decide(&id, &carol, approve_for("bob@example.com")).await;
    assert_error(&r, StatusCode::NOT_FOUND, "not_found");
    assert_error(
        &t.read(&id, &carol).await,
        StatusCode::NOT_FOUND,
        "not_found",
    );
    // Bob, alice's delegate, may.
    let r = t.decide(&id, &bob, approve_for("alice@example.com")).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    assert_eq!(r.body["votes"][0]["onBehalfOf"], "alice@example.com");
}

#[tokio::test]
async fn someone_who_is_not_a_delegate_cannot_use_on_behalf_of_and_learns_nothing() {
    let t = test_app();
    let (alice, mallory) = (
        t.login("alice@example.com").await,
        t.login("mallory@example.com").await,
    );
    delegate(&t, &alice, "carol@example.com", 0, 24).await;
    let id = alices_request(&t, "tok-deleg-stranger", "bob@example.com").await;
    let r = t
        .decide(&id, &mallory, approve_for("alice@example.com"))
        .await;
    assert_error(&r, StatusCode::NOT_FOUND, "not_found");
    // The same answer as for a request that does not exist.
    let missing = t
        .decide(
            "0190e4b2-7c1e-7000-8000-0000000000ff",
            &mallory,
            approve_for("alice@example.com"),
        )
        .await;
    assert_eq!(missing.body, r.body);
    assert!(t.callbacks().is_empty());
    let stored = t.read(&id, &alice).await;
    assert_eq!(stored.body["votes"], json!([]));
}

#[tokio::test]
async fn hanko_verify_prints_a_delegate_s_vote_as_carol_for_alice() {
    let t = test_app();
    let (alice, carol) = (
        t.login("alice@example.com").await,
        t.login("carol@example.com").await,
    );
    delegate(&t, &alice, "carol@example.com", 0, 24).await;
    let id = alices_request(&t, "tok-deleg-verify", "bob@example.com").await;
    let r = t
        .decide(&id, &carol, approve_for("alice@example.com"))
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    let Callback::Success { output } = &t.callbacks()[0].1 else {
        panic!("not a success");
    };
    let out: TaskOutput = serde_json::from_str(output).unwrap();
    let jwks = t
        .call("GET", "/.well-known/jwks.json", None, None)
        .await
        .body;
    let dir = tempfile::tempdir().unwrap();
    let jwks_file = dir.path().join("jwks.json");
    std::fs::write(&jwks_file, jwks.to_string()).unwrap();
    let run = |json: bool| {
        let mut cmd = std::process::Command::new(env!("CARGO_BIN_EXE_hanko"));
        cmd.arg("verify").arg("--jwks").arg(&jwks_file);
        if json {
            cmd.arg("--json");
        }
        cmd.arg(&out.signature).output().expect("hanko runs")
    };
    let text = run(false);
    assert!(text.status.success(), "{text:?}");
    let printed = String::from_utf8_lossy(&text.stdout);
    assert!(
        printed.contains("carol@example.com for alice@example.com"),
        "{printed}"
    );
    let json = run(true);
    let v: Value = serde_json::from_slice(&json.stdout).unwrap();
    let text = v.to_string();
    assert!(
        text.contains(r#""onBehalfOf":"alice@example.com""#),
        "{text}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn alice_and_her_delegate_voting_at_once_fill_her_seat_once() {
    let t = test_app();
    let (alice, carol) = (
        t.login("alice@example.com").await,
        t.login("carol@example.com").await,
    );
    delegate(&t, &alice, "carol@example.com", 0, 24).await;
    for round in 0..10 {
        let id = t
            .seed(
                &format!("tok-deleg-race-{round}"),
                json!({"approvers": ["alice@example.com", "group:ops"], "requiredApprovals": 2}),
            )
            .await;
        let (mine, hers) = tokio::join!(
            t.decide(&id, &alice, json!({"decision": "approve"})),
            t.decide(&id, &carol, approve_for("alice@example.com")),
        );
        let mut statuses = [mine.status.as_u16(), hers.status.as_u16()];
        statuses.sort();
        assert_eq!(statuses, [200, 409], "{} / {}", mine.text, hers.text);
        let votes = t.read(&id, &alice).await.body["votes"].clone();
        assert_eq!(votes.as_array().unwrap().len(), 1, "{votes}");
    }
    assert!(
        t.callbacks().is_empty(),
        "one seat never makes a quorum of two"
    );
}
