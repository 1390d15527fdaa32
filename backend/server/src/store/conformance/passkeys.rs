//! The passkey checks of the conformance suite: credentials per person, single-use nonces,
//! and a vote's passkey signature kept with the vote.

use chrono::{DateTime, Duration, TimeZone, Utc};
use hanko_api::{PasskeySignature, VoteChoice};
use serde_json::json;

use super::{ballot, id, insert, now_ms};
use crate::store::{PasskeyNonce, Store, StoredPasskey, VoteWrite};

fn at(ms: i64) -> DateTime<Utc> {
    Utc.timestamp_millis_opt(ms).single().expect("a valid time")
}

fn passkey(person: &str, id: &str, created_ms: i64) -> StoredPasskey {
    StoredPasskey {
        person: person.into(),
        id: id.into(),
        name: format!("key {id}"),
        credential: format!(r#"{{"cred_id":"{id}"}}"#),
        created_at: at(created_ms),
        last_used_at: None,
    }
}

fn nonce(value: &str, person: &str, expires_at: DateTime<Utc>) -> PasskeyNonce {
    PasskeyNonce {
        nonce: value.into(),
        person: person.into(),
        purpose: "vote:0193".into(),
        state: r#"{"s":1}"#.into(),
        expires_at,
    }
}

pub async fn passkeys_are_kept_per_person_used_and_removed(s: &dyn Store) {
    assert!(s.passkeys("a@x.io").await.unwrap().is_empty());
    assert!(
        s.add_passkey(&passkey("a@x.io", "k2", 2_000))
            .await
            .unwrap()
    );
    assert!(
        s.add_passkey(&passkey("a@x.io", "k1", 1_000))
            .await
            .unwrap()
    );
    assert!(
        s.add_passkey(&passkey("b@x.io", "k1", 3_000))
            .await
            .unwrap()
    );
    assert!(
        !s.add_passkey(&passkey("a@x.io", "k1", 4_000))
            .await
            .unwrap(),
        "the same credential twice for one person is refused"
    );
    let mine = s.passkeys("a@x.io").await.unwrap();
    assert_eq!(
        mine,
        vec![
            passkey("a@x.io", "k1", 1_000),
            passkey("a@x.io", "k2", 2_000)
        ],
        "oldest first, each as written"
    );

    let used = at(5_000);
    assert!(
        s.passkey_used("a@x.io", "k1", r#"{"n":2}"#, used)
            .await
            .unwrap()
    );
    assert!(!s.passkey_used("a@x.io", "k9", "{}", used).await.unwrap());
    let k1 = s.passkeys("a@x.io").await.unwrap().remove(0);
    assert_eq!(k1.credential, r#"{"n":2}"#);
    assert_eq!(k1.last_used_at, Some(used));
    assert_eq!(
        s.passkeys("b@x.io").await.unwrap()[0].credential,
        r#"{"cred_id":"k1"}"#,
        "another person's key of the same id is untouched"
    );

    assert!(s.remove_passkey("a@x.io", "k1").await.unwrap());
    assert!(!s.remove_passkey("a@x.io", "k1").await.unwrap());
    assert!(!s.remove_passkey("c@x.io", "k2").await.unwrap());
    let left: Vec<String> = s
        .passkeys("a@x.io")
        .await
        .unwrap()
        .into_iter()
        .map(|p| p.id)
        .collect();
    assert_eq!(left, vec!["k2"]);
    assert_eq!(s.passkeys("b@x.io").await.unwrap().len(), 1);
}

pub async fn a_nonce_is_taken_once_by_its_person_before_it_expires(s: &dyn Store) {
    let now = now_ms();
    let n = nonce("n1", "a@x.io", now + Duration::minutes(5));
    s.put_nonce(&n).await.unwrap();
    assert_eq!(s.take_nonce("n1", "a@x.io", now).await.unwrap(), Some(n));
    assert_eq!(s.take_nonce("n1", "a@x.io", now).await.unwrap(), None);
    assert_eq!(s.take_nonce("nope", "a@x.io", now).await.unwrap(), None);

    s.put_nonce(&nonce("n2", "a@x.io", now + Duration::minutes(5)))
        .await
        .unwrap();
    assert_eq!(
        s.take_nonce("n2", "b@x.io", now).await.unwrap(),
        None,
        "another person's nonce is not theirs to use"
    );
    assert_eq!(
        s.take_nonce("n2", "a@x.io", now).await.unwrap(),
        None,
        "and it is used up"
    );

    s.put_nonce(&nonce("n3", "a@x.io", now + Duration::seconds(1)))
        .await
        .unwrap();
    assert_eq!(
        s.take_nonce("n3", "a@x.io", now + Duration::seconds(2))
            .await
            .unwrap(),
        None,
        "expired"
    );
}

pub async fn a_nonce_taken_by_racers_is_taken_once(s: &dyn Store) {
    let now = now_ms();
    s.put_nonce(&nonce("race", "a@x.io", now + Duration::minutes(5)))
        .await
        .unwrap();
    let take = || async { s.take_nonce("race", "a@x.io", now).await.unwrap() };
    let got = tokio::join!(take(), take(), take(), take(), take());
    let got = [got.0, got.1, got.2, got.3, got.4];
    assert_eq!(got.iter().filter(|g| g.is_some()).count(), 1, "{got:?}");
}

pub async fn a_votes_passkey_signature_is_kept_with_the_vote(s: &dyn Store) {
    insert(s, 31, &["a@x.io"], Duration::hours(1)).await;
    let before = s.get(&id(31)).await.unwrap().unwrap();
    let mut b = ballot("a@x.io", VoteChoice::Approve);
    b.passkey = Some(PasskeySignature {
        credential_id: "Y3JlZA".into(),
        public_key: json!({"type_": "ES256", "key": {"EC_EC2": {"curve": "SECP256R1", "x": "AA", "y": "AQ"}}}),
        rp_id: "hanko.example.com".into(),
        nonce: "bm9uY2U".into(),
        authenticator_data: "YXV0aA".into(),
        client_data_json: "eyJ0eXBlIjoid2ViYXV0aG4uZ2V0In0".into(),
        signature: "c2ln".into(),
        user_verified: true,
        backup_eligible: false,
    });
    let now = now_ms();
    assert!(
        s.record_vote(VoteWrite {
            id: &id(31),
            expected_version: before.version,
            ballot: &b,
            decision: None,
            lease_until: now,
            now,
        })
        .await
        .unwrap()
    );
    let got = s.get(&id(31)).await.unwrap().unwrap();
    assert_eq!(got.votes, vec![b]);
}
