//! A service's `ports:`: short `[IP:]HOST:CONTAINER[/PROTO]` strings or long mappings.

use super::{Cx, kind};
use crate::inventory::yaml::{Mark, Node, Value};
use crate::stack::values;
use crate::stack::{PortSpec, Protocol};

impl Cx<'_> {
    pub(super) fn ports(&mut self, node: &Node) -> Vec<PortSpec> {
        let Some(items) = self.seq(node, "ports") else {
            return Vec::new();
        };
        let mut out = Vec::new();
        for item in items {
            let port = match &item.value {
                Value::Str(_) => {
                    self.text(item, "a port")
                        .and_then(|t| match values::short_port(&t) {
                            Ok((host_ip, host_port, container_port, proto)) => Some(PortSpec {
                                host_ip,
                                host_port,
                                container_port,
                                protocol: if proto == "udp" {
                                    Protocol::Udp
                                } else {
                                    Protocol::Tcp
                                },
                            }),
                            Err(e) => {
                                self.err(item.mark, e);
                                None
                            }
                        })
                }
                Value::Int(_) => {
                    self.err(
                        item.mark,
                        "a port is written as a quoted string \"HOST:CONTAINER\" (YAML 1.1 reads \
                         an unquoted 22:22 as the number 1342, and a lone port is not published)",
                    );
                    None
                }
                Value::Map(pairs) => self.long_port(pairs, item.mark),
                _ => {
                    self.err(
                        item.mark,
                        format!("a port is a string or a mapping, found {}", kind(item)),
                    );
                    None
                }
            };
            out.extend(port);
        }
        out
    }

    pub(super) fn long_port(&mut self, pairs: &[(Node, Node)], mark: Mark) -> Option<PortSpec> {
        let (mut target, mut published, mut host_ip, mut protocol) =
            (None, None, None, Protocol::Tcp);
        let mut ok = true;
        for (k, v) in pairs {
            let Some(key) = self.key(k) else {
                ok = false;
                continue;
            };
            match key {
                "target" => target = self.int_in(v, "target", 1, 65535),
                "published" => published = self.int_in(v, "published", 1, 65535),
                "host_ip" => {
                    host_ip = self.text(v, "host_ip");
                    if let Some(ip) = &host_ip
                        && let Err(e) = values::host_ip(ip)
                    {
                        self.err(v.mark, e);
                        ok = false;
                    }
                }
                "protocol" => match self.text(v, "protocol").as_deref() {
                    Some("tcp") => protocol = Protocol::Tcp,
                    Some("udp") => protocol = Protocol::Udp,
                    Some(other) => {
                        self.err(v.mark, format!("protocol is tcp or udp, not {other:?}"));
                        ok = false;
                    }
                    None => ok = false,
                },
                "mode" => match self.text(v, "mode").as_deref() {
                    Some("host") => {}
                    Some(other) => {
                        self.err(v.mark, format!("port mode {other:?} is not supported: fleetdeck publishes on the host (mode: host)"));
                        ok = false;
                    }
                    None => ok = false,
                },
                _ => {
                    self.unsupported(
                        k,
                        &format!("ports[].{key}"),
                        &["target", "published", "host_ip", "protocol", "mode"],
                    );
                    ok = false;
                }
            }
        }
        match (target, published) {
            (Some(t), Some(p)) if ok => Some(PortSpec {
                host_ip,
                host_port: p as u16,
                container_port: t as u16,
                protocol,
            }),
            (t, p) => {
                let has = |key: &str| pairs.iter().any(|(k, _)| k.as_str() == Some(key));
                if ok && (t.is_none() && !has("target") || p.is_none() && !has("published")) {
                    self.err(
                        mark,
                        "a port needs `target` (the container's) and `published` (the host's)",
                    );
                }
                None
            }
        }
    }
}
