//! The whole AWS configuration in one `hanko serve`, as the SAM stack runs it: requests in
//! DynamoDB, login with Cognito tokens only, mail through SES to the Cognito group's
//! members, decisions signed by a KMS key, and who decides taken from the stack's default
//! approval policy in an SSM parameter (the example state machine names no approvers).
//! Everything runs on moto; nothing but the configuration differs from the local (SQLite,
//! dev login, outbox, local key) stack.

use aws_sdk_kms::types::{KeySpec, KeyUsageType};
use aws_sdk_sfn::types::ExecutionStatus;
use hanko::verify::verify_decision;
use hanko_api::{Outcome, TaskOutput};
use hanko_e2e::cognito::Pool;
use hanko_e2e::mail::{mime_parts, wait_for_ses_messages};
use hanko_e2e::{Moto, Options, STACK_TABLE, Stack, example_input, kms_kid, request_item, root};
use serde_json::json;

const PUBLIC_URL: &str = "https://approvals.example.com";
const SENDER: &str = "hanko@example.com";
/// The parameter the stack named `hanko` makes (ApprovalPolicyParameter).
const POLICY_PARAMETER: &str = "/hanko/approval-policy";

/// The default of the template's ApprovalPolicy parameter, as written there.
fn template_default_policy() -> String {
    let template = std::fs::read_to_string(root().join("infra/template.yaml")).unwrap();
    let param = template
        .find("\n  ApprovalPolicy:\n")
        .expect("infra/template.yaml has an ApprovalPolicy parameter");
    let line = template[param..]
        .lines()
        .map(str::trim_start)
        .find(|l| l.starts_with("Default: '"))
        .expect("ApprovalPolicy has a single-quoted default");
    line["Default: '".len()..line.len() - 1].replace("''", "'")
}

/// PutParameter on moto's SSM, as the stack's AWS::SSM::Parameter does (the tests' crate
/// has no SSM client; moto reads the service and region from the credential scope).
async fn put_parameter(moto: &Moto, name: &str, value: &str) {
    let resp = reqwest::Client::new()
        .post(&moto.endpoint)
        .header("x-amz-target", "AmazonSSM.PutParameter")
        .header("content-type", "application/x-amz-json-1.1")
        .header(
            "authorization",
            "AWS4-HMAC-SHA256 Credential=test/20250101/ap-northeast-1/ssm/aws4_request, SignedHeaders=host, Signature=0",
        )
        .body(json!({"Name": name, "Value": value, "Type": "String"}).to_string())
        .send()
        .await
        .unwrap();
    let status = resp.status();
    assert!(
        status.is_success(),
        "PutParameter: {status} {}",
        resp.text().await.unwrap_or_default()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn on_dynamodb_cognito_ses_and_kms_an_approval_and_a_rejection_each_resume_their_execution() {
    let moto = Moto::start_serial_dynamodb().await.expect("moto");
    let kms = aws_sdk_kms::Client::new(&moto.sdk);
    let key = kms
        .create_key()
        .key_spec(KeySpec::EccNistP256)
        .key_usage(KeyUsageType::SignVerify)
        .send()
        .await
        .unwrap()
        .key_metadata()
        .unwrap()
        .key_id()
        .to_string();
    aws_sdk_sesv2::Client::new(&moto.sdk)
        .create_email_identity()
        .email_identity(SENDER)
        .send()
        .await
        .unwrap();
    let pool = Pool::create(
        &moto,
        "hanko",
        &[
            ("alice@example.com", &["release-managers"]),
            ("carol@example.com", &["release-managers"]),
            ("mallory@example.com", &[]),
        ],
    )
    .await
    .unwrap();
    // The approval policy the stack deploys by default: group:release-managers decide for
    // hanko-example*, the state machine the harness makes.
    let policy = template_default_policy();
    assert!(policy.contains("stateMachine:hanko-example*"), "{policy}");
    put_parameter(&moto, POLICY_PARAMETER, &policy).await;
    let mut args = pool.hanko_args("id");
    args.extend(
        [
            "--public-url",
            PUBLIC_URL,
            "--mail-from",
            SENDER,
            "--notifier",
            "ses",
            "--signer",
            "kms",
            "--kms-key-id",
            &key,
            "--policy-parameter",
            POLICY_PARAMETER,
        ]
        .map(String::from),
    );
    let stack = Stack::start_on(
        moto,
        Options {
            dynamodb: true,
            no_dev_login: true,
            // The example state machine as infra/ ships it: its messages name no approvers.
            as_shipped: true,
            args,
            ..Options::default()
        },
    )
    .await
    .expect("stack");
    let alice = pool.id_token("alice@example.com").await.unwrap();
    let carol = pool.id_token("carol@example.com").await.unwrap();
    let mallory = pool.id_token("mallory@example.com").await.unwrap();

    let to_approve = stack
        .start_execution(
            "aws-approve",
            example_input(
                "Deploy shop-api v1.5.0",
                json!(["group:release-managers"]),
                1,
            ),
        )
        .await
        .unwrap();
    let to_reject = stack
        .start_execution(
            "aws-reject",
            example_input(
                "Deploy during the sale",
                json!(["group:release-managers"]),
                1,
            ),
        )
        .await
        .unwrap();
    let approve_id = stack.wait_for_request("aws-approve", &alice).await.unwrap();
    let reject_id = stack.wait_for_request("aws-reject", &carol).await.unwrap();

    // Who decides came from the policy parameter, not from the execution's input.
    let (status, detail) = stack
        .get(&format!("/api/approvals/{approve_id}"), &alice)
        .await
        .unwrap();
    assert_eq!(status, 200, "{detail}");
    assert_eq!(
        detail["approvers"],
        json!(["group:release-managers"]),
        "{detail}"
    );
    assert_eq!(detail["requiredApprovals"], 1, "{detail}");
    assert_eq!(detail["allowSelfApproval"], false, "{detail}");
    assert_eq!(detail["policy"]["name"], "example", "{detail}");

    // SES: one mail per group member (looked up in Cognito) per request, with the deep link.
    let mail = wait_for_ses_messages(&stack, 4).await.unwrap();
    let mut sent: Vec<(String, String)> = Vec::new();
    for m in &mail {
        assert_eq!(m["source"], SENDER, "{m}");
        let (_, parts) = mime_parts(m["raw_data"].as_str().unwrap());
        let text = &parts.first().expect("a text part").1;
        let id = [&approve_id, &reject_id]
            .into_iter()
            .find(|id| text.contains(&format!("{PUBLIC_URL}/approvals/{id}")))
            .unwrap_or_else(|| panic!("a deep link to one of the requests: {text}"));
        sent.push((
            m["destinations"][0].as_str().unwrap().to_string(),
            id.clone(),
        ));
    }
    sent.sort();
    let mut want = Vec::new();
    for who in ["alice@example.com", "carol@example.com"] {
        for id in [&approve_id, &reject_id] {
            want.push((who.to_string(), id.clone()));
        }
    }
    want.sort();
    assert_eq!(sent, want);

    // Cognito identity decides who may vote.
    let (status, body) = stack
        .decide(&approve_id, &mallory, json!({"decision": "approve"}))
        .await
        .unwrap();
    // Not in the group the request names: not even told the request exists.
    assert_eq!(status, 404, "{body}");
    let (status, body) = stack
        .decide(
            &approve_id,
            &alice,
            json!({"decision": "approve", "comment": "Go"}),
        )
        .await
        .unwrap();
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["status"], "approved", "{body}");
    let (status, body) = stack
        .decide(
            &reject_id,
            &carol,
            json!({"decision": "reject", "comment": "Not during the sale"}),
        )
        .await
        .unwrap();
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["status"], "rejected", "{body}");

    // Each execution goes on along its own branch, the approval signed by the KMS key.
    let run = stack.wait_for_end(&to_approve).await.unwrap();
    assert_eq!(run.status, ExecutionStatus::Succeeded, "{run:?}");
    assert!(
        run.states_entered.contains(&"Approved".to_string()),
        "{run:?}"
    );
    let output: TaskOutput =
        serde_json::from_value(run.output.unwrap()["approval"].clone()).unwrap();
    let jwks = stack.jwks().await.unwrap();
    let kms_kid = kms_kid(&kms, &key).await.unwrap();
    let verified = verify_decision(&output.signature, &jwks).expect("the signature verifies");
    assert_eq!(verified.kid, kms_kid, "signed by the KMS key");
    assert_eq!(verified.record.request_id, approve_id);
    assert_eq!(verified.record.decision, Outcome::Approved);
    assert_eq!(verified.record.approvals[0].approver, "alice@example.com");

    let run = stack.wait_for_end(&to_reject).await.unwrap();
    assert!(
        run.states_entered.contains(&"Rejected".to_string()),
        "{run:?}"
    );
    assert!(
        !run.states_entered.contains(&"Approved".to_string()),
        "{run:?}"
    );
    assert_eq!(run.output.unwrap()["rejection"]["Error"], "Hanko.Rejected");

    // The records live in DynamoDB, delivered, and the signed record of the rejection
    // names carol; no SQLite file was made.
    let ddb = aws_sdk_dynamodb::Client::new(&stack.moto.sdk);
    for (id, want) in [(&approve_id, "approved"), (&reject_id, "rejected")] {
        let item = request_item(&ddb, STACK_TABLE, id).await.unwrap();
        assert_eq!(item["status"].as_s().unwrap(), want);
        assert_eq!(item["delivery"].as_s().unwrap(), "delivered");
    }
    assert!(!stack.data.path().join("hanko.db").exists());
    let (status, record) = stack
        .get(&format!("/api/approvals/{reject_id}/decision"), &carol)
        .await
        .unwrap();
    assert_eq!(status, 200, "{record}");
    let jws = record["signature"].as_str().expect("a signed record");
    let verified = verify_decision(jws, &jwks).expect("the rejection verifies");
    assert_eq!(verified.kid, kms_kid);
    assert_eq!(verified.record.decision, Outcome::Rejected);
    assert_eq!(verified.record.rejections[0].approver, "carol@example.com");
    stack.stop().await.unwrap();
}
