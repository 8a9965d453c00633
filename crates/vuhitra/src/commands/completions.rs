//! `vuhitra completions bash|zsh|fish`, generated from the clap definitions.

use clap::CommandFactory;

use crate::cli::{Cli, Shell};

pub fn run(shell: Shell) -> anyhow::Result<()> {
    let mut cmd = Cli::command();
    let mut buf = Vec::new();
    let sh = match shell {
        Shell::Bash => clap_complete::Shell::Bash,
        Shell::Zsh => clap_complete::Shell::Zsh,
        Shell::Fish => clap_complete::Shell::Fish,
    };
    clap_complete::generate(sh, &mut cmd, "vuhitra", &mut buf);
    crate::output::out(&String::from_utf8(buf)?);
    Ok(())
}
