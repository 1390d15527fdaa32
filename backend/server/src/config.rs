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

    /// Longest time one api request may take before it is answered with a 503.
    #[arg(long, env = "HANKO_REQUEST_TIMEOUT_SECONDS", default_value_t = 15,
          value_parser = clap::value_parser!(u64).range(1..=900))]
    pub request_timeout_seconds: u64,

    /// Header in which a trusted proxy in front of Hanko puts the caller's address, for the
    /// audit trail and the login rate limit (behind CloudFront: cloudfront-viewer-address).
    /// Set it only when every request comes through that proxy.
    #[arg(long, env = "HANKO_CLIENT_IP_HEADER", value_parser = parse_header_name)]
    pub client_ip_header: Option<axum::http::HeaderName>,

    /// Dev login attempts allowed per minute, per source address and per email (0: no limit).
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
    #[arg(long, env = "HANKO_OIDC_ISSUER")]
    pub oidc_issuer: Option<String>,

    /// Where the provider's public keys are. Default: <issuer>/.well-known/jwks.json.
    #[arg(long, env = "HANKO_OIDC_JWKS_URL")]
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
    #[arg(long, env = "HANKO_OIDC_AUTHORIZE_URL")]
    pub oidc_authorize_url: Option<String>,

    /// The provider's token endpoint (Cognito: https://<domain>/oauth2/token).
    #[arg(long, env = "HANKO_OIDC_TOKEN_URL")]
    pub oidc_token_url: Option<String>,

    /// Where "log out" sends the person (Cognito: https://<domain>/logout). Optional.
    #[arg(long, env = "HANKO_OIDC_LOGOUT_URL")]
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
            if v.starts_with("https://") || v.starts_with("http://") {
                Ok(())
            } else {
                anyhow::bail!("{name} must be an http(s) URL, got {v:?}")
            }
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
}
