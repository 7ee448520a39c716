//! Alerts that reach people without Prometheus (docs/notify.md): the tracker that
//! turns each host's problems into `firing` and `resolved` transitions, and the
//! senders that deliver them to webhooks and to Alertmanager, each in its own task
//! behind a bounded queue so that no receiver ever holds up another or the caller.

pub mod tracker;
