//! What every [`Store`] must do, as one suite each implementation runs unchanged
//! (SQLite here; DynamoDB joins with the AWS stack).

use chrono::{Duration, Utc};
use hanko_api::{Delivery, Outcome, RequestStatus, VoteChoice};
use serde_json::json;

use super::{Callback, Inserted, ListQuery, Store, StoredDecision, VoteWrite};
use crate::domain::NewRequest;
use crate::domain::intake::sample_request;
use crate::domain::rules::Ballot;

fn request(approvers: &[&str], requested_by: &str, expires_in: Duration) -> NewRequest {
    let base = sample_request(approvers);
    NewRequest {
        details: json!({"v": 1}),
        requested_by: Some(requested_by.into()),
        expires_at: base.created_at + expires_in,
        ..base
    }
}

fn ballot(voter: &str) -> Ballot {
    Ballot {
        voter: voter.into(),
        subject: voter.into(),
        name: voter.into(),
        choice: VoteChoice::Approve,
        comment: Some("ok".into()),
        decided_at: Utc::now(),
        source_ip: Some("127.0.0.1".into()),
        user_agent: Some("test".into()),
    }
}

fn id(n: u8) -> String {
    format!("0190e4b2-7c1e-7000-8000-0000000000{n:02x}")
}

/// Runs every check against a fresh, empty store.
pub async fn run_all(store: &dyn Store) {
    the_same_token_twice_is_one_request(store).await;
    a_vote_needs_the_version_it_was_decided_on(store).await;
    one_voter_has_one_vote(store).await;
    lists_filter_by_status_and_by_who_may_vote(store).await;
    a_delivery_is_owed_until_recorded(store).await;
    only_a_pending_request_can_be_closed(store).await;
    the_audit_period_holds_what_ended_in_it(store).await;
}

async fn the_same_token_twice_is_one_request(s: &dyn Store) {
    let r = request(&["a@x.io"], "b@x.io", Duration::hours(1));
    assert_eq!(
        s.insert(&id(1), "token-1", &r).await.unwrap(),
        Inserted::Created
    );
    assert_eq!(
        s.insert(&id(2), "token-1", &r).await.unwrap(),
        Inserted::Duplicate { existing_id: id(1) }
    );
    assert!(s.get(&id(2)).await.unwrap().is_none());
    let got = s.get(&id(1)).await.unwrap().unwrap();
    assert_eq!(got.request, r);
    assert_eq!(got.status, RequestStatus::Pending);
    assert_eq!(
        s.task_token(&id(1)).await.unwrap().as_deref(),
        Some("token-1")
    );
}

async fn a_vote_needs_the_version_it_was_decided_on(s: &dyn Store) {
    let r = request(&["a@x.io", "c@x.io"], "b@x.io", Duration::hours(1));
    s.insert(&id(3), "token-3", &r).await.unwrap();
    let v0 = s.get(&id(3)).await.unwrap().unwrap().version;
    let a = ballot("a@x.io");
    let decision = StoredDecision {
        outcome: Outcome::Approved,
        decided_at: Utc::now(),
        signature: "sig".into(),
    };
    let cb = Callback::Success {
        output: "{}".into(),
    };
    assert!(
        s.record_vote(VoteWrite {
            id: &id(3),
            expected_version: v0,
            ballot: &a,
            decision: Some((decision.clone(), cb.clone())),
        })
        .await
        .unwrap()
    );
    // A racer that read the same version loses, and leaves no trace.
    let c = ballot("c@x.io");
    assert!(
        !s.record_vote(VoteWrite {
            id: &id(3),
            expected_version: v0,
            ballot: &c,
            decision: Some((decision, cb.clone())),
        })
        .await
        .unwrap()
    );
    let got = s.get(&id(3)).await.unwrap().unwrap();
    assert_eq!(got.status, RequestStatus::Approved);
    assert_eq!(got.votes.len(), 1);
    assert_eq!(got.votes[0].voter, "a@x.io");
    assert_eq!(got.delivery, Some(Delivery::Pending));
    assert_eq!(
        s.pending_callback(&id(3))
            .await
            .unwrap()
            .map(|p| p.callback),
        Some(cb)
    );
}

async fn one_voter_has_one_vote(s: &dyn Store) {
    let mut r = request(&["a@x.io", "c@x.io"], "b@x.io", Duration::hours(1));
    r.required_approvals = 2;
    s.insert(&id(4), "token-4", &r).await.unwrap();
    let a = ballot("a@x.io");
    let v0 = s.get(&id(4)).await.unwrap().unwrap().version;
    assert!(
        s.record_vote(VoteWrite {
            id: &id(4),
            expected_version: v0,
            ballot: &a,
            decision: None,
        })
        .await
        .unwrap()
    );
    let v1 = s.get(&id(4)).await.unwrap().unwrap().version;
    assert_ne!(v0, v1);
    assert!(
        !s.record_vote(VoteWrite {
            id: &id(4),
            expected_version: v1,
            ballot: &a,
            decision: None,
        })
        .await
        .unwrap()
    );
    assert_eq!(s.get(&id(4)).await.unwrap().unwrap().votes.len(), 1);
}

async fn lists_filter_by_status_and_by_who_may_vote(s: &dyn Store) {
    let q = |status, who: Option<(&str, &[&str])>| ListQuery {
        status,
        votable_by: who.map(|(e, p)| (e.to_string(), p.iter().map(|x| x.to_string()).collect())),
        limit: 50,
        after: None,
        now: Utc::now(),
    };
    s.insert(
        &id(5),
        "token-5",
        &request(&["group:ops"], "b@x.io", Duration::hours(1)),
    )
    .await
    .unwrap();
    s.insert(
        &id(6),
        "token-6",
        &request(&["group:ops"], "b@x.io", -Duration::seconds(1)),
    )
    .await
    .unwrap();
    let ids = |v: Vec<super::StoredRequest>| v.into_iter().map(|r| r.id).collect::<Vec<_>>();

    let (mine, _) = s
        .list(&q(
            Some(RequestStatus::Pending),
            Some(("z@x.io", &["z@x.io", "group:ops"])),
        ))
        .await
        .unwrap();
    assert_eq!(ids(mine), vec![id(5)], "the overdue one is not votable");
    let (requester, _) = s
        .list(&q(None, Some(("b@x.io", &["b@x.io", "group:ops"]))))
        .await
        .unwrap();
    assert!(ids(requester).is_empty(), "not your own request");
    let (expired, _) = s
        .list(&q(Some(RequestStatus::Expired), None))
        .await
        .unwrap();
    assert_eq!(ids(expired), vec![id(6)]);
    let (approved, _) = s
        .list(&q(Some(RequestStatus::Approved), None))
        .await
        .unwrap();
    assert_eq!(ids(approved), vec![id(3)]);
    let mut page = q(None, None);
    page.limit = 2;
    let (first, more) = s.list(&page).await.unwrap();
    assert!(more);
    assert_eq!(ids(first), vec![id(6), id(5)]);
    page.after = Some(id(5));
    let (second, _) = s.list(&page).await.unwrap();
    assert_eq!(ids(second)[0], id(4));
}

async fn a_delivery_is_owed_until_recorded(s: &dyn Store) {
    // A fresh decision is left to its voter's request for a while.
    assert!(s.due_deliveries(Utc::now(), 10).await.unwrap().is_empty());
    let due = s
        .due_deliveries(Utc::now() + Duration::minutes(1), 10)
        .await
        .unwrap();
    assert_eq!(due, vec![id(3)]);
    let later = Utc::now() + Duration::minutes(5);
    s.record_delivery(&id(3), Delivery::Pending, Some("throttled"), Some(later))
        .await
        .unwrap();
    assert!(s.due_deliveries(Utc::now(), 10).await.unwrap().is_empty());
    assert_eq!(s.due_deliveries(later, 10).await.unwrap(), vec![id(3)]);
    s.record_delivery(&id(3), Delivery::Delivered, None, None)
        .await
        .unwrap();
    assert!(s.due_deliveries(later, 10).await.unwrap().is_empty());
    let got = s.get(&id(3)).await.unwrap().unwrap();
    assert_eq!(got.delivery, Some(Delivery::Delivered));
    assert_eq!(got.delivery_attempts, 2);
    assert!(s.pending_callback(&id(3)).await.unwrap().is_none());
    // A late "task gone" from a duplicate attempt changes nothing.
    s.record_delivery(&id(3), Delivery::TaskGone, Some("InvalidToken"), None)
        .await
        .unwrap();
    let got = s.get(&id(3)).await.unwrap().unwrap();
    assert_eq!(got.status, RequestStatus::Approved);
    assert_eq!(got.delivery, Some(Delivery::Delivered));
}

async fn only_a_pending_request_can_be_closed(s: &dyn Store) {
    assert_eq!(s.overdue(Utc::now(), 10).await.unwrap(), vec![id(6)]);
    let cb = Callback::Failure {
        error: "Hanko.Expired".into(),
        cause: "{}".into(),
    };
    assert!(
        s.close_pending(&id(6), RequestStatus::Expired, "deadline", Some(cb.clone()))
            .await
            .unwrap()
    );
    assert!(
        !s.close_pending(&id(3), RequestStatus::Expired, "deadline", None)
            .await
            .unwrap()
    );
    let got = s.get(&id(6)).await.unwrap().unwrap();
    assert_eq!(got.status, RequestStatus::Expired);
    assert_eq!(got.closed_reason.as_deref(), Some("deadline"));
    assert_eq!(
        s.pending_callback(&id(6))
            .await
            .unwrap()
            .map(|p| p.callback),
        Some(cb)
    );
    s.record_delivery(&id(6), Delivery::TaskGone, Some("TaskTimedOut"), None)
        .await
        .unwrap();
    assert_eq!(
        s.get(&id(6)).await.unwrap().unwrap().status,
        RequestStatus::Expired,
        "an expired request stays expired when its task is gone"
    );
}

async fn the_audit_period_holds_what_ended_in_it(s: &dyn Store) {
    let start = Utc::now() - Duration::seconds(1);
    let decided = id(0x40);
    let closed = id(0x41);
    let open = id(0x42);
    for (i, rid) in [&decided, &closed, &open].into_iter().enumerate() {
        let r = request(&["a@x.io"], "b@x.io", Duration::hours(1));
        s.insert(rid, &format!("audit-token-{i}"), &r)
            .await
            .unwrap();
    }
    let d = StoredDecision {
        outcome: Outcome::Approved,
        decided_at: Utc::now(),
        signature: "sig".into(),
    };
    let cb = Callback::Success {
        output: "{}".into(),
    };
    assert!(
        s.record_vote(VoteWrite {
            id: &decided,
            expected_version: 0,
            ballot: &ballot("a@x.io"),
            decision: Some((d, cb)),
        })
        .await
        .unwrap()
    );
    assert!(
        s.close_pending(&closed, RequestStatus::Closed, "ABORTED", None)
            .await
            .unwrap()
    );
    let end = Utc::now() + Duration::seconds(1);

    let got = s.decided_between(start, end, 100).await.unwrap();
    let ids: Vec<&str> = got.iter().map(|r| r.id.as_str()).collect();
    assert!(ids.contains(&decided.as_str()), "{ids:?}");
    assert!(ids.contains(&closed.as_str()), "{ids:?}");
    assert!(
        !ids.contains(&open.as_str()),
        "a pending request has not ended: {ids:?}"
    );
    let with_vote = got.iter().find(|r| r.id == decided).unwrap();
    assert_eq!(with_vote.votes.len(), 1);
    assert_eq!(with_vote.votes[0].source_ip.as_deref(), Some("127.0.0.1"));
    assert!(with_vote.closed_at.is_some());
    let times: Vec<_> = got.iter().map(|r| r.closed_at.unwrap()).collect();
    assert!(times.windows(2).all(|w| w[0] <= w[1]), "oldest first");

    assert!(
        s.decided_between(end, end + Duration::hours(1), 100)
            .await
            .unwrap()
            .is_empty()
    );
    assert_eq!(s.decided_between(start, end, 1).await.unwrap().len(), 1);
    assert!(s.get(&open).await.unwrap().unwrap().closed_at.is_none());
}
