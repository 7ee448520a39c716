//! Per-host actors: each owns its host's link and turns what happens there into
//! messages for the console and the CLI.

pub mod containers;
pub mod engine_events;
