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

use crate::config::ServeArgs;
use crate::http;
use crate::intake;
use crate::serve;

pub async fn run(args: ServeArgs) -> Result<(), lambda_runtime::Error> {
    let handler = std::env::var("HANKO_HANDLER").unwrap_or_else(|_| "api".into());
    let sdk = aws_config(&args).await;
    let public_url = args
        .public_url
        .clone()
        .ok_or("HANKO_PUBLIC_URL is required on Lambda (the console's URL, for deep links)")?;
    let parts = serve::build(&args, sdk, &public_url).await?;
    let hanko = parts.state.hanko.clone();
    match handler.as_str() {
        "api" => lambda_http::run(http::router(parts.state, None)).await,
        "intake" => {
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
        "sqs" => {
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
        "sweeper" => {
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
        other => Err(format!("HANKO_HANDLER is {other:?}; use api, intake, sqs or sweeper").into()),
    }
}

/// The AWS configuration of a function. Lambda hands the function its region and its role's
/// credentials in the environment (`AWS_REGION`, `AWS_ACCESS_KEY_ID`...), where the default
/// chains would look first anyway; naming those sources skips building the rest of the chains
/// (an STS client with its endpoint rules, a read of the CA bundle: about 1 ms of a cold
/// start). Without credentials in the environment (SnapStart's container credentials), the
/// default chain stays.
async fn aws_config(args: &ServeArgs) -> SdkConfig {
    let mut loader = serve::aws_config_loader(args);
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
