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

/// Whether the api is up. Public.
#[utoipa::path(get, path = "/api/health", tag = "meta",
    responses((status = 200, description = "the api is up", body = Health)))]
pub(crate) async fn health() -> Json<Health> {
    Json(Health {
        status: "ok".into(),
    })
}

/// The public keys (JWK set, by `kid`) that verify signed decisions. Public.
#[utoipa::path(get, path = "/.well-known/jwks.json", tag = "meta",
    responses((status = 200, description = "a JWK set: `{\"keys\":[{\"kty\":\"EC\",\"kid\",...}]}`", body = super::openapi::Jwks)))]
pub(crate) async fn jwks(State(s): State<AppState>) -> Json<Value> {
    Json(s.hanko.signer.jwks())
}
