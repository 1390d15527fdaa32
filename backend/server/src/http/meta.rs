//! Health and the public keys that verify signed decisions.

use axum::extract::State;
use axum::routing::get;
use axum::{Json, Router};
use hanko_api::Health;
use serde_json::Value;

use super::AppState;

pub fn router() -> Router<AppState> {
    Router::new().route("/health", get(health))
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

async fn jwks(State(s): State<AppState>) -> Json<Value> {
    Json(s.hanko.signer.jwks())
}
