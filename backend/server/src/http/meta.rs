//! Health, how to log in, and the public keys that verify signed decisions.

use axum::extract::State;
use axum::routing::get;
use axum::{Json, Router};
use hanko_api::{ConsoleConfig, Health, LoginOptions, OidcLogin};
use serde_json::Value;

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

/// Whether the api is up. Public.
#[utoipa::path(get, path = "/api/health", tag = "meta",
    responses((status = 200, description = "the api is up", body = Health)))]
pub(crate) async fn health() -> Json<Health> {
    Json(Health {
        status: "ok".into(),
    })
}

/// How the console logs people in (dev login, OIDC with PKCE). Public: the console reads
/// it before anyone has logged in.
#[utoipa::path(get, path = "/api/config", tag = "session",
    responses((status = 200, description = "the login options", body = ConsoleConfig)))]
pub(crate) async fn config(State(s): State<AppState>) -> Json<ConsoleConfig> {
    Json(ConsoleConfig {
        login: LoginOptions {
            dev: s.dev_idp.is_some(),
            oidc: s.auth.oidc_client().map(|c| OidcLogin {
                authorize_url: c.authorize_url.to_string(),
                token_url: c.token_url.to_string(),
                client_id: c.client_id.clone(),
                scopes: c.scopes.clone(),
                logout_url: c.logout_url.as_ref().map(ToString::to_string),
                token_use: c.token_use.as_str().into(),
                provider_name: c.provider_name.clone(),
            }),
        },
    })
}

/// The public keys (JWK set, by `kid`) that verify signed decisions. Public.
#[utoipa::path(get, path = "/.well-known/jwks.json", tag = "meta",
    responses((status = 200, description = "a JWK set: `{\"keys\":[{\"kty\":\"EC\",\"kid\",...}]}`", body = super::openapi::Jwks)))]
pub(crate) async fn jwks(State(s): State<AppState>) -> Json<Value> {
    Json(s.hanko.signer.jwks())
}
