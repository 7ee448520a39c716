//! What carries out a wizard's operations: the console's worker threads and the
//! headless command-line driver both hand each operation to a [`Runner`].

use std::future::Future;

use super::engine::{Answers, OpRequest, ProgressSender};

/// What carries out a wizard's operations. One runner serves one wizard instance and
/// keeps what its operations share (connections, plans) between them. The futures need
/// not be `Send`: the console runs them on a wizard's own worker thread (the core's
/// parallel host futures are not provably `Send`).
pub trait Runner<O> {
    fn run(
        &mut self,
        op: &OpRequest,
        answers: &Answers<O>,
        progress: ProgressSender,
    ) -> impl Future<Output = Result<O, Vec<String>>>;
}
