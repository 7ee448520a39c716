//! Small helpers every layer may use: time formatting, shell words, positioned
//! errors, did-you-mean, signals. They depend on nothing else in the crate, so any
//! module can reach them without an upward import.

pub mod diag;
pub mod shell;
pub mod signals;
pub mod suggest;
pub mod time;
