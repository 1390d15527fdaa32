//! Who may be named as an approver, and who is calling.

use std::fmt;

use serde::{Deserialize, Serialize};

use super::email::Email;

/// An entry of a request's `approvers`: one person by email, or everyone in a group.
/// Written (in JSON, in the store) as the text it was parsed from: `alice@example.com` or
/// `group:NAME`; reading a bad one is an error.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub enum Principal {
    User(Email),
    Group(String),
}

impl Principal {
    /// Parses `alice@example.com` or `group:release-managers`.
    pub fn parse(raw: &str) -> Result<Self, String> {
        let s = raw.trim();
        if let Some(name) = s.strip_prefix("group:") {
            let ok = !name.is_empty()
                && name.len() <= 128
                && name
                    .chars()
                    .all(|c| c.is_alphanumeric() || matches!(c, '-' | '_' | '.' | '+' | '@'));
            if ok {
                Ok(Principal::Group(name.to_string()))
            } else {
                Err(format!(
                    "approver {raw:?} is not a valid group (use group:NAME with letters, digits, - _ . + @)"
                ))
            }
        } else if let Ok(email) = Email::parse(s) {
            Ok(Principal::User(email))
        } else {
            Err(format!(
                "approver {raw:?} is neither an email address nor group:NAME"
            ))
        }
    }
}

impl TryFrom<String> for Principal {
    type Error = String;

    fn try_from(s: String) -> Result<Self, Self::Error> {
        Principal::parse(&s)
    }
}

impl From<Principal> for String {
    fn from(p: Principal) -> Self {
        p.to_string()
    }
}

impl std::str::FromStr for Principal {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Principal::parse(s)
    }
}

impl fmt::Display for Principal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Principal::User(e) => f.write_str(e.as_str()),
            Principal::Group(g) => write!(f, "group:{g}"),
        }
    }
}

/// The verified identity behind a request to the api.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Caller {
    pub subject: String,
    /// Lowercased. As the identity provider said it: not always an [`Email`] (an address
    /// with a quoted local part is not one), so such a person is matched by group only.
    pub email: String,
    pub name: String,
    pub groups: Vec<String>,
    /// When the person last logged in: the token's `auth_time` (never its `iat`), seconds
    /// since the epoch. `None` when the token does not say.
    pub auth_time: Option<i64>,
}

impl Caller {
    /// True when the person logged in (the token's own `auth_time`, never `iat`: a
    /// refreshed token is not a login) at most `max_seconds` before `now`.
    pub fn logged_in_within(&self, max_seconds: i64, now: chrono::DateTime<chrono::Utc>) -> bool {
        self.auth_time
            .is_some_and(|at| now.timestamp() - at <= max_seconds)
    }

    /// True when `p` names this caller or one of their groups.
    pub fn is(&self, p: &Principal) -> bool {
        match p {
            Principal::User(e) => e.as_str() == self.email,
            Principal::Group(g) => self.groups.iter().any(|mine| mine == g),
        }
    }

    /// The principals this caller stands for: their email, when it is an [`Email`] as it
    /// stands (no approver is named by anything else), and their groups.
    pub fn principals(&self) -> Vec<Principal> {
        let me = Email::parse(&self.email)
            .ok()
            .filter(|e| e.as_str() == self.email)
            .map(Principal::User);
        me.into_iter()
            .chain(self.groups.iter().cloned().map(Principal::Group))
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn email(s: &str) -> Email {
        Email::parse(s).unwrap()
    }

    #[test]
    fn an_email_is_lowercased_and_a_group_keeps_its_case() {
        assert_eq!(
            Principal::parse(" Alice@Example.COM ").unwrap(),
            Principal::User(email("alice@example.com"))
        );
        assert_eq!(
            Principal::parse("group:Release-Managers").unwrap(),
            Principal::Group("Release-Managers".into())
        );
    }

    #[test]
    fn something_that_is_neither_an_email_nor_a_group_is_refused() {
        for bad in ["", "alice", "group:", "group:a b", "a@b", "a b@c.d", "@x.y"] {
            assert!(Principal::parse(bad).is_err(), "{bad:?} accepted");
        }
    }

    #[test]
    fn a_caller_matches_their_email_and_their_groups_only() {
        let c = Caller {
            subject: "s".into(),
            email: "alice@example.com".into(),
            name: "Alice".into(),
            groups: vec!["ops".into()],
            auth_time: None,
        };
        assert!(c.is(&Principal::User(email("alice@example.com"))));
        assert!(c.is(&Principal::Group("ops".into())));
        assert!(!c.is(&Principal::Group("Ops".into())));
        assert!(!c.is(&Principal::User(email("bob@example.com"))));
        let principals: Vec<String> = c.principals().iter().map(ToString::to_string).collect();
        assert_eq!(principals, vec!["alice@example.com", "group:ops"]);
    }

    #[test]
    fn a_principal_is_written_as_the_text_it_was_parsed_from_and_read_back_checked() {
        let list: Vec<Principal> =
            serde_json::from_str(r#"["alice@example.com", "group:Release-Managers"]"#).unwrap();
        assert_eq!(
            list,
            vec![
                Principal::User(email("alice@example.com")),
                Principal::Group("Release-Managers".into())
            ]
        );
        assert_eq!(
            serde_json::to_string(&list).unwrap(),
            r#"["alice@example.com","group:Release-Managers"]"#
        );
        let bad = serde_json::from_str::<Vec<Principal>>(r#"["alice@example.com", "nope"]"#);
        assert!(bad.unwrap_err().to_string().contains("neither an email"));
    }

    #[test]
    fn a_caller_whose_email_is_not_an_address_stands_for_their_groups_only() {
        let c = Caller {
            subject: "s".into(),
            email: "\"alice smith\"@example.com".into(),
            name: "Alice".into(),
            groups: vec!["ops".into()],
            auth_time: None,
        };
        assert_eq!(c.principals(), vec![Principal::Group("ops".into())]);
        let spaced = Caller {
            email: " alice@example.com".into(),
            ..c
        };
        assert!(!spaced.is(&Principal::User(email("alice@example.com"))));
        assert_eq!(spaced.principals(), vec![Principal::Group("ops".into())]);
    }
}
