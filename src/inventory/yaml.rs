//! YAML as Ansible loads it: PyYAML's YAML 1.1 resolver (`yes`/`on` are booleans,
//! `0755` is octal, `12:30` is sexagesimal, `1e3` is a string), merge keys, anchors,
//! last-wins duplicate keys, and a position on every node so any later complaint can
//! name its line and column.

use std::collections::HashMap;

use yaml_rust2::parser::{Event, Parser, Tag};
use yaml_rust2::scanner::{Marker, TScalarStyle};

pub use crate::util::diag::Mark;

/// Where a node starts, from the parser's 0-based column.
fn mark_of(m: &Marker) -> Mark {
    Mark {
        line: m.line(),
        column: m.col() + 1,
    }
}

/// A loaded YAML node with the position it started at.
#[derive(Debug, Clone, PartialEq)]
pub struct Node {
    pub value: Value,
    pub mark: Mark,
}

#[derive(Debug, Clone, PartialEq)]
pub enum Value {
    Null,
    Bool(bool),
    Int(i128),
    Float(f64),
    Str(String),
    Seq(Vec<Node>),
    /// Keys in first-seen order; a repeated key keeps its place and takes the last
    /// value, as a Python dict does.
    Map(Vec<(Node, Node)>),
}

impl Node {
    pub fn as_str(&self) -> Option<&str> {
        match &self.value {
            Value::Str(s) => Some(s),
            _ => None,
        }
    }

    pub fn as_map(&self) -> Option<&[(Node, Node)]> {
        match &self.value {
            Value::Map(m) => Some(m),
            _ => None,
        }
    }

    pub fn is_null(&self) -> bool {
        matches!(self.value, Value::Null)
    }

    /// The Python type name Ansible's messages use.
    pub fn type_name(&self) -> &'static str {
        match self.value {
            Value::Null => "NoneType",
            Value::Bool(_) => "bool",
            Value::Int(_) => "int",
            Value::Float(_) => "float",
            Value::Str(_) => "str",
            Value::Seq(_) => "list",
            Value::Map(_) => "dict",
        }
    }

    /// A mapping key as Ansible's JSON output spells it (`1`, `true`, `null`).
    pub fn key_string(&self) -> Option<String> {
        match &self.value {
            Value::Str(s) => Some(s.clone()),
            Value::Null => Some("null".into()),
            Value::Bool(b) => Some(b.to_string()),
            Value::Int(i) => Some(i.to_string()),
            Value::Float(f) => Some(python_float_repr(*f)),
            Value::Seq(_) | Value::Map(_) => None,
        }
    }

    /// The node as JSON. Integers beyond 64 bits become floats, and NaN and the
    /// infinities become `null` (JSON has neither; Python prints `NaN`, which no JSON
    /// parser accepts).
    pub fn to_json(&self) -> serde_json::Value {
        use serde_json::Value as J;
        match &self.value {
            Value::Null => J::Null,
            Value::Bool(b) => J::Bool(*b),
            Value::Int(i) => {
                if let Ok(v) = i64::try_from(*i) {
                    J::from(v)
                } else if let Ok(v) = u64::try_from(*i) {
                    J::from(v)
                } else {
                    serde_json::Number::from_f64(*i as f64).map_or(J::Null, J::Number)
                }
            }
            Value::Float(f) => serde_json::Number::from_f64(*f).map_or(J::Null, J::Number),
            Value::Str(s) => J::String(s.clone()),
            Value::Seq(items) => J::Array(items.iter().map(Node::to_json).collect()),
            Value::Map(pairs) => J::Object(
                pairs
                    .iter()
                    .map(|(k, v)| (k.key_string().unwrap_or_default(), v.to_json()))
                    .collect(),
            ),
        }
    }
}

fn python_float_repr(f: f64) -> String {
    if f.is_nan() {
        "NaN".into()
    } else if f.is_infinite() {
        if f > 0.0 { "inf" } else { "-inf" }.into()
    } else if f.fract() == 0.0 && f.abs() < 1e16 {
        format!("{f:.1}")
    } else {
        f.to_string()
    }
}

/// A problem found while loading: where, and what.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct YamlError {
    pub mark: Mark,
    pub message: String,
    /// A bound was crossed (nesting, alias expansion), not a syntax rule.
    pub limit: bool,
}

impl YamlError {
    /// The message with what kind of problem it is: `YAML syntax error: …` or
    /// `refused: …` for a crossed bound.
    pub fn describe(&self) -> String {
        if self.limit {
            format!("refused: {}", self.message)
        } else {
            format!("YAML syntax error: {}", self.message)
        }
    }
}

/// Ansible's loader warns about these and goes on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct YamlWarning {
    pub mark: Mark,
    pub message: String,
    /// The duplicate key replaces one copied in by a merge key (`<<: *base` then an
    /// explicit key): Ansible warns, compose files do it on purpose.
    pub overrides_merge: bool,
}

/// Alias expansion copies nodes: a few nested aliases can ask for billions of them, or
/// for gigabytes of text from one anchored string. What aliases copy is bounded in
/// nodes and in bytes of scalar text; what the file itself holds is bounded by its
/// size. Nesting is bounded too (the loader and everything after it recurse).
pub const MAX_ALIAS_NODES: usize = 1_000_000;
/// See [`MAX_ALIAS_NODES`]: 64 MiB of scalar text copied by aliases.
pub const MAX_ALIAS_BYTES: usize = 64 << 20;
/// Collections nested in collections, aliases included (serde_yaml's own limit).
pub const MAX_DEPTH: usize = 128;

/// What a subtree holds once its aliases are expanded.
#[derive(Debug, Clone, Copy, Default)]
struct Size {
    nodes: usize,
    bytes: usize,
    /// Collection levels: 0 for a scalar.
    depth: usize,
}

impl Size {
    fn add(&mut self, other: Size) {
        self.nodes = self.nodes.saturating_add(other.nodes);
        self.bytes = self.bytes.saturating_add(other.bytes);
    }
}

/// The bounds of one document: alias copies and nesting.
#[derive(Default)]
struct Limits {
    alias_nodes: usize,
    alias_bytes: usize,
}

impl Limits {
    fn enter(&self, depth: usize, mark: Mark) -> Result<(), YamlError> {
        if depth > MAX_DEPTH {
            return Err(YamlError {
                mark,
                message: format!("collections nested more than {MAX_DEPTH} levels deep"),
                limit: true,
            });
        }
        Ok(())
    }

    /// An alias at nesting `depth` copies a subtree of `size`.
    fn alias(&mut self, size: Size, depth: usize, mark: Mark) -> Result<(), YamlError> {
        self.alias_nodes = self.alias_nodes.saturating_add(size.nodes);
        self.alias_bytes = self.alias_bytes.saturating_add(size.bytes);
        if self.alias_nodes > MAX_ALIAS_NODES {
            return Err(YamlError {
                mark,
                message: format!(
                    "more than {MAX_ALIAS_NODES} nodes after expanding aliases (an alias bomb?)"
                ),
                limit: true,
            });
        }
        if self.alias_bytes > MAX_ALIAS_BYTES {
            return Err(YamlError {
                mark,
                message: format!(
                    "aliases expand to more than {} MiB of text (an alias bomb?)",
                    MAX_ALIAS_BYTES >> 20
                ),
                limit: true,
            });
        }
        self.enter(depth + size.depth, mark)
    }
}

/// Loads one YAML document (`None` for an empty stream). More than one document is an
/// error, as with Ansible's `load_from_file`.
pub fn load(text: &str) -> Result<(Option<Node>, Vec<YamlWarning>), YamlError> {
    let mut loader = Loader {
        parser: Parser::new_from_str(text),
        anchors: HashMap::new(),
        warnings: Vec::new(),
        limits: Limits::default(),
        depth: 0,
    };
    let mut doc = None;
    loop {
        let (event, marker) = loader.next()?;
        match event {
            Event::StreamStart | Event::DocumentEnd | Event::Nothing => {}
            Event::StreamEnd => break,
            Event::DocumentStart => {
                if doc.is_some() {
                    return Err(YamlError {
                        mark: mark_of(&marker),
                        message: "expected a single document in the stream, found another".into(),
                        limit: false,
                    });
                }
                let (event, marker) = loader.next()?;
                doc = Some(loader.node(event, marker)?.0);
            }
            other => {
                // yaml-rust2 always opens a document first; be safe regardless.
                let node = loader.node(other, marker)?.0;
                if doc.is_some() {
                    return Err(YamlError {
                        mark: node.mark,
                        message: "expected a single document in the stream, found another".into(),
                        limit: false,
                    });
                }
                doc = Some(node);
            }
        }
    }
    // An empty document (`---` alone) is a null; Ansible treats it as empty.
    let doc = doc.filter(|n| !n.is_null());
    Ok((doc, loader.warnings))
}

/// Checks a YAML text against the same bounds as [`load`] (nesting, what aliases
/// copy) without building anything, in one pass: for text another parser (serde_yaml)
/// reads next. Syntax errors are reported as they are found.
pub fn check_bounds(text: &str) -> Result<(), YamlError> {
    let mut parser = Parser::new_from_str(text);
    let mut limits = Limits::default();
    let mut anchors: HashMap<usize, Size> = HashMap::new();
    // Open collections: their anchor and what they hold so far.
    let mut open: Vec<(usize, Size)> = Vec::new();
    loop {
        let (event, marker) = parser.next_token().map_err(|e| scan_error(&e))?;
        let mark = mark_of(&marker);
        let (anchor, size) = match event {
            Event::StreamEnd => return Ok(()),
            Event::SequenceStart(anchor, _) | Event::MappingStart(anchor, _) => {
                limits.enter(open.len() + 1, mark)?;
                open.push((anchor, Size::default()));
                continue;
            }
            Event::SequenceEnd | Event::MappingEnd => {
                let Some((anchor, mut size)) = open.pop() else {
                    continue;
                };
                size.nodes = size.nodes.saturating_add(1);
                size.depth += 1;
                (anchor, size)
            }
            Event::Scalar(text, _, anchor, _) => (
                anchor,
                Size {
                    nodes: 1,
                    bytes: text.len(),
                    depth: 0,
                },
            ),
            Event::Alias(id) => {
                let Some(size) = anchors.get(&id).copied() else {
                    return Err(YamlError {
                        mark,
                        message: "found undefined alias".into(),
                        limit: false,
                    });
                };
                limits.alias(size, open.len(), mark)?;
                (0, size)
            }
            _ => continue,
        };
        if anchor != 0 {
            anchors.insert(anchor, size);
        }
        if let Some((_, parent)) = open.last_mut() {
            parent.add(size);
            parent.depth = parent.depth.max(size.depth);
        }
    }
}

/// yaml-rust2's own bound (255 nested flow collections, met while it scans ahead) is
/// reported as ours.
fn scan_error(e: &yaml_rust2::ScanError) -> YamlError {
    let mark = mark_of(e.marker());
    if e.info() == "recursion limit exceeded" {
        return YamlError {
            mark,
            message: format!("collections nested more than {MAX_DEPTH} levels deep"),
            limit: true,
        };
    }
    YamlError {
        mark,
        message: e.info().to_string(),
        limit: false,
    }
}

struct Loader<'a> {
    parser: Parser<std::str::Chars<'a>>,
    /// Anchored nodes by yaml-rust2's anchor id (a redefined anchor gets a new id).
    anchors: HashMap<usize, (Node, Size)>,
    warnings: Vec<YamlWarning>,
    limits: Limits,
    /// Collections open around the node being read.
    depth: usize,
}

impl Loader<'_> {
    fn next(&mut self) -> Result<(Event, Marker), YamlError> {
        self.parser.next_token().map_err(|e| scan_error(&e))
    }

    fn remember(&mut self, anchor: usize, node: &Node, size: Size) {
        if anchor != 0 {
            self.anchors.insert(anchor, (node.clone(), size));
        }
    }

    /// A node and what it holds (aliases expanded).
    fn node(&mut self, event: Event, marker: Marker) -> Result<(Node, Size), YamlError> {
        let mark = mark_of(&marker);
        match event {
            Event::Scalar(text, style, anchor, tag) => {
                let size = Size {
                    nodes: 1,
                    bytes: text.len(),
                    depth: 0,
                };
                let value =
                    resolve_scalar(&text, style, tag.as_ref()).map_err(|message| YamlError {
                        mark,
                        message,
                        limit: false,
                    })?;
                let node = Node { value, mark };
                self.remember(anchor, &node, size);
                Ok((node, size))
            }
            Event::Alias(id) => {
                let Some((_, size)) = self.anchors.get(&id) else {
                    return Err(YamlError {
                        mark,
                        message: "found undefined alias".into(),
                        limit: false,
                    });
                };
                let size = *size;
                // Counted before anything is copied.
                self.limits.alias(size, self.depth, mark)?;
                let value = self
                    .anchors
                    .get(&id)
                    .map_or(Value::Null, |(n, _)| n.value.clone());
                Ok((Node { value, mark }, size))
            }
            Event::SequenceStart(anchor, tag) => {
                check_collection_tag(tag.as_ref(), "seq", mark)?;
                self.limits.enter(self.depth + 1, mark)?;
                self.depth += 1;
                let mut size = Size::default();
                let mut items = Vec::new();
                loop {
                    let (event, marker) = self.next()?;
                    if event == Event::SequenceEnd {
                        break;
                    }
                    let (item, s) = self.node(event, marker)?;
                    size.add(s);
                    size.depth = size.depth.max(s.depth);
                    items.push(item);
                }
                self.depth -= 1;
                size.nodes = size.nodes.saturating_add(1);
                size.depth += 1;
                let node = Node {
                    value: Value::Seq(items),
                    mark,
                };
                self.remember(anchor, &node, size);
                Ok((node, size))
            }
            Event::MappingStart(anchor, tag) => {
                check_collection_tag(tag.as_ref(), "map", mark)?;
                self.limits.enter(self.depth + 1, mark)?;
                self.depth += 1;
                let mut size = Size::default();
                let mut pairs: Vec<(Node, Node)> = Vec::new();
                // Parallel to `pairs`: whether the pair came from a merge key.
                let mut merged: Vec<bool> = Vec::new();
                let mut index = KeyIndex::default();
                loop {
                    let (event, marker) = self.next()?;
                    if event == Event::MappingEnd {
                        break;
                    }
                    let merge = matches!(
                        &event,
                        Event::Scalar(k, TScalarStyle::Plain, _, None) if k == "<<"
                    );
                    let (key, ks) = self.node(event, marker)?;
                    let (event, marker) = self.next()?;
                    let (value, vs) = self.node(event, marker)?;
                    for s in [ks, vs] {
                        size.add(s);
                        size.depth = size.depth.max(s.depth);
                    }
                    if merge {
                        self.merge_into(&mut pairs, &mut merged, &mut index, value)?;
                    } else {
                        self.insert(&mut pairs, &mut merged, &mut index, key, value);
                    }
                }
                self.depth -= 1;
                size.nodes = size.nodes.saturating_add(1);
                size.depth += 1;
                // A block mapping's start event sits at its first key's `:`; the
                // mapping starts at the key.
                let mark = pairs.first().map_or(mark, |(k, _)| mark.min(k.mark));
                let node = Node {
                    value: Value::Map(pairs),
                    mark,
                };
                self.remember(anchor, &node, size);
                Ok((node, size))
            }
            other => Err(YamlError {
                mark,
                message: format!("unexpected YAML event {other:?}"),
                limit: false,
            }),
        }
    }

    fn insert(
        &mut self,
        pairs: &mut Vec<(Node, Node)>,
        merged: &mut Vec<bool>,
        index: &mut KeyIndex,
        key: Node,
        value: Node,
    ) {
        if let Some(i) = index.find(pairs, &key) {
            let overrides_merge = merged.get(i).copied().unwrap_or(false);
            self.warnings.push(YamlWarning {
                mark: key.mark,
                message: format!(
                    "found duplicate mapping key {}; using the last defined value only",
                    key.key_string().unwrap_or_else(|| "(complex key)".into())
                ),
                overrides_merge,
            });
            pairs[i].1 = value;
            if let Some(m) = merged.get_mut(i) {
                *m = false;
            }
        } else {
            pairs.push((key, value));
            merged.push(false);
            index.pushed(pairs);
        }
    }

    /// `<<: *base` or `<<: [*a, *b]`: keys not already present are copied in (the
    /// first of several sources wins, explicit keys win over all).
    fn merge_into(
        &mut self,
        pairs: &mut Vec<(Node, Node)>,
        merged: &mut Vec<bool>,
        index: &mut KeyIndex,
        value: Node,
    ) -> Result<(), YamlError> {
        let sources = match value.value {
            Value::Map(_) => vec![value],
            Value::Seq(items) => items,
            _ => {
                return Err(YamlError {
                    mark: value.mark,
                    message: "expected a mapping or list of mappings for merging".into(),
                    limit: false,
                });
            }
        };
        for source in sources {
            let Value::Map(src) = source.value else {
                return Err(YamlError {
                    mark: source.mark,
                    message: "expected a mapping for merging".into(),
                    limit: false,
                });
            };
            for (k, v) in src {
                if index.find(pairs, &k).is_none() {
                    pairs.push((k, v));
                    merged.push(true);
                    index.pushed(pairs);
                }
            }
        }
        Ok(())
    }
}

/// Mappings up to this many keys look a key up by comparing; longer ones by hash.
const LINEAR_KEYS: usize = 8;

/// A mapping's keys by hash, so a duplicate-key check is one lookup, not a scan of
/// every key before it (which made a 32k-host `hosts:` quadratic).
#[derive(Default)]
struct KeyIndex {
    by_hash: HashMap<u64, Vec<usize>>,
}

impl KeyIndex {
    /// Where `key` (Python equality) is in `pairs`.
    fn find(&self, pairs: &[(Node, Node)], key: &Node) -> Option<usize> {
        if pairs.len() <= LINEAR_KEYS {
            return pairs.iter().position(|(k, _)| same_key(k, key));
        }
        self.by_hash
            .get(&key_hash(&key.value))?
            .iter()
            .copied()
            .find(|&i| same_key(&pairs[i].0, key))
    }

    /// After a pair was pushed: indexes it (and every earlier key once the mapping
    /// outgrows [`LINEAR_KEYS`]).
    fn pushed(&mut self, pairs: &[(Node, Node)]) {
        let n = pairs.len();
        if n == LINEAR_KEYS + 1 {
            for (i, (k, _)) in pairs.iter().enumerate() {
                self.by_hash.entry(key_hash(&k.value)).or_default().push(i);
            }
        } else if n > LINEAR_KEYS + 1 {
            self.by_hash
                .entry(key_hash(&pairs[n - 1].0.value))
                .or_default()
                .push(n - 1);
        }
    }
}

/// A hash that agrees with [`same_key`]: equal keys hash equal.
fn key_hash(v: &Value) -> u64 {
    use std::hash::{Hash, Hasher};
    fn feed(v: &Value, h: &mut std::collections::hash_map::DefaultHasher) {
        match v {
            Value::Bool(_) | Value::Int(_) | Value::Float(_) => {
                0u8.hash(h);
                // -0.0 == 0.0; NaN equals nothing, so its hash does not matter.
                let f = num(v).unwrap_or(0.0);
                let f = if f == 0.0 { 0.0 } else { f };
                f.to_bits().hash(h);
            }
            Value::Null => 1u8.hash(h),
            Value::Str(s) => {
                2u8.hash(h);
                s.hash(h);
            }
            Value::Seq(items) => {
                3u8.hash(h);
                items.len().hash(h);
                for item in items {
                    feed(&item.value, h);
                }
            }
            Value::Map(pairs) => {
                4u8.hash(h);
                pairs.len().hash(h);
            }
        }
    }
    let mut h = std::collections::hash_map::DefaultHasher::new();
    feed(v, &mut h);
    h.finish()
}

fn num(v: &Value) -> Option<f64> {
    match v {
        Value::Bool(b) => Some(if *b { 1.0 } else { 0.0 }),
        Value::Int(i) => Some(*i as f64),
        Value::Float(f) => Some(*f),
        _ => None,
    }
}

#[cfg(test)]
thread_local! {
    static KEY_COMPARISONS: std::cell::Cell<usize> = const { std::cell::Cell::new(0) };
}

/// Python dict key equality: `1`, `1.0` and `true` are one key.
fn same_key(a: &Node, b: &Node) -> bool {
    #[cfg(test)]
    KEY_COMPARISONS.with(|c| c.set(c.get() + 1));
    match (num(&a.value), num(&b.value)) {
        (Some(x), Some(y)) => x == y,
        _ => a.value == b.value,
    }
}

fn is_core_tag(tag: &Tag, name: &str) -> bool {
    (tag.handle == "tag:yaml.org,2002:" || tag.handle == "!!") && tag.suffix == name
}

fn check_collection_tag(tag: Option<&Tag>, kind: &str, mark: Mark) -> Result<(), YamlError> {
    match tag {
        None => Ok(()),
        Some(t) if is_core_tag(t, kind) || (t.handle == "!" && t.suffix.is_empty()) => Ok(()),
        Some(t) => Err(YamlError {
            mark,
            message: format!("unsupported YAML tag {}{}", t.handle, t.suffix),
            limit: false,
        }),
    }
}

/// Resolves a scalar the way PyYAML's `SafeLoader` does (YAML 1.1): only plain
/// scalars are typed implicitly; quoted and block scalars are strings.
fn resolve_scalar(text: &str, style: TScalarStyle, tag: Option<&Tag>) -> Result<Value, String> {
    if let Some(tag) = tag {
        let explicit = |kind: &str, v: Option<Value>| {
            v.ok_or_else(|| format!("{text:?} is not a valid !!{kind}"))
        };
        return if is_core_tag(tag, "str") || (tag.handle == "!" && tag.suffix.is_empty()) {
            Ok(Value::Str(text.to_string()))
        } else if tag.handle == "!" && tag.suffix == "unsafe" {
            // Ansible's marker for "never template this"; the value is the string.
            Ok(Value::Str(text.to_string()))
        } else if is_core_tag(tag, "int") {
            explicit("int", parse_int(text).map(Value::Int))
        } else if is_core_tag(tag, "float") {
            explicit(
                "float",
                parse_float(text)
                    .or_else(|| parse_int(text).map(|i| i as f64))
                    .map(Value::Float),
            )
        } else if is_core_tag(tag, "bool") {
            explicit("bool", parse_bool(text).map(Value::Bool))
        } else if is_core_tag(tag, "null") {
            Ok(Value::Null)
        } else if tag.handle == "!" && tag.suffix == "vault" {
            Err("vault-encrypted values (!vault) are not supported; use age or SOPS".into())
        } else {
            Err(format!("unsupported YAML tag {}{}", tag.handle, tag.suffix))
        };
    }
    if style != TScalarStyle::Plain {
        return Ok(Value::Str(text.to_string()));
    }
    Ok(resolve_plain(text))
}

/// The implicit resolvers of PyYAML's `Resolver`, in its order: bool, float, int,
/// null, timestamp; anything else is a string.
pub fn resolve_plain(text: &str) -> Value {
    if let Some(b) = parse_bool(text) {
        return Value::Bool(b);
    }
    if is_float(text)
        && let Some(f) = parse_float(text)
    {
        return Value::Float(f);
    }
    if let Some(i) = parse_int(text) {
        return Value::Int(i);
    }
    if matches!(text, "" | "~" | "null" | "Null" | "NULL") {
        return Value::Null;
    }
    if let Some(ts) = timestamp(text) {
        return Value::Str(ts);
    }
    Value::Str(text.to_string())
}

fn parse_bool(text: &str) -> Option<bool> {
    match text {
        "yes" | "Yes" | "YES" | "true" | "True" | "TRUE" | "on" | "On" | "ON" => Some(true),
        "no" | "No" | "NO" | "false" | "False" | "FALSE" | "off" | "Off" | "OFF" => Some(false),
        _ => None,
    }
}

fn split_sign(text: &str) -> (bool, &str) {
    match text.as_bytes().first() {
        Some(b'-') => (true, &text[1..]),
        Some(b'+') => (false, &text[1..]),
        _ => (false, text),
    }
}

fn all(s: &str, f: impl Fn(u8) -> bool) -> bool {
    s.bytes().all(f)
}

fn digit(b: u8) -> bool {
    b.is_ascii_digit()
}

/// `:[0-5]?[0-9]` repeated at least once.
fn sexagesimal_tail(parts: &[&str]) -> bool {
    !parts.is_empty()
        && parts.iter().all(|p| {
            let b = p.as_bytes();
            match b.len() {
                1 => digit(b[0]),
                2 => (b'0'..=b'5').contains(&b[0]) && digit(b[1]),
                _ => false,
            }
        })
}

/// PyYAML's int regex, then its constructor.
fn parse_int(text: &str) -> Option<i128> {
    let (neg, body) = split_sign(text);
    let clean = |s: &str| s.replace('_', "");
    let value = if let Some(bin) = body.strip_prefix("0b") {
        if bin.is_empty() || !all(bin, |b| b == b'0' || b == b'1' || b == b'_') {
            return None;
        }
        i128::from_str_radix(&clean(bin), 2).ok()?
    } else if let Some(hex) = body.strip_prefix("0x") {
        if hex.is_empty() || !all(hex, |b| b.is_ascii_hexdigit() || b == b'_') {
            return None;
        }
        i128::from_str_radix(&clean(hex), 16).ok()?
    } else if body == "0" {
        0
    } else if let Some(oct) = body.strip_prefix('0') {
        if oct.is_empty() || !all(oct, |b| (b'0'..=b'7').contains(&b) || b == b'_') {
            return None;
        }
        let c = clean(oct);
        if c.is_empty() {
            0
        } else {
            i128::from_str_radix(&c, 8).ok()?
        }
    } else if body.contains(':') {
        let parts: Vec<&str> = body.split(':').collect();
        let first = parts[0].as_bytes();
        if first.is_empty()
            || !(b'1'..=b'9').contains(&first[0])
            || !all(parts[0], |b| digit(b) || b == b'_')
            || !sexagesimal_tail(&parts[1..])
        {
            return None;
        }
        let mut value: i128 = 0;
        for p in &parts {
            value = value
                .checked_mul(60)?
                .checked_add(clean(p).parse::<i128>().ok()?)?;
        }
        value
    } else {
        let b = body.as_bytes();
        if b.is_empty() || !(b'1'..=b'9').contains(&b[0]) || !all(body, |c| digit(c) || c == b'_') {
            return None;
        }
        clean(body).parse::<i128>().ok()?
    };
    Some(if neg { -value } else { value })
}

/// PyYAML's float regex (note: an exponent needs a sign and a dot, so `1e3` is a
/// string).
fn is_float(text: &str) -> bool {
    let exp_ok = |s: &str| -> bool {
        // (?:[eE][-+][0-9]+)?
        if s.is_empty() {
            return true;
        }
        let b = s.as_bytes();
        b.len() >= 3
            && (b[0] == b'e' || b[0] == b'E')
            && (b[1] == b'-' || b[1] == b'+')
            && all(&s[2..], digit)
    };
    let frac_then_exp = |s: &str| -> bool {
        // [0-9_]*(?:[eE][-+][0-9]+)?
        let end = s
            .find(|c: char| !(c.is_ascii_digit() || c == '_'))
            .unwrap_or(s.len());
        exp_ok(&s[end..])
    };
    if matches!(text, ".nan" | ".NaN" | ".NAN") {
        return true;
    }
    let (_, body) = split_sign(text);
    if matches!(body, ".inf" | ".Inf" | ".INF") {
        return true;
    }
    // \.[0-9][0-9_]*(?:[eE][-+][0-9]+)?  (no sign allowed)
    if let Some(rest) = text.strip_prefix('.') {
        return rest.as_bytes().first().is_some_and(|b| digit(*b)) && frac_then_exp(rest);
    }
    let Some(dot) = body.find('.') else {
        return false;
    };
    let (int_part, rest) = (&body[..dot], &body[dot + 1..]);
    if int_part.contains(':') {
        // [0-9][0-9_]*(?::[0-5]?[0-9])+\.[0-9_]*
        let parts: Vec<&str> = int_part.split(':').collect();
        return parts[0].as_bytes().first().is_some_and(|b| digit(*b))
            && all(parts[0], |b| digit(b) || b == b'_')
            && sexagesimal_tail(&parts[1..])
            && all(rest, |b| digit(b) || b == b'_');
    }
    // [0-9][0-9_]*\.[0-9_]*(?:[eE][-+][0-9]+)?
    int_part.as_bytes().first().is_some_and(|b| digit(*b))
        && all(int_part, |b| digit(b) || b == b'_')
        && frac_then_exp(rest)
}

fn parse_float(text: &str) -> Option<f64> {
    let lower = text.replace('_', "").to_ascii_lowercase();
    let (neg, body) = split_sign(&lower);
    let sign = if neg { -1.0 } else { 1.0 };
    if body == ".inf" {
        return Some(sign * f64::INFINITY);
    }
    if body == ".nan" {
        return Some(f64::NAN);
    }
    if body.contains(':') {
        let mut value = 0.0;
        for p in body.split(':') {
            value = value * 60.0 + p.parse::<f64>().ok()?;
        }
        return Some(sign * value);
    }
    // Python's float() accepts "3." and ".5"; Rust's parser does too.
    body.parse::<f64>().ok().map(|v| sign * v)
}

/// PyYAML turns timestamps into dates; Ansible prints them in ISO format. A date
/// stays as written; a date-time becomes `YYYY-MM-DDTHH:MM:SS[.ffffff][+HH:MM]`.
fn timestamp(text: &str) -> Option<String> {
    let b = text.as_bytes();
    // Bytes, not `&text[..]`: the text may hold multi-byte characters anywhere.
    let digits = |s: &[u8]| s.iter().copied().all(digit);
    let year_ok = b.len() >= 10 && digits(&b[..4]) && b[4] == b'-';
    if !year_ok {
        return None;
    }
    if b.len() == 10 {
        return (digits(&b[5..7]) && b[7] == b'-' && digits(&b[8..10])).then(|| text.to_string());
    }
    // [0-9]{4}-[0-9]{1,2}-[0-9]{1,2}([Tt]|[ \t]+)[0-9]{1,2}:[0-9]{2}:[0-9]{2}(\.[0-9]*)?
    // (([ \t]*)(Z|[-+][0-9]{1,2}(:[0-9]{2})?))?
    let mut pos = 5;
    let take_digits = |pos: &mut usize, min: usize, max: usize| -> Option<u32> {
        let start = *pos;
        while *pos < b.len() && *pos - start < max && digit(b[*pos]) {
            *pos += 1;
        }
        if *pos - start < min {
            return None;
        }
        text[start..*pos].parse().ok()
    };
    let expect =
        |pos: &mut usize, c: u8| -> Option<()> { (b.get(*pos) == Some(&c)).then(|| *pos += 1) };
    let month = take_digits(&mut pos, 1, 2)?;
    expect(&mut pos, b'-')?;
    let day = take_digits(&mut pos, 1, 2)?;
    match b.get(pos) {
        Some(b'T' | b't') => pos += 1,
        Some(b' ' | b'\t') => {
            while matches!(b.get(pos), Some(b' ' | b'\t')) {
                pos += 1;
            }
        }
        _ => return None,
    }
    let hour = take_digits(&mut pos, 1, 2)?;
    expect(&mut pos, b':')?;
    let minute = take_digits(&mut pos, 2, 2)?;
    expect(&mut pos, b':')?;
    let second = take_digits(&mut pos, 2, 2)?;
    let mut micros = None;
    if b.get(pos) == Some(&b'.') {
        pos += 1;
        let start = pos;
        while pos < b.len() && digit(b[pos]) {
            pos += 1;
        }
        let mut frac: String = text[start..pos].chars().take(6).collect();
        while frac.len() < 6 {
            frac.push('0');
        }
        micros = frac.parse::<u32>().ok().filter(|m| *m != 0);
    }
    while matches!(b.get(pos), Some(b' ' | b'\t')) {
        pos += 1;
    }
    let mut tz = String::new();
    match b.get(pos) {
        None => {}
        Some(b'Z') => {
            pos += 1;
            tz = "+00:00".into();
        }
        Some(s @ (b'+' | b'-')) => {
            let sign = *s as char;
            pos += 1;
            let h = take_digits(&mut pos, 1, 2)?;
            let m = if b.get(pos) == Some(&b':') {
                pos += 1;
                take_digits(&mut pos, 2, 2)?
            } else {
                0
            };
            tz = format!("{sign}{h:02}:{m:02}");
        }
        _ => return None,
    }
    if pos != b.len() {
        return None;
    }
    let mut out = format!(
        "{}-{month:02}-{day:02}T{hour:02}:{minute:02}:{second:02}",
        &text[..4]
    );
    if let Some(us) = micros {
        out.push_str(&format!(".{us:06}"));
    }
    out.push_str(&tz);
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn one(text: &str) -> Value {
        resolve_plain(text)
    }

    #[test]
    fn yaml_1_1_scalars_resolve_like_pyyaml() {
        assert_eq!(one("yes"), Value::Bool(true));
        assert_eq!(one("Off"), Value::Bool(false));
        assert_eq!(one("y"), Value::Str("y".into()));
        assert_eq!(one("0755"), Value::Int(493));
        assert_eq!(one("0b1010"), Value::Int(10));
        assert_eq!(one("0x_1F"), Value::Int(31));
        assert_eq!(one("12:30"), Value::Int(750));
        assert_eq!(one("+12"), Value::Int(12));
        assert_eq!(one("-0o17"), Value::Str("-0o17".into()));
        assert_eq!(one("1e3"), Value::Str("1e3".into()));
        assert_eq!(one("6.8523015e+5"), Value::Float(685230.15));
        assert_eq!(one("190:20:30.15"), Value::Float(685230.15));
        assert_eq!(one("3."), Value::Float(3.0));
        assert_eq!(one(".5"), Value::Float(0.5));
        assert_eq!(one("-.5"), Value::Str("-.5".into()));
        assert_eq!(one("1_000.5"), Value::Float(1000.5));
        assert_eq!(one("~"), Value::Null);
        assert_eq!(one("2001-12-14"), Value::Str("2001-12-14".into()));
        assert_eq!(
            one("2001-12-14t21:59:43.10-05:00"),
            Value::Str("2001-12-14T21:59:43.100000-05:00".into())
        );
        assert_eq!(
            one("2001-12-14 21:59:43.123456789Z"),
            Value::Str("2001-12-14T21:59:43.123456+00:00".into())
        );
        assert_eq!(
            one("2002-12-14 1:2:3"),
            Value::Str("2002-12-14 1:2:3".into())
        );
        // Multi-byte characters where digits are expected are text, not a panic.
        assert_eq!(one("0o7éédepends"), Value::Str("0o7éédepends".into()));
        assert_eq!(one("2001-1é-1"), Value::Str("2001-1é-1".into()));
        assert!(matches!(one(".inf"), Value::Float(f) if f.is_infinite()));
    }

    #[test]
    fn quoted_scalars_stay_strings_and_positions_are_one_based() {
        let (doc, _) = load("a: 'yes'\nb:\n  - on\n").expect("loads");
        let doc = doc.expect("a document");
        let map = doc.as_map().expect("map");
        assert_eq!(map[0].1.value, Value::Str("yes".into()));
        assert_eq!(map[0].0.mark, Mark { line: 1, column: 1 });
        let Value::Seq(items) = &map[1].1.value else {
            panic!("seq")
        };
        assert_eq!(items[0].value, Value::Bool(true));
        assert_eq!(items[0].mark, Mark { line: 3, column: 5 });
    }

    #[test]
    fn merge_keys_aliases_and_duplicates_behave_like_ansible() {
        let (doc, warnings) =
            load("base: &b {p: 1, q: 2}\nm: {<<: *b, q: 3}\nd: 1\nd: 2\n").expect("loads");
        let doc = doc.expect("doc").to_json();
        assert_eq!(doc["m"], serde_json::json!({"p": 1, "q": 3}));
        assert_eq!(doc["d"], serde_json::json!(2));
        // Ansible warns about `q` given by the merge and again explicitly, too.
        let lines: Vec<usize> = warnings.iter().map(|w| w.mark.line).collect();
        assert_eq!(lines, [2, 4]);
        let overrides: Vec<bool> = warnings.iter().map(|w| w.overrides_merge).collect();
        assert_eq!(overrides, [true, false]);
    }

    #[test]
    fn alias_bombs_are_refused() {
        let mut text = String::from("a0: &a0 [x, x, x, x, x, x, x, x, x, x]\n");
        for i in 1..9 {
            let p = i - 1;
            text.push_str(&format!(
                "a{i}: &a{i} [*a{p}, *a{p}, *a{p}, *a{p}, *a{p}, *a{p}, *a{p}, *a{p}, *a{p}, *a{p}]\n"
            ));
        }
        let err = load(&text).expect_err("refused");
        assert!(err.message.contains("nodes"), "{err:?}");
    }

    /// A 100 KB string anchored once and referenced through five levels of alias
    /// lists: 10^5 copies, 10 GB of text from a 100 KB file.
    pub(crate) fn string_bomb(indent: &str) -> String {
        let mut text = format!("{indent}s0: &s0 \"{}\"\n", "x".repeat(100_000));
        for i in 1..=5 {
            let p = i - 1;
            let refs = vec![format!("*s{p}"); 10].join(", ");
            text.push_str(&format!("{indent}s{i}: &s{i} [{refs}]\n"));
        }
        text
    }

    #[test]
    fn aliases_are_bounded_by_bytes() {
        let text = string_bomb("");
        let err = load(&text).expect_err("refused");
        assert!(err.message.contains("MiB of text"), "{err:?}");
        // Where the copies cross the bound: an alias of `s2` (10 MB) on line 4.
        assert_eq!(err.mark.line, 4, "{err:?}");
        let err = check_bounds(&text).expect_err("refused without building");
        assert!(err.message.contains("MiB of text"), "{err:?}");
        // Below the bound, aliases still work.
        let (doc, _) = load("a: &a [x, y]\nb: [*a, *a]\n").expect("loads");
        let doc = doc.expect("doc").to_json();
        assert_eq!(doc["b"], serde_json::json!([["x", "y"], ["x", "y"]]));
        assert!(check_bounds("a: &a [x, y]\nb: [*a, *a]\n").is_ok());
    }

    #[test]
    fn nesting_is_bounded_in_blocks_flows_and_aliases() {
        // 100k-deep block sequences: refused at the bound, not after parsing them all.
        let deep = "- ".repeat(100_000) + "x\n";
        let err = load(&deep).expect_err("deep");
        assert!(err.message.contains("nested more than 128"), "{err:?}");
        let err = check_bounds(&deep).expect_err("deep");
        assert!(err.message.contains("nested more than 128"), "{err:?}");
        // Aliases that each add a level.
        let mut text = String::from("l0: &l0 [x]\n");
        for i in 1..200 {
            text.push_str(&format!("l{i}: &l{i} [*l{}]\n", i - 1));
        }
        let err = load(&text).expect_err("deep through aliases");
        assert!(err.message.contains("nested more than 128"), "{err:?}");
        assert!(check_bounds(&text).is_err());
        let ok = "a: ".to_string() + &"[".repeat(100) + &"]".repeat(100);
        assert!(load(&ok).is_ok());
        assert!(check_bounds(&ok).is_ok());
    }

    #[test]
    fn duplicate_keys_are_found_by_hash_not_by_scanning() {
        let n = 20_000;
        let mut text = String::from("hosts:\n");
        for i in 0..n {
            text.push_str(&format!("  web{i}.example.net:\n"));
        }
        text.push_str("  web7.example.net: {x: 1}\n  1: a\n  1.0: b\n  true: c\n");
        KEY_COMPARISONS.with(|c| c.set(0));
        let (doc, warnings) = load(&text).expect("loads");
        let compared = KEY_COMPARISONS.with(|c| c.get());
        // Scanning every earlier key would be n²/2 = 200 million comparisons.
        assert!(compared < 4 * n, "{compared} key comparisons for {n} keys");
        let doc = doc.expect("doc").to_json();
        assert_eq!(
            doc["hosts"]["web7.example.net"],
            serde_json::json!({"x": 1})
        );
        assert_eq!(doc["hosts"]["1"], serde_json::json!("c"));
        assert_eq!(warnings.len(), 3, "{warnings:?}");
    }

    #[test]
    fn syntax_errors_have_positions_and_second_documents_are_refused() {
        let err = load("a: [1, 2\nb: 3\n").expect_err("bad");
        assert!(err.mark.line >= 1, "{err:?}");
        let err = load("a: 1\n---\nb: 2\n").expect_err("two docs");
        assert_eq!(err.mark.line, 2);
        assert_eq!(load("").expect("empty").0, None);
        assert_eq!(load("---\n").expect("empty").0, None);
    }
}
