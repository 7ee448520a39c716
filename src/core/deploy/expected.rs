//! What a deploy would run on a host now, per declared app: each service's live
//! container, image and config hash, computed exactly as the planner computes them
//! ([`super::plan`]), with no lock taken, nothing contacted and nothing changed. The
//! fleet compares it with what runs (`fleet::apps::compare`).
//!
//! One app's broken stack or unreadable secret makes only that app (or only its
//! services that use secrets) `unknown`. Secret values stay in memory only as long as
//! it takes to hash them.

use std::collections::BTreeMap;
use std::sync::Arc;

use super::plan::{
    IdentityCache, Renderer, SecretsProblem, container_name, load_secrets, stack_secrets,
};
use crate::fleet::apps::{ExpectedApp, ExpectedApps, ExpectedService};
use crate::fleet::target::Target;
use crate::sanitize;
use crate::secrets::SecretMap;
use crate::stack::Stack;

/// Every app `target` declares, as a deploy would run it now. Never asks for a
/// passphrase: `identities` must come from [`IdentityCache::unattended`], and an app
/// whose secrets need a passphrase-protected identity is `unknown` with the reason.
pub fn expected_apps(target: &Target, identities: &mut IdentityCache) -> ExpectedApps {
    debug_assert!(
        !identities.may_ask(),
        "the apps comparison must not ask for passphrases"
    );
    let render = Renderer::new(target, &serde_json::Map::new());
    let prefix = &target.settings.container_prefix;
    // Read once per host, and only when a stack uses secrets.
    let mut secrets: Option<Result<SecretMap, SecretsProblem>> = None;
    let apps = target
        .settings
        .apps
        .iter()
        .map(|app| match render.stack(app) {
            Ok(stack) => {
                let digests = if stack.secrets.is_empty() {
                    Ok(BTreeMap::new())
                } else {
                    let map = secrets.get_or_insert_with(|| load_secrets(target, identities));
                    digests(target, &stack, map)
                };
                ExpectedApp {
                    app: app.clone(),
                    services: services(&stack, prefix, &digests),
                    unknown: None,
                }
            }
            Err(problems) => ExpectedApp {
                app: app.clone(),
                services: Vec::new(),
                unknown: Some(one_line(&problems)),
            },
        })
        .collect();
    ExpectedApps {
        apps,
        container_prefix: prefix.clone(),
    }
}

/// [`expected_apps`] for every target, in their order, on a blocking thread: stacks
/// are read and secrets decrypted there, never on the async runtime's workers (the
/// console's render loop, the hosts' actors). Empty if that thread failed, which is
/// logged: the hosts then show no apps signal.
pub async fn expected_fleet(targets: Vec<Target>) -> Vec<Arc<ExpectedApps>> {
    let computed = tokio::task::spawn_blocking(move || {
        // One cache: hosts naming the same identity file read it once.
        let mut identities = IdentityCache::unattended();
        targets
            .iter()
            .map(|target| Arc::new(expected_apps(target, &mut identities)))
            .collect()
    })
    .await;
    computed.unwrap_or_else(|error| {
        tracing::warn!("computing what a deploy would run failed: {error}");
        Vec::new()
    })
}

/// Secret name → digest for `stack`'s secrets; the values are dropped here.
fn digests(
    target: &Target,
    stack: &Stack,
    map: &Result<SecretMap, SecretsProblem>,
) -> Result<BTreeMap<String, String>, String> {
    let map = map
        .as_ref()
        .map_err(|problem| one_line(&[problem.message()]))?;
    stack_secrets(target, stack, map)
        // The values are dropped here, once hashed.
        .map(|found| found.digests)
        .map_err(|missing| one_line(&missing))
}

/// Each service of `stack` as a deploy would create it; a service that uses no
/// secret has its hash even when the secrets cannot be read.
fn services(
    stack: &Stack,
    prefix: &str,
    digests: &Result<BTreeMap<String, String>, String>,
) -> Vec<ExpectedService> {
    stack
        .services
        .iter()
        .map(|service| {
            let config_hash = match digests {
                Ok(digests) => Ok(service.config_hash(stack, digests)),
                Err(_) if service.secret_names().is_empty() => {
                    Ok(service.config_hash(stack, &BTreeMap::new()))
                }
                Err(why) => Err(why.clone()),
            };
            ExpectedService {
                service: service.name.clone(),
                container: container_name(prefix, &stack.app, &service.name),
                image: service.image.clone(),
                config_hash,
            }
        })
        .collect()
}

/// Problems as one line: the first, and how many more.
fn one_line(problems: &[String]) -> String {
    let first = problems.first().map_or("", String::as_str);
    let text = match problems.len() {
        0 | 1 => first.to_owned(),
        n => format!("{first} (and {} more)", n - 1),
    };
    sanitize::line(&text)
}

#[cfg(test)]
mod tests {
    use std::io::Write as _;
    use std::path::PathBuf;

    use age::secrecy::{ExposeSecret as _, SecretString};

    use super::*;
    use crate::core::deploy::plan::{desired, plan_host};
    use crate::fleet::target;
    use crate::inventory::Inventory;
    use crate::secrets::{Recipients, encrypt_tree_to_string, parse_plain_yaml};

    const WEB_STACK: &str = r#"services:
  web:
    image: "acme/web:{{ web_version | default('1.0') }}"
    secrets:
      - web_token
  sidecar:
    image: acme/sidecar:2.1
secrets:
  web_token: {}
"#;

    /// A host `alpha` declaring `web` (a service with a secret, one without), `plain`
    /// and `broken` (a variable nobody defines), its secrets encrypted for `key`.
    struct Fixture {
        dir: tempfile::TempDir,
        key: age::x25519::Identity,
    }

    impl Fixture {
        fn new(secrets_yaml: &str) -> Fixture {
            let dir = tempfile::tempdir().expect("tempdir");
            let key = age::x25519::Identity::generate();
            let fixture = Fixture { dir, key };
            fixture.write(
                "inventory.yml",
                &format!(
                    "all:\n  hosts:\n    alpha:\n      ansible_host: 10.0.0.1\n      \
                     fleetdeck_apps: [web, broken, plain]\n      \
                     fleetdeck_container_prefix: alpha-\n      \
                     fleetdeck_secrets: secrets/alpha.yml\n      \
                     fleetdeck_age_identity: {}\n",
                    fixture.identity_file().display()
                ),
            );
            fixture.write("stacks/web.yml", WEB_STACK);
            fixture.write(
                "stacks/plain.yml",
                "services:\n  plain:\n    image: acme/plain:3.0\n",
            );
            fixture.write(
                "stacks/broken.yml",
                "services:\n  broken:\n    image: \"acme/broken:{{ broken_version }}\"\n",
            );
            fixture.write(
                "age.key",
                &format!("{}\n", fixture.key.to_string().expose_secret()),
            );
            let mut recipients = Recipients::new();
            recipients
                .add(&fixture.key.to_public().to_string(), "test")
                .expect("recipient");
            let plain = parse_plain_yaml(secrets_yaml).expect("plain secrets");
            fixture.write(
                "secrets/alpha.yml",
                &encrypt_tree_to_string(&plain, &recipients).expect("encrypts"),
            );
            fixture
        }

        fn write(&self, path: &str, text: &str) {
            let path = self.dir.path().join(path);
            std::fs::create_dir_all(path.parent().expect("parent")).expect("mkdir");
            std::fs::write(path, text).expect("write");
        }

        fn identity_file(&self) -> PathBuf {
            self.dir.path().join("age.key")
        }

        fn secrets_file(&self) -> PathBuf {
            self.dir.path().join("secrets/alpha.yml")
        }

        fn target(&self) -> Target {
            let inventory =
                Inventory::load(&self.dir.path().join("inventory.yml")).expect("inventory");
            target::targets(&inventory, None)
                .expect("targets")
                .remove(0)
        }

        /// The identity file, replaced by itself encrypted with a passphrase (`age -p`).
        fn protect_identity(&self) {
            let plain = std::fs::read(self.identity_file()).expect("identity");
            let mut recipient = age::scrypt::Recipient::new(SecretString::from("correct horse"));
            recipient.set_work_factor(2);
            let encryptor =
                age::Encryptor::with_recipients(std::iter::once(&recipient as &dyn age::Recipient))
                    .expect("encryptor");
            let armored =
                age::armor::ArmoredWriter::wrap_output(Vec::new(), age::armor::Format::AsciiArmor)
                    .expect("armor");
            let mut writer = encryptor.wrap_output(armored).expect("wrap");
            writer.write_all(&plain).expect("encrypt");
            let sealed = writer.finish().and_then(|w| w.finish()).expect("finish");
            std::fs::write(self.identity_file(), sealed).expect("write");
        }
    }

    fn app<'a>(expected: &'a ExpectedApps, name: &str) -> &'a ExpectedApp {
        expected
            .apps
            .iter()
            .find(|a| a.app == name)
            .unwrap_or_else(|| panic!("{name} in {expected:?}"))
    }

    fn hash<'a>(app: &'a ExpectedApp, service: &str) -> &'a Result<String, String> {
        &app.services
            .iter()
            .find(|s| s.service == service)
            .unwrap_or_else(|| panic!("{service} in {app:?}"))
            .config_hash
    }

    /// What a deploy of `apps` would label each service with (the planner's own path).
    fn deploy_hashes(target: &Target, apps: &[&str]) -> Vec<(String, String, String)> {
        let only: Vec<String> = apps.iter().map(|a| (*a).to_owned()).collect();
        let mut identities = IdentityCache::new(Box::new(crate::secrets::NeverAsk));
        let desired = desired(target, &only, &serde_json::Map::new(), &mut identities)
            .unwrap_or_else(|e| panic!("{e:?}"));
        plan_host(
            &desired,
            &target.settings.container_prefix,
            &BTreeMap::new(),
        )
        .services
        .into_iter()
        .map(|s| (s.container, s.image, s.hash))
        .collect()
    }

    #[test]
    fn each_service_is_expected_as_a_deploy_would_label_it() {
        let fixture = Fixture::new("web_token: s3cr3t-value\n");
        let target = fixture.target();
        let expected = expected_apps(&target, &mut IdentityCache::unattended());
        assert_eq!(expected.container_prefix, "alpha-");
        let computed: Vec<(String, String, String)> = ["web", "plain"]
            .iter()
            .flat_map(|name| app(&expected, name).services.iter())
            .map(|s| {
                (
                    s.container.clone(),
                    s.image.clone(),
                    s.config_hash.clone().expect("hash"),
                )
            })
            .collect();
        let mut deployed = deploy_hashes(&target, &["web", "plain"]);
        let mut computed_sorted = computed.clone();
        deployed.sort();
        computed_sorted.sort();
        assert_eq!(computed_sorted, deployed);
        assert!(
            computed
                .iter()
                .any(|(name, image, _)| name == "alpha-web-sidecar" && image == "acme/sidecar:2.1"),
            "{computed:?}"
        );
        // The declared order is kept; the broken stack is only that app's problem.
        let names: Vec<&str> = expected.apps.iter().map(|a| a.app.as_str()).collect();
        assert_eq!(names, ["web", "broken", "plain"]);
        let broken = app(&expected, "broken");
        assert!(broken.services.is_empty());
        let why = broken.unknown.as_deref().expect("broken is unknown");
        assert!(
            why.contains("broken.yml") && why.contains("broken_version"),
            "{why}"
        );
        assert!(!why.contains('\n'), "{why}");
        assert!(!format!("{expected:?}").contains("s3cr3t-value"));
    }

    #[test]
    fn a_rotated_secret_changes_only_the_hash_of_the_service_using_it() {
        let before = expected_apps(
            &Fixture::new("web_token: one\n").target(),
            &mut IdentityCache::unattended(),
        );
        let after = expected_apps(
            &Fixture::new("web_token: two\n").target(),
            &mut IdentityCache::unattended(),
        );
        let (before, after) = (app(&before, "web"), app(&after, "web"));
        assert_ne!(hash(before, "web"), hash(after, "web"));
        assert_eq!(hash(before, "sidecar"), hash(after, "sidecar"));
    }

    #[test]
    fn a_passphrase_protected_identity_makes_only_the_services_using_secrets_unknown() {
        let fixture = Fixture::new("web_token: s3cr3t-value\n");
        let readable = expected_apps(&fixture.target(), &mut IdentityCache::unattended());
        fixture.protect_identity();
        let target = fixture.target();
        // Never asks: an unattended cache has no one to ask, and says so.
        let mut identities = IdentityCache::unattended();
        assert!(!identities.may_ask());
        let expected = expected_apps(&target, &mut identities);
        let web = app(&expected, "web");
        assert_eq!(
            hash(web, "web"),
            &Err(format!(
                "needs secrets from {}, which cannot be decrypted without a passphrase here",
                fixture.secrets_file().display()
            ))
        );
        assert_eq!(
            hash(web, "sidecar"),
            hash(app(&readable, "web"), "sidecar"),
            "a service without secrets keeps its hash"
        );
        assert_eq!(app(&expected, "plain"), app(&readable, "plain"));
    }

    #[test]
    fn a_secret_missing_from_the_file_or_no_identity_is_named() {
        let fixture = Fixture::new("other_key: x\n");
        let expected = expected_apps(&fixture.target(), &mut IdentityCache::unattended());
        let why = hash(app(&expected, "web"), "web")
            .clone()
            .expect_err("unknown");
        assert!(
            why.contains("web_token")
                && why.contains(&fixture.secrets_file().display().to_string()),
            "{why}"
        );

        let fixture = Fixture::new("web_token: s3cr3t-value\n");
        std::fs::remove_file(fixture.identity_file()).expect("rm");
        let expected = expected_apps(&fixture.target(), &mut IdentityCache::unattended());
        let why = hash(app(&expected, "web"), "web")
            .clone()
            .expect_err("unknown");
        assert!(
            why.starts_with(&format!(
                "needs secrets from {}: ",
                fixture.secrets_file().display()
            )) && why.contains("age.key"),
            "{why}"
        );
        assert!(hash(app(&expected, "plain"), "plain").is_ok());
    }

    #[test]
    fn identity_files_are_read_once_per_cache() {
        let fixture = Fixture::new("web_token: s3cr3t-value\n");
        let target = fixture.target();
        let mut identities = IdentityCache::unattended();
        let first = expected_apps(&target, &mut identities);
        // Gone from disk, still loaded: a second host naming the same file is not
        // another read.
        std::fs::remove_file(fixture.identity_file()).expect("rm");
        assert_eq!(expected_apps(&target, &mut identities), first);
    }
}
