//! The task token of a waiting workflow: the one secret a request carries.

use std::fmt;

use secrecy::{ExposeSecret, SecretString};

/// The largest task token Step Functions issues is far below this.
pub const MAX_TOKEN_LEN: usize = 4096;

/// Whoever holds a task token can answer the workflow in Hanko's place, so it is kept apart
/// from the request and never printed: its `Debug` says only how long it is, and it has no
/// `Display`. [`TaskToken::expose`] is for the two places that need the text: the call to
/// Step Functions and the store.
#[derive(Clone)]
pub struct TaskToken(SecretString);

/// Why a string is not a [`TaskToken`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum BadTaskToken {
    #[error("the task token is empty")]
    Empty,
    #[error("the task token is longer than {MAX_TOKEN_LEN} bytes")]
    TooLong,
}

impl TaskToken {
    /// A token as Step Functions gave it (kept exactly, whitespace and all): not blank, at
    /// most [`MAX_TOKEN_LEN`] bytes.
    pub fn parse(raw: &str) -> Result<Self, BadTaskToken> {
        if raw.trim().is_empty() {
            Err(BadTaskToken::Empty)
        } else if raw.len() > MAX_TOKEN_LEN {
            Err(BadTaskToken::TooLong)
        } else {
            Ok(TaskToken(SecretString::from(raw.to_string())))
        }
    }

    /// The secret itself: only for sending it to Step Functions and for storing it.
    pub fn expose(&self) -> &str {
        self.0.expose_secret()
    }
}

impl fmt::Debug for TaskToken {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "TaskToken(…redacted, {} bytes)", self.expose().len())
    }
}

impl PartialEq for TaskToken {
    fn eq(&self, other: &Self) -> bool {
        self.expose() == other.expose()
    }
}

impl Eq for TaskToken {}

#[cfg(test)]
mod tests {
    use super::*;

    const SECRET: &str = "AQCEAAAAKgAAAAMAAAAAAAAAAZsecret-part";

    #[test]
    fn a_task_token_is_never_printed_by_debug() {
        let t = TaskToken::parse(SECRET).unwrap();
        let printed = format!("{t:?} {:?} {t:#?}", Some(&t));
        assert!(!printed.contains(SECRET), "{printed}");
        assert!(!printed.contains("AQCE"), "{printed}");
        assert!(
            printed.contains(&format!("{} bytes", SECRET.len())),
            "{printed}"
        );
    }

    #[test]
    fn a_task_token_is_kept_exactly_as_given() {
        assert_eq!(TaskToken::parse(" tok ").unwrap().expose(), " tok ");
    }

    #[test]
    fn a_blank_or_overlong_task_token_is_refused() {
        assert_eq!(TaskToken::parse("").unwrap_err(), BadTaskToken::Empty);
        assert_eq!(TaskToken::parse(" \n").unwrap_err(), BadTaskToken::Empty);
        let long = "a".repeat(MAX_TOKEN_LEN + 1);
        assert_eq!(TaskToken::parse(&long).unwrap_err(), BadTaskToken::TooLong);
        assert!(TaskToken::parse(&long[1..]).is_ok());
    }
}
