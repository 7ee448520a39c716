//! SSH transport: one russh session per host, trusted the way OpenSSH trusts it.
//!
//! - `config`, `known_hosts`, `pattern`: OpenSSH's files, parsed and resolved (pure).
//! - `hostkey`: may this connection go on with the key the server presented?
//! - `auth`: agent and identity files in `ssh`'s order, passphrases on demand.
//! - `session`: connect (through ProxyJump chains), exec, Unix-socket channels.
//! - `link`: keep a host's session up; report it down with the cause; back off.
//! - `setup`: command-line options to a shared connection context.

pub mod auth;
pub mod config;
pub mod hostkey;
pub mod known_hosts;
pub mod link;
pub mod pattern;
pub mod session;
pub mod setup;
