//! Docker's own disk use from the Engine API's `/system/df` answer.
//!
//! Engines speak two forms. API 1.52 and later (Docker 29) sum up per kind
//! (`ImageUsage`, `ContainerUsage`, `VolumeUsage`, `BuildCacheUsage`, each with
//! `TotalSize` and `Reclaimable`); earlier engines list every image, container,
//! volume and build-cache record, and the client sums them up. Both are read here,
//! summed as `docker system df` sums them. bollard's type knows only the newer form,
//! so the answer is read from its JSON.

use serde::Deserialize;

use super::DockerDiskUse;

/// The most of an answer read: an engine with thousands of images and volumes lists
/// each (older form).
pub const MAX_SYSTEM_DF_BYTES: usize = 16 * 1024 * 1024;

#[derive(Deserialize, Default)]
#[serde(default, rename_all = "PascalCase")]
struct SystemDf {
    image_usage: Option<Summary>,
    container_usage: Option<Summary>,
    volume_usage: Option<Summary>,
    build_cache_usage: Option<Summary>,
    layers_size: Option<i64>,
    images: Option<Vec<Image>>,
    containers: Option<Vec<Container>>,
    volumes: Option<Vec<Volume>>,
    build_cache: Option<Vec<BuildCache>>,
}

#[derive(Deserialize, Default)]
#[serde(default, rename_all = "PascalCase")]
struct Summary {
    total_size: i64,
    reclaimable: i64,
}

#[derive(Deserialize, Default)]
#[serde(default, rename_all = "PascalCase")]
struct Image {
    size: i64,
    shared_size: i64,
    containers: i64,
}

#[derive(Deserialize, Default)]
#[serde(default, rename_all = "PascalCase")]
struct Container {
    size_rw: i64,
    state: String,
}

#[derive(Deserialize, Default)]
#[serde(default, rename_all = "PascalCase")]
struct Volume {
    usage_data: Option<VolumeUsage>,
}

#[derive(Deserialize, Default)]
#[serde(default, rename_all = "PascalCase")]
struct VolumeUsage {
    size: i64,
    ref_count: i64,
}

#[derive(Deserialize, Default)]
#[serde(default, rename_all = "PascalCase")]
struct BuildCache {
    size: i64,
    in_use: bool,
    shared: bool,
}

/// A size the engine reports; -1 means "not computed".
fn bytes(value: i64) -> u64 {
    u64::try_from(value).unwrap_or(0)
}

/// Reads `/system/df`'s answer (either form).
pub fn docker_disk_use(json: &[u8]) -> Result<DockerDiskUse, String> {
    let df: SystemDf = serde_json::from_slice(json)
        .map_err(|e| format!("the engine's /system/df answer could not be read: {e}"))?;
    if df.image_usage.is_some() || df.container_usage.is_some() || df.volume_usage.is_some() {
        let part = |s: &Option<Summary>| {
            s.as_ref()
                .map(|s| (bytes(s.total_size), bytes(s.reclaimable)))
                .unwrap_or_default()
        };
        let parts = [
            part(&df.image_usage),
            part(&df.container_usage),
            part(&df.volume_usage),
            part(&df.build_cache_usage),
        ];
        return Ok(DockerDiskUse {
            images_bytes: parts[0].0,
            containers_bytes: parts[1].0,
            volumes_bytes: parts[2].0,
            build_cache_bytes: parts[3].0,
            reclaimable_bytes: parts.iter().map(|p| p.1).sum(),
        });
    }
    let Some(layers) = df.layers_size else {
        return Err("the engine's /system/df answer has neither form's sizes".to_owned());
    };
    let images = df.images.unwrap_or_default();
    // As `docker system df`: an image in use keeps what it does not share.
    let images_in_use: u64 = images
        .iter()
        .filter(|i| i.containers != 0 && i.size >= 0 && i.shared_size >= 0)
        .map(|i| bytes(i.size - i.shared_size))
        .sum();
    let containers = df.containers.unwrap_or_default();
    let active = |c: &Container| matches!(c.state.as_str(), "running" | "paused" | "restarting");
    let volumes: Vec<VolumeUsage> = df
        .volumes
        .unwrap_or_default()
        .into_iter()
        .filter_map(|v| v.usage_data)
        .collect();
    let caches: Vec<BuildCache> = df
        .build_cache
        .unwrap_or_default()
        .into_iter()
        .filter(|b| !b.shared)
        .collect();
    let images_bytes = bytes(layers);
    let reclaimable = images_bytes.saturating_sub(images_in_use)
        + containers
            .iter()
            .filter(|c| !active(c))
            .map(|c| bytes(c.size_rw))
            .sum::<u64>()
        + volumes
            .iter()
            .filter(|v| v.ref_count == 0)
            .map(|v| bytes(v.size))
            .sum::<u64>()
        + caches
            .iter()
            .filter(|b| !b.in_use)
            .map(|b| bytes(b.size))
            .sum::<u64>();
    Ok(DockerDiskUse {
        images_bytes,
        containers_bytes: containers.iter().map(|c| bytes(c.size_rw)).sum(),
        volumes_bytes: volumes.iter().map(|v| bytes(v.size)).sum(),
        build_cache_bytes: caches.iter().map(|b| bytes(b.size)).sum(),
        reclaimable_bytes: reclaimable,
    })
}
