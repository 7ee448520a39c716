//! `volumes:` at the top level (named volumes) and in a service (bind mounts and named
//! volumes, short `SRC:TARGET[:ro]` or long form).

use std::collections::BTreeMap;

use super::{Cx, Declared, kind};
use crate::inventory::yaml::{Mark, Node, Value};
use crate::stack::{MountSource, VolumeMount, VolumeSpec};

impl Cx<'_> {
    pub(super) fn volumes(&mut self, node: &Node) -> Vec<VolumeSpec> {
        let Some(pairs) = self.map_or_null(node, "volumes") else {
            return Vec::new();
        };
        let mut out = Vec::new();
        for (k, v) in pairs {
            let Some(name) = self.declared_name(k, "volume") else {
                continue;
            };
            let Some(body) = self.map_or_null(v, &format!("volume `{name}`")) else {
                continue;
            };
            let mut spec = VolumeSpec {
                name: name.clone(),
                external: None,
                driver: None,
                driver_opts: BTreeMap::new(),
                labels: BTreeMap::new(),
            };
            let (mut external, mut docker_name, mut configured) = (false, None, None);
            for (bk, bv) in body {
                let Some(key) = self.key(bk) else { continue };
                match key {
                    "external" => external = self.boolean(bv, "external").unwrap_or(false),
                    "name" => docker_name = self.text(bv, "name").map(|t| (t, bk.mark)),
                    "driver" => {
                        spec.driver = self.text(bv, "driver");
                        configured = Some(bk.mark);
                    }
                    "driver_opts" => {
                        if let Some(opts) = self.map(bv, "driver_opts") {
                            for (ok, ov) in opts {
                                let Some(okey) = self.key(ok) else { continue };
                                if let Some(val) = self.scalar(ov, &format!("driver_opts `{okey}`"))
                                {
                                    spec.driver_opts.insert(okey.to_string(), val);
                                }
                            }
                        }
                        configured = Some(bk.mark);
                    }
                    "labels" => {
                        spec.labels = self
                            .key_values(bv, "label", true)
                            .into_iter()
                            .map(|(k, v, _)| (k, v))
                            .collect();
                        configured = Some(bk.mark);
                    }
                    _ => self.unsupported(
                        bk,
                        &format!("volumes.{name}.{key}"),
                        &["driver", "driver_opts", "labels", "external", "name"],
                    ),
                }
            }
            spec.external = self.external_name("volume", &name, external, docker_name, configured);
            out.push(spec);
        }
        out
    }

    pub(super) fn mount_source(
        &mut self,
        source: &str,
        mark: Mark,
        decl: &Declared,
    ) -> Option<MountSource> {
        if source.starts_with('/') {
            return Some(MountSource::Bind(source.to_string()));
        }
        if source.starts_with('.') || source.starts_with('~') {
            self.err(
                mark,
                format!(
                    "{source:?}: a bind mount needs an absolute path on the host (the stack file \
                     is read here, the container runs there)"
                ),
            );
            return None;
        }
        if !decl.volumes.contains(source) {
            self.err(
                mark,
                format!("named volume `{source}` is not declared under the top-level `volumes:`"),
            );
            return None;
        }
        Some(MountSource::Volume(source.to_string()))
    }

    pub(super) fn target(&mut self, target: &str, mark: Mark) -> bool {
        if !target.starts_with('/') {
            self.err(
                mark,
                format!("{target:?}: a mount target is an absolute path in the container"),
            );
            return false;
        }
        true
    }

    pub(super) fn service_volumes(
        &mut self,
        node: &Node,
        decl: &Declared,
        targets: &mut Vec<(String, Mark)>,
    ) -> Vec<VolumeMount> {
        let Some(items) = self.seq(node, "volumes") else {
            return Vec::new();
        };
        let mut out = Vec::new();
        for item in items {
            match &item.value {
                Value::Str(_) => {
                    let Some(t) = self.text(item, "a volume") else {
                        continue;
                    };
                    let parts: Vec<&str> = t.split(':').collect();
                    let read_only = match parts.as_slice() {
                        [_] => {
                            self.err(
                                item.mark,
                                format!(
                                    "{t:?}: anonymous volumes are not supported; write \
                                     SOURCE:TARGET with a host path or a named volume"
                                ),
                            );
                            continue;
                        }
                        [_, _] => false,
                        [_, _, "ro"] => true,
                        [_, _, "rw"] => false,
                        [_, _, mode] => {
                            self.err(
                                item.mark,
                                format!("{t:?}: the mount mode is ro or rw, not {mode:?}"),
                            );
                            continue;
                        }
                        _ => {
                            self.err(item.mark, format!("{t:?}: write SOURCE:TARGET[:ro|rw]"));
                            continue;
                        }
                    };
                    let source = self.mount_source(parts[0], item.mark, decl);
                    let target_ok = self.target(parts[1], item.mark);
                    if let (Some(source), true) = (source, target_ok) {
                        targets.push((parts[1].to_string(), item.mark));
                        out.push(VolumeMount {
                            source,
                            target: parts[1].to_string(),
                            read_only,
                        });
                    }
                }
                Value::Map(pairs) => {
                    if let Some(m) = self.long_volume(pairs, item.mark, decl) {
                        targets.push((m.target.clone(), item.mark));
                        out.push(m);
                    }
                }
                _ => self.err(
                    item.mark,
                    format!(
                        "a volume is a string SOURCE:TARGET or a mapping, found {}",
                        kind(item)
                    ),
                ),
            }
        }
        out
    }

    pub(super) fn long_volume(
        &mut self,
        pairs: &[(Node, Node)],
        mark: Mark,
        decl: &Declared,
    ) -> Option<VolumeMount> {
        let (mut typ, mut source, mut target, mut read_only) = (None, None, None, false);
        let mut ok = true;
        for (k, v) in pairs {
            let Some(key) = self.key(k) else {
                ok = false;
                continue;
            };
            match key {
                "type" => match self.text(v, "type").as_deref() {
                    Some(t @ ("bind" | "volume")) => typ = Some(t.to_string()),
                    Some(other) => {
                        self.err(
                            v.mark,
                            format!("volume type {other:?} is not supported: bind or volume"),
                        );
                        ok = false;
                    }
                    None => ok = false,
                },
                "source" => source = self.text(v, "source").map(|s| (s, v.mark)),
                "target" => target = self.text(v, "target").map(|t| (t, v.mark)),
                "read_only" => read_only = self.boolean(v, "read_only").unwrap_or(false),
                _ => {
                    self.unsupported(
                        k,
                        &format!("volumes[].{key}"),
                        &["type", "source", "target", "read_only"],
                    );
                    ok = false;
                }
            }
        }
        let missing: Vec<&str> = [
            ("type", typ.is_none()),
            ("source", source.is_none()),
            ("target", target.is_none()),
        ]
        .iter()
        .filter(|(_, m)| *m)
        .map(|(n, _)| *n)
        .collect();
        if !missing.is_empty() {
            if ok {
                self.err(mark, format!("this volume needs {}", missing.join(", ")));
            }
            return None;
        }
        let (typ, (source, smark), (target, tmark)) = (typ?, source?, target?);
        let src = match typ.as_str() {
            "bind" if !source.starts_with('/') => {
                self.err(
                    smark,
                    format!("{source:?}: a bind source is an absolute path on the host"),
                );
                None
            }
            "bind" => Some(MountSource::Bind(source)),
            _ if source.starts_with('/') => {
                self.err(
                    smark,
                    format!(
                        "{source:?}: a volume source is a named volume; use type: bind for a path"
                    ),
                );
                None
            }
            _ => self.mount_source(&source, smark, decl),
        };
        let target_ok = self.target(&target, tmark);
        if !ok || !target_ok {
            return None;
        }
        Some(VolumeMount {
            source: src?,
            target,
            read_only,
        })
    }
}
