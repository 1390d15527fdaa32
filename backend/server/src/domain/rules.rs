//! Who may vote, when the quorum is met, when a request has expired.

use chrono::{DateTime, Utc};
use hanko_api::{Outcome, RequestStatus, VoteBlock, VoteChoice};

use super::{Caller, Delegation, NewRequest};

pub const MAX_COMMENT_CHARS: usize = hanko_api::MAX_COMMENT_CHARS;

/// One vote, as recorded: one per seat. A seat is a person's: their own vote, or their
/// delegate's vote for them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Ballot {
    /// The email of who cast it, lowercased (`subject` and `name` are theirs too).
    pub voter: String,
    pub subject: String,
    pub name: String,
    pub choice: VoteChoice,
    pub comment: Option<String>,
    pub decided_at: DateTime<Utc>,
    pub source_ip: Option<String>,
    pub user_agent: Option<String>,
    /// The voter's passkey signature of this vote, when they signed with one.
    pub passkey: Option<hanko_api::PasskeySignature>,
    /// Cast by `voter` as this person's delegate, in their seat ("carol for alice").
    pub on_behalf_of: Option<String>,
}

impl Ballot {
    /// Whose seat the vote fills: the person it was cast for, else the voter.
    pub fn seat(&self) -> &str {
        self.on_behalf_of.as_deref().unwrap_or(&self.voter)
    }
}

/// The status a person should see: a pending request past its deadline is expired even
/// before the sweeper has written so.
pub fn effective_status(
    stored: RequestStatus,
    req: &NewRequest,
    now: DateTime<Utc>,
) -> RequestStatus {
    status_at(stored, req.expires_at, now)
}

/// [`effective_status`] for a request that expires at `expires_at`.
pub fn status_at(
    stored: RequestStatus,
    expires_at: DateTime<Utc>,
    now: DateTime<Utc>,
) -> RequestStatus {
    if stored == RequestStatus::Pending && now >= expires_at {
        RequestStatus::Expired
    } else {
        stored
    }
}

/// Why `caller` may not vote, or `None` when they may. The order matters: someone who
/// could never vote hears so (403) before hearing that the request is over.
pub fn vote_block(
    req: &NewRequest,
    stored: RequestStatus,
    votes: &[Ballot],
    caller: &Caller,
    now: DateTime<Utc>,
) -> Option<VoteBlock> {
    if !req.approvers.iter().any(|p| caller.is(p)) {
        return Some(VoteBlock::NotAnApprover);
    }
    if !req.allow_self_approval && req.is_requested_by(&caller.email) {
        return Some(VoteBlock::OwnRequest);
    }
    // One vote per person too: a delegate who voted for someone has voted.
    if votes
        .iter()
        .any(|v| v.seat() == caller.email || v.voter == caller.email)
    {
        return Some(VoteBlock::AlreadyVoted);
    }
    status_block(req, stored, now)
}

/// Why `caller` may not vote in the seat of `d`'s delegator, or `None` when they may. The
/// seat is the delegator's: it is filled once, by them or by their delegate, and a delegate
/// who voted in her own seat has voted (one vote per person); neither may
/// approve a request either of them asked for (unless self-approval is allowed); and the
/// delegation must be the caller's and in force at `now`. Only the delegator's own
/// principals count (their email and the groups they had when they set it): a seat the
/// delegator holds as someone else's delegate is never passed on.
pub fn delegated_vote_block(
    req: &NewRequest,
    stored: RequestStatus,
    votes: &[Ballot],
    caller: &Caller,
    d: &Delegation,
    now: DateTime<Utc>,
) -> Option<VoteBlock> {
    if d.delegate.as_str() != caller.email || !d.active_at(now) {
        return Some(VoteBlock::NotADelegate);
    }
    if !req.approvers.iter().any(|p| d.stands_for(p)) {
        return Some(VoteBlock::NotAnApprover);
    }
    if !req.allow_self_approval
        && (req.is_requested_by(&d.delegator) || req.is_requested_by(&caller.email))
    {
        return Some(VoteBlock::OwnRequest);
    }
    // The seat is filled once, and the delegate votes once: a quorum of two needs two
    // people, however many seats one of them could fill.
    if votes
        .iter()
        .any(|v| v.seat() == d.delegator || v.voter == caller.email)
    {
        return Some(VoteBlock::AlreadyVoted);
    }
    status_block(req, stored, now)
}

/// Why nobody may vote on the request any more, or `None` while it is open.
fn status_block(req: &NewRequest, stored: RequestStatus, now: DateTime<Utc>) -> Option<VoteBlock> {
    match effective_status(stored, req, now) {
        RequestStatus::Pending => None,
        RequestStatus::Approved | RequestStatus::Rejected => Some(VoteBlock::Decided),
        RequestStatus::Expired => Some(VoteBlock::Expired),
        RequestStatus::Closed => Some(VoteBlock::Closed),
    }
}

/// The outcome once these votes are in: the first reject decides; otherwise the request
/// is approved when `required` distinct seats approved (a person and their delegate
/// fill one seat: the store keeps one vote per seat).
pub fn tally(votes: &[Ballot], required: u32) -> Option<Outcome> {
    if votes.iter().any(|v| v.choice == VoteChoice::Reject) {
        return Some(Outcome::Rejected);
    }
    let approvals = votes
        .iter()
        .filter(|v| v.choice == VoteChoice::Approve)
        .count();
    (approvals >= required as usize).then_some(Outcome::Approved)
}

/// Checks a vote's comment: required on reject, bounded in length. Returns it trimmed.
pub fn check_comment(choice: VoteChoice, comment: Option<&str>) -> Result<Option<String>, String> {
    let c = comment.map(str::trim).filter(|c| !c.is_empty());
    if let Some(c) = c
        && c.chars().count() > MAX_COMMENT_CHARS
    {
        return Err(format!(
            "the comment is longer than {MAX_COMMENT_CHARS} characters"
        ));
    }
    if choice == VoteChoice::Reject && c.is_none() {
        return Err("a rejection needs a comment saying why".into());
    }
    Ok(c.map(str::to_string))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::intake::sample_request;
    use chrono::Duration;

    fn request(approvers: &[&str], required: u32) -> NewRequest {
        NewRequest {
            required_approvals: required,
            ..sample_request(approvers)
        }
    }

    fn caller(email: &str, groups: &[&str]) -> Caller {
        Caller {
            subject: email.into(),
            email: email.into(),
            name: email.into(),
            groups: groups.iter().map(|s| s.to_string()).collect(),
            auth_time: None,
        }
    }

    fn ballot(voter: &str, choice: VoteChoice) -> Ballot {
        Ballot {
            voter: voter.into(),
            subject: voter.into(),
            name: voter.into(),
            choice,
            comment: None,
            decided_at: Utc::now(),
            source_ip: None,
            user_agent: None,
            passkey: None,
            on_behalf_of: None,
        }
    }

    fn delegation(delegator: &str, groups: &[&str], delegate: &str) -> Delegation {
        let now = Utc::now();
        Delegation {
            delegator: delegator.into(),
            groups: groups.iter().map(|s| s.to_string()).collect(),
            delegate: delegate.parse().unwrap(),
            from: now - Duration::hours(1),
            until: now + Duration::days(1),
            created_at: now - Duration::hours(1),
        }
    }

    fn for_(voter: &str, seat: &str, choice: VoteChoice) -> Ballot {
        Ballot {
            on_behalf_of: Some(seat.into()),
            ..ballot(voter, choice)
        }
    }

    #[test]
    fn a_delegate_votes_in_the_delegator_s_seat_on_what_she_approves_by_email_or_group() {
        let now = Utc::now();
        let p = RequestStatus::Pending;
        let carol = caller("carol@example.com", &[]);
        let d = delegation("alice@example.com", &["ops"], "carol@example.com");
        for approvers in [&["alice@example.com"][..], &["group:ops"][..]] {
            let r = request(approvers, 1);
            assert_eq!(delegated_vote_block(&r, p, &[], &carol, &d, now), None);
        }
        let other = request(&["bob@example.com", "group:dev"], 1);
        assert_eq!(
            delegated_vote_block(&other, p, &[], &carol, &d, now),
            Some(VoteBlock::NotAnApprover)
        );
    }

    #[test]
    fn the_delegator_and_her_delegate_fill_one_seat() {
        let now = Utc::now();
        let p = RequestStatus::Pending;
        let r = request(&["alice@example.com", "carol@example.com"], 2);
        let alice = caller("alice@example.com", &[]);
        let carol = caller("carol@example.com", &[]);
        let d = delegation("alice@example.com", &[], "carol@example.com");
        // Alice voted: carol cannot vote for her, but still has her own seat.
        let votes = [ballot("alice@example.com", VoteChoice::Approve)];
        assert_eq!(
            delegated_vote_block(&r, p, &votes, &carol, &d, now),
            Some(VoteBlock::AlreadyVoted)
        );
        assert_eq!(vote_block(&r, p, &votes, &carol, now), None);
        // Carol voted for alice: alice cannot vote, and carol has voted (one person, one
        // vote: a quorum of two needs two people).
        let votes = [for_(
            "carol@example.com",
            "alice@example.com",
            VoteChoice::Approve,
        )];
        assert_eq!(
            vote_block(&r, p, &votes, &alice, now),
            Some(VoteBlock::AlreadyVoted)
        );
        assert_eq!(
            vote_block(&r, p, &votes, &carol, now),
            Some(VoteBlock::AlreadyVoted)
        );
        // Carol voted as herself: she cannot fill alice's seat too.
        let votes = [ballot("carol@example.com", VoteChoice::Approve)];
        assert_eq!(
            delegated_vote_block(&r, p, &votes, &carol, &d, now),
            Some(VoteBlock::AlreadyVoted)
        );
    }

    #[test]
    fn a_delegate_cannot_approve_what_she_or_the_delegator_asked_for_unless_allowed() {
        let now = Utc::now();
        let p = RequestStatus::Pending;
        let carol = caller("carol@example.com", &[]);
        let d = delegation("alice@example.com", &[], "carol@example.com");
        for requester in ["carol@example.com", "alice@example.com"] {
            let mut r = NewRequest {
                requested_by: Some(requester.parse().unwrap()),
                ..request(&["alice@example.com"], 1)
            };
            assert_eq!(
                delegated_vote_block(&r, p, &[], &carol, &d, now),
                Some(VoteBlock::OwnRequest),
                "{requester}"
            );
            r.allow_self_approval = true;
            assert_eq!(delegated_vote_block(&r, p, &[], &carol, &d, now), None);
        }
    }

    #[test]
    fn a_delegation_counts_only_for_its_delegate_inside_its_window() {
        let r = request(&["alice@example.com"], 1);
        let p = RequestStatus::Pending;
        let d = delegation("alice@example.com", &[], "carol@example.com");
        let carol = caller("carol@example.com", &[]);
        let dave = caller("dave@example.com", &[]);
        assert_eq!(
            delegated_vote_block(&r, p, &[], &dave, &d, Utc::now()),
            Some(VoteBlock::NotADelegate)
        );
        assert_eq!(
            delegated_vote_block(&r, p, &[], &carol, &d, d.until),
            Some(VoteBlock::NotADelegate)
        );
        assert_eq!(
            delegated_vote_block(&r, p, &[], &carol, &d, d.from - Duration::seconds(1)),
            Some(VoteBlock::NotADelegate)
        );
    }

    #[test]
    fn a_seat_held_as_a_delegate_is_not_passed_on() {
        // alice -> bob, bob -> carol: carol stands for bob's own principals only.
        let r = request(&["alice@example.com"], 1);
        let carol = caller("carol@example.com", &[]);
        let bob_to_carol = delegation("bob@example.com", &[], "carol@example.com");
        assert_eq!(
            delegated_vote_block(
                &r,
                RequestStatus::Pending,
                &[],
                &carol,
                &bob_to_carol,
                Utc::now()
            ),
            Some(VoteBlock::NotAnApprover)
        );
    }

    #[test]
    fn a_named_approver_or_a_group_member_may_vote() {
        let r = request(&["alice@example.com", "group:ops"], 1);
        let now = Utc::now();
        let p = RequestStatus::Pending;
        assert_eq!(
            vote_block(&r, p, &[], &caller("alice@example.com", &[]), now),
            None
        );
        assert_eq!(
            vote_block(&r, p, &[], &caller("carol@example.com", &["ops"]), now),
            None
        );
        assert_eq!(
            vote_block(&r, p, &[], &caller("mallory@example.com", &["dev"]), now),
            Some(VoteBlock::NotAnApprover)
        );
    }

    #[test]
    fn the_requester_cannot_approve_their_own_request_unless_allowed() {
        let mut r = request(&["group:ops"], 1);
        let bob = caller("bob@example.com", &["ops"]);
        let now = Utc::now();
        assert_eq!(
            vote_block(&r, RequestStatus::Pending, &[], &bob, now),
            Some(VoteBlock::OwnRequest)
        );
        r.allow_self_approval = true;
        assert_eq!(vote_block(&r, RequestStatus::Pending, &[], &bob, now), None);
    }

    #[test]
    fn a_second_vote_by_the_same_approver_is_refused() {
        let r = request(&["alice@example.com", "carol@example.com"], 2);
        let votes = [ballot("alice@example.com", VoteChoice::Approve)];
        assert_eq!(
            vote_block(
                &r,
                RequestStatus::Pending,
                &votes,
                &caller("alice@example.com", &[]),
                Utc::now()
            ),
            Some(VoteBlock::AlreadyVoted)
        );
    }

    #[test]
    fn nobody_votes_on_a_decided_expired_or_closed_request() {
        let r = request(&["alice@example.com"], 1);
        let a = caller("alice@example.com", &[]);
        let now = Utc::now();
        assert_eq!(
            vote_block(&r, RequestStatus::Approved, &[], &a, now),
            Some(VoteBlock::Decided)
        );
        assert_eq!(
            vote_block(&r, RequestStatus::Closed, &[], &a, now),
            Some(VoteBlock::Closed)
        );
        assert_eq!(
            vote_block(&r, RequestStatus::Pending, &[], &a, r.expires_at),
            Some(VoteBlock::Expired)
        );
    }

    #[test]
    fn a_pending_request_past_its_deadline_reads_as_expired() {
        let r = request(&["alice@example.com"], 1);
        assert_eq!(
            effective_status(
                RequestStatus::Pending,
                &r,
                r.expires_at - Duration::seconds(1)
            ),
            RequestStatus::Pending
        );
        assert_eq!(
            effective_status(RequestStatus::Pending, &r, r.expires_at),
            RequestStatus::Expired
        );
        assert_eq!(
            effective_status(RequestStatus::Approved, &r, r.expires_at),
            RequestStatus::Approved
        );
    }

    #[test]
    fn the_quorum_is_met_by_enough_distinct_approvals_and_one_reject_decides() {
        let a = ballot("a@x.io", VoteChoice::Approve);
        let b = ballot("b@x.io", VoteChoice::Approve);
        let c = ballot("c@x.io", VoteChoice::Reject);
        assert_eq!(tally(&[], 1), None);
        assert_eq!(tally(std::slice::from_ref(&a), 2), None);
        assert_eq!(tally(&[a.clone(), b.clone()], 2), Some(Outcome::Approved));
        assert_eq!(tally(&[a, b, c], 2), Some(Outcome::Rejected));
    }

    #[test]
    fn a_rejection_without_a_comment_is_refused_and_an_approval_needs_none() {
        assert!(check_comment(VoteChoice::Reject, None).is_err());
        assert!(check_comment(VoteChoice::Reject, Some("   ")).is_err());
        assert_eq!(
            check_comment(VoteChoice::Reject, Some(" too risky ")).unwrap(),
            Some("too risky".into())
        );
        assert_eq!(check_comment(VoteChoice::Approve, None).unwrap(), None);
        assert!(check_comment(VoteChoice::Approve, Some(&"x".repeat(2001))).is_err());
    }
}
