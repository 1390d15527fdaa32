//! Hanko: human approval for AWS Step Functions.
//!
//! A workflow pauses on a task token and sends an approval request (the intake); the
//! right people are told (the notifier) and decide in the console through the api; the
//! decision is recorded (the store), signed (the keys) and handed back to the workflow.

pub mod auth;
pub mod chat;
pub mod config;
pub mod domain;
pub mod events;
pub mod http;
pub mod intake;
pub mod keys;
pub mod lambda;
pub mod metrics;
pub mod notifier;
pub mod passkeys;
pub mod policy_source;
pub mod serve;
pub mod service;
pub mod signer;
pub mod store;
pub mod verify;
pub mod workflow;
