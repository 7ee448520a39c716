//! From command-line options to a ready [`ConnectContext`]: which ssh_config files are
//! read (as `ssh` reads them), how passphrases are asked for, which host-key mode
//! applies, and the one-time notice about directives fleetdeck does not act on.

use std::path::PathBuf;
use std::sync::Arc;

use super::auth::{KeyStore, NeverAsk, PassphrasePrompt, TerminalPrompt};
use super::config::{ConfigError, ResolveEnv, SshConfig, Unsupported};
use super::hostkey::UnknownHosts;
use super::session::ConnectContext;

/// The SSH side of the command line.
#[derive(Debug, Clone, Default)]
pub struct SshOptions {
    /// `-F FILE`: only this file, as `ssh -F` (no `~/.ssh/config`, no system file).
    pub config_file: Option<PathBuf>,
    /// `--batch`: never prompt; passphrase-protected keys not in an agent fail.
    pub batch: bool,
    /// `--accept-new-host-keys`: trust unknown hosts and record their keys, whatever
    /// `StrictHostKeyChecking` says. Changed keys are refused regardless.
    pub accept_new_host_keys: bool,
}

pub struct Prepared {
    pub context: Arc<ConnectContext>,
    /// Said once per run (stderr for the CLI; the notice line and the log in the console).
    pub notices: Vec<String>,
}

/// Reads the configuration and builds the context every connection of this run shares.
/// `prompt` is used unless `--batch`; `None` asks on the terminal.
pub fn prepare(
    options: &SshOptions,
    prompt: Option<Arc<dyn PassphrasePrompt>>,
) -> Result<Prepared, ConfigError> {
    // Home and user as `ssh` takes them, so `~` means the same file to both.
    let env = ResolveEnv::from_passwd().unwrap_or_else(ResolveEnv::from_process);
    let config = match &options.config_file {
        Some(file) => SshConfig::parse_file_with_env(file, env.clone())?,
        None => {
            // `ssh` reads the user's file, then the system-wide one; first value wins.
            // Includes of absent files are skipped, as `ssh` skips absent files.
            let text = "Include ~/.ssh/config\nInclude /etc/ssh/ssh_config\n";
            SshConfig::parse_str_with_env(text, &PathBuf::from("(ssh defaults)"), env.clone())?
        }
    };
    let notices = unsupported_notice(config.unsupported())
        .into_iter()
        .collect();
    let prompt: Arc<dyn PassphrasePrompt> = if options.batch {
        Arc::new(NeverAsk)
    } else {
        prompt.unwrap_or_else(|| Arc::new(TerminalPrompt))
    };
    let mut context = ConnectContext::new(
        config,
        env,
        KeyStore::new(prompt),
        crate::paths::fleetdeck_known_hosts(),
    );
    if options.accept_new_host_keys {
        context.unknown_hosts = Some(UnknownHosts::AcceptNew);
    }
    Ok(Prepared {
        context: Arc::new(context),
        notices,
    })
}

/// One line naming every directive fleetdeck ignores, with where it is, or nothing.
pub fn unsupported_notice(unsupported: &[Unsupported]) -> Option<String> {
    if unsupported.is_empty() {
        return None;
    }
    let listed: Vec<String> = unsupported
        .iter()
        .map(|u| format!("{} ({}:{})", u.keyword, u.file.display(), u.line))
        .collect();
    Some(format!(
        "ssh_config: fleetdeck does not act on {}; hosts that depend on them may connect \
         differently than with ssh",
        listed.join(", ")
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unsupported_directives_make_one_notice_with_locations() {
        let dir = tempfile::tempdir().expect("tempdir");
        let file = dir.path().join("config");
        std::fs::write(
            &file,
            "Host a\n  ProxyCommand nc %h %p\nHost b\n  ProxyCommand nc %h %p\n  \
             Ciphers aes256-ctr\n  SendEnv LANG\n",
        )
        .expect("write");
        let prepared = prepare(
            &SshOptions {
                config_file: Some(file.clone()),
                batch: true,
                accept_new_host_keys: true,
            },
            None,
        )
        .expect("prepares");
        assert_eq!(prepared.notices.len(), 1, "{:?}", prepared.notices);
        let notice = &prepared.notices[0];
        let at = |line: usize| format!("{}:{line}", file.display());
        assert!(
            notice.contains(&format!("ProxyCommand ({})", at(2))),
            "{notice}"
        );
        assert!(
            notice.contains(&format!("ProxyCommand ({})", at(4))),
            "{notice}"
        );
        assert!(notice.contains(&format!("Ciphers ({})", at(5))), "{notice}");
        assert!(
            !notice.contains("SendEnv"),
            "harmless ones are not noise: {notice}"
        );
        assert_eq!(
            prepared.context.unknown_hosts,
            Some(UnknownHosts::AcceptNew)
        );
    }

    /// docs/ssh.md quotes these two messages; they must stay the ones the code says.
    #[test]
    fn the_docs_quote_the_batch_refusal_and_the_notice_as_they_are() {
        let doc = include_str!("../../docs/ssh.md")
            .split_whitespace()
            .collect::<Vec<_>>()
            .join(" ");
        let batch = NeverAsk.declined_reason();
        assert!(
            doc.contains(&format!("\"{batch}\"")),
            "docs/ssh.md: {batch}"
        );
        let notice = unsupported_notice(&[Unsupported {
            file: PathBuf::from("/home/ops/.ssh/config"),
            line: 12,
            keyword: "ProxyCommand".to_owned(),
        }])
        .expect("a notice");
        assert!(
            doc.contains(&format!("\"{notice}\"")),
            "docs/ssh.md: {notice}"
        );
    }

    #[test]
    fn a_bad_config_is_an_error_naming_file_and_line() {
        let dir = tempfile::tempdir().expect("tempdir");
        let file = dir.path().join("config");
        std::fs::write(&file, "Host a\n  Port eighty\n").expect("write");
        let options = SshOptions {
            config_file: Some(file.clone()),
            ..SshOptions::default()
        };
        let error = prepare(&options, None).err().expect("refused").to_string();
        assert!(error.contains(&format!("{}", file.display())), "{error}");
        assert!(error.contains("line 2: Port"), "{error}");
    }
}
