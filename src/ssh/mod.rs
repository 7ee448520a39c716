//! SSH transport. Pure parts first: OpenSSH-compatible `known_hosts` and `ssh_config`
//! handling that the russh sessions (one per host) will be built on.

pub mod config;
pub mod known_hosts;
pub mod pattern;
