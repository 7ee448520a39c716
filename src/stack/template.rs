//! `{{ var }}` templating of a stack's strings with a host's variables. fleetdeck is no
//! Jinja engine: it resolves `{{ name }}`, `{{ name.sub }}` (`name.0` indexes a list),
//! `{{ name | default(LITERAL) }}` and `{{ 'literal' }}` (to write `{{` itself), and
//! refuses everything else rather than guess.

use serde_json::{Map, Value};

/// How deep variables may refer to other variables.
const MAX_DEPTH: usize = 10;
/// How long one rendered string may get: variables that each repeat the next one a few
/// times multiply (ten levels of ten references ask for 10^10 copies). Generous: Linux
/// takes no environment string above 128 KiB.
pub const MAX_RENDERED_BYTES: usize = 1 << 20;

pub struct Templater<'a> {
    pub host: &'a str,
    pub vars: &'a Map<String, Value>,
}

impl Templater<'_> {
    /// `text` with every `{{ … }}` replaced; the message says what is wrong otherwise.
    pub fn render(&self, text: &str) -> Result<String, String> {
        self.render_at(text, 0, &mut { MAX_RENDERED_BYTES })
    }

    /// Takes `n` bytes of output from what is left of the bound. Every byte of the
    /// result is taken once, where it is produced (literal text, a variable's plain
    /// value), so the work stays proportional to the bound.
    fn spend(&self, n: usize, left: &mut usize) -> Result<(), String> {
        if n > *left {
            return Err(format!(
                "the text expands to more than {} MiB for host {} (variables that repeat each \
                 other?)",
                MAX_RENDERED_BYTES >> 20,
                self.host
            ));
        }
        *left -= n;
        Ok(())
    }

    fn render_at(&self, text: &str, depth: usize, left: &mut usize) -> Result<String, String> {
        if depth > MAX_DEPTH {
            return Err(format!(
                "variables refer to each other more than {MAX_DEPTH} deep for host {}",
                self.host
            ));
        }
        if text.contains("{%") {
            return Err(format!(
                "Jinja statements (`{{% … %}}`) are not supported in stacks: {text:?}"
            ));
        }
        if text.contains("{#") {
            return Err(format!(
                "Jinja comments (`{{# … #}}`) are not supported in stacks: {text:?}"
            ));
        }
        let mut out = String::with_capacity(text.len());
        let mut rest = text;
        while let Some(start) = rest.find("{{") {
            self.spend(start, left)?;
            out.push_str(&rest[..start]);
            let after = &rest[start + 2..];
            let Some(end) = after.find("}}") else {
                return Err(format!("unclosed `{{{{` in {text:?}"));
            };
            out.push_str(&self.expression(&after[..end], text, depth, left)?);
            rest = &after[end + 2..];
        }
        self.spend(rest.len(), left)?;
        out.push_str(rest);
        Ok(out)
    }

    fn expression(
        &self,
        raw: &str,
        text: &str,
        depth: usize,
        left: &mut usize,
    ) -> Result<String, String> {
        let unsupported = || {
            format!(
                "`{{{{{raw}}}}}` in {text:?}: stacks support `{{{{ var }}}}`, `{{{{ var.sub }}}}` and \
                 `{{{{ var | default('x') }}}}` only"
            )
        };
        if raw.starts_with('-') || raw.ends_with('-') || raw.starts_with('+') {
            return Err(unsupported());
        }
        let expr = raw.trim();
        if let Some(lit) = string_literal(expr) {
            self.spend(lit.len(), left)?;
            return Ok(lit.to_string());
        }
        let (path, default) = match expr.split_once('|') {
            None => (expr, None),
            Some((path, filter)) => {
                let filter = filter.trim();
                let Some(arg) = filter
                    .strip_prefix("default")
                    .map(str::trim_start)
                    .and_then(|f| f.strip_prefix('('))
                    .and_then(|f| f.strip_suffix(')'))
                else {
                    return Err(unsupported());
                };
                (
                    path.trim(),
                    Some(literal(arg.trim()).ok_or_else(unsupported)?),
                )
            }
        };
        let segments: Vec<&str> = path.split('.').collect();
        let valid = segments.first().is_some_and(|s| identifier(s))
            && segments[1..]
                .iter()
                .all(|s| identifier(s) || (!s.is_empty() && s.bytes().all(|b| b.is_ascii_digit())));
        if !valid {
            return Err(unsupported());
        }
        match (self.lookup(&segments), default) {
            (Some(value), _) => self.value_text(path, value, depth, left),
            (None, Some(default)) => {
                self.spend(default.len(), left)?;
                Ok(default)
            }
            (None, None) => Err(format!(
                "undefined variable `{path}` for host {} (in {text:?}; define it in the inventory \
                 or write `{{{{ {path} | default('…') }}}}`)",
                self.host
            )),
        }
    }

    fn lookup(&self, segments: &[&str]) -> Option<&Value> {
        let (first, rest) = segments.split_first()?;
        let mut value = self.vars.get(*first)?;
        for seg in rest {
            value = match value {
                Value::Object(map) => map.get(*seg)?,
                Value::Array(items) => items.get(seg.parse::<usize>().ok()?)?,
                _ => return None,
            };
        }
        Some(value)
    }

    fn value_text(
        &self,
        path: &str,
        value: &Value,
        depth: usize,
        left: &mut usize,
    ) -> Result<String, String> {
        let plain = |text: String, left: &mut usize| {
            self.spend(text.len(), left)?;
            Ok(text)
        };
        match value {
            Value::String(s) if s.contains("{{") || s.contains("{%") || s.contains("{#") => self
                .render_at(s, depth + 1, left)
                .map_err(|e| format!("in the value of `{path}`: {e}")),
            Value::String(s) => plain(s.clone(), left),
            Value::Number(n) => plain(n.to_string(), left),
            Value::Bool(b) => plain(b.to_string(), left),
            Value::Null => Err(format!(
                "variable `{path}` is null for host {}; give it a value",
                self.host
            )),
            Value::Array(_) | Value::Object(_) => Err(format!(
                "variable `{path}` is a {} for host {}; only strings, numbers and booleans can be \
                 put in a string",
                if value.is_array() { "list" } else { "mapping" },
                self.host
            )),
        }
    }
}

fn identifier(s: &str) -> bool {
    s.starts_with(|c: char| c.is_ascii_alphabetic() || c == '_')
        && s.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
}

/// `'text'` or `"text"` (no escapes, no quote of the same kind inside).
fn string_literal(s: &str) -> Option<&str> {
    for q in ['\'', '"'] {
        if let Some(inner) = s.strip_prefix(q).and_then(|r| r.strip_suffix(q))
            && s.len() >= 2
            && !inner.contains(q)
        {
            return Some(inner);
        }
    }
    None
}

/// `default(...)`'s argument: a string, an integer, a decimal or a boolean, as text.
fn literal(s: &str) -> Option<String> {
    if let Some(text) = string_literal(s) {
        return Some(text.to_string());
    }
    match s {
        "true" | "True" => return Some("true".into()),
        "false" | "False" => return Some("false".into()),
        _ => {}
    }
    let digits = s.strip_prefix('-').unwrap_or(s);
    let numeric = !digits.is_empty()
        && digits.bytes().all(|b| b.is_ascii_digit() || b == b'.')
        && digits.bytes().filter(|b| *b == b'.').count() <= 1
        && digits.starts_with(|c: char| c.is_ascii_digit())
        && !digits.ends_with('.');
    numeric.then(|| s.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn vars() -> Map<String, Value> {
        let Value::Object(m) = json!({
            "tag": "1.4.2",
            "port": 8080,
            "ratio": 0.5,
            "debug": false,
            "db": {"host": "db1", "ports": [5432, 5433]},
            "domain": "{{ inventory_hostname }}.example.net",
            "inventory_hostname": "web1",
            "loop": "{{ loop }}",
            "nothing": null,
            "list": [1, 2],
        }) else {
            unreachable!()
        };
        m
    }

    fn render(text: &str) -> Result<String, String> {
        let vars = vars();
        Templater {
            host: "web1",
            vars: &vars,
        }
        .render(text)
    }

    #[test]
    fn variables_paths_and_defaults() {
        assert_eq!(render("app:{{ tag }}").as_deref(), Ok("app:1.4.2"));
        assert_eq!(render("{{port}}:80").as_deref(), Ok("8080:80"));
        assert_eq!(
            render("{{ ratio }} {{ debug }}").as_deref(),
            Ok("0.5 false")
        );
        assert_eq!(
            render("{{ db.host }}:{{ db.ports.1 }}").as_deref(),
            Ok("db1:5433")
        );
        assert_eq!(render("{{ domain }}").as_deref(), Ok("web1.example.net"));
        assert_eq!(render("{{ nope | default('x') }}").as_deref(), Ok("x"));
        assert_eq!(
            render("{{ nope | default(\"a b\") }}").as_deref(),
            Ok("a b")
        );
        assert_eq!(render("{{ nope|default(3) }}").as_deref(), Ok("3"));
        assert_eq!(
            render("{{ db.user | default('app') }}").as_deref(),
            Ok("app")
        );
        assert_eq!(render("{{ tag | default('x') }}").as_deref(), Ok("1.4.2"));
        assert_eq!(render("{{ '{{' }} x }}").as_deref(), Ok("{{ x }}"));
        assert_eq!(
            render("no templates } {").as_deref(),
            Ok("no templates } {")
        );
        assert_eq!(
            render("ünïcode {{ tag }} ✓").as_deref(),
            Ok("ünïcode 1.4.2 ✓")
        );
    }

    #[test]
    fn variables_that_multiply_are_bounded() {
        // `-e v0='{{v1}}…×10' -e v1='{{v2}}…×10' …`: ten levels ask for 10^10 copies.
        let mut vars = Map::new();
        for i in 0..10 {
            vars.insert(
                format!("v{i}"),
                Value::String(format!("{{{{v{}}}}}", i + 1).repeat(10)),
            );
        }
        vars.insert("v10".into(), Value::String("x".into()));
        let t = Templater {
            host: "web1",
            vars: &vars,
        };
        let err = t.render("{{ v0 }}").expect_err("bounded");
        assert!(
            err.contains("more than 1 MiB") && err.contains("web1"),
            "{err}"
        );
        assert!(err.starts_with("in the value of `v0`"), "{err}");
        // Five levels (10^5 bytes) are fine.
        assert_eq!(t.render("{{ v5 }}").map(|s| s.len()), Ok(100_000));
    }

    #[test]
    fn everything_else_is_refused() {
        let err = render("{{ missing }}").expect_err("undefined");
        assert!(err.contains("`missing`") && err.contains("web1"), "{err}");
        for bad in [
            "{{ tag | upper }}",
            "{{ tag ~ 'x' }}",
            "{{ port + 1 }}",
            "{{- tag }}",
            "{% if x %}y{% endif %}",
            "{# c #}",
            "{{ tag",
            "{{ }}",
            "{{ 1tag }}",
            "{{ x | default(y) }}",
            "{{ x | default('a', true) }}",
            "{{ loop }}",
            "{{ nothing }}",
            "{{ list }}",
            "{{ db }}",
        ] {
            assert!(render(bad).is_err(), "{bad}");
        }
    }
}
