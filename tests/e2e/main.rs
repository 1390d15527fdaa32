//! The end-to-end tests, one binary (each test binary links the AWS SDKs): one module per
//! area, each on the stacks the harness (`hanko_e2e`, in harness/) starts for it.

mod a11y;
mod approval_flow;
mod aws_stack;
mod chat_secrets;
mod cognito;
mod console;
mod delegation;
mod delivery;
mod events;
mod keyboard;
mod kms_ses;
mod lambda_function;
mod local_time;
mod mailbox;
mod oidc_login;
mod operations;
mod passkeys;
mod race;
mod reminders;
mod scanners;
mod schemathesis;
mod screenshots;
mod secrecy;
mod store_conformance;
