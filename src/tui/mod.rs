//! The console. Only terminal lifecycle lives here so far: entering and leaving the
//! alternate screen, and making sure every exit path — panics included — restores it.

pub mod action;
pub mod app;
pub mod keymap;
pub mod prompt;
pub mod run;
pub mod terminal;
pub mod theme;
pub mod ui;
pub mod wizards;
pub mod worker;

pub use theme::ConfigFileError;
