//! Votes signed with the approver's passkey, against a software authenticator (1Password's
//! passkey-rs) playing the browser and the device: registration, the challenge that is the
//! vote, every way an assertion can be for something else, and `hanko verify` on the
//! record.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use async_trait::async_trait;
use axum::http::StatusCode;
use hanko::signer::Signer;
use hanko::store::PasskeyNonce;
use hanko::verify::{VerifyError, verify_decision};
use hanko_api::SignedDecision;
use passkey_authenticator::{Authenticator, MemoryStore, UiHint, UserCheck, UserValidationMethod};
use passkey_client::{Client, DefaultClientData};
use passkey_crypto::aws_lc_rs::AwsLcRsBackend;
use passkey_types::Passkey;
use passkey_types::ctap2::{Aaguid, Ctap2Error};
use passkey_types::webauthn::{CredentialCreationOptions, CredentialRequestOptions};
use serde_json::{Value, json};
use url::Url;

use crate::common::{TestApp, assert_error, test_app, test_app_governed};

/// The console's origin in these tests (`Passkeys::localhost`).
pub(crate) const ORIGIN: &str = "http://localhost:8080";

/// Requests of `deploy` need one release manager's approval, signed with their passkey.
const POLICY: &str = r#"
default = "deny"

[[policies]]
name = "signed-deploys"
stateMachines = ["arn:aws:states:*:123456789012:stateMachine:deploy"]
approvers = ["group:release-managers"]
minApprovals = 1
maxTimeoutSeconds = 86400
requirePasskey = true
"#;

/// The person at the device: always present; verified (PIN, fingerprint) while `verifies`.
struct Person {
    verifies: Arc<AtomicBool>,
}

#[async_trait]
impl UserValidationMethod for Person {
    type PasskeyItem = Passkey;

    async fn check_user<'a>(
        &self,
        _hint: UiHint<'a, Passkey>,
        _presence: bool,
        _verification: bool,
    ) -> Result<UserCheck, Ctap2Error> {
        Ok(UserCheck {
            presence: true,
            verification: self.verifies.load(Ordering::SeqCst),
        })
    }

    fn is_presence_enabled(&self) -> bool {
        true
    }

    fn is_verification_enabled(&self) -> Option<bool> {
        Some(true)
    }
}

type SoftClient = Client<MemoryStore, Person, AwsLcRsBackend, public_suffix::PublicSuffixList, ()>;

/// A browser with a platform authenticator of its own.
pub(crate) struct Device {
    client: SoftClient,
    verifies: Arc<AtomicBool>,
}

impl Device {
    pub(crate) fn new() -> Self {
        let verifies = Arc::new(AtomicBool::new(true));
        let authenticator = Authenticator::new(
            Aaguid::new_empty(),
            MemoryStore::new(),
            Person {
                verifies: verifies.clone(),
            },
            AwsLcRsBackend,
        );
        Self {
            client: Client::new(authenticator).allows_insecure_localhost(true),
            verifies,
        }
    }

    /// `navigator.credentials.create({publicKey})` on `origin`.
    pub(crate) async fn create(&mut self, origin: &str, public_key: &Value) -> Value {
        let options: CredentialCreationOptions =
            serde_json::from_value(json!({ "publicKey": public_key })).expect("creation options");
        let cred = self
            .client
            .register(&Url::parse(origin).unwrap(), options, DefaultClientData)
            .await
            .expect("the authenticator made a credential");
        serde_json::to_value(cred).unwrap()
    }

    /// `navigator.credentials.get({publicKey})` on `origin`.
    async fn get(&mut self, origin: &str, public_key: &Value) -> Value {
        let options: CredentialRequestOptions =
            serde_json::from_value(json!({ "publicKey": public_key })).expect("request options");
        let cred = self
            .client
            .authenticate(&Url::parse(origin).unwrap(), options, DefaultClientData)
            .await
            .expect("the authenticator signed");
        serde_json::to_value(cred).unwrap()
    }
}

/// Registers a passkey of `device` for the holder of `token`; answers its id.
async fn register(t: &TestApp, token: &str, device: &mut Device) -> String {
    let start = t
        .call("POST", "/api/passkeys/registration", Some(token), None)
        .await;
    assert_eq!(start.status, StatusCode::OK, "{}", start.text);
    let credential = device.create(ORIGIN, &start.body["publicKey"]).await;
    let done = t
        .call(
            "POST",
            "/api/passkeys",
            Some(token),
            Some(json!({
                "registrationId": start.body["registrationId"],
                "name": "work laptop",
                "credential": credential,
            })),
        )
        .await;
    assert_eq!(done.status, StatusCode::CREATED, "{}", done.text);
    done.body["id"].as_str().unwrap().to_string()
}

/// The challenge for a vote, signed by `device` on `origin`: the vote's `passkey` field.
async fn sign(
    t: &TestApp,
    token: &str,
    id: &str,
    vote: &Value,
    device: &mut Device,
    origin: &str,
) -> Value {
    let c = t
        .call(
            "POST",
            &format!("/api/approvals/{id}/passkey-challenge"),
            Some(token),
            Some(vote.clone()),
        )
        .await;
    assert_eq!(c.status, StatusCode::OK, "{}", c.text);
    let credential = device.get(origin, &c.body["publicKey"]).await;
    json!({"nonce": c.body["nonce"], "credential": credential})
}

fn with_passkey(vote: &Value, passkey: &Value) -> Value {
    let mut v = vote.clone();
    v["passkey"] = passkey.clone();
    v
}

async fn signed_decision(t: &TestApp, token: &str, id: &str) -> SignedDecision {
    let r = t
        .call(
            "GET",
            &format!("/api/approvals/{id}/decision"),
            Some(token),
            None,
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    serde_json::from_value(r.body).unwrap()
}

/// Nothing was recorded on `id`: no vote, still pending.
async fn nothing_recorded(t: &TestApp, token: &str, id: &str) {
    let r = t.read(id, token).await;
    assert_eq!(r.body["status"], "pending", "{}", r.text);
    assert_eq!(r.body["votes"], json!([]), "{}", r.text);
}

#[tokio::test]
async fn a_vote_signed_with_a_registered_passkey_decides_and_hanko_verify_checks_both_signatures() {
    let t = test_app_governed(POLICY);
    let id = t.seed("tok-pk-1", json!({"approvers": null})).await;
    let alice = t.login("alice@example.com").await;
    let mut laptop = Device::new();

    let read = t.read(&id, &alice).await;
    assert_eq!(read.body["passkeyRequired"], true, "{}", read.text);
    let approve = json!({"decision": "approve", "comment": "ship it"});
    assert_error(
        &t.decide(&id, &alice, approve.clone()).await,
        StatusCode::FORBIDDEN,
        "passkey_required",
    );
    // Without a passkey there is nothing to sign with yet.
    let none = t
        .call(
            "POST",
            &format!("/api/approvals/{id}/passkey-challenge"),
            Some(&alice),
            Some(approve.clone()),
        )
        .await;
    assert_error(&none, StatusCode::FORBIDDEN, "passkey_required");

    let passkey_id = register(&t, &alice, &mut laptop).await;
    let listed = t.call("GET", "/api/passkeys", Some(&alice), None).await;
    assert_eq!(listed.body["rpId"], "localhost");
    assert_eq!(listed.body["items"][0]["id"], passkey_id.as_str());
    assert_eq!(listed.body["items"][0]["name"], "work laptop");

    let passkey = sign(&t, &alice, &id, &approve, &mut laptop, ORIGIN).await;
    let voted = t
        .decide(&id, &alice, with_passkey(&approve, &passkey))
        .await;
    assert_eq!(voted.status, StatusCode::OK, "{}", voted.text);
    assert_eq!(voted.body["status"], "approved");
    assert_eq!(t.callbacks().len(), 1, "the workflow was told");

    let signed = signed_decision(&t, &alice, &id).await;
    let vote = &signed.record.approvals[0];
    let p = vote
        .passkey
        .as_ref()
        .expect("the vote carries its passkey signature");
    assert_eq!(p.credential_id, passkey_id);
    assert_eq!(p.rp_id, "localhost");
    assert!(p.user_verified);
    let checked = verify_decision(&signed.signature, &t.signer.jwks()).expect("valid");
    assert_eq!(checked.record, signed.record);
    // The signed passkey is marked as used.
    let listed = t.call("GET", "/api/passkeys", Some(&alice), None).await;
    assert!(
        listed.body["items"][0]["lastUsedAt"].is_string(),
        "{}",
        listed.text
    );

    // The audit export says which passkey signed, and that the person was verified.
    let dave = t.login("dave@example.com").await;
    let audit = t
        .call("GET", "/api/audit?format=json", Some(&dave), None)
        .await;
    assert_eq!(audit.status, StatusCode::OK, "{}", audit.text);
    let v = &audit.body["items"][0]["votes"][0];
    assert_eq!(v["passkeyCredentialId"], passkey_id.as_str());
    assert_eq!(v["userVerified"], true);
}

#[tokio::test]
async fn an_assertion_for_anything_but_this_vote_is_refused_and_nothing_is_recorded() {
    let t = test_app_governed(POLICY);
    let id = t.seed("tok-pk-2", json!({"approvers": null})).await;
    let other = t.seed("tok-pk-3", json!({"approvers": null})).await;
    let alice = t.login("alice@example.com").await;
    let mut laptop = Device::new();
    register(&t, &alice, &mut laptop).await;
    let approve = json!({"decision": "approve", "comment": "ship it"});
    let refused = |r: &crate::common::Resp, why: &str| {
        assert_error(r, StatusCode::FORBIDDEN, "passkey_refused");
        let message = r.body["error"]["message"].as_str().unwrap_or_default();
        assert!(message.contains(why), "expected {why:?} in {message:?}");
    };

    // Signed for another request: its nonce is that request's.
    let p = sign(&t, &alice, &other, &approve, &mut laptop, ORIGIN).await;
    let r = t.decide(&id, &alice, with_passkey(&approve, &p)).await;
    refused(&r, "for another request");
    // Signed for another choice.
    let reject = json!({"decision": "reject", "comment": "not today"});
    let p = sign(&t, &alice, &id, &reject, &mut laptop, ORIGIN).await;
    let r = t.decide(&id, &alice, with_passkey(&approve, &p)).await;
    refused(&r, "MismatchedChallenge");
    // Signed for another comment.
    let p = sign(&t, &alice, &id, &approve, &mut laptop, ORIGIN).await;
    let edited = json!({"decision": "approve", "comment": "ship it now"});
    let r = t.decide(&id, &alice, with_passkey(&edited, &p)).await;
    refused(&r, "MismatchedChallenge");
    // Signed on another origin (another port of the same host).
    let elsewhere = "http://localhost:9999";
    let p = sign(&t, &alice, &id, &approve, &mut laptop, elsewhere).await;
    let r = t.decide(&id, &alice, with_passkey(&approve, &p)).await;
    refused(&r, "InvalidRPOrigin");
    // The nonce of a good assertion, expired.
    let p = sign(&t, &alice, &id, &approve, &mut laptop, ORIGIN).await;
    let nonce = p["nonce"].as_str().unwrap();
    let now = chrono::Utc::now();
    let taken = t
        .hanko
        .store
        .take_nonce(nonce, "alice@example.com", now)
        .await
        .unwrap()
        .expect("the nonce was kept");
    t.hanko
        .store
        .put_nonce(&PasskeyNonce {
            expires_at: now - chrono::Duration::seconds(1),
            ..taken
        })
        .await
        .unwrap();
    let r = t.decide(&id, &alice, with_passkey(&approve, &p)).await;
    refused(&r, "expired");
    nothing_recorded(&t, &alice, &id).await;

    // A nonce is used once: refused with a wrong comment, the same assertion is refused
    // again with the comment it signed.
    let p = sign(&t, &alice, &id, &approve, &mut laptop, ORIGIN).await;
    let r = t.decide(&id, &alice, with_passkey(&edited, &p)).await;
    refused(&r, "MismatchedChallenge");
    let r = t.decide(&id, &alice, with_passkey(&approve, &p)).await;
    refused(&r, "used");
    nothing_recorded(&t, &alice, &id).await;

    // A good assertion counts once.
    let p = sign(&t, &alice, &other, &approve, &mut laptop, ORIGIN).await;
    let first = t.decide(&other, &alice, with_passkey(&approve, &p)).await;
    assert_eq!(first.status, StatusCode::OK, "{}", first.text);
    let third = t.seed("tok-pk-4", json!({"approvers": null})).await;
    let r = t.decide(&third, &alice, with_passkey(&approve, &p)).await;
    refused(&r, "used");
    nothing_recorded(&t, &alice, &third).await;
}

#[tokio::test]
async fn a_removed_passkey_no_longer_signs() {
    let t = test_app_governed(POLICY);
    let id = t.seed("tok-pk-5", json!({"approvers": null})).await;
    let alice = t.login("alice@example.com").await;
    let mut laptop = Device::new();
    let passkey_id = register(&t, &alice, &mut laptop).await;
    let mut phone = Device::new();
    register(&t, &alice, &mut phone).await;
    let approve = json!({"decision": "approve"});
    let p = sign(&t, &alice, &id, &approve, &mut laptop, ORIGIN).await;

    let removed = t
        .call(
            "DELETE",
            &format!("/api/passkeys/{passkey_id}"),
            Some(&alice),
            None,
        )
        .await;
    assert_eq!(removed.status, StatusCode::NO_CONTENT, "{}", removed.text);
    let again = t
        .call(
            "DELETE",
            &format!("/api/passkeys/{passkey_id}"),
            Some(&alice),
            None,
        )
        .await;
    assert_error(&again, StatusCode::NOT_FOUND, "no_such_passkey");
    assert_error(
        &t.decide(&id, &alice, with_passkey(&approve, &p)).await,
        StatusCode::FORBIDDEN,
        "passkey_refused",
    );
    nothing_recorded(&t, &alice, &id).await;
    // Another person cannot remove or use Alice's passkeys either.
    let bob = t.login("bob@example.com").await;
    let listed = t.call("GET", "/api/passkeys", Some(&bob), None).await;
    assert_eq!(listed.body["items"], json!([]));
}

#[tokio::test]
async fn a_device_that_does_not_verify_the_person_gets_the_vote_refused() {
    let t = test_app_governed(POLICY);
    let id = t.seed("tok-pk-6", json!({"approvers": null})).await;
    let alice = t.login("alice@example.com").await;
    let mut laptop = Device::new();
    register(&t, &alice, &mut laptop).await;
    // The device cannot verify the person now, and the page (or a script in it) asks it
    // not to try: the assertion it makes says the person was not verified.
    laptop.verifies.store(false, Ordering::SeqCst);
    let approve = json!({"decision": "approve"});
    let c = t
        .call(
            "POST",
            &format!("/api/approvals/{id}/passkey-challenge"),
            Some(&alice),
            Some(approve.clone()),
        )
        .await;
    assert_eq!(c.body["publicKey"]["userVerification"], "required");
    let mut options = c.body["publicKey"].clone();
    options["userVerification"] = "discouraged".into();
    let credential = laptop.get(ORIGIN, &options).await;
    let p = json!({"nonce": c.body["nonce"], "credential": credential});
    let r = t.decide(&id, &alice, with_passkey(&approve, &p)).await;
    assert_error(&r, StatusCode::FORBIDDEN, "passkey_refused");
    assert!(r.text.contains("UserNotVerified"), "{}", r.text);
    nothing_recorded(&t, &alice, &id).await;
}

#[tokio::test]
async fn registering_a_passkey_needs_a_fresh_login() {
    use hanko::auth::{KeySet, TokenUse, TrustedIssuer};
    let key = hanko::keys::EcKey::generate().unwrap();
    let issuer = "https://idp.example/pool";
    let t = crate::common::test_app_trusting(
        true,
        vec![TrustedIssuer {
            issuer: issuer.into(),
            audiences: vec!["console".into()],
            keys: KeySet::Fixed {
                algorithm: jsonwebtoken::Algorithm::ES256,
                keys: [(key.kid().to_string(), key.decoding_key().clone())].into(),
            },
            groups_claim: "groups".into(),
            token_use: Some(TokenUse::Id),
            require_verified_email: true,
        }],
    );
    let now = chrono::Utc::now().timestamp();
    let mut claims = json!({"iss": issuer, "aud": "console", "sub": "alice",
        "email": "alice@example.com", "email_verified": true, "iat": now, "exp": now + 600});
    let registration = "/api/passkeys/registration";
    // A token that does not say when the person logged in, and one from an hour ago.
    let unknown = key.sign(&claims, "JWT").unwrap();
    let r = t.call("POST", registration, Some(&unknown), None).await;
    assert_error(&r, StatusCode::UNAUTHORIZED, "login_too_old");
    claims["auth_time"] = json!(now - 3600);
    let old = key.sign(&claims, "JWT").unwrap();
    let r = t.call("POST", registration, Some(&old), None).await;
    assert_error(&r, StatusCode::UNAUTHORIZED, "login_too_old");
    // The same login may still list the person's passkeys.
    let listed = t.call("GET", "/api/passkeys", Some(&old), None).await;
    assert_eq!(listed.status, StatusCode::OK, "{}", listed.text);
    claims["auth_time"] = json!(now - 60);
    let fresh = key.sign(&claims, "JWT").unwrap();
    let r = t.call("POST", registration, Some(&fresh), None).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
}

#[tokio::test]
async fn a_registration_is_used_once_and_needs_a_name_and_a_credential() {
    let t = test_app();
    let alice = t.login("alice@example.com").await;
    let mut laptop = Device::new();
    let start = t
        .call("POST", "/api/passkeys/registration", Some(&alice), None)
        .await;
    let credential = laptop.create(ORIGIN, &start.body["publicKey"]).await;
    let body = |name: &str, credential: &Value| json!({"registrationId": start.body["registrationId"], "name": name, "credential": credential});
    let unnamed = t
        .call(
            "POST",
            "/api/passkeys",
            Some(&alice),
            Some(body("  ", &credential)),
        )
        .await;
    assert_error(
        &unnamed,
        StatusCode::UNPROCESSABLE_ENTITY,
        "invalid_passkey",
    );
    let ok = t
        .call(
            "POST",
            "/api/passkeys",
            Some(&alice),
            Some(body("key", &credential)),
        )
        .await;
    assert_eq!(ok.status, StatusCode::CREATED, "{}", ok.text);
    let twice = t
        .call(
            "POST",
            "/api/passkeys",
            Some(&alice),
            Some(body("key", &credential)),
        )
        .await;
    assert_error(&twice, StatusCode::FORBIDDEN, "passkey_refused");
    // What is not a credential is refused, and uses its registration up.
    let again = t
        .call("POST", "/api/passkeys/registration", Some(&alice), None)
        .await;
    let attempt = |credential: Value| json!({"registrationId": again.body["registrationId"], "name": "key", "credential": credential});
    let garbage = t
        .call(
            "POST",
            "/api/passkeys",
            Some(&alice),
            Some(attempt(json!({"id": 1}))),
        )
        .await;
    assert_error(&garbage, StatusCode::FORBIDDEN, "passkey_refused");
    let credential = laptop.create(ORIGIN, &again.body["publicKey"]).await;
    let retried = t
        .call(
            "POST",
            "/api/passkeys",
            Some(&alice),
            Some(attempt(credential)),
        )
        .await;
    assert_error(&retried, StatusCode::FORBIDDEN, "passkey_refused");
    // Bob cannot finish Alice's registration.
    let start = t
        .call("POST", "/api/passkeys/registration", Some(&alice), None)
        .await;
    let credential = Device::new().create(ORIGIN, &start.body["publicKey"]).await;
    let bob = t.login("bob@example.com").await;
    let stolen = t
        .call(
            "POST",
            "/api/passkeys",
            Some(&bob),
            Some(json!({"registrationId": start.body["registrationId"], "name": "mine", "credential": credential})),
        )
        .await;
    assert_error(&stolen, StatusCode::FORBIDDEN, "passkey_refused");
}

#[tokio::test]
async fn without_a_policy_that_asks_a_vote_may_still_be_signed_and_unsigned_votes_count() {
    let t = test_app();
    let id = t.seed("tok-pk-7", json!({"requiredApprovals": 2})).await;
    let alice = t.login("alice@example.com").await;
    let carol = t.login("carol@example.com").await;
    let mut laptop = Device::new();
    register(&t, &alice, &mut laptop).await;
    let approve = json!({"decision": "approve"});
    let p = sign(&t, &alice, &id, &approve, &mut laptop, ORIGIN).await;
    let first = t.decide(&id, &alice, with_passkey(&approve, &p)).await;
    assert_eq!(first.status, StatusCode::OK, "{}", first.text);
    let second = t.decide(&id, &carol, approve.clone()).await;
    assert_eq!(second.body["status"], "approved", "{}", second.text);
    let signed = signed_decision(&t, &alice, &id).await;
    let by = |who: &str| {
        signed
            .record
            .approvals
            .iter()
            .find(|v| v.approver == who)
            .unwrap()
            .passkey
            .is_some()
    };
    assert!(by("alice@example.com"));
    assert!(!by("carol@example.com"));
    verify_decision(&signed.signature, &t.signer.jwks()).expect("valid");
}

#[tokio::test]
async fn hanko_verify_refuses_a_record_whose_passkey_signature_or_challenge_was_altered() {
    let t = test_app_governed(POLICY);
    let id = t.seed("tok-pk-8", json!({"approvers": null})).await;
    let alice = t.login("alice@example.com").await;
    let mut laptop = Device::new();
    register(&t, &alice, &mut laptop).await;
    let approve = json!({"decision": "approve", "comment": "ship it"});
    let p = sign(&t, &alice, &id, &approve, &mut laptop, ORIGIN).await;
    let voted = t.decide(&id, &alice, with_passkey(&approve, &p)).await;
    assert_eq!(voted.status, StatusCode::OK, "{}", voted.text);
    let honest = signed_decision(&t, &alice, &id).await.record;
    // Carol's passkey signs another request.
    let other = t.seed("tok-pk-9", json!({"approvers": null})).await;
    let carol = t.login("carol@example.com").await;
    let mut phone = Device::new();
    register(&t, &carol, &mut phone).await;
    let p = sign(&t, &carol, &other, &approve, &mut phone, ORIGIN).await;
    let voted = t.decide(&other, &carol, with_passkey(&approve, &p)).await;
    assert_eq!(voted.status, StatusCode::OK, "{}", voted.text);
    let other_signed = signed_decision(&t, &carol, &other).await.record;

    // Whoever holds Hanko's key can sign anything; the passkey's signature still fails.
    let resign = |record: hanko_api::DecisionRecord| {
        let signer = t.signer.clone();
        async move { signer.sign(&record).await.unwrap() }
    };
    let mut forged_signature = honest.clone();
    let sig = &mut forged_signature.approvals[0]
        .passkey
        .as_mut()
        .unwrap()
        .signature;
    let flipped = if sig.ends_with('A') { 'B' } else { 'A' };
    sig.pop();
    sig.push(flipped);
    let mut other_comment = honest.clone();
    other_comment.approvals[0].comment = Some("ship it, and the database migration".into());
    let mut other_request = honest.clone();
    other_request.request_digest = "00".repeat(32);
    let mut other_nonce = honest.clone();
    other_nonce.approvals[0].passkey.as_mut().unwrap().nonce = "AAAA".into();
    let mut other_rp = honest.clone();
    other_rp.approvals[0].passkey.as_mut().unwrap().rp_id = "localhost.example".into();
    let mut other_key = honest.clone();
    other_key.approvals[0].passkey.as_mut().unwrap().public_key = other_signed.approvals[0]
        .passkey
        .as_ref()
        .unwrap()
        .public_key
        .clone();
    for (what, record) in [
        ("an altered signature", forged_signature),
        ("another comment", other_comment),
        ("another request digest", other_request),
        ("another nonce", other_nonce),
        ("another rpId", other_rp),
        ("another passkey's public key", other_key),
    ] {
        let jws = resign(record).await;
        match verify_decision(&jws, &t.signer.jwks()) {
            Err(VerifyError::BadPasskey { approver, .. }) => {
                assert_eq!(approver, "alice@example.com", "{what}")
            }
            other => panic!("{what}: expected a bad passkey signature, got {other:?}"),
        }
    }
    let jws = resign(honest).await;
    verify_decision(&jws, &t.signer.jwks()).expect("the honest record verifies");
}

/// Runs the real `hanko verify --jwks FILE JWS`; answers its exit code and standard output.
fn hanko_verify(jwks: &Value, jws: &str, json_output: bool) -> (i32, String) {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("jwks.json");
    std::fs::write(&file, jwks.to_string()).unwrap();
    let mut cmd = std::process::Command::new(env!("CARGO_BIN_EXE_hanko"));
    cmd.arg("verify").arg("--jwks").arg(&file);
    if json_output {
        cmd.arg("--json");
    }
    let out = cmd.arg(jws).output().expect("hanko runs");
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
    )
}

#[tokio::test]
async fn hanko_verify_says_whose_passkey_signed_and_refuses_a_forged_one() {
    let t = test_app_governed(POLICY);
    let id = t.seed("tok-pk-10", json!({"approvers": null})).await;
    let alice = t.login("alice@example.com").await;
    let mut laptop = Device::new();
    let passkey_id = register(&t, &alice, &mut laptop).await;
    let approve = json!({"decision": "approve", "comment": "ship it"});
    let p = sign(&t, &alice, &id, &approve, &mut laptop, ORIGIN).await;
    let voted = t.decide(&id, &alice, with_passkey(&approve, &p)).await;
    assert_eq!(voted.status, StatusCode::OK, "{}", voted.text);
    let signed = signed_decision(&t, &alice, &id).await;
    let jwks = t.signer.jwks();

    let (code, out) = hanko_verify(&jwks, &signed.signature, false);
    assert_eq!(code, 0, "{out}");
    assert!(
        out.contains(&format!(
            "signed by alice@example.com's passkey {passkey_id} on localhost (user verified: true)"
        )),
        "{out}"
    );
    let (code, out) = hanko_verify(&jwks, &signed.signature, true);
    assert_eq!(code, 0, "{out}");
    let report: Value = serde_json::from_str(&out).unwrap();
    assert_eq!(
        report["approvers"][0]["passkey"]["credentialId"],
        passkey_id.as_str()
    );
    assert_eq!(report["approvers"][0]["passkey"]["userVerified"], true);

    // Hanko's key signs a record whose vote says something else: the passkey's does not.
    let mut forged = signed.record.clone();
    forged.approvals[0].comment = Some("ship it, and drop the old tables".into());
    let jws = t.signer.sign(&forged).await.unwrap();
    let (code, out) = hanko_verify(&jwks, &jws, false);
    assert_eq!(code, 1, "{out}");
    assert!(
        out.contains("INVALID: the passkey signature of alice@example.com's vote does not hold"),
        "{out}"
    );
}

#[tokio::test]
async fn a_delegates_passkey_signs_the_seat_she_votes_in_and_not_another() {
    let t = test_app_governed(POLICY);
    let id = t.seed("tok-pk-seat", json!({"approvers": null})).await;
    let (alice, carol) = (
        t.login("alice@example.com").await,
        t.login("carol@example.com").await,
    );
    // Carol is a release manager herself, and alice's delegate.
    let until = (chrono::Utc::now() + chrono::Duration::hours(8)).to_rfc3339();
    let set = t
        .call(
            "PUT",
            "/api/me/delegation",
            Some(&alice),
            Some(json!({"delegate": "carol@example.com", "from": chrono::Utc::now().to_rfc3339(), "until": until})),
        )
        .await;
    assert_eq!(set.status, StatusCode::OK, "{}", set.text);
    let mut phone = Device::new();
    register(&t, &carol, &mut phone).await;

    // A signature of her own seat's vote cannot fill alice's seat.
    let own = json!({"decision": "approve", "comment": "fine"});
    let for_alice =
        json!({"decision": "approve", "comment": "fine", "onBehalfOf": "alice@example.com"});
    let signed_own = sign(&t, &carol, &id, &own, &mut phone, ORIGIN).await;
    assert_error(
        &t.decide(&id, &carol, with_passkey(&for_alice, &signed_own))
            .await,
        StatusCode::FORBIDDEN,
        "passkey_refused",
    );
    nothing_recorded(&t, &carol, &id).await;

    // Signed for alice's seat, it is counted there, and the record verifies with the seat.
    let signed_seat = sign(&t, &carol, &id, &for_alice, &mut phone, ORIGIN).await;
    let voted = t
        .decide(&id, &carol, with_passkey(&for_alice, &signed_seat))
        .await;
    assert_eq!(voted.status, StatusCode::OK, "{}", voted.text);
    let signed = signed_decision(&t, &alice, &id).await;
    let vote = &signed.record.approvals[0];
    assert_eq!(vote.approver, "carol@example.com");
    assert_eq!(vote.on_behalf_of.as_deref(), Some("alice@example.com"));
    assert!(vote.passkey.is_some());
    verify_decision(&signed.signature, &t.signer.jwks()).expect("both signatures hold");
}
