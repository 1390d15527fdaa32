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
use crate::config::{OidcArgs, ServeArgs};
use crate::http::{self, AppState};
use crate::keys::EcKey;
use crate::notifier::{Directory, FileOutbox, NoDirectory};
use crate::service::Hanko;
use crate::store::sqlite::SqliteStore;
use crate::workflow::StepFunctions;

impl Directory for DevIdp {
    fn members_of(&self, group: &str) -> Vec<String> {
        DevIdp::members_of(self, group)
    }
}

/// The AWS configuration from the standard variables (`AWS_REGION`, credentials...),
/// with the emulator endpoint when one is configured.
pub async fn aws_config(args: &ServeArgs) -> SdkConfig {
    let mut loader = aws_config::defaults(BehaviorVersion::latest());
    if let Some(url) = &args.aws_endpoint_url {
        loader = loader.endpoint_url(url);
    }
    loader.load().await
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
    };
    let client = OidcClient {
        authorize_url,
        token_url,
        client_id,
        scopes: args.oidc_scopes.clone(),
        logout_url: args.oidc_logout_url.clone(),
        token_use: args.oidc_token_use,
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
    let store = SqliteStore::open(&args.database_path())
        .with_context(|| format!("opening the database {}", args.database_path().display()))?;
    let signer = Arc::new(EcKey::load_or_create(&args.signing_key_path())?);
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
    let directory: Arc<dyn Directory> = match &dev_idp {
        Some(idp) => idp.clone(),
        None => Arc::new(NoDirectory),
    };
    let notifier = FileOutbox {
        dir: args.outbox_path(),
        from: args.mail_from.clone(),
        public_url: public_url.to_string(),
        directory,
    };
    let hanko = Hanko {
        store: Arc::new(store),
        workflow: Arc::new(StepFunctions::new(aws_sdk_sfn::Client::new(&sdk))),
        notifier: Arc::new(notifier),
        signer,
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

/// Binds, then starts the server, the intake poller and the housekeeping loop.
/// `sdk` overrides the AWS configuration from the environment (tests pass their own).
pub async fn start(args: ServeArgs, sdk: Option<SdkConfig>) -> anyhow::Result<Running> {
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
