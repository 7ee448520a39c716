//! The console: `app/` its state and the one `update` function, `ui/` one file per
//! panel, `run` the event loop, `worker` the wizards' worker thread, `history` the
//! persistent history the timeline opens with and records into, `report` an incident
//! report written off the render path, `prompt` the SSH passphrase asker, `terminal`
//! entering and leaving the alternate screen (every exit path, panics included,
//! restores it), `action`, `keymap` and `theme` the operator's keys and colours.

pub mod action;
pub mod app;
mod config_file;
mod history;
pub mod keymap;
pub mod maintenance;
pub mod prompt;
pub mod report;
pub mod run;
pub mod terminal;
pub mod theme;
pub mod ui;
pub mod wizards;
pub mod worker;

pub use theme::ConfigFileError;
