//! Running on AWS Lambda. `HANKO_HANDLER` picks the role of the function:
//! `api` (default; the same Router through `lambda_http`), `intake` (direct invoke by a
//! state machine), `sqs` (intake queue event source) or `sweeper` (scheduled housekeeping).

use std::sync::Arc;

use aws_config::SdkConfig;
use aws_config::environment::EnvironmentVariableCredentialsProvider;
use aws_config::meta::region::RegionProviderChain;
use aws_lambda_events::sqs::SqsEvent;
use lambda_runtime::{LambdaEvent, service_fn};
use serde_json::{Value, json};

use crate::config::{Config, Handler};
use crate::http;
use crate::intake;
use crate::serve;

pub async fn run(handler: Handler, config: Config) -> Result<(), lambda_runtime::Error> {
    let sdk = aws_config(&config).await;
    let public_url = config
        .public_url
        .as_ref()
        .ok_or("HANKO_PUBLIC_URL is required on Lambda (the console's URL, for deep links)")?
        .as_str()
        .trim_end_matches('/');
    let parts = serve::build(&config, sdk, public_url).await?;
    let hanko = parts.state.hanko.clone();
    match handler {
        Handler::Api => lambda_http::run(http::router(parts.state, None)).await,
        Handler::Intake => {
            lambda_runtime::run(service_fn(move |ev: LambdaEvent<Value>| {
                let hanko = hanko.clone();
                async move {
                    intake::handle_invoke(&hanko, ev.payload)
                        .await
                        .map_err(lambda_runtime::Error::from)
                }
            }))
            .await
        }
        Handler::Sqs => {
            lambda_runtime::run(service_fn(move |ev: LambdaEvent<SqsEvent>| {
                let hanko = hanko.clone();
                async move {
                    Ok::<_, lambda_runtime::Error>(
                        intake::handle_sqs_batch(&hanko, ev.payload).await,
                    )
                }
            }))
            .await
        }
        Handler::Sweeper => {
            let hanko: Arc<_> = hanko;
            lambda_runtime::run(service_fn(move |_: LambdaEvent<Value>| {
                let hanko = hanko.clone();
                async move {
                    hanko.sweep().await.map_err(lambda_runtime::Error::from)?;
                    Ok::<_, lambda_runtime::Error>(json!({"status": "ok"}))
                }
            }))
            .await
        }
    }
}

/// The AWS configuration of a function. Lambda hands the function its region and its role's
/// credentials in the environment (`AWS_REGION`, `AWS_ACCESS_KEY_ID`...), where the default
/// chains would look first anyway; naming those sources skips building the rest of the chains
/// (an STS client with its endpoint rules, a read of the CA bundle: about 1 ms of a cold
/// start). Without credentials in the environment (SnapStart's container credentials), the
/// default chain stays.
async fn aws_config(config: &Config) -> SdkConfig {
    let mut loader = serve::aws_config_loader(config);
    if let Some(region) = RegionProviderChain::first_try(
        aws_config::environment::EnvironmentVariableRegionProvider::new(),
    )
    .region()
    .await
    {
        loader = loader.region(region);
    }
    if std::env::var_os("AWS_ACCESS_KEY_ID").is_some()
        && std::env::var_os("AWS_SECRET_ACCESS_KEY").is_some()
    {
        loader = loader.credentials_provider(EnvironmentVariableCredentialsProvider::new());
    }
    loader.load().await
}
