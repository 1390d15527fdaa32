//! Configuration. [`ServeArgs`] is what can be said: command-line flags that mirror
//! environment variables, each value parsed on its own. [`Config`] is what it means, built
//! from them once at start ([`Config::from_args`]): enums whose variants carry the settings
//! they need (a DynamoDB store has its table, a KMS signer its key), so what is built from
//! it needs no second check. A missing or contradictory setting is refused there, with a
//! message that names the variable.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use anyhow::bail;
use clap::{Args, ValueEnum};
use secrecy::SecretString;
use url::Url;

/// Where requests, votes and decisions are kept.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum StoreKind {
    /// One SQLite file (HANKO_DATABASE).
    Sqlite,
    /// A DynamoDB table (HANKO_TABLE).
    Dynamodb,
}
pub use crate::auth::TokenUse;

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum LogFormat {
    Text,
    Json,
}

/// What signs decision records.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum SignerKind {
    /// A P-256 key file (`HANKO_SIGNING_KEY`).
    Local,
    /// A KMS asymmetric key (`HANKO_KMS_KEY_ID`).
    Kms,
}

/// How approvers are told.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum NotifierKind {
    /// `.eml` files in `HANKO_OUTBOX_DIR`.
    Outbox,
    /// Amazon SES (SendEmail), from `HANKO_MAIL_FROM`.
    Ses,
    /// An SMTP server (`HANKO_SMTP_URL`).
    Smtp,
}

/// The role of a Lambda function (`HANKO_HANDLER`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Handler {
    /// The api: the same Router through `lambda_http`.
    Api,
    /// Approval requests invoked directly by a state machine.
    Intake,
    /// Approval requests from the intake queue (an SQS event source).
    Sqs,
    /// Scheduled housekeeping.
    Sweeper,
}

/// Everything `hanko serve` (and the Lambda handlers) can be told, as flags and variables;
/// [`Config::from_args`] makes sense of it.
#[derive(Debug, Clone, Args)]
pub struct ServeArgs {
    /// Address to listen on (port 0 picks a free one).
    #[arg(long, env = "HANKO_LISTEN", default_value = "127.0.0.1:8080")]
    pub listen: SocketAddr,

    /// The console's public URL, used in the deep links of emails. Defaults to http://<listen>.
    #[arg(long, env = "HANKO_PUBLIC_URL", value_parser = parse_public_url)]
    pub public_url: Option<Url>,

    /// The relying party id of passkeys: the console's domain (a passkey works only there).
    /// Default: the host of HANKO_PUBLIC_URL, else `localhost`.
    #[arg(long, env = "HANKO_PASSKEY_RP_ID")]
    pub passkey_rp_id: Option<String>,

    /// Every vote must be signed with the approver's passkey (whatever the policy says).
    #[arg(long, env = "HANKO_REQUIRE_PASSKEY",
          value_parser = clap::builder::BoolishValueParser::new())]
    pub require_passkey: bool,

    /// Folder for the database, keys and outbox when their own paths are not given.
    #[arg(long, env = "HANKO_DATA_DIR", default_value = ".hanko")]
    pub data_dir: PathBuf,

    /// SQLite database file (created with its schema on first start). Default: <data-dir>/hanko.db.
    #[arg(long, env = "HANKO_DATABASE")]
    pub database: Option<PathBuf>,

    /// Decision signing key, PKCS#8 PEM (P-256), generated if missing. Default: <data-dir>/signing-key.pem.
    #[arg(long, env = "HANKO_SIGNING_KEY")]
    pub signing_key: Option<PathBuf>,

    /// Users file of the dev identity provider (JSON). Without it the dev login is off.
    #[arg(long, env = "HANKO_DEV_USERS")]
    pub dev_users: Option<PathBuf>,

    /// The dev identity provider's token key, generated if missing. Default: <data-dir>/dev-idp-key.pem.
    #[arg(long, env = "HANKO_DEV_IDP_KEY")]
    pub dev_idp_key: Option<PathBuf>,

    /// Serve the dev login (HANKO_DEV_USERS) on an address that is not loopback; without
    /// it `hanko serve` refuses to start so.
    #[arg(long, env = "HANKO_DEV_LOGIN_ANYWHERE",
          value_parser = clap::builder::BoolishValueParser::new())]
    pub dev_login_anywhere: bool,

    /// SQS queue that state machines send approval requests to; polled when set.
    #[arg(long, env = "HANKO_INTAKE_QUEUE_URL")]
    pub intake_queue_url: Option<String>,

    /// Long-poll wait of the intake poller, in seconds (0-20).
    #[arg(long, env = "HANKO_INTAKE_WAIT_SECONDS", default_value_t = 20,
          value_parser = clap::value_parser!(i32).range(0..=20))]
    pub intake_wait_seconds: i32,

    /// Folder where notification emails are written as .eml files. Default: <data-dir>/outbox.
    #[arg(long, env = "HANKO_OUTBOX_DIR")]
    pub outbox_dir: Option<PathBuf>,

    /// Sender address of notification emails.
    #[arg(long, env = "HANKO_MAIL_FROM", default_value = "hanko@localhost")]
    pub mail_from: String,

    /// Built console to serve (Trunk's dist folder). Without it only the api is served.
    #[arg(long, env = "HANKO_CONSOLE_DIR")]
    pub console_dir: Option<PathBuf>,

    /// Seconds between housekeeping passes (expire overdue requests, retry deliveries).
    #[arg(long, env = "HANKO_SWEEP_INTERVAL_SECONDS", default_value_t = 5,
          value_parser = clap::value_parser!(u64).range(1..=3600))]
    pub sweep_interval_seconds: u64,

    /// Endpoint for every AWS service (a local emulator). Unset: real AWS.
    #[arg(long, env = "AWS_ENDPOINT_URL")]
    pub aws_endpoint_url: Option<String>,

    /// Where requests are kept: sqlite (one file) or dynamodb (a table, HANKO_TABLE).
    #[arg(
        long = "store",
        env = "HANKO_STORE",
        value_enum,
        default_value = "sqlite"
    )]
    pub store: StoreKind,

    /// The DynamoDB table (with HANKO_STORE=dynamodb), shaped as infra/template.yaml makes it.
    #[arg(long, env = "HANKO_TABLE")]
    pub table: Option<String>,

    /// Days a decided or closed request is kept in DynamoDB before its TTL removes it.
    #[arg(long, env = "HANKO_RETENTION_DAYS", default_value_t = 400,
          value_parser = clap::value_parser!(u32).range(1..=36_500))]
    pub retention_days: u32,

    /// Log lines as text or JSON.
    #[arg(long, env = "HANKO_LOG_FORMAT", value_enum, default_value = "text")]
    pub log_format: LogFormat,

    /// CloudWatch namespace of the metrics, written as Embedded Metric Format lines on
    /// standard output with HANKO_LOG_FORMAT=json (as debug log lines with text logs).
    #[arg(long, env = "HANKO_METRICS_NAMESPACE", default_value = crate::metrics::DEFAULT_NAMESPACE,
          value_parser = metrics_namespace)]
    pub metrics_namespace: String,

    /// Longest age, in seconds, of a login that may still decide (its `auth_time`).
    /// Older logins can read but must log in again to approve or reject. Unset: no limit.
    #[arg(long, env = "HANKO_MAX_AUTH_AGE_SECONDS",
          value_parser = clap::value_parser!(u64).range(1..=31_536_000))]
    pub max_auth_age_seconds: Option<u64>,

    /// Members of this group may export the audit trail (`GET /api/audit`).
    #[arg(long, env = "HANKO_AUDITOR_GROUP", default_value = "auditors")]
    pub auditor_group: String,

    /// The operator's approval policy document (TOML or JSON): who may be asked to decide
    /// for which state machines. Unset (and no HANKO_POLICY_PARAMETER): each workflow names
    /// its own approvers.
    #[arg(long, env = "HANKO_POLICY_FILE", conflicts_with = "policy_parameter")]
    pub policy_file: Option<PathBuf>,

    /// SSM parameter holding the approval policy document (on AWS); read at start and
    /// again when the copy is a minute old.
    #[arg(long, env = "HANKO_POLICY_PARAMETER")]
    pub policy_parameter: Option<String>,

    /// Longest time one api request may take before it is answered with a 503.
    #[arg(long, env = "HANKO_REQUEST_TIMEOUT_SECONDS", default_value_t = 15,
          value_parser = clap::value_parser!(u64).range(1..=900))]
    pub request_timeout_seconds: u64,

    /// Header in which a trusted proxy in front of Hanko puts the caller's address, for the
    /// audit trail and the login rate limit (behind CloudFront: cloudfront-viewer-address).
    /// Set it only when every request comes through that proxy.
    #[arg(long, env = "HANKO_CLIENT_IP_HEADER", value_parser = parse_header_name)]
    pub client_ip_header: Option<axum::http::HeaderName>,

    /// Secret the trusted proxy in front of Hanko sends in `x-hanko-origin-secret` (the
    /// stack: a CloudFront origin custom header). When set, every request without it is
    /// refused with 403 `forbidden_origin`, and HANKO_CLIENT_IP_HEADER is believed only on
    /// requests that carry it. Unset: every request is served. At least 16 characters.
    #[arg(long, env = "HANKO_ORIGIN_SECRET", hide_env_values = true,
          value_parser = |s: &str| match s.len() {
              16.. => Ok(SecretString::from(s)),
              _ => Err("HANKO_ORIGIN_SECRET must be at least 16 characters"),
          })]
    pub origin_secret: Option<SecretString>,

    /// Dev login attempts allowed per minute from one source address for one email, and
    /// five times as many from one address for all emails (0: no limit). Never per email
    /// alone: a stranger's attempts must not lock a person out.
    #[arg(long, env = "HANKO_LOGIN_RATE_LIMIT", default_value_t = 10)]
    pub login_rate_limit: u32,

    /// Longest one call to Step Functions may take, in milliseconds; a callback that gets
    /// no answer by then is retried later.
    #[arg(long, env = "HANKO_CALLBACK_TIMEOUT_MS", default_value_t = 10_000,
          value_parser = clap::value_parser!(u64).range(100..=120_000))]
    pub callback_timeout_ms: u64,

    /// Wait before retrying a failed callback, in milliseconds; doubles with each attempt.
    #[arg(long, env = "HANKO_RETRY_BASE_MS", default_value_t = 1_000,
          value_parser = clap::value_parser!(u64).range(10..=600_000))]
    pub retry_base_ms: u64,

    /// Longest wait between two callback attempts, in seconds.
    #[arg(long, env = "HANKO_RETRY_MAX_SECONDS", default_value_t = 300,
          value_parser = clap::value_parser!(u64).range(1..=86_400))]
    pub retry_max_seconds: u64,

    /// Pending requests whose execution is looked up (DescribeExecution) per housekeeping pass.
    #[arg(long, env = "HANKO_RECONCILE_BATCH", default_value_t = 50,
          value_parser = clap::value_parser!(u64).range(0..=1000))]
    pub reconcile_batch: u64,

    /// What signs decisions: a local key file or a KMS key.
    #[arg(long, env = "HANKO_SIGNER", value_enum, default_value = "local")]
    pub signer: SignerKind,

    /// KMS key (id, ARN or alias; ECC_NIST_P256, SIGN_VERIFY) that signs decisions when HANKO_SIGNER=kms.
    #[arg(long, env = "HANKO_KMS_KEY_ID")]
    pub kms_key_id: Option<String>,

    /// Retired KMS keys, comma-separated: still published in the JWKS so their decisions verify.
    #[arg(long, env = "HANKO_PREVIOUS_KMS_KEY_IDS", value_delimiter = ',')]
    pub previous_kms_key_ids: Vec<String>,

    /// Retired local signing keys (PEM files), comma-separated: still published in the JWKS.
    #[arg(long, env = "HANKO_PREVIOUS_SIGNING_KEYS", value_delimiter = ',')]
    pub previous_signing_keys: Vec<PathBuf>,

    /// How approvers are told: outbox (files), ses or smtp.
    #[arg(long, env = "HANKO_NOTIFIER", value_enum, default_value = "outbox")]
    pub notifier: NotifierKind,

    /// SMTP server for HANKO_NOTIFIER=smtp: smtp://[user:pass@]host:port (add ?tls=required for STARTTLS) or smtps://.
    #[arg(long, env = "HANKO_SMTP_URL", value_parser = secret, hide_env_values = true)]
    pub smtp_url: Option<SecretString>,

    /// Cognito user pool whose groups name the members of `group:NAME` approvers, for emails.
    #[arg(long, env = "HANKO_COGNITO_USER_POOL_ID")]
    pub cognito_user_pool_id: Option<String>,

    #[command(flatten)]
    pub chat: crate::chat::ChatArgs,

    /// EventBridge bus (name, `default`, or ARN) that gets an event for each step of each
    /// request (the README's "Events for other systems"). Unset or empty: no events.
    #[arg(long, env = "HANKO_EVENT_BUS", value_parser = crate::events::parse_bus)]
    pub event_bus: Option<String>,

    #[command(flatten)]
    pub oidc: OidcArgs,
}

/// `HANKO_METRICS_NAMESPACE`: what CloudWatch takes as a namespace (1-255 characters of
/// letters, digits and `.-_/#:`, not starting with `:`).
fn metrics_namespace(raw: &str) -> Result<String, String> {
    let ns = raw.trim();
    let ok = (1..=255).contains(&ns.len())
        && !ns.starts_with(':')
        && ns
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || " .-_/#:".contains(c));
    if ok {
        Ok(ns.to_string())
    } else {
        Err(format!(
            "HANKO_METRICS_NAMESPACE (--metrics-namespace) {raw:?} is not a CloudWatch namespace: 1-255 letters, digits, spaces and . - _ / # :"
        ))
    }
}

/// A secret from the command line or environment (kept out of `Debug` output).
fn secret(s: &str) -> Result<SecretString, std::convert::Infallible> {
    Ok(s.into())
}

/// `HANKO_PUBLIC_URL`: an http(s) URL with a host.
fn parse_public_url(raw: &str) -> Result<Url, String> {
    let url = Url::parse(raw.trim())
        .map_err(|e| format!("HANKO_PUBLIC_URL (--public-url) is not a URL ({e}): {raw:?}"))?;
    match url.scheme() {
        "http" | "https" if url.has_host() => Ok(url),
        _ => Err(format!(
            "HANKO_PUBLIC_URL (--public-url) must start with http:// or https://, got {raw:?}"
        )),
    }
}

fn parse_header_name(s: &str) -> Result<axum::http::HeaderName, String> {
    axum::http::HeaderName::from_bytes(s.trim().as_bytes())
        .map_err(|_| format!("{s:?} is not an HTTP header name"))
}

/// `hanko create-table`: the DynamoDB table, as infra/template.yaml makes it.
#[derive(Debug, Clone, Args)]
pub struct CreateTableArgs {
    /// Name of the table to create.
    #[arg(long, env = "HANKO_TABLE")]
    pub table: String,

    /// Endpoint for every AWS service (a local emulator). Unset: real AWS.
    #[arg(long, env = "AWS_ENDPOINT_URL")]
    pub aws_endpoint_url: Option<String>,
}

/// Logging in with Cognito or any OIDC provider. Off unless `HANKO_OIDC_ISSUER` is set.
#[derive(Debug, Clone, Args)]
pub struct OidcArgs {
    /// The provider's issuer, exactly as in its tokens' `iss`
    /// (Cognito: https://cognito-idp.<region>.amazonaws.com/<user pool id>).
    #[arg(long, env = "HANKO_OIDC_ISSUER",
          value_parser = issuer)]
    pub oidc_issuer: Option<String>,

    /// Where the provider's public keys are. Default: <issuer>/.well-known/jwks.json.
    #[arg(long, env = "HANKO_OIDC_JWKS_URL",
          value_parser = provider_url("HANKO_OIDC_JWKS_URL (--oidc-jwks-url)"))]
    pub oidc_jwks_url: Option<Url>,

    /// The console's client id at the provider: the ID token's `aud`, the access token's `client_id`.
    #[arg(long, env = "HANKO_OIDC_CLIENT_ID")]
    pub oidc_client_id: Option<String>,

    /// Which token the api takes: the ID token (id) or the access token (access).
    #[arg(long, env = "HANKO_OIDC_TOKEN_USE", value_enum, default_value = "id")]
    pub oidc_token_use: TokenUse,

    /// The claim that lists the person's groups.
    #[arg(
        long,
        env = "HANKO_OIDC_GROUPS_CLAIM",
        default_value = "cognito:groups"
    )]
    pub oidc_groups_claim: String,

    /// The provider's authorization endpoint (Cognito: https://<domain>/oauth2/authorize).
    #[arg(long, env = "HANKO_OIDC_AUTHORIZE_URL",
          value_parser = provider_url("HANKO_OIDC_AUTHORIZE_URL (--oidc-authorize-url)"))]
    pub oidc_authorize_url: Option<Url>,

    /// The provider's token endpoint (Cognito: https://<domain>/oauth2/token).
    #[arg(long, env = "HANKO_OIDC_TOKEN_URL",
          value_parser = provider_url("HANKO_OIDC_TOKEN_URL (--oidc-token-url)"))]
    pub oidc_token_url: Option<Url>,

    /// Where "log out" sends the person (Cognito: https://<domain>/logout). Optional.
    #[arg(long, env = "HANKO_OIDC_LOGOUT_URL",
          value_parser = provider_url("HANKO_OIDC_LOGOUT_URL (--oidc-logout-url)"))]
    pub oidc_logout_url: Option<Url>,

    /// The provider's name on the login button ("Log in with <name>"). Default: "Cognito"
    /// for a Cognito domain, else the authorize URL's host.
    #[arg(long, env = "HANKO_OIDC_PROVIDER_NAME")]
    pub oidc_provider_name: Option<String>,

    /// Scopes the console asks for, space-separated.
    #[arg(
        long,
        env = "HANKO_OIDC_SCOPES",
        default_value = "openid email profile"
    )]
    pub oidc_scopes: String,

    /// Take a token's `email` even when the provider does not say it verified it
    /// (`email_verified` true). Only for a provider where nobody can pick an address that
    /// is not theirs.
    #[arg(long, env = "HANKO_OIDC_ALLOW_UNVERIFIED_EMAIL",
          value_parser = clap::builder::BoolishValueParser::new())]
    pub oidc_allow_unverified_email: bool,
}

/// A clap parser for an identity provider URL setting `name`: `https://`, or `http://` on a
/// loopback address only (see [`crate::auth::oidc::provider_url`]).
fn provider_url(
    name: &'static str,
) -> impl Fn(&str) -> Result<Url, String> + Clone + Send + Sync + 'static {
    move |raw| crate::auth::oidc::provider_url(name, raw)
}

/// `HANKO_OIDC_ISSUER`: a provider URL like the others, but kept as written (trimmed),
/// because tokens are matched against it byte for byte (`iss`), and a parsed URL would
/// normalise it (`https://idp.example` reads back as `https://idp.example/`).
fn issuer(raw: &str) -> Result<String, String> {
    provider_url("HANKO_OIDC_ISSUER (--oidc-issuer)")(raw).map(|_| raw.trim().to_string())
}

/// What `hanko serve` and the Lambda handlers run with: [`ServeArgs`] made sense of.
#[derive(Debug, Clone)]
pub struct Config {
    /// Address to listen on (`hanko serve`; port 0 picks a free one).
    pub listen: SocketAddr,
    /// The console's URL for deep links; `hanko serve` defaults it to `http://<listen>`,
    /// on Lambda it is required.
    pub public_url: Option<Url>,
    pub store: Store,
    pub signer: Signer,
    pub notifier: Notifier,
    /// Slack and Teams notifications, besides email.
    pub chat: crate::chat::config::ChatConfig,
    /// The EventBridge bus (name or ARN) events go to; `None`: no events.
    pub event_bus: Option<String>,
    /// The dev identity provider's login. At least one of it and `oidc` is set.
    pub dev_login: Option<DevLogin>,
    pub oidc: Option<Oidc>,
    /// The Cognito user pool whose groups name the members of `group:NAME` approvers.
    pub cognito_user_pool_id: Option<String>,
    pub policies: PolicySource,
    /// The intake queue `hanko serve` polls, when there is one.
    pub intake: Option<Intake>,
    /// The built console (it has an `index.html`).
    pub console_dir: Option<PathBuf>,
    /// Time between housekeeping passes of `hanko serve`.
    pub sweep_interval: Duration,
    pub delivery: crate::service::DeliveryPolicy,
    pub api: Api,
    /// One endpoint for every AWS service (a local emulator); `None`: real AWS.
    pub aws_endpoint_url: Option<String>,
    pub log_format: LogFormat,
    /// The CloudWatch namespace of the metrics.
    pub metrics_namespace: String,
    /// `HANKO_PASSKEY_RP_ID`, when set.
    pub passkey_rp_id: Option<String>,
    /// `HANKO_REQUIRE_PASSKEY`.
    pub require_passkey: bool,
}

/// Where requests, votes and decisions are kept (`HANKO_STORE`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Store {
    /// One SQLite file, created with its schema on first start.
    Sqlite { path: PathBuf },
    /// A DynamoDB table shaped as infra/template.yaml makes it.
    Dynamo { table: String, retention_days: u32 },
}

/// What signs decision records (`HANKO_SIGNER`), and the retired keys it still publishes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Signer {
    /// A P-256 PKCS#8 PEM file, generated if missing.
    Local {
        key: PathBuf,
        previous: Vec<PathBuf>,
    },
    /// A KMS asymmetric key (id, ARN or alias).
    Kms {
        key_id: String,
        previous: Vec<String>,
    },
}

/// How approvers are told (`HANKO_NOTIFIER`), from the address `from`.
#[derive(Debug, Clone)]
pub enum Notifier {
    /// `.eml` files in `dir`.
    Outbox { dir: PathBuf, from: String },
    /// Amazon SES (SendEmail).
    Ses { from: String },
    /// An SMTP server: `smtp://[user:pass@]host:port` (`?tls=required`) or `smtps://`.
    Smtp { url: SecretString, from: String },
}

/// The dev identity provider's email and password login (`HANKO_DEV_USERS`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DevLogin {
    /// The users file (JSON).
    pub users: PathBuf,
    /// The key of its tokens, generated if missing.
    pub key: PathBuf,
    /// Served on a listen address that is not loopback too (`HANKO_DEV_LOGIN_ANYWHERE`).
    pub anywhere: bool,
}

/// Logging in with Cognito or another OIDC provider (`HANKO_OIDC_ISSUER` and the rest).
/// Every URL is `https://`, or `http://` to a loopback address.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Oidc {
    /// Exactly as in the tokens' `iss` (see [`issuer`] for why it is not a [`Url`]).
    pub issuer: String,
    /// Where the provider's public keys are (by default under the issuer).
    pub jwks_url: Url,
    /// The console's client id: the ID token's `aud`, the access token's `client_id`.
    pub client_id: String,
    pub token_use: TokenUse,
    /// The claim that lists the person's groups (not blank).
    pub groups_claim: String,
    pub authorize_url: Url,
    pub token_url: Url,
    pub logout_url: Option<Url>,
    /// The name on the login button, when the operator gave one.
    pub provider_name: Option<String>,
    /// Space-separated.
    pub scopes: String,
    /// Take a token's `email` even when the provider does not say it verified it.
    pub allow_unverified_email: bool,
}

/// The operator's approval policy document (`HANKO_POLICY_FILE`, `HANKO_POLICY_PARAMETER`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PolicySource {
    File(PathBuf),
    /// The name of an SSM parameter.
    Parameter(String),
    /// None: each workflow names its own approvers.
    Absent,
}

/// The SQS queue state machines send approval requests to (`HANKO_INTAKE_QUEUE_URL`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Intake {
    pub queue_url: String,
    /// Long-poll wait, 0-20 seconds.
    pub wait_seconds: i32,
}

/// The api's rules that configuration can change (made into [`crate::http::Policy`]).
#[derive(Debug, Clone)]
pub struct Api {
    pub auditor_group: String,
    pub max_auth_age: Option<chrono::Duration>,
    /// Dev login attempts per minute (0: no limit).
    pub login_rate_limit: u32,
    pub request_timeout: Duration,
    pub client_ip_header: Option<axum::http::HeaderName>,
    pub origin_secret: Option<SecretString>,
}

/// A name-like setting: trimmed, and `None` when blank.
fn non_blank(value: Option<String>) -> Option<String> {
    value
        .map(|v| v.trim().to_string())
        .filter(|v| !v.is_empty())
}

impl OidcArgs {
    /// The provider's settings, when `HANKO_OIDC_ISSUER` is set; the others without it are
    /// refused, as is an issuer without what the console needs to log people in.
    fn into_oidc(self) -> anyhow::Result<Option<Oidc>> {
        let Some(issuer) = self.oidc_issuer else {
            let stray = [
                ("HANKO_OIDC_JWKS_URL", self.oidc_jwks_url.is_some()),
                ("HANKO_OIDC_CLIENT_ID", self.oidc_client_id.is_some()),
                (
                    "HANKO_OIDC_AUTHORIZE_URL",
                    self.oidc_authorize_url.is_some(),
                ),
                ("HANKO_OIDC_TOKEN_URL", self.oidc_token_url.is_some()),
                ("HANKO_OIDC_LOGOUT_URL", self.oidc_logout_url.is_some()),
                (
                    "HANKO_OIDC_PROVIDER_NAME",
                    self.oidc_provider_name.is_some(),
                ),
            ];
            if let Some((name, _)) = stray.iter().find(|(_, set)| *set) {
                bail!(
                    "{name} is set but HANKO_OIDC_ISSUER (--oidc-issuer) is not; set the issuer to log in with your identity provider"
                );
            }
            return Ok(None);
        };
        let client_id = match self.oidc_client_id {
            Some(c) if !c.trim().is_empty() => c,
            _ => bail!(
                "HANKO_OIDC_ISSUER is set but HANKO_OIDC_CLIENT_ID (--oidc-client-id) is not: set it to the console's app client id"
            ),
        };
        let needed = |name: &str, url: Option<Url>| match url {
            Some(url) => Ok(url),
            None => Err(anyhow::anyhow!(
                "HANKO_OIDC_ISSUER is set but {name} is not: the console needs it to log people in"
            )),
        };
        let authorize_url = needed(
            "HANKO_OIDC_AUTHORIZE_URL (--oidc-authorize-url)",
            self.oidc_authorize_url,
        )?;
        let token_url = needed(
            "HANKO_OIDC_TOKEN_URL (--oidc-token-url)",
            self.oidc_token_url,
        )?;
        if self.oidc_groups_claim.trim().is_empty() {
            bail!("HANKO_OIDC_GROUPS_CLAIM (--oidc-groups-claim) is empty");
        }
        let jwks_url = match self.oidc_jwks_url {
            Some(url) => url,
            None => crate::auth::oidc::provider_url(
                "HANKO_OIDC_JWKS_URL (by default <HANKO_OIDC_ISSUER>/.well-known/jwks.json)",
                &format!("{}/.well-known/jwks.json", issuer.trim_end_matches('/')),
            )
            .map_err(anyhow::Error::msg)?,
        };
        Ok(Some(Oidc {
            issuer,
            jwks_url,
            client_id,
            token_use: self.oidc_token_use,
            groups_claim: self.oidc_groups_claim,
            authorize_url,
            token_url,
            logout_url: self.oidc_logout_url,
            provider_name: non_blank(self.oidc_provider_name),
            scopes: self.oidc_scopes,
            allow_unverified_email: self.oidc_allow_unverified_email,
        }))
    }
}

impl TryFrom<ServeArgs> for Config {
    type Error = anyhow::Error;

    fn try_from(args: ServeArgs) -> anyhow::Result<Self> {
        Config::from_args(args)
    }
}

impl Config {
    /// Makes sense of the flags: what they leave out or contradict is refused here, with a
    /// message that names the variable to set.
    pub fn from_args(args: ServeArgs) -> anyhow::Result<Self> {
        let oidc = args.oidc.into_oidc()?;
        let data_dir = args.data_dir;
        let in_data_dir =
            |path: Option<PathBuf>, default: &str| path.unwrap_or_else(|| data_dir.join(default));
        let dev_login = args.dev_users.map(|users| DevLogin {
            users,
            key: in_data_dir(args.dev_idp_key, "dev-idp-key.pem"),
            anywhere: args.dev_login_anywhere,
        });
        if dev_login.is_none() && oidc.is_none() {
            bail!(
                "no way to log in: set HANKO_OIDC_ISSUER (--oidc-issuer, with HANKO_OIDC_CLIENT_ID, HANKO_OIDC_AUTHORIZE_URL and HANKO_OIDC_TOKEN_URL) for Cognito or another OIDC provider, or HANKO_DEV_USERS (--dev-users) to a users file for the dev identity provider"
            );
        }
        let store = match args.store {
            StoreKind::Sqlite => Store::Sqlite {
                path: in_data_dir(args.database, "hanko.db"),
            },
            StoreKind::Dynamodb => match non_blank(args.table) {
                Some(table) => Store::Dynamo {
                    table,
                    retention_days: args.retention_days,
                },
                None => bail!(
                    "HANKO_STORE=dynamodb needs the table: set HANKO_TABLE (--table) to the DynamoDB table's name"
                ),
            },
        };
        let signer = match args.signer {
            SignerKind::Local => Signer::Local {
                key: in_data_dir(args.signing_key, "signing-key.pem"),
                previous: args.previous_signing_keys,
            },
            SignerKind::Kms => match non_blank(args.kms_key_id) {
                Some(key_id) => Signer::Kms {
                    key_id,
                    previous: args.previous_kms_key_ids,
                },
                None => bail!(
                    "HANKO_SIGNER=kms needs HANKO_KMS_KEY_ID (--kms-key-id): the KMS key that signs decisions"
                ),
            },
        };
        let from = args.mail_from;
        let notifier = match args.notifier {
            NotifierKind::Outbox => Notifier::Outbox {
                dir: in_data_dir(args.outbox_dir, "outbox"),
                from,
            },
            NotifierKind::Ses => Notifier::Ses { from },
            NotifierKind::Smtp => match args.smtp_url {
                Some(url) => Notifier::Smtp { url, from },
                None => bail!(
                    "HANKO_NOTIFIER=smtp needs HANKO_SMTP_URL (--smtp-url), e.g. smtp://mail.example.com:587?tls=required"
                ),
            },
        };
        if let Some(dir) = &args.console_dir
            && !dir.join("index.html").is_file()
        {
            bail!(
                "HANKO_CONSOLE_DIR (--console-dir) {} has no index.html; build the console with trunk first",
                dir.display()
            );
        }
        // clap refuses both at once (`conflicts_with`).
        let policies = match (args.policy_file, args.policy_parameter) {
            (Some(file), _) => PolicySource::File(file),
            (None, Some(name)) => match non_blank(Some(name)) {
                Some(name) => PolicySource::Parameter(name),
                None => bail!(
                    "HANKO_POLICY_PARAMETER (--policy-parameter) is empty: name the SSM parameter that holds the approval policy document, or unset it"
                ),
            },
            (None, None) => PolicySource::Absent,
        };
        Ok(Config {
            listen: args.listen,
            public_url: args.public_url,
            store,
            signer,
            notifier,
            chat: args.chat.into_config()?,
            event_bus: args.event_bus.filter(|bus| !bus.is_empty()),
            dev_login,
            oidc,
            cognito_user_pool_id: args.cognito_user_pool_id,
            policies,
            intake: args.intake_queue_url.map(|queue_url| Intake {
                queue_url,
                wait_seconds: args.intake_wait_seconds,
            }),
            console_dir: args.console_dir,
            sweep_interval: Duration::from_secs(args.sweep_interval_seconds),
            delivery: crate::service::DeliveryPolicy {
                backoff_base: Duration::from_millis(args.retry_base_ms),
                backoff_max: Duration::from_secs(args.retry_max_seconds),
                attempt_timeout: Duration::from_millis(args.callback_timeout_ms),
                reconcile_batch: args.reconcile_batch as usize,
            },
            api: Api {
                auditor_group: args.auditor_group,
                max_auth_age: args
                    .max_auth_age_seconds
                    .map(|s| chrono::Duration::seconds(s as i64)),
                login_rate_limit: args.login_rate_limit,
                request_timeout: Duration::from_secs(args.request_timeout_seconds),
                client_ip_header: args.client_ip_header,
                origin_secret: args.origin_secret,
            },
            aws_endpoint_url: args.aws_endpoint_url,
            log_format: args.log_format,
            metrics_namespace: args.metrics_namespace,
            passkey_rp_id: non_blank(args.passkey_rp_id),
            require_passkey: args.require_passkey,
        })
    }

    /// Where the metrics go: EMF lines on standard output with JSON logs (Lambda, where
    /// CloudWatch reads them), debug log lines with text logs.
    pub fn metrics(&self) -> crate::metrics::Metrics {
        match self.log_format {
            LogFormat::Json => crate::metrics::Metrics::stdout(&self.metrics_namespace),
            LogFormat::Text => crate::metrics::Metrics::log(&self.metrics_namespace),
        }
    }

    /// The relying party of passkeys: the console's origin (HANKO_PUBLIC_URL; without it
    /// `http://localhost:<port>`, since a browser takes no IP address as an rpId) and its
    /// domain, or HANKO_PASSKEY_RP_ID.
    pub fn passkeys(&self) -> crate::passkeys::Passkeys {
        let origin = self.public_url.clone().unwrap_or_else(|| {
            Url::parse(&format!("http://localhost:{}", self.listen.port()))
                .expect("a localhost URL")
        });
        let rp_id = self
            .passkey_rp_id
            .clone()
            .or_else(|| {
                self.public_url
                    .as_ref()
                    .and_then(|u| u.host_str().map(str::to_string))
            })
            .unwrap_or_else(|| "localhost".into());
        crate::passkeys::Passkeys::new(&rp_id, &origin, self.require_passkey)
    }

    /// The api's rules, with a fresh login rate limiter.
    pub fn policy(&self) -> crate::http::Policy {
        crate::http::Policy {
            auditor_group: self.api.auditor_group.clone(),
            max_auth_age: self.api.max_auth_age,
            login_limiter: crate::http::limit::RateLimiter::new(self.api.login_rate_limit),
            request_timeout: self.api.request_timeout,
            client_ip_header: self.api.client_ip_header.clone(),
            origin_secret: self.api.origin_secret.clone(),
        }
    }
}

#[cfg(test)]
mod tests {
    use clap::Parser;

    use super::*;

    #[derive(Parser)]
    struct Cli {
        #[command(flatten)]
        args: ServeArgs,
    }

    fn parse(extra: &[&str]) -> ServeArgs {
        let mut argv = vec!["hanko", "--dev-users", "users.json"];
        argv.extend(extra);
        Cli::try_parse_from(argv).unwrap().args
    }

    /// The configuration of `parse(extra)`, or the refusal's message.
    fn config(extra: &[&str]) -> Result<Config, String> {
        Config::from_args(parse(extra)).map_err(|e| e.to_string())
    }

    #[test]
    fn the_metrics_namespace_is_one_cloudwatch_takes_or_the_start_is_refused() {
        assert_eq!(parse(&[]).metrics_namespace, "Hanko");
        assert_eq!(
            parse(&["--metrics-namespace", "Hanko/prod-1"]).metrics_namespace,
            "Hanko/prod-1"
        );
        for bad in ["", ":Hanko", "Hanko\nx", "Hanko{x}", &"n".repeat(256)] {
            let mut argv = vec!["hanko", "--dev-users", "users.json", "--metrics-namespace"];
            argv.push(bad);
            let err = Cli::try_parse_from(argv)
                .err()
                .expect("refused")
                .to_string();
            assert!(err.contains("HANKO_METRICS_NAMESPACE"), "{bad:?}: {err}");
        }
    }

    #[test]
    fn events_are_off_unless_an_event_bus_is_named_and_a_bad_name_is_refused_at_start() {
        assert_eq!(config(&[]).unwrap().event_bus, None);
        assert_eq!(config(&["--event-bus", " "]).unwrap().event_bus, None);
        assert_eq!(
            config(&["--event-bus", "default"]).unwrap().event_bus,
            Some("default".into())
        );
        let arn = "arn:aws:events:ap-northeast-1:123456789012:event-bus/approvals";
        assert_eq!(
            config(&["--event-bus", arn]).unwrap().event_bus.as_deref(),
            Some(arn)
        );
        let refused =
            Cli::try_parse_from(["hanko", "--dev-users", "u.json", "--event-bus", "my bus"])
                .err()
                .map(|e| e.to_string())
                .unwrap_or_default();
        assert!(refused.contains("HANKO_EVENT_BUS"), "{refused}");
    }

    #[test]
    fn the_store_is_sqlite_unless_dynamodb_is_chosen_with_a_table() {
        let default = parse(&[]);
        assert_eq!(default.store, StoreKind::Sqlite);
        assert_eq!(default.retention_days, 400);
        Config::try_from(default).unwrap();
        let dynamo = parse(&[
            "--store",
            "dynamodb",
            "--table",
            "hanko",
            "--retention-days",
            "30",
        ]);
        assert_eq!(dynamo.store, StoreKind::Dynamodb);
        assert_eq!(dynamo.retention_days, 30);
        Config::try_from(dynamo).unwrap();
    }

    #[test]
    fn dynamodb_without_a_table_is_refused_with_the_variable_to_set() {
        let e = config(&["--store", "dynamodb"]).unwrap_err();
        assert!(e.contains("HANKO_TABLE"), "{e}");
        let blank = config(&["--store", "dynamodb", "--table", " "]);
        assert!(blank.is_err());
        let cli = |v: &[&str]| Cli::try_parse_from([&["hanko"], v].concat()).map(|_| ());
        assert!(cli(&["--store", "postgres"]).is_err());
        assert!(cli(&["--retention-days", "0"]).is_err());
    }

    /// The OIDC flags, with `url` for the one named `flag` (the others https).
    fn oidc_with(flag: &str, url: &str) -> Vec<String> {
        let mut argv: Vec<String> = [
            ("--oidc-issuer", "https://cognito-idp.example/pool"),
            ("--oidc-client-id", "console"),
            ("--oidc-authorize-url", "https://auth.example/authorize"),
            ("--oidc-token-url", "https://auth.example/oauth2/token"),
            ("--oidc-logout-url", "https://auth.example/logout"),
            ("--oidc-jwks-url", "https://cognito-idp.example/jwks.json"),
        ]
        .iter()
        .filter(|(f, _)| *f != flag)
        .flat_map(|(f, v)| [f.to_string(), v.to_string()])
        .collect();
        argv.extend([flag.to_string(), url.to_string()]);
        argv
    }

    /// `argv` without `flag` and its value.
    fn without(argv: &[String], flag: &str) -> Vec<String> {
        argv.chunks(2)
            .filter(|pair| pair[0] != flag)
            .flatten()
            .cloned()
            .collect()
    }

    fn try_parse(argv: &[String]) -> Result<ServeArgs, clap::Error> {
        let argv = ["hanko", "--dev-users", "users.json"]
            .into_iter()
            .map(String::from)
            .chain(argv.iter().cloned());
        Cli::try_parse_from(argv).map(|c| c.args)
    }

    #[test]
    fn provider_urls_over_plain_http_are_refused_at_start_naming_the_variable() {
        for (flag, var) in [
            ("--oidc-issuer", "HANKO_OIDC_ISSUER"),
            ("--oidc-jwks-url", "HANKO_OIDC_JWKS_URL"),
            ("--oidc-authorize-url", "HANKO_OIDC_AUTHORIZE_URL"),
            ("--oidc-token-url", "HANKO_OIDC_TOKEN_URL"),
            ("--oidc-logout-url", "HANKO_OIDC_LOGOUT_URL"),
        ] {
            let e = try_parse(&oidc_with(flag, "http://idp.example/x"))
                .err()
                .unwrap_or_else(|| panic!("{flag} over http accepted"));
            assert!(e.to_string().contains(var), "{flag}: {e}");
            // On this machine plain http is fine (a local provider, the tests' stand-in).
            for local in [
                "http://127.0.0.1:9/x",
                "http://localhost/x",
                "http://[::1]/x",
            ] {
                Config::try_from(try_parse(&oidc_with(flag, local)).unwrap()).unwrap();
            }
        }
    }

    #[test]
    fn unverified_emails_are_refused_unless_the_operator_allows_them() {
        let mut argv = oidc_with("--oidc-issuer", "https://idp.example");
        let strict = try_parse(&argv).unwrap();
        assert!(!strict.oidc.oidc_allow_unverified_email);
        argv.push("--oidc-allow-unverified-email".into());
        assert!(try_parse(&argv).unwrap().oidc.oidc_allow_unverified_email);
    }

    #[test]
    fn the_dev_login_is_refused_on_an_address_other_machines_reach_unless_allowed() {
        let check = |argv: &[&str]| {
            crate::serve::dev_login_listen_check(&Config::from_args(parse(argv)).unwrap())
        };
        for listen in ["127.0.0.1:8080", "127.0.0.2:0", "[::1]:8080"] {
            check(&["--listen", listen]).unwrap();
        }
        for listen in ["0.0.0.0:8080", "192.0.2.10:8080", "[::]:8080"] {
            let e = check(&["--listen", listen]).unwrap_err().to_string();
            assert!(e.contains("HANKO_DEV_LOGIN_ANYWHERE"), "{e}");
            check(&["--listen", listen, "--dev-login-anywhere"]).unwrap();
        }
    }

    #[test]
    fn each_backend_carries_its_settings_and_the_defaults_are_in_the_data_dir() {
        let c = config(&["--data-dir", "/d"]).unwrap();
        assert_eq!(
            c.store,
            Store::Sqlite {
                path: "/d/hanko.db".into()
            }
        );
        assert_eq!(
            c.signer,
            Signer::Local {
                key: "/d/signing-key.pem".into(),
                previous: vec![]
            }
        );
        assert!(
            matches!(&c.notifier, Notifier::Outbox { dir, from } if dir == std::path::Path::new("/d/outbox") && from == "hanko@localhost")
        );
        assert_eq!(
            c.dev_login,
            Some(DevLogin {
                users: "users.json".into(),
                key: "/d/dev-idp-key.pem".into(),
                anywhere: false
            })
        );
        assert_eq!(c.oidc, None);
        assert_eq!(c.policies, PolicySource::Absent);
        assert_eq!(c.intake, None);

        let c = config(&[
            "--store",
            "dynamodb",
            "--table",
            " hanko ",
            "--signer",
            "kms",
            "--kms-key-id",
            "alias/hanko",
            "--previous-kms-key-ids",
            "k1,k2",
            "--notifier",
            "ses",
            "--mail-from",
            "approvals@example.com",
            "--intake-queue-url",
            "http://sqs.local/q",
        ])
        .unwrap();
        assert_eq!(
            c.store,
            Store::Dynamo {
                table: "hanko".into(),
                retention_days: 400
            }
        );
        assert_eq!(
            c.signer,
            Signer::Kms {
                key_id: "alias/hanko".into(),
                previous: vec!["k1".into(), "k2".into()]
            }
        );
        assert!(matches!(&c.notifier, Notifier::Ses { from } if from == "approvals@example.com"));
        assert_eq!(
            c.intake,
            Some(Intake {
                queue_url: "http://sqs.local/q".into(),
                wait_seconds: 20
            })
        );
    }

    #[test]
    fn a_backend_without_its_setting_is_refused_naming_the_variable() {
        for (argv, var) in [
            (&["--signer", "kms"][..], "HANKO_KMS_KEY_ID"),
            (
                &["--signer", "kms", "--kms-key-id", " "][..],
                "HANKO_KMS_KEY_ID",
            ),
            (&["--notifier", "smtp"][..], "HANKO_SMTP_URL"),
            (&["--policy-parameter", " "][..], "HANKO_POLICY_PARAMETER"),
            (
                &["--console-dir", "/nonexistent/dist"][..],
                "HANKO_CONSOLE_DIR",
            ),
        ] {
            let e = config(argv).unwrap_err();
            assert!(e.contains(var), "{argv:?}: {e}");
        }
        let smtp = config(&[
            "--notifier",
            "smtp",
            "--smtp-url",
            "smtp://mail.example:587",
        ]);
        assert!(matches!(smtp.unwrap().notifier, Notifier::Smtp { .. }));
    }

    #[test]
    fn without_a_login_or_with_half_an_oidc_provider_it_is_refused_naming_the_variable() {
        let nobody = Cli::try_parse_from(["hanko"]).unwrap().args;
        let e = Config::from_args(nobody).unwrap_err().to_string();
        assert!(
            e.contains("HANKO_OIDC_ISSUER") && e.contains("HANKO_DEV_USERS"),
            "{e}"
        );
        let stray = config(&["--oidc-token-url", "https://auth.example/token"]).unwrap_err();
        assert!(
            stray.contains("HANKO_OIDC_TOKEN_URL") && stray.contains("HANKO_OIDC_ISSUER"),
            "{stray}"
        );
        for (left_out, var) in [
            ("--oidc-client-id", "HANKO_OIDC_CLIENT_ID"),
            ("--oidc-authorize-url", "HANKO_OIDC_AUTHORIZE_URL"),
            ("--oidc-token-url", "HANKO_OIDC_TOKEN_URL"),
        ] {
            let argv = without(&oidc_with(left_out, "x"), left_out);
            let e = Config::from_args(try_parse(&argv).unwrap())
                .unwrap_err()
                .to_string();
            assert!(e.contains(var), "{left_out}: {e}");
        }
        let argv = oidc_with("--oidc-groups-claim", " ");
        let e = Config::from_args(try_parse(&argv).unwrap()).unwrap_err();
        assert!(e.to_string().contains("HANKO_OIDC_GROUPS_CLAIM"), "{e}");
        let argv = without(&argv, "--oidc-groups-claim");
        Config::from_args(try_parse(&argv).unwrap()).unwrap();
    }

    #[test]
    fn the_issuer_is_kept_as_written_and_the_jwks_url_defaults_under_it() {
        let mut argv = oidc_with("--oidc-issuer", " https://idp.example/pool/ ");
        argv = without(&argv, "--oidc-jwks-url");
        argv.extend(["--oidc-provider-name".into(), "  ".into()]);
        let oidc = Config::from_args(try_parse(&argv).unwrap())
            .unwrap()
            .oidc
            .unwrap();
        assert_eq!(oidc.issuer, "https://idp.example/pool/");
        assert_eq!(
            oidc.jwks_url.as_str(),
            "https://idp.example/pool/.well-known/jwks.json"
        );
        assert_eq!(oidc.provider_name, None);
        assert_eq!(oidc.token_url.as_str(), "https://auth.example/oauth2/token");
    }

    #[test]
    fn the_public_url_is_an_http_url_naming_the_variable_when_not() {
        let url = config(&["--public-url", "https://approvals.example.com/"])
            .unwrap()
            .public_url;
        assert_eq!(url.unwrap().as_str(), "https://approvals.example.com/");
        for bad in [
            "ftp://approvals.example.com",
            "approvals.example.com",
            "http://",
        ] {
            let e = try_parse(&["--public-url".into(), bad.into()])
                .err()
                .unwrap_or_else(|| panic!("{bad} accepted"));
            assert!(e.to_string().contains("HANKO_PUBLIC_URL"), "{bad}: {e}");
        }
    }

    #[test]
    fn the_flags_are_well_formed() {
        use clap::CommandFactory;
        Cli::command().debug_assert();
    }

    #[test]
    fn the_lambda_handler_is_one_of_four() {
        for (name, handler) in [
            ("api", Handler::Api),
            ("intake", Handler::Intake),
            ("sqs", Handler::Sqs),
            ("sweeper", Handler::Sweeper),
        ] {
            assert_eq!(Handler::from_str(name, false), Ok(handler));
        }
        assert!(Handler::from_str("worker", false).is_err());
    }
}
