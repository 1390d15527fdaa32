//! Times in the console are the reader's own: in the browser's time zone, in the console's
//! language, with the zone named, and the same moment in UTC in the tooltip.

use chrono::{DateTime, Datelike, FixedOffset, Timelike, Utc};
use hanko_e2e::browser::{Browser, BrowserOptions};
use hanko_e2e::{Stack, example_input};
use serde_json::json;

/// CLDR's abbreviated month names in British English (September is "Sept").
const EN_GB_MONTHS: [&str; 12] = [
    "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sept", "Oct", "Nov", "Dec",
];

/// The `datetime`, text and tooltip of the first `<time>` inside `css`.
async fn time_in(b: &Browser, css: &str) -> (DateTime<Utc>, String, String) {
    let el = b.wait_for(&format!("{css} time")).await;
    let at = el.attr("datetime").await.unwrap().expect("a datetime");
    let at = DateTime::parse_from_rfc3339(&at).unwrap().to_utc();
    let text = el.text().await.unwrap();
    let title = el.attr("title").await.unwrap().unwrap_or_default();
    (at, text, title)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_reader_in_tokyo_sees_times_in_japan_time_in_english_and_japanese_with_utc_on_hover() {
    let stack = Stack::start_with(true).await.expect("stack");
    let input = example_input("Renew the TLS certificate", json!(["alice@example.com"]), 1);
    stack.start_execution("local-time", input).await.unwrap();
    let alice = stack
        .login("alice@example.com", "alice-approves")
        .await
        .unwrap();
    let id = stack.wait_for_request("local-time", &alice).await.unwrap();

    // The machine's zone is UTC; the browser's is Tokyo's (UTC+9, no summer time).
    let b = Browser::start_with(BrowserOptions {
        lang: "en-GB".into(),
        time_zone: Some("Asia/Tokyo".into()),
    })
    .await;
    b.client
        .goto(&format!("{}/approvals/{id}", stack.base))
        .await
        .unwrap();
    b.log_in("alice@example.com", "alice-approves").await;
    b.wait_for("#request-title").await;

    let (at, text, title) = time_in(&b, "#request-created").await;
    let tokyo = at.with_timezone(&FixedOffset::east_opt(9 * 3600).unwrap());
    let utc = at.format("%Y-%m-%d %H:%M UTC").to_string();
    let english = format!(
        "{} {} {}, {:02}:{:02} GMT+9",
        tokyo.day(),
        EN_GB_MONTHS[tokyo.month0() as usize],
        tokyo.year(),
        tokyo.hour(),
        tokyo.minute()
    );
    assert_eq!(text, english, "the creation time in English, in Tokyo");
    assert_eq!(title, utc, "the tooltip has the time in UTC");

    // "3 minutes ago": its tooltip has the local time and the UTC one.
    let (_, _, relative_title) = time_in(&b, ".request-sub").await;
    assert_eq!(relative_title, format!("{english}\n{utc}"));

    b.wait_for("#lang-ja").await.click().await.unwrap();
    b.wait_for("html[lang='ja']").await;
    let japanese = format!(
        "{}年{}月{}日 {}:{:02} JST",
        tokyo.year(),
        tokyo.month(),
        tokyo.day(),
        tokyo.hour(),
        tokyo.minute()
    );
    let (_, text, title) = time_in(&b, "#request-created").await;
    assert_eq!(text, japanese, "the creation time in Japanese, in Tokyo");
    assert_eq!(title, utc);
    let (_, _, relative_title) = time_in(&b, ".request-sub").await;
    assert_eq!(relative_title, format!("{japanese}\n{utc}"));
    b.close().await;
    stack.stop().await.unwrap();
}
