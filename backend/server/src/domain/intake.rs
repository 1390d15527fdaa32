//! The message a workflow sends to ask for approval (README.md, "Add approval to your own
//! state machine"), and its validation. Everything in it is untrusted.

use chrono::{DateTime, Duration, Utc};
use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::chat::{ChatRoute, parse_notify};
use super::email::Email;
use super::nudge::{self, DEFAULT_REMIND_BEFORE_SECONDS, Escalation};
use super::policy::AppliedPolicy;
use super::principal::Principal;
use super::task_token::TaskToken;

pub const MAX_TITLE_CHARS: usize = 200;
pub const MAX_DESCRIPTION_CHARS: usize = 20_000;
pub const MAX_APPROVERS: usize = 100;
/// Short deadlines are allowed (a two-second one is tested); pair them with a task
/// `TimeoutSeconds` in the state machine.
pub const MIN_TIMEOUT_SECONDS: i64 = 1;
pub const MAX_TIMEOUT_SECONDS: i64 = 365 * 24 * 3600;
pub const DEFAULT_TIMEOUT_SECONDS: i64 = 24 * 3600;
/// The most a stored request (its JSON) may hold: well inside DynamoDB's 400 KB item, and
/// more than a person reads before deciding.
pub const MAX_REQUEST_BYTES: usize = 64 * 1024;

/// What to tell the workflow on rejection.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum OnReject {
    /// `SendTaskFailure` with error `Hanko.Rejected`.
    Fail,
    /// `SendTaskSuccess` with `"decision":"rejected"`, for a Choice state.
    Succeed,
}

/// A validated approval request, without its task token (kept apart: it is a secret).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct NewRequest {
    pub title: String,
    pub description: Option<String>,
    pub details: Value,
    /// Emails and groups, deduplicated, in the order given; stored as the strings
    /// `alice@example.com` and `group:NAME`.
    pub approvers: Vec<Principal>,
    pub required_approvals: u32,
    pub allow_self_approval: bool,
    /// Who asked, when the workflow says (by email: self-approval is refused by comparing
    /// it with the voter's).
    pub requested_by: Option<Email>,
    pub on_reject: OnReject,
    pub execution_arn: String,
    pub execution_name: String,
    pub state_machine_arn: String,
    pub state_machine_name: String,
    pub state_name: Option<String>,
    pub created_at: DateTime<Utc>,
    pub expires_at: DateTime<Utc>,
    /// The operator's policy the request was held to; `None` without a policy document.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub policy: Option<AppliedPolicy>,
    /// Who put the message on the queue (SQS `SenderId`) or invoked the function.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sender: Option<String>,
    /// Chat channels told of the request besides email: its policy's, then the message's.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub notify: Vec<ChatRoute>,
    /// Seconds before the deadline at which those who may still vote are reminded.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub remind_before_seconds: Vec<i64>,
    /// Who the request goes to when nobody decided in time, and whether it did.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub escalation: Option<Escalation>,
}

impl NewRequest {
    /// Whether the person who logged in with `email` asked for this request.
    pub fn is_requested_by(&self, email: &str) -> bool {
        self.requested_by
            .as_ref()
            .is_some_and(|r| r.as_str() == email)
    }

    /// The AWS region, from the execution ARN (`arn:aws:states:REGION:...`).
    pub fn region(&self) -> Option<String> {
        let mut parts = self.execution_arn.split(':');
        let region = parts.nth(3)?;
        (!region.is_empty()).then(|| region.to_string())
    }
}

/// A message that passed validation: the token and the request it asks for.
#[derive(Debug, Clone)]
pub struct IntakeMessage {
    pub task_token: TaskToken,
    pub request: NewRequest,
    /// Which of the governed fields the message set (the others are defaults, which an
    /// approval policy replaces with its own).
    pub given: Given,
    /// The escalation the message asked for, each half as given (a policy may supply the
    /// other).
    pub asked_escalation: AskedEscalation,
}

/// `escalateAfterSeconds` and `escalateTo` as a message gave them.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AskedEscalation {
    pub after_seconds: Option<i64>,
    pub to: Option<Vec<Principal>>,
}

/// The fields of a message that an approval policy bounds, and whether the message set them.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Given {
    pub approvers: bool,
    pub required_approvals: bool,
    pub allow_self_approval: bool,
    pub timeout: bool,
    pub reminders: bool,
}

/// Why a message was refused.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum IntakeError {
    /// No usable task token: nobody can be told; the message is dropped (and logged).
    NoToken(String),
    /// The workflow can be told what is wrong: `SendTaskFailure` `Hanko.InvalidRequest`.
    Invalid {
        task_token: TaskToken,
        problems: Vec<String>,
    },
}

impl IntakeError {
    /// The `cause` sent with `Hanko.InvalidRequest`: JSON naming each problem.
    pub fn cause(problems: &[String]) -> String {
        serde_json::json!({
            "message": format!("Hanko refused the approval request: {}", problems.join("; ")),
            "problems": problems,
        })
        .to_string()
    }
}

impl IntakeMessage {
    /// Validates a message. `now` is when it arrived: the deadline counts from then.
    pub fn parse(raw: &Value, now: DateTime<Utc>) -> Result<Self, IntakeError> {
        let Some(obj) = raw.as_object() else {
            return Err(IntakeError::NoToken(
                "the message is not a JSON object".into(),
            ));
        };
        let task_token = match obj.get("taskToken") {
            Some(t) => match t.as_str().map(TaskToken::parse) {
                Some(Ok(token)) => token,
                _ => {
                    return Err(IntakeError::NoToken(
                        "taskToken is not a non-empty string".into(),
                    ));
                }
            },
            None => {
                return Err(IntakeError::NoToken(
                    "taskToken is missing (pass \"taskToken.$\": \"$$.Task.Token\")".into(),
                ));
            }
        };
        let mut p = Vec::new();

        let title = match obj.get("title") {
            Some(Value::String(t)) if !t.trim().is_empty() => {
                if t.chars().count() > MAX_TITLE_CHARS {
                    p.push(format!("title is longer than {MAX_TITLE_CHARS} characters"));
                }
                t.trim().to_string()
            }
            Some(Value::String(_)) => {
                p.push("title is empty".into());
                String::new()
            }
            Some(_) => {
                p.push("title must be a string".into());
                String::new()
            }
            None => {
                p.push("title is missing".into());
                String::new()
            }
        };

        let description = match obj.get("description") {
            None | Some(Value::Null) => None,
            Some(Value::String(d)) => {
                if d.chars().count() > MAX_DESCRIPTION_CHARS {
                    p.push(format!(
                        "description is longer than {MAX_DESCRIPTION_CHARS} characters"
                    ));
                }
                Some(d.clone())
            }
            Some(_) => {
                p.push("description must be a string".into());
                None
            }
        };

        let details = obj.get("details").cloned().unwrap_or(Value::Null);

        let mut approvers: Vec<Principal> = Vec::new();
        let mut has_group = false;
        match obj.get("approvers") {
            Some(Value::Array(list)) if !list.is_empty() => {
                if list.len() > MAX_APPROVERS {
                    p.push(format!("approvers has more than {MAX_APPROVERS} entries"));
                }
                for a in list {
                    match a.as_str().map(Principal::parse) {
                        Some(Ok(pr)) => {
                            has_group |= matches!(pr, Principal::Group(_));
                            if !approvers.contains(&pr) {
                                approvers.push(pr);
                            }
                        }
                        Some(Err(e)) => p.push(e),
                        None => p.push(format!("approver {a} is not a string")),
                    }
                }
            }
            Some(Value::Array(_)) => p.push("approvers is empty: name at least one".into()),
            // An approval policy names them; without one, [`IntakeMessage::check_alone`] refuses.
            None | Some(Value::Null) => {}
            Some(_) => p.push("approvers must be an array of emails or group:NAME".into()),
        }
        let given = Given {
            approvers: !matches!(obj.get("approvers"), None | Some(Value::Null)),
            required_approvals: !matches!(obj.get("requiredApprovals"), None | Some(Value::Null)),
            allow_self_approval: !matches!(obj.get("allowSelfApproval"), None | Some(Value::Null)),
            timeout: !matches!(obj.get("timeoutSeconds"), None | Some(Value::Null)),
            reminders: !matches!(obj.get("remindBeforeSeconds"), None | Some(Value::Null)),
        };

        let required_approvals = match obj.get("requiredApprovals") {
            None | Some(Value::Null) => 1,
            Some(v) => match v.as_u64() {
                Some(n) if (1..=100).contains(&n) => n as u32,
                _ => {
                    p.push("requiredApprovals must be a whole number from 1 to 100".into());
                    1
                }
            },
        };
        if !has_group && !approvers.is_empty() && required_approvals as usize > approvers.len() {
            p.push(quorum_problem(required_approvals, approvers.len()));
        }

        let allow_self_approval = match obj.get("allowSelfApproval") {
            None | Some(Value::Null) => false,
            Some(Value::Bool(b)) => *b,
            Some(_) => {
                p.push("allowSelfApproval must be true or false".into());
                false
            }
        };

        let requested_by = match obj.get("requestedBy") {
            None | Some(Value::Null) => None,
            Some(v) => match v.as_str().map(Email::parse) {
                Some(Ok(email)) => Some(email),
                _ => {
                    // Self-approval is refused by comparing it with the voter's email.
                    p.push("requestedBy must be an email address".into());
                    None
                }
            },
        };

        let timeout = match obj.get("timeoutSeconds") {
            None | Some(Value::Null) => DEFAULT_TIMEOUT_SECONDS,
            Some(v) => match v.as_i64() {
                Some(n) if (MIN_TIMEOUT_SECONDS..=MAX_TIMEOUT_SECONDS).contains(&n) => n,
                _ => {
                    p.push(format!(
                        "timeoutSeconds must be a whole number from {MIN_TIMEOUT_SECONDS} to {MAX_TIMEOUT_SECONDS}"
                    ));
                    DEFAULT_TIMEOUT_SECONDS
                }
            },
        };

        let on_reject = match obj.get("onReject") {
            None | Some(Value::Null) => OnReject::Fail,
            Some(Value::String(s)) if s == "fail" => OnReject::Fail,
            Some(Value::String(s)) if s == "succeed" => OnReject::Succeed,
            Some(_) => {
                p.push("onReject must be \"fail\" or \"succeed\"".into());
                OnReject::Fail
            }
        };

        let field = |o: Option<&Value>, k: &str| -> Option<String> {
            o.and_then(|v| v.get(k))
                .and_then(Value::as_str)
                .filter(|s| !s.is_empty())
                .map(str::to_string)
        };
        let execution = obj.get("execution");
        let execution_arn = field(execution, "Id").unwrap_or_default();
        if !execution_arn.starts_with("arn:") || execution_arn.split(':').count() < 8 {
            p.push(
                "execution.Id is missing or not an execution ARN (pass \"execution.$\": \"$$.Execution\")"
                    .into(),
            );
        }
        // arn:PARTITION:states:REGION:ACCOUNT:execution:STATE_MACHINE:EXECUTION
        let arn_parts: Vec<&str> = execution_arn.split(':').collect();
        let execution_name = field(execution, "Name")
            .or_else(|| arn_parts.get(7).map(|s| s.to_string()))
            .unwrap_or_default();
        let state_machine = obj.get("stateMachine");
        let state_machine_name = field(state_machine, "Name")
            .or_else(|| arn_parts.get(6).map(|s| s.to_string()))
            .unwrap_or_default();
        let state_machine_arn = field(state_machine, "Id")
            .or_else(|| state_machine_of(&execution_arn))
            .unwrap_or_default();
        let state_name = field(obj.get("state"), "Name");

        let notify = match obj.get("notify") {
            None | Some(Value::Null) => Vec::new(),
            Some(list) => parse_notify(list, "notify").unwrap_or_else(|mut problems| {
                p.append(&mut problems);
                Vec::new()
            }),
        };

        let remind_before_seconds = nudge::parse_reminders(obj.get("remindBeforeSeconds"))
            .unwrap_or_else(|problem| {
                p.push(problem);
                None
            })
            .unwrap_or_else(|| DEFAULT_REMIND_BEFORE_SECONDS.to_vec());
        let asked_escalation = AskedEscalation {
            after_seconds: nudge::parse_escalate_after(obj.get("escalateAfterSeconds"))
                .unwrap_or_else(|problem| {
                    p.push(problem);
                    None
                }),
            to: nudge::parse_escalate_to(obj.get("escalateTo")).unwrap_or_else(|mut problems| {
                p.append(&mut problems);
                None
            }),
        };
        // Without a policy the message's own escalation is all there is; a policy may
        // fill in either half ([`crate::domain::PolicyDocument::govern`]).
        let escalation = match &asked_escalation {
            AskedEscalation {
                after_seconds: Some(after_seconds),
                to: Some(to),
            } => Some(Escalation {
                after_seconds: *after_seconds,
                to: to.clone(),
                escalated_at: None,
                added: Vec::new(),
            }),
            _ => None,
        };

        if !p.is_empty() {
            return Err(IntakeError::Invalid {
                task_token,
                problems: p,
            });
        }
        let request = NewRequest {
            title,
            description,
            details,
            approvers,
            required_approvals,
            allow_self_approval,
            requested_by,
            on_reject,
            execution_arn,
            execution_name,
            state_machine_arn,
            state_machine_name,
            state_name,
            created_at: now,
            expires_at: now + Duration::seconds(timeout),
            policy: None,
            sender: None,
            notify,
            remind_before_seconds,
            escalation,
        };
        if let Some(problem) = size_problem(&request) {
            return Err(IntakeError::Invalid {
                task_token,
                problems: vec![problem],
            });
        }
        Ok(IntakeMessage {
            task_token,
            request,
            given,
            asked_escalation,
        })
    }

    /// Without a policy document the workflow chooses its approvers: it must name them.
    pub fn check_alone(&self) -> Vec<String> {
        let mut p = Vec::new();
        if self.request.approvers.is_empty() {
            p.push("approvers is missing (no approval policy names them)".into());
        }
        match (
            &self.asked_escalation.after_seconds,
            &self.asked_escalation.to,
        ) {
            (Some(_), None) => p.push(
                "escalateAfterSeconds needs escalateTo (no approval policy names them)".into(),
            ),
            (None, Some(_)) => {
                p.push("escalateTo needs escalateAfterSeconds (no approval policy sets it)".into())
            }
            _ => {}
        }
        p
    }
}

/// The state machine ARN an execution ARN names
/// (`arn:PARTITION:states:REGION:ACCOUNT:execution:STATE_MACHINE:EXECUTION`).
pub fn state_machine_of(execution_arn: &str) -> Option<String> {
    let parts: Vec<&str> = execution_arn.split(':').collect();
    (parts.len() >= 8).then(|| format!("{}:stateMachine:{}", parts[..5].join(":"), parts[6]))
}

pub(crate) fn quorum_problem(required: u32, named: usize) -> String {
    format!("requiredApprovals is {required} but only {named} approvers are named")
}

/// Why the request is too large to store, if it is.
pub fn size_problem(req: &NewRequest) -> Option<String> {
    let total = serde_json::to_vec(req).map_or(usize::MAX, |b| b.len());
    (total > MAX_REQUEST_BYTES).then(|| {
        let details = serde_json::to_vec(&req.details).map_or(0, |b| b.len());
        format!(
            "the request is {total} bytes as JSON (details {details}); Hanko keeps at most \
             {MAX_REQUEST_BYTES}: pass a link or a summary instead of the whole input"
        )
    })
}

/// A valid request for unit tests elsewhere: `approvers`, one approval needed, asked by
/// bob@example.com, due in an hour.
#[cfg(any(test, feature = "conformance"))]
pub(crate) fn sample_request(approvers: &[&str]) -> NewRequest {
    let now = Utc::now();
    NewRequest {
        title: "Deploy".into(),
        description: None,
        details: Value::Null,
        approvers: approvers
            .iter()
            .map(|a| Principal::parse(a).expect("a valid approver"))
            .collect(),
        required_approvals: 1,
        allow_self_approval: false,
        requested_by: Some(Email::parse("bob@example.com").expect("an email")),
        on_reject: OnReject::Fail,
        execution_arn: "arn:aws:states:us-east-1:1:execution:m:e".into(),
        execution_name: "e".into(),
        state_machine_arn: "arn:aws:states:us-east-1:1:stateMachine:m".into(),
        state_machine_name: "m".into(),
        state_name: None,
        created_at: now,
        expires_at: now + Duration::hours(1),
        policy: None,
        sender: None,
        notify: Vec::new(),
        remind_before_seconds: Vec::new(),
        escalation: None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    pub(super) fn texts(approvers: &[Principal]) -> Vec<String> {
        approvers.iter().map(ToString::to_string).collect()
    }

    fn message() -> Value {
        json!({
            "taskToken": "AQCEAAAAKgAAAAMAAAAAAAAAAZ",
            "execution": {"Id": "arn:aws:states:ap-northeast-1:123456789012:execution:deploy:run-42", "Name": "run-42"},
            "stateMachine": {"Id": "arn:aws:states:ap-northeast-1:123456789012:stateMachine:deploy", "Name": "deploy"},
            "state": {"Name": "AskForApproval"},
            "title": "Deploy shop-api v1.4.2 to production",
            "details": {"version": "1.4.2"},
            "approvers": ["Alice@example.com", "group:release-managers", "alice@example.com"],
            "requestedBy": "bob@example.com",
            "timeoutSeconds": 3600
        })
    }

    #[test]
    fn a_complete_message_becomes_a_request_with_defaults_filled_in() {
        let now = Utc::now();
        let m = IntakeMessage::parse(&message(), now).expect("valid");
        let r = m.request;
        assert_eq!(
            texts(&r.approvers),
            vec!["alice@example.com", "group:release-managers"]
        );
        assert_eq!(r.required_approvals, 1);
        assert!(!r.allow_self_approval);
        assert_eq!(r.on_reject, OnReject::Fail);
        assert_eq!(r.expires_at - r.created_at, Duration::seconds(3600));
        assert_eq!(r.execution_name, "run-42");
        assert_eq!(r.state_machine_name, "deploy");
        assert_eq!(r.region().as_deref(), Some("ap-northeast-1"));
    }

    #[test]
    fn a_message_without_a_token_cannot_be_answered() {
        let mut m = message();
        m.as_object_mut().unwrap().remove("taskToken");
        assert!(matches!(
            IntakeMessage::parse(&m, Utc::now()),
            Err(IntakeError::NoToken(_))
        ));
        assert!(matches!(
            IntakeMessage::parse(&json!([1]), Utc::now()),
            Err(IntakeError::NoToken(_))
        ));
    }

    #[test]
    fn a_message_may_name_chat_channels_but_not_a_webhook_url() {
        let mut m = message();
        m["notify"] = json!([{"slack": "#deploys"}, {"teams": "release-team"}]);
        let r = IntakeMessage::parse(&m, Utc::now()).expect("valid").request;
        assert_eq!(r.notify.len(), 2);
        m["notify"] = json!([{"teams": "https://outlook.office.com/webhook/x"}]);
        match IntakeMessage::parse(&m, Utc::now()) {
            Err(IntakeError::Invalid { problems, .. }) => {
                assert!(
                    problems[0].starts_with("notify[0]: teams target"),
                    "{problems:?}"
                );
            }
            other => panic!("expected Invalid, got {other:?}"),
        }
    }

    #[test]
    fn every_problem_of_an_invalid_message_is_named() {
        let mut m = message();
        let o = m.as_object_mut().unwrap();
        o.insert("title".into(), json!(""));
        o.insert("approvers".into(), json!(["not-an-email"]));
        o.insert("timeoutSeconds".into(), json!(0));
        o.insert("onReject".into(), json!("maybe"));
        match IntakeMessage::parse(&m, Utc::now()) {
            Err(IntakeError::Invalid { problems, .. }) => {
                assert_eq!(problems.len(), 4, "{problems:?}");
                let cause: Value = serde_json::from_str(&IntakeError::cause(&problems)).unwrap();
                assert!(
                    cause["message"]
                        .as_str()
                        .unwrap()
                        .contains("title is empty")
                );
            }
            other => panic!("expected Invalid, got {other:?}"),
        }
    }

    #[test]
    fn a_refused_message_keeps_its_task_token_without_printing_it() {
        let mut m = message();
        m.as_object_mut().unwrap().insert("title".into(), json!(""));
        let e = IntakeMessage::parse(&m, Utc::now()).unwrap_err();
        let IntakeError::Invalid { task_token, .. } = &e else {
            panic!("expected Invalid, got {e:?}")
        };
        assert_eq!(task_token.expose(), "AQCEAAAAKgAAAAMAAAAAAAAAAZ");
        assert!(!format!("{e:?}").contains("AQCEAAAAKgAAAAMAAAAAAAAAAZ"));
    }

    #[test]
    fn a_stored_request_with_a_bad_approver_does_not_read_as_a_shorter_list() {
        let r = sample_request(&["alice@example.com", "group:ops"]);
        let mut stored = serde_json::to_value(&r).unwrap();
        assert_eq!(
            stored["approvers"],
            json!(["alice@example.com", "group:ops"])
        );
        assert_eq!(stored["requestedBy"], json!("bob@example.com"));
        stored["approvers"] = json!(["alice@example.com", "not an approver"]);
        let e = serde_json::from_value::<NewRequest>(stored).unwrap_err();
        assert!(e.to_string().contains("not an approver"), "{e}");
    }

    #[test]
    fn a_quorum_larger_than_the_named_people_is_refused() {
        let mut m = message();
        let o = m.as_object_mut().unwrap();
        o.insert(
            "approvers".into(),
            json!(["a@example.com", "b@example.com"]),
        );
        o.insert("requiredApprovals".into(), json!(3));
        assert!(matches!(
            IntakeMessage::parse(&m, Utc::now()),
            Err(IntakeError::Invalid { .. })
        ));
    }

    #[test]
    fn the_state_machine_is_derived_from_the_execution_arn_when_absent() {
        let mut m = message();
        m.as_object_mut().unwrap().remove("stateMachine");
        let r = IntakeMessage::parse(&m, Utc::now()).unwrap().request;
        assert_eq!(
            r.state_machine_arn,
            "arn:aws:states:ap-northeast-1:123456789012:stateMachine:deploy"
        );
        assert_eq!(r.state_machine_name, "deploy");
    }
}

/// Property-based tests: whatever a workflow (or anyone who can write to the queue) sends,
/// the parser answers with a request or a typed refusal, never a panic.
#[cfg(test)]
mod properties {
    use super::*;
    use proptest::prelude::*;
    use serde_json::json;

    /// Cases per property: enough to find shallow bugs, few enough for `cargo test`.
    const CASES: u32 = 512;

    const FIELDS: [&str; 13] = [
        "taskToken",
        "execution",
        "stateMachine",
        "state",
        "title",
        "description",
        "details",
        "approvers",
        "requiredApprovals",
        "allowSelfApproval",
        "requestedBy",
        "timeoutSeconds",
        "onReject",
    ];

    fn key() -> impl Strategy<Value = String> {
        prop_oneof![
            prop::sample::select(&FIELDS[..]).prop_map(str::to_string),
            prop::sample::select(&["Id", "Name"][..]).prop_map(str::to_string),
            ".{0,12}",
        ]
    }

    /// Any JSON value, with object keys biased toward the message's own field names.
    fn any_json() -> impl Strategy<Value = Value> {
        let leaf = prop_oneof![
            Just(Value::Null),
            any::<bool>().prop_map(Value::Bool),
            any::<i64>().prop_map(Value::from),
            any::<u64>().prop_map(Value::from),
            any::<f64>()
                .prop_filter("JSON has no NaN or infinity", |f| f.is_finite())
                .prop_map(Value::from),
            ".{0,40}".prop_map(Value::String),
            "(group:)?[a-zA-Z0-9._+-]{0,10}(@[a-z]{1,8}\\.[a-z]{2,3})?".prop_map(Value::String),
            "arn:aws:states:[a-z0-9-]{0,12}:[0-9]{0,12}:execution:[a-z]{0,5}:[a-z]{0,5}"
                .prop_map(Value::String),
        ];
        leaf.prop_recursive(4, 48, 8, |inner| {
            prop_oneof![
                prop::collection::vec(inner.clone(), 0..8).prop_map(Value::Array),
                prop::collection::btree_map(key(), inner, 0..8)
                    .prop_map(|m| Value::Object(m.into_iter().collect())),
            ]
        })
    }

    fn valid() -> Value {
        json!({
            "taskToken": "AQCEAAAAKgAAAAMAAAAAAAAAAZ",
            "execution": {"Id": "arn:aws:states:ap-northeast-1:123456789012:execution:deploy:run-42", "Name": "run-42"},
            "stateMachine": {"Id": "arn:aws:states:ap-northeast-1:123456789012:stateMachine:deploy", "Name": "deploy"},
            "state": {"Name": "AskForApproval"},
            "title": "Deploy",
            "approvers": ["alice@example.com", "carol@example.com"],
            "requiredApprovals": 2,
            "requestedBy": "bob@example.com",
            "timeoutSeconds": 3600
        })
    }

    /// What every accepted request satisfies, whatever came in.
    fn assert_sound(raw: &Value, m: &IntakeMessage) {
        let r = &m.request;
        assert_eq!(raw["taskToken"].as_str(), Some(m.task_token.expose()));
        assert!(!r.title.is_empty() && r.title.chars().count() <= MAX_TITLE_CHARS);
        // Left out, the approvers come from a policy (or the message is refused without one).
        assert_eq!(r.approvers.is_empty(), !m.given.approvers);
        assert!(r.approvers.len() <= MAX_APPROVERS);
        assert!(
            r.approvers
                .iter()
                .all(|a| Principal::parse(&a.to_string()).is_ok())
        );
        assert!((1..=100).contains(&r.required_approvals));
        let secs = (r.expires_at - r.created_at).num_seconds();
        assert!((MIN_TIMEOUT_SECONDS..=MAX_TIMEOUT_SECONDS).contains(&secs));
        assert!(r.execution_arn.starts_with("arn:"));
        // The stored form round-trips (it is what the store writes and reads back).
        let back: NewRequest = serde_json::from_value(serde_json::to_value(r).unwrap()).unwrap();
        assert_eq!(&back, r);
    }

    fn check(raw: &Value) {
        match IntakeMessage::parse(raw, Utc::now()) {
            Ok(m) => assert_sound(raw, &m),
            Err(IntakeError::NoToken(why)) => assert!(!why.is_empty()),
            Err(IntakeError::Invalid {
                task_token,
                problems,
            }) => {
                assert_eq!(raw["taskToken"].as_str(), Some(task_token.expose()));
                assert!(!problems.is_empty());
                assert!(problems.iter().all(|p| !p.is_empty()));
            }
        }
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(CASES))]

        #[test]
        fn any_json_value_is_accepted_soundly_or_refused_with_a_typed_error(raw in any_json()) {
            check(&raw);
        }

        #[test]
        fn a_valid_message_with_one_field_replaced_or_removed_never_panics(
            field in prop::sample::select(&FIELDS[..]),
            value in prop::option::of(any_json()),
            extra in prop::collection::btree_map(key(), any_json(), 0..3),
        ) {
            let mut raw = valid();
            let o = raw.as_object_mut().unwrap();
            match value {
                Some(v) => { o.insert(field.to_string(), v); }
                None => { o.remove(field); }
            }
            for (k, v) in extra {
                if k != "taskToken" { o.insert(k, v); }
            }
            let token_kept = raw["taskToken"] == valid()["taskToken"];
            let outcome = IntakeMessage::parse(&raw, Utc::now());
            // Only a broken token makes a message unanswerable.
            prop_assert!(!(token_kept && matches!(outcome, Err(IntakeError::NoToken(_)))));
            check(&raw);
        }

        #[test]
        fn a_valid_generated_message_round_trips_into_the_request(
            title in "[^\\s]{1}[\\PC]{0,150}[^\\s]{1}",
            description in prop::option::of("[\\PC]{0,300}"),
            people in prop::collection::btree_set("[a-z]{1,8}@[a-z]{1,8}\\.(com|jp|org)", 1..6),
            groups in prop::collection::btree_set("group:[a-z0-9._-]{1,20}", 0..3),
            required_extra in 0u32..5,
            self_ok in any::<bool>(),
            timeout in MIN_TIMEOUT_SECONDS..=MAX_TIMEOUT_SECONDS,
            succeed in any::<bool>(),
            details in any_json(),
        ) {
            let approvers: Vec<String> = people.iter().chain(groups.iter()).cloned().collect();
            let required = (1 + required_extra).min(people.len() as u32);
            let raw = json!({
                "taskToken": "tok-properties",
                "execution": {"Id": "arn:aws:states:eu-west-1:123456789012:execution:sm:ex", "Name": "ex"},
                "title": title,
                "description": description,
                "details": details,
                "approvers": approvers,
                "requiredApprovals": required,
                "allowSelfApproval": self_ok,
                "requestedBy": "Bob@Example.com",
                "timeoutSeconds": timeout,
                "onReject": if succeed { "succeed" } else { "fail" },
            });
            let now = Utc::now();
            let m = IntakeMessage::parse(&raw, now)
                .map_err(|e| TestCaseError::fail(format!("{e:?}")))?;
            assert_sound(&raw, &m);
            let r = m.request;
            prop_assert_eq!(r.region(), Some("eu-west-1".to_string()));
            prop_assert_eq!(&r.title, title.trim());
            prop_assert_eq!(r.description, description);
            prop_assert_eq!(r.details, details);
            prop_assert_eq!(super::tests::texts(&r.approvers), approvers);
            prop_assert_eq!(r.required_approvals, required);
            prop_assert_eq!(r.allow_self_approval, self_ok);
            prop_assert_eq!(r.requested_by.as_ref().map(Email::as_str), Some("bob@example.com"));
            prop_assert_eq!(r.expires_at - now, Duration::seconds(timeout));
            prop_assert_eq!(r.on_reject, if succeed { OnReject::Succeed } else { OnReject::Fail });
            prop_assert_eq!(r.state_machine_arn, "arn:aws:states:eu-west-1:123456789012:stateMachine:sm");
        }
    }
}
