//! The Docker Engine API over any byte stream: an SSH channel to the host's socket, or
//! the local socket (the embedded default with no inventory).

pub mod clean;
pub mod events;
pub mod inspect;
pub mod logs;
pub mod past;
pub mod stats;
pub mod transport;

pub use events::{EventCursor, Follower, follow};
pub use transport::{
    BoxedIo, CountingOpener, Io, LocalSocket, OpenFuture, StreamOpener, connect_negotiated,
    default_local_socket, docker_over, local,
};
