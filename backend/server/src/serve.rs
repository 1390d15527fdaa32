//! Putting the parts together from configuration, and running them: the HTTP server, the
//! intake poller and the housekeeping loop, all stopped by one cancellation token.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use aws_config::{BehaviorVersion, SdkConfig};
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

use crate::auth::dev::DevIdp;
use crate::auth::oidc::RemoteJwks;
use crate::auth::{Authenticator, KeySet, OidcClient, TrustedIssuer};
use crate::config::{NotifierKind, OidcArgs, ServeArgs, SignerKind, StoreKind};
use crate::http::{self, AppState};
use crate::keys::EcKey;
use crate::notifier::{
    CognitoDirectory, Directory, FileOutbox, NoDirectory, Notifier, SesNotifier, SmtpNotifier,
};
use crate::policy_source::Policies;
use crate::service::Hanko;
use crate::signer::{KmsSigner, LocalSigner, Signer};
use crate::store::Store;
use crate::store::dynamo::DynamoStore;
use crate::store::sqlite::SqliteStore;
use crate::workflow::StepFunctions;

#[async_trait::async_trait]
impl Directory for DevIdp {
    async fn members_of(&self, group: &str) -> Vec<String> {
        DevIdp::members_of(self, group)
    }
}

/// The decision signer named by `HANKO_SIGNER`, with the retired keys it still publishes.
pub async fn signer(args: &ServeArgs, sdk: &SdkConfig) -> anyhow::Result<Arc<dyn Signer>> {
    Ok(match args.signer {
        SignerKind::Local => {
            let mut previous = Vec::new();
            for path in &args.previous_signing_keys {
                let pem = std::fs::read_to_string(path).with_context(|| {
                    format!("reading {} (HANKO_PREVIOUS_SIGNING_KEYS)", path.display())
                })?;
                let key = EcKey::from_pem(&pem)
                    .with_context(|| format!("{} (HANKO_PREVIOUS_SIGNING_KEYS)", path.display()))?;
                previous.push(key.public_key().clone());
            }
            let current = EcKey::load_or_create(&args.signing_key_path())?;
            Arc::new(LocalSigner::new(current, previous))
        }
        SignerKind::Kms => {
            let key_id = args
                .kms_key_id
                .as_deref()
                .context("HANKO_SIGNER=kms needs HANKO_KMS_KEY_ID")?;
            Arc::new(
                KmsSigner::new(
                    aws_sdk_kms::Client::new(sdk),
                    key_id,
                    &args.previous_kms_key_ids,
                )
                .await?,
            )
        }
    })
}

/// The notifier named by `HANKO_NOTIFIER`.
pub fn notifier(
    args: &ServeArgs,
    sdk: &SdkConfig,
    public_url: &str,
    directory: Arc<dyn Directory>,
) -> anyhow::Result<Arc<dyn Notifier>> {
    let from = args.mail_from.clone();
    let public_url = public_url.to_string();
    Ok(match args.notifier {
        NotifierKind::Outbox => Arc::new(FileOutbox {
            dir: args.outbox_path(),
            from,
            public_url,
            directory,
        }),
        NotifierKind::Ses => Arc::new(SesNotifier {
            client: aws_sdk_sesv2::Client::new(sdk),
            from,
            public_url,
            directory,
        }),
        NotifierKind::Smtp => {
            let url = args
                .smtp_url
                .as_ref()
                .context("HANKO_NOTIFIER=smtp needs HANKO_SMTP_URL")?;
            Arc::new(SmtpNotifier::new(url, from, public_url, directory)?)
        }
    })
}

/// The AWS configuration from the standard variables (`AWS_REGION`, credentials...),
/// with the emulator endpoint when one is configured.
pub async fn aws_config(args: &ServeArgs) -> SdkConfig {
    aws_config_loader(args).load().await
}

/// The loader behind [`aws_config`], for callers that know more about their environment.
pub fn aws_config_loader(args: &ServeArgs) -> aws_config::ConfigLoader {
    let mut loader = aws_config::defaults(BehaviorVersion::latest());
    if let Some(url) = &args.aws_endpoint_url {
        loader = loader.endpoint_url(url);
    }
    loader
}

/// The OIDC provider's issuer entry and the console's client, when configured.
pub fn oidc_login(args: &OidcArgs) -> anyhow::Result<Option<(TrustedIssuer, OidcClient)>> {
    let (Some(issuer), Some(jwks_url), Some(client_id), Some(authorize_url), Some(token_url)) = (
        args.oidc_issuer.clone(),
        args.jwks_url(),
        args.oidc_client_id.clone(),
        args.oidc_authorize_url.clone(),
        args.oidc_token_url.clone(),
    ) else {
        return Ok(None);
    };
    let trusted = TrustedIssuer {
        issuer,
        audiences: vec![client_id.clone()],
        keys: KeySet::Remote(Arc::new(RemoteJwks::new(jwks_url)?)),
        groups_claim: args.oidc_groups_claim.clone(),
        token_use: Some(args.oidc_token_use),
        require_verified_email: !args.oidc_allow_unverified_email,
    };
    let client = OidcClient {
        authorize_url,
        token_url,
        client_id,
        scopes: args.oidc_scopes.clone(),
        logout_url: args.oidc_logout_url.clone(),
        token_use: args.oidc_token_use,
        provider_name: args
            .oidc_provider_name
            .as_deref()
            .map(str::trim)
            .filter(|n| !n.is_empty())
            .map(str::to_string),
    };
    Ok(Some((trusted, client)))
}

/// Everything built from configuration.
pub struct Parts {
    pub state: AppState,
    pub sdk: SdkConfig,
}

pub async fn build(args: &ServeArgs, sdk: SdkConfig, public_url: &str) -> anyhow::Result<Parts> {
    args.validate()?;
    let store: Arc<dyn Store> = match args.store {
        StoreKind::Sqlite => {
            Arc::new(SqliteStore::open(&args.database_path()).with_context(|| {
                format!("opening the database {}", args.database_path().display())
            })?)
        }
        StoreKind::Dynamodb => Arc::new(DynamoStore::new(
            aws_sdk_dynamodb::Client::new(&sdk),
            args.table
                .as_deref()
                .context("HANKO_TABLE is not set")?
                .trim(),
            args.retention_days,
        )),
    };
    let signer = signer(args, &sdk).await?;
    let dev_idp = match &args.dev_users {
        Some(users) => Some(Arc::new(DevIdp::load(
            users,
            EcKey::load_or_create(&args.dev_idp_key_path())?,
        )?)),
        None => None,
    };
    let mut issuers = Vec::new();
    if let Some(idp) = &dev_idp {
        issuers.push(idp.trusted_issuer());
    }
    let oidc = oidc_login(&args.oidc)?;
    let directory: Arc<dyn Directory> = match (&args.cognito_user_pool_id, &dev_idp) {
        (Some(pool), _) => Arc::new(CognitoDirectory {
            client: aws_sdk_cognitoidentityprovider::Client::new(&sdk),
            user_pool_id: pool.clone(),
        }),
        (None, Some(idp)) => idp.clone(),
        (None, None) => Arc::new(NoDirectory),
    };
    let notifier = notifier(args, &sdk, public_url, directory)?;
    let policies = match (&args.policy_file, &args.policy_parameter) {
        (Some(file), _) => Policies::from_file(file)?,
        (None, Some(name)) => {
            Policies::from_ssm(aws_sdk_ssm::Client::new(&sdk), name.trim().to_string()).await?
        }
        (None, None) => {
            tracing::warn!(
                "no approval policy document (HANKO_POLICY_FILE or HANKO_POLICY_PARAMETER): \
                 each workflow chooses its own approvers, quorum and self-approval"
            );
            Policies::Absent
        }
    };
    let hanko = Hanko {
        store,
        workflow: Arc::new(StepFunctions::with_timeouts(
            &sdk,
            args.delivery_policy().attempt_timeout,
        )),
        notifier,
        signer,
        delivery: args.delivery_policy(),
        policies,
        reconcile_from: Default::default(),
    };
    Ok(Parts {
        state: AppState {
            hanko: Arc::new(hanko),
            auth: Arc::new(match oidc {
                Some((issuer, client)) => {
                    issuers.push(issuer);
                    Authenticator::new(issuers).with_oidc_client(client)
                }
                None => Authenticator::new(issuers),
            }),
            dev_idp,
            policy: Arc::new(args.policy()),
        },
        sdk,
    })
}

/// A running `hanko serve`.
pub struct Running {
    pub addr: SocketAddr,
    pub public_url: String,
    pub state: AppState,
    stop: CancellationToken,
    tasks: Vec<JoinHandle<()>>,
    server: JoinHandle<std::io::Result<()>>,
}

impl Running {
    /// Stops everything it started and waits for it.
    pub async fn stop(self) -> anyhow::Result<()> {
        self.stop.cancel();
        for t in self.tasks {
            let _ = t.await;
        }
        self.server
            .await
            .context("server task")?
            .context("server")?;
        Ok(())
    }

    pub fn stop_token(&self) -> CancellationToken {
        self.stop.clone()
    }
}

/// The dev login (a users file with passwords) is for one machine: `hanko serve` refuses
/// it on an address other machines can reach unless told `--dev-login-anywhere`.
pub fn dev_login_listen_check(args: &ServeArgs) -> anyhow::Result<()> {
    if args.dev_users.is_some() && !args.listen.ip().is_loopback() && !args.dev_login_anywhere {
        anyhow::bail!(
            "HANKO_DEV_USERS (--dev-users) turns on the dev login, which is for local use, but HANKO_LISTEN (--listen) {} is not a loopback address: listen on 127.0.0.1 or [::1], log in with an identity provider (HANKO_OIDC_ISSUER), or set HANKO_DEV_LOGIN_ANYWHERE=true (--dev-login-anywhere) to serve it there anyway",
            args.listen
        );
    }
    Ok(())
}

/// Binds, then starts the server, the intake poller and the housekeeping loop.
/// `sdk` overrides the AWS configuration from the environment (tests pass their own).
pub async fn start(args: ServeArgs, sdk: Option<SdkConfig>) -> anyhow::Result<Running> {
    dev_login_listen_check(&args)?;
    let listener = tokio::net::TcpListener::bind(args.listen)
        .await
        .with_context(|| format!("cannot listen on {} (HANKO_LISTEN)", args.listen))?;
    let addr = listener.local_addr()?;
    let public_url = args
        .public_url
        .clone()
        .unwrap_or_else(|| format!("http://{addr}"))
        .trim_end_matches('/')
        .to_string();
    let sdk = match sdk {
        Some(s) => s,
        None => aws_config(&args).await,
    };
    let parts = build(&args, sdk, &public_url).await?;
    let stop = CancellationToken::new();
    let mut tasks = Vec::new();

    if let Some(url) = args.intake_queue_url.clone() {
        tasks.push(tokio::spawn(crate::intake::poll_queue(
            parts.state.hanko.clone(),
            aws_sdk_sqs::Client::new(&parts.sdk),
            url,
            args.intake_wait_seconds,
            stop.clone(),
        )));
    }
    {
        let hanko = parts.state.hanko.clone();
        let stop = stop.clone();
        let every = Duration::from_secs(args.sweep_interval_seconds);
        tasks.push(tokio::spawn(async move {
            loop {
                tokio::select! {
                    _ = stop.cancelled() => return,
                    _ = tokio::time::sleep(every) => {}
                }
                if let Err(e) = hanko.sweep().await {
                    tracing::error!(error = %e, "housekeeping pass failed");
                }
            }
        }));
    }

    let app = http::router(parts.state.clone(), args.console_dir.clone());
    let server_stop = stop.clone();
    let server = tokio::spawn(async move {
        axum::serve(
            listener,
            app.into_make_service_with_connect_info::<SocketAddr>(),
        )
        .with_graceful_shutdown(async move { server_stop.cancelled().await })
        .await
    });
    tracing::info!(%addr, %public_url, outbox = %args.outbox_path().display(), "hanko is serving");
    Ok(Running {
        addr,
        public_url,
        state: parts.state,
        stop,
        tasks,
        server,
    })
}
