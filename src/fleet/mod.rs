//! Per-host actors: each owns its host's link and turns what happens there into
//! messages for the console and the CLI.

pub mod actor;
pub mod apps;
pub mod containers;
pub mod engine_events;
pub mod facts;
pub mod json;
pub mod model;
pub mod plugin;
pub mod probe;
pub mod problems;
pub mod report;
pub mod report_file;
pub mod status;
pub mod table;
pub mod target;
pub mod timeline;
