//! Theme and keymap files, read one way: a name looked up in the user's configuration
//! directory before the embedded defaults, or a path read as given; a size limit, the
//! YAML loader's bounds and positions; the base a user file extends. Every complaint
//! is a [`ConfigFileError`] naming file, line and column.

use std::io::Read;
use std::path::{Path, PathBuf};

use crate::inventory::yaml::{self, Node, Value};
use crate::util::diag::Positioned;
use crate::util::suggest::{self, Nearness};

/// The largest theme or keymap file read (they are a few kilobytes): a link to
/// `/dev/zero` is refused, not read until memory runs out.
pub const MAX_FILE_BYTES: u64 = 1 << 20;

/// One kind of configuration file: where users put them, the embedded ones, and the
/// one used when none is named.
pub(crate) struct Kind {
    /// The directory under the configuration directory, and the `<built-in>/` one.
    pub dir: &'static str,
    pub builtins: &'static [(&'static str, &'static str)],
    pub default: &'static str,
}

/// A file found and read, with the name the result takes and the embedded file it
/// applies over (`None` for an embedded file, which stands alone; a user file's own
/// `extends:` may still change the base).
pub(crate) struct Loaded {
    pub source: Source,
    pub name: String,
    pub base: Option<&'static str>,
}

impl Kind {
    /// Finds and reads `name_or_path` (see [`find_source`]). A user file found by name
    /// applies over the embedded file of the same name, else over the default.
    pub fn load(&self, name_or_path: &str, config_dir: &Path) -> Result<Loaded, ConfigFileError> {
        let source = find_source(self.dir, name_or_path, config_dir, self.builtins)?;
        let name = source.name.clone().unwrap_or_else(|| {
            Path::new(name_or_path).file_stem().map_or_else(
                || name_or_path.to_string(),
                |s| s.to_string_lossy().into_owned(),
            )
        });
        let base = if source.builtin {
            None
        } else {
            Some(
                self.builtins
                    .iter()
                    .map(|(b, _)| *b)
                    .find(|b| source.name.as_deref() == Some(*b))
                    .unwrap_or(self.default),
            )
        };
        Ok(Loaded { source, name, base })
    }

    /// YAML text read as a user file given by `path` (what errors name), over the
    /// default.
    pub fn given(&self, text: &str, path: &Path) -> Loaded {
        Loaded {
            source: Source {
                path: path.to_path_buf(),
                text: text.to_string(),
                name: None,
                builtin: false,
            },
            name: path.file_stem().map_or_else(
                || "custom".to_string(),
                |s| s.to_string_lossy().into_owned(),
            ),
            base: Some(self.default),
        }
    }

    /// The embedded file `name` (empty text if there is none by that name: callers
    /// only ask for names they checked).
    pub fn builtin(&self, name: &str) -> Source {
        let text = self
            .builtins
            .iter()
            .find(|(n, _)| *n == name)
            .map(|(_, t)| *t)
            .unwrap_or_default();
        Source {
            path: builtin_path(self.dir, name),
            text: text.to_string(),
            name: Some(name.to_string()),
            builtin: true,
        }
    }
}

/// A problem in a theme or keymap file: the file, 1-based line and column (0 when the
/// problem is the file as a whole, such as a missing file), and what is wrong.
pub type ConfigFileError = Positioned;

/// A configuration file's text and the path errors should name.
pub(crate) struct Source {
    pub path: PathBuf,
    pub text: String,
    /// The name it was looked up by (`None` for a path given directly).
    pub name: Option<String>,
    /// Whether it is one of the embedded defaults.
    pub builtin: bool,
}

/// A name (`dark`) or a path (`./mine.yaml`): anything with a path separator or a
/// YAML extension is a path.
fn is_path(name_or_path: &str) -> bool {
    name_or_path.contains('/')
        || name_or_path.contains(std::path::MAIN_SEPARATOR)
        || name_or_path.ends_with(".yaml")
        || name_or_path.ends_with(".yml")
}

/// Where an embedded file claims to come from, so errors in it still name something.
pub(crate) fn builtin_path(kind: &str, name: &str) -> PathBuf {
    PathBuf::from(format!("<built-in>/{kind}/{name}.yaml"))
}

/// Finds `name_or_path`: a path is read as given; a name is looked up first in
/// `config_dir/KIND/NAME.yaml` (then `.yml`), then among the embedded files.
pub(crate) fn find_source(
    kind: &str,
    name_or_path: &str,
    config_dir: &Path,
    builtins: &[(&str, &str)],
) -> Result<Source, ConfigFileError> {
    if is_path(name_or_path) {
        let path = PathBuf::from(name_or_path);
        let text = read(&path)?;
        return Ok(Source {
            path,
            text,
            name: None,
            builtin: false,
        });
    }
    let dir = config_dir.join(kind);
    for ext in ["yaml", "yml"] {
        let path = dir.join(format!("{name_or_path}.{ext}"));
        if path.exists() {
            let text = read(&path)?;
            return Ok(Source {
                path,
                text,
                name: Some(name_or_path.to_string()),
                builtin: false,
            });
        }
    }
    if let Some((_, text)) = builtins.iter().find(|(n, _)| *n == name_or_path) {
        return Ok(Source {
            path: builtin_path(kind, name_or_path),
            text: (*text).to_string(),
            name: Some(name_or_path.to_string()),
            builtin: true,
        });
    }
    let names: Vec<&str> = builtins.iter().map(|(n, _)| *n).collect();
    let singular = kind.trim_end_matches('s');
    Err(ConfigFileError::whole(
        &dir.join(format!("{name_or_path}.yaml")),
        format!(
            "no {singular} named {name_or_path:?}{}: built in are {}; or create this file",
            did_you_mean(name_or_path, names.iter().copied()),
            names.join(", ")
        ),
    ))
}

fn read(path: &Path) -> Result<String, ConfigFileError> {
    let cannot =
        |e: std::io::Error| ConfigFileError::whole(path, format!("cannot read the file: {e}"));
    let mut text = String::new();
    std::fs::File::open(path)
        .map_err(cannot)?
        .take(MAX_FILE_BYTES + 1)
        .read_to_string(&mut text)
        .map_err(cannot)?;
    if text.len() as u64 > MAX_FILE_BYTES {
        return Err(ConfigFileError::whole(
            path,
            format!(
                "larger than {} MiB: not a theme or keymap",
                MAX_FILE_BYTES >> 20
            ),
        ));
    }
    Ok(text)
}

/// Parses YAML keeping positions. The loader's warnings (a duplicate key silently
/// dropping the first value) are errors here: a configuration file should mean one
/// thing.
pub(crate) fn parse_yaml(source: &Source) -> Result<Option<Node>, ConfigFileError> {
    let (doc, warnings) = yaml::load(&source.text)
        .map_err(|e| ConfigFileError::at(&source.path, e.mark, e.message))?;
    if let Some(w) = warnings.first() {
        return Err(ConfigFileError::at(&source.path, w.mark, w.message.clone()));
    }
    Ok(doc)
}

/// The top-level mapping of a configuration file (empty for an empty file).
pub(crate) fn top_map<'a>(
    source: &Source,
    doc: &'a Option<Node>,
    what: &str,
) -> Result<&'a [(Node, Node)], ConfigFileError> {
    match doc {
        None => Ok(&[]),
        Some(node) => node.as_map().ok_or_else(|| {
            ConfigFileError::at(
                &source.path,
                node.mark,
                format!("expected a mapping of {what}, found a {}", yaml_type(node)),
            )
        }),
    }
}

/// How a YAML node's type reads in a message.
pub(crate) fn yaml_type(node: &Node) -> &'static str {
    match node.value {
        Value::Null => "null (an empty value)",
        Value::Bool(_) => "boolean",
        Value::Int(_) => "number",
        Value::Float(_) => "number",
        Value::Str(_) => "string",
        Value::Seq(_) => "list",
        Value::Map(_) => "mapping",
    }
}

/// A mapping key as text; configuration keys are always plain strings.
pub(crate) fn key_text<'a>(source: &Source, key: &'a Node) -> Result<&'a str, ConfigFileError> {
    key.as_str().ok_or_else(|| {
        ConfigFileError::at(
            &source.path,
            key.mark,
            format!("expected a name as key, found a {}", yaml_type(key)),
        )
    })
}

/// `extends: NAME` names an embedded file (or `none`); the base a file's settings
/// apply on top of.
pub(crate) fn extends_name<'a>(
    source: &Source,
    value: &'a Node,
    builtins: &[(&str, &str)],
) -> Result<Option<&'a str>, ConfigFileError> {
    let Some(name) = value.as_str() else {
        return Err(ConfigFileError::at(
            &source.path,
            value.mark,
            format!("extends: expected a name, found a {}", yaml_type(value)),
        ));
    };
    if name == "none" {
        return Ok(None);
    }
    if builtins.iter().any(|(n, _)| *n == name) {
        return Ok(Some(name));
    }
    let mut names: Vec<&str> = builtins.iter().map(|(n, _)| *n).collect();
    names.push("none");
    Err(ConfigFileError::at(
        &source.path,
        value.mark,
        format!(
            "extends: unknown built-in {name:?}{}; expected one of {}",
            did_you_mean(name, names.iter().copied()),
            names.join(", ")
        ),
    ))
}

/// ` (did you mean "x"?)` for the nearest candidate a person may have meant, or
/// nothing. Themes and keymaps quote names as `"x"` in their messages.
pub(crate) fn did_you_mean<'a>(
    given: &str,
    candidates: impl IntoIterator<Item = &'a str>,
) -> String {
    suggest::closest(given, candidates, Nearness::Typed)
        .map(|c| format!(" (did you mean {c:?}?)"))
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_and_paths_are_told_apart() {
        assert!(is_path("./x.yaml") && is_path("x.yml") && is_path("/etc/t"));
        assert!(!is_path("dark") && !is_path("high-contrast"));
    }

    #[test]
    fn a_file_over_the_limit_is_refused_by_name() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("big.yaml");
        std::fs::write(&path, vec![b'#'; MAX_FILE_BYTES as usize + 1]).expect("write");
        let e = read(&path).expect_err("too large");
        assert_eq!(e.line, 0);
        assert!(e.message.contains("larger than 1 MiB"), "{e}");
    }
}
