//! Frame time of the console with a large fleet: 500 hosts, 10,000 containers. Draws
//! the overview and a host detail into an in-memory terminal and prints the median and
//! 99th-percentile frame times, and the time from a key press (through `update`) to the
//! finished frame. Not a test: `cargo bench --bench console`.

use std::time::{Duration, Instant};

use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};
use fleetdeck::fleet::containers::{ContainerReport, ContainerUpdate, Pinning};
use fleetdeck::fleet::model::{Expectations, HostState};
use fleetdeck::probes::Severity;
use fleetdeck::tui::app::{App, Msg};
use fleetdeck::tui::keymap::Keymap;
use fleetdeck::tui::theme::Theme;
use ratatui::Terminal;
use ratatui::backend::TestBackend;
use time::OffsetDateTime;

const HOSTS: usize = 500;
const CONTAINERS_PER_HOST: usize = 20;
const FRAMES: usize = 200;

fn fleet(now: OffsetDateTime) -> Vec<HostState> {
    (0..HOSTS)
        .map(|h| {
            let group = if h % 10 == 0 { "canary" } else { "production" };
            let mut host = HostState::new(
                &format!("client-{h:04}"),
                vec![group.to_owned()],
                Expectations::default(),
            );
            host.reachable = Some(h % 97 != 0);
            host.last_contact = Some(now);
            let containers = (0..CONTAINERS_PER_HOST)
                .map(|c| {
                    let severity = match (h + c) % 53 {
                        0 => Severity::Critical,
                        1 => Severity::Warning,
                        _ => Severity::Ok,
                    };
                    ContainerReport {
                        name: format!("app-{c:02}"),
                        id: format!("{h:06}{c:06}"),
                        state: "running".to_owned(),
                        health: Some(
                            if severity == Severity::Critical {
                                "unhealthy"
                            } else {
                                "healthy"
                            }
                            .to_owned(),
                        ),
                        health_output: None,
                        restart_count: (c % 3) as i64,
                        exit_code: None,
                        oom_killed: false,
                        started_at: None,
                        uptime_seconds: Some(3600 * c as i64),
                        image: format!("registry.example/app-{c}:1.{h}"),
                        image_pinned: Pinning::Tag,
                        severity,
                        problem: (severity != Severity::Ok)
                            .then(|| "unhealthy: probe failed".to_owned()),
                        app: None,
                        service: None,
                        config_hash: None,
                        findings: Vec::new(),
                        published: Vec::new(),
                    }
                })
                .collect();
            host.apply_containers(ContainerUpdate::All(containers, now));
            host
        })
        .collect()
}

fn percentile(samples: &mut [Duration], p: f64) -> Duration {
    samples.sort();
    let index = ((samples.len() as f64 - 1.0) * p).round() as usize;
    samples[index]
}

fn main() {
    let now = OffsetDateTime::now_utc();
    let dir = std::env::temp_dir();
    let keymap = Keymap::load(None, &dir).expect("default keymap");
    let theme = Theme::load(None, &dir, false).expect("default theme");
    let mut app = App::new(fleet(now), keymap, false);
    let mut terminal = Terminal::new(TestBackend::new(200, 60)).expect("terminal");
    let key = |code| Msg::Key(KeyEvent::new(code, KeyModifiers::NONE));

    let mut measure = |app: &mut App, label: &str| {
        let mut frames = Vec::with_capacity(FRAMES);
        for _ in 0..FRAMES {
            let started = Instant::now();
            terminal
                .draw(|frame| fleetdeck::tui::ui::draw_at(frame, app, &theme, now))
                .expect("draw");
            frames.push(started.elapsed());
        }
        let median = percentile(&mut frames, 0.5);
        let p99 = percentile(&mut frames, 0.99);
        println!("{label:<44} median {median:>10.2?}  p99 {p99:>10.2?}");
    };
    println!(
        "{HOSTS} hosts, {} containers, 200×60 terminal, {FRAMES} frames each",
        HOSTS * CONTAINERS_PER_HOST
    );
    measure(&mut app, "overview");
    app.update(key(KeyCode::Char('s')));
    measure(&mut app, "overview sorted by severity");
    app.update(key(KeyCode::Enter));
    measure(&mut app, "host detail (20 containers)");

    // Key press to finished frame: update + draw, on the overview.
    app.update(key(KeyCode::Esc));
    let mut latencies = Vec::with_capacity(FRAMES);
    for i in 0..FRAMES {
        let started = Instant::now();
        let code = if i % 2 == 0 {
            KeyCode::Char('j')
        } else {
            KeyCode::Char('k')
        };
        app.update(key(code));
        terminal
            .draw(|frame| fleetdeck::tui::ui::draw_at(frame, &app, &theme, now))
            .expect("draw");
        latencies.push(started.elapsed());
    }
    let median = percentile(&mut latencies, 0.5);
    let p99 = percentile(&mut latencies, 0.99);
    println!(
        "{:<44} median {median:>10.2?}  p99 {p99:>10.2?}",
        "key press to frame (overview)"
    );
}
