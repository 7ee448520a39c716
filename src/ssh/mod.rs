//! SSH transport. Pure parts first: OpenSSH-compatible `known_hosts` and `ssh_config`
//! handling that the russh sessions (one per host) will be built on.

pub mod auth;
pub mod config;
pub mod hostkey;
pub mod known_hosts;
pub mod link;
pub mod pattern;
pub mod session;
