//! Putting the parts together from configuration, and running them: the HTTP server, the
//! intake poller and the housekeeping loop, all stopped by one cancellation token.

use std::net::SocketAddr;
use std::sync::Arc;

use anyhow::Context;
use aws_config::{BehaviorVersion, SdkConfig};
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

use crate::auth::dev::DevIdp;
use crate::auth::oidc::RemoteJwks;
use crate::auth::{Authenticator, KeySet, OidcClient, TrustedIssuer};
use crate::config::{self, Config, Oidc, PolicySource};
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
pub async fn signer(config: &config::Signer, sdk: &SdkConfig) -> anyhow::Result<Arc<dyn Signer>> {
    Ok(match config {
        config::Signer::Local { key, previous } => {
            let mut retired = Vec::new();
            for path in previous {
                let pem = std::fs::read_to_string(path).with_context(|| {
                    format!("reading {} (HANKO_PREVIOUS_SIGNING_KEYS)", path.display())
                })?;
                let key = EcKey::from_pem(&pem)
                    .with_context(|| format!("{} (HANKO_PREVIOUS_SIGNING_KEYS)", path.display()))?;
                retired.push(key.public_key().clone());
            }
            let current = EcKey::load_or_create(key)?;
            Arc::new(LocalSigner::new(current, retired))
        }
        config::Signer::Kms { key_id, previous } => {
            Arc::new(KmsSigner::new(aws_sdk_kms::Client::new(sdk), key_id, previous).await?)
        }
    })
}

/// The notifier named by `HANKO_NOTIFIER`.
pub fn notifier(
    config: &config::Notifier,
    sdk: &SdkConfig,
    public_url: &str,
    directory: Arc<dyn Directory>,
) -> anyhow::Result<Arc<dyn Notifier>> {
    let public_url = public_url.to_string();
    Ok(match config {
        config::Notifier::Outbox { dir, from } => Arc::new(FileOutbox {
            dir: dir.clone(),
            from: from.clone(),
            public_url,
            directory,
        }),
        config::Notifier::Ses { from } => Arc::new(SesNotifier {
            client: aws_sdk_sesv2::Client::new(sdk),
            from: from.clone(),
            public_url,
            directory,
        }),
        config::Notifier::Smtp { url, from } => {
            Arc::new(SmtpNotifier::new(url, from.clone(), public_url, directory)?)
        }
    })
}

/// The AWS configuration from the standard variables (`AWS_REGION`, credentials...),
/// with the emulator endpoint when one is configured.
pub async fn aws_config(config: &Config) -> SdkConfig {
    aws_config_loader(config).load().await
}

/// The loader behind [`aws_config`], for callers that know more about their environment.
pub fn aws_config_loader(config: &Config) -> aws_config::ConfigLoader {
    let mut loader = aws_config::defaults(BehaviorVersion::latest());
    if let Some(url) = &config.aws_endpoint_url {
        loader = loader.endpoint_url(url);
    }
    loader
}

/// The OIDC provider's issuer entry and the console's client.
pub fn oidc_login(oidc: &Oidc) -> anyhow::Result<(TrustedIssuer, OidcClient)> {
    let trusted = TrustedIssuer {
        issuer: oidc.issuer.clone(),
        audiences: vec![oidc.client_id.clone()],
        keys: KeySet::Remote(Arc::new(RemoteJwks::new(oidc.jwks_url.as_str())?)),
        groups_claim: oidc.groups_claim.clone(),
        token_use: Some(oidc.token_use),
        require_verified_email: !oidc.allow_unverified_email,
    };
    let client = OidcClient {
        authorize_url: oidc.authorize_url.clone(),
        token_url: oidc.token_url.clone(),
        client_id: oidc.client_id.clone(),
        scopes: oidc.scopes.clone(),
        logout_url: oidc.logout_url.clone(),
        token_use: oidc.token_use,
        provider_name: oidc.provider_name.clone(),
    };
    Ok((trusted, client))
}

/// Everything built from configuration.
pub struct Parts {
    pub state: AppState,
    pub sdk: SdkConfig,
}

/// Everything `config` names, built; `public_url` is the base of the emails' deep links.
pub async fn build(config: &Config, sdk: SdkConfig, public_url: &str) -> anyhow::Result<Parts> {
    let store: Arc<dyn Store> = match &config.store {
        config::Store::Sqlite { path } => Arc::new(
            SqliteStore::open(path)
                .with_context(|| format!("opening the database {}", path.display()))?,
        ),
        config::Store::Dynamo {
            table,
            retention_days,
        } => Arc::new(DynamoStore::new(
            aws_sdk_dynamodb::Client::new(&sdk),
            table,
            *retention_days,
        )),
    };
    let signer = signer(&config.signer, &sdk).await?;
    let dev_idp = match &config.dev_login {
        Some(dev) => Some(Arc::new(DevIdp::load(
            &dev.users,
            EcKey::load_or_create(&dev.key)?,
        )?)),
        None => None,
    };
    let mut issuers = Vec::new();
    if let Some(idp) = &dev_idp {
        issuers.push(idp.trusted_issuer());
    }
    let oidc = config.oidc.as_ref().map(oidc_login).transpose()?;
    let directory: Arc<dyn Directory> = match (&config.cognito_user_pool_id, &dev_idp) {
        (Some(pool), _) => Arc::new(CognitoDirectory {
            client: aws_sdk_cognitoidentityprovider::Client::new(&sdk),
            user_pool_id: pool.clone(),
        }),
        (None, Some(idp)) => idp.clone(),
        (None, None) => Arc::new(NoDirectory),
    };
    let mut notifier = notifier(&config.notifier, &sdk, public_url, directory)?;
    if let Some(chat) = crate::chat::build(&config.chat, &sdk, public_url, store.clone()).await? {
        notifier = Arc::new(crate::chat::WithChat {
            mail: notifier,
            chat: Arc::new(chat),
        });
    }
    let policies = match &config.policies {
        PolicySource::File(file) => Policies::from_file(file)?,
        PolicySource::Parameter(name) => {
            Policies::from_ssm(aws_sdk_ssm::Client::new(&sdk), name.clone()).await?
        }
        PolicySource::Absent => {
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
            config.delivery.attempt_timeout,
        )),
        notifier,
        signer,
        delivery: config.delivery,
        policies,
        reconcile_from: Default::default(),
        metrics: config.metrics(),
        events: crate::events::from_config(config.event_bus.as_deref(), &sdk),
        passkeys: config.passkeys(),
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
            policy: Arc::new(config.policy()),
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
pub fn dev_login_listen_check(config: &Config) -> anyhow::Result<()> {
    if let Some(dev) = &config.dev_login
        && !config.listen.ip().is_loopback()
        && !dev.anywhere
    {
        anyhow::bail!(
            "HANKO_DEV_USERS (--dev-users) turns on the dev login, which is for local use, but HANKO_LISTEN (--listen) {} is not a loopback address: listen on 127.0.0.1 or [::1], log in with an identity provider (HANKO_OIDC_ISSUER), or set HANKO_DEV_LOGIN_ANYWHERE=true (--dev-login-anywhere) to serve it there anyway",
            config.listen
        );
    }
    Ok(())
}

/// Binds, then starts the server, the intake poller and the housekeeping loop. `config` is
/// a [`Config`] or the [`ServeArgs`](crate::config::ServeArgs) it is made from.
/// `sdk` overrides the AWS configuration from the environment (tests pass their own).
pub async fn start(
    config: impl TryInto<Config, Error: Into<anyhow::Error>>,
    sdk: Option<SdkConfig>,
) -> anyhow::Result<Running> {
    let mut config: Config = config.try_into().map_err(Into::into)?;
    dev_login_listen_check(&config)?;
    let listener = tokio::net::TcpListener::bind(config.listen)
        .await
        .with_context(|| format!("cannot listen on {} (HANKO_LISTEN)", config.listen))?;
    let addr = listener.local_addr()?;
    // The port taken (of port 0), for what is derived from it (the passkeys' origin).
    config.listen = addr;
    let public_url = match &config.public_url {
        Some(url) => url.as_str().trim_end_matches('/').to_string(),
        None => format!("http://{addr}"),
    };
    let sdk = match sdk {
        Some(s) => s,
        None => aws_config(&config).await,
    };
    let parts = build(&config, sdk, &public_url).await?;
    let stop = CancellationToken::new();
    let mut tasks = Vec::new();

    if let Some(intake) = &config.intake {
        tasks.push(tokio::spawn(crate::intake::poll_queue(
            parts.state.hanko.clone(),
            aws_sdk_sqs::Client::new(&parts.sdk),
            intake.queue_url.clone(),
            intake.wait_seconds,
            stop.clone(),
        )));
    }
    {
        let hanko = parts.state.hanko.clone();
        let stop = stop.clone();
        let every = config.sweep_interval;
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

    let app = http::router(parts.state.clone(), config.console_dir.clone());
    let server_stop = stop.clone();
    let server = tokio::spawn(async move {
        axum::serve(
            listener,
            app.into_make_service_with_connect_info::<SocketAddr>(),
        )
        .with_graceful_shutdown(async move { server_stop.cancelled().await })
        .await
    });
    match &config.notifier {
        config::Notifier::Outbox { dir, .. } => {
            tracing::info!(%addr, %public_url, outbox = %dir.display(), "hanko is serving")
        }
        _ => tracing::info!(%addr, %public_url, "hanko is serving"),
    }
    Ok(Running {
        addr,
        public_url,
        state: parts.state,
        stop,
        tasks,
        server,
    })
}
