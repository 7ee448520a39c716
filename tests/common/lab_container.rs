//! A container of a test's own on a lab host: started with a command, acted on with
//! `docker` verbs that must succeed, removed however the test ends. Tests that stop,
//! kill or watch a container use one of these instead of touching the lab's apps.

use std::process::Output;

use fleetdeck::lab::state::LabState;

use super::{lab_docker, stderr};

/// The command that keeps a test container running until it is stopped or killed.
pub const LOOP: &str = "while true; do sleep 1; done";

/// The `docker` CLI against one lab host's engine.
type Docker = Box<dyn Fn(&[&str]) -> Output>;

pub struct TestContainer {
    docker: Docker,
    pub name: String,
}

impl TestContainer {
    /// `fd-test-<tag>-<pid>` on `host` from the lab's app image, running `command`
    /// (`sh -c`); an earlier one of the same name is removed first.
    pub fn start(state: &LabState, host: &str, tag: &str, command: &str) -> TestContainer {
        let docker = lab_docker(state, host);
        let name = format!("fd-test-{tag}-{}", std::process::id());
        docker(&["rm", "-f", &name]);
        let run = docker(&[
            "run",
            "-d",
            "--name",
            &name,
            "fleetdeck-lab/app:1.0",
            "sh",
            "-c",
            command,
        ]);
        assert!(run.status.success(), "{}", stderr(&run));
        TestContainer {
            docker: Box::new(docker),
            name,
        }
    }

    /// `docker VERB NAME` (`kill`, `start`, `stop`), which must succeed.
    pub fn docker(&self, verb: &str) {
        let out = (self.docker)(&[verb, &self.name]);
        assert!(out.status.success(), "docker {verb}: {}", stderr(&out));
    }
}

impl Drop for TestContainer {
    fn drop(&mut self) {
        (self.docker)(&["rm", "-f", &self.name]);
    }
}
