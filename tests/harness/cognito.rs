//! A Cognito user pool on moto for the tests that log in with real Cognito tokens: an app
//! client like the console's, groups, users with passwords, and their tokens from
//! AdminInitiateAuth. moto's tokens carry the real AWS issuer
//! (`https://cognito-idp.<region>.amazonaws.com/<pool id>`) while their keys are served by
//! moto, which is why `hanko serve` takes the JWKS URL apart from the issuer.

use anyhow::Context;
use aws_sdk_cognitoidentityprovider::Client;
use aws_sdk_cognitoidentityprovider::types::{
    AttributeType, AuthFlowType, AuthenticationResultType, ExplicitAuthFlowsType,
};

use crate::Moto;

/// The region of the moto stack (its tokens' issuer names it).
pub const REGION: &str = "ap-northeast-1";
/// Every user's password.
pub const PASSWORD: &str = "Correct-Horse-42";
/// The hosted UI domain the console is told about (moto has no hosted UI).
pub const DOMAIN: &str = "https://hanko-test.auth.ap-northeast-1.amazoncognito.com";

/// A user pool and its console app client.
pub struct Pool {
    pub client: Client,
    pub id: String,
    pub client_id: String,
    pub endpoint: String,
}

impl Pool {
    /// A pool named `name` with client `hanko-console`, and `users` as (email, groups);
    /// the groups are made as needed.
    pub async fn create(
        moto: &Moto,
        name: &str,
        users: &[(&str, &[&str])],
    ) -> anyhow::Result<Self> {
        let client = Client::new(&moto.sdk);
        let id = client
            .create_user_pool()
            .pool_name(name)
            .send()
            .await?
            .user_pool()
            .and_then(|p| p.id())
            .context("pool id")?
            .to_string();
        let mut pool = Self {
            client,
            id,
            client_id: String::new(),
            endpoint: moto.endpoint.clone(),
        };
        pool.client_id = pool.app_client("hanko-console").await?;
        let mut groups: Vec<&str> = users.iter().flat_map(|(_, g)| g.iter().copied()).collect();
        groups.sort();
        groups.dedup();
        for g in groups {
            pool.client
                .create_group()
                .user_pool_id(&pool.id)
                .group_name(g)
                .send()
                .await?;
        }
        for (email, groups) in users {
            pool.add_user(email, groups).await?;
        }
        Ok(pool)
    }

    /// Another app client of this pool (a public client; password auth on for the tests).
    pub async fn app_client(&self, name: &str) -> anyhow::Result<String> {
        Ok(self
            .client
            .create_user_pool_client()
            .user_pool_id(&self.id)
            .client_name(name)
            .explicit_auth_flows(ExplicitAuthFlowsType::AllowAdminUserPasswordAuth)
            .explicit_auth_flows(ExplicitAuthFlowsType::AllowUserPasswordAuth)
            .explicit_auth_flows(ExplicitAuthFlowsType::AllowRefreshTokenAuth)
            .read_attributes("email")
            // Hanko takes an ID token's email only when it says the email is verified.
            .read_attributes("email_verified")
            .send()
            .await?
            .user_pool_client()
            .and_then(|c| c.client_id())
            .context("client id")?
            .to_string())
    }

    async fn add_user(&self, email: &str, groups: &[&str]) -> anyhow::Result<()> {
        let c = &self.client;
        c.admin_create_user()
            .user_pool_id(&self.id)
            .username(email)
            .user_attributes(
                AttributeType::builder()
                    .name("email")
                    .value(email)
                    .build()?,
            )
            .user_attributes(
                AttributeType::builder()
                    .name("email_verified")
                    .value("true")
                    .build()?,
            )
            .send()
            .await?;
        c.admin_set_user_password()
            .user_pool_id(&self.id)
            .username(email)
            .password(PASSWORD)
            .permanent(true)
            .send()
            .await?;
        for g in groups {
            c.admin_add_user_to_group()
                .user_pool_id(&self.id)
                .username(email)
                .group_name(*g)
                .send()
                .await?;
        }
        Ok(())
    }

    /// ID and access tokens of `email` for app client `client_id`, by AdminInitiateAuth.
    pub async fn tokens_for(
        &self,
        client_id: &str,
        email: &str,
    ) -> anyhow::Result<AuthenticationResultType> {
        self.client
            .admin_initiate_auth()
            .user_pool_id(&self.id)
            .client_id(client_id)
            .auth_flow(AuthFlowType::AdminUserPasswordAuth)
            .auth_parameters("USERNAME", email)
            .auth_parameters("PASSWORD", PASSWORD)
            .send()
            .await?
            .authentication_result()
            .cloned()
            .context("no tokens (a challenge instead?)")
    }

    /// The console client's ID token of `email`.
    pub async fn id_token(&self, email: &str) -> anyhow::Result<String> {
        self.tokens_for(&self.client_id, email)
            .await?
            .id_token()
            .map(str::to_string)
            .context("an ID token")
    }

    /// The tokens' `iss`: the real AWS URL, not moto's.
    pub fn issuer(&self) -> String {
        format!("https://cognito-idp.{REGION}.amazonaws.com/{}", self.id)
    }

    /// `hanko serve` flags that trust this pool, taking `token_use` tokens, with its keys
    /// from moto's JWKS URL.
    pub fn hanko_args(&self, token_use: &str) -> Vec<String> {
        [
            ("--oidc-issuer", self.issuer()),
            (
                "--oidc-jwks-url",
                format!("{}/{}/.well-known/jwks.json", self.endpoint, self.id),
            ),
            ("--oidc-client-id", self.client_id.clone()),
            ("--oidc-token-use", token_use.to_string()),
            ("--oidc-authorize-url", format!("{DOMAIN}/oauth2/authorize")),
            ("--oidc-token-url", format!("{DOMAIN}/oauth2/token")),
            ("--oidc-logout-url", format!("{DOMAIN}/logout")),
            ("--cognito-user-pool-id", self.id.clone()),
        ]
        .into_iter()
        .flat_map(|(k, v)| [k.to_string(), v])
        .collect()
    }
}
