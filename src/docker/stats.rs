//! Container resource use for the console's sparklines: Docker's `/stats` stream
//! reduced to a CPU percentage and the memory in use, the way `docker stats` computes
//! them.

use bollard::Docker;
use bollard::errors::Error;
use bollard::models::ContainerStatsResponse;
use bollard::query_parameters::StatsOptionsBuilder;
use futures_util::{Stream, StreamExt};

/// One reading.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Sample {
    /// Percent of one CPU (200 = two CPUs busy), as `docker stats` shows it.
    pub cpu_percent: f64,
    /// Memory in use, page cache excluded.
    pub memory_bytes: u64,
}

/// The reading in one stats message; `None` for the first message, which has no
/// previous CPU counters to compare with, or when the engine left fields out.
pub fn sample(stats: &ContainerStatsResponse) -> Option<Sample> {
    let cpu = stats.cpu_stats.as_ref()?;
    let pre = stats.precpu_stats.as_ref()?;
    let total = cpu.cpu_usage.as_ref()?.total_usage?;
    let pre_total = pre.cpu_usage.as_ref()?.total_usage?;
    let system = cpu.system_cpu_usage?;
    let pre_system = pre.system_cpu_usage?;
    let cpus = cpu
        .online_cpus
        .map(u64::from)
        .or_else(|| {
            cpu.cpu_usage
                .as_ref()
                .and_then(|u| u.percpu_usage.as_ref())
                .map(|p| p.len() as u64)
        })
        .unwrap_or(1)
        .max(1);
    let cpu_delta = total.checked_sub(pre_total)?;
    let system_delta = system.checked_sub(pre_system)?;
    let cpu_percent = if system_delta == 0 {
        0.0
    } else {
        cpu_delta as f64 / system_delta as f64 * cpus as f64 * 100.0
    };
    let memory = stats.memory_stats.as_ref()?;
    let usage = memory.usage?;
    // cgroup v2 reports inactive_file, v1 total_inactive_file: both are page cache
    // the kernel can drop, which `docker stats` leaves out.
    let cache = memory
        .stats
        .as_ref()
        .and_then(|s| {
            s.get("inactive_file")
                .or_else(|| s.get("total_inactive_file"))
        })
        .copied()
        .unwrap_or(0);
    Some(Sample {
        cpu_percent,
        memory_bytes: usage.saturating_sub(cache),
    })
}

/// Readings about once a second, for as long as the stream is read.
pub fn follow(
    docker: &Docker,
    container_id: &str,
) -> impl Stream<Item = Result<Sample, Error>> + Send + use<> {
    let options = StatsOptionsBuilder::new()
        .stream(true)
        .one_shot(false)
        .build();
    docker
        .stats(container_id, Some(options))
        .filter_map(|item| async move {
            match item {
                Ok(stats) => sample(&stats).map(Ok),
                Err(error) => Some(Err(error)),
            }
        })
}

/// A text sparkline of `values` scaled to `max` (or to the largest value).
pub fn sparkline(values: impl Iterator<Item = f64>, max: Option<f64>) -> String {
    const BARS: [char; 8] = ['▁', '▂', '▃', '▄', '▅', '▆', '▇', '█'];
    let values: Vec<f64> = values.collect();
    let top = max
        .unwrap_or_else(|| values.iter().copied().fold(0.0, f64::max))
        .max(f64::EPSILON);
    values
        .iter()
        .map(|v| {
            let level = ((v / top) * 7.0).round().clamp(0.0, 7.0) as usize;
            BARS[level]
        })
        .collect()
}

/// `512K`, `48M`, `1.2G`.
pub fn bytes_text(bytes: u64) -> String {
    const K: f64 = 1024.0;
    let b = bytes as f64;
    if b < K * K {
        format!("{:.0}K", b / K)
    } else if b < K * K * K {
        format!("{:.0}M", b / K / K)
    } else {
        format!("{:.1}G", b / K / K / K)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use bollard::models::{ContainerCpuStats, ContainerCpuUsage, ContainerMemoryStats};

    fn stats(total: u64, pre_total: u64, system: u64, pre_system: u64) -> ContainerStatsResponse {
        ContainerStatsResponse {
            cpu_stats: Some(ContainerCpuStats {
                cpu_usage: Some(ContainerCpuUsage {
                    total_usage: Some(total),
                    ..Default::default()
                }),
                system_cpu_usage: Some(system),
                online_cpus: Some(2),
                ..Default::default()
            }),
            precpu_stats: Some(ContainerCpuStats {
                cpu_usage: Some(ContainerCpuUsage {
                    total_usage: Some(pre_total),
                    ..Default::default()
                }),
                system_cpu_usage: Some(pre_system),
                ..Default::default()
            }),
            memory_stats: Some(ContainerMemoryStats {
                usage: Some(100 << 20),
                stats: Some(
                    [("inactive_file".to_owned(), 20 << 20)]
                        .into_iter()
                        .collect(),
                ),
                ..Default::default()
            }),
            ..Default::default()
        }
    }

    #[test]
    fn cpu_and_memory_as_docker_stats_computes_them() {
        let s = sample(&stats(1_500, 1_000, 20_000, 10_000)).expect("sample");
        assert!((s.cpu_percent - 10.0).abs() < 1e-9, "{s:?}");
        assert_eq!(s.memory_bytes, 80 << 20);
        // A counter that went backwards (container restarted) gives no reading.
        assert_eq!(sample(&stats(10, 1_000, 20_000, 10_000)), None);
        assert_eq!(sample(&ContainerStatsResponse::default()), None);
    }

    #[test]
    fn sparkline_scales_to_the_top() {
        assert_eq!(
            sparkline([0.0, 50.0, 100.0].into_iter(), Some(100.0)),
            "▁▅█"
        );
        assert_eq!(sparkline([1.0, 2.0].into_iter(), None), "▅█");
        assert_eq!(sparkline(std::iter::empty(), None), "");
        assert_eq!(bytes_text(48 << 20), "48M");
    }
}
