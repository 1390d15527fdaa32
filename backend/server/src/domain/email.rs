//! An email address, parsed once: what names a person among a request's approvers and as
//! its requester.

use std::fmt;

use serde::{Deserialize, Serialize};

/// A syntactically valid email address ([`is_email`]), lowercased. Read from JSON as a
/// string, and refused there when it is not one.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct Email(String);

/// Why a string is not an [`Email`].
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0:?} is not an email address")]
pub struct NotAnEmail(pub String);

impl Email {
    /// Takes `raw` without its surrounding whitespace, when it is an email address
    /// ([`is_email`]), lowercased.
    pub fn parse(raw: &str) -> Result<Self, NotAnEmail> {
        let s = raw.trim();
        if is_email(s) {
            Ok(Email(s.to_lowercase()))
        } else {
            Err(NotAnEmail(raw.to_string()))
        }
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl AsRef<str> for Email {
    fn as_ref(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for Email {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::str::FromStr for Email {
    type Err = NotAnEmail;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Email::parse(s)
    }
}

impl TryFrom<String> for Email {
    type Error = NotAnEmail;

    fn try_from(s: String) -> Result<Self, Self::Error> {
        Email::parse(&s)
    }
}

impl From<Email> for String {
    fn from(e: Email) -> Self {
        e.0
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_email_is_trimmed_and_lowercased_once_when_parsed() {
        let e = Email::parse("  Alice.Smith+Ops@Example.COM ").unwrap();
        assert_eq!(e.as_str(), "alice.smith+ops@example.com");
        assert_eq!(e.to_string(), "alice.smith+ops@example.com");
    }

    #[test]
    fn something_that_is_not_an_email_is_refused_with_what_was_given() {
        for bad in [
            "",
            "alice",
            "a@b",
            "Alice <alice@example.com>",
            "a@b.c,d@e.f",
        ] {
            assert_eq!(Email::parse(bad), Err(NotAnEmail(bad.to_string())));
        }
    }

    #[test]
    fn an_email_is_a_json_string_and_a_bad_one_is_refused_when_read() {
        let e = Email::parse("bob@example.com").unwrap();
        assert_eq!(serde_json::to_string(&e).unwrap(), r#""bob@example.com""#);
        let back: Email = serde_json::from_str(r#""Bob@Example.com""#).unwrap();
        assert_eq!(back, e);
        assert!(serde_json::from_str::<Email>(r#""bob""#).is_err());
        assert!(serde_json::from_str::<Email>("42").is_err());
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
}
