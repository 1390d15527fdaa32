//! Votes signed by the approver's own passkey (WebAuthn).
//!
//! The challenge the passkey signs is not a random number but the vote itself: the
//! SHA-256 of its canonical form ([`canonical`]), which names the request, its execution,
//! the hash of the request as shown, the choice, the comment, the approver, a single-use
//! nonce from the server (so one assertion cannot be replayed onto another vote), and for
//! a delegate's vote the seat it fills. webauthn-rs-core does the relying party's checks: signature, rpId, origin, user
//! verification, sign count. The decision record carries the assertion and the public key,
//! so [`verify_recorded`] checks it again offline (`hanko verify`).

use std::time::Duration as StdDuration;

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use chrono::{Duration, Utc};
use hanko_api::{
    PasskeyAssertion, PasskeyChallenge, PasskeyInfo, PasskeyRegistration,
    PasskeyRegistrationOptions, PasskeySignature, RecordedVote, VoteChoice,
};
use serde_json::json;
use url::Url;
use webauthn_rs_core::WebauthnCore;
use webauthn_rs_core::proto::{
    AttestationFormat, AttestationMetadata, AuthenticationState, AuthenticatorAssertionResponseRaw,
    COSEKey, Credential, ParsedAttestation, ParsedAttestationData, PublicKeyCredential,
    RegisterPublicKeyCredential, RegisteredExtensions, RegistrationState, UserVerificationPolicy,
};

use crate::domain::Caller;
use crate::domain::rules;
use crate::service::{Hanko, VoteError, request_digest};
use crate::store::{PasskeyNonce, StoreError, StoredPasskey, StoredRequest};

/// How long a nonce (of a registration or of a vote's challenge) may be used.
pub const NONCE_LIFE_SECONDS: i64 = 300;
/// How fresh a login must be to register a passkey (seconds since `auth_time`).
pub const REGISTRATION_LOGIN_AGE_SECONDS: i64 = 600;
/// The longest name of a passkey, in characters.
pub const MAX_NAME_CHARS: usize = 64;
/// The first element of the canonical form: its version.
pub const CANONICAL_TAG: &str = "hanko-vote-v1";
const REGISTER: &str = "register";

/// The relying party Hanko is for passkeys: its id (the console's domain) and origin (the
/// console's URL), and whether every vote must be signed (`HANKO_REQUIRE_PASSKEY`).
pub struct Passkeys {
    core: WebauthnCore,
    rp_id: String,
    pub required_everywhere: bool,
}

impl Passkeys {
    pub fn new(rp_id: &str, origin: &Url, required_everywhere: bool) -> Self {
        Self {
            core: webauthn(rp_id, origin),
            rp_id: rp_id.to_string(),
            required_everywhere,
        }
    }

    /// For local use and tests: rpId `localhost`, origin `http://localhost:8080`.
    pub fn localhost() -> Self {
        let origin = Url::parse("http://localhost:8080").expect("a URL");
        Self::new("localhost", &origin, false)
    }

    pub fn rp_id(&self) -> &str {
        &self.rp_id
    }
}

fn webauthn(rp_id: &str, origin: &Url) -> WebauthnCore {
    WebauthnCore::new_unsafe_experts_only(
        "Hanko",
        rp_id,
        vec![origin.clone()],
        StdDuration::from_secs(NONCE_LIFE_SECONDS as u64),
        Some(false),
        Some(false),
    )
}

/// The canonical form of a vote: a JSON array, written compact by serde_json, of
/// `["hanko-vote-v1", request id, execution ARN, request digest (lowercase hex SHA-256 of
/// the request as shown), "approve" | "reject", comment (trimmed) or null, approver email
/// (lowercased), nonce]`, and for a delegate's vote a ninth element: the email of the person
/// in whose seat it is cast. Its SHA-256 is the WebAuthn challenge.
#[expect(
    clippy::too_many_arguments,
    reason = "the form's parts, each said once"
)]
pub fn canonical(
    request_id: &str,
    execution_arn: &str,
    request_digest: &str,
    choice: VoteChoice,
    comment: Option<&str>,
    approver: &str,
    nonce: &str,
    seat: Option<&str>,
) -> String {
    let mut form = json!([
        CANONICAL_TAG,
        request_id,
        execution_arn,
        request_digest,
        choice.as_str(),
        comment,
        approver,
        nonce
    ]);
    if let (Some(seat), Some(list)) = (seat, form.as_array_mut()) {
        list.push(seat.into());
    }
    form.to_string()
}

/// SHA-256 of the canonical form: the challenge the passkey signs.
pub fn challenge(canonical: &str) -> Vec<u8> {
    aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA256, canonical.as_bytes())
        .as_ref()
        .to_vec()
}

fn new_nonce() -> Result<String, VoteError> {
    let mut bytes = [0u8; 32];
    aws_lc_rs::rand::fill(&mut bytes).map_err(|_| VoteError::Signing("no randomness".into()))?;
    Ok(URL_SAFE_NO_PAD.encode(bytes))
}

fn refused(why: impl Into<String>) -> VoteError {
    VoteError::PasskeyRefused(why.into())
}

fn stored_json(e: serde_json::Error) -> VoteError {
    VoteError::Store(StoreError::from(e))
}

fn info(p: &StoredPasskey) -> PasskeyInfo {
    PasskeyInfo {
        id: p.id.clone(),
        name: p.name.clone(),
        created_at: p.created_at,
        last_used_at: p.last_used_at,
    }
}

/// The assertion state webauthn-rs-core checks against, with the vote's own challenge
/// (the library's random one is replaced: the challenge here is the vote).
fn assertion_state(cred: &Credential, challenge: &[u8]) -> Result<AuthenticationState, String> {
    serde_json::from_value(json!({
        "credentials": [cred],
        "policy": UserVerificationPolicy::Required,
        "challenge": URL_SAFE_NO_PAD.encode(challenge),
        "appid": null,
        "allow_backup_eligible_upgrade": false,
    }))
    .map_err(|e| format!("assertion state: {e}"))
}

impl Hanko {
    /// The caller's passkeys.
    pub async fn passkeys_of(&self, caller: &Caller) -> Result<Vec<PasskeyInfo>, StoreError> {
        Ok(self
            .store
            .passkeys(&caller.email)
            .await?
            .iter()
            .map(info)
            .collect())
    }

    /// Starts registering a passkey: the options for `navigator.credentials.create()`.
    /// Needs a login at most [`REGISTRATION_LOGIN_AGE_SECONDS`] old.
    pub async fn passkey_registration(
        &self,
        caller: &Caller,
    ) -> Result<PasskeyRegistrationOptions, VoteError> {
        let now = Utc::now();
        if !caller.logged_in_within(REGISTRATION_LOGIN_AGE_SECONDS, now) {
            return Err(VoteError::LoginTooOld);
        }
        let mut exclude = Vec::new();
        for p in self.store.passkeys(&caller.email).await? {
            exclude.push(URL_SAFE_NO_PAD.decode(&p.id).unwrap_or_default());
        }
        let display = if caller.name.trim().is_empty() {
            &caller.email
        } else {
            &caller.name
        };
        // The WebAuthn user handle: a hash of the email the person's votes are recorded
        // under, not the email itself (authenticators keep and show the handle apart from
        // the name).
        let user_id = challenge(&caller.email);
        let builder = self
            .passkeys
            .core
            .new_challenge_register_builder(&user_id, &caller.email, display)
            .map_err(|e| VoteError::BadPasskey(format!("cannot register for this login: {e}")))?
            .user_verification_policy(UserVerificationPolicy::Required)
            .exclude_credentials(Some(exclude))
            .require_resident_key(true);
        let (options, state) = self
            .passkeys
            .core
            .generate_challenge_register(builder)
            .map_err(|e| VoteError::Signing(format!("registration options: {e}")))?;
        let nonce = new_nonce()?;
        let expires_at = now + Duration::seconds(NONCE_LIFE_SECONDS);
        self.store
            .put_nonce(&PasskeyNonce {
                nonce: nonce.clone(),
                person: caller.email.clone(),
                purpose: REGISTER.into(),
                state: serde_json::to_string(&state).map_err(stored_json)?,
                expires_at,
            })
            .await?;
        Ok(PasskeyRegistrationOptions {
            registration_id: nonce,
            expires_at,
            public_key: serde_json::to_value(&options.public_key).map_err(stored_json)?,
        })
    }

    /// Finishes a registration: checks the new credential and keeps it.
    pub async fn passkey_register(
        &self,
        caller: &Caller,
        reg: PasskeyRegistration,
    ) -> Result<PasskeyInfo, VoteError> {
        let now = Utc::now();
        let name = reg.name.trim().to_string();
        if name.is_empty() || name.chars().count() > MAX_NAME_CHARS {
            return Err(VoteError::BadPasskey(format!(
                "name the passkey in 1 to {MAX_NAME_CHARS} characters"
            )));
        }
        // The registration is used up first: one try per registration, whatever is sent.
        let nonce = self
            .store
            .take_nonce(&reg.registration_id, &caller.email, now)
            .await?
            .filter(|n| n.purpose == REGISTER)
            .ok_or_else(|| refused("this registration is unknown, used or expired; start again"))?;
        let credential: RegisterPublicKeyCredential = serde_json::from_value(reg.credential)
            .map_err(|e| refused(format!("the new passkey was not accepted: credential: {e}")))?;
        let state: RegistrationState = serde_json::from_str(&nonce.state).map_err(stored_json)?;
        let cred = self
            .passkeys
            .core
            .register_credential(&credential, &state, None)
            .map_err(|e| refused(format!("the new passkey was not accepted: {e:?}")))?;
        let stored = StoredPasskey {
            person: caller.email.clone(),
            id: URL_SAFE_NO_PAD.encode(cred.cred_id.as_slice()),
            name,
            credential: serde_json::to_string(&cred).map_err(stored_json)?,
            created_at: now,
            last_used_at: None,
        };
        if !self.store.add_passkey(&stored).await? {
            return Err(refused("this passkey is already registered"));
        }
        tracing::info!(person = %caller.email, passkey = %stored.id, "passkey registered");
        Ok(info(&stored))
    }

    /// Removes one of the caller's passkeys; `false` when they have none with this id.
    pub async fn passkey_remove(&self, caller: &Caller, id: &str) -> Result<bool, StoreError> {
        self.store.remove_passkey(&caller.email, id).await
    }

    /// Whether votes on `req` must be signed with a passkey.
    pub fn passkey_required(&self, req: &StoredRequest) -> bool {
        self.passkeys.required_everywhere
            || req
                .request
                .policy
                .as_ref()
                .is_some_and(|p| p.policy.require_passkey)
    }

    /// The challenge for the caller's vote `choice`/`comment` on request `id` (in the seat
    /// of `on_behalf_of`, as their delegate, when given), and the options for
    /// `navigator.credentials.get()`.
    pub async fn passkey_challenge(
        &self,
        id: &crate::domain::RequestId,
        caller: &Caller,
        choice: VoteChoice,
        comment: Option<&str>,
        on_behalf_of: Option<&str>,
    ) -> Result<PasskeyChallenge, VoteError> {
        let now = Utc::now();
        let delegation = self.seat_delegation(caller, on_behalf_of).await?;
        let req = self.store.get(id).await?.ok_or(VoteError::NotFound)?;
        if let Some(block) = crate::service::seat_block(&req, caller, delegation.as_ref(), now) {
            return Err(VoteError::Blocked(block));
        }
        let comment = rules::check_comment(choice, comment).map_err(VoteError::BadComment)?;
        let creds = self.credentials(caller).await?;
        if creds.is_empty() {
            return Err(VoteError::PasskeyRequired);
        }
        let nonce = new_nonce()?;
        let canonical = canonical(
            req.id.as_ref(),
            &req.request.execution_arn,
            &request_digest(&req.request),
            choice,
            comment.as_deref(),
            &caller.email,
            &nonce,
            delegation.as_ref().map(|d| d.delegator.as_str()),
        );
        let builder = self
            .passkeys
            .core
            .new_challenge_authenticate_builder(
                creds.into_iter().map(|(_, c)| c).collect(),
                Some(UserVerificationPolicy::Required),
            )
            .map_err(|e| VoteError::Signing(format!("challenge options: {e}")))?;
        let (mut options, _random) = self
            .passkeys
            .core
            .generate_challenge_authenticate(builder)
            .map_err(|e| VoteError::Signing(format!("challenge options: {e}")))?;
        options.public_key.challenge = challenge(&canonical);
        let expires_at = now + Duration::seconds(NONCE_LIFE_SECONDS);
        self.store
            .put_nonce(&PasskeyNonce {
                nonce: nonce.clone(),
                person: caller.email.clone(),
                purpose: vote_purpose(&req),
                state: String::new(),
                expires_at,
            })
            .await?;
        Ok(PasskeyChallenge {
            nonce,
            expires_at,
            canonical,
            public_key: serde_json::to_value(&options.public_key).map_err(stored_json)?,
        })
    }

    /// The caller's passkeys with their credentials as webauthn-rs-core reads them.
    async fn credentials(
        &self,
        caller: &Caller,
    ) -> Result<Vec<(StoredPasskey, Credential)>, VoteError> {
        let mut out = Vec::new();
        for p in self.store.passkeys(&caller.email).await? {
            let c: Credential = serde_json::from_str(&p.credential).map_err(stored_json)?;
            out.push((p, c));
        }
        Ok(out)
    }

    /// Checks the passkey signature of a vote about to be recorded: its nonce is taken
    /// (single use) and its challenge must be this very vote. `Ok(None)`: no assertion, and
    /// none is needed.
    pub(crate) async fn check_passkey(
        &self,
        req: &StoredRequest,
        caller: &Caller,
        choice: VoteChoice,
        comment: Option<&str>,
        seat: Option<&str>,
        assertion: Option<&PasskeyAssertion>,
    ) -> Result<Option<PasskeySignature>, VoteError> {
        let Some(assertion) = assertion else {
            return if self.passkey_required(req) {
                Err(VoteError::PasskeyRequired)
            } else {
                Ok(None)
            };
        };
        let now = Utc::now();
        // The nonce is used up first: one try per challenge, whatever is sent.
        self.store
            .take_nonce(&assertion.nonce, &caller.email, now)
            .await?
            .filter(|n| n.purpose == vote_purpose(req))
            .ok_or_else(|| {
                refused("the passkey challenge is unknown, used, expired or for another request; sign again")
            })?;
        let rsp: PublicKeyCredential = serde_json::from_value(assertion.credential.clone())
            .map_err(|e| refused(format!("passkey.credential is not an assertion: {e}")))?;
        let (stored, mut cred) = self
            .credentials(caller)
            .await?
            .into_iter()
            .find(|(_, c)| c.cred_id.as_slice() == rsp.raw_id.as_slice())
            .ok_or_else(|| refused("this passkey is not one of yours (removed?)"))?;
        let canonical = canonical(
            req.id.as_ref(),
            &req.request.execution_arn,
            &request_digest(&req.request),
            choice,
            comment,
            &caller.email,
            &assertion.nonce,
            seat,
        );
        let state = assertion_state(&cred, &challenge(&canonical)).map_err(VoteError::Signing)?;
        let result = self
            .passkeys
            .core
            .authenticate_credential(&rsp, &state)
            .map_err(|e| {
                refused(format!(
                    "the passkey signature does not match this vote: {e:?}"
                ))
            })?;
        cred.counter = result.counter();
        cred.backup_state = result.backup_state();
        let updated = serde_json::to_string(&cred).map_err(stored_json)?;
        self.store
            .passkey_used(&caller.email, &stored.id, &updated, now)
            .await?;
        Ok(Some(PasskeySignature {
            credential_id: stored.id,
            public_key: serde_json::to_value(&cred.cred).map_err(stored_json)?,
            rp_id: self.passkeys.rp_id.clone(),
            nonce: assertion.nonce.clone(),
            authenticator_data: URL_SAFE_NO_PAD.encode(&rsp.response.authenticator_data),
            client_data_json: URL_SAFE_NO_PAD.encode(&rsp.response.client_data_json),
            signature: URL_SAFE_NO_PAD.encode(&rsp.response.signature),
            user_verified: result.user_verified(),
            backup_eligible: cred.backup_eligible,
        }))
    }
}

fn vote_purpose(req: &StoredRequest) -> String {
    format!("vote:{}", req.id)
}

/// Checks, offline, the passkey signature of a recorded vote against the decision it is in:
/// the challenge must be this vote's canonical form, signed by the recorded key, for the
/// recorded rpId, from an origin of that rpId, with the person verified. `Ok(false)`: the
/// vote has no passkey signature.
pub fn verify_recorded(
    request_id: &str,
    execution_arn: &str,
    request_digest: &str,
    choice: VoteChoice,
    vote: &RecordedVote,
) -> Result<bool, String> {
    let Some(p) = &vote.passkey else {
        return Ok(false);
    };
    let bytes = |name: &str, v: &str| {
        URL_SAFE_NO_PAD
            .decode(v)
            .map_err(|_| format!("{name} is not base64url"))
    };
    let client_data_json = bytes("clientDataJSON", &p.client_data_json)?;
    let client_data: serde_json::Value = serde_json::from_slice(&client_data_json)
        .map_err(|_| "clientDataJSON is not JSON".to_string())?;
    let origin = client_data["origin"]
        .as_str()
        .and_then(|o| Url::parse(o).ok())
        .ok_or("clientDataJSON has no origin")?;
    let host = origin.host_str().unwrap_or_default();
    if host != p.rp_id && !host.ends_with(&format!(".{}", p.rp_id)) {
        return Err(format!("signed on {origin}, which is not of {}", p.rp_id));
    }
    let key: COSEKey = serde_json::from_value(p.public_key.clone())
        .map_err(|e| format!("publicKey is not a COSE key: {e}"))?;
    let cred_id = bytes("credentialId", &p.credential_id)?;
    let cred = Credential {
        cred_id: cred_id.clone(),
        cred: key,
        counter: 0,
        transports: None,
        user_verified: true,
        backup_eligible: p.backup_eligible,
        backup_state: false,
        registration_policy: UserVerificationPolicy::Required,
        extensions: RegisteredExtensions::none(),
        attestation: ParsedAttestation {
            data: ParsedAttestationData::None,
            metadata: AttestationMetadata::None,
        },
        attestation_format: AttestationFormat::None,
    };
    let rsp = PublicKeyCredential {
        id: p.credential_id.clone(),
        raw_id: cred_id,
        response: AuthenticatorAssertionResponseRaw {
            authenticator_data: bytes("authenticatorData", &p.authenticator_data)?,
            client_data_json,
            signature: bytes("signature", &p.signature)?,
            user_handle: None,
        },
        extensions: Default::default(),
        type_: "public-key".into(),
    };
    let canonical = canonical(
        request_id,
        execution_arn,
        request_digest,
        choice,
        vote.comment.as_deref(),
        &vote.approver,
        &p.nonce,
        vote.on_behalf_of.as_deref(),
    );
    let state = assertion_state(&cred, &challenge(&canonical))?;
    webauthn(&p.rp_id, &origin)
        .authenticate_credential(&rsp, &state)
        .map_err(|e| format!("{e:?}"))?;
    Ok(true)
}
