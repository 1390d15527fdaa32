//! One module per section of the report: each measures, then returns its markdown.

pub mod cold_start;
pub mod console;
pub mod console_wait;
pub mod decide;
pub mod intake;
pub mod list_read;
