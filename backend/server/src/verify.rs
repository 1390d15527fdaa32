//! Checking a signed decision record against a JWKS: the one verification path for
//! decisions from the local signer and from KMS, used by `hanko verify` and the tests.
//!
//! jsonwebtoken checks the signature, with the algorithm pinned: only ES256 is accepted,
//! whatever the token says; the key is looked up by `kid` in the JWKS the caller trusts.
//! Headers that point elsewhere for a key (`jku`, `jwk`, `x5u`, `x5c`) or ask for
//! extensions (`crit`) are refused: Hanko never writes them.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use hanko_api::DecisionRecord;
use jsonwebtoken::errors::ErrorKind;
use jsonwebtoken::jwk::{AlgorithmParameters, EllipticCurve, JwkSet, KeyAlgorithm};
use jsonwebtoken::{Algorithm, DecodingKey, Validation};
use serde::Deserialize;
use serde_json::Value;

use crate::signer::DECISION_TYP;

/// A decision whose signature checked out.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Verified {
    pub kid: String,
    pub record: DecisionRecord,
}

/// Why a decision is not accepted.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum VerifyError {
    #[error("not a compact JWS: {0}")]
    Malformed(String),
    #[error("refused header: {0}")]
    Header(String),
    #[error("signed by a key that is not in the JWKS (kid {0:?})")]
    UnknownKey(String),
    #[error("the signature does not match: the decision was altered or signed by another key")]
    BadSignature,
    #[error("the signed payload is not a Hanko decision record: {0}")]
    NotADecision(String),
    #[error("the JWKS is not usable: {0}")]
    BadJwks(String),
    /// Hanko's signature holds, but an approver's passkey signature in the record does not.
    #[error("the passkey signature of {approver}'s vote does not hold: {why}")]
    BadPasskey { approver: String, why: String },
}

/// The ES256 key of the JWK with this `kid`, if the JWKS has one.
fn key_for(jwks: &JwkSet, kid: &str) -> Result<Option<DecodingKey>, VerifyError> {
    let Some(jwk) = jwks.find(kid) else {
        return Ok(None);
    };
    let ec = match &jwk.algorithm {
        AlgorithmParameters::EllipticCurve(ec) if ec.curve == EllipticCurve::P256 => ec,
        _ => {
            return Err(VerifyError::BadJwks(format!(
                "key {kid} is not an EC P-256 key"
            )));
        }
    };
    if let Some(alg) = jwk.common.key_algorithm
        && alg != KeyAlgorithm::ES256
    {
        return Err(VerifyError::BadJwks(format!("key {kid} is for {alg}")));
    }
    // jsonwebtoken takes the coordinates as they come; a short one would only show up as
    // a signature that does not match.
    for (name, coord) in [("x", &ec.x), ("y", &ec.y)] {
        if !URL_SAFE_NO_PAD.decode(coord).is_ok_and(|v| v.len() == 32) {
            return Err(VerifyError::BadJwks(format!(
                "key {kid} has no 32-byte {name}"
            )));
        }
    }
    DecodingKey::from_jwk(jwk)
        .map(Some)
        .map_err(|e| VerifyError::BadJwks(format!("key {kid}: {e}")))
}

/// Why the header did not parse as a JWS header.
fn header_error(e: jsonwebtoken::errors::Error) -> VerifyError {
    match e.kind() {
        // JSON, but not a header jsonwebtoken reads: most often an alg it does not know
        // ("none"), or none at all.
        ErrorKind::Json(e) if e.is_data() => {
            VerifyError::Header(format!("alg is not ES256 or a field is malformed: {e}"))
        }
        ErrorKind::Base64(_) => VerifyError::Malformed("the header is not base64url".into()),
        _ => VerifyError::Malformed("the header is not JSON".into()),
    }
}

/// Why a token whose header and key were accepted is refused.
fn token_error(e: jsonwebtoken::errors::Error) -> VerifyError {
    match e.kind() {
        ErrorKind::InvalidSignature => VerifyError::BadSignature,
        ErrorKind::Base64(_) => {
            VerifyError::Malformed("the signature or the payload is not base64url".into())
        }
        ErrorKind::InvalidEcdsaKey | ErrorKind::InvalidKeyFormat => {
            VerifyError::BadJwks(e.to_string())
        }
        ErrorKind::Json(e) => VerifyError::NotADecision(e.to_string()),
        _ => VerifyError::NotADecision(e.to_string()),
    }
}

/// Verifies a compact JWS decision against `jwks` (`{"keys":[...]}`).
pub fn verify_decision(jws: &str, jwks: &Value) -> Result<Verified, VerifyError> {
    let jws = jws.trim();
    let parts = jws.split('.').count();
    if parts != 3 {
        return Err(VerifyError::Malformed(format!(
            "expected three dot-separated parts, found {parts}"
        )));
    }
    let header = jsonwebtoken::decode_header(jws).map_err(header_error)?;
    if header.alg != Algorithm::ES256 {
        return Err(VerifyError::Header(format!(
            "alg is {:?}; Hanko decisions are ES256",
            header.alg
        )));
    }
    let elsewhere = [
        ("jku", header.jku.is_some()),
        ("jwk", header.jwk.is_some()),
        ("x5u", header.x5u.is_some()),
        ("x5c", header.x5c.is_some()),
        ("crit", header.crit.is_some()),
    ];
    if let Some((name, _)) = elsewhere.iter().find(|(_, set)| *set) {
        return Err(VerifyError::Header(format!(
            "{name} is set; keys come only from the trusted JWKS"
        )));
    }
    if let Some(typ) = &header.typ
        && typ != DECISION_TYP
    {
        return Err(VerifyError::Header(format!(
            "typ is {typ:?}, not {DECISION_TYP:?}"
        )));
    }
    let kid = header
        .kid
        .ok_or_else(|| VerifyError::Header("no kid".into()))?;
    let jwks = JwkSet::deserialize(jwks)
        .map_err(|e| VerifyError::BadJwks(format!("not a JWK set: {e}")))?;
    let key = key_for(&jwks, &kid)?.ok_or_else(|| VerifyError::UnknownKey(kid.clone()))?;
    // A decision record is a signed statement of what was decided, not a session: it has
    // no exp, nbf or aud to require or check.
    let mut validation = Validation::new(Algorithm::ES256);
    validation.required_spec_claims.clear();
    validation.validate_exp = false;
    validation.validate_nbf = false;
    validation.validate_aud = false;
    let record = jsonwebtoken::decode::<DecisionRecord>(jws, &key, &validation)
        .map_err(token_error)?
        .claims;
    // The policy travels whole in the record, so its hash is checked against its content.
    match (&record.policy, &record.policy_sha256) {
        (None, None) => {}
        (Some(p), Some(hash)) if crate::domain::policy::policy_sha256(p) == *hash => {}
        _ => {
            return Err(VerifyError::NotADecision(
                "the approval policy in the record does not match its policySha256".into(),
            ));
        }
    }
    check_passkeys(&record)?;
    Ok(Verified { kid, record })
}

/// Each vote's passkey signature, where there is one, over the same decision
/// ([`crate::passkeys::verify_recorded`]).
fn check_passkeys(record: &DecisionRecord) -> Result<(), VerifyError> {
    let votes = record
        .approvals
        .iter()
        .map(|v| (hanko_api::VoteChoice::Approve, v))
        .chain(
            record
                .rejections
                .iter()
                .map(|v| (hanko_api::VoteChoice::Reject, v)),
        );
    for (choice, vote) in votes {
        crate::passkeys::verify_recorded(
            &record.request_id,
            &record.execution_arn,
            &record.request_digest,
            choice,
            vote,
        )
        .map_err(|why| VerifyError::BadPasskey {
            approver: vote.approver.clone(),
            why,
        })?;
    }
    Ok(())
}

/// `hanko verify`: checks a signed decision against Hanko's JWKS.
#[derive(Debug, Clone, clap::Args)]
pub struct VerifyArgs {
    /// The decision JWS (the `signature` of the task output). `-` or nothing: read standard input.
    #[arg(conflicts_with = "file")]
    pub jws: Option<String>,

    /// Read the decision JWS from this file.
    #[arg(long)]
    pub file: Option<std::path::PathBuf>,

    /// Hanko's public keys: a URL (`https://<console>/.well-known/jwks.json`; `http://` only
    /// on a loopback address) or a JWKS file.
    #[arg(long, value_parser = jwks_source)]
    pub jwks: String,

    /// Print the result as JSON.
    #[arg(long)]
    pub json: bool,
}

/// Exit codes of `hanko verify`.
pub const EXIT_VALID: u8 = 0;
pub const EXIT_INVALID: u8 = 1;
pub const EXIT_USAGE: u8 = 2;

async fn read_jws(args: &VerifyArgs) -> anyhow::Result<String> {
    use anyhow::Context;
    let text = match (&args.jws, &args.file) {
        (Some(jws), _) if jws != "-" => jws.clone(),
        (_, Some(path)) => tokio::fs::read_to_string(path)
            .await
            .with_context(|| format!("reading {}", path.display()))?,
        _ => {
            use tokio::io::AsyncReadExt;
            let mut s = String::new();
            tokio::io::stdin()
                .read_to_string(&mut s)
                .await
                .context("reading standard input")?;
            s
        }
    };
    let text = text.trim().to_string();
    if text.is_empty() {
        anyhow::bail!(
            "no decision JWS given (pass it as an argument, with --file, or on standard input)"
        );
    }
    Ok(text)
}

/// A JWKS larger than this is refused (Hanko's, with a few retired keys, is a few kB).
const MAX_JWKS_BYTES: usize = 1024 * 1024;

/// `--jwks`: a URL, `https://` (or `http://` to this machine), else a file path.
fn jwks_source(raw: &str) -> Result<String, String> {
    if raw.contains("://") {
        crate::auth::oidc::provider_url("--jwks", raw).map(|u| u.to_string())
    } else {
        Ok(raw.to_string())
    }
}

async fn read_jwks(source: &str) -> anyhow::Result<Value> {
    use anyhow::Context;
    let body = if source.starts_with("https://") || source.starts_with("http://") {
        // Checked again here for callers that build VerifyArgs themselves.
        crate::auth::oidc::provider_url("--jwks", source).map_err(anyhow::Error::msg)?;
        // reqwest is built without a bundled crypto provider (see auth::oidc).
        let _ = rustls::crypto::aws_lc_rs::default_provider().install_default();
        // No redirects: the keys come from the URL given, not from wherever it points.
        let client = reqwest::Client::builder()
            .timeout(std::time::Duration::from_secs(15))
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .context("HTTP client")?;
        let resp = client
            .get(source)
            .send()
            .await
            .with_context(|| format!("fetching the JWKS from {source}"))?;
        if !resp.status().is_success() {
            anyhow::bail!("fetching the JWKS from {source}: HTTP {}", resp.status());
        }
        let bytes = crate::auth::oidc::read_capped(resp, MAX_JWKS_BYTES)
            .await
            .map_err(|e| anyhow::anyhow!("reading the JWKS from {source}: {e}"))?;
        String::from_utf8(bytes).with_context(|| format!("the JWKS at {source} is not UTF-8"))?
    } else {
        tokio::fs::read_to_string(source)
            .await
            .with_context(|| format!("reading the JWKS file {source}"))?
    };
    let jwks: Value =
        serde_json::from_str(&body).with_context(|| format!("the JWKS at {source} is not JSON"))?;
    if !jwks.get("keys").is_some_and(Value::is_array) {
        anyhow::bail!("the JWKS at {source} has no \"keys\" array");
    }
    Ok(jwks)
}

fn votes_json(votes: &[hanko_api::RecordedVote]) -> Value {
    Value::Array(
        votes
            .iter()
            .map(|v| {
                let mut j = serde_json::json!({
                    "email": v.approver,
                    "comment": v.comment,
                    "decidedAt": v.decided_at,
                    "passkey": v.passkey.as_ref().map(|p| serde_json::json!({
                        "credentialId": p.credential_id,
                        "rpId": p.rp_id,
                        "userVerified": p.user_verified,
                    })),
                });
                if let Some(seat) = &v.on_behalf_of {
                    j["onBehalfOf"] = seat.clone().into();
                }
                j
            })
            .collect(),
    )
}

fn outcome_word(o: hanko_api::Outcome) -> String {
    serde_json::to_value(o)
        .ok()
        .and_then(|v| v.as_str().map(str::to_string))
        .unwrap_or_else(|| format!("{o:?}"))
}

fn print_votes(label: &str, votes: &[hanko_api::RecordedVote]) {
    if votes.is_empty() {
        println!("{label:<12}-");
    }
    for (i, v) in votes.iter().enumerate() {
        let label = if i == 0 { label } else { "" };
        let when = v
            .decided_at
            .to_rfc3339_opts(chrono::SecondsFormat::Secs, true);
        // A delegate's vote names both: "carol@example.com for alice@example.com".
        let who = match &v.on_behalf_of {
            Some(seat) => format!("{} for {seat}", v.approver),
            None => v.approver.clone(),
        };
        match &v.comment {
            Some(c) => println!("{label:<12}{who} at {when}: {c:?}"),
            None => println!("{label:<12}{who} at {when}"),
        }
        if let Some(p) = &v.passkey {
            println!(
                "{:<12}signed by {}'s passkey {} on {} (user verified: {})",
                "", v.approver, p.credential_id, p.rp_id, p.user_verified
            );
        }
    }
}

/// Runs `hanko verify`; returns the exit code (0 valid, 1 invalid or forged, 2 usage or I/O).
pub async fn cli(args: VerifyArgs) -> u8 {
    let inputs =
        async { Ok::<_, anyhow::Error>((read_jws(&args).await?, read_jwks(&args.jwks).await?)) };
    let (jws, jwks) = match inputs.await {
        Ok(v) => v,
        Err(e) => {
            eprintln!("hanko verify: {e:#}");
            return EXIT_USAGE;
        }
    };
    match verify_decision(&jws, &jwks) {
        Ok(Verified { kid, record }) => {
            if args.json {
                let out = serde_json::json!({
                    "valid": true,
                    "kid": kid,
                    "requestId": record.request_id,
                    "decision": record.decision,
                    "title": record.title,
                    "approvers": votes_json(&record.approvals),
                    "rejecters": votes_json(&record.rejections),
                    "decidedAt": record.decided_at,
                    "executionArn": record.execution_arn,
                    "stateMachineArn": record.state_machine_arn,
                    "requestDigest": record.request_digest,
                    "policy": record.policy,
                    "policySha256": record.policy_sha256,
                });
                println!("{out}");
            } else {
                let when = record
                    .decided_at
                    .to_rfc3339_opts(chrono::SecondsFormat::Secs, true);
                println!("VALID: signed by Hanko key {kid}");
                println!("{:<12}{}", "request", record.request_id);
                println!("{:<12}{}", "title", record.title);
                println!("{:<12}{}", "decision", outcome_word(record.decision));
                println!("{:<12}{when}", "decided at");
                println!("{:<12}{}", "execution", record.execution_arn);
                println!("{:<12}{}", "machine", record.state_machine_arn);
                match (&record.policy, &record.policy_sha256) {
                    (Some(p), Some(hash)) => {
                        println!("{:<12}{} (sha256 {hash})", "policy", p.name);
                        println!(
                            "{:<12}{} of {}; self-approval {}; at most {} s",
                            "",
                            p.min_approvals,
                            p.approvers.join(", "),
                            if p.allow_self_approval {
                                "allowed"
                            } else {
                                "refused"
                            },
                            p.max_timeout_seconds
                        );
                    }
                    _ => println!("{:<12}none: the workflow chose its approvers", "policy"),
                }
                print_votes("approved by", &record.approvals);
                print_votes("rejected by", &record.rejections);
            }
            EXIT_VALID
        }
        Err(e) => {
            if args.json {
                println!(
                    "{}",
                    serde_json::json!({"valid": false, "error": e.to_string()})
                );
            } else {
                println!("INVALID: {e}");
            }
            EXIT_INVALID
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::keys::EcKey;
    use crate::signer::{LocalSigner, Signer};
    use chrono::Utc;
    use hanko_api::{Outcome, RecordedVote};
    use serde_json::json;

    pub(crate) fn record() -> DecisionRecord {
        let now = Utc::now();
        DecisionRecord {
            iss: "hanko".into(),
            request_id: "0193-req".into(),
            execution_arn: "arn:aws:states:ap-northeast-1:1:execution:deploy:run-1".into(),
            state_machine_arn: "arn:aws:states:ap-northeast-1:1:stateMachine:deploy".into(),
            title: "Deploy".into(),
            decision: Outcome::Approved,
            approvals: vec![RecordedVote {
                approver: "alice@example.com".into(),
                comment: Some("ok".into()),
                decided_at: now,
                passkey: None,
                on_behalf_of: None,
            }],
            rejections: vec![],
            request_digest: "00".repeat(32),
            decided_at: now,
            iat: now.timestamp(),
            policy: None,
            policy_sha256: None,
        }
    }

    fn enc(v: &Value) -> String {
        URL_SAFE_NO_PAD.encode(v.to_string())
    }

    #[tokio::test]
    async fn a_locally_signed_decision_verifies_and_reads_back() {
        let signer = LocalSigner::new(EcKey::generate().unwrap(), vec![]);
        let jws = signer.sign(&record()).await.unwrap();
        let v = verify_decision(&jws, &signer.jwks()).unwrap();
        assert_eq!(v.kid, signer.kid());
        assert_eq!(v.record.request_id, "0193-req");
    }

    #[tokio::test]
    async fn a_record_whose_policy_does_not_match_its_hash_is_refused() {
        let signer = LocalSigner::new(EcKey::generate().unwrap(), vec![]);
        let policy = hanko_api::ApprovalPolicy {
            name: "deploys".into(),
            state_machines: vec!["arn:aws:states:*:1:stateMachine:deploy".into()],
            approvers: vec!["group:release-managers".into()],
            min_approvals: 2,
            allow_self_approval: false,
            max_timeout_seconds: 3600,
            max_login_age_seconds: None,
            require_passkey: false,
            notify: Vec::new(),
            may_notify: Vec::new(),
            remind_before_seconds: None,
            escalate_after_seconds: None,
            escalate_to: Vec::new(),
        };
        let mut honest = record();
        honest.policy_sha256 = Some(crate::domain::policy::policy_sha256(&policy));
        honest.policy = Some(policy.clone());
        let jws = signer.sign(&honest).await.unwrap();
        let v = verify_decision(&jws, &signer.jwks()).unwrap();
        assert_eq!(v.record.policy, Some(policy.clone()));

        // Signed all the same (a bug, or a key in the wrong hands): the rules do not
        // match the hash of the policy they claim to be.
        let mut lying = honest.clone();
        lying.policy = Some(hanko_api::ApprovalPolicy {
            min_approvals: 1,
            ..policy
        });
        let jws = signer.sign(&lying).await.unwrap();
        let err = verify_decision(&jws, &signer.jwks()).unwrap_err();
        assert!(err.to_string().contains("policySha256"), "{err}");
    }

    #[tokio::test]
    async fn a_rotated_key_still_verifies_what_it_signed_and_both_kids_are_served() {
        let dir = tempfile::tempdir().unwrap();
        let old_path = dir.path().join("old.pem");
        let old = EcKey::load_or_create(&old_path).unwrap();
        let old_kid = old.kid().to_string();
        let before = LocalSigner::new(old, vec![]);
        let signed_before = before.sign(&record()).await.unwrap();

        let retired = EcKey::load_or_create(&old_path)
            .unwrap()
            .public_key()
            .clone();
        let after = LocalSigner::new(EcKey::generate().unwrap(), vec![retired]);
        let jwks = after.jwks();
        let kids: Vec<&str> = jwks["keys"]
            .as_array()
            .unwrap()
            .iter()
            .map(|k| k["kid"].as_str().unwrap())
            .collect();
        assert_eq!(kids, vec![after.kid(), old_kid.as_str()]);
        assert_eq!(verify_decision(&signed_before, &jwks).unwrap().kid, old_kid);
        let signed_after = after.sign(&record()).await.unwrap();
        assert_eq!(
            verify_decision(&signed_after, &jwks).unwrap().kid,
            after.kid()
        );
        // Without the retired key the old decision is refused.
        let dropped = LocalSigner::new(EcKey::generate().unwrap(), vec![]).jwks();
        assert_eq!(
            verify_decision(&signed_before, &dropped),
            Err(VerifyError::UnknownKey(old_kid))
        );
    }

    #[tokio::test]
    async fn forged_and_altered_decisions_are_refused() {
        let signer = LocalSigner::new(EcKey::generate().unwrap(), vec![]);
        let jwks = signer.jwks();
        let jws = signer.sign(&record()).await.unwrap();
        let parts: Vec<&str> = jws.split('.').collect();

        let mut altered = record();
        altered.decision = Outcome::Rejected;
        let tampered = format!(
            "{}.{}.{}",
            parts[0],
            URL_SAFE_NO_PAD.encode(serde_json::to_vec(&altered).unwrap()),
            parts[2]
        );
        assert_eq!(
            verify_decision(&tampered, &jwks),
            Err(VerifyError::BadSignature)
        );

        let none = format!(
            "{}.{}.",
            enc(&json!({"alg":"none","typ":DECISION_TYP,"kid":signer.kid()})),
            parts[1]
        );
        assert!(matches!(
            verify_decision(&none, &jwks),
            Err(VerifyError::Header(_))
        ));

        let hs = format!(
            "{}.{}.{}",
            enc(&json!({"alg":"HS256","kid":signer.kid()})),
            parts[1],
            parts[2]
        );
        assert!(matches!(
            verify_decision(&hs, &jwks),
            Err(VerifyError::Header(_))
        ));

        let stranger = LocalSigner::new(EcKey::generate().unwrap(), vec![]);
        let foreign = stranger.sign(&record()).await.unwrap();
        assert!(matches!(
            verify_decision(&foreign, &jwks),
            Err(VerifyError::UnknownKey(_))
        ));

        // The stranger's key named in a `jwk` header is not trusted.
        let embedded = format!(
            "{}.{}.{}",
            enc(&json!({"alg":"ES256","kid":signer.kid(),"jwk":stranger.jwks()["keys"][0]})),
            parts[1],
            parts[2]
        );
        assert!(matches!(
            verify_decision(&embedded, &jwks),
            Err(VerifyError::Header(_))
        ));

        // A stranger's signature relabelled with the trusted kid.
        let fparts: Vec<&str> = foreign.split('.').collect();
        let relabelled = format!("{}.{}.{}", parts[0], fparts[1], fparts[2]);
        assert_eq!(
            verify_decision(&relabelled, &jwks),
            Err(VerifyError::BadSignature)
        );

        assert!(matches!(
            verify_decision("a.b", &jwks),
            Err(VerifyError::Malformed(_))
        ));
    }
}
