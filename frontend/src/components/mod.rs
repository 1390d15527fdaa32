//! Reusable pieces of the console, one component per file.

pub mod approval_list;
pub mod audit_export;
pub mod confirm_dialog;
pub mod countdown;
pub mod decision_form;
pub mod decision_result;
pub mod details_json;
pub mod error_panel;
pub mod header;
pub mod lang_switch;
pub mod loading;
pub mod relative_time;
pub mod require_login;
pub mod status_badge;
pub mod status_filter;
