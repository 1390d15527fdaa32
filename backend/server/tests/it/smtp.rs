//! The SMTP notifier where no server answers, or none could: what mail a real server
//! (maildev, over SMTP and SMTPS) receives is checked in tests/e2e/mailbox.rs.

use crate::common;

use std::sync::Arc;

use common::{RecordingWorkflow, intake_message};
use hanko::keys::EcKey;
use hanko::notifier::{NoDirectory, SmtpNotifier};
use hanko::service::{Hanko, IntakeOutcome};
use hanko::signer::LocalSigner;
use hanko::store::sqlite::SqliteStore;
use serde_json::json;

fn hanko_with(notifier: SmtpNotifier) -> Hanko {
    Hanko {
        store: Arc::new(SqliteStore::in_memory().unwrap()),
        workflow: Arc::new(RecordingWorkflow::accepting()),
        notifier: Arc::new(notifier),
        signer: Arc::new(LocalSigner::new(EcKey::generate().unwrap(), vec![])),
        delivery: Default::default(),
        policies: hanko::policy_source::Policies::Absent,
        reconcile_from: Default::default(),
        passkeys: hanko::passkeys::Passkeys::localhost(),
        metrics: Default::default(),
        events: Arc::new(hanko::events::NoEvents),
    }
}

#[tokio::test]
async fn an_unreachable_smtp_server_still_leaves_the_request_stored() {
    // A port nothing listens on: bind, note it, close.
    let port = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap().port()
    };
    let notifier = SmtpNotifier::new(
        &format!("smtp://127.0.0.1:{port}").into(),
        "hanko@example.com".into(),
        "https://approvals.example.com".into(),
        Arc::new(NoDirectory),
    )
    .unwrap();
    let hanko = hanko_with(notifier);
    let outcome = hanko
        .intake(&intake_message("smtp-down-token", json!({})), None)
        .await
        .unwrap();
    let IntakeOutcome::Created { id } = outcome else {
        panic!("not created: {outcome:?}");
    };
    assert!(hanko.store.get(&id).await.unwrap().is_some());
}

#[tokio::test]
async fn a_bad_smtp_url_or_sender_is_refused_at_start() {
    let bad_url = SmtpNotifier::new(
        &"http://mail.example.com".into(),
        "hanko@example.com".into(),
        "https://x".into(),
        Arc::new(NoDirectory),
    );
    assert!(bad_url.is_err());
    let bad_from = SmtpNotifier::new(
        &"smtp://127.0.0.1:25".into(),
        "not an address".into(),
        "https://x".into(),
        Arc::new(NoDirectory),
    );
    assert!(format!("{:#}", bad_from.err().unwrap()).contains("HANKO_MAIL_FROM"));
}
