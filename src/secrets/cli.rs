//! `fleetdeck secrets …` arguments (docs/secrets.md).

use std::path::PathBuf;

use clap::{Args, Subcommand};

/// Exit codes: 0 ok, 1 decryption or integrity failure, 2 usage or input error.
#[derive(Debug, Subcommand)]
pub enum SecretsCommand {
    /// Create an age X25519 identity (mode 0600) and print its recipient.
    ///
    /// Without -o it goes to $XDG_CONFIG_HOME/sops/age/keys.txt, where fleetdeck and
    /// sops both find it. An existing file is never overwritten.
    Keygen(KeygenArgs),

    /// Encrypt a plain YAML mapping into a fleetdeck secret file.
    ///
    /// Keys stay in the clear; each value becomes an age ciphertext for every
    /// recipient. Numbers and booleans are stored as their text.
    Encrypt(EncryptArgs),

    /// Print a secret file (fleetdeck's or SOPS's) as plain YAML, or one value.
    ///
    /// This is the explicit reveal: the plaintext goes to stdout. SOPS files are
    /// refused unless their MAC verifies.
    Decrypt(DecryptArgs),

    /// Change a fleetdeck secret file in $VISUAL / $EDITOR.
    ///
    /// The plaintext is written to a 0600 file in a private directory (in /dev/shm
    /// when there is one), overwritten and removed afterwards, also when fleetdeck gets
    /// SIGTERM, SIGHUP, SIGINT or SIGQUIT (the editor is ended, the file left unchanged,
    /// exit 128 + the signal). Changed values are re-encrypted for the file's
    /// recipients; an unchanged file is left untouched.
    Edit(EditArgs),
}

#[derive(Debug, Args)]
pub struct KeygenArgs {
    /// Write the identity here (`-` for stdout).
    #[arg(short = 'o', long = "output", value_name = "FILE")]
    pub output: Option<PathBuf>,
}

#[derive(Debug, Args)]
pub struct EncryptArgs {
    /// An age recipient (`age1…`). Repeatable.
    #[arg(short = 'r', long = "recipient", value_name = "RECIPIENT")]
    pub recipients: Vec<String>,

    /// A file of recipients, one per line (`#` comments), as `age -R`. Repeatable.
    #[arg(short = 'R', long = "recipients-file", value_name = "FILE")]
    pub recipients_files: Vec<PathBuf>,

    /// Write the encrypted file here instead of stdout.
    #[arg(short = 'o', long = "output", value_name = "FILE")]
    pub output: Option<PathBuf>,

    /// The plain YAML mapping (`-` for stdin).
    #[arg(value_name = "PLAIN.yml")]
    pub input: PathBuf,
}

#[derive(Debug, Args)]
pub struct IdentityArg {
    /// The age identity file. Without it: $FLEETDECK_AGE_KEY_FILE, then
    /// $SOPS_AGE_KEY_FILE, then $XDG_CONFIG_HOME/sops/age/keys.txt.
    #[arg(long = "identity", value_name = "FILE")]
    pub identity: Option<PathBuf>,
}

#[derive(Debug, Args)]
pub struct DecryptArgs {
    /// Only this value, by flat key (`db.password`, `servers.0`), raw on stdout.
    #[arg(long = "key", value_name = "KEY")]
    pub key: Option<String>,

    #[command(flatten)]
    pub identity: IdentityArg,

    /// A fleetdeck secret file or a SOPS YAML file.
    #[arg(value_name = "FILE")]
    pub file: PathBuf,
}

#[derive(Debug, Args)]
pub struct EditArgs {
    #[command(flatten)]
    pub identity: IdentityArg,

    /// The fleetdeck secret file.
    #[arg(value_name = "FILE")]
    pub file: PathBuf,
}
