//! Configuration: command-line flags that mirror environment variables, checked at start.

use std::net::SocketAddr;
use std::path::PathBuf;

use clap::{Args, ValueEnum};

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

    /// Log lines as text or JSON.
    #[arg(long, env = "HANKO_LOG_FORMAT", value_enum, default_value = "text")]
    pub log_format: LogFormat,

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
}

/// A secret from the command line or environment (kept out of `Debug` output).
fn secret(s: &str) -> Result<secrecy::SecretString, std::convert::Infallible> {
    Ok(s.into())
}

impl ServeArgs {
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

    /// Checks what flags alone cannot; the message names the variable to set.
    pub fn validate(&self) -> anyhow::Result<()> {
        if self.dev_users.is_none() {
            anyhow::bail!(
                "no way to log in: set HANKO_DEV_USERS (--dev-users) to a users file for the dev identity provider"
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
