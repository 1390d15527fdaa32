//! `/api/me/delegation`: "while I am away, this person decides for me".

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

/// The longest a delegation may last, in days.
pub const MAX_DELEGATION_DAYS: i64 = 90;

/// `PUT /api/me/delegation` body: from `from` until `until`, `delegate` votes in the
/// caller's seat.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct SetDelegation {
    /// The email of the person who decides in the caller's stead.
    pub delegate: String,
    /// When it begins (RFC 3339); a time in the past means now.
    pub from: DateTime<Utc>,
    /// When it ends (RFC 3339): after `from`, in the future, at most 90 days after `from`.
    pub until: DateTime<Utc>,
}

/// One delegation, as its two people see it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "camelCase")]
pub struct DelegationInfo {
    /// Who is away: whose seat the delegate votes in.
    pub delegator: String,
    /// Who decides for them.
    pub delegate: String,
    pub from: DateTime<Utc>,
    pub until: DateTime<Utc>,
    /// The delegator's groups when they set it: the delegate votes for them on requests
    /// their email or one of these groups approves.
    pub groups: Vec<String>,
    /// In force now (`from` <= now < `until`).
    pub active: bool,
}

/// `GET /api/me/delegation` (and the answer to `PUT`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "camelCase")]
pub struct DelegationStatus {
    /// The caller's own delegation, unless none is set or it has ended.
    pub delegation: Option<DelegationInfo>,
    /// Those who delegated to the caller and whose delegation has not ended (active now
    /// or starting later).
    pub standing_in_for: Vec<DelegationInfo>,
}
