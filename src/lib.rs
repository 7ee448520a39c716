//! fleetdeck — a terminal operations console for fleets of Docker hosts reached over SSH.
//!
//! The crate is split the way `docs/architecture.md` describes: pure parsers and planners
//! that never touch a terminal, actors that own remote I/O, and a TUI that only renders
//! state. This release ships the foundation: the CLI, logging, terminal safety, and the
//! practice fleet (`fleetdeck lab`) that every other part is built and tested against.

#![cfg_attr(not(test), warn(clippy::unwrap_used, clippy::expect_used))]

pub mod alert;
pub mod audit;
pub mod cli;
pub mod commands;
pub mod config;
pub mod core;
pub mod docker;
pub mod exporter;
pub mod fleet;
pub mod history;
pub mod inventory;
pub mod lab;
pub mod logging;
pub mod paths;
pub mod probes;
pub mod sanitize;
pub mod secrets;
pub mod ssh;
pub mod stack;
pub mod tty;
pub mod tui;
pub mod util;
pub mod wizard;
