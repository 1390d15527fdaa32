//! Who may be named as an approver, and who is calling.

use std::fmt;

/// An entry of a request's `approvers`: one person by email, or everyone in a group.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Principal {
    /// Stored lowercased.
    User(String),
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
        } else if is_email(s) {
            Ok(Principal::User(s.to_lowercase()))
        } else {
            Err(format!(
                "approver {raw:?} is neither an email address nor group:NAME"
            ))
        }
    }
}

impl fmt::Display for Principal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Principal::User(e) => f.write_str(e),
            Principal::Group(g) => write!(f, "group:{g}"),
        }
    }
}

/// A plain but strict check: exactly one `@`, a non-empty local part, a domain of two or
/// more non-empty labels, at most 254 characters, and none of whitespace, control
/// characters or `< > , " ; : ( ) [ ] \` (what would make one address read as several, or as
/// a display name, in a mail header). Delivery is what proves an address.
pub fn is_email(s: &str) -> bool {
    let forbidden = |c: char| {
        c.is_whitespace()
            || c.is_control()
            || matches!(
                c,
                '<' | '>' | ',' | '"' | ';' | ':' | '(' | ')' | '[' | ']' | '\\'
            )
    };
    if s.len() > 254 || s.chars().any(forbidden) {
        return false;
    }
    let Some((local, domain)) = s.split_once('@') else {
        return false;
    };
    !local.is_empty()
        && !domain.contains('@')
        && domain.contains('.')
        && domain.split('.').all(|label| !label.is_empty())
}

/// The verified identity behind a request to the api.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Caller {
    pub subject: String,
    /// Lowercased.
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
            Principal::User(e) => *e == self.email,
            Principal::Group(g) => self.groups.iter().any(|mine| mine == g),
        }
    }

    /// The principals this caller stands for, as stored (`email`, `group:NAME`...).
    pub fn principals(&self) -> Vec<String> {
        let mut v = vec![self.email.clone()];
        v.extend(self.groups.iter().map(|g| format!("group:{g}")));
        v
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_email_is_lowercased_and_a_group_keeps_its_case() {
        assert_eq!(
            Principal::parse(" Alice@Example.COM ").unwrap(),
            Principal::User("alice@example.com".into())
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
    fn an_email_has_one_at_a_local_part_and_a_dotted_domain_and_nothing_that_splits_a_header() {
        for good in [
            "alice@example.com",
            "Alice.Smith+ops@mail.example.co.jp",
            "o'brien@example.ie",
            "x@a.b",
        ] {
            assert!(is_email(good), "{good:?} refused");
        }
        for bad in [
            "alice@example.com,bob@example.com",
            "Alice <alice@example.com>",
            "<alice@example.com>",
            "\"alice\"@example.com",
            "alice@example.com\r\nBcc: mallory@example.com",
            "alice\t@example.com",
            "alice@exa\u{0}mple.com",
            "alice@@example.com",
            "alice@bob@example.com",
            "@example.com",
            "alice@",
            "alice@.example.com",
            "alice@example.com.",
            "alice@example..com",
            "alice@localhost",
            "alice;bob@example.com",
            "alice:x@example.com",
            "alice(x)@example.com",
            "alice@[127.0.0.1]",
            "alice\\@example.com",
            "alice@exa mple.com",
            "alice@example.com\u{a0}",
        ] {
            assert!(!is_email(bad), "{bad:?} accepted");
        }
        let long = format!("{}@example.com", "a".repeat(250));
        assert!(!is_email(&long));
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
        assert!(c.is(&Principal::User("alice@example.com".into())));
        assert!(c.is(&Principal::Group("ops".into())));
        assert!(!c.is(&Principal::Group("Ops".into())));
        assert!(!c.is(&Principal::User("bob@example.com".into())));
        assert_eq!(c.principals(), vec!["alice@example.com", "group:ops"]);
    }
}
