//! Parsing and resolution checked line by line, and against `ssh -G` where installed.

use super::words::parse_seconds;
use super::*;
use std::collections::HashMap;
use std::process::{Command, Stdio};

fn test_env(home: &Path) -> ResolveEnv {
    ResolveEnv {
        home: home.to_owned(),
        local_user: "alice".into(),
    }
}

fn parse(text: &str) -> SshConfig {
    SshConfig::parse_str_with_env(
        text,
        Path::new("/test/config"),
        test_env(Path::new("/home/alice")),
    )
    .expect("config parses")
}

fn write(path: &Path, text: &str) {
    if let Some(parent) = path.parent() {
        std::fs::create_dir_all(parent).expect("create config directory");
    }
    std::fs::write(path, text).expect("write config file");
}

#[test]
fn host_pattern_lists_honour_negation() {
    let config = parse("Host web-* db1 !web-legacy\n  User fleet\n");
    assert_eq!(config.resolve("web-1").user, "fleet");
    assert_eq!(config.resolve("db1").user, "fleet");
    assert_eq!(config.resolve("web-legacy").user, "alice");
    assert_eq!(config.resolve("db2").user, "alice");
    // A negation alone never selects a block.
    assert_eq!(parse("Host !x\n User y\n").resolve("z").user, "alice");
}

#[test]
fn lines_split_on_whitespace_equals_and_quotes() {
    let split = |line: &str| split_line(line).expect("line splits");
    let pair =
        |k: &str, v: &[&str]| Some((k.to_owned(), v.iter().map(|s| s.to_string()).collect()));
    assert_eq!(split("User bob"), pair("User", &["bob"]));
    assert_eq!(split("  User=bob"), pair("User", &["bob"]));
    assert_eq!(split("User = bob # comment"), pair("User", &["bob"]));
    assert_eq!(
        split("Host \"my host\" x#y"),
        pair("Host", &["my host", "x#y"])
    );
    assert_eq!(
        split("IdentityFile 'a b'\\ c"),
        pair("IdentityFile", &["a b c"])
    );
    assert_eq!(
        split("IdentityFile a\\\"b"),
        pair("IdentityFile", &["a\"b"])
    );
    assert_eq!(split("   # only a comment"), None);
    assert_eq!(split(""), None);
    assert!(matches!(
        split_line("User \"bob"),
        Err(ConfigErrorKind::UnterminatedQuote)
    ));
}

#[test]
fn keywords_are_case_insensitive_and_first_value_wins() {
    let config = parse(
        "host a\n  PORT=2201\n  hostNAME \"a.example\"\n\
         Host *\n  Port 22\n  HostName other\n  User bob\n  User carol\n",
    );
    let a = config.resolve("a");
    assert_eq!(
        (a.port, a.hostname.as_str(), a.user.as_str()),
        (2201, "a.example", "bob")
    );
    assert_eq!(config.resolve("b").hostname, "other");
}

#[test]
fn identity_files_accumulate_and_known_hosts_first_wins() {
    let config = parse(
        "Host a\n IdentityFile ~/.ssh/a\n UserKnownHostsFile /kh/1 /kh/2\n\
         Host *\n IdentityFile /keys/all\n UserKnownHostsFile /kh/ignored\n",
    );
    let a = config.resolve("a");
    assert_eq!(
        a.identity_files,
        [
            PathBuf::from("/home/alice/.ssh/a"),
            PathBuf::from("/keys/all")
        ]
    );
    assert_eq!(
        a.user_known_hosts_files,
        [PathBuf::from("/kh/1"), PathBuf::from("/kh/2")]
    );
    let defaults = parse("Host other\n IdentityFile /x\n").resolve("a");
    assert_eq!(defaults.identity_files.len(), DEFAULT_IDENTITY_FILES.len());
    assert_eq!(
        defaults.identity_files[0],
        PathBuf::from("/home/alice/.ssh/id_rsa")
    );
    assert_eq!(
        defaults.user_known_hosts_files,
        [
            PathBuf::from("/home/alice/.ssh/known_hosts"),
            PathBuf::from("/home/alice/.ssh/known_hosts2")
        ]
    );
}

#[test]
fn defaults_match_ssh() {
    let host = parse("").resolve("Box");
    assert_eq!(host.hostname, "box");
    assert_eq!(host.alias, "Box");
    assert_eq!((host.user.as_str(), host.port), ("alice", 22));
    assert!(!host.identities_only);
    assert!(host.proxy_jump.is_empty());
    assert_eq!(host.strict_host_key_checking, StrictHostKeyChecking::Ask);
    assert_eq!(
        (host.server_alive_interval, host.server_alive_count_max),
        (0, 3)
    );
    assert_eq!((host.connect_timeout, host.host_key_alias), (None, None));
    assert_eq!(
        host.global_known_hosts_files,
        [
            PathBuf::from("/etc/ssh/ssh_known_hosts"),
            PathBuf::from("/etc/ssh/ssh_known_hosts2")
        ]
    );
}

#[test]
fn tokens_expand_as_openssh() {
    let config = parse(
        "Host a\n HostName %h.example.com\n User bob\n Port 2200\n\
         IdentityFile ~/k_%h_%p_%r_%u_%n_%%_%x\n UserKnownHostsFile %d/kh ~\n",
    );
    let a = config.resolve("a");
    assert_eq!(a.hostname, "a.example.com");
    assert_eq!(
        a.identity_files,
        [PathBuf::from(
            "/home/alice/k_a.example.com_2200_bob_alice_a_%_%x"
        )]
    );
    assert_eq!(
        a.user_known_hosts_files,
        [
            PathBuf::from("/home/alice/kh"),
            PathBuf::from("/home/alice")
        ]
    );
    assert_eq!(expand_tilde("~bob/x", Path::new("/h")), "~bob/x");
    assert_eq!(expand_tokens("50%", &[]), "50%");
}

#[test]
fn values_are_validated_with_file_line_and_keyword() {
    let error = SshConfig::parse_str_with_env(
        "Host a\n  User x\nHost b\n  Port abc\n",
        Path::new("/cfg"),
        test_env(Path::new("/h")),
    )
    .expect_err("Port abc is invalid");
    assert_eq!(
        (error.file.as_path(), error.line),
        (Path::new("/cfg"), Some(4))
    );
    assert!(
        matches!(&error.kind, ConfigErrorKind::InvalidValue { keyword, .. } if keyword == "Port")
    );
    assert_eq!(
        error.to_string(),
        "/cfg line 4: Port \"abc\" is not a port number (1-65535)"
    );
    for bad in [
        "Port 0",
        "Port 70000",
        "User",
        "User a b",
        "StrictHostKeyChecking maybe",
        "IdentitiesOnly perhaps",
        "ServerAliveInterval 5x",
        "ServerAliveCountMax -1",
        "ConnectTimeout soon",
        "ProxyJump host:port",
        "ProxyJump a,,b",
    ] {
        let result =
            SshConfig::parse_str_with_env(bad, Path::new("/cfg"), test_env(Path::new("/h")));
        let error = result.expect_err(bad);
        assert_eq!(error.line, Some(1), "{bad}");
    }
}

#[test]
fn typed_values_parse() {
    let config = parse(
        "StrictHostKeyChecking off\nIdentitiesOnly Yes\nServerAliveInterval 1h30m\n\
         ServerAliveCountMax 9\nConnectTimeout 2m\nHostKeyAlias MiXeD\n\
         ProxyJump ops@j1:2200,[fe80::1]:23,ssh://u@j3:24,j4\n",
    );
    let host = config.resolve("x");
    assert_eq!(host.strict_host_key_checking, StrictHostKeyChecking::No);
    assert!(host.identities_only);
    assert_eq!(
        (host.server_alive_interval, host.server_alive_count_max),
        (5400, 9)
    );
    assert_eq!(host.connect_timeout, Some(120));
    assert_eq!(host.host_key_alias.as_deref(), Some("mixed"));
    let hops: Vec<String> = host.proxy_jump.iter().map(ToString::to_string).collect();
    assert_eq!(hops, ["ops@j1:2200", "[fe80::1]:23", "u@j3:24", "j4"]);
    assert_eq!(parse_seconds("90"), Some(90));
    assert_eq!(parse_seconds("1w"), Some(604_800));
    assert_eq!(parse_seconds(""), None);
    assert_eq!(parse_seconds("99999999999"), None);
}

#[test]
fn proxy_jump_none_is_a_first_value() {
    let config = parse("Host a\n ProxyJump none\nHost *\n ProxyJump gate\n");
    assert!(config.resolve("a").proxy_jump.is_empty());
    assert_eq!(config.resolve("b").proxy_jump[0].host, "gate");
}

fn jump_check(config: &SshConfig, alias: &str) -> Result<usize, String> {
    config
        .check_jump_chain(&config.resolve(alias))
        .map_err(|e| e.to_string())
}

#[test]
fn a_proxy_jump_to_itself_is_a_loop_named_with_its_line() {
    let config = parse("Host other\n  User x\nHost a\n  ProxyJump a\n");
    let error = jump_check(&config, "a").expect_err("a loop");
    assert_eq!(
        error,
        "ProxyJump loop: a \u{2192} a (a: ProxyJump a at /test/config line 4)"
    );
    // Another host is not affected by the loop it does not use.
    assert_eq!(jump_check(&config, "other"), Ok(0));
}

#[test]
fn a_two_host_cycle_is_a_loop_with_both_lines() {
    let config = parse("Host a\n  ProxyJump b\nHost b\n  ProxyJump ops@a:2222\n");
    let error = jump_check(&config, "a").expect_err("a loop");
    assert!(
        error.starts_with("ProxyJump loop: a \u{2192} b \u{2192} a ("),
        "{error}"
    );
    assert!(
        error.contains("a: ProxyJump b at /test/config line 2"),
        "{error}"
    );
    assert!(
        error.contains("b: ProxyJump ops@a:2222 at /test/config line 4"),
        "{error}"
    );
}

#[test]
fn a_longer_cycle_reached_from_outside_is_named_from_the_target() {
    let config = parse(
        "Host t\n  ProxyJump a\nHost a\n  ProxyJump b\nHost b\n  ProxyJump c\n\
         Host c\n  ProxyJump a\n",
    );
    let error = jump_check(&config, "t").expect_err("a loop");
    assert!(
        error.starts_with("ProxyJump loop: t \u{2192} a \u{2192} b \u{2192} c \u{2192} a ("),
        "{error}"
    );
    assert!(
        error.contains("c: ProxyJump a at /test/config line 8"),
        "{error}"
    );
    // Through a later hop of a list: its first hop's chain comes back to the target.
    let config = parse("Host t\n  ProxyJump x,y\nHost x\n  ProxyJump t\n");
    let error = jump_check(&config, "t").expect_err("a loop");
    assert!(
        error.starts_with("ProxyJump loop: t \u{2192} x \u{2192} t ("),
        "{error}"
    );
    // A wildcard that also matches the jump host loops, as with ssh.
    let config = parse("Host *\n  ProxyJump gate\n");
    let error = jump_check(&config, "web").expect_err("a loop");
    assert!(
        error.starts_with("ProxyJump loop: web \u{2192} gate \u{2192} gate ("),
        "{error}"
    );
}

#[test]
fn chains_up_to_the_limit_are_legitimate_and_one_more_is_refused() {
    // Eight hops, one nested chain per host: h0 → h1 → … → h8.
    let mut text = String::new();
    for i in 0..MAX_JUMP_HOPS {
        text.push_str(&format!("Host h{i}\n  ProxyJump h{}\n", i + 1));
    }
    let config = parse(&text);
    assert_eq!(jump_check(&config, "h0"), Ok(MAX_JUMP_HOPS));
    // Lists count every hop: 4 here, 4 in j1's own chain.
    let config = parse(
        "Host t\n  ProxyJump j1,j2,j3,j4\nHost j1\n  ProxyJump k1,k2,k3,k4\n\
         Host u\n  ProxyJump j1,j2,j3,j4,j5\n",
    );
    assert_eq!(jump_check(&config, "t"), Ok(8));
    let error = jump_check(&config, "u").expect_err("too long");
    assert!(
        error.starts_with("ProxyJump chain of u has 9 hops, more than 8 (u \u{2192} j1)"),
        "{error}"
    );
    assert!(
        error.contains("j1: ProxyJump k1,k2,k3,k4 at /test/config line 4"),
        "{error}"
    );
    // Nine nested hops.
    let mut text = String::new();
    for i in 0..=MAX_JUMP_HOPS {
        text.push_str(&format!("Host h{i}\n  ProxyJump h{}\n", i + 1));
    }
    let error = jump_check(&parse(&text), "h0").expect_err("too long");
    assert!(error.contains("has 9 hops"), "{error}");
}

#[test]
fn chains_that_repeat_no_host_are_legitimate() {
    let config = parse(
        "Host web-*\n  ProxyJump inner\nHost inner\n  ProxyJump ops@bastion:2200\n\
         Host bastion\n  ProxyJump none\nHost *\n  ProxyJump bastion\n",
    );
    assert_eq!(jump_check(&config, "web-1"), Ok(2));
    assert_eq!(jump_check(&config, "inner"), Ok(1));
    assert_eq!(jump_check(&config, "bastion"), Ok(0));
    assert_eq!(jump_check(&config, "db"), Ok(1));
    // The rest of a list replaces a later hop's own chain, as with `ssh -J`: `b`'s
    // configured jump back to `t` is not followed.
    let config = parse("Host t\n  ProxyJump a,b\nHost b\n  ProxyJump t\n");
    assert_eq!(jump_check(&config, "t"), Ok(2));
}

#[test]
fn include_globs_relative_absolute_and_conditional() {
    let home = tempfile::tempdir().expect("tempdir");
    let ssh_dir = home.path().join(".ssh");
    write(
        &ssh_dir.join("conf.d/10-web.conf"),
        "Port 2201\nHost web2\n  User web2user\n",
    );
    write(
        &ssh_dir.join("conf.d/20-key.conf"),
        "IdentityFile /keys/included\n",
    );
    write(&ssh_dir.join("conf.d/.hidden.conf"), "Port 1\n");
    let absolute = home.path().join("abs/extra.conf");
    write(&absolute, "HostKeyAlias included-alias\n");
    let main = ssh_dir.join("config");
    let text = format!(
        "Host web*\n  Include conf.d/*.conf\n  User web\nHost *\n  Include {}/ab?/*.conf\n  Port 22\n",
        home.path().display()
    );
    write(&main, &text);
    let config = SshConfig::parse_file_with_env(&main, test_env(home.path())).expect("parses");

    let web1 = config.resolve("web1");
    assert_eq!((web1.port, web1.user.as_str()), (2201, "web"));
    assert_eq!(web1.identity_files, [PathBuf::from("/keys/included")]);
    assert_eq!(web1.host_key_alias.as_deref(), Some("included-alias"));
    // A Host line inside the included file narrows, and the outer block resumes after.
    assert_eq!(config.resolve("web2").user, "web2user");
    // The outer Host block gates the whole include.
    let db = config.resolve("db");
    assert_eq!((db.port, db.user.as_str()), (22, "alice"));
    assert_eq!(db.identity_files.len(), DEFAULT_IDENTITY_FILES.len());
    assert_eq!(db.host_key_alias.as_deref(), Some("included-alias"));
    // A pattern matching nothing is fine, as in ssh.
    parse("Include /nonexistent/*.conf\n");
}

#[test]
fn include_loops_are_stopped() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("loop.conf");
    write(&path, &format!("Include {}\n", path.display()));
    let error = SshConfig::parse_file_with_env(&path, test_env(dir.path())).expect_err("loops");
    assert!(matches!(error.kind, ConfigErrorKind::IncludeTooDeep));
    assert_eq!((error.file, error.line), (path, Some(1)));
}

#[test]
fn missing_file_is_an_error_naming_it() {
    let error =
        SshConfig::parse_file(Path::new("/nonexistent/fleetdeck/config")).expect_err("missing");
    assert_eq!(error.line, None);
    assert!(
        error
            .to_string()
            .starts_with("/nonexistent/fleetdeck/config: cannot read")
    );
}

#[test]
fn unsupported_directives_are_reported_once_with_location() {
    let dir = tempfile::tempdir().expect("tempdir");
    let included = dir.path().join("inc.conf");
    write(&included, "\nLocalForward 8080 localhost:80\n");
    let main = dir.path().join("config");
    let text = format!(
        "ForwardAgent yes\nCiphers aes128-ctr\nHost a\n  Include {inc}\n  Include {inc}\n\
         Match exec \"true\"\n  User m\nMatch all\n  Port 2\n",
        inc = included.display()
    );
    write(&main, &text);
    let config = SshConfig::parse_file_with_env(&main, test_env(dir.path())).expect("parses");
    let reported: Vec<(PathBuf, usize, &str)> = config
        .unsupported()
        .iter()
        .map(|u| (u.file.clone(), u.line, u.keyword.as_str()))
        .collect();
    assert_eq!(
        reported,
        [
            (main.clone(), 2, "Ciphers"),
            (included.clone(), 2, "LocalForward"),
            (main.clone(), 6, "Match"),
        ]
    );
    let host = config.resolve("a");
    assert_eq!(
        (host.user.as_str(), host.port),
        ("alice", 2),
        "Match exec never applies, Match all does"
    );
}

// ---- Comparison with the real `ssh -G` -------------------------------------------

/// Runs `ssh -G -F <config> <alias>` (no connection is made) and collects its
/// `key value` lines; repeated keys such as `identityfile` keep their order.
fn ssh_g(config: &Path, alias: &str, options: &[String]) -> HashMap<String, Vec<String>> {
    let output = Command::new("ssh")
        .arg("-G")
        .arg("-F")
        .arg(config)
        .args(options.iter().flat_map(|o| ["-o", o.as_str()]))
        .arg(alias)
        .stdin(Stdio::null())
        .output()
        .expect("ssh (OpenSSH client) is installed");
    assert!(
        output.status.success(),
        "ssh -G {alias} failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    let mut settings: HashMap<String, Vec<String>> = HashMap::new();
    for line in String::from_utf8(output.stdout)
        .expect("ssh -G prints UTF-8")
        .lines()
    {
        let (key, value) = line.split_once(' ').unwrap_or((line, ""));
        settings
            .entry(key.to_ascii_lowercase())
            .or_default()
            .push(value.to_owned());
    }
    settings
}

/// Asserts our resolution of `alias` agrees with `ssh -G` on every field we model.
/// `ssh -G` prints IdentityFile unexpanded (it expands at load time), so those are
/// compared before expansion; UserKnownHostsFile is printed expanded, which checks
/// our `~` and token expansion against OpenSSH's.
fn assert_agrees_with_ssh(config_path: &Path, alias: &str, env: &ResolveEnv) {
    assert_agrees_with_ssh_overridden(config_path, alias, &Overrides::default(), env);
}

/// As above, with `overrides` passed to `ssh` the way Ansible passes inventory
/// variables: `-o Port=`, `-o User=`, `-o IdentityFile=`.
fn assert_agrees_with_ssh_overridden(
    config_path: &Path,
    alias: &str,
    overrides: &Overrides,
    env: &ResolveEnv,
) {
    let config = SshConfig::parse_file_with_env(config_path, env.clone()).expect("parses");
    let ours = config.resolve_with_overrides(alias, overrides, env);
    let raw = config.obtain_with(alias, overrides);
    let mut options: Vec<String> = overrides
        .port
        .map(|p| format!("Port={p}"))
        .into_iter()
        .chain(overrides.user.as_ref().map(|u| format!("User={u}")))
        .collect();
    options.extend(
        overrides
            .identity_files
            .iter()
            .map(|f| format!("IdentityFile={f}")),
    );
    let theirs = ssh_g(config_path, alias, &options);
    let one = |key: &str| theirs.get(key).and_then(|values| values.first()).cloned();
    let all = |key: &str| theirs.get(key).cloned().unwrap_or_default();
    let joined = |paths: &[PathBuf]| {
        paths
            .iter()
            .map(|p| p.to_string_lossy().into_owned())
            .collect::<Vec<_>>()
            .join(" ")
    };
    let context = format!("alias {alias} in {}", config_path.display());
    assert_eq!(
        Some(ours.hostname.clone()),
        one("hostname"),
        "hostname, {context}"
    );
    assert_eq!(Some(ours.user.clone()), one("user"), "user, {context}");
    assert_eq!(Some(ours.port.to_string()), one("port"), "port, {context}");
    assert_eq!(
        raw.identity_files_or_default(),
        all("identityfile"),
        "identityfile, {context}"
    );
    let identities_only = if ours.identities_only { "yes" } else { "no" };
    assert_eq!(
        Some(identities_only.to_owned()),
        one("identitiesonly"),
        "identitiesonly, {context}"
    );
    let jumps = (!ours.proxy_jump.is_empty()).then(|| {
        ours.proxy_jump
            .iter()
            .map(ToString::to_string)
            .collect::<Vec<_>>()
            .join(",")
    });
    assert_eq!(jumps, one("proxyjump"), "proxyjump, {context}");
    assert_eq!(
        Some(joined(&ours.user_known_hosts_files)),
        one("userknownhostsfile"),
        "userknownhostsfile, {context}"
    );
    assert_eq!(
        Some(joined(&ours.global_known_hosts_files)),
        one("globalknownhostsfile"),
        "globalknownhostsfile, {context}"
    );
    assert_eq!(
        Some(ours.strict_host_key_checking.as_ssh_g().to_owned()),
        one("stricthostkeychecking"),
        "stricthostkeychecking, {context}"
    );
    assert_eq!(
        Some(ours.server_alive_interval.to_string()),
        one("serveraliveinterval"),
        "serveraliveinterval, {context}"
    );
    assert_eq!(
        Some(ours.server_alive_count_max.to_string()),
        one("serveralivecountmax"),
        "serveralivecountmax, {context}"
    );
    let timeout = ours
        .connect_timeout
        .map_or_else(|| "none".to_owned(), |s| s.to_string());
    assert_eq!(
        Some(timeout),
        one("connecttimeout"),
        "connecttimeout, {context}"
    );
    assert_eq!(
        ours.host_key_alias,
        one("hostkeyalias"),
        "hostkeyalias, {context}"
    );
}

/// `ssh` takes `~`, `%d`, `%u` and the default user from the password database, not
/// from `$HOME`/`$USER`, so the comparison resolves with the same facts. Includes in
/// these configs are absolute so they stay inside the tempdir.
#[test]
fn resolution_agrees_with_ssh_g() {
    let env = ResolveEnv::from_passwd().expect("current uid has a passwd entry");
    let dir = tempfile::tempdir().expect("tempdir");
    let root = dir.path().display().to_string();
    write(
        &dir.path().join("inc/a.conf"),
        "Port 2022\nIdentitiesOnly yes\nStrictHostKeyChecking accept-new\n",
    );
    write(
        &dir.path().join("inc/b.conf"),
        "IdentityFile ~/.ssh/db_key\nHost db1\n  ConnectTimeout 3\n  ServerAliveCountMax 1\n",
    );
    write(&dir.path().join("inc/.hidden.conf"), "Port 1\n");
    write(
        &dir.path().join("inc2/web.conf"),
        "IdentityFile /keys/web_%h\nUser ignored\n",
    );
    let fleet = dir.path().join("fleet.conf");
    write(
        &fleet,
        &format!(
            "# the fleet\n\
             Host web-* !web-legacy\n\
             \x20   HostName %h.Prod.example.com\n\
             \x20   User deploy\n\
             \x20   Port 2222\n\
             \x20   ConnectTimeout 0\n\
             \x20   IdentityFile ~/.ssh/deploy_%r_%h\n\
             \x20   ProxyJump bastion@jump1.example.com:2200,jump2\n\
             \x20   Include {root}/inc?/*.conf\n\
             \n\
             Host web-legacy\n\
             \x20   HostName 10.0.0.5\n\
             \x20   StrictHostKeyChecking no\n\
             \x20   UserKnownHostsFile=/dev/null\n\
             \n\
             Host db?\n\
             \x20   Hostname = db.internal\n\
             \x20   User=dba\n\
             \x20   ProxyJump none\n\
             \x20   UserKnownHostsFile ~/.ssh/kh_%n_%h_%p_%r_%u \"%d/second file\" %%literal\n\
             \x20   Include {root}/inc/*.conf\n\
             \n\
             Host tok\n\
             \x20   HostName %h-x.example\n\
             \x20   HostKeyAlias TokAlias\n\
             \x20   ServerAliveInterval 1m30s\n\
             \x20   ConnectTimeout none\n\
             \x20   StrictHostKeyChecking yes\n\
             \n\
             Host *\n\
             \x20   IdentityFile ~/.ssh/fallback\n\
             \x20   ServerAliveInterval 15\n\
             \x20   ServerAliveCountMax 5\n\
             \x20   ConnectTimeout 10\n\
             \x20   GlobalKnownHostsFile /etc/fleet/known_hosts ~/unexpanded\n\
             \x20   Port 22\n\
             \x20   ProxyJump gate.example.com\n"
        ),
    );
    for alias in [
        "web-1",
        "WEB-2",
        "web-legacy",
        "db1",
        "db2",
        "dbxx",
        "tok",
        "other",
    ] {
        assert_agrees_with_ssh(&fleet, alias, &env);
    }

    // Without a catch-all block, every default comes from ssh itself.
    let sparse = dir.path().join("sparse.conf");
    write(
        &sparse,
        "Host solo\n  User soloist\n  IdentityFile /keys/solo\n",
    );
    for alias in ["solo", "nothing-configured"] {
        assert_agrees_with_ssh(&sparse, alias, &env);
    }

    // Inventory variables (ansible_port, ansible_user, ansible_ssh_private_key_file)
    // beat the configuration, and the inventory key is offered first.
    let inventory = Overrides {
        port: Some(2200),
        user: Some("ansible".to_owned()),
        identity_files: vec!["~/.ssh/inventory_%h".to_owned()],
    };
    for alias in ["web-1", "db1", "solo", "nothing-configured"] {
        let config = if alias == "solo" || alias == "nothing-configured" {
            &sparse
        } else {
            &fleet
        };
        assert_agrees_with_ssh_overridden(config, alias, &inventory, &env);
    }
}
