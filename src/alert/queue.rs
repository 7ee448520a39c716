//! A receiver's bounded queue: the caller pushes and never waits; when the queue is
//! full the oldest entry is dropped, with a log line and a counter.

use std::collections::VecDeque;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};

use tokio::sync::Notify;

/// How many transitions wait for one receiver at most.
pub const CAPACITY: usize = 256;

pub struct Queue<T> {
    items: Mutex<VecDeque<T>>,
    ready: Notify,
    capacity: usize,
    dropped: AtomicU64,
    /// The receiver, as logs may name it.
    receiver: String,
}

impl<T> Queue<T> {
    pub fn new(receiver: &str, capacity: usize) -> Queue<T> {
        Queue {
            items: Mutex::new(VecDeque::new()),
            ready: Notify::new(),
            capacity: capacity.max(1),
            dropped: AtomicU64::new(0),
            receiver: receiver.to_owned(),
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, VecDeque<T>> {
        // A panic while holding the lock leaves a plain queue behind: still usable.
        self.items.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Adds `item`; drops the oldest waiting one when full. Never blocks.
    pub fn push(&self, item: T) {
        let dropped = {
            let mut items = self.lock();
            let dropped = if items.len() >= self.capacity {
                items.pop_front().is_some()
            } else {
                false
            };
            items.push_back(item);
            dropped
        };
        if dropped {
            let total = self.dropped.fetch_add(1, Ordering::Relaxed) + 1;
            tracing::warn!(
                target: "fleetdeck::alert",
                "{}: queue full ({} waiting): dropped the oldest notification ({total} dropped so far)",
                self.receiver,
                self.capacity
            );
        }
        self.ready.notify_one();
    }

    /// The oldest waiting item, waiting for one when there is none.
    pub async fn pop(&self) -> T {
        loop {
            if let Some(item) = self.lock().pop_front() {
                return item;
            }
            self.ready.notified().await;
        }
    }

    /// Everything waiting, without waiting.
    pub fn drain(&self) -> Vec<T> {
        self.lock().drain(..).collect()
    }

    /// Whether a waiting item matches `what`.
    pub fn any(&self, what: impl Fn(&T) -> bool) -> bool {
        self.lock().iter().any(what)
    }

    /// How many were dropped because the queue was full.
    pub fn dropped(&self) -> u64 {
        self.dropped.load(Ordering::Relaxed)
    }

    pub fn len(&self) -> usize {
        self.lock().len()
    }

    pub fn is_empty(&self) -> bool {
        self.lock().is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_full_queue_drops_the_oldest_and_counts_it() {
        let queue = Queue::new("http://r:80", 3);
        for n in 0..5 {
            queue.push(n);
        }
        assert_eq!(queue.dropped(), 2);
        assert_eq!(queue.len(), 3);
        assert_eq!(queue.pop().await, 2);
        assert!(queue.any(|n| *n == 4));
        assert_eq!(queue.drain(), [3, 4]);
        assert!(queue.is_empty());
    }

    #[tokio::test]
    async fn pop_waits_for_a_push_from_another_task() {
        let queue = std::sync::Arc::new(Queue::new("r", 4));
        let waiting = tokio::spawn({
            let queue = queue.clone();
            async move { queue.pop().await }
        });
        tokio::task::yield_now().await;
        queue.push("late");
        let got = tokio::time::timeout(std::time::Duration::from_secs(5), waiting)
            .await
            .expect("pop returns once pushed")
            .expect("task");
        assert_eq!(got, "late");
    }
}
