//! Configuration: command-line flags that mirror environment variables, checked at start.

use std::net::SocketAddr;
use std::path::PathBuf;

use clap::{Args, ValueEnum};

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

/// Everything `hanko serve` (and the Lambda handlers) need to know.
#[derive(Debug, Clone, Args)]
pub struct ServeArgs {
    /// Address to listen on (port 0 picks a free one).
    #[arg(long, env = "HANKO_LISTEN", default_value = "127.0.0.1:8080")]
    pub listen: SocketAddr,

    /// The console's public URL, used in the deep links of emails. Defaults to http://<listen>.
    #[arg(long, env = "HANKO_PUBLIC_URL")]
    pub public_url: Option<String>,

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
              16.. => Ok(secrecy::SecretString::from(s)),
              _ => Err("HANKO_ORIGIN_SECRET must be at least 16 characters"),
          })]
    pub origin_secret: Option<secrecy::SecretString>,

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
    pub smtp_url: Option<secrecy::SecretString>,

    /// Cognito user pool whose groups name the members of `group:NAME` approvers, for emails.
    #[arg(long, env = "HANKO_COGNITO_USER_POOL_ID")]
    pub cognito_user_pool_id: Option<String>,

    #[command(flatten)]
    pub oidc: OidcArgs,
}

/// A secret from the command line or environment (kept out of `Debug` output).
fn secret(s: &str) -> Result<secrecy::SecretString, std::convert::Infallible> {
    Ok(s.into())
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
          value_parser = provider_url("HANKO_OIDC_ISSUER (--oidc-issuer)"))]
    pub oidc_issuer: Option<String>,

    /// Where the provider's public keys are. Default: <issuer>/.well-known/jwks.json.
    #[arg(long, env = "HANKO_OIDC_JWKS_URL",
          value_parser = provider_url("HANKO_OIDC_JWKS_URL (--oidc-jwks-url)"))]
    pub oidc_jwks_url: Option<String>,

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
    pub oidc_authorize_url: Option<String>,

    /// The provider's token endpoint (Cognito: https://<domain>/oauth2/token).
    #[arg(long, env = "HANKO_OIDC_TOKEN_URL",
          value_parser = provider_url("HANKO_OIDC_TOKEN_URL (--oidc-token-url)"))]
    pub oidc_token_url: Option<String>,

    /// Where "log out" sends the person (Cognito: https://<domain>/logout). Optional.
    #[arg(long, env = "HANKO_OIDC_LOGOUT_URL",
          value_parser = provider_url("HANKO_OIDC_LOGOUT_URL (--oidc-logout-url)"))]
    pub oidc_logout_url: Option<String>,

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
) -> impl Fn(&str) -> Result<String, String> + Clone + Send + Sync + 'static {
    move |raw| crate::auth::oidc::provider_url(name, raw).map(|_| raw.trim().to_string())
}

impl OidcArgs {
    /// The JWKS URL: the configured one, else `<issuer>/.well-known/jwks.json`.
    pub fn jwks_url(&self) -> Option<String> {
        self.oidc_jwks_url.clone().or_else(|| {
            self.oidc_issuer
                .as_ref()
                .map(|i| format!("{}/.well-known/jwks.json", i.trim_end_matches('/')))
        })
    }

    fn validate(&self) -> anyhow::Result<()> {
        let Some(issuer) = &self.oidc_issuer else {
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
                anyhow::bail!(
                    "{name} is set but HANKO_OIDC_ISSUER (--oidc-issuer) is not; set the issuer to log in with your identity provider"
                );
            }
            return Ok(());
        };
        let url = |name: &str, v: &str| -> anyhow::Result<()> {
            crate::auth::oidc::provider_url(name, v)
                .map(drop)
                .map_err(anyhow::Error::msg)
        };
        url("HANKO_OIDC_ISSUER (--oidc-issuer)", issuer)?;
        if let Some(u) = &self.oidc_jwks_url {
            url("HANKO_OIDC_JWKS_URL (--oidc-jwks-url)", u)?;
        }
        match &self.oidc_client_id {
            Some(c) if !c.trim().is_empty() => {}
            _ => anyhow::bail!(
                "HANKO_OIDC_ISSUER is set but HANKO_OIDC_CLIENT_ID (--oidc-client-id) is not: set it to the console's app client id"
            ),
        }
        for (name, v) in [
            (
                "HANKO_OIDC_AUTHORIZE_URL (--oidc-authorize-url)",
                &self.oidc_authorize_url,
            ),
            (
                "HANKO_OIDC_TOKEN_URL (--oidc-token-url)",
                &self.oidc_token_url,
            ),
        ] {
            match v {
                Some(v) => url(name, v)?,
                None => anyhow::bail!(
                    "HANKO_OIDC_ISSUER is set but {name} is not: the console needs it to log people in"
                ),
            }
        }
        if let Some(u) = &self.oidc_logout_url {
            url("HANKO_OIDC_LOGOUT_URL (--oidc-logout-url)", u)?;
        }
        if self.oidc_groups_claim.trim().is_empty() {
            anyhow::bail!("HANKO_OIDC_GROUPS_CLAIM (--oidc-groups-claim) is empty");
        }
        Ok(())
    }
}

impl ServeArgs {
    /// Delivery pacing from the flags.
    pub fn delivery_policy(&self) -> crate::service::DeliveryPolicy {
        crate::service::DeliveryPolicy {
            backoff_base: std::time::Duration::from_millis(self.retry_base_ms),
            backoff_max: std::time::Duration::from_secs(self.retry_max_seconds),
            attempt_timeout: std::time::Duration::from_millis(self.callback_timeout_ms),
            reconcile_batch: self.reconcile_batch as usize,
        }
    }

    pub fn database_path(&self) -> PathBuf {
        self.database
            .clone()
            .unwrap_or_else(|| self.data_dir.join("hanko.db"))
    }

    pub fn signing_key_path(&self) -> PathBuf {
        self.signing_key
            .clone()
            .unwrap_or_else(|| self.data_dir.join("signing-key.pem"))
    }

    pub fn dev_idp_key_path(&self) -> PathBuf {
        self.dev_idp_key
            .clone()
            .unwrap_or_else(|| self.data_dir.join("dev-idp-key.pem"))
    }

    pub fn outbox_path(&self) -> PathBuf {
        self.outbox_dir
            .clone()
            .unwrap_or_else(|| self.data_dir.join("outbox"))
    }

    /// The api's rules, from configuration.
    pub fn policy(&self) -> crate::http::Policy {
        crate::http::Policy {
            auditor_group: self.auditor_group.clone(),
            max_auth_age: self
                .max_auth_age_seconds
                .map(|s| chrono::Duration::seconds(s as i64)),
            login_limiter: crate::http::limit::RateLimiter::new(self.login_rate_limit),
            request_timeout: std::time::Duration::from_secs(self.request_timeout_seconds),
            client_ip_header: self.client_ip_header.clone(),
            origin_secret: self.origin_secret.clone(),
        }
    }

    /// Checks what flags alone cannot; the message names the variable to set.
    pub fn validate(&self) -> anyhow::Result<()> {
        self.oidc.validate()?;
        if self.dev_users.is_none() && self.oidc.oidc_issuer.is_none() {
            anyhow::bail!(
                "no way to log in: set HANKO_OIDC_ISSUER (--oidc-issuer, with HANKO_OIDC_CLIENT_ID, HANKO_OIDC_AUTHORIZE_URL and HANKO_OIDC_TOKEN_URL) for Cognito or another OIDC provider, or HANKO_DEV_USERS (--dev-users) to a users file for the dev identity provider"
            );
        }
        if self.store == StoreKind::Dynamodb
            && self.table.as_deref().is_none_or(|t| t.trim().is_empty())
        {
            anyhow::bail!(
                "HANKO_STORE=dynamodb needs the table: set HANKO_TABLE (--table) to the DynamoDB table's name"
            );
        }
        if let Some(u) = &self.public_url
            && !(u.starts_with("http://") || u.starts_with("https://"))
        {
            anyhow::bail!(
                "HANKO_PUBLIC_URL (--public-url) must start with http:// or https://, got {u:?}"
            );
        }
        if self.signer == SignerKind::Kms && self.kms_key_id.as_deref().unwrap_or("").is_empty() {
            anyhow::bail!(
                "HANKO_SIGNER=kms needs HANKO_KMS_KEY_ID (--kms-key-id): the KMS key that signs decisions"
            );
        }
        if self.notifier == NotifierKind::Smtp && self.smtp_url.is_none() {
            anyhow::bail!(
                "HANKO_NOTIFIER=smtp needs HANKO_SMTP_URL (--smtp-url), e.g. smtp://mail.example.com:587?tls=required"
            );
        }
        if let Some(dir) = &self.console_dir
            && !dir.join("index.html").is_file()
        {
            anyhow::bail!(
                "HANKO_CONSOLE_DIR (--console-dir) {} has no index.html; build the console with trunk first",
                dir.display()
            );
        }
        Ok(())
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

    #[test]
    fn the_store_is_sqlite_unless_dynamodb_is_chosen_with_a_table() {
        let default = parse(&[]);
        assert_eq!(default.store, StoreKind::Sqlite);
        assert_eq!(default.retention_days, 400);
        default.validate().unwrap();
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
        dynamo.validate().unwrap();
    }

    #[test]
    fn dynamodb_without_a_table_is_refused_with_the_variable_to_set() {
        let e = parse(&["--store", "dynamodb"]).validate().unwrap_err();
        assert!(e.to_string().contains("HANKO_TABLE"), "{e}");
        let blank = parse(&["--store", "dynamodb", "--table", " "]).validate();
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
                try_parse(&oidc_with(flag, local))
                    .unwrap()
                    .validate()
                    .unwrap();
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
        for listen in ["127.0.0.1:8080", "127.0.0.2:0", "[::1]:8080"] {
            crate::serve::dev_login_listen_check(&parse(&["--listen", listen])).unwrap();
        }
        for listen in ["0.0.0.0:8080", "192.0.2.10:8080", "[::]:8080"] {
            let e = crate::serve::dev_login_listen_check(&parse(&["--listen", listen]))
                .unwrap_err()
                .to_string();
            assert!(e.contains("HANKO_DEV_LOGIN_ANYWHERE"), "{e}");
            let anywhere = parse(&["--listen", listen, "--dev-login-anywhere"]);
            crate::serve::dev_login_listen_check(&anywhere).unwrap();
        }
    }
}
