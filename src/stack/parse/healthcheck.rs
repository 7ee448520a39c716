//! A service's health: compose `healthcheck:` (test, interval, timeout, retries,
//! start period) and fleetdeck's HTTP probe `x-fleetdeck-probe`.

use std::time::Duration;

use super::{Cx, kind};
use crate::inventory::yaml::{Node, Value};
use crate::stack::values;
use crate::stack::{DEFAULT_PROBE_TIMEOUT, HealthTest, Healthcheck, HttpProbe};

impl Cx<'_> {
    pub(super) fn duration(&mut self, node: &Node, what: &str) -> Option<Duration> {
        let t = self.text(node, what)?;
        match values::duration(&t) {
            Ok(d) if d != Duration::ZERO && d < Duration::from_millis(1) => {
                self.err(node.mark, format!("{what} must be at least 1ms"));
                None
            }
            Ok(d) => Some(d),
            Err(e) => {
                self.err(node.mark, format!("{what}: {e}"));
                None
            }
        }
    }

    pub(super) fn healthcheck(&mut self, node: &Node) -> Option<Healthcheck> {
        let pairs = self.map(node, "healthcheck")?;
        let mut h = Healthcheck {
            test: None,
            interval: None,
            timeout: None,
            retries: None,
            start_period: None,
        };
        let mut disable = None;
        for (k, v) in pairs {
            let Some(key) = self.key(k) else { continue };
            match key {
                "test" => h.test = self.health_test(v),
                "interval" => h.interval = self.duration(v, "interval"),
                "timeout" => h.timeout = self.duration(v, "timeout"),
                "start_period" => h.start_period = self.duration(v, "start_period"),
                "retries" => h.retries = self.int_in(v, "retries", 0, 1000).map(|r| r as u32),
                "disable" => disable = self.boolean(v, "disable").map(|d| (d, k.mark)),
                _ => self.unsupported(
                    k,
                    &format!("healthcheck.{key}"),
                    &[
                        "test",
                        "interval",
                        "timeout",
                        "retries",
                        "start_period",
                        "disable",
                    ],
                ),
            }
        }
        if let Some((true, m)) = disable {
            if matches!(h.test, Some(HealthTest::Cmd(_) | HealthTest::Shell(_))) {
                self.err(
                    m,
                    "disable: true and a test contradict each other; keep one",
                );
            }
            h.test = Some(HealthTest::Disabled);
        }
        Some(h)
    }

    pub(super) fn health_test(&mut self, node: &Node) -> Option<HealthTest> {
        match &node.value {
            Value::Str(_) => {
                let t = self.text(node, "test")?;
                if t.trim().is_empty() {
                    self.err(node.mark, "the health test is empty");
                    return None;
                }
                Some(HealthTest::Shell(t))
            }
            Value::Seq(items) => {
                let words: Vec<String> = items
                    .iter()
                    .map(|i| self.scalar(i, "a test word"))
                    .collect::<Option<Vec<_>>>()?;
                match words.split_first() {
                    Some((first, rest)) if first == "CMD" && !rest.is_empty() => {
                        Some(HealthTest::Cmd(rest.to_vec()))
                    }
                    Some((first, [cmd])) if first == "CMD-SHELL" => {
                        Some(HealthTest::Shell(cmd.clone()))
                    }
                    Some((first, [])) if first == "NONE" => Some(HealthTest::Disabled),
                    _ => {
                        self.err(
                            node.mark,
                            "test is [\"CMD\", program, args…], [\"CMD-SHELL\", \"command\"], \
                             [\"NONE\"] or a string (run by the container's shell)",
                        );
                        None
                    }
                }
            }
            _ => {
                self.err(
                    node.mark,
                    format!("test must be a list or a string, found {}", kind(node)),
                );
                None
            }
        }
    }

    pub(super) fn probe(&mut self, node: &Node) -> Option<HttpProbe> {
        let pairs = self.map(node, "x-fleetdeck-probe")?;
        let (mut url, mut status, mut body, mut timeout) =
            (None, 200u16, None, DEFAULT_PROBE_TIMEOUT);
        let mut ok = true;
        for (k, v) in pairs {
            let Some(key) = self.key(k) else {
                ok = false;
                continue;
            };
            match key {
                "url" => match self.text(v, "url") {
                    Some(u) if u.starts_with("http://") || u.starts_with("https://") => {
                        url = Some(u)
                    }
                    Some(u) => {
                        self.err(
                            v.mark,
                            format!("{u:?}: the probe's url starts with http:// or https://"),
                        );
                        ok = false;
                    }
                    None => ok = false,
                },
                "status" => match self.int_in(v, "status", 100, 599) {
                    Some(s) => status = s as u16,
                    None => ok = false,
                },
                "body" => {
                    body = self.text(v, "body");
                    ok &= body.is_some();
                }
                "timeout" => match self.seconds(v, "timeout") {
                    Some(t) => timeout = t,
                    None => ok = false,
                },
                _ => {
                    self.unsupported(
                        k,
                        &format!("x-fleetdeck-probe.{key}"),
                        &["url", "status", "body", "timeout"],
                    );
                    ok = false;
                }
            }
        }
        if url.is_none() && ok {
            self.err(node.mark, "x-fleetdeck-probe needs a `url`");
        }
        if !ok {
            return None;
        }
        Some(HttpProbe {
            url: url?,
            status,
            body,
            timeout,
        })
    }
}
