//! The end-to-end tests, one binary (each test binary links the AWS SDKs): one module per
//! area, each on the stacks the harness (`hanko_e2e`, in harness/) starts for it.

mod approval_flow;
mod aws_stack;
mod cognito;
mod console;
mod delivery;
mod kms_ses;
mod lambda_function;
mod oidc_login;
mod race;
mod scanners;
mod schemathesis;
mod secrecy;
mod store_conformance;
