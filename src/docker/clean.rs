//! Where container names, labels and other engine text enter fleetdeck: listing,
//! inspecting and events all go through here, so every string a host controls is
//! cleaned ([`crate::sanitize`]) before any other code sees it.
//!
//! A container's labels are whatever whoever created it wrote (`docker run --label`),
//! so they are as hostile as any output from the host. Use [`list_containers`] and
//! [`inspect_container`] instead of bollard's methods of the same names (a test keeps
//! it so); events are cleaned by the [`Follower`](super::events::Follower).
//!
//! Environment variables are left as they are: they can hold secrets, are masked
//! wherever shown, and are cleaned when revealed.

use std::collections::HashMap;

use bollard::Docker;
use bollard::errors::Error;
use bollard::models::{ContainerInspectResponse, ContainerSummary, EventMessage, MountPoint};
use bollard::query_parameters::{InspectContainerOptions, ListContainersOptions};

use crate::sanitize;

/// bollard's `list_containers`, every text field cleaned.
pub async fn list_containers(
    docker: &Docker,
    options: Option<ListContainersOptions>,
) -> Result<Vec<ContainerSummary>, Error> {
    let mut list = docker.list_containers(options).await?;
    list.iter_mut().for_each(summary);
    Ok(list)
}

/// bollard's `inspect_container` (without size), every shown text field cleaned.
pub async fn inspect_container(
    docker: &Docker,
    name: &str,
) -> Result<ContainerInspectResponse, Error> {
    let mut details = docker
        .inspect_container(name, None::<InspectContainerOptions>)
        .await?;
    inspect(&mut details);
    Ok(details)
}

fn one(s: &mut String) {
    if needs_cleaning(s) {
        *s = sanitize::line(s);
    }
}

fn multi(s: &mut String) {
    if needs_cleaning(s) {
        *s = sanitize::lines(s);
    }
}

/// Quick check so the common, clean case allocates nothing.
fn needs_cleaning(s: &str) -> bool {
    s.chars().any(|c| {
        let n = c as u32;
        n < 0x20
            || (0x7f..0xa0).contains(&n)
            || matches!(n, 0x200e | 0x200f | 0x2028 | 0x2029 | 0x202a..=0x202e | 0x2066..=0x2069)
    })
}

fn opt(s: &mut Option<String>) {
    if let Some(s) = s {
        one(s);
    }
}

fn list(v: &mut Option<Vec<String>>) {
    v.iter_mut().flatten().for_each(one);
}

/// Keys and values; two keys that clean to the same text keep the first in key order.
fn labels(map: &mut Option<HashMap<String, String>>) {
    let Some(m) = map else {
        return;
    };
    if !m
        .iter()
        .any(|(k, v)| needs_cleaning(k) || needs_cleaning(v))
    {
        return;
    }
    let mut entries: Vec<(String, String)> = m.drain().collect();
    entries.sort();
    for (mut k, mut v) in entries {
        one(&mut k);
        one(&mut v);
        m.entry(k).or_insert(v);
    }
}

fn mounts(v: &mut Option<Vec<MountPoint>>) {
    for m in v.iter_mut().flatten() {
        opt(&mut m.name);
        opt(&mut m.source);
        opt(&mut m.destination);
        opt(&mut m.driver);
        opt(&mut m.mode);
    }
}

/// Cleans a listed container.
pub fn summary(c: &mut ContainerSummary) {
    opt(&mut c.id);
    list(&mut c.names);
    opt(&mut c.image);
    opt(&mut c.image_id);
    opt(&mut c.command);
    opt(&mut c.status);
    labels(&mut c.labels);
    mounts(&mut c.mounts);
}

/// Cleans an inspected container (not its environment, see the module docs).
pub fn inspect(d: &mut ContainerInspectResponse) {
    opt(&mut d.id);
    opt(&mut d.name);
    opt(&mut d.image);
    opt(&mut d.path);
    list(&mut d.args);
    opt(&mut d.driver);
    opt(&mut d.platform);
    mounts(&mut d.mounts);
    if let Some(state) = &mut d.state {
        if let Some(e) = &mut state.error {
            multi(e);
        }
        if let Some(h) = &mut state.health {
            for r in h.log.iter_mut().flatten() {
                if let Some(o) = &mut r.output {
                    multi(o);
                }
            }
        }
    }
    if let Some(config) = &mut d.config {
        opt(&mut config.hostname);
        opt(&mut config.domainname);
        opt(&mut config.user);
        opt(&mut config.image);
        opt(&mut config.working_dir);
        opt(&mut config.stop_signal);
        list(&mut config.cmd);
        list(&mut config.entrypoint);
        labels(&mut config.labels);
    }
}

/// Cleans an event: the actor's id and attributes (a container's name, image and
/// every label).
pub fn event(e: &mut EventMessage) {
    opt(&mut e.action);
    if let Some(actor) = &mut e.actor {
        opt(&mut actor.id);
        labels(&mut actor.attributes);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const HOSTILE: &str =
        "web\u{1b}]0;owned\u{7}\u{1b}]52;c;ZXZpbA==\u{1b}\\\u{2028}x\u{1b}]8;;http://evil";

    #[test]
    fn a_listed_container_is_clean_in_every_text_field() {
        let mut c = ContainerSummary {
            names: Some(vec![format!("/{HOSTILE}")]),
            image: Some(HOSTILE.into()),
            command: Some(HOSTILE.into()),
            status: Some(HOSTILE.into()),
            labels: Some(HashMap::from([
                ("fleetdeck.app".to_owned(), HOSTILE.to_owned()),
                (format!("k{HOSTILE}"), "v".to_owned()),
            ])),
            ..Default::default()
        };
        summary(&mut c);
        let labels = c.labels.as_ref().unwrap();
        assert_eq!(labels["fleetdeck.app"], "web x");
        assert_eq!(labels["kweb x"], "v");
        assert_eq!(c.names.as_ref().unwrap()[0], "/web x");
        for s in [&c.image, &c.command, &c.status] {
            assert_eq!(s.as_deref(), Some("web x"));
        }
    }

    #[test]
    fn an_inspected_container_is_clean_but_keeps_its_environment() {
        let mut d = ContainerInspectResponse {
            name: Some(HOSTILE.into()),
            config: Some(bollard::models::ContainerConfig {
                labels: Some(HashMap::from([(
                    "fleetdeck.app".to_owned(),
                    HOSTILE.to_owned(),
                )])),
                env: Some(vec!["TOKEN=a\tb".to_owned()]),
                ..Default::default()
            }),
            state: Some(bollard::models::ContainerState {
                health: Some(bollard::models::Health {
                    log: Some(vec![bollard::models::HealthcheckResult {
                        output: Some("line 1\nline 2\u{1b}[2J".into()),
                        ..Default::default()
                    }]),
                    ..Default::default()
                }),
                ..Default::default()
            }),
            ..Default::default()
        };
        inspect(&mut d);
        let config = d.config.as_ref().unwrap();
        assert_eq!(d.name.as_deref(), Some("web x"));
        assert_eq!(config.labels.as_ref().unwrap()["fleetdeck.app"], "web x");
        assert_eq!(config.env.as_ref().unwrap()[0], "TOKEN=a\tb");
        let log = &d.state.unwrap().health.unwrap().log.unwrap()[0];
        assert_eq!(log.output.as_deref(), Some("line 1\nline 2"));
    }

    /// Every place that lists or inspects containers goes through this module: a raw
    /// bollard call elsewhere would let labels and names in uncleaned.
    #[test]
    fn no_code_lists_or_inspects_containers_around_this_module() {
        fn walk(dir: &std::path::Path, out: &mut Vec<String>) {
            for entry in std::fs::read_dir(dir).unwrap().flatten() {
                let p = entry.path();
                if p.is_dir() {
                    walk(&p, out);
                } else if p.extension().is_some_and(|e| e == "rs")
                    && !p.ends_with("docker/clean.rs")
                {
                    let text = std::fs::read_to_string(&p).unwrap();
                    for (i, l) in text.lines().enumerate() {
                        if l.contains(".list_containers(") || l.contains(".inspect_container(") {
                            out.push(format!("{}:{}: {}", p.display(), i + 1, l.trim()));
                        }
                    }
                }
            }
        }
        let mut found = Vec::new();
        walk(
            &std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("src"),
            &mut found,
        );
        assert!(
            found.is_empty(),
            "use crate::docker::clean::{{list_containers, inspect_container}}:\n{}",
            found.join("\n")
        );
    }
}
