//! Reading inventory files: a file or a directory of files (walked as the `yaml`
//! plugin and `ansible.inventory.manager` do, skipping what they skip), each read with
//! a size limit, with a count of the files one walk may read.

use std::path::Path;
use std::sync::Arc;

use super::{Builder, IGNORED_SUFFIXES, MAX_FILE_BYTES, MAX_WALK_FILES, has_yaml_extension};
use crate::inventory::InventoryError;
use crate::inventory::yaml::{self, Mark, Node};

impl Builder {
    /// Every entry in name order; hidden files, `group_vars`, `host_vars` and ignored
    /// extensions skipped; subdirectories walked.
    pub(super) fn parse_directory(&mut self, dir: &Path, walk: &mut Walk) {
        let mut names = match std::fs::read_dir(dir) {
            Ok(entries) => entries
                .filter_map(Result::ok)
                .map(|e| e.file_name())
                .collect::<Vec<_>>(),
            Err(e) => {
                self.errors.push(InventoryError::whole(
                    dir,
                    format!("cannot list the directory: {e}"),
                ));
                return;
            }
        };
        names.sort();
        for name in names {
            let Some(n) = name.to_str() else {
                self.warn(
                    &dir.join(&name),
                    Mark::default(),
                    "skipped: the name is not UTF-8",
                );
                continue;
            };
            if n.starts_with('.')
                || matches!(n, "group_vars" | "host_vars" | "vars_plugins")
                || IGNORED_SUFFIXES.iter().any(|s| n.ends_with(s))
            {
                continue;
            }
            let path = dir.join(n);
            if path.is_dir() {
                if walk.enter(&path, &mut self.errors) {
                    self.parse_directory(&path, walk);
                    walk.leave();
                }
            } else if !has_yaml_extension(n) {
                self.warn(
                    &path,
                    Mark::default(),
                    "skipped: fleetdeck reads YAML inventories (.yml, .yaml, .json or no extension); Ansible would try it as INI",
                );
            } else if is_executable(&path) {
                self.warn(
                    &path,
                    Mark::default(),
                    "skipped: an executable file is a dynamic inventory script to Ansible, which fleetdeck does not run",
                );
            } else if walk.count(&path, &mut self.errors) {
                self.parse_file(&path, false);
            }
        }
    }

    /// `named`: the file given with `-i` (which may be a pipe); every file found in a
    /// directory must be a regular file.
    pub(super) fn read_yaml(&mut self, file: &Path, named: bool) -> Option<Option<Node>> {
        let text = match read_bounded(file, named) {
            Ok(bytes) => match String::from_utf8(bytes) {
                Ok(t) => t,
                Err(_) => {
                    self.errors
                        .push(InventoryError::whole(file, "not UTF-8 text"));
                    return None;
                }
            },
            Err(message) => {
                self.errors.push(InventoryError::whole(file, message));
                return None;
            }
        };
        match yaml::load(&text) {
            Ok((doc, warnings)) => {
                for w in warnings {
                    self.warn(file, w.mark, w.message);
                }
                Some(doc)
            }
            Err(e) => {
                let hint = if !e.limit && looks_like_ini(&text) {
                    " (this looks like an INI inventory; fleetdeck reads YAML inventories only)"
                } else {
                    ""
                };
                self.errors.push(InventoryError::at(
                    file,
                    e.mark,
                    format!("{}{hint}", e.describe()),
                ));
                None
            }
        }
    }

    /// The `yaml` plugin's `parse`.
    pub(super) fn parse_file(&mut self, file: &Path, only_source: bool) {
        let Some(doc) = self.read_yaml(file, only_source) else {
            return;
        };
        let Some(doc) = doc else {
            if only_source {
                self.errors
                    .push(InventoryError::whole(file, "the inventory is empty"));
            } else {
                self.warn(file, Mark::default(), "skipped: empty file");
            }
            return;
        };
        let Some(pairs) = doc.as_map() else {
            self.errors.push(InventoryError::at(
                file,
                doc.mark,
                format!(
                    "YAML inventory has invalid structure, it should be a dictionary, got a {} \
                     (INI inventories are not supported)",
                    doc.type_name()
                ),
            ));
            return;
        };
        if pairs.iter().any(|(k, _)| k.as_str() == Some("plugin")) {
            self.errors.push(InventoryError::at(
                file,
                doc.mark,
                "an inventory plugin configuration, not a YAML inventory (plugins are not supported)",
            ));
            return;
        }
        let file: Arc<Path> = Arc::from(file);
        for (key, value) in pairs {
            match key.as_str() {
                Some(name) => {
                    self.parse_group(&file, name, key.mark, value);
                }
                None => self.errors.push(InventoryError::at(
                    &file,
                    key.mark,
                    format!("a group name must be a string, found a {}", key.type_name()),
                )),
            }
        }
    }
}

/// An INI inventory starts with a `[group]` header.
pub(super) fn looks_like_ini(text: &str) -> bool {
    text.lines()
        .map(str::trim)
        .find(|l| !l.is_empty() && !l.starts_with('#') && !l.starts_with(';'))
        .is_some_and(|l| l.starts_with('[') && l.ends_with(']') && !l.contains(','))
}

#[cfg(unix)]
pub(super) fn is_executable(path: &Path) -> bool {
    use std::os::unix::fs::PermissionsExt;
    std::fs::metadata(path).is_ok_and(|m| m.permissions().mode() & 0o111 != 0)
}

#[cfg(not(unix))]
pub(super) fn is_executable(_path: &Path) -> bool {
    false
}

/// Reads at most [`MAX_FILE_BYTES`]. Found files must be regular files (after
/// following links): a FIFO would block, a device would never end.
pub(super) fn read_bounded(file: &Path, named: bool) -> Result<Vec<u8>, String> {
    use std::io::Read;
    let meta = std::fs::metadata(file).map_err(|e| format!("cannot read: {e}"))?;
    if !named && !meta.is_file() {
        return Err(format!(
            "not a regular file ({}): only regular files are read",
            file_kind(&meta)
        ));
    }
    if meta.is_file() && meta.len() > MAX_FILE_BYTES {
        return Err(too_large());
    }
    let f = std::fs::File::open(file).map_err(|e| format!("cannot read: {e}"))?;
    let mut bytes = Vec::new();
    f.take(MAX_FILE_BYTES + 1)
        .read_to_end(&mut bytes)
        .map_err(|e| format!("cannot read: {e}"))?;
    if bytes.len() as u64 > MAX_FILE_BYTES {
        return Err(too_large());
    }
    Ok(bytes)
}

pub(super) fn too_large() -> String {
    format!(
        "larger than {} MiB: refused (an inventory file this size is a mistake or a trap)",
        MAX_FILE_BYTES >> 20
    )
}

pub(super) fn file_kind(meta: &std::fs::Metadata) -> &'static str {
    use std::os::unix::fs::FileTypeExt;
    let t = meta.file_type();
    if t.is_dir() {
        "a directory"
    } else if t.is_fifo() {
        "a FIFO"
    } else if t.is_socket() {
        "a socket"
    } else if t.is_char_device() {
        "a character device"
    } else if t.is_block_device() {
        "a block device"
    } else {
        "not a file"
    }
}

/// The directories open in a walk, by device and inode (a link back to one of them is
/// a cycle), and how many files the walk has taken.
#[derive(Default)]
pub(super) struct Walk {
    open: Vec<(u64, u64)>,
    files: usize,
}

impl Walk {
    /// Enters `dir` unless it is one of the directories already open (a cycle, an
    /// error naming the link).
    pub(super) fn enter(&mut self, dir: &Path, errors: &mut Vec<InventoryError>) -> bool {
        use std::os::unix::fs::MetadataExt;
        let meta = match std::fs::metadata(dir) {
            Ok(m) => m,
            Err(e) => {
                errors.push(InventoryError::whole(dir, format!("cannot read: {e}")));
                return false;
            }
        };
        let id = (meta.dev(), meta.ino());
        if self.open.contains(&id) {
            let target = std::fs::read_link(dir)
                .map(|t| format!(" (a link to {})", t.display()))
                .unwrap_or_default();
            errors.push(InventoryError::whole(
                dir,
                format!(
                    "a directory link cycle{target}: this directory contains itself; not followed"
                ),
            ));
            return false;
        }
        self.open.push(id);
        true
    }

    pub(super) fn leave(&mut self) {
        self.open.pop();
    }

    /// Takes one more file, unless the walk has taken [`MAX_WALK_FILES`].
    pub(super) fn count(&mut self, file: &Path, errors: &mut Vec<InventoryError>) -> bool {
        self.files += 1;
        if self.files == MAX_WALK_FILES + 1 {
            errors.push(InventoryError::whole(
                file,
                format!(
                    "more than {MAX_WALK_FILES} files in one directory walk (links that multiply \
                     the tree?); the rest is not read"
                ),
            ));
        }
        self.files <= MAX_WALK_FILES
    }
}
