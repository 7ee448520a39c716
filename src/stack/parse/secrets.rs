//! `secrets:` at the top level (names from the host's secret file) and in a service
//! (files under `/run/secrets`, short or long form), and `x-fleetdeck-secret-env`.

use super::{Cx, Declared, env_name, kind};
use crate::inventory::yaml::{Mark, Node, Value};
use crate::stack::{SECRETS_DIR, SecretMount, SecretSpec};

impl Cx<'_> {
    pub(super) fn secrets(&mut self, node: &Node) -> Vec<SecretSpec> {
        let Some(pairs) = self.map_or_null(node, "secrets") else {
            return Vec::new();
        };
        let mut out = Vec::new();
        for (k, v) in pairs {
            let Some(name) = self.declared_name(k, "secret") else {
                continue;
            };
            let Some(body) = self.map_or_null(v, &format!("secret `{name}`")) else {
                continue;
            };
            let mut key_name = None;
            for (bk, bv) in body {
                let Some(key) = self.key(bk) else { continue };
                match key {
                    // Every secret is external to the stack: it comes from the host's
                    // secret file either way.
                    "external" => {
                        self.boolean(bv, "external");
                    }
                    "name" => {
                        key_name = self.text(bv, "name");
                        if key_name.as_deref() == Some("") {
                            self.err(bv.mark, "a secret's key cannot be empty");
                        }
                    }
                    "file" | "environment" => self.err(
                        bk.mark,
                        format!(
                            "unsupported key `secrets.{name}.{key}`: secrets come from the host's \
                             secret file (fleetdeck_secrets); write `{name}: {{}}` or \
                             `{name}: {{external: true, name: KEY}}`"
                        ),
                    ),
                    _ => self.unsupported(
                        bk,
                        &format!("secrets.{name}.{key}"),
                        &["external", "name"],
                    ),
                }
            }
            out.push(SecretSpec {
                key: key_name.unwrap_or_else(|| name.clone()),
                name,
            });
        }
        out
    }

    pub(super) fn secret_ref(&mut self, name: &str, mark: Mark, decl: &Declared) -> bool {
        if decl.secrets.contains(name) {
            return true;
        }
        self.err(
            mark,
            format!("secret `{name}` is not declared under the top-level `secrets:`"),
        );
        false
    }

    pub(super) fn service_secrets(
        &mut self,
        node: &Node,
        decl: &Declared,
        targets: &mut Vec<(String, Mark)>,
    ) -> Vec<SecretMount> {
        let Some(items) = self.seq(node, "secrets") else {
            return Vec::new();
        };
        let mut out = Vec::new();
        for item in items {
            let mount = match &item.value {
                Value::Str(_) => self.text(item, "a secret").and_then(|name| {
                    self.secret_ref(&name, item.mark, decl)
                        .then(|| SecretMount {
                            target: format!("{SECRETS_DIR}/{name}"),
                            source: name,
                            uid: None,
                            gid: None,
                            mode: 0o400,
                        })
                }),
                Value::Map(pairs) => self.long_secret(pairs, item.mark, decl),
                _ => {
                    self.err(
                        item.mark,
                        format!("a secret is a name or a mapping, found {}", kind(item)),
                    );
                    None
                }
            };
            if let Some(m) = mount {
                targets.push((m.target.clone(), item.mark));
                out.push(m);
            }
        }
        out
    }

    pub(super) fn id(&mut self, node: &Node, what: &str) -> Option<String> {
        self.int_in(node, what, 0, i128::from(u32::MAX))
            .map(|i| i.to_string())
    }

    pub(super) fn long_secret(
        &mut self,
        pairs: &[(Node, Node)],
        mark: Mark,
        decl: &Declared,
    ) -> Option<SecretMount> {
        let (mut source, mut target, mut uid, mut gid, mut mode) = (None, None, None, None, 0o400);
        let mut ok = true;
        for (k, v) in pairs {
            let Some(key) = self.key(k) else {
                ok = false;
                continue;
            };
            match key {
                "source" => {
                    source = self.text(v, "source");
                    ok &= source
                        .as_ref()
                        .is_some_and(|s| self.secret_ref(s, v.mark, decl));
                }
                "target" => match self.text(v, "target") {
                    Some(t) if t.split('/').any(|c| c == "..") || t.is_empty() => {
                        self.err(v.mark, format!("{t:?} is not a secret target"));
                        ok = false;
                    }
                    Some(t) if t.starts_with('/') => target = Some(t),
                    Some(t) => target = Some(format!("{SECRETS_DIR}/{t}")),
                    None => ok = false,
                },
                "uid" => {
                    uid = self.id(v, "uid");
                    ok &= uid.is_some();
                }
                "gid" => {
                    gid = self.id(v, "gid");
                    ok &= gid.is_some();
                }
                "mode" => {
                    let m = match &v.value {
                        // YAML 1.1 already read 0440 as octal.
                        Value::Int(i) => Some(*i),
                        _ => self.text(v, "mode").and_then(|t| {
                            let t = t.trim();
                            match t.strip_prefix("0o").or_else(|| t.strip_prefix('0')) {
                                Some(oct) if !oct.is_empty() => i128::from_str_radix(oct, 8).ok(),
                                _ => t.parse::<i128>().ok(),
                            }
                        }),
                    };
                    match m {
                        Some(m) if (0..=0o777).contains(&m) => mode = m as u32,
                        _ => {
                            self.err(v.mark, "mode is a file mode like 0400 or 0440");
                            ok = false;
                        }
                    }
                }
                _ => {
                    self.unsupported(
                        k,
                        &format!("secrets[].{key}"),
                        &["source", "target", "uid", "gid", "mode"],
                    );
                    ok = false;
                }
            }
        }
        if source.is_none() && ok {
            self.err(mark, "this secret needs `source` (a top-level secret)");
        }
        let source = source?;
        if !ok {
            return None;
        }
        Some(SecretMount {
            target: target.unwrap_or_else(|| format!("{SECRETS_DIR}/{source}")),
            source,
            uid,
            gid,
            mode,
        })
    }

    pub(super) fn secret_env(
        &mut self,
        node: &Node,
        decl: &Declared,
    ) -> Vec<(String, String, Mark)> {
        let Some(pairs) = self.map(node, "x-fleetdeck-secret-env") else {
            return Vec::new();
        };
        let mut out = Vec::new();
        for (k, v) in pairs {
            let Some(env) = self.key(k) else { continue };
            if !env_name(env) {
                self.err(
                    k.mark,
                    format!("{env:?} is not an environment variable name"),
                );
                continue;
            }
            let Some(secret) = self.text(v, "a secret name") else {
                continue;
            };
            if self.secret_ref(&secret, v.mark, decl) {
                out.push((env.to_string(), secret, k.mark));
            }
        }
        out
    }
}
