//! The layer rule of `docs/architecture.md`, checked against the code.
//!
//! The doc's "Layers" section is a numbered list, lowest layer first, each line naming
//! top-level modules of `src/` in backticks. A module may use modules of lower layers
//! only: not its own layer's siblings, not a layer above. Every `crate::NAME` path in
//! production code (and `fleetdeck::NAME` in `main.rs`) is checked, `use` lines and
//! inline paths alike; unit-test modules are left out (a test may reach anywhere).
//! A second check finds import circles between the files of one module.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

const ROOT: &str = env!("CARGO_MANIFEST_DIR");

/// Module name → layer number, read from the doc.
fn layers() -> BTreeMap<String, usize> {
    let doc = std::fs::read_to_string(Path::new(ROOT).join("docs/architecture.md"))
        .expect("docs/architecture.md is readable");
    let section = doc
        .split("\n## Layers\n")
        .nth(1)
        .expect("docs/architecture.md has a `## Layers` section");
    let mut layers = BTreeMap::new();
    for line in section.lines().take_while(|l| !l.starts_with("## ")) {
        let Some((number, rest)) = line.split_once(". ") else {
            continue;
        };
        let Ok(number) = number.trim().parse::<usize>() else {
            continue;
        };
        // Only the names before the dash are the layer's modules; the rest explains.
        let names = rest.split(" — ").next().unwrap_or_default();
        for name in names.split('`').skip(1).step_by(2) {
            layers.insert(name.trim_end_matches(".rs").to_owned(), number);
        }
    }
    assert!(
        layers.len() > 10,
        "the Layers list names the modules: {layers:?}"
    );
    layers
}

fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).expect("src is readable").flatten() {
        let path = entry.path();
        if path.is_dir() {
            rust_files(&path, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
}

/// The production lines of a file: a unit-test module (`#[cfg(test)]` then `mod`) and
/// everything after it are left out, as are files that are test modules themselves.
fn production_lines(path: &Path) -> Vec<(usize, String)> {
    if path.file_name().is_some_and(|n| n == "tests.rs") {
        return Vec::new();
    }
    let text = std::fs::read_to_string(path).expect("source is readable");
    let lines: Vec<&str> = text.lines().collect();
    let mut kept = Vec::new();
    let mut i = 0;
    while i < lines.len() {
        let line = lines[i];
        if line.trim() == "#[cfg(test)]" {
            // The item it marks, past any further attributes and comments.
            let next = lines[i + 1..]
                .iter()
                .map(|l| l.trim())
                .find(|l| !l.starts_with("#[") && !l.starts_with("//"))
                .unwrap_or_default();
            let item = next
                .trim_start_matches("pub(crate) ")
                .trim_start_matches("pub ");
            if item.starts_with("mod ") && item.ends_with('{') {
                break; // the inline test module runs to the end of the file
            }
            i += 2; // `#[cfg(test)] mod tests;` or one test-only item's first line
            continue;
        }
        let code = line.split("//").next().unwrap_or_default();
        kept.push((i + 1, code.to_owned()));
        i += 1;
    }
    kept
}

/// The paths that follow `prefix` (`crate::` or `fleetdeck::`) on a line, with one level
/// of `{a, b::c}` groups expanded (`crate::x::{a, b}` → `x::a`, `x::b`).
fn paths_after(line: &str, prefix: &str) -> Vec<String> {
    let mut found = Vec::new();
    let mut rest = line;
    while let Some(at) = rest.find(prefix) {
        let before = rest[..at].chars().next_back();
        rest = &rest[at + prefix.len()..];
        if before.is_some_and(|c| c.is_alphanumeric() || c == '_' || c == ':') {
            continue; // `$crate::`, a longer name ending in `crate`, or a nested `super::`
        }
        let end = rest
            .find(|c: char| !(c.is_alphanumeric() || c == '_' || c == ':'))
            .unwrap_or(rest.len());
        let head = &rest[..end];
        if rest[end..].starts_with('{') {
            let group = rest[end + 1..].split('}').next().unwrap_or_default();
            for item in group.split(',') {
                let item = item.trim().split([' ', '{']).next();
                match item {
                    Some(item) if !item.is_empty() && item != "self" => {
                        found.push(format!("{head}{item}"));
                    }
                    _ => found.push(head.trim_end_matches(':').to_owned()),
                }
            }
        } else {
            found.push(head.trim_end_matches(':').to_owned());
        }
    }
    found
}

/// The top-level module a file belongs to (`src/fleet/model.rs` → `fleet`).
fn module_of(src: &Path, file: &Path) -> String {
    let rel = file.strip_prefix(src).expect("under src");
    let first = rel.components().next().expect("a component");
    first
        .as_os_str()
        .to_string_lossy()
        .trim_end_matches(".rs")
        .to_owned()
}

fn upward_imports(src: &Path, layers: &BTreeMap<String, usize>) -> Vec<String> {
    let mut files = Vec::new();
    rust_files(src, &mut files);
    files.sort();
    let mut problems = Vec::new();
    for file in &files {
        let module = module_of(src, file);
        if module == "lib" {
            continue;
        }
        let Some(&own) = layers.get(&module) else {
            problems.push(format!(
                "{}: module `{module}` is not in the Layers list",
                file.display()
            ));
            continue;
        };
        let prefix = if module == "main" {
            "fleetdeck::"
        } else {
            "crate::"
        };
        for (number, line) in production_lines(file) {
            for path in paths_after(&line, prefix) {
                let used = path.split("::").next().unwrap_or_default();
                if used.is_empty() || used == module {
                    continue;
                }
                match layers.get(used) {
                    Some(&layer) if layer < own => {}
                    Some(&layer) => problems.push(format!(
                        "{}:{number}: `{module}` (layer {own}) uses `{used}` (layer {layer}): {}",
                        file.display(),
                        line.trim()
                    )),
                    None => problems.push(format!(
                        "{}:{number}: `{used}` is not in the Layers list",
                        file.display()
                    )),
                }
            }
        }
    }
    problems
}

#[test]
fn no_module_uses_a_module_of_its_own_or_a_higher_layer() {
    let problems = upward_imports(&Path::new(ROOT).join("src"), &layers());
    assert!(
        problems.is_empty(),
        "imports against the layer rule in docs/architecture.md:\n{}",
        problems.join("\n")
    );
}

/// The file a `crate::a::b::c` path names: the longest prefix that is a file.
fn file_of(src: &Path, path: &str) -> Option<PathBuf> {
    let parts: Vec<&str> = path.split("::").filter(|p| !p.is_empty()).collect();
    (1..=parts.len()).rev().find_map(|n| {
        let base = parts[..n].iter().collect::<PathBuf>();
        [
            src.join(&base).with_extension("rs"),
            src.join(&base).join("mod.rs"),
        ]
        .into_iter()
        .find(|f| f.is_file())
    })
}

/// The module path of a file (`src/tui/app/mod.rs` → `tui::app`).
fn path_of(src: &Path, file: &Path) -> String {
    let rel = file
        .strip_prefix(src)
        .expect("under src")
        .with_extension("");
    let mut parts: Vec<String> = rel
        .components()
        .map(|c| c.as_os_str().to_string_lossy().into_owned())
        .collect();
    if parts.last().is_some_and(|p| p == "mod") {
        parts.pop();
    }
    parts.join("::")
}

#[test]
fn no_two_files_import_each_other_round_a_circle() {
    let src = Path::new(ROOT).join("src");
    let mut files = Vec::new();
    rust_files(&src, &mut files);
    // Edges between files, by `crate::` paths and `super::` paths. A parent module
    // declaring and re-exporting its children is how Rust modules are built, not a
    // circle: edges from a file to its own descendants are left out.
    let mut edges: BTreeMap<PathBuf, BTreeSet<PathBuf>> = BTreeMap::new();
    for file in &files {
        let here = path_of(&src, file);
        // `super` of a module file (`a/b.rs` or `a/b/mod.rs`, both `a::b`) is `a`.
        let sup = here
            .rsplit_once("::")
            .map_or("", |(base, _)| base)
            .to_owned();
        for (_, line) in production_lines(file) {
            if line.contains("super::super::") {
                continue; // rare, and always within one module's own folder
            }
            let mut targets = paths_after(&line, "crate::");
            targets.extend(paths_after(&line, "super::").into_iter().map(|p| {
                if sup.is_empty() {
                    p
                } else {
                    format!("{sup}::{p}")
                }
            }));
            for target in targets {
                let Some(to) = file_of(&src, &target) else {
                    continue;
                };
                let to_path = path_of(&src, &to);
                let descendant = to_path.starts_with(&format!("{here}::")) || here.is_empty();
                if to != *file && !descendant {
                    edges.entry(file.clone()).or_default().insert(to);
                }
            }
        }
    }
    // A file that reaches itself again through the edges is on a circle.
    let mut circles = Vec::new();
    for start in edges.keys() {
        let mut seen = BTreeSet::new();
        let mut stack: Vec<(PathBuf, Vec<PathBuf>)> = vec![(start.clone(), vec![start.clone()])];
        while let Some((at, trail)) = stack.pop() {
            for next in edges.get(&at).into_iter().flatten() {
                if next == start {
                    // One name per circle: start it at its smallest file.
                    let mut names: Vec<String> = trail.iter().map(|f| path_of(&src, f)).collect();
                    let smallest = (0..names.len()).min_by_key(|&i| &names[i]).unwrap_or(0);
                    names.rotate_left(smallest);
                    names.push(names[0].clone());
                    circles.push(names.join(" -> "));
                } else if seen.insert(next.clone()) {
                    let mut longer = trail.clone();
                    longer.push(next.clone());
                    stack.push((next.clone(), longer));
                }
            }
        }
    }
    circles.sort();
    circles.dedup();
    assert!(
        circles.is_empty(),
        "import circles:\n{}",
        circles.join("\n")
    );
}
