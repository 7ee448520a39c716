//! The console. Only terminal lifecycle lives here so far: entering and leaving the
//! alternate screen, and making sure every exit path — panics included — restores it.

pub mod terminal;
