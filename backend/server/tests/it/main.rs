//! The server's integration tests, one binary (each test binary links the AWS SDKs): one
//! module per area, sharing the in-process Hanko of `common`.

mod common;

mod api;
mod audit;
mod chat;
mod decision_properties;
mod delegation;
mod events;
mod jwt_attacks;
mod lambda;
mod metrics;
mod openapi;
mod passkeys;
mod smtp;
mod verify_cli;
