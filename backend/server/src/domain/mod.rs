//! The rules of an approval, as plain functions over plain data: no I/O here.
//!
//! `intake` turns a workflow's message into a [`NewRequest`]; `policy` holds it to the
//! operator's approval policy; `rules` says who may vote, whether the quorum is met and
//! whether a request has expired. The strings that carry meaning are parsed once, each into
//! its own type: [`Email`], [`Principal`], [`RequestId`], [`TaskToken`].

pub mod chat;
pub mod delegation;
pub mod email;
pub mod intake;
pub mod nudge;
pub mod policy;
pub mod principal;
pub mod request_id;
pub mod rules;
pub mod task_token;

pub use delegation::{Delegation, DelegationProblem};
pub use email::{Email, NotAnEmail};
pub use intake::{Given, IntakeError, IntakeMessage, NewRequest, OnReject};
pub use policy::{AppliedPolicy, PolicyDocument, Violation};
pub use principal::{Caller, Principal};
pub use request_id::{NotARequestId, RequestId};
pub use task_token::TaskToken;
