//! A snapshot (restic) or archive (borg) as a drill lists it and its report records
//! it: which one was restored, from when, and what a restore of it writes.

use serde::{Deserialize, Serialize};
use time::OffsetDateTime;

/// One snapshot (restic) or archive (borg), as a drill lists it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SnapshotInfo {
    /// restic's short id; borg's archive name. What `--snapshot` takes.
    pub id: String,
    /// restic's full id; borg's archive id (hex).
    pub full_id: String,
    /// RFC 3339 UTC.
    #[serde(with = "crate::util::time::serde_rfc3339")]
    pub time: OffsetDateTime,
    /// restic: the host that made it (borg's listing does not say).
    pub host: Option<String>,
    /// restic: the paths backed up (borg's listing does not say).
    pub paths: Vec<String>,
    /// What a restore writes: bytes of regular files (null until measured).
    pub size_bytes: Option<u64>,
    /// What a restore creates: restic counts every entry (files, directories, links),
    /// borg regular files (null until measured).
    pub entries: Option<u64>,
}
