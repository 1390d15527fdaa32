//! The id of an approval request.

use std::fmt;

use serde::{Deserialize, Serialize};
use uuid::Uuid;

/// A request's id: a UUIDv7 (so ids sort by age), always in its canonical form (lowercase,
/// hyphenated), which is how the store keys it and the api and the links show it. Read from
/// JSON as a string, and refused there when it is not one.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct RequestId(String);

/// Why a string is not a [`RequestId`].
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0:?} is not a request id")]
pub struct NotARequestId(pub String);

impl RequestId {
    /// A new id, later than every id made before it.
    pub fn new() -> Self {
        Uuid::now_v7().into()
    }

    /// An id in the form Hanko writes it. Any other spelling of a UUID (capitals, braces,
    /// no hyphens) is refused: it names no stored request.
    pub fn parse(raw: &str) -> Result<Self, NotARequestId> {
        match Uuid::try_parse(raw) {
            Ok(u) if u.hyphenated().to_string() == raw => Ok(RequestId(raw.to_string())),
            _ => Err(NotARequestId(raw.to_string())),
        }
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl Default for RequestId {
    fn default() -> Self {
        Self::new()
    }
}

impl From<Uuid> for RequestId {
    fn from(u: Uuid) -> Self {
        RequestId(u.hyphenated().to_string())
    }
}

impl AsRef<str> for RequestId {
    fn as_ref(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for RequestId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::str::FromStr for RequestId {
    type Err = NotARequestId;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        RequestId::parse(s)
    }
}

impl TryFrom<String> for RequestId {
    type Error = NotARequestId;

    fn try_from(s: String) -> Result<Self, Self::Error> {
        RequestId::parse(&s)
    }
}

impl From<RequestId> for String {
    fn from(id: RequestId) -> Self {
        id.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_new_id_is_a_canonical_uuid_v7_that_sorts_after_the_ones_before() {
        let a = RequestId::new();
        let b = RequestId::new();
        assert!(a < b, "{a} {b}");
        let u = Uuid::parse_str(a.as_str()).unwrap();
        assert_eq!(u.get_version_num(), 7);
        assert_eq!(RequestId::parse(a.as_str()), Ok(a));
    }

    #[test]
    fn only_the_canonical_spelling_of_a_uuid_is_an_id() {
        let id = "0190e4b2-7c1e-7000-8000-000000000001";
        assert_eq!(RequestId::parse(id).unwrap().as_str(), id);
        for bad in [
            "",
            "not-a-uuid",
            "0190E4B2-7C1E-7000-8000-000000000001",
            "0190e4b27c1e70008000000000000001",
            "{0190e4b2-7c1e-7000-8000-000000000001}",
            "urn:uuid:0190e4b2-7c1e-7000-8000-000000000001",
            " 0190e4b2-7c1e-7000-8000-000000000001",
        ] {
            assert_eq!(
                RequestId::parse(bad),
                Err(NotARequestId(bad.to_string())),
                "{bad:?}"
            );
        }
    }

    #[test]
    fn an_id_from_any_spelling_of_a_uuid_is_the_canonical_one() {
        let u = Uuid::parse_str("0190E4B2-7C1E-7000-8000-000000000001").unwrap();
        assert_eq!(
            RequestId::from(u).as_str(),
            "0190e4b2-7c1e-7000-8000-000000000001"
        );
    }

    #[test]
    fn an_id_is_a_json_string_and_a_bad_one_is_refused_when_read() {
        let id = RequestId::parse("0190e4b2-7c1e-7000-8000-000000000001").unwrap();
        let json = serde_json::to_string(&id).unwrap();
        assert_eq!(json, r#""0190e4b2-7c1e-7000-8000-000000000001""#);
        assert_eq!(serde_json::from_str::<RequestId>(&json).unwrap(), id);
        assert!(serde_json::from_str::<RequestId>(r#""id-1""#).is_err());
    }
}
