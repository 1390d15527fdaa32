//! Health, how to log in, and the public keys that verify signed decisions.

use axum::extract::State;
use axum::routing::get;
use axum::{Json, Router};
use hanko_api::{ConsoleConfig, Health, LoginOptions, OidcLogin};
use serde_json::{Value, json};

use super::AppState;

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/health", get(health))
        .route("/config", get(config))
}

/// Served at the site root, outside `/api`.
pub fn well_known() -> Router<AppState> {
    Router::new().route("/.well-known/jwks.json", get(jwks))
}

async fn health() -> Json<Health> {
    Json(Health {
        status: "ok".into(),
    })
}

/// Public: the console reads it before anyone has logged in.
async fn config(State(s): State<AppState>) -> Json<ConsoleConfig> {
    Json(ConsoleConfig {
        login: LoginOptions {
            dev: s.dev_idp.is_some(),
            oidc: s.auth.oidc_client().map(|c| OidcLogin {
                authorize_url: c.authorize_url.clone(),
                token_url: c.token_url.clone(),
                client_id: c.client_id.clone(),
                scopes: c.scopes.clone(),
                logout_url: c.logout_url.clone(),
                token_use: c.token_use.as_str().into(),
            }),
        },
    })
}

async fn jwks(State(s): State<AppState>) -> Json<Value> {
    Json(json!({"keys": [s.hanko.signer.public_jwk()]}))
}
