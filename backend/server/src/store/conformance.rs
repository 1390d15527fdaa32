//! What every [`Store`] must do, written once over `&dyn Store` and run unchanged against
//! each implementation: SQLite in this crate's tests, DynamoDB on moto in `tests/e2e/`
//! (`store_conformance.rs`, through the `conformance` feature).
//!
//! [`store_conformance_tests!`](crate::store_conformance_tests) makes one test per check;
//! each test gets a fresh, empty store from the expression it is given.

use chrono::{DateTime, Duration, TimeZone, Utc};
use hanko_api::{Delivery, Outcome, RequestStatus, VoteChoice};
use serde_json::json;

use super::{
    Callback, ChatMessage, Inserted, ListQuery, NudgeClaim, Page, Person, RequestSummary, Store,
    StoredDecision, StoredRequest, VoteWrite,
};
use crate::domain::intake::sample_request;
use crate::domain::nudge::{self, Escalation};
use crate::domain::rules::Ballot;
use crate::domain::{Email, NewRequest, Principal, RequestId, TaskToken};

mod passkeys;
pub use passkeys::*;
mod delegation;
pub use delegation::*;

/// One `#[tokio::test]` per check. `$fresh` is an expression giving a future of
/// `(guard, store)`: the store is fresh and empty; the guard (a temp dir, an emulator)
/// lives as long as the test.
#[macro_export]
macro_rules! store_conformance_tests {
    ($fresh:expr) => {
        $crate::store_conformance_tests!(@each $fresh;
            the_same_token_twice_is_one_request,
            a_vote_needs_the_version_it_was_decided_on,
            one_voter_has_one_vote,
            racing_deciders_on_one_version_have_one_winner,
            a_vote_on_a_request_that_is_not_pending_is_refused,
            a_vote_written_after_the_deadline_is_refused,
            lists_are_newest_first_in_pages,
            lists_filter_by_status,
            summaries_are_the_same_page_as_the_list,
            the_votable_list_holds_only_what_the_caller_may_still_vote_on,
            a_small_page_of_the_votable_list_reads_past_many_decided_requests,
            a_stranger_lists_nothing_in_any_status_or_page,
            approvers_by_email_or_group_and_the_requester_list_what_they_may_see,
            a_page_of_what_one_may_see_is_full_and_never_counts_hidden_requests,
            a_fresh_decision_is_left_to_its_voter_then_owed_until_delivered,
            a_deciding_vote_claims_its_delivery_until_its_lease_ends,
            a_vote_that_does_not_decide_claims_nothing,
            only_a_pending_request_can_be_closed,
            a_decided_request_whose_task_is_gone_is_closed,
            a_close_without_a_callback_owes_nothing,
            decided_between_lists_what_closed_in_the_window_oldest_first,
            an_unknown_id_has_nothing,
            a_delivery_is_claimed_by_one_attempt_at_a_time,
            an_answer_after_an_unanswered_attempt_keeps_what_was_closed_and_says_why,
            pending_requests_come_oldest_first_with_their_execution,
            the_oldest_owed_callback_is_the_earliest_decision_not_yet_delivered,
            chat_messages_of_a_request_are_kept_once_each_and_apart_from_other_requests,
            reminders_come_due_in_order_and_each_is_claimed_once,
            racing_sweepers_claim_a_reminder_once,
            an_escalation_makes_its_principals_approvers_who_may_then_see_and_vote,
            nothing_is_claimed_of_a_request_that_is_not_pending,
            passkeys_are_kept_per_person_used_and_removed,
            a_nonce_is_taken_once_by_its_person_before_it_expires,
            a_nonce_taken_by_racers_is_taken_once,
            a_votes_passkey_signature_is_kept_with_the_vote,
            a_delegation_is_set_found_by_its_delegate_replaced_and_ended,
            a_delegation_that_has_ended_is_not_found_by_its_delegate,
            a_seat_holds_one_vote_by_its_person_or_their_delegate,
            a_delegate_lists_what_the_delegator_approves_and_votes_on_her_open_seats,
        );
    };
    (@each $fresh:expr; $($check:ident),* $(,)?) => {
        $(
            #[::tokio::test]
            async fn $check() {
                let (_guard, store) = $fresh.await;
                $crate::store::conformance::$check(&store).await;
            }
        )*
    };
}

fn request(approvers: &[&str], requested_by: &str, expires_in: Duration) -> NewRequest {
    let base = sample_request(approvers);
    // Millisecond times: what every store keeps.
    let created_at = ms_time(base.created_at.timestamp_millis());
    NewRequest {
        details: json!({"v": 1, "nested": {"list": [1, "two", null]}}),
        description: Some("Release notes: <b>not markup</b>".into()),
        requested_by: Some(Email::parse(requested_by).expect("an email")),
        created_at,
        expires_at: created_at + expires_in,
        ..base
    }
}

fn ms_time(ms: i64) -> DateTime<Utc> {
    Utc.timestamp_millis_opt(ms).single().expect("a valid time")
}

fn now_ms() -> DateTime<Utc> {
    ms_time(Utc::now().timestamp_millis())
}

fn ballot(voter: &str, choice: VoteChoice) -> Ballot {
    Ballot {
        voter: voter.into(),
        subject: format!("sub-{voter}"),
        name: voter.into(),
        choice,
        comment: Some("ok".into()),
        decided_at: now_ms(),
        source_ip: Some("127.0.0.1".into()),
        user_agent: Some("test".into()),
        passkey: None,
        on_behalf_of: None,
    }
}

/// Ids are UUIDv7: later `n`, newer request.
pub fn id(n: u8) -> RequestId {
    RequestId::parse(&format!("0190e4b2-7c1e-7000-8000-0000000000{n:02x}")).expect("an id")
}

/// A task token for tests.
pub fn token(t: &str) -> TaskToken {
    TaskToken::parse(t).expect("a task token")
}

/// `email` standing for `principals`.
fn person(email: &str, principals: &[&str]) -> Person {
    Person {
        email: email.to_string(),
        principals: principals
            .iter()
            .map(|p| Principal::parse(p).expect("a principal"))
            .collect(),
        standing_in_for: Vec::new(),
    }
}

fn ids(v: Vec<StoredRequest>) -> Vec<RequestId> {
    v.into_iter().map(|r| r.id).collect()
}

fn success() -> Callback {
    Callback::Success {
        output: r#"{"decision":"approved"}"#.into(),
    }
}

/// The callback a request closed at its deadline owes.
fn expired() -> Callback {
    Callback::Failure {
        error: crate::service::EXPIRED_ERROR.into(),
        cause: "{}".into(),
    }
}

fn decision(outcome: Outcome, at: DateTime<Utc>) -> StoredDecision {
    StoredDecision {
        outcome,
        decided_at: at,
        signature: "header.payload.sig".into(),
    }
}

fn query(status: Option<RequestStatus>, who: Option<(&str, &[&str])>) -> ListQuery {
    ListQuery {
        status,
        votable_by: who.map(|(e, p)| person(e, p)),
        visible_to: None,
        limit: 50,
        after: None,
        now: Utc::now(),
    }
}

async fn insert(s: &dyn Store, n: u8, approvers: &[&str], expires_in: Duration) -> NewRequest {
    let r = request(approvers, "b@x.io", expires_in);
    assert_eq!(
        s.insert(&id(n), &token(&format!("token-{n}")), &r)
            .await
            .unwrap(),
        Inserted::Created
    );
    r
}

/// How long a deciding vote claims its delivery for, from its decision.
fn vote_lease() -> Duration {
    Duration::seconds(10)
}

/// Records `voter`'s vote on the version just read; `decided` decides the request, and
/// claims its delivery until `decided + vote_lease()`.
async fn vote(s: &dyn Store, n: u8, voter: &str, decided: Option<DateTime<Utc>>) -> bool {
    let version = s.get(&id(n)).await.unwrap().unwrap().version;
    let b = ballot(voter, VoteChoice::Approve);
    s.record_vote(VoteWrite {
        id: &id(n),
        expected_version: version,
        ballot: &b,
        decision: decided.map(|at| (decision(Outcome::Approved, at), success())),
        // Without a decision there is nothing to claim, whatever the lease says.
        lease_until: decided.unwrap_or_else(now_ms) + vote_lease(),
        now: now_ms(),
    })
    .await
    .unwrap()
}

pub async fn the_same_token_twice_is_one_request(s: &dyn Store) {
    let r = insert(s, 1, &["a@x.io", "group:ops"], Duration::hours(1)).await;
    let again = request(&["other@x.io"], "b@x.io", Duration::hours(2));
    assert_eq!(
        s.insert(&id(2), &token("token-1"), &again).await.unwrap(),
        Inserted::Duplicate { existing_id: id(1) }
    );
    assert!(s.get(&id(2)).await.unwrap().is_none());
    let Page { items: mine, .. } = s
        .list(&query(None, Some(("other@x.io", &["other@x.io"]))))
        .await
        .unwrap();
    assert!(
        ids(mine).is_empty(),
        "the duplicate left no approver behind"
    );
    let got = s.get(&id(1)).await.unwrap().unwrap();
    assert_eq!(got.request, r);
    assert_eq!(got.status, RequestStatus::Pending);
    assert!(got.votes.is_empty());
    assert_eq!(got.decision, None);
    assert_eq!(got.delivery, None);
    assert_eq!(got.closed_at, None);
    assert_eq!(
        s.task_token(&id(1))
            .await
            .unwrap()
            .as_ref()
            .map(TaskToken::expose),
        Some("token-1")
    );
}

pub async fn a_vote_needs_the_version_it_was_decided_on(s: &dyn Store) {
    insert(s, 3, &["a@x.io", "c@x.io"], Duration::hours(1)).await;
    let v0 = s.get(&id(3)).await.unwrap().unwrap().version;
    let at = now_ms();
    let a = ballot("a@x.io", VoteChoice::Approve);
    assert!(
        s.record_vote(VoteWrite {
            id: &id(3),
            expected_version: v0,
            ballot: &a,
            decision: Some((decision(Outcome::Approved, at), success())),
            lease_until: at + vote_lease(),
            now: at,
        })
        .await
        .unwrap()
    );
    // A racer that read the same version loses, and leaves no trace.
    let c = ballot("c@x.io", VoteChoice::Reject);
    let lost = s
        .record_vote(VoteWrite {
            id: &id(3),
            expected_version: v0,
            ballot: &c,
            decision: Some((
                decision(Outcome::Rejected, at),
                Callback::Failure {
                    error: "Hanko.Rejected".into(),
                    cause: "{}".into(),
                },
            )),
            lease_until: at + vote_lease(),
            now: at,
        })
        .await
        .unwrap();
    assert!(!lost);
    let got = s.get(&id(3)).await.unwrap().unwrap();
    assert_eq!(got.status, RequestStatus::Approved);
    assert_eq!(got.votes, vec![a]);
    assert_eq!(got.decision, Some(decision(Outcome::Approved, at)));
    assert_eq!(
        got.delivery,
        Some(Delivery::Unconfirmed),
        "claimed for the voter's attempt"
    );
    assert_eq!(got.closed_at, Some(at));
    assert!(got.version > v0);
    let owed = s.pending_callback(&id(3)).await.unwrap().unwrap();
    assert_eq!(owed.callback, success());
    assert_eq!(owed.attempts, 0);
    assert!(
        s.overdue(Utc::now() + Duration::days(1), 10)
            .await
            .unwrap()
            .is_empty(),
        "a decided request never expires"
    );
}

pub async fn one_voter_has_one_vote(s: &dyn Store) {
    let mut r = request(&["a@x.io", "c@x.io"], "b@x.io", Duration::hours(1));
    r.required_approvals = 2;
    s.insert(&id(4), &token("token-4"), &r).await.unwrap();
    let v0 = s.get(&id(4)).await.unwrap().unwrap().version;
    assert!(vote(s, 4, "a@x.io", None).await);
    let after_one = s.get(&id(4)).await.unwrap().unwrap();
    assert_ne!(after_one.version, v0);
    assert_eq!(after_one.status, RequestStatus::Pending);
    assert_eq!(after_one.votes.len(), 1);
    assert!(
        !vote(s, 4, "a@x.io", None).await,
        "a second vote by the same person is refused even on the current version"
    );
    assert!(vote(s, 4, "c@x.io", Some(now_ms())).await);
    let got = s.get(&id(4)).await.unwrap().unwrap();
    let voters: Vec<&str> = got.votes.iter().map(|v| v.voter.as_str()).collect();
    assert_eq!(voters, vec!["a@x.io", "c@x.io"], "votes in the order cast");
    assert_eq!(got.status, RequestStatus::Approved);
}

pub async fn racing_deciders_on_one_version_have_one_winner(s: &dyn Store) {
    let voters = ["a@x.io", "c@x.io", "d@x.io", "e@x.io", "f@x.io"];
    insert(s, 6, &voters, Duration::hours(1)).await;
    let v0 = s.get(&id(6)).await.unwrap().unwrap().version;
    let at = now_ms();
    let ballots: Vec<Ballot> = voters
        .iter()
        .map(|v| ballot(v, VoteChoice::Approve))
        .collect();
    let race = |b: &Ballot| {
        let b = b.clone();
        async move {
            s.record_vote(VoteWrite {
                id: &id(6),
                expected_version: v0,
                ballot: &b,
                decision: Some((decision(Outcome::Approved, at), success())),
                lease_until: at + vote_lease(),
                now: at,
            })
            .await
            .unwrap()
        }
    };
    let won = tokio::join!(
        race(&ballots[0]),
        race(&ballots[1]),
        race(&ballots[2]),
        race(&ballots[3]),
        race(&ballots[4]),
    );
    let won = [won.0, won.1, won.2, won.3, won.4];
    assert_eq!(won.iter().filter(|w| **w).count(), 1, "{won:?}");
    let got = s.get(&id(6)).await.unwrap().unwrap();
    let winner = voters[won.iter().position(|w| *w).unwrap()];
    assert_eq!(got.votes.len(), 1);
    assert_eq!(got.votes[0].voter, winner);
    assert_eq!(got.status, RequestStatus::Approved);
}

pub async fn a_vote_on_a_request_that_is_not_pending_is_refused(s: &dyn Store) {
    insert(s, 5, &["a@x.io"], Duration::hours(1)).await;
    assert!(
        s.close_pending(&id(5), RequestStatus::Closed, "execution stopped", None)
            .await
            .unwrap()
    );
    assert!(!vote(s, 5, "a@x.io", Some(now_ms())).await);
    let got = s.get(&id(5)).await.unwrap().unwrap();
    assert!(got.votes.is_empty());
    assert_eq!(got.status, RequestStatus::Closed);
    let b = ballot("a@x.io", VoteChoice::Approve);
    assert!(
        !s.record_vote(VoteWrite {
            id: &id(99),
            expected_version: 0,
            ballot: &b,
            decision: None,
            lease_until: now_ms() + vote_lease(),
            now: now_ms(),
        })
        .await
        .unwrap(),
        "no request, no vote"
    );
    assert!(s.get(&id(99)).await.unwrap().is_none());
}

pub async fn a_vote_written_after_the_deadline_is_refused(s: &dyn Store) {
    let r = insert(s, 5, &["a@x.io", "c@x.io"], Duration::hours(1)).await;
    let v0 = s.get(&id(5)).await.unwrap().unwrap().version;
    let a = ballot("a@x.io", VoteChoice::Approve);
    // The vote was decided before the deadline, but is written at or after it (a slow
    // signer, a long pause): nothing is written, with or without a decision.
    for now in [r.expires_at, r.expires_at + Duration::seconds(1)] {
        for decides in [false, true] {
            let written = s
                .record_vote(VoteWrite {
                    id: &id(5),
                    expected_version: v0,
                    ballot: &a,
                    decision: decides
                        .then(|| (decision(Outcome::Approved, a.decided_at), success())),
                    lease_until: now + vote_lease(),
                    now,
                })
                .await
                .unwrap();
            assert!(!written, "written at {now} (decides: {decides})");
        }
    }
    let got = s.get(&id(5)).await.unwrap().unwrap();
    assert_eq!(got.status, RequestStatus::Pending);
    assert_eq!(got.version, v0);
    assert!(got.votes.is_empty());
    assert_eq!(got.decision, None);
    assert_eq!(got.delivery, None);
    assert!(s.pending_callback(&id(5)).await.unwrap().is_none());
    // A millisecond before the deadline is still in time.
    assert!(
        s.record_vote(VoteWrite {
            id: &id(5),
            expected_version: v0,
            ballot: &a,
            decision: None,
            lease_until: r.expires_at + vote_lease(),
            now: r.expires_at - Duration::milliseconds(1),
        })
        .await
        .unwrap()
    );
}

pub async fn lists_are_newest_first_in_pages(s: &dyn Store) {
    for n in 1..=5 {
        insert(s, n, &["a@x.io"], Duration::hours(1)).await;
    }
    let mut page = query(None, None);
    page.limit = 2;
    let Page { items: first, more } = s.list(&page).await.unwrap();
    assert!(more);
    assert_eq!(ids(first), vec![id(5), id(4)]);
    page.after = Some(id(4));
    let Page {
        items: second,
        more,
    } = s.list(&page).await.unwrap();
    assert!(more);
    assert_eq!(ids(second), vec![id(3), id(2)]);
    page.after = Some(id(2));
    let Page { items: last, more } = s.list(&page).await.unwrap();
    assert!(!more);
    assert_eq!(ids(last), vec![id(1)]);
    page.limit = 5;
    page.after = None;
    let Page { items: all, more } = s.list(&page).await.unwrap();
    assert!(!more, "exactly a page is not more");
    assert_eq!(all.len(), 5);
}

pub async fn lists_filter_by_status(s: &dyn Store) {
    insert(s, 1, &["a@x.io"], Duration::hours(1)).await; // pending
    insert(s, 2, &["a@x.io"], -Duration::seconds(1)).await; // overdue, not yet swept
    insert(s, 3, &["a@x.io"], Duration::hours(1)).await;
    assert!(vote(s, 3, "a@x.io", Some(now_ms())).await); // approved
    insert(s, 4, &["a@x.io"], -Duration::seconds(1)).await;
    assert!(
        s.close_pending(&id(4), RequestStatus::Expired, "deadline", None)
            .await
            .unwrap()
    );
    insert(s, 5, &["a@x.io"], Duration::hours(1)).await;
    assert!(
        s.close_pending(&id(5), RequestStatus::Closed, "stopped", None)
            .await
            .unwrap()
    );
    let list = |st| async move { ids(s.list(&query(st, None)).await.unwrap().items) };
    assert_eq!(list(Some(RequestStatus::Pending)).await, vec![id(1)]);
    assert_eq!(
        list(Some(RequestStatus::Expired)).await,
        vec![id(4), id(2)],
        "an overdue pending request already counts as expired"
    );
    assert_eq!(list(Some(RequestStatus::Approved)).await, vec![id(3)]);
    assert!(list(Some(RequestStatus::Rejected)).await.is_empty());
    assert_eq!(list(Some(RequestStatus::Closed)).await, vec![id(5)]);
    assert_eq!(list(None).await, vec![id(5), id(4), id(3), id(2), id(1)]);
    let mut page = query(Some(RequestStatus::Expired), None);
    page.limit = 1;
    let Page { items: first, more } = s.list(&page).await.unwrap();
    assert_eq!((ids(first), more), (vec![id(4)], true));
    page.after = Some(id(4));
    let Page {
        items: second,
        more,
    } = s.list(&page).await.unwrap();
    assert_eq!((ids(second), more), (vec![id(2)], false));
}

pub async fn summaries_are_the_same_page_as_the_list(s: &dyn Store) {
    insert(s, 1, &["a@x.io"], Duration::hours(1)).await; // pending
    insert(s, 2, &["a@x.io"], -Duration::seconds(1)).await; // overdue
    let mut two = request(
        &["a@x.io", "c@x.io", "group:ops"],
        "b@x.io",
        Duration::hours(1),
    );
    two.required_approvals = 2;
    two.title = "本番へのデプロイ \"shop-api\" <v2> \\ 承認".into();
    two.requested_by = None;
    s.insert(&id(3), &token("token-3"), &two).await.unwrap();
    assert!(vote(s, 3, "a@x.io", None).await); // one of two
    insert(s, 4, &["a@x.io"], Duration::hours(1)).await;
    assert!(vote(s, 4, "a@x.io", Some(now_ms())).await); // approved
    insert(s, 5, &["a@x.io"], Duration::hours(1)).await;
    assert!(
        s.close_pending(&id(5), RequestStatus::Closed, "stopped", None)
            .await
            .unwrap()
    );
    let queries = [
        query(None, None),
        query(Some(RequestStatus::Pending), None),
        query(Some(RequestStatus::Expired), None),
        query(Some(RequestStatus::Approved), None),
        query(None, Some(("c@x.io", &["c@x.io"]))),
        ListQuery {
            limit: 2,
            after: Some(id(5)),
            ..query(None, None)
        },
    ];
    for q in queries {
        let Page { items: full, more } = s.list(&q).await.unwrap();
        let expected: Vec<RequestSummary> = full.into_iter().map(RequestSummary::from).collect();
        let Page {
            items: summaries,
            more: summaries_more,
        } = s.list_summaries(&q).await.unwrap();
        assert_eq!(summaries, expected, "{q:?}");
        assert_eq!(summaries_more, more, "{q:?}");
    }
    let Page { items: all, .. } = s.list_summaries(&query(None, None)).await.unwrap();
    let three = all.iter().find(|r| r.id == id(3)).unwrap();
    assert_eq!(three.title, two.title);
    assert_eq!((three.required_approvals, three.votes.len()), (2, 1));
    assert_eq!(three.requested_by, None);
    let four = all.iter().find(|r| r.id == id(4)).unwrap();
    assert_eq!(four.decision.map(|d| d.0), Some(Outcome::Approved));
}

pub async fn the_votable_list_holds_only_what_the_caller_may_still_vote_on(s: &dyn Store) {
    let z: (&str, &[&str]) = ("z@x.io", &["z@x.io", "group:ops"]);
    insert(s, 1, &["group:ops"], Duration::hours(1)).await; // by group
    insert(s, 2, &["group:ops"], -Duration::seconds(1)).await; // overdue
    insert(s, 3, &["z@x.io", "group:ops"], Duration::hours(1)).await; // by both: once
    insert(s, 4, &["group:other"], Duration::hours(1)).await; // not z's
    let mut r5 = request(&["z@x.io", "y@x.io"], "b@x.io", Duration::hours(1));
    r5.required_approvals = 2;
    s.insert(&id(5), &token("token-5"), &r5).await.unwrap();
    assert!(vote(s, 5, "z@x.io", None).await); // z voted already
    insert(s, 6, &["z@x.io"], Duration::hours(1)).await;
    assert!(vote(s, 6, "z@x.io", Some(now_ms())).await); // decided
    let own = request(&["z@x.io"], "z@x.io", Duration::hours(1));
    s.insert(&id(7), &token("token-7"), &own).await.unwrap(); // z's own request
    let mut own_allowed = request(&["z@x.io"], "z@x.io", Duration::hours(1));
    own_allowed.allow_self_approval = true;
    s.insert(&id(8), &token("token-8"), &own_allowed)
        .await
        .unwrap();
    insert(s, 9, &["group:ops"], Duration::hours(1)).await;

    let Page { items: mine, more } = s.list(&query(None, Some(z))).await.unwrap();
    assert_eq!(ids(mine), vec![id(9), id(8), id(3), id(1)]);
    assert!(!more);
    let Page { items: pending, .. } = s
        .list(&query(Some(RequestStatus::Pending), Some(z)))
        .await
        .unwrap();
    assert_eq!(pending.len(), 4);
    for st in [RequestStatus::Approved, RequestStatus::Expired] {
        let Page { items: none, .. } = s.list(&query(Some(st), Some(z))).await.unwrap();
        assert!(ids(none).is_empty(), "{st:?} requests are not votable");
    }
    let Page { items: other, .. } = s
        .list(&query(None, Some(("y@x.io", &["y@x.io"]))))
        .await
        .unwrap();
    assert_eq!(ids(other), vec![id(5)], "y has not voted yet");

    let mut page = query(None, Some(z));
    page.limit = 2;
    let Page { items: first, more } = s.list(&page).await.unwrap();
    assert_eq!((ids(first), more), (vec![id(9), id(8)], true));
    page.after = Some(id(8));
    let Page {
        items: second,
        more,
    } = s.list(&page).await.unwrap();
    assert_eq!((ids(second), more), (vec![id(3), id(1)], false));
}

pub async fn a_small_page_of_the_votable_list_reads_past_many_decided_requests(s: &dyn Store) {
    // Many approvers (more than one batch of writes), many requests already decided.
    let many: Vec<String> = (0..40).map(|i| format!("p{i}@x.io")).collect();
    let mut approvers: Vec<&str> = many.iter().map(String::as_str).collect();
    approvers.push("z@x.io");
    for n in 1..=12 {
        insert(s, n, &approvers, Duration::hours(1)).await;
    }
    for n in 2..=11 {
        assert!(vote(s, n, "p0@x.io", Some(now_ms())).await);
    }
    let mut page = query(None, Some(("z@x.io", &["z@x.io", "group:none"])));
    page.limit = 1;
    let Page { items: first, more } = s.list(&page).await.unwrap();
    assert_eq!((ids(first), more), (vec![id(12)], true));
    page.after = Some(id(12));
    let Page {
        items: second,
        more,
    } = s.list(&page).await.unwrap();
    assert_eq!((ids(second), more), (vec![id(1)], false));
    let Page { items: p39, .. } = s
        .list(&query(None, Some(("p39@x.io", &["p39@x.io"]))))
        .await
        .unwrap();
    assert_eq!(
        ids(p39),
        vec![id(12), id(1)],
        "the last approver is one too"
    );
}

/// The list of what `email`, standing for `principals`, may see.
fn seen_by(status: Option<RequestStatus>, email: &str, principals: &[&str]) -> ListQuery {
    ListQuery {
        visible_to: Some(person(email, principals)),
        ..query(status, None)
    }
}

/// Inserts request `n` for `approvers`, asked by `requested_by`.
async fn insert_by(s: &dyn Store, n: u8, approvers: &[&str], requested_by: &str) {
    let r = request(approvers, requested_by, Duration::hours(1));
    assert_eq!(
        s.insert(&id(n), &token(&format!("token-{n}")), &r)
            .await
            .unwrap(),
        Inserted::Created
    );
}

/// The ids of the whole list of `q` and whether more follow, checking that the summaries
/// are the same page.
async fn listed(s: &dyn Store, q: &ListQuery) -> (Vec<RequestId>, bool) {
    let Page { items: full, more } = s.list(q).await.unwrap();
    let Page {
        items: summaries,
        more: summaries_more,
    } = s.list_summaries(q).await.unwrap();
    let full = ids(full);
    assert_eq!(
        summaries.into_iter().map(|r| r.id).collect::<Vec<_>>(),
        full,
        "{q:?}"
    );
    assert_eq!(summaries_more, more, "{q:?}");
    (full, more)
}

pub async fn a_stranger_lists_nothing_in_any_status_or_page(s: &dyn Store) {
    insert_by(s, 1, &["a@x.io", "group:ops"], "b@x.io").await; // pending
    insert(s, 2, &["a@x.io"], -Duration::seconds(1)).await; // overdue
    insert(s, 3, &["group:ops"], Duration::hours(1)).await;
    assert!(vote(s, 3, "a@x.io", Some(now_ms())).await); // approved
    insert(s, 4, &["a@x.io"], -Duration::seconds(1)).await;
    assert!(
        s.close_pending(&id(4), RequestStatus::Expired, "deadline", None)
            .await
            .unwrap()
    );
    insert(s, 5, &["a@x.io"], Duration::hours(1)).await;
    assert!(
        s.close_pending(&id(5), RequestStatus::Closed, "stopped", None)
            .await
            .unwrap()
    );
    assert_eq!(listed(s, &query(None, None)).await.0.len(), 5);
    // A stranger: in other groups, named by no request, asked for none; and someone whose
    // email is only a prefix or another case of an approver's.
    let strangers: [(&str, &[&str]); 3] = [
        ("z@x.io", &["z@x.io", "group:other", "group:op"]),
        ("a@x.i", &["a@x.i"]),
        ("b@x.io.evil", &["b@x.io.evil", "group:OPS"]),
    ];
    for (email, principals) in strangers {
        for status in std::iter::once(None).chain(RequestStatus::ALL.map(Some)) {
            let mut q = seen_by(status, email, principals);
            assert_eq!(listed(s, &q).await, (vec![], false), "{q:?}");
            q.limit = 1;
            assert_eq!(listed(s, &q).await, (vec![], false), "{q:?}");
            q.after = Some(id(4));
            assert_eq!(listed(s, &q).await, (vec![], false), "{q:?}");
        }
    }
}

pub async fn approvers_by_email_or_group_and_the_requester_list_what_they_may_see(s: &dyn Store) {
    insert_by(s, 1, &["a@x.io"], "b@x.io").await;
    insert_by(s, 2, &["group:ops"], "c@x.io").await;
    insert_by(s, 3, &["d@x.io", "group:ops"], "b@x.io").await;
    assert!(vote(s, 3, "d@x.io", Some(now_ms())).await); // approved: history stays seen
    insert(s, 4, &["a@x.io"], -Duration::seconds(1)).await;
    assert!(
        s.close_pending(&id(4), RequestStatus::Expired, "deadline", None)
            .await
            .unwrap()
    );
    insert_by(s, 5, &["e@x.io"], "e@x.io").await; // nobody else's
    let seen = |email: &'static str, principals: &'static [&'static str], status| async move {
        listed(s, &seen_by(status, email, principals)).await.0
    };
    // By email, even after the deadline passed.
    assert_eq!(seen("a@x.io", &["a@x.io"], None).await, vec![id(4), id(1)]);
    assert_eq!(
        seen("a@x.io", &["a@x.io"], Some(RequestStatus::Expired)).await,
        vec![id(4)]
    );
    // By group.
    let ops: &[&str] = &["y@x.io", "group:ops"];
    assert_eq!(seen("y@x.io", ops, None).await, vec![id(3), id(2)]);
    assert_eq!(
        seen("y@x.io", ops, Some(RequestStatus::Pending)).await,
        vec![id(2)]
    );
    assert_eq!(
        seen("y@x.io", ops, Some(RequestStatus::Approved)).await,
        vec![id(3)]
    );
    // By email and by group: once.
    assert_eq!(
        seen("d@x.io", &["d@x.io", "group:ops"], None).await,
        vec![id(3), id(2)]
    );
    // The requester, who is no approver.
    assert_eq!(
        seen("b@x.io", &["b@x.io", "group:dev"], None).await,
        vec![id(4), id(3), id(1)]
    );
    assert_eq!(seen("c@x.io", &["c@x.io"], None).await, vec![id(2)]);
    // The requester who is also the approver.
    assert_eq!(seen("e@x.io", &["e@x.io"], None).await, vec![id(5)]);
    // Seen and votable: the votable list within what one sees.
    let q = ListQuery {
        votable_by: Some(person("y@x.io", &["y@x.io", "group:ops"])),
        ..seen_by(None, "y@x.io", ops)
    };
    assert_eq!(listed(s, &q).await, (vec![id(2)], false));
}

pub async fn a_page_of_what_one_may_see_is_full_and_never_counts_hidden_requests(s: &dyn Store) {
    // Five hidden requests around three seen ones, each seen another way.
    for n in [1, 3, 4, 6, 8] {
        insert_by(s, n, &["h@x.io", "group:hidden"], "r@x.io").await;
    }
    insert_by(s, 2, &["h@x.io"], "v@x.io").await; // v asked
    insert_by(s, 5, &["group:v"], "r@x.io").await; // v's group approves
    insert_by(s, 7, &["h@x.io", "v@x.io"], "r@x.io").await; // v approves
    let v: &[&str] = &["v@x.io", "group:v"];
    let mut page = seen_by(None, "v@x.io", v);
    page.limit = 2;
    assert_eq!(listed(s, &page).await, (vec![id(7), id(5)], true));
    page.after = Some(id(5));
    assert_eq!(
        listed(s, &page).await,
        (vec![id(2)], false),
        "no page after the last seen request, whatever is hidden below it"
    );
    page.after = None;
    page.limit = 3;
    assert_eq!(
        listed(s, &page).await,
        (vec![id(7), id(5), id(2)], false),
        "exactly a page of what v sees is not more"
    );
    page.limit = 1;
    let mut pages = Vec::new();
    loop {
        let (items, more) = listed(s, &page).await;
        assert_eq!(items.len(), 1, "a page is never emptied by hidden requests");
        page.after = items.last().cloned();
        pages.extend(items);
        if !more {
            break;
        }
    }
    assert_eq!(pages, vec![id(7), id(5), id(2)]);
    let mut pending = seen_by(Some(RequestStatus::Pending), "v@x.io", v);
    pending.limit = 2;
    assert_eq!(listed(s, &pending).await, (vec![id(7), id(5)], true));
}

pub async fn a_fresh_decision_is_left_to_its_voter_then_owed_until_delivered(s: &dyn Store) {
    insert(s, 3, &["a@x.io"], Duration::hours(1)).await;
    assert!(vote(s, 3, "a@x.io", Some(now_ms())).await);
    assert!(s.due_deliveries(Utc::now(), 10).await.unwrap().is_empty());
    let due = s
        .due_deliveries(Utc::now() + Duration::minutes(1), 10)
        .await
        .unwrap();
    assert_eq!(due, vec![id(3)]);
    let later = now_ms() + Duration::minutes(5);
    s.record_delivery(&id(3), Delivery::Pending, Some("throttled"), Some(later))
        .await
        .unwrap();
    assert!(s.due_deliveries(Utc::now(), 10).await.unwrap().is_empty());
    assert_eq!(s.due_deliveries(later, 10).await.unwrap(), vec![id(3)]);
    let got = s.get(&id(3)).await.unwrap().unwrap();
    assert_eq!(got.last_delivery_error.as_deref(), Some("throttled"));
    assert_eq!(
        s.pending_callback(&id(3)).await.unwrap().unwrap().attempts,
        1
    );
    s.record_delivery(&id(3), Delivery::Delivered, None, None)
        .await
        .unwrap();
    assert!(s.due_deliveries(later, 10).await.unwrap().is_empty());
    let got = s.get(&id(3)).await.unwrap().unwrap();
    assert_eq!(got.delivery, Some(Delivery::Delivered));
    assert_eq!(got.delivery_attempts, 2);
    assert_eq!(got.last_delivery_error, None);
    assert!(s.pending_callback(&id(3)).await.unwrap().is_none());
    // A late "task gone" from a duplicate attempt changes nothing.
    s.record_delivery(&id(3), Delivery::TaskGone, Some("InvalidToken"), None)
        .await
        .unwrap();
    let got = s.get(&id(3)).await.unwrap().unwrap();
    assert_eq!(got.status, RequestStatus::Approved);
    assert_eq!(got.delivery, Some(Delivery::Delivered));
    assert_eq!(got.delivery_attempts, 2);
    assert_eq!(got.closed_reason, None);
}

pub async fn a_deciding_vote_claims_its_delivery_until_its_lease_ends(s: &dyn Store) {
    insert(s, 3, &["a@x.io"], Duration::hours(1)).await;
    let at = now_ms();
    let lease = at + vote_lease();
    assert!(vote(s, 3, "a@x.io", Some(at)).await);
    let got = s.get(&id(3)).await.unwrap().unwrap();
    assert_eq!(got.status, RequestStatus::Approved);
    assert_eq!(
        got.delivery,
        Some(Delivery::Unconfirmed),
        "an attempt is under way and its outcome unknown"
    );
    assert_eq!(got.delivery_attempts, 0);
    let owed = s.pending_callback(&id(3)).await.unwrap().unwrap();
    assert_eq!((owed.callback, owed.attempts), (success(), 0));
    for t in [at, lease - Duration::milliseconds(1)] {
        assert!(
            s.claim_delivery(&id(3), t, t + Duration::seconds(10))
                .await
                .unwrap()
                .is_none(),
            "the voter's attempt holds the claim until {lease}, asked at {t}"
        );
        assert!(
            !s.due_deliveries(t, 100).await.unwrap().contains(&id(3)),
            "not due while the voter's attempt holds it, asked at {t}"
        );
    }
    // The voter's attempt never recorded its end (Hanko stopped): once the lease has
    // passed, the sweeper finds it and claims it, knowing it may have reached Step
    // Functions.
    assert_eq!(s.due_deliveries(lease, 100).await.unwrap(), vec![id(3)]);
    let later = lease + Duration::seconds(10);
    let claim = s
        .claim_delivery(&id(3), lease, later)
        .await
        .unwrap()
        .expect("claimable when the vote's lease ends");
    assert_eq!(claim.callback, success());
    assert_eq!(claim.attempts, 0);
    assert!(claim.unconfirmed, "the voter's attempt got no answer");
    assert!(
        s.claim_delivery(&id(3), lease, later)
            .await
            .unwrap()
            .is_none(),
        "and then one attempt at a time again"
    );
    assert!(!s.due_deliveries(lease, 100).await.unwrap().contains(&id(3)));
    assert_eq!(s.due_deliveries(later, 100).await.unwrap(), vec![id(3)]);
}

pub async fn a_vote_that_does_not_decide_claims_nothing(s: &dyn Store) {
    let mut r = request(&["a@x.io", "c@x.io"], "b@x.io", Duration::hours(1));
    r.required_approvals = 2;
    s.insert(&id(4), &token("token-4"), &r).await.unwrap();
    assert!(vote(s, 4, "a@x.io", None).await);
    let got = s.get(&id(4)).await.unwrap().unwrap();
    assert_eq!(got.status, RequestStatus::Pending);
    assert_eq!(got.delivery, None);
    assert!(s.pending_callback(&id(4)).await.unwrap().is_none());
    let now = now_ms();
    assert!(
        s.claim_delivery(&id(4), now, now + vote_lease())
            .await
            .unwrap()
            .is_none()
    );
    assert!(
        s.due_deliveries(now + Duration::hours(1), 100)
            .await
            .unwrap()
            .is_empty()
    );
    // Closed with a callback owed, it is claimable at once: the vote left no claim behind.
    let cb = expired();
    assert!(
        s.close_pending(&id(4), RequestStatus::Expired, "deadline", Some(cb.clone()))
            .await
            .unwrap()
    );
    let now = now_ms();
    let claim = s
        .claim_delivery(&id(4), now, now + vote_lease())
        .await
        .unwrap()
        .expect("nothing held it");
    assert_eq!(claim.callback, cb);
    assert!(!claim.unconfirmed);
}

pub async fn only_a_pending_request_can_be_closed(s: &dyn Store) {
    insert(s, 3, &["a@x.io"], Duration::hours(1)).await;
    assert!(vote(s, 3, "a@x.io", Some(now_ms())).await);
    insert(s, 6, &["a@x.io"], -Duration::seconds(1)).await;
    insert(s, 7, &["a@x.io"], Duration::hours(1)).await;
    assert_eq!(s.overdue(Utc::now(), 10).await.unwrap(), vec![id(6)]);
    assert_eq!(
        s.overdue(Utc::now() + Duration::hours(2), 10)
            .await
            .unwrap(),
        vec![id(6), id(7)],
        "earliest deadline first"
    );
    let cb = expired();
    let before = now_ms();
    assert!(
        s.close_pending(&id(6), RequestStatus::Expired, "deadline", Some(cb.clone()))
            .await
            .unwrap()
    );
    assert!(
        !s.close_pending(&id(6), RequestStatus::Expired, "deadline", Some(cb.clone()))
            .await
            .unwrap(),
        "closing twice closes once"
    );
    assert!(
        !s.close_pending(&id(3), RequestStatus::Expired, "deadline", None)
            .await
            .unwrap()
    );
    assert!(s.overdue(Utc::now(), 10).await.unwrap().is_empty());
    let got = s.get(&id(6)).await.unwrap().unwrap();
    assert_eq!(got.status, RequestStatus::Expired);
    assert_eq!(got.closed_reason.as_deref(), Some("deadline"));
    assert_eq!(got.delivery, Some(Delivery::Pending));
    assert!(
        got.closed_at
            .is_some_and(|t| t >= before && t <= Utc::now())
    );
    assert_eq!(
        s.pending_callback(&id(6))
            .await
            .unwrap()
            .map(|p| p.callback),
        Some(cb)
    );
    assert!(
        s.due_deliveries(Utc::now(), 10)
            .await
            .unwrap()
            .contains(&id(6)),
        "an expiry is delivered at once"
    );
    s.record_delivery(&id(6), Delivery::TaskGone, Some("TaskTimedOut"), None)
        .await
        .unwrap();
    let got = s.get(&id(6)).await.unwrap().unwrap();
    assert_eq!(
        got.status,
        RequestStatus::Expired,
        "an expired request stays expired when its task is gone"
    );
    assert_eq!(got.closed_reason.as_deref(), Some("deadline"));
    assert_eq!(got.delivery, Some(Delivery::TaskGone));
}

pub async fn a_decided_request_whose_task_is_gone_is_closed(s: &dyn Store) {
    insert(s, 3, &["a@x.io"], Duration::hours(1)).await;
    let at = now_ms();
    assert!(vote(s, 3, "a@x.io", Some(at)).await);
    s.record_delivery(&id(3), Delivery::TaskGone, Some("execution stopped"), None)
        .await
        .unwrap();
    let got = s.get(&id(3)).await.unwrap().unwrap();
    assert_eq!(got.status, RequestStatus::Closed);
    assert_eq!(got.closed_reason.as_deref(), Some("execution stopped"));
    assert_eq!(got.delivery, Some(Delivery::TaskGone));
    assert_eq!(got.decision.map(|d| d.outcome), Some(Outcome::Approved));
    assert_eq!(got.closed_at, Some(at), "it closed when it was decided");
    assert!(
        s.due_deliveries(at + Duration::hours(1), 10)
            .await
            .unwrap()
            .is_empty()
    );
    let Page { items: closed, .. } = s
        .list(&query(Some(RequestStatus::Closed), None))
        .await
        .unwrap();
    assert_eq!(ids(closed), vec![id(3)]);
    let Page {
        items: approved, ..
    } = s
        .list(&query(Some(RequestStatus::Approved), None))
        .await
        .unwrap();
    assert!(approved.is_empty());
}

pub async fn a_close_without_a_callback_owes_nothing(s: &dyn Store) {
    insert(s, 1, &["a@x.io"], Duration::hours(1)).await;
    assert!(
        s.close_pending(&id(1), RequestStatus::Closed, "execution aborted", None)
            .await
            .unwrap()
    );
    let got = s.get(&id(1)).await.unwrap().unwrap();
    assert_eq!(got.status, RequestStatus::Closed);
    assert_eq!(got.delivery, None);
    assert!(s.pending_callback(&id(1)).await.unwrap().is_none());
    assert!(
        s.due_deliveries(Utc::now() + Duration::hours(1), 10)
            .await
            .unwrap()
            .is_empty()
    );
    assert!(
        s.overdue(Utc::now() + Duration::hours(2), 10)
            .await
            .unwrap()
            .is_empty()
    );
}

pub async fn decided_between_lists_what_closed_in_the_window_oldest_first(s: &dyn Store) {
    let t0 = now_ms() - Duration::hours(3);
    for (n, at) in [
        (1, t0 - Duration::milliseconds(1)),
        (2, t0),
        (3, t0 + Duration::minutes(30)),
        (4, t0 + Duration::hours(1)),
    ] {
        insert(s, n, &["a@x.io"], Duration::hours(4)).await;
        assert!(vote(s, n, "a@x.io", Some(at)).await);
    }
    insert(s, 5, &["a@x.io"], Duration::hours(1)).await; // still pending
    insert(s, 6, &["a@x.io"], -Duration::seconds(1)).await;
    let before_close = now_ms();
    assert!(
        s.close_pending(&id(6), RequestStatus::Expired, "deadline", None)
            .await
            .unwrap()
    );

    let window = s
        .decided_between(t0, t0 + Duration::hours(1), 10)
        .await
        .unwrap();
    assert_eq!(
        ids(window),
        vec![id(2), id(3)],
        "from is inclusive, to is exclusive"
    );
    let first = s
        .decided_between(t0 - Duration::days(1), Utc::now() + Duration::minutes(1), 2)
        .await
        .unwrap();
    assert_eq!(
        ids(first),
        vec![id(1), id(2)],
        "oldest first, at most limit"
    );
    let all = s
        .decided_between(
            t0 - Duration::days(1),
            Utc::now() + Duration::minutes(1),
            100,
        )
        .await
        .unwrap();
    assert_eq!(
        ids(all.clone()),
        vec![id(1), id(2), id(3), id(4), id(6)],
        "an expiry counts with its closing time; a pending request does not"
    );
    let expired = all.last().unwrap();
    assert_eq!(expired.status, RequestStatus::Expired);
    assert!(expired.closed_at.is_some_and(|t| t >= before_close));
    assert_eq!(all[1].votes.len(), 1, "requests come whole");
    assert!(
        s.decided_between(t0, t0, 10).await.unwrap().is_empty(),
        "an empty window"
    );
}

pub async fn an_unknown_id_has_nothing(s: &dyn Store) {
    let nobody = id(42);
    assert!(s.get(&nobody).await.unwrap().is_none());
    assert!(s.task_token(&nobody).await.unwrap().is_none());
    assert!(s.pending_callback(&nobody).await.unwrap().is_none());
    assert!(
        !s.close_pending(&nobody, RequestStatus::Expired, "deadline", None)
            .await
            .unwrap()
    );
    s.record_delivery(&nobody, Delivery::Delivered, None, None)
        .await
        .unwrap();
    assert!(
        s.get(&nobody).await.unwrap().is_none(),
        "nothing was created"
    );
    let Page { items: page, more } = s.list(&query(None, None)).await.unwrap();
    assert!(page.is_empty() && !more);
    let now = now_ms();
    assert!(
        s.claim_delivery(&nobody, now, now + Duration::seconds(10))
            .await
            .unwrap()
            .is_none()
    );
    assert!(
        s.get(&nobody).await.unwrap().is_none(),
        "a claim creates nothing"
    );
    assert!(s.pending_oldest_first(None, 10).await.unwrap().is_empty());
}

pub async fn a_delivery_is_claimed_by_one_attempt_at_a_time(s: &dyn Store) {
    insert(s, 7, &["a@x.io"], Duration::hours(1)).await;
    insert(s, 8, &["a@x.io"], Duration::hours(1)).await;
    let now = now_ms();
    assert!(
        s.claim_delivery(&id(8), now, now + Duration::seconds(10))
            .await
            .unwrap()
            .is_none(),
        "an undecided request owes nothing"
    );
    assert!(vote(s, 7, "a@x.io", Some(now)).await);
    // The voter's attempt, claimed by its vote, was refused before Step Functions acted
    // on it; recording that ended its claim.
    s.record_delivery(&id(7), Delivery::Pending, Some("throttled"), Some(now))
        .await
        .unwrap();
    let lease = now + Duration::seconds(10);
    let first = s.claim_delivery(&id(7), now, lease).await.unwrap().unwrap();
    assert_eq!(first.callback, success());
    assert_eq!(first.attempts, 1);
    assert!(!first.unconfirmed);
    assert!(
        s.claim_delivery(&id(7), now, lease)
            .await
            .unwrap()
            .is_none(),
        "one attempt at a time"
    );
    assert!(
        s.claim_delivery(&id(7), lease - Duration::milliseconds(1), lease)
            .await
            .unwrap()
            .is_none(),
        "not before the claim ends"
    );
    let got = s.get(&id(7)).await.unwrap().unwrap();
    assert_eq!(got.delivery, Some(Delivery::Unconfirmed));
    assert_eq!(got.status, RequestStatus::Approved);
    assert!(
        !s.due_deliveries(now + Duration::seconds(5), 100)
            .await
            .unwrap()
            .contains(&id(7)),
        "a claimed delivery is not due while its claim holds"
    );
    assert_eq!(
        s.due_deliveries(lease, 100).await.unwrap(),
        vec![id(7)],
        "an attempt that never recorded its end is due again when its claim ends"
    );
    assert_eq!(
        s.pending_callback(&id(7))
            .await
            .unwrap()
            .map(|p| p.callback),
        Some(success()),
        "an unconfirmed callback is still owed"
    );

    // The attempt never recorded its end (its process died): after the lease another
    // claims it, knowing the first may have reached Step Functions.
    let later = lease + Duration::seconds(10);
    let second = s
        .claim_delivery(&id(7), lease, later)
        .await
        .unwrap()
        .unwrap();
    assert!(second.unconfirmed);
    assert_eq!(second.attempts, 1);
    s.record_delivery(
        &id(7),
        Delivery::Unconfirmed,
        Some("throttled"),
        Some(later),
    )
    .await
    .unwrap();
    let got = s.get(&id(7)).await.unwrap().unwrap();
    assert_eq!(got.delivery, Some(Delivery::Unconfirmed));
    assert_eq!(got.last_delivery_error.as_deref(), Some("throttled"));
    assert!(
        !s.due_deliveries(later - Duration::seconds(1), 100)
            .await
            .unwrap()
            .contains(&id(7)),
        "a recorded retry time holds"
    );
    assert_eq!(s.due_deliveries(later, 100).await.unwrap(), vec![id(7)]);
    let third = s
        .claim_delivery(&id(7), later, later + Duration::seconds(10))
        .await
        .unwrap()
        .expect("recording the attempt ended its claim");
    assert!(third.unconfirmed);
    assert_eq!(third.attempts, 2);
    s.record_delivery(
        &id(7),
        Delivery::DeliveredOrGone,
        Some("answered InvalidToken after an unanswered attempt"),
        None,
    )
    .await
    .unwrap();
    let got = s.get(&id(7)).await.unwrap().unwrap();
    assert_eq!(got.status, RequestStatus::Approved, "the decision stands");
    assert_eq!(got.delivery, Some(Delivery::DeliveredOrGone));
    assert_eq!(got.delivery_attempts, 3);
    assert_eq!(
        got.closed_reason.as_deref(),
        Some("answered InvalidToken after an unanswered attempt")
    );
    assert_eq!(got.closed_at, Some(now), "it closed when it was decided");
    assert!(
        s.claim_delivery(
            &id(7),
            later + Duration::hours(1),
            later + Duration::hours(2)
        )
        .await
        .unwrap()
        .is_none()
    );
    assert!(s.pending_callback(&id(7)).await.unwrap().is_none());
    assert!(
        s.due_deliveries(later + Duration::hours(3), 100)
            .await
            .unwrap()
            .is_empty()
    );
    // A late answer to the duplicate attempt changes nothing.
    s.record_delivery(&id(7), Delivery::TaskGone, Some("InvalidToken"), None)
        .await
        .unwrap();
    let again = s.get(&id(7)).await.unwrap().unwrap();
    assert_eq!(again.status, RequestStatus::Approved);
    assert_eq!(again.delivery, Some(Delivery::DeliveredOrGone));
    assert_eq!(again.delivery_attempts, 3);
}

pub async fn an_answer_after_an_unanswered_attempt_keeps_what_was_closed_and_says_why(
    s: &dyn Store,
) {
    insert(s, 6, &["a@x.io"], -Duration::seconds(1)).await;
    let cb = expired();
    assert!(
        s.close_pending(&id(6), RequestStatus::Expired, "deadline", Some(cb.clone()))
            .await
            .unwrap()
    );
    let now = now_ms();
    let claim = s
        .claim_delivery(&id(6), now, now + Duration::seconds(10))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(claim.callback, cb);
    assert!(!claim.unconfirmed);
    s.record_delivery(
        &id(6),
        Delivery::Unconfirmed,
        Some("timed out"),
        Some(now + Duration::seconds(1)),
    )
    .await
    .unwrap();
    let retry = s
        .claim_delivery(
            &id(6),
            now + Duration::seconds(1),
            now + Duration::seconds(11),
        )
        .await
        .unwrap()
        .unwrap();
    assert!(retry.unconfirmed, "the attempt without an answer counts");
    s.record_delivery(
        &id(6),
        Delivery::DeliveredOrGone,
        Some("TaskTimedOut"),
        None,
    )
    .await
    .unwrap();
    let got = s.get(&id(6)).await.unwrap().unwrap();
    assert_eq!(got.status, RequestStatus::Expired);
    assert_eq!(got.delivery, Some(Delivery::DeliveredOrGone));
    assert_eq!(got.closed_reason.as_deref(), Some("deadline; TaskTimedOut"));
}

pub async fn pending_requests_come_oldest_first_with_their_execution(s: &dyn Store) {
    for n in [4u8, 1, 9, 2, 5] {
        insert(s, n, &["a@x.io"], Duration::hours(1)).await;
    }
    // Overdue but not yet expired by the sweeper: still pending, still reconciled.
    insert(s, 3, &["a@x.io"], -Duration::seconds(1)).await;
    assert!(vote(s, 4, "a@x.io", Some(now_ms())).await);
    assert!(
        s.close_pending(&id(9), RequestStatus::Closed, "execution aborted", None)
            .await
            .unwrap()
    );
    let all = s.pending_oldest_first(None, 100).await.unwrap();
    let got: Vec<RequestId> = all.iter().map(|w| w.id.clone()).collect();
    assert_eq!(got, vec![id(1), id(2), id(3), id(5)], "oldest first");
    for w in &all {
        let r = s.get(&w.id).await.unwrap().unwrap();
        assert_eq!(r.request.execution_arn, w.execution_arn);
    }
    let first = s.pending_oldest_first(None, 1).await.unwrap();
    assert_eq!(first, all[..1].to_vec());
    let next = s.pending_oldest_first(Some(&id(1)), 2).await.unwrap();
    assert_eq!(next, all[1..3].to_vec());
    let rest = s.pending_oldest_first(Some(&id(3)), 100).await.unwrap();
    assert_eq!(rest, all[3..].to_vec());
    assert!(
        s.pending_oldest_first(Some(&id(5)), 100)
            .await
            .unwrap()
            .is_empty()
    );
    assert!(s.pending_oldest_first(None, 0).await.unwrap().is_empty());
}

pub async fn the_oldest_owed_callback_is_the_earliest_decision_not_yet_delivered(s: &dyn Store) {
    assert_eq!(s.oldest_owed_callback().await.unwrap(), None);
    for n in 1..=3 {
        insert(s, n, &["a@x.io"], Duration::hours(1)).await;
    }
    assert_eq!(
        s.oldest_owed_callback().await.unwrap(),
        None,
        "pending requests owe nothing"
    );
    let early = now_ms() - Duration::minutes(30);
    let late = now_ms() - Duration::minutes(5);
    assert!(vote(s, 2, "a@x.io", Some(late)).await);
    assert!(vote(s, 3, "a@x.io", Some(early)).await);
    assert_eq!(s.oldest_owed_callback().await.unwrap(), Some(early));
    s.record_delivery(&id(3), Delivery::Delivered, None, None)
        .await
        .unwrap();
    assert_eq!(s.oldest_owed_callback().await.unwrap(), Some(late));
    let before_close = now_ms();
    assert!(
        s.close_pending(
            &id(1),
            RequestStatus::Expired,
            "deadline",
            Some(Callback::Failure {
                error: "Hanko.Expired".into(),
                cause: "{}".into(),
            }),
        )
        .await
        .unwrap()
    );
    assert_eq!(s.oldest_owed_callback().await.unwrap(), Some(late));
    s.record_delivery(&id(2), Delivery::TaskGone, Some("InvalidToken"), None)
        .await
        .unwrap();
    let expiry = s
        .oldest_owed_callback()
        .await
        .unwrap()
        .expect("the expiry is owed");
    assert!(expiry >= before_close, "{expiry} is the expiry's close");
    s.record_delivery(&id(1), Delivery::Delivered, None, None)
        .await
        .unwrap();
    assert_eq!(s.oldest_owed_callback().await.unwrap(), None);
}

pub async fn chat_messages_of_a_request_are_kept_once_each_and_apart_from_other_requests(
    s: &dyn Store,
) {
    insert(s, 1, &["alice@example.com"], Duration::hours(1)).await;
    insert(s, 2, &["alice@example.com"], Duration::hours(1)).await;
    let msg = |channel: &str, ts: &str| ChatMessage {
        channel: channel.into(),
        ts: ts.into(),
        lang: if channel == "C0A" { "ja" } else { "en" }.into(),
    };
    assert!(s.chat_messages(&id(1)).await.unwrap().is_empty());
    s.add_chat_message(&id(1), &msg("C0B", "1765000000.000200"))
        .await
        .unwrap();
    s.add_chat_message(&id(1), &msg("C0A", "1765000000.000100"))
        .await
        .unwrap();
    s.add_chat_message(&id(1), &msg("C0B", "1765000000.000200"))
        .await
        .unwrap();
    s.add_chat_message(&id(2), &msg("C0A", "1765000099.000900"))
        .await
        .unwrap();
    assert_eq!(
        s.chat_messages(&id(1)).await.unwrap(),
        vec![
            msg("C0A", "1765000000.000100"),
            msg("C0B", "1765000000.000200")
        ]
    );
    assert_eq!(
        s.chat_messages(&id(2)).await.unwrap(),
        vec![msg("C0A", "1765000099.000900")]
    );
    assert!(s.chat_messages(&id(42)).await.unwrap().is_empty());
    let stored = s
        .get(&id(1))
        .await
        .unwrap()
        .expect("the request is still there");
    assert_eq!(stored.status, RequestStatus::Pending);
}

/// Request `n`, due in an hour, reminding 50 and 10 minutes before its deadline, and
/// escalating to `c@x.io` and `group:leads` after 20 minutes.
async fn insert_nudging(s: &dyn Store, n: u8) -> NewRequest {
    let r = NewRequest {
        remind_before_seconds: vec![3000, 600],
        escalation: Some(Escalation {
            after_seconds: 1200,
            to: vec![
                Principal::parse("c@x.io").unwrap(),
                Principal::parse("group:leads").unwrap(),
            ],
            escalated_at: None,
            added: Vec::new(),
        }),
        ..request(&["a@x.io"], "b@x.io", Duration::hours(1))
    };
    assert_eq!(
        s.insert(&id(n), &token(&format!("token-{n}")), &r)
            .await
            .unwrap(),
        Inserted::Created
    );
    r
}

/// Claims `keys` of request `n` as the sweeper would at `now`.
async fn claim(s: &dyn Store, n: u8, req: &NewRequest, keys: &[&str], now: DateTime<Utc>) -> bool {
    let mut sent = s.sent_nudges(&id(n)).await.unwrap();
    let keys: Vec<String> = keys.iter().map(|k| k.to_string()).collect();
    sent.extend(keys.iter().cloned());
    s.claim_nudges(NudgeClaim {
        id: &id(n),
        keys: &keys,
        next_due: nudge::next_due(req, &sent),
        escalated: None,
        now,
    })
    .await
    .unwrap()
}

pub async fn reminders_come_due_in_order_and_each_is_claimed_once(s: &dyn Store) {
    let r = insert_nudging(s, 1).await;
    let at = |secs: i64| r.created_at + Duration::seconds(secs);
    assert!(s.due_nudges(at(599), 10).await.unwrap().is_empty());
    // The first reminder (50 minutes before the deadline) is due after 10 minutes.
    assert_eq!(s.due_nudges(at(600), 10).await.unwrap(), vec![id(1)]);
    assert!(claim(s, 1, &r, &["remind:3000"], at(600)).await);
    assert!(
        !claim(s, 1, &r, &["remind:3000"], at(601)).await,
        "claimed twice"
    );
    assert_eq!(s.sent_nudges(&id(1)).await.unwrap(), vec!["remind:3000"]);
    // Next: the escalation after 20 minutes, then the last reminder at 50.
    assert!(s.due_nudges(at(1199), 10).await.unwrap().is_empty());
    assert_eq!(s.due_nudges(at(1200), 10).await.unwrap(), vec![id(1)]);
    assert!(claim(s, 1, &r, &["escalate"], at(1200)).await);
    assert!(s.due_nudges(at(2999), 10).await.unwrap().is_empty());
    assert!(claim(s, 1, &r, &["remind:600"], at(3000)).await);
    assert!(
        s.due_nudges(at(3599), 10).await.unwrap().is_empty(),
        "none left"
    );
    let mut sent = s.sent_nudges(&id(1)).await.unwrap();
    sent.sort();
    assert_eq!(sent, vec!["escalate", "remind:3000", "remind:600"]);
    // A request without any has none due.
    insert(s, 2, &["a@x.io"], Duration::hours(1)).await;
    assert!(s.due_nudges(at(3599), 10).await.unwrap().is_empty());
}

pub async fn racing_sweepers_claim_a_reminder_once(s: &dyn Store) {
    let r = insert_nudging(s, 3).await;
    let now = r.created_at + Duration::seconds(601);
    let won = tokio::join!(
        claim(s, 3, &r, &["remind:3000"], now),
        claim(s, 3, &r, &["remind:3000"], now),
        claim(s, 3, &r, &["remind:3000"], now),
    );
    let won = [won.0, won.1, won.2];
    assert_eq!(won.iter().filter(|w| **w).count(), 1, "{won:?}");
    // Two reminders claimed together are all or nothing.
    assert!(!claim(s, 3, &r, &["remind:600", "remind:3000"], now).await);
    assert_eq!(s.sent_nudges(&id(3)).await.unwrap(), vec!["remind:3000"]);
}

pub async fn an_escalation_makes_its_principals_approvers_who_may_then_see_and_vote(s: &dyn Store) {
    let r = insert_nudging(s, 4).await;
    let carol: &[&str] = &["c@x.io"];
    let lead: &[&str] = &["l@x.io", "group:leads"];
    assert!(
        listed(s, &seen_by(None, "c@x.io", carol))
            .await
            .0
            .is_empty()
    );
    let before = s.get(&id(4)).await.unwrap().unwrap();
    let now = r.created_at + Duration::seconds(1201);
    let escalated = nudge::escalated(&r, now).unwrap();
    let keys = vec!["escalate".to_string()];
    assert!(
        s.claim_nudges(NudgeClaim {
            id: &id(4),
            keys: &keys,
            next_due: nudge::next_due(&r, &keys),
            escalated: Some(&escalated),
            now,
        })
        .await
        .unwrap()
    );
    let after = s.get(&id(4)).await.unwrap().unwrap();
    assert!(
        after.version > before.version,
        "a vote read before must read again"
    );
    assert_eq!(after.request, escalated);
    let e = after.request.escalation.as_ref().unwrap();
    assert_eq!(e.escalated_at, Some(now));
    assert_eq!(e.added.len(), 2);
    for (email, principals) in [("c@x.io", carol), ("l@x.io", lead)] {
        assert_eq!(
            listed(s, &seen_by(None, email, principals)).await.0,
            vec![id(4)],
            "{email} sees it"
        );
        assert_eq!(
            listed(
                s,
                &query(Some(RequestStatus::Pending), Some((email, principals)))
            )
            .await
            .0,
            vec![id(4)],
            "{email} may vote on it"
        );
    }
}

pub async fn nothing_is_claimed_of_a_request_that_is_not_pending(s: &dyn Store) {
    let r = insert_nudging(s, 5).await;
    assert!(
        s.close_pending(&id(5), RequestStatus::Closed, "gone", None)
            .await
            .unwrap()
    );
    let now = r.created_at + Duration::seconds(601);
    assert!(!claim(s, 5, &r, &["remind:3000"], now).await);
    s.drop_nudges(&id(5)).await.unwrap();
    assert!(s.due_nudges(now, 10).await.unwrap().is_empty());
    assert!(s.sent_nudges(&id(5)).await.unwrap().is_empty());
    // Past the deadline, even a pending request is not reminded.
    let r = insert_nudging(s, 6).await;
    assert!(!claim(s, 6, &r, &["remind:600"], r.expires_at).await);
}
