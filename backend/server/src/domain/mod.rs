//! The rules of an approval, as plain functions over plain data: no I/O here.
//!
//! `intake` turns a workflow's message into a [`NewRequest`]; `rules` says who may vote,
//! whether the quorum is met and whether a request has expired.

pub mod intake;
pub mod principal;
pub mod rules;

pub use intake::{IntakeError, IntakeMessage, NewRequest, OnReject};
pub use principal::{Caller, Principal};
