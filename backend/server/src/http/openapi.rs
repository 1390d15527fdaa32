//! The OpenAPI 3.1 description of the api, generated from the code: the contract types
//! derive `utoipa::ToSchema` (hanko-api's `openapi` feature) and each handler carries a
//! `#[utoipa::path]` naming its route, parameters, body and every status it can answer.
//! Served, public, at `GET /api/openapi.json`; `tests/it/openapi.rs` keeps it true.
//!
//! A new route: put `#[utoipa::path(...)]` on its handler (copy a neighbour: method, full
//! path from the site root, `security(("bearer" = []))` unless public, every status with
//! `body = ErrorBody` for errors), make the handler `pub(crate)`, and list it in
//! `paths(...)` below. The router test fails until both agree.

use axum::routing::get;
use axum::{Json, Router};
use serde_json::Value;
use utoipa::openapi::security::{Http, HttpAuthScheme, SecurityScheme};
use utoipa::{Modify, OpenApi};

use super::AppState;
use super::{approvals, audit, delegation, meta, passkeys, session};

#[derive(OpenApi)]
#[openapi(
    info(
        title = "Hanko",
        description = "Human approval for AWS Step Functions. All bodies are JSON, times RFC 3339 UTC; \
            every error is `{\"error\":{\"code\",\"message\"}}`.",
        license(name = "Apache-2.0", identifier = "Apache-2.0"),
    ),
    paths(
        meta::health,
        meta::jwks,
        meta::config,
        session::dev_login,
        session::me,
        approvals::list,
        approvals::read,
        approvals::decide,
        audit::signed_decision,
        audit::export,
        passkeys::list,
        passkeys::registration,
        passkeys::register,
        passkeys::remove,
        passkeys::challenge,
        delegation::read,
        delegation::set,
        delegation::end,
        openapi_json,
    ),
    components(schemas(StatusFilter)),
    modifiers(&BearerAuth),
    tags(
        (name = "meta", description = "health, the signing keys, this description"),
        (name = "session", description = "logging in and who am I"),
        (name = "approvals", description = "approval requests: list, read, decide"),
        (name = "audit", description = "signed decision records and the audit trail export"),
        (name = "passkeys", description = "the caller's passkeys, and the challenge a passkey signs for a vote"),
        (name = "delegation", description = "while I am away, someone else decides for me"),
    )
)]
pub struct ApiDoc;

/// The `bearer` security scheme: a JWT from the identity provider (or the dev login).
struct BearerAuth;

impl Modify for BearerAuth {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "bearer",
            SecurityScheme::Http(
                Http::builder()
                    .scheme(HttpAuthScheme::Bearer)
                    .bearer_format("JWT")
                    .description(Some(
                        "`Authorization: Bearer <JWT>`: a token of the configured identity provider",
                    ))
                    .build(),
            ),
        );
    }
}

/// The value of the `status` query parameter of `GET /api/approvals`.
#[derive(utoipa::ToSchema)]
#[schema(rename_all = "snake_case")]
#[expect(
    dead_code,
    reason = "describes a query parameter; the handler parses the string"
)]
pub(crate) enum StatusFilter {
    Pending,
    Approved,
    Rejected,
    Expired,
    Closed,
    All,
}

/// A JWK set (RFC 7517): each key a JSON object with at least `kty` and `kid`.
#[derive(utoipa::ToSchema)]
#[expect(dead_code, reason = "describes the JSON that meta::jwks builds")]
pub(crate) struct Jwks {
    keys: Vec<Value>,
}

pub fn router() -> Router<AppState> {
    Router::new().route("/openapi.json", get(openapi_json))
}

/// This description. Public.
#[utoipa::path(get, path = "/api/openapi.json", tag = "meta",
    responses((status = 200, description = "the OpenAPI 3.1 description of the api", body = Object)))]
pub(crate) async fn openapi_json() -> Json<utoipa::openapi::OpenApi> {
    Json(ApiDoc::openapi())
}
