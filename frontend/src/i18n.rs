//! Japanese and English: the words of the console, the current language, and dates and
//! relative times formatted with the browser's `Intl` in that language.
//!
//! The language follows `navigator.language` until the person picks one with the switch;
//! the choice is remembered in `localStorage` (it is not a secret).

use std::cell::RefCell;

use hanko_api::{Delivery, Outcome, RequestStatus, VoteBlock, VoteChoice};
use js_sys::{Array, Date, Intl, Object, Reflect};
use leptos::prelude::*;
use wasm_bindgen::JsValue;

const LANG_KEY: &str = "hanko.lang";

/// A language the console speaks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Lang {
    En,
    Ja,
}

impl Lang {
    /// The BCP 47 tag, for `<html lang>` and `Intl`.
    pub fn tag(self) -> &'static str {
        match self {
            Lang::En => "en",
            Lang::Ja => "ja",
        }
    }

    fn parse(s: &str) -> Option<Lang> {
        let s = s.to_ascii_lowercase();
        if s.starts_with("ja") {
            Some(Lang::Ja)
        } else if s.starts_with("en") {
            Some(Lang::En)
        } else {
            None
        }
    }
}

thread_local! {
    static LANG: ArcRwSignal<Lang> = ArcRwSignal::new(initial_lang());
    static FORMATTERS: RefCell<Option<(Lang, Intl::DateTimeFormat, Intl::RelativeTimeFormat)>> =
        const { RefCell::new(None) };
}

fn initial_lang() -> Lang {
    let window = web_sys::window();
    let stored = window
        .as_ref()
        .and_then(|w| w.local_storage().ok().flatten())
        .and_then(|s| s.get_item(LANG_KEY).ok().flatten())
        .and_then(|s| Lang::parse(&s));
    stored
        .or_else(|| {
            window
                .as_ref()
                .and_then(|w| w.navigator().language())
                .and_then(|l| Lang::parse(&l))
        })
        .unwrap_or(Lang::En)
}

/// The current language (reactive).
pub fn lang() -> Lang {
    LANG.with(|l| l.get())
}

/// Switches the language and remembers the choice.
pub fn set_lang(lang: Lang) {
    LANG.with(|l| l.set(lang));
    if let Some(storage) = web_sys::window().and_then(|w| w.local_storage().ok().flatten()) {
        let _ = storage.set_item(LANG_KEY, lang.tag());
    }
    apply_document_lang();
}

/// Sets `<html lang>` to the current language.
pub fn apply_document_lang() {
    let lang = LANG.with(|l| l.get_untracked());
    if let Some(html) = web_sys::window()
        .and_then(|w| w.document())
        .and_then(|d| d.document_element())
    {
        let _ = html.set_attribute("lang", lang.tag());
    }
}

/// The words of the current language (reactive).
pub fn t() -> &'static Texts {
    match lang() {
        Lang::En => &EN,
        Lang::Ja => &JA,
    }
}

/// One word of the console that follows the language (reactive), to put in a view:
/// `{tr(|t| t.retry)}`. Every such word is then one and the same closure type, so the
/// view code that renders and updates it is in the wasm once, not once per word.
pub fn tr(
    word: fn(&'static Texts) -> &'static str,
) -> impl Fn() -> &'static str + Copy + Send + Sync + 'static {
    move || word(t())
}

/// Every word the console shows, in one language.
pub struct Texts {
    pub app_name: &'static str,
    pub skip_to_content: &'static str,
    pub nav_label: &'static str,
    pub nav_inbox: &'static str,
    pub nav_all: &'static str,
    pub nav_history: &'static str,
    pub logout: &'static str,
    pub language: &'static str,
    pub signed_in_as: &'static str,

    pub login_title: &'static str,
    pub login_intro: &'static str,
    pub email: &'static str,
    pub password: &'static str,
    pub login_submit: &'static str,
    pub logging_in: &'static str,
    pub login_wrong: &'static str,
    pub login_missing: &'static str,
    pub login_expired: &'static str,
    /// "Log in with <provider>".
    pub login_with: fn(&str) -> String,
    /// Shown while the browser goes to the identity provider.
    pub login_redirecting: fn(&str) -> String,
    pub login_or: &'static str,
    pub login_start_failed: &'static str,
    pub callback_title: &'static str,
    pub callback_failed: &'static str,
    pub callback_state: &'static str,
    pub callback_provider: &'static str,
    pub callback_exchange: &'static str,
    pub callback_retry: &'static str,

    pub inbox_title: &'static str,
    pub inbox_intro: &'static str,
    pub inbox_empty: &'static str,
    pub inbox_empty_hint: &'static str,
    pub all_title: &'static str,
    pub all_intro: &'static str,
    pub all_empty: &'static str,
    pub history_title: &'static str,
    pub history_intro: &'static str,
    pub history_empty: &'static str,
    pub audit_title: &'static str,
    pub audit_intro: &'static str,
    pub audit_from: &'static str,
    pub audit_to: &'static str,
    pub audit_format: &'static str,
    pub audit_download: &'static str,
    pub audit_downloading: &'static str,
    pub filter_label: &'static str,
    pub filter_all: &'static str,
    pub filter_finished: &'static str,
    pub load_more: &'static str,
    pub loading: &'static str,
    pub retry: &'static str,
    pub error_title: &'static str,
    pub requested_by: &'static str,
    pub unknown_requester: &'static str,
    pub workflow: &'static str,
    pub due: &'static str,
    pub decided: &'static str,
    pub decided_by: &'static str,
    pub created: &'static str,

    pub breadcrumb: &'static str,
    pub back_to_inbox: &'static str,
    pub description: &'static str,
    pub details: &'static str,
    pub details_show: fn(usize) -> String,
    pub no_details: &'static str,
    pub overview: &'static str,
    pub state_machine: &'static str,
    pub execution: &'static str,
    pub state: &'static str,
    pub region: &'static str,
    pub open_in_aws: &'static str,
    pub new_tab: &'static str,
    pub deadline: &'static str,
    pub time_left: &'static str,
    pub deadline_passed: &'static str,
    pub votes: &'static str,
    pub votes_of: fn(u32, u32) -> String,
    pub approvers: &'static str,
    pub group: &'static str,
    pub has_voted: &'static str,
    pub no_votes: &'static str,
    pub self_approval_allowed: &'static str,

    pub your_decision: &'static str,
    pub comment: &'static str,
    pub comment_hint: &'static str,
    pub comment_required: &'static str,
    pub approve: &'static str,
    pub reject: &'static str,
    pub confirm_approve_title: &'static str,
    pub confirm_reject_title: &'static str,
    pub confirm_approve_body: &'static str,
    pub confirm_reject_body: &'static str,
    pub confirm_comment: &'static str,
    pub confirm_no_comment: &'static str,
    pub confirm_approve: &'static str,
    pub confirm_reject: &'static str,
    pub cancel: &'static str,
    pub sending: &'static str,
    pub decision_failed: &'static str,
    pub reload_request: &'static str,
    pub vote_recorded: &'static str,
    pub waiting_for_more: fn(u32) -> String,

    pub result_title: &'static str,
    pub decided_at: &'static str,
    pub delivery: &'static str,
    pub signature_note: &'static str,
    pub signature_show: &'static str,
    pub closed_reason: &'static str,
    pub policy: &'static str,
    pub policy_none: &'static str,
    pub escalation: &'static str,
    pub escalated_at: &'static str,
    pub escalates_at: &'static str,

    pub not_found_title: &'static str,
    pub not_found_body: &'static str,

    pub err_network: &'static str,
    pub err_decode: &'static str,
    pub err_session: &'static str,

    pub nav_passkeys: &'static str,
    pub passkeys_title: &'static str,
    pub passkeys_intro: &'static str,
    pub passkey_name: &'static str,
    pub passkey_name_hint: &'static str,
    pub passkey_add: &'static str,
    pub passkey_adding: &'static str,
    pub passkey_added: &'static str,
    pub passkey_add_failed: &'static str,
    pub passkey_remove: &'static str,
    pub passkeys_none: &'static str,
    pub passkey_created: &'static str,
    pub passkey_last_used: &'static str,
    pub passkey_never_used: &'static str,
    pub passkey_required_note: &'static str,
    pub passkey_missing: &'static str,
    pub passkey_go_add: &'static str,
    pub passkey_cancelled: &'static str,
    pub passkey_unsupported: &'static str,
}

const EN: Texts = Texts {
    app_name: "Hanko",
    skip_to_content: "Skip to content",
    nav_label: "Main",
    nav_inbox: "Inbox",
    nav_all: "All requests",
    nav_history: "History",
    logout: "Log out",
    language: "Language",
    signed_in_as: "Signed in as",

    login_title: "Log in to Hanko",
    login_intro: "Approval requests from your Step Functions workflows wait here for your decision.",
    email: "Email",
    password: "Password",
    login_submit: "Log in",
    logging_in: "Logging in…",
    login_wrong: "Wrong email or password.",
    login_missing: "Enter your email and password.",
    login_expired: "Your session has ended. Log in again to continue.",
    login_with: |p| format!("Log in with {p}"),
    login_redirecting: |p| format!("Taking you to {p}…"),
    login_or: "or with email and password",
    login_start_failed: "This browser could not start the login (it needs Web Crypto). Try another browser.",
    callback_title: "Logging you in…",
    callback_failed: "Logging in did not work",
    callback_state: "This login answer does not belong to a login started in this tab (it may be old or forged), so it was refused. Nobody was logged in.",
    callback_provider: "The identity provider refused the login:",
    callback_exchange: "The identity provider did not hand out the login tokens. Try again.",
    callback_retry: "Log in again",

    inbox_title: "Waiting for you",
    inbox_intro: "Requests you can still approve or reject, newest first.",
    inbox_empty: "Nothing waits for you.",
    inbox_empty_hint: "When a workflow asks for your approval, it shows up here.",
    all_title: "All requests",
    all_intro: "Every approval request, by status.",
    all_empty: "No requests with this status.",
    history_title: "History",
    history_intro: "Decided and finished requests, with who decided and when.",
    history_empty: "No finished requests yet.",
    audit_title: "Audit trail",
    audit_intro: "Download every decision and closed request of a period: who voted, what, when, with their comment, address and browser.",
    audit_from: "From",
    audit_to: "To (exclusive)",
    audit_format: "Format",
    audit_download: "Download",
    audit_downloading: "Preparing…",
    filter_label: "Filter by status",
    filter_all: "All",
    filter_finished: "All finished",
    load_more: "Load more",
    loading: "Loading…",
    retry: "Try again",
    error_title: "Something went wrong",
    requested_by: "Requested by",
    unknown_requester: "unknown requester",
    workflow: "Workflow",
    due: "Due",
    decided: "Decided",
    decided_by: "by",
    created: "Created",

    breadcrumb: "Breadcrumb",
    back_to_inbox: "Back to inbox",
    description: "Description",
    details: "Details from the workflow",
    details_show: |n| format!("JSON · {n} lines"),
    no_details: "The workflow sent no details.",
    overview: "Request",
    state_machine: "State machine",
    execution: "Execution",
    state: "State",
    region: "Region",
    open_in_aws: "Open in the AWS console",
    new_tab: "(opens in a new tab)",
    deadline: "Deadline",
    time_left: "left",
    deadline_passed: "The deadline has passed.",
    votes: "Votes",
    votes_of: |n, m| format!("{n} of {m} approvals"),
    approvers: "Who may decide",
    group: "group",
    has_voted: "voted",
    no_votes: "No votes yet.",
    self_approval_allowed: "The requester may approve this request.",

    your_decision: "Your decision",
    comment: "Comment",
    comment_hint: "Required when you reject. The workflow and the signed record keep it.",
    comment_required: "Write a comment to say why you reject this request.",
    approve: "Approve",
    reject: "Reject",
    confirm_approve_title: "Approve this request?",
    confirm_reject_title: "Reject this request?",
    confirm_approve_body: "You are about to approve:",
    confirm_reject_body: "You are about to reject:",
    confirm_comment: "Your comment:",
    confirm_no_comment: "No comment.",
    confirm_approve: "Yes, approve",
    confirm_reject: "Yes, reject",
    cancel: "Cancel",
    sending: "Sending…",
    decision_failed: "Your decision was not recorded",
    reload_request: "Reload this request",
    vote_recorded: "Your vote was recorded.",
    waiting_for_more: |n| {
        if n == 1 {
            "Waiting for 1 more approval.".to_string()
        } else {
            format!("Waiting for {n} more approvals.")
        }
    },

    result_title: "Decision",
    decided_at: "Decided",
    delivery: "Workflow",
    signature_note: "Signed decision record (JWS, ES256). Verify it with the keys at",
    signature_show: "Show signature",
    closed_reason: "Why it was closed",
    policy: "Approval policy",
    policy_none: "None: approvers chosen by the workflow",
    escalation: "Escalation",
    escalated_at: "Escalated",
    escalates_at: "If undecided by",

    not_found_title: "Page not found",
    not_found_body: "There is nothing at this address.",

    err_network: "Could not reach the Hanko server. Check your connection and try again.",
    err_decode: "The server sent an answer the console does not understand.",
    err_session: "Your session has ended. Log in again.",
    nav_passkeys: "Passkeys",
    passkeys_title: "Your passkeys",
    passkeys_intro: "A passkey on your device signs your approvals and rejections, so anyone can check that you decided, not only that Hanko recorded it. Adding one needs a recent login.",
    passkey_name: "Name",
    passkey_name_hint: "So you recognise it later, for example “work laptop”.",
    passkey_add: "Add a passkey",
    passkey_adding: "Waiting for your passkey…",
    passkey_added: "Passkey added.",
    passkey_add_failed: "The passkey was not added",
    passkey_remove: "Remove",
    passkeys_none: "You have no passkey yet.",
    passkey_created: "Added",
    passkey_last_used: "Last used",
    passkey_never_used: "never",
    passkey_required_note: "This request must be signed with your passkey: approving or rejecting ends with your device's passkey prompt.",
    passkey_missing: "You have no passkey yet. Add one under Passkeys, then come back to decide.",
    passkey_go_add: "Add a passkey",
    passkey_cancelled: "Your passkey did not sign (the prompt was cancelled or failed); nothing was recorded.",
    passkey_unsupported: "This browser cannot use passkeys.",
};

const JA: Texts = Texts {
    app_name: "Hanko",
    skip_to_content: "本文へ移動",
    nav_label: "メイン",
    nav_inbox: "受信箱",
    nav_all: "すべての申請",
    nav_history: "履歴",
    logout: "ログアウト",
    language: "言語",
    signed_in_as: "ログイン中",

    login_title: "Hanko にログイン",
    login_intro: "Step Functions のワークフローからの承認依頼が、あなたの判断を待っています。",
    email: "メールアドレス",
    password: "パスワード",
    login_submit: "ログイン",
    logging_in: "ログイン中…",
    login_wrong: "メールアドレスまたはパスワードが違います。",
    login_missing: "メールアドレスとパスワードを入力してください。",
    login_expired: "セッションが終了しました。続けるにはもう一度ログインしてください。",
    login_with: |p| format!("{p} でログイン"),
    login_redirecting: |p| format!("{p} に移動しています…"),
    login_or: "またはメールアドレスとパスワードで",
    login_start_failed: "このブラウザーではログインを開始できません（Web Crypto が必要です）。別のブラウザーをお試しください。",
    callback_title: "ログインしています…",
    callback_failed: "ログインできませんでした",
    callback_state: "このログインの応答は、このタブで開始したログインのものではありません（古いか偽造の可能性があります）。受け付けず、ログインもしていません。",
    callback_provider: "ID プロバイダーがログインを拒否しました：",
    callback_exchange: "ID プロバイダーからログイン用のトークンを受け取れませんでした。もう一度お試しください。",
    callback_retry: "もう一度ログイン",

    inbox_title: "あなたの承認待ち",
    inbox_intro: "あなたが承認・却下できる申請です（新しい順）。",
    inbox_empty: "承認待ちの申請はありません。",
    inbox_empty_hint: "ワークフローがあなたの承認を求めると、ここに表示されます。",
    all_title: "すべての申請",
    all_intro: "すべての承認申請を状態別に表示します。",
    all_empty: "この状態の申請はありません。",
    history_title: "履歴",
    history_intro: "決定・終了した申請と、誰がいつ決定したか。",
    history_empty: "終了した申請はまだありません。",
    audit_title: "監査証跡",
    audit_intro: "期間内のすべての決定と終了した申請をダウンロードします（誰が・何を・いつ・コメント・アドレス・ブラウザ）。",
    audit_from: "開始日",
    audit_to: "終了日（この日を含まない）",
    audit_format: "形式",
    audit_download: "ダウンロード",
    audit_downloading: "準備中…",
    filter_label: "状態で絞り込み",
    filter_all: "すべて",
    filter_finished: "終了したすべて",
    load_more: "さらに読み込む",
    loading: "読み込み中…",
    retry: "再試行",
    error_title: "エラーが発生しました",
    requested_by: "申請者",
    unknown_requester: "申請者不明",
    workflow: "ワークフロー",
    due: "期限",
    decided: "決定",
    decided_by: "決定者",
    created: "作成",

    breadcrumb: "パンくずリスト",
    back_to_inbox: "受信箱に戻る",
    description: "説明",
    details: "ワークフローからの詳細",
    details_show: |n| format!("JSON・{n} 行"),
    no_details: "ワークフローから詳細は送られていません。",
    overview: "申請",
    state_machine: "ステートマシン",
    execution: "実行",
    state: "ステート",
    region: "リージョン",
    open_in_aws: "AWS コンソールで開く",
    new_tab: "（新しいタブで開きます）",
    deadline: "期限",
    time_left: "残り",
    deadline_passed: "期限を過ぎました。",
    votes: "投票",
    votes_of: |n, m| format!("承認 {n} / {m}"),
    approvers: "決定できる人",
    group: "グループ",
    has_voted: "投票済み",
    no_votes: "まだ投票はありません。",
    self_approval_allowed: "申請者自身もこの申請を承認できます。",

    your_decision: "あなたの判断",
    comment: "コメント",
    comment_hint: "却下する場合は必須です。ワークフローと署名付き記録に残ります。",
    comment_required: "却下する理由をコメントに書いてください。",
    approve: "承認",
    reject: "却下",
    confirm_approve_title: "この申請を承認しますか？",
    confirm_reject_title: "この申請を却下しますか？",
    confirm_approve_body: "次の申請を承認します：",
    confirm_reject_body: "次の申請を却下します：",
    confirm_comment: "コメント：",
    confirm_no_comment: "コメントなし。",
    confirm_approve: "承認する",
    confirm_reject: "却下する",
    cancel: "キャンセル",
    sending: "送信中…",
    decision_failed: "判断は記録されませんでした",
    reload_request: "申請を再読み込み",
    vote_recorded: "あなたの投票を記録しました。",
    waiting_for_more: |n| format!("あと {n} 件の承認を待っています。"),

    result_title: "決定",
    decided_at: "決定日時",
    delivery: "ワークフロー",
    signature_note: "署名付きの決定記録（JWS, ES256）。検証用の公開鍵：",
    signature_show: "署名を表示",
    closed_reason: "終了の理由",
    policy: "承認ポリシー",
    policy_none: "なし（承認者はワークフローが指定）",
    escalation: "エスカレーション",
    escalated_at: "エスカレーション済み",
    escalates_at: "未判断なら",

    not_found_title: "ページが見つかりません",
    not_found_body: "このアドレスには何もありません。",

    err_network: "Hanko サーバーに接続できません。接続を確認して再試行してください。",
    err_decode: "サーバーの応答を解釈できませんでした。",
    err_session: "セッションが終了しました。もう一度ログインしてください。",
    nav_passkeys: "パスキー",
    passkeys_title: "あなたのパスキー",
    passkeys_intro: "あなたの端末のパスキーが承認・却下に署名します。Hanko が記録したことだけでなく、あなた自身が判断したことを誰でも確かめられます。追加には最近のログインが必要です。",
    passkey_name: "名前",
    passkey_name_hint: "後で見分けられる名前(例: 「仕事用ノートPC」)。",
    passkey_add: "パスキーを追加",
    passkey_adding: "パスキーを待っています…",
    passkey_added: "パスキーを追加しました。",
    passkey_add_failed: "パスキーは追加されませんでした",
    passkey_remove: "削除",
    passkeys_none: "パスキーはまだありません。",
    passkey_created: "追加",
    passkey_last_used: "最終使用",
    passkey_never_used: "未使用",
    passkey_required_note: "この申請にはパスキーでの署名が必要です。承認・却下の最後に端末のパスキー確認が表示されます。",
    passkey_missing: "パスキーがまだありません。「パスキー」で追加してから、戻って判断してください。",
    passkey_go_add: "パスキーを追加する",
    passkey_cancelled: "パスキーで署名されませんでした(確認がキャンセルされたか失敗しました)。何も記録されていません。",
    passkey_unsupported: "このブラウザはパスキーを使えません。",
};

/// The name of a request status.
pub fn status_name(status: RequestStatus) -> &'static str {
    match (lang(), status) {
        (Lang::En, RequestStatus::Pending) => "Pending",
        (Lang::En, RequestStatus::Approved) => "Approved",
        (Lang::En, RequestStatus::Rejected) => "Rejected",
        (Lang::En, RequestStatus::Expired) => "Expired",
        (Lang::En, RequestStatus::Closed) => "Closed",
        (Lang::Ja, RequestStatus::Pending) => "承認待ち",
        (Lang::Ja, RequestStatus::Approved) => "承認済み",
        (Lang::Ja, RequestStatus::Rejected) => "却下",
        (Lang::Ja, RequestStatus::Expired) => "期限切れ",
        (Lang::Ja, RequestStatus::Closed) => "終了",
    }
}

/// Why the viewer may not vote, in words.
pub fn vote_block(reason: VoteBlock) -> &'static str {
    match (lang(), reason) {
        (Lang::En, VoteBlock::NotAnApprover) => {
            "You are not among the approvers of this request, so you cannot decide it."
        }
        (Lang::En, VoteBlock::OwnRequest) => {
            "You asked for this approval yourself; someone else has to decide it."
        }
        (Lang::En, VoteBlock::AlreadyVoted) => "You have already voted on this request.",
        (Lang::En, VoteBlock::Decided) => "This request has already been decided.",
        (Lang::En, VoteBlock::Expired) => {
            "This request expired before a decision; it can no longer be decided."
        }
        (Lang::En, VoteBlock::Closed) => {
            "The workflow no longer waits for this request; it can no longer be decided."
        }
        (Lang::Ja, VoteBlock::NotAnApprover) => {
            "あなたはこの申請の承認者ではないため、判断できません。"
        }
        (Lang::Ja, VoteBlock::OwnRequest) => {
            "あなた自身の申請です。ほかの承認者が判断する必要があります。"
        }
        (Lang::Ja, VoteBlock::AlreadyVoted) => "この申請にはすでに投票しています。",
        (Lang::Ja, VoteBlock::Decided) => "この申請はすでに決定されています。",
        (Lang::Ja, VoteBlock::Expired) => {
            "この申請は決定前に期限切れになったため、判断できません。"
        }
        (Lang::Ja, VoteBlock::Closed) => {
            "ワークフローはもうこの申請を待っていないため、判断できません。"
        }
        (Lang::En, VoteBlock::NotADelegate) => {
            "You may vote for that person only as their delegate, while the delegation is in force."
        }
        (Lang::Ja, VoteBlock::NotADelegate) => {
            "代理期間中の代理人だけが、その人の代わりに投票できます。"
        }
    }
}

/// The name of one vote.
pub fn choice_name(choice: VoteChoice) -> &'static str {
    match (lang(), choice) {
        (Lang::En, VoteChoice::Approve) => "Approved",
        (Lang::En, VoteChoice::Reject) => "Rejected",
        (Lang::Ja, VoteChoice::Approve) => "承認",
        (Lang::Ja, VoteChoice::Reject) => "却下",
    }
}

/// The name of a final outcome.
pub fn outcome_name(outcome: Outcome) -> &'static str {
    match (lang(), outcome) {
        (Lang::En, Outcome::Approved) => "Approved",
        (Lang::En, Outcome::Rejected) => "Rejected",
        (Lang::Ja, Outcome::Approved) => "承認されました",
        (Lang::Ja, Outcome::Rejected) => "却下されました",
    }
}

/// Whether the workflow has been told, in words.
pub fn delivery_name(delivery: Delivery) -> &'static str {
    match (lang(), delivery) {
        (Lang::En, Delivery::Pending) => "Not yet handed to the workflow; Hanko keeps trying.",
        (Lang::En, Delivery::Delivered) => "Handed to the workflow, which has resumed.",
        (Lang::En, Delivery::TaskGone) => {
            "The workflow no longer waited (its execution ended or timed out)."
        }
        (Lang::Ja, Delivery::Pending) => {
            "ワークフローへの通知はまだです。Hanko が再試行しています。"
        }
        (Lang::Ja, Delivery::Delivered) => "ワークフローに通知し、実行が再開されました。",
        (Lang::Ja, Delivery::TaskGone) => {
            "ワークフローはもう待っていませんでした（実行が終了またはタイムアウト）。"
        }
        (Lang::En, Delivery::Unconfirmed) => {
            "An attempt to hand it to the workflow got no answer; Hanko keeps trying."
        }
        (Lang::En, Delivery::DeliveredOrGone) => {
            "Handed to the workflow by an attempt that got no answer, or the workflow had already stopped waiting (see why below)."
        }
        (Lang::Ja, Delivery::Unconfirmed) => {
            "ワークフローへの通知に応答がありませんでした。Hanko が再試行しています。"
        }
        (Lang::Ja, Delivery::DeliveredOrGone) => {
            "応答のなかった通知で届いたか、ワークフローがすでに待っていませんでした（理由は下記）。"
        }
    }
}

/// The locale `Intl` formats in: the browser's own variant of the current language when it
/// names one (`en-GB` reads "5 Dec 2026, 22:44", `en-US` "Dec 5, 2026, 10:44 PM"), else the
/// bare language.
fn intl_locale(lang: Lang) -> String {
    let preferred = web_sys::window()
        .map(|w| w.navigator().languages().to_vec())
        .unwrap_or_default();
    preferred
        .iter()
        .filter_map(JsValue::as_string)
        .find(|tag| Lang::parse(tag) == Some(lang))
        .unwrap_or_else(|| lang.tag().to_string())
}

fn formatters<R>(f: impl FnOnce(&Intl::DateTimeFormat, &Intl::RelativeTimeFormat) -> R) -> R {
    let lang = lang();
    FORMATTERS.with(|cell| {
        let mut slot = cell.borrow_mut();
        if slot.as_ref().is_none_or(|(l, _, _)| *l != lang) {
            let locales = Array::of1(&JsValue::from_str(&intl_locale(lang)));
            // In the browser's time zone, named: "5 Dec 2026, 22:44 GMT+9",
            // "2026年12月5日 22:44 JST".
            let dt_opts = Object::new();
            for (key, value) in [
                ("year", "numeric"),
                ("month", "short"),
                ("day", "numeric"),
                ("hour", "numeric"),
                ("minute", "2-digit"),
                ("timeZoneName", "short"),
            ] {
                let _ = Reflect::set(&dt_opts, &key.into(), &value.into());
            }
            let rt_opts = Object::new();
            let _ = Reflect::set(&rt_opts, &"numeric".into(), &"auto".into());
            *slot = Some((
                lang,
                Intl::DateTimeFormat::new(&locales, &dt_opts),
                Intl::RelativeTimeFormat::new(&locales, &rt_opts),
            ));
        }
        let (_, dt, rt) = slot.as_ref().expect("formatters were just made");
        f(dt, rt)
    })
}

/// A moment as a date and time in the current language and the browser's time zone, e.g.
/// "Dec 5, 2026, 10:44 PM GMT+9", "2026年12月5日 22:44 JST".
pub fn format_datetime(ms: f64) -> String {
    formatters(|dt, _| {
        let date = Date::new(&JsValue::from_f64(ms));
        dt.format()
            .call1(&JsValue::NULL, &date)
            .ok()
            .and_then(|v| v.as_string())
            .unwrap_or_default()
    })
}

/// A moment relative to `now`, e.g. "3 hours ago", "in 2 days", "3 時間前".
pub fn format_relative(ms: f64, now: f64) -> String {
    let secs = (ms - now) / 1000.0;
    let abs = secs.abs();
    let (value, unit) = if abs < 45.0 {
        (0.0, "second")
    } else if abs < 3600.0 {
        ((secs / 60.0).round(), "minute")
    } else if abs < 86_400.0 {
        ((secs / 3600.0).round(), "hour")
    } else if abs < 30.0 * 86_400.0 {
        ((secs / 86_400.0).round(), "day")
    } else if abs < 365.0 * 86_400.0 {
        ((secs / (30.0 * 86_400.0)).round(), "month")
    } else {
        ((secs / (365.0 * 86_400.0)).round(), "year")
    };
    // `-0` would read "0 seconds ago" in some engines; make it a plain zero ("now").
    let value = if value == 0.0 { 0.0 } else { value };
    formatters(|_, rt| rt.format(value, unit).as_string().unwrap_or_default())
}

/// Time left until a deadline as a ticking countdown, e.g. "1d 04:05:09", "1日 04:05:09".
pub fn format_countdown(ms_left: f64) -> String {
    let total = (ms_left / 1000.0).max(0.0).floor() as u64;
    let (d, h, m, s) = (
        total / 86_400,
        (total % 86_400) / 3600,
        (total % 3600) / 60,
        total % 60,
    );
    let clock = format!("{h:02}:{m:02}:{s:02}");
    match (d, lang()) {
        (0, _) => clock,
        (d, Lang::En) => format!("{d}d {clock}"),
        (d, Lang::Ja) => format!("{d}日 {clock}"),
    }
}

/// The words of delegation ("while I am away"): its page, and voting for someone.
pub struct AwayTexts {
    pub nav: &'static str,
    pub title: &'static str,
    pub intro: &'static str,
    pub rules: &'static str,
    pub current_title: &'static str,
    pub none: &'static str,
    /// "carol@example.com decides for you".
    pub decides_for_you: fn(&str) -> String,
    pub active: &'static str,
    pub upcoming: &'static str,
    pub from: &'static str,
    pub until: &'static str,
    pub end: &'static str,
    pub form_title: &'static str,
    pub delegate: &'static str,
    pub delegate_hint: &'static str,
    pub times_hint: &'static str,
    pub save: &'static str,
    pub saving: &'static str,
    pub saved: &'static str,
    pub ended: &'static str,
    pub bad_time: &'static str,
    pub failed: &'static str,
    pub standing_title: &'static str,
    pub standing_none: &'static str,
    pub vote_as: &'static str,
    pub as_myself: &'static str,
    /// The choice to vote in someone's seat: "For alice@example.com".
    pub for_whom: fn(&str) -> String,
    /// After a delegate's name in the votes: "for alice@example.com".
    pub voted_for: fn(&str) -> String,
}

const AWAY_EN: AwayTexts = AwayTexts {
    nav: "While I am away",
    title: "While I am away",
    intro: "Name someone who decides for you while you are away. From the start to the end, they see the requests you approve and may vote in your place.",
    rules: "Their vote takes your seat: you and your delegate count once. They cannot approve a request either of you asked for, and they cannot pass your seat on. They vote for you on requests that name you or a group you are in now.",
    current_title: "Your delegation",
    none: "Nobody decides for you.",
    decides_for_you: |who| format!("{who} decides for you"),
    active: "In force now",
    upcoming: "Not begun yet",
    from: "From",
    until: "Until",
    end: "End the delegation",
    form_title: "Name a delegate",
    delegate: "Who decides for me (email)",
    delegate_hint: "One person. A new delegation replaces the one you have.",
    times_hint: "Times are in your time zone. At most 90 days.",
    save: "Save delegation",
    saving: "Saving…",
    saved: "Your delegation is saved.",
    ended: "Your delegation has ended.",
    bad_time: "Enter a date and time for both the start and the end.",
    failed: "The delegation was not saved",
    standing_title: "You stand in for",
    standing_none: "Nobody has named you as their delegate.",
    vote_as: "Vote as",
    as_myself: "Myself",
    for_whom: |who| format!("For {who}"),
    voted_for: |who| format!("for {who}"),
};

const AWAY_JA: AwayTexts = AwayTexts {
    nav: "不在時の代理",
    title: "不在時の代理",
    intro: "不在の間、あなたの代わりに判断する人を指定します。開始から終了まで、その人はあなたが承認者である申請を見て、あなたの代わりに投票できます。",
    rules: "代理人の票はあなたの一票として数えられ、あなたと代理人で合わせて一票です。どちらかが出した申請は承認できず、代理をさらに別の人に任せることもできません。対象は、あなた自身か、いま所属しているグループが承認者である申請です。",
    current_title: "あなたの代理設定",
    none: "代理人は設定されていません。",
    decides_for_you: |who| format!("{who} があなたの代わりに判断します"),
    active: "有効",
    upcoming: "開始前",
    from: "開始",
    until: "終了",
    end: "代理を終了する",
    form_title: "代理人を指定",
    delegate: "代理人 (メールアドレス)",
    delegate_hint: "一人だけ指定できます。新しく指定すると、いまの設定は置き換わります。",
    times_hint: "日時はお使いのタイムゾーンです。最長 90 日です。",
    save: "代理を保存",
    saving: "保存中…",
    saved: "代理を保存しました。",
    ended: "代理を終了しました。",
    bad_time: "開始と終了の日時を入力してください。",
    failed: "代理を保存できませんでした",
    standing_title: "あなたが代理を務める人",
    standing_none: "あなたを代理人に指定している人はいません。",
    vote_as: "投票する立場",
    as_myself: "自分として",
    for_whom: |who| format!("{who} の代理として"),
    voted_for: |who| format!("({who} の代理)"),
};

/// The words of delegation in the current language (reactive).
pub fn away() -> &'static AwayTexts {
    match lang() {
        Lang::En => &AWAY_EN,
        Lang::Ja => &AWAY_JA,
    }
}

/// One word of delegation that follows the language, to put in a view (see [`tr`]).
pub fn tr_away(
    word: fn(&'static AwayTexts) -> &'static str,
) -> impl Fn() -> &'static str + Copy + Send + Sync + 'static {
    move || word(away())
}
