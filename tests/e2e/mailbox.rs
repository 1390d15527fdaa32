//! The journey a person makes, on the local stack's real parts: a workflow on moto asks for
//! an approval, Hanko mails it over SMTP to maildev's web inbox, the approver opens the mail
//! there, follows its link, logs in at the local OpenID provider's form (oidc-provider),
//! approves, and the execution goes on through its Approved branch. And mail over SMTPS, to
//! a server whose certificate is trusted or not.

use std::path::{Path, PathBuf};

use aws_sdk_sfn::types::{ExecutionStatus, HistoryEventType};
use fantoccini::Locator;
use hanko_e2e::browser::{Browser, BrowserOptions};
use hanko_e2e::mail::{Maildev, mime_parts};
use hanko_e2e::oidc::OidcProvider;
use hanko_e2e::{Options, Stack, example_input};
use rcgen::{BasicConstraints, CertificateParams, CertifiedIssuer, DnType, IsCa, KeyPair};
use serde_json::{Value, json};

/// maildev, the provider, and a stack that mails through the one and logs in with the other.
async fn local_stack() -> (Maildev, OidcProvider, Stack) {
    let mailbox = Maildev::start().await.unwrap();
    let idp = OidcProvider::start(&[]).await.unwrap();
    let stack = Stack::start_opts(Options {
        console: true,
        no_dev_login: true,
        args: [
            idp.hanko_args("id"),
            mailbox.hanko_args(),
            vec![
                "--mail-from".into(),
                "hanko@example.com".into(),
                "--oidc-provider-name".into(),
                "Local OpenID provider".into(),
            ],
        ]
        .concat(),
        ..Options::default()
    })
    .await
    .expect("stack (build the console first: scripts/build-console.sh)");
    (mailbox, idp, stack)
}

/// The message to `to` whose subject contains `subject`, waiting for it.
async fn mail_to(mailbox: &Maildev, to: &str, subject: &str) -> Value {
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
    loop {
        let found = mailbox.messages().await.unwrap().into_iter().find(|m| {
            m["subject"].as_str().is_some_and(|s| s.contains(subject))
                && m["envelope"]["to"]
                    .as_array()
                    .is_some_and(|t| t.iter().any(|a| a["address"] == to))
        });
        if let Some(m) = found {
            return m;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "no mail to {to} about {subject:?}: {:?}",
            mailbox.messages().await
        );
        tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn each_approver_gets_a_text_and_html_mail_over_smtp_with_the_deep_link_and_never_the_task_token()
 {
    let (mailbox, idp, stack) = local_stack().await;
    let input = example_input(
        "本番デプロイ shop-api v1.4.2",
        json!(["alice@example.com", "carol@example.com"]),
        1,
    );
    stack.start_execution("smtp-mail", input).await.unwrap();
    let token = idp
        .id_token("alice@example.com", "alice-approves")
        .await
        .unwrap();
    let id = stack.wait_for_request("smtp-mail", &token).await.unwrap();

    let mail = mailbox.wait_for(2).await.unwrap();
    assert_eq!(mail.len(), 2, "one mail to each approver: {mail:#?}");
    let mut rcpts: Vec<&str> = mail
        .iter()
        .flat_map(|m| m["envelope"]["to"].as_array().unwrap())
        .filter_map(|a| a["address"].as_str())
        .collect();
    rcpts.sort();
    assert_eq!(rcpts, ["alice@example.com", "carol@example.com"]);
    let link = format!("{}/approvals/{id}", stack.base);
    let task_token = stack.task_token(&id).await.unwrap();
    for m in &mail {
        assert_eq!(m["envelope"]["from"]["address"], "hanko@example.com");
        let raw = mailbox.raw(m["id"].as_str().unwrap()).await.unwrap();
        assert!(
            !raw.contains(&task_token),
            "the task token stays on the server"
        );
        let (headers, parts) = mime_parts(&raw);
        assert!(
            headers.contains("From: Hanko <hanko@example.com>"),
            "{headers}"
        );
        // RFC 2047: charset and encoding names are case-insensitive.
        assert!(
            headers.to_ascii_lowercase().contains("subject: =?utf-8?b?"),
            "{headers}"
        );
        assert!(headers.contains("Content-Language: ja"), "{headers}");
        assert!(
            headers.contains(&format!("X-Hanko-Request: {id}")),
            "{headers}"
        );
        assert_eq!(parts.len(), 2, "{raw}");
        let (text_type, text) = &parts[0];
        let (html_type, html) = &parts[1];
        assert!(
            text_type
                .to_ascii_lowercase()
                .starts_with("text/plain; charset=utf-8")
        );
        assert!(
            html_type
                .to_ascii_lowercase()
                .starts_with("text/html; charset=utf-8")
        );
        assert!(text.starts_with("承認依頼が届いています。"), "{text}");
        assert!(text.contains("本番デプロイ shop-api v1.4.2"));
        assert!(text.contains(&link), "{text}");
        assert!(html.contains(&format!("<a href=\"{link}\">")), "{html}");
        assert!(!text.contains(&task_token) && !html.contains(&task_token));
    }
    stack.stop().await.unwrap();
    idp.stop().await;
    mailbox.stop().await;
}

/// Opens the newest mail about `subject` in maildev's web inbox, follows its link (maildev
/// opens links in a new window), logs in at the provider, approves with `comment`, and
/// checks the execution took its Approved branch.
async fn journey(lang: &str, title: &str, comment: &str) {
    let (mailbox, idp, stack) = local_stack().await;
    let input = example_input(title, json!(["alice@example.com"]), 1);
    let exec = stack.start_execution("journey", input).await.unwrap();
    let mail = mail_to(&mailbox, "alice@example.com", title).await;

    let b = Browser::start_with(BrowserOptions {
        lang: lang.into(),
        ..BrowserOptions::default()
    })
    .await;
    b.client.goto(&mailbox.web).await.unwrap();
    let item = format!(
        ".email-item.email-{} .email-item-link",
        mail["id"].as_str().unwrap()
    );
    b.wait_for(&item).await.click().await.unwrap();
    let frame = b.wait_for("iframe.panel-html").await;
    frame.enter_frame().await.unwrap();
    // maildev makes the mail's links open in a new window (it adds `<base target=_blank>`
    // once the mail is shown), as a web mail does.
    b.wait_for("head base[target='_blank']").await;
    let link = b.wait_for("a[href*='/approvals/']").await;
    let href = link.attr("href").await.unwrap().unwrap();
    assert!(
        href.starts_with(&format!("{}/approvals/", stack.base)),
        "{href}"
    );
    let before = b.client.windows().await.unwrap();
    link.click().await.unwrap();
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
    let opened = loop {
        let now = b.client.windows().await.unwrap();
        if let Some(w) = now.into_iter().find(|w| !before.contains(w)) {
            break w;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "the link opened no window"
        );
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    };
    b.client.switch_to_window(opened).await.unwrap();

    // Logged out in this browser: the console sends the person to the provider's form.
    b.log_in_at_the_provider("alice@example.com", "alice-approves")
        .await;

    let shown = b.wait_for("#request-title").await.text().await.unwrap();
    assert_eq!(shown, title);
    let html_lang = b
        .client
        .find(Locator::Css("html"))
        .await
        .unwrap()
        .attr("lang")
        .await
        .unwrap();
    assert_eq!(
        html_lang.as_deref(),
        Some(&lang[..2]),
        "the console speaks {lang}"
    );
    b.wait_for("#decision-comment")
        .await
        .send_keys(comment)
        .await
        .unwrap();
    b.wait_for("#approve-button").await.click().await.unwrap();
    b.wait_for("#confirm-decision").await.click().await.unwrap();
    b.wait_for("#decision-result[data-outcome='approved']")
        .await;

    let run = stack.wait_for_end(&exec).await.unwrap();
    assert_eq!(run.status, ExecutionStatus::Succeeded, "{run:?}");
    let output = run.output.as_ref().unwrap();
    assert_eq!(output["outcome"], "approved", "{output}");
    assert_eq!(output["approval"]["decision"], "approved", "{output}");
    assert!(output.to_string().contains(comment), "{output}");
    let history = stack
        .sfn
        .get_execution_history()
        .execution_arn(&exec)
        .send()
        .await
        .unwrap();
    assert!(
        history
            .events()
            .iter()
            .any(|e| e.r#type() == &HistoryEventType::PassStateEntered
                && e.state_entered_event_details()
                    .is_some_and(|d| d.name() == "Approved")),
        "the execution went through Approved"
    );

    b.close().await;
    stack.stop().await.unwrap();
    idp.stop().await;
    mailbox.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_person_opens_the_mail_in_the_web_inbox_logs_in_at_the_provider_and_approves() {
    journey("en-US", "Deploy shop-api v2.1.0", "Looks good, ship it").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_same_journey_in_japanese_from_the_mails_japanese_part_to_the_japanese_console() {
    journey(
        "ja-JP",
        "本番デプロイ shop-api v2.1.0",
        "問題ありません。リリースしてください",
    )
    .await;
}

/// A certificate authority, and a certificate it signed for 127.0.0.1 and localhost, as PEM
/// files in `dir`: (CA, certificate, key).
fn certificates(dir: &Path) -> (PathBuf, PathBuf, PathBuf) {
    let mut ca = CertificateParams::new(Vec::<String>::new()).unwrap();
    ca.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    ca.distinguished_name
        .push(DnType::CommonName, "Hanko test mail CA");
    let ca = CertifiedIssuer::self_signed(ca, KeyPair::generate().unwrap()).unwrap();
    let key = KeyPair::generate().unwrap();
    let cert = CertificateParams::new(vec!["127.0.0.1".to_string(), "localhost".to_string()])
        .unwrap()
        .signed_by(&key, &ca)
        .unwrap();
    let paths = (
        dir.join("ca.pem"),
        dir.join("cert.pem"),
        dir.join("key.pem"),
    );
    std::fs::write(&paths.0, ca.pem()).unwrap();
    std::fs::write(&paths.1, cert.pem()).unwrap();
    std::fs::write(&paths.2, key.serialize_pem()).unwrap();
    paths
}

/// maildev over SMTPS with a certificate of the test's own CA, and a `hanko serve` process
/// mailing it at `smtps://127.0.0.1:PORT`, trusting that CA (through `SSL_CERT_FILE`, which
/// the system's trust store reads) when `trusted`.
async fn smtps_stack(dir: &Path, trusted: bool) -> (Maildev, Stack) {
    let (ca, cert, key) = certificates(dir);
    let mailbox = Maildev::start_with(Some((&cert, &key))).await.unwrap();
    let env = match trusted {
        true => vec![("SSL_CERT_FILE".to_string(), ca.display().to_string())],
        false => vec![],
    };
    let stack = Stack::start_opts(Options {
        process: true,
        args: vec![
            "--notifier".into(),
            "smtp".into(),
            "--smtp-url".into(),
            format!("smtps://127.0.0.1:{}", mailbox.smtp_port),
        ],
        env,
        ..Options::default()
    })
    .await
    .unwrap();
    (mailbox, stack)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn mail_goes_over_smtps_to_a_server_whose_certificate_the_system_trusts() {
    let dir = tempfile::tempdir().unwrap();
    let (mailbox, stack) = smtps_stack(dir.path(), true).await;
    let input = example_input("Renew the TLS certificate", json!(["alice@example.com"]), 1);
    stack.start_execution("smtps", input).await.unwrap();
    let mail = mail_to(&mailbox, "alice@example.com", "Renew the TLS certificate").await;
    assert_eq!(mail["envelope"]["from"]["address"], "hanko@localhost");
    stack.stop().await.unwrap();
    mailbox.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_mail_server_whose_certificate_is_not_trusted_gets_no_mail_and_the_request_stays() {
    let dir = tempfile::tempdir().unwrap();
    let (mailbox, stack) = smtps_stack(dir.path(), false).await;
    let input = example_input("Renew the TLS certificate", json!(["alice@example.com"]), 1);
    stack
        .start_execution("smtps-untrusted", input)
        .await
        .unwrap();
    let alice = stack
        .login("alice@example.com", "alice-approves")
        .await
        .unwrap();
    stack
        .wait_for_request("smtps-untrusted", &alice)
        .await
        .unwrap();
    let log = stack.data.path().join("hanko-stderr.log");
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
    while !std::fs::read_to_string(&log)
        .unwrap_or_default()
        .contains("could not send a notification")
    {
        assert!(
            std::time::Instant::now() < deadline,
            "no failed notification in the log"
        );
        tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    }
    let logged = std::fs::read_to_string(&log).unwrap();
    assert!(
        logged.contains("invalid peer certificate: UnknownIssuer"),
        "the log says why: {logged}"
    );
    // (maildev itself exits when a client refuses its certificate, so its inbox cannot be
    // read after this; the refusal above happened before any mail was sent.)
    let (status, request) = stack
        .get("/api/approvals?status=pending", &alice)
        .await
        .unwrap();
    assert_eq!(status, 200, "{request}");
    assert!(
        request.to_string().contains("Renew the TLS certificate"),
        "{request}"
    );
    stack.stop().await.unwrap();
    mailbox.stop().await;
}
