//! Hanko's AWS signing and mail adapters against moto (the local AWS): decisions signed by
//! a KMS key (ECC_NIST_P256) verify with the same code as local ones, a rotated KMS key
//! keeps old decisions verifiable, and the whole approval runs with `HANKO_SIGNER=kms`,
//! `HANKO_NOTIFIER=ses` and group members from a Cognito user pool.

use anyhow::Context;
use aws_sdk_kms::types::{KeySpec, KeyUsageType};
use aws_sdk_sfn::types::ExecutionStatus;
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use chrono::Utc;
use clap::Parser;
use hanko::config::ServeArgs;
use hanko::keys::EcPublicKey;
use hanko::signer::{DECISION_TYP, KmsSigner, Signer};
use hanko::verify::{VerifyError, verify_decision};
use hanko_api::{DecisionRecord, Outcome, RecordedVote, TaskOutput};
use hanko_e2e::cognito::Pool;
use hanko_e2e::mail::{mime_parts, wait_for_ses_messages};
use hanko_e2e::{Moto, Stack, example_input, kms_kid, root};
use serde_json::{Value, json};

const ALICE: (&str, &str) = ("alice@example.com", "alice-approves");
const PUBLIC_URL: &str = "https://approvals.example.com";

#[derive(Parser)]
struct Cli {
    #[command(flatten)]
    args: ServeArgs,
}

async fn kms_key(kms: &aws_sdk_kms::Client) -> String {
    kms.create_key()
        .key_spec(KeySpec::EccNistP256)
        .key_usage(KeyUsageType::SignVerify)
        .description("hanko decisions")
        .send()
        .await
        .expect("moto creates an ECC_NIST_P256 key")
        .key_metadata()
        .unwrap()
        .key_id()
        .to_string()
}

fn record() -> DecisionRecord {
    let now = chrono::DateTime::from_timestamp(Utc::now().timestamp(), 0).unwrap();
    DecisionRecord {
        iss: "hanko".into(),
        request_id: "0193a1b2-0000-7000-8000-000000000001".into(),
        execution_arn: "arn:aws:states:ap-northeast-1:123456789012:execution:deploy:run-1".into(),
        state_machine_arn: "arn:aws:states:ap-northeast-1:123456789012:stateMachine:deploy".into(),
        title: "本番デプロイ".into(),
        decision: Outcome::Approved,
        approvals: vec![RecordedVote {
            approver: "alice@example.com".into(),
            comment: Some("OK".into()),
            decided_at: now,
            passkey: None,
            on_behalf_of: None,
        }],
        rejections: vec![],
        request_digest: "ab".repeat(32),
        decided_at: now,
        iat: now.timestamp(),
        policy: None,
        policy_sha256: None,
    }
}

fn header(jws: &str) -> Value {
    let h = jws.split('.').next().unwrap();
    serde_json::from_slice(&URL_SAFE_NO_PAD.decode(h).unwrap()).unwrap()
}

#[tokio::test]
async fn a_decision_signed_by_kms_on_moto_verifies_with_the_same_code_as_a_local_one() {
    let moto = Moto::start().await.expect("moto");
    let kms = aws_sdk_kms::Client::new(&moto.sdk);
    let key = kms_key(&kms).await;
    let signer = KmsSigner::new(kms.clone(), &key, &[]).await.unwrap();

    // One record: two calls of `record()` a second apart would differ in their times.
    let record = record();
    let jws = signer.sign(&record).await.unwrap();
    let v = verify_decision(&jws, &signer.jwks()).expect("the KMS signature verifies");
    assert_eq!(v.record, record);
    assert_eq!(
        header(&jws),
        json!({"alg": "ES256", "typ": DECISION_TYP, "kid": signer.kid()})
    );
    assert_eq!(
        jws.split('.')
            .nth(2)
            .map(|s| URL_SAFE_NO_PAD.decode(s).unwrap().len()),
        Some(64)
    );

    // The kid is the RFC 7638 thumbprint of the key KMS holds.
    let spki = kms.get_public_key().key_id(&key).send().await.unwrap();
    let public = EcPublicKey::from_spki_der(spki.public_key().unwrap().as_ref()).unwrap();
    assert_eq!(public.kid(), signer.kid());

    // An independent implementation (jsonwebtoken) agrees.
    let jwk: jsonwebtoken::jwk::Jwk =
        serde_json::from_value(signer.jwks()["keys"][0].clone()).unwrap();
    let mut validation = jsonwebtoken::Validation::new(jsonwebtoken::Algorithm::ES256);
    validation.required_spec_claims.clear();
    validation.validate_exp = false;
    let decoded = jsonwebtoken::decode::<DecisionRecord>(
        &jws,
        &jsonwebtoken::DecodingKey::from_jwk(&jwk).unwrap(),
        &validation,
    )
    .unwrap();
    assert_eq!(decoded.claims, record);

    // A key that cannot sign ES256 is refused at start, with the variable named.
    let aes = kms.create_key().send().await.unwrap();
    let id = aes.key_metadata().unwrap().key_id().to_string();
    let err = KmsSigner::new(kms.clone(), &id, &[]).await.err().unwrap();
    assert!(format!("{err:#}").contains("HANKO_KMS_KEY_ID"), "{err:#}");
}

#[tokio::test]
async fn rotating_the_kms_key_keeps_old_decisions_verifiable_and_publishes_both_kids() {
    let moto = Moto::start().await.expect("moto");
    let kms = aws_sdk_kms::Client::new(&moto.sdk);
    let old = kms_key(&kms).await;
    let new = kms_key(&kms).await;
    let before = KmsSigner::new(kms.clone(), &old, &[]).await.unwrap();
    let signed_before = before.sign(&record()).await.unwrap();

    let after = KmsSigner::new(kms.clone(), &new, std::slice::from_ref(&old))
        .await
        .unwrap();
    let jwks = after.jwks();
    let kids: Vec<&str> = jwks["keys"]
        .as_array()
        .unwrap()
        .iter()
        .map(|k| k["kid"].as_str().unwrap())
        .collect();
    assert_eq!(kids, vec![after.kid(), before.kid()]);
    assert_eq!(
        verify_decision(&signed_before, &jwks).unwrap().kid,
        before.kid()
    );
    let signed_after = after.sign(&record()).await.unwrap();
    assert_eq!(
        verify_decision(&signed_after, &jwks).unwrap().kid,
        after.kid()
    );
    // Dropping the old key from the list is what retires its decisions.
    let retired = KmsSigner::new(kms.clone(), &new, &[]).await.unwrap();
    assert_eq!(
        verify_decision(&signed_before, &retired.jwks()),
        Err(VerifyError::UnknownKey(before.kid().to_string()))
    );
}

/// A Cognito pool with group release-managers: alice, carol, bob (the requester) and
/// dave (disabled); returns its id.
async fn cognito_pool(moto: &Moto) -> anyhow::Result<String> {
    let managers: &[&str] = &["release-managers"];
    let users = ["alice", "carol", "bob", "dave"].map(|n| format!("{n}@example.com"));
    let users = users.each_ref().map(|e| (e.as_str(), managers));
    let pool = Pool::create(moto, "hanko", &users).await?;
    pool.client
        .admin_disable_user()
        .user_pool_id(&pool.id)
        .username("dave@example.com")
        .send()
        .await?;
    Ok(pool.id)
}

/// The example state machine and intake queue on `moto`, and `hanko serve` with `flags`.
async fn stack_on(moto: Moto, flags: &[&str]) -> anyhow::Result<Stack> {
    let sqs = aws_sdk_sqs::Client::new(&moto.sdk);
    let sfn = aws_sdk_sfn::Client::new(&moto.sdk);
    let queue_url = sqs
        .create_queue()
        .queue_name("hanko-intake")
        .send()
        .await?
        .queue_url()
        .context("queue url")?
        .to_string();
    // This stack runs without a policy document: the executions name their approvers.
    let asl = hanko_e2e::workflow_names_approvers(
        &std::fs::read_to_string(root().join("infra/example-state-machine.asl.json"))?
            .replace("${IntakeQueueUrl}", &queue_url),
    )?;
    let state_machine_arn = sfn
        .create_state_machine()
        .name("hanko-example")
        .definition(asl)
        .role_arn("arn:aws:iam::123456789012:role/hanko-example")
        .send()
        .await?
        .state_machine_arn()
        .to_string();
    let data = tempfile::tempdir()?;
    let users = root().join("infra/dev-users.json");
    let mut argv = vec![
        "hanko",
        "--listen",
        "127.0.0.1:0",
        "--data-dir",
        data.path().to_str().context("utf-8 path")?,
        "--dev-users",
        users.to_str().context("utf-8 path")?,
        "--intake-queue-url",
        &queue_url,
        "--intake-wait-seconds",
        "1",
        "--sweep-interval-seconds",
        "1",
        "--aws-endpoint-url",
        &moto.endpoint,
    ];
    argv.extend_from_slice(flags);
    let args = Cli::try_parse_from(argv)?.args;
    let running = hanko::serve::start(args, Some(moto.sdk.clone())).await?;
    let base = format!("http://{}", running.addr);
    Ok(Stack {
        moto,
        hanko: Some(running),
        proxy: None,
        process: None,
        bin: None,
        argv: Vec::new(),
        env: Vec::new(),
        base,
        http: reqwest::Client::new(),
        sfn,
        sqs,
        queue_url,
        state_machine_arn,
        data,
    })
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_approval_runs_end_to_end_with_kms_signing_ses_mail_and_cognito_groups() {
    let moto = Moto::start().await.expect("moto");
    let kms = aws_sdk_kms::Client::new(&moto.sdk);
    let retired = kms_key(&kms).await;
    let key = kms_key(&kms).await;
    aws_sdk_sesv2::Client::new(&moto.sdk)
        .create_email_identity()
        .email_identity("hanko@example.com")
        .send()
        .await
        .unwrap();
    let pool = cognito_pool(&moto).await.unwrap();
    let stack = stack_on(
        moto,
        &[
            "--public-url",
            PUBLIC_URL,
            "--mail-from",
            "hanko@example.com",
            "--signer",
            "kms",
            "--kms-key-id",
            &key,
            "--previous-kms-key-ids",
            &retired,
            "--notifier",
            "ses",
            "--cognito-user-pool-id",
            &pool,
        ],
    )
    .await
    .expect("stack");

    let exec = stack
        .start_execution(
            "deploy-kms",
            example_input(
                "Deploy shop-api v1.4.2",
                json!(["group:release-managers"]),
                1,
            ),
        )
        .await
        .unwrap();
    let alice = stack.login(ALICE.0, ALICE.1).await.unwrap();
    let id = stack.wait_for_request("deploy-kms", &alice).await.unwrap();
    let token = stack.task_token(&id).await.unwrap();
    let token = token.as_str();

    // One email per enabled group member, never the requester, never the token.
    let mail = wait_for_ses_messages(&stack, 2).await.unwrap();
    let mut to: Vec<String> = mail
        .iter()
        .filter_map(|m| m["destinations"][0].as_str().map(str::to_string))
        .collect();
    to.sort();
    assert_eq!(
        to,
        vec!["alice@example.com", "carol@example.com"],
        "{mail:?}"
    );
    let link = format!("{PUBLIC_URL}/approvals/{id}");
    for m in &mail {
        assert_eq!(m["source"], "hanko@example.com");
        let raw = m["raw_data"].as_str().unwrap();
        assert!(!raw.contains(token));
        let (headers, parts) = mime_parts(raw);
        assert!(headers.contains("Subject: Approval requested: Deploy shop-api v1.4.2"));
        assert!(headers.contains("Content-Language: en"));
        assert_eq!(parts[0].0, "text/plain; charset=UTF-8");
        assert_eq!(parts[1].0, "text/html; charset=UTF-8");
        assert!(parts[0].1.starts_with("An approval is waiting for you."));
        assert!(parts[0].1.contains(&link));
        assert!(parts[1].1.contains(&format!("<a href=\"{link}\">")));
        assert!(!parts[0].1.contains(token) && !parts[1].1.contains(token));
    }

    let (status, body) = stack
        .decide(&id, &alice, json!({"decision": "approve", "comment": "Go"}))
        .await
        .unwrap();
    assert_eq!(status, 200, "{body}");
    let run = stack.wait_for_end(&exec).await.unwrap();
    assert_eq!(run.status, ExecutionStatus::Succeeded, "{run:?}");
    let output: TaskOutput =
        serde_json::from_value(run.output.unwrap()["approval"].clone()).unwrap();

    // The signature is KMS's, and the served JWKS has the current and the retired key.
    let jwks = stack.jwks().await.unwrap();
    assert_eq!(jwks["keys"].as_array().unwrap().len(), 2);
    let kms_kid = kms_kid(&kms, &key).await.unwrap();
    let verified = verify_decision(&output.signature, &jwks).expect("verifies");
    assert_eq!(verified.kid, kms_kid);
    assert_eq!(verified.record.request_id, id);
    assert_eq!(verified.record.approvals[0].approver, "alice@example.com");
    stack.stop().await.unwrap();
}
