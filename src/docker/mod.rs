//! The Docker Engine API over any byte stream: an SSH channel to the host's socket, or
//! the local socket (the embedded default with no inventory).
