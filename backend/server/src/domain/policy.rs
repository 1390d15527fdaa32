//! The operator's approval policies: who may be asked to decide for which state machines,
//! the fewest approvals, self-approval, the longest wait and the oldest login that may
//! decide. A workflow's message may ask for more than its policy, never for less; what it
//! leaves out, the policy fills in. Plain data and functions: where the document is read
//! from is [`crate::policy_source`].

use std::collections::HashSet;

use hanko_api::ApprovalPolicy;
use serde::{Deserialize, Serialize};
use wildmatch::WildMatch;

use super::chat::{self, ChatRoute};
use super::intake::{
    AskedEscalation, DEFAULT_TIMEOUT_SECONDS, Given, MAX_APPROVERS, MAX_TIMEOUT_SECONDS,
    MIN_TIMEOUT_SECONDS, NewRequest, quorum_problem,
};
use super::nudge::{self, Escalation, MAX_REMINDERS, MIN_NUDGE_SECONDS};
use super::principal::Principal;

/// The word that makes unmatched state machines fail at once.
pub const DENY: &str = "deny";

/// The operator's policy document, as written (TOML or JSON).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct PolicyDocument {
    /// What a state machine no policy names gets: `deny`, or the name of a policy.
    pub default: String,
    #[serde(default)]
    pub policies: Vec<ApprovalPolicy>,
}

/// A policy as a request carries it: the rules and their hash.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct AppliedPolicy {
    pub policy: ApprovalPolicy,
    pub sha256: String,
}

impl AppliedPolicy {
    /// What the api and the audit export say of it: its name and hash.
    pub fn reference(&self) -> hanko_api::PolicyRef {
        hanko_api::PolicyRef {
            name: self.policy.name.clone(),
            sha256: self.sha256.clone(),
        }
    }

    pub fn of(policy: &ApprovalPolicy) -> Self {
        Self {
            sha256: policy_sha256(policy),
            policy: policy.clone(),
        }
    }
}

/// Lowercase hex SHA-256 of the policy's canonical JSON (its serde_json form, compact).
pub fn policy_sha256(policy: &ApprovalPolicy) -> String {
    let bytes = serde_json::to_vec(policy).unwrap_or_default();
    hex::encode(aws_lc_rs::digest::digest(
        &aws_lc_rs::digest::SHA256,
        &bytes,
    ))
}

/// What the document says of one state machine.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Verdict<'a> {
    /// The first policy, in document order, with a pattern that matches; or the default one.
    Policy {
        policy: &'a ApprovalPolicy,
        by_default: bool,
    },
    /// No policy names it and the default is `deny`.
    Deny,
}

/// The document refused a request: the task fails with `Hanko.PolicyViolation`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Violation {
    /// The policy that was broken; `None` under the default `deny`.
    pub policy: Option<String>,
    pub problems: Vec<String>,
}

impl Violation {
    /// The `cause` sent with `Hanko.PolicyViolation`: JSON naming the policy and each rule.
    pub fn cause(&self) -> String {
        let message = match &self.policy {
            Some(p) => format!(
                "the request asks for less than the operator's approval policy {p:?} allows: {}",
                self.problems.join("; ")
            ),
            None => format!(
                "no approval policy covers this state machine: {}",
                self.problems.join("; ")
            ),
        };
        serde_json::json!({
            "message": message,
            "policy": self.policy,
            "problems": self.problems,
        })
        .to_string()
    }
}

impl PolicyDocument {
    /// Reads a document: JSON when it starts with `{`, TOML otherwise; then [`Self::check`].
    pub fn parse(text: &str) -> Result<Self, String> {
        let doc: PolicyDocument = if text.trim_start().starts_with('{') {
            serde_json::from_str(text)
                .map_err(|e| format!("not a valid JSON policy document: {e}"))?
        } else {
            toml::from_str(text).map_err(|e| format!("not a valid TOML policy document: {e}"))?
        };
        let problems = doc.check();
        if problems.is_empty() {
            Ok(doc)
        } else {
            Err(problems.join("; "))
        }
    }

    /// Every mistake in the document, in words an operator can act on.
    pub fn check(&self) -> Vec<String> {
        let mut p = Vec::new();
        let mut names = HashSet::new();
        for pol in &self.policies {
            let n = &pol.name;
            if n.trim().is_empty() {
                p.push("a policy has an empty name".into());
            } else if n == DENY {
                p.push(format!("a policy may not be called {DENY:?}"));
            } else if !names.insert(n.as_str()) {
                p.push(format!("two policies are called {n:?}"));
            }
            if pol.state_machines.is_empty() {
                p.push(format!("policy {n:?} names no stateMachines"));
            }
            for pat in &pol.state_machines {
                if !pat.starts_with("arn:") {
                    p.push(format!(
                        "policy {n:?}: state machine pattern {pat:?} is not an ARN pattern (arn:aws:states:REGION:ACCOUNT:stateMachine:NAME, * for any run of characters)"
                    ));
                }
            }
            if pol.approvers.is_empty() {
                p.push(format!("policy {n:?} names no approvers"));
            }
            if pol.approvers.len() > MAX_APPROVERS {
                p.push(format!(
                    "policy {n:?} names more than {MAX_APPROVERS} approvers"
                ));
            }
            let mut people = 0;
            let mut groups = 0;
            for a in &pol.approvers {
                match Principal::parse(a) {
                    Ok(Principal::User(e)) if e.as_str() == a => people += 1,
                    Ok(Principal::User(_)) => p.push(format!(
                        "policy {n:?}: approver {a:?} must be written in lowercase, without spaces"
                    )),
                    Ok(Principal::Group(_)) => groups += 1,
                    Err(e) => p.push(format!("policy {n:?}: {e}")),
                }
            }
            if !(1..=100).contains(&pol.min_approvals) {
                p.push(format!(
                    "policy {n:?}: minApprovals must be a whole number from 1 to 100"
                ));
            } else if groups == 0 && people > 0 && pol.min_approvals as usize > people {
                p.push(format!(
                    "policy {n:?}: minApprovals is {} but only {people} approvers are named",
                    pol.min_approvals
                ));
            }
            if !(MIN_TIMEOUT_SECONDS..=MAX_TIMEOUT_SECONDS).contains(&pol.max_timeout_seconds) {
                p.push(format!(
                    "policy {n:?}: maxTimeoutSeconds must be from {MIN_TIMEOUT_SECONDS} to {MAX_TIMEOUT_SECONDS}"
                ));
            }
            if pol.max_login_age_seconds.is_some_and(|s| s < 1) {
                p.push(format!(
                    "policy {n:?}: maxLoginAgeSeconds must be at least 1"
                ));
            }
            if let Some(list) = &pol.remind_before_seconds
                && (list.len() > MAX_REMINDERS
                    || list
                        .iter()
                        .any(|s| !(MIN_NUDGE_SECONDS..=MAX_TIMEOUT_SECONDS).contains(s)))
            {
                p.push(format!(
                    "policy {n:?}: remindBeforeSeconds must list at most {MAX_REMINDERS} whole numbers from {MIN_NUDGE_SECONDS} to {MAX_TIMEOUT_SECONDS}"
                ));
            }
            if let Err(problems) = nudge::principals(pol.escalate_to.iter().map(|a| Ok(a.as_str())))
            {
                p.extend(
                    problems
                        .into_iter()
                        .map(|e| format!("policy {n:?}: escalateTo: {e}")),
                );
            }
            match (pol.escalate_after_seconds, pol.escalate_to.is_empty()) {
                (Some(s), false) if !(MIN_NUDGE_SECONDS..=MAX_TIMEOUT_SECONDS).contains(&s) => {
                    p.push(format!(
                        "policy {n:?}: escalateAfterSeconds must be from {MIN_NUDGE_SECONDS} to {MAX_TIMEOUT_SECONDS}"
                    ))
                }
                (Some(_), true) => p.push(format!(
                    "policy {n:?}: escalateAfterSeconds needs escalateTo"
                )),
                (None, false) => p.push(format!(
                    "policy {n:?}: escalateTo needs escalateAfterSeconds"
                )),
                _ => {}
            }
            for (field, list) in [("notify", &pol.notify), ("mayNotify", &pol.may_notify)] {
                if let Ok(list) = serde_json::to_value(list)
                    && let Err(problems) = chat::parse_notify(&list, field)
                {
                    p.extend(problems.into_iter().map(|e| format!("policy {n:?}: {e}")));
                }
            }
        }
        if self.default != DENY && !self.policies.iter().any(|pol| pol.name == self.default) {
            p.push(format!(
                "default is {:?}: it must be {DENY:?} or the name of a policy in the document",
                self.default
            ));
        }
        p
    }

    /// Which policy holds requests of `state_machine_arn`.
    pub fn verdict(&self, state_machine_arn: &str) -> Verdict<'_> {
        let named = self.policies.iter().find(|pol| {
            pol.state_machines
                .iter()
                .any(|pat| WildMatch::new(pat).matches(state_machine_arn))
        });
        match named {
            Some(policy) => Verdict::Policy {
                policy,
                by_default: false,
            },
            None => match self.policies.iter().find(|pol| pol.name == self.default) {
                Some(policy) => Verdict::Policy {
                    policy,
                    by_default: true,
                },
                None => Verdict::Deny,
            },
        }
    }

    /// Holds `req` (as parsed, with what its message `given`) to the document: fills in
    /// what the message left out from the policy, and refuses what asks for less.
    pub fn govern(
        &self,
        req: &mut NewRequest,
        given: &Given,
        escalation_asked: &AskedEscalation,
    ) -> Result<(), Violation> {
        let policy = match self.verdict(&req.state_machine_arn) {
            Verdict::Deny => {
                return Err(Violation {
                    policy: None,
                    problems: vec![format!(
                        "state machine {} is not named by any policy and the default is {DENY:?}",
                        req.state_machine_arn
                    )],
                });
            }
            Verdict::Policy { policy, .. } => policy,
        };
        let mut p = Vec::new();
        if given.approvers {
            let outside: Vec<String> = req
                .approvers
                .iter()
                .map(Principal::to_string)
                .filter(|a| !policy.approvers.contains(a))
                .collect();
            if !outside.is_empty() {
                p.push(format!(
                    "approvers {} are not among those the policy allows ({})",
                    outside.join(", "),
                    policy.approvers.join(", ")
                ));
            }
        } else {
            // A checked document names only valid approvers; a bad one is refused, not left out.
            req.approvers = Vec::with_capacity(policy.approvers.len());
            for a in &policy.approvers {
                match Principal::parse(a) {
                    Ok(pr) => req.approvers.push(pr),
                    Err(e) => p.push(format!("policy {:?}: {e}", policy.name)),
                }
            }
        }
        if given.required_approvals {
            if req.required_approvals < policy.min_approvals {
                p.push(format!(
                    "requiredApprovals is {} but the policy needs at least {}",
                    req.required_approvals, policy.min_approvals
                ));
            }
        } else {
            req.required_approvals = policy.min_approvals;
        }
        if given.allow_self_approval {
            if req.allow_self_approval && !policy.allow_self_approval {
                p.push("allowSelfApproval is true but the policy does not allow it".into());
            }
        } else {
            req.allow_self_approval = policy.allow_self_approval;
        }
        let asked = (req.expires_at - req.created_at).num_seconds();
        if given.timeout {
            if asked > policy.max_timeout_seconds {
                p.push(format!(
                    "timeoutSeconds is {asked} but the policy allows at most {}",
                    policy.max_timeout_seconds
                ));
            }
        } else {
            let t = DEFAULT_TIMEOUT_SECONDS.min(policy.max_timeout_seconds);
            req.expires_at = req.created_at + chrono::Duration::seconds(t);
        }
        let grouped = req
            .approvers
            .iter()
            .any(|a| matches!(a, Principal::Group(_)));
        if !grouped && req.required_approvals as usize > req.approvers.len() {
            p.push(quorum_problem(req.required_approvals, req.approvers.len()));
        }
        let mut channels = Vec::with_capacity(policy.notify.len());
        let mut allowed = Vec::new();
        for (target, always) in policy
            .notify
            .iter()
            .map(|t| (t, true))
            .chain(policy.may_notify.iter().map(|t| (t, false)))
        {
            match ChatRoute::try_from(target.clone()) {
                Ok(route) => {
                    allowed.push(route.channel.clone());
                    if always {
                        channels.push(route);
                    }
                }
                Err(e) => p.push(format!("policy {:?}: {e}", policy.name)),
            }
        }
        // A channel's members read the request's title: like approvers, a message may name
        // only channels its policy allows.
        let outside: Vec<String> = req
            .notify
            .iter()
            .filter(|r| !allowed.contains(&r.channel))
            .map(|r| r.channel.to_string())
            .collect();
        if !outside.is_empty() {
            p.push(format!(
                "notify names {} which the policy does not allow (its notify and mayNotify)",
                outside.join(", ")
            ));
        }
        req.notify = chat::merge(&channels, &req.notify);
        if !given.reminders
            && let Some(list) = &policy.remind_before_seconds
        {
            req.remind_before_seconds = list.clone();
        }
        // Escalation makes more people approvers: like approvers, a message may name only
        // those its policy allows.
        let allowed = nudge::principals(policy.escalate_to.iter().map(|a| Ok(a.as_str())))
            .unwrap_or_else(|problems| {
                p.extend(
                    problems
                        .into_iter()
                        .map(|e| format!("policy {:?}: escalateTo: {e}", policy.name)),
                );
                Vec::new()
            });
        if let Some(to) = &escalation_asked.to {
            let outside: Vec<String> = to
                .iter()
                .filter(|a| !allowed.contains(a))
                .map(Principal::to_string)
                .collect();
            if !outside.is_empty() {
                p.push(format!(
                    "escalateTo names {} which the policy does not allow (its escalateTo)",
                    outside.join(", ")
                ));
            }
        }
        let to = escalation_asked.to.clone().unwrap_or(allowed);
        let after = escalation_asked
            .after_seconds
            .or(policy.escalate_after_seconds);
        req.escalation = match (after, to.is_empty()) {
            (Some(after_seconds), false) => Some(Escalation {
                after_seconds,
                to,
                escalated_at: None,
                added: Vec::new(),
            }),
            (Some(_), true) => {
                p.push("escalateAfterSeconds needs escalateTo, and the policy names none".into());
                None
            }
            (None, _) => None,
        };
        if p.is_empty() {
            req.policy = Some(AppliedPolicy::of(policy));
            Ok(())
        } else {
            Err(Violation {
                policy: Some(policy.name.clone()),
                problems: p,
            })
        }
    }
}

/// `hanko policy check`: the document's policies as an operator reads them, and the
/// policy each of `state_machines` gets. `Err` names every mistake in the document.
pub fn report(text: &str, state_machines: &[String]) -> Result<String, String> {
    use std::fmt::Write;
    let doc = PolicyDocument::parse(text)?;
    let mut out = String::new();
    let default = if doc.default == DENY {
        "unmatched state machines are refused (default \"deny\")".to_string()
    } else {
        format!("unmatched state machines get policy {:?}", doc.default)
    };
    let _ = writeln!(out, "VALID: {} policies; {default}", doc.policies.len());
    for p in &doc.policies {
        let _ = writeln!(out, "\npolicy {:?} (sha256 {})", p.name, policy_sha256(p));
        let _ = writeln!(out, "  state machines  {}", p.state_machines.join(", "));
        let _ = writeln!(out, "  approvers       {}", p.approvers.join(", "));
        let _ = writeln!(
            out,
            "  approvals       at least {}; the requester {} approve",
            p.min_approvals,
            if p.allow_self_approval {
                "may"
            } else {
                "may not"
            }
        );
        let _ = writeln!(out, "  longest wait    {} s", p.max_timeout_seconds);
        if let Some(age) = p.max_login_age_seconds {
            let _ = writeln!(out, "  login age       at most {age} s to decide");
        }
        if p.require_passkey {
            let _ = writeln!(
                out,
                "  passkey         every vote signed with the approver's passkey"
            );
        }
        let channels = |list: &[hanko_api::ChatTarget]| {
            list.iter()
                .filter_map(|t| ChatRoute::try_from(t.clone()).ok())
                .map(|r| r.channel.to_string())
                .collect::<Vec<_>>()
                .join(", ")
        };
        if !p.notify.is_empty() {
            let _ = writeln!(out, "  chat            {}", channels(&p.notify));
        }
        if !p.may_notify.is_empty() {
            let _ = writeln!(out, "  may add chat    {}", channels(&p.may_notify));
        }
        if let Some(list) = &p.remind_before_seconds {
            let list: Vec<String> = list.iter().map(|s| format!("{s} s")).collect();
            let _ = writeln!(
                out,
                "  reminders       {} before the deadline",
                list.join(", ")
            );
        }
        if let Some(after) = p.escalate_after_seconds {
            let _ = writeln!(
                out,
                "  escalation      after {after} s to {}",
                p.escalate_to.join(", ")
            );
        }
    }
    if !state_machines.is_empty() {
        let _ = writeln!(out);
    }
    for arn in state_machines {
        let _ = match doc.verdict(arn) {
            Verdict::Policy { policy, by_default } => writeln!(
                out,
                "{arn} -> {:?}{}",
                policy.name,
                if by_default { " (the default)" } else { "" }
            ),
            Verdict::Deny => writeln!(out, "{arn} -> refused (no policy names it)"),
        };
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::intake::IntakeMessage;
    use chrono::Utc;
    use serde_json::json;

    fn texts(approvers: &[Principal]) -> Vec<String> {
        approvers.iter().map(ToString::to_string).collect()
    }

    const TOML: &str = r#"
default = "deny"

[[policies]]
name = "production-deploys"
stateMachines = ["arn:aws:states:*:123456789012:stateMachine:deploy-*"]
approvers = ["group:release-managers", "alice@example.com"]
minApprovals = 2
allowSelfApproval = false
maxTimeoutSeconds = 86400
maxLoginAgeSeconds = 900

[[policies]]
name = "expenses"
stateMachines = ["arn:aws:states:ap-northeast-1:123456789012:stateMachine:expense"]
approvers = ["group:finance"]
minApprovals = 1
allowSelfApproval = true
maxTimeoutSeconds = 604800
"#;

    fn doc() -> PolicyDocument {
        PolicyDocument::parse(TOML).expect("the example is valid")
    }

    fn message(extra: serde_json::Value) -> IntakeMessage {
        let mut raw = json!({
            "taskToken": "tok",
            "execution": {"Id": "arn:aws:states:ap-northeast-1:123456789012:execution:deploy-shop:run-1"},
            "title": "Deploy",
            "requestedBy": "bob@example.com",
        });
        for (k, v) in extra.as_object().unwrap() {
            raw[k] = v.clone();
        }
        IntakeMessage::parse(&raw, Utc::now()).expect("parses")
    }

    fn govern(extra: serde_json::Value) -> Result<NewRequest, Violation> {
        let m = message(extra);
        let mut r = m.request;
        doc()
            .govern(&mut r, &m.given, &m.asked_escalation)
            .map(|()| r)
    }

    #[test]
    fn the_same_document_reads_from_toml_and_from_json() {
        let json = serde_json::to_string(&doc()).unwrap();
        assert_eq!(PolicyDocument::parse(&json).unwrap(), doc());
    }

    #[test]
    fn a_message_without_approvers_takes_the_policys() {
        let r = govern(json!({})).expect("within policy");
        assert_eq!(
            texts(&r.approvers),
            vec!["group:release-managers", "alice@example.com"]
        );
        assert_eq!(r.required_approvals, 2);
        assert!(!r.allow_self_approval);
        assert_eq!((r.expires_at - r.created_at).num_seconds(), 86400);
        let applied = r.policy.expect("the policy is recorded");
        assert_eq!(applied.policy.name, "production-deploys");
        assert_eq!(applied.sha256, policy_sha256(&doc().policies[0]));
    }

    #[test]
    fn a_message_that_asks_for_more_than_the_policy_is_kept_as_asked() {
        let r = govern(json!({
            "approvers": ["group:release-managers"], "requiredApprovals": 3, "timeoutSeconds": 60
        }))
        .expect("more is fine");
        assert_eq!(texts(&r.approvers), vec!["group:release-managers"]);
        assert_eq!(r.required_approvals, 3);
        assert_eq!((r.expires_at - r.created_at).num_seconds(), 60);
    }

    #[test]
    fn each_way_of_asking_for_less_is_named_in_the_violation() {
        for (extra, says) in [
            (
                json!({"approvers": ["bob@example.com", "alice@example.com"]}),
                "bob@example.com are not among",
            ),
            (json!({"requiredApprovals": 1}), "needs at least 2"),
            (json!({"allowSelfApproval": true}), "does not allow it"),
            (json!({"timeoutSeconds": 86401}), "at most 86400"),
        ] {
            let v = govern(extra.clone()).expect_err("asks for less");
            assert_eq!(v.policy.as_deref(), Some("production-deploys"));
            assert_eq!(v.problems.len(), 1, "{extra}: {:?}", v.problems);
            assert!(v.problems[0].contains(says), "{extra}: {:?}", v.problems);
            let cause: serde_json::Value = serde_json::from_str(&v.cause()).unwrap();
            assert_eq!(cause["policy"], "production-deploys");
        }
    }

    #[test]
    fn a_state_machine_no_policy_names_is_denied_by_default() {
        let m = message(json!({
            "execution": {"Id": "arn:aws:states:ap-northeast-1:123456789012:execution:other:run-1"}
        }));
        let mut r = m.request;
        let v = doc()
            .govern(&mut r, &m.given, &m.asked_escalation)
            .expect_err("denied");
        assert_eq!(v.policy, None);
        assert!(v.problems[0].contains("stateMachine:other"), "{v:?}");
    }

    #[test]
    fn a_named_default_policy_holds_unmatched_state_machines() {
        let mut d = doc();
        d.default = "expenses".into();
        assert!(d.check().is_empty());
        let verdict = d.verdict("arn:aws:states:us-east-1:1:stateMachine:other");
        assert!(matches!(
            verdict,
            Verdict::Policy { policy, by_default: true } if policy.name == "expenses"
        ));
    }

    #[test]
    fn the_first_matching_policy_in_document_order_applies() {
        let mut d = doc();
        let mut wide = d.policies[1].clone();
        wide.name = "everything".into();
        wide.state_machines = vec!["arn:*".into()];
        d.policies.push(wide);
        let verdict = d.verdict("arn:aws:states:eu-west-1:123456789012:stateMachine:deploy-x");
        assert!(
            matches!(verdict, Verdict::Policy { policy, .. } if policy.name == "production-deploys")
        );
        let verdict = d.verdict("arn:aws:states:eu-west-1:123456789012:stateMachine:build");
        assert!(matches!(verdict, Verdict::Policy { policy, .. } if policy.name == "everything"));
    }

    #[test]
    fn a_document_with_mistakes_names_each_of_them() {
        let bad = r#"{"default": "nobody", "policies": [
            {"name": "a", "stateMachines": ["deploy"], "approvers": ["Alice@example.com", "nope"],
             "minApprovals": 0, "maxTimeoutSeconds": 0},
            {"name": "a", "stateMachines": [], "approvers": [], "minApprovals": 1, "maxTimeoutSeconds": 60}
        ]}"#;
        let err = PolicyDocument::parse(bad).expect_err("invalid");
        for says in [
            "not an ARN pattern",
            "lowercase",
            "neither an email address nor group:NAME",
            "minApprovals must be",
            "maxTimeoutSeconds must be",
            "two policies are called \"a\"",
            "names no stateMachines",
            "names no approvers",
            "default is \"nobody\"",
        ] {
            assert!(err.contains(says), "{says} missing from: {err}");
        }
        let typo = r#"{"default": "deny", "policies": [], "polices": []}"#;
        assert!(PolicyDocument::parse(typo).unwrap_err().contains("polices"));
    }

    #[test]
    fn require_passkey_is_read_reported_and_left_out_of_the_hash_when_off() {
        let signed = TOML.replace(
            "maxLoginAgeSeconds = 900\n",
            "maxLoginAgeSeconds = 900\nrequirePasskey = true\n",
        );
        let doc = PolicyDocument::parse(&signed).expect("valid");
        assert!(doc.policies[0].require_passkey);
        assert!(!doc.policies[1].require_passkey);
        let out = report(&signed, &[]).expect("valid");
        assert!(out.contains("passkey         every vote signed with the approver's passkey"));
        // A policy without it hashes as before the setting existed.
        let plain = PolicyDocument::parse(TOML).expect("valid");
        let json = serde_json::to_string(&plain.policies[0]).unwrap();
        assert!(!json.contains("requirePasskey"), "{json}");
        assert!(
            serde_json::to_string(&doc.policies[0])
                .unwrap()
                .contains("\"requirePasskey\":true")
        );
    }

    #[test]
    fn the_check_report_shows_each_policy_and_what_each_state_machine_gets() {
        let out = report(
            TOML,
            &[
                "arn:aws:states:eu-west-1:123456789012:stateMachine:deploy-web".into(),
                "arn:aws:states:eu-west-1:123456789012:stateMachine:other".into(),
            ],
        )
        .expect("valid");
        assert!(out.starts_with("VALID: 2 policies; unmatched state machines are refused"));
        assert!(out.contains("approvals       at least 2; the requester may not approve"));
        assert!(out.contains("login age       at most 900 s to decide"));
        assert!(out.contains("stateMachine:deploy-web -> \"production-deploys\""));
        assert!(out.contains("stateMachine:other -> refused (no policy names it)"));
    }

    #[test]
    fn the_policy_hash_changes_with_any_rule() {
        let p = doc().policies[0].clone();
        let mut q = p.clone();
        q.min_approvals = 1;
        assert_ne!(policy_sha256(&p), policy_sha256(&q));
        assert_eq!(policy_sha256(&p).len(), 64);
    }

    #[test]
    fn a_policys_chat_channels_come_first_and_a_message_may_add_those_it_allows() {
        let text = TOML.replace(
            "maxLoginAgeSeconds = 900",
            "maxLoginAgeSeconds = 900\nnotify = [{ slack = \"#deploys\" }, { teams = \"release-team\", lang = \"ja\" }]\nmayNotify = [{ slack = \"#shop\" }]",
        );
        let doc = PolicyDocument::parse(&text).expect("valid");
        let m = message(json!({"notify": [{"slack": "#shop"}, {"slack": "#deploys"}]}));
        let mut r = m.request;
        doc.govern(&mut r, &m.given, &m.asked_escalation)
            .expect("within policy");
        let named: Vec<String> = r.notify.iter().map(|n| n.channel.to_string()).collect();
        assert_eq!(
            named,
            vec!["slack #deploys", "teams release-team", "slack #shop"]
        );
    }

    #[test]
    fn a_message_may_not_name_a_chat_channel_its_policy_does_not_allow() {
        let text = TOML.replace(
            "maxLoginAgeSeconds = 900",
            "maxLoginAgeSeconds = 900\nnotify = [{ slack = \"#deploys\" }]\nmayNotify = [{ slack = \"#shop\" }]",
        );
        let doc = PolicyDocument::parse(&text).expect("valid");
        let m = message(json!({"notify": [{"slack": "#everyone"}, {"slack": "#shop"}]}));
        let mut r = m.request;
        let err = doc
            .govern(&mut r, &m.given, &m.asked_escalation)
            .unwrap_err();
        assert_eq!(
            err.problems,
            vec![
                "notify names slack #everyone which the policy does not allow (its notify and mayNotify)"
            ]
        );
        let plain = PolicyDocument::parse(TOML).expect("valid");
        let m = message(json!({"notify": [{"teams": "release-team"}]}));
        let mut r = m.request;
        assert!(
            plain.govern(&mut r, &m.given, &m.asked_escalation).is_err(),
            "a policy with no channels allows none"
        );
    }

    #[test]
    fn a_policy_with_a_bad_chat_channel_is_refused_with_its_name() {
        let text = TOML.replace(
            "maxLoginAgeSeconds = 900",
            "maxLoginAgeSeconds = 900\nnotify = [{ teams = \"https://x.example/hook\" }]",
        );
        let err = PolicyDocument::parse(&text).unwrap_err();
        assert!(
            err.contains("policy \"production-deploys\": notify[0]"),
            "{err}"
        );
    }

    fn escalating() -> PolicyDocument {
        let text = TOML.replace(
            "maxLoginAgeSeconds = 900",
            "maxLoginAgeSeconds = 900\nremindBeforeSeconds = [3600]\nescalateAfterSeconds = 7200\nescalateTo = [\"group:cto-office\", \"dave@example.com\"]",
        );
        PolicyDocument::parse(&text).expect("valid")
    }

    #[test]
    fn a_policys_reminders_and_escalation_fill_in_what_the_message_left_out() {
        let m = message(json!({}));
        let mut r = m.request;
        escalating()
            .govern(&mut r, &m.given, &m.asked_escalation)
            .expect("within policy");
        assert_eq!(r.remind_before_seconds, vec![3600]);
        let e = r.escalation.expect("escalates");
        assert_eq!(e.after_seconds, 7200);
        assert_eq!(texts(&e.to), ["group:cto-office", "dave@example.com"]);

        // A message keeps its own reminders and timing, and may narrow whom.
        let m = message(
            json!({"remindBeforeSeconds": [600, 60], "escalateAfterSeconds": 300, "escalateTo": ["dave@example.com"]}),
        );
        let mut r = m.request;
        escalating()
            .govern(&mut r, &m.given, &m.asked_escalation)
            .expect("within policy");
        assert_eq!(r.remind_before_seconds, vec![600, 60]);
        let e = r.escalation.expect("escalates");
        assert_eq!(
            (e.after_seconds, texts(&e.to)),
            (300, vec!["dave@example.com".to_string()])
        );
    }

    #[test]
    fn a_message_may_not_escalate_to_anyone_its_policy_does_not_name() {
        let m = message(json!({"escalateAfterSeconds": 60, "escalateTo": ["mallory@example.com"]}));
        let mut r = m.request;
        let err = escalating()
            .govern(&mut r, &m.given, &m.asked_escalation)
            .unwrap_err();
        assert_eq!(
            err.problems,
            [
                "escalateTo names mallory@example.com which the policy does not allow (its escalateTo)"
            ]
        );
        // A policy without escalation allows none, and a time alone names nobody.
        let m = message(json!({"escalateAfterSeconds": 60}));
        let mut r = m.request;
        let err = doc()
            .govern(&mut r, &m.given, &m.asked_escalation)
            .unwrap_err();
        assert_eq!(
            err.problems,
            ["escalateAfterSeconds needs escalateTo, and the policy names none"]
        );
    }

    #[test]
    fn a_policy_with_half_an_escalation_is_refused() {
        let text = TOML.replace(
            "maxLoginAgeSeconds = 900",
            "maxLoginAgeSeconds = 900\nescalateTo = [\"not a principal\"]",
        );
        let err = PolicyDocument::parse(&text).unwrap_err();
        assert!(
            err.contains("escalateTo: approver \"not a principal\""),
            "{err}"
        );
        assert!(
            err.contains("escalateTo needs escalateAfterSeconds"),
            "{err}"
        );
    }
}
