//! A service's secrets as files on the host: written per revision before its container
//! is created, and removed once no container refers to them.

use std::collections::BTreeSet;

use crate::core::deploy::plan::{self, DesiredApp};
use crate::stack::Service;
use crate::stack::labels::HASH_LABEL;
use crate::util::shell::quote;

use super::host_run::HostRun;

impl HostRun<'_> {
    /// Writes the service's secrets as files on the host, one directory per
    /// revision; returns the `(host path, container path)` binds.
    pub(super) async fn write_secrets(
        &self,
        app: &DesiredApp,
        service: &Service,
        hash: &str,
    ) -> Result<Vec<(String, String)>, String> {
        let mut binds = Vec::new();
        for mount in &service.secrets {
            let Some(value) = app.secrets.get(&mount.source) else {
                return Err(format!("secret `{}` has no value", mount.source));
            };
            let path = plan::secret_path(&self.access.state_dir, hash, &mount.source);
            let owner = match (&mount.uid, &mount.gid) {
                (Some(u), g) => format!("{u}:{}", g.as_deref().unwrap_or(u)),
                (None, Some(g)) => format!("0:{g}"),
                (None, None) => numeric_user(service.user.as_deref()),
            };
            let p = quote(&path);
            let script = format!(
                "umask 077; mkdir -p \"$(dirname {p})\" && cat > {p} && chmod {:o} {p} && chown {} {p}",
                mount.mode,
                quote(&owner)
            );
            self.access
                .shell
                .check(
                    &format!("writing secret {}", mount.source),
                    &script,
                    Some(value.expose()),
                )
                .await?;
            binds.push((path, mount.target.clone()));
        }
        Ok(binds)
    }

    /// Removes secret directories no container on the host refers to any more.
    pub(super) async fn clean_secrets(&self) -> Result<(), String> {
        let running = plan::managed_containers(self.docker()).await?;
        // Directory names are hash prefixes: hex, safe inside the script as they are.
        let keep: BTreeSet<String> = running
            .values()
            .filter_map(|c| c.labels.as_ref()?.get(HASH_LABEL))
            .map(|h| h.chars().take(16).collect::<String>())
            .filter(|h| h.chars().all(|c| c.is_ascii_hexdigit()))
            .collect();
        let dir = quote(&format!("{}/secrets", self.access.state_dir));
        let script = format!(
            "[ -d {dir} ] || exit 0; cd {dir} || exit 1; for d in *; do [ -d \"$d\" ] || continue; \
             case \" {} \" in *\" $d \"*) ;; *) rm -rf -- \"$d\";; esac; done",
            keep.into_iter().collect::<Vec<_>>().join(" ")
        );
        self.access
            .shell
            .check("removing old secret files", &script, None)
            .await
            .map(drop)
    }
}

/// `user` as `uid[:gid]` when it is numeric, else root (a name cannot be resolved on
/// the host without the image's /etc/passwd; declare `uid` on the secret instead).
fn numeric_user(user: Option<&str>) -> String {
    let Some(user) = user else {
        return "0:0".into();
    };
    let (u, g) = user.split_once(':').unwrap_or((user, user));
    if u.chars().all(|c| c.is_ascii_digit())
        && g.chars().all(|c| c.is_ascii_digit())
        && !u.is_empty()
        && !g.is_empty()
    {
        format!("{u}:{g}")
    } else {
        "0:0".into()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secret_owners_follow_numeric_users_only() {
        assert_eq!(numeric_user(None), "0:0");
        assert_eq!(numeric_user(Some("1000")), "1000:1000");
        assert_eq!(numeric_user(Some("1000:50")), "1000:50");
        assert_eq!(numeric_user(Some("www-data")), "0:0");
    }
}
