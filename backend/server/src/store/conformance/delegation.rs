//! What every store must do for delegation: keep one delegation per delegator, find them
//! by their delegate, keep one vote per seat, and let a delegate list the delegator's
//! requests.

use chrono::{Duration, Utc};
use hanko_api::{RequestStatus, VoteChoice};

use super::{ballot, id, insert_by, listed, ms_time, person, query, seen_by};
use crate::domain::Delegation;
use crate::domain::rules::Ballot;
use crate::store::{Store, VoteWrite};

/// `delegator` (with `groups`) to `delegate`, from `from_h` hours from now until `until_h`.
fn delegation(
    delegator: &str,
    groups: &[&str],
    delegate: &str,
    from_h: i64,
    until_h: i64,
) -> Delegation {
    let now = ms_time(Utc::now().timestamp_millis());
    Delegation {
        delegator: delegator.into(),
        groups: groups.iter().map(|g| g.to_string()).collect(),
        delegate: delegate.parse().expect("an email"),
        from: now + Duration::hours(from_h),
        until: now + Duration::hours(until_h),
        created_at: now,
    }
}

/// Records `b` on request `n` at the version just read.
async fn cast(s: &dyn Store, n: u8, b: &Ballot) -> bool {
    let version = s.get(&id(n)).await.unwrap().unwrap().version;
    s.record_vote(VoteWrite {
        id: &id(n),
        expected_version: version,
        ballot: b,
        decision: None,
        lease_until: Utc::now(),
        now: Utc::now(),
    })
    .await
    .unwrap()
}

fn for_(voter: &str, seat: &str) -> Ballot {
    Ballot {
        on_behalf_of: Some(seat.into()),
        ..ballot(voter, VoteChoice::Approve)
    }
}

pub async fn a_delegation_is_set_found_by_its_delegate_replaced_and_ended(s: &dyn Store) {
    let now = Utc::now();
    assert_eq!(s.delegation_of("alice@x.io").await.unwrap(), None);
    let to_carol = delegation("alice@x.io", &["ops", "dev"], "carol@x.io", -1, 24);
    s.put_delegation(&to_carol).await.unwrap();
    assert_eq!(
        s.delegation_of("alice@x.io").await.unwrap(),
        Some(to_carol.clone())
    );
    assert_eq!(
        s.delegations_to("carol@x.io", now).await.unwrap(),
        vec![to_carol]
    );
    // One per delegator: a new one replaces it, and the old delegate loses it.
    let to_dave = delegation("alice@x.io", &["ops"], "dave@x.io", 0, 48);
    s.put_delegation(&to_dave).await.unwrap();
    assert_eq!(
        s.delegation_of("alice@x.io").await.unwrap(),
        Some(to_dave.clone())
    );
    assert!(
        s.delegations_to("carol@x.io", now)
            .await
            .unwrap()
            .is_empty()
    );
    assert_eq!(
        s.delegations_to("dave@x.io", now).await.unwrap(),
        vec![to_dave.clone()]
    );
    // Another delegator to the same delegate, listed beside.
    let bob = delegation("bob@x.io", &[], "dave@x.io", 2, 3);
    s.put_delegation(&bob).await.unwrap();
    assert_eq!(
        s.delegations_to("dave@x.io", now).await.unwrap(),
        vec![to_dave, bob.clone()]
    );
    assert!(s.delete_delegation("alice@x.io").await.unwrap());
    assert!(!s.delete_delegation("alice@x.io").await.unwrap());
    assert_eq!(s.delegation_of("alice@x.io").await.unwrap(), None);
    assert_eq!(s.delegations_to("dave@x.io", now).await.unwrap(), vec![bob]);
}

pub async fn a_delegation_that_has_ended_is_not_found_by_its_delegate(s: &dyn Store) {
    let ended = delegation("alice@x.io", &[], "carol@x.io", -48, -24);
    s.put_delegation(&ended).await.unwrap();
    assert!(
        s.delegations_to("carol@x.io", Utc::now())
            .await
            .unwrap()
            .is_empty()
    );
    // Still the delegator's until replaced or deleted (the api hides it).
    assert_eq!(s.delegation_of("alice@x.io").await.unwrap(), Some(ended));
}

pub async fn a_seat_holds_one_vote_by_its_person_or_their_delegate(s: &dyn Store) {
    insert_by(s, 1, &["alice@x.io", "carol@x.io"], "b@x.io").await;
    assert!(cast(s, 1, &for_("carol@x.io", "alice@x.io")).await);
    // Alice's seat is taken, even at the version just read.
    assert!(!cast(s, 1, &ballot("alice@x.io", VoteChoice::Approve)).await);
    // Carol's own seat is another.
    assert!(cast(s, 1, &ballot("carol@x.io", VoteChoice::Approve)).await);
    let votes = s.get(&id(1)).await.unwrap().unwrap().votes;
    let mut seats: Vec<(String, Option<String>)> = votes
        .iter()
        .map(|v| (v.voter.clone(), v.on_behalf_of.clone()))
        .collect();
    seats.sort();
    assert_eq!(
        seats,
        vec![
            ("carol@x.io".into(), None),
            ("carol@x.io".into(), Some("alice@x.io".into())),
        ]
    );
    // And the other way round: alice first, then carol cannot vote for her.
    insert_by(s, 2, &["alice@x.io"], "b@x.io").await;
    assert!(cast(s, 2, &ballot("alice@x.io", VoteChoice::Approve)).await);
    assert!(!cast(s, 2, &for_("carol@x.io", "alice@x.io")).await);
}

pub async fn a_delegate_lists_what_the_delegator_approves_and_votes_on_her_open_seats(
    s: &dyn Store,
) {
    insert_by(s, 1, &["alice@x.io"], "b@x.io").await;
    insert_by(s, 2, &["group:ops"], "b@x.io").await;
    insert_by(s, 3, &["bob@x.io"], "b@x.io").await;
    // Carol asked for it: she cannot approve it for alice.
    insert_by(s, 4, &["alice@x.io"], "carol@x.io").await;
    // Alice's seat is taken.
    insert_by(s, 5, &["alice@x.io"], "b@x.io").await;
    assert!(cast(s, 5, &ballot("alice@x.io", VoteChoice::Approve)).await);
    // Alice asked for it: nobody decides it for her.
    insert_by(s, 6, &["group:ops"], "alice@x.io").await;
    let mut carol = person("carol@x.io", &["carol@x.io"]);
    let (seen, _) = listed(s, &seen_by(None, "carol@x.io", &["carol@x.io"])).await;
    assert_eq!(
        seen,
        vec![id(4)],
        "without the delegation: her own request only"
    );
    carol.standing_in_for = vec![delegation("alice@x.io", &["ops"], "carol@x.io", -1, 24)];
    let mut q = seen_by(None, "carol@x.io", &["carol@x.io"]);
    q.visible_to = Some(carol.clone());
    let (seen, _) = listed(s, &q).await;
    assert_eq!(seen, vec![id(6), id(5), id(4), id(2), id(1)]);
    let mut q = query(Some(RequestStatus::Pending), None);
    q.votable_by = Some(carol.clone());
    let (votable, _) = listed(s, &q).await;
    assert_eq!(votable, vec![id(2), id(1)]);
    // Once carol voted for alice, the seat is no longer open to her.
    assert!(cast(s, 1, &for_("carol@x.io", "alice@x.io")).await);
    let (votable, _) = listed(s, &q).await;
    assert_eq!(votable, vec![id(2)]);
    // The delegator's seat is hers alone: bob, who delegated to alice, is no part of it.
    let mut q = query(Some(RequestStatus::Pending), None);
    let mut via_alice = person("carol@x.io", &["carol@x.io"]);
    via_alice.standing_in_for = vec![delegation("bob@x.io", &[], "carol@x.io", -1, 24)];
    q.votable_by = Some(via_alice);
    let (votable, _) = listed(s, &q).await;
    assert_eq!(votable, vec![id(3)]);
}
