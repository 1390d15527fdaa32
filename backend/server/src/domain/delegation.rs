//! Delegation: "while I am away, carol decides for me". A person (the delegator) names one
//! delegate for a time window; during it the delegate may vote in the delegator's seat on
//! the requests the delegator approves. Only the delegator's own seat is delegated: what
//! the delegator may do as someone else's delegate is not passed on.

use chrono::{DateTime, Duration, Utc};
use hanko_api::{DelegationInfo, MAX_DELEGATION_DAYS, SetDelegation};

use super::{Caller, Email, Principal};

/// One person's delegation, as stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Delegation {
    /// Who is away (lowercased email): whose seat the delegate votes in.
    pub delegator: String,
    /// The delegator's groups in their verified token when they set the delegation: the
    /// delegate votes for them on requests one of these groups approves.
    pub groups: Vec<String>,
    /// Who decides for them.
    pub delegate: Email,
    pub from: DateTime<Utc>,
    pub until: DateTime<Utc>,
    pub created_at: DateTime<Utc>,
}

/// Why a delegation cannot be set: a code for clients and words for people.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{message}")]
pub struct DelegationProblem {
    pub code: &'static str,
    pub message: String,
}

fn problem(code: &'static str, message: impl Into<String>) -> DelegationProblem {
    DelegationProblem {
        code,
        message: message.into(),
    }
}

impl Delegation {
    /// The delegation `caller` asks for with `body` at `now`, or why it cannot be.
    /// Times are kept to the millisecond, as every store keeps them.
    pub fn parse(
        caller: &Caller,
        body: &SetDelegation,
        now: DateTime<Utc>,
    ) -> Result<Delegation, DelegationProblem> {
        let me = Email::parse(&caller.email)
            .ok()
            .filter(|e| e.as_str() == caller.email)
            .ok_or_else(|| {
                problem(
                    "cannot_delegate",
                    "your login has no plain email address, so no request names you and there is no seat to delegate",
                )
            })?;
        let delegate = Email::parse(&body.delegate).map_err(|_| {
            problem(
                "invalid_delegate",
                format!("delegate {:?} is not an email address", body.delegate),
            )
        })?;
        if delegate == me {
            return Err(problem(
                "self_delegation",
                "you cannot delegate to yourself; name someone else",
            ));
        }
        let from = to_ms(body.from.max(now));
        let until = to_ms(body.until);
        if until <= now {
            return Err(problem("invalid_until", "until must be in the future"));
        }
        if body.until <= body.from {
            return Err(problem("invalid_until", "until must be after from"));
        }
        if until - from > Duration::days(MAX_DELEGATION_DAYS) {
            return Err(problem(
                "too_long",
                format!(
                    "a delegation lasts at most {MAX_DELEGATION_DAYS} days; choose an earlier until"
                ),
            ));
        }
        Ok(Delegation {
            delegator: me.as_str().to_string(),
            groups: caller.groups.clone(),
            delegate,
            from,
            until,
            created_at: to_ms(now),
        })
    }

    /// In force at `now`: `from <= now < until`.
    pub fn active_at(&self, now: DateTime<Utc>) -> bool {
        self.from <= now && now < self.until
    }

    /// The principals the delegate stands for: the delegator's email and the groups they
    /// had when they set it.
    pub fn principals(&self) -> Vec<Principal> {
        Email::parse(&self.delegator)
            .ok()
            .map(Principal::User)
            .into_iter()
            .chain(self.groups.iter().cloned().map(Principal::Group))
            .collect()
    }

    /// Whether `p` names the delegator or one of their groups.
    pub fn stands_for(&self, p: &Principal) -> bool {
        match p {
            Principal::User(e) => e.as_str() == self.delegator,
            Principal::Group(g) => self.groups.iter().any(|mine| mine == g),
        }
    }

    /// As the api shows it at `now`.
    pub fn info(&self, now: DateTime<Utc>) -> DelegationInfo {
        DelegationInfo {
            delegator: self.delegator.clone(),
            delegate: self.delegate.to_string(),
            from: self.from,
            until: self.until,
            groups: self.groups.clone(),
            active: self.active_at(now),
        }
    }
}

/// `t` to the millisecond (what the stores keep).
fn to_ms(t: DateTime<Utc>) -> DateTime<Utc> {
    DateTime::from_timestamp_millis(t.timestamp_millis()).unwrap_or(t)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn alice() -> Caller {
        Caller {
            subject: "alice".into(),
            email: "alice@example.com".into(),
            name: "Alice".into(),
            groups: vec!["ops".into()],
            auth_time: None,
        }
    }

    fn body(delegate: &str, from: DateTime<Utc>, until: DateTime<Utc>) -> SetDelegation {
        SetDelegation {
            delegate: delegate.into(),
            from,
            until,
        }
    }

    #[test]
    fn a_delegation_keeps_the_delegator_s_email_and_groups_for_its_window() {
        let now = Utc::now();
        let d = Delegation::parse(
            &alice(),
            &body("Carol@Example.com", now, now + Duration::days(7)),
            now,
        )
        .unwrap();
        assert_eq!(d.delegator, "alice@example.com");
        assert_eq!(d.delegate.as_str(), "carol@example.com");
        assert_eq!(
            d.principals(),
            vec![
                Principal::parse("alice@example.com").unwrap(),
                Principal::parse("group:ops").unwrap()
            ]
        );
        assert!(d.active_at(now + Duration::days(1)));
        assert!(!d.active_at(d.until));
        assert!(!d.active_at(now - Duration::seconds(1)));
    }

    #[test]
    fn a_delegation_to_oneself_a_bad_email_or_a_wrong_window_is_refused() {
        let now = Utc::now();
        let code = |b: SetDelegation| Delegation::parse(&alice(), &b, now).unwrap_err().code;
        let week = now + Duration::days(7);
        assert_eq!(
            code(body("ALICE@example.com", now, week)),
            "self_delegation"
        );
        assert_eq!(code(body("carol", now, week)), "invalid_delegate");
        assert_eq!(
            code(body(
                "carol@example.com",
                now - Duration::days(2),
                now - Duration::days(1)
            )),
            "invalid_until"
        );
        assert_eq!(
            code(body("carol@example.com", week, now + Duration::days(1))),
            "invalid_until"
        );
        assert_eq!(
            code(body(
                "carol@example.com",
                now,
                now + Duration::days(MAX_DELEGATION_DAYS) + Duration::minutes(1)
            )),
            "too_long"
        );
        let mut odd = alice();
        odd.email = "\"a b\"@example.com".into();
        assert_eq!(
            Delegation::parse(&odd, &body("carol@example.com", now, week), now)
                .unwrap_err()
                .code,
            "cannot_delegate"
        );
    }

    #[test]
    fn a_window_that_began_in_the_past_begins_now() {
        let now = Utc::now();
        let d = Delegation::parse(
            &alice(),
            &body(
                "carol@example.com",
                now - Duration::days(30),
                now + Duration::days(80),
            ),
            now,
        )
        .unwrap();
        assert_eq!(d.from, to_ms(now));
    }
}
