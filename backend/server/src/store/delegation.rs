//! Whom a [`Person`] sees and may vote for once delegations count: their own seat, and the
//! seat of each person whose delegation to them is in force. The DynamoDB store filters a
//! page with these; the SQLite store says the same in SQL (`sqlite/list.rs`).

use super::{Person, StoredRequest};
use crate::domain::NewRequest;

impl Person {
    /// The principals whose requests this person sees: their own, and those of each
    /// delegator they stand in for.
    pub fn seen_principal_texts(&self) -> Vec<String> {
        let mut all = self.principal_texts();
        for d in &self.standing_in_for {
            all.extend(d.principals().iter().map(ToString::to_string));
        }
        all.sort();
        all.dedup();
        all
    }

    /// Whether this person sees `req`: they approve it or asked for it, or a delegator
    /// they stand in for approves it.
    pub fn sees(&self, req: &NewRequest) -> bool {
        req.is_requested_by(&self.email)
            || req.approvers.iter().any(|a| {
                self.principals.contains(a) || self.standing_in_for.iter().any(|d| d.stands_for(a))
            })
    }

    /// Whether this person may still vote on `r` in some seat, leaving its status and
    /// deadline aside: their own (one of their principals approves it, that seat is
    /// empty, and it is not their own request unless self-approval is allowed), or a
    /// delegator's (one of the delegator's principals approves it, the delegator's seat
    /// is empty, and neither of them asked for it unless self-approval is allowed).
    pub fn has_a_seat_on(&self, r: &StoredRequest) -> bool {
        let q = &r.request;
        let empty = |seat: &str| !r.votes.iter().any(|v| v.seat() == seat);
        let own = q.approvers.iter().any(|a| self.principals.contains(a))
            && empty(&self.email)
            && (q.allow_self_approval || !q.is_requested_by(&self.email));
        own || self.standing_in_for.iter().any(|d| {
            q.approvers.iter().any(|a| d.stands_for(a))
                && empty(&d.delegator)
                && (q.allow_self_approval
                    || !(q.is_requested_by(&self.email) || q.is_requested_by(&d.delegator)))
        })
    }
}
