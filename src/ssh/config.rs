//! OpenSSH client configuration (`ssh_config`) resolution.
